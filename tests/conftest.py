"""Shared fixtures: one throwaway PostgreSQL cluster per test session, a fresh database per test."""
from __future__ import annotations

import itertools
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# The collection's own code, importable as ansible_collections.almafrica.rollback.* (unit tests).
sys.path.insert(0, os.path.join(REPO, ".collections"))
sys.path.insert(0, HERE)

from stage.pg import PgCluster  # noqa: E402

_db_counter = itertools.count(1)

# Files whose tests run the whole role (ansible-playbook, a staging kit, a minute or more each), heaviest first.
# They come first, so that with `pytest -n N --dist worksteal` (make test) they start early (the first worker's
# share, which the others steal from once their short tests are done) and the run does not end on one worker
# finishing a three-minute test alone. (`--dist load` hands out fixed shares and never steals: slower, measured.)
LONG_FIRST = ("test_writer.py", "test_role_secrets.py", "test_rollback_playbook.py", "test_shadow.py",
              "test_role_options.py", "test_role_watch.py", "test_tls_postgres.py", "test_pg_scratch_db.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (rank.get(os.path.basename(str(item.fspath)), len(LONG_FIRST)), order[id(item)]))


@pytest.fixture(scope="session")
def pg():
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def dbname(pg, request):
    """A fresh, empty database for one test, dropped afterwards."""
    name = "t%d_%s" % (next(_db_counter), request.node.name[:40].lower().replace("[", "_").replace("]", ""))
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    pg.create_database(name)
    yield name
    pg.drop_database(name)


@pytest.fixture
def other_db(pg, dbname):
    """A second fresh database beside ``dbname``, for comparisons."""
    name = dbname + "_b"
    pg.create_database(name)
    yield name
    pg.drop_database(name)
