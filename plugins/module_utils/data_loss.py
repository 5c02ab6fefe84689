# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which statements of a plan destroy data, and whether the operator accepted it: pure logic.

EF warns about data loss only when scaffolding Up(). Down() of AddColumn/CreateTable is
DropColumn/DropTable, so a rollback silently destroys data unless we look. The operations found here
are measured against the live database (``ef_database.measure_operation``) before anything runs and
again inside the transaction right before the statement itself.
"""
from __future__ import annotations

import fnmatch

try:
    from pglast import ast, enums
    from pglast.stream import RawStream
except ImportError:  # pragma: no cover - ef_script reports the missing library
    ast = enums = RawStream = None

DROP_TABLE = "drop_table"
DROP_COLUMN = "drop_column"
ALTER_COLUMN_TYPE = "alter_column_type"
DROP_SCHEMA = "drop_schema"
DROP_TYPE = "drop_type"
TRUNCATE = "truncate"
DELETE = "delete"


class Operation(object):
    """One data-destroying operation found in a statement."""

    def __init__(self, operation, schema, table=None, column=None, new_type=None, using=None, where=None):
        self.operation = operation
        self.schema = schema
        self.table = table
        self.column = column
        self.new_type = new_type
        self.using = using
        self.where = where

    @property
    def object(self):
        return ".".join(p for p in (self.schema or "public", self.table, self.column) if p)

    def __repr__(self):
        return "Operation(%s %s)" % (self.operation, self.object)


def _names(items):
    return [i.sval for i in items]


def _split_name(parts, default_schema):
    parts = list(parts)
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return default_schema, parts[-1]


def destructive_operations(node, default_schema="public", history_table=None):
    """Operations of one statement's parse tree that can destroy data (empty list when none)."""
    ops = []
    if isinstance(node, ast.DropStmt):
        kind = node.removeType
        for obj in node.objects or ():
            if kind == enums.ObjectType.OBJECT_TABLE:
                schema, table = _split_name(_names(obj), default_schema)
                ops.append(Operation(DROP_TABLE, schema, table))
            elif kind == enums.ObjectType.OBJECT_SCHEMA:
                ops.append(Operation(DROP_SCHEMA, obj.sval))
            elif kind == enums.ObjectType.OBJECT_TYPE:
                names = _names(obj.names) if isinstance(obj, ast.TypeName) else _names(obj)
                schema, typ = _split_name(names, default_schema)
                ops.append(Operation(DROP_TYPE, schema, typ))
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        schema = node.relation.schemaname or default_schema
        table = node.relation.relname
        for cmd in node.cmds or ():
            if cmd.subtype == enums.AlterTableType.AT_DropColumn:
                ops.append(Operation(DROP_COLUMN, schema, table, cmd.name))
            elif cmd.subtype == enums.AlterTableType.AT_AlterColumnType:
                coldef = cmd.def_
                new_type = RawStream()(coldef.typeName)
                using = RawStream()(coldef.raw_default) if coldef.raw_default is not None else None
                ops.append(Operation(ALTER_COLUMN_TYPE, schema, table, cmd.name, new_type=new_type, using=using))
    elif isinstance(node, ast.TruncateStmt):
        for rel in node.relations or ():
            ops.append(Operation(TRUNCATE, rel.schemaname or default_schema, rel.relname))
    elif isinstance(node, ast.DeleteStmt):
        if node.relation.relname != history_table:
            where = RawStream()(node.whereClause) if node.whereClause is not None else None
            ops.append(Operation(DELETE, node.relation.schemaname or default_schema, node.relation.relname,
                                 where=where))
    return ops


def loses_data(entry):
    """True when a measured entry would destroy at least one value."""
    if entry.get("exists") is False:
        return False
    if entry["operation"] in (DROP_COLUMN, DROP_TYPE):
        return (entry.get("non_null") or 0) > 0
    if entry["operation"] == ALTER_COLUMN_TYPE:
        return (entry.get("values_changed") or 0) > 0
    return (entry.get("rows") or 0) > 0


def is_accepted(obj, accepted):
    """``accept_data_loss`` entries are ``schema.table`` or ``schema.table.column`` (shell wildcards allowed).

    Accepting a table accepts every column of it.
    """
    parts = obj.split(".")
    prefixes = [".".join(parts[:n]) for n in range(len(parts), 1, -1)]
    return any(fnmatch.fnmatchcase(p, pattern) for pattern in accepted for p in prefixes)


def unaccepted(entries, accepted):
    return [e for e in entries if loses_data(e) and not is_accepted(e["object"], accepted)]


def format_loss_table(entries):
    """A fixed-width table of data-loss entries for error messages."""
    header = ("migration", "operation", "object", "rows", "lost values")
    rows = []
    for e in entries:
        if e["operation"] == ALTER_COLUMN_TYPE:
            lost = "%s changed by the type change" % e.get("values_changed")
        elif e["operation"] in (DROP_COLUMN, DROP_TYPE):
            lost = "%s non-null" % e.get("non_null")
        else:
            lost = "%s rows" % e.get("rows")
        rows.append((e.get("migration") or "", e["operation"], e["object"], str(e.get("rows", "")), lost))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + rows]
    return "\n".join(lines)
