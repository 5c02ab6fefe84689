"""The Almafrica-like EF Core fixture database: EF-format scripts, seeds, and helpers to build and compare it.

``tests/stage/migrations/`` holds SQL written exactly as ``dotnet ef migrations script`` writes it for Npgsql,
for five migrations over three releases, in three dialects:

* ``ef8/``        EF Core 8 (ProductVersion 8.0.11): ``START TRANSACTION; ... COMMIT;`` per migration.
* ``ef9/``        EF Core 9 (ProductVersion 9.0.4): one ``START TRANSACTION; ... COMMIT;`` for the whole script.
* ``idempotent/`` EF Core 10 ``--idempotent`` (ProductVersion 10.0.0): every statement in a ``DO $EF$`` block,
  one transaction per migration, files start with a UTF-8 BOM.

``ef8/`` and ``ef9/`` hold, per release R, ``migrate_R.sql`` (last migration of the previous release, or 0, to
the last of R) and ``rollback_R.sql`` (last of R back to the last of the previous release, or 0).
``idempotent/`` holds ``migrate_all.sql`` (0 to latest) and ``rollback_all.sql`` (latest to 0).
``seed/R.sql`` adds rows that only exist in release R's schema, so a rollback really loses data:
non-null ``Farmers.PhoneNumber`` and ``Payments`` rows (v1.1.0), non-zero ``Orders.Status`` and 4-decimal
``Orders.Amount`` values that narrowing to numeric(12,2) rounds (v1.2.0).

Stdlib + psycopg2 only: imported by tests, the staging kit application and the benchmarks.
"""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS_DIR = os.path.join(HERE, "migrations")
SEED_DIR = os.path.join(MIGRATIONS_DIR, "seed")

HISTORY_TABLE = "__EFMigrationsHistory"

RELEASES = {
    "v1.0.0": ["20260201120000_InitialCreate"],
    "v1.1.0": ["20260210123456_AddFarmerPhoneNumber", "20260215090000_AddPayments"],
    "v1.2.0": ["20260301100000_AddOrderStatus", "20260310140000_WidenOrderAmount"],
}
RELEASE_ORDER = tuple(RELEASES)
LATEST_RELEASE = RELEASE_ORDER[-1]
MIGRATIONS = tuple(mid for rel in RELEASE_ORDER for mid in RELEASES[rel])

DIALECTS = ("ef8", "ef9", "idempotent")
PRODUCT_VERSIONS = {"ef8": "8.0.11", "ef9": "9.0.4", "idempotent": "10.0.0"}

# What each migration's Down() destroys when there is data: (table, column or None for the whole table, operation).
DATA_LOSS = {
    "20260201120000_InitialCreate": [("Orders", None, "DROP TABLE"), ("Farmers", None, "DROP TABLE")],
    "20260210123456_AddFarmerPhoneNumber": [("Farmers", "PhoneNumber", "DROP COLUMN")],
    "20260215090000_AddPayments": [("Payments", None, "DROP TABLE")],
    "20260301100000_AddOrderStatus": [("Orders", "Status", "DROP COLUMN")],
    "20260310140000_WidenOrderAmount": [("Orders", "Amount", "ALTER COLUMN TYPE")],
}


def _check_release(release):
    if release not in RELEASES:
        raise ValueError("unknown release %r (known: %s)" % (release, ", ".join(RELEASE_ORDER)))


def _check_dialect(dialect):
    if dialect not in DIALECTS:
        raise ValueError("unknown dialect %r (known: %s)" % (dialect, ", ".join(DIALECTS)))


def release_of(migration_id):
    """The release that introduced ``migration_id``."""
    for rel in RELEASE_ORDER:
        if migration_id in RELEASES[rel]:
            return rel
    raise ValueError("unknown migration %r" % (migration_id,))


def last_migration(release):
    """The last MigrationId of ``release``; ``"0"`` for ``None``/``"0"`` (the empty database)."""
    if release in (None, "0"):
        return "0"
    _check_release(release)
    return RELEASES[release][-1]


def migrations_upto(release):
    """MigrationIds applied at ``release`` (oldest first); empty for ``None``/``"0"``."""
    if release in (None, "0"):
        return []
    _check_release(release)
    idx = RELEASE_ORDER.index(release)
    return [mid for rel in RELEASE_ORDER[: idx + 1] for mid in RELEASES[rel]]


def previous_release(release):
    """The release before ``release``, or None for the first one."""
    _check_release(release)
    idx = RELEASE_ORDER.index(release)
    return RELEASE_ORDER[idx - 1] if idx else None


def script_paths(dialect):
    """``{name: absolute path}`` of every script of ``dialect`` (e.g. ``migrate_v1.1.0``, ``rollback_all``)."""
    _check_dialect(dialect)
    folder = os.path.join(MIGRATIONS_DIR, dialect)
    return {fn[:-4]: os.path.join(folder, fn) for fn in sorted(os.listdir(folder)) if fn.endswith(".sql")}


