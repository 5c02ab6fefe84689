"""pg_backup against a real throwaway PostgreSQL, through the real ansible-playbook: the happy paths.

Every format dumps, verifies and restores to an identical database; restore into a new database leaves the
source untouched; reruns are idempotent; retention deletes only older backups of the same series.
Failure paths (killed dump, full disk, corruption, secrets) are in test_pg_backup_failures.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess

import pytest

from stage import fixtures
from stage.runner import run_module

FORMATS = ["directory", "custom", "tar", "plain"]


# -- helpers shared with test_pg_backup_failures.py ---------------------------------------------------------

def build_ef_database(pg, dbname):
    """The Almafrica fixture database at v1.2.0 with seed rows (EF history included)."""
    conn = pg.connect(dbname)
    try:
        fixtures.build_database(conn, release="v1.2.0", dialect="ef8", seed=True)
    finally:
        conn.close()
    return fixtures.last_migration("v1.2.0")


def table_contents(pg, dbname):
    """``{schema.table: (rows, md5 of all rows in a canonical order)}`` of every user table."""
    tables = pg.execute(dbname, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                                "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN "
                                "('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' ORDER BY 1, 2",
                        fetch=True)
    out = {}
    for schema, table in tables:
        qualified = '"%s"."%s"' % (schema.replace('"', '""'), table.replace('"', '""'))
        rows = pg.execute(dbname, "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                                  "FROM %s t" % qualified, fetch=True)
        out["%s.%s" % (schema, table)] = tuple(rows[0])
    return out


def database_state(pg, dbname):
    """Schema (tables, columns, constraints, indexes) and data of a database, for equality checks."""
    conn = pg.connect(dbname)
    try:
        schema = fixtures.schema_snapshot(conn)
    finally:
        conn.close()
    return {"schema": schema, "data": table_contents(pg, dbname)}


def pg_dump_text(pg, dbname):
    """``pg_dump`` of schema AND data (plain SQL), minus the per-run \\restrict key lines of pg_dump 15.14+."""
    proc = subprocess.run(["pg_dump", "--format=plain", "--dbname=" + dbname], env=pg.client_env(),
                          capture_output=True, text=True, check=True)
    return "\n".join(ln for ln in proc.stdout.splitlines() if not ln.startswith(("\\restrict", "\\unrestrict")))


def sha256_of(path):
    if os.path.isdir(path):
        listing = "".join("%s  %s\n" % (sha256_of(os.path.join(path, n)), n) for n in sorted(os.listdir(path)))
        return hashlib.sha256(listing.encode()).hexdigest()
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def backup(pg, dbname, dest, **args):
    return run_module("pg_backup", dict(pg.login_args(dbname), dest=str(dest), **args))


def restore(pg, dbname, path, **args):
    return run_module("pg_backup", dict(pg.login_args(dbname), state="restored", path=path, **args))


def databases(pg):
    return {r[0] for r in pg.execute("postgres", "SELECT datname FROM pg_database", fetch=True)}


# -- tests ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_dumps_verifies_and_restores_an_identical_database(pg, dbname, tmp_path, fmt):
    migration = build_ef_database(pg, dbname)
    original = database_state(pg, dbname)
    dest = tmp_path / "backups"

    run = backup(pg, dbname, dest, format=fmt, name="before_rollback")
    assert not run.failed, run
    assert run.changed
    r = run.result
    expected_path = str(dest / {"directory": "before_rollback", "custom": "before_rollback.dump.zst",
                                "tar": "before_rollback.tar", "plain": "before_rollback.sql.gz"}[fmt])
    assert r["path"] == expected_path and r["format"] == fmt
    assert r["sha256"] == sha256_of(expected_path)
    assert r["ef_migration"] == migration
    assert r["tables"] == 4  # Farmers, Orders, Payments, __EFMigrationsHistory
    assert r["toc_entries"] >= 4 and r["verify"] == "full"
    assert r["pg_dump_version"].startswith(r["server_version"].split(".")[0])

    manifest = json.loads((dest / "before_rollback.pg_backup.json").read_text())
    assert manifest["sha256"] == r["sha256"] and manifest["size"] == r["size"]
    assert manifest["database"] == dbname and manifest["ef_migration"] == migration
    assert manifest["format"] == fmt and manifest["snapshot"] is True
    assert manifest["started"] <= manifest["finished"]
    assert pg.password not in json.dumps(manifest)

    # modes: dest and a directory backup 0700, every file 0600
    assert mode_of(dest) == 0o700
    for root, dirs, files in os.walk(dest):
        assert all(mode_of(os.path.join(root, d)) == 0o700 for d in dirs)
        assert all(mode_of(os.path.join(root, f)) == 0o600 for f in files)
    assert sorted(os.listdir(dest)) == sorted([os.path.basename(expected_path), "before_rollback.pg_backup.json"])

    copy = dbname + "_copy"
    try:
        run = restore(pg, dbname, r["path"], restore_db=copy)
        assert not run.failed, run
        assert run.changed and run["restored_to"] == copy
        assert database_state(pg, copy) == original
        assert database_state(pg, dbname) == original  # the source is untouched
    finally:
        pg.drop_database(copy)


def test_restore_in_place_puts_back_data_a_rollback_destroyed(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    original = database_state(pg, dbname)
    run = backup(pg, dbname, tmp_path, format="custom", name="pre")
    assert not run.failed, run

    # what a rollback does: v1.2.0 Down() drops Orders.Status and narrows Amount, and the history loses two rows
    conn = pg.connect(dbname)
    fixtures.apply_sql_file(conn, fixtures.rollback_script("ef8", "v1.2.0"))
    conn.close()
    assert database_state(pg, dbname) != original

    run = restore(pg, dbname, run["path"])
    assert not run.failed, run
    assert run.changed and run["restored_to"] == dbname
    assert database_state(pg, dbname) == original


def test_idempotent_rerun_dumps_nothing_and_check_mode_says_so(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    first = backup(pg, dbname, tmp_path, name="before_v1.1.0", format="custom")
    assert not first.failed and first.changed, first
    inode = os.stat(first["path"]).st_ino

    for check in (True, False):
        again = run_module("pg_backup", dict(pg.login_args(dbname), dest=str(tmp_path), name="before_v1.1.0",
                                             format="custom"), check=check)
        assert not again.failed, again
        assert not again.changed
        assert again["sha256"] == first["sha256"]
    assert os.stat(first["path"]).st_ino == inode  # not rewritten


def test_check_mode_reports_the_plan_and_writes_nothing(pg, dbname, tmp_path):
    migration = build_ef_database(pg, dbname)
    dest = tmp_path / "new"
    run = run_module("pg_backup", dict(pg.login_args(dbname), dest=str(dest), name="x"), check=True, diff=True)
    assert not run.failed, run
    assert run.changed
    # the default with pg_dump 15 and the zstd tool: the custom format streamed through zstd
    assert run["path"] == str(dest / "x.dump.zst") and run["ef_migration"] == migration and run["tables"] == 4
    assert "x" in run["diff"]["after"] and run["diff"]["before"] == "(none)\n"
    assert not dest.exists()


def test_default_name_is_a_new_utc_stamped_backup(pg, dbname, tmp_path):
    run = backup(pg, dbname, tmp_path, format="custom")
    assert not run.failed, run
    name = os.path.basename(run["path"])
    assert name.startswith("backup_before_rollback_%s_" % dbname) and name.endswith(".dump.zst")
    assert run["ef_migration"] is None  # no EF history table in this database
    assert json.loads((tmp_path / (name[:-9] + ".pg_backup.json")).read_text())["ef_migration"] is None


def test_retention_deletes_only_older_backups_of_the_same_series(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    series = "backup_before_rollback_app"
    for day in ("01", "02", "03"):
        assert not backup(pg, dbname, tmp_path, format="custom", name="%s_202601%s_000000" % (series, day)).failed
    other_series = "backup_before_rollback_app_staging_20250101_000000"  # another database's series
    assert not backup(pg, dbname, tmp_path, format="custom", name=other_series).failed
    foreign = tmp_path / ("%s_20240101_000000.dump" % series)  # not written by pg_backup: no manifest
    foreign.write_bytes(b"someone else's file")

    run = backup(pg, dbname, tmp_path, format="custom", name="%s_20260104_000000" % series, keep=2)
    assert not run.failed, run
    assert sorted(os.path.basename(p) for p in run["deleted"]) == ["%s_20260101_000000.dump.zst" % series,
                                                                   "%s_20260102_000000.dump.zst" % series]
    left = sorted(os.listdir(tmp_path))
    assert left == sorted([
        "%s_20240101_000000.dump" % series,
        "%s_20260103_000000.dump.zst" % series, "%s_20260103_000000.pg_backup.json" % series,
        "%s_20260104_000000.dump.zst" % series, "%s_20260104_000000.pg_backup.json" % series,
        "backup_before_rollback_app_staging_20250101_000000.dump.zst",
        "backup_before_rollback_app_staging_20250101_000000.pg_backup.json"])


class StatementLog:
    """The server's own log of every statement (log_statement=all, database in each line) while it is open."""

    def __init__(self, pg):
        self.pg = pg

    def __enter__(self):
        self.offset = os.path.getsize(self.pg.log_file)
        self.pg.execute("postgres", "ALTER SYSTEM SET log_statement = 'all'")
        self.pg.execute("postgres", "ALTER SYSTEM SET log_line_prefix = '%m [%p] db=%d '")
        self.pg.execute("postgres", "SELECT pg_reload_conf()")
        return self

    def __exit__(self, *exc):
        self.pg.execute("postgres", "ALTER SYSTEM RESET log_statement")
        self.pg.execute("postgres", "ALTER SYSTEM RESET log_line_prefix")
        self.pg.execute("postgres", "SELECT pg_reload_conf()")

    def lines(self):
        with open(self.pg.log_file, encoding="utf-8", errors="replace") as fh:
            fh.seek(self.offset)
            return fh.read().splitlines()


