"""The staging application itself, as a real subprocess against the throwaway PostgreSQL."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from stage.app import DEFAULT_DEMO_PASSWORD, DEFAULT_DEMO_USER, AppProcess
from stage.fixtures import (applied_migrations, build_database, build_database_in, last_migration, migrations_upto,
                            schema_snapshot)

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string


def connection_string(pg, dbname, password=None):
    params = dict(login_host=pg.host, login_port=pg.port, login_user=pg.superuser,
                  login_password=pg.password if password is None else password, login_db=dbname,
                  login_unix_socket="", ssl_mode="disable", ca_cert=None, connect_timeout=10)
    return npgsql_connection_string(params)


build = build_database_in


def history(pg, dbname):
    conn = pg.connect(dbname)
    try:
        return applied_migrations(conn)
    finally:
        conn.close()


def call(app, path, method="GET", body=None, token=None):
    """(status, parsed JSON or text)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(app.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def login(app):
    status, body = call(app, "/api/auth/login", "POST", {"username": DEFAULT_DEMO_USER,
                                                         "password": DEFAULT_DEMO_PASSWORD})
    assert status == 200, body
    return body["token"]


@pytest.fixture
def app_v110(pg, dbname):
    build(pg, dbname, "v1.1.0")
    app = AppProcess("v1.1.0", connection_string(pg, dbname), environment="production").start()
    yield app
    app.stop()


def test_health_and_version(app_v110):
    assert call(app_v110, "/health") == (200, "Healthy")
    assert call(app_v110, "/health/version") == (200, {"version": "1.1.0", "environment": "production",
                                                       "migration": last_migration("v1.1.0")})
    assert app_v110.running and app_v110.release == "v1.1.0"


def test_api_needs_a_token_from_login(app_v110):
    assert call(app_v110, "/api/farmers")[0] == 401
    assert call(app_v110, "/api/farmers", token="forged")[0] == 401
    status, body = call(app_v110, "/api/auth/login", "POST", {"username": DEFAULT_DEMO_USER, "password": "wrong"})
    assert status == 401 and body["title"] == "Invalid username or password."
    assert call(app_v110, "/api/auth/login", "POST", {"username": "x"})[0] == 400
    token = login(app_v110)
    status, farmers = call(app_v110, "/api/farmers", token=token)
    assert status == 200
    assert farmers["count"] == len(farmers["items"]) > 0
    assert set(farmers["items"][0]) == {"id", "name", "village", "phoneNumber"}


def test_reads_and_creates(pg, dbname, app_v110):
    token = login(app_v110)
    status, orders = call(app_v110, "/api/orders?limit=3", token=token)
    assert status == 200 and orders["count"] == 3
    assert set(orders["items"][0]) == {"id", "farmerId", "amount", "createdAt"}  # v1.1.0 knows no Status
    status, created = call(app_v110, "/api/farmers", "POST", {"name": "New Farmer", "village": "Nyeri",
                                                              "phoneNumber": "+254711"}, token=token)
    assert status == 201
    assert created["name"] == "New Farmer" and created["phoneNumber"] == "+254711"
    assert call(app_v110, "/api/farmers/%d" % created["id"], token=token) == (200, created)
    rows = pg.execute(dbname, 'SELECT "Name", "PhoneNumber" FROM "Farmers" WHERE "Id" = %s', (created["id"],),
                      fetch=True)
    assert rows == [("New Farmer", "+254711")]
    assert call(app_v110, "/api/farmers", "POST", {"village": "x"}, token=token)[0] == 400
    assert call(app_v110, "/api/farmers/999999", token=token)[0] == 404


def test_newer_app_on_older_schema_is_unhealthy_and_errors(pg, dbname):
    build(pg, dbname, "v1.1.0")
    with AppProcess("v1.2.0", connection_string(pg, dbname)) as app:
        status, text = call(app, "/health")
        token = login(app)
        orders = call(app, "/api/orders", token=token)
        farmers = call(app, "/api/farmers", token=token)
    assert status == 503
    assert text == "Unhealthy: schema does not match release v1.2.0: column Orders.Status is missing"
    assert orders[0] == 500 and orders[1]["detail"] == 'column o.Status does not exist'  # aliased as EF Core does
    assert farmers[0] == 200  # Farmers did not change in v1.2.0
    assert history(pg, dbname) == migrations_upto("v1.1.0")  # RunMigrations=false: untouched


def test_older_app_on_older_database_than_it_expects_errors_on_farmers(pg, dbname):
    build(pg, dbname, "v1.0.0")
    with AppProcess("v1.1.0", connection_string(pg, dbname)) as app:
        farmers = call(app, "/api/farmers", token=login(app))
        health = call(app, "/health")
    assert farmers[0] == 500 and "PhoneNumber" in farmers[1]["detail"]
    assert health[0] == 503 and "Farmers.PhoneNumber is missing" in health[1]


def test_run_migrations_brings_the_database_to_its_release(pg, dbname):
    build(pg, dbname, "v1.1.0")
    reference = pg.create_database(dbname + "_ref")
    try:
        conn = pg.connect(reference)
        build_database(conn, release="v1.2.0", seed=False)
        expected = schema_snapshot(conn)
        conn.close()
        app = AppProcess("v1.2.0", connection_string(pg, dbname), run_migrations=True).start()
        try:
            assert call(app, "/health") == (200, "Healthy")
            assert call(app, "/health/version")[1]["migration"] == last_migration("v1.2.0")
        finally:
            app.stop()
        log = app.log()
        conn = pg.connect(dbname)
        try:
            assert applied_migrations(conn) == migrations_upto("v1.2.0")
            assert schema_snapshot(conn) == expected
        finally:
            conn.close()
        assert '"migrations applied"' in log and "20260310140000_WidenOrderAmount" in log
        # started again: nothing pending, nothing applied
        again = AppProcess("v1.2.0", connection_string(pg, dbname), run_migrations=True).start()
        again.stop()
        assert '"migrations": []' in again.log()
    finally:
        pg.drop_database(reference)


def test_run_migrations_on_an_empty_database(pg, dbname):
    with AppProcess("v1.0.0", connection_string(pg, dbname), run_migrations=True) as app:
        assert call(app, "/health") == (200, "Healthy")
    assert history(pg, dbname) == migrations_upto("v1.0.0")


def test_stops_gracefully_on_sigterm_with_json_logs(app_v110):
    call(app_v110, "/health")
    proc = app_v110._proc
    app_v110.stop()
    assert proc.returncode == 0
    assert not app_v110.running
    lines = [json.loads(line) for line in app_v110.log().splitlines() if line.strip()]
    assert [entry["message"] for entry in lines][-2:] == ["stopping", "stopped"]
    assert {"method": "GET", "path": "/health", "status": 200}.items() <= lines[1].items()


def test_unreachable_database_is_unhealthy_without_leaking_the_password(pg, dbname):
    wrong = "wrong-password-4f1c"
    with AppProcess("v1.1.0", connection_string(pg, dbname, password=wrong)) as app:
        status, text = call(app, "/health")
        version = call(app, "/health/version")
    assert status == 503 and text.startswith("Unhealthy: database unreachable:")
    assert "password authentication failed" in text
    assert version == (200, {"version": "1.1.0", "environment": "staging", "migration": None})
    assert wrong not in text and wrong not in app.log()


def test_migrations_that_cannot_run_stop_the_start_with_the_log(pg, dbname):
    app = AppProcess("v1.1.0", connection_string(pg, dbname, password="wrong-password-77aa"), run_migrations=True)
    with pytest.raises(RuntimeError) as err:
        app.start(timeout=20)
    assert "migrations failed" in str(err.value)
    assert "wrong-password-77aa" not in str(err.value)
    assert not app.running


def test_bad_configuration_is_refused(pg):
    with pytest.raises(RuntimeError, match="unknown release v9.9.9"):
        AppProcess("v9.9.9", "Host=127.0.0.1").start(timeout=20)
    with pytest.raises(RuntimeError, match="unknown keyword 'Colour'"):
        AppProcess("v1.0.0", "Host=127.0.0.1;Colour=blue;Password=hidden-pw-1").start(timeout=20)
