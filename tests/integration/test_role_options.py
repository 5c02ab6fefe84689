"""Role options no other test reaches, each run through playbooks/rollback.yml on the staging kit, by its effect.

Every run goes through stage.role_kit's harness: ansible-playbook at -vvv, its output searched for every secret of
the inventory (and the webhook URL) in every form.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import urllib.request

import pytest
import yaml

from stage import fixtures
from stage import kit as stage_kit
from stage.dumps import dump_state
from stage.role_kit import Kit, WebhookSink, secret_leaks
from stage.runner import run_module

TARGET = stage_kit.REHEARSAL_TARGET
LATEST = fixtures.MIGRATIONS[-1]
M = list(fixtures.MIGRATIONS)
STANDIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stage", "ef_standin.py")
# No deployment and no application checks: the database phases alone (the application keeps running v1.2.0).
NO_DEPLOY = {"rollback_deploy_method": "none", "rollback_app_url": "", "rollback_smoke_checks": []}
# Rolling back to v1.0.0 needs other verify_db expectations than the kit's (v1.1.0's).
TO_V10 = {"rollback_accept_data_loss": ["*"], "rollback_expected_objects": [], "rollback_absent_objects": []}


@pytest.fixture
def kit(tmp_path):
    k = Kit(str(tmp_path))
    yield k
    assert k.down() == []


def extra(**variables):
    """One ``-e`` with JSON, so lists and booleans keep their type."""
    return ["-e", json.dumps(variables)]


def drop_group_var(k, name):
    path = os.path.join(k.inventory, "group_vars", "almafrica", "main.yml")
    with open(path, encoding="utf-8") as fh:
        group_vars = yaml.safe_load(fh)
    group_vars.pop(name)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(group_vars, fh, sort_keys=False)


def order_statuses(k):
    return k.query('SELECT "Id", "Status" FROM "Orders" ORDER BY "Id"')


def coolify_get(k, path):
    req = urllib.request.Request(k.state["coolify"]["url"] + path,
                                 headers={"Authorization": "Bearer " + k.secrets["stage_coolify_token"]})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return json.load(resp)


def standin(path, kind, log):
    """An executable EF tool stand-in (stage/ef_standin.py) that first appends its arguments to ``log``."""
    path.write_text('#!/bin/sh\necho "$*" >> "%s"\nexec "%s" "%s" %s "$@"\n' % (log, sys.executable, STANDIN, kind))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# -- the harness itself ------------------------------------------------------------------------------------------

def test_the_secret_scan_finds_every_form_and_never_prints_the_secret():
    secret = 'p@ss "w0rd";x'
    for text in ('Password="p@ss ""w0rd"";x";', "url=p%40ss%20%22w0rd%22%3Bx", '{"pw": "p@ss \\"w0rd\\";x"}',
                 "PGPASSWORD='p@ss \"w0rd\";x'"):
        leaks = secret_leaks("line one\n" + text, {"db_password": secret})
        assert [(name, line) for name, line, _ignored in leaks] == [("db_password", 2)], text
        assert secret not in leaks[0][2] and "<db_password>" in leaks[0][2]
    assert secret_leaks("nothing here\n********", {"db_password": secret}) == []


# -- rollback_on_failure -----------------------------------------------------------------------------------------

def test_default_on_failure_is_stop_and_leaves_the_database_at_the_target(kit):
    drop_group_var(kit, "rollback_on_failure")  # the role's default, as an inventory that does not set it
    before = kit.dump()
    proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_image_tag=v9.9.9", "-e", "rollback_require_image=false")
    assert proc.returncode == 2
    assert "failed in phase deploy" in proc.stdout
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "deploy"
    assert report["failure"]["recovery"] == "none (rollback_on_failure=stop)"
    assert report["failure"]["database_left_at"] == TARGET
    assert kit.history() == M[:3]  # not rolled forward
    assert "Status" not in kit.dump()[0].split('CREATE TABLE public."Orders"')[1].split(");")[0]
    assert kit.dump() != before
    assert kit.version()["version"] == "1.2.0"


def test_a_recovery_that_fails_is_reported_as_failed(kit, tmp_path):
    # Only the rollback script: the migration runs, the deploy fails, the roll forward has no forward script.
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(fixtures.rollback_script("ef8", "v1.2.0"), scripts / "rollback_v1.2.0.sql")
    proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_image_tag=v9.9.9", "-e", "rollback_require_image=false",
                   *extra(rollback_scripts=[str(scripts)]))
    assert proc.returncode == 2
    report = kit.reports_of()[-1]
    failure = report["failure"]
    assert failure["phase"] == "deploy"
    assert failure["recovery"].startswith("roll_forward FAILED: "), failure
    assert M[3] in failure["recovery"] or M[4] in failure["recovery"], failure["recovery"]
    assert failure["database_left_at"] == TARGET
    assert "| recovery: roll_forward FAILED: " in failure["summary"]
    assert "recovery: roll_forward FAILED" in proc.stdout
    assert kit.history() == M[:3]
    assert report["outcome"] == "failed"


# -- verify_db ---------------------------------------------------------------------------------------------------

def test_expected_schema_fingerprint_wrong_fails_verify_db_right_passes(kit):
    # The rehearsed fingerprint of the target: a database built with v1.1.0's own forward scripts.
    conn = kit.connect()
    conn.cursor().execute('CREATE DATABASE "reference_v110" TEMPLATE template0')
    conn.close()
    pgs = kit.state["postgres"]
    login = {"login_host": pgs["host"], "login_port": pgs["port"], "login_user": pgs["user"],
             "login_password": kit.secrets["stage_db_password"], "login_db": "reference_v110"}
    import psycopg2

    ref = psycopg2.connect(host=pgs["host"], port=pgs["port"], user=pgs["user"],
                           password=kit.secrets["stage_db_password"], dbname="reference_v110")
    try:
        fixtures.build_database(ref, release="v1.1.0", seed=True)
    finally:
        ref.close()
    read = run_module("ef_migration_state", login)
    assert not read.failed, read
    fingerprint = read["schema_fingerprint"]
    assert len(fingerprint) == 64

    wrong = "0" * 64
    failed = kit.run("-e", "target=" + TARGET, "-e", "rollback_expected_schema_fingerprint=" + wrong)
    assert failed.returncode == 2
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "verify_db"
    assert "The schema fingerprint is %s, not the expected %s" % (fingerprint, wrong) in report["failure"]["message"]
    assert report["failure"]["recovery"] == "roll_forward done"
    assert kit.history() == M

    passed = kit.run("-e", "target=" + TARGET, "-e", "rollback_expected_schema_fingerprint=" + fingerprint)
    assert passed.returncode == 0, passed.stdout[-3000:]
    report = kit.reports_of()[-1]
    assert report["outcome"] == "succeeded"
    assert report["after"]["schema_fingerprint"] == fingerprint
    assert kit.history() == M[:3]


# -- the RunMigrations gate and the deploy method ----------------------------------------------------------------

def test_run_migrations_gate_off_lets_a_migrating_application_through(tmp_path):
    k = Kit(str(tmp_path), run_migrations=True)
    try:
        proc = k.run("-e", "target=" + TARGET, *extra(rollback_run_migrations_gate=False))
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "RunMigrations" not in json.dumps(k.reports_of()[-1]["failure"])
        assert k.reports_of()[-1]["outcome"] == "succeeded"
        envs = {e["key"]: e["value"] for e in coolify_get(k, "/api/v1/applications/%s/envs" % k.env()["app_uuid"])}
        assert envs["RunMigrations"] == "true"  # still configured to migrate: the gate was off, not satisfied
        assert k.history() == M[:3]
        assert k.version()["version"] == "1.1.0"
    finally:
        assert k.down() == []


def test_deploy_method_none_moves_the_database_and_deploys_nothing(kit):
    proc = kit.run("-e", "target=" + TARGET, *extra(**NO_DEPLOY))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert kit.history() == M[:3]
    assert kit.coolify_tag() == "v1.2.0"
    assert kit.version()["version"] == "1.2.0"
    assert coolify_get(kit, "/api/v1/deployments/applications/%s" % kit.env()["app_uuid"])["count"] == 0
    report = kit.reports_of()[-1]
    assert report["deploy"]["method"] == "none" and report["deploy"]["image_after"] is None
    [deploy] = [p for p in report["phases"] if p["name"] == "deploy"]
    assert deploy["summary"] == "no deployment (rollback_deploy_method=none)" and not deploy["changed"]


# -- backups -----------------------------------------------------------------------------------------------------

def test_role_backup_settings_reach_the_backup(kit):
    before = kit.dump()
    proc = kit.run("-e", "target=" + TARGET, *extra(rollback_backup_format="directory", rollback_backup_compress=3,
                                                    rollback_backup_jobs=2, rollback_backup_verify="restore",
                                                    **NO_DEPLOY))
    assert proc.returncode == 0, proc.stdout[-3000:]
    backup = kit.reports_of()[-1]["backup"]
    assert backup["format"] == "directory" and os.path.isdir(backup["path"])
    with open(backup["manifest"], encoding="utf-8") as fh:
        manifest = json.load(fh)
    # a bare number is gzip at that level; the manifest spells it out (pg_dump 16's spelling)
    assert (manifest["format"], manifest["compress"], manifest["jobs"], manifest["verify"]) == (
        "directory", "gzip:3", 2, "restore")
    # It is the database as it was: restored into a new database, pg_dump says identical.
    pgs = kit.state["postgres"]
    copy = kit.env()["database"] + "_copy"
    restored = run_module("pg_backup", {"login_host": pgs["host"], "login_port": pgs["port"], "login_user": pgs["user"],
                                        "login_password": kit.secrets["stage_db_password"],
                                        "login_db": kit.env()["database"], "state": "restored",
                                        "path": backup["path"], "restore_db": copy})
    assert not restored.failed, restored
    assert dump_state(kit.client_env(), copy) == before


def test_role_backup_keep_deletes_older_backups_of_the_series(kit):
    # Needs backup names that form a series (name_yyyymmdd_HHMMSS): main's role names them after the migration.
    first = kit.run("-e", "target=" + TARGET, *extra(rollback_backup_keep=1, **NO_DEPLOY))
    assert first.returncode == 0, first.stdout[-3000:]
    second = kit.run("-e", "target=InitialCreate", *extra(rollback_backup_keep=1, **dict(NO_DEPLOY, **TO_V10)))
    assert second.returncode == 0, second.stdout[-3000:]
    assert kit.history() == M[:1]
    reports = kit.reports_of()
    assert len(reports) == 2
    assert sorted(os.listdir(os.path.dirname(reports[-1]["backup"]["path"]))) == sorted(
        [os.path.basename(reports[-1]["backup"]["path"]), os.path.basename(reports[-1]["backup"]["manifest"])])


# -- where the history is, and how long to wait for it ------------------------------------------------------------

def test_custom_history_table_and_schema(kit, tmp_path):
    kit.query('CREATE SCHEMA ef; ALTER TABLE public."__EFMigrationsHistory" SET SCHEMA ef; '
              'ALTER TABLE ef."__EFMigrationsHistory" RENAME TO "MigrationsLog"')
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name in os.listdir(os.path.join(fixtures.MIGRATIONS_DIR, "ef8")):
        text = fixtures.read_sql(os.path.join(fixtures.MIGRATIONS_DIR, "ef8", name))
        (scripts / name).write_text(text.replace('"__EFMigrationsHistory"', '"ef"."MigrationsLog"'))
    proc = kit.run("-e", "target=" + TARGET, *extra(rollback_history_table="MigrationsLog",
                                                    rollback_history_schema="ef", rollback_scripts=[str(scripts)],
                                                    **NO_DEPLOY))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert kit.history(table="MigrationsLog", schema="ef") == M[:3]
    assert kit.query("SELECT to_regclass('public.\"__EFMigrationsHistory\"')") == [(None,)]
    report = kit.reports_of()[-1]
    assert (report["database"]["history_table"]["schema"], report["database"]["history_table"]["table"]) == (
        "ef", "MigrationsLog")
    assert report["before"]["current"] == LATEST
    with open(report["backup"]["manifest"], encoding="utf-8") as fh:
        assert json.load(fh)["ef_migration"] == LATEST  # pg_backup read the same custom table


def test_lock_timeout_reaches_the_modules(kit):
    before = kit.dump()
    holder = kit.connect()
    holder.autocommit = False
    try:
        holder.cursor().execute('LOCK TABLE "__EFMigrationsHistory" IN ACCESS EXCLUSIVE MODE')
        proc = kit.run("-e", "target=" + TARGET, *extra(rollback_lock_timeout="1500ms", **NO_DEPLOY))
    finally:
        holder.rollback()
        holder.close()
    assert proc.returncode == 2
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "preflight"
    assert "could not read it within lock_timeout (1500ms)" in report["failure"]["message"]
    assert kit.dump() == before and kit.backups() == []


# -- the external executors --------------------------------------------------------------------------------------

def test_bundle_executor_rolls_back_and_forward_through_the_role(kit, tmp_path):
    log = tmp_path / "bundle.log"
    bundle = standin(tmp_path / "efbundle", "bundle", log)
    before = order_statuses(kit)
    assert {s for _ignored, s in before} != {0}  # the seed has orders in several states
    proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_image_tag=v9.9.9", "-e", "rollback_require_image=false",
                   *extra(rollback_executor="bundle", rollback_bundle_path=bundle))
    assert proc.returncode == 2 and "failed in phase deploy" in proc.stdout
    assert log.read_text().splitlines() == [TARGET, LATEST]  # down to the target, then forward again
    report = kit.reports_of()[-1]
    assert report["failure"]["recovery"] == "roll_forward done", report["failure"]
    assert report["failure"]["database_left_at"] == LATEST
    assert kit.history() == M
    # Down() dropped Orders.Status and Up() re-added it with its default: the values are gone, as the plan said.
    assert order_statuses(kit) == [(i, 0) for i, _ignored in before]
    assert "public.Orders.Status" in [e["object"] for e in report["data_loss"]]


def test_dotnet_ef_executor_rolls_back_and_forward_through_the_role(kit, tmp_path):
    log = tmp_path / "dotnet.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    standin(bindir / "dotnet", "dotnet", log)
    proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_image_tag=v9.9.9", "-e", "rollback_require_image=false",
                   *extra(rollback_executor="dotnet_ef", rollback_dotnet_ef_project="src/Almafrica.Infrastructure",
                          rollback_dotnet_ef_startup_project="src/Almafrica.Api"),
                   env={"PATH": "%s:%s" % (bindir, os.environ["PATH"])})
    assert proc.returncode == 2 and "failed in phase deploy" in proc.stdout
    project = "--project src/Almafrica.Infrastructure --startup-project src/Almafrica.Api"
    assert log.read_text().splitlines() == ["ef database update %s %s" % (TARGET, project),
                                            "ef database update %s %s" % (LATEST, project)]
    report = kit.reports_of()[-1]
    assert report["failure"]["recovery"] == "roll_forward done", report["failure"]
    assert kit.history() == M
    assert {s for _ignored, s in order_statuses(kit)} == {0}  # Down() then Up(): the statuses were really dropped


# -- notifications ------------------------------------------------------------------------------------------------

def test_notify_on_noop(tmp_path):
    k = Kit(str(tmp_path), release="v1.1.0")  # already at the target: every run is a no-op
    sink = WebhookSink()
    try:
        quiet = k.run("-e", "target=" + TARGET, "-e", "rollback_notify_webhook_url=" + sink.url)
        assert quiet.returncode == 0, quiet.stdout[-3000:]
        assert k.reports_of()[-1]["outcome"] == "no-op"
        assert sink.received == []
        told = k.run("-e", "target=" + TARGET, *extra(rollback_notify_webhook_url=sink.url,
                                                      rollback_notify_on_noop=True))
        assert told.returncode == 0, told.stdout[-3000:]
        assert [m["event"] for m in sink.received] == ["no-op"]
        assert "no-op: database at %s" % TARGET in sink.received[0]["text"]
        assert k.history() == M[:3]
    finally:
        sink.close()
        assert k.down() == []


def test_a_failing_webhook_does_not_change_the_outcome(kit):
    sink = WebhookSink(status=500)
    try:
        proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_notify_webhook_url=" + sink.url)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert [m["event"] for m in sink.received] == ["start", "succeeded"]  # tried, and refused with 500
        assert kit.reports_of()[-1]["outcome"] == "succeeded"
        assert kit.history() == M[:3] and kit.version()["version"] == "1.1.0"
    finally:
        sink.close()


def test_a_failing_webhook_is_reported(kit):
    sink = WebhookSink(status=500)
    try:
        proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_notify_webhook_url=" + sink.url, *extra(**NO_DEPLOY))
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert len(sink.received) == 2
        said = [line for line in proc.stdout.splitlines()
                if "otif" in line and any(w in line.lower() for w in ("fail", "not sent", "could not", "refused"))]
        assert said, "no line of the output says the notification failed"
        assert any("answered HTTP 500" in line for line in said), said
        assert sink.url not in proc.stdout and sink.url not in proc.stderr  # the URL is a credential
    finally:
        sink.close()


def test_the_role_without_a_target_is_refused_by_its_argument_spec(tmp_path):
    """rollback_target has no default: a play that includes the role without it fails in the role's argument
    validation, before any task of the role runs."""
    from stage.runner import run_playbook

    playbook = tmp_path / "no_target.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "The role without a target", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "almafrica.rollback.rollback", "vars": {"rollback_db_name": "almafrica"}}]}]))
    proc = run_playbook(str(playbook), "-e", "ansible_python_interpreter=" + sys.executable, inventory="localhost,")
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert "Validating arguments against arg spec" in proc.stdout
    assert "missing required arguments: rollback_target" in proc.stdout
    assert "Preflight" not in proc.stdout  # no task of the role ran
