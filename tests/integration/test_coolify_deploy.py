"""coolify_deploy against the staging Coolify (real HTTP, spec-checked), the real Almafrica-like app and PostgreSQL.

Every test's Coolify checks each exchange against Coolify's OpenAPI spec; a test fails on any violation.
"""
from __future__ import annotations

import json
import secrets
import urllib.request

import pytest

from stage.coolify import CoolifyApplication, CoolifyServer, almafrica_launcher
from stage.fixtures import build_database
from stage.runner import run_module

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string

ROOT = ["root"]
DEPLOYER = ["read", "write", "deploy", "read:sensitive"]


def _connection_string(pg, dbname):
    params = dict(login_host=pg.host, login_port=pg.port, login_user=pg.superuser, login_password=pg.password,
                  login_db=dbname, login_unix_socket="", ssl_mode="disable", ca_cert=None, connect_timeout=10)
    return npgsql_connection_string(params)


@pytest.fixture
def db_at_v110(pg, dbname):
    """The database as the runbook leaves it before step 6: rolled back to release v1.1.0."""
    conn = pg.connect(dbname)
    try:
        build_database(conn, release="v1.1.0")
    finally:
        conn.close()
    return _connection_string(pg, dbname)


@pytest.fixture
def stage(db_at_v110):
    """Factory: a started CoolifyServer with one application; stopped and checked for spec violations after."""
    servers = []

    def make(image_tag="v1.2.0", envs=None, build_pack="dockerimage", tokens=None, launcher=almafrica_launcher):
        token = secrets.token_urlsafe(24)
        app_envs = {"ConnectionStrings__DefaultConnection": db_at_v110, "RunMigrations": "false",
                    "ASPNETCORE_ENVIRONMENT": "Staging"}
        app_envs.update(envs or {})
        app = CoolifyApplication(image_tag=image_tag, envs=app_envs, build_pack=build_pack, health_timeout=8)
        server = CoolifyServer(apps=[app], tokens=dict({token: ROOT}, **(tokens or {})), launcher=launcher)
        server.faults.queue_delay = 0.1
        servers.append(server)
        server.start()
        server.token = token
        server.app = app
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        assert server.spec_violations == []


def deploy_args(server, **kw):
    args = dict(api_url=server.url, api_token=server.token, application_uuid=server.app.uuid, image_tag="v1.1.0",
                poll_interval=0.2, timeout=120, expect_env={"RunMigrations": False})
    args.update(kw)
    return args


def app_version(server):
    with urllib.request.urlopen(server.app.fqdn + "/health/version", timeout=10) as resp:
        return json.load(resp)


def changes_seen(server):
    return server.requests_to("PATCH", "/api/v1/applications") + server.requests_to("POST", "/api/v1/deploy") \
        + server.requests_to("GET", "/api/v1/deploy")


def test_deploys_the_previous_release_and_the_app_answers_its_version(stage):
    server = stage(image_tag="v1.2.0")
    assert server.app.status == "running:unhealthy"  # v1.2.0 on a v1.1.0 schema: its /health says 503

    run = run_module("coolify_deploy", deploy_args(server))

    assert not run.failed, run
    assert run.changed
    assert run["previous_tag"] == "v1.2.0" and run["image_tag"] == "v1.1.0"
    assert run["deployment_status"] == "finished"
    assert run["deployment_uuid"] in server.deployments
    assert run["status"] == "running:healthy" and run["coolify_version"] == "4.3.11"
    assert [r["body"] for r in server.requests_to("PATCH", "/api/v1/applications")] == [
        {"docker_registry_image_tag": "v1.1.0"}]
    assert [r["query"] for r in server.requests_to("POST", "/api/v1/deploy")] == ["uuid=%s" % server.app.uuid]
    version = app_version(server)
    assert version["version"] == "1.1.0"

    again = run_module("coolify_deploy", deploy_args(server))
    assert not again.failed, again
    assert not again.changed
    assert again["deployment_uuid"] is None and again["previous_tag"] == "v1.1.0"
    assert len(server.requests_to("POST", "/api/v1/deploy")) == 1
    assert len(server.requests_to("PATCH", "/api/v1/applications")) == 1


def test_check_mode_predicts_and_changes_nothing(stage):
    server = stage(image_tag="v1.2.0")
    run = run_module("coolify_deploy", deploy_args(server), check=True, diff=True)
    assert not run.failed, run
    assert run.changed
    assert run["diff"] == {"before": {"image": "almafrica/api:v1.2.0"}, "after": {"image": "almafrica/api:v1.1.0"}}
    assert run["deployment_uuid"] is None
    assert changes_seen(server) == []
    assert {r["method"] for r in server.requests} == {"GET"}
    assert server.app.image_tag == "v1.2.0" and server.deployments == {}
    assert app_version(server)["version"] == "1.2.0"


