# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each statement of an EF script does to data, decided from its parse tree: pure logic, default deny.

Every statement inside a migration block is one of:

- ``measured``: its effect on existing data is counted before anything runs and again under lock right before it
  runs (DROP TABLE/COLUMN/TYPE/DOMAIN/SCHEMA, ALTER COLUMN TYPE, TRUNCATE, UPDATE/DELETE with a plain WHERE, and
  anything with CASCADE that ``ef.measure`` can follow through ``pg_depend``);
- ``harmless``: DDL that destroys no data, ``INSERT ... VALUES`` of constants;
- ``unverified``: anything whose effect on data cannot be measured (procedural code, EXECUTE, SET/RESET,
  INSERT ... SELECT, USING expressions, COPY, CALL, SELECT, triggers, rules...). Anything not recognised here is
  unverified: it runs only when the operator accepts its migration by id (``accept_unverified``).

``FastPath`` recognises the few statement shapes EF writes by the million (seed INSERTs, DROP INDEX, DROP TABLE...)
from their text alone, so that a huge script is planned in linear time without building a parse tree for every
statement; anything it does not match exactly goes through the parser (``classify_node``).
"""
from __future__ import annotations

import re

try:
    import pglast
    from pglast import ast, enums
    from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS, UNRESERVED_KEYWORDS
except ImportError:  # pragma: no cover - ef.script reports the missing library
    pglast = ast = enums = None
    COL_NAME_KEYWORDS = RESERVED_KEYWORDS = TYPE_FUNC_NAME_KEYWORDS = UNRESERVED_KEYWORDS = ()

from ansible_collections.almafrica.rollback.plugins.module_utils.ef import data_loss as dl

HARMLESS = "harmless"
MEASURED = "measured"
UNVERIFIED = "unverified"

# Functions a column default or value may call without the module losing track of data: pg_catalog builtins that
# read no table and write nothing.
SAFE_FUNCTIONS = frozenset(("now", "clock_timestamp", "statement_timestamp", "transaction_timestamp",
                            "gen_random_uuid", "timezone"))


def _funcname(node):
    names = [n.sval for n in node.funcname]
    if len(names) == 2 and names[0] == "pg_catalog":
        return names[1]
    return names[0] if len(names) == 1 else None


def is_constant(node, allow_functions=False):
    """A value whose evaluation reads nothing and changes nothing: literals, casts of them, arrays of them,
    CURRENT_TIMESTAMP-like values (and with ``allow_functions`` a few pg_catalog builtins)."""
    if node is None:
        return True
    if isinstance(node, (ast.A_Const, ast.SQLValueFunction)):
        return True
    if isinstance(node, ast.TypeCast):
        return is_constant(node.arg, allow_functions)
    if isinstance(node, ast.A_ArrayExpr):
        return all(is_constant(e, allow_functions) for e in node.elements or ())
    if isinstance(node, ast.FuncCall) and allow_functions:
        return _funcname(node) in SAFE_FUNCTIONS and not node.agg_filter and not node.over \
            and all(is_constant(a, allow_functions) for a in node.args or ())
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_OP and node.lexpr is None:
        return is_constant(node.rexpr, allow_functions)  # unary minus
    return False


def _is_column_or_constant(node):
    return isinstance(node, ast.ColumnRef) and all(isinstance(f, ast.String) for f in node.fields) \
        or is_constant(node)


_COMPARISONS = frozenset(("=", "<>", "!=", "<", ">", "<=", ">="))


def is_plain_predicate(node):
    """A WHERE clause EF writes for UpdateData/DeleteData: comparisons of columns with constants, AND/OR/NOT,
    IN lists, IS [NOT] NULL. Nothing that calls a function or reads another table."""
    if node is None:
        return True
    if isinstance(node, ast.BoolExpr):
        return all(is_plain_predicate(a) for a in node.args)
    if isinstance(node, ast.NullTest):
        return _is_column_or_constant(node.arg)
    if isinstance(node, ast.A_Expr) and node.name and len(node.name) == 1 and node.name[0].sval in _COMPARISONS:
        if node.kind == enums.A_Expr_Kind.AEXPR_OP:
            return _is_column_or_constant(node.lexpr) and _is_column_or_constant(node.rexpr)
        if node.kind == enums.A_Expr_Kind.AEXPR_IN:
            return _is_column_or_constant(node.lexpr) and all(is_constant(v) for v in node.rexpr)
    return False


def _ef_schema_guard(node):
    """EF's EnsureSchema: ``DO $EF$ BEGIN IF NOT EXISTS(SELECT 1 FROM pg_namespace WHERE nspname = 'x') THEN
    CREATE SCHEMA x; END IF; END $EF$``. True only for exactly that."""
    if not isinstance(node, ast.DoStmt):
        return False
    body = None
    for item in node.args or ():
        if item.defname == "as":
            body = item.arg.sval
        elif item.defname == "language" and item.arg.sval.lower() != "plpgsql":
            return False
    match = re.match(r"\s*BEGIN\s+IF\s+NOT\s+EXISTS\s*\(\s*SELECT\s+1\s+FROM\s+pg_namespace\s+WHERE\s+nspname\s*=\s*"
                     r"'([^'\\]+)'\s*\)\s*THEN\s+(CREATE\s+SCHEMA\s+[^;'$]+);\s*END\s+IF\s*;\s*END\s*;?\s*\Z",
                     body or "", re.I)
    if not match:
        return False
    try:
        inner = pglast.parse_sql(match.group(2))
    except pglast.parser.ParseError:
        return False
    return len(inner) == 1 and isinstance(inner[0].stmt, ast.CreateSchemaStmt) \
        and inner[0].stmt.schemaname == match.group(1) and not inner[0].stmt.schemaElts


def is_preamble(node, history):
    """What EF writes before the first migration of a script from 0: the history table and the schema it needs."""
    if isinstance(node, ast.CreateStmt):
        return history.matches(node.relation)
    if isinstance(node, ast.CreateSchemaStmt):
        return not node.schemaElts
    return _ef_schema_guard(node)


_ALTER_HARMLESS = None


def _alter_harmless():
    global _ALTER_HARMLESS  # pylint: disable=global-statement
    if _ALTER_HARMLESS is None:
        t = enums.AlterTableType
        _ALTER_HARMLESS = frozenset(getattr(t, n) for n in (
            "AT_ColumnDefault", "AT_DropNotNull", "AT_SetNotNull", "AT_DropConstraint", "AT_AddIdentity",
            "AT_SetIdentity", "AT_DropIdentity", "AT_AddIndex", "AT_AddIndexConstraint", "AT_ValidateConstraint",
            "AT_SetStatistics", "AT_SetStorage", "AT_SetCompression", "AT_ReplicaIdentity") if hasattr(t, n))
    return _ALTER_HARMLESS


def _constraint_problem(con):
    if con.contype == enums.ConstrType.CONSTR_CHECK and not is_plain_predicate(con.raw_expr) \
            and not is_constant(con.raw_expr):
        return "a CHECK expression that calls functions (evaluated on every existing row)"
    if con.contype == enums.ConstrType.CONSTR_DEFAULT and not is_constant(con.raw_expr, allow_functions=True):
        return "a DEFAULT expression that calls functions (evaluated for every existing row)"
    return None


def _alter_table_problem(node):
    if node.objtype != enums.ObjectType.OBJECT_TABLE:
        return "ALTER of a %s" % enums.ObjectType(node.objtype).name[7:].lower()
    t = enums.AlterTableType
    for cmd in node.cmds or ():
        if cmd.subtype == t.AT_AddColumn:
            for con in cmd.def_.constraints or ():
                problem = _constraint_problem(con)
                if problem:
                    return problem
        elif cmd.subtype == t.AT_AddConstraint:
            problem = _constraint_problem(cmd.def_)
            if problem:
                return problem
        elif cmd.subtype == t.AT_AlterColumnType:
            using = cmd.def_.raw_default
            if using is not None and not _is_cast_of_column(using):
                return "ALTER COLUMN TYPE ... USING an expression other than a cast of the column"
        elif cmd.subtype == t.AT_DropColumn:
            continue
        elif cmd.subtype not in _alter_harmless():
            return "ALTER TABLE %s" % enums.AlterTableType(cmd.subtype).name[3:]
    return None


def _is_cast_of_column(node):
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return isinstance(node, ast.ColumnRef) and all(isinstance(f, ast.String) for f in node.fields)


def _returning(node):
    return getattr(node, "returningList", None) or getattr(node, "returningClause", None)  # pglast < 8 / >= 8


def _insert_problem(node):
    if node.withClause or node.onConflictClause or _returning(node):
        return "INSERT with WITH, ON CONFLICT or RETURNING"
    select = node.selectStmt
    if select is None:
        return None  # INSERT ... DEFAULT VALUES
    if not (isinstance(select, ast.SelectStmt) and select.valuesLists and not select.fromClause):
        return "INSERT ... SELECT (its rows come from a query)"
    for row in select.valuesLists:
        items = getattr(row, "items", row)
        if not all(is_constant(v) or isinstance(v, ast.SetToDefault) for v in items):
            return "INSERT ... VALUES with an expression that is not a constant"
    return None


def _dml_problem(node, what):
    if node.withClause or _returning(node) or getattr(node, "fromClause", None) \
            or getattr(node, "usingClause", None):
        return "%s with WITH, FROM/USING or RETURNING" % what
    if not is_plain_predicate(node.whereClause):
        return "%s with a WHERE clause that calls functions or reads other tables" % what
    for target in getattr(node, "targetList", None) or ():
        if target.indirection or not is_constant(target.val):
            return "%s SET to an expression that is not a constant" % what
    return None


_DROP_HARMLESS = None


def _drop_kinds():
    global _DROP_HARMLESS  # pylint: disable=global-statement
    if _DROP_HARMLESS is None:
        o = enums.ObjectType
        measured = {o.OBJECT_TABLE, o.OBJECT_SCHEMA, o.OBJECT_TYPE, o.OBJECT_DOMAIN}
        plain = {o.OBJECT_INDEX, o.OBJECT_SEQUENCE, o.OBJECT_VIEW, o.OBJECT_MATVIEW}
        no_cascade = {getattr(o, n) for n in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_TRIGGER",
                                              "OBJECT_EXTENSION", "OBJECT_COLLATION") if hasattr(o, n)}
        _DROP_HARMLESS = (measured, plain, no_cascade)
    return _DROP_HARMLESS


def classify_node(node, history):
    """``(kind, reason)`` of one statement inside a migration block (history statements are not passed here)."""
    measured_ops = dl.destructive_operations(node, None, history.table)
    if isinstance(node, (ast.CreateStmt, ast.IndexStmt, ast.RenameStmt, ast.CreateSeqStmt, ast.AlterSeqStmt,
                         ast.CreateEnumStmt, ast.AlterEnumStmt, ast.CompositeTypeStmt, ast.CreateDomainStmt,
                         ast.CreateRangeStmt, ast.CreateExtensionStmt, ast.CommentStmt, ast.ViewStmt)):
        return HARMLESS, None
    if isinstance(node, ast.CreateSchemaStmt):
        return (UNVERIFIED, "CREATE SCHEMA with embedded statements") if node.schemaElts else (HARMLESS, None)
    if isinstance(node, ast.CreateFunctionStmt):
        if node.replace:
            return UNVERIFIED, "CREATE OR REPLACE FUNCTION changes what existing triggers, defaults and checks do"
        return HARMLESS, None
    if isinstance(node, ast.AlterTableStmt):
        problem = _alter_table_problem(node)
        if problem:
            return UNVERIFIED, problem
        return (MEASURED, None) if measured_ops else (HARMLESS, None)
    if isinstance(node, ast.DropStmt):
        measured, plain, no_cascade = _drop_kinds()
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        if node.removeType in measured or (node.removeType in plain and cascade):
            return MEASURED, None
        if node.removeType in plain or (node.removeType in no_cascade and not cascade):
            return HARMLESS, None
        return UNVERIFIED, "DROP %s%s" % (enums.ObjectType(node.removeType).name[7:], " CASCADE" if cascade else "")
    if isinstance(node, ast.InsertStmt):
        problem = _insert_problem(node)
        return (UNVERIFIED, problem) if problem else (HARMLESS, None)
    if isinstance(node, ast.UpdateStmt):
        problem = _dml_problem(node, "UPDATE")
        return (UNVERIFIED, problem) if problem else (MEASURED, None)
    if isinstance(node, ast.DeleteStmt):
        problem = _dml_problem(node, "DELETE")
        return (UNVERIFIED, problem) if problem else (MEASURED, None)
    if isinstance(node, ast.TruncateStmt):
        return MEASURED, None
    if isinstance(node, ast.DoStmt):
        if _ef_schema_guard(node):
            return HARMLESS, None
        return UNVERIFIED, "procedural code (DO block)"
    if isinstance(node, ast.VariableSetStmt):
        return UNVERIFIED, "SET/RESET changes how every later statement resolves names or runs"
    if isinstance(node, ast.SelectStmt):
        return UNVERIFIED, "SELECT (it may call functions with side effects)"
    return UNVERIFIED, "%s is not a statement EF migrations write" % type(node).__name__


# -- fast path --------------------------------------------------------------------------------------------------
_KEYWORDS = frozenset(RESERVED_KEYWORDS) | frozenset(UNRESERVED_KEYWORDS) | frozenset(COL_NAME_KEYWORDS) \
    | frozenset(TYPE_FUNC_NAME_KEYWORDS)
_ANY = r'(?:"[A-Za-z0-9_ ]+"|[a-z_][a-z0-9_]*)'
_QANY = r'(?:%s\.)?%s' % (_ANY, _ANY)
_C = r"(?:-?\d+(?:\.\d+)?|'[^'\\\n]*'|NULL|TRUE|FALSE)"
_ROW = r"\(%s(?:, %s)*\)" % (_C, _C)
_COLS = r"\(%s(?:, %s)*\)" % (_ANY, _ANY)
_TXN = {"START TRANSACTION": "begin", "BEGIN": "begin", "COMMIT": "commit"}


def _name(prefix):
    return r'(?:"(?P<%s_q>[A-Za-z0-9_ ]+)"|(?P<%s_b>[a-z_][a-z0-9_]*))' % (prefix, prefix)


def _qname(prefix):
    return r"(?:%s\.)?%s" % (_name(prefix + "s"), _name(prefix + "t"))


_QQUOTED = r'(?:"[A-Za-z0-9_ ]+"\.)?"[A-Za-z0-9_ ]+"'


class FastPath(object):
    """Classify the commonest EF statement shapes from their text: ``(txn, kind, ops)`` or None (use the parser).

    Only statements the parser accepted reach it (``pglast.parser.split`` validates them), and one anchored
    pattern must match the whole statement, built only from double-quoted or plain lower-case names (a plain name
    that is a keyword goes to the parser) and plain literals."""

    MEASURED_PREFIXES = ("DROP TABLE ", "ALTER TABLE ")

    def __init__(self, history):
        self.history = history
        hist = re.escape(history.table)
        # A run of plain harmless statements (each followed by the NUL that joins them), then the next statement.
        self._plain = re.compile(r"(?:(?:%s)\x00)*([^\x00]+)" % "|".join((
            r"DROP INDEX (?!concurrently\b)%s" % _QANY,
            # Measured, but their operation is read from the text when planning asks (StatementList.notable):
            # double-quoted names only, so that no keyword can hide among them.
            r"DROP TABLE %s" % _QQUOTED,
            r'ALTER TABLE %s DROP COLUMN "[A-Za-z0-9_ ]+"' % _QQUOTED,
            r"CREATE (?:UNIQUE )?INDEX (?!concurrently\b)%s ON %s %s" % (_ANY, _QANY, _COLS),
            r'INSERT INTO (?!(?:%s\.)?(?i:"%s"|%s) )%s (?:%s )?VALUES %s(?:, %s)*' % (
                _ANY, hist, hist, _QANY, _COLS, _ROW, _ROW),
        ))).match
        self._match = re.compile("|".join((
            r"(?P<harmless>DROP INDEX %s|CREATE (?:UNIQUE )?INDEX %s ON %s %s)" % (_QANY, _ANY, _QANY, _COLS),
            r"(?P<drop_table>DROP TABLE %s)" % _qname("d"),
            r"(?P<drop_column>ALTER TABLE %s DROP COLUMN %s)" % (_qname("a"), _name("ac")),
            r"(?P<insert>INSERT INTO %s (?:%s )?VALUES %s(?:, %s)*)" % (_qname("i"), _COLS, _ROW, _ROW),
        ))).fullmatch

    def not_plain_harmless(self, joined):
        """``(start, text)`` of the statements of ``joined`` (texts joined by NUL) that are NOT plain harmless ones
        (DROP/CREATE INDEX, INSERT ... VALUES of constants outside the history table): the regular expression engine
        steps over runs of those without a Python step each. (The last statement is always returned.)"""
        pos, end = 0, len(joined)
        while pos < end:
            match = self._plain(joined, pos)
            if match is None:  # an empty statement cannot happen: pglast never returns one
                return
            yield match.start(1), match.group(1)
            pos = match.end(1) + 1

    def classify(self, sql):
        txn = _TXN.get(sql)
        if txn:
            return txn, None, ()
        match = self._match(sql)
        if match is None:
            return None
        kind = match.lastgroup
        if kind == "harmless":
            return None, HARMLESS, ()
        if kind == "drop_table":
            sq, sb, tq, tb = match.group("ds_q", "ds_b", "dt_q", "dt_b")
            if (sb is not None and sb in _KEYWORDS) or (tb is not None and tb in _KEYWORDS):
                return None  # a keyword where a name goes: let the parser say what it means
            return None, MEASURED, (dl.Operation(dl.DROP_TABLE, sq or sb, tq or tb),)
        if kind == "drop_column":
            sq, sb, tq, tb, cq, cb = match.group("as_q", "as_b", "at_q", "at_b", "ac_q", "ac_b")
            if any(b is not None and b in _KEYWORDS for b in (sb, tb, cb)):
                return None
            return None, MEASURED, (dl.Operation(dl.DROP_COLUMN, sq or sb, tq or tb, cq or cb),)
        if (match.group("it_q") or match.group("it_b")) == self.history.table:
            return None  # the history INSERT: the parser reads its MigrationId
        return None, HARMLESS, ()
