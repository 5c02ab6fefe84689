"""The rules of module_utils.web.policy: which requests may be repeated, which redirects followed, with what."""
from __future__ import annotations

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.web.policy import (
    RedirectRefused, headers_for_hop, hide_credentials, is_retryable_status, may_retry_failure, origin, plan_redirect,
    redirect_method, same_origin, url_password,
)


@pytest.mark.parametrize("a, b, same", [
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b?x=1", True),
    ("http://127.0.0.1/a", "http://127.0.0.1:80/b", True),
    ("https://LOCALHOST/a", "https://localhost:443/", True),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8001/", False),
    ("http://127.0.0.1:8000/", "http://localhost:8000/", False),
    ("https://127.0.0.1/", "http://127.0.0.1/", False),
    ("https://127.0.0.1:443/", "https://127.0.0.1:8443/", False),
])
def test_origin_is_scheme_host_and_port(a, b, same):
    assert same_origin(a, b) is same


def test_origin_fills_default_ports():
    assert origin("HTTPS://Localhost/x") == ("https", "localhost", 443)
    assert origin("http://127.0.0.1/x") == ("http", "127.0.0.1", 80)


@pytest.mark.parametrize("status, method, after", [
    (301, "POST", "GET"), (302, "POST", "GET"), (303, "POST", "GET"), (303, "HEAD", "HEAD"), (303, "PUT", "GET"),
    (307, "POST", "POST"), (308, "PUT", "PUT"), (301, "GET", "GET"), (302, "DELETE", "DELETE"),
])
def test_redirect_method(status, method, after):
    assert redirect_method(status, method) == after


def test_same_origin_redirect_is_followed_relative_or_absolute():
    assert plan_redirect("http://127.0.0.1:8000/a/b", "../c", 302, "GET", "same_origin", False) == (
        "http://127.0.0.1:8000/c", "GET", False)
    assert plan_redirect("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/z", 307, "POST", "same_origin", True) == (
        "http://127.0.0.1:8000/z", "POST", False)


@pytest.mark.parametrize("location, policy, words", [
    ("http://127.0.0.1:9000/h", "same_origin", "another origin"),
    ("//localhost:8000/h", "same_origin", "another origin"),
    ("http://u:secretpw@127.0.0.1:8000/h", "all", "credentials"),
    ("http://u@127.0.0.1:8000/h", "same_origin", "credentials"),
    ("ftp://127.0.0.1/h", "all", "only http and https"),
    ("file:///etc/passwd", "all", "only http and https"),
    ("", "all", "without a Location"),
])
def test_refused_redirects(location, policy, words):
    with pytest.raises(RedirectRefused, match=words) as err:
        plan_redirect("http://127.0.0.1:8000/a", location, 302, "GET", policy, False)
    assert "secretpw" not in str(err.value)


def test_https_to_http_is_refused_whatever_the_policy():
    for policy in ("same_origin", "all"):
        with pytest.raises(RedirectRefused, match="clear text"):
            plan_redirect("https://127.0.0.1:8443/a", "http://127.0.0.1:8443/a", 301, "GET", policy, False)


def test_follow_all_crosses_origins_but_never_with_a_resent_body():
    assert plan_redirect("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", 302, "POST", "all", True) == (
        "http://127.0.0.1:9000/b", "GET", True)
    with pytest.raises(RedirectRefused, match="resend the request body"):
        plan_redirect("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", 307, "POST", "all", True)


def test_headers_for_another_origin_are_only_neutral_ones():
    headers = {"User-Agent": "ua", "Accept": "application/json", "Authorization": "Bearer t", "X-Api-Key": "k",
               "Cookie": "s=1", "X-Trace": "1", "Content-Type": "application/json"}
    assert headers_for_hop(headers, cross_origin=True, keeps_body=False) == {"User-Agent": "ua",
                                                                             "Accept": "application/json"}
    same = headers_for_hop(headers, cross_origin=False, keeps_body=False)
    assert "Content-Type" not in same and same["X-Api-Key"] == "k" and same["Authorization"] == "Bearer t"
    assert headers_for_hop(headers, cross_origin=False, keeps_body=True) == headers


def test_credentials_in_urls_are_found_and_hidden():
    assert url_password("http://smoke:p%40ss@127.0.0.1/") == "p%40ss"
    assert url_password("http://127.0.0.1/") is None
    assert hide_credentials("http://smoke:pw@127.0.0.1:80/x?y=1") == "http://********@127.0.0.1:80/x?y=1"
    assert hide_credentials("http://127.0.0.1/x") == "http://127.0.0.1/x"


@pytest.mark.parametrize("status, method, idempotent, retry", [
    (429, "POST", None, True), (500, "GET", None, True), (503, "POST", None, False), (502, "PATCH", None, False),
    (502, "PATCH", True, True), (500, "GET", False, False), (501, "GET", None, False), (404, "GET", None, False),
])
def test_retryable_statuses_follow_idempotency(status, method, idempotent, retry):
    assert is_retryable_status(status, method, idempotent) is retry


@pytest.mark.parametrize("method, sent, idempotent, retry", [
    ("POST", False, None, True), ("POST", True, None, False), ("GET", True, None, True), ("GET", True, False, False),
    ("PATCH", True, True, True),
])
def test_failures_without_answer_are_retried_only_when_harmless(method, sent, idempotent, retry):
    assert may_retry_failure(method, sent, idempotent) is retry
