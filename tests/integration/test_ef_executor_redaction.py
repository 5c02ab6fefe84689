"""Defect 7: an executor that echoes its environment must not leak a password that Npgsql quotes (``""`` doubled)."""
from __future__ import annotations

import json
import os
import stat

import pytest

from stage import fixtures
from stage.runner import run_module

# Every character that makes Npgsql quote the value, a doubled quote, and the other quotings tools use.
PASSWORD = 'p@ss"x\'y;z=w %zz'
ROLE = "almafrica_quoted_pw"
FORMS = [PASSWORD, PASSWORD.replace('"', '""'), PASSWORD.replace("'", "''")]


@pytest.fixture
def quoted_role(pg, dbname):
    pg.execute("postgres", "CREATE ROLE %s LOGIN SUPERUSER PASSWORD %%s" % ROLE, (PASSWORD,))
    try:
        yield dict(pg.login_args(dbname), login_user=ROLE, login_password=PASSWORD)
    finally:
        pg.execute("postgres", "DROP ROLE IF EXISTS %s" % ROLE)


def _echoing_bundle(tmp_path, exit_code):
    """A stand-in efbundle that prints its whole environment and its connection string, then exits."""
    path = tmp_path / "efbundle"
    path.write_text("#!/bin/sh\nenv\necho \"connecting with: $ConnectionStrings__DefaultConnection\" >&2\n"
                    "exit %d\n" % exit_code)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_executor_output_is_redacted_in_every_quoting(pg, dbname, tmp_path, quoted_role):
    fixtures.build_database_in(pg, dbname)
    task = dict(quoted_role, target=fixtures.last_migration("v1.1.0"), executor="bundle",
                bundle_path=_echoing_bundle(tmp_path, 1), accept_data_loss=["*"])
    run = run_module("ef_migration_state", task)
    assert run.failed, run
    assert "The bundle executor failed (exit 1)" in run["msg"]
    output = run["executor_output"]
    assert "ConnectionStrings__DefaultConnection=" in output and "Password=" in output  # it did echo it
    assert 'Password="********"' in output
    text = json.dumps(run.result) + output
    for form in FORMS:
        assert form not in text, form
    loud = run_module("ef_migration_state", task, verbosity=3)
    assert "Password=" in loud.proc.stdout
    for form in FORMS:
        assert form not in loud.proc.stdout + loud.proc.stderr, form


def test_module_reads_the_database_with_a_quoted_password(pg, dbname, quoted_role):
    """The same password works for the module's own connection (no quoting problem on the way in)."""
    fixtures.build_database_in(pg, dbname, "v1.0.0")
    run = run_module("ef_migration_state", quoted_role)
    assert not run.failed, run
    assert run["current"] == fixtures.last_migration("v1.0.0")
    assert all(form not in json.dumps(run.result) for form in FORMS)
    assert os.environ.get("PGPASSWORD") != PASSWORD
