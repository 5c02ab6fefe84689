"""Abuse cases of the HTTP side (issue 9): health_assert and coolify_deploy against hostile or broken servers.

Defects 8 (a redirect to another host carried X-Api-Key there), 10 (POST /deploy repeated blindly after a 5xx)
and 14 (a body read whole into memory), and variants of the same kinds. Every server is a real HTTP(S) server on
127.0.0.1; the Coolify ones are the staging kit's (each exchange checked against Coolify's OpenAPI spec).
Each case asserts the refusal or the documented end state, what the servers received, and that no secret reaches
the output (at -vvv where it matters).
"""
from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stage.coolify import CoolifyApplication, CoolifyServer, _json
from stage.runner import run_module
from stage.tls import CertificateAuthority, serve_https

STREAM_LIMIT = 64 * 1024 * 1024  # what a streaming server would send at most if nobody stopped reading
CHUNK = b"x" * 65536


class Web:
    """A real HTTP server on 127.0.0.1. ``route(request, web)`` returns ``(status, headers, body)`` or None to drop
    the connection; ``body`` is bytes, a dict (JSON) or an iterable of byte chunks (sent chunked, no length).
    ``requests`` lists what it received: method, path, headers (lower-case names) and body."""

    def __init__(self, route, tls=None):
        self.requests = []
        self.streamed = 0
        self.stream_cut = False  # the client stopped reading a streamed body
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append(dict(method=self.command, path=self.path, body=body,
                                           headers={k.lower(): v for k, v in self.headers.items()}))
                self.close_connection = True
                answer = route(self, outer)
                if answer is None:
                    return  # drop: the connection closes without an answer
                status, headers, payload = answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Connection", "close")
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                if isinstance(payload, bytes):
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                chunked = "Content-Length" not in headers
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in payload:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                        outer.streamed += len(chunk)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    outer.stream_cut = True

            do_GET = do_POST = do_HEAD = do_PATCH = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = serve_https(self.httpd, tls) if tls else "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web():
    servers = []

    def make(route, tls=None):
        servers.append(Web(route, tls))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def healthy(_request, _web):
    return 200, {"Content-Type": "text/plain"}, b"Healthy"


def redirect_to(target, status=302, extra=None):
    def route(request, _web):
        return status, dict({"Location": target(request) if callable(target) else target}, **(extra or {})), b""
    return route


def endless(limit=STREAM_LIMIT):
    sent = 0
    while sent < limit:
        sent += len(CHUNK)
        yield CHUNK


def output_of(run):
    return run.proc.stdout + run.proc.stderr + json.dumps(run.result)


KEY = "key-" + secrets.token_urlsafe(18)
TOKEN = "tok-" + secrets.token_urlsafe(18)
CREDENTIALS = {"headers": {"X-Api-Key": KEY}, "bearer_token": TOKEN}


# -- health_assert: redirects (defect 8 and variants) ---------------------------------------------------
def test_defect8_redirect_to_another_host_is_refused_and_carries_nothing_there(web):
    other = web(healthy)
    origin = web(redirect_to("http://localhost:%d/health" % other.port))
    args = dict(CREDENTIALS, url=origin.url + "/health", timeout=30)
    run = run_module("health_assert", args)
    verbose = run_module("health_assert", args, verbosity=3)
    assert run.failed
    assert "another origin http://localhost:%d/health refused" % other.port in run["msg"]
    assert "follow_redirects=all" in run["msg"]
    assert other.requests == []  # nothing at all reached the other host, let alone the key
    assert origin.requests[0]["headers"]["x-api-key"] == KEY  # the right origin did get it
    assert verbose.proc.returncode != 0
    for text in (output_of(run), output_of(verbose)):
        assert KEY not in text and TOKEN not in text


def test_redirect_to_another_port_of_the_same_host_is_another_origin(web):
    other = web(healthy)
    origin = web(redirect_to("http://127.0.0.1:%d/health" % other.port, status=301))
    run = run_module("health_assert", dict(CREDENTIALS, url=origin.url + "/health", timeout=30))
    assert run.failed and "another origin" in run["msg"]
    assert other.requests == []
    assert len(origin.requests) == 1  # refusing is final: no retry loop against the redirect


