"""ef_migration_state against a real throwaway PostgreSQL, through the real ansible-playbook."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from stage import fixtures
from stage.runner import REPO, ansible_env, run_module

BIN = os.path.dirname(sys.executable)

M = fixtures.MIGRATIONS  # InitialCreate, AddFarmerPhoneNumber, AddPayments, AddOrderStatus, WidenOrderAmount
V11 = fixtures.last_migration("v1.1.0")
ACCEPT_V12 = ["public.Orders.Status", "public.Orders.Amount"]


build = fixtures.build_database_in


def history(pg, dbname):
    return pg.execute(dbname, 'SELECT "MigrationId", "ProductVersion" FROM "__EFMigrationsHistory" '
                              'ORDER BY "MigrationId"', fetch=True)


def _dump(pg, dbname, *options):
    out = subprocess.run(["pg_dump", *options, dbname], env=pg.client_env(), capture_output=True, text=True,
                         check=True).stdout
    # pg_dump 15.14+ brackets its output with \restrict/\unrestrict and a random key: not part of the database.
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def schema_dump(pg, dbname):
    return _dump(pg, dbname, "--schema-only", "--no-owner")


def data_dump(pg, dbname):
    return _dump(pg, dbname, "--data-only")


def scripts(dialect):
    return [os.path.join(fixtures.MIGRATIONS_DIR, dialect, "*.sql")]


def args(pg, dbname, **kw):
    base = pg.login_args(dbname)
    base.update(kw)
    return base


def test_read_only_state(pg, dbname):
    build(pg, dbname, "v1.1.0")
    run = run_module("ef_migration_state", args(pg, dbname))
    assert not run.failed, run
    assert not run.changed
    assert run["applied"] == list(M[:3])
    assert run["current"] == V11
    assert run["product_versions"] == {m: "8.0.11" for m in M[:3]}
    assert run["history_table"] == {"schema": "public", "table": "__EFMigrationsHistory",
                                    "id_column": "MigrationId", "version_column": "ProductVersion"}
    again = run_module("ef_migration_state", args(pg, dbname), check=True)
    assert again["applied"] == run["applied"] and not again.changed


@pytest.mark.parametrize("dialect", fixtures.DIALECTS)
def test_roll_back_three_migrations_then_forward_again(pg, dbname, dialect):
    build(pg, dbname, "v1.2.0", dialect)
    target = M[1]  # AddFarmerPhoneNumber: reverts WidenOrderAmount, AddOrderStatus, AddPayments
    accept = ACCEPT_V12 + ["public.Payments"]
    run = run_module("ef_migration_state", args(pg, dbname, target=target, scripts=scripts(dialect),
                                                accept_data_loss=accept))
    assert not run.failed, run
    assert run.changed
    assert run["plan"] == {"target": target, "to_revert": [M[4], M[3], M[2]], "to_apply": []}
    assert [(e["migration"], e["direction"]) for e in run["executed"]] == [(M[4], "down"), (M[3], "down"),
                                                                           (M[2], "down")]
    assert [r[0] for r in history(pg, dbname)] == list(M[:2])
    assert run["current"] == target
    # The schema is exactly what building that state from scratch gives.
    pg.create_database(dbname + "_ref")
    try:
        conn = pg.connect(dbname + "_ref")
        fixtures.build_database(conn, release="v1.0.0", dialect="ef8", seed=False)
        conn.close()
        # Forward with this dialect's scripts from v1.0.0 to the target: the schema must be the same.
        ref = run_module("ef_migration_state", args(pg, dbname + "_ref", target=target, scripts=scripts(dialect)))
        assert not ref.failed, ref
        assert schema_dump(pg, dbname) == schema_dump(pg, dbname + "_ref")
    finally:
        pg.drop_database(dbname + "_ref")

    forward = run_module("ef_migration_state", args(pg, dbname, target=M[4], scripts=scripts(dialect)))
    assert not forward.failed, forward
    assert forward["plan"]["to_apply"] == [M[2], M[3], M[4]]
    assert [r[0] for r in history(pg, dbname)] == list(M)


def test_second_run_changes_nothing(pg, dbname):
    build(pg, dbname)
    first = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=scripts("ef8"),
                                                  accept_data_loss=ACCEPT_V12))
    assert first.changed and not first.failed, first
    before = schema_dump(pg, dbname), data_dump(pg, dbname)
    second = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=scripts("ef8"),
                                                   accept_data_loss=ACCEPT_V12))
    assert not second.failed and not second.changed, second
    assert second["plan"] == {"target": V11, "to_revert": [], "to_apply": []}
    assert "executed" not in second.result
    assert (schema_dump(pg, dbname), data_dump(pg, dbname)) == before


def test_check_mode_shows_plan_and_data_at_risk_and_changes_nothing(pg, dbname):
    build(pg, dbname)
    before = schema_dump(pg, dbname), data_dump(pg, dbname)
    run = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=scripts("ef9"),
                                                accept_data_loss=ACCEPT_V12), check=True, diff=True)
    assert not run.failed, run
    assert run.changed  # it would change
    assert run["plan"]["to_revert"] == [M[4], M[3]]
    losses = {e["object"]: e for e in run["data_loss"]}
    assert losses["public.Orders.Status"]["non_null"] == losses["public.Orders.Status"]["rows"] > 0
    assert losses["public.Orders.Amount"]["values_changed"] > 0
    assert "current: %s" % M[4] in run["diff"]["before"] and "current: %s" % V11 in run["diff"]["after"]
    assert (schema_dump(pg, dbname), data_dump(pg, dbname)) == before


def test_data_loss_is_refused_unless_accepted(pg, dbname):
    build(pg, dbname)
    before = schema_dump(pg, dbname), data_dump(pg, dbname)
    refused = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=scripts("ef8"),
                                                    accept_data_loss=["public.Orders.Status"]))
    assert refused.failed
    assert "would destroy data not listed in accept_data_loss" in refused["msg"]
    assert "public.Orders.Amount" in refused["msg"] and "changed by the type change" in refused["msg"]
    assert "public.Orders.Status" not in refused["msg"].split("add to accept_data_loss:")[1]
    assert (schema_dump(pg, dbname), data_dump(pg, dbname)) == before
    # Accepting the whole table accepts its columns.
    accepted = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=scripts("ef8"),
                                                     accept_data_loss=["public.Orders"]))
    assert not accepted.failed, accepted
    measured = {e["object"]: e for e in accepted["data_loss"]}
    assert measured["public.Orders.Status"]["non_null"] > 0


def test_rollback_of_empty_columns_needs_no_acceptance(pg, dbname):
    build(pg, dbname, "v1.1.0")
    pg.execute(dbname, 'UPDATE "Farmers" SET "PhoneNumber" = NULL; DELETE FROM "Payments"')
    run = run_module("ef_migration_state", args(pg, dbname, target=M[0], scripts=scripts("ef8")))
    assert not run.failed, run
    assert {e["object"]: e["non_null"] if "non_null" in e else e["rows"] for e in run["data_loss"]} == {
        "public.Farmers.PhoneNumber": 0, "public.Payments": 0}


def test_failing_statement_leaves_schema_and_history_exactly_as_before(pg, dbname, tmp_path):
    build(pg, dbname)
    text = fixtures.read_sql(fixtures.rollback_script("ef8", "v1.2.0"))
    broken = text.replace('DROP INDEX "IX_Orders_Status";', 'DROP INDEX "IX_Orders_Statuz";')
    assert broken != text
    path = tmp_path / "rollback_v1.2.0.sql"
    path.write_text(broken)
    before = schema_dump(pg, dbname), history(pg, dbname), data_dump(pg, dbname)
    run = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=[str(path)],
                                                accept_data_loss=ACCEPT_V12))
    assert run.failed
    assert "Migration %s (down) failed at %s:12" % (M[3], path) in run["msg"]
    assert 'index "IX_Orders_Statuz" does not exist' in run["msg"]
    assert "rolled back" in run["msg"]
    # The first block (WidenOrderAmount) had run: it is undone too.
    assert (schema_dump(pg, dbname), history(pg, dbname), data_dump(pg, dbname)) == before


def test_concurrent_run_fails_fast_on_the_lock(pg, dbname, tmp_path):
    # Timing decides nothing here: the test itself holds the locks the runs wait for.
    from ansible_collections.almafrica.rollback.plugins.module_utils.ef.database import advisory_key
    from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import ResolvedHistory

    build(pg, dbname)
    key = advisory_key(ResolvedHistory("__EFMigrationsHistory", "public", "MigrationId", "ProductVersion"))
    rollback = args(pg, dbname, target=V11, scripts=scripts("ef8"), accept_data_loss=ACCEPT_V12)
    before = schema_dump(pg, dbname), data_dump(pg, dbname)

    # 1. Another session (this test) holds the run's advisory lock: the run is refused at once, naming it.
    holder = pg.connect(dbname)
    try:
        holder_pid = holder.get_backend_pid()
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
        refused = run_module("ef_migration_state", rollback)
        assert refused.failed
        assert "Another migration run holds the lock" in refused["msg"]
        assert "pid %d" % holder_pid in refused["msg"]
        assert "nothing was changed" in refused["msg"]
    finally:
        holder.close()
    assert (schema_dump(pg, dbname), data_dump(pg, dbname)) == before

    # 2. A first run holds the advisory lock and waits for a table this test keeps locked (SHARE: reads pass,
    #    the rollback's DDL waits): a second run meanwhile fails fast; the first then finishes.
    blocker = pg.connect(dbname, autocommit=False)
    first = None
    try:
        blocker.cursor().execute('LOCK TABLE "Orders" IN SHARE MODE')
        play = tmp_path / "first.yml"
        task = {"almafrica.rollback.ef_migration_state": dict(rollback, lock_timeout="10min")}
        play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "tasks": [task]}]))
        first = subprocess.Popen([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(play)],
                                 env=ansible_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        waiting = []
        deadline = time.monotonic() + 300  # only a bound for a broken run, never the condition under test
        while not waiting and first.poll() is None and time.monotonic() < deadline:
            waiting = pg.execute(dbname, "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                                         "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                                         "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s "
                                         "AND a.application_name = 'almafrica.rollback' AND a.wait_event_type = 'Lock'",
                                 (key,), fetch=True)
            time.sleep(0.1)
        assert waiting, "the first run never held the lock while waiting for the table (exit %s)" % first.poll()
        # While it runs, the password is on no process's command line.
        leaked = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as fh:
                        if pg.password.encode() in fh.read():
                            leaked.append(pid)
                except OSError:
                    pass
        assert leaked == []
        second = run_module("ef_migration_state", rollback)
        assert second.failed
        assert "Another migration run holds the lock" in second["msg"]
        assert "pid %d" % waiting[0][0] in second["msg"]
        assert "nothing was changed" in second["msg"]
    finally:
        blocker.rollback()
        blocker.close()
        out = first.communicate(timeout=300)[0] if first else ""
    assert first.returncode == 0, out
    assert [r[0] for r in history(pg, dbname)] == list(M[:3])


def test_history_table_held_by_an_application_times_out_cleanly(pg, dbname):
    build(pg, dbname)
    holder = pg.connect(dbname, autocommit=False)
    try:
        holder.cursor().execute('LOCK TABLE "__EFMigrationsHistory" IN ACCESS EXCLUSIVE MODE')
        run = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=scripts("ef8"),
                                                    accept_data_loss=ACCEPT_V12, lock_timeout="1s"))
    finally:
        holder.rollback()
        holder.close()
    assert run.failed
    assert "is locked (an application or tool is migrating)" in run["msg"], run
    assert "Nothing was changed" in run["msg"]
    assert len(history(pg, dbname)) == 5


@pytest.mark.parametrize("target, message", [
    ("20260101000000_Nope", "Unknown target migration 20260101000000_Nope"),
    ("2026-02-01_InitialCreate", "Malformed target"),
    ("Nope", "Unknown target migration name 'Nope'"),
])
def test_bad_targets_fail_clearly_and_change_nothing(pg, dbname, target, message):
    build(pg, dbname)
    before = history(pg, dbname)
    run = run_module("ef_migration_state", args(pg, dbname, target=target, scripts=scripts("ef8")))
    assert run.failed
    assert message in run["msg"] and "Nothing was changed" in run["msg"]
    assert history(pg, dbname) == before


def test_ambiguous_bare_name(pg, dbname, tmp_path):
    build(pg, dbname, "v1.0.0")
    # A later migration with the same name (EF allows it: the timestamps differ).
    extra = tmp_path / "again.sql"
    extra.write_text('START TRANSACTION;\nCREATE TABLE "Tmp" ("Id" integer NOT NULL);\n'
                     'INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")\n'
                     "VALUES ('20260401000000_InitialCreate', '8.0.11');\nCOMMIT;\n")
    run = run_module("ef_migration_state", args(pg, dbname, target="InitialCreate", scripts=[str(extra)]))
    assert run.failed
    assert "Ambiguous target 'InitialCreate'" in run["msg"]


def test_scripts_that_do_not_match_the_database(pg, dbname, tmp_path):
    build(pg, dbname)
    # Only the v1.1.0 rollback script: it has no Down() block for the v1.2.0 migrations.
    run = run_module("ef_migration_state", args(pg, dbname, target=M[0],
                                                scripts=[fixtures.rollback_script("ef8", "v1.1.0")]))
    assert run.failed
    assert "no rollback (Down) script block for migration %s" % M[4] in run["msg"]
    # A script for another history table.
    other = tmp_path / "other.sql"
    other.write_text(fixtures.read_sql(fixtures.rollback_script("ef8", "v1.2.0"))
                     .replace("__EFMigrationsHistory", "__OtherHistory"))
    run = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=[str(other)]))
    assert run.failed and "belong to no migration" in run["msg"]
    missing = run_module("ef_migration_state", args(pg, dbname, target=V11, scripts=[str(tmp_path / "nope*.sql")]))
    assert missing.failed and "No script file matches" in missing["msg"]
    assert len(history(pg, dbname)) == 5


def test_database_never_migrated_is_brought_forward_from_zero(pg, dbname):
    """Like `dotnet ef database update`: the scripts from 0 create the history table, in the same transaction."""
    preview = run_module("ef_migration_state", args(pg, dbname, target=M[4], scripts=scripts("ef8")), check=True)
    assert not preview.failed, preview
    assert preview["plan"]["to_apply"] == list(M) and preview["history_table"]["created"] is False
    assert pg.execute(dbname, "SELECT to_regclass('\"__EFMigrationsHistory\"') IS NULL", fetch=True) == [(True,)]
    run = run_module("ef_migration_state", args(pg, dbname, target=M[4], scripts=scripts("ef8")))
    assert not run.failed, run
    assert run["history_table"]["created"] is True
    assert [r[0] for r in history(pg, dbname)] == list(M)
    ref = dbname + "_ref"
    pg.create_database(ref)
    try:
        conn = pg.connect(ref)
        fixtures.build_database(conn, release="v1.2.0", dialect="ef8", seed=False)
        conn.close()
        assert schema_dump(pg, dbname) == schema_dump(pg, ref)
    finally:
        pg.drop_database(ref)


def test_missing_history_table(pg, dbname):
    run = run_module("ef_migration_state", args(pg, dbname))
    assert run.failed
    assert "History table __EFMigrationsHistory not found" in run["msg"]
    assert "never been migrated" in run["msg"]


def test_wrong_password_and_password_never_in_output(pg, dbname):
    build(pg, dbname, "v1.0.0")
    wrong = "wrong-" + pg.password
    run = run_module("ef_migration_state", args(pg, dbname, login_password=wrong))
    assert run.failed
    assert "Cannot connect to PostgreSQL %s@127.0.0.1:%s" % (dbname, pg.port) in run["msg"]
    assert "password authentication failed" in run["msg"]
    assert wrong not in str(run.result)
    loud = run_module("ef_migration_state", args(pg, dbname, target=M[0], scripts=scripts("ef8")), verbosity=3)
    assert loud.proc.returncode == 0, loud.proc.stdout[-2000:]
    assert "ok: [localhost]" in loud.proc.stdout
    assert pg.password not in loud.proc.stdout + loud.proc.stderr


def test_snake_case_history_in_custom_schema(pg, dbname, tmp_path):
    """EFCore.NamingConventions renames the columns; MigrationsHistoryTable() can move the table."""
    conn = pg.connect(dbname)
    cur = conn.cursor()
    out = []
    for name in ("migrate_v1.0.0", "migrate_v1.1.0", "rollback_v1.1.0"):
        text = fixtures.read_sql(fixtures.script_paths("ef8")[name])
        text = (text.replace('"__EFMigrationsHistory"', 'ef."__ef_migrations_history"')
                .replace('"MigrationId"', '"migration_id"').replace('"ProductVersion"', '"product_version"')
                .replace('CONSTRAINT "PK___EFMigrationsHistory"', 'CONSTRAINT pk___ef_migrations_history'))
        path = tmp_path / (name + ".sql")
        path.write_text(text)
        out.append(str(path))
    cur.execute("CREATE SCHEMA ef")
    fixtures.apply_sql_file(conn, out[0])
    fixtures.apply_sql_file(conn, out[1])
    conn.close()
    run = run_module("ef_migration_state", args(pg, dbname, history_table="__ef_migrations_history",
                                                target=M[0], scripts=out, accept_data_loss=["*"]))
    assert not run.failed, run
    assert run["history_table"] == {"schema": "ef", "table": "__ef_migrations_history", "id_column": "migration_id",
                                    "version_column": "product_version"}
    assert run["applied"] == [M[0]]


def test_ansible_adhoc_command_works_as_documented(pg, dbname):
    """`ansible localhost -m almafrica.rollback.ef_migration_state -a ...` (password from PGPASSWORD, off argv)."""
    build(pg, dbname, "v1.0.0")
    env = ansible_env({"PGPASSWORD": pg.password})
    proc = subprocess.run([os.path.join(BIN, "ansible"), "localhost",
                           "-c", "local", "-m", "almafrica.rollback.ef_migration_state", "-a",
                           "login_host=127.0.0.1 login_port=%s login_db=%s" % (pg.port, dbname)],
                          env=env, capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"current": "%s"' % M[0] in proc.stdout


def test_ansible_doc_renders():
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"),
                           "almafrica.rollback.ef_migration_state"], env=ansible_env(), capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for option in ("accept_data_loss", "executor", "scripts", "login_password", "lock_timeout"):
        assert option in proc.stdout
