"""JSON subset matching with dotted paths (module_utils.web.json_match)."""
from __future__ import annotations

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.web.json_match import (
    MISSING, format_mismatches, format_path, match_subset, project, resolve, split_path,
)

DOC = {
    "version": "1.1.0",
    "environment": "staging",
    "build": {"commit": "abc123", "labels": {"app.kubernetes.io/name": "almafrica"}},
    "count": 2,
    "items": [{"id": 1, "name": "Amina", "village": "Kiambu", "phoneNumber": None},
              {"id": 2, "name": "Kwame", "village": "Techiman", "phoneNumber": "+233"}],
    "ok": True,
    "amount": 12.5,
}


@pytest.mark.parametrize("path, segments", [
    ("", []),
    ("a", ["a"]),
    ("items.0.name", ["items", "0", "name"]),
    ("build.labels.app\\.kubernetes\\.io/name", ["build", "labels", "app.kubernetes.io/name"]),
    (["a", "b"], ["a", "b"]),
])
def test_split_path(path, segments):
    assert split_path(path) == segments


def test_format_path_round_trips_escaped_dots():
    path = "build.labels.app\\.kubernetes\\.io/name"
    assert format_path(split_path(path)) == path
    assert format_path([]) == "$"


def test_resolve_walks_objects_and_lists():
    assert resolve(DOC, "items.1.name") == (True, "Kwame", ["items", "1", "name"])
    assert resolve(DOC, "items.-1.id")[:2] == (True, 2)
    assert resolve(DOC, "build.labels.app\\.kubernetes\\.io/name")[:2] == (True, "almafrica")
    assert resolve(DOC, "") == (True, DOC, [])
    ok, reason, walked = resolve(DOC, "items.5.name")
    assert not ok and "out of range" in reason and walked == ["items", "5"]
    ok, reason, _walked = resolve(DOC, "version.major")
    assert not ok and "not an object or a list" in reason


def test_nested_subset_matches():
    expected = {"version": "1.1.0", "build": {"commit": "abc123"}, "items.0.name": "Amina",
                "items": [{"name": "Kwame", "phoneNumber": "+233"}], "ok": True, "amount": 12.5}
    assert match_subset(expected, DOC) == []


def test_extra_keys_and_list_order_do_not_matter():
    assert match_subset({"items": [{"id": 2}, {"id": 1}]}, DOC) == []
    assert match_subset({"items": []}, DOC) == []


def test_each_expected_list_element_needs_its_own_actual_element():
    found = match_subset({"items": [{"village": "Kiambu"}, {"village": "Kiambu"}]}, DOC)
    assert len(found) == 1
    assert "closest is element 1" in found[0].reason


def test_value_mismatch_is_reported_with_path_expected_and_actual():
    found = match_subset({"version": "1.2.0", "build": {"commit": "zzz"}}, DOC)
    assert format_mismatches(found) == [
        'version: expected "1.2.0", got "1.1.0"',
        'build.commit: expected "zzz", got "abc123"',
    ]


def test_missing_path_names_where_it_stopped():
    found = match_subset({"build.branch": "main", "items.7.id": 1}, DOC)
    assert [f.actual for f in found] == [MISSING, MISSING]
    lines = format_mismatches(found)
    assert lines[0].startswith("build.branch: missing, expected \"main\"")
    assert "index 7 out of range (length 2)" in lines[1]


@pytest.mark.parametrize("expected, actual", [
    (1, "1"), ("1", 1), (True, 1), (1, True), (None, 0), (0, None), ("", None), ({"a": 1}, "x"), ([1], {"a": 1}),
])
def test_json_types_must_agree(expected, actual):
    found = match_subset(expected, actual)
    assert len(found) == 1
    assert "expected" in found[0].reason


def test_int_and_float_numbers_compare_by_value():
    assert match_subset({"count": 2.0}, DOC) == []
    assert match_subset({"amount": 12}, DOC) != []


def test_null_matches_null_only():
    assert match_subset({"items.0.phoneNumber": None}, DOC) == []
    assert match_subset({"items.1.phoneNumber": None}, DOC) != []


def test_dotted_path_through_a_scalar_is_a_mismatch():
    found = match_subset({"count.value": 2}, DOC)
    assert found and found[0].actual is MISSING


def test_mismatch_as_dict_is_json_friendly():
    found = match_subset({"version": "2"}, DOC)[0].as_dict()
    assert found == {"path": "version", "expected": "2", "actual": "1.1.0", "missing": False, "reason": "values differ"}


def test_project_cuts_actual_to_the_expected_shape():
    expected = {"version": "x", "build": {"commit": "y"}, "items.0.name": "z", "nope": 1}
    assert project(expected, DOC) == {"version": "1.1.0", "build": {"commit": "abc123"}, "items.0.name": "Amina"}


def test_object_expectation_on_a_list_uses_indices():
    assert match_subset({"0.name": "Amina"}, DOC["items"]) == []
    found = match_subset({"name": "Amina"}, DOC["items"])
    assert found[0].actual is MISSING and "not a list index" in found[0].reason
