# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets in every form: the one place that knows how a secret's value may be spelled in a text that leaves a module.

A password or token can reach an output spelled as the tools spell it: raw, doubled inside an Npgsql connection
string (``Password="p@ss""x"``), URL-encoded (``%40``, ``+`` for a space), JSON-escaped (``\\"``, ``\\u00e9``) or
shell-quoted. ``redact`` replaces every such form of every secret with ``********``, and with them every credential
a text carries by its shape alone (``Bearer ...``, ``Basic ...``, ``Authorization:``/``X-Api-Key:``/``Cookie:``
values). ``redact_data`` does the same through JSON-like data and hides the values of keys that name a secret
(``is_secret_key``: ``password``, ``accessToken``, ``X-Api-Key``, ``DBPASS``, ``ConnectionStrings__Default`` ...).
This is the collection's only redaction: modules, the HTTP client and the database code all call it.
"""
from __future__ import annotations

import json
import re

try:
    from urllib.parse import quote, quote_plus
except ImportError:  # pragma: no cover - Python 2 is not supported, the import keeps sanity's compile check quiet
    from urllib import quote, quote_plus  # type: ignore

REDACTED = "********"
# Shorter values would redact ordinary words ("on", "yes"): too short to be a real secret anyway.
MIN_SECRET_LENGTH = 4

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*|\b(basic)(\s+)[A-Za-z0-9+/]{8,}=*")
_AUTH_HEADER = re.compile(r"(?i)((?:proxy-)?authorization|x-api-key|cookie)(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+")
# A key names a secret when its letters (separators and case aside) hold one of these, or end in "key": run-together
# and all-caps names (DBPASS, JWTKEY, GITHUBTOKEN) as well as the usual ones. Hiding a harmless value (a "passenger"
# count) costs a look in the source; showing a password cannot be undone.
_SECRET_PARTS = ("pass", "pwd", "secret", "token", "credential", "connection", "dsn", "cookie", "authorization",
                 "apikey", "privatekey", "accesskey")
_URL_USERINFO = re.compile(r"[a-z][a-z0-9+.\-]*://[^/\s@:]*:[^/\s@]*@", re.IGNORECASE)
_CONN_PASSWORD = re.compile(r"(?i)(^|;)\s*(password|pwd)\s*=")


def secret_forms(value):
    """Every spelling of ``value`` that a tool may print: raw, Npgsql-quoted, URL-encoded, JSON-escaped,
    single-quote (SQL/shell) doubled. Longest first, so a longer form is replaced before a shorter part of it."""
    if value is None:
        return []
    value = str(value)
    if len(value) < MIN_SECRET_LENGTH:
        return []
    forms = {
        value,
        value.replace('"', '""'),
        value.replace("'", "''"),
        value.replace("'", "'\\''"),
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(value))[3:-3],
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def is_secret_key(name):
    """True for JSON keys, header and variable names that hold credentials (``token``, ``access_token``,
    ``Authorization``, ``X-Api-Key``, ``DB_PASS``, ``DBPASS``, ``JWTKEY``, ``ConnectionStrings__DefaultConnection``,
    ``SENTRY_DSN``); ``keyboard``, ``expiresIn`` or ``RunMigrations`` are not. When in doubt a name counts as
    secret."""
    letters = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return any(part in letters for part in _SECRET_PARTS) or letters.endswith(("key", "keys"))


def secret_values(data, found):
    """Add to the set ``found`` every non-empty string under a key that names a secret in JSON-like ``data``
    (request bodies and headers, answers): the values ``redact`` must then hide wherever they appear."""
    if isinstance(data, dict):
        for key, value in data.items():
            if is_secret_key(key) and isinstance(value, str) and value:
                found.add(value)
            else:
                secret_values(value, found)
    elif isinstance(data, (list, tuple)):
        for value in data:
            secret_values(value, found)


def holds_credentials(value):
    """True for a text that carries credentials by its shape: a URL with ``user:password@``, or a connection string
    with a ``Password=`` (``DATABASE_URL``, an Npgsql string under any variable name)."""
    text = str(value or "")
    return bool(_URL_USERINFO.search(text) or _CONN_PASSWORD.search(text))


def redact(text, secrets=()):
    """``text`` with every form (``secret_forms``) of every value in ``secrets`` replaced by ``********``, and
    bearer/basic credentials and Authorization-like header values with them.

    ``None`` stays ``None``; other values are turned into text first."""
    if text is None:
        return None
    text = str(text)
    forms = set()
    for secret in secrets or ():
        forms.update(secret_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _BEARER.sub(lambda m: (m.group(1) or m.group(3)) + (m.group(2) or m.group(4)) + REDACTED, text)


def redact_data(data, secrets=()):
    """A copy of JSON-like ``data`` (dicts, lists, strings) safe to show: the value of a key that names a secret
    becomes ``********`` (unless empty), and keys and strings go through ``redact``."""
    if isinstance(data, dict):
        return dict((redact(k, secrets), REDACTED if is_secret_key(k) and v not in (None, "")
                     else redact_data(v, secrets)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [redact_data(v, secrets) for v in data]
    if isinstance(data, str):
        return redact(data, secrets)
    return data
