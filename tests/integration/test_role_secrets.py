"""No secret of the inventory in the role's output at -vvv: database password, Coolify token, smoke-test password,
webhook URL; through a success, a failure with recovery, and the maintenance window's session check."""
from __future__ import annotations

import http.server
import json
import os
import secrets
import threading

import pytest
import yaml

from stage import kit as stage_kit
from stage.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "rollback.yml")
TARGET = stage_kit.REHEARSAL_TARGET


class WebhookSink:
    """A Slack-like incoming webhook on 127.0.0.1 whose URL holds a secret path, as Slack's do."""

    def __init__(self):
        received = self.received = []
        self.secret = secrets.token_urlsafe(18)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                received.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/services/T0/B0/%s" % (self.server.server_address[1], self.secret)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kit(tmp_path):
    state = stage_kit.up(str(tmp_path / "stage"), report_dir=str(tmp_path / "reports"))
    sink = WebhookSink()
    try:
        with open(os.path.join(state["inventory"], "group_vars", "almafrica", "secrets.yml"), encoding="utf-8") as fh:
            state["secrets"] = yaml.safe_load(fh)
        # The webhook URL is a vault secret like the others.
        with open(os.path.join(state["inventory"], "group_vars", "almafrica", "secrets.yml"), "a",
                  encoding="utf-8") as fh:
            fh.write("stage_webhook_url: %s\n" % sink.url)
        state["sink"] = sink
        state["report_dir"] = str(tmp_path / "reports" / "almafrica_staging")
        yield state
    finally:
        sink.close()
        assert stage_kit.down(str(tmp_path / "stage")) == []


def _assert_no_secret(proc, state):
    text = proc.stdout + proc.stderr
    found = [name for name, value in (("db password", state["secrets"]["stage_db_password"]),
                                      ("Coolify token", state["secrets"]["stage_coolify_token"]),
                                      ("smoke password", state["secrets"]["stage_smoke_password"]),
                                      ("webhook URL", state["sink"].url),
                                      ("webhook URL's secret path", state["sink"].secret)) if value in text]
    assert not found, found


@pytest.mark.parametrize("maintenance", [False, True], ids=["no-maintenance", "maintenance"])
def test_no_secret_at_vvv_through_success_and_failure(kit, maintenance):
    common = {"rollback_notify_webhook_url": "{{ stage_webhook_url }}", "rollback_maintenance": maintenance}
    # A failure after the deploy: recovery rolls forward and puts v1.2.0 back (failure handling at -vvv).
    failed = run_playbook(PLAYBOOK, "-vvv", "-e", "target=" + TARGET, "-e", json.dumps(dict(
        common, rollback_expected_version="9.9.9", rollback_health_timeout=3)), inventory=kit["inventory"])
    assert failed.returncode == 2, failed.stdout[-3000:]
    assert "failed in phase verify_app" in failed.stdout
    _assert_no_secret(failed, kit)
    # Then the rollback, with every smoke check (the login sends the smoke password).
    done = run_playbook(PLAYBOOK, "-vvv", "-e", "target=" + TARGET, "-e", json.dumps(common),
                        inventory=kit["inventory"])
    assert done.returncode == 0, done.stdout[-3000:]
    assert "smoke check 1" in done.stdout  # the well-formedness loop ran, labelled by number
    _assert_no_secret(done, kit)
    assert [m["event"] for m in kit["sink"].received] == ["start", "failed", "start", "succeeded"]
    # The notifications name this run's backup.
    reports = []
    for name in sorted(os.listdir(kit["report_dir"])):
        if name.endswith(".json"):
            with open(os.path.join(kit["report_dir"], name), encoding="utf-8") as fh:
                reports.append(json.load(fh))
    assert [r["outcome"] for r in reports] == ["failed", "succeeded"]
    for report, message in zip(reports, [kit["sink"].received[1], kit["sink"].received[3]]):
        assert report["backup"]["path"] and report["backup"]["path"] in message["text"], message
