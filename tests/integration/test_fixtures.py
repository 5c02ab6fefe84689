"""The EF Core fixture database of the staging kit, against a real PostgreSQL.

Every dialect builds the same database; every rollback script steps the history down exactly and leaves the
schema of the earlier release; idempotent scripts are idempotent; the seeds put data where a rollback loses it.
"""
from __future__ import annotations

import itertools
import os
import re
import subprocess

import pytest

from stage import fixtures as fx

_extra = itertools.count(1)


@pytest.fixture
def new_db(pg):
    """Factory for extra throwaway databases (dropped afterwards)."""
    made = []

    def make(tag):
        name = "fx%d_%s" % (next(_extra), tag.replace(".", "_"))
        pg.create_database(name)
        made.append(name)
        return name

    yield make
    for name in made:
        pg.drop_database(name)


def pg_dump_schema(pg, dbname):
    """``pg_dump --schema-only`` text, minus the per-run \\restrict key lines of recent pg_dump releases."""
    exe = os.path.join(pg.bindir, "pg_dump")
    proc = subprocess.run([exe, "--schema-only", "--no-owner", "--no-privileges", "-d", dbname],
                          env=pg.client_env(), capture_output=True, text=True, check=True)
    lines = [ln for ln in proc.stdout.splitlines() if not re.match(r"\\(un)?restrict\b", ln)]
    return "\n".join(lines)


