"""The staging kit's fault switches and ASP.NET Core console format (pure parts of stage.coolify / stage.app)."""
from __future__ import annotations

import pytest

from stage import aspnet_log
from stage.app_faults import ERROR_RATE_ENV, LATENCY_ENV, AppFaults, format_switch, parse_switch
from stage.coolify import Faults


def test_error_rate_fails_the_first_request_and_then_one_in_twenty():
    faults = AppFaults({ERROR_RATE_ENV: "/api/orders=0.05"})
    failed = [n for n in range(1, 101) if faults.should_fail("/api/orders")]
    assert failed == [1, 21, 41, 61, 81]
    assert not any(faults.should_fail("/api/farmers") for _ignored in range(50))


def test_latency_and_switch_parsing():
    faults = AppFaults({LATENCY_ENV: "/api/farmers=2000,/health/=5"})
    assert faults.delay("/api/farmers") == 2.0 and faults.delay("/health") == 0.005 and faults.delay("/x") == 0
    assert parse_switch(format_switch({"/a": 0.5, "/b": 1})) == {"/a": 0.5, "/b": 1.0}
    with pytest.raises(ValueError):
        parse_switch("api/orders=0.05")
    with pytest.raises(ValueError):
        parse_switch("/api/orders=often")


def test_coolify_faults_configure_and_the_env_given_to_deployed_containers():
    faults = Faults()
    faults.configure({"missing_images": ["v1.1.0"], "uninspectable": True,
                      "error_rate_after_deploy": {"/api/orders": 0.05}, "latency_after_deploy": {"/api/farmers": 2000}})
    assert faults.missing_images == {"v1.1.0"} and faults.uninspectable
    assert faults.app_env() == {ERROR_RATE_ENV: "/api/orders=0.05", LATENCY_ENV: "/api/farmers=2000"}
    assert Faults().app_env() == {}
    with pytest.raises(ValueError, match="unknown fault switch 'image_gone'"):
        Faults().configure({"image_gone": True})


def test_simple_console_entries_look_like_aspnet_cores():
    entry = aspnet_log.format_entry("error", "Microsoft.EntityFrameworkCore.Database.Command", 20102,
                                    "Failed executing DbCommand (3ms)\nSELECT 1", "Npgsql.PostgresException (0x80004005)")
    assert entry.splitlines() == ["fail: Microsoft.EntityFrameworkCore.Database.Command[20102]",
                                  "      Failed executing DbCommand (3ms)", "      SELECT 1",
                                  "      Npgsql.PostgresException (0x80004005)"]
    assert aspnet_log.ef_sql('SELECT f."Id" FROM "Farmers" AS f WHERE f."Id" = %s LIMIT %s') == \
        'SELECT f."Id" FROM "Farmers" AS f WHERE f."Id" = @__p_0 LIMIT @__p_1'
