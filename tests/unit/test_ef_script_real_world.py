"""The splitter on real `dotnet ef migrations script` output for Npgsql taken from public repositories."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.ef_script import HistoryTable, split_ef_script

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "real_world")
with open(os.path.join(CORPUS, "expected.json"), encoding="utf-8") as _fh:
    EXPECTED = json.load(_fh)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_script_splits_into_the_expected_blocks(name):
    spec = EXPECTED[name]
    with open(os.path.join(CORPUS, name), encoding="utf-8") as fh:
        text = fh.read()
    history = HistoryTable(spec["history"]["table"], spec["history"]["schema"], spec["history"]["migration_id_column"])
    blocks = split_ef_script(text, history, source=name)
    assert [{"migration_id": b.migration_id, "direction": b.direction} for b in blocks] == spec["statements"]
    assert all(b.idempotent == spec["idempotent"] for b in blocks)
    for block in blocks:
        # No transaction control and no history statement leaks into the statements we run.
        for stmt in block.statements:
            assert not stmt.sql.upper().startswith(("START TRANSACTION", "COMMIT", "BEGIN"))
            assert spec["history"]["table"] not in stmt.sql or "CREATE TABLE" not in stmt.sql
