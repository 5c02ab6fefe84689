"""The schema_diff filter and the ef_script_migrations lookup's logic, used by playbooks/test_down.yml.

The lookup plugin itself (options, errors) runs through ansible-playbook in tests/integration/test_down_roundtrip.py.
"""
from __future__ import annotations

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.almafrica.rollback.plugins.filter.schema import FilterModule, schema_diff
from ansible_collections.almafrica.rollback.plugins.lookup.ef_script_migrations import script_migrations
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import HistoryTable
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.script import ScriptError

HERE = os.path.dirname(os.path.abspath(__file__))
EF8 = os.path.join(os.path.dirname(HERE), "stage", "migrations", "ef8")
IDEMPOTENT = os.path.join(os.path.dirname(HERE), "stage", "migrations", "idempotent")
ALL = ["20260201120000_InitialCreate", "20260210123456_AddFarmerPhoneNumber", "20260215090000_AddPayments",
       "20260301100000_AddOrderStatus", "20260310140000_WidenOrderAmount"]

BEFORE = ['column "public"."Orders" "Amount" numeric(12,2) not null', 'table "public"."Orders"']
AFTER = ['column "public"."Orders" "Amount" numeric(14,2) not null',
         'index "public"."Orders" "IX_Orders_CreatedAt": CREATE INDEX ...', 'table "public"."Orders"']


def test_diff_names_what_changed_with_labels():
    text = schema_diff(BEFORE, AFTER, "before Up", "after Down")
    lines = text.splitlines()
    assert lines[0] == "--- before Up" and lines[1] == "+++ after Down"
    assert '-column "public"."Orders" "Amount" numeric(12,2) not null' in lines
    assert '+column "public"."Orders" "Amount" numeric(14,2) not null' in lines
    assert '+index "public"."Orders" "IX_Orders_CreatedAt": CREATE INDEX ...' in lines
    assert ' table "public"."Orders"' in lines


def test_equal_descriptions_give_an_empty_diff_and_text_input_is_split():
    assert schema_diff(BEFORE, list(BEFORE)) == ""
    assert schema_diff("\n".join(BEFORE), BEFORE) == ""
    assert FilterModule().filters()["schema_diff"] is schema_diff


@pytest.mark.parametrize("before, after, which", [(None, AFTER, "before"), (BEFORE, None, "after"),
                                                  (BEFORE, 42, "after")])
def test_missing_description_says_how_to_get_it(before, after, which):
    with pytest.raises(AnsibleFilterError, match="the %s description" % which):
        schema_diff(before, after)


def test_script_migrations_by_direction():
    assert script_migrations([EF8]) == ALL
    assert script_migrations([os.path.join(EF8, "rollback_v1.2.0.sql")], "down") == ALL[3:]
    assert script_migrations([os.path.join(EF8, "rollback_*.sql")], "up") == []
    assert script_migrations([os.path.join(EF8, "migrate_v1.1.0.sql"), os.path.join(EF8, "rollback_v1.2.0.sql")],
                             "any") == ALL[1:]
    # One idempotent script from 0, with a BOM and DO $EF$ guards.
    assert script_migrations([os.path.join(IDEMPOTENT, "migrate_all.sql")]) == ALL


def test_script_migrations_errors():
    with pytest.raises(ScriptError, match="No script file matches"):
        script_migrations([os.path.join(EF8, "nope*.sql")])
    with pytest.raises(ScriptError, match="after the last __Other history statement belong to no migration"):
        script_migrations([EF8], history=HistoryTable("__Other"))
