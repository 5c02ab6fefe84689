# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coolify v4 API client and the pure logic of deploying an image tag (documented in the ``coolify`` fragment).

Facts it relies on (Coolify 4.3.11, openapi.yaml + controllers):

* ``tag`` on ``/deploy`` is a resource label, not an image tag: to run image tag X, PATCH the application's
  ``docker_registry_image_tag`` then ``POST /deploy?uuid=`` (GET before 4.2: fall back on 405).
  ``force`` is read by PHP as a truthy string, so it is sent only when true.
* Deployment statuses: ``queued``/``in_progress`` pending, ``finished`` success, ``failed``/``cancelled-by-user``.
* "Deployment already queued" comes with a deployment_uuid that was never stored (404): find the real one in
  ``GET /deployments/applications/{uuid}`` (``{count, deployments}``, newest first).
* Errors: 401 ``Unauthenticated.``, 403 missing ability or API disabled, 404, 422 ``{message, errors}``,
  429 with ``Retry-After``. Requests go through ``module_utils.web.client`` (one retry policy, TLS with ``ca_path``,
  bodies capped at ``max_body_bytes``, redirects never followed so the token stays with ``api_url``): reads and
  field updates are retried after 5xx and connection errors, every call after a 429. ``POST /deploy`` is not
  idempotent: after a 5xx or a dropped connection the client looks for the deployment it may have queued (one
  absent from the application's list taken just before) and follows it; only when there is none does it ask once
  more.
"""
from __future__ import annotations

import json
import re
import time

from urllib.parse import urlencode

from ansible.module_utils.basic import env_fallback

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import holds_credentials, is_secret_key
from ansible_collections.almafrica.rollback.plugins.module_utils.web.client import (
    DEFAULT_MAX_BODY_BYTES, BodyTooLarge, HttpClient, HttpError, backoff_delay, decode_json)

PENDING_STATUSES = ("queued", "in_progress")
SUCCESS_STATUSES = ("finished",)
FAILURE_STATUSES = ("failed", "cancelled-by-user")
DEPLOY_LOOKBACK = 20  # deployments read before and after a deploy request to tell a new one
BACKOFF_CAP = 30.0  # deployments queue behind each other: Coolify's waits may be longer than other servers'


def coolify_argument_spec():
    """API options, as documented in ``almafrica.rollback.coolify``."""
    return dict(
        api_url=dict(type="str", required=True, fallback=(env_fallback, ["COOLIFY_API_URL"])),
        api_token=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["COOLIFY_API_TOKEN"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        request_timeout=dict(type="float", default=30.0),
        request_retries=dict(type="int", default=5),
        max_body_bytes=dict(type="int", default=DEFAULT_MAX_BODY_BYTES),
    )


def coolify_client_options(params):
    """The CoolifyClient keyword arguments of a module's ``coolify_argument_spec`` params."""
    return dict(validate_certs=params["validate_certs"], ca_path=params.get("ca_path"),
                request_timeout=params["request_timeout"], retries=params["request_retries"],
                max_body_bytes=params.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES))


class CoolifyError(Exception):
    """A failed API call; ``str()`` says what failed and what to check. Never holds the token."""

    def __init__(self, msg, status=None, message=None, body=None, uncertain=False):
        super(CoolifyError, self).__init__(msg)
        self.status = status
        self.message = message
        self.body = body
        # True when the request may have acted although it failed (a 5xx, or a connection dropped after sending)
        self.uncertain = uncertain
        # set by deploy() when it verified that no deployment was queued
        self.nothing_queued = False


