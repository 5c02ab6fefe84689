# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which statements of a plan destroy data, and whether the operator accepted it: pure logic.

EF warns about data loss only when scaffolding Up(). Down() of AddColumn/CreateTable is
DropColumn/DropTable, so a rollback silently destroys data unless we look. The operations found here
are measured against the live database (``ef.measure.measure_operation``) before anything runs and
again inside the transaction right before the statement itself.
"""
from __future__ import annotations

import fnmatch

try:
    from pglast import ast, enums
    from pglast.stream import RawStream
except ImportError:  # pragma: no cover - ef.script reports the missing library
    ast = enums = RawStream = None

DROP_TABLE = "drop_table"
DROP_COLUMN = "drop_column"
ALTER_COLUMN_TYPE = "alter_column_type"
DROP_SCHEMA = "drop_schema"
DROP_TYPE = "drop_type"
TRUNCATE = "truncate"
DELETE = "delete"
UPDATE = "update"
DROP_OBJECT = "drop_object"  # DROP VIEW/INDEX/SEQUENCE ... CASCADE: only what the cascade takes is measured
# What a CASCADE (or a TRUNCATE ... CASCADE) takes besides the named object, read from pg_depend / pg_constraint.
CASCADE_TABLE = "cascade_drop_table"
CASCADE_COLUMN = "cascade_drop_column"
CASCADE_VIEW = "cascade_drop_view"
CASCADE_TRUNCATE = "cascade_truncate"


class Operation(object):
    """One data-destroying operation found in a statement."""

    __slots__ = ("operation", "schema", "table", "column", "new_type", "using", "where", "cascade", "value", "kind")

    def __init__(self, operation, schema, table=None, column=None, new_type=None, using=None, where=None,
                 cascade=False, value=None, kind=None):
        self.operation = operation
        self.schema = schema  # None: unqualified, resolved on the session's search_path when measured
        self.table = table
        self.column = column
        self.new_type = new_type
        self.using = using
        self.where = where
        self.cascade = cascade
        self.value = value  # UPDATE: the SQL text of the new value
        self.kind = kind  # DROP_TYPE/DROP_OBJECT: the object kind (type, domain, view, index, sequence...)

    @property
    def object(self):
        return ".".join(p for p in (self.schema, self.table, self.column) if p)

    def __repr__(self):
        return "Operation(%s %s)" % (self.operation, self.object)


def _names(items):
    return [i.sval for i in items]


def _split_name(parts, default_schema):
    parts = list(parts)
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return default_schema, parts[-1]


_RELATION_KINDS = None


def _relation_kinds():
    global _RELATION_KINDS  # pylint: disable=global-statement
    if _RELATION_KINDS is None:
        o = enums.ObjectType
        _RELATION_KINDS = {o.OBJECT_VIEW: "view", o.OBJECT_MATVIEW: "materialized view", o.OBJECT_INDEX: "index",
                           o.OBJECT_SEQUENCE: "sequence"}
    return _RELATION_KINDS


def destructive_operations(node, default_schema=None, history_table=None):
    """Operations of one statement's parse tree that can destroy data (empty list when none).

    ``default_schema`` None keeps unqualified names unqualified: ``ef.measure`` resolves them on the session's
    search_path, exactly as PostgreSQL will when the statement runs."""
    ops = []
    if isinstance(node, ast.DropStmt):
        kind = node.removeType
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        for obj in node.objects or ():
            if kind == enums.ObjectType.OBJECT_TABLE:
                schema, table = _split_name(_names(obj), default_schema)
                ops.append(Operation(DROP_TABLE, schema, table, cascade=cascade))
            elif kind == enums.ObjectType.OBJECT_SCHEMA:
                ops.append(Operation(DROP_SCHEMA, obj.sval, cascade=cascade))
            elif kind in (enums.ObjectType.OBJECT_TYPE, enums.ObjectType.OBJECT_DOMAIN):
                names = _names(obj.names) if isinstance(obj, ast.TypeName) else _names(obj)
                schema, typ = _split_name(names, default_schema)
                ops.append(Operation(DROP_TYPE, schema, typ, cascade=cascade,
                                     kind="domain" if kind == enums.ObjectType.OBJECT_DOMAIN else "type"))
            elif kind in _relation_kinds() and cascade:
                schema, name = _split_name(_names(obj), default_schema)
                ops.append(Operation(DROP_OBJECT, schema, name, cascade=True, kind=_relation_kinds()[kind]))
    elif isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        schema = node.relation.schemaname or default_schema
        table = node.relation.relname
        for cmd in node.cmds or ():
            if cmd.subtype == enums.AlterTableType.AT_DropColumn:
                ops.append(Operation(DROP_COLUMN, schema, table, cmd.name,
                                     cascade=cmd.behavior == enums.DropBehavior.DROP_CASCADE))
            elif cmd.subtype == enums.AlterTableType.AT_AlterColumnType:
                coldef = cmd.def_
                new_type = RawStream()(coldef.typeName)
                using = RawStream()(coldef.raw_default) if coldef.raw_default is not None else None
                ops.append(Operation(ALTER_COLUMN_TYPE, schema, table, cmd.name, new_type=new_type, using=using))
    elif isinstance(node, ast.TruncateStmt):
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        for rel in node.relations or ():
            ops.append(Operation(TRUNCATE, rel.schemaname or default_schema, rel.relname, cascade=cascade))
    elif isinstance(node, ast.DeleteStmt):
        if node.relation.relname != history_table:
            where = RawStream()(node.whereClause) if node.whereClause is not None else None
            ops.append(Operation(DELETE, node.relation.schemaname or default_schema, node.relation.relname,
                                 where=where))
    elif isinstance(node, ast.UpdateStmt):
        where = RawStream()(node.whereClause) if node.whereClause is not None else None
        for target in node.targetList or ():
            ops.append(Operation(UPDATE, node.relation.schemaname or default_schema, node.relation.relname,
                                 target.name, where=where, value=RawStream()(target.val)))
    return ops


def loses_data(entry):
    """True when a measured entry would destroy at least one value."""
    if entry.get("exists") is False:
        return False
    if entry["operation"] in (DROP_COLUMN, DROP_TYPE, CASCADE_COLUMN):
        return (entry.get("non_null") or 0) > 0
    if entry["operation"] == ALTER_COLUMN_TYPE:
        return (entry.get("values_changed") or 0) > 0  # None: the conversion fails, and so will the statement
    if entry["operation"] == UPDATE:
        return entry.get("values_changed") is None or entry["values_changed"] > 0
    if entry["operation"] in (DROP_OBJECT, CASCADE_VIEW):
        return False  # no stored data: listed so that the operator sees what the CASCADE takes
    return (entry.get("rows") or 0) > 0


def is_accepted(obj, accepted):
    """``accept_data_loss`` entries are ``schema.table`` or ``schema.table.column`` (shell wildcards allowed).

    Accepting a table accepts every column of it.
    """
    parts = obj.split(".")
    prefixes = [".".join(parts[:n]) for n in range(len(parts), 1, -1)] or [obj]  # a schema: its own name
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
        elif e["operation"] == UPDATE:
            lost = "%s overwritten" % e.get("values_changed")
        elif e["operation"] in (DROP_COLUMN, DROP_TYPE, CASCADE_COLUMN):
            lost = "%s non-null" % e.get("non_null")
        else:
            lost = "%s rows" % e.get("rows")
        rows.append((e.get("migration") or "", e["operation"], e["object"], str(e.get("rows", "")), lost))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + rows]
    return "\n".join(lines)
