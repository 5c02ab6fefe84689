"""Role runs for the tests: playbooks/rollback.yml on a staging kit at -vvv, each output searched for secrets.

    kit = Kit(str(tmp_path))                  # a staging kit (stage.kit.up) and its inventory's secrets
    proc = kit.run("-e", "target=...")         # ansible-playbook -vvv; fails the test if a secret is in its output
    before = kit.dump()                        # pg_dump schema and data of the environment's database

``run_role_checked`` is the harness: it runs ansible-playbook at ``-vvv`` (the most a user would show anyone) and
asserts that no secret of the inventory (database password, Coolify token, smoke password, and the webhook URL when
one is given) appears in stdout or stderr in any of the forms tools print it (``secrets.secret_forms``).
"""
from __future__ import annotations

import glob
import http.server
import json
import os
import re
import secrets as _secrets
import threading
import urllib.request

import psycopg2
import yaml

from stage import kit as stage_kit
from stage.dumps import dump_state
from stage.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "rollback.yml")
# The inventory's secrets the kit generates (stage_smoke_user is a user name, not a secret).
SECRET_VARS = ("stage_db_password", "stage_coolify_token", "stage_smoke_password")
WEBHOOK_VAR = "rollback_notify_webhook_url"


def _secret_forms(value):
    # Imported late: the collection's code is importable once tests/conftest.py has put .collections on sys.path.
    from ansible_collections.almafrica.rollback.plugins.module_utils.redact import secret_forms

    return secret_forms(value)


def secret_leaks(text, named_secrets):
    """``[(name, line number, the line with the secret redacted)]`` for every secret of ``named_secrets``
    (``{name: value}``) found in ``text`` in any form; never the secret itself."""
    leaks = []
    lines = text.splitlines()
    for name, value in sorted(named_secrets.items()):
        forms = _secret_forms(value)
        for number, line in enumerate(lines, 1):
            if any(form in line for form in forms):
                shown = line
                for form in forms:
                    shown = shown.replace(form, "<%s>" % name)
                leaks.append((name, number, shown.strip()[:300]))
    return leaks


def webhook_urls_in(args):
    """Webhook URLs given on the command line (``-e rollback_notify_webhook_url=...`` or in a JSON ``-e``)."""
    urls = []
    for arg in args:
        if arg.startswith(WEBHOOK_VAR + "="):
            urls.append(arg.split("=", 1)[1])
        elif arg.startswith("{"):
            try:
                value = json.loads(arg).get(WEBHOOK_VAR)
            except (ValueError, AttributeError):
                value = None
            if value:
                urls.append(value)
    return urls


def run_role_checked(playbook, *args, inventory, secrets, env=None):
    """ansible-playbook at -vvv; fails when any of ``secrets`` (``{name: value}``; webhook URLs in ``args`` are
    added) appears in its output in any form."""
    named = dict(secrets)
    for i, url in enumerate(webhook_urls_in(args)):
        named["webhook_url_%d" % i] = url
    proc = run_playbook(playbook, "-vvv", *args, inventory=inventory, env=env)
    leaks = secret_leaks(proc.stdout + "\n" + proc.stderr, named)
    if leaks:
        from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact

        raise AssertionError("secrets in the output of ansible-playbook %s:\n%s" % (
            redact(" ".join(args), named.values()), "\n".join("%s at line %d: %s" % leak for leak in leaks[:20])))
    return proc


def database_dump(state, db_password, env_name="staging"):
    """pg_dump ``(schema, data)`` of an environment's database of a kit (``stage.kit.up``'s state)."""
    pgs = state["postgres"]
    env = dict(os.environ, PGHOST=pgs["host"], PGPORT=str(pgs["port"]), PGUSER=pgs["user"], PGPASSWORD=db_password)
    return dump_state(env, state["environments"][env_name]["database"])


def data_sections(data_dump):
    """``{table: COPY block}`` of a pg_dump --data-only text (``table`` as pg_dump names it: ``public."Orders"``)."""
    sections, current = {}, None
    for line in data_dump.splitlines():
        match = re.match(r"COPY (\S+) \(", line)
        if match:
            current = match.group(1)
            sections[current] = []
        elif line == "\\.":
            current = None
        elif current:
            sections[current].append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def recap(proc, host="almafrica_staging"):
    match = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % host, proc.stdout,
                      re.M)
    assert match, proc.stdout[-3000:] + proc.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


class Kit:
    """A staging kit with one environment (or more), its inventory and its secrets."""

    def __init__(self, root, environments=("staging",), **up_args):
        self.dir = os.path.join(root, "stage")
        self.reports = os.path.join(root, "reports")
        self.state = stage_kit.up(self.dir, environments=environments, report_dir=self.reports, **up_args)
        self.inventory = self.state["inventory"]
        self.secrets = stage_kit.read_secrets(self.state)

    def env(self, name="staging"):
        return self.state["environments"][name]

    def named_secrets(self):
        return {k: self.secrets[k] for k in SECRET_VARS}

    def run(self, *args, env=None):
        return run_role_checked(PLAYBOOK, *args, inventory=self.inventory, secrets=self.named_secrets(), env=env)

    def add_vars(self, host_vars, host="almafrica_staging"):
        """Append variables to a host's host_vars file of the inventory."""
        with open(os.path.join(self.inventory, "host_vars", host + ".yml"), "a", encoding="utf-8") as fh:
            yaml.safe_dump(host_vars, fh, sort_keys=False)

    def client_env(self):
        pgs = self.state["postgres"]
        return dict(os.environ, PGHOST=pgs["host"], PGPORT=str(pgs["port"]), PGUSER=pgs["user"],
                    PGPASSWORD=self.secrets["stage_db_password"])

    def connect(self, name="staging"):
        pgs = self.state["postgres"]
        conn = psycopg2.connect(host=pgs["host"], port=pgs["port"], user=pgs["user"],
                                password=self.secrets["stage_db_password"], dbname=self.env(name)["database"])
        conn.autocommit = True
        return conn

    def query(self, sql, name="staging"):
        conn = self.connect(name)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def history(self, name="staging", table="__EFMigrationsHistory", schema="public"):
        return [r[0] for r in self.query('SELECT "MigrationId" FROM "%s"."%s" ORDER BY 1' % (schema, table), name)]

    def dump(self, name="staging"):
        """pg_dump ``(schema, data)`` of the environment's database."""
        return database_dump(self.state, self.secrets["stage_db_password"], name)

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

    def down(self):
        return stage_kit.down(self.dir)


class WebhookSink:
    """A Slack-compatible incoming webhook on 127.0.0.1 that keeps what it receives and answers ``status``.

    Its URL carries a random token in the path, as a real incoming webhook's does: the URL is a credential."""

    def __init__(self, status=200):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 400 else b"invalid_token")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/services/T0/B0/%s" % (port, _secrets.token_urlsafe(18))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
