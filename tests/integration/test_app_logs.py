"""app_logs against the staging Coolify (spec-checked) running the real Almafrica-like application, whose
container logs are ASP.NET Core console entries, EF Core errors included when its schema does not match."""
from __future__ import annotations

import os
import re

import pytest

from stage.runner import run_module
from stage.testbed import call, login_token, start_coolify

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


def logs_args(server, **kw):
    args = dict(api_url=server.url, api_token=server.token, application_uuid=server.app.uuid)
    args.update(kw)
    return args


def container_log(server, lines=100):
    running, text = CoolifyClient(server.url, server.token).application_logs(server.app.uuid, lines)
    assert running
    return text.splitlines()


def test_a_clean_log_passes_and_says_how_many_lines_it_read(stage):
    server = stage()
    token = login_token(server)
    assert call(server.app.fqdn, "/api/farmers", token)[0] == 200
    assert call(server.app.fqdn, "/api/orders", token)[0] == 200

    run = run_module("app_logs", logs_args(server))

    assert not run.failed, run
    assert not run.changed
    assert run["match_count"] == 0 and run["matches"] == []
    lines = container_log(server)
    assert run["lines_read"] == len(lines) > 0
    assert "info: Microsoft.Hosting.Lifetime[14]" in lines  # what the module read is ASP.NET Core's console
    assert [r["query"] for r in server.requests_to("GET", "/api/v1/applications/%s/logs" % server.app.uuid)][0] \
        == "lines=100"


def test_an_ef_error_after_deploy_fails_and_names_the_line(stage):
    # v1.2.0 deployed onto a database still at v1.1.0: its health check and its reads of Orders.Status fail.
    server = stage(image_tag="v1.1.0")
    client = CoolifyClient(server.url, server.token)
    client.update_application(server.app.uuid, {"docker_registry_image_tag": "v1.2.0"})
    client.deploy(server.app.uuid)
    assert server.wait_idle()
    assert server.app.status == "running:unhealthy"
    status, problem = call(server.app.fqdn, "/api/orders", login_token(server))
    assert status == 500 and "Status" in problem["detail"]

    run = run_module("app_logs", logs_args(server, lines=200))

    assert run.failed
    lines = container_log(server, 200)
    ef = [m for m in run["matches"] if m["text"] == "fail: Microsoft.EntityFrameworkCore.Database.Command[20102]"]
    assert ef, run["matches"]
    assert lines[ef[0]["line"] - 1] == ef[0]["text"]  # the number names the line of the log read
    npgsql = [m for m in run["matches"] if "Npgsql.PostgresException" in m["text"]]
    assert "42703: column o.Status does not exist" in npgsql[0]["text"]
    assert re.search(r"^\d+ of the \d+ log lines read from Coolify application \S+ match error patterns; line \d+: ",
                     run["msg"])
    assert "Health check database with status Unhealthy" in run["msg"]  # the first entry: the deploy's health check
    assert run["match_count"] >= 3 and run["lines_read"] == len(lines)


def test_fail_on_match_false_returns_the_matches(stage):
    server = stage(db_release="v1.0.0", image_tag="v1.0.0")
    client = CoolifyClient(server.url, server.token)
    client.update_application(server.app.uuid, {"docker_registry_image_tag": "v1.1.0"})
    client.deploy(server.app.uuid)
    assert server.wait_idle()
    assert call(server.app.fqdn, "/api/farmers", login_token(server))[0] == 500
    run = run_module("app_logs", logs_args(server, fail_on_match=False, lines=500))
    assert not run.failed, run
    texts = [m["text"] for m in run["matches"]]
    assert any("42703: column f.PhoneNumber does not exist" in t for t in texts)
    entries = [m["entry"] for m in run["matches"] if "PhoneNumber does not exist" in m["entry"]]
    assert entries and entries[0].startswith("fail: ")


def test_lines_limits_what_is_read_and_secret_values_are_redacted(stage):
    server = stage(db_release="v1.0.0", image_tag="v1.0.0")
    client = CoolifyClient(server.url, server.token)
    client.update_application(server.app.uuid, {"docker_registry_image_tag": "v1.1.0"})
    client.deploy(server.app.uuid)
    assert server.wait_idle()
    call(server.app.fqdn, "/api/farmers", login_token(server))
    tail = container_log(server, 5)
    assert len(tail) == 5
    # A value that the log does print stands for a secret: it must not come back, in any form.
    secret = "PhoneNumber"
    run = run_module("app_logs", logs_args(server, lines=40, redact_values=[secret], fail_on_match=False))
    assert not run.failed, run
    assert run["lines_read"] == 40
    assert secret not in run.proc.stdout and "********" in str(run["matches"])
    assert [r["query"] for r in server.requests_to("GET", "/api/v1/applications/%s/logs" % server.app.uuid)][-1] \
        == "lines=40"


def test_a_stopped_application_has_no_logs_to_check(stage):
    server = stage()
    client = CoolifyClient(server.url, server.token)
    client.stop_application(server.app.uuid)
    client.wait_status(server.app.uuid, "exited", timeout=30, interval=0.1)
    run = run_module("app_logs", logs_args(server))
    assert run.failed
    assert "Application is not running." in run["msg"] and "Start it" in run["msg"]
    assert server.requests_to("GET", "/api/v1/applications/%s/logs" % server.app.uuid)[-1]["status"] == 400


def test_bad_patterns_and_missing_options_fail_before_reading(stage):
    server = stage()
    run = run_module("app_logs", logs_args(server, error_patterns=["fail:(", "x"]))
    assert run.failed and "error_patterns: 'fail:(' is not a valid regular expression" in run["msg"]
    missing = run_module("app_logs", dict(source="coolify", application_uuid=server.app.uuid))
    assert missing.failed and "api_url" in missing["msg"]
    assert server.requests_to("GET", "/api/v1/applications/%s/logs" % server.app.uuid) == []


def test_compose_runs_docker_compose_logs_and_fails_clearly_without_compose(tmp_path):
    # No Docker engine (and here no Compose plugin) on this machine: the real CLI's failure must be clear.
    project = tmp_path / "almafrica"
    project.mkdir()
    (project / "compose.yml").write_text("services:\n  almafrica-api:\n    image: almafrica/api:v1.1.0\n")
    run = run_module("app_logs", dict(source="compose", project_src=str(project), service="almafrica-api",
                                      files=["compose.yml"], project_name="almafrica", lines=50))
    assert run.failed
    docker = run.get("command", [None])[0]
    if docker is None:
        assert "needs the docker CLI" in run["msg"]
        return
    assert os.path.basename(docker) == "docker"
    assert run["command"][1:] == ["compose", "--project-directory", str(project), "--file",
                                  "compose.yml", "--project-name", "almafrica", "logs", "--no-color",
                                  "--no-log-prefix", "--tail", "50", "almafrica-api"]
    assert "'docker compose logs' for service almafrica-api failed (exit" in run["msg"]
    assert "Compose" in run["msg"] or "Docker engine" in run["msg"]


def test_compose_needs_a_service():
    run = run_module("app_logs", dict(source="compose"))
    assert run.failed and "service" in run["msg"]
