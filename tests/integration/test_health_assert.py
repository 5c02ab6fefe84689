"""health_assert through ansible-playbook against the real Almafrica-like app on a real PostgreSQL, and tiny real
HTTP servers on 127.0.0.1 where the app cannot play the part (a slow start, a token issuer that echoes headers)."""
from __future__ import annotations

import json
import secrets
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stage.app import DEFAULT_DEMO_PASSWORD, DEFAULT_DEMO_USER, AppProcess, free_port
from stage.fixtures import build_database, last_migration
from stage.runner import run_module

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string


def connection_string(pg, dbname):
    params = dict(login_host=pg.host, login_port=pg.port, login_user=pg.superuser, login_password=pg.password,
                  login_db=dbname, login_unix_socket="", ssl_mode="disable", ca_cert=None, connect_timeout=10)
    return npgsql_connection_string(params)


def build(pg, dbname, release):
    conn = pg.connect(dbname)
    try:
        build_database(conn, release=release)
    finally:
        conn.close()


@pytest.fixture
def app_v110(pg, dbname):
    build(pg, dbname, "v1.1.0")
    app = AppProcess("v1.1.0", connection_string(pg, dbname)).start()
    try:
        yield app
    finally:
        app.stop()


def farmer_names(pg, dbname):
    return [r[0] for r in pg.execute(dbname, 'SELECT "Name" FROM "Farmers" ORDER BY "Id"', fetch=True)]


class Server:
    """A tiny real HTTP server on 127.0.0.1; ``respond(handler) -> (status, headers, body)`` plays the app."""

    def __init__(self, respond, port=0):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers)))
                status, headers, body = respond(self)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# -- waiting ------------------------------------------------------------------------------------------
def test_waits_through_a_slow_start(pg, dbname):
    """The port first refuses nothing but answers 503 "starting" (twice), then goes away (refused), then the
    real application comes up on it: the module keeps trying until /health/version says 1.1.0."""
    build(pg, dbname, "v1.1.0")
    port = free_port()
    app = AppProcess("v1.1.0", connection_string(pg, dbname), port=port)
    booting = {"left": 2}
    started = threading.Event()

    def starting(_handler):
        booting["left"] -= 1
        if booting["left"] == 0:
            def hand_over():
                stub.stop()
                app.start(wait=False)
                started.set()
            threading.Thread(target=hand_over, daemon=True).start()
        return 503, {"Content-Type": "text/plain", "Retry-After": "1"}, b"Unhealthy: starting"

    stub = Server(starting, port=port)
    try:
        run = run_module("health_assert", {
            "url": app.url + "/health/version", "timeout": 90, "interval": 0.5,
            "expect_json": {"version": "1.1.0", "environment": "staging",
                            "migration": last_migration("v1.1.0")}})
    finally:
        started.wait(30)
        app.stop()
    assert not run.failed, run
    assert run["status"] == 200
    assert run["json"]["version"] == "1.1.0"
    assert run["attempts"] >= 3  # two 503s from the stub, then at least one answer from the app
    assert run.changed is False


# -- matching -----------------------------------------------------------------------------------------
def test_matches_nested_json(app_v110):
    run = run_module("health_assert", {
        "url": app_v110.url + "/health", "expect_body_contains": "Healthy", "timeout": 30,
        "checks": [
            {"name": "login", "url": "/api/auth/login", "method": "POST", "safe": True,
             "body": {"username": DEFAULT_DEMO_USER, "password": DEFAULT_DEMO_PASSWORD}},
            {"name": "farmers", "url": "/api/farmers", "bearer_token": "${login.token}",
             "expect_json": {"items.0": {"id": 1, "name": "Amina Njoroge", "village": "Kiambu"},
                             "items": [{"name": "Nia Wambui", "village": None}, {"name": "Kojo Antwi"}]}},
        ]})
    assert not run.failed, run
    assert run["content"] == "Healthy"
    farmers = run["checks"][1]
    assert farmers["passed"] and farmers["json"]["items"][0]["name"] == "Amina Njoroge"


