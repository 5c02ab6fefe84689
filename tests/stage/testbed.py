"""One staging Coolify running the Almafrica-like application on a throwaway database: the bed the module tests of
app_logs, app_watch and coolify_deploy's image check lie on.

    server = start_coolify(pg, dbname, db_release="v1.1.0", image_tag="v1.1.0")
    server.url, server.token, server.app (the CoolifyApplication), server.app.fqdn (the application's URL)
    login_token(server.app.fqdn) ... server.stop(); assert server.spec_violations == []
"""
from __future__ import annotations

import json
import secrets
import urllib.request

from stage.coolify import CoolifyApplication, CoolifyServer, almafrica_launcher
from stage.fixtures import build_database

DEMO_USER = "smoke"


def connection_string(pg, dbname):
    return "Host=%s;Port=%s;Database=%s;Username=%s;Password=%s" % (
        pg.host, pg.port, dbname, pg.superuser, pg.password)


def start_coolify(pg, dbname, db_release="v1.1.0", image_tag="v1.1.0", launcher=almafrica_launcher):
    """Build ``dbname`` at ``db_release`` (seeded) and start a Coolify whose application runs ``image_tag``."""
    conn = pg.connect(dbname)
    try:
        build_database(conn, release=db_release)
    finally:
        conn.close()
    token = secrets.token_urlsafe(24)
    password = secrets.token_urlsafe(12)
    app = CoolifyApplication(image_tag=image_tag, health_timeout=15, envs={
        "ConnectionStrings__DefaultConnection": connection_string(pg, dbname), "RunMigrations": "false",
        "ASPNETCORE_ENVIRONMENT": "Staging", "ALMAFRICA_DEMO_USER": DEMO_USER, "ALMAFRICA_DEMO_PASSWORD": password})
    server = CoolifyServer(apps=[app], tokens={token: ["root"]}, launcher=launcher)
    server.faults.queue_delay = server.faults.stop_delay = 0.1
    server.start()
    server.token, server.app, server.demo_password = token, app, password
    return server


def call(url, path, token=None, method="GET", body=None):
    """(status, parsed JSON or text) of one request to the application."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def login_token(server):
    status, data = call(server.app.fqdn, "/api/auth/login", method="POST",
                        body={"username": DEMO_USER, "password": server.demo_password})
    assert status == 200, data
    return data["token"]
