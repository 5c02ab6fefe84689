# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP for the collection's modules: a requests session with bounded retries, and the pure pieces around it.

``HttpClient.request`` retries connection errors, HTTP 5xx and 429 (honouring ``Retry-After``) with exponential
backoff, never past a total deadline, and returns the last response (any status) for the caller to judge;
it raises ``HttpError`` only when no response came at all. Bearer tokens and other secrets never reach error
text: every message goes through ``redact``.

    client = HttpClient(validate_certs=True, request_timeout=10, total_timeout=60, bearer_token=token)
    response = client.request("GET", url)
    data = response_json(response)
"""
from __future__ import annotations

import email.utils
import json
import re
import time
import traceback

from ansible_collections.almafrica.rollback.plugins.module_utils.secrets import REDACTED, redact as redact_secrets

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # reported by the module through missing_required_lib
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

MAX_RETRY_AFTER = 300.0
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))
USER_AGENT = "almafrica.rollback"

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]+=*|\b(basic)(\s+)[A-Za-z0-9+/]{8,}=*")
_AUTH_HEADER = re.compile(r"(?i)((?:proxy-)?authorization|x-api-key|cookie)(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+")
_SECRET_KEY = re.compile(r"(?i)(^|[_\-])(token|password|passwd|secret|api[_\-]?key|authorization|cookie)s?($|[_\-])"
                         r"|accesstoken|refreshtoken|apikey")


class HttpError(Exception):
    """No usable HTTP response: connection refused, timeouts, TLS errors, the deadline passed."""

    def __init__(self, msg, attempts=0, cause=None):
        super().__init__(msg)
        self.attempts = attempts
        self.cause = cause


# -- pure helpers ---------------------------------------------------------------------------------
def redact(text, secrets=()):
    """``text`` with bearer/basic credentials, Authorization-like header values and every form of every string of
    ``secrets`` (raw, Npgsql-quoted, URL-encoded, JSON-escaped: see ``secrets.redact``) replaced by ``********``."""
    if text is None:
        return None
    text = redact_secrets(text, secrets)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return _BEARER.sub(lambda m: (m.group(1) or m.group(3)) + (m.group(2) or m.group(4)) + REDACTED, text)


def is_secret_key(name):
    """True for JSON keys and header names that hold credentials (``token``, ``access_token``, ``password``,
    ``Authorization``, ``X-Api-Key``...)."""
    norm = str(name).strip().lower()
    return bool(_SECRET_KEY.search(norm) or _SECRET_KEY.search(re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(name))))


def redact_data(data, secrets=()):
    """A copy of JSON-like ``data`` safe to show: values under secret-looking keys become ``********`` and
    strings are passed through ``redact``."""
    if isinstance(data, dict):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "") else redact_data(v, secrets))
                for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v, secrets) for v in data]
    if isinstance(data, str):
        return redact(data, secrets)
    return data


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
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt, base=0.5, cap=10.0):
    """Delay before retry number ``attempt`` (1-based): base, 2*base, 4*base ... capped at ``cap``."""
    return min(cap, base * (2 ** max(attempt - 1, 0)))


def is_retryable_status(status, method):
    """429 always (the server asked to come back); 5xx only for idempotent methods (a POST may have acted)."""
    return status == 429 or (status >= 500 and method.upper() in IDEMPOTENT_METHODS)


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
    if "Connection refused" in text:
        summary = "connection refused"
    elif requests is not None and isinstance(exc, requests.exceptions.SSLError):
        summary = "TLS error (set validate_certs=false only for a test server you trust)"
    elif requests is not None and isinstance(exc, requests.exceptions.Timeout):
        summary = "timed out"
    else:
        summary = "request failed"
    return redact("%s (%s: %s)" % (summary, kind, trim(text, 300)), secrets)


# -- the client -----------------------------------------------------------------------------------
class HttpClient:
    """A requests session with retries bounded by a total deadline.

    ``sleep``/``clock`` exist so callers may share one deadline across many requests (health_assert does).
    """

    def __init__(self, validate_certs=True, request_timeout=10.0, total_timeout=60.0, retries=5,
                 backoff_base=0.5, backoff_cap=10.0, headers=None, bearer_token=None, secrets=(),
                 deadline=None, clock=time.monotonic, sleep=time.sleep):
        if not HAS_REQUESTS:
            raise RuntimeError("the Python library requests is required")
        self.request_timeout = float(request_timeout)
        self.retries = int(retries)
        self.backoff_base, self.backoff_cap = float(backoff_base), float(backoff_cap)
        self.clock, self.sleep = clock, sleep
        self.deadline = deadline if deadline is not None else clock() + float(total_timeout)
        self.secrets = set(s for s in secrets if s)
        self.session = requests.Session()
        self.session.verify = bool(validate_certs)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        if bearer_token:
            self.session.headers["Authorization"] = "Bearer %s" % bearer_token
            self.secrets.add(bearer_token)
        self.attempts = 0

    def remaining(self):
        return self.deadline - self.clock()

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, method, url, json_body=None, data=None, headers=None, bearer_token=None):
        """One request, no retry; the timeout never runs past the deadline. Raises requests exceptions."""
        headers = dict(headers or {})
        if bearer_token:
            headers["Authorization"] = "Bearer %s" % bearer_token
            self.secrets.add(bearer_token)
        timeout = max(0.1, min(self.request_timeout, self.remaining()))
        self.attempts += 1
        kwargs = dict(headers=headers, timeout=timeout, allow_redirects=True)
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        return self.session.request(method.upper(), url, **kwargs)

    def retry_delay(self, attempt, response=None):
        """How long to wait before retry ``attempt``: Retry-After of a 429/503 when given, else backoff."""
        if response is not None and response.status_code in (429, 503):
            after = parse_retry_after(response.headers.get("Retry-After"))
            if after is not None:
                return after
        return backoff_delay(attempt, self.backoff_base, self.backoff_cap)

    def request(self, method, url, json_body=None, data=None, headers=None, bearer_token=None, retries=None):
        """Send with retries; returns the last response, whatever its status. Raises HttpError when no response
        came (after the retries, or when the next wait would pass the deadline)."""
        retries = self.retries if retries is None else retries
        method = method.upper()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.send(method, url, json_body, data, headers, bearer_token)
            except requests.exceptions.RequestException as exc:
                # a refused connection never reached the server: safe to retry any method
                safe = method in IDEMPOTENT_METHODS or isinstance(exc, requests.exceptions.ConnectTimeout) or (
                    isinstance(exc, requests.exceptions.ConnectionError)
                    and not isinstance(exc, requests.exceptions.ReadTimeout))
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap)
                if not safe or attempt > retries or delay >= self.remaining():
                    raise HttpError("%s %s: %s after %d attempt(s)" % (
                        method, redact(url, self.secrets), describe_exception(exc, self.secrets), attempt),
                        attempts=attempt, cause=exc) from None
                self.sleep(delay)
                continue
            if not is_retryable_status(response.status_code, method) or attempt > retries:
                return response
            delay = self.retry_delay(attempt, response)
            if delay >= self.remaining():
                return response
            self.sleep(delay)

    def request_json(self, method, url, **kwargs):
        """``(response, json or None)``."""
        response = self.request(method, url, **kwargs)
        return response, response_json(response)
