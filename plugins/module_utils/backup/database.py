# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database side of ``pg_backup`` (psycopg2): the dump's snapshot, its tables, databases to restore into.

The table list, the EF migration and (for ``verify: restore``) the row counts are read in the very snapshot
pg_dump dumps (``pg_export_snapshot()`` + ``pg_dump --snapshot``), so the manifest describes exactly the data
in the file, even while the application keeps writing.
"""
from __future__ import annotations

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import psycopg2, quote_ident, qualified_name


# Tables pg_dump dumps: ordinary and partitioned tables outside the system schemas, not owned by an extension.
_TABLES_SQL = r"""
SELECT c.oid, n.nspname, c.relname, c.relkind = 'r' AS has_data,
       c.relpages::bigint * current_setting('block_size')::bigint AS approx_bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
"""


class DumpSnapshot:
    """A read-only REPEATABLE READ transaction whose snapshot is exported for pg_dump.

    It stays open until ``close()``: pg_dump (and its parallel workers) import it at start.
    ``snapshot_id`` is None when the server cannot export one (then pg_dump takes its own, a moment later).
    """

    def __init__(self, conn):
        self.conn = conn
        self.snapshot_id = None
        conn.autocommit = False
        conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        with conn.cursor() as cur:
            try:
                cur.execute("SELECT pg_export_snapshot()")
                self.snapshot_id = cur.fetchone()[0]
            except psycopg2.Error:
                conn.rollback()

    def tables(self):
        """``[{"oid", "schema", "name", "has_data", "approx_bytes"}]`` of every table pg_dump will dump."""
        with self.conn.cursor() as cur:
            cur.execute(_TABLES_SQL)
            return [dict(oid=r[0], schema=r[1], name=r[2], has_data=r[3], approx_bytes=r[4]) for r in cur.fetchall()]

    def row_counts(self, tables):
        return row_counts(self.conn, tables)

    def close(self):
        try:
            self.conn.rollback()
        finally:
            self.conn.close()


def row_counts(conn, tables):
    """``{"schema.name": rows}`` of the tables that hold data."""
    counts = {}
    with conn.cursor() as cur:
        for t in tables:
            if t["has_data"]:
                cur.execute("SELECT count(*) FROM %s" % qualified_name(t["schema"], t["name"]))
                counts["%s.%s" % (t["schema"], t["name"])] = cur.fetchone()[0]
    return counts


def database_oid(conn, name):
    with conn.cursor() as cur:
        cur.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,))
        row = cur.fetchone()
    return row[0] if row else None


def database_comment(conn, name):
    with conn.cursor() as cur:
        cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,))
        row = cur.fetchone()
    return row[0] if row else None


def create_database_like(conn, name, like=None):
    """CREATE DATABASE ``name`` from template0 with the encoding and locale of database ``like`` (when it exists).

    ``conn`` must be in autocommit mode (CREATE DATABASE cannot run in a transaction).
    """
    options = ""
    with conn.cursor() as cur:
        if like:
            cur.execute("SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                        "WHERE datname = %s", (like,))
            row = cur.fetchone()
            if row:
                options = " ENCODING %s LC_COLLATE %s LC_CTYPE %s" % tuple(
                    psycopg2.extensions.QuotedString(v).getquoted().decode("utf-8") for v in row)
        cur.execute("CREATE DATABASE %s TEMPLATE template0%s" % (quote_ident(name), options))


def drop_database(conn, name):
    """DROP DATABASE IF EXISTS, disconnecting its sessions (PostgreSQL 13+ FORCE; plain DROP before)."""
    with conn.cursor() as cur:
        if conn.server_version >= 130000:
            cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident(name))
        else:
            cur.execute("DROP DATABASE IF EXISTS %s" % quote_ident(name))


def other_sessions(conn, dbname):
    """Sessions connected to ``dbname`` other than ``conn``'s own: ``[{pid, user, application_name, client_addr,
    state}]`` (only client backends: not autovacuum or replication)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pid, usename, application_name, host(client_addr), state FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                    "ORDER BY pid", (dbname,))
        return [dict(pid=r[0], user=r[1], application_name=r[2], client_addr=r[3], state=r[4])
                for r in cur.fetchall()]


def terminate_sessions(conn, pids):
    """pg_terminate_backend each pid (PostgreSQL 14+: and wait up to 10 s until it is gone); returns those terminated."""
    done = []
    with conn.cursor() as cur:
        for pid in pids:
            if conn.server_version >= 140000:
                cur.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            else:
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            if cur.fetchone()[0]:
                done.append(pid)
    return done
