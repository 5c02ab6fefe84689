# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static checks of one EF Core migration: does its Down() undo its Up(), and what does Down() destroy.

``lint_migration(cls)`` takes a MigrationClass read by ef_csharp and returns its findings. A finding is
``{severity, kind, message, file, line}``; severities are ``error`` (the rollback will not restore the schema, or
cannot run), ``warning`` (data is destroyed, or
something is left behind) and ``info`` (cannot be verified statically: check it with a real round trip).
"""
from __future__ import annotations

import re

from ansible_collections.almafrica.rollback.plugins.module_utils.ef_csharp import SIGNATURES, Unresolved
from ansible_collections.almafrica.rollback.plugins.module_utils.ef_types import describe_change

DESTRUCTIVE_SQL_RE = re.compile(r"\b(DROP\s+(?:TABLE|COLUMN|SCHEMA|TYPE)|DELETE\s+FROM|"
                                r"TRUNCATE|ALTER\s+COLUMN\s+\S+\s+(?:SET\s+DATA\s+)?TYPE)\b", re.I)
SQL_RESOURCE_RE = re.compile(r"[\w./\\-]+\.p?sql\b", re.I)

# Up() operation -> (Down() operations that undo it, identity fields that must match)
INVERSES = {
    "CreateTable": (("DropTable",), ("name",)),
    "DropTable": (("CreateTable",), ("name",)),
    "AddColumn": (("DropColumn",), ("name", "table")),
    "DropColumn": (("AddColumn",), ("name", "table")),
    "CreateIndex": (("DropIndex",), ("name", "table")),
    "DropIndex": (("CreateIndex",), ("name", "table")),
    "AddForeignKey": (("DropForeignKey",), ("name", "table")),
    "DropForeignKey": (("AddForeignKey",), ("name", "table")),
    "AddPrimaryKey": (("DropPrimaryKey",), ("name", "table")),
    "DropPrimaryKey": (("AddPrimaryKey",), ("name", "table")),
    "AddUniqueConstraint": (("DropUniqueConstraint",), ("name", "table")),
    "DropUniqueConstraint": (("AddUniqueConstraint",), ("name", "table")),
    "AddCheckConstraint": (("DropCheckConstraint",), ("name", "table")),
    "CreateCheckConstraint": (("DropCheckConstraint",), ("name", "table")),
    "DropCheckConstraint": (("AddCheckConstraint", "CreateCheckConstraint"), ("name", "table")),
    "CreateSequence": (("DropSequence",), ("name",)),
    "DropSequence": (("CreateSequence",), ("name",)),
    "AlterSequence": (("AlterSequence",), ("name",)),
    "AlterTable": (("AlterTable",), ("name",)),
    "AlterDatabase": (("AlterDatabase",), ()),
    "InsertData": (("DeleteData",), ("table",)),
    "DeleteData": (("InsertData",), ("table",)),
    "UpdateData": (("UpdateData",), ("table",)),
    "EnsureSchema": (("DropSchema",), ("name",)),
    "DropSchema": (("EnsureSchema",), ("name",)),
}
RENAMES = {"RenameColumn": "column", "RenameTable": "table", "RenameIndex": "index", "RenameSequence": "sequence"}
# Up() operations on a table that Down() satisfies by dropping (or, for drops, re-creating) the whole table.
TABLE_SCOPED = frozenset(("AddColumn", "CreateIndex", "AddForeignKey", "AddPrimaryKey", "AddUniqueConstraint",
                          "AddCheckConstraint", "CreateCheckConstraint", "InsertData", "AlterColumn", "RenameColumn",
                          "RenameIndex", "UpdateData"))
TABLE_SCOPED_DROPS = frozenset(("DropColumn", "DropIndex", "DropForeignKey", "DropPrimaryKey",
                                "DropUniqueConstraint", "DropCheckConstraint", "DeleteData"))
# Left behind by a rollback without harm to data: reported, but not as errors.
LEFT_BEHIND_IS_WARNING = frozenset(("EnsureSchema", "EnsurePostgresExtension"))
SQL_LIKE = "Sql"


def finding(severity, kind, message, op=None, file=None, line=None):
    return {"severity": severity, "kind": kind, "message": message,
            "file": op.file if op is not None else file, "line": op.line if op is not None else line}


def _shown(value):
    if isinstance(value, Unresolved):
        return "<%s>" % value.text
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return str(value)


class _Names(object):
    """Table names of one migration, with every name a RenameTable gave it treated as the same table."""

    def __init__(self, operations):
        self.parent = {}
        for op in operations:
            if op.kind == "RenameTable" and isinstance(op.get("name"), str) and isinstance(op.get("newName"), str):
                self.parent[self.root(op.get("newName"))] = self.root(op.get("name"))

    def root(self, name):
        while name in self.parent:
            name = self.parent[name]
        return name

    def same(self, field, a, b):
        if isinstance(a, Unresolved) or isinstance(b, Unresolved):
            return True  # computed at run time: match loosely (an info finding says so)
        if field == "table" and isinstance(a, str) and isinstance(b, str):
            return self.root(a) == self.root(b)
        if field == "table" or a is None or b is None:
            return a == b or a is None or b is None
        return a == b


def _table_of(op):
    return op.get("name") if op.kind in ("CreateTable", "DropTable", "AlterTable") else op.get("table")


def _matches(names, up_op, down_op, fields):
    for field in fields:
        if field == "name" and up_op.kind in ("CreateTable", "DropTable"):
            if not names.same("table", up_op.get("name"), down_op.get("name")):
                return False
        elif not names.same(field, up_op.get(field), down_op.get(field)):
            return False
    schema_up, schema_down = up_op.get("schema"), down_op.get("schema")
    return schema_up is None or schema_down is None or names.same("schema", schema_up, schema_down)


def _describe(op):
    kind = op.kind
    table, name = op.get("table"), op.get("name")
    if kind in ("CreateTable", "DropTable", "AlterTable"):
        return "%s(%s)" % (kind, _shown(name))
    if kind in ("AddColumn", "DropColumn", "AlterColumn"):
        return "%s(%s.%s)" % (kind, _shown(table), _shown(name))
    if kind in RENAMES:
        return "%s(%s -> %s)" % (kind, _shown(name), _shown(op.get("newName")))
    if kind in ("InsertData", "DeleteData", "UpdateData"):
        return "%s(%s)" % (kind, _shown(table))
    if name is not None:
        return "%s(%s%s)" % (kind, _shown(name), " on %s" % _shown(table) if table is not None else "")
    return kind


def _rename_text(op):
    what = RENAMES[op.kind]
    on = " of table %s" % _shown(op.get("table")) if op.kind == "RenameColumn" else ""
    return "%s %s%s to %s" % (what, _shown(op.get("name")), on, _shown(op.get("newName")))


def _check_rename(names, up_op, down_ops):
    old, new = up_op.get("name"), up_op.get("newName")
    same_kind = [d for d in down_ops if d.kind == up_op.kind]
    for down in same_kind:
        if names.same("name", down.get("name"), new) and (up_op.kind != "RenameColumn" or
                                                          names.same("table", down.get("table"), up_op.get("table"))):
            if names.same("name", down.get("newName"), old):
                return None
            return finding("error", "wrong_inverse", "Up() renames %s, but Down() renames it to %s instead of back "
                           "to %s." % (_rename_text(up_op), _shown(down.get("newName")), _shown(old)), down)
    return finding("error", "no_inverse", "Up() renames %s and Down() never renames it back." % _rename_text(up_op),
                   up_op)


def _check_alter_column(names, up_op, down_ops):
    down = next((d for d in down_ops if d.kind == "AlterColumn" and _matches(names, up_op, d, ("name", "table"))), None)
    if down is None:
        if any(d.kind == "DropColumn" and _matches(names, up_op, d, ("name", "table")) for d in down_ops):
            return [finding("error", "wrong_inverse", "Up() alters column %s.%s; Down() drops the column instead of "
                            "altering it back." % (_shown(up_op.get("table")), _shown(up_op.get("name"))), up_op)]
        return [finding("error", "no_inverse", "Up() alters column %s.%s (%s) and Down() never alters it back."
                        % (_shown(up_op.get("table")), _shown(up_op.get("name")), _alter_summary(up_op)), up_op)]
    problems = []
    column = "%s.%s" % (_shown(up_op.get("table")), _shown(up_op.get("name")))
    for new_key, old_key, label in (("type", "oldType", "type"), ("maxLength", "oldMaxLength", "max length"),
                                    ("precision", "oldPrecision", "precision"), ("scale", "oldScale", "scale"),
                                    ("collation", "oldCollation", "collation")):
        before, restored = up_op.get(old_key), down.get(new_key)
        if before is None or restored is None:
            continue
        if _norm(before) != _norm(restored):
            problems.append("%s %s instead of %s" % (label, _shown(restored), _shown(before)))
    if bool(up_op.get("oldNullable", False)) != bool(down.get("nullable", False)):
        problems.append("%s instead of %s" % (_nullability(down.get("nullable", False)),
                                              _nullability(up_op.get("oldNullable", False))))
    for new_key, old_key in (("defaultValueSql", "oldDefaultValueSql"), ("defaultValue", "oldDefaultValue")):
        if up_op.get(old_key) != down.get(new_key) and not isinstance(up_op.get(old_key), Unresolved):
            problems.append("%s %s instead of %s" % (new_key, _shown(down.get(new_key)), _shown(up_op.get(old_key))))
    if problems:
        return [finding("error", "wrong_inverse", "Down() does not restore column %s as it was before Up(): %s."
                        % (column, "; ".join(problems)), down)]
    return []


def _alter_summary(op):
    parts = []
    if op.get("oldType") is not None or op.get("type") is not None:
        parts.append("type %s -> %s" % (_shown(op.get("oldType")), _shown(op.get("type"))))
    if op.get("oldNullable", False) != op.get("nullable", False):
        parts.append("%s -> %s" % (_nullability(op.get("oldNullable", False)), _nullability(op.get("nullable", False))))
    if op.get("oldMaxLength") is not None or op.get("maxLength") is not None:
        parts.append("max length %s -> %s" % (_shown(op.get("oldMaxLength")), _shown(op.get("maxLength"))))
    return ", ".join(parts) or "annotations"


def _nullability(value):
    return "nullable" if value else "NOT NULL"


def _norm(value):
    return re.sub(r"\s+", " ", value.strip().lower()) if isinstance(value, str) else value


def _sql_text(op):
    sql = op.get("sql")
    if isinstance(sql, str):
        first = next((ln.strip() for ln in sql.splitlines() if ln.strip()), "")
        return first[:100]
    return op.text[:100]


def _resources_named(op):
    text = op.text if isinstance(op.get("sql"), str) is False else ""
    args = op.args.get("args") or [v for v in op.args.values() if isinstance(v, str)]
    text += " " + " ".join(a for a in args if isinstance(a, str))
    return sorted(set(SQL_RESOURCE_RE.findall(text)))


def _check_opaque(up_op, down):
    """Sql() and calls we cannot see into: say so, louder when Down() runs nothing of the kind."""
    down_opaque = [d for d in down.operations if d.kind == SQL_LIKE or d.kind not in SIGNATURES] + down.other_calls
    what = "raw SQL (%s)" % _sql_text(up_op) if up_op.kind == SQL_LIKE else "%s" % up_op.text[:100]
    resources = _resources_named(up_op)
    if resources:
        what += " from %s" % ", ".join(resources)
    if down_opaque:
        return finding("info", "sql_unverified", "Up() runs %s; Down() also runs raw SQL or helpers (line %s): cannot "
                       "verify statically that it reverses it. Check it with a round trip on a scratch database."
                       % (what, ", ".join(str(d.line) for d in down_opaque)), up_op)
    return finding("warning", "sql_unverified", "Up() runs %s and Down() runs no SQL: cannot verify it is undone. "
                   "If it only changes data on purpose, ignore this migration with a reason." % what, up_op)


def _check_down_destroys(names, up, down):
    found = []
    up_created_tables = {names.root(op.get("name")) for op in up.operations
                         if op.kind == "CreateTable" and isinstance(op.get("name"), str)}
    up_added_columns = {(names.root(op.get("table")), op.get("name")) for op in up.operations
                        if op.kind == "AddColumn" and isinstance(op.get("table"), str)}
    up_alters = [op for op in up.operations if op.kind == "AlterColumn"]
    for op in down.operations:
        if op.kind == "DropTable":
            found.append(finding("warning", "data_loss", "Down() drops table %s: every row in it is lost."
                                 % _shown(op.get("name")), op))
            if isinstance(op.get("name"), str) and names.root(op.get("name")) not in up_created_tables:
                found.append(finding("warning", "drops_unrelated", "Down() drops table %s, which Up() did not create."
                                     % _shown(op.get("name")), op))
        elif op.kind == "DropColumn":
            found.append(finding("warning", "data_loss", "Down() drops column %s.%s: its values are lost."
                                 % (_shown(op.get("table")), _shown(op.get("name"))), op))
            if isinstance(op.get("table"), str) and (names.root(op.get("table")), op.get("name")) not in up_added_columns:
                found.append(finding("warning", "drops_unrelated", "Down() drops column %s.%s, which Up() did not add."
                                     % (_shown(op.get("table")), _shown(op.get("name"))), op))
        elif op.kind == "AlterColumn":
            found.extend(_alter_losses(names, op, up_alters))
        elif op.kind == SQL_LIKE and isinstance(op.get("sql"), str):
            match = DESTRUCTIVE_SQL_RE.search(op.get("sql"))
            if match:
                found.append(finding("warning", "data_loss", "Down() raw SQL runs %s (%s): it may destroy data that "
                                     "cannot be measured statically." % (" ".join(match.group(0).split()), _sql_text(op)), op))
    return found


def _alter_losses(names, op, up_alters):
    up_op = next((u for u in up_alters if _matches(names, u, op, ("name", "table"))), None)
    column = "%s.%s" % (_shown(op.get("table")), _shown(op.get("name")))
    found = []
    current = op.get("oldType") if op.get("oldType") is not None else (up_op.get("type") if up_op else None)
    target = op.get("type")
    verdict, reason = describe_change(current, target)
    if verdict in ("narrows", "converts"):
        found.append(finding("warning", "data_loss", "Down() changes column %s from %s to %s: %s."
                             % (column, _shown(current), _shown(target), reason), op))
    old_len = op.get("oldMaxLength") if op.get("oldMaxLength") is not None else (up_op.get("maxLength") if up_op else None)
    new_len = op.get("maxLength")
    if isinstance(old_len, int) and isinstance(new_len, int) and new_len < old_len and verdict in ("same", "unknown"):
        found.append(finding("warning", "data_loss", "Down() shortens column %s from %d to %d characters: longer "
                             "values are cut or make the rollback fail." % (column, old_len, new_len), op))
    was_nullable = op.get("oldNullable") if op.get("oldNullable") is not None else (
        up_op.get("nullable", False) if up_op else False)
    if was_nullable and not op.get("nullable", False):
        found.append(finding("warning", "not_null", "Down() makes column %s NOT NULL: the rollback fails if any row "
                             "holds NULL there (give it a default or update the rows first)." % column, op))
    return found


def _main_file(cls):
    """The file a reader opens to fix the class: where Up() is, else the part that is not the Designer."""
    if cls.up.file:
        return cls.up.file
    return next((f for f in cls.files if not f.endswith(".Designer.cs")), cls.files[0])


def lint_migration(cls):
    """Findings for one MigrationClass (any order; the caller sorts)."""
    found = []
    main_file = _main_file(cls)
    up, down = cls.up, cls.down
    if not cls.migration_id:
        found.append(finding("error", "not_recognised", "Class %s derives from Migration but has no [Migration(\"...\")] "
                             "attribute (is its .Designer.cs missing?): EF Core does not see it, so neither "
                             "'database update' nor a rollback ever runs it." % cls.full_name, file=main_file, line=1))
    for method in (up, down):
        if method.syntax_errors:
            found.append(finding("warning", "syntax", "%s() has C# the parser could not read (line %s): findings for "
                                 "it may be incomplete." % (method.name, ", ".join(map(str, sorted(
                                     set(method.syntax_errors))[:5]))), file=method.file, line=method.syntax_errors[0]))
    if not up.present:
        found.append(finding("error", "missing_up", "No Up() method.", file=main_file, line=1))
    if not down.present:
        found.append(finding("error", "missing_down", "No Down() method: EF's default Down() throws, so this migration "
                             "cannot be rolled back.", file=main_file, line=1))
        return found
    if down.throws:
        found.append(finding("error", "irreversible", "Down() throws (%s): this migration cannot be rolled back."
                             % down.throws[:120], file=down.file, line=down.line))
        return found
    up_work = up.operations or up.other_calls
    if up_work and down.statements == 0:
        found.append(finding("error", "empty_down", "Down() is empty while Up() has %d operation(s): a rollback "
                             "removes the history row and leaves the schema as it is." % len(up_work),
                             file=down.file, line=down.line))
        return found
    names = _Names(up.operations + down.operations)
    for op in up.operations:
        found.extend(_check_up_operation(names, op, down))
    for call in up.other_calls:
        found.append(_check_opaque(call, down))
    found.extend(_check_down_destroys(names, up, down))
    for op in up.operations + down.operations:
        loose = [k for k in ("name", "table", "newName") if isinstance(op.get(k), Unresolved)]
        if loose:
            found.append(finding("info", "unresolved", "%s: %s computed at run time (%s); matched loosely."
                                 % (op.kind, ", ".join(loose), op.get(loose[0]).text[:60]), op))
    return found


def _check_up_operation(names, op, down):
    kind = op.kind
    if kind == SQL_LIKE or kind not in SIGNATURES:
        return [_check_opaque(op, down)]
    if kind in RENAMES:
        result = _check_rename(names, op, down.operations)
        return [result] if result else []
    if kind == "AlterColumn":
        if _dropped_with_table(names, op, down):
            return []
        return _check_alter_column(names, op, down.operations)
    if kind == "RestartSequence":
        return [finding("info", "no_inverse", "Up() restarts sequence %s: a rollback cannot restore its previous value."
                        % _shown(op.get("name")), op)]
    if kind == "EnsurePostgresExtension" or kind not in INVERSES:
        return [finding("warning", "left_behind", "Up() runs %s and Down() has no inverse: it stays after a rollback."
                        % _describe(op), op)]
    inverse_kinds, fields = INVERSES[kind]
    if any(d.kind in inverse_kinds and _matches(names, op, d, fields) for d in down.operations):
        return []
    if kind in TABLE_SCOPED and _dropped_with_table(names, op, down):
        return []
    if kind in TABLE_SCOPED_DROPS and _recreated_with_table(names, op, down):
        return []
    if kind in ("CreateIndex", "AddForeignKey", "AddUniqueConstraint") and _columns_dropped(names, op, down):
        return []  # PostgreSQL drops an index or constraint with the last of its columns
    if kind in LEFT_BEHIND_IS_WARNING:
        return [finding("warning", "left_behind", "Up() runs %s and Down() has no %s: the schema stays after a "
                        "rollback (EF never scaffolds DropSchema; harmless when the schema is shared)."
                        % (_describe(op), "/".join(inverse_kinds)), op)]
    if kind == "AlterDatabase" and all(str(k).startswith("Npgsql:PostgresExtension") for k, _ in op.annotations):
        return [finding("warning", "left_behind", "Up() enables PostgreSQL extension(s) %s and Down() does not "
                        "disable them: they stay after a rollback." % ", ".join(
                            str(k).split(":")[-1] for k, _ in op.annotations), op)]
    return [finding("error", "no_inverse", "Up() runs %s and Down() has no matching %s."
                    % (_describe(op), " or ".join(inverse_kinds)), op)]


def _dropped_with_table(names, op, down):
    table = _table_of(op)
    return isinstance(table, str) and any(d.kind == "DropTable" and names.same("table", d.get("name"), table) for d in down.operations)


def _columns_dropped(names, op, down):
    columns = op.get("columns")
    columns = [columns] if isinstance(columns, str) else columns
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        return False
    dropped = {d.get("name") for d in down.operations
               if d.kind == "DropColumn" and names.same("table", d.get("table"), op.get("table"))}
    return set(columns) <= dropped


def _recreated_with_table(names, op, down):
    table = _table_of(op)
    return isinstance(table, str) and any(d.kind == "CreateTable" and names.same("table", d.get("name"), table) for d in down.operations)