def test_reports_a_clear_diff_on_mismatch(app_v110):
    run = run_module("health_assert", {
        "url": app_v110.url + "/health/version", "timeout": 2, "interval": 0.5,
        "expect_json": {"version": "1.2.0", "environment": "staging", "migration": last_migration("v1.2.0")}})
    assert run.failed
    assert run["mismatches"] == [
        'json version: expected "1.2.0", got "1.1.0"',
        'json migration: expected "%s", got "%s"' % (last_migration("v1.2.0"), last_migration("v1.1.0")),
    ]
    assert 'version: expected "1.2.0", got "1.1.0"' in run["msg"]
    assert "Last status 200" in run["msg"]
    assert run["attempts"] >= 1
    assert run["json"]["version"] == "1.1.0"
    assert run["failed_check"] == "url"


# -- smoke sequences ------------------------------------------------------------------------------------
SMOKE = [
    {"name": "login", "url": "/api/auth/login", "method": "POST", "safe": True,
     "body": {"username": DEFAULT_DEMO_USER, "password": DEFAULT_DEMO_PASSWORD}},
    {"name": "farmers", "url": "/api/farmers", "bearer_token": "${login.token}",
     "expect_json": {"items.0.name": "Amina Njoroge"}, "save": {"farmers_before": "count"}},
    {"name": "created", "url": "/api/farmers", "method": "POST", "bearer_token": "${login.token}",
     "body": {"name": "Smoke Test Farmer", "village": "Kiambu", "phoneNumber": "+254700000000"},
     "expect_status": [201], "expect_json": {"name": "Smoke Test Farmer"}},
    {"name": "read_back", "url": "/api/farmers/${created.id}", "bearer_token": "${login.token}",
     "expect_json": {"id": "${created.id}", "name": "Smoke Test Farmer", "phoneNumber": "+254700000000"}},
]


def test_login_then_read_then_create_smoke_sequence(pg, dbname, app_v110):
    before = farmer_names(pg, dbname)
    run = run_module("health_assert", {"url": app_v110.url + "/health", "checks": SMOKE, "timeout": 60})
    assert not run.failed, run
    assert [c["name"] for c in run["checks"]] == ["login", "farmers", "created", "read_back"]
    assert all(c["passed"] for c in run["checks"])
    assert run["checks"][0]["json"]["token"] == "********"
    assert run["checks"][1]["saved"] == ["farmers_before"]
    created = run["checks"][2]
    assert created["status"] == 201
    assert run["checks"][3]["url"] == app_v110.url + "/api/farmers/%d" % created["json"]["id"]
    assert farmer_names(pg, dbname) == before + ["Smoke Test Farmer"]  # really written to PostgreSQL


def test_check_mode_skips_writes_and_what_depends_on_them(pg, dbname, app_v110):
    before = farmer_names(pg, dbname)
    run = run_module("health_assert", {"url": app_v110.url + "/health", "checks": SMOKE}, check=True)
    assert not run.failed, run
    by_name = {c["name"]: c for c in run["checks"]}
    assert by_name["login"]["passed"] and by_name["farmers"]["passed"]
    assert by_name["created"]["skipped"] and "not marked safe" in by_name["created"]["reason"]
    assert by_name["read_back"]["skipped"] and "created" in by_name["read_back"]["reason"]
    assert farmer_names(pg, dbname) == before


def test_a_failing_write_is_not_repeated(pg, dbname, app_v110):
    before = farmer_names(pg, dbname)
    checks = SMOKE[:1] + [dict(SMOKE[2], expect_status=[200])]  # the app answers 201: a "failure"
    run = run_module("health_assert", {"url": app_v110.url + "/health", "checks": checks, "timeout": 20,
                                       "interval": 0.2})
    assert run.failed
    assert run["failed_check"] == "created"
    assert run["checks"][1]["attempts"] == 1
    assert "status 201, expected 200" in run["msg"]
    assert farmer_names(pg, dbname) == before + ["Smoke Test Farmer"]


