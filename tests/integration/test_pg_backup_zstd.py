"""pg_backup with zstd (issue 16), against a real PostgreSQL through the real ansible-playbook.

pg_dump here is 15: zstd is had by streaming the uncompressed custom format through the zstd tool
(``pg_dump -Fc -Z0 | zstd``). pg_dump 16's native spelling is covered by the unit tests (tests/unit/test_backup.py);
it was not run here (no PostgreSQL 16 client in the configured Debian repositories).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.backup import archive as ba
from ansible_collections.almafrica.rollback.plugins.module_utils.backup import database as bdb
from stage.runner import run_module
from test_pg_backup import backup, build_ef_database, databases, pg_dump_text, restore

ZSTD = shutil.which("zstd")
pytestmark = pytest.mark.skipif(not ZSTD, reason="the zstd tool is not installed (Debian package zstd)")


def _add_filler(pg, dbname, rows=50000):
    pg.execute(dbname, "CREATE TABLE filler AS SELECT g, md5(g::text) || repeat('x', g %% 50) AS v "
                       "FROM generate_series(1, %d) g" % rows)


def _flip_a_byte(path, where=0.5):
    with open(path, "r+b") as fh:
        fh.seek(int(os.path.getsize(path) * where))
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


def _reseal(manifest_path, backup_path):
    """Make the manifest match a changed backup (as a careless copy would): so that only the pipe can catch it."""
    with open(manifest_path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    size, sha, _files = ba.checksum(backup_path)
    manifest.update(size=size, sha256=sha)
    with open(manifest_path, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)


# -- every compression restores to an identical database -----------------------------------------------------

@pytest.mark.parametrize("args, fmt, suffix, compression, container", [
    ({}, "custom", ".dump.zst", "zstd:1", "zstd"),                              # the default: auto
    ({"compress": "zstd:3"}, "custom", ".dump.zst", "zstd:3", "zstd"),
    ({"compress": "zstd:1", "format": "custom"}, "custom", ".dump.zst", "zstd:1", "zstd"),
    ({"compress": "gzip:1"}, "directory", "", "gzip:1", None),
    ({"compress": 6, "format": "custom"}, "custom", ".dump", "gzip:6", None),
    ({"compress": "none", "format": "custom"}, "custom", ".dump", "none", None),
    ({"compress": "auto", "format": "directory"}, "directory", "", "gzip:1", None),  # pg_dump 15: no zstd in -Fd
])
def test_each_compression_restores_an_identical_database(pg, dbname, tmp_path, args, fmt, suffix, compression,
                                                         container):
    build_ef_database(pg, dbname)
    _add_filler(pg, dbname)
    original = pg_dump_text(pg, dbname)
    run = backup(pg, dbname, tmp_path, name="z", **args)
    assert not run.failed, run
    assert run["path"] == str(tmp_path / ("z" + suffix))
    assert (run["format"], run["compression"], run["container"]) == (fmt, compression, container)
    manifest = json.loads((tmp_path / "z.pg_backup.json").read_text())
    assert (manifest["compression"], manifest["container"], manifest["file"]) == (compression, container, "z" + suffix)
    assert pg.password not in json.dumps(manifest)
    if container == "zstd":
        # a real zstd frame, checksum included, of a custom archive; SHA-256 of the compressed bytes
        assert subprocess.run([ZSTD, "-q", "-t", run["path"]], check=False).returncode == 0
        head = subprocess.run([ZSTD, "-q", "-dc", run["path"]], capture_output=True, check=True).stdout[:5]
        assert head == b"PGDMP"
        assert manifest["sha256"] == ba.sha256_file(run["path"]) == run["sha256"]
    copy = dbname + "_copy"
    try:
        done = restore(pg, dbname, run["path"], restore_db=copy)
        assert not done.failed, done
        assert done["restore_jobs"] == 1
        assert pg_dump_text(pg, copy) == original
        assert pg_dump_text(pg, dbname) == original
    finally:
        pg.drop_database(copy)


def test_a_zstd_backup_restores_in_place_in_one_transaction_with_one_job(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    original = pg_dump_text(pg, dbname)
    run = backup(pg, dbname, tmp_path, name="z")
    assert not run.failed and run["container"] == "zstd", run
    pg.execute(dbname, 'DELETE FROM "Payments"; ALTER TABLE "Orders" DROP COLUMN "Status"')
    done = restore(pg, dbname, run["path"], jobs=4)
    assert not done.failed, done
    assert done["restore_jobs"] == 1
    assert any("one job" in w for w in done.get("warnings", [])), done
    assert pg_dump_text(pg, dbname) == original


def test_the_documented_manual_restore_works(pg, dbname, tmp_path):
    """DOCUMENTATION's notes: zstd -dc FILE | pg_restore --single-transaction --exit-on-error --dbname=DB."""
    build_ef_database(pg, dbname)
    original = pg_dump_text(pg, dbname)
    run = backup(pg, dbname, tmp_path, name="z")
    assert not run.failed, run
    copy = pg.create_database(dbname + "_byhand")
    try:
        unzstd = subprocess.Popen([ZSTD, "-dc", run["path"]], stdout=subprocess.PIPE)
        rc = subprocess.run(["pg_restore", "--single-transaction", "--exit-on-error", "--dbname=" + copy],
                            stdin=unzstd.stdout, env=pg.client_env(), check=False).returncode
        unzstd.stdout.close()
        assert rc == 0 and unzstd.wait() == 0
        assert pg_dump_text(pg, copy) == original
    finally:
        pg.drop_database(copy)


