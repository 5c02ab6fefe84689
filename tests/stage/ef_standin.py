"""Stand-in for the external EF executors (an EF migration bundle, `dotnet ef database update`).

A real efbundle needs .NET; this plays its command-line contract for the tests: the target as argument, the
connection string only in the environment (``ConnectionStrings__DefaultConnection`` by default, Npgsql format),
exit 0 on success and 1 on failure. It moves the fixture database between release boundaries with the fixture's
EF scripts. It records its argv and the names of the environment variables it saw in $STANDIN_RECORD (JSON).
$STANDIN_MODE=fail makes it fail like a real bundle does on a database error; =noop exits 0 doing nothing.

    python ef_standin.py bundle <target> [args...]
    python ef_standin.py dotnet ef database update <target> --project P [--startup-project S] [args...]
"""
from __future__ import annotations

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stage import fixtures  # noqa: E402

import psycopg2  # noqa: E402

_KEYS = {"host": "host", "port": "port", "database": "dbname", "username": "user", "password": "password"}


def parse_npgsql(conn_string):
    """Npgsql connection string -> psycopg2 keywords (values may be double-quoted, "" escapes a quote)."""
    out = {}
    for match in re.finditer(r'\s*([^=;]+?)\s*=\s*("(?:[^"]|"")*"|[^;]*)\s*(?:;|$)', conn_string):
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = value[1:-1].replace('""', '"')
        if key in _KEYS:
            out[_KEYS[key]] = value
    return out


def main(argv):
    kind, args = argv[0], argv[1:]
    record = os.environ.get("STANDIN_RECORD")
    env_name = os.environ.get("STANDIN_CONNECTION_ENV", "ConnectionStrings__DefaultConnection")
    if record:
        with open(record, "w", encoding="utf-8") as fh:
            json.dump({"argv": argv, "env": sorted(os.environ), "has_connection": env_name in os.environ}, fh)
    if kind == "dotnet":
        if args[:3] != ["ef", "database", "update"]:
            print("stand-in: expected 'dotnet ef database update'", file=sys.stderr)
            return 2
        args = args[3:]
    target = args[0]
    mode = os.environ.get("STANDIN_MODE", "")
    if mode == "noop":
        print("Done.")
        return 0
    if mode == "fail":
        print("Applying migration '%s'.\nNpgsql.PostgresException (0x80004005): 42703: column \"Status\" does not exist"
              % target, file=sys.stderr)
        return 1
    conn = psycopg2.connect(**parse_npgsql(os.environ[env_name]))
    conn.autocommit = True
    current = fixtures.applied_migrations(conn)
    now = fixtures.release_of(current[-1]) if current else None
    boundaries = {fixtures.last_migration(r): r for r in fixtures.RELEASE_ORDER}
    goal = None if target == "0" else boundaries.get(target)
    if target != "0" and goal is None:
        print("stand-in: target %s is not a release boundary" % target, file=sys.stderr)
        return 1
    order = list(fixtures.RELEASE_ORDER)
    now_i = order.index(now) if now else -1
    goal_i = order.index(goal) if goal else -1
    for i in range(now_i, goal_i, -1):
        fixtures.apply_sql_file(conn, fixtures.rollback_script("ef8", order[i]))
        print("Reverting release %s." % order[i])
    for i in range(now_i + 1, goal_i + 1):
        fixtures.apply_sql_file(conn, fixtures.migrate_script("ef8", order[i]))
        print("Applying release %s." % order[i])
    print("Done.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
