# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one EF Core fact a backup records: the migration the database was at."""
from __future__ import annotations


def _quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def read_current_migration(conn, table="__EFMigrationsHistory", schema=None):
    """The newest applied MigrationId, or None when the history table is absent or empty.

    Read-only and transaction-neutral: it runs in whatever transaction ``conn`` is in (pg_backup calls it inside
    the snapshot the dump is taken from). The table is looked up in ``schema``, else on the search path, else in
    the one schema that has it; the id column is found whatever its naming convention (``MigrationId``,
    ``migration_id``). "Newest" is ordinal string order, as EF orders MigrationIds, so it is computed here and not
    with the database's collation.
    """
    with conn.cursor() as cur:
        if schema:
            cur.execute("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relname = %s AND n.nspname = %s AND c.relkind IN ('r', 'p')", (table, schema))
            found = cur.fetchall()
        else:
            cur.execute("SELECT to_regclass(%s)::oid", (_quote_ident(table),))
            found = [r for r in cur.fetchall() if r[0] is not None]
            if not found:
                cur.execute("SELECT c.oid FROM pg_class c WHERE c.relname = %s AND c.relkind IN ('r', 'p')",
                            (table,))
                found = cur.fetchall()
        if len(found) != 1:  # absent, or in several schemas and none on the search path: unknown
            return None
        oid = found[0][0]
        cur.execute("SELECT a.attname FROM pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 "
                    "AND NOT a.attisdropped", (oid,))
        column = next((r[0] for r in cur.fetchall() if r[0].lower().replace("_", "") == "migrationid"), None)
        if column is None:
            return None
        cur.execute("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.oid = %s", (oid,))
        nsp, rel = cur.fetchone()
        cur.execute("SELECT %s FROM %s.%s" % (_quote_ident(column), _quote_ident(nsp), _quote_ident(rel)))
        ids = [r[0] for r in cur.fetchall() if r[0] is not None]
    return max(ids) if ids else None
