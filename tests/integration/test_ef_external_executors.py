"""executor=bundle and executor=dotnet_ef, with a stand-in executable playing the EF tools' contract."""
from __future__ import annotations

import json
import os
import stat
import sys

from stage import fixtures
from stage.runner import run_module

STANDIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stage", "ef_standin.py")
V11 = fixtures.last_migration("v1.1.0")
V10 = fixtures.last_migration("v1.0.0")
SCRIPTS = [os.path.join(fixtures.MIGRATIONS_DIR, "ef8")]


def _executable(path, kind):
    path.write_text('#!/bin/sh\nexec "%s" "%s" %s "$@"\n' % (sys.executable, STANDIN, kind))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


_build = fixtures.build_database_in


def _history(pg, dbname):
    return [r[0] for r in pg.execute(dbname, 'SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY 1',
                                     fetch=True)]


def test_bundle_gets_target_on_argv_and_connection_only_in_environment(pg, dbname, tmp_path):
    _build(pg, dbname)
    bundle = _executable(tmp_path / "efbundle", "bundle")
    record = tmp_path / "record.json"
    args = dict(pg.login_args(dbname), target=V11, executor="bundle", bundle_path=bundle, scripts=SCRIPTS,
                accept_data_loss=["public.Orders"], executor_args=["--verbose"])
    run = run_module("ef_migration_state", args, task_env={"STANDIN_RECORD": str(record)})
    assert not run.failed, run
    assert run.changed and run["current"] == V11
    assert _history(pg, dbname) == list(fixtures.MIGRATIONS[:3])
    seen = json.loads(record.read_text())
    assert seen["argv"] == ["bundle", V11, "--verbose"]
    assert seen["has_connection"]
    assert pg.password not in " ".join(seen["argv"])
    assert pg.password not in json.dumps(run.result)
    assert "Reverting release v1.2.0." in run["executor_output"]
    # Second run: nothing to do, the bundle is not even started.
    record.unlink()
    again = run_module("ef_migration_state", args, task_env={"STANDIN_RECORD": str(record)})
    assert not again.failed and not again.changed
    assert not record.exists()


def test_bundle_without_scripts_refuses_unless_any_loss_is_accepted(pg, dbname, tmp_path):
    _build(pg, dbname)
    bundle = _executable(tmp_path / "efbundle", "bundle")
    base = dict(pg.login_args(dbname), target=V11, executor="bundle", bundle_path=bundle)
    refused = run_module("ef_migration_state", base)
    assert refused.failed and "Cannot measure the data at risk" in refused["msg"]
    assert len(_history(pg, dbname)) == 5
    accepted = run_module("ef_migration_state", dict(base, accept_data_loss=["*"]))
    assert not accepted.failed, accepted
    assert _history(pg, dbname) == list(fixtures.MIGRATIONS[:3])


def test_failing_bundle_and_bundle_that_does_nothing_fail_the_task(pg, dbname, tmp_path):
    _build(pg, dbname)
    bundle = _executable(tmp_path / "efbundle", "bundle")
    args = dict(pg.login_args(dbname), target=V11, executor="bundle", bundle_path=bundle, accept_data_loss=["*"])
    failed = run_module("ef_migration_state", args, task_env={"STANDIN_MODE": "fail"})
    assert failed.failed
    assert "The bundle executor failed (exit 1)" in failed["msg"]
    assert "42703" in failed["executor_output"]
    lying = run_module("ef_migration_state", args, task_env={"STANDIN_MODE": "noop"})
    assert lying.failed
    assert "exited 0 but the history is at %s, not the planned %s" % (fixtures.MIGRATIONS[-1], V11) in lying["msg"]


def test_dotnet_ef_database_update(pg, dbname, tmp_path):
    _build(pg, dbname, "v1.1.0")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _executable(bindir / "dotnet", "dotnet")
    record = tmp_path / "record.json"
    run = run_module("ef_migration_state",
                     dict(pg.login_args(dbname), target="InitialCreate", executor="dotnet_ef",
                          dotnet_ef_project="src/Almafrica.Infrastructure",
                          dotnet_ef_startup_project="src/Almafrica.Api", scripts=SCRIPTS,
                          accept_data_loss=["public.Farmers.PhoneNumber", "public.Payments"]),
                     task_env={"PATH": "%s:%s" % (bindir, os.environ["PATH"]), "STANDIN_RECORD": str(record)})
    assert not run.failed, run
    assert _history(pg, dbname) == [V10]
    seen = json.loads(record.read_text())
    assert seen["argv"][1:] == ["ef", "database", "update", V10, "--project", "src/Almafrica.Infrastructure",
                                "--startup-project", "src/Almafrica.Api"]
    assert pg.password not in " ".join(seen["argv"])
