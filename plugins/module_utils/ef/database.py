# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan execution on a live PostgreSQL database (psycopg2): the migration lock, the one transaction, the re-measure.

Safety: the plan runs in ONE transaction holding a session advisory lock and
``LOCK TABLE <history> IN ACCESS EXCLUSIVE MODE`` (the lock Npgsql 9+ takes while migrating), so it can
never interleave with another rollback or with an application that migrates on start. Right before
every data-destroying statement the affected table is locked and measured again, so what is refused or
reported is exact. On any error the transaction rolls back: schema and history exactly as before.
"""
from __future__ import annotations

import hashlib
import struct
import time

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import psycopg2, qualified_name, quote_ident
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import data_loss as dl
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import read_history
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.migrations import migration_name
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.measure import assess_data_loss, measure_operation
from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact


try:
    from pglast import ast, enums
except ImportError:  # pragma: no cover - ef.script reports the missing library
    ast = enums = None


class ExecutionError(Exception):
    """A statement of the plan failed; the transaction was rolled back. ``details`` says where and why, as
    PostgreSQL reported it (sqlstate, DETAIL, constraint, table)."""

    def __init__(self, msg, details=None):
        super().__init__(msg)
        self.details = details or {}


class ConnectionLost(ExecutionError):
    """The connection died during the transaction: nothing was committed (or, while committing, unknown)."""


class DataLossRefused(Exception):
    """Data not listed in accept_data_loss would be destroyed; nothing was changed."""

    def __init__(self, entries):
        super().__init__("data loss refused")
        self.entries = entries


class LockBusy(Exception):
    """Another run holds the migration lock."""


# -- locks ----------------------------------------------------------------------------------------
def advisory_key(history):
    """A stable 64-bit key per database history table (the same for every run of this collection)."""
    digest = hashlib.sha256(("almafrica.rollback:%s" % history.qualified).encode()).digest()
    return struct.unpack(">q", digest[:8])[0]


def try_advisory_lock(conn, history):
    """Take the session advisory lock or raise LockBusy naming who holds it."""
    key = advisory_key(history)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        if cur.fetchone()[0]:
            return key
        cur.execute("SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = %s", (key,))
        holder = cur.fetchone()
    who = ("pid %s (%s from %s, connected %s)" % holder) if holder else "another session"
    raise LockBusy("Another migration run holds the lock on %s: %s. Wait for it to finish (or find out why it "
                   "is stuck) and run again; nothing was changed." % (history.qualified, who))


def release_advisory_lock(conn, key):
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    except psycopg2.Error:
        pass  # the session ends right after; the lock goes with it


# -- execution ------------------------------------------------------------------------------------
def is_accepted_unverified(migration_id, accepted):
    """``accept_unverified`` names a migration by its full id or its bare name."""
    return migration_id in accepted or migration_name(migration_id) in accepted


def _failure_details(block, stmt, exc, secrets):
    diag = getattr(exc, "diag", None)
    details = {"failed_migration": block.migration_id, "failed_direction": block.direction,
               "failed_statement": redact(stmt.sql[:2000], secrets), "failed_file": stmt.source,
               "failed_line": stmt.line, "sqlstate": getattr(exc, "pgcode", None)}
    if diag is not None:
        details.update(detail=redact(diag.message_detail, secrets), constraint=diag.constraint_name,
                       table=diag.table_name, schema=diag.schema_name)
    return details


def foreign_key_added(stmt):
    """``(child, fk columns, parent, parent columns or None)`` when ``stmt`` is ALTER TABLE ... ADD ... FOREIGN KEY
    (what a Down() that re-adds a relationship runs, and what fails on rows written meanwhile)."""
    if stmt._node is None or not isinstance(stmt.node, ast.AlterTableStmt):
        return None
    node = stmt.node
    for cmd in node.cmds or ():
        con = cmd.def_
        if cmd.subtype == enums.AlterTableType.AT_AddConstraint and isinstance(con, ast.Constraint) \
                and con.contype == enums.ConstrType.CONSTR_FOREIGN:
            parent = con.pktable
            return ((node.relation.schemaname, node.relation.relname), [a.sval for a in con.fk_attrs],
                    (parent.schemaname, parent.relname), [a.sval for a in con.pk_attrs or ()] or None)
    return None


def offending_keys(cur, fk, limit=10):
    """The first ``limit`` distinct foreign-key values of the child that have no parent row, queried in the state the
    migration had reached (inside its savepoint): the rows that block the rollback."""
    (cschema, child), columns, (pschema, parent), parent_columns = fk
    if not parent_columns:
        cur.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
                    "ORDER BY array_position(i.indkey::int[], a.attnum::int)", (qualified_name(pschema, parent),))
        parent_columns = [r[0] for r in cur.fetchall()]
    if len(parent_columns) != len(columns):
        return None
    cols = ", ".join("c.%s" % quote_ident(c) for c in columns)
    cur.execute("SELECT DISTINCT %s FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s) ORDER BY %s LIMIT %d"
                % (cols, qualified_name(cschema, child), " AND ".join("c.%s IS NOT NULL" % quote_ident(c)
                                                                      for c in columns),
                   qualified_name(pschema, parent), " AND ".join("p.%s = c.%s" % (quote_ident(p), quote_ident(c))
                                                                 for p, c in zip(parent_columns, columns)),
                   cols, limit))
    return [dict(zip(columns, (str(v) for v in row))) for row in cur.fetchall()]


def rewrite_candidate(stmt):
    """The table of an ALTER TABLE that may rewrite it (ALTER COLUMN TYPE, ADD COLUMN with a volatile default...)."""
    if stmt._node is None or not isinstance(stmt.node, ast.AlterTableStmt):
        return None
    kinds = (enums.AlterTableType.AT_AlterColumnType, enums.AlterTableType.AT_AddColumn)
    if any(cmd.subtype in kinds for cmd in stmt.node.cmds or ()):
        return qualified_name(stmt.node.relation.schemaname, stmt.node.relation.relname)
    return None


def _query_offending_keys(cur, fk):
    """Back to the savepoint before the failed ADD FOREIGN KEY, then the blocking keys (None when they cannot be
    queried); the transaction rolls back afterwards anyway."""
    try:
        cur.execute("ROLLBACK TO SAVEPOINT almafrica_fk")
        return offending_keys(cur, fk)
    except psycopg2.Error:
        if cur.connection.closed:
            raise
        return None


def _relfilenode(cur, table):
    cur.execute("SELECT c.relfilenode, n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)", (table,))
    return cur.fetchone() or (None, table)


def _lost_connection_message(exc, committing, where):
    cause = " ".join(str(exc).split()) + (" (while running %s)" % where if where else "")
    if committing:
        return ("The connection to PostgreSQL was lost while committing (%s). Whether the transaction committed "
                "is unknown: run this module without 'target' to read the history and see where the database "
                "stands." % cause)
    return ("The connection to PostgreSQL was lost in the middle of the migration: %s\nNothing was committed: the "
            "whole plan runs in one transaction, which was never committed, and PostgreSQL discards an uncommitted "
            "transaction when its session ends. To check, run this module without 'target': it reads the history."
            % cause)


class PlanRun(object):
    """One plan on a live database: what it would destroy, measured now in a transaction rolled back
    (``assess``), then the plan itself in ONE transaction (``execute``). ``conn`` is in autocommit before and
    after each step; each step takes its own transaction.

    ``create_history``: the scripts' statements that create the history table, run first (as ``dotnet ef database
    update`` creates it on a database EF has never migrated). Unverified statements run only in migrations named in
    ``accept_unverified``. After ``execute``, ``timings`` holds the seconds each migration took and ``rewrites``
    each ALTER TABLE that could rewrite its table, and whether it did (its relfilenode changed) or was metadata-only.
    A failing ADD FOREIGN KEY reports the first offending keys.
    """

    def __init__(self, conn, history, blocks, applied, expected, accepted=(), accept_unverified=(),
                 lock_timeout=None, statement_timeout=None, create_history=(), secrets=()):
        self.conn, self.history, self.blocks = conn, history, blocks
        self.applied, self.expected = applied, expected
        self.accepted, self.accept_unverified = accepted, accept_unverified
        self.lock_timeout = lock_timeout
        self.statement_timeout = None if statement_timeout in (None, "0", "") else statement_timeout
        self.create_history = create_history
        self.secrets = [s for s in secrets if s]
        self.timings, self.rewrites = {}, []

    def assess(self):
        """Data-loss entries of every measured statement of the plan, measured against the database now."""
        self.conn.autocommit = False
        try:
            with self.conn.cursor() as cur:
                return assess_data_loss(cur, self.blocks)
        finally:
            self._back_to_autocommit()

    def execute(self):
        """Run the plan in one transaction; returns ``(executed, data_loss)``. Raises after rolling back on any
        failure: ExecutionError (ConnectionLost), DataLossRefused, LockBusy."""
        self.conn.autocommit = False
        try:
            return self._execute()
        finally:
            self._back_to_autocommit()

    def _back_to_autocommit(self):
        try:
            self.conn.rollback()  # after a commit there is nothing left to undo; the measuring reads are discarded
            self.conn.autocommit = True
        except psycopg2.Error:
            pass  # the connection is gone: the error that broke it is the one to report

    def _execute(self):
        executed, measured = [], []
        for block in self.blocks:
            if block.unverified() and not is_accepted_unverified(block.migration_id, self.accept_unverified):
                first = block.unverified()[0]
                raise ExecutionError("Migration %s has unverified statements (first at %s: %s) and is not in "
                                     "accept_unverified. Nothing was changed." % (block.migration_id, first.where,
                                                                                  first.reason))
        committing, where = False, None
        conn, history, secrets = self.conn, self.history, self.secrets
        cur = conn.cursor()
        try:
            if self.lock_timeout:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", (str(self.lock_timeout),))
            if self.statement_timeout:
                cur.execute("SELECT set_config('statement_timeout', %s, true)", (str(self.statement_timeout),))
            for stmt in self.create_history:
                cur.execute(stmt.sql)
            try:
                cur.execute("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE" % history.qualified)
            except psycopg2.errors.LockNotAvailable:
                raise LockBusy("Could not lock %s within lock_timeout (%s): an application or another tool is "
                               "migrating or holding it. Nothing was changed." % (history.qualified, self.lock_timeout))
            now = [r[0] for r in read_history(cur, history)]
            if now != self.applied:
                raise ExecutionError("The history changed between reading and locking it (now %s). Run again."
                                     % (now[-1] if now else "empty"))
            for block in self.blocks:
                started = time.monotonic()
                for stmt in block.all_statements():
                    where = "migration %s at %s" % (block.migration_id, stmt.where)
                    for op in stmt.ops:
                        entries = measure_operation(cur, op, block.migration_id, stmt.where, lock=True)
                        measured.extend(entries)
                        refused = dl.unaccepted(entries, self.accepted)
                        if refused:
                            raise DataLossRefused(refused)
                    fk = foreign_key_added(stmt)
                    if fk:
                        cur.execute("SAVEPOINT almafrica_fk")
                    rewrite = rewrite_candidate(stmt)
                    before = _relfilenode(cur, rewrite) if rewrite else None
                    try:
                        cur.execute(stmt.sql)
                    except psycopg2.Error as exc:
                        if conn.closed:
                            raise
                        details = _failure_details(block, stmt, exc, secrets)
                        if fk and exc.pgcode == "23503":
                            details["offending_keys"] = _query_offending_keys(cur, fk)
                        raise ExecutionError(
                            "Migration %s (%s) failed at %s: %s\nStatement: %s\nThe transaction was rolled back: "
                            "schema and history are exactly as before." % (
                                block.migration_id, block.direction, stmt.where, redact(str(exc).strip(), secrets),
                                redact(stmt.sql[:500], secrets)), details)
                    if fk:
                        cur.execute("RELEASE SAVEPOINT almafrica_fk")
                    if before is not None:
                        after_node = _relfilenode(cur, rewrite)
                        self.rewrites.append({"migration": block.migration_id, "table": after_node[1],
                                              "statement": stmt.where, "rewritten": before[0] != after_node[0]})
                executed.append({"migration": block.migration_id, "direction": block.direction, "source": block.source})
                self.timings[block.migration_id] = round(time.monotonic() - started, 3)
            after = [r[0] for r in read_history(cur, history)]
            if after != self.expected:
                raise ExecutionError("After running the scripts the history is %s, not the planned %s: the scripts do not "
                                     "match the database. The transaction was rolled back."
                                     % (after[-1:] or "empty", self.expected[-1:] or "empty"))
            committing, where = True, None
            conn.commit()
        except BaseException as exc:
            try:
                conn.rollback()
            except psycopg2.Error:
                pass  # the connection is gone: the server has discarded the transaction with the session
            if conn.closed and isinstance(exc, psycopg2.Error):
                raise ConnectionLost(_lost_connection_message(redact(str(exc), secrets), committing, where))
            raise
        finally:
            try:
                cur.close()
            except psycopg2.Error:
                pass
        return executed, measured