def test_unknown_reference_fails_at_once_naming_it(app_v110):
    run = run_module("health_assert", {"url": app_v110.url + "/health", "checks": [
        {"name": "farmers", "url": "/api/farmers", "bearer_token": "${signin.token}"}]})
    assert run.failed
    assert "unknown reference ${signin.token}" in run["msg"]
    assert run["checks"] == []


# -- app and schema disagree --------------------------------------------------------------------------
def test_fails_clearly_when_app_and_schema_disagree(pg, dbname):
    """Release v1.2.0 of the application on a database rolled back to v1.1.0."""
    build(pg, dbname, "v1.1.0")
    # Generous deadlines, and no deadline deciding the outcome: the wait for /health ends on its own deadline but
    # every attempt gets its full request_timeout, so the last answer is the server's 503, not a cut-short
    # request; the orders check is not retried, so it fails on its first answer whatever the load.
    with AppProcess("v1.2.0", connection_string(pg, dbname)) as app:
        health = run_module("health_assert", {"url": app.url + "/health", "timeout": 4, "interval": 1,
                                              "request_timeout": 60})
        orders = run_module("health_assert", {
            "url": app.url + "/health/version", "expect_json": {"version": "1.2.0"}, "timeout": 120,
            "checks": [SMOKE[0], {"name": "orders", "url": "/api/orders", "bearer_token": "${login.token}",
                                  "retry": False}]})
    assert health.failed
    assert health["status"] == 503
    assert "Unhealthy: schema does not match release v1.2.0: column Orders.Status is missing" in health["msg"]
    assert health["mismatches"] == ["status 503, expected 200"]
    assert orders.failed and orders["failed_check"] == "orders"
    assert [c["name"] for c in orders["checks"]] == ["login", "orders"] and orders["checks"][0]["passed"]
    assert orders["checks"][1]["status"] == 500 and orders["checks"][1]["attempts"] == 1
    assert 'column o.Status does not exist' in orders["msg"]


# -- secrets ------------------------------------------------------------------------------------------
def test_bearer_tokens_never_in_output_at_vvv(app_v110):
    """The module's bearer_token, a token captured from a login response, and one echoed back by the server
    (in a failing check's body and in the failure message) never appear, even with -vvv."""
    issued = "tok-" + secrets.token_urlsafe(24)
    given = _login(app_v110)

    def issuer(handler):
        if handler.path == "/login":
            return 200, {"Content-Type": "application/json"}, {"access_token": issued, "token_type": "Bearer"}
        body = {"error": "forbidden", "you_sent": handler.headers.get("Authorization")}
        return 403, {"Content-Type": "application/json"}, body

    server = Server(issuer)
    try:
        # generous deadline; "me" is not retried, so it fails on its first (echoing) answer whatever the load
        args = {"url": app_v110.url + "/api/farmers", "bearer_token": given, "timeout": 120,
                "checks": [{"name": "login", "url": server.url + "/login", "method": "POST", "safe": True,
                            "body": {"user": "smoke"}},
                           {"name": "me", "url": server.url + "/me", "bearer_token": "${login.access_token}",
                            "retry": False}]}
        verbose = run_module("health_assert", args, verbosity=3)
        result = run_module("health_assert", args)
    finally:
        server.stop()
    assert ("GET", "/me") in [(m, p) for m, p, _h in server.requests]  # the captured token was really sent
    assert server.requests[-1][2]["Authorization"] == "Bearer " + issued
    output = verbose.proc.stdout + verbose.proc.stderr + json.dumps(result.result)
    assert verbose.proc.returncode != 0 and "you_sent" in output
    assert result.failed and result["failed_check"] == "me"
    assert result["checks"][1]["status"] == 403 and result["checks"][1]["attempts"] == 1
    assert given not in output
    assert issued not in output


def _login(app):
    credentials = {"username": DEFAULT_DEMO_USER, "password": DEFAULT_DEMO_PASSWORD}
    req = urllib.request.Request(app.url + "/api/auth/login", method="POST",
                                 headers={"Content-Type": "application/json"}, data=json.dumps(credentials).encode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)["token"]
