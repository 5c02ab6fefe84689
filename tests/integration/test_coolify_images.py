"""coolify_deploy's image check (require_image) and the client's rollback_images against the staging Coolify:
a tag the server does not have is refused before anything changes, in check mode too (the role's preflight);
a server Coolify cannot inspect is a warning, not a refusal."""
from __future__ import annotations

import pytest

from stage.runner import run_module
from stage.testbed import start_coolify

from ansible_collections.almafrica.rollback.plugins.module_utils.web.coolify import CoolifyClient


@pytest.fixture
def stage(pg, dbname):
    servers = []

    def make(**kw):
        server = start_coolify(pg, dbname, **kw)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        assert server.spec_violations == []


def deploy_args(server, **kw):
    args = dict(api_url=server.url, api_token=server.token, application_uuid=server.app.uuid, image_tag="v1.1.0",
                poll_interval=0.2, timeout=120)
    args.update(kw)
    return args


def changes_seen(server):
    return [r for r in server.requests if r["method"] != "GET"]


def test_rollback_images_lists_the_servers_tags_newest_first(stage):
    server = stage(db_release="v1.2.0", image_tag="v1.2.0")
    listing = CoolifyClient(server.url, server.token).rollback_images(server.app.uuid)
    assert listing["current"] == "v1.2.0"
    assert [(i["tag"], i["is_current"]) for i in listing["images"]] == [
        ("v1.2.0", True), ("v1.1.0", False), ("v1.0.0", False)]
    assert all(i["created_at"].endswith("Z") for i in listing["images"])


@pytest.mark.parametrize("check_mode", [True, False], ids=["preflight (check mode)", "deploy"])
def test_a_missing_image_is_refused_with_nothing_changed(stage, check_mode):
    server = stage(db_release="v1.2.0", image_tag="v1.2.0")
    server.faults.missing_images = {"v1.1.0"}

    run = run_module("coolify_deploy", deploy_args(server), check=check_mode)

    assert run.failed
    assert run["msg"].startswith("Image tag v1.1.0 of almafrica/api is not on Coolify's server; the images there "
                                 "are: v1.2.0, v1.0.0. Nothing was changed.")
    assert run["image_available"] == "missing" and run["available_tags"] == ["v1.2.0", "v1.0.0"]
    assert not run.changed
    assert changes_seen(server) == [] and server.deployments == {}
    assert server.app.image_tag == "v1.2.0" and server.app.status == "running:healthy"


def test_an_uninspectable_server_warns_and_the_deploy_goes_on(stage):
    server = stage(db_release="v1.1.0", image_tag="v1.2.0")
    server.faults.uninspectable = True
    run = run_module("coolify_deploy", deploy_args(server))
    assert not run.failed, run
    assert run.changed and run["deployment_status"] == "finished"
    assert run["image_available"] == "unknown" and run["available_tags"] == []
    assert any("could not be checked" in w and "v1.1.0" in w for w in run["warnings"])


def test_an_available_image_is_deployed_and_said_so(stage):
    server = stage(db_release="v1.1.0", image_tag="v1.2.0")
    run = run_module("coolify_deploy", deploy_args(server))
    assert not run.failed, run
    assert run["image_available"] == "available" and "v1.1.0" in run["available_tags"]
    assert not run.get("warnings")
    # Already running the tag: nothing to deploy, so nothing to check.
    again = run_module("coolify_deploy", deploy_args(server))
    assert not again.changed and "image_available" not in again.result
    assert len(server.requests_to("GET", "/api/v1/applications/%s/rollback-images" % server.app.uuid)) == 1


def test_require_image_false_lets_the_deployment_try(stage):
    server = stage(db_release="v1.2.0", image_tag="v1.2.0")
    server.faults.missing_images = {"v1.1.0"}
    run = run_module("coolify_deploy", deploy_args(server, require_image=False))
    assert run.failed and "manifest unknown" in run["msg"]  # the deployment's own failure, after a change
    assert server.requests_to("GET", "/api/v1/applications/%s/rollback-images" % server.app.uuid) == []
    assert server.app.image_tag == "v1.1.0"