def migrate_script(dialect, release):
    """Forward script of ``release`` in ``dialect`` (ef8/ef9 only)."""
    _check_release(release)
    if dialect == "idempotent":
        raise ValueError("the idempotent dialect has one script from 0 to latest: migrate_all.sql")
    return script_paths(dialect)["migrate_" + release]


def rollback_script(dialect, release):
    """Script reverting ``release`` (back to the previous release) in ``dialect``.

    For ``idempotent`` there is only ``rollback_all.sql`` (latest -> 0): returned for any release, since its
    ``IF EXISTS`` guards make it revert whatever is applied; callers wanting one release back use ef8/ef9.
    """
    _check_release(release)
    if dialect == "idempotent":
        return script_paths(dialect)["rollback_all"]
    return script_paths(dialect)["rollback_" + release]


def forward_scripts(dialect, upto_release=LATEST_RELEASE):
    """Paths to apply, in order, to go from an empty database to ``upto_release``.

    ef8/ef9: ``migrate_<release>.sql`` of every release up to ``upto_release``.
    idempotent: ``[migrate_all.sql]``, which goes to the latest release; it cannot stop at an earlier
    release (that is what EF writes for ``--idempotent`` from 0), so asking for an earlier release raises
    ValueError: build earlier releases with ef8 or ef9.
    """
    _check_dialect(dialect)
    _check_release(upto_release)
    paths = script_paths(dialect)
    if dialect == "idempotent":
        if upto_release != LATEST_RELEASE:
            raise ValueError("the idempotent fixture script goes from 0 to %s only; build %s with ef8 or ef9"
                             % (LATEST_RELEASE, upto_release))
        return [paths["migrate_all"]]
    idx = RELEASE_ORDER.index(upto_release)
    return [paths["migrate_" + rel] for rel in RELEASE_ORDER[: idx + 1]]


def seed_path(release):
    _check_release(release)
    return os.path.join(SEED_DIR, release + ".sql")


# -- running SQL files ---------------------------------------------------------------------------------

def read_sql(path):
    """The text of an SQL file, UTF-8, without a leading BOM."""
    with open(path, encoding="utf-8-sig") as fh:
        return fh.read()


def split_statements(sql):
    """Split SQL text into statements at top-level semicolons, as psql does.

    Understands '...' strings (with '' escapes), E'...' strings (with backslash escapes), "..." identifiers,
    $tag$...$tag$ dollar quoting, -- line comments and nested /* */ comments. Statements keep their text
    (comments included); empty/comment-only pieces are dropped.
    """
    out, start, i, n, code = [], 0, 0, len(sql), False
    while i < n:
        c = sql[i]
        if not (c.isspace() or sql.startswith("--", i) or sql.startswith("/*", i)):
            code = code or c != ";"
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "'":
            escaped = i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            i += 1
            while i < n:
                if escaped and sql[i] == "\\":
                    i += 2
                    continue
                if sql[i] == "'":
                    if i + 1 < n and sql[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif c == '"':
            j = sql.find('"', i + 1)
            while j >= 0 and sql.startswith('""', j):
                j = sql.find('"', j + 2)
            i = n if j < 0 else j + 1
        elif c == "$" and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] in "_$")):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            if j < n and sql[j] == "$" and not sql[i + 1:i + 2].isdigit():
                tag = sql[i:j + 1]
                k = sql.find(tag, j + 1)
                i = n if k < 0 else k + len(tag)
            else:
                i += 1
        elif c == ";":
            if code:
                out.append(sql[start:i + 1].strip())
            start, i, code = i + 1, i + 1, False
        else:
            i += 1
    if code:
        out.append(sql[start:].strip())
    return out


class SqlFileError(RuntimeError):
    """A statement of an SQL file failed; ``path``, ``index`` (1-based), ``statement`` and ``cause`` say which."""

    def __init__(self, path, index, statement, cause):
        self.path, self.index, self.statement, self.cause = path, index, statement, cause
        first = statement.strip().splitlines()[0] if statement.strip() else ""
        super().__init__("%s: statement %d (%s) failed: %s" % (os.path.basename(path), index, first,
                                                               str(cause).strip()))


