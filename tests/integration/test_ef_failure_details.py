"""What a failing or succeeding rollback reports for the shadow rehearsal (issue 11): where and why it failed, the
rows that block it, how long each migration took and which tables were rewritten."""
from __future__ import annotations

import subprocess

from stage.runner import run_module

MA = "20260401000000_AddChildren"
MB = "20260402000000_LooseChildren"
HISTORY = '''CREATE TABLE "__EFMigrationsHistory" ("MigrationId" character varying(150) NOT NULL,
    "ProductVersion" character varying(32) NOT NULL, CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId"));
INSERT INTO "__EFMigrationsHistory" VALUES ('%s', '8.0.11'), ('%s', '8.0.11');
''' % (MA, MB)
# State after MB's Up(), which dropped the foreign key: rows written since reference parents that do not exist.
SCHEMA = '''CREATE TABLE "Parents" ("Id" integer NOT NULL, "Code" character varying(10), CONSTRAINT "PK_Parents" PRIMARY KEY ("Id"));
CREATE TABLE "Children" ("Id" integer NOT NULL, "ParentId" integer, "Qty" integer NOT NULL DEFAULT 0,
    CONSTRAINT "PK_Children" PRIMARY KEY ("Id"));
INSERT INTO "Parents" SELECT g, 'P' || g FROM generate_series(1, 20) g;
INSERT INTO "Children" SELECT g, CASE WHEN g <= 30 THEN 1 + g % 20 ELSE 100 + g % 13 END, g
  FROM generate_series(1, 60) g;
'''
ROLLBACK = '''START TRANSACTION;

ALTER TABLE "Parents" ALTER COLUMN "Code" TYPE character varying(20);

ALTER TABLE "Children" ALTER COLUMN "Qty" TYPE bigint;

ALTER TABLE "Children" ADD CONSTRAINT "FK_Children_Parents_ParentId" FOREIGN KEY ("ParentId") REFERENCES "Parents" ("Id") ON DELETE CASCADE;

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '%s';

COMMIT;
''' % MB


def _dump(pg, dbname):
    out = []
    for option in ("--schema-only", "--data-only"):
        text = subprocess.run(["pg_dump", option, dbname], env=pg.client_env(), capture_output=True, text=True,
                              check=True).stdout
        # pg_dump 15.14+ brackets its output with \restrict/\unrestrict and a random key: not part of the database.
        out.append([line for line in text.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))])
    return out


def _setup(pg, dbname, tmp_path):
    pg.execute(dbname, HISTORY + SCHEMA)
    path = tmp_path / "rollback.sql"
    path.write_text(ROLLBACK)
    return dict(pg.login_args(dbname), target=MA, scripts=[str(path)]), str(path)


def test_foreign_key_violation_reports_statement_detail_and_blocking_keys(pg, dbname, tmp_path):
    task, path = _setup(pg, dbname, tmp_path)
    before = _dump(pg, dbname)
    run = run_module("ef_migration_state", task)
    assert run.failed, run
    assert run["failed_migration"] == MB and run["failed_file"] == path and run["failed_line"] == 7
    assert run["failed_statement"].startswith('ALTER TABLE "Children" ADD CONSTRAINT "FK_Children_Parents_ParentId"')
    assert run["sqlstate"] == "23503" and run["constraint"] == "FK_Children_Parents_ParentId"
    assert run["table"] == "Children"
    assert 'Key (ParentId)=(' in run["detail"] and 'is not present in table "Parents"' in run["detail"]
    # Children 31..60 reference parents 100..112: 13 distinct missing keys, the first 10 in order.
    assert run["offending_keys"] == [{"ParentId": str(k)} for k in range(100, 110)]
    assert "rolled back" in run["msg"]
    assert _dump(pg, dbname) == before


def test_success_reports_timings_and_which_tables_were_rewritten(pg, dbname, tmp_path):
    task, _path = _setup(pg, dbname, tmp_path)
    pg.execute(dbname, 'DELETE FROM "Children" WHERE "Id" > 30')
    run = run_module("ef_migration_state", task)
    assert not run.failed, run
    assert set(run["timings"]) == {MB} and run["timings"][MB] >= 0
    assert [(r["table"], r["rewritten"]) for r in run["rewrites"]] == [
        ("public.Parents", False), ("public.Children", True)]
    assert run["current"] == MA
