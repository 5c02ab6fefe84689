# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of ``pg_backup``: make a verified backup (``state=present``) or restore one (``state=restored``).

The steps in order, each failing with what, where and why; the pieces are in ``backup.plan`` (pure logic),
``backup.archive`` (files and client tools) and ``backup.database`` (the snapshot and databases).
"""
from __future__ import annotations

import datetime
import os
import subprocess
import time

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact
from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import (
    connect, describe_target, libpq_env, login_secrets, server_version)
from ansible_collections.almafrica.rollback.plugins.module_utils.backup import plan as bk
from ansible_collections.almafrica.rollback.plugins.module_utils.backup import archive as ba
from ansible_collections.almafrica.rollback.plugins.module_utils.backup import database as bdb
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import read_current_migration

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
        self.lock = None
        self.lock_seconds = bk.parse_duration(self.params["lock_wait_timeout"])
        self.passfile = None
        if self.params["login_password"]:
            self.passfile = ba.write_passfile(module.tmpdir, self.params["login_password"])
        self.runner = None

    def fail(self, msg, **extra):
        self.result.update(extra)
        self.result.setdefault("duration", None)
        self.module.fail_json(msg=redact(msg, login_secrets(self.params)), **self.result)

    def tools(self, *names):
        opt = [self.params["bin_dir"]] if self.params["bin_dir"] else []
        found = [self.module.get_bin_path(n, required=True, opt_dirs=opt) for n in names]
        if self.runner is None:
            self.runner = ba.ToolRunner(ba.tool_env(os.environ, libpq_env(self.params), self.passfile),
                                        self.module.tmpdir)
        return found

    def find_tool(self, name):
        """An optional tool (bin_dir, then PATH), or None."""
        opt = [self.params["bin_dir"]] if self.params["bin_dir"] else []
        return self.module.get_bin_path(name, required=False, opt_dirs=opt)

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
        if self.lock:
            self.lock.release()

    def connect(self, dbname=None, autocommit=True):
        return connect(self.module, dbname=dbname, autocommit=autocommit)

    # -- state=present ------------------------------------------------------------------------------------
    def present(self):
        p, result, module = self.params, self.result, self.module
        jobs = p["jobs"] or DEFAULT_DUMP_JOBS
        started = _utc_now()
        name = bk.check_name(p["name"] or bk.default_name(p["login_db"], started))
        dest = p["dest"]
        manifest_path = os.path.join(dest, bk.manifest_filename(name))
        result.update(manifest=manifest_path, verify=p["verify"])

        if os.path.lexists(dest) and not os.path.isdir(dest):
            self.fail("dest %s exists and is not a directory." % dest)
        if os.path.isdir(dest) and not os.access(dest, os.W_OK | os.X_OK):
            self.fail("dest %s is not writable by this user (or is on a read-only file system)." % dest)
        if os.path.isdir(dest) and os.stat(dest).st_mode & 0o077:
            module.warn("dest %s is open to other users (mode %04o): backups and manifests are 0600, but others "
                        "can list their names; 0700 is safer." % (dest, os.stat(dest).st_mode & 0o7777))

        pg_dump, pg_restore = self.tools("pg_dump", "pg_restore")
        dump_major, result["pg_dump_version"] = self.tool_version(pg_dump)
        zstd = self.find_tool("zstd")
        fmt, compression, warning = bk.plan_compression(p["compress"], p["format"], dump_major, zstd is not None)
        if warning:
            module.warn(warning)
        final = os.path.join(dest, bk.backup_filename(name, fmt, compression))
        result.update(path=final, format=fmt, compression=compression.spec,
                      container="zstd" if compression.stream else None)
        conn = self.connect()
        result["server_version"] = server_version(conn)
        if conn.server_version // 10000 > dump_major:
            self.fail("pg_dump %s is older than the server (%s) of %s and cannot dump it: install the client "
                      "tools of PostgreSQL %d or newer and point bin_dir at them."
                      % (result["pg_dump_version"], result["server_version"], describe_target(p),
                         conn.server_version // 10000))

        if os.path.lexists(dest) and not module.check_mode:
            self.lock = ba.NameLock(dest, name).acquire(self.lock_seconds)
        self.check_manifest_slot(manifest_path)
        if os.path.lexists(manifest_path) and not os.path.lexists(final):
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
            self.lock = ba.NameLock(dest, name).acquire(self.lock_seconds)
        ba.remove_stale_temps(dest)
        tmp = ba.temp_path(dest, os.path.basename(final))
        self.temps.append(tmp)
        snapshot = bdb.DumpSnapshot(conn)
        tables = snapshot.tables()
        result.update(tables=len(tables), ef_migration=self.ef_migration(snapshot.conn))
        clock = time.monotonic()
        try:
            if compression.stream:
                # pg_dump -Fc -Z0 | zstd -T<jobs> -<level> > tmp: both processes checked
                problems = ba.dump_streamed(
                    self.runner, bk.dump_argv(pg_dump, fmt, None, compression, jobs, snapshot.snapshot_id,
                                              self.lock_seconds),
                    bk.zstd_compress_argv(zstd, compression.level, jobs), tmp)
            else:
                rc, err = self.runner.run(bk.dump_argv(pg_dump, fmt, tmp, compression, jobs, snapshot.snapshot_id,
                                                       self.lock_seconds))
                problems = [ba.describe_exit("pg_dump", rc, err)] if rc != 0 else []
            if problems:
                self.fail("Backup of %s failed, nothing was kept: %s" % (describe_target(p), "; ".join(problems)))
            counts = snapshot.row_counts(tables) if p["verify"] == "restore" else None
        finally:
            snapshot.close()
        ba.restrict_modes(tmp)
        dumped = time.monotonic()
        checked = self.verify(pg_restore, tmp, fmt, compression, tables, jobs, counts, zstd)
        result["timings"] = {"dump": round(dumped - clock, 3), "verify": round(time.monotonic() - dumped, 3)}
        finished = _utc_now()
        result.update(size=checked["size"], sha256=checked["sha256"], toc_entries=checked["toc_entries"],
                      changed=True)
        manifest = bk.build_manifest(
            name=name, file=os.path.basename(final), format=fmt, compress=compression.spec,
            compression=compression.spec, container="zstd" if compression.stream else None,
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

    def check_manifest_slot(self, manifest_path):
        """The manifest's name must be free or hold a manifest of ours: a file that is not ours is never replaced."""
        if not os.path.lexists(manifest_path):
            return
        try:
            ours = ba.read_own_manifest(manifest_path)
        except OSError as exc:
            self.fail("Cannot read %s (%s); refusing to overwrite it." % (manifest_path, exc))
        if ours is None:
            self.fail("%s exists and was not written by pg_backup (not a regular file with its marker); refusing to "
                      "overwrite it: move it away or choose another name." % manifest_path)

    def ef_migration(self, conn):
        return read_current_migration(conn, self.params["history_table"], self.params["history_schema"])

    def existing(self, final, manifest_path):
        """A backup of this name exists: it is the wanted one if it still matches its manifest."""
        if not os.path.exists(manifest_path):
            self.fail("%s exists but has no manifest %s: it was not written by pg_backup (or is incomplete). "
                      "Refusing to overwrite it: move it away or choose another name." % (final, manifest_path))
        manifest = ba.read_own_manifest(manifest_path)
        if manifest is None or manifest.get("file") != os.path.basename(final):
            self.fail("%s exists but its manifest %s is not pg_backup's for this file; refusing to overwrite it: "
                      "move it away or choose another name." % (final, manifest_path))
        if os.path.islink(final):
            self.fail("%s is a symbolic link, not a backup pg_backup wrote; refusing to use it." % final)
        p = self.params
        origin = bk.normalise_origin(p["login_db"], p["login_unix_socket"] or p["login_host"], p["login_port"])
        theirs = bk.normalise_origin(manifest.get("database"), manifest.get("host"), manifest.get("port"))
        if theirs != origin:
            self.fail("%s exists and is a backup of %s@%s:%s, not of %s@%s:%s; refusing to report it as this "
                      "database's backup: choose another name." % ((final,) + theirs + origin))
        size, sha, files = ba.checksum(final)
        mismatch = bk.checksum_mismatch(manifest, size, sha, files)
        if mismatch:
            self.fail("%s exists but does not match its manifest (%s): it is corrupted or was changed. Refusing to "
                      "overwrite it: move it away or choose another name." % (final, mismatch))
        self.result.update(size=size, sha256=sha, toc_entries=manifest.get("toc_entries"),
                           tables=manifest.get("tables"), ef_migration=manifest.get("ef_migration"),
                           format=manifest.get("format"), verify=manifest.get("verify"),
                           compression=manifest.get("compression") or manifest.get("compress"),
                           container=manifest.get("container"),
                           pg_dump_version=manifest.get("pg_dump_version"))

    def verify(self, pg_restore, tmp, fmt, compression, tables, jobs, counts, zstd=None):
        level = self.params["verify"]
        scratch = None
        if level == "restore":
            scratch = "%s_pg_backup_verify_%d" % (self.params["login_db"][:30], os.getpid())
            admin = self.connect()
            bdb.drop_database(admin, scratch)
            bdb.create_database_like(admin, scratch, like=self.params["login_db"])
        try:
            if fmt == "plain":
                checked = ba.verify_plain(tmp, tables, compressed=compression.method == "gzip")
                if scratch and not checked["problems"]:
                    psql = self.tools("psql")[0]
                    checked["problems"] += self.replay_plain(psql, tmp, compression.method == "gzip", scratch)
            elif compression.stream:
                checked = ba.verify_streamed(self.runner, pg_restore, zstd, tmp, level, tables, scratch)
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

    def check_sessions(self, admin, target):
        """Restoring over a database others are connected to would lose their writes (or fail on their locks):
        refuse, naming them, unless terminate_sessions."""
        sessions = bdb.other_sessions(admin, target)
        self.result["sessions"] = [dict(s) for s in sessions]
        if not sessions:
            return
        listing = "; ".join(_describe_session(s) for s in sessions)
        if not self.params["terminate_sessions"]:
            self.fail("Refusing to restore into %s while %d other session(s) are connected to it (writes they make "
                      "would be lost, their locks would block the restore): %s. Stop the application, or set "
                      "terminate_sessions=true." % (target, len(sessions), listing))
        if self.module.check_mode:
            self.module.warn("Would terminate %d session(s) connected to %s: %s" % (len(sessions), target, listing))
            return
        terminated = bdb.terminate_sessions(admin, [s["pid"] for s in sessions])
        self.result["terminated_sessions"] = terminated
        self.module.warn("Terminated %d session(s) connected to %s before restoring: %s"
                         % (len(terminated), target, listing))
        left = [s for s in bdb.other_sessions(admin, target) if s["pid"] in {x["pid"] for x in sessions}]
        if left:
            self.fail("Could not terminate the session(s) connected to %s: %s" % (
                target, "; ".join(_describe_session(s) for s in left)))

    def replay_plain(self, psql, path, compressed, dbname):
        proc = self.runner.start(bk.psql_restore_argv(psql, dbname), stdin=subprocess.PIPE)
        pump = ba.feed_plain(path, compressed, proc)
        rc, err = self.runner.finish(proc)
        pump.get()
        return [ba.describe_exit("psql", rc, err)] if rc != 0 else []

    def retention(self, dest, name, final, adding=False):
        """Apply ``keep``; in check mode, report what it would delete. Diff: the series before and after.

        Only backups of our own manifests (``<name>.pg_backup.json``, regular files with our marker) of the same
        database, host and port, whose file is a plain name of theirs in dest, never the current run's backup;
        each deleted under its own name lock (a backup being restored or rewritten by another run is skipped).
        """
        p = self.params
        prefix = bk.series_prefix(name)
        origin = bk.normalise_origin(p["login_db"], p["login_unix_socket"] or p["login_host"], p["login_port"])
        current = os.path.basename(final)
        manifests = []
        for entry in sorted(os.listdir(dest)) if os.path.isdir(dest) else []:
            if entry.endswith(bk.MANIFEST_SUFFIX) and not entry.startswith("."):
                try:
                    m = ba.read_own_manifest(os.path.join(dest, entry))
                except OSError:
                    continue
                if m and m["name"] + bk.MANIFEST_SUFFIX == entry and bk.in_series(m["name"], prefix):
                    manifests.append(m)
        series = [m for m in bk.retention_candidates(manifests, prefix, origin, None)
                  if os.path.lexists(os.path.join(dest, m["file"]))]
        before = sorted(m["file"] for m in series if m["file"] != current)
        if not adding and os.path.lexists(final):
            before = sorted(before + [current])
        expired = bk.expired_backups(series, prefix, p["keep"], origin, current)
        deleted = []
        for m in expired:
            path = os.path.join(dest, m["file"])
            if os.path.islink(path):
                self.module.warn("Retention skipped %s: it is a symbolic link, not a backup pg_backup wrote." % path)
                continue
            if self.module.check_mode:
                deleted.append(path)
                continue
            lock = ba.NameLock(dest, m["name"]).try_acquire()
            if lock is None:
                self.module.warn("Retention skipped %s: another pg_backup run holds its lock." % path)
                continue
            try:
                ba.remove_path(path)
                ba.remove_path(os.path.join(dest, bk.manifest_filename(m["name"])))
            finally:
                lock.release()
            deleted.append(path)
        self.result["deleted"] = deleted
        if deleted and not self.module.check_mode:
            ba.fsync_dir(dest)
        if deleted:
            self.result["changed"] = True
        if self.module._diff:
            gone = {os.path.basename(d) for d in deleted}
            after = sorted(set(before + [current]) - gone)
            self.result["diff"] = {"before_header": "%s (series %s)" % (dest, prefix), "before": _listing(before),
                                   "after_header": "%s (series %s)" % (dest, prefix), "after": _listing(after)}

    # -- state=restored -----------------------------------------------------------------------------------
    def restored(self):
        p, result, module = self.params, self.result, self.module
        path, manifest_path, stem = _locate_backup(p["path"])
        result.update(path=path, manifest=manifest_path)
        if not os.path.lexists(manifest_path):
            self.fail("%s has no manifest %s: pg_backup restores only backups whose checksum it can check."
                      % (path, manifest_path))
        manifest = ba.read_own_manifest(manifest_path)
        if manifest is None:
            self.fail("%s is not a manifest written by pg_backup (a regular file with its marker %r); refusing to "
                      "restore from it." % (manifest_path, bk.MANIFEST_TOOL))
        if manifest["name"] != stem or not bk.plain_member(manifest.get("file"), stem):
            self.fail("The manifest %s names the backup %r, which is not a file of its own name beside it; refusing "
                      "to restore from it." % (manifest_path, manifest.get("file")))
        named = os.path.join(os.path.dirname(manifest_path), manifest["file"])
        if path != manifest_path and os.path.normpath(path) != os.path.normpath(named):
            self.fail("%s is not the backup its manifest %s describes (%s)." % (path, manifest_path, named))
        path = named
        result["path"] = path
        if not os.path.lexists(path):
            self.fail("Backup %s (named by its manifest %s) does not exist." % (path, manifest_path))
        if os.path.islink(path):
            self.fail("Backup %s is a symbolic link, not a backup pg_backup wrote; refusing to restore it." % path)
        if not module.check_mode and os.access(os.path.dirname(path), os.W_OK):
            # a retention run of another pg_backup must not delete it while we read it
            self.lock = ba.NameLock(os.path.dirname(path), stem).acquire(self.lock_seconds)
        if not p["restore_db"] and manifest.get("database") != p["login_db"] and not p["allow_other_database"]:
            self.fail("Refusing to restore %s into %s: it is a backup of database %r. Restore it into a new database "
                      "with restore_db, or set allow_other_database=true to replace %s with it."
                      % (path, p["login_db"], manifest.get("database"), p["login_db"]))
        fmt = manifest.get("format")
        size, sha, files = ba.checksum(path)
        mismatch = bk.checksum_mismatch(manifest, size, sha, files)
        if mismatch:
            self.fail("Refusing to restore %s: it does not match its manifest (%s). The backup is corrupted or was "
                      "changed; nothing was restored." % (path, mismatch))
        target = p["restore_db"] or p["login_db"]
        jobs = p["jobs"] or 1
        streamed = manifest.get("container") == "zstd"
        zstd = None
        if streamed:
            zstd = self.find_tool("zstd")
            if zstd is None:
                self.fail("%s is a zstd-compressed custom archive and the zstd tool was not found in bin_dir or PATH: "
                          "install the Debian package %s." % (path, bk.ZSTD_PACKAGE))
            if jobs > 1:
                module.warn("%s is read from a pipe (zstd -dc), which pg_restore can only restore with one job: "
                            "restoring with jobs=1, in one transaction." % path)
            jobs = 1
        result.update(compression=manifest.get("compression") or manifest.get("compress"),
                      container=manifest.get("container"), restore_jobs=jobs)
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
        if exists and not p["restore_db"]:
            self.check_sessions(admin, target)
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
            elif streamed:  # zstd -dc FILE | pg_restore --single-transaction --exit-on-error
                problems = ba.pipeline_problems(self.runner.pipeline(
                    bk.zstd_decompress_argv(zstd, path),
                    bk.restore_argv(binary, None, target, clean=p["clean"] and not created, jobs=1)))
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


