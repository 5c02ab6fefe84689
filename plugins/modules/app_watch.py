#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: app_watch
short_description: Watch an application's endpoints for a while and fail on a high error rate or a slow p95
version_added: 1.0.0
description:
  - The watch window of the rollback runbook's step 9 ("Monitor metrics - check API response times, error rates").
    For O(seconds) seconds it sends a C(GET) to each of O(endpoints) every O(interval) seconds (each endpoint on its
    own schedule, so that a slow one does not slow the others down), and measures every answer.
  - Fails when an endpoint's error rate is above O(max_error_rate) or its p95 latency above O(max_p95_ms); the
    message gives the measured values next to the limits.
  - Returns per endpoint the requests, errors, error rate, p50/p95/max latency, the statuses seen, the latency of
    every probe in order (RV(endpoints[].series)) and a text sparkline of it for reports.
  - An error is a request that got no answer (refused, timed out) or whose status is not in the endpoint's
    O(endpoints[].expect_status) (by default, any status from 400 up).
  - Probes are never retried - a retry would hide the errors the window is there to count.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module only sends C(GET) requests (and the O(login) request), so it runs the same in check mode.
  diff_mode:
    support: none
    details:
      - Nothing changes.
options:
  endpoints:
    description:
      - The endpoints to probe. At least one.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: A name for messages and results; by default the URL's path.
        type: str
      url:
        description: The absolute http(s) URL probed with C(GET).
        type: str
        required: true
      auth:
        description: Whether to send O(bearer_token) (or the token O(login) obtained) with the probes.
        type: bool
        default: false
      expect_status:
        description: The statuses that are not errors; by default every status below 400.
        type: list
        elements: int
  seconds:
    description: How long to watch, in seconds.
    type: float
    default: 60
  interval:
    description: Seconds between two probes of the same endpoint.
    type: float
    default: 1
  max_error_rate:
    description:
      - The highest error rate an endpoint may have, as a fraction (V(0.01) is 1 %). Above it the task fails.
    type: float
    default: 0.01
  max_p95_ms:
    description: The highest p95 latency, in milliseconds, an endpoint may have. Above it the task fails.
    type: float
    default: 1000
  request_timeout:
    description: Seconds one probe may take; a probe that takes longer is an error (no answer).
    type: float
    default: 10
  validate_certs:
    description: Whether to verify TLS certificates. Set V(false) only for a test server you trust.
    type: bool
    default: true
  ca_path:
    description: A PEM bundle (or hashed directory) of the CA that signed the application's certificate.
    type: path
  headers:
    description: Headers sent with every probe. Put tokens in O(bearer_token), not here.
    type: dict
    default: {}
  bearer_token:
    description: "A token sent as C(Authorization: Bearer ...) with the probes of endpoints whose O(endpoints[].auth) is true."
    type: str
  login:
    description:
      - A request made once before the window to obtain a bearer token for the endpoints whose
        O(endpoints[].auth) is true (the token is never returned).
    type: dict
    suboptions:
      url:
        description: The login URL.
        type: str
        required: true
      method:
        description: The HTTP method of the login.
        type: str
        default: POST
      body:
        description: The login body, sent as JSON. Its values are never logged or returned.
        type: dict
      token_path:
        description: The dotted path of the token in the JSON answer.
        type: str
        default: token
  sparkline_width:
    description: The most characters a sparkline has; longer series are shown by their worst value per character.
    type: int
    default: 60
notes:
  - Requires the Python library C(requests) on the host that runs the task.
  - The window measures what it sees from the host of the task; set the limits with some room for that network.
seealso:
  - module: almafrica.rollback.health_assert
  - module: almafrica.rollback.app_logs
'''

EXAMPLES = r'''
- name: Watch the application for a minute after the rollback (runbook step 9)
  almafrica.rollback.app_watch:
    seconds: 60
    interval: 1
    max_error_rate: 0.01
    max_p95_ms: 1000
    login:
      url: https://app.example.org/api/auth/login
      body:
        username: "{{ smoke_user }}"
        password: "{{ smoke_password }}"
    endpoints:
      - url: https://app.example.org/health
      - url: https://app.example.org/api/farmers
        auth: true
      - url: https://app.example.org/api/orders
        auth: true
  register: watch

- name: Show the latency over time
  ansible.builtin.debug:
    msg: "{{ item.name }} p95 {{ item.p95_ms }} ms {{ item.sparkline }}"
  loop: "{{ watch.endpoints }}"
'''

RETURN = r'''
seconds:
  description: How long the window really lasted.
  returned: always
  type: float
  sample: 10.02
requests:
  description: Probes sent to all endpoints.
  returned: always
  type: int
  sample: 60
errors:
  description: Probes that were errors, all endpoints together.
  returned: always
  type: int
  sample: 2
error_rate:
  description: RV(errors) divided by RV(requests).
  returned: always
  type: float
  sample: 0.0333
limits:
  description: The limits the window was judged against.
  returned: always
  type: dict
  sample: {"max_error_rate": 0.01, "max_p95_ms": 1000}
