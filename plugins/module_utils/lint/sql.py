# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Raw SQL in EF Core migrations, for the lint: statements, the one that matters, a short excerpt of it.

``split_statements(sql)`` cuts SQL at semicolons outside quotes, comments and dollar-quoted bodies;
``destructive_statement(sql)`` returns the first statement that destroys data (and what it runs);
``best_statement(names, sql_ops)`` the statement of ``migrationBuilder.Sql(...)`` calls that names the object an
Up() operation made; ``sql_excerpt(op)`` a one-line excerpt of an Sql() call. Pure text work, no parser: it only
chooses what to show a reader, it never decides that SQL is correct.
"""
from __future__ import annotations

import re

DESTRUCTIVE_SQL_RE = re.compile(r"\b(DROP\s+(?:TABLE|COLUMN|SCHEMA|TYPE)|DELETE\s+FROM|"
                                r"TRUNCATE|ALTER\s+COLUMN\s+\S+\s+(?:SET\s+DATA\s+)?TYPE)\b", re.I)
# A script file name (``Scripts/001_seed.sql``, a format string ``2022-03-01_00_{0}_Fix.sql``), read only inside
# string literals and resolved string arguments, never in code (``migrationBuilder.Sql(...)`` is not a file).
SQL_RESOURCE_RE = re.compile(r"[\w./\\{}-]+\.p?sql\b", re.I)
_CS_STRING_RE = re.compile(r'[@$]*"((?:[^"\\]|\\.|"")*)"')
_TOKEN_RE = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|\[[^\]]*\]?|--[^\n]*|/\*.*?(?:\*/|$)"
                       r"|\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$|;|[^'\"`\[$;/-]+|.", re.S)
EXCERPT_LENGTH = 160


def split_statements(sql):
    """The statements of ``sql`` (stripped, empty ones dropped); at most one pass over the text."""
    statements, current, dollar = [], [], None
    for match in _TOKEN_RE.finditer(sql):
        token = match.group(0)
        if dollar is not None:
            current.append(token)
            if token == dollar:
                dollar = None
            continue
        if token.startswith("$") and token.endswith("$") and len(token) >= 2:
            dollar = token
        if token == ";":
            statements.append("".join(current))
            current = []
            continue
        current.append(token)
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip() and not _only_comments(s)]


def _strip_comments(statement):
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)


def _only_comments(statement):
    text = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
    return not text.strip()


def excerpt(statement, limit=EXCERPT_LENGTH):
    """One line: comments out, whitespace collapsed, cut with '...' past ``limit``."""
    text = " ".join(re.sub(r"--[^\n]*", " ", statement).split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def sql_excerpt(op):
    """The first statement of an Sql() call, or the call's own text when its SQL is only known at run time."""
    sql = op.get("sql")
    if isinstance(sql, str):
        statements = split_statements(sql)
        return excerpt(statements[0]) if statements else "empty SQL"
    return excerpt(op.text, 100)


def destructive_statements(sql):
    """``[(what, statement)]`` for each statement that destroys data."""
    found = []
    for statement in split_statements(sql):
        match = DESTRUCTIVE_SQL_RE.search(_LITERAL_RE.sub("''", _strip_comments(statement)))
        if match:
            found.append((" ".join(match.group(0).upper().split()), statement))
    return found


_LITERAL_RE = re.compile(r"'(?:[^']|'')*'")
# Statements that change rows, never the schema (SET: a session setting such as MySQL's FOREIGN_KEY_CHECKS).
_DATA_VERB_RE = re.compile(r"^\s*(?:UPDATE|INSERT|DELETE|MERGE|REPLACE|SELECT|WITH|TRUNCATE|VALUES|SET)\b", re.I)
_SCHEMA_VERB_RE = re.compile(r"^\s*(?:CREATE|ALTER|DROP|RENAME|COMMENT|GRANT|REVOKE)\b", re.I)


def statement_effect(statement):
    """``data`` (rows only), ``schema`` (DDL) or ``unknown`` (a DO block, a call, anything else)."""
    code = _strip_comments(statement)
    if _SCHEMA_VERB_RE.match(code):
        return "schema"
    if _DATA_VERB_RE.match(code) and not re.search(r"\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|COLUMN|SCHEMA|VIEW)\b",
                                                   _LITERAL_RE.sub("''", code), re.I):
        return "data"
    return "unknown"


_UNDOING_VERB_RE = re.compile(r"^\s*(?:DROP|ALTER|DELETE|TRUNCATE|RENAME|EXEC|CALL)\b", re.I)


def _mentions(statement, name):
    """``name`` appears in ``statement`` as an identifier (quoted or not), not inside a string literal."""
    code = _LITERAL_RE.sub("''", statement)
    return re.search(r"(?<![\w$])%s(?![\w$])" % re.escape(name), code, re.I) is not None


def mentions_all(statement, names):
    return all(_mentions(statement, n) for n in names)


def best_statement(names, sql_ops):
    """The statement among ``sql_ops``' SQL that names ``names[0]`` (and most of the others), with its op.

    Returns ``(excerpt, op)`` or ``(None, None)`` when no statement names the object.
    """
    best, best_score = (None, None), 0
    for op in sql_ops:
        sql = op.get("sql")
        if not isinstance(sql, str):
            continue
        for statement in split_statements(sql):
            if not _mentions(statement, names[0]):
                continue
            score = 2 + 2 * sum(1 for n in names[1:] if _mentions(statement, n))
            score += 1 if _UNDOING_VERB_RE.match(_strip_comments(statement)) else 0
            if score > best_score:
                best, best_score = (excerpt(statement), op), score
    return best


def resources_named(op):
    """SQL files (``*.sql``, ``*.psql``) an opaque call names in its string arguments."""
    texts = _CS_STRING_RE.findall(op.text) if not isinstance(op.get("sql"), str) else []
    args = op.args.get("args") or [v for v in op.args.values() if isinstance(v, str)]
    texts += [a for a in args if isinstance(a, str)]
    return sorted(set(name for text in texts for name in SQL_RESOURCE_RE.findall(text)))
