"""pg_backup used as a hostile or careless user would (issue 9: defects 2, 3, 4, 5, 9 and variants).

Every case runs the real module through ansible-playbook at -vvv against a real PostgreSQL and asserts:
a clear error or the documented end state; ``pg_dump`` (schema AND data) of every database involved identical
where nothing should change; files that are not ours still there, unchanged; and the password in no output,
in no manifest and on no process's command line while the module runs.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import pytest
import yaml

from stage.runner import _bin, ansible_env
from test_pg_backup import build_ef_database, pg_dump_text

MARKER = "almafrica.rollback.pg_backup"


# -- running the module at -vvv, watching argv ---------------------------------------------------------------

class CmdlineWatch(threading.Thread):
    """Samples /proc/*/cmdline while the module runs; ``leaks`` lists any command line holding the secret."""

    def __init__(self, secret):
        super().__init__(daemon=True)
        self.secret = secret.encode()
        self.leaks = []
        self.samples = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open("/proc/%s/cmdline" % pid, "rb") as fh:
                            cmdline = fh.read()
                    except OSError:
                        continue
                    if self.secret in cmdline:
                        self.leaks.append(cmdline.replace(b"\0", b" ").decode("utf-8", "replace"))
            self.samples += 1
            time.sleep(0.02)

    def stop(self):
        self._halt.set()
        self.join()


_RESULT = re.compile(r"^(?:ok|changed|fatal): \[localhost\]:? ?(?:FAILED! )?=> ", re.M)


def vvv(pg, args, check=False):
    """Run pg_backup at -vvv; returns (result dict, full output). Asserts the password is nowhere."""
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "tasks": [{"name": "abuse", "almafrica.rollback.pg_backup": args}]}]
    watch = CmdlineWatch(pg.password)
    with tempfile.TemporaryDirectory(prefix="almafrica-play-") as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(play, fh)
        watch.start()
        try:
            proc = subprocess.run([_bin("ansible-playbook"), "-i", "localhost,", path, "-vvv"]
                                  + (["--check"] if check else []),
                                  env=ansible_env(), capture_output=True, text=True, timeout=600, check=False)
        finally:
            watch.stop()
    output = proc.stdout + proc.stderr
    assert pg.password not in output
    assert watch.leaks == [] and watch.samples > 0, watch.leaks
    m = _RESULT.search(proc.stdout)
    assert m, output[-3000:]
    result, _end = json.JSONDecoder().raw_decode(proc.stdout[m.end():])
    if m.group(0).startswith("fatal"):  # the default callback prints the result without its "failed" key
        result["failed"] = True
    return result, output


def manifests_hold_no_password(pg, *dirs):
    for d in dirs:
        for entry in os.listdir(d):
            if entry.endswith(".json") and os.path.isfile(os.path.join(d, entry)):
                with open(os.path.join(d, entry), encoding="utf-8") as fh:
                    assert pg.password not in fh.read()


def backup(pg, db, dest, **args):
    return vvv(pg, dict(pg.login_args(db), dest=str(dest), format="custom", **args))


def restore(pg, db, path, **args):
    return vvv(pg, dict(pg.login_args(db), state="restored", path=str(path), **args))


def forge_manifest(dest, name, **fields):
    """A manifest as a hostile user writes it: our marker, our file name, whatever ``file`` they like."""
    data = {"tool": MARKER, "manifest_version": 2, "name": name, "file": name + ".dump", "format": "custom",
            "database": None, "host": "127.0.0.1", "port": None, "finished": "2000-01-01T00:00:00Z",
            "size": 1, "sha256": "0" * 64}
    data.update(fields)
    path = os.path.join(str(dest), name + ".pg_backup.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path


def snapshot_tree(root):
    """{relative path: bytes or 'dir' or 'link->target'} of everything under ``root``."""
    out = {}
    for base, dirs, files in os.walk(root):
        for n in dirs + files:
            full = os.path.join(base, n)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = "link->" + os.readlink(full)
            elif os.path.isdir(full):
                out[rel] = "dir"
            else:
                with open(full, "rb") as fh:
                    out[rel] = fh.read()
    return out


@pytest.fixture
def alma(pg, dbname):
    build_ef_database(pg, dbname)
    return dbname


SERIES = "backup_before_rollback_app"


def stamp(day):
    return "%s_202601%02d_000000" % (SERIES, day)


# -- defect 2: retention deletes wherever a manifest points ---------------------------------------------------

@pytest.mark.parametrize("pointer", ["../victim_dir", "ABSOLUTE", ".", "..", "sub/x.dump"])
def test_retention_never_follows_a_manifest_out_of_its_own_name(pg, alma, tmp_path, pointer):
    dest = tmp_path / "dest"
    dest.mkdir(mode=0o700)
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    (victim_dir / "precious.txt").write_text("not a backup")
    victim_file = tmp_path / "abs_victim.txt"
    victim_file.write_text("not a backup either")
    (dest / "sub").mkdir()
    (dest / "sub" / "x.dump").write_text("a user's file in a subdirectory")
    target = str(victim_file) if pointer == "ABSOLUTE" else pointer
    port = pg.port
    forge_manifest(dest, stamp(1), file=target, database=alma, port=port)
    outside = snapshot_tree(tmp_path / "victim_dir"), victim_file.read_text()
    inside = snapshot_tree(dest)
    before = pg_dump_text(pg, alma)

    result, _ignored = backup(pg, alma, dest, name=stamp(2), keep=1)
    assert not result.get("failed"), result
    assert result["deleted"] == []
    assert (snapshot_tree(tmp_path / "victim_dir"), victim_file.read_text()) == outside
    after = snapshot_tree(dest)
    assert all(after.get(k) == v for k, v in inside.items())  # everything that was there still is, unchanged
    assert os.path.isfile(result["path"])  # the backup just made, whatever "." pointed at
    assert pg_dump_text(pg, alma) == before
    manifests_hold_no_password(pg, dest)


# -- defect 3: a series is one database on one server ----------------------------------------------------------

def test_retention_of_one_database_never_deletes_another_databases_backup(pg, tmp_path):
    dest = tmp_path / "dest"
    space, underscore = "alma x", "alma_x"
    for db in (space, underscore):
        pg.create_database(db)
        build_ef_database(pg, db)
    try:
        dumps = {db: pg_dump_text(pg, db) for db in (space, underscore)}
        first, _ignored = backup(pg, space, dest, name="backup_before_rollback_alma_x_20260101_000000", keep=1)
        assert not first.get("failed"), first
        second, _ignored = backup(pg, underscore, dest, name="backup_before_rollback_alma_x_20260102_000000", keep=1)
        assert not second.get("failed"), second
        assert second["deleted"] == [] and os.path.exists(first["path"]) and os.path.exists(first["manifest"])
        assert {db: pg_dump_text(pg, db) for db in (space, underscore)} == dumps
        manifests_hold_no_password(pg, dest)
    finally:
        for db in (space, underscore):
            pg.drop_database(db)


def test_localhost_and_127_0_0_1_are_different_series(pg, alma, tmp_path):
    dest = tmp_path / "dest"
    first, _ignored = backup(pg, alma, dest, name=stamp(1), keep=1)
    assert not first.get("failed"), first
    second, _ignored = vvv(pg, dict(pg.login_args(alma), login_host="localhost", dest=str(dest), format="custom",
                                    name=stamp(2), keep=1))
    assert not second.get("failed"), second
    assert second["deleted"] == [] and os.path.exists(first["path"])
    # the same server spelled the same way is the same series: now the older one goes
    third, _ignored = backup(pg, alma, dest, name=stamp(3), keep=1)
    assert third["deleted"] == [first["path"]] and os.path.exists(second["path"])


def test_a_rerun_under_a_name_that_holds_another_databases_backup_is_refused(pg, alma, other_db, tmp_path):
    build_ef_database(pg, other_db)
    first, _ignored = backup(pg, alma, tmp_path, name="shared")
    assert not first.get("failed"), first
    again, _ignored = backup(pg, other_db, tmp_path, name="shared")
    assert again.get("failed") and "is a backup of %s@" % alma in again["msg"], again


# -- defect 4: restore only into what the backup belongs to ---------------------------------------------------

def test_restore_of_another_databases_backup_is_refused_unless_allowed(pg, alma, other_db, tmp_path):
    conn = pg.connect(other_db)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE mine (id int); INSERT INTO mine SELECT generate_series(1, 10)")
    conn.close()
    made, _ignored = backup(pg, alma, tmp_path, name="alma")
    other_before, alma_before = pg_dump_text(pg, other_db), pg_dump_text(pg, alma)

    refused, _ignored = restore(pg, other_db, made["path"])
    assert refused.get("failed")
    assert "it is a backup of database %r" % alma in refused["msg"] and "allow_other_database" in refused["msg"]
    assert pg_dump_text(pg, other_db) == other_before and pg_dump_text(pg, alma) == alma_before

    # the documented way out: allow_other_database replaces the database with the backup
    allowed, _ignored = restore(pg, other_db, made["path"], allow_other_database=True)
    assert not allowed.get("failed"), allowed
    after = pg_dump_text(pg, other_db)
    assert all(line in after for line in alma_before.splitlines() if line.startswith("COPY "))
    assert pg_dump_text(pg, alma) == alma_before


def test_restore_refuses_while_others_are_connected_and_names_them(pg, alma, tmp_path):
    made, _ignored = backup(pg, alma, tmp_path, name="pre")
    pg.execute(alma, 'DELETE FROM "Payments"')
    changed = pg_dump_text(pg, alma)
    import psycopg2

    app = psycopg2.connect(application_name="Almafrica.Api", **pg.conn_params(alma))
    app.autocommit = True
    try:
        with app.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            app_pid = cur.fetchone()[0]
        refused, _ignored = restore(pg, alma, made["path"])
        assert refused.get("failed") and "other session(s) are connected" in refused["msg"]
        assert "pid %d" % app_pid in refused["msg"] and "Almafrica.Api" in refused["msg"]
        assert "terminate_sessions" in refused["msg"]
        assert pg_dump_text(pg, alma) == changed

        done, output = restore(pg, alma, made["path"], terminate_sessions=True)
        assert not done.get("failed"), done
        assert done["terminated_sessions"] == [app_pid]
        assert "Terminated 1 session(s) connected to %s before restoring: pid %d" % (alma, app_pid) in output
        assert app.closed or _connection_is_dead(app)
    finally:
        app.close()
    assert pg.execute(alma, 'SELECT count(*) FROM "Payments"', fetch=True)[0][0] > 0


def _connection_is_dead(conn):
    import psycopg2

    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        return False
    except psycopg2.Error:
        return True


@pytest.mark.parametrize("how", ["escaping file", "foreign tool", "symlinked backup"])
def test_restore_refuses_manifests_that_are_not_ours_or_point_elsewhere(pg, alma, tmp_path, how):
    dest = tmp_path / "dest"
    dest.mkdir()
    made, _ignored = backup(pg, alma, tmp_path / "real", name="real")
    victim = tmp_path / "victim.dump"
    with open(made["path"], "rb") as src:
        victim.write_bytes(src.read())
    if how == "escaping file":
        manifest = forge_manifest(dest, "x", file="../victim.dump", database=alma)
    elif how == "foreign tool":
        manifest = forge_manifest(dest, "x", tool="someone-else", database=alma)
        (dest / "x.dump").write_bytes(victim.read_bytes())
    else:
        real = json.loads(open(made["manifest"], encoding="utf-8").read())
        real.pop("name")
        manifest = forge_manifest(dest, "x", **dict(real, file="x.dump"))
        os.symlink(str(victim), str(dest / "x.dump"))
    before = pg_dump_text(pg, alma)
    pg.execute(alma, 'DELETE FROM "Payments"')
    changed = pg_dump_text(pg, alma)
    assert changed != before
    refused, _ignored = restore(pg, alma, manifest)
    assert refused.get("failed") and "refusing to restore" in refused["msg"].lower(), refused
    assert pg_dump_text(pg, alma) == changed
    assert victim.exists()


def test_a_version_1_manifest_of_ours_still_restores(pg, alma, tmp_path):
    made, _ignored = backup(pg, alma, tmp_path, name="old")
    data = json.loads(open(made["manifest"], encoding="utf-8").read())
    data["manifest_version"] = 1
    os.unlink(made["manifest"])
    with open(tmp_path / "old.json", "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    before = pg_dump_text(pg, alma)
    pg.execute(alma, 'DELETE FROM "Payments"')
    done, _ignored = restore(pg, alma, made["path"])
    assert not done.get("failed"), done
    assert done["manifest"] == str(tmp_path / "old.json")
    assert pg_dump_text(pg, alma) == before


# -- defect 5: a file that is not ours is never overwritten ---------------------------------------------------

@pytest.mark.parametrize("foreign", ["plain text", "json of another tool", "symlink"])
def test_a_foreign_file_under_the_manifest_name_is_never_overwritten(pg, alma, tmp_path, foreign):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"tool": "%s", "manifest_version": 2, "name": "nb"}' % MARKER)
    manifest = tmp_path / "nb.pg_backup.json"
    if foreign == "plain text":
        manifest.write_text("my notes, not a manifest")
    elif foreign == "json of another tool":
        manifest.write_text(json.dumps({"tool": "barman", "name": "nb"}))
    else:
        os.symlink(str(target), str(manifest))
    legacy = tmp_path / "nb.json"  # the old manifest name is a user's file now: untouched
    legacy.write_text("a user's nb.json")
    before_files = snapshot_tree(tmp_path)
    before = pg_dump_text(pg, alma)
    result, _ignored = backup(pg, alma, tmp_path, name="nb")
    assert result.get("failed") and "was not written by pg_backup" in result["msg"], result
    assert snapshot_tree(tmp_path) == before_files
    assert pg_dump_text(pg, alma) == before


def test_the_old_manifest_name_is_no_longer_written(pg, alma, tmp_path):
    (tmp_path / "nb.json").write_text("a user's nb.json")
    result, _ignored = backup(pg, alma, tmp_path, name="nb")
    assert not result.get("failed"), result
    assert (tmp_path / "nb.json").read_text() == "a user's nb.json"
    assert result["manifest"] == str(tmp_path / "nb.pg_backup.json")


# -- defect 9: one backup name, one writer --------------------------------------------------------------------

def test_a_second_run_waits_for_the_lock_then_fails_clearly(pg, alma, tmp_path):
    lock_path = tmp_path / ".same.pg_backup.lock"
    fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b"test-holder pid 1\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result, _ignored = backup(pg, alma, tmp_path, name="same", lock_wait_timeout="1s")
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert result.get("failed")
    assert "Another pg_backup run (test-holder pid 1) holds the lock of backup same" in result["msg"]
    assert "lock_wait_timeout" in result["msg"]
    assert sorted(os.listdir(tmp_path)) == [".same.pg_backup.lock"]  # ours to remove: its holder is the test


def test_two_runs_at_once_give_one_backup_and_one_result(pg, alma, tmp_path):
    results = []

    def one():
        results.append(backup(pg, alma, tmp_path, name="same", lock_wait_timeout="5min")[0])

    threads = [threading.Thread(target=one) for _ignored in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert len(results) == 2 and not any(r.get("failed") for r in results), results
    assert sorted(r["changed"] for r in results) == [False, True]
    assert results[0]["sha256"] == results[1]["sha256"]
    with open(results[0]["path"], "rb") as fh:
        import hashlib
        assert hashlib.sha256(fh.read()).hexdigest() == results[0]["sha256"]
    assert sorted(os.listdir(tmp_path)) == ["same.dump.zst", "same.pg_backup.json"]


def test_retention_skips_a_backup_another_run_holds(pg, alma, tmp_path):
    old, _ignored = backup(pg, alma, tmp_path, name=stamp(1))
    lock_path = tmp_path / (".%s.pg_backup.lock" % stamp(1))
    fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a restore of that backup would
    try:
        result, output = backup(pg, alma, tmp_path, name=stamp(2), keep=1)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert not result.get("failed"), result
    assert result["deleted"] == [] and os.path.exists(old["path"]) and os.path.exists(old["manifest"])
    assert "another pg_backup run holds its lock" in output
    # once released, the next run does delete it
    again, _ignored = backup(pg, alma, tmp_path, name=stamp(3), keep=1)
    assert sorted(again["deleted"]) == sorted([old["path"], str(tmp_path / (stamp(2) + ".dump.zst"))])


# -- more variants ---------------------------------------------------------------------------------------------

def test_retention_ignores_symlinked_manifests_and_symlinked_backups(pg, alma, tmp_path):
    dest = tmp_path / "dest"
    elsewhere = tmp_path / "elsewhere"
    made, _ignored = backup(pg, alma, elsewhere, name=stamp(1))
    os.makedirs(str(dest))
    os.symlink(made["manifest"], str(dest / (stamp(1) + ".pg_backup.json")))  # a symlinked manifest of ours
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    forge_manifest(dest, stamp(2), database=alma, port=pg.port)
    os.symlink(str(victim), str(dest / (stamp(2) + ".dump")))  # our manifest, a backup that is a link
    before = snapshot_tree(tmp_path)
    result, output = backup(pg, alma, dest, name=stamp(3), keep=1)
    assert not result.get("failed"), result
    assert result["deleted"] == []
    after = snapshot_tree(tmp_path)
    assert all(after.get(k) == v for k, v in before.items())
    assert "is a symbolic link, not a backup pg_backup wrote" in output


def test_a_manifest_of_another_tool_is_never_acted_on(pg, alma, tmp_path):
    forge_manifest(tmp_path, stamp(1), tool="pgbackrest", database=alma, port=pg.port)
    (tmp_path / (stamp(1) + ".dump")).write_text("pgbackrest's")
    result, _ignored = backup(pg, alma, tmp_path, name=stamp(2), keep=1)
    assert not result.get("failed") and result["deleted"] == [], result
    assert (tmp_path / (stamp(1) + ".dump")).read_text() == "pgbackrest's"


def test_dest_behind_a_symlink_works_and_retention_stays_inside(pg, alma, tmp_path):
    real = tmp_path / "real"
    link = tmp_path / "link"
    first, _ignored = backup(pg, alma, real, name=stamp(1))
    os.symlink(str(real), str(link))
    neighbour = tmp_path / (stamp(1) + ".dump.zst")  # same name, outside dest: not ours to delete
    neighbour.write_text("beside dest")
    result, _ignored = backup(pg, alma, link, name=stamp(2), keep=1)
    assert not result.get("failed"), result
    assert result["deleted"] == [str(link / (stamp(1) + ".dump.zst"))]
    assert not os.path.exists(first["path"]) and neighbour.read_text() == "beside dest"
    assert os.path.exists(real / (stamp(2) + ".dump.zst"))


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "x.pg_backup.json"])
def test_names_that_escape_or_impersonate_are_refused_before_anything(pg, alma, tmp_path, name):
    dest = tmp_path / "dest"
    before = pg_dump_text(pg, alma)
    result, _ignored = backup(pg, alma, dest, name=name)
    assert result.get("failed") and "Invalid backup name" in result["msg"], result
    assert not dest.exists() and os.listdir(tmp_path) == []
    assert pg_dump_text(pg, alma) == before


def test_keep_0_deletes_nothing(pg, alma, tmp_path):
    paths = [backup(pg, alma, tmp_path, name=stamp(d))[0]["path"] for d in (1, 2)]
    result, _ignored = backup(pg, alma, tmp_path, name=stamp(3), keep=0)
    assert not result.get("failed") and result["deleted"] == [] and all(os.path.exists(p) for p in paths)


def test_check_mode_retention_lists_but_deletes_nothing(pg, alma, tmp_path):
    old, _ignored = backup(pg, alma, tmp_path, name=stamp(1))
    forge_manifest(tmp_path, stamp(2), file="../x", database=alma, port=pg.port)
    before = snapshot_tree(tmp_path)
    planned, _ignored = vvv(pg, dict(pg.login_args(alma), dest=str(tmp_path), format="custom", name=stamp(3), keep=1),
                            check=True)
    assert not planned.get("failed") and planned["deleted"] == [old["path"]], planned
    assert snapshot_tree(tmp_path) == before
