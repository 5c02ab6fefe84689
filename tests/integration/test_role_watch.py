"""Runbook steps 6, 7 and 9 through the role on the staging kit: the image checked before anything changes, the
application's logs after the deploy, and the watch window's error-rate and p95 limits."""
from __future__ import annotations

import glob
import json
import os
import urllib.request

import pytest
import yaml

from stage import fixtures
from stage import kit as stage_kit
from stage.hotfix import StageDatabase
from stage.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "rollback.yml")
TARGET = stage_kit.REHEARSAL_TARGET


class FaultyKit(StageDatabase):
    def __init__(self, root, faults):
        self.dir = os.path.join(root, "stage")
        self.reports = os.path.join(root, "reports")
        stage_kit.up(self.dir, report_dir=self.reports, faults=faults)
        super().__init__(self.dir)
        with open(os.path.join(self.state["inventory"], "group_vars", "almafrica", "secrets.yml"),
                  encoding="utf-8") as fh:
            self.secrets = yaml.safe_load(fh)
        self.env = self.state["environments"]["staging"]

    def run(self, **extra):
        return run_playbook(PLAYBOOK, "-e", "target=" + TARGET, "-e", json.dumps(extra),
                            inventory=self.state["inventory"])

    def coolify_tag(self):
        req = urllib.request.Request(
            "%s/api/v1/applications/%s" % (self.state["coolify"]["url"], self.env["app_uuid"]),
            headers={"Authorization": "Bearer " + self.secrets["stage_coolify_token"]})
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
            return json.load(resp)["docker_registry_image_tag"]

    def backups(self):
        return glob.glob(os.path.join(self.dir, "backups", "staging", "*"))

    def report(self):
        paths = sorted(glob.glob(os.path.join(self.reports, "almafrica_staging", "*.json")))
        with open(paths[-1], encoding="utf-8") as fh:
            return json.load(fh)

    def markdown(self, report):
        with open(os.path.join(self.reports, "almafrica_staging", report["run_id"] + ".md"), encoding="utf-8") as fh:
            return fh.read()


@pytest.fixture
def faulty(tmp_path):
    kits = []

    def start(**faults):
        kits.append(FaultyKit(str(tmp_path / str(len(kits))), faults))
        return kits[-1]

    yield start
    for k in kits:
        assert stage_kit.down(k.dir) == []


def test_a_missing_image_is_refused_before_anything_changes(faulty):
    k = faulty(missing_images=["v1.1.0"])
    before = k.dump()
    proc = k.run()
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "failed in phase preflight" in proc.stdout
    assert "v1.1.0" in proc.stdout and "v1.2.0" in proc.stdout  # the missing tag, and the tags that exist
    assert k.dump() == before and k.history() == list(fixtures.MIGRATIONS)
    assert k.coolify_tag() == "v1.2.0" and k.backups() == []


def test_an_uninspectable_server_warns_and_the_rollback_proceeds(faulty):
    k = faulty(uninspectable=True)
    proc = k.run()
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout + proc.stderr  # the warning is on stderr
    assert "the availability of image tag v1.1.0 could not be checked" in out
    assert k.history() == list(fixtures.MIGRATIONS[:3]) and k.coolify_tag() == "v1.1.0"


def test_error_lines_in_the_logs_fail_verify_app_and_are_named(faulty):
    k = faulty()
    # A pattern that matches what the application writes on start shows the mechanism end to end: the line is
    # named in the failure and kept in the report (app_logs' own tests cover the EF/Npgsql error defaults).
    proc = k.run(rollback_log_error_patterns=["Now listening on"])
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "failed in phase verify_app" in proc.stdout and "Now listening on" in proc.stdout
    report = k.report()
    assert report["failure"]["phase"] == "verify_app"
    assert report["failure"]["recovery"] == "roll_forward done"
    assert any("Now listening on" in line for line in report["logs"]["after_deploy"]["matches"])
    assert report["logs"]["after_deploy"]["lines_read"] > 0
    assert k.history() == list(fixtures.MIGRATIONS) and k.coolify_tag() == "v1.2.0"


def test_an_error_rate_over_the_limit_fails_the_watch_and_is_rolled_forward(faulty):
    k = faulty(error_rate_after_deploy={"/api/farmers": 0.3})
    proc = k.run(rollback_watch_seconds=6, rollback_health_timeout=60)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "failed in phase watch" in proc.stdout
    report = k.report()
    assert report["failure"]["phase"] == "watch"
    assert "error rate" in report["failure"]["message"]
    farmers = [e for e in report["watch"]["endpoints"] if e["name"] == "farmers"][0]
    assert farmers["errors"] > 0 and farmers["requests"] >= farmers["errors"]
    assert "## Watch window" in k.markdown(report)
    assert report["failure"]["recovery"] == "roll_forward done"
    assert k.history() == list(fixtures.MIGRATIONS) and k.coolify_tag() == "v1.2.0"


def test_a_slow_endpoint_fails_the_watch_on_p95(faulty):
    # 3 s on /api/farmers against a 2 s limit: a margin that a loaded machine's slow answers on the other
    # endpoints (over 1 s at times) do not cross.
    k = faulty(latency_after_deploy={"/api/farmers": 3000})
    proc = k.run(rollback_watch_seconds=5, rollback_on_failure="stop", rollback_watch_max_p95_ms=2000)
    assert proc.returncode == 2, proc.stdout[-3000:]
    report = k.report()
    assert report["failure"]["phase"] == "watch"
    assert "p95" in report["failure"]["message"]
    farmers = [e for e in report["watch"]["endpoints"] if e["name"] == "farmers"][0]
    assert farmers["p95_ms"] > 2000
    health = [e for e in report["watch"]["endpoints"] if e["name"] == "health"][0]
    assert health["p95_ms"] < farmers["p95_ms"]
