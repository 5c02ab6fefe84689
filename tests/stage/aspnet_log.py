"""ASP.NET Core console logging for the staging application: what ``docker logs`` shows of a real Almafrica API.

ASP.NET Core's console logger writes with the formatter named by ``Logging__Console__FormatterName``: ``simple``
(the default of a container) writes an entry as ``<level>: <category>[<event id>]`` followed by the message and the
exception indented by six spaces; ``json`` writes one JSON object per line (the staging app's historic
``{"time", "level", "message", ...}`` lines). Levels: ``trce dbug info warn fail crit``.

    info: Microsoft.Hosting.Lifetime[14]
          Now listening on: http://127.0.0.1:8080
    fail: Microsoft.EntityFrameworkCore.Database.Command[20102]
          Failed executing DbCommand (3ms) [Parameters=[], CommandType='Text', CommandTimeout='30']
          SELECT f."Id", f."Name", f."Village", f."PhoneNumber" FROM "Farmers" AS f ORDER BY "Id"

The EF Core / Npgsql texts (event ids, ``Npgsql.PostgresException (0x80004005): 42703: ...``) are the ones those
libraries write, so that log checks are tried against what production shows.
"""
from __future__ import annotations

import os
import re
import sys

FORMATTER_ENV = "Logging__Console__FormatterName"
LEVELS = {"trace": "trce", "debug": "dbug", "info": "info", "warning": "warn", "error": "fail", "critical": "crit"}
INDENT = "      "
DB_CONTEXT = "Almafrica.Api.Data.AlmafricaDbContext"
NPGSQL_STACK = ("   at Npgsql.Internal.NpgsqlConnector.ReadMessageLong(Boolean async, DataRowLoadingMode dataRowLoadingMode, "
                "Boolean readingNotifications, Boolean isReadingPrependedMessage)",
                "   at Npgsql.NpgsqlDataReader.NextResult(Boolean async, Boolean isConsuming, CancellationToken "
                "cancellationToken)")


def simple_console():
    return os.environ.get(FORMATTER_ENV, "json").strip().lower() == "simple"


def format_entry(level, category, event_id, message, exception=None):
    """One entry as the simple console formatter writes it (multi-line)."""
    lines = ["%s: %s[%d]" % (LEVELS[level], category, event_id)]
    for part in (message, exception):
        if part:
            lines.extend(INDENT + line if line else INDENT for line in str(part).splitlines())
    return "\n".join(lines) + "\n"


def write_entry(level, category, event_id, message, exception=None, stream=None):
    stream = stream or sys.stdout
    stream.write(format_entry(level, category, event_id, message, exception))
    stream.flush()


def npgsql_exception_text(exc):
    """``Npgsql.PostgresException (0x80004005): 42703: column f.PhoneNumber does not exist`` for a psycopg2 error
    (an SQLSTATE-less failure is an ``NpgsqlException``), with the first lines of Npgsql's stack."""
    code = getattr(exc, "pgcode", None)
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = (primary or str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    if code:
        head = "Npgsql.PostgresException (0x80004005): %s: %s" % (code, text)
        tail = ["", "  Exception data:", "    Severity: ERROR", "    SqlState: %s" % code,
                "    MessageText: %s" % text]
    else:
        head = "Npgsql.NpgsqlException (0x80004005): %s" % text
        tail = []
    return "\n".join([head] + list(NPGSQL_STACK) + tail)


def ef_sql(sql):
    """The SQL as EF logs it: parameters ``@__p_0``..."""
    counter = iter(range(1000))
    return re.sub(r"%s", lambda m: "@__p_%d" % next(counter), sql)


def lifetime_started(url, environment):
    write_entry("info", "Microsoft.Hosting.Lifetime", 14, "Now listening on: %s" % url)
    write_entry("info", "Microsoft.Hosting.Lifetime", 0, "Application started. Press Ctrl+C to shut down.")
    write_entry("info", "Microsoft.Hosting.Lifetime", 0, "Hosting environment: %s" % environment.capitalize())
    write_entry("info", "Microsoft.Hosting.Lifetime", 0, "Content root path: /app")


def simple_event(message, level, fields):
    """The staging app's JSON events, as ASP.NET Core would log them with the simple formatter."""
    if message == "listening":
        lifetime_started(fields.get("url", ""), str(fields.get("environment", "")))
    elif message == "request":
        return  # Microsoft.AspNetCore logs requests at Information: hidden by the usual "Warning" level
    elif message == "stopping":
        write_entry("info", "Microsoft.Hosting.Lifetime", 0, "Application is shutting down...")
    elif message == "stopped":
        return
    elif message == "migrations applied":
        applied = fields.get("migrations") or []
        for migration in applied:
            write_entry("info", "Microsoft.EntityFrameworkCore.Migrations", 20402, "Applying migration '%s'." % migration)
        if not applied:
            write_entry("info", "Microsoft.EntityFrameworkCore.Migrations", 20405,
                        "No migrations were applied. The database is already up to date.")
    elif message.startswith("migrations failed"):
        write_entry("critical", "Microsoft.Extensions.Hosting.Internal.Host", 11, "Hosting failed to start",
                    message[len("migrations failed: "):] or None)
    else:
        write_entry("error" if level == "error" else "info", "Almafrica.Api.Program", 0, message)
