"""The staging Coolify's spec checker catches what the real spec forbids, and only the named errata are relaxed."""
from __future__ import annotations

import json

import pytest

from stage.coolify_spec import CoolifySpec

AUTH = {"Authorization": "Bearer t"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def spec():
    return CoolifySpec()


def check(spec, method, path, status, payload, query="", body=b"", headers=None, response_headers=None):
    headers = AUTH if headers is None else headers
    response_headers = JSON if response_headers is None else response_headers
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return spec.check(method, path, query, headers, body, status, response_headers, raw)


def test_the_spec_is_coolifys():
    assert CoolifySpec().version == "0.1"  # what Coolify's generator writes in info.version


def test_a_valid_deploy_exchange_passes(spec):
    payload = {"deployments": [{"message": "Application a deployment queued.", "resource_uuid": "a",
                                "deployment_uuid": "d"}]}
    assert check(spec, "POST", "/api/v1/deploy", 200, payload, query="uuid=a&force=true") == []


def test_a_wrongly_shaped_response_is_a_violation(spec):
    problems = check(spec, "POST", "/api/v1/deploy", 200, {"deployments": "d"}, query="uuid=a")
    assert problems and "response 200" in problems[0]


def test_a_bad_query_parameter_is_a_violation(spec):
    problems = check(spec, "POST", "/api/v1/deploy", 200, {"deployments": []}, query="uuid=a&force=maybe")
    assert problems and problems[0].startswith("request POST /api/v1/deploy")


def test_an_undocumented_route_is_a_violation(spec):
    problems = check(spec, "POST", "/api/v1/applications/a/deploy", 200, {})
    assert problems and "request" in problems[0]


def test_a_wrongly_typed_patch_body_is_a_violation(spec):
    problems = check(spec, "PATCH", "/api/v1/applications/a", 200, {"uuid": "a"},
                     body=json.dumps({"docker_registry_image_tag": 110}).encode(),
                     headers=dict(AUTH, **JSON))
    assert problems and "is not of type 'string'" in problems[0]


def test_errata_dockerimage_build_pack_and_deployment_list_shape(spec):
    assert check(spec, "GET", "/api/v1/applications/a", 200, {"uuid": "a", "build_pack": "dockerimage"}) == []
    assert check(spec, "GET", "/api/v1/applications/a", 200, {"uuid": "a", "build_pack": "heroku"}) != []
    assert check(spec, "GET", "/api/v1/deployments/applications/a", 200, {"count": 0, "deployments": []}) == []
    assert check(spec, "GET", "/api/v1/deployments/applications/a", 200, [{"uuid": "a"}]) != []


def test_errata_middleware_statuses_keep_their_shapes(spec):
    assert check(spec, "GET", "/api/v1/version", 429, {"message": "Too Many Attempts."},
                 response_headers=dict(JSON, **{"Retry-After": "1"})) == []
    assert check(spec, "GET", "/api/v1/version", 403, {"success": True, "message": "API is disabled."}) == []
    assert check(spec, "GET", "/api/v1/version", 403, {"error": "nope"}) != []
    assert check(spec, "GET", "/api/v1/version", 418, {"message": "teapot"}) != []
