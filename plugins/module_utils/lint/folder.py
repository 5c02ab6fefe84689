# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lint an EF Core migrations folder tree: every migration of every DbContext, its findings, the counts.

``lint_folder(path, since=None, ignore=(), timeout=60)`` reads the C# sources (lint.csharp), checks each migration
(lint.rules) and returns ``{"migrations": [...], "contexts": {...}, "counts": {...}, "sql_resources": [...]}``;
past ``timeout`` seconds it raises LintTimeout naming the file it was reading. ``reaches(counts, fail_on)`` tells
whether the findings reach the failure threshold; ``compact_result`` and ``summary_line`` shape it for people.
"""
from __future__ import annotations

import difflib
import os
import re
import signal
import threading
import time

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.csharp import find_source_files, read_migrations
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.rules import finding, lint_migration
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.migrations import (
    MIGRATION_ID_RE, migration_name, ordinal_key)

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
NO_CONTEXT = "(no DbContext attribute)"
FILE_ID_RE = re.compile(r"(\d{14}_[A-Za-z_][A-Za-z0-9_]*)")


class LintError(ValueError):
    """Bad input (no such folder, unknown 'since'): says what is wrong and how to fix it."""


class LintTimeout(LintError):
    """The folder's time limit was reached: says in which file."""


class Deadline(object):
    """A time limit for one folder, checked between files and migrations, that remembers where the lint is.

    Where the platform allows (POSIX, main thread), ``armed()`` also sets a real-time alarm one second past the
    limit, a backstop so that even code that never reaches a check stops, with the same message.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds if seconds else None
        self.where = "the folder listing"

    def message(self):
        return ("Linting stopped at the time limit of %s s while reading %s. Raise 'timeout', or lint a smaller "
                "folder (or use 'since')." % (_seconds(self.seconds), self.where))

    def at(self, where):
        self.where = where
        if self.ends is not None and time.monotonic() > self.ends:
            raise LintTimeout(self.message())

    def _alarm(self, signum, frame):
        raise LintTimeout(self.message())

    def armed(self):
        return _Alarm(self)


ALARM_GRACE = 1.0


class _Alarm(object):
    def __init__(self, deadline):
        self.deadline = deadline
        self.previous = None

    def __enter__(self):
        usable = self.deadline.ends is not None and hasattr(signal, "setitimer") \
            and threading.current_thread() is threading.main_thread()
        if usable:
            self.previous = signal.signal(signal.SIGALRM, self.deadline._alarm)
            signal.setitimer(signal.ITIMER_REAL, max(self.deadline.ends - time.monotonic(), 0) + ALARM_GRACE)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def _seconds(value):
    return ("%g" % value) if isinstance(value, float) else str(value)


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


def _closest(value, candidates, n=5):
    """The names in ``candidates`` closest to ``value``, by full id and by bare name."""
    close = difflib.get_close_matches(value, candidates, n=3, cutoff=0.8)
    by_name = {}
    for c in candidates:
        by_name.setdefault(migration_name(c), c)
    for name in difflib.get_close_matches(migration_name(value), list(by_name), n=n, cutoff=0.5):
        if by_name[name] not in close:
            close.append(by_name[name])
    if re.match(r"^\d{14}", value):  # a timestamp: the migrations just before and after it are close too
        ordered = sorted(candidates, key=ordinal_key)
        after = next((k for k, c in enumerate(ordered) if c[:14] > value[:14]), len(ordered))
        close.extend(c for c in ordered[max(after - 2, 0):after + 1] if c not in close)
    return close[:n]


def _resolve_since(value, ids):
    """``since`` must name a migration of the folder (full id or unambiguous bare name)."""
    value = (value or "").strip()
    if value in ids:
        return value
    matches = sorted({i for i in ids if migration_name(i) == value})
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise LintError("since %r is ambiguous: %s. Give the full MigrationId." % (value, ", ".join(matches)))
    close = _closest(value, sorted(set(ids)))
    raise LintError("since %r names no migration in the folder (%d migrations). %s" % (
        value, len(set(ids)), "Closest: %s." % ", ".join(close) if close else
        "Give a MigrationId (yyyyMMddHHmmss_Name) or the name of one of the folder's migrations."))


def folder_provider(classes):
    """The EF provider the folder's migrations were scaffolded for, when exactly one is named (else None)."""
    named = set()
    for cls in classes:
        named |= cls.providers
    return named.pop() if len(named) == 1 else None


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


def lint_folder(path, since=None, ignore=(), timeout=60):
    """Lint every migration under ``path`` within ``timeout`` seconds (0 or None: no limit)."""
    if not os.path.isdir(path):
        raise LintError("Migrations folder %s does not exist or is not a directory." % path)
    if timeout is not None and timeout < 0:
        raise LintError("timeout must be 0 (no limit) or a number of seconds, not %s." % timeout)
    deadline = Deadline(timeout)
    with deadline.armed():
        return _lint_folder(path, since, ignore, deadline)


