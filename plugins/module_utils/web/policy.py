# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an HTTP client of the collection may do: which requests it may repeat, which redirects it may follow.

Pure rules, no network (``module_utils.web.client`` applies them):

* **Retries.** A request is repeated only when repeating it cannot act twice: an idempotent method (GET, HEAD,
  OPTIONS, PUT, DELETE, TRACE, or a call the caller declares idempotent), a connection that never opened (nothing
  was sent), or a 429 (the server says it did not process the request). A 5xx or a connection dropped after the
  request was sent is never repeated for a non-idempotent request: the caller must first find out whether it acted.
* **Redirects.** ``follow_redirects`` is ``none``, ``same_origin`` (default) or ``all``. Same origin means same
  scheme, host and port (RFC 6454). Whatever the policy: a redirect to a non-http(s) URL, to a URL carrying
  credentials (``http://user:pass@...``) or from https to http is refused; a redirect to another origin never
  carries the request's credentials, custom headers or body (a 307/308 that would resend a body elsewhere is
  refused); chains are bounded by ``max_redirects``.
"""
from __future__ import annotations

try:
    from urllib.parse import urljoin, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported; keeps sanity's compile check quiet
    from urlparse import urljoin, urlsplit, urlunsplit  # type: ignore

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import REDACTED

IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))
TRANSIENT_STATUSES = frozenset((500, 502, 503, 504))
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
FOLLOW_REDIRECTS = ("none", "same_origin", "all")
MAX_REDIRECTS = 10
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers the client itself sets; every other header (Authorization, Cookie, X-Api-Key, anything the user gave)
# is a credential or a custom header and stays with the origin it was meant for.
NEUTRAL_HEADERS = frozenset(("user-agent", "accept", "accept-encoding", "accept-language", "connection"))


class RedirectRefused(ValueError):
    """A redirect the policy does not allow; ``str()`` says why and which option allows it, when one does."""


# -- retries --------------------------------------------------------------------------------------
def is_idempotent(method, idempotent=None):
    """``idempotent`` when the caller says so (a PATCH that sets fields to values is), else by method."""
    return bool(idempotent) if idempotent is not None else str(method).upper() in IDEMPOTENT_METHODS


def is_retryable_status(status, method, idempotent=None):
    """429 always (the server asked to come back: the request was not processed); 500, 502, 503, 504 only for
    idempotent requests (a POST may have acted before failing)."""
    return status == 429 or (status in TRANSIENT_STATUSES and is_idempotent(method, idempotent))


def may_retry_failure(method, sent, idempotent=None):
    """Whether a request that got no answer may be sent again: always when it was never sent (connection refused,
    connect timeout, name resolution), else only when idempotent."""
    return (not sent) or is_idempotent(method, idempotent)


# -- origins and redirects ------------------------------------------------------------------------
def origin(url):
    """``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def same_origin(url_a, url_b):
    return origin(url_a) == origin(url_b)


def has_credentials(url):
    parts = urlsplit(url)
    return parts.username is not None or parts.password is not None


def url_password(url):
    """The password of ``http://user:pass@host/`` (a secret to redact), else None."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def hide_credentials(url):
    """``url`` with any ``user:password@`` replaced by ``********@``: safe to show."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, REDACTED + "@" + parts.netloc.rsplit("@", 1)[1], parts.path, parts.query,
                       parts.fragment))


def redirect_method(status, method):
    """The method of the next request after a ``status`` redirect (RFC 9110 15.4, as browsers and requests do):
    303 becomes GET (HEAD stays HEAD), 301/302 turn a POST into a GET, 307/308 keep method and body."""
    method = str(method).upper()
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def plan_redirect(current_url, location, status, method, policy, has_body):
    """The next hop of a redirect: ``(url, method, cross_origin)``, or RedirectRefused saying why.

    ``policy`` is ``same_origin`` or ``all`` (``none`` never calls this: the 3xx is the answer)."""
    if policy not in FOLLOW_REDIRECTS:
        raise ValueError("follow_redirects must be one of %s, got %r" % (", ".join(FOLLOW_REDIRECTS), policy))
    if not location:
        raise RedirectRefused("HTTP %s without a Location header" % status)
    target = urljoin(current_url, location.strip())
    shown = hide_credentials(target)
    scheme = urlsplit(target).scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise RedirectRefused("redirect (HTTP %s) to %s refused: only http and https URLs are followed" % (status, shown))
    if has_credentials(target):
        raise RedirectRefused("redirect (HTTP %s) to %s refused: the Location carries credentials (user:password@), "
                              "which would be sent as a login" % (status, shown))
    if urlsplit(current_url).scheme.lower() == "https" and scheme == "http":
        raise RedirectRefused("redirect (HTTP %s) from https to %s refused: it would send the request in clear text"
                              % (status, shown))
    cross = not same_origin(current_url, target)
    next_method = redirect_method(status, method)
    if cross and policy != "all":
        raise RedirectRefused("redirect (HTTP %s) to another origin %s refused (follow_redirects=%s): set "
                              "follow_redirects=all to follow it; credentials and custom headers are never sent "
                              "there" % (status, shown, policy))
    if cross and has_body and next_method == method and method not in ("GET", "HEAD"):
        raise RedirectRefused("redirect (HTTP %s) to another origin %s refused: it would resend the request body "
                              "(it may hold credentials) to another server" % (status, shown))
    return target, next_method, cross


def headers_for_hop(headers, cross_origin, keeps_body):
    """The headers to send on a redirect hop: all of them within the origin (minus the body's when the body is
    dropped), only neutral ones (User-Agent, Accept...) to another origin."""
    out = {}
    for key, value in (headers or {}).items():
        low = key.lower()
        if cross_origin and low not in NEUTRAL_HEADERS:
            continue
        if not keeps_body and low in ("content-type", "content-length", "transfer-encoding"):
            continue
        out[key] = value
    return out
