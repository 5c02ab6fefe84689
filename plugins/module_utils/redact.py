# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets in every form: the one place that knows how a secret's value may be spelled in a text that leaves a module.

A password or token can reach an output spelled as the tools spell it: raw, doubled inside an Npgsql connection
string (``Password="p@ss""x"``), URL-encoded (``%40``, ``+`` for a space), JSON-escaped (``\\"``, ``\\u00e9``) or
shell-quoted. ``redact`` replaces every such form of every secret with ``********``.
"""
from __future__ import annotations

import json

try:
    from urllib.parse import quote, quote_plus
except ImportError:  # pragma: no cover - Python 2 is not supported, the import keeps sanity's compile check quiet
    from urllib import quote, quote_plus  # type: ignore

REDACTED = "********"
# Shorter values would redact ordinary words ("on", "yes"): too short to be a real secret anyway.
MIN_SECRET_LENGTH = 4


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


def redact(text, secrets=()):
    """``text`` with every form (``secret_forms``) of every value in ``secrets`` replaced by ``********``.

    ``None`` stays ``None``; other values are turned into text first."""
    if text is None:
        return None
    text = str(text)
    forms = set()
    for secret in secrets or ():
        forms.update(secret_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def redact_data(data, secrets=()):
    """A copy of JSON-like ``data`` (dicts, lists, strings) with every form of every secret redacted in its
    strings and keys."""
    if isinstance(data, dict):
        return dict((redact(k, secrets), redact_data(v, secrets)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [redact_data(v, secrets) for v in data]
    if isinstance(data, str):
        return redact(data, secrets)
    return data
