"""A client of the staging application that keeps writing: farmers and orders through the API, one every ~20 ms.

    ALMAFRICA_WRITER_PASSWORD=... python -m stage.writer --url http://127.0.0.1:PORT --user smoke --out writes.jsonl

It plays a user of the application during a rollback. It asks ``/health/version`` which release answers (every
``--version-every`` seconds) and sends the fields that release expects (``phoneNumber`` from v1.1.0, ``status`` and
4-decimal amounts from v1.2.0). Every request is one JSON line in ``--out``:

    {"t": <unix time>, "kind": "farmer"|"order", "status": 201, "record": {...the body the API answered...}}
    {"t": ..., "kind": ..., "status": 500|401|..., "error": "..."}       a refused or failed write (not acknowledged)
    {"t": ..., "kind": ..., "status": null, "error": "connection refused"}

A write is acknowledged only by a 201 whose body has an ``id``: that record must be in the database afterwards.
A request that timed out is not acknowledged (its outcome is unknown to the client). SIGTERM (or ``--seconds``)
stops it after the request in flight. The password comes from the environment, never from argv.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

PASSWORD_ENV = "ALMAFRICA_WRITER_PASSWORD"


def release_fields(version):
    """(farmer extra fields, order fields) the application at ``version`` (``1.2.0``) reads."""
    parts = tuple(int(p) for p in str(version or "0").split(".")[:3] if p.isdigit())
    return parts >= (1, 1, 0), parts >= (1, 2, 0)


class Writer:
    def __init__(self, url, user, password, out, interval=0.02, version_every=0.5, timeout=15.0):
        self.url = url.rstrip("/")
        self.user, self._password = user, password
        self.out = out
        self.interval, self.version_every, self.timeout = interval, version_every, timeout
        self.token = None
        self.version = None
        self._version_read = 0.0
        self.farmer_ids = []
        self.n = 0
        self.stopping = threading.Event()

    def _request(self, method, path, body=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth and self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - loopback only
                return resp.status, json.loads(resp.read() or b"null"), None
        except urllib.error.HTTPError as exc:
            return exc.code, None, exc.read(300).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, None, str(reason)[:200]

    def _login(self):
        status, body, _err = self._request("POST", "/api/auth/login",
                                           {"username": self.user, "password": self._password}, auth=False)
        self.token = body.get("token") if status == 200 and isinstance(body, dict) else None
        return self.token is not None

    def _refresh_version(self):
        now = time.monotonic()
        if now - self._version_read < self.version_every:
            return
        self._version_read = now
        status, body, _err = self._request("GET", "/health/version", auth=False)
        if status == 200 and isinstance(body, dict):
            self.version = body.get("version")

    def next_payload(self):
        """The next write: a farmer first and every other time, else an order of a farmer already acknowledged."""
        self.n += 1
        phone, status = release_fields(self.version)
        if self.n % 2 or not self.farmer_ids:
            body = {"name": "Writer farmer %d" % self.n, "village": "Village %d" % (self.n % 97)}
            if phone:
                body["phoneNumber"] = "+2547%08d" % self.n
            return "farmer", "/api/farmers", body
        body = {"farmerId": self.farmer_ids[-1]}
        if status:  # v1.2.0 keeps 4 decimals and an order status
            body["amount"] = "%d.%04d" % (10 + self.n % 900, (self.n * 37) % 10000)
            body["status"] = 1 + self.n % 3
        else:
            body["amount"] = "%d.%02d" % (10 + self.n % 900, self.n % 100)
        return "order", "/api/orders", body

    def write_once(self, log):
        self._refresh_version()
        if self.token is None and not self._login():
            kind, _path, _body = self.next_payload()
            self._log(log, {"kind": kind, "status": None, "error": "login failed"})
            return
        kind, path, body = self.next_payload()
        status, answer, err = self._request("POST", path, body)
        if status == 401:  # a restarted application forgot its tokens: log in again next time
            self.token = None
        if status == 201 and isinstance(answer, dict) and answer.get("id") is not None:
            if kind == "farmer":
                self.farmer_ids.append(answer["id"])
            self._log(log, {"kind": kind, "status": 201, "record": answer, "version": self.version})
        else:
            self._log(log, {"kind": kind, "status": status, "error": (err or "")[:200], "version": self.version})

    @staticmethod
    def _log(log, entry):
        entry["t"] = time.time()
        log.write(json.dumps(entry) + "\n")
        log.flush()

    def run(self, seconds=None):
        deadline = time.monotonic() + seconds if seconds else None
        with open(self.out, "a", encoding="utf-8") as log:
            while not self.stopping.is_set() and (deadline is None or time.monotonic() < deadline):
                started = time.monotonic()
                self.write_once(log)
                self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))


def read_log(path):
    """``(acknowledged, failed)`` entries of a writer's log."""
    acked, failed = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            (acked if entry.get("status") == 201 else failed).append(entry)
    return acked, failed


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stage.writer", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--version-every", type=float, default=0.5)
    parser.add_argument("--seconds", type=float)
    opts = parser.parse_args(argv)
    writer = Writer(opts.url, opts.user, os.environ.get(PASSWORD_ENV, ""), opts.out, opts.interval,
                    opts.version_every)
    signal.signal(signal.SIGTERM, lambda *a: writer.stopping.set())
    signal.signal(signal.SIGINT, lambda *a: writer.stopping.set())
    writer.run(opts.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