def test_follow_redirects_all_leaves_credentials_cookies_and_headers_behind(web):
    other = web(healthy)
    origin = web(redirect_to("http://127.0.0.1:%d/health" % other.port,
                             extra={"Set-Cookie": "session=s3cr3t-cookie-value; Path=/"}))
    run = run_module("health_assert", dict(CREDENTIALS, url=origin.url + "/health", follow_redirects="all",
                                           expect_body_contains="Healthy", timeout=30))
    assert not run.failed, run
    assert run["redirects"] == ["http://127.0.0.1:%d/health" % other.port]
    assert origin.requests[0]["headers"]["authorization"] == "Bearer " + TOKEN
    sent = other.requests[0]["headers"]
    assert [k for k in sent if k in ("authorization", "x-api-key", "cookie")] == []
    assert KEY not in json.dumps(sent) and TOKEN not in json.dumps(sent)


def test_same_origin_redirect_is_followed_with_its_headers(web):
    def route(request, _web):
        if request.path == "/old-health":
            return 308, {"Location": "/health"}, b""
        return healthy(request, _web)

    origin = web(route)
    run = run_module("health_assert", dict(CREDENTIALS, url=origin.url + "/old-health", timeout=30))
    assert not run.failed, run
    assert [r["path"] for r in origin.requests] == ["/old-health", "/health"]
    assert origin.requests[1]["headers"]["x-api-key"] == KEY
    assert origin.requests[1]["headers"]["authorization"] == "Bearer " + TOKEN


def test_https_to_http_downgrade_is_refused_even_with_follow_all(web, tmp_path):
    ca = CertificateAuthority.create(tmp_path / "ca")
    plain = web(healthy)
    secure = web(redirect_to("http://127.0.0.1:%d/health" % plain.port), tls=ca.issue(tmp_path / "server"))
    run = run_module("health_assert", dict(CREDENTIALS, url=secure.url + "/health", ca_path=ca.cert_path,
                                           follow_redirects="all", timeout=30))
    assert run.failed
    assert "from https to http://127.0.0.1:%d/health refused" % plain.port in run["msg"]
    assert "clear text" in run["msg"]
    assert plain.requests == [] and len(secure.requests) == 1


def test_a_redirect_loop_is_bounded(web):
    origin = web(redirect_to("/loop"))
    run = run_module("health_assert", dict(url=origin.url + "/loop", timeout=60))
    assert run.failed
    assert "more than 10 redirects" in run["msg"]
    assert len(origin.requests) == 11  # the request and 10 redirects, once: a loop is not retried


def test_a_location_with_credentials_is_refused_and_never_shown(web):
    password = "pw-" + secrets.token_urlsafe(12)

    def route(request, web_):
        return 302, {"Location": "http://smoke:%s@127.0.0.1:%d/health" % (password, web_.port)}, b""

    origin = web(route)
    args = dict(url=origin.url + "/health", timeout=30)
    run = run_module("health_assert", args)
    verbose = run_module("health_assert", args, verbosity=3)
    assert run.failed
    assert "carries credentials" in run["msg"] and "********@127.0.0.1" in run["msg"]
    assert len(origin.requests) == 2  # two runs, one request each: never followed
    assert all("authorization" not in r["headers"] for r in origin.requests)
    assert password not in output_of(run) and password not in output_of(verbose)


def test_a_cross_origin_307_would_resend_the_login_body_and_is_refused(web):
    password = "pw-" + secrets.token_urlsafe(12)
    other = web(lambda request, _web: (200, {"Content-Type": "application/json"}, {"token": "x" * 16}))

    def route(request, _web):
        if request.path == "/login":
            return 307, {"Location": "http://127.0.0.1:%d/login" % other.port}, b""
        return healthy(request, _web)

    origin = web(route)
    run = run_module("health_assert", dict(url=origin.url + "/health", follow_redirects="all", timeout=30, checks=[
        {"name": "login", "url": "/login", "method": "POST", "safe": True,
         "body": {"username": "smoke", "password": password}}]))
    assert run.failed and run["failed_check"] == "login"
    assert "resend the request body" in run["msg"]
    assert other.requests == []
    assert json.loads(origin.requests[1]["body"])["password"] == password  # the login went to its own origin only
    assert password not in output_of(run)


def test_a_write_whose_connection_dropped_is_not_sent_again(web):
    def route(request, _web):
        return None if request.command == "POST" else healthy(request, _web)

    origin = web(route)
    run = run_module("health_assert", dict(url=origin.url + "/health", timeout=60, interval=0.2, checks=[
        {"name": "create", "url": "/api/farmers", "method": "POST", "body": {"name": "Smoke"},
         "expect_status": [201]}]))
    assert run.failed and run["failed_check"] == "create"
    assert "connection dropped before an answer" in run["msg"]
    assert run["checks"][0]["attempts"] == 1
    assert [r["method"] for r in origin.requests] == ["GET", "POST"]


