"""ef_migration_state's schema_fingerprint (and schema with return_schema), on a real PostgreSQL, through ansible."""
from __future__ import annotations

import hashlib
import os

from stage import fixtures
from stage.runner import run_module

M = fixtures.MIGRATIONS  # InitialCreate, AddFarmerPhoneNumber, AddPayments, AddOrderStatus, WidenOrderAmount
V11 = fixtures.last_migration("v1.1.0")
ACCEPT_V12 = ["public.Orders.Status", "public.Orders.Amount"]


build = fixtures.build_database_in


def state(pg, dbname, check=False, **kw):
    args = pg.login_args(dbname)
    args.update(kw)
    run = run_module("ef_migration_state", args, check=check)
    assert not run.failed, run
    return run


def scripts(dialect="ef8"):
    return [os.path.join(fixtures.MIGRATIONS_DIR, dialect, "*.sql")]


def test_two_databases_built_the_same_way_have_the_same_fingerprint(pg, dbname, other_db):
    build(pg, dbname, dialect="ef8")
    # EF 9's single-transaction script, other ProductVersions in the history: the schema is the same.
    build(pg, other_db, dialect="ef9")
    a, b = state(pg, dbname, return_schema=True), state(pg, other_db, return_schema=True)
    assert len(a["schema_fingerprint"]) == 64 and int(a["schema_fingerprint"], 16) >= 0
    assert a["schema_fingerprint"] == b["schema_fingerprint"]
    assert a["schema"] == b["schema"]
    assert a["product_versions"] != b["product_versions"]
    # The fingerprint is the sha256 of the lines returned, so a difference can always be shown from them.
    assert a["schema_fingerprint"] == hashlib.sha256("".join(line + "\n" for line in a["schema"])
                                                     .encode("utf-8")).hexdigest()
    text = "\n".join(a["schema"])
    assert 'column "public"."Orders" "Status" integer not null default 0' in text
    assert '"IX_Orders_Status"' in text
    assert "__EFMigrationsHistory" not in text
    # A database at another release differs.
    pg.drop_database(other_db)
    pg.create_database(other_db)
    build(pg, other_db, release="v1.1.0")
    assert state(pg, other_db)["schema_fingerprint"] != a["schema_fingerprint"]


def test_schema_only_with_return_schema(pg, dbname):
    build(pg, dbname, release="v1.0.0")
    run = state(pg, dbname)
    assert "schema" not in run.result
    assert len(run["schema_fingerprint"]) == 64


def test_equal_after_rollback_and_forward_again(pg, dbname, other_db):
    build(pg, dbname)
    build(pg, other_db, release="v1.1.0")
    start = state(pg, dbname)["schema_fingerprint"]
    back = state(pg, dbname, target=V11, scripts=scripts(), accept_data_loss=ACCEPT_V12, return_schema=True)
    assert back.changed and back["current"] == V11
    # The fingerprint is taken after the run: the schema of v1.1.0, the same as a database built at v1.1.0.
    assert back["schema_fingerprint"] != start
    assert back["schema_fingerprint"] == state(pg, other_db)["schema_fingerprint"]
    assert not any('"Status"' in line for line in back["schema"])
    forward = state(pg, dbname, target=M[-1], scripts=scripts())
    assert forward.changed and forward["current"] == M[-1]
    assert forward["schema_fingerprint"] == start


def test_different_after_a_change_and_the_same_when_only_data_or_history_change(pg, dbname):
    build(pg, dbname)
    start = state(pg, dbname, return_schema=True)
    pg.execute(dbname, 'INSERT INTO "Farmers" ("Name", "CreatedAt") VALUES (\'Amina\', now())')
    pg.execute(dbname, 'INSERT INTO "__EFMigrationsHistory" VALUES (\'20990101000000_NotReal\', \'8.0.11\')')
    assert state(pg, dbname)["schema_fingerprint"] == start["schema_fingerprint"]
    pg.execute(dbname, 'DELETE FROM "__EFMigrationsHistory" WHERE "MigrationId" = \'20990101000000_NotReal\'')
    pg.execute(dbname, 'CREATE INDEX "IX_Farmers_Village" ON "Farmers" ("Village")')
    changed = state(pg, dbname, return_schema=True)
    assert changed["schema_fingerprint"] != start["schema_fingerprint"]
    added = sorted(set(changed["schema"]) - set(start["schema"]))
    assert len(added) == 1 and '"IX_Farmers_Village"' in added[0]
    pg.execute(dbname, 'DROP INDEX "IX_Farmers_Village"')
    assert state(pg, dbname)["schema_fingerprint"] == start["schema_fingerprint"]
    pg.execute(dbname, 'ALTER TABLE "Farmers" ALTER COLUMN "Village" TYPE varchar(120)')
    assert state(pg, dbname)["schema_fingerprint"] != start["schema_fingerprint"]


def test_check_mode_returns_the_current_fingerprint(pg, dbname):
    build(pg, dbname)
    current = state(pg, dbname)["schema_fingerprint"]
    planned = state(pg, dbname, check=True, target=V11, scripts=scripts(), accept_data_loss=ACCEPT_V12,
                    return_schema=True)
    assert planned.changed and planned["plan"]["to_revert"] == [M[4], M[3]]
    assert planned["schema_fingerprint"] == current
    assert any('"Status"' in line for line in planned["schema"])
    assert state(pg, dbname)["current"] == M[-1]


def test_the_resolved_history_table_is_left_out_wherever_it_is(pg, dbname):
    build(pg, dbname, release="v1.0.0")
    pg.execute(dbname, 'CREATE SCHEMA ef; ALTER TABLE "__EFMigrationsHistory" SET SCHEMA ef; '
                       'ALTER TABLE ef."__EFMigrationsHistory" RENAME TO "__AppHistory"')
    run = state(pg, dbname, history_table="__AppHistory", history_schema="ef", return_schema=True)
    assert run["current"] == M[0]
    text = "\n".join(run["schema"])
    assert "__AppHistory" not in text and "PK___EFMigrationsHistory" not in text
    assert 'schema "ef"' in text
    # Another table of that name elsewhere is schema, not history.
    pg.execute(dbname, 'CREATE TABLE public."__AppHistory" ("Id" integer)')
    again = state(pg, dbname, history_table="__AppHistory", history_schema="ef", return_schema=True)
    assert [line for line in again["schema"] if "__AppHistory" in line] == [
        'column "public"."__AppHistory" "Id" integer', 'table "public"."__AppHistory"']
