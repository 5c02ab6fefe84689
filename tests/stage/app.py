"""The Almafrica-like application of the staging kit: a small HTTP API that plays one release of Almafrica.

    python tests/stage/app.py --release v1.1.0 --port 8080 [--environment staging] [--host 127.0.0.1]

Configuration comes from the environment, as for the real ASP.NET Core application:

* ``ConnectionStrings__DefaultConnection``: an Npgsql connection string (``Host=..;Port=..;Database=..;...``).
* ``RunMigrations``: ``true`` applies the release's pending migrations on start, like EF ``Database.Migrate()``
  (one transaction holding ``LOCK TABLE "__EFMigrationsHistory" IN ACCESS EXCLUSIVE MODE``, as Npgsql 9 does).
* ``ALMAFRICA_DEMO_USER`` / ``ALMAFRICA_DEMO_PASSWORD``: the one user that may log in.

Endpoints:

    GET  /health            200 "Healthy" | 503 "Unhealthy: <reason>" (database reachable and the columns this
                            release reads exist with the expected types)
    GET  /health/version    {"version": "1.1.0", "environment": "staging", "migration": "<last MigrationId>"}
    POST /api/auth/login    {"username", "password"} -> {"token", "expiresIn"}
    GET  /api/farmers       {"count", "items"}; reads exactly the columns of its release (500 when they differ)
    GET  /api/farmers/{id}  one farmer (404 when unknown)
    POST /api/farmers       {"name", "village"[, "phoneNumber"]} -> 201 + the farmer
    GET  /api/orders        {"count", "items"} (``?limit=``, default 100); v1.2.0 reads ``Status``
    POST /api/orders        {"farmerId", "amount"[, "status"]} -> 201 + the order (the columns of its release)

Every ``/api`` endpoint but login needs ``Authorization: Bearer <token>``. Logs are JSON lines on stderr, or with
``Logging__Console__FormatterName=simple`` (what the staging Coolify's containers use) ASP.NET Core console entries
on stdout (``stage.aspnet_log``), EF Core / Npgsql errors included when the schema does not match the release.
``STAGE_FAULT_ERROR_RATE`` / ``STAGE_FAULT_LATENCY_MS`` inject 500s and latency (``stage.app_faults``).
SIGTERM stops the server gracefully. ``AppProcess`` runs the CLI as a subprocess (tests, the staging Coolify).
Stdlib + psycopg2 only.
"""
from __future__ import annotations

import argparse
import datetime
import decimal
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

if __package__ in (None, ""):  # python tests/stage/app.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stage import aspnet_log, fixtures  # noqa: E402
from stage.app_faults import AppFaults  # noqa: E402

RELEASES_KNOWN = tuple(fixtures.RELEASE_ORDER)
HISTORY_TABLE = fixtures.HISTORY_TABLE
CONNECTION_ENV = "ConnectionStrings__DefaultConnection"
DEFAULT_DEMO_USER = "demo"
DEFAULT_DEMO_PASSWORD = "almafrica-demo"
TOKEN_LIFETIME = 3600

# -- Npgsql connection strings ---------------------------------------------------------------------

# Npgsql keyword (lower case, spaces removed) -> psycopg2/libpq keyword.
_NPGSQL_KEYS = {
    "host": "host", "server": "host",
    "port": "port",
    "database": "dbname", "db": "dbname",
    "username": "user", "userid": "user", "user": "user",
    "password": "password", "pwd": "password",
    "sslmode": "sslmode",
    "timeout": "connect_timeout",
    "applicationname": "application_name",
    "rootcertificate": "sslrootcert",
    "searchpath": "search_path",
}
# Keywords that tune Npgsql's own client (pooling, logging): valid, nothing to pass to libpq.
_NPGSQL_CLIENT_ONLY = {"pooling", "minimumpoolsize", "maximumpoolsize", "minpoolsize", "maxpoolsize",
                       "connectionidlelifetime", "connectionlifetime", "includeerrordetail", "commandtimeout",
                       "keepalive", "trustservercertificate", "multiplexing", "enlist", "maxautoprepare",
                       "noresetonclose", "logparameters"}