# -- health_assert: bounded bodies (defect 14 and variants) -----------------------------------------------
@pytest.mark.parametrize("size, passes", [(1000, True), (1001, False)])
def test_a_body_of_exactly_the_cap_passes_one_byte_more_fails(web, size, passes):
    body = b"H" * (size - 1) + b"!"
    origin = web(lambda request, _web: (200, {"Content-Type": "text/plain"}, body))
    run = run_module("health_assert", dict(url=origin.url + "/health", max_body_bytes=1000,
                                           expect_body_contains="H!", timeout=30))
    if passes:
        assert not run.failed, run
        assert run["status"] == 200
    else:
        assert run.failed
        assert "(1001 bytes, Content-Length) is larger than max_body_bytes (1000 bytes)" in run["msg"]
        assert len(origin.requests) == 1


def test_a_chunked_body_without_length_is_cut_at_the_cap(web):
    origin = web(lambda request, _web: (200, {"Content-Type": "text/plain"}, endless()))
    run = run_module("health_assert", dict(url=origin.url + "/health", max_body_bytes=256 * 1024, timeout=60))
    assert run.failed
    assert "larger than max_body_bytes (262144 bytes); stopped reading there" in run["msg"]
    assert origin.stream_cut  # the client hung up: the stream never ran to its end
    assert origin.streamed < STREAM_LIMIT


def test_defect14_a_300_mb_body_is_refused_at_the_default_cap(web):
    announced = str(300 * 1024 * 1024)
    origin = web(lambda request, _web: (200, {"Content-Type": "text/plain", "Content-Length": announced},
                                        endless(int(announced))))
    run = run_module("health_assert", dict(url=origin.url + "/health", timeout=60))
    assert run.failed
    assert "(%s bytes, Content-Length) is larger than max_body_bytes (10485760 bytes); not read" % announced \
        in run["msg"]
    assert origin.streamed < int(announced)


def test_an_endless_body_without_length_is_refused_at_the_default_cap(web):
    origin = web(lambda request, _web: (200, {"Content-Type": "application/json"}, endless()))
    run = run_module("health_assert", dict(url=origin.url + "/health", timeout=60))
    assert run.failed
    assert "larger than max_body_bytes (10485760 bytes)" in run["msg"]
    assert origin.stream_cut and origin.streamed < STREAM_LIMIT


