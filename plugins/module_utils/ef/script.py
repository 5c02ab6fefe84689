# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EF Core generated SQL scripts, read with the real PostgreSQL parser (pglast): pure logic, no database.

``dotnet ef migrations script`` writes, for each migration, its Up() (or Down()) SQL followed by the
history INSERT (or DELETE). Whatever the EF version (per-migration ``START TRANSACTION;/COMMIT;``, one
transaction for the script, or ``--idempotent`` ``DO $EF$`` guards), a script therefore splits into
per-migration blocks at the history statements. Blocks are indexed by (MigrationId, direction) so that
a plan can take exactly the ones it needs from a whole release folder.
"""
from __future__ import annotations

import gc
import glob
import os
import re
import stat

try:
    import pglast
    from pglast import ast, enums
    from pglast.stream import RawStream
    HAS_PGLAST = True
    PGLAST_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - depends on the host
    HAS_PGLAST = False
    PGLAST_IMPORT_ERROR = _exc

from ansible_collections.almafrica.rollback.plugins.module_utils.ef import classify as cls
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import data_loss as dl
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import HistoryTable

UP = "up"
DOWN = "down"
BOM = "\ufeff"


class ScriptError(ValueError):
    """A script that cannot be used: says which file, where and why."""


class ScriptStatement(object):
    """One statement to execute: its SQL text, where it came from, and what it does to data.

    ``kind`` is ``classify.HARMLESS``/``MEASURED``/``UNVERIFIED`` (``reason`` says why for the last), or
    ``history``/``preamble``; ``ops`` are the data_loss.Operations to measure. The parse tree (``node``) is built
    on demand: statements the fast path recognised never need one unless blocks are compared."""

    __slots__ = ("sql", "_node", "source", "_line", "guard", "kind", "ops", "reason", "txn", "history", "preamble")

    def __init__(self, sql, node, source, line, guard=None, kind=None, ops=(), reason=None, txn=None):
        self.sql = sql
        self._node = node
        self.source = source
        self._line = line  # a number, or (Locator, statement index) resolved when first asked
        self.guard = guard  # (migration_id, must_exist) of an unwrapped idempotent DO $EF$ guard
        self.kind = kind
        self.ops = ops
        self.reason = reason
        self.txn = txn  # "begin"/"commit" for EF's transaction statements, "other" for any other one
        self.history = None  # (direction, migration_id) of a history INSERT/DELETE
        self.preamble = None  # "history" (its CREATE TABLE) or "schema" (the schema it needs): EF's preamble

    @property
    def node(self):
        if self._node is None:
            self._node = pglast.parse_sql(self.sql)[0].stmt
        return self._node

    @property
    def line(self):
        if isinstance(self._line, tuple):
            self._line = self._line[0].line_of(self._line[1])
        return self._line

    @property
    def where(self):
        return "%s:%d" % (self.source or "<script>", self.line)

    def normalized(self):
        return RawStream()(self.node)

    def as_dict(self, migration=None):
        return {"migration": migration, "file": self.source, "line": self.line, "statement": self.sql[:500],
                "reason": self.reason}


class StatementList(object):
    """A block's statements. Statements the fast path recognises whole (plain harmless ones, and DROP TABLE / DROP
    COLUMN of double-quoted names) are kept as their text and become ScriptStatements only when read; ``notable``
    (computed once, on demand) holds every statement planning must look at: all but the plain harmless ones."""

    def __init__(self, items, base, locator, source, fast):
        self.items, self.base, self.locator, self.source, self.fast = items, base, locator, source, fast
        self._notable = None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self.items)))]
        item = self.items[k]
        if isinstance(item, str):
            k = k if k >= 0 else len(self.items) + k
            found = self.fast.classify(item)
            if found is None:  # cannot happen for what the run scan kept as text; the parser decides otherwise
                return _classified(item, pglast.parse_sql(item)[0].stmt, self.source, (self.locator, self.base + k),
                                   self.fast.history)
            item = ScriptStatement(item, None, self.source, (self.locator, self.base + k), kind=found[1],
                                   ops=found[2])
        return item

    def __iter__(self):
        for k in range(len(self.items)):
            yield self[k]

    @property
    def notable(self):
        if self._notable is None:
            measured = cls.FastPath.MEASURED_PREFIXES
            self._notable = [self[k] for k, item in enumerate(self.items)
                             if not isinstance(item, str) or item.startswith(measured)]
        return self._notable


class Block(object):
    """The statements of one migration in one direction, ending with its history statement."""

    def __init__(self, migration_id, direction, statements, history_statement, source, idempotent):
        self.migration_id = migration_id
        self.direction = direction
        self.statements = statements
        self.history_statement = history_statement
        self.source = source
        self.idempotent = idempotent

    def key(self):
        """What makes two blocks the same migration step: the schema statements, formatting aside."""
        return tuple(s.normalized() for s in self.statements)

    def notable(self):
        """The statements planning must look at: all but the plain harmless ones (and not the history statement)."""
        return getattr(self.statements, "notable", self.statements)

    def unverified(self):
        return [s for s in self.notable() if s.kind == cls.UNVERIFIED]

    def all_statements(self):
        return list(self.statements) + [self.history_statement]

    def __repr__(self):
        return "Block(%s %s, %d statements, %s)" % (self.direction, self.migration_id, len(self.statements), self.source)


def _line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def _string_const(node):
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    if isinstance(node, ast.TypeCast):
        return _string_const(node.arg)
    return None


def _column_name(node):
    if isinstance(node, ast.ColumnRef) and node.fields and isinstance(node.fields[-1], ast.String):
        return node.fields[-1].sval
    return None


def _id_from_where(where, id_column):
    """The MigrationId in ``WHERE "MigrationId" = '...'`` (possibly inside AND)."""
    if isinstance(where, ast.BoolExpr) and where.boolop == enums.BoolExprType.AND_EXPR:
        for arg in where.args:
            found = _id_from_where(arg, id_column)
            if found:
                return found
        return None
    if isinstance(where, ast.A_Expr) and where.kind == enums.A_Expr_Kind.AEXPR_OP \
            and where.name and where.name[0].sval == "=":
        for col, val in ((where.lexpr, where.rexpr), (where.rexpr, where.lexpr)):
            name = _column_name(col)
            if name is not None and name.lower().replace("_", "") == id_column.lower().replace("_", ""):
                return _string_const(val)
    return None


def history_statement_id(node, history):
    """``(direction, migration_id)`` when ``node`` is the history INSERT/DELETE of a migration, else None."""
    if isinstance(node, ast.InsertStmt) and history.matches(node.relation):
        columns = [c.name for c in (node.cols or ())]
        wanted = history.id_column.lower().replace("_", "")
        index = next((i for i, c in enumerate(columns) if c.lower().replace("_", "") == wanted), 0)
        select = node.selectStmt
        if isinstance(select, ast.SelectStmt) and select.valuesLists:
            row = select.valuesLists[0]
            items = getattr(row, "items", row)
            if index < len(items):
                mid = _string_const(items[index])
                if mid:
                    return UP, mid
        raise ScriptError("history INSERT without a literal MigrationId")
    if isinstance(node, ast.DeleteStmt) and history.matches(node.relation):
        mid = _id_from_where(node.whereClause, history.id_column)
        if not mid:
            raise ScriptError("history DELETE without WHERE %s = '<MigrationId>'" % history.id_column)
        return DOWN, mid
    return None


def _is_history_create(node, history):
    return isinstance(node, ast.CreateStmt) and history.matches(node.relation)


def _guard_of(cond_sql, history):
    """``(migration_id, must_exist)`` for EF's ``[NOT] EXISTS(SELECT 1 FROM history WHERE id = '...')``."""
    try:
        stmts = pglast.parse_sql("SELECT " + cond_sql)
    except pglast.parser.ParseError:
        return None
    expr = stmts[0].stmt.targetList[0].val
    must_exist = True
    if isinstance(expr, ast.BoolExpr) and expr.boolop == enums.BoolExprType.NOT_EXPR:
        must_exist = False
        expr = expr.args[0]
    if not (isinstance(expr, ast.SubLink) and expr.subLinkType == enums.SubLinkType.EXISTS_SUBLINK):
        return None
    sub = expr.subselect
    if not (isinstance(sub, ast.SelectStmt) and sub.fromClause and len(sub.fromClause) == 1):
        return None
    if not history.matches(sub.fromClause[0]):
        return None
    mid = _id_from_where(sub.whereClause, history.id_column)
    return (mid, must_exist) if mid else None


