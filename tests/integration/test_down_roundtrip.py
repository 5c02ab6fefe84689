"""playbooks/test_down.yml through the real ansible-playbook, on a scratch database of the throwaway PostgreSQL.

The staging kit's migrations pass the up-down-up round trip; copies of its EF 8 scripts with a broken Down()
(one forgets to drop an index, one restores a column with another type) are caught, with a schema diff that names
the object.
"""
from __future__ import annotations

import json
import os
import shutil

import yaml

from stage import fixtures
from stage.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "test_down.yml")
M = fixtures.MIGRATIONS  # InitialCreate, AddFarmerPhoneNumber, AddPayments, AddOrderStatus, WidenOrderAmount
EF8 = os.path.join(fixtures.MIGRATIONS_DIR, "ef8")
DOWN_STEP = "Check that Down() restores the schema"
UNREACHED_STEP = "Bring the database to the migration before, and fingerprint it"


def run_test_down(pg, dbname, tmp_path, scripts, **extra):
    """Run the playbook; the password reaches it through PGPASSWORD (libpq's variable), not a file or argv."""
    report = tmp_path / "report.json"
    variables = {"test_down_db_host": pg.host, "test_down_db_port": pg.port, "test_down_db_user": pg.superuser,
                 "test_down_db_name": dbname, "test_down_scripts": [str(s) for s in scripts],
                 "test_down_report_file": str(report)}
    variables.update(extra)
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(yaml.safe_dump(variables))
    # YAML results (as the checkout's ansible.cfg asks) so that the diff lines read as they are, whatever the cfg says.
    proc = run_playbook(PLAYBOOK, "-e", "@%s" % vars_file,
                        env={"PGPASSWORD": pg.password, "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"})
    assert pg.password not in proc.stdout + proc.stderr
    summary = json.loads(report.read_text()) if report.exists() else None
    return proc, summary


def output(proc):
    return proc.stdout + proc.stderr


def applied(pg, dbname):
    conn = pg.connect(dbname)
    try:
        return fixtures.applied_migrations(conn)
    finally:
        conn.close()


