"""Fault switches of the staging application, set through its environment (the staging Coolify sets them on the
containers a deployment starts, see ``stage.coolify.Faults``):

* ``STAGE_FAULT_ERROR_RATE="/api/orders=0.05"``: that share of the requests to the path answers 500 (spread evenly,
  the first one included: deterministic, so that a short watch window sees it);
* ``STAGE_FAULT_LATENCY_MS="/api/farmers=2000"``: requests to the path take that long before being served.

Several paths: separate them with commas.
"""
from __future__ import annotations

import os
import threading

ERROR_RATE_ENV = "STAGE_FAULT_ERROR_RATE"
LATENCY_ENV = "STAGE_FAULT_LATENCY_MS"


def parse_switch(text):
    """``"/a=0.05,/b=1"`` -> ``{"/a": 0.05, "/b": 1.0}``; ValueError on anything else."""
    out = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        path, sep, value = item.strip().rpartition("=")
        if not sep or not path.startswith("/"):
            raise ValueError("fault switch %r is not /path=value" % item)
        out[path.rstrip("/") or "/"] = float(value)
    return out


def format_switch(values):
    return ",".join("%s=%s" % (path, value) for path, value in sorted((values or {}).items()))


class AppFaults:
    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        self.error_rate = parse_switch(environ.get(ERROR_RATE_ENV))
        self.latency_ms = parse_switch(environ.get(LATENCY_ENV))
        self._counts = {}
        self._lock = threading.Lock()

    def delay(self, path):
        """Seconds to wait before serving ``path``."""
        return self.latency_ms.get(path, 0.0) / 1000.0

    def should_fail(self, path):
        """Whether this request to ``path`` fails: the n-th fails when floor(n*rate + 1 - rate) grows."""
        rate = self.error_rate.get(path)
        if not rate:
            return False
        with self._lock:
            n = self._counts.get(path, 0) + 1
            self._counts[path] = n
        return int(n * rate + (1 - rate)) > int((n - 1) * rate + (1 - rate))