def _dollar_tag(body):
    tag = "ef_body"
    while ("$%s$" % tag) in body:
        tag += "_"
    return "$%s$" % tag


def unwrap_idempotent_do(node, history):
    """The statements inside EF's ``DO $EF$ BEGIN IF [NOT] EXISTS(...) THEN ... END IF; END $EF$``.

    Returns ``(guard, [sql, ...])`` or None when the DO block is not EF's guard (then it runs as is).
    """
    if not isinstance(node, ast.DoStmt):
        return None
    body = None
    for item in node.args or ():
        if item.defname == "as":
            body = item.arg.sval
        elif item.defname == "language" and item.arg.sval.lower() != "plpgsql":
            return None
    if body is None:
        return None
    tag = _dollar_tag(body)
    try:
        parsed = pglast.parse_plpgsql("CREATE FUNCTION ef_guard() RETURNS void LANGUAGE plpgsql AS %s%s%s"
                                      % (tag, body, tag))
    except Exception:  # pylint: disable=broad-except  # not plpgsql we understand: run it as it is
        return None
    block = parsed[0]["PLpgSQL_function"]["action"]["PLpgSQL_stmt_block"]
    if block.get("exceptions"):
        return None
    stmts = [s for s in block.get("body", []) if "PLpgSQL_stmt_return" not in s]
    if len(stmts) != 1 or "PLpgSQL_stmt_if" not in stmts[0]:
        return None
    if_stmt = stmts[0]["PLpgSQL_stmt_if"]
    if if_stmt.get("elsif_list") or if_stmt.get("else_body"):
        return None
    guard = _guard_of(if_stmt["cond"]["PLpgSQL_expr"]["query"], history)
    if guard is None:
        return None
    inner = []
    for stmt in if_stmt.get("then_body", []):
        if "PLpgSQL_stmt_execsql" in stmt:
            inner.append(stmt["PLpgSQL_stmt_execsql"]["sqlstmt"]["PLpgSQL_expr"]["query"])
        elif "PLpgSQL_stmt_dynexecute" in stmt:
            query = stmt["PLpgSQL_stmt_dynexecute"]["query"]["PLpgSQL_expr"]["query"]
            literal = _string_const(pglast.parse_sql("SELECT " + query)[0].stmt.targetList[0].val)
            if literal is None or stmt["PLpgSQL_stmt_dynexecute"].get("params"):
                return None
            inner.append(literal)
        else:
            return None
    return guard, inner


