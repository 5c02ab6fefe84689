"""Pure parts of HTTP: redaction (module_utils.redact), Retry-After, backoff, retry rules, JSON decoding."""
from __future__ import annotations

import email.utils

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import REDACTED, is_secret_key, redact, redact_data
from ansible_collections.almafrica.rollback.plugins.module_utils.web.client import (
    MAX_RETRY_AFTER, backoff_delay, decode_json, parse_retry_after, trim,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.web.policy import is_retryable_status

TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.dG9rZW4"


@pytest.mark.parametrize("text", [
    "Authorization: Bearer %s" % TOKEN,
    "{'Authorization': 'Bearer %s', 'Accept': 'application/json'}" % TOKEN,
    '{"authorization": "Bearer %s"}' % TOKEN,
    "401 for bearer %s" % TOKEN,
    "curl -H 'X-Api-Key: %s'" % TOKEN,
])
def test_redact_removes_bearer_tokens_in_any_spelling(text):
    out = redact(text)
    assert TOKEN not in out
    assert REDACTED in out


def test_redact_keeps_the_rest_of_the_message():
    out = redact("GET http://127.0.0.1:1/api failed with Bearer %s: connection refused" % TOKEN)
    assert out == "GET http://127.0.0.1:1/api failed with Bearer %s: connection refused" % REDACTED


def test_redact_removes_given_secrets_anywhere_longest_first():
    out = redact("pw=hunter22 and hunter22x in url http://h/?t=hunter22x", secrets=["hunter22", "hunter22x", "", None])
    assert "hunter22" not in out
    assert out.count(REDACTED) == 3


def test_redact_ignores_very_short_secrets_that_would_shred_text():
    assert redact("a b c", secrets=["a"]) == "a b c"


@pytest.mark.parametrize("key", ["token", "access_token", "accessToken", "refreshToken", "password", "Authorization",
                                 "X-Api-Key", "api_key", "client-secret", "Set-Cookie", "PGPASSWORD", "DB_PASS",
                                 "JWT_KEY", "ConnectionStrings__DefaultConnection", "clientSecret", "id_token",
                                 "DB_CONNECTION", "SENTRY_DSN", "DBPASS", "PGPASS", "JWTKEY", "GITHUBTOKEN",
                                 "SESSIONTOKEN", "ENCRYPTIONKEY", "DBCREDENTIALS", "DBCONNECTION"])
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["expiresIn", "name", "version", "migration", "status", "count", "RunMigrations",
                                 "ASPNETCORE_ENVIRONMENT", "keyboard", "author"])
def test_ordinary_keys(key):
    assert not is_secret_key(key)


def test_redact_data_masks_secret_keys_and_secret_values_deeply():
    data = {"token": TOKEN, "expiresIn": 3600, "user": {"password": "pw", "name": "demo"},
            "echo": ["sent %s" % TOKEN], "empty_token": ""}
    out = redact_data(data, secrets=[TOKEN])
    assert out == {"token": REDACTED, "expiresIn": 3600, "user": {"password": REDACTED, "name": "demo"},
                   "echo": ["sent %s" % REDACTED], "empty_token": ""}
    assert data["token"] == TOKEN  # a copy: matching still sees the real body


@pytest.mark.parametrize("value, seconds", [
    ("3", 3.0), (" 0.5 ", 0.5), ("-4", 0.0), ("99999", MAX_RETRY_AFTER), (None, None), ("", None), ("soon", None),
    ("nan", None),
])
def test_parse_retry_after_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date():
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(7.0)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(n, base=0.5, cap=3) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3, 3]


@pytest.mark.parametrize("status, method, retry", [
    (429, "POST", True), (429, "GET", True), (500, "GET", True), (503, "DELETE", True), (502, "POST", False),
    (500, "PATCH", False), (404, "GET", False), (401, "GET", False), (200, "GET", False),
])
def test_retryable_statuses(status, method, retry):
    assert is_retryable_status(status, method) is retry


def test_decode_json_and_trim():
    assert decode_json('{"a": [1]}') == (True, {"a": [1]})
    assert decode_json("null") == (True, None)
    assert decode_json("Healthy") == (False, None)
    assert decode_json("") == (False, None)
    assert trim("x" * 10, 4) == "xxxx... [6 more characters]"
    assert trim("abc", 4) == "abc"
