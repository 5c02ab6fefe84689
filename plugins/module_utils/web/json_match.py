# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON subset matching with dotted paths: does a response body contain what we expect? Pure logic.

Paths: ``items.0.name`` walks object keys and list indices (negative indices count from the end);
``\\.`` is a literal dot inside a key (``labels.app\\.kubernetes\\.io/name``). The empty path is the document.

Subset rules (``match_subset(expected, actual)``):

* an object matches when every expected key (which may be a dotted path) resolves in ``actual`` and its value
  matches; extra keys in ``actual`` are fine;
* a list matches a list that contains, for each expected element, a distinct element that matches it (order
  free, extra elements fine; pin a position with an index path such as ``items.0``);
* scalars match when equal and of the same JSON type: ``1`` and ``1.0`` are equal, ``1`` and ``"1"`` or
  ``true`` are not.
"""
from __future__ import annotations

import json

MISSING = object()  # an expected path that is not in the document


class Mismatch:
    """One expectation that does not hold: ``path`` (segments), ``expected``, ``actual`` (or MISSING), ``reason``."""

    __slots__ = ("path", "expected", "actual", "reason")

    def __init__(self, path, expected, actual, reason):
        self.path, self.expected, self.actual, self.reason = tuple(path), expected, actual, reason

    def __repr__(self):
        return "Mismatch(%s)" % describe_mismatch(self)

    def as_dict(self):
        return {"path": format_path(self.path), "expected": self.expected,
                "actual": None if self.actual is MISSING else self.actual,
                "missing": self.actual is MISSING, "reason": self.reason}


def split_path(path):
    """``"items.0.name"`` -> ``["items", "0", "name"]``; ``\\.`` escapes a dot; ``""`` -> ``[]``."""
    if isinstance(path, (list, tuple)):
        return [str(p) for p in path]
    path = str(path)
    if path == "":
        return []
    segments, current, i = [], [], 0
    while i < len(path):
        if path.startswith("\\.", i):
            current.append(".")
            i += 2
        elif path[i] == ".":
            segments.append("".join(current))
            current = []
            i += 1
        else:
            current.append(path[i])
            i += 1
    segments.append("".join(current))
    return segments


def format_path(segments):
    """Segments back to a dotted path (dots in keys escaped); the document itself is ``$``."""
    if not segments:
        return "$"
    return ".".join(str(s).replace(".", "\\.") for s in segments)


def _step(value, segment):
    """(True, child) or (False, reason)."""
    if isinstance(value, dict):
        if segment in value:
            return True, value[segment]
        return False, "no key %r" % segment
    if isinstance(value, list):
        try:
            index = int(segment)
        except ValueError:
            return False, "%r is not a list index" % segment
        if -len(value) <= index < len(value):
            return True, value[index]
        return False, "index %d out of range (length %d)" % (index, len(value))
    return False, "%s is not an object or a list" % json_type(value)


def resolve(document, path):
    """``(True, value, [])`` or ``(False, reason, segments walked before the failure)``."""
    value, walked = document, []
    for segment in split_path(path):
        ok, result = _step(value, segment)
        if not ok:
            return False, result, walked + [segment]
        value = result
        walked.append(segment)
    return True, value, walked


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def scalars_equal(expected, actual):
    if json_type(expected) != json_type(actual):
        return False
    return expected == actual


def match_subset(expected, actual, path=()):
    """Mismatches (a list, empty when ``expected`` is a subset of ``actual``)."""
    path = tuple(path)
    if isinstance(expected, dict):
        if not isinstance(actual, (dict, list)):
            return [Mismatch(path, expected, actual, "expected an object, got %s" % json_type(actual))]
        out = []
        for key, want in expected.items():
            ok, value, walked = resolve(actual, key)
            if not ok:
                out.append(Mismatch(path + tuple(walked), want, MISSING, value))
            else:
                out.extend(match_subset(want, value, path + tuple(split_path(key))))
        return out
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, list):
            return [Mismatch(path, expected, actual, "expected a list, got %s" % json_type(actual))]
        return _match_list(list(expected), actual, path)
    if scalars_equal(expected, actual):
        return []
    if json_type(expected) != json_type(actual):
        reason = "expected %s, got %s" % (json_type(expected), json_type(actual))
    else:
        reason = "values differ"
    return [Mismatch(path, expected, actual, reason)]


def _match_list(expected, actual, path):
    used, out = set(), []
    for want in expected:
        best = None
        for index, item in enumerate(actual):
            if index in used:
                continue
            found = match_subset(want, item, path + (str(index),))
            if not found:
                used.add(index)
                best = None
                break
            if best is None or len(found) < len(best[1]):
                best = (index, found)
        else:
            if best is None:
                out.append(Mismatch(path, want, MISSING, "no element of the list (length %d) matches" % len(actual)))
            else:
                out.append(Mismatch(path, want, actual[best[0]],
                                    "no element of the list matches; closest is element %d: %s"
                                    % (best[0], "; ".join(describe_mismatch(m) for m in best[1]))))
    return out


def _show(value, limit=200):
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def describe_mismatch(mismatch):
    """One line: ``version: expected "1.1.0", got "1.2.0"``."""
    where = format_path(mismatch.path)
    if mismatch.actual is MISSING:
        return "%s: missing, expected %s (%s)" % (where, _show(mismatch.expected), mismatch.reason)
    if mismatch.reason == "values differ":
        return "%s: expected %s, got %s" % (where, _show(mismatch.expected), _show(mismatch.actual))
    return "%s: %s: expected %s, got %s" % (where, mismatch.reason, _show(mismatch.expected), _show(mismatch.actual))


def format_mismatches(mismatches):
    return [describe_mismatch(m) for m in mismatches]


def project(expected, actual):
    """``actual`` cut down to the shape of ``expected`` (same keys/paths; missing ones left out), so that
    ``expected`` and ``project(expected, actual)`` side by side make a readable diff."""
    if isinstance(expected, dict) and isinstance(actual, (dict, list)):
        out = {}
        for key, want in expected.items():
            ok, value, _walked = resolve(actual, key)
            if ok:
                out[key] = project(want, value)
        return out
    return actual