def _parse(text, source):
    try:
        return pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        line = _line_of(text, location) if location is not None else "?"
        raise ScriptError("%s:%s is not valid PostgreSQL SQL: %s" % (source or "<script>", line, exc.args[0]))


def _split(text, source, with_parser=False):
    """The statements' texts, split by PostgreSQL's own scanner (quotes, dollar quotes, comments exactly as the
    server reads them; no parse trees). A piece the scanner cut wrong (a ``BEGIN ATOMIC`` body) or that is not valid
    SQL matches none of the fast path's whole-statement patterns, so the parser reads it: then the whole script is
    split again by the parser (``with_parser``), which either splits it right or says where it is invalid."""
    try:
        return pglast.parser.split(text, with_parser=with_parser)
    except pglast.parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        line = _line_of(text, location) if location is not None else "?"
        raise ScriptError("%s:%s is not valid PostgreSQL SQL: %s" % (source or "<script>", line, exc.args[0]))


# What may separate two statements: whitespace, semicolons, comments (nested block comments fall back to find()).
_GAP = re.compile(r"(?:\s+|;|--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")


def _transaction_kind(node):
    k = enums.TransactionStmtKind
    if node.kind in (k.TRANS_STMT_BEGIN, k.TRANS_STMT_START) and not node.options:
        return "begin"
    if node.kind == k.TRANS_STMT_COMMIT and not node.chain:
        return "commit"
    return "other"


