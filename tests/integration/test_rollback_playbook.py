"""playbooks/rollback.yml against the staging kit: a real PostgreSQL, the application, the Coolify-compatible API."""
from __future__ import annotations

import glob
import json
import os
import re
import urllib.request

import psycopg2
import pytest
import yaml

from stage import fixtures
from stage import kit as stage_kit
from stage.role_kit import SECRET_VARS, database_dump, data_sections, run_role_checked
from stage.runner import REPO

PLAYBOOK = os.path.join(REPO, "playbooks", "rollback.yml")
TARGET = stage_kit.REHEARSAL_TARGET
LATEST = fixtures.MIGRATIONS[-1]


class Kit:
    def __init__(self, root, environments=("staging",), run_migrations=False):
        self.dir = os.path.join(root, "stage")
        self.reports = os.path.join(root, "reports")
        self.state = stage_kit.up(self.dir, environments=environments, report_dir=self.reports,
                                  run_migrations=run_migrations)
        self.inventory = self.state["inventory"]
        with open(os.path.join(self.inventory, "group_vars", "almafrica", "secrets.yml"), encoding="utf-8") as fh:
            self.secrets = yaml.safe_load(fh)

    def env(self, name="staging"):
        return self.state["environments"][name]

    def run(self, *args, env=None):
        # At -vvv, and no secret of the inventory (nor the webhook URL) may appear in the output (stage.role_kit).
        return run_role_checked(PLAYBOOK, *args, inventory=self.inventory,
                                secrets={k: self.secrets[k] for k in SECRET_VARS}, env=env)

    def history(self, name="staging"):
        pgs = self.state["postgres"]
        conn = psycopg2.connect(host=pgs["host"], port=pgs["port"], user=pgs["user"],
                                password=self.secrets["stage_db_password"], dbname=self.env(name)["database"])
        try:
            with conn.cursor() as cur:
                cur.execute('SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY 1')
                return [r[0] for r in cur.fetchall()]
        finally:
            conn.close()

    def version(self, name="staging"):
        with urllib.request.urlopen(self.env(name)["app_url"] + "/health/version", timeout=5) as resp:  # noqa: S310
            return json.load(resp)

    def coolify_tag(self, name="staging"):
        req = urllib.request.Request(
            "%s/api/v1/applications/%s" % (self.state["coolify"]["url"], self.env(name)["app_uuid"]),
            headers={"Authorization": "Bearer " + self.secrets["stage_coolify_token"]})
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return json.load(resp)["docker_registry_image_tag"]

    def reports_of(self, host="almafrica_staging"):
        out = []
        for path in sorted(glob.glob(os.path.join(self.reports, host, "*.json"))):
            with open(path, encoding="utf-8") as fh:
                out.append(json.load(fh))
        return out

    def backups(self, name="staging"):
        return glob.glob(os.path.join(self.dir, "backups", name, "*"))


def kit_orders(kit):
    """``[(Id, FarmerId, Amount, CreatedAt, Status)]`` of Orders, by Id."""
    return kit_query(kit, 'SELECT "Id", "FarmerId", "Amount", "CreatedAt", "Status" FROM "Orders" ORDER BY "Id"')


def kit_query(kit, sql):
    pgs = kit.state["postgres"]
    conn = psycopg2.connect(host=pgs["host"], port=pgs["port"], user=pgs["user"],
                            password=kit.secrets["stage_db_password"], dbname=kit.env()["database"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def kit(tmp_path):
    k = Kit(str(tmp_path))
    yield k
    assert stage_kit.down(k.dir) == []
    assert not os.path.exists(k.dir)


def recap(proc, host="almafrica_staging"):
    match = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % host, proc.stdout,
                      re.M)
    assert match, proc.stdout[-3000:] + proc.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def test_full_rollback_then_a_second_run_changes_nothing(kit):
    assert kit.version()["version"] == "1.2.0"
    first = kit.run("-e", "target=" + TARGET)
    assert first.returncode == 0, first.stdout[-4000:]
    assert recap(first)["changed"] > 0
    assert kit.history() == list(fixtures.MIGRATIONS[:3])
    assert kit.version() == {"version": "1.1.0", "environment": "staging", "migration": TARGET}
    assert kit.coolify_tag() == "v1.1.0"
    [report] = kit.reports_of()
    assert report["outcome"] == "succeeded"
    assert report["backup"]["sha256"] and os.path.exists(report["backup"]["path"])
    assert len(report["after"]["schema_fingerprint"]) == 64
    assert [p["name"] for p in report["phases"]] == ["preflight", "record", "backup", "shadow", "migrate", "verify_db",
                                                     "deploy", "verify_app", "smoke", "watch"]
    md = glob.glob(os.path.join(kit.reports, "almafrica_staging", "*.md"))
    assert len(md) == 1 and "Rollback succeeded" in open(md[0], encoding="utf-8").read()
    text = json.dumps(report) + open(md[0], encoding="utf-8").read()
    for key in ("stage_db_password", "stage_coolify_token", "stage_smoke_password"):
        assert kit.secrets[key] not in text

    second = kit.run("-e", "target=" + TARGET)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second)["changed"] == 0
    assert kit.reports_of()[-1]["outcome"] == "no-op"
    assert kit.history() == list(fixtures.MIGRATIONS[:3])


