"""HTTPS as production runs it (issue 15): health_assert and coolify_deploy against real TLS servers on 127.0.0.1
whose certificates come from a throwaway CA made by the test (``stage.tls``).

Accepted with ``ca_path``; refused without it (the system trust store does not know the CA), with another CA and
with a certificate for another host name, each with a clear message and, for Coolify, nothing changed;
``validate_certs: false`` accepted with a warning (documented as unsafe).
"""
from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stage.coolify import CoolifyApplication, CoolifyServer
from stage.runner import run_module
from stage.tls import CertificateAuthority, serve_https

NOT_TRUSTED = "certificate is not trusted: set ca_path"
WRONG_HOST = "certificate is not for this host name"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The CA, a server certificate for 127.0.0.1/localhost, one for another host (127.0.0.2), another CA."""
    base = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(base / "ca")
    return dict(ca=ca, server=ca.issue(base / "server"), wrong_host=ca.issue(base / "wrong", hosts=["127.0.0.2"]),
                other_ca=CertificateAuthority.create(base / "other", name="Some other CA"))


class HttpsApp:
    """A real HTTPS health endpoint: /health answers Healthy when the request carries the expected key."""

    def __init__(self, issued, key):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                ok = self.headers.get("X-Api-Key") == key
                body = b"Healthy" if ok else b"Forbidden"
                self.send_response(200 if ok else 403)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = serve_https(self.httpd, issued)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def https_app(pki):
    apps = []

    def make(cert="server"):
        apps.append(HttpsApp(pki[cert], KEY))
        return apps[-1]

    yield make
    for app in apps:
        app.stop()


KEY = "key-" + secrets.token_urlsafe(18)


def health(app, **kw):
    args = dict(url=app.url + "/health", headers={"X-Api-Key": KEY}, expect_body_contains="Healthy", timeout=3,
                interval=0.5)
    args.update(kw)
    return run_module("health_assert", args)


def output_of(run):
    return run.proc.stdout + run.proc.stderr + json.dumps(run.result)


# -- health_assert ----------------------------------------------------------------------------------------
def test_health_assert_trusts_the_private_ca_given_in_ca_path(pki, https_app):
    app = https_app()
    run = health(app, ca_path=pki["ca"].cert_path)
    assert not run.failed, run
    assert run["status"] == 200 and run["content"] == "Healthy"
    assert app.requests == ["/health"]
    assert not run.get("warnings")


@pytest.mark.parametrize("case", ["no ca_path", "another CA", "certificate of another host"])
def test_health_assert_refuses_a_certificate_it_cannot_verify(pki, https_app, case):
    app = https_app("wrong_host" if case == "certificate of another host" else "server")
    ca_path = {"no ca_path": None, "another CA": pki["other_ca"].cert_path}.get(case, pki["ca"].cert_path)
    run = health(app, **({"ca_path": ca_path} if ca_path else {}))
    assert run.failed
    assert (WRONG_HOST if case == "certificate of another host" else NOT_TRUSTED) in run["msg"]
    assert app.requests == []  # the handshake failed: no request, no header, no key was ever sent
    assert app.httpd.tls_errors  # and the server saw the client hang up on its certificate
    assert KEY not in output_of(run)


def test_health_assert_validate_certs_false_accepts_anything_and_warns(https_app):
    app = https_app("wrong_host")
    run = health(app, validate_certs=False)
    assert not run.failed, run
    assert run["status"] == 200
    assert any("validate_certs is false" in w and "ca_path" in w for w in run.get("warnings", []))


# -- coolify_deploy -----------------------------------------------------------------------------------------
@pytest.fixture
def coolify_https(pki):
    """Factory: the staging Coolify (API only) served over HTTPS with the given certificate."""
    servers = []

    def make(cert="server"):
        token = secrets.token_urlsafe(24)
        app = CoolifyApplication(image_tag="v1.2.0", envs={"RunMigrations": "false"})
        server = CoolifyServer(apps=[app], tokens={token: ["root"]}, launcher=None)
        server.faults.queue_delay = 0.1
        server.start()
        server.https_url = serve_https(server._httpd, pki[cert])
        server.token, server.app = token, app
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        assert server.spec_violations == []


def deploy(server, **kw):
    args = dict(api_url=server.https_url, api_token=server.token, application_uuid=server.app.uuid,
                image_tag="v1.1.0", poll_interval=0.2, timeout=120, expect_env={"RunMigrations": False})
    args.update(kw)
    return run_module("coolify_deploy", args)


def test_coolify_deploy_over_https_with_ca_path(pki, coolify_https):
    server = coolify_https()
    run = deploy(server, ca_path=pki["ca"].cert_path)
    assert not run.failed, run
    assert run.changed and run["deployment_status"] == "finished"
    assert server.app.image_tag == "v1.1.0" and len(server.deployments) == 1
    assert server.token not in output_of(run)


@pytest.mark.parametrize("case", ["no ca_path", "another CA", "certificate of another host"])
def test_coolify_deploy_refuses_an_unverified_coolify_and_changes_nothing(pki, coolify_https, case):
    server = coolify_https("wrong_host" if case == "certificate of another host" else "server")
    ca_path = {"no ca_path": None, "another CA": pki["other_ca"].cert_path}.get(case, pki["ca"].cert_path)
    run = deploy(server, **({"ca_path": ca_path} if ca_path else {}))
    assert run.failed
    assert "Cannot reach Coolify at %s" % server.https_url in run["msg"]
    assert (WRONG_HOST if case == "certificate of another host" else NOT_TRUSTED) in run["msg"]
    assert "after 1 attempt(s)" in run["msg"]  # a certificate does not fix itself: no retries
    assert server.requests == []  # not one request (nor the token) went over the unverified connection
    assert server.app.image_tag == "v1.2.0" and server.deployments == {}
    assert server.token not in output_of(run)


def test_coolify_deploy_validate_certs_false_is_accepted_with_a_warning(coolify_https):
    server = coolify_https("wrong_host")
    run = deploy(server, validate_certs=False)
    assert not run.failed, run
    assert run.changed and server.app.image_tag == "v1.1.0"
    assert any("validate_certs is false" in w and "ca_path" in w for w in run.get("warnings", []))