_SSL_MODES = {"disable": "disable", "allow": "allow", "prefer": "prefer", "require": "require",
              "verifyca": "verify-ca", "verifyfull": "verify-full"}


def parse_npgsql_connection_string(text):
    """``Host=h;Port=5432;Database=d;Username=u;Password="p;w"`` -> ``{"host": "h", "port": 5432, ...}``
    (psycopg2 keywords). Values may be quoted with ``"`` or ``'`` (a doubled quote inside is one quote);
    keywords are case-insensitive and may contain spaces (``SSL Mode``). Unknown keywords raise ValueError,
    as Npgsql does; the message never contains a value.
    """
    params, i, n = {}, 0, len(text or "")
    text = text or ""
    while i < n:
        eq = text.find("=", i)
        semi = text.find(";", i)
        if eq < 0 or (0 <= semi < eq):
            piece = text[i:semi if semi >= 0 else n]
            if piece.strip():
                raise ValueError("connection string: %r is not keyword=value" % piece.strip()[:40])
            i = n if semi < 0 else semi + 1
            continue
        key = text[i:eq].strip()
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "\"'":
            quote, i, chunks = text[i], i + 1, []
            while True:
                j = text.find(quote, i)
                if j < 0:
                    raise ValueError("connection string: unterminated quoted value for %r" % key)
                chunks.append(text[i:j])
                if text.startswith(quote * 2, j):
                    chunks.append(quote)
                    i = j + 2
                    continue
                i = j + 1
                break
            value = "".join(chunks)
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] != ";":
                raise ValueError("connection string: unexpected text after the quoted value of %r" % key)
        else:
            semi = text.find(";", i)
            end = n if semi < 0 else semi
            value = text[i:end].strip()
            i = end
        i += 1  # the ';'
        norm = key.lower().replace(" ", "")
        if norm in _NPGSQL_CLIENT_ONLY:
            continue
        if norm not in _NPGSQL_KEYS:
            raise ValueError("connection string: unknown keyword %r" % key)
        target = _NPGSQL_KEYS[norm]
        if target == "port":
            if not value.isdigit():
                raise ValueError("connection string: Port must be a number")
            value = int(value)
        elif target == "sslmode":
            mode = value.lower().replace("-", "")
            if mode not in _SSL_MODES:
                raise ValueError("connection string: unknown SSL Mode %r" % value)
            value = _SSL_MODES[mode]
        params[target] = value
    return params


def psycopg2_params(connection_string):
    """Keyword arguments for ``psycopg2.connect`` (search_path becomes a libpq ``options`` setting)."""
    params = parse_npgsql_connection_string(connection_string)
    if not params.get("host"):
        raise ValueError("connection string: Host is required")
    search_path = params.pop("search_path", None)
    options = "-c lock_timeout=2000 -c statement_timeout=10000"
    if search_path:
        options += " -c search_path=%s" % search_path.replace(" ", "")
    params["options"] = options
    params.setdefault("connect_timeout", 5)
    params.setdefault("application_name", "almafrica-stage-app")
    return params


# -- what each release reads -----------------------------------------------------------------------

def release_index(release):
    if release not in RELEASES_KNOWN:
        raise ValueError("unknown release %r (known: %s)" % (release, ", ".join(RELEASES_KNOWN)))
    return RELEASES_KNOWN.index(release)


def farmer_columns(release):
    """The Farmers columns the release's entity maps (and so reads)."""
    cols = ["Id", "Name", "Village"]
    if release_index(release) >= RELEASES_KNOWN.index("v1.1.0"):
        cols.append("PhoneNumber")
    return cols


def order_columns(release):
    cols = ["Id", "FarmerId", "Amount", "CreatedAt"]
    if release_index(release) >= RELEASES_KNOWN.index("v1.2.0"):
        cols.append("Status")
    return cols


