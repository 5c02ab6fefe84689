"""The staging kit as one command: a whole Almafrica environment on loopback, and its Ansible inventory.

    python -m stage up   --dir DIR [--release v1.2.0] [--environments staging,qa] [--report-dir R]
    python -m stage down --dir DIR

``up`` starts a throwaway PostgreSQL with one database per environment built to ``--release`` with seed data,
a Coolify-compatible API (``stage.coolify``) that runs each environment's application (``stage.app``) at that
release with ``RunMigrations=false``, and writes ``DIR/inventory`` (hosts, group_vars, host_vars; the generated
throwaway secrets in a 0600 file) and ``DIR/inventory.json`` (the same as an Ansible script inventory), so that
``playbooks/rollback.yml`` runs against it exactly as against production. ``down`` stops everything and removes DIR.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import yaml

from stage import fixtures
from stage.pg import PgCluster, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
STATE = "stage.json"
# The rollback the rehearsal performs: from v1.2.0 back to the last migration of v1.1.0.
REHEARSAL_TARGET = fixtures.last_migration("v1.1.0")
REHEARSAL_IMAGE_TAG = "v1.1.0"
REHEARSAL_VERSION = "1.1.0"
ACCEPT_DATA_LOSS = ["public.Orders.Status", "public.Orders.Amount"]


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _npgsql(host, port, db, user, password):
    return "Host=%s;Port=%s;Database=%s;Username=%s;Password=%s" % (host, port, db, user, password)


def _wait_http(url, timeout=60.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
                if resp.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError("%s did not answer 200 within %ss: %s" % (url, timeout, last))


def smoke_checks(app_url):
    """Login, read farmers and orders, create a farmer: the runbook's smoke test, as health_assert checks."""
    return [
        {"name": "login", "url": app_url + "/api/auth/login", "method": "POST",
         "body": {"username": "{{ stage_smoke_user }}", "password": "{{ stage_smoke_password }}"},
         "expect_status": [200], "save": {"token": "token"}},
        {"name": "farmers", "url": app_url + "/api/farmers", "bearer_token": "${login.token}",
         "expect_status": [200]},
        {"name": "orders", "url": app_url + "/api/orders", "bearer_token": "${login.token}",
         "expect_status": [200]},
        {"name": "create_farmer", "url": app_url + "/api/farmers", "method": "POST",
         "bearer_token": "${login.token}", "body": {"name": "Rehearsal Farmer", "village": "Kisumu"},
         "expect_status": [201]},
    ]


