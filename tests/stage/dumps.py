"""pg_dump of a database's schema and data, for "nothing changed" / "identical" assertions in tests.

    before = dump_state(pg.client_env(), dbname)
    ... the step under test ...
    assert dump_state(pg.client_env(), dbname) == before

``env`` is a libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD): the password never on argv.
"""
from __future__ import annotations

import subprocess


def _dump(env, dbname, *options):
    out = subprocess.run(["pg_dump", *options, dbname], env=env, capture_output=True, text=True, check=True).stdout
    # pg_dump 15.14+ brackets its output with \restrict/\unrestrict and a random key: not part of the database.
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def schema_dump(env, dbname):
    return _dump(env, dbname, "--schema-only", "--no-owner")


def data_dump(env, dbname):
    return _dump(env, dbname, "--data-only")


def dump_state(env, dbname):
    """``(schema, data)`` as pg_dump writes them."""
    return schema_dump(env, dbname), data_dump(env, dbname)