@pytest.mark.parametrize("fault", ["429 on deploy", "500s while polling", "dropped PATCH", "Coolify before 4.2",
                                   "slow deploy"])
def test_injected_faults_are_handled(stage, fault):
    server = stage(image_tag="v1.2.0")
    if fault == "429 on deploy":
        server.faults.inject(429, method="POST", path="/api/v1/deploy", retry_after=1)
    elif fault == "500s while polling":
        server.faults.inject(500, times=2, method="GET", path="/api/v1/deployments/")
    elif fault == "dropped PATCH":
        server.faults.inject(drop=True, method="PATCH", path="/api/v1/applications/")
    elif fault == "Coolify before 4.2":
        server.faults.legacy_deploy = True
    elif fault == "slow deploy":
        server.faults.deploy_delay = 2

    run = run_module("coolify_deploy", deploy_args(server))

    assert not run.failed, run
    assert run.changed and run["deployment_status"] == "finished"
    assert run["deployment_uuid"] in server.deployments
    assert app_version(server)["version"] == "1.1.0"
    assert server.faults.pending() == 0

    def statuses(method, path):
        return [r["status"] for r in server.requests_to(method, path)]

    if fault == "429 on deploy":
        assert statuses("POST", "/api/v1/deploy") == [429, 200]
        assert any("HTTP 429, retried after 1.0 s" in r for r in run["retries"])
    elif fault == "500s while polling":
        assert statuses("GET", "/api/v1/deployments/")[:2] == [500, 500]
        assert sum("HTTP 500" in r for r in run["retries"]) == 2
    elif fault == "dropped PATCH":
        assert statuses("PATCH", "/api/v1/applications/") == ["dropped", 200]
    elif fault == "Coolify before 4.2":
        assert statuses("POST", "/api/v1/deploy") == [405]
        assert statuses("GET", "/api/v1/deploy") == [200]
    elif fault == "slow deploy":
        assert len(server.requests_to("GET", "/api/v1/deployments/%s" % run["deployment_uuid"])) > 1


def test_already_queued_id_that_does_not_exist_falls_back_to_the_list(stage):
    # Coolify's "already queued" answer carries an id that was never stored: following it directly is a 404.
    server = stage(image_tag="v1.2.0")
    server.faults.already_queued = 1
    run = run_module("coolify_deploy", deploy_args(server))
    assert not run.failed, run
    assert run["deployment_status"] == "finished"
    assert len(server.requests_to("POST", "/api/v1/deploy")) == 1
    followed = [r for r in server.requests_to("GET", "/api/v1/deployments/") if "/applications/" not in r["path"]]
    assert followed[0]["status"] == 404 and followed[0]["path"].rsplit("/", 1)[1] not in server.deployments
    assert server.requests_to("GET", "/api/v1/deployments/applications/%s" % server.app.uuid)
    assert server.deployments[run["deployment_uuid"]].is_webhook  # the deployment really queued was followed
    assert app_version(server)["version"] == "1.1.0"


def test_rate_limit_that_never_ends_fails_with_the_reason(stage):
    server = stage(image_tag="v1.2.0")
    server.faults.inject(429, times=10, path="/api/v1/applications/", retry_after=0)
    run = run_module("coolify_deploy", deploy_args(server, request_retries=2))
    assert run.failed
    assert "429" in run["msg"] and "Gave up after 3 attempts" in run["msg"]
    assert changes_seen(server) == []


def test_api_disabled_fails_at_once_saying_how_to_enable_it(stage):
    server = stage(image_tag="v1.2.0")
    server.faults.api_disabled = True
    run = run_module("coolify_deploy", deploy_args(server))
    assert run.failed
    assert "API is disabled" in run["msg"] and "Settings" in run["msg"]
    assert len(server.requests) == 1 and changes_seen(server) == []


def test_failed_deployment_fails_the_task_with_the_reason(stage):
    # v1.2.0 on a database rolled back to v1.1.0: the new container never gets healthy.
    server = stage(image_tag="v1.1.0")
    run = run_module("coolify_deploy", deploy_args(server, image_tag="v1.2.0"))
    assert run.failed
    assert run["deployment_status"] == "failed"
    assert "ended failed" in run["msg"] and "not healthy" in run["msg"]
    assert any("not healthy" in line for line in run["deployment_logs"])
    # A re-run does not take the configured tag for a deployed one.
    again = run_module("coolify_deploy", deploy_args(server, image_tag="v1.2.0"))
    assert again.failed and again.changed
    assert len(server.requests_to("POST", "/api/v1/deploy")) == 2


