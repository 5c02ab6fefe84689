"""pg_backup when things go wrong, against a real PostgreSQL: killed dumps, full or read-only disks, corrupted
and truncated backups, bad credentials, and the password's whereabouts (argv, environment, -vvv output).

To catch pg_dump while it runs, another session holds ACCESS EXCLUSIVE on a table: pg_dump waits for its
ACCESS SHARE lock until the test releases it (no sleeps, no timing assertions).
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
from test_pg_backup import backup, build_ef_database, databases, pg_dump_text, restore, table_contents

ROOT = os.geteuid() == 0


def _cmdlines():
    """``{pid: [argv]}`` of every process we can see."""
    out = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as fh:
                    out[int(pid)] = [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
            except OSError:
                continue
    return out


def _wait_for(predicate, what, limit=120):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("gave up waiting for %s" % what)


def _pg_dump_pids(dest):
    marker = "--file=%s/" % dest
    return [pid for pid, argv in _cmdlines().items() if any(a.startswith(marker) for a in argv)]


@contextlib.contextmanager
def dump_waiting_on_a_lock(pg, dbname, dest, **args):
    """Run pg_backup in a thread while pg_dump waits for a lock; yields (pg_dump pids, outcome dict)."""
    locker = pg.connect(dbname, autocommit=False)
    with locker.cursor() as cur:
        cur.execute('LOCK TABLE "Payments" IN ACCESS EXCLUSIVE MODE')
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(run=backup(pg, dbname, dest, **args)), daemon=True)
    worker.start()
    try:
        yield _wait_for(lambda: _pg_dump_pids(dest), "pg_dump to start"), outcome
    finally:
        locker.rollback()
        locker.close()
        worker.join(300)
    assert "run" in outcome, "the module did not finish"


# -- the password --------------------------------------------------------------------------------------------

def test_password_is_in_no_argv_and_no_environment_while_pg_dump_runs(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    dest = tmp_path / "b"
    with dump_waiting_on_a_lock(pg, dbname, dest, format="directory", jobs=2) as (pids, outcome):
        everyone = _cmdlines()
        leaks = [pid for pid, argv in everyone.items() if any(pg.password in a for a in argv)]
        assert leaks == [], "password on the command line of %s" % [everyone[p] for p in leaks]
        for pid in pids:
            with open("/proc/%d/environ" % pid, "rb") as fh:
                env = dict(e.split(b"=", 1) for e in fh.read().split(b"\0") if b"=" in e)
            assert pg.password.encode() not in b"".join(env.values())
            assert b"PGPASSWORD" not in env
            passfile = env[b"PGPASSFILE"].decode()
            assert os.stat(passfile).st_mode & 0o777 == 0o600
    assert not outcome["run"].failed, outcome["run"]
    assert not os.path.exists(passfile)  # removed with the run


def test_password_is_in_no_output_at_vvv_even_on_failure(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    args = dict(pg.login_args(dbname), dest=str(tmp_path), name="v")
    ok = run_module("pg_backup", dict(args, format="directory"), verbosity=3)
    bad = run_module("pg_backup", dict(args, format="custom"), verbosity=3)  # same name, other format: dest has "v/"
    restored = run_module("pg_backup", dict(args, state="restored", path=str(tmp_path / "v"), restore_db=dbname + "_r"),
                          verbosity=3, diff=True)
    try:
        # the restore really happened: the new database is the source, schema and data
        assert restored.proc.returncode == 0 and "changed=1" in restored.proc.stdout, restored.proc.stdout[-3000:]
        assert pg_dump_text(pg, dbname + "_r") == pg_dump_text(pg, dbname)
    finally:
        pg.drop_database(dbname + "_r")
    assert "changed=1" in ok.proc.stdout
    assert bad.proc.returncode != 0 and "already exists in" in bad.proc.stdout and "(another format)" in bad.proc.stdout
    for run in (ok, bad, restored):
        assert "login_password" in run.proc.stdout  # the invocation is printed, masked
        assert pg.password not in run.proc.stdout + run.proc.stderr


# -- interrupted dumps leave nothing -------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_a_dump_killed_midway_leaves_no_file_and_fails_clearly(pg, dbname, tmp_path, fmt):
    build_ef_database(pg, dbname)
    dest = tmp_path / "b"
    # gzip: pg_dump writes the file itself (the zstd pipe is killed in test_pg_backup_zstd.py)
    with dump_waiting_on_a_lock(pg, dbname, dest, format=fmt, compress="gzip:1", name="k") as (pids, outcome):
        _wait_for(lambda: [e for e in os.listdir(dest) if e.endswith(".pg_backup-tmp")], "pg_dump's output")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    run = outcome["run"]
    assert run.failed
    assert "pg_dump was killed by signal 9" in run["msg"] and "nothing was kept" in run["msg"]
    assert os.listdir(dest) == []


def test_an_interrupted_module_stops_pg_dump_and_cleans_up(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    dest = tmp_path / "b"
    with dump_waiting_on_a_lock(pg, dbname, dest, format="custom", compress="gzip:1", name="i") as (pids, outcome):
        temp = _wait_for(lambda: [e for e in os.listdir(dest) if e.endswith(".pg_backup-tmp")], "the temp file")
        module_pid = int(temp[0].rsplit("-", 2)[-2].rsplit(".", 1)[0])  # .<file>.<host>-<pid>.pg_backup-tmp
        os.kill(module_pid, signal.SIGTERM)  # what an Ansible timeout or Ctrl-C sends
        _wait_for(lambda: not _pg_dump_pids(dest), "pg_dump to be stopped")
    run = outcome["run"]
    assert run.failed and "interrupted by signal SIGTERM" in run["msg"]
    assert os.listdir(dest) == []


def test_leftovers_of_a_run_killed_outright_are_removed_by_the_next_run(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    dest = tmp_path / "b"
    with dump_waiting_on_a_lock(pg, dbname, dest, format="directory", name="x") as (pids, outcome):
        temp = _wait_for(lambda: [e for e in os.listdir(dest) if e.endswith(".pg_backup-tmp")], "the temp dir")
        module_pid = int(temp[0].rsplit("-", 2)[-2].rsplit(".", 1)[0])
        for pid in [module_pid] + pids:  # SIGKILL: no chance to clean up (OOM killer, host crash)
            os.kill(pid, signal.SIGKILL)
    assert outcome["run"].failed
    _wait_for(lambda: not _pg_dump_pids(dest), "pg_dump to exit")
    # litter, under a temporary name only, and the (unheld: the kernel dropped the flock) lock file
    assert sorted(os.listdir(dest)) == sorted(temp + [".x.pg_backup.lock"])

    run = backup(pg, dbname, dest, format="directory", name="x")
    assert not run.failed, run
    assert sorted(os.listdir(dest)) == ["x", "x.pg_backup.json"]


@contextlib.contextmanager
def _mounted_tmpfs(path, options):
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def _cannot_mount(tmp_path):
    """Why this process cannot mount a tmpfs (None when it can): non-root, no mount(8), or no CAP_SYS_ADMIN
    (a container), found by trying."""
    if not ROOT:
        return "mounting a small tmpfs needs root"
    if not shutil.which("mount"):
        return "mount(8) is not installed"
    probe = tmp_path / "probe"
    probe.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return "cannot mount a tmpfs here (no CAP_SYS_ADMIN?): %s" % proc.stderr.strip()
    subprocess.run(["umount", str(probe)], check=False)
    return None


def _add_filler(pg, dbname, rows=100000):
    # about 4 MB per 100000 rows of incompressible-ish data
    pg.execute(dbname, "CREATE TABLE filler AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v "
                       "FROM generate_series(1, %d) g" % rows)


def test_a_full_disk_fails_clearly_and_leaves_nothing(pg, dbname, tmp_path):
    reason = _cannot_mount(tmp_path)
    if reason:
        pytest.skip(reason)
    build_ef_database(pg, dbname)
    _add_filler(pg, dbname)
    with _mounted_tmpfs(tmp_path / "small", "size=1m,mode=0700") as dest:
        for fmt in ("directory", "custom"):
            run = backup(pg, dbname, dest, format=fmt, name="full")
            assert run.failed
            assert "No space left on device" in run["msg"], run["msg"]
            assert os.listdir(dest) == []


def _run_module_with_file_size_limit(args, limit):
    """ansible-playbook with RLIMIT_FSIZE set (inherited by the module and pg_dump): a disk full of ``limit``
    bytes per file, with no mount and no privilege."""
    import json as _json
    import resource
    import tempfile

    import yaml

    from stage.runner import ansible_env, _bin

    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "tasks": [{"name": "backup", "almafrica.rollback.pg_backup": args}]}]
    with tempfile.TemporaryDirectory(prefix="almafrica-play-") as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(play, fh)
        proc = subprocess.run(
            [_bin("ansible-playbook"), "-i", "localhost,", path],
            env=ansible_env(dict(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")),
            capture_output=True, text=True, timeout=600, check=False,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    return _json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_a_file_size_limit_fails_the_dump_clearly_and_leaves_nothing(pg, dbname, tmp_path, fmt):
    """The disk-full case that needs no mount: RLIMIT_FSIZE of 2 MB, about 8 MB to write (compression off)."""
    build_ef_database(pg, dbname)
    _add_filler(pg, dbname, rows=200000)
    dest = tmp_path / "b"
    before = pg_dump_text(pg, dbname)
    result = _run_module_with_file_size_limit(dict(pg.login_args(dbname), dest=str(dest), name="big", format=fmt,
                                                   compress=0), 2 << 20)
    assert result.get("failed"), result
    assert "nothing was kept" in result["msg"] and "pg_dump" in result["msg"], result["msg"]
    # pg_dump is killed by SIGXFSZ (or reports EFBIG when the signal is ignored); with directory format a worker
    # dies of it and the leader says so
    expected = ["SIGXFSZ", "File too large"] + (["a worker process died unexpectedly"] if fmt == "directory" else [])
    assert any(e in result["msg"] for e in expected), result["msg"]
    assert os.listdir(dest) == []
    assert pg.password not in json.dumps(result)
    assert pg_dump_text(pg, dbname) == before


def test_an_unwritable_dest_fails_before_dumping(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    if ROOT and shutil.which("mount"):
        ctx = _mounted_tmpfs(tmp_path / "ro", "ro,size=1m")
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        ctx = contextlib.nullcontext(tmp_path / "ro")
    with ctx as dest:
        run = backup(pg, dbname, dest, name="nope")
        assert run.failed and "is not writable" in run["msg"]
        assert os.listdir(dest) == []
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    run = backup(pg, dbname, not_a_dir, name="nope")
    assert run.failed and "is not a directory" in run["msg"]


# -- corrupted and truncated backups -----------------------------------------------------------------------

def _flip_a_byte(path):
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_a_corrupted_backup_fails_verification_and_is_refused_by_restored(pg, dbname, tmp_path, fmt):
    build_ef_database(pg, dbname)
    run = backup(pg, dbname, tmp_path, format=fmt, name="c")
    assert not run.failed, run
    if fmt == "directory":
        data = max((os.path.join(run["path"], f) for f in os.listdir(run["path"])), key=os.path.getsize)
        _flip_a_byte(data)
        changed = "changed files: %s" % os.path.basename(data)
    else:
        _flip_a_byte(run["path"])
        changed = "SHA-256"

    again = backup(pg, dbname, tmp_path, format=fmt, name="c")
    assert again.failed and "does not match its manifest" in again["msg"] and changed in again["msg"]

    source = table_contents(pg, dbname)
    before = databases(pg)
    for target in ({"restore_db": dbname + "_r"}, {}):
        refused = restore(pg, dbname, run["path"], **target)
        assert refused.failed and "Refusing to restore" in refused["msg"] and changed in refused["msg"]
    assert databases(pg) == before
    assert table_contents(pg, dbname) == source


def test_toc_listing_passes_on_a_truncated_archive_but_full_verification_does_not(pg, dbname, tmp_path):
    """DESIGN.md: `pg_restore --list` reads only the table of contents; reading every block catches the cut."""
    build_ef_database(pg, dbname)
    pg.execute(dbname, "CREATE TABLE filler AS SELECT g, md5(g::text) AS v FROM generate_series(1, 50000) g")
    env = dict(pg.client_env(), PGDATABASE=dbname)
    archive = str(tmp_path / "a.dump")
    subprocess.run(["pg_dump", "--format=custom", "--compress=1", "--file=" + archive], env=env, check=True)
    with open(archive, "r+b") as fh:
        fh.truncate(os.path.getsize(archive) // 2)
    assert subprocess.run(["pg_restore", "--list", archive], env=env, capture_output=True, check=False).returncode == 0

    conn = pg.connect(dbname, autocommit=False)
    snapshot = bdb.DumpSnapshot(conn)
    tables = snapshot.tables()
    snapshot.close()
    runner = ba.ToolRunner(env, str(tmp_path))
    pg_restore = shutil.which("pg_restore")
    weak = ba.verify_archive(runner, pg_restore, archive, "custom", "toc", tables)
    assert weak["problems"] == []
    for readers in (1, 2):
        full = ba.verify_archive(runner, pg_restore, archive, "custom", "full", tables, readers=readers)
        assert full["problems"] and "pg_restore failed" in full["problems"][0]


def test_a_truncated_plain_script_fails_verification(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    env = dict(pg.client_env(), PGDATABASE=dbname)
    script = str(tmp_path / "p.sql")
    subprocess.run(["pg_dump", "--format=plain", "--file=" + script], env=env, check=True)
    conn = pg.connect(dbname, autocommit=False)
    snapshot = bdb.DumpSnapshot(conn)
    tables = snapshot.tables()
    snapshot.close()
    assert ba.verify_plain(script, tables, compressed=False)["problems"] == []
    text = open(script, encoding="utf-8").read()
    with open(script, "w", encoding="utf-8") as fh:
        fh.write(text[:text.index('COPY public."Orders"') + 200])
    problems = ba.verify_plain(script, tables, compressed=False)["problems"]
    assert problems and "trailer" in problems[0] and "public.Payments (data)" in problems[0]


# -- credentials and reachability --------------------------------------------------------------------------

def test_a_wrong_password_fails_clearly(pg, dbname, tmp_path):
    run = run_module("pg_backup", dict(pg.login_args(dbname), login_password="not-" + pg.password,
                                       dest=str(tmp_path / "b")))
    assert run.failed
    assert "Cannot connect to PostgreSQL %s@127.0.0.1" % dbname in run["msg"]
    assert "password authentication failed" in run["msg"]
    assert pg.password not in run["msg"]
    assert not (tmp_path / "b").exists()


def test_an_unreachable_server_fails_clearly(pg, dbname, tmp_path):
    from stage.pg import free_port

    port = free_port()  # nothing listens there
    run = run_module("pg_backup", dict(pg.login_args(dbname), login_port=port, connect_timeout=3,
                                       dest=str(tmp_path / "b")))
    assert run.failed
    assert "Cannot connect to PostgreSQL %s@127.0.0.1:%d" % (dbname, port) in run["msg"]
    assert "refused" in run["msg"] or "timeout" in run["msg"]
    assert not (tmp_path / "b").exists()