def test_check_mode_previews_every_phase_and_changes_nothing(kit):
    proc = kit.run("-e", "target=AddPayments", "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert kit.version()["version"] == "1.2.0"
    assert kit.coolify_tag() == "v1.2.0"
    assert kit.backups() == []
    assert kit.reports_of() == []
    out = proc.stdout
    assert "+current: %s" % TARGET in out  # the diff of the database state
    assert "Plan: revert 20260310140000_WidenOrderAmount, 20260301100000_AddOrderStatus" in out
    assert "public.Orders.Status" in out  # the data at risk
    assert "v1.2.0" in out and "v1.1.0" in out  # the tag that would be deployed


def test_production_needs_the_operators_confirmation(kit):
    refused = kit.run("-e", "target=" + TARGET, "-e", "rollback_environment=production")
    assert refused.returncode == 2
    assert "production (almafrica_staging) needs confirmation" in refused.stdout
    assert "-e confirm=%s" % TARGET in refused.stdout
    assert kit.history() == list(fixtures.MIGRATIONS) and kit.backups() == []
    assert kit.reports_of()[-1]["failure"]["phase"] == "preflight"
    wrong = kit.run("-e", "target=" + TARGET, "-e", "rollback_environment=production", "-e", "confirm=InitialCreate")
    assert wrong.returncode == 2 and kit.history() == list(fixtures.MIGRATIONS)
    done = kit.run("-e", "target=" + TARGET, "-e", "rollback_environment=production", "-e", "confirm=" + TARGET)
    assert done.returncode == 0, done.stdout[-4000:]
    assert kit.history() == list(fixtures.MIGRATIONS[:3])


def test_missing_or_bad_target_is_refused_before_anything(kit):
    missing = kit.run()
    assert missing.returncode == 2 and "Usage: ansible-playbook" in missing.stdout
    bad = kit.run("-e", "target=2026-02-01_Init")
    assert bad.returncode == 2 and "Give the migration to roll back to" in bad.stdout
    assert kit.history() == list(fixtures.MIGRATIONS) and kit.backups() == []


def test_failure_in_migrate_is_reported_and_leaves_everything_as_it_was(kit, tmp_path):
    broken = tmp_path / "scripts"
    broken.mkdir()
    text = fixtures.read_sql(fixtures.rollback_script("ef8", "v1.2.0"))
    (broken / "rollback_v1.2.0.sql").write_text(text.replace('DROP INDEX "IX_Orders_Status";',
                                                             'DROP INDEX "IX_Orders_Missing";'))
    before = database_dump(kit.state, kit.secrets["stage_db_password"])
    proc = kit.run("-e", "target=" + TARGET, "-e", json.dumps({"rollback_scripts": [str(broken)]}))
    assert proc.returncode == 2
    assert "failed in phase migrate" in proc.stdout
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert kit.version()["version"] == "1.2.0"
    report = kit.reports_of()[-1]
    assert report["outcome"] == "failed" and report["failure"]["phase"] == "migrate"
    assert report["failure"]["recovery"] == "nothing to undo"
    assert report["failure"]["database_left_at"] == LATEST
    assert report["backup"]["sha256"]  # the backup was taken before the failing step
    assert database_dump(kit.state, kit.secrets["stage_db_password"]) == before  # schema and data, as pg_dump says


def test_failure_in_verify_db_rolls_the_database_forward(kit):
    schema, data = database_dump(kit.state, kit.secrets["stage_db_password"])
    statuses = kit_orders(kit)
    proc = kit.run("-e", "target=" + TARGET, "-e", json.dumps({"rollback_expected_objects": ["public.Orders.Status"]}))
    assert proc.returncode == 2
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "verify_db"
    assert "public.Orders.Status should exist at %s in the database but does not" % TARGET in report["failure"]["message"]
    assert report["failure"]["recovery"] == "roll_forward done"
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert kit.version()["version"] == "1.2.0"  # never redeployed
    # The schema is exactly as it was; the data too, except what Down() destroyed and Up() cannot bring back:
    # Orders.Status (re-added with its default) and the 3rd/4th decimals of Orders.Amount, both accepted.
    schema_after, data_after = database_dump(kit.state, kit.secrets["stage_db_password"])
    assert schema_after == schema
    others = [t for t in data_sections(data) if t != 'public."Orders"']
    assert others and {t: data_sections(data_after)[t] for t in others} == {t: data_sections(data)[t] for t in others}
    assert kit_orders(kit) == [(i, f, round(a, 2), c, 0) for i, f, a, c, _ignored in statuses]
    assert {st for *_ignored, st in statuses} != {0}  # so the line above really shows values lost


def test_failure_in_deploy_rolls_the_database_forward(kit):
    proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_image_tag=v9.9.9", "-e", "rollback_require_image=false")
    assert proc.returncode == 2
    assert "failed in phase deploy" in proc.stdout
    report = kit.reports_of()[-1]
    assert report["failure"]["recovery"] == "roll_forward done", report["failure"]
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert report["failure"]["database_left_at"] == LATEST
    assert kit.version()["version"] == "1.2.0"
    assert kit.coolify_tag() == "v1.2.0"


def test_failure_in_verify_db_restores_the_backup(kit):
    # restore needs the maintenance window (otherwise it is refused: it would drop acknowledged writes), and is used
    # only before the previous version serves: so the failure is in verify_db (test_writer.py covers verify_app).
    before = database_dump(kit.state, kit.secrets["stage_db_password"])
    statuses = kit_orders(kit)
    proc = kit.run("-e", "target=" + TARGET, "-e", "rollback_on_failure=restore", "-e", json.dumps(
        {"rollback_maintenance": True, "rollback_expected_objects": ["public.Orders.Status"]}))
    assert proc.returncode == 2
    assert "failed in phase verify_db" in proc.stdout
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "verify_db"
    assert report["failure"]["recovery"] == "restore done", report["failure"]
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert kit.version() == {"version": "1.2.0", "environment": "staging", "migration": LATEST}
    # A restore, not a roll forward: Orders.Status and the 4-decimal amounts are back (a roll forward loses them).
    assert kit_orders(kit) == statuses and {st for *_ignored, st in statuses} != {0}
    assert database_dump(kit.state, kit.secrets["stage_db_password"]) == before


def test_run_migrations_true_is_refused_before_any_change(tmp_path):
    # The application in Coolify is configured with RunMigrations=true: a redeploy would re-apply the migrations.
    k = Kit(str(tmp_path), run_migrations=True)
    try:
        proc = k.run("-e", "target=" + TARGET)
        assert proc.returncode == 2
        assert "RunMigrations" in proc.stdout
        assert k.history() == list(fixtures.MIGRATIONS) and k.backups() == []
        assert k.reports_of()[-1]["failure"]["phase"] == "preflight"
    finally:
        assert stage_kit.down(k.dir) == []


def test_two_environments_in_one_inventory_roll_back_in_one_run(tmp_path):
    k = Kit(str(tmp_path), environments=("staging", "qa"))
    try:
        proc = k.run("-e", "target=" + TARGET)
        assert proc.returncode == 0, proc.stdout[-4000:]
        for name in ("staging", "qa"):
            assert k.history(name) == list(fixtures.MIGRATIONS[:3])
            assert k.version(name)["version"] == "1.1.0"
            assert recap(proc, "almafrica_" + name)["failed"] == 0
            assert k.reports_of("almafrica_" + name)[-1]["outcome"] == "succeeded"
    finally:
        assert stage_kit.down(k.dir) == []


def test_one_environments_failure_does_not_touch_the_other(tmp_path):
    k = Kit(str(tmp_path), environments=("staging", "qa"))
    try:
        # qa's application would deploy a tag the registry does not have.
        with open(os.path.join(k.inventory, "host_vars", "almafrica_qa.yml"), "a", encoding="utf-8") as fh:
            fh.write("rollback_image_tag: v9.9.9\n")
        proc = k.run("-e", "target=" + TARGET)
        assert proc.returncode == 2
        assert recap(proc, "almafrica_staging")["failed"] == 0
        assert recap(proc, "almafrica_qa")["failed"] == 1
        assert k.history("staging") == list(fixtures.MIGRATIONS[:3])
        assert k.history("qa") == list(fixtures.MIGRATIONS)
        assert k.version("staging")["version"] == "1.1.0" and k.version("qa")["version"] == "1.2.0"
    finally:
        assert stage_kit.down(k.dir) == []


def test_compose_gate_reads_the_compose_file_and_env_file(kit, tmp_path):
    project = tmp_path / "compose"
    project.mkdir()
    (project / ".env").write_text("RunMigrations=false\n")  # interpolation only: not the container's environment
    (project / "api.env").write_text("RunMigrations=true\n")
    (project / "compose.yaml").write_text(
        "services:\n  api:\n    image: registry.local/almafrica-api:${ALMAFRICA_IMAGE_TAG}\n"
        "    env_file: [api.env]\n    environment:\n      - ASPNETCORE_ENVIRONMENT=Staging\n")
    compose = ["-e", "rollback_deploy_method=compose", "-e", "rollback_compose_project_src=%s" % project,
               "-e", "rollback_compose_env_file=%s" % (project / ".env")]
    refused = kit.run("-e", "target=" + TARGET, *compose)
    assert refused.returncode == 2
    assert "Service api has RunMigrations=true" in refused.stdout + refused.stderr
    assert kit.history() == list(fixtures.MIGRATIONS) and kit.backups() == []
    assert kit.reports_of()[-1]["failure"]["phase"] == "preflight"

    # With RunMigrations=false the gate passes; this machine has no Docker engine, so the deploy itself fails and
    # the database is rolled forward again, as configured.
    (project / "api.env").write_text("RunMigrations=false\n")
    proc = kit.run("-e", "target=" + TARGET, *compose)
    assert proc.returncode == 2
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "deploy", report["failure"]
    # ... because there is no Docker engine: docker_compose_v2 accepted its arguments and reached the daemon.
    assert report["failure"]["task"] == "Deploy | previous image through Docker Compose", report["failure"]
    assert re.search(r"Cannot connect to the Docker daemon|docker\.sock|Is the docker daemon running",
                     report["failure"]["message"]), report["failure"]["message"]
    assert report["failure"]["recovery"] == "roll_forward done"
    assert kit.history() == list(fixtures.MIGRATIONS)


class _WebhookSink:
    """A Slack-compatible incoming webhook on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        import http.server
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/rollback" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_notifications_at_start_success_and_failure(kit):
    sink = _WebhookSink()
    try:
        done = kit.run("-e", "target=" + TARGET, "-e", "rollback_notify_webhook_url=" + sink.url)
        assert done.returncode == 0, done.stdout[-3000:]
        assert [m["event"] for m in sink.received] == ["start", "succeeded"]
        assert "started by rehearsal" in sink.received[0]["text"] and TARGET in sink.received[0]["text"]
        assert "database at %s, image v1.1.0" % TARGET in sink.received[1]["text"]
        # A rerun has nothing to do: no notification unless asked for.
        kit.run("-e", "target=" + TARGET, "-e", "rollback_notify_webhook_url=" + sink.url)
        assert len(sink.received) == 2
        # Further back, to v1.0.0 (the kit's verify_db expectations are v1.1.0's, so they are emptied here).
        further = {"rollback_accept_data_loss": ["*"], "rollback_expected_objects": [], "rollback_absent_objects": []}
        failed = kit.run("-e", "target=InitialCreate", "-e", "rollback_notify_webhook_url=" + sink.url,
                         "-e", "rollback_image_tag=v9.9.9", "-e", "rollback_require_image=false", "-e", json.dumps(further))
        assert failed.returncode == 2
        assert [m["event"] for m in sink.received[2:]] == ["start", "failed"]
        assert "failed in phase deploy" in sink.received[-1]["text"]
        text = json.dumps(sink.received)
        for key in ("stage_db_password", "stage_coolify_token", "stage_smoke_password"):
            assert kit.secrets[key] not in text
    finally:
        sink.close()