problems:
  description: The limits broken, in words, with the measured values; empty when the window passed.
  returned: always
  type: list
  elements: str
  sample: ["/api/orders: error rate 5.0% (1 of 20 requests) exceeds 1.0%"]
endpoints:
  description: One entry per endpoint.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The endpoint's name.
      type: str
      sample: /api/orders
    url:
      description: The URL probed.
      type: str
      sample: https://app.example.org/api/orders
    requests:
      description: Probes sent.
      type: int
      sample: 20
    errors:
      description: Probes that were errors.
      type: int
      sample: 1
    error_rate:
      description: RV(endpoints[].errors) divided by RV(endpoints[].requests).
      type: float
      sample: 0.05
    p50_ms:
      description: Median latency of the answers, in milliseconds.
      type: float
      sample: 4.1
    p95_ms:
      description: 95th percentile latency (nearest rank) of the answers, in milliseconds.
      type: float
      sample: 9.8
    max_ms:
      description: Highest latency of the answers, in milliseconds.
      type: float
      sample: 12.5
    statuses:
      description: How many answers had each status; C(none) counts probes without an answer.
      type: dict
      sample: {"200": 19, "500": 1}
    series:
      description: The latency in milliseconds of each probe in order (null when no answer came).
      type: list
      elements: float
      sample: [4.2, 3.9, 15.0]
    sparkline:
      description: RV(endpoints[].series) as a line of bar characters.
      type: str
      sample: "▁▁▂▁█▁"
    error_samples:
      description: The first few errors, in words.
      type: list
      elements: str
      sample: ["t=0.0s: status 500"]