def _classified(sql, node, source, line, history, guard=None):
    stmt = ScriptStatement(sql, node, source, line, guard=guard)
    if isinstance(node, ast.TransactionStmt):
        stmt.txn = _transaction_kind(node)
        return stmt
    try:
        stmt.history = history_statement_id(node, history)
    except ScriptError as exc:
        raise ScriptError("%s: %s" % (stmt.where, exc))
    if stmt.history:
        stmt.kind = "history"
        return stmt
    if cls.is_preamble(node, history):
        stmt.preamble = "history" if _is_history_create(node, history) else "schema"
    stmt.kind, stmt.reason = cls.classify_node(node, history)
    if stmt.kind == cls.MEASURED:
        stmt.ops = tuple(dl.destructive_operations(node, None, history.table))
    return stmt


class Locator(object):
    """Line numbers of a script's statements, found on demand by walking forward from the last one asked for:
    linear over a whole script read in order (counting from the start for every statement was quadratic)."""

    def __init__(self, text, pieces):
        self.text, self.pieces = text, pieces
        self._reset()

    def _reset(self):
        self.next, self.pos, self.counted, self.line = 0, 0, 0, 1

    def line_of(self, index):
        if index < self.next - 1:
            self._reset()
        text = self.text
        while self.next <= index:
            sql = self.pieces[self.next]
            start = _GAP.match(text, self.pos).end()
            if not text.startswith(sql, start):
                start = text.find(sql, self.pos)  # nested block comments: rare, still exact in practice
            self.line += text.count("\n", self.counted, start)
            self.counted, self.pos = start, start + len(sql)
            self.next += 1
        return self.line


class _Resplit(Exception):
    """A piece of the scanner's split is not one valid statement: split with the parser instead."""


def _statements(text, source, history):
    try:
        return _statements_of(text, source, history, _split(text, source))
    except _Resplit:
        return _statements_of(text, source, history, _split(text, source, with_parser=True), resplit=False)


def _statements_of(text, source, history, pieces, resplit=True):
    """``(items, notable, locator)`` for the top-level statements of a script: ``items[i]`` is the text of a plain
    harmless statement (fast path) or a classified ScriptStatement; ``notable`` lists the indexes of the latter
    (idempotent DO guards unwrapped: their inner statements share the DO's index, as a list).

    Linear in the size of the script: the parser splits it once; one regular expression run over all statements
    finds the plain harmless ones (most of a big script) without a Python step each; the others go through the
    fast path or get a parse tree; line numbers are found when asked for (``Locator``)."""
    if "\x00" in text:
        raise ScriptError("%s contains a NUL character: not a SQL script." % (source or "<script>"))
    texts = list(pieces)  # what the Locator looks for: leading comments (the scanner keeps them) stripped
    locator = Locator(text, texts)
    fast = cls.FastPath(history)
    items = list(pieces)
    notable = []
    joined = "\x00".join(pieces)
    index, last = 0, 0
    for start, sql in fast.not_plain_harmless(joined):
        index += joined.count("\x00", last, start)
        last = start
        if sql[0] in "-/":
            sql = texts[index] = sql[_GAP.match(sql).end():]
            if not sql:  # only a comment: no statement
                items[index] = []
                notable.append(index)
                continue
        found = fast.classify(sql)
        notable.append(index)
        if found is not None:
            stmt = ScriptStatement(sql, None, source, (locator, index), kind=found[1], ops=found[2])
            stmt.txn = found[0]
            items[index] = stmt
            continue
        line = (locator, index)
        try:
            node = pglast.parse_sql(sql)[0].stmt
        except pglast.parser.ParseError as exc:
            if resplit:
                raise _Resplit()
            raise ScriptError("%s:%s is not valid PostgreSQL SQL: %s" % (source or "<script>", locator.line_of(index),
                                                                         exc.args[0]))
        unwrapped = unwrap_idempotent_do(node, history)
        if unwrapped is None:
            items[index] = _classified(sql, node, source, line, history)
            continue
        guard, inner = unwrapped
        inner_statements = []
        for inner_sql in inner:
            for inner_raw in _parse(inner_sql, "%s:%d (inside DO)" % (source or "<script>", locator.line_of(index))):
                istart = inner_raw.stmt_location or 0
                isql = inner_sql[istart:istart + inner_raw.stmt_len] if inner_raw.stmt_len else inner_sql[istart:]
                inner_statements.append(_classified(isql.strip(), inner_raw.stmt, source, line, history, guard=guard))
        items[index] = inner_statements
    return items, notable, locator


