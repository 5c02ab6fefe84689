"""coolify_deploy state=stopped / state=started (the maintenance window of issue 10) against the staging Coolify.

Real HTTP to the staging Coolify (every exchange checked against Coolify's OpenAPI spec), the real Almafrica-like
application as its container and a real PostgreSQL.
"""
from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

import pytest

from stage.coolify import CoolifyApplication, CoolifyServer, almafrica_launcher
from stage.fixtures import build_database
from stage.runner import run_module

from ansible_collections.almafrica.rollback.plugins.module_utils.web.coolify import CoolifyClient
from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string


@pytest.fixture
def stage(pg, dbname):
    """Factory: a started CoolifyServer whose application runs ``image_tag`` on a database at v1.1.0."""
    conn = pg.connect(dbname)
    try:
        build_database(conn, release="v1.1.0")
    finally:
        conn.close()
    conn_str = npgsql_connection_string(dict(
        login_host=pg.host, login_port=pg.port, login_user=pg.superuser, login_password=pg.password, login_db=dbname,
        login_unix_socket="", ssl_mode="disable", ca_cert=None, connect_timeout=10))
    servers = []

    def make(image_tag="v1.1.0"):
        token = secrets.token_urlsafe(24)
        app = CoolifyApplication(image_tag=image_tag, health_timeout=15, envs={
            "ConnectionStrings__DefaultConnection": conn_str, "RunMigrations": "false"})
        server = CoolifyServer(apps=[app], tokens={token: ["root"]}, launcher=almafrica_launcher)
        server.faults.queue_delay = server.faults.stop_delay = 0.1
        servers.append(server)
        server.start()
        server.token, server.app = token, app
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        assert server.spec_violations == []


def args(server, **kw):
    out = dict(api_url=server.url, api_token=server.token, application_uuid=server.app.uuid, poll_interval=0.2,
               timeout=60)
    out.update(kw)
    return out