def test_unknown_image_tag_fails_with_the_registry_error(stage):
    server = stage(image_tag="v1.2.0")
    # require_image=false: the deployment itself finds out (tests/integration/test_coolify_images.py: the check)
    run = run_module("coolify_deploy", deploy_args(server, image_tag="v9.9.9", require_image=False))
    assert run.failed
    assert "manifest unknown" in run["msg"]


def test_wrong_token_is_a_clear_error_and_never_echoed(stage):
    server = stage()
    wrong = secrets.token_urlsafe(24)
    run = run_module("coolify_deploy", deploy_args(server, api_token=wrong))
    assert run.failed
    assert "401 Unauthenticated." in run["msg"] and "api_token" in run["msg"]
    assert wrong not in run.proc.stdout + run.proc.stderr


@pytest.mark.parametrize("abilities, failing, ability", [
    (["read"], "PATCH", "write"), (["read", "write"], "POST", "deploy"), (["deploy"], "GET", "read"),
])
def test_missing_ability_names_it(stage, abilities, failing, ability):
    token = secrets.token_urlsafe(24)
    server = stage(tokens={token: abilities})
    run = run_module("coolify_deploy", deploy_args(server, api_token=token, expect_env={}))
    assert run.failed
    assert "Missing required permissions: %s" % ability in run["msg"]
    assert "'%s' ability" % ability in run["msg"]
    refused = [r for r in server.requests if r["status"] == 403]
    assert len(refused) == 1 and refused[0]["method"] == failing
    # whatever was refused, the application keeps the image it runs (a tag set for a refused deploy is set back)
    assert server.app.image_tag == "v1.2.0" and server.deployments == {}
    if failing == "POST":
        assert "set back to almafrica/api:v1.2.0" in run["msg"]
        assert server.requests[-1]["method"] == "PATCH" and server.requests[-1]["body"] == {
            "docker_registry_image_tag": "v1.2.0"}


def test_unknown_application_uuid(stage):
    server = stage()
    run = run_module("coolify_deploy", deploy_args(server, application_uuid="doesnotexist0000000000000"))
    assert run.failed
    assert "404" in run["msg"] and "application_uuid" in run["msg"]


def test_non_dockerimage_application_is_refused_saying_what_to_do(stage):
    server = stage(build_pack="nixpacks", launcher=None)
    run = run_module("coolify_deploy", deploy_args(server))
    assert run.failed
    assert "build pack 'nixpacks'" in run["msg"] and "previous commit" in run["msg"]
    assert changes_seen(server) == []


def test_expect_env_mismatch_stops_before_any_change(stage):
    server = stage(image_tag="v1.2.0", envs={"RunMigrations": "true"})
    run = run_module("coolify_deploy", deploy_args(server))
    assert run.failed
    assert "RunMigrations is 'true' (expected 'false')" in run["msg"] and "Nothing was changed" in run["msg"]
    assert changes_seen(server) == []
    assert server.app.image_tag == "v1.2.0"


def test_expect_env_needs_read_sensitive(stage):
    token = secrets.token_urlsafe(24)
    server = stage(tokens={token: ["read", "write", "deploy"]})
    run = run_module("coolify_deploy", deploy_args(server, api_token=token))
    assert run.failed
    assert "read:sensitive" in run["msg"] and "RunMigrations" in run["msg"]
    assert changes_seen(server) == []


def test_token_never_appears_in_output_at_vvv(stage):
    server = stage(image_tag="v1.2.0")
    run = run_module("coolify_deploy", deploy_args(server), verbosity=3)
    out = run.proc.stdout + run.proc.stderr
    assert run.proc.returncode == 0, out[-3000:]
    assert "changed=1" in out
    assert server.token not in out
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out


def test_wait_false_returns_once_queued(stage):
    server = stage(image_tag="v1.2.0")
    run = run_module("coolify_deploy", deploy_args(server, wait=False))
    assert not run.failed, run
    assert run.changed and run["deployment_status"] == "queued"
    assert run["deployment_uuid"] in server.deployments
    assert server.wait_idle()
    assert server.deployments[run["deployment_uuid"]].status == "finished"
