"""The shadow rehearsal (rollback_shadow): the exact rollback runs first on a copy of production's own data.

The staging kit at v1.2.0 gets the hotfix v1.2.1 (tests/stage/migrations/hotfix: AllowGuestOrders drops the foreign
key Orders -> Farmers; its Down() re-adds it) and orders of guest farmers written under it. Rolling back to v1.1.0
then fails in Down() of AllowGuestOrders on this database's data only: the shadow must catch it before production
is touched, name the rows that block, and let the next run through once they are cleaned up.
"""
from __future__ import annotations

import glob
import json
import os
import urllib.request

import pytest
import yaml

from stage import fixtures
from stage import kit as stage_kit
from stage.hotfix import HOTFIX, HOTFIX_DIR, StageDatabase
from stage.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "rollback.yml")
TARGET = stage_kit.REHEARSAL_TARGET


class ShadowKit(StageDatabase):
    def __init__(self, root):
        self.dir = os.path.join(root, "stage")
        self.reports = os.path.join(root, "reports")
        stage_kit.up(self.dir, report_dir=self.reports)
        super().__init__(self.dir)
        self.inventory = self.state["inventory"]
        self.env = self.state["environments"]["staging"]
        with open(os.path.join(self.inventory, "group_vars", "almafrica", "secrets.yml"), encoding="utf-8") as fh:
            self.secrets = yaml.safe_load(fh)

    def version(self):
        with urllib.request.urlopen(self.env["app_url"] + "/health/version", timeout=5) as resp:  # noqa: S310
            return json.load(resp)

    def run(self, *args):
        extra = {"rollback_scripts": [os.path.join(fixtures.MIGRATIONS_DIR, "ef8"), HOTFIX_DIR],
                 "rollback_shadow": True}
        return run_playbook(PLAYBOOK, "-e", "target=" + TARGET, "-e", json.dumps(extra), *args,
                            inventory=self.inventory)

    def reports_of(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.reports, "almafrica_staging", "*.json"))):
            with open(path, encoding="utf-8") as fh:
                out.append(json.load(fh))
        return out

    def markdown(self, report):
        with open(os.path.join(self.reports, "almafrica_staging", report["run_id"] + ".md"), encoding="utf-8") as fh:
            return fh.read()


@pytest.fixture
def hotfixed(tmp_path):
    """The staging kit at v1.2.1 with 12 orders of guest farmers (no such farmer)."""
    k = ShadowKit(str(tmp_path))
    k.apply_hotfix(12)
    assert k.history()[-1] == HOTFIX
    yield k
    assert stage_kit.down(k.dir) == []


def test_shadow_catches_data_that_blocks_the_rollback_and_production_is_untouched(hotfixed):
    k = hotfixed
    before = k.dump()
    proc = k.run()
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "failed in phase shadow" in proc.stdout
    assert "fails on a copy of %s's own data, so production was not touched" % k.env["database"] in proc.stdout
    # Production: schema, history and data byte-identical; the application still the one that ran.
    assert k.dump() == before
    assert k.version()["version"] == "1.2.0"
    assert k.scratch_copies() == []  # the copy was dropped although the plan failed on it
    [report] = k.reports_of()
    assert report["outcome"] == "failed" and report["failure"]["phase"] == "shadow"
    assert report["failure"]["recovery"] == "nothing to undo"
    assert [p["name"] for p in report["phases"]][-1] == "shadow"
    shadow = report["shadow"]
    assert shadow["passed"] is False
    assert shadow["database"].startswith(k.env["database"] + "_shadow_")
    failure = shadow["failure"]
    assert failure["migration"] == HOTFIX
    assert failure["sqlstate"] == "23503"  # foreign_key_violation
    assert "FK_Orders_Farmers_FarmerId" in failure["constraint"]
    assert 'Key (FarmerId)=(9001) is not present in table "Farmers"' in failure["detail"]
    assert os.path.basename(failure["file"]) == "rollback_v1.2.1.sql" and failure["line"] == 3
    assert "ADD CONSTRAINT" in failure["statement"]
    # The rows that block: the first 10 offending keys.
    assert [str(r) for r in failure["blocking_rows"]][:1] and len(failure["blocking_rows"]) == 10
    assert "9001" in json.dumps(failure["blocking_rows"])
    md = k.markdown(report)
    assert "## Shadow rehearsal" in md and "FAILED: production was not touched" in md and "9001" in md
    text = json.dumps(report) + md + proc.stdout
    for key in ("stage_db_password", "stage_coolify_token", "stage_smoke_password"):
        assert k.secrets[key] not in text

    # Clean up what blocks (the runbook's "manually clean up problematic data"), and the same command goes through.
    k.remove_guest_orders()
    done = k.run()
    assert done.returncode == 0, done.stdout[-4000:]
    assert k.history() == list(fixtures.MIGRATIONS[:3])
    assert k.version()["version"] == "1.1.0"
    assert k.scratch_copies() == []
    report = k.reports_of()[-1]
    assert report["outcome"] == "succeeded" and report["shadow"]["passed"] is True
    assert [p["name"] for p in report["phases"]].index("shadow") == 3
    assert "## Shadow rehearsal" in k.markdown(report)


def test_a_copy_left_by_a_killed_run_is_dropped_and_nothing_else(hotfixed):
    k = hotfixed
    k.remove_guest_orders()
    leftover = k.env["database"] + "_shadow_20260101t000000z"
    foreign = k.env["database"] + "_shadow_mine"
    k.sql('CREATE DATABASE "%s"' % leftover)
    k.sql("COMMENT ON DATABASE \"%s\" IS 'Restored by almafrica.rollback.pg_backup from x.dump (sha256 0)'" % leftover)
    k.sql('CREATE DATABASE "%s"' % foreign)  # somebody's own database with a look-alike name: not ours
    proc = k.run()
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert k.scratch_copies() == [foreign]
    k.sql('DROP DATABASE "%s"' % foreign)


def test_check_mode_can_run_the_shadow_and_changes_nothing(hotfixed):
    k = hotfixed
    before = k.dump()
    proc = k.run("--check", "--diff", "-e", "rollback_shadow_in_check=true")
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "fails on a copy of" in proc.stdout and "9001" in proc.stdout
    assert k.dump() == before and k.scratch_copies() == []
    assert glob.glob(os.path.join(k.dir, "backups", "staging", "shadow", "*")) == []
    plain = k.run("--check", "--diff")  # without rollback_shadow_in_check the preview does not touch a copy
    assert plain.returncode == 0, plain.stdout[-4000:]
    assert "would rehearse the plan on a copy" in plain.stdout
    assert k.dump() == before
