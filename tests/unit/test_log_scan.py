"""app_logs' scan: the default patterns find what ASP.NET Core / EF Core / Npgsql write on a schema mismatch, and
nothing in a clean start; a match names its line and keeps its entry; secrets are redacted."""
from __future__ import annotations

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.web.logs import (
    DEFAULT_ERROR_PATTERNS, PatternError, compile_patterns, scan_log, split_lines, summarize_matches)

CLEAN = """info: Microsoft.Hosting.Lifetime[14]
      Now listening on: http://[::]:8080
info: Microsoft.Hosting.Lifetime[0]
      Application started. Press Ctrl+C to shut down.
info: Microsoft.Hosting.Lifetime[0]
      Hosting environment: Production
warn: Microsoft.AspNetCore.DataProtection.Repositories.FileSystemXmlRepository[60]
      Storing keys in a directory '/root/.aspnet/DataProtection-Keys' that may not be persisted outside of the container.
"""

EF_ERROR = CLEAN + """fail: Microsoft.EntityFrameworkCore.Database.Command[20102]
      Failed executing DbCommand (3ms) [Parameters=[], CommandType='Text', CommandTimeout='30']
      SELECT f."Id", f."Name", f."Village", f."PhoneNumber" FROM "Farmers" AS f
fail: Microsoft.EntityFrameworkCore.Query[10100]
      An exception occurred while iterating over the results of a query for context type 'AppDbContext'.
      Npgsql.PostgresException (0x80004005): 42703: column f.PhoneNumber does not exist
         at Npgsql.Internal.NpgsqlConnector.ReadMessageLong(Boolean async)
"""

DEFAULTS = compile_patterns(DEFAULT_ERROR_PATTERNS)


def test_a_clean_start_matches_nothing():
    scan = scan_log(CLEAN, DEFAULTS)
    assert scan == {"lines_read": 8, "matches": [], "match_count": 0}


def test_an_ef_schema_error_is_found_with_its_line_and_entry():
    scan = scan_log(EF_ERROR, DEFAULTS)
    lines = [m["line"] for m in scan["matches"]]
    assert lines == [9, 12, 14]  # the two fail: headers and the Npgsql exception line
    first = scan["matches"][0]
    assert first["text"] == "fail: Microsoft.EntityFrameworkCore.Database.Command[20102]"
    assert first["entry"].splitlines()[1].startswith("Failed executing DbCommand (3ms)")
    npgsql = scan["matches"][2]
    assert npgsql["pattern"] == r"Npgsql\.PostgresException"
    assert npgsql["entry"].splitlines()[0] == "fail: Microsoft.EntityFrameworkCore.Query[10100]"
    assert "42703: column f.PhoneNumber does not exist" in npgsql["entry"]
    message = summarize_matches(scan["matches"], scan["match_count"], scan["lines_read"], "app")
    assert message.startswith("3 of the 15 log lines read from app match error patterns; line 9: fail: ")
    assert "line 12: fail: Microsoft.EntityFrameworkCore.Query[10100] | An exception occurred" in message


@pytest.mark.parametrize("line", [
    "crit: Microsoft.AspNetCore.Hosting.Diagnostics[6]",
    "Unhandled exception. System.InvalidOperationException: boom",
    "      Npgsql.PostgresException (0x80004005): 42P01: relation \"Payments\" does not exist",
    "ERROR: 42703: column \"Status\" does not exist",
    '{"EventId":20102,"LogLevel":"Error","Category":"Microsoft.EntityFrameworkCore.Database.Command"}',
    '{"time": "2026-01-01T00:00:00Z", "level": "error", "message": "migrations failed"}',
])
def test_default_patterns_catch(line):
    assert scan_log(line, DEFAULTS)["match_count"] == 1