_COLUMN_TYPES = {
    ("Farmers", "Id"): "integer", ("Farmers", "Name"): "character varying",
    ("Farmers", "Village"): "character varying", ("Farmers", "PhoneNumber"): "character varying",
    ("Orders", "Id"): "integer", ("Orders", "FarmerId"): "integer", ("Orders", "Amount"): "numeric",
    ("Orders", "CreatedAt"): "timestamp with time zone", ("Orders", "Status"): "integer",
}


def expected_columns(release):
    """``{table: {column: information_schema data_type}}`` the release needs."""
    return {
        "Farmers": {c: _COLUMN_TYPES[("Farmers", c)] for c in farmer_columns(release)},
        "Orders": {c: _COLUMN_TYPES[("Orders", c)] for c in order_columns(release)},
    }


def schema_problems(actual, release):
    """What stops ``release`` working on a database whose columns are ``actual`` ({table: {column: type}}).

    Extra tables and columns are fine (an older application on a newer schema keeps working).
    """
    problems = []
    for table, columns in expected_columns(release).items():
        have = actual.get(table)
        if have is None:
            problems.append("table %s is missing" % table)
            continue
        for column, dtype in columns.items():
            if column not in have:
                problems.append("column %s.%s is missing" % (table, column))
            elif have[column] != dtype:
                problems.append("column %s.%s is %s, expected %s" % (table, column, have[column], dtype))
    return problems


# -- EF Migrate() ----------------------------------------------------------------------------------

_TX_CONTROL = re.compile(r"^\s*(START\s+TRANSACTION|BEGIN|COMMIT)\s*;?\s*$", re.I)
_HISTORY_INSERT = re.compile(r'INSERT\s+INTO\s+"__EFMigrationsHistory"\s*\([^)]*\)\s*VALUES\s*\(\s*\'([^\']+)\'',
                             re.I)


def migration_blocks(statements):
    """Split the statements of an EF forward script into ``[(MigrationId, [statements])]`` at the history
    INSERTs; transaction control statements are dropped (Migrate() runs its own transaction)."""
    blocks, current = [], []
    for stmt in statements:
        if _TX_CONTROL.match(stmt):
            continue
        current.append(stmt)
        found = _HISTORY_INSERT.search(stmt)
        if found:
            blocks.append((found.group(1), current))
            current = []
    if any(not s.upper().startswith("CREATE TABLE IF NOT EXISTS") for s in current):
        raise ValueError("statements after the last migration of the script: %s" % current[0][:80])
    return blocks


def migrate(conn, release):
    """Apply the pending migrations of ``release`` (ef8 fixture scripts) in one transaction under the history
    table lock. Returns the MigrationIds applied (oldest first)."""
    blocks = []
    for path in fixtures.forward_scripts("ef8", release):
        blocks += migration_blocks(fixtures.split_statements(fixtures.read_sql(path)))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('CREATE TABLE IF NOT EXISTS "%s" ("MigrationId" character varying(150) NOT NULL, '
                    '"ProductVersion" character varying(32) NOT NULL, '
                    'CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId"))' % HISTORY_TABLE)
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = '60s'")
            cur.execute('LOCK TABLE "%s" IN ACCESS EXCLUSIVE MODE' % HISTORY_TABLE)
            cur.execute('SELECT "MigrationId" FROM "%s"' % HISTORY_TABLE)
            applied = {r[0] for r in cur.fetchall()}
            pending = [(mid, stmts) for mid, stmts in blocks if mid not in applied]
            for _mid, stmts in pending:
                for stmt in stmts:
                    cur.execute(stmt)
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.autocommit = True
    return [mid for mid, _ignored in pending]


# -- the server ------------------------------------------------------------------------------------

