"""secrets.redact: every spelling of a secret a tool may print is replaced."""
from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string
from ansible_collections.almafrica.rollback.plugins.module_utils.redact import (
    REDACTED, redact, redact_data, secret_forms, secret_values)

SECRETS = ['p@ss"x', "s3cr3t pass+/é", "o'brien;=1", 'a\\b"c']


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("spell", [
    lambda s: s,
    lambda s: s.replace('"', '""'),
    lambda s: quote(s, safe=""),
    quote_plus,
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    lambda s: json.dumps(json.dumps(s))[3:-3],
])
def test_every_spelling_is_redacted(secret, spell):
    text = "before %s after" % spell(secret)
    out = redact(text, [secret])
    assert spell(secret) not in out
    assert out == "before %s after" % REDACTED


@pytest.mark.parametrize("secret", SECRETS)
def test_npgsql_connection_string_password_is_redacted(secret):
    params = dict(login_unix_socket="", login_host="127.0.0.1", login_port=5432, login_db="alma",
                  login_user="alma", login_password=secret, ssl_mode="prefer", ca_cert=None, connect_timeout=10)
    conn = npgsql_connection_string(params)
    out = redact("env: ConnectionStrings__Default=%s" % conn, [secret])
    assert secret not in out and secret.replace('"', '""') not in out
    assert REDACTED in out


def test_short_and_empty_secrets_are_ignored():
    assert secret_forms(None) == [] and secret_forms("") == [] and secret_forms("abc") == []
    assert redact("abc yes", ["abc", None, ""]) == "abc yes"
    assert redact(None, ["secret"]) is None


def test_redact_data_walks_keys_and_values():
    data = {"msg": "token=hunter22", "list": ["hunter22", 3], "hunter22": None}
    assert redact_data(data, ["hunter22"]) == {"msg": "token=" + REDACTED, "list": [REDACTED, 3], REDACTED: None}


def test_secret_values_are_found_under_secret_keys_at_any_depth():
    found = set()
    secret_values([{"username": "demo", "password": "hunter22"}, {"Authorization": "Bearer abc.def"},
                   {"items": [{"accessToken": "tok-123456"}, {"name": "Kwame"}]}, None, "plain"], found)
    assert found == {"hunter22", "Bearer abc.def", "tok-123456"}
