"""app_watch against the real Almafrica-like application run by the staging Coolify, with its fault switches:
"error rate after deploy" (a share of /api/orders answers 500) and "slow endpoint" (latency on /api/farmers).

The only timing-dependent verdicts are the module's own, with the fault far from the limit: 2000 ms of injected
latency against a 1000 ms p95 limit, 5 % of errors against a 1 % limit.
"""
from __future__ import annotations

import re

import pytest

from stage.runner import run_module
from stage.testbed import DEMO_USER, start_coolify


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


def deploy(server, tag):
    run = run_module("coolify_deploy", dict(api_url=server.url, api_token=server.token,
                                            application_uuid=server.app.uuid, image_tag=tag, poll_interval=0.2,
                                            timeout=120))
    assert not run.failed, run
    return run


def watch_args(server, seconds, interval, paths=("/health", "/api/farmers", "/api/orders"), **kw):
    url = server.app.fqdn
    args = dict(seconds=seconds, interval=interval,
                login=dict(url=url + "/api/auth/login", body=dict(username=DEMO_USER, password=server.demo_password)),
                endpoints=[dict(url=url + p, auth=p.startswith("/api/")) for p in paths])
    args.update(kw)
    return args


def by_name(run):
    return {e["name"]: e for e in run["endpoints"]}


def test_a_healthy_application_passes_with_its_figures(stage):
    server = stage()
    # A generous p95 limit: on a loaded machine the healthy application answers in over a second now and then;
    # the limit itself is what test_a_slow_endpoint_fails_on_p95 is about.
    run = run_module("app_watch", watch_args(server, seconds=3, interval=0.25, max_p95_ms=10000))
    assert not run.failed, run
    assert not run.changed and run["problems"] == []
    assert run["limits"] == {"max_error_rate": 0.01, "max_p95_ms": 10000}
    endpoints = by_name(run)
    assert sorted(endpoints) == ["/api/farmers", "/api/orders", "/health"]
    for entry in endpoints.values():
        assert entry["requests"] > 1 and entry["errors"] == 0 and entry["statuses"] == {"200": entry["requests"]}
        assert len(entry["series"]) == entry["requests"] and len(entry["sparkline"]) == entry["requests"]
        assert entry["p50_ms"] <= entry["p95_ms"] <= entry["max_ms"] == max(entry["series"])
    assert run["requests"] == sum(e["requests"] for e in endpoints.values()) and run["errors"] == 0
    assert server.demo_password not in run.proc.stdout


def test_an_error_rate_after_deploy_fails_the_watch_with_the_measured_rate(stage):
    server = stage(image_tag="v1.0.0")
    server.faults.error_rate_after_deploy = {"/api/orders": 0.05}
    deploy(server, "v1.1.0")

    run = run_module("app_watch", watch_args(server, seconds=4, interval=0.1))

    assert run.failed
    orders = by_name(run)["/api/orders"]
    # The application fails the 1st, 21st, 41st... request to /api/orders: exactly 5 % over whole twenties.
    assert orders["errors"] == (orders["requests"] - 1) // 20 + 1
    assert orders["statuses"]["500"] == orders["errors"]
    found = re.search(r"/api/orders: error rate (\d+\.\d)% \((\d+) of (\d+) requests\) exceeds 1\.0%", run["msg"])
    assert found, run["msg"]
    assert (int(found.group(2)), int(found.group(3))) == (orders["errors"], orders["requests"])
    assert found.group(1) == "%.1f" % (orders["error_rate"] * 100)
    assert run["msg"].startswith("Watch window of 4 s failed: ")
    assert by_name(run)["/api/farmers"]["errors"] == 0 and by_name(run)["/health"]["errors"] == 0
    assert "t=" in orders["error_samples"][0] and "status 500" in orders["error_samples"][0]


def test_a_slow_endpoint_fails_on_p95(stage):
    server = stage(image_tag="v1.0.0")
    server.faults.latency_after_deploy = {"/api/farmers": 2000}
    deploy(server, "v1.1.0")

    run = run_module("app_watch", watch_args(server, seconds=5, interval=0.5, paths=("/health", "/api/farmers")))

    assert run.failed
    farmers = by_name(run)["/api/farmers"]
    assert farmers["errors"] == 0  # slow, not failing
    found = re.search(r"/api/farmers: p95 latency (\d+) ms exceeds 1000 ms", run["msg"])
    assert found, run["msg"]
    assert int(found.group(1)) == round(farmers["p95_ms"])
    assert farmers["sparkline"]
    assert run["limits"] == {"max_error_rate": 0.01, "max_p95_ms": 1000}  # the defaults


def test_an_unreachable_endpoint_counts_every_probe_as_an_error(stage):
    server = stage()
    url = server.app.fqdn
    server.app.process.stop()  # the container died under Coolify's feet
    run = run_module("app_watch", dict(seconds=1, interval=0.25, request_timeout=2,
                                       endpoints=[dict(url=url + "/health", name="health")]))
    assert run.failed
    health = by_name(run)["health"]
    assert health["requests"] >= 1 and health["errors"] == health["requests"]
    assert health["statuses"] == {"none": health["requests"]} and set(health["series"]) == {None}
    assert "no answer: connection refused" in health["error_samples"][0]
    assert "health: error rate 100.0%" in run["msg"]


def test_bad_input_fails_before_probing():
    run = run_module("app_watch", dict(seconds=1, endpoints=[dict(url="ftp://127.0.0.1/x")]))
    assert run.failed and "must be an http:// or https:// URL" in run["msg"]
    run = run_module("app_watch", dict(seconds=1, endpoints=[dict(url="http://127.0.0.1:9/x", auth=True)]))
    assert run.failed and "neither bearer_token nor login" in run["msg"]
    run = run_module("app_watch", dict(seconds=1, max_error_rate=5, endpoints=[dict(url="http://127.0.0.1:9/")]))
    assert run.failed and "fraction between 0 and 1" in run["msg"]
