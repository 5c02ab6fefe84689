"""ef_migration_lint through the real ansible-playbook: results, failure threshold, check mode, bad input."""
from __future__ import annotations

import os

from stage.runner import run_module
from stage import fixtures

HERE = os.path.dirname(os.path.abspath(__file__))
CS = os.path.join(os.path.dirname(HERE), "stage", "cs_migrations")
ALMAFRICA = os.path.join(CS, "almafrica")
BROKEN = os.path.join(CS, "broken")


def test_staging_kit_folder_passes_with_its_data_loss_listed():
    run = run_module("ef_migration_lint", {"path": ALMAFRICA})
    assert not run.failed, run
    assert not run.changed
    # Four Down()s drop only what their own Up() created (one info each); one narrows a column (a warning).
    assert run["counts"] == {"migrations": 5, "linted": 5, "skipped": 0, "ignored": 0,
                             "error": 0, "warning": 1, "info": 4}
    assert run["status"] == {m: ("1 warning" if m.endswith("WidenOrderAmount") else "1 info") for m in fixtures.MIGRATIONS}
    # Only the warning is listed; the four infos (dropping what Up() created) are counted.
    assert [m["id"] for m in run["migrations"]] == ["20260310140000_WidenOrderAmount"]
    assert set(run["migrations"][0]) == {"id", "context", "ignored", "counts", "findings"}
    assert run["infos"] == {"drops_created": 4}
    assert run["contexts"] == {"AlmafricaDbContext": 5} and run["provider"] == "Npgsql"
    assert run["msg"].startswith("5 of 5 migrations linted under ") and "0 errors, 1 warning, 4 infos" in run["msg"]
    detailed = run_module("ef_migration_lint", {"path": ALMAFRICA, "details": True})
    assert detailed["contexts"] == {"AlmafricaDbContext": list(fixtures.MIGRATIONS)}
    assert all(len(m["files"]) == 2 and m["linted"] for m in detailed["migrations"])
    assert [f["kind"] for m in detailed["migrations"] for f in m["findings"]].count("drops_created") == 4


def test_a_clean_migration_is_a_status_line_only_and_the_time_limit_names_the_file(tmp_path):
    since = run_module("ef_migration_lint", {"path": ALMAFRICA, "since": "AddOrderStatus"})
    assert not since.failed and [m["id"] for m in since["migrations"]] == ["20260310140000_WidenOrderAmount"]
    assert since["status"]["20260201120000_InitialCreate"] == "not linted (at or before since)"
    stopped = run_module("ef_migration_lint", {"path": ALMAFRICA, "timeout": 0.000001})
    assert stopped.failed and "time limit of 1e-06 s while reading 20260201120000_InitialCreate" in stopped["msg"]


def test_broken_folder_fails_naming_migrations_and_keeps_what_it_learned():
    run = run_module("ef_migration_lint", {"path": BROKEN})
    assert run.failed
    msg = run["msg"]
    assert "error(s)" in msg and "20260402000000_AddFarmerRegion [error missing_down]" in msg
    assert len(run["migrations"]) == 15 and run["counts"]["error"] > 10


def test_fail_on_warning_fails_on_data_loss_and_ignore_with_reasons_lets_it_pass():
    strict = run_module("ef_migration_lint", {"path": ALMAFRICA, "fail_on": "warning"})
    assert strict.failed and "Down() destroys data: changes column Orders.Amount" in strict["msg"]
    assert "InitialCreate" not in strict["msg"].split("\n")[1]  # dropping what Up() created is not a warning
    ignore = [{"id": m, "reason": "rollback data loss accepted"} for m in fixtures.MIGRATIONS]
    accepted = run_module("ef_migration_lint", {"path": ALMAFRICA, "fail_on": "warning", "ignore": ignore})
    assert not accepted.failed, accepted
    assert all(m["ignored"] and m["ignore_reason"] == "rollback data loss accepted" for m in accepted["migrations"])


def test_since_limits_the_check_to_new_migrations_in_check_mode_too():
    args = {"path": BROKEN, "since": "20260413000000_Truncated"}
    normal = run_module("ef_migration_lint", args)
    checked = run_module("ef_migration_lint", args, check=True)
    for run in (normal, checked):
        # Only the newer migration and the unrecognised one (no MigrationId, so always linted) count.
        assert run.failed and run["counts"]["linted"] == 2 and run["counts"]["skipped"] == 13
        assert "AddFarmerEmail [error not_recognised]" in run["msg"] and "AddFarmerRegion" not in run["msg"]
    assert normal["counts"] == checked["counts"]
    clean = run_module("ef_migration_lint", {"path": ALMAFRICA, "since": "AddOrderStatus"}, check=True)
    assert not clean.failed and clean["counts"]["linted"] == 1 and clean["since"] == "20260301100000_AddOrderStatus"


def test_bad_input_fails_with_a_message_that_says_how_to_fix_it(tmp_path):
    missing = run_module("ef_migration_lint", {"path": str(tmp_path / "nope")})
    assert missing.failed and "does not exist" in missing["msg"]
    unknown = run_module("ef_migration_lint", {"path": ALMAFRICA, "since": "NotAMigration"})
    assert unknown.failed and "names no migration in the folder" in unknown["msg"]
    typo = run_module("ef_migration_lint", {"path": ALMAFRICA, "since": "20990101000000_Typo"})
    assert typo.failed and "names no migration" in typo["msg"] and "Closest" in typo["msg"]
    no_reason = run_module("ef_migration_lint", {"path": ALMAFRICA, "ignore": [{"id": "InitialCreate"}]})
    assert no_reason.failed and "reason" in no_reason["msg"]