'''

import threading
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact, redact_data, secret_values
from ansible_collections.almafrica.rollback.plugins.module_utils.web.client import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HttpClient, HttpError, describe_exception, response_json,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.web.json_match import resolve
from ansible_collections.almafrica.rollback.plugins.module_utils.web.watch import endpoint_stats, sparkline, verdict

if HAS_REQUESTS:
    import requests

MAX_ERROR_SAMPLES = 5
MAX_SERIES = 2000


class WatchError(Exception):
    pass


def obtain_token(params, secrets):
    login = params["login"]
    client = HttpClient(validate_certs=params["validate_certs"], ca_path=params["ca_path"],
                        request_timeout=params["request_timeout"], total_timeout=max(params["request_timeout"] * 3, 30),
                        headers=params["headers"], secrets=secrets, retries=2)
    try:
        response = client.request(login["method"], login["url"], json_body=login["body"] or {})
    except Exception as exc:  # HttpError: no answer at all
        raise WatchError("The login (%s %s) got no answer: %s" % (login["method"], login["url"], exc))
    finally:
        client.close()
    data = response_json(response)
    ok, token, _walked = resolve(data, login["token_path"]) if data is not None else (False, None, [])
    if response.status_code >= 400 or not ok or not isinstance(token, str) or not token:
        raise WatchError("The login (%s %s) did not give a token at %r: status %d. Check the login body and "
                         "token_path." % (login["method"], login["url"], login["token_path"], response.status_code))
    return token


def probe_endpoint(endpoint, params, token, secrets, started, end, out):
    """Probe one endpoint on its own schedule until ``end``; append samples to ``out``."""
    client = HttpClient(validate_certs=params["validate_certs"], ca_path=params["ca_path"],
                        request_timeout=params["request_timeout"], deadline=end + params["request_timeout"],
                        headers=params["headers"], secrets=secrets, retries=0)
    expect = endpoint["expect_status"]
    next_at = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                return
            if next_at > now:
                time.sleep(min(next_at - now, end - now))
                continue
            sent = time.monotonic()
            sample = {"t": round(sent - started, 3), "ms": None, "status": None, "error": False}
            try:
                response = client.send("GET", endpoint["url"], bearer_token=token if endpoint["auth"] else None)
                sample["ms"] = (time.monotonic() - sent) * 1000.0
                sample["status"] = response.status_code
                bad = response.status_code not in expect if expect else response.status_code >= 400
                if bad:
                    sample["error"] = True
                    sample["why"] = "status %d" % response.status_code
            except requests.exceptions.RequestException as exc:
                sample["error"] = True
                sample["why"] = "no answer: %s" % describe_exception(exc, secrets)
            except HttpError as exc:  # a redirect the policy refuses, a body over the cap
                sample["error"] = True
                sample["why"] = redact(str(exc), secrets)
            out.append(sample)
            next_at = max(next_at + params["interval"], sent)
    finally:
        client.close()


def summarize(endpoint, samples, params):
    stats = endpoint_stats(samples)
    statuses = {}
    for sample in samples:
        key = "none" if sample["status"] is None else str(sample["status"])
        statuses[key] = statuses.get(key, 0) + 1
    series = [None if s["ms"] is None else round(s["ms"], 1) for s in samples]
    entry = dict(name=endpoint["name"], url=endpoint["url"], statuses=statuses, series=series[-MAX_SERIES:],
                 sparkline=sparkline(series, width=params["sparkline_width"]),
                 error_samples=["t=%.1fs: %s" % (s["t"], s["why"]) for s in samples if s["error"]][:MAX_ERROR_SAMPLES])
    entry.update(stats)
    return entry


def normalize_endpoints(endpoints):
    out = []
    for i, endpoint in enumerate(endpoints, 1):
        url = endpoint["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise WatchError("endpoints[%d].url must be an http:// or https:// URL, got %r" % (i, url))
        out.append(dict(endpoint, name=endpoint["name"] or urlsplit(url).path or url))
    names = [e["name"] for e in out]
    dupes = sorted(set(n for n in names if names.count(n) > 1))
    if dupes:
        raise WatchError("endpoint names must be unique; give a name to: %s" % ", ".join(dupes))
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str"),
                url=dict(type="str", required=True),
                auth=dict(type="bool", default=False),
                expect_status=dict(type="list", elements="int"),
            )),
            seconds=dict(type="float", default=60),
            interval=dict(type="float", default=1),
            max_error_rate=dict(type="float", default=0.01),
            max_p95_ms=dict(type="float", default=1000),
            request_timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            headers=dict(type="dict", default={}),
            bearer_token=dict(type="str", no_log=True),
            login=dict(type="dict", options=dict(
                url=dict(type="str", required=True),
                method=dict(type="str", default="POST"),
                body=dict(type="dict", no_log=True),
                token_path=dict(type="str", default="token", no_log=False),
            )),
            sparkline_width=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    p = module.params
    secrets = set([p["bearer_token"]] if p["bearer_token"] else [])
    secret_values([p["headers"], (p["login"] or {}).get("body")], secrets)
    for value in ((p["login"] or {}).get("body") or {}).values():  # every login value may be a credential
        if isinstance(value, str) and len(value) >= 4:
            secrets.add(value)
    limits = dict(max_error_rate=p["max_error_rate"], max_p95_ms=p["max_p95_ms"])
    result = dict(changed=False, seconds=0.0, requests=0, errors=0, error_rate=0.0, limits=limits, problems=[],
                  endpoints=[])

    def fail(msg, **extra):
        result.update(extra)
        module.no_log_values.update(s for s in secrets if len(s) >= 4)
        module.fail_json(msg=redact(msg, secrets), **redact_data(result, secrets))

    if p["seconds"] <= 0 or p["interval"] <= 0:
        fail("seconds and interval must be positive, got seconds=%s interval=%s." % (p["seconds"], p["interval"]))
    if not 0 <= p["max_error_rate"] <= 1:
        fail("max_error_rate is a fraction between 0 and 1 (0.01 is 1 %%), got %s." % p["max_error_rate"])
    try:
        endpoints = normalize_endpoints(p["endpoints"])
        if not endpoints:
            raise WatchError("endpoints is empty: give at least one URL to watch.")
        token = p["bearer_token"]
        if p["login"] and any(e["auth"] for e in endpoints):
            token = obtain_token(p, secrets)
            secrets.add(token)
        if any(e["auth"] for e in endpoints) and not token:
            raise WatchError("an endpoint has auth=true but neither bearer_token nor login is set.")
        started = time.monotonic()
        end = started + p["seconds"]
        samples = {e["name"]: [] for e in endpoints}
        threads = [threading.Thread(target=probe_endpoint, args=(e, p, token, secrets, started, end, samples[e["name"]]),
                                    name="watch-%d" % i, daemon=True) for i, e in enumerate(endpoints)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(p["seconds"] + p["request_timeout"] + 30)
        result["seconds"] = round(time.monotonic() - started, 3)
    except WatchError as exc:
        fail(str(exc))
    except Exception as exc:  # unexpected: still no secret in the answer
        fail("Unexpected error: %s" % exc, exception=redact(traceback.format_exc(), secrets))

    for endpoint in endpoints:
        entry = summarize(endpoint, list(samples[endpoint["name"]]), p)
        result["endpoints"].append(entry)
        result["problems"].extend(verdict(endpoint["name"], entry, p["max_error_rate"], p["max_p95_ms"]))
    result["requests"] = sum(e["requests"] for e in result["endpoints"])
    result["errors"] = sum(e["errors"] for e in result["endpoints"])
    result["error_rate"] = round(result["errors"] / float(result["requests"]), 4) if result["requests"] else 0.0
    if result["problems"]:
        fail("Watch window of %.0f s failed: %s." % (p["seconds"], "; ".join(result["problems"])))
    module.no_log_values.update(s for s in secrets if len(s) >= 4)
    module.exit_json(msg="Watch window of %.0f s passed: %d requests, %d errors, every endpoint within %.1f%% errors "
                         "and p95 %.0f ms." % (p["seconds"], result["requests"], result["errors"],
                                               p["max_error_rate"] * 100, p["max_p95_ms"]),
                     **redact_data(result, secrets))


if __name__ == "__main__":
    main()