def _short(sql):
    sql = " ".join(sql.split())
    return sql if len(sql) <= 120 else sql[:117] + "..."


def _outside(stmt, why):
    return ScriptError(
        "%s: statement outside EF's migration blocks (%s): %s. A rollback script may contain only what "
        "'dotnet ef migrations script' writes (each migration's statements and its history statement, in EF's "
        "transactions); this cannot be accepted by any option." % (stmt.where, why, _short(stmt.sql)))


def _no_migration(pending, history):
    return ScriptError(
        "%s: %d statement(s) after the last %s history statement belong to no migration (first: %s). "
        "A script cut short, edited by hand, or not generated by 'dotnet ef migrations script'?"
        % (pending[0].where, len(pending), history.table, _short(pending[0].sql)))


def _flatten(items, notable, locator, source):
    """``(items, notable)`` with the statements unwrapped from DO guards in place of their DO. Indexes shift, so
    every item becomes a ScriptStatement that keeps its own line (idempotent scripts are one DO per statement)."""
    if not any(isinstance(items[i], list) for i in notable):
        return items, notable
    flat = []
    for index, item in enumerate(items):
        if isinstance(item, list):
            flat.extend(item)
        elif isinstance(item, str):
            flat.append(ScriptStatement(item, None, source, (locator, index), kind=cls.HARMLESS))
        else:
            flat.append(item)
    return flat, list(range(len(flat)))


def split_ef_script(text, history=None, source=None):
    """``(preamble, blocks)``: the statements that create the history table (scripts from 0 start with EF's
    ``CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory"``, after the schema it needs), then the Blocks.

    Default deny: a statement that is neither EF's preamble, EF's transaction statements nor part of a migration
    block (before its history statement, inside the transaction EF opens for it) is refused with its file and line.
    """
    history = history or HistoryTable()
    if text.startswith(BOM):
        text = text[1:]
    collecting = gc.isenabled()
    gc.disable()  # millions of small objects, none cyclic: the collector would only rescan them over and over
    try:
        items, notable, locator = _statements(text, source, history)
    finally:
        if collecting:
            gc.enable()
    items, notable = _flatten(items, notable, locator, source)
    fast = cls.FastPath(history)

    def at(i):
        item = items[i]
        return ScriptStatement(item, None, source, (locator, i), kind=cls.HARMLESS) if isinstance(item, str) else item

    last_create = max((i for i in notable if items[i].preamble == "history"), default=-1)
    preamble = []
    for i in range(last_create + 1):
        stmt = at(i)
        if stmt.txn in ("begin", "commit"):
            continue
        if not stmt.preamble:
            raise _outside(stmt, "before the history table's CREATE TABLE, where EF writes only that table and "
                                 "the schema it needs")
        preamble.append(stmt)
    blocks, start, members = [], last_create + 1, []
    state = "none"  # no transaction statement seen yet (scripts made with --no-transactions), "open", "closed"
    for i in notable:
        if i <= last_create:
            continue
        stmt = items[i]
        if stmt.txn in ("begin", "commit"):
            if stmt.txn == "begin" and state == "open":
                raise _outside(stmt, "START TRANSACTION inside an open transaction")
            if stmt.txn == "commit" and state != "open":
                raise _outside(stmt, "COMMIT with no open transaction")
            if state == "closed" and i > start:
                raise _outside(at(start), "after COMMIT and before the next START TRANSACTION")
            if i > start:
                raise _no_migration([at(k) for k in range(start, i)], history)
            state, start, members = ("open" if stmt.txn == "begin" else "closed"), i + 1, []
            continue
        if stmt.txn:
            raise _outside(stmt, "a transaction statement EF does not write")
        if state == "closed":
            raise _outside(at(start), "after COMMIT and before the next START TRANSACTION")
        if stmt.history is None:
            members.append(stmt)
            continue
        direction, mid = stmt.history
        for member in members + [stmt]:
            if member.guard and (member.guard[0] != mid or member.guard[1] != (direction == DOWN)):
                guard_kind = "" if member.guard[1] else "NOT "
                raise ScriptError(
                    "%s: statement guarded by %sEXISTS(... '%s') sits in the %s block of %s: the script was edited "
                    "or is not EF-generated." % (member.where, guard_kind, member.guard[0], direction, mid))
        statements = StatementList(items[start:i], start, locator, source, fast)
        blocks.append(Block(mid, direction, statements, stmt, source,
                            idempotent=any(s.guard for s in members + [stmt])))
        start, members = i + 1, []
    if len(items) > start:
        if state == "closed":
            raise _outside(at(start), "after COMMIT and before the next START TRANSACTION")
        raise _no_migration([at(k) for k in range(start, len(items))], history)
    return preamble, blocks