def log_event(message, level="info", **fields):
    if aspnet_log.simple_console():
        aspnet_log.simple_event(message, level, fields)
        return
    entry = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
             "level": level, "message": message}
    entry.update(fields)
    sys.stderr.write(json.dumps(entry, default=str) + "\n")
    sys.stderr.flush()


def log_entry(level, category, event_id, message, exception=None):
    """One ASP.NET Core log entry (``level``: info, warning, error, critical) in the configured console format."""
    if aspnet_log.simple_console():
        aspnet_log.write_entry(level, category, event_id, message, exception)
    else:
        log_event(message, level, category=category, eventId=event_id, exception=exception)


def log_ef_failure(sql, exc, writing, elapsed_ms):
    """What EF Core and ASP.NET Core log when a command fails (Npgsql's exception text, SQLSTATE included)."""
    text = aspnet_log.npgsql_exception_text(exc)
    log_entry("error", "Microsoft.EntityFrameworkCore.Database.Command", 20102,
              "Failed executing DbCommand (%dms) [Parameters=[], CommandType='Text', CommandTimeout='30']\n%s"
              % (elapsed_ms, aspnet_log.ef_sql(sql)))
    if writing:
        log_entry("error", "Microsoft.EntityFrameworkCore.Update", 10000,
                  "An exception occurred in the database while saving changes for context type '%s'."
                  % aspnet_log.DB_CONTEXT, "Microsoft.EntityFrameworkCore.DbUpdateException: An error occurred while "
                  "saving the entity changes. See the inner exception for details.\n ---> " + text)
    else:
        log_entry("error", "Microsoft.EntityFrameworkCore.Query", 10100,
                  "An exception occurred while iterating over the results of a query for context type '%s'."
                  % aspnet_log.DB_CONTEXT, text)
    log_entry("error", "Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", 1,
              "An unhandled exception has occurred while executing the request.", text)


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _camel(name):
    return name[:1].lower() + name[1:]


class HttpError(Exception):
    def __init__(self, status, title, detail=None, headers=None):
        super().__init__(title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}


