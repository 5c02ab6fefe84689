"""pg_scratch_db against a real throwaway PostgreSQL: it drops only the scratch copies almafrica.rollback restored."""
from __future__ import annotations

import subprocess

import pytest

from stage import fixtures
from stage.runner import run_module

OURS = "Restored by almafrica.rollback.pg_backup from almafrica_x.dump (sha256 0)"


def databases(pg, prefix):
    return [r[0] for r in pg.execute("postgres", "SELECT datname FROM pg_database WHERE starts_with(datname, %s) "
                                                 "ORDER BY 1", (prefix,), fetch=True)]


def make(pg, name, comment=None):
    pg.create_database(name)
    if comment:
        pg.execute("postgres", 'COMMENT ON DATABASE "%s" IS %%s' % name, (comment,))
    return name


def dump(pg, dbname):
    out = subprocess.run(["pg_dump", "--no-owner", dbname], env=pg.client_env(), capture_output=True, text=True,
                         check=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


@pytest.fixture
def copies(pg, dbname):
    """Two copies we restored, one look-alike of somebody else's, and the production database itself."""
    fixtures.build_database_in(pg, dbname, "v1.1.0")
    prefix = dbname[:30] + "_shadow_"
    ours = [make(pg, prefix + "20260101t000000z", OURS), make(pg, prefix + "20260102t000000z", OURS)]
    theirs = make(pg, prefix + "mine")
    pg.execute(theirs, "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1), (2)")
    yield prefix, ours, theirs
    for name in ours + [theirs]:
        pg.drop_database(name)


def test_drops_only_the_copies_it_restored(pg, dbname, copies):
    prefix, ours, theirs = copies
    kept_before, prod_before = dump(pg, theirs), dump(pg, dbname)
    preview = run_module("pg_scratch_db", dict(pg.login_args(dbname), prefix=prefix), check=True, diff=True)
    assert not preview.failed, preview
    assert preview.changed and preview["dropped"] == ours and preview["kept"] == [theirs]
    assert databases(pg, prefix) == sorted(ours + [theirs])  # check mode dropped nothing
    run = run_module("pg_scratch_db", dict(pg.login_args(dbname), prefix=prefix))
    assert not run.failed, run
    assert run.changed and run["dropped"] == ours and run["kept"] == [theirs]
    assert databases(pg, prefix) == [theirs]
    assert dump(pg, theirs) == kept_before and dump(pg, dbname) == prod_before
    again = run_module("pg_scratch_db", dict(pg.login_args(dbname), prefix=prefix))
    assert not again.failed and not again.changed and again["dropped"] == []


def test_refuses_what_is_not_a_scratch_copy(pg, dbname, copies):
    prefix, ours, theirs = copies
    prod_before = dump(pg, dbname)
    named = run_module("pg_scratch_db", dict(pg.login_args(dbname), name=theirs))
    assert named.failed and "was not restored by almafrica.rollback" in named["msg"]
    itself = run_module("pg_scratch_db", dict(pg.login_args(dbname), name=dbname))
    assert itself.failed and "it is the database the module connects to" in itself["msg"]
    short = run_module("pg_scratch_db", dict(pg.login_args(dbname), prefix="t"))
    assert short.failed and "too short" in short["msg"]
    # A prefix that matches the production database itself: production has no "Restored by" comment, it stays.
    broad = run_module("pg_scratch_db", dict(pg.login_args("postgres"), prefix=dbname[:6]))
    assert not broad.failed, broad
    assert dbname not in broad["dropped"] and theirs not in broad["dropped"]
    assert databases(pg, prefix) == [theirs] and dump(pg, dbname) == prod_before


def test_room_for_a_copy(pg, dbname):
    fixtures.build_database_in(pg, dbname, "v1.2.0")
    run = run_module("pg_scratch_db", dict(pg.login_args(dbname), room_for=dbname))
    assert not run.failed, run
    room = run["room"]
    assert room["known"] is True and room["free_bytes"] > room["needed_bytes"] > room["database_bytes"] > 0


def test_room_unknown_for_a_user_who_cannot_read_the_data_directory(pg, dbname):
    fixtures.build_database_in(pg, dbname, "v1.1.0")
    user = dbname[:40] + "_ro"
    pg.execute("postgres", 'CREATE ROLE "%s" LOGIN PASSWORD %%s' % user, ("ro-" + pg.password,))
    try:
        login = dict(pg.login_args(dbname), login_user=user, login_password="ro-" + pg.password)
        warned = run_module("pg_scratch_db", dict(login, room_for=dbname))
        assert not warned.failed, warned
        assert warned["room"]["known"] is False and "pg_read_all_settings" in warned["room"]["reason"]
        assert any("Cannot check that a copy" in w for w in warned.get("warnings", []))
        strict = run_module("pg_scratch_db", dict(login, room_for=dbname, require_room_check=True))
        assert strict.failed and "Cannot check that a copy" in strict["msg"]
        assert ("ro-" + pg.password) not in str(strict.result)
    finally:
        pg.execute("postgres", 'DROP ROLE "%s"' % user)
