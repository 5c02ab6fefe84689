# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watch window's arithmetic for app_watch: latency percentiles, per-endpoint statistics, the verdict against
the limits, and a text sparkline of latency over time for reports.

Pure logic: no I/O here. A sample is ``{"t": seconds since the start, "ms": latency or None, "status": HTTP status
or None, "error": bool}``; ``ms`` is None when no answer came (connection refused, timeout).
"""
from __future__ import annotations

import math

SPARK_BARS = u"\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
SPARK_NO_ANSWER = u"\u00b7"  # a probe that got no answer at all


def percentile(values, q):
    """Nearest-rank percentile ``q`` (0-100) of ``values``; None when there are none."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    if q <= 0:
        return data[0]
    rank = int(math.ceil(q / 100.0 * len(data)))
    return data[min(max(rank, 1), len(data)) - 1]


def endpoint_stats(samples):
    """Requests, errors, error rate and p50/p95/max latency (ms, rounded to 0.1) of one endpoint's samples."""
    latencies = [s["ms"] for s in samples if s.get("ms") is not None]
    errors = sum(1 for s in samples if s.get("error"))
    requests = len(samples)

    def rounded(value):
        return None if value is None else round(value, 1)

    return {
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / float(requests), 4) if requests else 0.0,
        "p50_ms": rounded(percentile(latencies, 50)),
        "p95_ms": rounded(percentile(latencies, 95)),
        "max_ms": rounded(max(latencies) if latencies else None),
    }


def verdict(name, stats, max_error_rate, max_p95_ms):
    """The limits ``stats`` breaks, each in words with the measured value; empty when it keeps them."""
    problems = []
    if stats["requests"] == 0:
        problems.append("%s: no request completed in the window" % name)
        return problems
    if stats["error_rate"] > max_error_rate:
        problems.append("%s: error rate %.1f%% (%d of %d requests) exceeds %.1f%%" % (
            name, stats["error_rate"] * 100, stats["errors"], stats["requests"], max_error_rate * 100))
    if stats["p95_ms"] is not None and stats["p95_ms"] > max_p95_ms:
        problems.append("%s: p95 latency %.0f ms exceeds %.0f ms (p50 %.0f ms, max %.0f ms)" % (
            name, stats["p95_ms"], max_p95_ms, stats["p50_ms"], stats["max_ms"]))
    return problems


def _buckets(values, width):
    """``values`` in at most ``width`` buckets (each keeps its worst value; None only when all are None)."""
    if width is None or len(values) <= width:
        return list(values)
    out = []
    for i in range(width):
        chunk = values[int(i * len(values) / width):int((i + 1) * len(values) / width)]
        present = [v for v in chunk if v is not None]
        out.append(max(present) if present else None)
    return out


def sparkline(values, width=60, low=None, high=None):
    """A one-line chart of ``values`` (latencies in ms, None for no answer) such as ``▁▁▂▁█▁``.

    Bars scale from ``low`` (default 0) to ``high`` (default the largest value); None is ``·``. With more values
    than ``width``, each character shows the worst value of its share of the series. Empty input gives ``""``.
    """
    values = _buckets(list(values or []), width)
    present = [v for v in values if v is not None]
    if not values:
        return u""
    low = 0.0 if low is None else float(low)
    high = (max(present) if present else 0.0) if high is None else float(high)
    span = high - low
    out = []
    for value in values:
        if value is None:
            out.append(SPARK_NO_ANSWER)
            continue
        if span <= 0:
            out.append(SPARK_BARS[0])
            continue
        level = (min(max(value, low), high) - low) / span
        out.append(SPARK_BARS[min(int(level * len(SPARK_BARS)), len(SPARK_BARS) - 1)])
    return u"".join(out)