def up(stage_dir, release=fixtures.LATEST_RELEASE, environments=("staging",), report_dir=None, dialect="ef8",
       run_migrations=False, faults=None, tls=False):
    """Start the kit; ``run_migrations=True`` configures the applications to migrate on start (a misconfiguration
    the rollback must refuse); ``faults``: the staging Coolify's fault switches (``stage.coolify.Faults.configure``,
    e.g. ``{"missing_images": ["v1.1.0"]}``, ``{"error_rate_after_deploy": {"/api/orders": 0.05}}``);
    ``tls=True``: PostgreSQL accepts TCP only over TLS, with a certificate from a CA made for the kit, and the
    inventory verifies it as production should (``verify-full`` with ``rollback_db_ca_cert``)."""
    stage_dir = os.path.abspath(stage_dir)
    if os.path.exists(os.path.join(stage_dir, STATE)):
        raise RuntimeError("a staging kit is already up in %s: run 'down' first" % stage_dir)
    os.makedirs(stage_dir, mode=0o700, exist_ok=True)
    state = {"dir": stage_dir, "release": release, "environments": {}}
    # The cluster lives in its own temp dir: the server user must reach it, and the kit's directory may sit in a
    # home directory that user cannot enter (molecule's ephemeral directory does).
    ca_cert = None
    if tls:
        from stage.tls import CertificateAuthority  # the cryptography package, needed only here

        ca = CertificateAuthority.create(os.path.join(stage_dir, "tls"), name="almafrica staging kit CA")
        ca_cert = ca.cert_path
        pg = PgCluster(ssl=ca.issue(os.path.join(stage_dir, "tls")))
    else:
        pg = PgCluster()
    state["postgres"] = {"base_dir": pg.base_dir}
    _write_private(os.path.join(stage_dir, STATE), json.dumps(state, indent=1))
    pg.start()
    state["postgres"] = {"host": pg.host, "port": pg.port, "user": pg.superuser, "bindir": pg.bindir,
                         "base_dir": pg.base_dir, "data_dir": pg.data_dir, "run_as": pg.run_as, "ca_cert": ca_cert}
    _write_private(os.path.join(stage_dir, STATE), json.dumps(state, indent=1))  # so that 'down' can clean up
    try:
        token = secrets.token_urlsafe(24)
        smoke_password = secrets.token_urlsafe(12)
        apps = []
        for env in environments:
            dbname = "almafrica_%s" % env
            pg.create_database(dbname)
            conn = pg.connect(dbname)
            fixtures.build_database(conn, release=release, dialect=dialect, seed=True)
            conn.close()
            app_port = free_port()
            uuid = "almafrica-api-%s" % env
            apps.append({"uuid": uuid, "name": "almafrica-api-%s" % env, "image_tag": release, "port": app_port,
                         "envs": {"ConnectionStrings__DefaultConnection": _npgsql(pg.host, pg.port, dbname,
                                                                                  pg.superuser, pg.password),
                                  "RunMigrations": "true" if run_migrations else "false",
                                  "ASPNETCORE_ENVIRONMENT": env,
                                  "ALMAFRICA_DEMO_USER": "smoke", "ALMAFRICA_DEMO_PASSWORD": smoke_password}})
            state["environments"][env] = {"database": dbname, "app_url": "http://127.0.0.1:%d" % app_port,
                                          "app_uuid": uuid}
        config = {"tokens": {token: ["root"]}, "applications": apps, "port": free_port()}
        if faults:
            config["faults"] = {k: sorted(v) if isinstance(v, (set, frozenset)) else v for k, v in faults.items()}
        _write_private(os.path.join(stage_dir, "coolify.json"), json.dumps(config, indent=1))
        log = open(os.path.join(stage_dir, "coolify.log"), "ab")  # noqa: SIM115 - handed to the child
        env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.Popen([sys.executable, "-m", "stage.coolify", "--config",
                                 os.path.join(stage_dir, "coolify.json"), "--state-file",
                                 os.path.join(stage_dir, "coolify.state.json")],
                                cwd=TESTS, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        state["coolify"] = {"pid": proc.pid, "url": "http://127.0.0.1:%d" % config["port"]}
        _write_private(os.path.join(stage_dir, STATE), json.dumps(state, indent=1))
        _wait_http(state["coolify"]["url"] + "/api/health")
        for env_state in state["environments"].values():
            _wait_http(env_state["app_url"] + "/health")
        write_inventory(stage_dir, state, pg, token, smoke_password, report_dir)
        _write_private(os.path.join(stage_dir, STATE), json.dumps(state, indent=1))
    except BaseException:
        down(stage_dir)
        raise
    return state


def write_inventory(stage_dir, state, pg, token, smoke_password, report_dir=None):
    inv = os.path.join(stage_dir, "inventory")
    pgs_ca = state["postgres"].get("ca_cert")
    os.makedirs(os.path.join(inv, "group_vars", "almafrica"), exist_ok=True)
    os.makedirs(os.path.join(inv, "host_vars"), exist_ok=True)
    group_vars = {
        "rollback_db_host": pg.host,
        "rollback_db_port": pg.port,
        "rollback_db_user": pg.superuser,
        "rollback_db_password": "{{ stage_db_password }}",
        "rollback_db_ssl_mode": "verify-full" if pgs_ca else "disable",
        "rollback_scripts": [os.path.join(fixtures.MIGRATIONS_DIR, "ef8")],
        "rollback_accept_data_loss": ACCEPT_DATA_LOSS,
        # What v1.1.0's schema has and v1.2.0's columns it must not have any more.
        "rollback_expected_objects": ["public.Payments", "public.Farmers.PhoneNumber"],
        "rollback_absent_objects": ["public.Orders.Status"],
        "rollback_deploy_method": "coolify",
        "rollback_coolify_api_url": state["coolify"]["url"],
        "rollback_coolify_api_token": "{{ stage_coolify_token }}",
        "rollback_image_tag": REHEARSAL_IMAGE_TAG,
        "rollback_expected_version": REHEARSAL_VERSION,
        "rollback_health_timeout": 60,
        # A short watch window (runbook step 9): the rehearsal shows it without making every test wait a minute.
        "rollback_watch_seconds": 3,
        "rollback_watch_interval": 0.5,
        # The kit shares a small machine with the test suite: under load its application answers in over a second
        # now and then, which production's 1 s p95 limit (the role's default) would take for a slow release. The
        # tests of the p95 limit set their own.
        "rollback_watch_max_p95_ms": 5000,
        "rollback_deploy_timeout": 120,
        "rollback_deploy_poll_interval": 0.5,  # the kit deploys in about a second
        "rollback_report_dir": os.path.abspath(report_dir or os.path.join(stage_dir, "reports")),
        "rollback_on_failure": "roll_forward",
        "rollback_operator": "rehearsal",
        "rollback_reason": "staging rehearsal",
    }
    if pgs_ca:
        group_vars["rollback_db_ca_cert"] = pgs_ca
    secret_vars = {"stage_db_password": pg.password, "stage_coolify_token": token,
                   "stage_smoke_user": "smoke", "stage_smoke_password": smoke_password}
    hosts, hostvars = {}, {}
    for env, env_state in state["environments"].items():
        host = "almafrica_%s" % env
        host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                     "rollback_environment": env, "rollback_db_name": env_state["database"],
                     "rollback_coolify_app_uuid": env_state["app_uuid"], "rollback_app_url": env_state["app_url"],
                     "rollback_backup_dir": os.path.join(stage_dir, "backups", env),
                     "rollback_smoke_checks": smoke_checks(env_state["app_url"])}
        hosts[host] = None
        hostvars[host] = host_vars
        with open(os.path.join(inv, "host_vars", host + ".yml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump(host_vars, fh, sort_keys=False)
        env_state["host"] = host
    with open(os.path.join(inv, "hosts.yml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump({"almafrica": {"hosts": hosts}}, fh, sort_keys=False)
    with open(os.path.join(inv, "group_vars", "almafrica", "main.yml"), "w", encoding="utf-8") as fh:
        fh.write("# Written by the staging kit (python -m stage up): the rehearsal environment.\n")
        yaml.safe_dump(group_vars, fh, sort_keys=False)
    _write_private(os.path.join(inv, "group_vars", "almafrica", "secrets.yml"),
                   "# Throwaway secrets generated for this staging kit; gone with 'down'.\n"
                   + yaml.safe_dump(secret_vars, sort_keys=False))
    # The same inventory for Ansible's script inventory plugin (molecule links a reader of this file).
    merged = {h: dict(group_vars, **secret_vars, **hv) for h, hv in hostvars.items()}
    _write_private(os.path.join(stage_dir, "inventory.json"), json.dumps(
        {"almafrica": {"hosts": sorted(hosts)}, "_meta": {"hostvars": merged}}, indent=1))
    state["inventory"] = inv


def read_secrets(state):
    """The secrets write_inventory generated for the kit of ``state`` (database password, Coolify token, smoke
    user's password), from its inventory."""
    with open(os.path.join(state["inventory"], "group_vars", "almafrica", "secrets.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def down(stage_dir):
    """Stop everything the kit started and remove its directory. Returns the pids still alive (should be [])."""
    stage_dir = os.path.abspath(stage_dir)
    path = os.path.join(stage_dir, STATE)
    if not os.path.exists(path):
        shutil.rmtree(stage_dir, ignore_errors=True)
        return []
    with open(path, encoding="utf-8") as fh:
        state = json.load(fh)
    left = []
    pid = state.get("coolify", {}).get("pid")
    if pid and _alive(pid):
        os.killpg(pid, signal.SIGTERM)  # its own session: the API and the application processes it runs
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
            left.append(pid)
    pgs = state.get("postgres")
    if pgs and pgs.get("data_dir"):
        cmd = [os.path.join(pgs["bindir"], "pg_ctl"), "-D", pgs["data_dir"], "-m", "fast", "-w", "stop"]
        if pgs.get("run_as"):
            cmd = ["runuser", "-u", pgs["run_as"], "--"] + cmd
        subprocess.run(cmd, capture_output=True, check=False)
    if pgs and pgs.get("base_dir"):
        shutil.rmtree(pgs["base_dir"], ignore_errors=True)
    shutil.rmtree(stage_dir, ignore_errors=True)
    return left


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stage", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start a staging kit")
    p_up.add_argument("--dir", required=True)
    p_up.add_argument("--release", default=fixtures.LATEST_RELEASE, choices=fixtures.RELEASE_ORDER)
    p_up.add_argument("--environments", default="staging", help="comma-separated environment names")
    p_up.add_argument("--report-dir", help="where the rollback role writes its reports")
    p_up.add_argument("--faults", type=json.loads, default=None,
                      help='the staging Coolify\'s fault switches as JSON, e.g. \'{"missing_images": ["v1.1.0"]}\', '
                           '\'{"error_rate_after_deploy": {"/api/orders": 0.05}}\', \'{"uninspectable": true}\'')
    p_down = sub.add_parser("down", help="stop a staging kit and remove its directory")
    p_down.add_argument("--dir", required=True)
    p_hotfix = sub.add_parser("hotfix", help="migrate to the hotfix v1.2.1 and write orders of guest farmers")
    p_hotfix.add_argument("--dir", required=True)
    p_hotfix.add_argument("--guests", type=int, default=12)
    p_clean = sub.add_parser("clean-guests", help="delete the orders of farmers that do not exist")
    p_clean.add_argument("--dir", required=True)
    p_dump = sub.add_parser("dump", help="pg_dump (schema and data) of the staging database to a file")
    p_dump.add_argument("--dir", required=True)
    p_dump.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    if opts.command in ("hotfix", "clean-guests", "dump"):
        from stage.hotfix import StageDatabase
        db = StageDatabase(opts.dir)
        if opts.command == "hotfix":
            db.apply_hotfix(opts.guests)
        elif opts.command == "clean-guests":
            db.remove_guest_orders()
        else:
            _write_private(opts.out, db.dump())
        return 0
    if opts.command == "up":
        state = up(opts.dir, opts.release, [e for e in opts.environments.split(",") if e], opts.report_dir,
                   faults=opts.faults)
        print(json.dumps({"inventory": state["inventory"], "coolify": state["coolify"]["url"],
                          "environments": state["environments"], "target": REHEARSAL_TARGET}, indent=1))
        return 0
    left = down(opts.dir)
    if left:
        print("processes that had to be killed: %s" % left, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
