# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A canonical description of a PostgreSQL schema, its fingerprint, and a readable diff of two descriptions.

``describe_schema(conn)`` returns sorted text lines, one per fact, that two databases built the same way share
whatever order their objects were created in: tables with their columns (type, collation, NOT NULL, default,
identity, generated expression; position only on request), constraints by name with their definition, indexes by name with
their definition, sequences, enum types with their labels in order, domains, views and materialized views with
their definition, functions and triggers. No OIDs, no owner, no sizes or statistics. The EF history table is
left out (it records migrations, not schema).

``fingerprint(description)`` is the sha256 of those lines; ``schema_diff(before, after)`` a unified diff.
"""
from __future__ import annotations

import difflib
import hashlib

HISTORY_TABLE = ("public", "__EFMigrationsHistory")

# Schemas that belong to PostgreSQL itself, never to the application.
_SYSTEM_SCHEMA_FILTER = """n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp_%%' AND n.nspname NOT LIKE 'pg_toast_temp_%%'"""
# Objects created by an extension are the extension's, listed once as the extension.
_NOT_FROM_EXTENSION = """NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass
  AND d.objid = {oid} AND d.deptype = 'e')"""

_SCHEMAS_SQL = """
SELECT n.nspname FROM pg_namespace n WHERE {sys} AND n.nspname <> 'public'
""".format(sys=_SYSTEM_SCHEMA_FILTER)

_EXTENSIONS_SQL = """
SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql'
"""

_RELATIONS_SQL = """
SELECT n.nspname, c.relname, c.relkind, c.relpersistence,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {sys} AND {noext}
""".format(sys=_SYSTEM_SCHEMA_FILTER, noext=_NOT_FROM_EXTENSION.format(catalog="pg_class", oid="c.oid"))

_COLUMNS_SQL = """
SELECT n.nspname, c.relname, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND {sys} AND {noext}
""".format(sys=_SYSTEM_SCHEMA_FILTER, noext=_NOT_FROM_EXTENSION.format(catalog="pg_class", oid="c.oid"))

_CONSTRAINTS_SQL = """
SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid, true)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {sys}
""".format(sys=_SYSTEM_SCHEMA_FILTER)

_INDEXES_SQL = """
SELECT n.nspname, t.relname, i.relname, pg_get_indexdef(x.indexrelid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE {sys} AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
""".format(sys=_SYSTEM_SCHEMA_FILTER)

# Identity and serial sequences are described by their column; the start value is kept, the current value is data.
_SEQUENCES_SQL = """
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
       s.seqcycle, s.seqcache,
       (SELECT ARRAY[dn.nspname, dc.relname, da.attname]::text[]
        FROM pg_depend d JOIN pg_class dc ON dc.oid = d.refobjid
        JOIN pg_namespace dn ON dn.oid = dc.relnamespace
        JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i') LIMIT 1)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {sys} AND {noext}
""".format(sys=_SYSTEM_SCHEMA_FILTER, noext=_NOT_FROM_EXTENSION.format(catalog="pg_class", oid="c.oid"))

_TYPES_SQL = """
SELECT n.nspname, t.typname, t.typtype,
       CASE t.typtype
         WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                        FROM pg_enum e WHERE e.enumtypid = t.oid)
         WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                       || COALESCE(' DEFAULT ' || t.typdefault, '')
                       || COALESCE((SELECT ' ' || string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid, true),
                                                             ' ' ORDER BY k.conname)
                                    FROM pg_constraint k WHERE k.contypid = t.oid), '')
         WHEN 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod),
                                          ', ' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
       END
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'c') AND {sys} AND {noext}
  AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
""".format(sys=_SYSTEM_SCHEMA_FILTER, noext=_NOT_FROM_EXTENSION.format(catalog="pg_type", oid="t.oid"))

_FUNCTIONS_SQL = """
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND {sys} AND {noext}
""".format(sys=_SYSTEM_SCHEMA_FILTER, noext=_NOT_FROM_EXTENSION.format(catalog="pg_proc", oid="p.oid"))

_TRIGGERS_SQL = """
SELECT n.nspname, c.relname, tg.tgname, pg_get_triggerdef(tg.oid, true)
FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND {sys}
""".format(sys=_SYSTEM_SCHEMA_FILTER)

_RELKIND = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}
_CONTYPE = {"p": "primary key", "f": "foreign key", "u": "unique", "c": "check", "x": "exclusion", "t": "trigger"}
_TYPTYPE = {"e": "enum", "d": "domain", "c": "composite type"}


def _q(*parts):
    """Qualified name as PostgreSQL would quote it (stable, unambiguous)."""
    return ".".join('"%s"' % p.replace('"', '""') for p in parts)


def _one_line(text):
    return " ".join((text or "").split())


