# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of ``pg_backup``: make a verified backup (``state=present``) or restore one (``state=restored``).

The steps in order, each failing with what, where and why; the pieces are in ``backup`` (pure logic),
``backup_archive`` (files and client tools) and ``backup_database`` (the snapshot and databases).
"""
from __future__ import annotations

import datetime
import os
import subprocess
import time

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import (
    connect, describe_target, libpq_env, redact, server_version)
from ansible_collections.almafrica.rollback.plugins.module_utils import backup as bk
from ansible_collections.almafrica.rollback.plugins.module_utils import backup_archive as ba
from ansible_collections.almafrica.rollback.plugins.module_utils import backup_database as bdb
from ansible_collections.almafrica.rollback.plugins.module_utils.ef_database import read_current_migration

DEFAULT_DUMP_JOBS = 2


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class BackupTask:
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