def apply_sql_file(conn, path):
    """Run an SQL file as ``psql -v ON_ERROR_STOP=1 -f path`` would: BOM stripped, statement by statement,
    in autocommit (explicit START TRANSACTION/COMMIT in the file take effect as written).

    On error: an open transaction is rolled back (psql exiting does the same) and SqlFileError is raised.
    Returns the number of statements run.
    """
    previous = conn.autocommit
    conn.autocommit = True
    statements = split_statements(read_sql(path))
    try:
        with conn.cursor() as cur:
            for index, stmt in enumerate(statements, 1):
                try:
                    cur.execute(stmt)
                except Exception as exc:  # psycopg2.Error: re-raised with the file position
                    _rollback_open_transaction(conn)
                    raise SqlFileError(path, index, stmt, exc) from exc
        if _in_transaction(conn):  # psql ends the session: an unterminated transaction is rolled back
            _rollback_open_transaction(conn)
            raise SqlFileError(path, len(statements), statements[-1] if statements else "",
                               "file ends inside an open transaction (missing COMMIT)")
    finally:
        conn.autocommit = previous
    return len(statements)


def _in_transaction(conn):
    import psycopg2.extensions as ext

    return conn.get_transaction_status() in (ext.TRANSACTION_STATUS_INTRANS, ext.TRANSACTION_STATUS_INERROR)


def _rollback_open_transaction(conn):
    if _in_transaction(conn):
        with conn.cursor() as cur:
            cur.execute("ROLLBACK")


# -- building and inspecting ---------------------------------------------------------------------------

def build_database(conn, release=LATEST_RELEASE, dialect="ef8", seed=True):
    """Bring an empty database to ``release`` with the ``dialect`` scripts, seeding each release on the way.

    ef8/ef9: migrate_v1.0.0, seed v1.0.0, migrate_v1.1.0, seed v1.1.0, ... up to ``release``.
    idempotent: only ``release == LATEST_RELEASE`` (see forward_scripts): migrate_all.sql, then every seed in
    release order (each seed only touches columns that exist from its release on, so this gives the same rows).
    Returns the list of files applied.
    """
    _check_dialect(dialect)
    _check_release(release)
    applied = []
    releases = RELEASE_ORDER[: RELEASE_ORDER.index(release) + 1]
    if dialect == "idempotent":
        steps = [(p, None) for p in forward_scripts(dialect, release)] + [(None, rel) for rel in releases]
    else:
        steps = []
        for rel, path in zip(releases, forward_scripts(dialect, release)):
            steps += [(path, None), (None, rel)]
    for path, rel in steps:
        if rel is not None:
            if not seed:
                continue
            path = seed_path(rel)
        apply_sql_file(conn, path)
        applied.append(path)
    return applied


def build_database_in(pg, dbname, release=LATEST_RELEASE, dialect="ef8", seed=True):
    """``build_database`` on database ``dbname`` of a ``stage.pg.PgCluster`` (opens and closes the connection)."""
    conn = pg.connect(dbname)
    try:
        return build_database(conn, release=release, dialect=dialect, seed=seed)
    finally:
        conn.close()


def applied_migrations(conn, table=HISTORY_TABLE, schema="public"):
    """MigrationIds in the history table, oldest first ([] when the table does not exist)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", ('"%s"."%s"' % (schema, table),))
        if cur.fetchone()[0] is None:
            return []
        cur.execute('SELECT "MigrationId" FROM "%s"."%s" ORDER BY "MigrationId"' % (schema, table))
        return [r[0] for r in cur.fetchall()]


def history_rows(conn, table=HISTORY_TABLE, schema="public"):
    """(MigrationId, ProductVersion) rows, oldest first."""
    with conn.cursor() as cur:
        cur.execute('SELECT "MigrationId", "ProductVersion" FROM "%s"."%s" ORDER BY "MigrationId"'
                    % (schema, table))
        return [tuple(r) for r in cur.fetchall()]


_TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY 1, 2
"""
_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_CONSTRAINTS_SQL = """
SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = %s::regclass ORDER BY conname
"""
_INDEXES_SQL = """
SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = %s::regclass ORDER BY i.relname
"""


def schema_snapshot(conn):
    """A deterministic, JSON-friendly description of every user table (history table included):

    ``{"schema.table": {"columns": [[name, type, not_null, default, identity, generated], ...] (in column
    order), "constraints": [[name, type, definition], ...], "indexes": [[name, definition], ...]}}``.
    Two databases with the same snapshot have the same tables, columns, types, defaults, nullability,
    identities, constraints and indexes.
    """
    snap = {}
    with conn.cursor() as cur:
        cur.execute(_TABLES_SQL)
        tables = cur.fetchall()
        for schema, table in tables:
            reg = '"%s"."%s"' % (schema.replace('"', '""'), table.replace('"', '""'))
            cur.execute(_COLUMNS_SQL, (reg,))
            columns = [list(r) for r in cur.fetchall()]
            cur.execute(_CONSTRAINTS_SQL, (reg,))
            constraints = [list(r) for r in cur.fetchall()]
            cur.execute(_INDEXES_SQL, (reg,))
            indexes = [list(r) for r in cur.fetchall()]
            snap["%s.%s" % (schema, table)] = {"columns": columns, "constraints": constraints, "indexes": indexes}
    return snap