def describe_schema(conn, exclude_tables=(HISTORY_TABLE,), schemas=None, column_order=False):
    """Sorted lines describing the schema of the database ``conn`` is connected to.

    ``exclude_tables``: ``(schema, table)`` pairs left out with everything on them (the EF history table).
    ``schemas``: only these schemas (default: every non-system schema).
    ``column_order``: also describe each column's position among the table's live columns. Off by default:
    a Down() that re-adds a column Up() dropped puts it last, which changes no query EF makes.
    """
    excluded = {tuple(t) for t in exclude_tables or ()}
    wanted = set(schemas) if schemas else None

    def keep(schema, table=None):
        if wanted is not None and schema not in wanted:
            return False
        return table is None or (schema, table) not in excluded

    with conn.cursor() as cur:
        # An empty search_path makes every deparsed name schema-qualified, whatever the session had.
        cur.execute("SELECT current_setting('search_path'), set_config('search_path', 'pg_catalog', false)")
        saved = cur.fetchone()[0]
        try:
            return sorted(_describe(cur, keep, column_order))
        finally:
            cur.execute("SELECT set_config('search_path', %s, false)", (saved,))


def _describe(cur, keep, column_order):
    lines = []
    cur.execute(_SCHEMAS_SQL)
    lines += ["schema %s" % _q(s) for (s,) in cur.fetchall() if keep(s)]
    cur.execute(_EXTENSIONS_SQL)
    lines += ["extension %s in %s" % (_q(e), _q(s)) for e, s in cur.fetchall()]
    cur.execute(_RELATIONS_SQL)
    for schema, name, kind, persistence, viewdef in cur.fetchall():
        if keep(schema, name):
            unlogged = " unlogged" if persistence == "u" else ""
            line = "%s %s%s" % (_RELKIND[kind], _q(schema, name), unlogged)
            lines.append(line + (" as %s" % _one_line(viewdef) if viewdef else ""))
    cur.execute(_COLUMNS_SQL)
    for schema, table, num, col, typ, notnull, default, identity, generated, collation in cur.fetchall():
        if not keep(schema, table):
            continue
        position = " #%03d" % num if column_order else ""
        parts = ["column %s%s %s %s" % (_q(schema, table), position, _q(col), typ)]
        if collation:
            parts.append("collate %s" % _q(collation))
        if notnull:
            parts.append("not null")
        if identity:
            parts.append("generated %s as identity" % ("always" if identity == "a" else "by default"))
        if generated:
            parts.append("generated always as (%s) stored" % _one_line(default))
        elif default is not None:
            parts.append("default %s" % _one_line(default))
        lines.append(" ".join(parts))
    cur.execute(_CONSTRAINTS_SQL)
    for schema, table, name, kind, definition in cur.fetchall():
        if keep(schema, table):
            fields = (_q(schema, table), _q(name), _CONTYPE.get(kind, kind), _one_line(definition))
            lines.append("constraint %s %s %s: %s" % fields)
    cur.execute(_INDEXES_SQL)
    for schema, table, name, definition in cur.fetchall():
        if keep(schema, table):
            lines.append("index %s %s: %s" % (_q(schema, table), _q(name), _one_line(definition)))
    cur.execute(_SEQUENCES_SQL)
    for schema, name, typ, start, inc, smin, smax, cycle, cache, owner in cur.fetchall():
        if not keep(schema):
            continue
        if owner and not keep(owner[0], owner[1]):
            continue
        line = "sequence %s %s start %s increment %s min %s max %s%s cache %s" % (
            _q(schema, name), typ, start, inc, smin, smax, " cycle" if cycle else "", cache)
        lines.append(line + (" owned by %s" % _q(*owner) if owner else ""))
    cur.execute(_TYPES_SQL)
    for schema, name, kind, definition in cur.fetchall():
        if keep(schema):
            lines.append("%s %s: %s" % (_TYPTYPE[kind], _q(schema, name), _one_line(definition)))
    cur.execute(_FUNCTIONS_SQL)
    for schema, name, args, definition in cur.fetchall():
        if keep(schema):
            lines.append("function %s(%s): %s" % (_q(schema, name), args, _one_line(definition)))
    cur.execute(_TRIGGERS_SQL)
    for schema, table, name, definition in cur.fetchall():
        if keep(schema, table):
            lines.append("trigger %s %s: %s" % (_q(schema, table), _q(name), _one_line(definition)))
    return lines


def fingerprint(description):
    """sha256 hex of a description (a list of lines as describe_schema returns)."""
    digest = hashlib.sha256()
    for line in description:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def schema_diff(before, after, before_label="before", after_label="after"):
    """Unified diff of two descriptions; empty string when they are equal."""
    return "".join(difflib.unified_diff([ln + "\n" for ln in before], [ln + "\n" for ln in after],
                                        fromfile=before_label, tofile=after_label, n=1))
