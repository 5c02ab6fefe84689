# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EF Core history table: its name and columns, finding it in a live database, reading it (psycopg2).

No SQL parser here: pg_backup reads the newest applied migration through this file alone.
"""
from __future__ import annotations

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import qualified_name, quote_ident
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.migrations import ordinal_key


class HistoryTable(object):
    """Name and column of the EF history table as the scripts must spell them."""

    def __init__(self, table="__EFMigrationsHistory", schema=None, id_column="MigrationId"):
        self.table = table
        self.schema = schema
        self.id_column = id_column

    def matches(self, rangevar):
        if rangevar is None or rangevar.relname != self.table:
            return False
        return rangevar.schemaname in (None, self.schema) or self.schema is None


class HistoryError(Exception):
    """The history table is missing, unreadable or not what EF writes."""

    def __init__(self, msg, missing=False):
        super().__init__(msg)
        self.missing = missing


class ResolvedHistory(HistoryTable):
    """The history table as found in the database, with its real column names."""

    def __init__(self, table, schema, id_column, version_column):
        super().__init__(table=table, schema=schema, id_column=id_column)
        self.version_column = version_column

    @property
    def qualified(self):
        return qualified_name(self.schema, self.table)

    def as_dict(self):
        return {"schema": self.schema, "table": self.table, "id_column": self.id_column,
                "version_column": self.version_column}


def _norm(name):
    return name.lower().replace("_", "")


def resolve_history_table(cur, table, schema=None):
    """Find the history table (in ``schema``, else on the search path, else in the one schema that has it)."""
    if schema:
        cur.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relname = %s AND n.nspname = %s AND c.relkind IN ('r', 'p')", (table, schema))
        found = [r[0] for r in cur.fetchall()]
    else:
        cur.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.oid = to_regclass(%s)", (quote_ident(table),))
        found = [r[0] for r in cur.fetchall()]
        if not found:
            cur.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relname = %s AND c.relkind IN ('r', 'p') ORDER BY 1", (table,))
            found = [r[0] for r in cur.fetchall()]
            if len(found) > 1:
                raise HistoryError("History table %s exists in several schemas (%s): set history_schema."
                                   % (table, ", ".join(found)))
    if not found:
        cur.execute("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE c.relname ILIKE %s AND c.relkind IN ('r', 'p') ORDER BY 1",
                    ("%migrationshistory%",))
        others = [r[0] for r in cur.fetchall()]
        hint = (" Tables that look like EF history tables: %s; set history_table/history_schema." % ", ".join(others)
                if others else " The database has never been migrated by EF Core, or this is the wrong database.")
        raise HistoryError("History table %s not found%s.%s"
                           % (table, " in schema %s" % schema if schema else "", hint), missing=True)
    schema = found[0]
    cur.execute("SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum", (qualified_name(schema, table),))
    columns = [r[0] for r in cur.fetchall()]
    id_col = next((c for c in columns if _norm(c) == "migrationid"), None)
    version_col = next((c for c in columns if _norm(c) == "productversion"), None)
    if not id_col:
        raise HistoryError("Table %s.%s has no MigrationId column (columns: %s): not an EF Core history table."
                           % (schema, table, ", ".join(columns)))
    return ResolvedHistory(table, schema, id_col, version_col)


def read_history(cur, history):
    """Applied migrations, oldest first, as ``[(migration_id, product_version), ...]``."""
    version = quote_ident(history.version_column) if history.version_column else "NULL"
    cur.execute("SELECT %s, %s FROM %s" % (quote_ident(history.id_column), version, history.qualified))
    rows = cur.fetchall()
    return sorted(rows, key=lambda r: ordinal_key(r[0]))


def read_current_migration(conn, table="__EFMigrationsHistory", schema=None):
    """The newest applied MigrationId, or None when the history table is absent, ambiguous or empty.

    Read-only and transaction-neutral: it runs in whatever transaction ``conn`` is in (pg_backup calls it inside
    the snapshot its dump is taken from).
    """
    with conn.cursor() as cur:
        try:
            history = resolve_history_table(cur, table, schema)
        except HistoryError:
            return None
        rows = read_history(cur, history)
    return rows[-1][0] if rows else None
