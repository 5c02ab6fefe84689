# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke-test sequences for health_assert: checks, values carried from one check to the next, expectations.

Values captured from earlier checks are written ``${name}`` or ``${name.dotted.path}`` in a later check's
``url``, ``headers``, ``body``, ``bearer_token`` and ``expect_json``/``expect_body_contains``:

* every check with a ``name`` makes its JSON response body available under that name
  (``${login.token}`` is the ``token`` of the body of the check named ``login``);
* ``save: {farmer_id: items.0.id}`` stores a value of the body under its own name (``${farmer_id}``);
  saved names win over check names;
* a string that is exactly one reference keeps the value's type (``"${created.id}"`` -> ``41``); inside a
  longer string the value is written as text (JSON for objects, lists, booleans and null);
* ``$${`` is a literal ``${``. Ansible's own ``{{ }}`` templating is untouched: the references are resolved
  by the module at run time, after the earlier requests have answered.

Pure logic: no network here.
"""
from __future__ import annotations

import json
import re

from ansible_collections.almafrica.rollback.plugins.module_utils.web.json_match import (
    format_mismatches, match_subset, resolve, split_path,
)

_REFERENCE = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


class CheckDefinitionError(ValueError):
    """A check that can never pass as written (bad name, unknown reference...): fail at once, no retries."""


# -- references -----------------------------------------------------------------------------------
def references(value):
    """The reference paths (``login.token``...) used anywhere in strings of ``value``, in order, unique."""
    found = []

    def walk(item):
        if isinstance(item, str):
            for match in _REFERENCE.finditer(item):
                if match.group(1) is not None and match.group(1) not in found:
                    found.append(match.group(1))
        elif isinstance(item, dict):
            for child in item.values():
                walk(child)
        elif isinstance(item, (list, tuple)):
            for child in item:
                walk(child)

    walk(value)
    return found


def reference_roots(value):
    """The names (first path segments) ``value`` refers to."""
    roots = []
    for ref in references(value):
        segments = split_path(ref.strip())
        root = segments[0] if segments else ""
        if root not in roots:
            roots.append(root)
    return roots


def _as_text(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


class Captures:
    """Values known so far: saved names and the JSON bodies of named checks."""

    def __init__(self):
        self.saved = {}
        self.bodies = {}

    def known(self):
        return sorted(set(self.saved) | set(self.bodies))

    def lookup(self, ref):
        segments = split_path(ref.strip())
        if not segments or not segments[0]:
            raise CheckDefinitionError("empty reference ${%s}" % ref)
        root, rest = segments[0], segments[1:]
        if root in self.saved:
            document = self.saved[root]
        elif root in self.bodies:
            document = self.bodies[root]
        else:
            raise CheckDefinitionError("unknown reference ${%s}: no earlier check is named or saved %r (known: %s)"
                                       % (ref, root, ", ".join(self.known()) or "none"))
        ok, value, walked = resolve(document, rest)
        if not ok:
            raise CheckDefinitionError("reference ${%s}: %s has no %s (%s)"
                                       % (ref, root, ".".join(walked), value))
        return value

    def substitute(self, value):
        """``value`` with every ``${ref}`` replaced (recursively through dicts and lists)."""
        if isinstance(value, str):
            whole = _REFERENCE.fullmatch(value)
            if whole and whole.group(1) is not None:
                return self.lookup(whole.group(1))
            return _REFERENCE.sub(lambda m: "${" if m.group(1) is None else _as_text(self.lookup(m.group(1))),
                                  value)
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.substitute(v) for v in value]
        return value

    def record(self, check, data):
        """After ``check`` passed with JSON body ``data``: keep the body under its name, and its ``save`` values."""
        if check.get("name"):
            self.bodies[check["name"]] = data
        for name, path in (check.get("save") or {}).items():
            ok, value, walked = resolve(data, path)
            if not ok:
                raise CheckDefinitionError("save %s: the response has no %s (%s)" % (name, ".".join(walked), value))
            self.saved[name] = value
        return {name: self.saved[name] for name in (check.get("save") or {})}


# -- checks ---------------------------------------------------------------------------------------
def normalize_check(check, index, defaults):
    """A check with every field set: its own values, else the module's ``defaults``.

    Raises CheckDefinitionError for names that cannot be referenced and ``save`` entries with bad names.
    """
    out = dict(defaults)
    out.update({k: v for k, v in check.items() if v is not None})
    name = check.get("name")
    if name is not None and not _NAME.match(name):
        raise CheckDefinitionError("check %d: name %r must be letters, digits, '_' or '-' (it is used in "
                                   "${name.path} references)" % (index, name))
    for save_name in (check.get("save") or {}):
        if not _NAME.match(str(save_name)):
            raise CheckDefinitionError("check %d: save name %r must be letters, digits, '_' or '-'"
                                       % (index, save_name))
    out["name"] = name
    out["label"] = name or "check %d" % index
    out["method"] = str(out.get("method") or "GET").upper()
    if check.get("safe") is None:
        out["safe"] = out["method"] in SAFE_METHODS
    if check.get("retry") is None:
        # retrying a write that got an answer could repeat it (two farmers instead of one)
        out["retry"] = out["method"] in SAFE_METHODS or out["method"] in ("PUT", "DELETE")
    out["expect_status"] = [int(s) for s in (out.get("expect_status") or [200])]
    contains = out.get("expect_body_contains")
    out["expect_body_contains"] = [] if contains in (None, "") else (
        [contains] if isinstance(contains, str) else list(contains))
    return out


def check_expectations(check, status, text, data, is_json):
    """What does not hold, as readable lines (empty when the check passes)."""
    failures = []
    if status not in check["expect_status"]:
        failures.append("status %s, expected %s" % (status, " or ".join(str(s) for s in check["expect_status"])))
    for needle in check["expect_body_contains"]:
        if str(needle) not in (text or ""):
            failures.append("body does not contain %s" % json.dumps(str(needle)))
    expected = check.get("expect_json")
    if expected is not None:
        if not is_json:
            failures.append("body is not JSON")
        else:
            failures.extend("json %s" % line for line in format_mismatches(match_subset(expected, data)))
    return failures