# -- truncated or corrupted .zst --------------------------------------------------------------------------------

def _tables(pg, dbname):
    conn = pg.connect(dbname, autocommit=False)
    snapshot = bdb.DumpSnapshot(conn)
    tables = snapshot.tables()
    snapshot.close()
    return tables


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_zst_fails_verification(pg, dbname, tmp_path, damage):
    build_ef_database(pg, dbname)
    _add_filler(pg, dbname)
    run = backup(pg, dbname, tmp_path, name="z")
    assert not run.failed, run
    path = run["path"]
    tables = _tables(pg, dbname)
    runner = ba.ToolRunner(dict(pg.client_env(), PGDATABASE=dbname), str(tmp_path))
    assert ba.verify_streamed(runner, shutil.which("pg_restore"), ZSTD, path, "full", tables)["problems"] == []
    if damage == "truncated":
        with open(path, "r+b") as fh:
            fh.truncate(os.path.getsize(path) * 2 // 3)
    else:
        _flip_a_byte(path, 0.6)
    checked = ba.verify_streamed(runner, shutil.which("pg_restore"), ZSTD, path, "full", tables)
    # zstd's frame checksum, or pg_restore reading garbage first (then zstd dies of the closed pipe): refused
    assert checked["problems"], checked
    assert any(p.startswith(("zstd failed", "pg_restore failed")) for p in checked["problems"]), checked["problems"]
    assert checked["sha256"] == ba.sha256_file(path)  # the SHA-256 is of the compressed bytes, beside the read


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_zst_is_refused_by_restored_and_changes_nothing(pg, dbname, tmp_path, damage):
    build_ef_database(pg, dbname)
    _add_filler(pg, dbname)
    run = backup(pg, dbname, tmp_path, name="z")
    assert not run.failed, run
    path = run["path"]
    if damage == "truncated":
        with open(path, "r+b") as fh:
            fh.truncate(os.path.getsize(path) * 2 // 3)
    else:
        _flip_a_byte(path, 0.6)
    pg.execute(dbname, 'DELETE FROM "Payments"')
    changed = pg_dump_text(pg, dbname)
    before = databases(pg)
    # the manifest's checksum refuses it first
    refused = restore(pg, dbname, path)
    assert refused.failed and "does not match its manifest" in refused["msg"], refused
    # with a manifest resealed over the damage, the pipe itself refuses it: zstd fails, pg_restore's single
    # transaction is rolled back, the database is as it was
    _reseal(run["manifest"], path)
    for target in ({}, {"restore_db": dbname + "_r"}):
        refused = restore(pg, dbname, path, **target)
        assert refused.failed and "zstd failed" in refused["msg"], refused
        assert pg_dump_text(pg, dbname) == changed
        assert databases(pg) == before


# -- killing the dump or the compressor mid-way ------------------------------------------------------------------

def _children(ppid):
    """{pid: (comm, argv)} of the processes whose parent is ``ppid``."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid, encoding="utf-8") as fh:
                stat = fh.read()
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                argv = [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if int(stat[stat.rindex(")") + 2:].split()[1]) == ppid:
            out[int(pid)] = (comm, argv)
    return out


def _wait_for(predicate, what, limit=120):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("gave up waiting for %s" % what)


@contextlib.contextmanager
def streamed_dump_waiting_on_a_lock(pg, dbname, dest, **args):
    """pg_backup (zstd stream) in a thread while pg_dump waits for a table lock the test holds;
    yields ({"pg_dump": pid, "zstd": pid}, module pid, outcome)."""
    locker = pg.connect(dbname, autocommit=False)
    with locker.cursor() as cur:
        cur.execute('LOCK TABLE "Payments" IN ACCESS EXCLUSIVE MODE')
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(run=backup(pg, dbname, dest, **args)), daemon=True)
    worker.start()
    try:
        temp = _wait_for(lambda: os.path.isdir(dest) and [e for e in os.listdir(dest) if e.endswith(".pg_backup-tmp")],
                         "the temporary file")
        module_pid = int(temp[0].rsplit("-", 2)[-2].rsplit(".", 1)[0])  # .<file>.<host>-<pid>.pg_backup-tmp

        def both():
            kids = {comm: pid for pid, (comm, _argv) in _children(module_pid).items()}
            return kids if "pg_dump" in kids and "zstd" in kids else None
        yield _wait_for(both, "pg_dump and zstd"), module_pid, outcome
    finally:
        locker.rollback()
        locker.close()
        worker.join(300)
    assert "run" in outcome, "the module did not finish"


@pytest.mark.parametrize("victim", ["pg_dump", "zstd"])
def test_killing_either_process_of_the_pipe_fails_clearly_and_leaves_nothing(pg, dbname, tmp_path, victim):
    build_ef_database(pg, dbname)
    dest = tmp_path / "b"
    with streamed_dump_waiting_on_a_lock(pg, dbname, dest, name="k") as (pids, _module, outcome):
        os.kill(pids[victim], signal.SIGKILL)
    run = outcome["run"]
    assert run.failed and "nothing was kept" in run["msg"], run
    assert "%s was killed by signal 9" % victim in run["msg"], run["msg"]
    assert os.listdir(dest) == []


def test_the_password_is_in_no_argv_of_either_process(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    dest = tmp_path / "b"
    with streamed_dump_waiting_on_a_lock(pg, dbname, dest, name="p") as (pids, module_pid, outcome):
        kids = _children(module_pid)
        assert {kids[pids["pg_dump"]][0], kids[pids["zstd"]][0]} == {"pg_dump", "zstd"}
        for pid, (_comm, argv) in kids.items():
            assert not any(pg.password in a for a in argv), argv
            with open("/proc/%d/environ" % pid, "rb") as fh:
                environ = fh.read()
            assert pg.password.encode() not in environ and b"PGPASSWORD=" not in environ
        zstd_argv = kids[pids["zstd"]][1]
        assert "-T2" in zstd_argv and "-%d" % 1 in zstd_argv
        assert "--compress=0" in kids[pids["pg_dump"]][1] and "--format=custom" in kids[pids["pg_dump"]][1]
    assert not outcome["run"].failed, outcome["run"]
    assert sorted(os.listdir(dest)) == ["p.dump.zst", "p.pg_backup.json"]


def test_no_password_in_output_at_vvv_for_a_zstd_backup_and_restore(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    args = dict(pg.login_args(dbname), dest=str(tmp_path), name="v")
    made = run_module("pg_backup", args, verbosity=3)
    restored = run_module("pg_backup", dict(args, state="restored", path=str(tmp_path / "v.dump.zst"),
                                            restore_db=dbname + "_r"), verbosity=3)
    try:
        assert made.proc.returncode == 0 and restored.proc.returncode == 0, restored.proc.stdout[-2000:]
        assert pg_dump_text(pg, dbname + "_r") == pg_dump_text(pg, dbname)
    finally:
        pg.drop_database(dbname + "_r")
    for run in (made, restored):
        assert pg.password not in run.proc.stdout + run.proc.stderr


# -- zstd missing -------------------------------------------------------------------------------------------------

def _path_without_zstd(tmp_path):
    """A PATH holding the PostgreSQL client tools and nothing else (no zstd)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        os.symlink(os.path.realpath(shutil.which(tool)), str(bindir / tool))
    return str(bindir)


def test_without_zstd_auto_falls_back_to_gzip_1_with_a_warning_naming_the_package(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    original = pg_dump_text(pg, dbname)
    path = _path_without_zstd(tmp_path)
    dest = tmp_path / "b"
    run = run_module("pg_backup", dict(pg.login_args(dbname), dest=str(dest), name="f"), task_env={"PATH": path})
    assert not run.failed, run
    assert (run["format"], run["compression"], run["container"]) == ("directory", "gzip:1", None)
    assert any("Debian package zstd" in w and "gzip 1" in w for w in run.get("warnings", [])), run
    copy = dbname + "_copy"
    try:
        assert not restore(pg, dbname, run["path"], restore_db=copy).failed
        assert pg_dump_text(pg, copy) == original
    finally:
        pg.drop_database(copy)


def test_without_zstd_an_explicit_zstd_fails_clearly_and_writes_nothing(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    path = _path_without_zstd(tmp_path)
    dest = tmp_path / "b"
    dest.mkdir()
    run = run_module("pg_backup", dict(pg.login_args(dbname), dest=str(dest), name="f", compress="zstd:3"),
                     task_env={"PATH": path})
    assert run.failed and "needs the zstd tool" in run["msg"] and "Debian package zstd" in run["msg"], run
    assert os.listdir(dest) == []


def test_restoring_a_zstd_backup_without_zstd_fails_clearly(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    made = backup(pg, dbname, tmp_path / "b", name="z")
    assert not made.failed, made
    before = pg_dump_text(pg, dbname)
    path = _path_without_zstd(tmp_path)
    run = run_module("pg_backup", dict(pg.login_args(dbname), state="restored", path=made["path"]),
                     task_env={"PATH": path})
    assert run.failed and "Debian package zstd" in run["msg"], run
    assert pg_dump_text(pg, dbname) == before
