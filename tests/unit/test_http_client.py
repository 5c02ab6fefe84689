"""HttpClient against a real HTTP server on 127.0.0.1 (no network beyond loopback); waits are recorded, not slept."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.web.client import (
    BodyTooLarge, HttpClient, HttpError, response_json)

from stage.app import free_port

TOKEN = "secret-token-0123456789"


@pytest.fixture
def server():
    """Answers each request with the next (status, headers, body) of ``server.script`` (200 when empty)."""
    seen, script = [], []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen.append((self.command, self.path, self.headers.get("Authorization"), body))
            status, headers, payload = script.pop(0) if script else (200, {}, {"ok": True})
            if status is None:  # drop the connection without an answer
                self.close_connection = True
                return
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.seen, httpd.script = seen, script
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client(**kwargs):
    sleeps = []
    kwargs.setdefault("total_timeout", 60)
    c = HttpClient(sleep=sleeps.append, bearer_token=TOKEN, **kwargs)
    c.sleeps = sleeps
    return c


def test_429_waits_as_retry_after_says(server):
    server.script.append((429, {"Retry-After": "3"}, {"message": "Too Many Attempts."}))
    with client() as c:
        response = c.request("GET", server.url + "/x")
    assert (response.status_code, response_json(response)) == (200, {"ok": True})
    assert c.sleeps == [3.0]
    assert c.attempts == 2


def test_5xx_retried_with_backoff_for_reads(server):
    server.script.extend([(500, {}, {}), (502, {}, {})])
    with client(backoff_base=0.5) as c:
        response = c.request("GET", server.url + "/x")
    assert response.status_code == 200
    assert c.sleeps == [0.5, 1.0]


def test_5xx_on_a_write_is_returned_not_repeated(server):
    server.script.append((500, {}, {"error": "boom"}))
    with client() as c:
        response = c.request("POST", server.url + "/x", json_body={"name": "n"})
    assert response.status_code == 500
    assert [s[0] for s in server.seen] == ["POST"]
    assert json.loads(server.seen[0][3]) == {"name": "n"}


def test_client_errors_are_returned_at_once(server):
    server.script.append((404, {}, {"message": "Not found."}))
    with client() as c:
        assert c.request("GET", server.url + "/x").status_code == 404
    assert len(server.seen) == 1


def test_retries_are_bounded(server):
    server.script.extend([(503, {}, {})] * 5)
    with client(retries=2) as c:
        response = c.request("GET", server.url + "/x")
    assert response.status_code == 503
    assert len(server.seen) == 3


def test_a_wait_past_the_deadline_is_not_taken(server):
    server.script.append((429, {"Retry-After": "120"}, {}))
    with client(total_timeout=30) as c:
        response = c.request("GET", server.url + "/x")
    assert response.status_code == 429
    assert c.sleeps == []


# -- polling: the same loop until an answer is acceptable (health_assert) --------------------------------------------
def _version_is(wanted):
    return lambda response: response_json(response) == {"version": wanted}


def test_a_poll_repeats_a_read_until_the_answer_is_acceptable(server):
    server.script.extend([(200, {}, {"version": "1.0"}), (503, {}, {}), (200, {}, {"version": "1.1"})])
    with client(retries=None) as c:
        response = c.request("GET", server.url + "/health/version", until=_version_is("1.1"), interval=2.0)
    assert response_json(response) == {"version": "1.1"} and response.attempts == 3
    assert c.sleeps == [2.0, 2.0]  # the poll's pace, not the backoff


def test_a_poll_waits_longer_when_the_server_says_so(server):
    server.script.extend([(429, {"Retry-After": "5"}, {}), (503, {"Retry-After": "0"}, {})])
    with client(retries=None) as c:
        c.request("GET", server.url + "/x", until=_version_is("never"), interval=1.0, retries=2)
    assert c.sleeps == [5.0, 1.0]


def test_a_poll_never_repeats_a_write_that_was_answered(server):
    server.script.append((200, {}, {"version": "1.0"}))
    with client(retries=None) as c:
        response = c.request("POST", server.url + "/orders", json_body={}, until=_version_is("1.1"), interval=1.0)
        assert response.attempts == 1 and c.sleeps == []
        server.script.append((200, {}, {"version": "1.0"}))
        again = c.request("POST", server.url + "/orders", json_body={}, until=_version_is("1.1"), interval=1.0,
                          idempotent=True, retries=1)
    assert again.attempts == 2 and again.gave_up == "retries"


def test_a_poll_with_no_retry_limit_stops_at_the_deadline(server):
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    c = HttpClient(retries=None, total_timeout=10, clock=lambda: now[0], sleep=sleep)
    with c:
        response = c.request("GET", server.url + "/x", until=_version_is("never"), interval=3.0)
    assert response.attempts == 4 and response.gave_up == "deadline"  # at 0, 3, 6, 9 s; the next would pass 10 s


def test_bearer_token_is_sent(server):
    with client(headers={"Accept": "application/json"}) as c:
        c.request("GET", server.url + "/x")
        c.request("GET", server.url + "/y", bearer_token="other-token-abcdef")
    assert [s[2] for s in server.seen] == ["Bearer " + TOKEN, "Bearer other-token-abcdef"]


def test_connection_refused_is_retried_then_raised_without_the_token():
    url = "http://127.0.0.1:%d/health?access_token=%s" % (free_port(), TOKEN)
    with client(retries=3, backoff_base=0.1) as c:
        with pytest.raises(HttpError) as err:
            c.request("POST", url)
    assert err.value.attempts == 4
    assert c.sleeps == [0.1, 0.2, 0.4]
    assert "connection refused" in str(err.value)
    assert TOKEN not in str(err.value)


def test_a_post_whose_connection_dropped_is_not_sent_again(server):
    server.script.append((None, {}, None))
    with client() as c:
        with pytest.raises(HttpError) as err:
            c.request("POST", server.url + "/deploy")
    assert err.value.sent is True and err.value.attempts == 1
    assert "connection dropped before an answer" in str(err.value)
    assert [s[0] for s in server.seen] == ["POST"]


def test_a_read_whose_connection_dropped_is_retried(server):
    server.script.append((None, {}, None))
    with client() as c:
        assert c.request("GET", server.url + "/x").status_code == 200
    assert len(server.seen) == 2 and c.retry_log[0][2] == "ConnectionError"


def test_a_get_that_acts_is_not_retried_after_a_5xx(server):
    server.script.append((500, {}, {}))
    with client() as c:
        response = c.request("GET", server.url + "/deploy", idempotent=False)
    assert response.status_code == 500 and len(server.seen) == 1


@pytest.mark.parametrize("size, fits", [(64, True), (65, False)])
def test_body_cap_is_exact(server, size, fits):
    server.script.append((200, {}, b"a" * size))
    with client(max_body_bytes=64) as c:
        if fits:
            assert c.request("GET", server.url + "/x").content == b"a" * size
        else:
            with pytest.raises(BodyTooLarge, match=r"max_body_bytes \(64 bytes\)"):
                c.request("GET", server.url + "/x")
    assert len(server.seen) == 1
