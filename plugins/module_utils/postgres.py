# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL connection options shared by every module of the collection.

The login options are declared once here (and documented once in the ``postgres`` doc fragment).
Modules ``argument_spec.update(postgres_common_argument_spec())``. Secrets reach external tools
only through the environment, never through argv.
"""
from __future__ import annotations

import re
import types

# The one import of psycopg2 for the collection: modules and module_utils take ``psycopg2`` from here.
try:
    import psycopg2
    import psycopg2.errors
    import psycopg2.extensions
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - depends on the host
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = _exc

    class _NeverRaised(Exception):
        """psycopg2 is missing: ``ensure_required_libs`` fails the module before any of its calls, and the
        ``except psycopg2.Error`` clauses that its exit passes through stay valid expressions."""

    psycopg2 = types.SimpleNamespace(Error=_NeverRaised, errors=types.SimpleNamespace(LockNotAvailable=_NeverRaised),
                                     extensions=None)

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact

APPLICATION_NAME = "almafrica.rollback"

SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


def postgres_common_argument_spec():
    """Login options, as documented in ``almafrica.rollback.postgres``."""
    return dict(
        login_host=dict(type="str", default="localhost", aliases=["host"]),
        login_port=dict(type="int", default=5432, aliases=["port"]),
        login_user=dict(type="str", default="postgres", aliases=["user"]),
        login_password=dict(type="str", default="", no_log=True, aliases=["password"]),
        login_db=dict(type="str", required=True, aliases=["db", "database"]),
        login_unix_socket=dict(type="str", default=""),
        ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES),
        ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
        connect_timeout=dict(type="int", default=10),
    )


def ensure_required_libs(module):
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2-binary"), exception=str(PSYCOPG2_IMPORT_ERROR))


def connection_params(params, dbname=None):
    """Keyword arguments for psycopg2.connect() from the module's login options."""
    kw = dict(
        host=params["login_unix_socket"] or params["login_host"],
        port=params["login_port"],
        user=params["login_user"],
        dbname=dbname or params["login_db"],
        sslmode=params["ssl_mode"],
        connect_timeout=params["connect_timeout"],
        application_name=APPLICATION_NAME,
    )
    if params.get("login_password"):
        kw["password"] = params["login_password"]
    if params.get("ca_cert"):
        kw["sslrootcert"] = params["ca_cert"]
    return kw


def describe_target(params, dbname=None):
    """``db@host:port`` for messages: never the password."""
    return "%s@%s:%s" % (dbname or params["login_db"], params["login_unix_socket"] or params["login_host"],
                         params["login_port"])


def connect(module, dbname=None, autocommit=False):
    """Open a connection or fail the module with what, where and why (never the password)."""
    ensure_required_libs(module)
    try:
        conn = psycopg2.connect(**connection_params(module.params, dbname))
    except psycopg2.Error as exc:
        reason = redact(str(exc).strip(), login_secrets(module.params))
        module.fail_json(msg="Cannot connect to PostgreSQL %s: %s" % (describe_target(module.params, dbname), reason))
    conn.autocommit = autocommit
    return conn


def login_secrets(params):
    """The secrets of the login options, for ``redact.redact`` of a text that may echo them (driver errors, tool
    stderr, executor output)."""
    return [params.get("login_password")]


def libpq_env(params, dbname=None):
    """Environment for libpq tools (pg_dump, pg_restore, psql): the password goes here, never on argv."""
    env = {
        "PGHOST": params["login_unix_socket"] or params["login_host"],
        "PGPORT": str(params["login_port"]),
        "PGUSER": params["login_user"],
        "PGDATABASE": dbname or params["login_db"],
        "PGSSLMODE": params["ssl_mode"],
        "PGCONNECT_TIMEOUT": str(params["connect_timeout"]),
        "PGAPPNAME": APPLICATION_NAME,
    }
    if params.get("login_password"):
        env["PGPASSWORD"] = params["login_password"]
    if params.get("ca_cert"):
        env["PGSSLROOTCERT"] = params["ca_cert"]
    return env


_NPGSQL_SSL = {"disable": "Disable", "allow": "Allow", "prefer": "Prefer", "require": "Require",
               "verify-ca": "VerifyCA", "verify-full": "VerifyFull"}


def _npgsql_value(value):
    value = str(value)
    if re.search(r'[;="\']|^\s|\s$', value):
        return '"%s"' % value.replace('"', '""')
    return value


def npgsql_connection_string(params, dbname=None):
    """An Npgsql connection string for EF tools (efbundle, dotnet ef), passed through the environment."""
    parts = [
        ("Host", params["login_unix_socket"] or params["login_host"]),
        ("Port", params["login_port"]),
        ("Database", dbname or params["login_db"]),
        ("Username", params["login_user"]),
    ]
    if params.get("login_password"):
        parts.append(("Password", params["login_password"]))
    parts.append(("SSL Mode", _NPGSQL_SSL[params["ssl_mode"]]))
    if params.get("ca_cert"):
        parts.append(("Root Certificate", params["ca_cert"]))
    parts.append(("Timeout", params["connect_timeout"]))
    parts.append(("Application Name", APPLICATION_NAME))
    return ";".join("%s=%s" % (k, _npgsql_value(v)) for k, v in parts)


def quote_ident(name):
    """Quote an identifier exactly as PostgreSQL does for any name."""
    return '"%s"' % name.replace('"', '""')


def qualified_name(schema, name):
    return "%s.%s" % (quote_ident(schema), quote_ident(name)) if schema else quote_ident(name)


def server_version(conn):
    """``15.18``-style version of the server."""
    num = conn.server_version
    major = num // 10000
    return "%d.%d" % (major, num % 100) if major >= 10 else "%d.%d.%d" % (major, num // 100 % 100, num % 100)