def other_history_tables(text):
    """Names of tables that look like EF history tables written by a script (for 'wrong table' messages)."""
    if text.startswith(BOM):
        text = text[1:]
    names = set()
    try:
        pieces = pglast.parser.split(text)
    except pglast.parser.ParseError:
        return names
    for sql in pieces:
        if "history" not in sql.lower():
            continue  # only the few candidates get a parse tree
        node = pglast.parse_sql(sql)[0].stmt
        rel = getattr(node, "relation", None)
        if isinstance(node, (ast.InsertStmt, ast.DeleteStmt, ast.CreateStmt)) and rel is not None \
                and "history" in rel.relname.lower():
            names.add("%s.%s" % (rel.schemaname, rel.relname) if rel.schemaname else rel.relname)
    return names


def expand_script_paths(patterns):
    """Files named by ``scripts``: paths, globs, or directories (their ``*.sql``), sorted, de-duplicated.

    A path that exists but is not a regular file is kept, so that ``read_script`` refuses it by name."""
    paths, missing = [], []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if os.path.isdir(pattern):
            matched = sorted(glob.glob(os.path.join(pattern, "*.sql")))
        elif glob.has_magic(pattern):
            matched = sorted(glob.glob(pattern))
        else:
            matched = [pattern] if os.path.exists(pattern) else []
        if not matched:
            missing.append(pattern)
        for path in matched:
            if path not in paths:
                paths.append(path)
    return paths, missing


_FILE_KINDS = (("FIFO (named pipe)", stat.S_ISFIFO), ("directory", stat.S_ISDIR), ("socket", stat.S_ISSOCK),
               ("character device", stat.S_ISCHR), ("block device", stat.S_ISBLK))


def _not_regular(path, mode):
    kind = next((name for name, test in _FILE_KINDS if test(mode)), "special file")
    return ScriptError("Script %s is a %s, not a regular file: only regular files are read (reading it could block "
                       "forever or never end). Remove it from the scripts folder or name the scripts explicitly."
                       % (path, kind))


