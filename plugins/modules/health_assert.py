#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: health_assert
short_description: Wait until an HTTP application answers as expected, then run a smoke-test sequence
version_added: 1.0.0
description:
  - Sends a request to O(url) and retries until every expectation holds (status, JSON subset, body text) or
    O(timeout) seconds have passed, for example until C(/health) answers C(Healthy) and C(/health/version) reports
    the release just deployed (runbook step 7).
  - Then runs O(checks) in order, a smoke-test sequence (runbook step 8) such as log in, read a list, create a
    record. A check may use values from the responses of earlier checks with C(${name.path}) references, see
    O(checks).
  - "On failure it says which expectation failed, with the last status and body (trimmed), the attempts made and
    a line per JSON difference (C(version: expected \"1.1.0\", got \"1.2.0\"))."
  - Never changes anything it manages, so it never reports C(changed). Credentials (O(bearer_token), tokens
    captured from responses, C(Authorization) headers, JSON keys such as C(token) or C(password)) are replaced by
    C(********) in everything it returns.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module is read-only and runs in check mode too. Checks whose O(checks[].safe) is false (by default
        every method but C(GET), C(HEAD), C(OPTIONS)) are skipped in check mode, and so are the checks that use
        their values; mark a login C(safe=true) so later reads still run.
  diff_mode:
    support: none
    details:
      - Nothing changes. JSON differences are listed in RV(mismatches) and in the failure message.
options:
  url:
    description:
      - The URL of the first request, for example C(https://app.example.org/health/version).
      - Relative O(checks[].url) values are resolved against it.
    type: str
    required: true
  method:
    description:
      - The HTTP method of the first request.
      - A C(POST) or C(PATCH) first request is sent once, not retried (it could act twice); other methods are
        retried until they pass or O(timeout) ends.
    type: str
    default: GET
  headers:
    description:
      - Headers sent with every request (the first one and every check). A check's own headers are added to them.
      - Put tokens in O(bearer_token), not in an C(Authorization) header here, so that Ansible hides them.
    type: dict
    default: {}
  body:
    description:
      - The body of the first request. A dict or a list is sent as JSON; a string is sent as it is.
    type: raw
  expect_status:
    description: The HTTP statuses that count as success for the first request.
    type: list
    elements: int
    default: [200]
  expect_json:
    description:
      - A dict that must be a subset of the JSON body of the first request. Keys may be dotted paths
        (C(items.0.name), C(\.) for a literal dot); lists match when each expected element matches a distinct
        element, in any order; C(1) and C("1") differ.
    type: raw
  expect_body_contains:
    description: Text (or a list of texts) the body of the first request must contain.
    type: raw
  timeout:
    description:
      - Total seconds to keep trying, for the first request and all checks together.
      - No new attempt starts after it; an attempt already started still gets its full O(request_timeout), so the
        answer reported is the server's, and the task may take up to O(timeout) + O(request_timeout).
    type: float
    default: 120
  interval:
    description: Seconds to wait between two attempts (longer when the server sends C(Retry-After) with 429 or 503).
    type: float
    default: 2
  request_timeout:
    description: Seconds one request may take.
    type: float
    default: 10
  validate_certs:
    description:
      - Whether to verify the TLS certificates of C(https://) URLs (signer and host name).
      - V(false) is B(unsafe) - anyone on the network path can then pose as the application, read O(bearer_token),
        O(headers) and request bodies, and answer in its place. For a certificate of a private CA, give that CA in
        O(ca_path) instead.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates (or an OpenSSL hashed directory) to verify the servers' certificates with,
        instead of the system's trust store, for an application behind a private CA.
      - Used only when O(validate_certs) is V(true).
    type: path
  follow_redirects:
    description:
      - Which redirects (HTTP 301, 302, 303, 307, 308) to follow, for the first request and every check.
      - V(same_origin) follows a redirect only to the same scheme, host and port; a redirect elsewhere fails
        the request, naming it.
      - V(all) also follows redirects to other origins, but never sends them the credentials (O(bearer_token),
        C(Authorization)), cookies, O(headers) or body of the original request.
      - V(none) follows no redirect; the 3xx answer is judged like any other (add it to O(expect_status)).
      - Whatever the choice, a redirect from C(https) to C(http), to a URL with credentials (C(user:password@)),
        to a URL that is not http(s), or past 10 redirects in a row fails the request.
    type: str
    choices: [same_origin, all, none]
    default: same_origin
  max_body_bytes:
    description:
      - The largest response body read, in bytes. A larger body fails that request at once, naming this limit,
        without reading the rest; it keeps a wrong URL (or a hostile server) from filling the memory of the host.
    type: int
    default: 10485760
  bearer_token:
    description:
      - "A token sent as C(Authorization: Bearer ...) with the first request and every check that does not set its
        own O(checks[].bearer_token)."
    type: str
  checks:
    description:
      - Smoke-test requests run one after the other once the first request passed. Each is retried until it
        passes or O(timeout) ends, except writes (see O(checks[].retry)). The first failing check stops the
        sequence.
      - "In O(checks[].url), O(checks[].headers), O(checks[].body), O(checks[].bearer_token),
        O(checks[].expect_json) and O(checks[].expect_body_contains), C(${name}) or C(${name.dotted.path}) is
        replaced by a value from an earlier check: C(name) is a O(checks[].save) name, or the O(checks[].name) of
        an earlier check, meaning its JSON body. A string that is only one reference keeps the value's type;
        C($${) is a literal C(${). These are resolved by the module, after Ansible's own C({{ }}) templating."
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for the check, used in messages and results and to refer to its JSON body.
        type: str
      url:
        description: The URL, absolute or relative to O(url) (C(/api/farmers)).
        type: str
        required: true
      method:
        description: The HTTP method.
        type: str
        default: GET
      headers:
        description: Headers added to O(headers) for this check.
        type: dict
      body:
        description: The body; a dict or a list is sent as JSON, a string as it is.
        type: raw
      bearer_token:
        description: The bearer token for this check, usually a reference such as C(${login.token}).
        type: str
      expect_status:
        description: The HTTP statuses that count as success.
        type: list
        elements: int
        default: [200]
      expect_json:
        description: A dict that must be a subset of the JSON body, as O(expect_json).
        type: raw
      expect_body_contains:
        description: Text (or a list of texts) the body must contain.
        type: raw
      save:
        description:
          - "Values of the JSON body to keep for later checks, as C(name: dotted.path); later checks use C(${name})."
        type: dict
      retry:
        description:
          - Whether to retry when the answer does not meet the expectations, or when the connection dropped after
            the request was sent. Defaults to V(true) for C(GET), C(HEAD), C(OPTIONS), C(PUT) and C(DELETE),
            V(false) for C(POST) and C(PATCH), which could act twice.
          - Requests that never reached the server (connection refused), and answers C(429) (the server did not
            process the request), are always retried. A TLS failure (an untrusted certificate, a wrong host name) is
            never retried, since waiting does not fix it.
        type: bool
      safe:
        description:
          - Whether the request changes nothing in the application, so that it also runs in check mode. Defaults to
            V(true) for C(GET), C(HEAD) and C(OPTIONS). Set it for a login.
        type: bool
notes:
  - Requires the Python library C(requests) on the host that runs the task.
seealso:
  - module: almafrica.rollback.coolify_deploy
'''

EXAMPLES = r'''
- name: Wait for the previous release to be healthy
  almafrica.rollback.health_assert:
    url: https://app.example.org/health
    expect_body_contains: Healthy
    timeout: 300

- name: Check that the expected version runs, against the expected database migration
  almafrica.rollback.health_assert:
    url: https://app.example.org/health/version
    expect_json:
      version: 1.1.0
      migration: 20260215090000_AddPayments

- name: Smoke test - log in, read the farmers, create one and read it back
  almafrica.rollback.health_assert:
    url: https://app.example.org/health
    timeout: 120
    checks:
      - name: login
        url: /api/auth/login
        method: POST
        safe: true
        body:
          username: "{{ almafrica_smoke_user }}"
          password: "{{ almafrica_smoke_password }}"
      - name: farmers
        url: /api/farmers
        bearer_token: ${login.token}
        expect_json:
          items.0.id: 1
        save:
          farmer_count: count
      - name: created
        url: /api/farmers
        method: POST
        bearer_token: ${login.token}
        body:
          name: Smoke Test Farmer
          village: Kiambu
        expect_status: [201]
      - name: read_back
        url: /api/farmers/${created.id}
        bearer_token: ${login.token}
        expect_json:
          id: ${created.id}
          name: Smoke Test Farmer
'''

RETURN = r'''
url:
  description: The URL of the first request.
  returned: always
  type: str
  sample: https://app.example.org/health/version
status:
  description: The last HTTP status of the first request; absent when it never answered.
  returned: when the first request got an answer
  type: int
  sample: 200
json:
  description: The JSON body of the first request's last answer, credentials replaced by C(********).
  returned: when the body was JSON
  type: raw
  sample: {"version": "1.1.0", "environment": "production", "migration": "20260215090000_AddPayments"}
content:
  description: The body of the first request's last answer when it was not JSON, trimmed.
  returned: when the body was not JSON
  type: str
  sample: Healthy
attempts:
  description: How many requests the first request took.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds from the start of the task to its end.
  returned: always
  type: float
  sample: 4.21
mismatches:
  description: What did not hold, one line each, for the request or check that failed.
  returned: on failure
  type: list
  elements: str
  sample: ['json version: expected "1.1.0", got "1.2.0"']
failed_check:
  description: The name (or C(check N)) of the check that failed; C(url) when the first request failed.
  returned: on failure
  type: str
  sample: farmers
checks:
  description: One entry per check, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name, or C(check N).
      type: str
      sample: login
    method:
      description: The method sent.
      type: str
      sample: POST
    url:
      description: The URL sent, references resolved.
      type: str
      sample: https://app.example.org/api/farmers/41
    passed:
      description: Whether every expectation held.
      type: bool
      sample: true
    skipped:
      description: Whether the check did not run (check mode), with RV(checks[].reason).
      type: bool
      sample: false
    reason:
      description: Why it was skipped.
      type: str
      sample: "check mode: POST is not marked safe"
    status:
      description: The last HTTP status.
      type: int
      sample: 201
    json:
      description: The last JSON body, credentials replaced by C(********).
      type: raw
      sample: {"token": "********", "expiresIn": 3600}
    content:
      description: The last body when it was not JSON, trimmed.
      type: str
      sample: ""
    attempts:
      description: Requests made for this check.
      type: int
      sample: 1
    elapsed:
      description: Seconds this check took.
      type: float
      sample: 0.05
    mismatches:
      description: What did not hold at the last attempt.
      type: list
      elements: str
      sample: ["status 500, expected 200"]
    saved:
      description: The names of the values this check saved.
      type: list
      elements: str
      sample: [farmer_count]
    redirects:
      description: The URLs this check was redirected to, in order (credentials hidden).
      type: list
      elements: str
      sample: ["https://app.example.org/api/farmers/"]
redirects:
  description: The URLs the first request was redirected to at its last attempt, in order (credentials hidden).
  returned: when it was redirected
  type: list
  elements: str
  sample: ["https://app.example.org/health/"]
'''

import json
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.six.moves.urllib.parse import urljoin

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact, redact_data, secret_values
from ansible_collections.almafrica.rollback.plugins.module_utils.web.client import (
    DEFAULT_MAX_BODY_BYTES, FOLLOW_REDIRECTS, HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HttpClient, HttpError, decode_json,
    describe_exception, trim,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.web.policy import url_password
from ansible_collections.almafrica.rollback.plugins.module_utils.web.smoke import (
    Captures, CheckDefinitionError, check_expectations, normalize_check, reference_roots,
)

BODY_LIMIT = 2000
MESSAGE_BODY_LIMIT = 500


def resolve_check(check, captures, base_url):
    """The request of ``check`` with references replaced (CheckDefinitionError when one is unknown)."""
    sub = captures.substitute
    resolved = dict(check)
    resolved["url"] = urljoin(base_url, str(sub(check["url"])))
    resolved["headers"] = {str(k): str(v) for k, v in sub(check.get("headers") or {}).items()}
    resolved["body"] = sub(check.get("body"))
    token = sub(check.get("bearer_token"))
    resolved["bearer_token"] = None if token in (None, "") else str(token)
    resolved["expect_json"] = sub(check.get("expect_json"))
    resolved["expect_body_contains"] = sub(check["expect_body_contains"])
    return resolved


def run_request(client, check, interval, secrets):
    """Send ``check`` until it passes, may not be repeated, or the deadline comes (the HTTP client's one retry
    loop, polling every ``interval``). Returns its result dict and the parsed JSON body (unredacted, for captures)."""
    started = time.monotonic()
    outcome = dict(name=check["label"], method=check["method"], url=check["url"], passed=False, skipped=False,
                   attempts=0, mismatches=[])
    data = None
    if check["bearer_token"]:
        secrets.add(check["bearer_token"])
    body = check.get("body")
    secret_values(body, secrets)
    secret_values(check["headers"], secrets)

    def judge(response):
        """Record the answer in ``outcome``; True when every expectation holds."""
        nonlocal data
        outcome["attempts"] = response.attempts
        if response.redirects:
            outcome["redirects"] = response.redirects
        else:
            outcome.pop("redirects", None)
        text = response.text
        is_json, data = decode_json(text)
        outcome["status"] = response.status_code
        outcome.pop("json", None)
        outcome.pop("content", None)
        if is_json:
            outcome["json"] = data
            secret_values(data, secrets)
        else:
            outcome["content"] = trim(text, BODY_LIMIT)
        outcome["mismatches"] = check_expectations(check, response.status_code, text, data, is_json)
        outcome["passed"] = not outcome["mismatches"]
        return outcome["passed"]

    try:
        # a write that got an answer is asked again only when the check says so (``retry``); one whose connection
        # never opened, or that got a 429, always is (the server did not take it); a TLS failure never is
        client.request(check["method"], check["url"], json_body=body if isinstance(body, (dict, list)) else None,
                       data=None if body is None or isinstance(body, (dict, list)) else str(body),
                       headers=check["headers"], bearer_token=check["bearer_token"], idempotent=check["retry"],
                       until=judge, interval=interval)
    except HttpError as exc:  # no answer at the last attempt, or a refused redirect or body over the cap
        outcome["attempts"] = exc.attempts
        outcome["passed"] = False
        outcome["mismatches"] = ["no answer: %s" % describe_exception(exc.cause, secrets) if exc.cause is not None
                                 else redact(str(exc), secrets)]
    outcome["elapsed"] = round(time.monotonic() - started, 3)
    return outcome, data


def failure_message(what, outcome, secrets):
    last = "no answer"
    if "status" in outcome:
        body = outcome.get("content") if "json" not in outcome else json.dumps(
            redact_data(outcome["json"], secrets), sort_keys=True)
        last = "last status %s, body: %s" % (outcome["status"], trim(body, MESSAGE_BODY_LIMIT))
    return redact("%s (%s %s) failed after %d attempt(s) in %.1fs: %s. %s" % (
        what, outcome["method"], outcome["url"], outcome["attempts"], outcome["elapsed"],
        "; ".join(outcome["mismatches"]), last[0].upper() + last[1:]), secrets)


def main():
    check_spec = dict(
        name=dict(type='str'),
        url=dict(type='str', required=True),
        method=dict(type='str', default='GET'),
        headers=dict(type='dict'),
        body=dict(type='raw'),
        # usually a ${login.token} reference, which must stay readable in messages; literal tokens are added to
        # the module's no_log values below, and every resolved token is redacted from all output
        bearer_token=dict(type='str', no_log=False),
        expect_status=dict(type='list', elements='int', default=[200]),
        expect_json=dict(type='raw'),
        expect_body_contains=dict(type='raw'),
        save=dict(type='dict'),
        retry=dict(type='bool'),
        safe=dict(type='bool'),
    )
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type='str', required=True),
            method=dict(type='str', default='GET'),
            headers=dict(type='dict', default={}),
            body=dict(type='raw'),
            expect_status=dict(type='list', elements='int', default=[200]),
            expect_json=dict(type='raw'),
            expect_body_contains=dict(type='raw'),
            timeout=dict(type='float', default=120),
            interval=dict(type='float', default=2),
            request_timeout=dict(type='float', default=10),
            validate_certs=dict(type='bool', default=True),
            ca_path=dict(type='path'),
            follow_redirects=dict(type='str', default='same_origin', choices=list(FOLLOW_REDIRECTS)),
            max_body_bytes=dict(type='int', default=DEFAULT_MAX_BODY_BYTES),
            bearer_token=dict(type='str', no_log=True),
            checks=dict(type='list', elements='dict', default=[], options=check_spec),
        ),
        supports_check_mode=True,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)

    p = module.params
    started = time.monotonic()
    deadline = started + p['timeout']
    result = dict(changed=False, url=p['url'], attempts=0, elapsed=0.0, checks=[])
    secrets = set([p['bearer_token']] if p['bearer_token'] else [])
    secret_values([p['body'], p['headers']] + [[c.get('body'), c.get('headers')] for c in p['checks']], secrets)
    secrets.update(c['bearer_token'] for c in p['checks'] if c.get('bearer_token') and '${' not in c['bearer_token'])
    # a password written into a URL (http://user:pass@host/) is a secret too
    secrets.update(pw for pw in [url_password(p['url'])] + [url_password(str(c['url'])) for c in p['checks']] if pw)
    module.no_log_values.update(s for s in secrets if len(s) >= 4)

    def finish(failed_msg=None, **extra):
        result.update(extra)
        result['elapsed'] = round(time.monotonic() - started, 3)
        # Ansible masks no_log values everywhere, the invocation shown at -vvv included: add what we learned
        module.no_log_values.update(s for s in secrets if len(s) >= 4)
        safe = redact_data(result, secrets)
        if failed_msg:
            module.fail_json(msg=redact(failed_msg, secrets), **safe)
        module.exit_json(**safe)

    if not p['url'].lower().startswith(('http://', 'https://')):
        finish("url must be an http:// or https:// URL, got %s" % p['url'])
    if p['max_body_bytes'] < 0:
        finish("max_body_bytes must be 0 or more, got %d" % p['max_body_bytes'])
    if not p['validate_certs']:
        module.warn("validate_certs is false: the servers' identity is not checked, so anyone on the path can read "
                    "the credentials sent and answer in their place. Give ca_path the CA that signed the certificate.")

    first = dict(url=p['url'], method=p['method'], headers=p['headers'], body=p['body'],
                 bearer_token=p['bearer_token'], expect_status=p['expect_status'], expect_json=p['expect_json'],
                 expect_body_contains=p['expect_body_contains'], retry=None)
    defaults = dict(bearer_token=p['bearer_token'])
    try:
        first = normalize_check(first, 0, {})
        checks = [normalize_check(c, i, defaults) for i, c in enumerate(p['checks'], 1)]
        for check in checks:  # a check's own headers are added to the module's
            check['headers'] = dict(p['headers'], **(check.get('headers') or {}))
        first = resolve_check(first, Captures(), p['url'])
    except CheckDefinitionError as exc:
        finish("Invalid check: %s" % exc)

    client = HttpClient(validate_certs=p['validate_certs'], ca_path=p['ca_path'], request_timeout=p['request_timeout'],
                        deadline=deadline, secrets=secrets, retries=None, follow_redirects=p['follow_redirects'],
                        max_body_bytes=p['max_body_bytes'])
    try:
        outcome, _data = run_request(client, first, p['interval'], secrets)
        result['attempts'] = outcome['attempts']
        for key in ('status', 'json', 'content', 'redirects'):
            if key in outcome:
                result[key] = outcome[key]
        if not outcome['passed']:
            finish(failure_message("The request", outcome, secrets), mismatches=outcome['mismatches'],
                   failed_check='url')

        captures, unavailable = Captures(), set()
        for check in checks:
            roots = reference_roots([check.get(k) for k in ('url', 'headers', 'body', 'bearer_token',
                                                            'expect_json', 'expect_body_contains')])
            blocked = sorted(set(roots) & unavailable)
            if module.check_mode and (not check['safe'] or blocked):
                reason = ("check mode: %s is not marked safe" % check['method'] if not check['safe']
                          else "check mode: uses %s from a skipped check" % ", ".join(blocked))
                result['checks'].append(dict(name=check['label'], method=check['method'], url=check['url'],
                                             passed=False, skipped=True, reason=reason, attempts=0))
                unavailable.update(n for n in [check['name']] + list(check.get('save') or {}) if n)
                continue
            try:
                request = resolve_check(check, captures, p['url'])
            except CheckDefinitionError as exc:
                finish("Check %r: %s" % (check['label'], exc), failed_check=check['label'],
                       mismatches=[str(exc)])
            outcome, data = run_request(client, request, p['interval'], secrets)
            result['checks'].append(outcome)
            if not outcome['passed']:
                finish(failure_message("Check %r" % check['label'], outcome, secrets),
                       mismatches=outcome['mismatches'], failed_check=check['label'])
            try:
                outcome['saved'] = sorted(captures.record(check, data))
            except CheckDefinitionError as exc:
                finish("Check %r: %s" % (check['label'], exc), failed_check=check['label'],
                       mismatches=[str(exc)])
    except Exception as exc:  # unexpected: still return what was learned, without secrets
        module.no_log_values.update(s for s in secrets if len(s) >= 4)
        module.fail_json(msg=redact("Unexpected error: %s" % exc, secrets),
                         exception=redact(traceback.format_exc(), secrets), **redact_data(result, secrets))
    finally:
        client.close()
    finish()


if __name__ == '__main__':
    main()
