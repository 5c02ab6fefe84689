"""Smoke-check sequences: references to earlier responses, saves, check defaults, expectations."""
from __future__ import annotations

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.web.smoke import (
    Captures, CheckDefinitionError, check_expectations, normalize_check, reference_roots, references,
)


@pytest.fixture
def captures():
    c = Captures()
    c.record({"name": "login", "save": {"tok": "token"}}, {"token": "abc.def", "expiresIn": 3600})
    c.record({"name": "created"}, {"id": 41, "name": "Smoke", "tags": ["a", "b"], "ok": True, "none": None})
    return c


def test_whole_string_reference_keeps_the_type(captures):
    assert captures.substitute("${created.id}") == 41
    assert captures.substitute("${created.tags}") == ["a", "b"]
    assert captures.substitute("${created}")["name"] == "Smoke"


def test_embedded_references_become_text(captures):
    assert captures.substitute("/api/farmers/${created.id}") == "/api/farmers/41"
    assert captures.substitute("Bearer ${login.token}") == "Bearer abc.def"
    assert captures.substitute("ok=${created.ok} none=${created.none} tags=${created.tags}") == \
        'ok=true none=null tags=["a", "b"]'


def test_saved_names_are_references_too(captures):
    assert captures.substitute("${tok}") == "abc.def"
    assert captures.saved == {"tok": "abc.def"}


def test_saved_name_wins_over_a_check_name():
    c = Captures()
    c.record({"name": "x"}, {"v": 1})
    c.record({"name": "y", "save": {"x": "w"}}, {"w": {"v": 2}})
    assert c.substitute("${x.v}") == 2


def test_substitution_walks_dicts_and_lists_and_leaves_keys(captures):
    body = {"farmerId": "${created.id}", "notes": ["by ${created.name}", 3], "${created.id}": "k"}
    assert captures.substitute(body) == {"farmerId": 41, "notes": ["by Smoke", 3], "${created.id}": "k"}


def test_double_dollar_is_a_literal(captures):
    assert captures.substitute("price: $${created.id} is ${created.id}") == "price: ${created.id} is 41"
    assert captures.substitute("$${x}") == "${x}"


def test_unknown_reference_names_what_is_known(captures):
    with pytest.raises(CheckDefinitionError, match=r"unknown reference \$\{signin.token\}.*known: created, login, tok"):
        captures.substitute("${signin.token}")


def test_reference_to_a_missing_path_says_where(captures):
    with pytest.raises(CheckDefinitionError, match="login has no refresh"):
        captures.substitute("${login.refresh}")


def test_save_of_a_missing_path_fails(captures):
    with pytest.raises(CheckDefinitionError, match="save n: the response has no items"):
        captures.record({"name": "list", "save": {"n": "items.0.id"}}, {"count": 0})


def test_references_and_roots():
    value = {"url": "/a/${created.id}/${x}", "h": ["${login.token}", "$${no}"], "n": 3}
    assert references(value) == ["created.id", "x", "login.token"]
    assert reference_roots(value) == ["created", "x", "login"]


@pytest.mark.parametrize("method, safe, retry", [
    ("GET", True, True), ("get", True, True), ("HEAD", True, True), ("POST", False, False),
    ("PATCH", False, False), ("PUT", False, True), ("DELETE", False, True),
])
def test_check_defaults_by_method(method, safe, retry):
    check = normalize_check({"url": "/x", "method": method}, 1, {})
    assert (check["method"], check["safe"], check["retry"]) == (method.upper(), safe, retry)
    assert check["label"] == "check 1"


def test_explicit_safe_and_retry_win_and_defaults_fill_the_rest():
    check = normalize_check({"name": "login", "url": "/login", "method": "POST", "safe": True, "retry": True,
                             "bearer_token": None, "expect_body_contains": "ok"}, 1, {"bearer_token": "T"})
    assert check["safe"] is True and check["retry"] is True
    assert check["bearer_token"] == "T"
    assert check["expect_body_contains"] == ["ok"]
    assert check["expect_status"] == [200]


@pytest.mark.parametrize("check", [{"name": "has.dot", "url": "/"}, {"name": "a b", "url": "/"},
                                   {"url": "/", "save": {"9lives": "x"}}])
def test_bad_names_are_refused(check):
    with pytest.raises(CheckDefinitionError):
        normalize_check(check, 3, {})


def test_expectations_report_each_failure():
    check = normalize_check({"url": "/", "expect_status": [201], "expect_body_contains": ["Smoke", "Kiambu"],
                             "expect_json": {"name": "Smoke", "id": 41}}, 1, {})
    failures = check_expectations(check, 200, '{"name": "Smoke", "id": 40}', {"name": "Smoke", "id": 40}, True)
    assert failures == ["status 200, expected 201", 'body does not contain "Kiambu"', "json id: expected 41, got 40"]
    assert check_expectations(check, 201, '{"name": "Smoke", "id": 41} Kiambu', {"name": "Smoke", "id": 41},
                              True) == []


def test_expect_json_on_a_text_body_fails_clearly():
    check = normalize_check({"url": "/", "expect_json": {"a": 1}}, 1, {})
    assert check_expectations(check, 200, "Healthy", None, False) == ["body is not JSON"]