def broken_copy(tmp_path, name, script, old, new):
    """A copy of the EF 8 scripts with one edit in ``script`` (the edit must apply)."""
    folder = tmp_path / name
    shutil.copytree(EF8, folder)
    path = folder / script
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (script, old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_staging_kit_migrations_pass(pg, dbname, tmp_path):
    proc, summary = run_test_down(pg, dbname, tmp_path, [EF8])
    assert proc.returncode == 0, output(proc)
    assert summary == {"checked": 5, "passed": list(M), "failing": [], "not_checked": []}
    assert "5 migrations checked, 0 failing" in proc.stdout
    # It created the empty EF history table, and leaves the database at the last migration (up-down-up).
    assert applied(pg, dbname) == list(M)


def test_a_subset_with_idempotent_scripts(pg, dbname, tmp_path):
    idempotent = os.path.join(fixtures.MIGRATIONS_DIR, "idempotent")
    proc, summary = run_test_down(pg, dbname, tmp_path, [idempotent], test_down_migrations=[M[3]])
    assert proc.returncode == 0, output(proc)
    assert summary == {"checked": 1, "passed": [M[3]], "failing": [], "not_checked": []}
    # The migrations before the one checked were applied on the way, none after it.
    assert applied(pg, dbname) == list(M[:4])


def test_a_rollback_that_forgets_to_drop_an_index_is_caught(pg, dbname, tmp_path):
    # AddOrderStatus's Up() also indexes Orders (FarmerId, CreatedAt); its Down() drops Status and its index only.
    index = 'CREATE INDEX "IX_Orders_Status" ON "Orders" ("Status");\n'
    scripts = broken_copy(tmp_path, "forgotten_index", "migrate_v1.2.0.sql", index,
                          index + '\nCREATE INDEX "IX_Orders_FarmerId_CreatedAt" ON "Orders" ("FarmerId", "CreatedAt");\n')
    proc, summary = run_test_down(pg, dbname, tmp_path, [scripts])
    assert proc.returncode != 0
    assert summary["passed"] == list(M[:3])
    assert [f["migration"] for f in summary["failing"]] == [M[3]]
    failing = summary["failing"][0]
    assert failing["step"] == DOWN_STEP and failing["previous"] == M[2]
    assert failing["error"] == "Down() of %s does not restore the schema of %s:" % (M[3], M[2])
    diff = failing["diff"].splitlines()
    assert diff[:2] == ["--- schema at %s (before Up)" % M[2], "+++ schema after Down() of %s" % M[3]]
    added = [line for line in diff if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    assert removed == []
    assert added == ['+index "public"."Orders" "IX_Orders_FarmerId_CreatedAt": CREATE INDEX '
                     '"IX_Orders_FarmerId_CreatedAt" ON public."Orders" USING btree ("FarmerId", "CreatedAt")']
    # The leftover index makes Up() fail again: the next migration cannot be reached, and says why.
    assert [n["migration"] for n in summary["not_checked"]] == [M[4]]
    assert 'relation "IX_Orders_FarmerId_CreatedAt" already exists' in summary["not_checked"][0]["error"]
    assert summary["checked"] == 4
    # The play shows the diff and ends with a summary naming the migration.
    assert '+index "public"."Orders" "IX_Orders_FarmerId_CreatedAt"' in proc.stdout
    assert "1 of 4 migrations fail the up-down-up round trip: %s" % M[3] in output(proc)
    assert "not checked (the database could not reach the migration before them): %s" % M[4] in output(proc)


def test_a_rollback_that_restores_a_column_with_another_type_is_caught(pg, dbname, tmp_path):
    scripts = broken_copy(tmp_path, "wrong_type", "rollback_v1.2.0.sql",
                          'ALTER TABLE "Orders" ALTER COLUMN "Amount" TYPE numeric(12,2);',
                          'ALTER TABLE "Orders" ALTER COLUMN "Amount" TYPE numeric(14,2);')
    proc, summary = run_test_down(pg, dbname, tmp_path, [scripts])
    assert proc.returncode != 0
    assert summary["passed"] == list(M[:4]) and summary["not_checked"] == [] and summary["checked"] == 5
    assert [f["migration"] for f in summary["failing"]] == [M[4]]
    failing = summary["failing"][0]
    assert failing["step"] == DOWN_STEP
    changes = [line for line in failing["diff"].splitlines()[2:] if line[:1] in "+-"]
    assert changes == ['-column "public"."Orders" "Amount" numeric(12,2) not null',
                       '+column "public"."Orders" "Amount" numeric(14,2) not null']
    assert '+column "public"."Orders" "Amount" numeric(14,2) not null' in proc.stdout
    assert "1 of 5 migrations fail the up-down-up round trip: %s" % M[4] in output(proc)


def test_migrations_without_a_rollback_script_fail_at_the_down_step(pg, dbname, tmp_path):
    forward_only = [os.path.join(EF8, "migrate_*.sql")]
    proc, summary = run_test_down(pg, dbname, tmp_path, forward_only, test_down_migrations=[M[0], M[1]])
    assert proc.returncode != 0
    assert [f["migration"] for f in summary["failing"]] == [M[0], M[1]]
    for failing in summary["failing"]:
        assert failing["step"] == "Roll the migration back (Down)"
        assert "no rollback (Down) script block for migration %s" % failing["migration"] in failing["error"]
        assert failing["diff"] == ""


def test_refuses_a_database_that_is_not_a_scratch_one(pg, dbname, tmp_path):
    conn = pg.connect(dbname)
    try:
        fixtures.build_database(conn, release="v1.0.0")
    finally:
        conn.close()
    proc, summary = run_test_down(pg, dbname, tmp_path, [EF8])
    assert proc.returncode != 0 and summary is None
    assert "The database has 1 migration(s) applied (current %s)" % M[0] in output(proc)
    assert pg.execute(dbname, 'SELECT count(*) FROM "Farmers"', fetch=True)[0][0] > 0
    assert applied(pg, dbname) == [M[0]]


def test_unknown_migration_to_check(pg, dbname, tmp_path):
    proc, summary = run_test_down(pg, dbname, tmp_path, [EF8], test_down_migrations=["20990101000000_Nope"])
    assert proc.returncode != 0 and summary is None
    assert "No forward (Up) script block for 20990101000000_Nope" in output(proc)
    assert "The scripts hold: %s" % ", ".join(M) in output(proc)