def read_script(path):
    """The text of a script file, which must be a regular file: checked before opening and again on the open
    descriptor (opened non-blocking, so that a FIFO swapped in between cannot hang the module)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _not_regular(path, os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ScriptError("Cannot read script %s: %s" % (path, exc.strerror or exc))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        with os.fdopen(fd, "rb") as fh:
            fd = None
            data = fh.read()
    except OSError as exc:
        raise ScriptError("Cannot read script %s: %s" % (path, exc.strerror or exc))
    finally:
        if fd is not None:
            os.close(fd)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScriptError("Cannot read script %s: not UTF-8 (%s)" % (path, exc))


class Scripts(object):
    """The EF scripts of one run, each file read and split once: the blocks of every (migration, direction), and
    the statements that create the history table (``preambles``: scripts from 0 start with them, after the schema
    they need), by file.

        scripts = Scripts.load(["/srv/release/migrations/"], HistoryTable())
        blocks = scripts.select(plan)
    """

    def __init__(self, history):
        self.history = history
        self.index = {}      # {(migration_id, direction): [Block, ...]}
        self.preambles = []  # [(path, [ScriptStatement, ...])]

    @classmethod
    def load(cls, patterns, history):
        """Read and split every file that ``patterns`` name (paths, globs, directories). Raises ScriptError for a
        pattern that matches nothing, an unreadable or non-EF file, or a file that holds no migration."""
        paths, missing = expand_script_paths(patterns)
        if missing:
            raise ScriptError("No script file matches %s." % ", ".join(missing))
        scripts = cls(history)
        for path in paths:
            scripts.add(path, read_script(path))
        return scripts

    def add(self, path, text):
        history = self.history
        try:
            preamble, blocks = split_ef_script(text, history, source=path)
        except ScriptError as exc:
            others = other_history_tables(text) - {history.table} if "belong to no migration" in str(exc) else ()
            if others:
                raise ScriptError("%s It writes %s instead: set history_table/history_schema to match the database."
                                  % (exc, ", ".join(sorted(others))))
            raise
        if preamble:
            self.preambles.append((path, preamble))
        if not blocks:
            raise ScriptError("%s holds no EF migration for history table %s." % (path, history.table))
        for block in blocks:
            self.index.setdefault((block.migration_id, block.direction), []).append(block)

    def known_migrations(self):
        return sorted({mid for mid, _direction in self.index})

    def created_history(self):
        """``(schema, id_column, version_column, preamble)`` of the first preamble that creates the history table
        with a MigrationId column (``schema`` None when it names none), else None."""
        for _path, preamble in self.preambles:
            for stmt in preamble:
                if not _is_history_create(stmt.node, self.history):
                    continue
                names = [e.colname for e in stmt.node.tableElts or () if isinstance(e, ast.ColumnDef)]
                id_col = next((n for n in names if n.lower().replace("_", "") == "migrationid"), None)
                version = next((n for n in names if n.lower().replace("_", "") == "productversion"), None)
                if id_col:
                    return stmt.node.relation.schemaname, id_col, version, preamble
        return None

    def history_outside(self, schema):
        """Where a block's history statement names a schema other than ``schema`` (the history table a run from 0
        creates): ``[(migration_id, where)]``. The scripts were split before that schema was known."""
        return [(b.migration_id, b.history_statement.where) for blocks in self.index.values() for b in blocks
                if getattr(b.history_statement.node, "relation", None) is not None
                and b.history_statement.node.relation.schemaname not in (None, schema)]

    def select(self, plan):
        """The blocks a plan needs, in plan order: reverts (newest first), then applies (oldest first).

        Every planned step needs exactly one block; several copies are fine when they are the same statements.
        """
        steps = [(m, DOWN) for m in plan["to_revert"]] + [(m, UP) for m in plan["to_apply"]]
        selected, problems = [], []
        for mid, direction in steps:
            candidates = self.index.get((mid, direction), [])
            distinct = {}
            for block in candidates:
                # Comparing needs parse trees: only when there are copies to compare.
                distinct.setdefault(block.key() if len(candidates) > 1 else None, block)
            if not distinct:
                kind = "rollback (Down)" if direction == DOWN else "forward (Up)"
                problems.append("no %s script block for migration %s" % (kind, mid))
            elif len(distinct) > 1:
                problems.append("migration %s (%s) appears in %d different versions: %s"
                                % (mid, direction, len(distinct), ", ".join(sorted({b.source for b in candidates}))))
            else:
                selected.append(next(iter(distinct.values())))
        if problems:
            raise ScriptError("The scripts do not cover the plan: %s. Generate the missing scripts with "
                              "'dotnet ef migrations script <from> <to> --output <file>' (for a rollback, <from> is "
                              "the newer migration) and give them in 'scripts'." % "; ".join(problems))
        return selected


def transaction_incompatible(statement):
    """Why a statement cannot run inside a transaction block, or None."""
    if statement._node is None and statement.kind is not None:
        return None  # a fast-path shape: never one of these (and no parse tree needed)
    node = statement.node
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return "DROP INDEX CONCURRENTLY"
    if isinstance(node, (ast.VacuumStmt, ast.CreatedbStmt, ast.DropdbStmt)):
        return type(node).__name__
    return None
