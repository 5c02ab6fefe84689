# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure on the live database what each data-destroying operation of a plan would destroy (psycopg2).

Names are resolved exactly as PostgreSQL will resolve them when the statement runs: in the same session and
transaction, unqualified names through the session's search_path (``to_regclass``/``to_regtype``), and the
entries name the object schema-qualified. A CASCADE is followed through ``pg_depend`` (and a TRUNCATE ... CASCADE
through the foreign keys) so that every table, column and view it would take is counted and listed.
"""
from __future__ import annotations

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import qualified_name, quote_ident
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import data_loss as dl

try:
    import psycopg2
except ImportError:  # pragma: no cover - postgres.ensure_required_libs reports it
    psycopg2 = None


def current_schema(cur):
    cur.execute("SELECT current_schema()")
    return cur.fetchone()[0]


def _resolve(cur, query, schema, name):
    cur.execute(query, (qualified_name(schema, name),))
    row = cur.fetchone()
    if row:
        return row[1], row[0]
    return schema or current_schema(cur), None


def resolve_relation(cur, schema, name):
    """``(schema, oid)`` of the relation PostgreSQL would use now, or ``(creation schema, None)``."""
    return _resolve(cur, "SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE c.oid = to_regclass(%s)", schema, name)


def resolve_type(cur, schema, name):
    """``(schema, oid)`` of the type PostgreSQL would use now, or ``(creation schema, None)``."""
    return _resolve(cur, "SELECT t.oid, n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                         "WHERE t.oid = to_regtype(%s)", schema, name)


def _column(cur, oid, column):
    """``(attnum, type)`` of a column, or None."""
    cur.execute("SELECT a.attnum, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = %s "
                "AND a.attname = %s AND NOT a.attisdropped AND a.attnum > 0", (oid, column))
    return cur.fetchone()


def _count(cur, sql):
    cur.execute(sql)
    return cur.fetchone()


# Everything a DROP ... CASCADE of (classid, objid, objsubid) takes: its dependents (normal, auto and internal
# dependencies, recursively) and the objects an internal dependent is part of (a view's rule -> the view).
_CASCADE_SQL = """
WITH RECURSIVE dep(classid, objid, objsubid) AS (
    SELECT %s::regclass::oid, %s::oid, %s::int
  UNION
    SELECT x.classid, x.objid, x.objsubid FROM dep CROSS JOIN LATERAL (
        SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
         WHERE d.refclassid = dep.classid AND d.refobjid = dep.objid
           AND (dep.objsubid = 0 OR d.refobjsubid = dep.objsubid) AND d.deptype IN ('n', 'a', 'i')
        UNION ALL
        SELECT d.refclassid, d.refobjid, d.refobjsubid FROM pg_depend d
         WHERE d.classid = dep.classid AND d.objid = dep.objid AND d.objsubid = dep.objsubid AND d.deptype = 'i'
    ) x
)
SELECT c.oid, n.nspname, c.relname, c.relkind, dep.objsubid, a.attname
  FROM dep JOIN pg_class c ON dep.classid = 'pg_class'::regclass AND c.oid = dep.objid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = dep.objsubid AND dep.objsubid > 0
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
"""

_TRUNCATE_CASCADE_SQL = """
WITH RECURSIVE r(oid) AS (
    SELECT %s::oid
  UNION
    SELECT c.conrelid FROM pg_constraint c JOIN r ON c.confrelid = r.oid WHERE c.contype = 'f'
)
SELECT c.oid, n.nspname, c.relname FROM r JOIN pg_class c ON c.oid = r.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.oid <> %s ORDER BY 2, 3
"""


def cascade_entries(cur, root, via, lock=False, skip=()):
    """Entries for what a CASCADE from ``root`` = (catalog, oid, subid) takes besides ``skip`` (relation oids, or
    (oid, attnum) pairs, measured already): tables (rows), columns (non-null values), views (listed)."""
    cur.execute(_CASCADE_SQL, root)
    rows = cur.fetchall()
    tables = {oid: (schema, name) for oid, schema, name, kind, sub, _att in rows if sub == 0 and kind in ("r", "p")}
    entries = []
    for oid, (schema, name) in sorted(tables.items(), key=lambda i: i[1]):
        if oid in skip:
            continue
        if lock:
            cur.execute("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % qualified_name(schema, name))
        count = _count(cur, "SELECT count(*) FROM ONLY %s" % qualified_name(schema, name))[0]
        entries.append({"operation": dl.CASCADE_TABLE, "object": "%s.%s" % (schema, name), "rows": count,
                        "exists": True, "via": via})
    for oid, schema, name, kind, sub, att in sorted(rows, key=lambda r: (r[1], r[2], r[4])):
        if sub == 0 and kind in ("v", "m") and oid not in skip:
            entries.append({"operation": dl.CASCADE_VIEW, "object": "%s.%s" % (schema, name), "exists": True,
                            "via": via})
        elif sub > 0 and att and kind in ("r", "p") and oid not in tables and (oid, sub) not in skip:
            counted = _count(cur, "SELECT count(*), count(%s) FROM ONLY %s"
                             % (quote_ident(att), qualified_name(schema, name)))
            entries.append({"operation": dl.CASCADE_COLUMN, "object": "%s.%s.%s" % (schema, name, att),
                            "rows": counted[0], "non_null": counted[1], "exists": True, "via": via})
    return entries


def measure(cur, op, lock=False):
    """``[entry, cascade entries...]`` for one Operation, measured now in this session."""
    entry = {"operation": op.operation, "object": op.object, "exists": True}
    extra = []
    if op.operation == dl.DROP_SCHEMA:
        cur.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (op.schema,))
        row = cur.fetchone()
        entry["exists"] = bool(row)
        if row:
            cur.execute("SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = %s "
                        "AND c.relkind IN ('r', 'p')", (row[0],))
            entry["rows"] = sum(_count(cur, "SELECT count(*) FROM ONLY %s" % name)[0] for (name,) in cur.fetchall())
            if op.cascade:
                extra = cascade_entries(cur, ("pg_namespace", row[0], 0), op.object, lock)
        return [entry] + extra
    if op.operation == dl.DROP_TYPE:
        schema, oid = resolve_type(cur, op.schema, op.table)
        entry["object"] = "%s.%s" % (schema, op.table)
        if oid is None:
            entry["exists"] = False
            return [entry]
        cur.execute("SELECT a.attrelid::regclass::text, a.attname FROM pg_attribute a JOIN pg_class c "
                    "ON c.oid = a.attrelid WHERE a.atttypid = %s AND c.relkind IN ('r', 'p') "
                    "AND NOT a.attisdropped", (oid,))
        entry["non_null"] = sum(_count(cur, "SELECT count(%s) FROM %s" % (quote_ident(att), rel))[0]
                                for rel, att in cur.fetchall())
        if op.cascade:
            extra = cascade_entries(cur, ("pg_type", oid, 0), entry["object"], lock)
            # Columns of the type itself are counted above; the cascade adds domains over it, arrays of it...
            entry["non_null"] = 0 if extra else entry["non_null"]
        return [entry] + extra
    schema, oid = resolve_relation(cur, op.schema, op.table)
    table = qualified_name(schema, op.table)
    entry["object"] = ".".join(p for p in (schema, op.table, op.column) if p)
    if oid is None:
        entry["exists"] = False
        return [entry]
    if lock and op.operation != dl.DROP_OBJECT:
        cur.execute("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % table)
    if op.operation in (dl.DROP_TABLE, dl.TRUNCATE, dl.DELETE):
        where = " WHERE %s" % op.where if op.operation == dl.DELETE and op.where else ""
        entry["rows"] = _count(cur, "SELECT count(*) FROM %s%s" % (table, where))[0]
        if op.cascade and op.operation == dl.DROP_TABLE:
            extra = cascade_entries(cur, ("pg_class", oid, 0), entry["object"], lock, skip={oid})
        elif op.cascade and op.operation == dl.TRUNCATE:
            cur.execute(_TRUNCATE_CASCADE_SQL, (oid, oid))
            for _oid, s, n in cur.fetchall():
                count = _count(cur, "SELECT count(*) FROM ONLY %s" % qualified_name(s, n))[0]
                extra.append({"operation": dl.CASCADE_TRUNCATE, "object": "%s.%s" % (s, n), "rows": count,
                              "exists": True, "via": entry["object"]})
        return [entry] + extra
    if op.operation == dl.DROP_OBJECT:
        extra = cascade_entries(cur, ("pg_class", oid, 0), entry["object"], lock, skip={oid})
        return [entry] + extra
    column = _column(cur, oid, op.column)
    if column is None:
        entry["exists"] = False
        return [entry]
    attnum, old_type = column
    col = quote_ident(op.column)
    if op.operation == dl.DROP_COLUMN:
        entry["rows"], entry["non_null"] = _count(cur, "SELECT count(*), count(%s) FROM %s" % (col, table))
        if op.cascade:
            extra = cascade_entries(cur, ("pg_class", oid, attnum), entry["object"], lock, skip={(oid, attnum)})
    elif op.operation == dl.UPDATE:
        where = " WHERE %s" % op.where if op.where else ""
        entry["rows"], entry["values_changed"] = _count(
            cur, "SELECT count(*), count(*) FILTER (WHERE %s IS DISTINCT FROM (%s)) FROM %s%s"
            % (col, op.value, table, where))
    else:
        entry.update(old_type=old_type, new_type=op.new_type)
        converted = "(%s)" % op.using if op.using else "%s::%s" % (col, op.new_type)
        entry["rows"], entry["non_null"], entry["values_changed"] = _count(
            cur, "SELECT count(*), count(%s), count(*) FILTER (WHERE (%s)::%s IS DISTINCT FROM %s) FROM %s"
            % (col, converted, old_type, col, table))
    return [entry] + extra


def measure_operation(cur, op, migration, statement, lock=False):
    """Measure what ``op`` would destroy now: a list of entries (the operation, then what its CASCADE takes).
    A failing measurement (e.g. a conversion that errors) is reported, not raised: the statement itself will
    then fail and roll everything back."""
    cur.execute("SAVEPOINT almafrica_measure")
    try:
        entries = measure(cur, op, lock)
        cur.execute("RELEASE SAVEPOINT almafrica_measure")
    except psycopg2.Error as exc:
        if cur.connection.closed:
            raise
        cur.execute("ROLLBACK TO SAVEPOINT almafrica_measure")
        entry = {"operation": op.operation, "object": op.object, "exists": True,
                 "note": "could not measure: %s" % str(exc).strip().splitlines()[0]}
        if op.operation == dl.ALTER_COLUMN_TYPE:
            entry["values_changed"] = entry["non_null"] = None
            entry["note"] += " (the conversion would fail on this data)"
        elif op.operation == dl.UPDATE:
            entry["values_changed"] = None
        entries = [entry]
    for entry in entries:
        entry.update(migration=migration, statement=statement)
    return entries


def assess_data_loss(cur, blocks):
    """Data-loss entries of every measured statement of ``blocks``, measured against the database now."""
    entries = []
    for block in blocks:
        for stmt in block.notable():
            for op in stmt.ops:
                entries.extend(measure_operation(cur, op, block.migration_id, stmt.where))
    return entries
