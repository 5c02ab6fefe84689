"""Planning like `dotnet ef database update <target>`: pure logic."""
from __future__ import annotations

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.ef.migrations import (
    PlanError, current_of, expected_history, plan_migration, resolve_target, sort_migrations)

M1 = "20260201120000_InitialCreate"
M2 = "20260210123456_AddFarmerPhoneNumber"
M3 = "20260215090000_AddPayments"
M4 = "20260301100000_AddOrderStatus"
M5 = "20260310140000_WidenOrderAmount"
ALL = [M1, M2, M3, M4, M5]


def test_ordinal_order_is_string_order_not_name_order():
    assert sort_migrations([M5, M1, M3, M2, M4]) == ALL
    # Ordinal, like EF: uppercase sorts before lowercase at the same position.
    assert sort_migrations(["20260101000000_b", "20260101000000_B"]) == ["20260101000000_B", "20260101000000_b"]


@pytest.mark.parametrize("given, expected", [
    (M1, M1), ("InitialCreate", M1), ("AddPayments", M3), ("0", "0"), (" 0 ", "0"),
])
def test_resolve_target_accepts_full_id_bare_name_and_zero(given, expected):
    assert resolve_target(given, ALL) == expected


def test_real_world_names_with_spaces_are_ids_too():
    odd = "20250604091050_Remove Admin Attr"
    assert resolve_target(odd, ALL + [odd]) == odd
    assert resolve_target("Remove Admin Attr", ALL + [odd]) == odd


def test_resolve_target_finds_ids_known_only_from_scripts():
    assert resolve_target("WidenOrderAmount", [M1, M2], known=ALL) == M5


@pytest.mark.parametrize("given, message", [
    ("20260201120000_Nope", "Unknown target migration 20260201120000_Nope"),
    ("Nope", "Unknown target migration name 'Nope'"),
    ("2026_InitialCreate", "Malformed target"),
    ("InitialCreate; DROP TABLE x", "Malformed target"),
    ("20260201120000_Init'ial", "Malformed target"),
    ("2026-02-01_InitialCreate", "Malformed target"),
    ("", "Malformed target"),
])
def test_resolve_target_refuses_unknown_and_malformed(given, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(")):
        resolve_target(given, ALL)


def test_resolve_target_refuses_ambiguous_bare_name():
    twice = ALL + ["20260401000000_AddPayments"]
    with pytest.raises(PlanError, match="Ambiguous target 'AddPayments': it names 2 migrations"):
        resolve_target("AddPayments", twice)


def test_plan_rollback_reverts_newest_first():
    plan = plan_migration(ALL, M3)
    assert plan == {"target": M3, "to_revert": [M5, M4], "to_apply": []}
    assert expected_history(ALL, plan) == [M1, M2, M3]


def test_plan_to_zero_reverts_everything():
    plan = plan_migration(ALL, "0")
    assert plan["to_revert"] == list(reversed(ALL)) and plan["to_apply"] == []
    assert expected_history(ALL, plan) == []


def test_plan_forward_applies_oldest_first_and_fills_gaps():
    plan = plan_migration([M1, M3], M5, known=ALL)
    assert plan["to_revert"] == []
    assert plan["to_apply"] == [M2, M4, M5]


def test_plan_at_target_is_empty():
    assert plan_migration(ALL, M5) == {"target": M5, "to_revert": [], "to_apply": []}
    assert current_of(ALL) == M5 and current_of([]) is None
