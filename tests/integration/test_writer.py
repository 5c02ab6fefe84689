"""Acknowledged writes are sacred: a writer (``stage.writer``) creates farmers and orders through the staging
application every ~20 ms for the whole duration of each rollback, and every write the application acknowledged
(201 with an id) must be in the database afterwards with its values. The only values allowed to differ are those in
objects the operator accepted to lose by name (``rollback_accept_data_loss``), and those are counted and must equal
what ``data_loss`` predicted. Where the database must be as before, ``pg_dump`` says so.
"""
from __future__ import annotations

import datetime
import decimal
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import psycopg2
import pytest
import yaml

from stage import fixtures
from stage import kit as stage_kit
from stage.runner import REPO, run_playbook
from stage.writer import PASSWORD_ENV, read_log

PLAYBOOK = os.path.join(REPO, "playbooks", "rollback.yml")
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = stage_kit.REHEARSAL_TARGET            # AddPayments (v1.1.0)
LATEST = fixtures.MIGRATIONS[-1]                # WidenOrderAmount (v1.2.0)
MAINTENANCE = {"rollback_maintenance": True}
CENT = decimal.Decimal("0.01")


class WriterKit:
    """The staging kit, its database seen from the test, and the writer."""

    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root, "stage")
        self.reports = os.path.join(root, "reports")
        self.state = stage_kit.up(self.dir, report_dir=self.reports)
        self.inventory = self.state["inventory"]
        with open(os.path.join(self.inventory, "group_vars", "almafrica", "secrets.yml"), encoding="utf-8") as fh:
            self.secrets = yaml.safe_load(fh)
        self.env = self.state["environments"]["staging"]
        self.pgs = self.state["postgres"]
        self._writer = None
        self._log = None

    # -- the rollback ------------------------------------------------------------------------------
    def run(self, *args, extra=None, verbosity=0):
        opts = list(args)
        if extra:
            opts += ["-e", json.dumps(extra)]
        if verbosity:
            opts.append("-" + "v" * verbosity)
        return run_playbook(PLAYBOOK, *opts, inventory=self.inventory)

    def reports_of(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.reports, "almafrica_staging", "*.json"))):
            with open(path, encoding="utf-8") as fh:
                out.append(json.load(fh))
        return out

    # -- the database ------------------------------------------------------------------------------
    def connect(self):
        return psycopg2.connect(host=self.pgs["host"], port=self.pgs["port"], user=self.pgs["user"],
                                password=self.secrets["stage_db_password"], dbname=self.env["database"])

    def rows(self):
        """{(table, id): {column: value}} of Farmers and Orders, as they are now."""
        out = {}
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for table in ("Farmers", "Orders"):
                    cur.execute('SELECT * FROM "%s"' % table)
                    names = [d[0] for d in cur.description]
                    for row in cur.fetchall():
                        values = dict(zip(names, row))
                        out[(table, values["Id"])] = values
        finally:
            conn.close()
        return out

    def history(self):
        conn = self.connect()
        try:
            return fixtures.applied_migrations(conn)
        finally:
            conn.close()

    def pg_dump(self, *opts):
        with tempfile.NamedTemporaryFile("w", prefix="pgpass-", delete=False) as fh:
            fh.write("*:*:*:*:%s\n" % self.secrets["stage_db_password"].replace("\\", "\\\\").replace(":", "\\:"))
            passfile = fh.name
        os.chmod(passfile, 0o600)
        try:
            proc = subprocess.run(
                [os.path.join(self.pgs["bindir"], "pg_dump"), "-h", self.pgs["host"], "-p", str(self.pgs["port"]),
                 "-U", self.pgs["user"], "--no-owner", *opts, self.env["database"]],
                env=dict(os.environ, PGPASSFILE=passfile), capture_output=True, text=True, check=True)
        finally:
            os.unlink(passfile)
        return proc.stdout

    def dumps(self):
        """(schema, {table: set of data lines}) by pg_dump."""
        # pg_dump (15.14+) brackets its output with \restrict <random key>: not part of the database.
        schema = "\n".join(line for line in self.pg_dump("--schema-only").splitlines()
                           if not line.startswith(("\\restrict", "\\unrestrict")))
        data, table = {}, None
        for line in self.pg_dump("--data-only").splitlines():
            found = re.match(r'^COPY (\S+) ', line)
            if found:
                table = found.group(1)
                data[table] = set()
            elif line == "\\.":
                table = None
            elif table:
                data[table].add(line)
        return schema, data

    # -- the writer --------------------------------------------------------------------------------
    def start_writer(self):
        self._log = os.path.join(self.root, "writes-%d.jsonl" % time.monotonic_ns())
        env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env[PASSWORD_ENV] = self.secrets["stage_smoke_password"]
        self._writer = subprocess.Popen(
            [sys.executable, "-m", "stage.writer", "--url", self.env["app_url"], "--user", "smoke",
             "--out", self._log], cwd=TESTS, env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # writing, and at least one farmer and one order acknowledged
            if os.path.exists(self._log):
                acked, _failed = read_log(self._log)
                if {e["kind"] for e in acked} == {"farmer", "order"}:
                    return
            time.sleep(0.2)
        raise AssertionError("the writer got no write acknowledged in 30 s")

    def stop_writer(self):
        time.sleep(1.0)  # writes after the run, on the version it left running
        self._writer.send_signal(signal.SIGTERM)
        assert self._writer.wait(30) == 0
        return read_log(self._log)

    def down(self):
        if self._writer is not None and self._writer.poll() is None:
            self._writer.kill()
            self._writer.wait()
        return stage_kit.down(self.dir)


@pytest.fixture
def kit(tmp_path):
    k = WriterKit(str(tmp_path))
    try:
        yield k
    finally:
        assert k.down() == []


# -- what was acknowledged, what is there --------------------------------------------------------------

def _pascal(key):
    return key[:1].upper() + key[1:]


def _norm(column, value):
    if value is None:
        return None
    if column == "Amount":
        return decimal.Decimal(str(value))
    if column == "CreatedAt" and not isinstance(value, datetime.datetime):
        return datetime.datetime.fromisoformat(value)
    return value


def _acked_records(acked):
    """{(table, id): (ack time, {column: value})} of what the application acknowledged."""
    return {("Farmers" if e["kind"] == "farmer" else "Orders", e["record"]["id"]):
            (e["t"], {_pascal(k): _norm(_pascal(k), v) for k, v in e["record"].items()}) for e in acked}


def check_acknowledged(kit, acked, accepted):
    """Every acknowledged record is there with its values, but values of ``accepted`` objects
    (``public.Table.Column``). Prints and returns ``(acknowledged, present, lost, changed_in_accepted)``."""
    now = kit.rows()
    records = _acked_records(acked)
    present = lost = accepted_values = 0
    problems = []
    for (table, rid), (_t, values) in sorted(records.items()):
        row = now.get((table, rid))
        if row is None:
            lost += 1
            problems.append("%s %s is gone" % (table, rid))
            continue
        bad = []
        for column, value in values.items():
            obj = "public.%s.%s" % (table, column)
            if column in row and _norm(column, row[column]) == value:
                continue
            if obj in accepted:
                accepted_values += 1
            else:
                bad.append("%s: acknowledged %r, now %r" % (column, value, row.get(column, "(no column)")))
        if bad:
            lost += 1
            problems.append("%s %s: %s" % (table, rid, "; ".join(bad)))
        else:
            present += 1
    print("acknowledged %d, present %d, lost %d" % (len(records), present, lost))
    assert lost == 0 and present == len(records), problems[:20]
    return len(records), present, lost, accepted_values


def check_data_loss_prediction(report, before_rows, acked, failed):
    """The values destroyed in accepted objects, counted from the records the database held when the migration ran
    (the rows before the run and the writes acknowledged before the migrate phase ended), equal ``data_loss``."""
    migrate = [p for p in report["phases"] if p["name"] == "migrate"]
    if not report["executed"] or not migrate or migrate[0]["status"] != "ok":
        return {}
    cut = migrate[0]["finished"]
    known = dict(before_rows)
    for key, (t, values) in _acked_records(acked).items():
        if t < cut and key not in known:
            known[key] = values
    # Writes whose outcome the client never learned (connection dropped mid-request) may or may not be in.
    unknown = sum(1 for e in failed if e["kind"] == "order" and e["t"] < cut and e["status"] is None
                  and "refused" not in e.get("error", ""))
    counts = {}
    for entry in report["data_loss"]:
        _schema, table, *column = entry["object"].split(".")
        rows = [v for (t, _id), v in known.items() if t == table]
        if entry["operation"] == "drop_column":
            counted, predicted = sum(1 for v in rows if v.get(column[0]) is not None), entry["non_null"]
        elif entry["operation"] == "alter_column_type":  # the fixture's Down(): numeric(18,4) -> numeric(12,2)
            counted = sum(1 for v in rows if v.get(column[0]) is not None
                          and _norm(column[0], v[column[0]]) != _norm(column[0], v[column[0]]).quantize(CENT))
            predicted = entry["values_changed"]
        elif entry["operation"] == "drop_table":
            counted, predicted = len(rows), entry["rows"]
        else:
            continue
        print("data loss %s (%s): counted %d, predicted %d" % (entry["object"], entry["operation"], counted, predicted))
        assert counted <= predicted <= counted + unknown, (entry, counted, unknown)
        counts[entry["object"]] = (counted, predicted)
    return counts


def rollback_under_writes(kit, *args, extra=None):
    """Run the playbook once while the writer writes; returns (proc, report, before_rows, acked, failed)."""
    kit.start_writer()
    before_rows = kit.rows()
    proc = kit.run(*args, extra=extra)
    acked, failed = kit.stop_writer()
    report = kit.reports_of()[-1]
    return proc, report, before_rows, acked, failed


def _tables_as_before(before_data, after_data, tables):
    for table in tables:
        missing = before_data[table] - after_data[table]
        assert not missing, "%s lost rows: %s" % (table, sorted(missing)[:5])


def _print_availability(report, failed):
    avail = report["availability"]
    refused = sum(1 for e in failed if e["status"] is None)
    errors = sum(1 for e in failed if e["status"] is not None and e["status"] >= 500)
    relogin = sum(1 for e in failed if e["status"] == 401)  # a restarted application forgets its tokens
    print("maintenance %s: downtime %s s, error window %s s; writes refused %d, failed with a server error %d, "
          "401 after a restart %d" % (
              avail["maintenance"], avail["downtime"], avail["error_window"], refused, errors, relogin))
    return refused, errors


# -- the cases ------------------------------------------------------------------------------------------

def test_success_with_maintenance_loses_no_acknowledged_write(kit):
    proc, report, before, acked, failed = rollback_under_writes(kit, "-e", "target=" + TARGET, extra=MAINTENANCE)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert report["outcome"] == "succeeded"
    assert [p["name"] for p in report["phases"]][:4] == ["preflight", "record", "maintenance", "backup"]
    assert kit.history() == list(fixtures.MIGRATIONS[:3])
    check_acknowledged(kit, acked, stage_kit.ACCEPT_DATA_LOSS)
    counts = check_data_loss_prediction(report, before, acked, failed)
    assert set(counts) == {"public.Orders.Status", "public.Orders.Amount"}
    refused, errors = _print_availability(report, failed)
    # Stopped before the database moved, started at the version that matches it: nobody met a mismatched schema.
    assert report["availability"]["error_window"] == 0 and report["availability"]["downtime"] > 0
    assert errors == 0, [e for e in failed if e["status"] is not None and e["status"] >= 500][:5]
    assert refused > 0  # the downtime, as the users saw it
    assert report["backup"]["taken_by_this_run"] and kit.state["dir"] in report["backup"]["path"]

    # Already at the target: no stop, no backup, nothing changed.
    backups = sorted(os.listdir(os.path.dirname(report["backup"]["path"])))
    again = kit.run("-e", "target=" + TARGET, extra=MAINTENANCE)
    assert again.returncode == 0, again.stdout[-3000:]
    assert re.search(r"^almafrica_staging\s*:\s*ok=\d+\s+changed=0\s", again.stdout, re.M), again.stdout[-2000:]
    assert kit.reports_of()[-1]["outcome"] == "no-op" and kit.reports_of()[-1]["backup"]["path"] is None
    assert sorted(os.listdir(os.path.dirname(report["backup"]["path"]))) == backups


def test_failure_in_migrate_leaves_everything_and_restarts_what_ran(kit, tmp_path):
    broken = tmp_path / "scripts"
    broken.mkdir()
    text = fixtures.read_sql(fixtures.rollback_script("ef8", "v1.2.0"))
    (broken / "rollback_v1.2.0.sql").write_text(text.replace('DROP INDEX "IX_Orders_Status";',
                                                             'DROP INDEX "IX_Orders_Missing";'))
    schema_before, data_before = kit.dumps()
    proc, report, _before, acked, failed = rollback_under_writes(
        kit, "-e", "target=" + TARGET, extra=dict(MAINTENANCE, rollback_scripts=[str(broken)]))
    assert proc.returncode == 2
    assert report["failure"]["phase"] == "migrate" and report["failure"]["recovery"] == "nothing to undo"
    assert report["failure"]["application"].endswith("started"), report["failure"]
    assert kit.history() == list(fixtures.MIGRATIONS)
    check_acknowledged(kit, acked, [])  # nothing accepted: nothing may differ
    schema_after, data_after = kit.dumps()
    assert schema_after == schema_before
    _tables_as_before(data_before, data_after, data_before)
    _print_availability(report, failed)
    assert [e for e in acked if e["t"] > report["availability"]["healthy_at"]]  # v1.2.0 serves again


def test_failure_in_verify_db_rolls_forward_without_losing_writes(kit):
    schema_before, data_before = kit.dumps()
    proc, report, before, acked, failed = rollback_under_writes(
        kit, "-e", "target=" + TARGET, extra=dict(MAINTENANCE, rollback_expected_objects=["public.Orders.Status"],
                                                  rollback_on_failure="roll_forward"))
    assert proc.returncode == 2
    assert report["failure"]["phase"] == "verify_db" and report["failure"]["recovery"] == "roll_forward done"
    assert kit.history() == list(fixtures.MIGRATIONS)
    check_acknowledged(kit, acked, stage_kit.ACCEPT_DATA_LOSS)
    check_data_loss_prediction(report, before, acked, failed)
    schema_after, data_after = kit.dumps()
    assert schema_after == schema_before  # Up() re-made what Down() removed
    _tables_as_before(data_before, data_after, ['public."Farmers"', 'public."Payments"',
                                                'public."__EFMigrationsHistory"'])
    _print_availability(report, failed)


def test_failure_in_verify_app_rolls_forward_without_losing_writes(kit):
    schema_before, _data = kit.dumps()
    proc, report, before, acked, failed = rollback_under_writes(
        kit, "-e", "target=" + TARGET, extra=dict(MAINTENANCE, rollback_expected_version="9.9.9",
                                                  rollback_health_timeout=5, rollback_on_failure="roll_forward"))
    assert proc.returncode == 2
    assert report["failure"]["phase"] == "verify_app" and report["failure"]["recovery"] == "roll_forward done"
    assert kit.history() == list(fixtures.MIGRATIONS)
    # v1.1.0 served, and acknowledged writes, between the deploy and the failure: they are kept.
    assert any(e.get("version") == "1.1.0" for e in acked)
    check_acknowledged(kit, acked, stage_kit.ACCEPT_DATA_LOSS)
    check_data_loss_prediction(report, before, acked, failed)
    assert kit.dumps()[0] == schema_before
    _print_availability(report, failed)


def test_failure_in_verify_app_with_restore_keeps_what_the_previous_version_acknowledged(kit):
    proc, report, before, acked, failed = rollback_under_writes(
        kit, "-e", "target=" + TARGET, extra=dict(MAINTENANCE, rollback_expected_version="9.9.9",
                                                  rollback_health_timeout=5, rollback_on_failure="restore"))
    assert proc.returncode == 2
    failure = report["failure"]
    assert failure["phase"] == "verify_app"
    # v1.1.0 served after the backup: a restore would drop what it acknowledged, so the role rolled forward instead.
    assert failure["recovery"] == "roll_forward done", failure
    assert "served requests after the backup" in failure["recovery_note"]
    assert failure["failed_state_backup"] is None
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert any(e.get("version") == "1.1.0" for e in acked)
    check_acknowledged(kit, acked, stage_kit.ACCEPT_DATA_LOSS)
    check_data_loss_prediction(report, before, acked, failed)
    _print_availability(report, failed)


def test_two_rollbacks_in_a_row_each_take_and_restore_their_own_backup(kit):
    """Defect 1: roll back, roll forward, write, roll back again and fail: the restore must use the second run's
    backup (the farmer written between the runs survives), never the first run's."""
    kit.start_writer()
    first = kit.run("-e", "target=" + TARGET, extra=MAINTENANCE)
    assert first.returncode == 0, first.stdout[-3000:]
    # A newer target is a roll forward: refused unless said so.
    refused = kit.run("-e", "target=" + LATEST, extra=MAINTENANCE)
    assert refused.returncode == 2 and "is newer than the database" in refused.stdout, refused.stdout[-3000:]
    assert "-e direction=forward" in refused.stdout and kit.history() == list(fixtures.MIGRATIONS[:3])
    forward = kit.run("-e", "target=" + LATEST, "-e", "direction=forward", "-e", "image_tag=v1.2.0",
                      "-e", "version=1.2.0", extra=MAINTENANCE)
    assert forward.returncode == 0, forward.stdout[-3000:]
    assert kit.history() == list(fixtures.MIGRATIONS)
    conn = kit.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute('INSERT INTO "Farmers" ("Name", "Village", "PhoneNumber", "CreatedAt") '
                        "VALUES ('Between Runs', 'Kisumu', '+254700000001', now()) RETURNING \"Id\"")
            between_id = cur.fetchone()[0]
    finally:
        conn.close()
    time.sleep(1.0)  # more writes between the runs, through v1.2.0
    schema_before, data_before = kit.dumps()
    third = kit.run("-e", "target=" + TARGET, extra=dict(MAINTENANCE, rollback_on_failure="restore",
                                                         rollback_expected_objects=["public.Orders.Status"]))
    assert third.returncode == 2
    acked, failed = kit.stop_writer()
    reports = kit.reports_of()
    reports = [r for r in reports if r["failure"].get("phase") != "preflight"]  # the refused roll forward
    assert [r["outcome"] for r in reports] == ["succeeded", "succeeded", "failed"]
    assert reports[1]["direction"] == "forward"
    forward_md = os.path.join(kit.reports, "almafrica_staging", reports[1]["run_id"] + ".md")
    assert open(forward_md, encoding="utf-8").read().startswith("# Roll forward succeeded")
    paths = [r["backup"]["path"] for r in reports]
    assert len(set(paths)) == 3 and all(r["backup"]["taken_by_this_run"] for r in reports)
    last = reports[-1]
    assert last["failure"]["phase"] == "verify_db" and last["failure"]["recovery"] == "restore done", last["failure"]
    assert last["failure"]["failed_state_backup"] and os.path.exists(last["failure"]["failed_state_backup"])
    md = open(os.path.join(kit.reports, "almafrica_staging", last["run_id"] + ".md"), encoding="utf-8").read()
    assert paths[-1] in md
    assert kit.history() == list(fixtures.MIGRATIONS)
    assert ("Farmers", between_id) in kit.rows()
    check_acknowledged(kit, acked, stage_kit.ACCEPT_DATA_LOSS)
    schema_after, data_after = kit.dumps()
    assert schema_after == schema_before
    _tables_as_before(data_before, data_after, data_before)  # the restore put back exactly the third run's backup
    _print_availability(last, failed)


def test_without_maintenance_writes_fail_in_the_error_window_but_none_is_lost(kit):
    refused = kit.run("-e", "target=" + TARGET, extra={"rollback_on_failure": "restore"})
    assert refused.returncode == 2
    assert "rollback_on_failure=restore without rollback_maintenance" in refused.stdout
    assert kit.history() == list(fixtures.MIGRATIONS) and kit.reports_of()[-1]["failure"]["phase"] == "preflight"

    proc, report, before, acked, failed = rollback_under_writes(kit, "-e", "target=" + TARGET)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "maintenance" not in [p["name"] for p in report["phases"]]
    check_acknowledged(kit, acked, stage_kit.ACCEPT_DATA_LOSS)
    check_data_loss_prediction(report, before, acked, failed)
    refused_n, errors = _print_availability(report, failed)
    avail = report["availability"]
    assert avail["downtime"] is None and avail["error_window"] > 0
    changed, healthy = report["phases"][3]["finished"], avail["healthy_at"]
    in_window = [e for e in failed if changed - 1 <= e["t"] <= healthy + 1]
    print("failed or refused during the error window: %d (of %d)" % (len(in_window), refused_n + errors))
    assert in_window  # what users see: v1.2.0 cannot write orders on v1.1.0's schema until v1.1.0 serves


def test_compose_maintenance_stops_the_service_before_the_backup(kit, tmp_path):
    """Compose: the maintenance window stops the service with docker_compose_v2 state=stopped before anything else.
    This machine has no Docker engine, so the stop fails: nothing may have been backed up or changed."""
    project = tmp_path / "compose"
    project.mkdir()
    (project / "api.env").write_text("RunMigrations=false\n")
    (project / "compose.yaml").write_text(
        "services:\n  api:\n    image: registry.local/almafrica-api:${ALMAFRICA_IMAGE_TAG:-v1.2.0}\n"
        "    env_file: [api.env]\n")
    schema_before, data_before = kit.dumps()
    proc = kit.run("-e", "target=" + TARGET, extra=dict(MAINTENANCE, rollback_deploy_method="compose",
                                                        rollback_compose_project_src=str(project)))
    assert proc.returncode == 2
    report = kit.reports_of()[-1]
    assert report["failure"]["phase"] == "maintenance", report["failure"]
    assert report["failure"]["task"] == "Maintenance | stop the application (Compose)"
    assert report["backup"]["path"] is None and not glob.glob(os.path.join(kit.dir, "backups", "staging", "*"))
    # The version that ran is started again (here that fails the same way, and the report says so).
    assert report["failure"]["application"].startswith("FAILED to start"), report["failure"]
    assert kit.history() == list(fixtures.MIGRATIONS)
    schema_after, data_after = kit.dumps()
    assert schema_after == schema_before and data_after == data_before