def _lint_folder(path, since, ignore, deadline):
    sources, resources = find_source_files(path)
    classes = read_migrations(sources, path, on_file=deadline.at)
    migrations = [c for c in classes if c.is_migration]
    if not migrations:
        raise LintError("No EF Core migration (a class deriving from Migration, or with a [Migration] attribute) "
                        "found under %s (%d .cs files read)." % (path, len(sources)))
    provider = folder_provider(classes)
    ids = [c.migration_id for c in migrations if c.migration_id]
    since_id = _resolve_since(since, ids) if since else None
    ignored = {}
    for item in ignore or ():
        display_ids = ids + [_display_id(c) for c in migrations if not c.migration_id]
        ignored[_resolve_reference(item["id"], display_ids, "ignore id")] = item.get("reason") or ""

    entries = []
    for cls in migrations:
        mid = _display_id(cls)
        deadline.at("%s (%s)" % (cls.files[0], mid))
        entries.append({
            "id": mid, "name": migration_name(mid), "class": cls.full_name, "context": cls.context or NO_CONTEXT,
            "recognised": bool(cls.migration_id), "files": sorted(cls.files),
            "operations": {"up": len(cls.up.operations) + len(cls.up.other_calls),
                           "down": len(cls.down.operations) + len(cls.down.other_calls)},
            "linted": since_id is None or not cls.migration_id or ordinal_key(mid) > ordinal_key(since_id),
            "ignored": mid in ignored, "findings": lint_migration(cls, provider),
        })
        if mid in ignored:
            entries[-1]["ignore_reason"] = ignored[mid]
        if cls.inherited:
            entries[-1]["inherits"] = dict(cls.inherited)
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
    return {"migrations": entries, "contexts": contexts, "counts": counts, "since": since_id, "provider": provider,
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


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def status_line(entry):
    """One line per migration: its finding counts in words, or why it was not counted."""
    if not entry["linted"]:
        return "not linted (at or before since)"
    text = ", ".join(_plural(entry["counts"][s], s) for s in SEVERITIES if entry["counts"][s]) or "ok"
    if entry["ignored"]:
        text += " (ignored: %s)" % entry.get("ignore_reason", "")
    return text


def summary_line(result, path):
    counts = result["counts"]
    with_findings = sum(1 for e in result["migrations"] if e["linted"] and not e["ignored"] and e["findings"])
    text = "%s linted under %s: %s, %s, %s" % (
        "%d of %s" % (counts["linted"], _plural(counts["migrations"], "migration")), path,
        _plural(counts["error"], "error"), _plural(counts["warning"], "warning"), _plural(counts["info"], "info"))
    extra = []
    if with_findings:
        extra.append("%s with findings" % _plural(with_findings, "migration"))
    if counts["skipped"]:
        extra.append("%d before 'since'" % counts["skipped"])
    if counts["ignored"]:
        extra.append("%d ignored" % counts["ignored"])
    return text + (" (%s)." % "; ".join(extra) if extra else ".")


# Infos that ask nothing of the reader (what a rollback loses of data written since, EF's placeholder defaults,
# harmless settings): counted in the status lines and in ``infos``, listed only with ``details``.
INFORMATIVE_KINDS = frozenset(("drops_created", "default_added", "left_behind"))


def _listed(finding, details):
    return details or finding["severity"] != "info" or finding["kind"] not in INFORMATIVE_KINDS


def compact_result(result, details=False):
    """What the module returns: per-migration status lines, and findings only where there are some to read.

    By default a migration is listed only for its errors, warnings and the infos that ask for a check (raw SQL,
    unknown base classes, run-time names); ``infos`` counts every info by kind. With ``details`` every migration
    comes with everything known about it (files, class, operation counts, every finding).
    """
    out = {k: result[k] for k in ("counts", "since", "provider", "sql_resources", "unused_ignores")}
    infos = {}
    for entry in result["migrations"]:
        if entry["linted"] and not entry["ignored"]:
            for f in entry["findings"]:
                if f["severity"] == "info":
                    infos[f["kind"]] = infos.get(f["kind"], 0) + 1
    out["infos"] = infos
    status = {}
    for entry in result["migrations"]:
        key = entry["id"] if entry["id"] not in status else "%s (%s)" % (entry["id"], entry["class"])
        status[key] = status_line(entry)
    out["status"] = status
    if details:
        out["migrations"] = result["migrations"]
        out["contexts"] = result["contexts"]
        return out
    out["contexts"] = dict((ctx, len(ids)) for ctx, ids in result["contexts"].items())
    compact = []
    for entry in result["migrations"]:
        listed = [f for f in entry["findings"] if _listed(f, details)]
        if not entry["linted"] or not listed:
            continue
        item = {k: entry[k] for k in ("id", "context", "ignored", "counts")}
        item["findings"] = listed
        if entry["ignored"]:
            item["ignore_reason"] = entry.get("ignore_reason", "")
        compact.append(item)
    out["migrations"] = compact
    return out