def _describe_session(s):
    return "pid %s (user %s, application %r, from %s, %s)" % (
        s["pid"], s["user"], s["application_name"] or "", s["client_addr"] or "local socket", s["state"])


def _manifest_file(manifest_path):
    """The backup file our manifest names, or None when it is unreadable or not ours."""
    try:
        data = ba.read_own_manifest(manifest_path)
    except OSError:
        return None
    return data.get("file") if data else None


def _listing(files):
    return "".join("%s\n" % f for f in files) or "(none)\n"


def _locate_backup(path):
    """(backup, manifest, stem) from the path of either; the backup path is checked against the manifest later."""
    path = path.rstrip("/") or path
    directory, base = os.path.split(path)
    if base.endswith(bk.MANIFEST_SUFFIX):
        stem = base[:-len(bk.MANIFEST_SUFFIX)]
        return path, path, stem
    if base.endswith(bk.LEGACY_MANIFEST_SUFFIX) and not os.path.isdir(path):
        stem = base[:-len(bk.LEGACY_MANIFEST_SUFFIX)]
        return path, path, stem
    stem = base
    for ext in sorted(bk.BACKUP_SUFFIXES, key=len, reverse=True):
        if ext and base.endswith(ext):
            stem = base[:-len(ext)]
            break
    manifest = os.path.join(directory, bk.manifest_filename(stem))
    legacy = os.path.join(directory, bk.legacy_manifest_filename(stem))
    if not os.path.lexists(manifest) and os.path.lexists(legacy):
        manifest = legacy  # a version 1 manifest: used only when it carries our marker
    return path, manifest, stem