class Almafrica:
    """The application state: release, configuration, issued tokens."""

    def __init__(self, release, environment, connection_string, demo_user, demo_password):
        release_index(release)
        self.release = release
        self.version = release.lstrip("v")
        self.environment = environment
        self.connection_string = connection_string
        self.demo_user, self.demo_password = demo_user, demo_password
        self.tokens = {}
        self.faults = None  # stage.app_faults.AppFaults when the environment sets fault switches
        self._lock = threading.Lock()

    def connect(self):
        import psycopg2

        conn = psycopg2.connect(**psycopg2_params(self.connection_string))
        conn.autocommit = True
        return conn

    def query(self, sql, params=None, one=False):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                if cur.description is None:
                    return None
                names = [_camel(d[0]) for d in cur.description]
                rows = [dict(zip(names, r)) for r in cur.fetchall()]
                return (rows[0] if rows else None) if one else rows
        finally:
            conn.close()

    # -- health ---------------------------------------------------------------------------
    def health(self):
        """(healthy, reason)."""
        try:
            rows = self.query("SELECT table_name AS t, column_name AS c, data_type AS d "
                              "FROM information_schema.columns WHERE table_schema = current_schema() "
                              "AND table_name IN ('Farmers', 'Orders')")
        except Exception as exc:  # psycopg2.Error or a bad connection string: report, don't crash
            return False, "database unreachable: %s" % str(exc).strip().splitlines()[0]
        actual = {}
        for row in rows:
            actual.setdefault(row["t"], {})[row["c"]] = row["d"]
        problems = schema_problems(actual, self.release)
        if problems:
            return False, "schema does not match release %s: %s" % (self.release, "; ".join(problems))
        return True, ""

    def last_migration(self):
        try:
            row = self.query('SELECT max("MigrationId") AS m FROM "%s"' % HISTORY_TABLE, one=True)
        except Exception:  # no database or no history table yet: the version endpoint still answers
            return None
        return row["m"] if row else None

    # -- auth -----------------------------------------------------------------------------
    def login(self, username, password):
        ok_user = secrets.compare_digest(str(username).encode(), self.demo_user.encode())
        ok_password = secrets.compare_digest(str(password).encode(), self.demo_password.encode())
        if not (ok_user and ok_password):
            raise HttpError(401, "Invalid username or password.")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = (username, time.monotonic() + TOKEN_LIFETIME)
        return {"token": token, "expiresIn": TOKEN_LIFETIME}

    def authenticate(self, header):
        scheme, _ignored, token = (header or "").partition(" ")
        with self._lock:
            entry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if entry is None or entry[1] < time.monotonic():
            raise HttpError(401, None, headers={"WWW-Authenticate": "Bearer"})
        return entry[0]

    # -- data -----------------------------------------------------------------------------
    def _select(self, table, columns):
        # aliased as EF Core writes it, so that errors read "column f.PhoneNumber does not exist"
        alias = table[0].lower()
        return 'SELECT %s FROM "%s" AS %s' % (", ".join('%s."%s"' % (alias, c) for c in columns), table, alias)

    def farmers(self, farmer_id=None):
        sql = self._select("Farmers", farmer_columns(self.release))
        if farmer_id is None:
            items = self._read(sql + ' ORDER BY "Id"', None, "farmers")
            return {"count": len(items), "items": items}
        farmer = self._read(sql + ' WHERE "Id" = %s', (farmer_id,), "farmer", one=True)
        if farmer is None:
            raise HttpError(404, "Farmer %s not found." % farmer_id)
        return farmer

    def orders(self, limit):
        sql = self._select("Orders", order_columns(self.release)) + ' ORDER BY "Id" LIMIT %s'
        items = self._read(sql, (limit,), "orders")
        return {"count": len(items), "items": items}

    def create_farmer(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            raise HttpError(400, "One or more validation errors occurred.", {"name": ["The Name field is required."]})
        columns = [c for c in farmer_columns(self.release) if c != "Id"]
        values = [body.get(_camel(c)) for c in columns]
        sql = 'INSERT INTO "Farmers" (%s, "CreatedAt") VALUES (%s, now()) RETURNING %s' % (
            ", ".join('"%s"' % c for c in columns), ", ".join(["%s"] * len(columns)),
            ", ".join('"%s"' % c for c in farmer_columns(self.release)))
        return self._read(sql, values, "farmer", one=True, verb="creating")

    def create_order(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("farmerId"), int) \
                or not isinstance(body.get("amount"), (int, float, str)):
            raise HttpError(400, "One or more validation errors occurred.",
                            {"farmerId": ["Required."], "amount": ["Required."]})
        columns = [c for c in order_columns(self.release) if c not in ("Id", "CreatedAt")]
        values = [body.get(_camel(c)) if c != "Status" else body.get("status", 0) for c in columns]
        sql = 'INSERT INTO "Orders" (%s, "CreatedAt") VALUES (%s, now()) RETURNING %s' % (
            ", ".join('"%s"' % c for c in columns), ", ".join(["%s"] * len(columns)),
            ", ".join('"%s"' % c for c in order_columns(self.release)))
        return self._read(sql, values, "order", one=True, verb="creating")

    def _read(self, sql, params, what, one=False, verb="reading"):
        started = time.monotonic()
        try:
            return self.query(sql, params, one=one)
        except Exception as exc:  # the database disagrees with this release: a 500 that says why
            log_ef_failure(sql, exc, verb != "reading", (time.monotonic() - started) * 1000)
            raise HttpError(500, "An error occurred while %s %s." % (verb, what),
                            str(exc).strip().splitlines()[0]) from exc


class Handler(BaseHTTPRequestHandler):
    app = None  # set on a subclass per server
    server_version = "Kestrel"
    sys_version = ""

    def log_message(self, fmt, *args):  # replaced by the JSON access log in _dispatch
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        started = time.monotonic()
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        try:
            self._inject_faults(path)
            status, headers, body = self._route(method, path, parse_qs(url.query))
        except HttpError as exc:
            status, headers = exc.status, dict(exc.headers)
            if exc.title is None:
                body = b""
            else:
                problem = {"title": exc.title, "status": exc.status}
                if isinstance(exc.detail, dict):
                    problem["errors"] = exc.detail
                elif exc.detail:
                    problem["detail"] = exc.detail
                body = json.dumps(problem).encode()
                headers["Content-Type"] = "application/problem+json"
        except Exception as exc:  # a bug in the stand-in must show up as a 500, not a hung request
            status, headers, body = 500, {"Content-Type": "text/plain"}, ("Internal error: %s" % exc).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # logged before the body goes out: a client that has its answer finds the request in the log (a client
        # that stops the application right after would otherwise race the handler thread's log line)
        log_event("request", method=method, path=url.path, status=status,
                  durationMs=round((time.monotonic() - started) * 1000, 1))
        if method != "HEAD":
            self.wfile.write(body)

    def _inject_faults(self, path):
        faults = self.app.faults
        if faults is None:
            return
        if faults.delay(path):
            time.sleep(faults.delay(path))
        if faults.should_fail(path):
            text = ("Npgsql.NpgsqlException (0x80004005): Exception while reading from stream\n"
                    " ---> System.TimeoutException: Timeout during reading attempt\n" + "\n".join(aspnet_log.NPGSQL_STACK))
            log_entry("error", "Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", 1,
                      "An unhandled exception has occurred while executing the request.", text)
            raise HttpError(500, "An error occurred while processing your request.")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except ValueError as exc:
            raise HttpError(400, "The request body is not valid JSON.", str(exc)) from exc

    @staticmethod
    def _json(status, data):
        return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(
            data, default=_json_default).encode()

    def _route(self, method, path, query):
        app = self.app
        if method == "GET" and path == "/health":
            started = time.monotonic()
            healthy, reason = app.health()
            if not healthy:
                log_entry("error", "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", 103,
                          "Health check database with status Unhealthy completed after %.4fms with message '%s'"
                          % ((time.monotonic() - started) * 1000, reason))
            text = "Healthy" if healthy else "Unhealthy: %s" % reason
            return 200 if healthy else 503, {"Content-Type": "text/plain"}, text.encode()
        if method == "GET" and path == "/health/version":
            return self._json(200, {"version": app.version, "environment": app.environment,
                                    "migration": app.last_migration()})
        if method == "POST" and path == "/api/auth/login":
            body = self._body()
            if not isinstance(body, dict) or "username" not in body or "password" not in body:
                raise HttpError(400, "One or more validation errors occurred.",
                                {"username": ["Required."], "password": ["Required."]})
            return self._json(200, app.login(body["username"], body["password"]))
        if path.startswith("/api/"):
            app.authenticate(self.headers.get("Authorization"))
            if path == "/api/farmers" and method == "GET":
                return self._json(200, app.farmers())
            if path == "/api/farmers" and method == "POST":
                return self._json(201, app.create_farmer(self._body()))
            found = re.match(r"^/api/farmers/(\d+)$", path)
            if found and method == "GET":
                return self._json(200, app.farmers(int(found.group(1))))
            if path == "/api/orders" and method == "POST":
                return self._json(201, app.create_order(self._body()))
            if path == "/api/orders" and method == "GET":
                limit = query.get("limit", ["100"])[0]
                if not limit.isdigit():
                    raise HttpError(400, "limit must be a non-negative integer.")
                return self._json(200, app.orders(int(limit)))
        raise HttpError(404, "Not found: %s %s" % (method, path))


def serve(app, host, port):
    handler = type("AlmafricaHandler", (Handler,), {"app": app})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True

    def on_sigterm(signum, _frame):
        log_event("stopping", signal=signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    log_event("listening", url="http://%s:%d" % (host, httpd.server_address[1]), release=app.release,
              environment=app.environment)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    log_event("stopped")


def main(argv=None):
    parser = argparse.ArgumentParser(description="The Almafrica-like application of the staging kit.")
    parser.add_argument("--release", required=True, help="one of %s" % ", ".join(RELEASES_KNOWN))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--environment", default="staging")
    parser.add_argument("--host", default="127.0.0.1")
    opts = parser.parse_args(argv)
    if opts.release not in RELEASES_KNOWN:
        log_event("unknown release %s (known: %s)" % (opts.release, ", ".join(RELEASES_KNOWN)), "error")
        return 2
    connection_string = os.environ.get(CONNECTION_ENV, "")
    try:
        psycopg2_params(connection_string)
    except ValueError as exc:
        log_event("bad %s: %s" % (CONNECTION_ENV, exc), "error")
        return 2
    app = Almafrica(opts.release, opts.environment, connection_string,
                    os.environ.get("ALMAFRICA_DEMO_USER", DEFAULT_DEMO_USER),
                    os.environ.get("ALMAFRICA_DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD))
    try:
        app.faults = AppFaults()
    except ValueError as exc:
        log_event("bad fault switch: %s" % exc, "error")
        return 2
    if os.environ.get("RunMigrations", "false").strip().lower() == "true":
        try:
            conn = app.connect()
            try:
                applied = migrate(conn, opts.release)
            finally:
                conn.close()
        except Exception as exc:  # like an ASP.NET app whose Migrate() throws: log and exit non-zero
            log_event("migrations failed: %s" % str(exc).strip(), "error")
            return 1
        log_event("migrations applied", migrations=applied)
    serve(app, opts.host, opts.port)
    return 0


# -- running it from tests -------------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class AppProcess:
    """The application as a subprocess; the connection string goes only into its environment.

    ``port`` is chosen at construction when not given, so ``url`` is known before ``start()``.
    """

    def __init__(self, release, connection_string, port=None, environment="staging", run_migrations=False,
                 extra_env=None, host="127.0.0.1"):
        self.release = release
        self.environment = environment
        self.host = host
        self.port = port or free_port(host)
        self._connection_string = connection_string
        self._run_migrations = bool(run_migrations)
        self._extra_env = dict(extra_env or {})
        self._proc = None
        self._log_path = None
        self._final_log = ""

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def log(self):
        if self._log_path is None:
            return self._final_log
        try:
            with open(self._log_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return self._final_log

    def start(self, wait=True, timeout=30):
        if self.running:
            raise RuntimeError("the application is already running at %s" % self.url)
        env = dict(os.environ)
        env.update({k: str(v) for k, v in self._extra_env.items()})
        env[CONNECTION_ENV] = self._connection_string
        env["RunMigrations"] = "true" if self._run_migrations else "false"
        fd, self._log_path = tempfile.mkstemp(prefix="almafrica-app-", suffix=".log")
        cmd = [sys.executable, os.path.abspath(__file__), "--release", self.release, "--port", str(self.port),
               "--environment", self.environment, "--host", self.host]
        with os.fdopen(fd, "wb") as log_fh:
            self._proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh)
        if wait:
            self.wait_answering(timeout)
        return self

    def wait_answering(self, timeout=30):
        """Wait until ``/health`` answers (any status); raise RuntimeError with the log when the process
        exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError("application %s exited with %s before answering:\n%s"
                                   % (self.release, self._proc.returncode if self._proc else None, self.log()))
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        log = self.log()
        self.stop()
        raise RuntimeError("application %s did not answer %s/health within %ss:\n%s"
                           % (self.release, self.url, timeout, log))

    def stop(self, timeout=10):
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_path is not None:
            self._final_log = self.log()
            try:
                os.unlink(self._log_path)
            except OSError:
                pass
            self._log_path = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "AppProcess(%s, %s, running=%s)" % (self.release, self.url, self.running)


if __name__ == "__main__":
    sys.exit(main())
