"""The rehearsal rollback, measured: phases, the time the application served errors, and the playbook's overhead.

    .venv/bin/python bench/rehearsal.py [--runs 3]
    .venv/bin/python bench/rehearsal.py --size 1GB [--runs 1]

Each run brings up a fresh staging kit (PostgreSQL at v1.2.0 with data, the application v1.2.0, the
Coolify-compatible API) twice, side by side in the same run:

* ``playbook``: ``ansible-playbook playbooks/rollback.yml -e target=<last v1.1.0 migration>`` (every phase:
  preflight, record, verified backup, migrate, verify, deploy, health, smoke, report);
* ``maintenance``: the same playbook with ``rollback_maintenance: true`` (the application is stopped before the
  backup and the previous version started by the deploy): no errors, a downtime instead;
* ``raw``: the same work as a shell runbook would do it, with the raw tools and no checks: ``pg_dump -Fd -Z1 -j2``,
  ``psql -1 -f rollback_v1.2.0.sql``, the Coolify API calls (PATCH the tag, POST deploy, poll), one GET of
  ``/health/version``.

With ``--size``, one kit is brought up and its database grown to that size first (bench/gen_db.py's four tables
in a schema of their own, ``bulk``, beside the application's), and every variant runs on it, followed each time by
an unmeasured roll forward that puts the database and the application back at v1.2.0. Two more variants then show
what the shadow rehearsal (``rollback_shadow: true``: this run's backup restored into a scratch copy and the plan
rehearsed there before production is touched) costs on production-sized data: ``shadow`` and
``shadow+maintenance`` (with maintenance the shadow runs inside the downtime).

While each runs, a prober reads ``/api/orders`` (the endpoint whose columns change) and ``/health`` every 100 ms
and records every answer that is not 200: that is the time users see errors (or, with maintenance, no answer).
The role's own report gives the error window (schema changed until the previous version is healthy) without
maintenance, and the downtime (stop until healthy) with it. Results are printed as Markdown.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, HERE)

import gen_db  # noqa: E402

from stage import fixtures  # noqa: E402
from stage import kit as stage_kit  # noqa: E402
from stage.runner import ansible_env  # noqa: E402


def _request(url, method="GET", data=None, token=None, timeout=2.0):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return None, None
    try:
        return status, json.loads(raw or b"null")
    except ValueError:  # /health answers text
        return status, None


class Prober(threading.Thread):
    """Reads the application every 100 ms; records the time spans it answered anything but 200."""

    def __init__(self, app_url, user, password, interval=0.1):
        super().__init__(daemon=True)
        self.app_url, self.user, self.password, self.interval = app_url, user, password, interval
        self.samples = []  # (t, endpoint, status)
        self.stop_event = threading.Event()
        self.token = None

    def _login(self):
        status, body = _request(self.app_url + "/api/auth/login", "POST",
                                {"username": self.user, "password": self.password})
        self.token = body["token"] if status == 200 else None

    def run(self):
        while not self.stop_event.is_set():
            t = time.monotonic()
            if self.token is None:
                self._login()
            status, _ignored = _request(self.app_url + "/api/orders?limit=1", token=self.token)
            if status == 401:  # the application restarted: tokens do not survive it
                self._login()
                status, _ignored = _request(self.app_url + "/api/orders?limit=1", token=self.token)
            self.samples.append((t, "orders", status))
            health, _ignored = _request(self.app_url + "/health")
            self.samples.append((t, "health", health))
            self.stop_event.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def error_seconds(self, endpoint):
        """Seconds between a non-200 sample and the next sample, summed (resolution: the probe interval)."""
        pts = [(t, s) for t, e, s in self.samples if e == endpoint]
        return sum(t2 - t1 for (t1, s1), (t2, _s2) in zip(pts, pts[1:]) if s1 != 200)

    def stop(self):
        self.stop_event.set()
        self.join()


VARIANTS = {  # kind: the role's variables
    "playbook": {"rollback_maintenance": False, "rollback_shadow": False},
    "maintenance": {"rollback_maintenance": True, "rollback_shadow": False},
    "shadow": {"rollback_maintenance": False, "rollback_shadow": True},
    "shadow+maintenance": {"rollback_maintenance": True, "rollback_shadow": True},
}


def _playbook(k, *args):
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    started = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           k["inventory"], os.path.join(REPO, "playbooks", "rollback.yml")] + list(args),
                          env=env, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError("playbook failed:\n" + proc.stdout[-3000:])
    return elapsed


def _newest_report(reports):
    paths = [os.path.join(root, f) for root, _d, files in os.walk(reports) for f in files if f.endswith(".json")]
    with open(max(paths, key=os.path.getmtime), encoding="utf-8") as fh:
        return json.load(fh)


def run_playbook(k, reports, kind="playbook"):
    elapsed = _playbook(k, "-e", "target=" + stage_kit.REHEARSAL_TARGET, "-e", json.dumps(VARIANTS[kind]))
    report = _newest_report(reports)
    parts = {p["name"]: p["duration"] for p in report["phases"]}
    if report.get("shadow"):
        parts["shadow: restore of the copy"] = report["shadow"].get("restore_seconds")
    return elapsed, parts, report["availability"]


def roll_forward(k):
    """Back to v1.2.0 (database and application) after a measured run; not measured."""
    latest = fixtures.MIGRATIONS[-1]
    variables = {"rollback_maintenance": True, "rollback_shadow": False, "rollback_backup_keep": 1}
    _playbook(k, "-e", "target=" + latest, "-e", "direction=forward", "-e", "image_tag=v1.2.0",
              "-e", "version=1.2.0", "-e", json.dumps(variables))


def grow(k, size):
    """bench/gen_db.py's tables, in schema ``bulk`` of the staging database, until it holds about ``size``."""
    import psycopg2

    pgs = k["postgres"]
    password = stage_kit.read_secrets(k)["stage_db_password"]
    conn = psycopg2.connect(host=pgs["host"], port=pgs["port"], user=pgs["user"], password=password,
                            dbname=k["environments"]["staging"]["database"], options="-c search_path=bulk")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE SCHEMA bulk")
        return gen_db.generate(conn, size, log=lambda *a: None)
    finally:
        conn.close()


