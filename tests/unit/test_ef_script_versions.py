"""The splitter on our own corpus of `dotnet ef migrations script` layouts for Npgsql, EF Core 5 to 10.

tests/fixtures/ef_versions/ holds scripts we wrote ourselves (schema, migration ids and names are ours) in the exact
layout each EF Core / Npgsql version writes: see LAYOUTS.md there for the rules and where they were learned.
"""
from __future__ import annotations

import json
import os

import pglast
import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import HistoryTable
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.script import split_ef_script

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "ef_versions")
with open(os.path.join(CORPUS, "expected.json"), encoding="utf-8") as _fh:
    EXPECTED = json.load(_fh)


def _split(name):
    spec = EXPECTED[name]
    with open(os.path.join(CORPUS, name), encoding="utf-8") as fh:
        text = fh.read()
    history = HistoryTable(spec["history"]["table"], spec["history"]["schema"], spec["history"]["migration_id_column"])
    return spec, text, split_ef_script(text, history, source=name)[1]


def test_corpus_covers_every_ef_version_and_kind():
    versions = {spec["ef_version"] for spec in EXPECTED.values()}
    assert versions == {5, 6, 7, 8, 9, 10}
    kinds = {(spec["kind"], spec["idempotent"]) for spec in EXPECTED.values()}
    assert kinds == {("forward", False), ("forward", True), ("rollback", False), ("rollback", True)}
    assert sorted(n for n in os.listdir(CORPUS) if n.endswith(".sql")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_script_splits_into_the_expected_blocks(name):
    spec, text, blocks = _split(name)
    assert text.startswith("\ufeff") == spec["bom"]
    assert [{"migration_id": b.migration_id, "direction": b.direction} for b in blocks] == spec["statements"]
    assert all(b.idempotent == spec["idempotent"] for b in blocks)
    for block in blocks:
        # No transaction control and no history statement leaks into the statements we run.
        for stmt in block.statements:
            assert not stmt.sql.upper().startswith(("START TRANSACTION", "COMMIT", "BEGIN"))
            assert spec["history"]["table"] not in stmt.sql or "CREATE TABLE" not in stmt.sql


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_block_statement_parses(name):
    _ignored, _ignored, blocks = _split(name)
    assert blocks
    for block in blocks:
        assert block.statements, block
        for stmt in block.all_statements():
            assert len(pglast.parse_sql(stmt.sql)) == 1, stmt.where


@pytest.mark.parametrize("name", sorted(n for n, s in EXPECTED.items() if s["kind"] == "rollback"))
def test_rollback_scripts_go_down_newest_first(name):
    spec, _ignored, blocks = _split(name)
    assert {b.direction for b in blocks} == {"down"}
    ids = [b.migration_id for b in blocks]
    assert ids == sorted(ids, reverse=True)
    # back to the first migration: every later one is reverted, the first is kept
    assert ids == list(reversed(spec["migrations"][1:]))


@pytest.mark.parametrize("name", sorted(n for n, s in EXPECTED.items() if s["kind"] == "forward"))
def test_forward_scripts_go_up_oldest_first_from_0(name):
    spec, text, blocks = _split(name)
    assert [b.migration_id for b in blocks] == spec["migrations"]
    assert {b.direction for b in blocks} == {"up"}
    assert "CREATE TABLE IF NOT EXISTS" in text.split("START TRANSACTION;")[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout_facts(name):
    """The layout details the corpus is meant to pin, checked on the text so a regenerated file cannot drift."""
    spec, text, _ignored = _split(name)
    ef = spec["ef_version"]
    body = text.lstrip("\ufeff")
    starts = body.count("START TRANSACTION;")
    if spec["single_transaction"]:
        assert starts == 1 and body.count("COMMIT;") == 1
    else:
        assert starts == len(spec["statements"])
    follows = body.split("START TRANSACTION;\n", 1)[1]
    if ef >= 9:
        assert not follows.startswith("\n") or (spec["idempotent"] and spec["kind"] == "forward")
    else:
        assert follows.startswith("\n")
    if spec["idempotent"]:
        assert ("DO $$" in body) == (ef == 5)
        assert ("DO $EF$" in body) == (ef != 5)
        assert '"%s" = ' % spec["history"]["migration_id_column"] in body
    else:
        assert "DO $$" not in body
    if spec["kind"] == "rollback":
        assert "CREATE TABLE IF NOT EXISTS" not in body
        assert "\nWHERE %s = '" % _col(spec) in body.replace("\n    WHERE", "\nWHERE")
    else:
        assert "VALUES ('%s', '%s');" % (spec["migrations"][0], spec["product_version"]) in body
        assert "(%s, %s)\n" % (_col(spec), _col(spec, "product_version_column")) in body
    if spec["history"]["schema"]:
        assert '%s."__EFMigrationsHistory"' % spec["history"]["schema"] in body


def _col(spec, key="migration_id_column"):
    name = spec["history"][key]
    return name if name.islower() else '"%s"' % name