@pytest.mark.parametrize("line", [
    "info: Microsoft.EntityFrameworkCore.Migrations[20405]",
    "warn: Microsoft.AspNetCore.HttpsPolicy.HttpsRedirectionMiddleware[3]",
    '{"time": "2026-01-01T00:00:00Z", "level": "info", "message": "request", "status": 200}',
])
def test_default_patterns_leave_alone(line):
    assert scan_log(line, DEFAULTS)["match_count"] == 0


def test_a_sqlstate_number_in_data_matches_until_ignored():
    # The SQLSTATE patterns are bare numbers: data that contains one matches; ignore_patterns is the way out.
    line = "info: X[0]\n      Executed DbCommand (2ms) [Parameters=[@__p_0='42703'], CommandType='Text']"
    assert scan_log(line, DEFAULTS)["match_count"] == 1
    assert scan_log(line, DEFAULTS, ignore=compile_patterns([r"Executed DbCommand"]))["match_count"] == 0


def test_ignore_patterns_skip_known_noise_and_max_matches_caps_the_list():
    text = "fail: A[1]\nfail: B[2]\nfail: C[3]\n"
    scan = scan_log(text, DEFAULTS, ignore=compile_patterns([r"^fail: B\["]), max_matches=1)
    assert scan["match_count"] == 2 and [m["line"] for m in scan["matches"]] == [1]


def test_secrets_in_matching_lines_are_redacted_in_every_form():
    secret = 'p@ss"w0rd'
    text = 'fail: Npgsql[0]\n      Host=db;Password="p@ss""w0rd";Username=app failed\nfail: X[1] p%40ss%22w0rd\n'
    scan = scan_log(text, DEFAULTS, secrets=[secret])
    dumped = repr(scan)
    assert "w0rd" not in dumped
    assert "********" in scan["matches"][0]["entry"] and "********" in scan["matches"][1]["text"]


def test_bad_patterns_are_named_and_line_ends_are_tolerated():
    with pytest.raises(PatternError, match=r"error_patterns: '\(' is not a valid regular expression"):
        compile_patterns(["("])
    assert split_lines("a\r\nb\n") == ["a", "b"]
    assert split_lines("") == []


def test_a_burst_of_one_error_does_not_hide_another():
    burst = "".join("fail: HealthChecks[103]\n      Health check database Unhealthy after %d.5ms\n" % i for i in range(30))
    text = burst + EF_ERROR
    scan = scan_log(text, DEFAULTS, max_matches=5)
    assert scan["match_count"] == 33
    kept = [m["text"] for m in scan["matches"]]
    assert kept[0] == "fail: HealthChecks[103]" and len(kept) == 5
    assert "fail: Microsoft.EntityFrameworkCore.Database.Command[20102]" in kept
    assert [m["line"] for m in scan["matches"]] == sorted(m["line"] for m in scan["matches"])
    message = summarize_matches(scan["matches"], scan["match_count"], scan["lines_read"], "app")
    assert message.count("HealthChecks[103]") == 1 and "[20102]" in message and "[10100]" in message


def test_the_lines_of_the_first_entry_of_a_kind_are_kept_together_before_repeats():
    # The Npgsql line names the failing column: it belongs to the Query[10100] entry, after its header; a burst of
    # health-check failures must not push it out of the list while the header stays.
    burst = "".join("fail: HealthChecks[103]\n      Health check database Unhealthy after %d.5ms\n" % i for i in range(30))
    scan = scan_log(burst + EF_ERROR, DEFAULTS, max_matches=5)
    kept = [m["text"].strip() for m in scan["matches"]]
    assert scan["match_count"] == 33 and len(kept) == 5
    assert "Npgsql.PostgresException (0x80004005): 42703: column f.PhoneNumber does not exist" in kept
    assert kept[-3:] == ["fail: Microsoft.EntityFrameworkCore.Database.Command[20102]",
                         "fail: Microsoft.EntityFrameworkCore.Query[10100]",
                         "Npgsql.PostgresException (0x80004005): 42703: column f.PhoneNumber does not exist"]
