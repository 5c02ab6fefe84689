# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EF Core migration identities and plans: pure logic, no database.

A MigrationId is ``yyyyMMddHHmmss_Name`` (UTC); EF orders migrations by ordinal string comparison.
``plan_migration`` reproduces what ``dotnet ef database update <target>`` does: revert every applied
migration that is not at or before the target (newest first), then apply every migration at or before
the target that is not applied (oldest first).
"""
from __future__ import annotations

import re

# The id comes from [Migration("...")]: usually a C# class name, but real projects have names with spaces or dots.
# Quotes, semicolons, backslashes and control characters are never part of one.
_NAME_CHARS = r"[^\x00-\x1f'\"\\;]"
MIGRATION_ID_RE = re.compile(r"^(?P<stamp>\d{14})_(?P<name>%s+)$" % _NAME_CHARS)
BARE_NAME_RE = re.compile(r"^[A-Za-z_]%s*$" % _NAME_CHARS)
INITIAL = "0"


class PlanError(ValueError):
    """Bad input for a plan: says what is wrong and how to fix it."""


def is_migration_id(value):
    return bool(MIGRATION_ID_RE.match(value or ""))


def migration_name(migration_id):
    match = MIGRATION_ID_RE.match(migration_id)
    return match.group("name") if match else migration_id


def ordinal_key(migration_id):
    """EF compares MigrationIds with StringComparison.Ordinal: UTF-16 code units."""
    return migration_id.encode("utf-16-be")


def sort_migrations(ids):
    return sorted(set(ids), key=ordinal_key)


def _listing(ids, limit=12):
    ids = list(ids)
    shown = ", ".join(ids[-limit:]) if ids else "none"
    return ("... " if len(ids) > limit else "") + shown


def resolve_target(target, applied, known=()):
    """The full MigrationId (or ``0``) that ``target`` names.

    ``target`` may be a full id, the bare name when exactly one migration has it, or ``0``
    (before the first migration). ``applied`` are the ids in the history table, ``known`` the ids
    found in the scripts.
    """
    if target is None:
        raise PlanError("No target given.")
    target = str(target).strip()
    if target == INITIAL:
        return INITIAL
    candidates = sort_migrations(list(applied) + list(known))
    if is_migration_id(target):
        if target in candidates:
            return target
        raise PlanError(
            "Unknown target migration %s: it is neither applied in the database nor found in the given scripts. "
            "Applied: %s. Check the id (yyyyMMddHHmmss_Name) or add the script that contains it."
            % (target, _listing(sort_migrations(applied))))
    if not BARE_NAME_RE.match(target):
        raise PlanError(
            "Malformed target %r: give a full MigrationId (yyyyMMddHHmmss_Name, e.g. 20260201120000_InitialCreate), "
            "the bare migration name when it is unambiguous, or 0 for 'before the first migration'." % target)
    matches = [m for m in candidates if migration_name(m) == target]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise PlanError("Unknown target migration name %r: no applied or scripted migration is named so. Applied: %s."
                        % (target, _listing(sort_migrations(applied))))
    raise PlanError("Ambiguous target %r: it names %d migrations (%s). Give the full MigrationId."
                    % (target, len(matches), ", ".join(matches)))


def plan_migration(applied, target, known=()):
    """Return ``{'target', 'to_revert' (newest first), 'to_apply' (oldest first)}`` for a resolved target."""
    applied_sorted = sort_migrations(applied)
    universe = sort_migrations(list(applied) + list(known))
    if target != INITIAL and target not in universe:
        raise PlanError("Target %s is not a known migration." % target)

    def at_or_before(mid):
        return target != INITIAL and ordinal_key(mid) <= ordinal_key(target)

    to_revert = [m for m in reversed(applied_sorted) if not at_or_before(m)]
    applied_set = set(applied_sorted)
    to_apply = [m for m in universe if at_or_before(m) and m not in applied_set]
    return {"target": target, "to_revert": to_revert, "to_apply": to_apply}


def expected_history(applied, plan):
    """The history (oldest first) the database must have once ``plan`` has run."""
    reverted = set(plan["to_revert"])
    return sort_migrations([m for m in applied if m not in reverted] + list(plan["to_apply"]))


def current_of(applied):
    ordered = sort_migrations(applied)
    return ordered[-1] if ordered else None
