#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: pg_backup
short_description: Make a PostgreSQL backup proven restorable, or restore one, stopping on the first error
version_added: 1.0.0
description:
  - With O(state=present), dumps the database with C(pg_dump) into O(dest), verifies the result and only then gives
    it its final name, with a JSON manifest C(<name>.json) beside it (database, host, the EF Core migration it was
    taken at, tool and server versions, format, size, SHA-256, table-of-contents entries, start, end, duration).
  - The dump is written under a temporary name in O(dest) and renamed atomically once verified; a failed, killed
    or interrupted dump leaves nothing under the final name and no temporary file behind.
  - The table list, the EF migration and the row counts used by verification are read in the very snapshot
    C(pg_dump) dumps (C(pg_export_snapshot) and C(pg_dump --snapshot)), so the manifest describes exactly what is
    in the file even while the application writes.
  - Verification proves restorability, not only that a file exists. C(pg_restore --list) alone proves nothing about
    the data (it reads only the table of contents; an archive cut in half still lists), so by default every data
    block is read back (O(verify=full)).
  - With O(state=restored), checks the backup against its manifest (SHA-256 of every file) and restores it with
    C(pg_restore --exit-on-error --single-transaction), into the database itself or into a new database
    O(restore_db), leaving the source untouched.
  - The password reaches C(pg_dump), C(pg_restore) and C(psql) only through a temporary 0600 password file
    (C(PGPASSFILE)); it is in no command line and in no process environment.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.postgres
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Connects, reads the tables and the EF migration, checks an existing backup of the same O(name) against its
        manifest and reports the backup (or restore) it would make and the backups retention would delete.
        Nothing is dumped, restored, created or deleted.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - O(state=present) shows the backups of the series in O(dest) before and after (new one, deleted ones).
      - O(state=restored) shows the target database's EF migration before and the backup's after.
