"""Coolify client pure logic: statuses, error messages, env checks, deployment choice (Retry-After and backoff are the
HTTP client's: test_http.py)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.web.coolify import (
    application_is_running, classify_deployment_status, deployment_convergence,
    deployment_log_lines, env_mismatches, explain_http_error, normalize_api_url,
    pick_deployment)


@pytest.mark.parametrize("status, expected", [
    ("queued", "pending"), ("in_progress", "pending"), ("finished", "success"), ("failed", "failure"),
    ("cancelled-by-user", "failure"), (" Finished ", "success"), ("", "unknown"), (None, "unknown"),
    ("running:healthy", "unknown"),
])
def test_deployment_statuses_are_classified_as_coolify_defines_them(status, expected):
    assert classify_deployment_status(status) == expected


@pytest.mark.parametrize("status, running", [
    ("running:healthy", True), ("running:unknown", True), ("running:unhealthy", True), ("Running", True),
    ("exited:unhealthy", False), ("restarting:unknown", False), ("degraded:unhealthy", False), (None, False),
])
def test_application_running_means_running_whatever_the_health(status, running):
    assert application_is_running(status) is running


@pytest.mark.parametrize("given, base", [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"), ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:8000/api/v1", "http://127.0.0.1:8000"), ("http://127.0.0.1:8000/api/v1/", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:8000/api", "http://127.0.0.1:8000"),
])
def test_api_url_accepts_the_instance_or_the_api_base(given, base):
    assert normalize_api_url(given) == base


@pytest.mark.parametrize("bad", ["", "127.0.0.1:8000", "ftp://127.0.0.1"])
def test_api_url_must_be_http(bad):
    with pytest.raises(ValueError, match="api_url"):
        normalize_api_url(bad)


def test_401_says_check_the_token():
    msg = explain_http_error(401, "GET", "/api/v1/version", "Unauthenticated.")
    assert "401 Unauthenticated." in msg and "api_token" in msg


def test_403_api_disabled_says_enable_the_api():
    msg = explain_http_error(403, "GET", "/api/v1/version", "API is disabled.")
    assert "disabled" in msg and "Settings" in msg


def test_403_missing_ability_names_the_ability():
    msg = explain_http_error(403, "POST", "/api/v1/deploy", "Missing required permissions: deploy", ability="deploy")
    assert "'deploy' ability" in msg and "Missing required permissions: deploy" in msg


def test_404_says_check_the_uuid():
    msg = explain_http_error(404, "GET", "/api/v1/applications/nope", "Application not found.")
    assert "application_uuid" in msg and "/api/v1/applications/nope" in msg


def test_422_lists_the_field_errors():
    msg = explain_http_error(422, "PATCH", "/api/v1/applications/x", "Validation failed.",
                             errors={"docker_registry_image_tag": ["The field must be a string."]})
    assert "docker_registry_image_tag: The field must be a string." in msg


def test_5xx_points_at_coolify_logs():
    assert "coolify" in explain_http_error(502, "GET", "/api/v1/version", "Bad Gateway").lower()


def test_deployment_logs_are_lines_without_hidden_entries():
    logs = json.dumps([
        {"output": "Pulling almafrica/api:v1.1.0.", "type": "stdout", "hidden": False},
        {"output": "docker login secret stuff", "type": "stdout", "hidden": True},
        {"output": "New container is not healthy: HTTP 503\nschema mismatch", "type": "stderr", "hidden": False},
    ])
    assert deployment_log_lines(logs) == ["Pulling almafrica/api:v1.1.0.", "[stderr] New container is not healthy: "
                                          "HTTP 503", "[stderr] schema mismatch"]
    assert deployment_log_lines(None) == []
    assert deployment_log_lines("plain text\nlog") == ["plain text", "log"]
    many = json.dumps([{"output": str(i)} for i in range(100)])
    assert deployment_log_lines(many, limit=3) == ["97", "98", "99"]


def _env(key, value=None, preview=False, hidden=False):
    env = {"key": key, "is_preview": preview}
    if not hidden:
        env["value"] = value
        env["real_value"] = value
    return env


def test_env_check_passes_when_values_match_and_ignores_preview_envs():
    envs = [_env("RunMigrations", "false"), _env("RunMigrations", "true", preview=True)]
    assert env_mismatches(envs, {"RunMigrations": False}) == ([], [])
    assert env_mismatches(envs, {"RunMigrations": "false"}) == ([], [])


def test_env_check_reports_missing_and_different_values_hiding_secrets():
    envs = [_env("RunMigrations", "true"), _env("ConnectionStrings__DefaultConnection", "Host=db;Password=hunter2")]
    problems, hidden = env_mismatches(envs, {"RunMigrations": "false", "ASPNETCORE_ENVIRONMENT": "Production",
                                             "ConnectionStrings__DefaultConnection": "Host=other"})
    assert hidden == []
    assert "RunMigrations is 'true' (expected 'false')" in problems
    assert "ASPNETCORE_ENVIRONMENT is not set (expected 'Production')" in problems
    assert "ConnectionStrings__DefaultConnection differs from the expected value" in problems
    assert "hunter2" not in " ".join(problems)


def test_env_check_hides_run_together_secret_names():
    envs = [_env(k, "s3cr3t-prod") for k in ("DBPASS", "JWTKEY", "GITHUBTOKEN", "SESSION_TOKEN")]
    problems, hidden = env_mismatches(envs, {"DBPASS": "x", "JWTKEY": "x", "GITHUBTOKEN": "x", "SESSION_TOKEN": "x"})
    assert len(problems) == 4 and hidden == [] and "s3cr3t-prod" not in " ".join(problems)


def test_env_check_hides_values_that_hold_credentials_whatever_the_name():
    envs = [_env("DATABASE_URL", "postgres://app:hunter22@db:5432/app"), _env("APP_DB", "Host=db;Password=hunter22"),
            _env("ASPNETCORE_URLS", "http://+:8080")]
    problems, _ignored = env_mismatches(envs, {"DATABASE_URL": "postgres://app@db/app", "APP_DB": "Host=db",
                                        "ASPNETCORE_URLS": "http://+:80"})
    assert "hunter22" not in " ".join(problems)
    assert "DATABASE_URL differs from the expected value" in problems
    assert "APP_DB differs from the expected value" in problems
    assert "ASPNETCORE_URLS is 'http://+:8080' (expected 'http://+:80')" in problems


def test_env_check_names_values_coolify_hid():
    problems, hidden = env_mismatches([_env("RunMigrations", hidden=True)], {"RunMigrations": "false"})
    assert hidden == ["RunMigrations"] and problems == []


def _dep(uuid, status, tag="v1.1.0"):
    return {"deployment_uuid": uuid, "status": status, "docker_registry_image_tag": tag}


def test_pick_deployment_prefers_the_pending_one_of_the_tag():
    deps = [_dep("new-other", "queued", "v1.2.0"), _dep("b", "finished"), _dep("a", "in_progress")]
    assert pick_deployment(deps, "v1.1.0")["deployment_uuid"] == "a"
    assert pick_deployment([_dep("b", "finished"), _dep("a", "failed")], "v1.1.0")["deployment_uuid"] == "b"
    assert pick_deployment([_dep("x", "queued", "v1.2.0")], "v1.1.0") is None
    assert pick_deployment([_dep("untagged", "queued", None)], "v1.1.0")["deployment_uuid"] == "untagged"


@pytest.mark.parametrize("latest, expected", [
    (None, "converged"), (_dep("a", "finished"), "converged"), (_dep("a", "finished", None), "converged"),
    (_dep("a", "failed"), "stale"), (_dep("a", "cancelled-by-user"), "stale"),
    (_dep("a", "finished", "v1.2.0"), "stale"), (_dep("a", "queued"), "pending"), (_dep("a", "in_progress"), "pending"),
])
def test_convergence_judged_from_the_newest_deployment(latest, expected):
    assert deployment_convergence(latest, "v1.1.0") == expected