def run_raw(k, secrets, backup_dir):
    """The runbook by hand: dump, psql the rollback script in one transaction, Coolify API, one health GET."""
    pgs = k["postgres"]
    env = dict(os.environ, PGHOST=pgs["host"], PGPORT=str(pgs["port"]), PGUSER=pgs["user"],
               PGPASSWORD=secrets["stage_db_password"], PGDATABASE=k["environments"]["staging"]["database"])
    steps = {}
    t = time.monotonic()
    subprocess.run(["pg_dump", "-Fd", "-Z1", "-j2", "-f", os.path.join(backup_dir, "raw")], env=env, check=True)
    steps["pg_dump"] = time.monotonic() - t
    t = time.monotonic()
    subprocess.run(["psql", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f",
                    fixtures.rollback_script("ef8", "v1.2.0")], env=env, check=True, capture_output=True)
    steps["psql rollback"] = time.monotonic() - t
    t = time.monotonic()
    api, uuid, token = k["coolify"]["url"] + "/api/v1", k["environments"]["staging"]["app_uuid"], \
        secrets["stage_coolify_token"]
    status, _ignored = _request("%s/applications/%s" % (api, uuid), "PATCH",
                                {"docker_registry_image_tag": "v1.1.0"}, token=token)
    assert status == 200, status
    status, body = _request("%s/deploy?uuid=%s" % (api, uuid), "POST", token=token)
    dep = body["deployments"][0]["deployment_uuid"]
    while True:
        status, body = _request("%s/deployments/%s" % (api, dep), token=token)
        if body and body.get("status") in ("finished", "failed", "cancelled-by-user"):
            break
        time.sleep(0.2)
    steps["coolify deploy"] = time.monotonic() - t
    t = time.monotonic()
    status, body = _request(k["environments"]["staging"]["app_url"] + "/health/version")
    steps["health GET"] = time.monotonic() - t
    assert body["version"] == "1.1.0", body
    return sum(steps.values()), steps


def measure(k, tmp, reports, kind):
    """One measured run of ``kind`` on the kit ``k`` (database at v1.2.0), the prober reading beside it."""
    secrets = stage_kit.read_secrets(k)
    prober = Prober(k["environments"]["staging"]["app_url"], secrets["stage_smoke_user"],
                    secrets["stage_smoke_password"])
    prober.start()
    time.sleep(0.5)
    availability = {}
    if kind in VARIANTS:
        total, parts, availability = run_playbook(k, reports, kind)
    else:
        backup = os.path.join(tmp, "raw-backup")
        subprocess.run(["rm", "-rf", backup], check=True)
        os.makedirs(backup)
        total, parts = run_raw(k, secrets, backup)
    time.sleep(0.5)
    prober.stop()
    return {"total": total, "parts": parts, "orders_errors": prober.error_seconds("orders"),
            "health_errors": prober.error_seconds("health"),
            "error_window": availability.get("error_window"), "downtime": availability.get("downtime")}


