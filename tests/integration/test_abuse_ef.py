"""ef_migration_state against a hostile or careless rollback script (issue 9, defect 1 and its principles).

Each case injects statements into the real EF 8 rollback script of v1.2.0 (between its two migration blocks, inside
the block of AddOrderStatus, after the last block, or into the EF 9 single-transaction script) and runs the module
through ansible-playbook against a real PostgreSQL. Every case must fail with a clear message (or, in check mode,
list what it would refuse) and leave pg_dump of schema AND data byte-identical.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from stage import fixtures
from stage.runner import REPO, ansible_env, run_module, run_playbook

M = fixtures.MIGRATIONS  # InitialCreate, AddFarmerPhoneNumber, AddPayments, AddOrderStatus, WidenOrderAmount
V11 = fixtures.last_migration("v1.1.0")
ACCEPT_V12 = ["public.Orders.Status", "public.Orders.Amount"]
HISTORY_DELETE_M3 = 'DELETE FROM "__EFMigrationsHistory"\nWHERE "MigrationId" = \'%s\';' % M[3]

EXTRAS = """
CREATE SCHEMA audit;
CREATE TABLE audit."Log" ("Id" serial PRIMARY KEY, "Text" text NOT NULL);
INSERT INTO audit."Log" ("Text") SELECT 'entry ' || g FROM generate_series(1, 500) g;
CREATE DOMAIN phone AS character varying(32);
CREATE TABLE "Contacts" ("Id" serial PRIMARY KEY, "Phone" phone);
INSERT INTO "Contacts" ("Phone") SELECT '+254700' || g FROM generate_series(1, 40) g;
CREATE VIEW "FarmerNames" AS SELECT "Name" FROM "Farmers";
"""


def _dump(pg, dbname):
    out = []
    for option in ("--schema-only", "--data-only"):
        text = subprocess.run(["pg_dump", option, "--no-owner", dbname], env=pg.client_env(), capture_output=True,
                              text=True, check=True).stdout
        # pg_dump 15.14+ brackets its output with \restrict/\unrestrict and a random key: not part of the database.
        out.append("\n".join(line for line in text.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))))
    return out


@pytest.fixture
def db(pg, dbname):
    fixtures.build_database_in(pg, dbname)
    pg.execute(dbname, EXTRAS)
    return dbname


def _rollback_text(dialect="ef8"):
    return fixtures.read_sql(fixtures.rollback_script(dialect, "v1.2.0"))


def inject(tmp_path, where, text, dialect="ef8"):
    """The v1.2.0 rollback script with ``text`` put ``between`` the blocks, ``inside`` the AddOrderStatus block
    (before its history DELETE) or ``after`` the last block."""
    script = _rollback_text(dialect)
    if where == "between":
        first_commit = script.index("COMMIT;") + len("COMMIT;\n")
        script = script[:first_commit] + "\n" + text + "\n" + script[first_commit:]
    elif where == "inside":
        assert HISTORY_DELETE_M3 in script
        script = script.replace(HISTORY_DELETE_M3, text + "\n\n" + HISTORY_DELETE_M3)
    else:
        script = script + "\n" + text + "\n"
    path = tmp_path / "rollback_v1.2.0.sql"
    path.write_text(script, encoding="utf-8")
    return str(path)


def args(pg, dbname, path, **kw):
    base = dict(pg.login_args(dbname), target=V11, scripts=[path], accept_data_loss=ACCEPT_V12)
    base.update(kw)
    return base


OUTSIDE = "statement outside EF's migration blocks"
UNVERIFIED = "cannot be measured (unverified)"
LOSS = "would destroy data not listed in accept_data_loss"

CASES = [
    # The four bypasses of defect 1.
    ("do_execute_between_blocks", "between", "DO $$ BEGIN EXECUTE 'DROP TABLE \"Payments\"'; END $$;",
     [OUTSIDE, ":10:", "after COMMIT"]),
    ("set_search_path_then_drop", "inside", 'SET search_path TO audit;\n\nDROP TABLE "Log";',
     [UNVERIFIED, "SET/RESET", "accept_unverified: %s" % M[3]]),
    ("drop_domain_cascade", "inside", "DROP DOMAIN phone CASCADE;", [LOSS, "public.Contacts.Phone", "40 non-null"]),
    ("update_between_blocks", "between", 'UPDATE "Farmers" SET "Name" = \'x\';', [OUTSIDE, "UPDATE"]),
    # Variants of the same kinds.
    ("update_inside_block", "inside", 'UPDATE "Farmers" SET "Name" = \'x\';',
     [LOSS, "public.Farmers.Name", "overwritten"]),
    ("statement_after_last_block", "after", 'DROP TABLE "Payments";', [OUTSIDE, "after COMMIT"]),
    ("second_commit_then_ddl", "between", 'COMMIT;\nDROP TABLE "Payments";', [OUTSIDE, "COMMIT with no open"]),
    ("reset_all", "inside", "RESET ALL;", [UNVERIFIED, "SET/RESET"]),
    ("set_role", "inside", "SET ROLE NONE;", [UNVERIFIED, "SET/RESET"]),
    ("terminate_backends", "inside", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE pid <> pg_backend_pid();", [UNVERIFIED, "SELECT"]),
    ("copy_from_program", "inside", "COPY \"Farmers\" (\"Name\") FROM PROGRAM 'echo x';", [UNVERIFIED, "CopyStmt"]),
    ("create_rule", "inside", 'CREATE RULE "keep" AS ON DELETE TO "__EFMigrationsHistory" DO INSTEAD NOTHING;',
     [UNVERIFIED, "RuleStmt"]),
    ("alter_type_using_expression", "inside", 'ALTER TABLE "Farmers" ALTER COLUMN "Name" TYPE text USING \'x\';',
     [UNVERIFIED, "USING"]),
    ("unicode_escaped_identifier", "inside", 'DROP TABLE U&"Pa\\0079ments";', [LOSS, "public.Payments"]),
    ("comment_hidden_between", "between", '/* generated */ DROP TABLE "Payments"; -- cleanup', [OUTSIDE, "DROP TABLE"]),
    ("comment_hidden_inside", "inside", "-- DELETE FROM \"__EFMigrationsHistory\" WHERE 1 = 1;\n"
                                        'DROP TABLE "Payments";', [LOSS, "public.Payments"]),
    ("drop_schema_cascade", "inside", "DROP SCHEMA audit CASCADE;", [LOSS, "audit.Log"]),
    ("truncate_cascade", "inside", 'TRUNCATE "Farmers" CASCADE;', [LOSS, "public.Farmers", "public.Orders"]),
    ("update_with_subselect", "inside", 'UPDATE "Farmers" SET "Name" = (SELECT min("Name") FROM "Farmers");',
     [UNVERIFIED, "not a constant"]),
    ("insert_select", "inside", 'INSERT INTO "Payments" SELECT * FROM "Payments";', [UNVERIFIED, "INSERT ... SELECT"]),
    ("delete_with_where", "inside", 'DELETE FROM "Payments" WHERE "Id" > 0;', [LOSS, "public.Payments"]),
    ("drop_table_cascade_takes_view", "inside", 'DROP TABLE "Farmers" CASCADE;', [LOSS, "public.Farmers"]),
    ("create_or_replace_function", "inside", "CREATE OR REPLACE FUNCTION now() RETURNS timestamptz LANGUAGE sql "
                                             "AS $$ SELECT 'epoch'::timestamptz $$;", [UNVERIFIED, "REPLACE"]),
    ("rollback_statement", "inside", "ROLLBACK;", [OUTSIDE, "transaction statement"]),
]


@pytest.mark.parametrize("name, where, text, expected", CASES, ids=[c[0] for c in CASES])
def test_abuse_is_refused_and_changes_nothing(pg, db, tmp_path, name, where, text, expected):
    path = inject(tmp_path, where, text)
    before = _dump(pg, db)
    run = run_module("ef_migration_state", args(pg, db, path))
    assert run.failed, run
    for fragment in expected:
        assert fragment in run["msg"], (fragment, run["msg"])
    assert "Nothing was changed" in run["msg"] or "nothing was changed" in run["msg"]
    assert "executed" not in run.result
    assert pg.password not in json.dumps(run.result)
    assert _dump(pg, db) == before


def test_ef9_single_transaction_do_block_is_unverified(pg, dbname, tmp_path):
    """EF 9 writes one transaction for the script: a DO block between two migrations belongs to the next one."""
    fixtures.build_database_in(pg, dbname, dialect="ef9")
    script = _rollback_text("ef9")
    marker = 'ALTER TABLE "Orders" DROP COLUMN "Status";'
    assert marker in script
    evil = script.replace(marker, "DO $$ BEGIN EXECUTE 'DROP TABLE \"Payments\"'; END $$;\n\n" + marker)
    path = tmp_path / "rollback_v1.2.0.sql"
    path.write_text(evil)
    before = _dump(pg, dbname)
    run = run_module("ef_migration_state", args(pg, dbname, str(path)))
    assert run.failed and UNVERIFIED in run["msg"] and "procedural code (DO block)" in run["msg"], run
    assert _dump(pg, dbname) == before


def test_check_mode_lists_unverified_statements_and_what_a_cascade_would_take(pg, db, tmp_path):
    path = inject(tmp_path, "inside", "SET search_path TO audit;\n\nDROP DOMAIN phone CASCADE;\n\n"
                                      'DROP TABLE "Farmers" CASCADE;')
    before = _dump(pg, db)
    run = run_module("ef_migration_state", args(pg, db, path, accept_data_loss=["*"]), check=True, diff=True)
    assert not run.failed, run
    assert run.changed
    text = open(path, encoding="utf-8").read()
    line = text[:text.index("SET search_path")].count("\n") + 1
    assert [(u["line"], u["migration"], u["accepted"], u["statement"]) for u in run["unverified"]] == [
        (line, M[3], False, "SET search_path TO audit")]
    assert any("accept_unverified" in w for w in run.get("warnings", []))
    cascade = {(e["operation"], e["object"]): e for e in run["data_loss"] if e.get("via")}
    assert cascade[("cascade_drop_column", "public.Contacts.Phone")]["non_null"] == 40
    assert ("cascade_drop_view", "public.FarmerNames") in cascade
    after = run["diff"]["after"]
    assert "unverified statements" in after and "%s:%d" % (path, line) in after and "SET search_path TO audit" in after
    assert "what a CASCADE would take:" in after
    assert "public.phone: drop_column public.Contacts.Phone (40 non-null values)" in after
    assert "public.Farmers: drop_view public.FarmerNames" in after
    assert _dump(pg, db) == before


def test_names_resolve_as_postgresql_will_inside_the_transaction(pg, db, tmp_path):
    """SET search_path accepted: the DROP TABLE "Log" that follows is measured as audit.Log (500 rows), not as
    public.Log, right before it runs, and refused."""
    path = inject(tmp_path, "inside", 'SET search_path TO audit;\n\nDROP TABLE "Log";')
    before = _dump(pg, db)
    run = run_module("ef_migration_state", args(pg, db, path, accept_unverified=["AddOrderStatus"]))
    assert run.failed, run
    assert "Refused inside the transaction" in run["msg"] and "audit.Log" in run["msg"] and "500" in run["msg"]
    assert _dump(pg, db) == before


def test_accept_unverified_by_id_or_name_runs_the_statement(pg, db, tmp_path):
    path = inject(tmp_path, "inside", 'DO $$ BEGIN CREATE TABLE "Marker" ("Id" integer); END $$;')
    other = run_module("ef_migration_state", args(pg, db, path, accept_unverified=[M[4]]))
    assert other.failed and "add to accept_unverified: %s" % M[3] in other["msg"], other
    run = run_module("ef_migration_state", args(pg, db, path, accept_unverified=[M[3]]))
    assert not run.failed, run
    assert [u["accepted"] for u in run["unverified"]] == [True]
    assert pg.execute(db, "SELECT to_regclass('\"Marker\"') IS NOT NULL", fetch=True) == [(True,)]
    assert run["current"] == V11 and set(run["timings"]) == {M[3], M[4]}


def test_password_never_in_verbose_output(pg, db, tmp_path):
    path = inject(tmp_path, "between", 'UPDATE "Farmers" SET "Name" = \'x\';')
    loud = run_module("ef_migration_state", args(pg, db, path), verbosity=3)
    assert "statement outside EF's migration blocks" in loud.proc.stdout
    assert pg.password not in loud.proc.stdout + loud.proc.stderr


# -- bounded work, errors that keep their cause --------------------------------------------------------------------
def _run_with_timeout(task_args, timeout, tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "tasks": [{"almafrica.rollback.ef_migration_state": task_args}]}]))
    proc = run_playbook(str(play), json_output=True, timeout=timeout)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_fifo_in_scripts_folder_is_refused_not_read(pg, db, tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "rollback_v1.2.0.sql").write_text(_rollback_text())
    os.mkfifo(folder / "zz_pipe.sql")
    before = _dump(pg, db)
    result = _run_with_timeout(args(pg, db, str(folder)), 120, tmp_path)
    assert result.get("failed"), result
    assert "zz_pipe.sql is a FIFO (named pipe), not a regular file" in result["msg"]
    named = _run_with_timeout(args(pg, db, str(folder / "zz_pipe.sql")), 120, tmp_path)
    assert named.get("failed") and "not a regular file" in named["msg"], named
    assert _dump(pg, db) == before


def test_connection_killed_mid_transaction_keeps_the_cause_and_says_nothing_was_committed(pg, db, tmp_path):
    path = inject(tmp_path, "inside", "SELECT pg_sleep(60);")
    play = tmp_path / "slow.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        {"almafrica.rollback.ef_migration_state": args(pg, db, path, accept_unverified=[M[3]])}]}]))
    before = _dump(pg, db)
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"})
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                             str(play)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        pid = None
        while time.monotonic() < deadline and pid is None:
            rows = pg.execute(db, "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'", fetch=True)
            pid = rows[0][0] if rows else None
            time.sleep(0.2)
        assert pid, "the run never reached its slow statement"
        leaked = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as fh:
                        if pg.password.encode() in fh.read():
                            leaked.append(entry)
                except OSError:
                    pass
        assert leaked == []
        assert pg.execute("postgres", "SELECT pg_terminate_backend(%s)", (pid,), fetch=True) == [(True,)]
    finally:
        out, err = proc.communicate(timeout=180)
    result = json.loads(out)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result.get("failed"), result
    msg = result["msg"]
    # libpq's own words for the cause: the FATAL message when it arrived first, else the closed socket.
    assert "terminating connection due to administrator command" in msg \
        or "server closed the connection unexpectedly" in msg, msg
    assert "Nothing was committed" in msg and "without 'target'" in msg
    assert "connection already closed" not in msg
    assert "while running migration %s at %s:" % (M[3], path) in msg
    assert pg.password not in out + err
    assert _dump(pg, db) == before