def count(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def data_state(conn):
    """Every seeded row, for 'nothing changed' comparisons."""
    out = {}
    with conn.cursor() as cur:
        for table in ("Farmers", "Orders", "Payments"):
            cur.execute("SELECT to_regclass(%s)", ('"%s"' % table,))
            if cur.fetchone()[0] is None:
                continue
            cur.execute('SELECT * FROM "%s" ORDER BY "Id"' % table)
            out[table] = cur.fetchall()
    return out


def build(pg, dbname, release, dialect, seed=True):
    conn = pg.connect(dbname)
    fx.build_database(conn, release=release, dialect=dialect, seed=seed)
    return conn


# -- the catalogue itself -----------------------------------------------------------------------------

def test_catalogue_is_consistent():
    assert fx.MIGRATIONS == tuple(sorted(fx.MIGRATIONS))  # EF orders by ordinal string order
    assert [m for rel in fx.RELEASES.values() for m in rel] == list(fx.MIGRATIONS)
    assert fx.release_of("20260215090000_AddPayments") == "v1.1.0"
    assert fx.last_migration("v1.1.0") == "20260215090000_AddPayments"
    assert fx.last_migration("0") == "0"
    assert fx.migrations_upto("v1.1.0") == list(fx.MIGRATIONS[:3])
    with pytest.raises(ValueError):
        fx.release_of("20990101000000_Nope")
    with pytest.raises(ValueError, match="ef8 or ef9"):
        fx.forward_scripts("idempotent", "v1.1.0")
    assert [os.path.basename(p) for p in fx.forward_scripts("ef9", "v1.1.0")] == [
        "migrate_v1.0.0.sql", "migrate_v1.1.0.sql"]
    assert [os.path.basename(p) for p in fx.forward_scripts("idempotent")] == ["migrate_all.sql"]


@pytest.mark.parametrize("dialect", fx.DIALECTS)
def test_scripts_have_the_ef_shape(dialect):
    """History statements in the exact Npgsql text, one per migration, in script order; BOM only where EF put it."""
    pv = fx.PRODUCT_VERSIONS[dialect]
    for name, path in fx.script_paths(dialect).items():
        with open(path, "rb") as fh:
            raw = fh.read()
        assert raw.startswith(b"\xef\xbb\xbf") == (dialect == "idempotent"), name
        text = fx.read_sql(path)
        inserts = re.findall(r'INSERT INTO "__EFMigrationsHistory" \("MigrationId", "ProductVersion"\)\n'
                             r"\s*VALUES \('(\w+)', '([\d.]+)'\);", text)
        deletes = re.findall(r'DELETE FROM "__EFMigrationsHistory"\n\s*WHERE "MigrationId" = \'(\w+)\';', text)
        release = name.split("_", 1)[1]
        ids = list(fx.MIGRATIONS) if release == "all" else fx.RELEASES[release]
        if name.startswith("migrate"):
            assert [m for m, _ignored in inserts] == ids and not deletes, name
            assert {v for _ignored, v in inserts} == {pv}
            from_zero = release in ("all", fx.RELEASE_ORDER[0])
            assert text.startswith('CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (') == from_zero, name
        else:
            assert list(deletes) == list(reversed(ids)) and not inserts, name
            assert "CREATE TABLE IF NOT EXISTS" not in text
        begins, commits = text.count("START TRANSACTION;"), text.count("COMMIT;")
        assert begins == commits == (1 if dialect == "ef9" else len(ids)), name
        if dialect == "idempotent":
            stmts = fx.split_statements(text)
            guarded = [s for s in stmts if s.startswith("DO $EF$")]
            assert len(guarded) == len(stmts) - begins - commits - (1 if name.startswith("migrate") else 0)


# -- building -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", fx.DIALECTS)
def test_each_dialect_builds_latest_release(pg, dbname, dialect):
    conn = build(pg, dbname, "v1.2.0", dialect)
    assert fx.history_rows(conn) == [(m, fx.PRODUCT_VERSIONS[dialect]) for m in fx.MIGRATIONS]
    snap = fx.schema_snapshot(conn)
    assert sorted(snap) == ["public.Farmers", "public.Orders", "public.Payments", "public.__EFMigrationsHistory"]
    orders = {c[0]: c for c in snap["public.Orders"]["columns"]}
    assert orders["Amount"][1:3] == ["numeric(18,4)", True]
    assert orders["Status"][1:4] == ["integer", True, "0"]
    assert ["IX_Orders_Status", 'CREATE INDEX "IX_Orders_Status" ON public."Orders" USING btree ("Status")'] \
        in snap["public.Orders"]["indexes"]
    conn.close()


def test_all_dialects_give_the_same_schema_and_pg_dump(pg, new_db):
    snaps, dumps, data = {}, {}, {}
    for dialect in fx.DIALECTS:
        db = new_db(dialect)
        conn = build(pg, db, "v1.2.0", dialect)
        snaps[dialect], data[dialect] = fx.schema_snapshot(conn), data_state(conn)
        conn.close()
        dumps[dialect] = pg_dump_schema(pg, db)
    assert 'CREATE TABLE public."Payments"' in dumps["ef8"]
    assert snaps["ef8"] == snaps["ef9"] == snaps["idempotent"]
    assert dumps["ef8"] == dumps["ef9"] == dumps["idempotent"]
    assert data["ef8"] == data["ef9"] == data["idempotent"]


def test_seeds_fill_what_a_rollback_destroys(pg, dbname):
    conn = build(pg, dbname, "v1.2.0", "ef8")
    assert count(conn, 'SELECT count(*) FROM "Farmers"') >= 30
    assert count(conn, 'SELECT count(*) FROM "Farmers" WHERE "PhoneNumber" IS NOT NULL') >= 20
    assert count(conn, 'SELECT count(*) FROM "Payments"') >= 20
    assert count(conn, 'SELECT count(*) FROM "Orders" WHERE "Status" <> 0') >= 20
    assert count(conn, 'SELECT count(*) FROM "Orders" WHERE "Amount" <> round("Amount", 2)') >= 10
    # every order and payment belongs to someone: the seeds' name/timestamp joins all matched
    assert count(conn, 'SELECT count(*) FROM "Orders"') == 108
    assert count(conn, 'SELECT count(*) FROM "Payments" p JOIN "Orders" o ON o."Id" = p."OrderId"') == \
        count(conn, 'SELECT count(*) FROM "Payments"')
    conn.close()


def test_build_without_seed_leaves_tables_empty(pg, dbname):
    conn = build(pg, dbname, "v1.1.0", "ef9", seed=False)
    assert fx.applied_migrations(conn) == fx.migrations_upto("v1.1.0")
    assert data_state(conn) == {"Farmers": [], "Orders": [], "Payments": []}
    conn.close()


# -- rolling back by hand ---------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", ["ef8", "ef9"])
def test_rollback_scripts_step_down_release_by_release(pg, dbname, new_db, dialect):
    conn = build(pg, dbname, "v1.2.0", dialect)
    assert count(conn, 'SELECT count(*) FROM "Orders" WHERE "Amount" <> round("Amount", 2)') > 0
    for release in reversed(fx.RELEASE_ORDER):
        fx.apply_sql_file(conn, fx.rollback_script(dialect, release))
        earlier = fx.previous_release(release)
        assert fx.applied_migrations(conn) == fx.migrations_upto(earlier)
        if earlier is None:
            assert fx.schema_snapshot(conn).keys() == {"public.__EFMigrationsHistory"}
            continue
        ref_db = new_db(earlier)
        ref = build(pg, ref_db, earlier, dialect, seed=False)
        assert fx.schema_snapshot(conn) == fx.schema_snapshot(ref)
        ref.close()
        assert pg_dump_schema(pg, dbname) == pg_dump_schema(pg, ref_db)
        if release == "v1.2.0":  # narrowing back to numeric(12,2) rounded the 4-decimal amounts
            assert count(conn, 'SELECT count(*) FROM "Orders" WHERE "Amount" <> round("Amount", 2)') == 0
    conn.close()


@pytest.mark.parametrize("dialect", ["ef8", "ef9"])
def test_rollback_then_forward_again_restores_the_schema(pg, dbname, new_db, dialect):
    conn = build(pg, dbname, "v1.2.0", dialect)
    before = fx.schema_snapshot(conn)
    fx.apply_sql_file(conn, fx.rollback_script(dialect, "v1.2.0"))
    fx.apply_sql_file(conn, fx.rollback_script(dialect, "v1.1.0"))
    assert fx.applied_migrations(conn) == fx.migrations_upto("v1.0.0")
    assert "PhoneNumber" not in [c[0] for c in fx.schema_snapshot(conn)["public.Farmers"]["columns"]]
    for release in ("v1.1.0", "v1.2.0"):
        fx.apply_sql_file(conn, fx.migrate_script(dialect, release))
    assert fx.schema_snapshot(conn) == before
    assert fx.history_rows(conn) == [(m, fx.PRODUCT_VERSIONS[dialect]) for m in fx.MIGRATIONS]
    # the data the rollback dropped is gone for good
    assert count(conn, 'SELECT count(*) FROM "Farmers" WHERE "PhoneNumber" IS NOT NULL') == 0
    assert count(conn, 'SELECT count(*) FROM "Payments"') == 0
    assert count(conn, 'SELECT count(*) FROM "Orders" WHERE "Status" <> 0') == 0
    conn.close()


def test_idempotent_scripts_twice_change_nothing_the_second_time(pg, dbname):
    conn = build(pg, dbname, "v1.2.0", "idempotent")
    migrate_all = fx.script_paths("idempotent")["migrate_all"]
    rollback_all = fx.script_paths("idempotent")["rollback_all"]

    dump, snap, rows, data = pg_dump_schema(pg, dbname), fx.schema_snapshot(conn), fx.history_rows(conn), \
        data_state(conn)
    fx.apply_sql_file(conn, migrate_all)  # second run over a built database
    assert (pg_dump_schema(pg, dbname), fx.schema_snapshot(conn), fx.history_rows(conn), data_state(conn)) == \
        (dump, snap, rows, data)

    fx.apply_sql_file(conn, rollback_all)
    assert fx.applied_migrations(conn) == []
    assert fx.schema_snapshot(conn).keys() == {"public.__EFMigrationsHistory"}
    dump0 = pg_dump_schema(pg, dbname)
    fx.apply_sql_file(conn, rollback_all)  # second rollback: nothing left to revert
    assert fx.applied_migrations(conn) == []
    assert pg_dump_schema(pg, dbname) == dump0
    conn.close()


def test_idempotent_rollback_reverts_only_what_is_applied(pg, dbname):
    """rollback_all over a v1.1.0 database (built with ef8): the v1.2.0 guards skip, the rest reverts."""
    conn = build(pg, dbname, "v1.1.0", "ef8")
    fx.apply_sql_file(conn, fx.script_paths("idempotent")["rollback_all"])
    assert fx.applied_migrations(conn) == []
    assert fx.schema_snapshot(conn).keys() == {"public.__EFMigrationsHistory"}
    conn.close()


def test_idempotent_migrate_all_completes_a_partial_database(pg, dbname, new_db):
    conn = build(pg, dbname, "v1.0.0", "ef9", seed=False)
    fx.apply_sql_file(conn, fx.script_paths("idempotent")["migrate_all"])
    assert fx.history_rows(conn) == [(fx.MIGRATIONS[0], "9.0.4")] + [(m, "10.0.0") for m in fx.MIGRATIONS[1:]]
    ref_db = new_db("ref")
    ref = build(pg, ref_db, "v1.2.0", "ef8", seed=False)
    assert fx.schema_snapshot(conn) == fx.schema_snapshot(ref)
    ref.close()
    conn.close()


# -- apply_sql_file behaves like psql -v ON_ERROR_STOP=1 ---------------------------------------------

def test_apply_sql_file_stops_at_the_error_and_rolls_back_the_open_transaction(pg, dbname, tmp_path):
    path = tmp_path / "broken.sql"
    path.write_text('\ufeffCREATE TABLE "Before" ("Id" integer);\n\nSTART TRANSACTION;\n\n'
                    'CREATE TABLE "Inside" ("Id" integer);\n\nSELECT 1/0;\n\nCOMMIT;\n\n'
                    'CREATE TABLE "After" ("Id" integer);\n', encoding="utf-8")
    conn = pg.connect(dbname)
    with pytest.raises(fx.SqlFileError, match=r"statement 4 \(SELECT 1/0;\).*division by zero") as err:
        fx.apply_sql_file(conn, str(path))
    assert err.value.index == 4
    assert conn.autocommit  # connection left usable, as it was
    tables = set(fx.schema_snapshot(conn))
    assert tables == {"public.Before"}  # autocommitted before the transaction; the rest never happened


def test_apply_sql_file_refuses_an_unterminated_transaction(pg, dbname, tmp_path):
    path = tmp_path / "open.sql"
    path.write_text('START TRANSACTION;\nCREATE TABLE "Open" ("Id" integer);\n', encoding="utf-8")
    conn = pg.connect(dbname)
    with pytest.raises(fx.SqlFileError, match="open transaction"):
        fx.apply_sql_file(conn, str(path))
    assert fx.schema_snapshot(conn) == {}
