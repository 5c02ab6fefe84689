"""Check HTTP exchanges against Coolify's own OpenAPI spec (tests/stage/coolify_openapi/openapi.json, v4.3.11).

The staging Coolify (``stage.coolify``) runs every request it receives and every response it sends through
``CoolifySpec.check()``; a non-empty answer is a spec violation and fails the test that caused it.

The spec is generated from PHP attributes and differs from what Coolify really does in a few places. Those
differences are corrected here, each one named in ``ERRATA`` with the Coolify source that shows the real
behaviour; everything else is checked exactly as published.
"""
from __future__ import annotations

import copy
import json
import os

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def default_spec_path():
    """$COOLIFY_OPENAPI, else the copy of Coolify's published spec in tests/stage/coolify_openapi (see its SOURCE.md)."""
    env = os.environ.get("COOLIFY_OPENAPI")
    if env:
        return env
    return os.path.join(HERE, "coolify_openapi", "openapi.json")


ERRATA = {
    "build_pack dockerimage": "components.schemas.Application.build_pack lists no 'dockerimage', yet "
                              "POST /applications/dockerimage creates applications with build_pack 'dockerimage' "
                              "(app/Enums/BuildPackTypes.php).",
    "application deployments shape": "GET /deployments/applications/{uuid} is documented as an array of Application; "
                                     "Coolify answers {count, deployments: [ApplicationDeploymentQueue]} "
                                     "(Application::deployments()).",
    "GET /deploy": "routes/api.php routes /deploy with Route::match(['get', 'post']): GET takes the same query "
                   "parameters as the documented POST.",
    "/api/health": "routes/api.php serves the health check at /api/health as well as /api/v1/health.",
    "middleware statuses": "auth/ApiAllowed/ApiAbility middleware answer 403 {message}, the throttle answers 429 "
                           "with Retry-After, and controllers answer 404/422 where the spec lists neither "
                           "(app/Http/Middleware/ApiAllowed.php, ApiAbility.php, DeployController::by_uuids).",
}

# The operations the staging Coolify serves: (path template, method).
SERVED = [
    ("/health", "get"),
    ("/version", "get"),
    ("/applications/{uuid}", "get"),
    ("/applications/{uuid}", "patch"),
    ("/applications/{uuid}/envs", "get"),
    ("/deploy", "post"),
    ("/deploy", "get"),
    ("/deployments/{uuid}", "get"),
    ("/deployments/applications/{uuid}", "get"),
    ("/applications/{uuid}/stop", "post"),
    ("/applications/{uuid}/start", "post"),
]


def _message_response(description, extra=None):
    props = {"message": {"type": "string"}}
    props.update(extra or {})
    return {"description": description,
            "content": {"application/json": {"schema": {"type": "object", "properties": props,
                                                        "required": ["message"]}}}}


def apply_errata(spec):
    """Return a corrected copy of the spec dict (see ERRATA)."""
    spec = copy.deepcopy(spec)
    spec["servers"] = [{"url": "/api/v1"}]
    schemas = spec["components"]["schemas"]
    schemas["Application"]["properties"]["build_pack"]["enum"].append("dockerimage")
    paths = spec["paths"]
    paths["/deployments/applications/{uuid}"]["get"]["responses"]["200"] = {
        "description": "Deployments of the application, newest first.",
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["count", "deployments"],
            "properties": {"count": {"type": "integer"},
                           "deployments": {"type": "array",
                                           "items": {"$ref": "#/components/schemas/ApplicationDeploymentQueue"}}},
        }}},
    }
    get_deploy = copy.deepcopy(paths["/deploy"]["post"])
    get_deploy["operationId"] = "deploy-by-tag-or-uuid-get"
    paths["/deploy"]["get"] = get_deploy
    for path, method in SERVED:
        responses = paths[path][method]["responses"]
        responses.setdefault("403", _message_response("Missing ability or API disabled.",
                                                      {"success": {"type": "boolean"}}))
        responses.setdefault("404", _message_response("Not found."))
        responses.setdefault("422", {"$ref": "#/components/responses/422"})
        responses.setdefault("429", {"$ref": "#/components/responses/429"})
        responses.setdefault("405", _message_response("Method not allowed (Coolify before 4.2: GET /deploy only)."))
        responses.setdefault("500", _message_response("Server error."))
    return spec


class CoolifySpec:
    """Validates one exchange at a time; thread safe (openapi-core keeps no per-request state)."""

    def __init__(self, path=None):
        self.path = path or default_spec_path()
        with open(self.path, encoding="utf-8") as fh:
            raw = json.load(fh)
        self.version = raw.get("info", {}).get("version")
        patch = raw["paths"]["/applications/{uuid}"]["patch"]["requestBody"]["content"]["application/json"]
        self.patchable_application_fields = frozenset(patch["schema"]["properties"])
        self.openapi = OpenAPI.from_dict(apply_errata(raw), config=Config(spec_validator_cls=None))

    @staticmethod
    def _request(method, path, query, headers, body):
        if path == "/api/health":
            path = "/api/v1/health"
        builder = EnvironBuilder(method=method, path=path, query_string=query, base_url="http://127.0.0.1",
                                 headers=headers, data=body or None)
        return WerkzeugOpenAPIRequest(builder.get_request())

    def check(self, method, path, query, headers, body, status, response_headers, response_body):
        """Violations (strings) of one request and its response; empty when both follow the spec."""
        violations = []
        request = self._request(method, path, query, headers, body)
        where = "%s %s%s" % (method, path, "?" + query if query else "")
        try:
            self.openapi.validate_request(request)
        except Exception as exc:  # openapi-core raises one of many classes: record them all
            violations.append("request %s: %s: %s" % (where, type(exc).__name__, _detail(exc)))
            return violations
        response = WerkzeugOpenAPIResponse(Response(response_body, status=status, headers=response_headers))
        try:
            self.openapi.validate_response(request, response)
        except Exception as exc:
            violations.append("response %d to %s: %s: %s" % (status, where, type(exc).__name__, _detail(exc)))
        return violations


def _detail(exc):
    parts = [str(exc)]
    cause = exc.__cause__
    if cause is not None:
        parts.append(str(cause))
        errors = getattr(cause, "schema_errors", None)
        if errors:
            parts.extend(e.message for e in errors)
    return "; ".join(parts)[:2000]