# -- pure logic ---------------------------------------------------------------------------------
def normalize_api_url(url):
    """Base URL of the instance: ``https://host`` from ``https://host/``, ``https://host/api/v1`` or ``.../api``."""
    url = (url or "").strip().rstrip("/")
    for suffix in ("/api/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not re.match(r"^https?://[^/]+", url):
        raise ValueError("api_url must be an http(s) URL of the Coolify instance, e.g. http://127.0.0.1:8000; got %r"
                         % url)
    return url


def classify_deployment_status(status):
    """``pending``, ``success``, ``failure`` or ``unknown`` for a Coolify deployment status."""
    status = (status or "").strip().lower()
    if status in PENDING_STATUSES:
        return "pending"
    if status in SUCCESS_STATUSES:
        return "success"
    if status in FAILURE_STATUSES:
        return "failure"
    return "unknown"


def application_is_running(status):
    """True for ``running:<health>`` application statuses (``running:healthy``, ``running:unknown`` ...)."""
    return (status or "").split(":", 1)[0].strip().lower() == "running"


def explain_http_error(status, method, path, message, errors=None, ability=None):
    """A failure message that says what happened and what to check."""
    what = "%s %s" % (method, path)
    said = message or "no message"
    if status == 401:
        return ("Coolify rejected the API token on %s (401 %s): check api_token - it must be a current token of this "
                "Coolify instance (Keys & Tokens > API tokens), not revoked or expired." % (what, said))
    if status == 403:
        if "disabled" in said.lower():
            return ("The Coolify API is disabled on this instance (403 %s): enable it in Settings > Advanced "
                    "(API access), or ask an instance admin." % said)
        if "not allowed to access" in said.lower():
            return ("Coolify refuses API calls from this host (403 %s): add the runner's address to the allowed IPs "
                    "in Settings > Advanced." % said)
        need = ability or "the required"
        return ("The API token may not do %s (403 %s): create a token with the '%s' ability (or 'root'); "
                "a team member's token is limited to read." % (what, said, need))
    if status == 404:
        return ("Coolify found nothing at %s (404 %s): check application_uuid (the application's UUID, shown in its "
                "Coolify URL .../application/<uuid>) and that the token belongs to the team that owns it."
                % (what, said))
    if status == 422:
        detail = "; ".join("%s: %s" % (k, ", ".join(v) if isinstance(v, list) else v)
                           for k, v in sorted((errors or {}).items()))
        return "Coolify refused %s (422 %s)%s." % (what, said, ": " + detail if detail else "")
    if status == 429:
        return "Coolify kept rate-limiting %s (429 %s): retry later or raise the instance's API rate limit." % (
            what, said)
    if status is not None and status >= 500:
        return "Coolify failed on %s (%d %s): see the Coolify logs (docker logs coolify)." % (what, status, said)
    return "Coolify answered %s with %s %s." % (what, status, said)


def deployment_log_lines(logs, limit=50):
    """Readable lines from a deployment's ``logs`` (Coolify stores a JSON list of {output, type, hidden})."""
    if not logs:
        return []
    try:
        entries = json.loads(logs) if isinstance(logs, str) else logs
    except ValueError:
        return [line for line in str(logs).splitlines() if line.strip()][-limit:]
    lines = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("hidden"):
            continue
        for line in str(entry.get("output") or "").splitlines():
            if line.strip():
                lines.append(("[stderr] " if entry.get("type") == "stderr" else "") + line)
    return lines[-limit:]


def _env_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def env_mismatches(envs, expected):
    """Compare Coolify envs (``GET /applications/{uuid}/envs``) with ``expected`` {key: value}.

    Returns (problems, hidden_keys): readable mismatch descriptions, and the expected keys whose values Coolify
    hid (token without ``read:sensitive``). Preview envs are ignored. Values of keys that look secret are never shown.
    """
    actual = {}
    hidden = set()
    for env in envs or []:
        if not isinstance(env, dict) or env.get("is_preview"):
            continue
        key = env.get("key")
        if "value" not in env and "real_value" not in env:
            hidden.add(key)
            continue
        actual[key] = env.get("value", env.get("real_value"))
    problems = []
    hidden_keys = []
    for key in sorted(expected or {}):
        want = _env_text(expected[key])
        if key in hidden:
            hidden_keys.append(key)
        elif key not in actual:
            problems.append("%s is not set (expected %r)" % (key, want))
        elif _env_text(actual[key]) != want:
            if is_secret_key(key) or holds_credentials(actual[key]) or holds_credentials(want):
                problems.append("%s differs from the expected value" % key)
            else:
                problems.append("%s is %r (expected %r)" % (key, _env_text(actual[key]), want))
    return problems, hidden_keys


def deployment_convergence(latest, image_tag):
    """Whether an application configured with ``image_tag`` (and running) actually runs it, judged from its newest
    deployment: ``converged``, ``pending`` (a deployment of it is under way) or ``stale`` (deploy again).

    No deployment at all counts as converged (the application was created with that tag). Coolify leaves
    ``docker_registry_image_tag`` empty on ordinary deployments; then only the status decides.
    """
    if not latest:
        return "converged"
    tag = latest.get("docker_registry_image_tag")
    if tag and tag != image_tag:
        return "stale"
    state = classify_deployment_status(latest.get("status"))
    if state == "pending":
        return "pending"
    return "converged" if state == "success" else "stale"


def pick_deployment(deployments, image_tag):
    """The deployment of ``image_tag`` to follow when Coolify gave no usable id: newest pending one, else newest.

    ``deployments`` is newest first; entries without a tag (Coolify's ordinary deployments) may be it too.
    """
    same_tag = [d for d in deployments or []
                if isinstance(d, dict) and d.get("docker_registry_image_tag") in (image_tag, None, "")]
    for dep in same_tag:
        if classify_deployment_status(dep.get("status")) == "pending":
            return dep
    return same_tag[0] if same_tag else None


# -- the client ---------------------------------------------------------------------------------
class CoolifyClient:
    """Bearer-authenticated JSON client with retries; ``attempts`` counts every HTTP attempt made."""

    def __init__(self, api_url, token, validate_certs=True, request_timeout=30.0, retries=5, deadline=None,
                 sleep=time.sleep, clock=time.monotonic, ca_path=None, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
        self.base = normalize_api_url(api_url)
        self.deadline = deadline
        self._sleep = sleep
        self._clock = clock
        self.retried = []  # (method, path, reason) of each retry, for the result
        self.http = HttpClient(validate_certs=validate_certs, ca_path=ca_path, request_timeout=request_timeout,
                               retries=retries, backoff_base=0.5, backoff_cap=BACKOFF_CAP, bearer_token=token,
                               headers={"Accept": "application/json"}, follow_redirects="none",
                               max_body_bytes=max_body_bytes, clock=clock, sleep=sleep,
                               deadline=deadline if deadline is not None else float("inf"))

    @property
    def attempts(self):
        return self.http.attempts

    def close(self):
        self.http.close()

    def _note_retries(self, path):
        for method, _url, reason, delay in self.http.retry_log:
            self.retried.append("%s %s: %s, retried after %.1f s" % (method, path, reason, delay))
        del self.http.retry_log[:]

    def request(self, method, path, query=None, body=None, ability=None, allow=(), idempotent=None):
        """(status, data) of a successful call (or of a status in ``allow``); raises CoolifyError otherwise.

        ``idempotent`` as in ``HttpClient.request``: a call that may act twice is never repeated blindly."""
        url = self.base + path + ("?" + urlencode(query) if query else "")
        try:
            response = self.http.request(method, url, json_body=body, idempotent=idempotent)
        except BodyTooLarge as exc:
            self._note_retries(path)
            # the request was answered (and may have acted): only its answer is too big to read
            raise CoolifyError("Coolify's answer is too large (%s)" % exc, uncertain=True) from None
        except HttpError as exc:
            self._note_retries(path)
            raise CoolifyError("Cannot reach Coolify at %s (%s): check api_url, ca_path/validate_certs, that Coolify "
                               "is up and that this host can reach it." % (self.base, exc), uncertain=exc.sent) from None
        self._note_retries(path)
        status = response.status_code
        ok, data = decode_json(response.text)
        if not ok:
            data = response.text
        if 200 <= status < 300 or status in allow:
            return status, data
        if 300 <= status < 400:
            raise CoolifyError("Coolify at %s answered %s %s with a redirect (%d) to %s: set api_url to the address "
                               "Coolify really serves. Redirects are not followed, so the token goes nowhere else."
                               % (self.base, method, path, status, self.http.shown_url(response.headers.get("Location") or "?")),
                               status=status)
        message = data.get("message") if isinstance(data, dict) else (data or response.reason)
        errors = data.get("errors") if isinstance(data, dict) and status == 422 else None
        msg = explain_http_error(status, method, path, message, errors, ability)
        if response.gave_up == "retries":
            msg += " Gave up after %d attempts." % response.attempts
        elif response.gave_up == "deadline":
            msg += " Retrying in %.0f s would pass the timeout." % response.retry_in
        raise CoolifyError(msg, status=status, message=message, body=data, uncertain=status >= 500)

    # -- endpoints ----------------------------------------------------------------------------
    def version(self):
        return str(self.request("GET", "/api/v1/version", ability="read")[1]).strip()

    def application(self, uuid):
        return self.request("GET", "/api/v1/applications/%s" % uuid, ability="read")[1]

    def envs(self, uuid):
        return self.request("GET", "/api/v1/applications/%s/envs" % uuid, ability="read")[1]

    def update_application(self, uuid, fields):
        # setting fields to given values acts the same however often it arrives: safe to repeat
        return self.request("PATCH", "/api/v1/applications/%s" % uuid, body=fields, ability="write",
                            idempotent=True)[1]

    def deploy(self, uuid, force=False, image_tag=None):
        """The first entry of ``deployments`` of POST /deploy (GET on 405, Coolify before 4.2).

        Never repeated blindly: after a 5xx or a connection dropped once sent, it waits, then looks for a deployment
        of the application that was not in its list just before the request; it follows that one, and only when
        there is none asks once more."""
        query = {"uuid": uuid}
        if force:  # PHP reads any non-empty string as true: never send force=false
            query["force"] = "true"
        try:
            known = set(d.get("deployment_uuid") for d in self.application_deployments(uuid, take=DEPLOY_LOOKBACK))
        except CoolifyError as exc:
            exc.nothing_queued = True  # the deploy request was never sent
            raise
        for attempt in (1, 2):
            try:
                return self._deploy_once(uuid, query)
            except CoolifyError as exc:
                if not exc.uncertain:
                    exc.nothing_queued = True  # Coolify answered: refused (4xx), it queued nothing
                    raise
                failure = exc
            delay = backoff_delay(attempt, cap=BACKOFF_CAP)
            if self.deadline is not None and self._clock() + delay > self.deadline:
                raise CoolifyError("%s Whether Coolify queued a deployment is unknown and waiting to look would pass "
                                   "the timeout: check the application's deployments in Coolify." % failure,
                                   status=failure.status)
            self._sleep(delay)
            queued = self.new_deployment(uuid, known, image_tag)
            reason = "HTTP %s" % failure.status if failure.status else "no answer"
            if queued is not None:
                self.retried.append("POST /api/v1/deploy: %s, but Coolify had queued deployment %s: followed it, "
                                    "not deployed again" % (reason, queued.get("deployment_uuid")))
                return {"message": "Deployment queued (found after %s)." % reason, "resource_uuid": uuid,
                        "deployment_uuid": queued.get("deployment_uuid")}
            if attempt == 2:
                final = CoolifyError("%s Coolify queued no deployment after two deploy requests; not asking again "
                                     "(a deploy is never repeated blindly)." % failure, status=failure.status,
                                     message=failure.message, body=failure.body)
                final.nothing_queued = True
                raise final
            self.retried.append("POST /api/v1/deploy: %s, no deployment queued, retried once after %.1f s"
                                % (reason, delay))

    def _deploy_once(self, uuid, query):
        status, data = self.request("POST", "/api/v1/deploy", query=query, ability="deploy", allow=(405,))
        if status == 405:  # Coolify before 4.2: the same deploy, as a GET that acts (not idempotent)
            status, data = self.request("GET", "/api/v1/deploy", query=query, ability="deploy", idempotent=False)
        deployments = data.get("deployments") if isinstance(data, dict) else None
        if not deployments:
            raise CoolifyError("Coolify queued no deployment for %s: it answered %s" % (uuid, json.dumps(data)[:300]))
        return deployments[0]

    def new_deployment(self, uuid, known, image_tag=None):
        """The application's newest deployment (of ``image_tag`` or untagged) whose id is not in ``known``."""
        fresh = [d for d in self.application_deployments(uuid, take=DEPLOY_LOOKBACK)
                 if isinstance(d, dict) and d.get("deployment_uuid") not in known]
        if image_tag is None:
            return fresh[0] if fresh else None
        return pick_deployment(fresh, image_tag)

    def deployment(self, deployment_uuid):
        return self.request("GET", "/api/v1/deployments/%s" % deployment_uuid, ability="read")[1]

    def application_deployments(self, uuid, take=10):
        data = self.request("GET", "/api/v1/deployments/applications/%s" % uuid, query={"take": take},
                            ability="read")[1]
        if isinstance(data, dict):
            return data.get("deployments") or []
        return data if isinstance(data, list) else []

    # -- maintenance window: stop, start, wait for a status (added for issue 10) ------------------
    def stop_application(self, uuid, docker_cleanup=False):
        """Queue a stop (``POST /applications/{uuid}/stop``); returns Coolify's message.

        Coolify's ``docker_cleanup`` defaults to true and prunes images no container uses once the application is
        stopped, which can remove the image a rollback is about to deploy: it is sent, false unless asked."""
        query = {"docker_cleanup": "true" if docker_cleanup else "false"}
        data = self.request("POST", "/api/v1/applications/%s/stop" % uuid, query=query, ability="deploy")[1]
        return data.get("message") if isinstance(data, dict) else data

    def start_application(self, uuid):
        """Queue a deployment of the configured image (``POST /applications/{uuid}/start``).

        Returns ``{"message", "deployment_uuid"}``; ``deployment_uuid`` may be missing when Coolify skipped it
        (already queued): follow the application's deployments then."""
        data = self.request("POST", "/api/v1/applications/%s/start" % uuid, ability="deploy")[1]
        return data if isinstance(data, dict) else {"message": data}

    def wait_status(self, uuid, prefix, timeout, interval=2.0):
        """Poll the application until its status starts with ``prefix`` (``exited``, ``running``); returns the
        application. Raises CoolifyError naming the last status after ``timeout`` seconds."""
        deadline = self._clock() + float(timeout)
        while True:
            app = self.application(uuid)
            status = (app.get("status") if isinstance(app, dict) else None) or ""
            if status.strip().lower().startswith(prefix.lower()):
                return app
            if self._clock() + interval > deadline:
                raise CoolifyError("Application %s is still %r, not %s*, after %s s: see it in Coolify (its logs, "
                                   "the server's Docker) or raise the timeout." % (uuid, status, prefix, timeout),
                                   body=app)
            self._sleep(interval)

    # -- logs and images (issue 12) -------------------------------------------------------------
    def application_logs(self, uuid, lines=100):
        """``(running, text)``: the last ``lines`` lines of the application's container logs; ``(False, message)``
        when Coolify answers 400 "Application is not running."."""
        status, data = self.request("GET", "/api/v1/applications/%s/logs" % uuid, query={"lines": int(lines)},
                                    ability="read", allow=(400,))
        if status == 400:
            return False, (data.get("message") if isinstance(data, dict) else str(data)) or "not running"
        logs = data.get("logs") if isinstance(data, dict) else data
        return True, "" if logs is None else str(logs)

    def rollback_images(self, uuid):
        """``{"current": tag or None, "images": [{"tag", "created_at", "is_current"}]}``; the list is empty when
        Coolify cannot inspect the server."""
        data = self.request("GET", "/api/v1/applications/%s/rollback-images" % uuid, ability="read")[1]
        if not isinstance(data, dict):
            raise CoolifyError("Coolify answered the rollback images of %s with %r, not an object." % (uuid, data))
        images = [i for i in data.get("images") or [] if isinstance(i, dict) and i.get("tag")]
        return {"current": data.get("current"), "images": images}


def image_availability(images, tag):
    """Whether ``tag`` can be deployed judging from Coolify's rollback images: ``available``, ``missing`` (the
    list is not empty and lacks it) or ``unknown`` (empty list: the server could not be inspected)."""
    tags = [i.get("tag") for i in images or [] if isinstance(i, dict)]
    if not tags:
        return "unknown"
    return "available" if tag in tags else "missing"