options:
  state:
    description:
      - V(present) ensures a verified backup exists (a new one, unless a backup of that O(name) exists and matches
        its manifest).
      - V(restored) restores the database from the backup O(path).
    type: str
    choices: [ present, restored ]
    default: present
  dest:
    description:
      - Directory the backup and its manifest are written to. Created with mode 0700 when missing.
      - Required with O(state=present).
    type: path
  name:
    description:
      - File stem of the backup. The backup is C(<name>.dump) (custom), C(<name>.tar), C(<name>.sql) or
        C(<name>.sql.gz) (plain), or the directory C(<name>) (directory format); the manifest is C(<name>.json).
      - Defaults to C(backup_before_rollback_<db>_<UTC yyyymmdd_HHMMSS>), a new backup each run. Give a fixed name
        (for example C(before_{{ target }})) to make reruns idempotent.
    type: str
  format:
    description:
      - C(pg_dump) archive format.
      - V(directory) (the default, chosen from measurements, see C(docs/BENCHMARKS.md)) is dumped, verified and
        restored in parallel (O(jobs)); the backup is a directory of files.
      - V(custom) is one file; V(tar) is one uncompressed file; V(plain) is an SQL script (replayed with C(psql)),
        written with C(--clean --if-exists).
    type: str
    choices: [ directory, custom, tar, plain ]
    default: directory
  compress:
    description:
      - gzip level (0-9) C(pg_dump) compresses with (C(--compress)). Ignored for V(tar), which C(pg_dump) cannot
        compress.
      - The default 1 was chosen from measurements (see C(docs/BENCHMARKS.md)).
    type: int
    default: 1
  jobs:
    description:
      - Parallelism. With O(state=present) - parallel dump connections for V(directory), and parallel readers for
        the verification of V(directory) and V(custom). Defaults to 2 (measured; each job is one more connection
        and one more busy core on the database server while the dump runs).
      - With O(state=restored), more than 1 restores with C(pg_restore --jobs) (V(directory) and V(custom)), which
        B(cannot run as one transaction); an error then leaves the database partly restored. Defaults to 1 (one
        transaction, all or nothing).
    type: int
  verify:
    description:
      - How the new backup is proven before it gets its final name.
      - V(toc) (fast, weak) - the table of contents has a definition and a data entry for every table of the
        database; size and SHA-256.
      - V(full) - as V(toc), and every data block is read and decompressed (C(pg_restore --file=/dev/null)), so a
        truncated or corrupted archive fails; SHA-256 computed beside that read.
      - V(restore) (strongest, slowest) - as V(toc), and the backup is restored into a scratch database (dropped
        afterwards; needs the CREATEDB privilege) whose row counts must equal the dumped snapshot's.
      - A V(plain) script is read in full for any level (every C(COPY) block complete, pg_dump's trailer present);
        V(restore) also replays it.
    type: str
    choices: [ full, toc, restore ]
    default: full
  keep:
    description:
      - Retention. After the backup is in place, keep the newest O(keep) backups of its series in O(dest) and delete
        older ones with their manifests. The series is every backup whose manifest's name is O(name) without its
        C(_yyyymmdd_HHMMSS) suffix, followed by such a suffix. Only backups with a pg_backup manifest are ever
        deleted. V(0) keeps everything.
    type: int
    default: 0
  path:
    description:
      - With O(state=restored), the backup to restore (the file or directory; its manifest C(<name>.json) must be
        beside it), or its manifest.
    type: path
  restore_db:
    description:
      - With O(state=restored), restore into this new database (created from template0 with the encoding and locale
        of O(login_db)) instead of O(login_db), leaving O(login_db) untouched. If the restore fails the new database
        is dropped. When it already exists and was restored from this same backup (its comment says so), nothing
        is done; any other existing database is refused.
    type: str
  clean:
    description:
      - With O(state=restored) into the database itself, drop the backup's objects before recreating them
        (C(pg_restore --clean --if-exists)). Objects created after the backup was taken are not dropped.
      - A V(plain) backup always carries its C(DROP ... IF EXISTS) statements; it cannot be restored over the
        existing database with O(clean=false).
    type: bool
    default: true
  history_table:
    description:
      - EF Core migrations history table whose newest MigrationId the manifest records.
    type: str
    default: __EFMigrationsHistory
  history_schema:
    description:
      - Schema of O(history_table); by default the search path, then the one schema that has it.
    type: str
  lock_wait_timeout:
    description:
      - Fail instead of waiting longer than this for the shared table locks C(pg_dump) takes
        (C(pg_dump --lock-wait-timeout), a PostgreSQL duration such as C(30s)). By default it waits.
    type: str
  bin_dir:
    description:
      - Directory of C(pg_dump), C(pg_restore) and C(psql), searched before C(PATH) (for example
        C(/usr/lib/postgresql/16/bin) when the server is newer than the default client).
    type: path
notes:
  - C(pg_dump) must be at least as new as the server; the module checks this before dumping.
  - Restoring with O(jobs) greater than 1 is not one transaction (PostgreSQL's parallel restore cannot be).
  - The application should be stopped during O(state=restored) into the database itself; C(--clean) waits for the
    locks of the tables it drops.
seealso:
  - module: almafrica.rollback.ef_migration_state
'''

EXAMPLES = r'''
- name: Back up before rolling back, keep the 5 newest backups of this database
  almafrica.rollback.pg_backup:
    login_host: db.internal
    login_db: almafrica
    login_user: almafrica_backup
    login_password: "{{ vault_db_password }}"
    dest: /var/backups/almafrica
    keep: 5
  register: backup

- name: An idempotent backup for this rollback (a rerun verifies the checksum and dumps nothing)
  almafrica.rollback.pg_backup:
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    dest: /var/backups/almafrica
    name: "before_{{ target }}"
    format: custom
    verify: restore

- name: Restore the backup into a new database to inspect it, the live one untouched
  almafrica.rollback.pg_backup:
    state: restored
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    path: "{{ backup.path }}"
    restore_db: almafrica_restored

- name: Put the database back as it was when the backup was taken (stops on the first error, all or nothing)
  almafrica.rollback.pg_backup:
    state: restored
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    path: /var/backups/almafrica/before_20260201120000_InitialCreate
'''

RETURN = r'''
path:
  description: The backup (file or directory); with O(state=restored), the backup restored.
  returned: always
  type: str
  sample: /var/backups/almafrica/backup_before_rollback_almafrica_20260301_101500
manifest:
  description: Path of the backup's JSON manifest.
  returned: always
  type: str
  sample: /var/backups/almafrica/backup_before_rollback_almafrica_20260301_101500.json
format:
  description: Archive format of the backup.
  returned: success
  type: str
  sample: directory
size:
  description: Bytes of the backup (all its files).
  returned: success, except in check mode for a new backup
  type: int
  sample: 318767104
sha256:
  description: SHA-256 of the backup file; for a directory, of its C(sha256sum)-style listing of every file's SHA-256.
  returned: success, except in check mode for a new backup
  type: str
  sample: 9f2c4be7a1d0c3f55e8e1b1f2a4c6d8e0b2d4f6a8c0e2f4a6b8d0f2e4c6a8b0d
toc_entries:
  description: Entries of the archive's table of contents (for a plain script, of its object comments).
  returned: success, except in check mode for a new backup
  type: int
  sample: 57
tables:
  description: Tables in the dumped snapshot.
  returned: success
  type: int
  sample: 5
ef_migration:
  description: Newest EF Core migration applied when the backup was taken (null without a history table).
  returned: success
  type: str
  sample: 20260310140000_WidenOrderAmount
verify:
  description: Verification level the backup passed.
  returned: with O(state=present)
  type: str
  sample: full
duration:
  description: Seconds the module took.
  returned: always
  type: float
  sample: 8.71
timings:
  description: Seconds spent dumping (C(pg_dump)) and verifying (reading back, checksumming) a new backup.
  returned: when a new backup was made
  type: dict
  sample: {dump: 6.52, verify: 1.87}
pg_dump_version:
  description: Version of the C(pg_dump) used (or recorded in the manifest).
  returned: success
  type: str
  sample: "15.18"
server_version:
  description: Version of the PostgreSQL server.
  returned: success
  type: str
  sample: "15.18"
deleted:
  description: Backups deleted by retention (O(keep)), or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [/var/backups/almafrica/backup_before_rollback_almafrica_20260201_090000]
restored_to:
  description: Database the backup was (or would be) restored into.
  returned: with O(state=restored)
  type: str
  sample: almafrica_restored
'''

import datetime
import os
import signal
import subprocess
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import (
    connect, describe_target, libpq_env, postgres_common_argument_spec, redact, server_version)
from ansible_collections.almafrica.rollback.plugins.module_utils import backup as bk
from ansible_collections.almafrica.rollback.plugins.module_utils import backup_archive as ba
from ansible_collections.almafrica.rollback.plugins.module_utils import backup_database as bdb
from ansible_collections.almafrica.rollback.plugins.module_utils.ef_history import read_current_migration

DEFAULT_DUMP_JOBS = 2


class BackupModule(AnsibleModule):
    """AnsibleModule whose result keeps its own ``size`` and ``state``.

    AnsibleModule stats any returned ``path`` and overwrites ``size`` (and ``state``) with it: a directory backup
    would report 4096 bytes. Our ``size`` is the backup's, all files included.
    """

    def add_path_info(self, kwargs):
        return kwargs


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _interrupt(signum, _frame):
    raise ba.Interrupted("interrupted by signal %s" % signal.Signals(signum).name)


class Backup:
    """One run of the module: tools, password file, temp paths; everything it started is undone on failure."""

    def __init__(self, module, result):
        self.module = module
        self.params = module.params
        self.result = result
        self.temps = []
        self.passfile = None
        if self.params["login_password"]:
            self.passfile = ba.write_passfile(module.tmpdir, self.params["login_password"])
        self.runner = None

    def fail(self, msg, **extra):
        self.result.update(extra)
        self.result.setdefault("duration", None)
        self.module.fail_json(msg=redact(msg, self.params), **self.result)

    def tools(self, *names):
        opt = [self.params["bin_dir"]] if self.params["bin_dir"] else []
        found = [self.module.get_bin_path(n, required=True, opt_dirs=opt) for n in names]
        if self.runner is None:
            self.runner = ba.ToolRunner(ba.tool_env(os.environ, libpq_env(self.params), self.passfile),
                                        self.module.tmpdir)
        return found

    def tool_version(self, tool):
        rc, out, err = self.runner.output([tool, "--version"])
        try:
            return bk.pg_tool_major(out)
        except bk.BackupError:
            self.fail("Cannot run %s --version: %s" % (tool, (out + err).strip()))

    def cleanup(self):
        if self.runner:
            self.runner.stop_all()
        for path in self.temps:
            ba.remove_path(path)
        if self.passfile:
            ba.remove_path(self.passfile)

    def connect(self, dbname=None, autocommit=True):
        return connect(self.module, dbname=dbname, autocommit=autocommit)

    # -- state=present ------------------------------------------------------------------------------------
    def present(self):
        p, result, module = self.params, self.result, self.module
        fmt = p["format"]
        jobs = p["jobs"] or DEFAULT_DUMP_JOBS
        compress = 0 if fmt == "tar" else p["compress"]
        started = _utc_now()
        name = bk.check_name(p["name"] or bk.default_name(p["login_db"], started))
        dest = p["dest"]
        final = os.path.join(dest, bk.backup_filename(name, fmt, compress))
        manifest_path = os.path.join(dest, bk.manifest_filename(name))
        result.update(path=final, manifest=manifest_path, format=fmt, verify=p["verify"])

        if os.path.lexists(dest) and not os.path.isdir(dest):
            self.fail("dest %s exists and is not a directory." % dest)
        if os.path.isdir(dest) and not os.access(dest, os.W_OK | os.X_OK):
            self.fail("dest %s is not writable by this user (or is on a read-only file system)." % dest)
        if os.path.isdir(dest) and os.stat(dest).st_mode & 0o077:
            module.warn("dest %s is open to other users (mode %04o): backups and manifests are 0600, but others "
                        "can list their names; 0700 is safer." % (dest, os.stat(dest).st_mode & 0o7777))

        pg_dump, pg_restore = self.tools("pg_dump", "pg_restore")
        dump_major, result["pg_dump_version"] = self.tool_version(pg_dump)
        conn = self.connect()
        result["server_version"] = server_version(conn)
        if conn.server_version // 10000 > dump_major:
            self.fail("pg_dump %s is older than the server (%s) of %s and cannot dump it: install the client "
                      "tools of PostgreSQL %d or newer and point bin_dir at them."
                      % (result["pg_dump_version"], result["server_version"], describe_target(p),
                         conn.server_version // 10000))

        if os.path.exists(manifest_path) and not os.path.lexists(final):
            other = _manifest_file(manifest_path)
            if other and other != os.path.basename(final) and os.path.lexists(os.path.join(dest, other)):
                self.fail("A backup named %s already exists in %s as %s (another format); choose another name."
                          % (name, dest, other))
        if os.path.lexists(final):
            self.existing(final, manifest_path)
            conn.close()
            self.retention(dest, name, final)
            return

        if module.check_mode:
            snapshot = bdb.DumpSnapshot(conn)
            result.update(tables=len(snapshot.tables()), ef_migration=self.ef_migration(snapshot.conn),
                          changed=True)
            snapshot.close()
            self.retention(dest, name, final, adding=True)
            return

        if not os.path.isdir(dest):
            os.makedirs(dest)
            os.chmod(dest, 0o700)
        ba.remove_stale_temps(dest)
        tmp = ba.temp_path(dest, os.path.basename(final))
        self.temps.append(tmp)
        snapshot = bdb.DumpSnapshot(conn)
        tables = snapshot.tables()
        result.update(tables=len(tables), ef_migration=self.ef_migration(snapshot.conn))
        clock = time.monotonic()
        try:
            rc, err = self.runner.run(bk.dump_argv(pg_dump, fmt, tmp, compress, jobs, snapshot.snapshot_id,
                                                   p["lock_wait_timeout"]))
            if rc != 0:
                self.fail("Backup of %s failed, nothing was kept: %s"
                          % (describe_target(p), ba.describe_exit("pg_dump", rc, err)))
            counts = snapshot.row_counts(tables) if p["verify"] == "restore" else None
        finally:
            snapshot.close()
        ba.restrict_modes(tmp)
        dumped = time.monotonic()
        checked = self.verify(pg_restore, tmp, fmt, compress, tables, jobs, counts)
        result["timings"] = {"dump": round(dumped - clock, 3), "verify": round(time.monotonic() - dumped, 3)}
        finished = _utc_now()
        result.update(size=checked["size"], sha256=checked["sha256"], toc_entries=checked["toc_entries"],
                      changed=True)
        manifest = bk.build_manifest(
            name=name, file=os.path.basename(final), format=fmt, compress=compress,
            jobs=jobs if fmt == "directory" else 1, database=p["login_db"],
            host=p["login_unix_socket"] or p["login_host"], port=p["login_port"], user=p["login_user"],
            ef_migration=result["ef_migration"], ef_history_table=p["history_table"],
            pg_dump_version=result["pg_dump_version"], server_version=result["server_version"],
            size=checked["size"], sha256=checked["sha256"], files=checked["files"],
            toc_entries=checked["toc_entries"], tables=len(tables), verify=p["verify"],
            snapshot=snapshot.snapshot_id is not None, started=_iso(started), finished=_iso(finished),
            duration=round(time.monotonic() - clock, 3))
        # The manifest goes first: a backup under its final name always has its manifest (a crash between the two
        # renames leaves only a manifest, which the next run overwrites).
        ba.write_json(manifest_path, manifest)
        if fmt == "directory":
            os.rename(tmp, final)  # atomic for a directory; module.atomic_move is for files
        else:
            module.atomic_move(tmp, final)
        self.temps.remove(tmp)
        ba.fsync_dir(dest)
        self.retention(dest, name, final)

    def ef_migration(self, conn):
        return read_current_migration(conn, self.params["history_table"], self.params["history_schema"])

    def existing(self, final, manifest_path):
        """A backup of this name exists: it is the wanted one if it still matches its manifest."""
        if not os.path.exists(manifest_path):
            self.fail("%s exists but has no manifest %s: it was not written by pg_backup (or is incomplete). "
                      "Refusing to overwrite it: move it away or choose another name." % (final, manifest_path))
        manifest = ba.read_manifest(manifest_path)
        size, sha, files = ba.checksum(final)
        mismatch = bk.checksum_mismatch(manifest, size, sha, files)
        if mismatch:
            self.fail("%s exists but does not match its manifest (%s): it is corrupted or was changed. Refusing to "
                      "overwrite it: move it away or choose another name." % (final, mismatch))
        self.result.update(size=size, sha256=sha, toc_entries=manifest.get("toc_entries"),
                           tables=manifest.get("tables"), ef_migration=manifest.get("ef_migration"),
                           format=manifest.get("format"), verify=manifest.get("verify"),
                           pg_dump_version=manifest.get("pg_dump_version"))

    def verify(self, pg_restore, tmp, fmt, compress, tables, jobs, counts):
        level = self.params["verify"]
        scratch = None
        if level == "restore":
            scratch = "%s_pg_backup_verify_%d" % (self.params["login_db"][:30], os.getpid())
            admin = self.connect()
            bdb.drop_database(admin, scratch)
            bdb.create_database_like(admin, scratch, like=self.params["login_db"])
        try:
            if fmt == "plain":
                checked = ba.verify_plain(tmp, tables, compressed=bool(compress))
                if scratch and not checked["problems"]:
                    psql = self.tools("psql")[0]
                    checked["problems"] += self.replay_plain(psql, tmp, bool(compress), scratch)
            else:
                checked = ba.verify_archive(self.runner, pg_restore, tmp, fmt, level, tables, jobs, scratch)
            if scratch and not checked["problems"]:
                restored_conn = self.connect(scratch)
                got = bdb.row_counts(restored_conn, tables)
                restored_conn.close()
                differ = ["%s: %s rows dumped, %s restored" % (t, counts.get(t), got.get(t))
                          for t in sorted(set(counts) | set(got)) if counts.get(t) != got.get(t)]
                if differ:
                    checked["problems"].append("the restored copy differs: %s" % "; ".join(differ))
        finally:
            if scratch:
                bdb.drop_database(admin, scratch)
                admin.close()
        if checked["problems"]:
            self.fail("Backup of %s failed verification (%s), nothing was kept: %s"
                      % (describe_target(self.params), level, "; ".join(checked["problems"])))
        return checked

    def replay_plain(self, psql, path, compressed, dbname):
        proc = self.runner.start(bk.psql_restore_argv(psql, dbname), stdin=subprocess.PIPE)
        pump = ba.feed_plain(path, compressed, proc)
        rc, err = self.runner.finish(proc)
        pump.get()
        return [ba.describe_exit("psql", rc, err)] if rc != 0 else []

    def retention(self, dest, name, final, adding=False):
        """Apply ``keep``; in check mode, report what it would delete. Diff: the series before and after."""
        prefix = bk.series_prefix(name)
        manifests = []
        for entry in sorted(os.listdir(dest)) if os.path.isdir(dest) else []:
            if entry.endswith(".json") and not entry.startswith("."):
                try:
                    m = ba.read_manifest(os.path.join(dest, entry))
                except (OSError, ValueError):
                    continue
                if isinstance(m, dict) and m.get("file") and os.path.lexists(os.path.join(dest, m["file"])) \
                        and bk.in_series(m.get("name", ""), prefix):
                    manifests.append(m)
        if adding:
            manifests.append(dict(tool=bk.MANIFEST_TOOL, name=name, file=os.path.basename(final),
                                  finished=_iso(_utc_now())))
        before = sorted(m["file"] for m in manifests if not (adding and m["file"] == os.path.basename(final)))
        expired = bk.expired_backups(manifests, prefix, self.params["keep"])
        deleted = [os.path.join(dest, m["file"]) for m in expired]
        self.result["deleted"] = deleted
        if expired and not self.module.check_mode:
            for m in expired:
                ba.remove_path(os.path.join(dest, m["file"]))
                ba.remove_path(os.path.join(dest, bk.manifest_filename(m["name"])))
            ba.fsync_dir(dest)
        if expired:
            self.result["changed"] = True
        if self.module._diff:
            after = sorted(set(before + [os.path.basename(final)]) - {m["file"] for m in expired})
            self.result["diff"] = {"before_header": "%s (series %s)" % (dest, prefix), "before": _listing(before),
                                   "after_header": "%s (series %s)" % (dest, prefix), "after": _listing(after)}

    # -- state=restored -----------------------------------------------------------------------------------
    def restored(self):
        p, result, module = self.params, self.result, self.module
        path, manifest_path = _locate_backup(p["path"])
        result.update(path=path, manifest=manifest_path)
        if not os.path.exists(manifest_path):
            self.fail("%s has no manifest %s: pg_backup restores only backups whose checksum it can check."
                      % (path, manifest_path))
        manifest = ba.read_manifest(manifest_path)
        if not os.path.lexists(path):
            self.fail("Backup %s (named by its manifest %s) does not exist." % (path, manifest_path))
        fmt = manifest.get("format")
        size, sha, files = ba.checksum(path)
        mismatch = bk.checksum_mismatch(manifest, size, sha, files)
        if mismatch:
            self.fail("Refusing to restore %s: it does not match its manifest (%s). The backup is corrupted or was "
                      "changed; nothing was restored." % (path, mismatch))
        target = p["restore_db"] or p["login_db"]
        jobs = p["jobs"] or 1
        result.update(format=fmt, size=size, sha256=sha, toc_entries=manifest.get("toc_entries"),
                      tables=manifest.get("tables"), ef_migration=manifest.get("ef_migration"),
                      pg_dump_version=manifest.get("pg_dump_version"), restored_to=target)
        if fmt == "plain" and not p["clean"] and not p["restore_db"]:
            self.fail("A plain backup carries DROP ... IF EXISTS statements and cannot be restored over %s with "
                      "clean=false: restore it into a new database with restore_db." % p["login_db"])
        marker = "Restored by %s from %s (sha256 %s)" % (bk.MANIFEST_TOOL, manifest.get("file"), sha)
        tool = "psql" if fmt == "plain" else "pg_restore"
        binary = self.tools(tool)[0]
        admin = self.connect()
        result["server_version"] = server_version(admin)
        exists = bdb.database_oid(admin, target) is not None
        before = None
        if exists:
            target_conn = admin if target == p["login_db"] else self.connect(target)
            before = self.ef_migration(target_conn)
            if target_conn is not admin:
                target_conn.close()
        if module._diff:
            result["diff"] = {"before_header": "%s (EF migration)" % target,
                              "before": "%s\n" % (before if exists else "(no database)"),
                              "after_header": "%s (restored from %s)" % (target, manifest.get("file")),
                              "after": "%s\n" % manifest.get("ef_migration")}
        if p["restore_db"] and exists:
            if bdb.database_comment(admin, target) == marker:
                return
            self.fail("Database %s already exists and was not restored from this backup; choose another restore_db "
                      "or drop it." % target)
        result["changed"] = True
        if module.check_mode:
            return
        created = False
        if p["restore_db"]:
            bdb.create_database_like(admin, target, like=p["login_db"])
            created = True
        try:
            if fmt == "plain":
                problems = self.replay_plain(binary, path, path.endswith(".gz"), target)
            else:
                rc, err = self.runner.run(bk.restore_argv(binary, path, target, clean=p["clean"] and not created,
                                                          jobs=jobs))
                problems = [ba.describe_exit("pg_restore", rc, err)] if rc != 0 else []
            if problems:
                how = ("the database was partly restored (parallel restore, jobs=%d)" % jobs if jobs > 1 and
                       fmt != "plain" else "it was rolled back, %s is as before" % target)
                if created:
                    how = "the new database %s was dropped" % target
                self.fail("Restore of %s into %s failed; %s: %s" % (path, describe_target(p, target), how,
                                                                    "; ".join(problems)))
            after_conn = self.connect(target)
            after = self.ef_migration(after_conn)
            after_conn.close()
            if after != manifest.get("ef_migration"):
                self.fail("Restored %s into %s, but its EF migration is %s, not %s as recorded in the manifest."
                          % (path, target, after, manifest.get("ef_migration")))
            if created:
                with admin.cursor() as cur:
                    cur.execute("COMMENT ON DATABASE %s IS %%s" % bdb.quote_ident(target), (marker,))
                created = False
        finally:
            if created:
                bdb.drop_database(admin, target)


def _manifest_file(manifest_path):
    """The backup file a manifest names, or None when it is unreadable."""
    try:
        data = ba.read_manifest(manifest_path)
    except (OSError, ValueError):
        return None
    return data.get("file") if isinstance(data, dict) else None


def _listing(files):
    return "".join("%s\n" % f for f in files) or "(none)\n"


def _locate_backup(path):
    """(backup, manifest) from the path of either."""
    path = path.rstrip("/") or path
    if path.endswith(".json") and not os.path.isdir(path):
        manifest = path
        try:
            data = ba.read_manifest(path)
            return os.path.join(os.path.dirname(path), data.get("file") or ""), manifest
        except (OSError, ValueError):
            return path[:-5], manifest
    base = os.path.basename(path)
    for ext in (".sql.gz", ".dump", ".tar", ".sql"):
        if base.endswith(ext):
            base = base[:-len(ext)]
            break
    return path, os.path.join(os.path.dirname(path), bk.manifest_filename(base))


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        state=dict(type="str", default="present", choices=["present", "restored"]),
        dest=dict(type="path"),
        name=dict(type="str"),
        format=dict(type="str", default="directory", choices=list(bk.FORMATS)),
        compress=dict(type="int", default=1),
        jobs=dict(type="int"),
        verify=dict(type="str", default="full", choices=list(bk.VERIFY_LEVELS)),
        keep=dict(type="int", default=0),
        path=dict(type="path"),
        restore_db=dict(type="str"),
        clean=dict(type="bool", default=True),
        history_table=dict(type="str", default="__EFMigrationsHistory"),
        history_schema=dict(type="str"),
        lock_wait_timeout=dict(type="str"),
        bin_dir=dict(type="path"),
    )
    module = BackupModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["dest"]), ("state", "restored", ["path"])],
    )
    p = module.params
    result = dict(changed=False, state=p["state"], path=None, manifest=None, deleted=[])
    for option, low, high in (("compress", 0, 9), ("jobs", 1, 64), ("keep", 0, None)):
        if p[option] is not None and (p[option] < low or (high is not None and p[option] > high)):
            module.fail_json(msg="%s must be between %d and %s, not %d." % (option, low, high or "any", p[option]),
                             **result)
    clock = time.monotonic()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    old_umask = os.umask(0o077)  # every file the tools and we create is 0600 from the first byte
    run = None
    try:
        try:
            run = Backup(module, result)
            if p["state"] == "present":
                run.present()
            else:
                run.restored()
        except (bk.BackupError, ba.Interrupted) as exc:
            result["duration"] = round(time.monotonic() - clock, 3)
            module.fail_json(msg=redact(str(exc), p), **result)
        except OSError as exc:
            result["duration"] = round(time.monotonic() - clock, 3)
            module.fail_json(msg=redact("%s: %s" % (type(exc).__name__, exc), p), **result)
        except Exception as exc:  # pylint: disable=broad-except
            result["duration"] = round(time.monotonic() - clock, 3)
            module.fail_json(msg=redact("Unexpected error: %s" % exc, p),
                             exception=redact(traceback.format_exc(), p), **result)
        result["duration"] = round(time.monotonic() - clock, 3)
    finally:
        # also runs when fail_json exits (SystemExit): no child, temporary file or password file outlives the run
        if run:
            run.cleanup()
        os.umask(old_umask)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
