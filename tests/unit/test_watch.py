"""The watch window's arithmetic: percentiles, per-endpoint statistics, the verdict, the sparkline."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.almafrica.rollback.plugins.filter.report import sparkline as sparkline_filter
from ansible_collections.almafrica.rollback.plugins.module_utils.web.watch import (
    SPARK_BARS, endpoint_stats, percentile, sparkline, verdict)


def samples(latencies, errors=()):
    return [{"t": i, "ms": ms, "status": None if ms is None else (500 if i in errors else 200),
             "error": ms is None or i in errors} for i, ms in enumerate(latencies)]


def test_percentile_is_nearest_rank():
    values = list(range(1, 21))  # 1..20
    assert percentile(values, 50) == 10
    assert percentile(values, 95) == 19
    assert percentile(values, 100) == 20
    assert percentile(values, 0) == 1
    assert percentile([7], 95) == 7
    assert percentile([], 95) is None
    assert percentile([None, 3, None], 50) == 3


def test_one_slow_probe_in_twenty_does_not_move_p95_but_two_do():
    assert percentile([10] * 19 + [2000], 95) == 10
    assert percentile([10] * 18 + [2000, 2000], 95) == 2000


def test_endpoint_stats_count_errors_and_ignore_missing_latencies():
    stats = endpoint_stats(samples([10, 20, None, 30, 40], errors=(3,)))
    assert stats == {"requests": 5, "errors": 2, "error_rate": 0.4, "p50_ms": 20, "p95_ms": 40, "max_ms": 40}
    assert endpoint_stats([]) == {"requests": 0, "errors": 0, "error_rate": 0.0, "p50_ms": None, "p95_ms": None,
                                  "max_ms": None}


def test_verdict_names_the_measured_value_and_the_limit():
    stats = endpoint_stats(samples([5] * 20, errors=(0,)))
    assert verdict("/api/orders", stats, 0.01, 1000) == [
        "/api/orders: error rate 5.0% (1 of 20 requests) exceeds 1.0%"]
    slow = endpoint_stats(samples([2000] * 10))
    assert verdict("/api/farmers", slow, 0.01, 1000) == [
        "/api/farmers: p95 latency 2000 ms exceeds 1000 ms (p50 2000 ms, max 2000 ms)"]
    assert verdict("/health", endpoint_stats(samples([5] * 10)), 0.01, 1000) == []
    assert verdict("/health", endpoint_stats([]), 0.01, 1000) == ["/health: no request completed in the window"]


def test_the_limits_are_strict_upper_bounds():
    at_limit = endpoint_stats(samples([1000] * 100, errors=(0,)))
    assert at_limit["error_rate"] == 0.01 and at_limit["p95_ms"] == 1000
    assert verdict("x", at_limit, 0.01, 1000) == []


def test_sparkline_scales_from_zero_to_the_highest_value():
    assert sparkline([0, 50, 100]) == SPARK_BARS[0] + SPARK_BARS[4] + SPARK_BARS[7]
    assert sparkline([10, 10, 10]) == SPARK_BARS[7] * 3  # 10 of 10: bars scale from 0, so the top bar
    assert sparkline([]) == ""
    assert sparkline([None, 5]) == u"\u00b7" + SPARK_BARS[7]
    assert sparkline([None, None]) == u"\u00b7\u00b7"
    assert sparkline([0, 0]) == SPARK_BARS[0] * 2


def test_sparkline_with_fixed_bounds_and_long_series():
    assert sparkline([500, 1000, 2000], low=0, high=1000) == SPARK_BARS[4] + SPARK_BARS[7] + SPARK_BARS[7]
    line = sparkline([1] * 99 + [100], width=10)
    assert len(line) == 10 and line[-1] == SPARK_BARS[7] and set(line[:-1]) == {SPARK_BARS[0]}


def test_sparkline_filter_checks_its_input():
    assert sparkline_filter([1, "2", None], width=3) == sparkline([1.0, 2.0, None])
    assert sparkline_filter(None) == ""
    with pytest.raises(AnsibleFilterError):
        sparkline_filter("12")
    with pytest.raises(AnsibleFilterError):
        sparkline_filter([1, "slow"])
