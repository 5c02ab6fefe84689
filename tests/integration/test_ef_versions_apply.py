"""Our EF Core 5..10 layout corpus (tests/fixtures/ef_versions) against a real throwaway PostgreSQL.

Each forward script applies on an empty database as psql would run it, each rollback script brings the history back
to the first migration, and ef_migration_state rolls a database built from each forward script back to its first
migration and forward again using only the corpus files of that EF version.
"""
from __future__ import annotations

import json
import os
import re

import pytest

from stage import fixtures
from stage.dumps import dump_state
from stage.runner import run_module

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "ef_versions")
with open(os.path.join(CORPUS, "expected.json"), encoding="utf-8") as _fh:
    EXPECTED = json.load(_fh)

FORWARD = sorted(n for n, s in EXPECTED.items() if s["kind"] == "forward")
ROLLBACK = sorted(n for n, s in EXPECTED.items() if s["kind"] == "rollback")
VERSIONS = sorted({s["ef_version"] for s in EXPECTED.values()})


def path(name):
    return os.path.join(CORPUS, name)


def files_of(version):
    return sorted(n for n, s in EXPECTED.items() if s["ef_version"] == version)


def base_forward(version):
    """The plain (not idempotent) forward script of an EF version: what builds the database."""
    return next(n for n in files_of(version) if EXPECTED[n]["kind"] == "forward" and not EXPECTED[n]["idempotent"])


def apply(pg, dbname, name):
    conn = pg.connect(dbname)
    try:
        fixtures.apply_sql_file(conn, path(name))
    finally:
        conn.close()


def history(pg, dbname, spec):
    h = spec["history"]
    table = '%s."%s"' % (h["schema"] or "public", h["table"])
    return pg.execute(dbname, 'SELECT "%s", "%s" FROM %s ORDER BY 1' % (
        h["migration_id_column"], h["product_version_column"], table), fetch=True)


def user_tables(pg, dbname, spec):
    rows = pg.execute(dbname, "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                              "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name <> %s "
                              "ORDER BY 1", (spec["history"]["table"],), fetch=True)
    return [r[0] for r in rows]


def apply_first_migration_only(pg, dbname, forward, spec, tmp_path):
    """Apply the forward script up to the history INSERT of its first migration (and commit): the database as the
    first migration alone leaves it, the reference for a rollback to it."""
    text = fixtures.read_sql(path(forward))
    first = spec["migrations"][0]
    insert = re.search(r"INSERT INTO[^;]*?VALUES\s*\('%s'[^;]*;" % re.escape(first), text, re.S)
    assert insert, "no history INSERT of %s in %s" % (first, forward)
    prefix = tmp_path / "first_only.sql"
    prefix.write_text(text[:insert.end()] + "\nCOMMIT;\n")
    conn = pg.connect(dbname)
    try:
        fixtures.apply_sql_file(conn, str(prefix))
    finally:
        conn.close()


@pytest.mark.parametrize("name", FORWARD)
def test_forward_script_applies_on_an_empty_database(pg, dbname, name):
    spec = EXPECTED[name]
    apply(pg, dbname, name)
    assert history(pg, dbname, spec) == [(m, spec["product_version"]) for m in spec["migrations"]]
    if spec["idempotent"]:
        tables = user_tables(pg, dbname, spec)
        apply(pg, dbname, name)  # --idempotent: a second run changes nothing
        assert history(pg, dbname, spec) == [(m, spec["product_version"]) for m in spec["migrations"]]
        assert user_tables(pg, dbname, spec) == tables


@pytest.mark.parametrize("name", ROLLBACK)
def test_rollback_script_brings_the_history_back_to_the_first_migration(pg, dbname, other_db, name, tmp_path):
    spec = EXPECTED[name]
    forward = base_forward(spec["ef_version"])
    apply(pg, dbname, forward)
    before = user_tables(pg, dbname, spec)
    apply(pg, dbname, name)
    first = spec["migrations"][0]
    assert history(pg, dbname, spec) == [(first, spec["product_version"])]
    after = user_tables(pg, dbname, spec)
    # Exactly the tables of the first migration alone, no more, no fewer.
    apply_first_migration_only(pg, other_db, forward, spec, tmp_path)
    assert after == user_tables(pg, other_db, spec)
    assert set(after) < set(before)  # and later migrations did create tables, so the comparison means something
    if spec["idempotent"]:
        apply(pg, dbname, name)  # nothing left to revert: a no-op
        assert history(pg, dbname, spec) == [(first, spec["product_version"])]
        assert user_tables(pg, dbname, spec) == after


@pytest.mark.parametrize("version", VERSIONS, ids=["ef%d" % v for v in VERSIONS])
def test_module_rolls_back_to_the_first_migration_and_forward_again(pg, dbname, version):
    forward = base_forward(version)
    spec = EXPECTED[forward]
    apply(pg, dbname, forward)
    built = dump_state(pg.client_env(), dbname)
    args = pg.login_args(dbname)
    args.update(scripts=[path(n) for n in files_of(version)], accept_data_loss=["*"])
    if spec["history"]["schema"]:
        args.update(history_schema=spec["history"]["schema"])
    first, last = spec["migrations"][0], spec["migrations"][-1]

    down = run_module("ef_migration_state", dict(args, target=first))
    assert not down.failed, down
    assert down.changed
    assert down["applied"] == [first]
    assert [r[0] for r in history(pg, dbname, spec)] == [first]

    up = run_module("ef_migration_state", dict(args, target=last))
    assert not up.failed, up
    assert up["applied"] == spec["migrations"]
    assert [r[0] for r in history(pg, dbname, spec)] == spec["migrations"]
    assert dump_state(pg.client_env(), dbname) == built  # schema and data, as pg_dump writes them