# -- coolify_deploy: POST /deploy is never repeated blindly (defect 10 and variants) ------------------------
class ActsThenFails(CoolifyServer):
    """The staging Coolify, except that the next ``left`` requests to ``method path`` are carried out and THEN
    answered with a 500 (or their connection dropped): the caller cannot know that they acted."""

    def __init__(self, *args, fail="500", method="POST", path="/api/v1/deploy", left=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.fail, self.fail_method, self.fail_path, self.fail_left = fail, method, path, left

    def handle(self, method, path, query, headers, body):
        answer = super().handle(method, path, query, headers, body)
        if self.fail_left and method == self.fail_method and path == self.fail_path:
            self.fail_left -= 1
            if self.fail == "drop":
                return None
            return _json(500, {"message": "Server Error" + ("!" * 200000 if self.fail == "huge" else "")})
        return answer


@pytest.fixture
def coolify():
    """Factory of a started API-only staging Coolify with one dockerimage application at v1.2.0."""
    servers = []

    def make(cls=CoolifyServer, **kwargs):
        token = secrets.token_urlsafe(24)
        app = CoolifyApplication(image_tag="v1.2.0", envs={"RunMigrations": "false"})
        server = cls(apps=[app], tokens={token: ["root"]}, launcher=None, **kwargs)
        server.faults.queue_delay = 0.1
        server.start()
        server.token, server.app = token, app
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        assert server.spec_violations == []


def deploy(server, verbosity=0, **kw):
    args = dict(api_url=server.url, api_token=server.token, application_uuid=server.app.uuid, image_tag="v1.1.0",
                poll_interval=0.2, timeout=120)
    args.update(kw)
    return run_module("coolify_deploy", args, verbosity=verbosity)


def statuses(server, method, path="/api/v1/deploy"):
    return [r["status"] for r in server.requests_to(method, path)]


@pytest.mark.parametrize("fail", ["500", "drop", "huge"])
def test_defect10_a_deploy_that_failed_after_queuing_is_followed_not_repeated(coolify, fail):
    """The deploy acted, then its answer was a 500, nothing (dropped), or a body over max_body_bytes."""
    server = coolify(ActsThenFails, fail=fail)
    run = deploy(server, max_body_bytes=100000)
    assert not run.failed, run
    assert statuses(server, "POST") == ["dropped" if fail == "drop" else 500]  # asked once, never again
    assert len(server.deployments) == 1
    assert run["deployment_uuid"] in server.deployments and run["deployment_status"] == "finished"
    assert any("but Coolify had queued deployment %s: followed it, not deployed again" % run["deployment_uuid"] in r
               for r in run["retries"])
    assert server.app.image_tag == "v1.1.0"


def test_a_deploy_dropped_before_queuing_is_asked_exactly_once_more(coolify):
    server = coolify()
    server.faults.inject(drop=True, method="POST", path="/api/v1/deploy")
    run = deploy(server)
    assert not run.failed, run
    assert statuses(server, "POST") == ["dropped", 200]
    assert len(server.deployments) == 1 and run["deployment_status"] == "finished"
    assert any("no deployment queued, retried once" in r for r in run["retries"])


def test_5xx_on_every_deploy_stops_after_two_requests_with_nothing_queued(coolify):
    server = coolify()
    server.faults.inject(500, times=5, method="POST", path="/api/v1/deploy")
    run = deploy(server)
    verbose = deploy(server, verbosity=3)
    assert run.failed
    assert "not asking again" in run["msg"] and "500" in run["msg"]
    assert statuses(server, "POST") == [500] * 4  # two runs, two requests each: never a third
    assert server.deployments == {}
    # the tag set for the deployment that never came is set back, so the second run did not take it for deployed
    assert "image was set back to almafrica/api:v1.2.0, so nothing changed" in run["msg"] and not run.changed
    assert [r["body"] for r in server.requests_to("PATCH", "/api/v1/applications")] == [
        {"docker_registry_image_tag": "v1.1.0"}, {"docker_registry_image_tag": "v1.2.0"}] * 2
    assert server.app.image_tag == "v1.2.0"
    assert server.token not in output_of(run) and server.token not in output_of(verbose)


def test_429_on_deploy_waits_as_retry_after_says_then_deploys_once(coolify):
    server = coolify()
    server.faults.inject(429, method="POST", path="/api/v1/deploy", retry_after=1)
    run = deploy(server)
    assert not run.failed, run
    assert statuses(server, "POST") == [429, 200]
    assert len(server.deployments) == 1
    assert "POST /api/v1/deploy: HTTP 429, retried after 1.0 s" in run["retries"]


def test_legacy_get_deploy_that_failed_after_queuing_is_not_repeated(coolify):
    server = coolify(ActsThenFails, method="GET")
    server.faults.legacy_deploy = True
    run = deploy(server)
    assert not run.failed, run
    assert statuses(server, "GET") == [500]  # a GET that deploys is no safer to repeat than the POST
    assert len(server.deployments) == 1 and run["deployment_status"] == "finished"


# -- coolify_deploy: bounded bodies, no redirects -------------------------------------------------------------
class HugeApplication(CoolifyServer):
    """Answers GET /applications/{uuid} with a 300 kB description (valid per the spec, just big)."""

    def handle(self, method, path, query, headers, body):
        status, resp_headers, payload = super().handle(method, path, query, headers, body)
        if method == "GET" and path.startswith("/api/v1/applications/") and status == 200:
            data = json.loads(payload)
            data["description"] = "d" * 300000
            payload = json.dumps(data).encode()
        return status, resp_headers, payload


def test_a_coolify_body_over_max_body_bytes_fails_naming_it_before_any_change(coolify):
    server = coolify(HugeApplication)
    run = deploy(server, max_body_bytes=100000)
    assert run.failed
    assert "larger than max_body_bytes (100000 bytes)" in run["msg"]
    assert server.requests_to("PATCH", "/api/v1/applications") == [] and statuses(server, "POST") == []
    assert server.app.image_tag == "v1.2.0"


def test_an_api_url_that_redirects_is_not_followed_and_the_token_goes_nowhere(coolify, web):
    server = coolify()
    front = web(lambda request, _web: (301, {"Location": server.url + request.path}, b""))
    run = deploy(server, api_url=front.url)
    assert run.failed
    assert "redirect (301) to %s/api/v1/version" % server.url in run["msg"] and "set api_url" in run["msg"]
    assert server.requests == []
    assert server.token not in output_of(run)
