# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint an EF Core migrations folder tree: every migration of every DbContext, its findings, the counts.

``lint_folder(path, since=None, ignore=())`` reads the C# sources (ef_csharp), checks each migration
(ef_lint_rules) and returns ``{"migrations": [...], "contexts": {...}, "counts": {...}, "sql_resources": [...]}``.
``reaches(counts, fail_on)`` tells whether the findings reach the failure threshold.
"""
from __future__ import annotations

import os
import re

from ansible_collections.almafrica.rollback.plugins.module_utils.ef_csharp import find_source_files, read_migrations
from ansible_collections.almafrica.rollback.plugins.module_utils.ef_lint_rules import finding, lint_migration
from ansible_collections.almafrica.rollback.plugins.module_utils.ef_migrations import (
    MIGRATION_ID_RE, migration_name, ordinal_key)

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
NO_CONTEXT = "(no DbContext attribute)"
FILE_ID_RE = re.compile(r"(\d{14}_[A-Za-z_][A-Za-z0-9_]*)")


class LintError(ValueError):
    """Bad input (no such folder, unknown 'since'): says what is wrong and how to fix it."""


def _display_id(cls):
    """The MigrationId, or for a class EF cannot see, the id its file name suggests."""
    if cls.migration_id:
        return cls.migration_id
    for path in cls.files:
        match = FILE_ID_RE.search(os.path.basename(path))
        if match:
            return match.group(1)
    return cls.name


def _resolve_reference(value, ids, what):
    """A full MigrationId as given; a bare name resolved among the folder's migrations."""
    value = (value or "").strip()
    if MIGRATION_ID_RE.match(value):
        return value
    matches = sorted({i for i in ids if migration_name(i) == value or i == value})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LintError("%s %r is neither a MigrationId (yyyyMMddHHmmss_Name) nor the name of a migration in the "
                        "folder." % (what, value))
    raise LintError("%s %r is ambiguous: %s. Give the full MigrationId." % (what, value, ", ".join(matches)))


def _duplicates(entries):
    found = {}
    seen = {}
    for entry in entries:
        key = (entry["context"], entry["id"])
        if entry["recognised"] and key in seen:
            found.setdefault(entry["id"], []).append(entry)
            found[entry["id"]].append(seen[key])
        seen[key] = entry
    for mid, dupes in found.items():
        for entry in dupes:
            entry["findings"].append(finding("error", "duplicate_id", "MigrationId %s is declared by more than one "
                                             "class in context %s (%s)." % (mid, entry["context"], ", ".join(
                                                 sorted({e["class"] for e in dupes}))), file=entry["files"][0], line=1))


def lint_folder(path, since=None, ignore=()):
    if not os.path.isdir(path):
        raise LintError("Migrations folder %s does not exist or is not a directory." % path)
    sources, resources = find_source_files(path)
    classes = read_migrations(sources, path)
    migrations = [c for c in classes if c.is_migration]
    if not migrations:
        raise LintError("No EF Core migration (a class deriving from Migration, or with a [Migration] attribute) "
                        "found under %s (%d .cs files read)." % (path, len(sources)))
    ids = [c.migration_id for c in migrations if c.migration_id]
    since_id = _resolve_reference(since, ids, "since") if since else None
    ignored = {}
    for item in ignore or ():
        display_ids = ids + [_display_id(c) for c in migrations if not c.migration_id]
        ignored[_resolve_reference(item["id"], display_ids, "ignore id")] = item.get("reason") or ""

    entries = []
    for cls in migrations:
        mid = _display_id(cls)
        entries.append({
            "id": mid, "name": migration_name(mid), "class": cls.full_name, "context": cls.context or NO_CONTEXT,
            "recognised": bool(cls.migration_id), "files": sorted(cls.files),
            "operations": {"up": len(cls.up.operations) + len(cls.up.other_calls),
                           "down": len(cls.down.operations) + len(cls.down.other_calls)},
            "linted": since_id is None or not cls.migration_id or ordinal_key(mid) > ordinal_key(since_id),
            "ignored": mid in ignored, "findings": lint_migration(cls),
        })
        if mid in ignored:
            entries[-1]["ignore_reason"] = ignored[mid]
    entries.sort(key=lambda e: (ordinal_key(e["id"]), e["context"], e["class"]))
    _duplicates(entries)

    counts = {"migrations": len(entries), "linted": 0, "skipped": 0, "ignored": 0}
    counts.update((s, 0) for s in SEVERITIES)
    contexts = {}
    for entry in entries:
        entry["findings"].sort(key=lambda f: (-SEVERITY_RANK[f["severity"]], f["file"] or "", f["line"] or 0))
        entry["counts"] = dict((s, sum(1 for f in entry["findings"] if f["severity"] == s)) for s in SEVERITIES)
        contexts.setdefault(entry["context"], []).append(entry["id"])
        if not entry["linted"]:
            counts["skipped"] += 1
        elif entry["ignored"]:
            counts["ignored"] += 1
        else:
            counts["linted"] += 1
            for severity in SEVERITIES:
                counts[severity] += entry["counts"][severity]
    return {"migrations": entries, "contexts": contexts, "counts": counts, "since": since_id,
            "sql_resources": sorted(os.path.relpath(r, path) for r in resources),
            "unused_ignores": sorted(set(ignored) - {e["id"] for e in entries})}


def reaches(counts, fail_on):
    """True when the counted findings (linted, not ignored) are at or above ``fail_on``."""
    return any(counts[s] for s in SEVERITIES if SEVERITY_RANK[s] >= SEVERITY_RANK[fail_on])


def failing_summary(result, fail_on, limit=10):
    """One line per counted finding at or above ``fail_on``, for the failure message."""
    lines = []
    for entry in result["migrations"]:
        if not entry["linted"] or entry["ignored"]:
            continue
        for f in entry["findings"]:
            if SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[fail_on]:
                fields = (entry["id"], f["severity"], f["kind"], f["message"], f["file"], f["line"])
                lines.append("%s [%s %s] %s (%s:%s)" % fields)
    more = len(lines) - limit
    return lines[:limit] + (["... and %d more" % more] if more > 0 else [])