def one_run(kind):
    """A fresh kit (seed data only) for one measured run."""
    with tempfile.TemporaryDirectory(prefix="almafrica-bench-") as tmp:
        reports = os.path.join(tmp, "reports")
        k = stage_kit.up(os.path.join(tmp, "stage"), report_dir=reports)
        try:
            return measure(k, tmp, reports, kind)
        finally:
            stage_kit.down(k["dir"])


def sized_runs(kinds, runs, size, results):
    """One kit grown to ``size``; every kind measured on it in turn, each followed by a roll forward."""
    with tempfile.TemporaryDirectory(prefix="almafrica-bench-") as tmp:
        reports = os.path.join(tmp, "reports")
        k = stage_kit.up(os.path.join(tmp, "stage"), report_dir=reports)
        try:
            started = time.monotonic()
            final = grow(k, size)
            print("database grown to %.0f MB in %.0f s" % (final / 2**20, time.monotonic() - started), flush=True)
            for _ignored in range(runs):
                for kind in kinds:
                    results[kind].append(measure(k, tmp, reports, kind))
                    print("  %s: %.1f s" % (kind, results[kind][-1]["total"]), flush=True)
                    roll_forward(k)
            return final
        finally:
            stage_kit.down(k["dir"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default=None, help="grow the kit's database to this size (e.g. 1GB) and add the "
                                                     "shadow variants")
    opts = parser.parse_args()
    kinds = ("playbook", "maintenance", "raw") if not opts.size else \
        ("playbook", "maintenance", "shadow", "shadow+maintenance", "raw")
    results = {kind: [] for kind in kinds}
    if opts.size:
        sized_runs(kinds, opts.runs, gen_db.parse_size(opts.size), results)
    else:
        for _ignored in range(opts.runs):
            for kind in kinds:  # side by side in the same run, alternating
                results[kind].append(one_run(kind))

    def median(runs, key):
        values = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    keys = ("total", "orders_errors", "health_errors", "error_window", "downtime")
    med = {kind: {key: median(runs, key) for key in keys}
           for kind, runs in results.items()}
    print("## Rehearsal rollback (bench/rehearsal.py, %d runs each, medians%s)\n"
          % (opts.runs, ", database grown to " + opts.size if opts.size else ""))
    print("| | wall (s) | /api/orders not 200 (s) | /health not 200 (s) | error window, report (s) | downtime, report (s) |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        m = med[kind]
        print("| %s | %.2f | %.2f | %.2f | %s | %s |" % (
            kind, m["total"], m["orders_errors"], m["health_errors"],
            "-" if m["error_window"] is None else "%.2f" % m["error_window"],
            "-" if m["downtime"] is None else "%.2f" % m["downtime"]))
    print("\nplaybook / raw wall time: %.2fx; playbook overhead: %.2f s\n"
          % (med["playbook"]["total"] / med["raw"]["total"], med["playbook"]["total"] - med["raw"]["total"]))
    for kind in (k for k in kinds if k in VARIANTS):
        print("Phases, %s (median s): " % kind + ", ".join(
            "%s %.2f" % (name, statistics.median(r["parts"][name] for r in results[kind]))
            for name in results[kind][0]["parts"] if results[kind][0]["parts"][name] is not None))
    if opts.size:
        print("\nshadow's cost: %.2f s of wall time without maintenance, %s s more downtime with it"
              % (med["shadow"]["total"] - med["playbook"]["total"],
                 "?" if None in (med["shadow+maintenance"]["downtime"], med["maintenance"]["downtime"]) else
                 "%.2f" % (med["shadow+maintenance"]["downtime"] - med["maintenance"]["downtime"])))
    print("Raw steps (median s): " + ", ".join(
        "%s %.2f" % (name, statistics.median(r["parts"][name] for r in results["raw"]))
        for name in results["raw"][0]["parts"]))


if __name__ == "__main__":
    main()