@pytest.mark.parametrize("fmt", ["directory", "plain"])
def test_verify_restore_restores_into_a_scratch_database_and_drops_it(pg, dbname, tmp_path, fmt):
    """Not taken on trust: the server's statement log shows the scratch database created, filled, its rows
    counted (the comparison) and dropped."""
    build_ef_database(pg, dbname)
    before = databases(pg)
    with StatementLog(pg) as log:
        run = backup(pg, dbname, tmp_path, verify="restore", name="strong", format=fmt)
        lines = log.lines()
    assert not run.failed, run
    assert run["verify"] == "restore"
    assert databases(pg) == before
    created = [ln for ln in lines if "CREATE DATABASE" in ln and "_pg_backup_verify_" in ln]
    assert len(created) == 1, lines[-50:]
    scratch = created[0].split("CREATE DATABASE ", 1)[1].split()[0].strip('"')
    in_scratch = [ln for ln in lines if " db=%s " % scratch in ln]
    filled = [ln for ln in in_scratch if "COPY public.\"Farmers\"" in ln or 'COPY public."Farmers"' in ln
              or "INSERT" in ln]
    counted = [ln for ln in in_scratch if 'SELECT count(*) FROM "public"."Farmers"' in ln]
    dropped = [ln for ln in lines if "DROP DATABASE IF EXISTS \"%s\"" % scratch in ln]
    assert filled and counted and dropped, (filled, counted, dropped)
    # created, then filled and compared, then dropped: in that order in the log
    assert lines.index(created[0]) < lines.index(counted[0]) < lines.index(dropped[-1])


def test_restore_into_existing_database_is_idempotent_only_for_the_same_backup(pg, dbname, tmp_path):
    build_ef_database(pg, dbname)
    a = backup(pg, dbname, tmp_path, format="custom", name="a")
    b = backup(pg, dbname, tmp_path, format="custom", name="b")
    copy = dbname + "_copy"
    try:
        planned = run_module("pg_backup", dict(pg.login_args(dbname), state="restored", path=a["path"],
                                               restore_db=copy), check=True, diff=True)
        assert not planned.failed and planned.changed, planned
        assert planned["diff"]["before"] == "(no database)\n" and copy not in databases(pg)
        # the manifest names its backup: either path will do
        assert restore(pg, dbname, a["manifest"], restore_db=copy).changed
        again = restore(pg, dbname, a["path"], restore_db=copy)
        assert not again.failed and not again.changed, again
        other = restore(pg, dbname, b["path"], restore_db=copy)
        assert other.failed and "already exists" in other["msg"]
    finally:
        pg.drop_database(copy)
