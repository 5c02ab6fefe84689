# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP for the collection's modules: a requests session with bounded retries, redirects and bodies.

``HttpClient.request`` is the collection's one retry loop and applies its one retry policy (``web.policy``):
idempotent requests are retried after connection errors and HTTP 500/502/503/504, any request after a 429 or a
connection that never opened, honouring ``Retry-After``, with exponential backoff (or at a fixed ``interval`` when
polling until a response is acceptable, as health_assert does), never starting a wait that passes the deadline. It
returns the last response (any status) for the caller to judge and raises ``HttpError`` when no usable response
came. Redirects are followed by the client itself (never by requests), only as ``follow_redirects`` allows, without
credentials or custom headers to another origin. Bodies are read as a stream and refused past ``max_body_bytes``.
Bearer tokens and other secrets never reach error text: every message goes through ``redact.redact``.

    client = HttpClient(validate_certs=True, ca_path=None, request_timeout=10, total_timeout=60, bearer_token=token)
    response = client.request("GET", url)
    data = response_json(response)
"""
from __future__ import annotations

import email.utils
import json
import math
import time
import traceback

from ansible_collections.almafrica.rollback.plugins.module_utils.web.policy import (
    DEFAULT_MAX_BODY_BYTES, FOLLOW_REDIRECTS, MAX_REDIRECTS, REDIRECT_STATUSES, RedirectRefused, headers_for_hop,
    hide_credentials, is_idempotent, is_retryable_status, may_retry_failure, plan_redirect, same_origin,
)
from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # reported by the module through missing_required_lib
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

MAX_RETRY_AFTER = 300.0
USER_AGENT = "almafrica.rollback"


class HttpError(Exception):
    """No usable HTTP response: connection refused, timeouts, TLS errors, a refused redirect, a body too large.

    ``sent`` is False only when the request certainly never reached the server (the connection never opened)."""

    def __init__(self, msg, attempts=0, cause=None, sent=True):
        super().__init__(msg)
        self.attempts = attempts
        self.cause = cause
        self.sent = sent


class BodyTooLarge(HttpError):
    """The response body is larger than ``max_body_bytes``; reading stopped at the cap."""


class RedirectError(HttpError):
    """A redirect the policy refuses (another origin, credentials in Location, https to http) or too many."""


# -- pure helpers ---------------------------------------------------------------------------------
def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent or unreadable.
    Negative values become 0; huge ones are capped at MAX_RETRY_AFTER."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt, base=0.5, cap=10.0):
    """Delay before retry number ``attempt`` (1-based): base, 2*base, 4*base ... capped at ``cap``."""
    return min(cap, base * (2 ** max(attempt - 1, 0)))


def trim(text, limit=500):
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return "%s... [%d more characters]" % (text[:limit], len(text) - limit)


def decode_json(text):
    """(True, value) when ``text`` is JSON, else (False, None)."""
    if text is None or not str(text).strip():
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def response_json(response):
    """The JSON body of a requests response, or None when it is not JSON."""
    return decode_json(response.text)[1]


def describe_exception(exc, secrets=()):
    """One line naming a requests exception, redacted: ``connection refused (ConnectionError: ...)``."""
    kind = type(exc).__name__
    text = str(exc)
    if requests is not None and isinstance(exc, requests.exceptions.SSLError):
        if "match" in text and "ostname" in text or "doesn't match" in text or "not valid for" in text:
            summary = "TLS error: the server's certificate is not for this host name"
        elif "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            summary = ("TLS error: the server's certificate is not trusted: set ca_path to the CA certificate(s) "
                       "that signed it (validate_certs=false only for a test server you trust)")
        else:
            summary = "TLS error"
    elif "Connection refused" in text:
        summary = "connection refused"
    elif requests is not None and isinstance(exc, requests.exceptions.Timeout):
        summary = "timed out"
    elif requests is not None and isinstance(exc, requests.exceptions.ConnectionError) and not never_sent(exc):
        summary = "connection dropped before an answer"
    else:
        summary = "request failed"
    return redact("%s (%s: %s)" % (summary, kind, trim(text, 300)), secrets)


def never_sent(exc):
    """True when a requests exception proves the request never reached the server: the connection never opened
    (refused, unreachable, name not resolved, connect timeout) or TLS failed before anything was sent."""
    if requests is None:
        return False
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError  # requests depends on urllib3
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError(reason=NewConnectionError(...))
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


# -- the client -----------------------------------------------------------------------------------
class HttpClient:
    """A requests session with retries bounded by a total deadline, redirects per policy, bodies capped.

    ``sleep``/``clock`` exist so callers may share one deadline across many requests (health_assert does).
    ``retry_log`` lists ``(method, url, reason, delay)`` for each retry made.
    """

    def __init__(self, validate_certs=True, request_timeout=10.0, total_timeout=60.0, retries=5,
                 backoff_base=0.5, backoff_cap=10.0, headers=None, bearer_token=None, secrets=(),
                 deadline=None, clock=time.monotonic, sleep=time.sleep, ca_path=None,
                 follow_redirects="same_origin", max_redirects=MAX_REDIRECTS, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
        if not HAS_REQUESTS:
            raise RuntimeError("the Python library requests is required")
        if follow_redirects not in FOLLOW_REDIRECTS:
            raise ValueError("follow_redirects must be one of %s" % ", ".join(FOLLOW_REDIRECTS))
        if int(max_body_bytes) < 0:
            raise ValueError("max_body_bytes must be 0 or more, got %s" % max_body_bytes)
        self.request_timeout = float(request_timeout)
        self.retries = None if retries is None else int(retries)
        self.backoff_base, self.backoff_cap = float(backoff_base), float(backoff_cap)
        self.clock, self.sleep = clock, sleep
        self.deadline = deadline if deadline is not None else clock() + float(total_timeout)
        self.secrets = set(s for s in secrets if s)
        self.follow_redirects = follow_redirects
        self.max_redirects = int(max_redirects)
        self.max_body_bytes = int(max_body_bytes)
        self.session = requests.Session()
        # a CA bundle (file or c_rehash'ed directory) when given, else the system's; False only when asked
        self.session.verify = (ca_path or True) if validate_certs else False
        if not validate_certs:
            try:  # the module warns once; urllib3's per-request warning would only be noise on stderr
                import urllib3
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except ImportError:  # pragma: no cover - requests always brings urllib3
                pass
        self.session.headers["User-Agent"] = USER_AGENT
        # user headers and credentials are kept apart from the session so that a redirect can leave them behind
        self.headers = dict(headers or {})
        self.bearer_token = bearer_token
        if bearer_token:
            self.secrets.add(bearer_token)
        self.attempts = 0
        self.retry_log = []

    def remaining(self):
        return self.deadline - self.clock()

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- one request (redirects and body included), no retry ------------------------------------
    def send(self, method, url, json_body=None, data=None, headers=None, bearer_token=None):
        """One request, no retry, its redirects followed as ``follow_redirects`` allows; the body is read (up to
        ``max_body_bytes``) before returning. ``response.redirects`` lists the URLs followed (safe to show).

        Raises requests exceptions (no answer), ``RedirectError`` and ``BodyTooLarge``."""
        method = method.upper()
        all_headers = dict(self.headers)
        all_headers.update(headers or {})
        token = bearer_token or self.bearer_token
        if token:
            all_headers["Authorization"] = "Bearer %s" % token
            self.secrets.add(token)
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            all_headers.setdefault("Content-Type", "application/json")
        self.attempts += 1
        redirects = []
        first = url
        while True:
            # the session's cookies belong to the origins that set them: none go along to another origin
            response = self._exchange(method, url, all_headers, data, cookies=same_origin(first, url))
            if response.status_code not in REDIRECT_STATUSES or self.follow_redirects == "none":
                response.redirects = redirects
                return response
            location = response.headers.get("Location")
            response.close()
            if len(redirects) >= self.max_redirects:
                raise RedirectError("%s %s: more than %d redirects (a redirect loop?), last to %s" % (
                    method, self.shown_url(url), self.max_redirects, self.shown_url(location or "")))
            try:
                url, next_method, cross = plan_redirect(url, location, response.status_code, method,
                                                        self.follow_redirects, data is not None)
            except RedirectRefused as exc:
                raise RedirectError(redact("%s %s: %s" % (method, self.shown_url(url), exc), self.secrets)) from None
            keeps_body = next_method == method and method not in ("GET", "HEAD")
            all_headers = headers_for_hop(all_headers, cross, keeps_body)
            data = data if keeps_body else None
            method = next_method
            redirects.append(self.shown_url(url))

    def shown_url(self, url):
        return redact(hide_credentials(url), self.secrets)

    def _exchange(self, method, url, headers, data, cookies=True):
        started = self.clock()
        jar = self.session.cookies
        if not cookies:
            self.session.cookies = requests.cookies.RequestsCookieJar()
        try:
            # verify per request: a session's verify loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in requests
            response = self.session.request(method, url, headers=headers, data=data, timeout=self.request_timeout,
                                            allow_redirects=False, stream=True, verify=self.session.verify)
        finally:
            self.session.cookies = jar
        try:
            self._read_body(response, method, url, started)
        finally:
            response.close()
        return response

    def _read_body(self, response, method, url, started):
        """Read the body into ``response`` (``.content``/``.text`` work as usual), never more than the cap."""
        cap = self.max_body_bytes
        what = "%s %s" % (method, self.shown_url(url))
        declared = response.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            raise BodyTooLarge("%s: the response body (%s bytes, Content-Length) is larger than max_body_bytes "
                               "(%d bytes); not read. Raise max_body_bytes if such a body is expected."
                               % (what, declared.strip(), cap))
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > cap:
                raise BodyTooLarge("%s: the response body is larger than max_body_bytes (%d bytes); stopped reading "
                                   "there. Raise max_body_bytes if such a body is expected." % (what, cap))
            # a body that trickles in forever is as unbounded as a huge one
            if self.clock() - started > self.request_timeout + 1:
                raise requests.exceptions.ReadTimeout("%s: the body was not read within request_timeout (%.0f s)"
                                                      % (what, self.request_timeout))
            chunks.append(chunk)
        response._content = b"".join(chunks)
        response._content_consumed = True

    # -- with retries: the collection's one retry loop --------------------------------------------
    def _delay(self, attempt, interval=None, response=None):
        """How long to wait before the next attempt: the exponential backoff, or the Retry-After of a 429/503 when
        it gives one; when polling, ``interval``, or that Retry-After when it is longer."""
        delay = float(interval) if interval is not None else backoff_delay(attempt, self.backoff_base, self.backoff_cap)
        if response is not None and response.status_code in (429, 503):
            after = parse_retry_after(response.headers.get("Retry-After"))
            if after is not None:
                delay = max(delay, after) if interval is not None else after
        return delay

    def request(self, method, url, json_body=None, data=None, headers=None, bearer_token=None, retries=None,
                idempotent=None, until=None, interval=None):
        """Send with retries (see the module docstring); returns the last response, whatever its status, with
        ``attempts`` and ``gave_up`` (``None``, ``"retries"`` or ``"deadline"``) set on it. Raises HttpError when
        no response came, with ``sent`` telling whether the request may have reached the server.

        ``idempotent`` overrides the method's nature: True for a PATCH that sets fields to given values, False for
        a GET that acts (Coolify's legacy ``GET /deploy``). ``until(response)`` says whether a response ends the
        loop (by default: any status not worth repeating); a response it rejects is asked again only when the
        request may be repeated (idempotent, or a 429). ``interval`` polls at that pace instead of backing off.
        ``retries`` bounds the repeats (the client's, by default; None on the client: only the deadline does)."""
        retries = self.retries if retries is None else retries
        method = method.upper()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.send(method, url, json_body, data, headers, bearer_token)
            except HttpError as exc:  # a refused redirect or a body too large: repeating cannot help
                exc.attempts = attempt
                raise
            except requests.exceptions.RequestException as exc:
                sent = not never_sent(exc)
                delay = self._delay(attempt, interval)
                tls = isinstance(exc, requests.exceptions.SSLError)  # a certificate does not fix itself
                if tls or not may_retry_failure(method, sent, idempotent) or self._spent(attempt, retries) \
                        or delay >= self.remaining():
                    raise HttpError("%s %s: %s after %d attempt(s)" % (
                        method, self.shown_url(url), describe_exception(exc, self.secrets), attempt),
                        attempts=attempt, cause=exc, sent=sent) from None
                self._retry(method, url, type(exc).__name__, delay)
                continue
            response.attempts, response.gave_up = attempt, None
            done = until(response) if until else not is_retryable_status(response.status_code, method, idempotent)
            if done or not (response.status_code == 429 or is_idempotent(method, idempotent)):
                return response
            if self._spent(attempt, retries):
                response.gave_up = "retries"
                return response
            delay = self._delay(attempt, interval, response)
            if delay >= self.remaining():
                response.gave_up = "deadline"
                response.retry_in = delay
                return response
            self._retry(method, url, "HTTP %d" % response.status_code, delay)

    @staticmethod
    def _spent(attempt, retries):
        return retries is not None and attempt > retries

    def _retry(self, method, url, reason, delay):
        self.retry_log.append((method, self.shown_url(url), reason, delay))
        self.sleep(delay)