def answers(url):
    """The application's /health/version, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url + "/health/version", timeout=5) as resp:
            return json.load(resp)
    except (urllib.error.URLError, OSError):
        return None


def changes_seen(server):
    return [r for r in server.requests if r["method"] != "GET"]


def test_stop_waits_until_exited_without_pruning_images_and_is_idempotent(stage):
    server = stage()
    url = server.app.fqdn
    images_before = json.loads(json.dumps(server.images))
    assert answers(url)["version"] == "1.1.0"

    run = run_module("coolify_deploy", args(server, state="stopped"), diff=True)

    assert not run.failed, run
    assert run.changed and run["state"] == "stopped"
    assert run["previous_status"] == "running:healthy"
    assert run["status"].startswith("exited")
    assert run["plan"].startswith("stop ") and "docker_cleanup=false" in run["plan"]
    assert run["diff"] == {"before": {"status": "running:healthy"}, "after": {"status": "exited"}}
    stops = server.requests_to("POST", "/api/v1/applications/%s/stop" % server.app.uuid)
    assert [(r["query"], r["status"]) for r in stops] == [("docker_cleanup=false", 200)]
    assert answers(url) is None  # the application process is gone: nothing can write any more
    assert server.images == images_before and server.pruned_images == []
    assert server.deployments == {}

    again = run_module("coolify_deploy", args(server, state="stopped"))
    assert not again.failed, again
    assert not again.changed
    assert again["plan"].startswith("nothing to do") and again["status"].startswith("exited")
    assert len(server.requests_to("POST", "/api/v1/applications/%s/stop" % server.app.uuid)) == 1


def test_stop_in_check_mode_says_what_it_would_do_and_changes_nothing(stage):
    server = stage()
    run = run_module("coolify_deploy", args(server, state="stopped"), check=True)
    assert not run.failed, run
    assert run.changed
    assert run["plan"] == "stop almafrica-api (running:healthy) with docker_cleanup=false and wait until it is exited"
    assert changes_seen(server) == []
    assert server.app.status == "running:healthy" and answers(server.app.fqdn)["version"] == "1.1.0"


def test_coolifys_default_docker_cleanup_prunes_the_image_a_rollback_needs(stage):
    # Why the module always sends docker_cleanup=false: with Coolify's default the stop prunes every image but
    # the one that ran, and the previous release can no longer be deployed.
    server = stage(image_tag="v1.2.0")
    client = CoolifyClient(server.url, server.token)
    client.stop_application(server.app.uuid, docker_cleanup=True)
    client.wait_status(server.app.uuid, "exited", timeout=30, interval=0.1)
    assert server.images["almafrica/api"] == ["v1.2.0"]
    assert sorted(server.pruned_images) == ["almafrica/api:v1.0.0", "almafrica/api:v1.1.0"]

    run = run_module("coolify_deploy", args(server, image_tag="v1.1.0"))
    assert run.failed  # refused by require_image before anything changed
    assert "Image tag v1.1.0 of almafrica/api is not on Coolify's server; the images there are: v1.2.0." in run["msg"]
    assert server.app.image_tag == "v1.2.0" and server.deployments == {}
    tried = run_module("coolify_deploy", args(server, image_tag="v1.1.0", require_image=False))
    assert tried.failed and tried["deployment_status"] == "failed" and "manifest unknown" in tried["msg"]


def test_start_after_stop_runs_the_configured_tag_and_is_idempotent(stage):
    server = stage()
    url = server.app.fqdn
    stopped = run_module("coolify_deploy", args(server, state="stopped"))
    assert not stopped.failed and answers(url) is None

    preview = run_module("coolify_deploy", args(server, state="started"), check=True)
    assert not preview.failed, preview
    assert preview.changed and preview["plan"].startswith("start almafrica/api:v1.1.0")
    assert server.requests_to("POST", "/api/v1/applications/%s/start" % server.app.uuid) == []

    run = run_module("coolify_deploy", args(server, state="started"))
    assert not run.failed, run
    assert run.changed and run["image_tag"] == "v1.1.0"
    assert run["deployment_status"] == "finished" and run["deployment_uuid"] in server.deployments
    assert run["status"] == "running:healthy"
    starts = server.requests_to("POST", "/api/v1/applications/%s/start" % server.app.uuid)
    assert [r["status"] for r in starts] == [200]
    assert server.requests_to("POST", "/api/v1/deploy") == []
    assert answers(url)["version"] == "1.1.0"

    again = run_module("coolify_deploy", args(server, state="started"))
    assert not again.failed, again
    assert not again.changed and again["plan"].startswith("nothing to do")
    assert len(server.requests_to("POST", "/api/v1/applications/%s/start" % server.app.uuid)) == 1


def test_start_with_an_image_tag_sets_it_first(stage):
    # A failure before the deploy: start again the version that was running, whatever is configured now.
    server = stage(image_tag="v1.0.0")
    assert not run_module("coolify_deploy", args(server, state="stopped")).failed
    run = run_module("coolify_deploy", args(server, state="started", image_tag="v1.1.0"))
    assert not run.failed, run
    assert run.changed and run["previous_tag"] == "v1.0.0" and run["image_tag"] == "v1.1.0"
    assert [r["body"] for r in server.requests_to("PATCH", "/api/v1/applications")] == [
        {"docker_registry_image_tag": "v1.1.0"}]
    assert answers(server.app.fqdn)["version"] == "1.1.0"


def test_stop_is_refused_while_a_deployment_is_pending(stage):
    server = stage()
    server.faults.deploy_delay = 20  # the deployment stays in_progress while the stop is asked
    client = CoolifyClient(server.url, server.token)
    client.update_application(server.app.uuid, {"docker_registry_image_tag": "v1.0.0"})
    queued = client.deploy(server.app.uuid)
    run = run_module("coolify_deploy", args(server, state="stopped"))
    assert run.failed, (run, [(d.status, d.updated_at) for d in server.deployments.values()])
    assert queued["deployment_uuid"] in run["msg"]
    assert "would be undone" in run["msg"] and "Nothing was changed" in run["msg"]
    assert server.requests_to("POST", "/api/v1/applications/%s/stop" % server.app.uuid) == []
    assert server.wait_idle()


def test_deployed_needs_an_image_tag(stage):
    server = stage()
    run = run_module("coolify_deploy", args(server))
    assert run.failed
    assert "state is deployed" in run["msg"] and "image_tag" in run["msg"]
    assert server.requests == []
