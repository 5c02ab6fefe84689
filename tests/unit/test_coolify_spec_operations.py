"""The spec checks the staging Coolify's start/stop/logs/rollback-images exchanges as published (v4.3.11)."""
from __future__ import annotations

import json

import pytest

from stage.coolify_spec import CoolifySpec

AUTH = {"Authorization": "Bearer t"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def spec():
    return CoolifySpec()


def check(spec, method, path, status, payload, query=""):
    return spec.check(method, path, query, AUTH, b"", status, JSON, json.dumps(payload).encode())


def test_stop_takes_a_boolean_docker_cleanup(spec):
    ok = {"message": "Application stopping request queued."}
    assert check(spec, "POST", "/api/v1/applications/a/stop", 200, ok, "docker_cleanup=false") == []
    assert check(spec, "POST", "/api/v1/applications/a/stop", 200, ok) == []
    assert check(spec, "POST", "/api/v1/applications/a/stop", 200, ok, "docker_cleanup=maybe") != []
    assert check(spec, "GET", "/api/v1/applications/a/stop", 200, ok) != []  # documented as POST only


def test_start_answers_message_and_deployment_uuid(spec):
    ok = {"message": "Deployment request queued.", "deployment_uuid": "d"}
    assert check(spec, "POST", "/api/v1/applications/a/start", 200, ok) == []
    assert check(spec, "POST", "/api/v1/applications/a/start", 200, {"deployment_uuid": 7}) != []


def test_logs_shape_and_not_running(spec):
    assert check(spec, "GET", "/api/v1/applications/a/logs", 200, {"logs": "info: x"}, "lines=100") == []
    assert check(spec, "GET", "/api/v1/applications/a/logs", 200, {"logs": ["info: x"]}, "lines=100") != []
    assert check(spec, "GET", "/api/v1/applications/a/logs", 400, {"message": "Application is not running."}) == []
    assert check(spec, "GET", "/api/v1/applications/a/logs", 200, {"logs": ""}, "lines=many") != []


def test_rollback_images_shape(spec):
    ok = {"current": "v1.2.0", "images": [{"tag": "v1.2.0", "created_at": "2026-01-03T10:00:00.000000Z",
                                           "is_current": True}]}
    assert check(spec, "GET", "/api/v1/applications/a/rollback-images", 200, ok) == []
    assert check(spec, "GET", "/api/v1/applications/a/rollback-images", 200, {"current": None, "images": []}) == []
    bad = {"current": "v1", "images": [{"tag": "v1", "is_current": "yes"}]}
    assert check(spec, "GET", "/api/v1/applications/a/rollback-images", 200, bad) != []
