#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: ef_migration_state
short_description: Read where an EF Core database stands and move it safely to a target migration
version_added: 1.0.0
description:
  - Reads the EF Core migrations history table (C(__EFMigrationsHistory) by default, snake_case column names detected)
    and returns the applied migrations.
  - With O(target), plans what C(dotnet ef database update <target>) would do (revert every applied migration after
    the target, newest first; apply missing ones up to it, oldest first) and carries it out.
  - With the default O(executor=sql) it runs EF-generated SQL scripts (C(dotnet ef migrations script), any EF version,
    with or without C(--idempotent)), parsed with the real PostgreSQL parser and split into per-migration blocks, in
    B(one transaction), holding a session advisory lock and C(LOCK TABLE <history> IN ACCESS EXCLUSIVE MODE). On any
    error the transaction rolls back and the database is exactly as before.
  - Always returns RV(schema_fingerprint), a hash of the database's schema without the history table, so that two
    databases, or one database before and after a rollback and forward again, can be compared; with
    O(return_schema) also the description it hashes, for a readable diff.
  - Before anything runs, every statement of the plan that destroys data (DROP TABLE, DROP COLUMN, ALTER COLUMN TYPE,
    DROP TYPE/DOMAIN, DROP SCHEMA, TRUNCATE, DELETE, UPDATE, and anything with CASCADE, followed through C(pg_depend))
    is measured against the live database, names resolved on the session's search_path as PostgreSQL will; unless
    the object is listed in O(accept_data_loss) the module fails with a table of what would be lost. Inside the
    transaction every such statement is measured again, under lock, right before it runs.
  - Default deny. A statement outside EF's migration blocks is refused; a statement whose effect on data cannot be
    measured runs only when its migration is in O(accept_unverified). Only regular files are read as scripts.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
  - almafrica.rollback.postgres
attributes:
  check_mode:
    support: full
    details:
      - Reads the history, builds the plan, checks the scripts and measures the data at risk; changes nothing.
  diff_mode:
    support: full
    details:
      - Shows the current migration and applied list before and after, the unverified statements and what each
        CASCADE would take.
options:
  history_table:
    description:
      - Name of the EF Core migrations history table.
    type: str
    default: __EFMigrationsHistory
  history_schema:
    description:
      - Schema of the history table. When omitted the table is looked up on the search path, then in any schema
        (it must then be unique).
    type: str
  target:
    description:
      - Migration to move the database to. A full MigrationId (C(yyyyMMddHHmmss_Name)), the bare migration name when
        exactly one migration has it, or C(0) for "before the first migration".
      - When omitted the module only reads (and works the same in check mode).
    type: str
  executor:
    description:
      - How the plan is carried out.
      - V(sql) runs the EF-generated scripts of O(scripts) in one transaction.
      - V(bundle) runs an EF migration bundle (O(bundle_path)); V(dotnet_ef) runs C(dotnet ef database update).
        Both get the connection string in the environment variable O(connection_env), never on the command line;
        the history is verified afterwards.
    type: str
    choices: [ sql, bundle, dotnet_ef ]
    default: sql
  scripts:
    description:
      - EF-generated SQL scripts (files, globs or directories of C(*.sql)), forward and rollback. They may hold more
        than the plan needs (a whole release folder, or one idempotent script from 0); the blocks the plan needs are
        taken in plan order. Every planned migration needs exactly one block (copies with the same statements are fine).
      - Required with O(executor=sql) when there is something to do. With the other executors they are used for the
        data-loss check only.
    type: list
    elements: path
    default: []
  bundle_path:
    description:
      - Path of the EF migration bundle (C(dotnet ef migrations bundle)) for O(executor=bundle).
    type: path
  dotnet_ef_project:
    description:
      - Project holding the migrations, for O(executor=dotnet_ef) (C(--project)).
    type: path
  dotnet_ef_startup_project:
    description:
      - Startup project, for O(executor=dotnet_ef) (C(--startup-project)).
    type: path
  executor_args:
    description:
      - Extra arguments for the external executor (for example C(--no-build) or C(--context AppDbContext)).
    type: list
    elements: str
    default: []
  connection_env:
    description:
      - Environment variable through which the external executor gets the Npgsql connection string.
    type: str
    default: ConnectionStrings__DefaultConnection
  accept_data_loss:
    description:
      - Objects whose data the operator accepts to lose, as C(schema.table) (the table and all its columns) or
        C(schema.table.column); shell wildcards are allowed (C(public.Orders.*)). Names are case-sensitive, as quoted
        EF names are.
      - With an external executor and no O(scripts) the data at risk cannot be measured; the module then refuses
        unless this list holds C(*).
    type: list
    elements: str
    default: []
  accept_unverified:
    description:
      - Migrations (full MigrationId or bare name) whose B(unverified) statements the operator accepts to run.
      - "Every statement of a migration block is classified before anything runs. Measured statements (DROP
        TABLE/COLUMN/TYPE/DOMAIN/SCHEMA, ALTER COLUMN TYPE, TRUNCATE, UPDATE/DELETE with a plain WHERE, anything with
        CASCADE) have their effect on data counted (see RV(data_loss)); harmless ones (DDL that destroys no data,
        C(INSERT ... VALUES)) just run. Anything whose effect on data cannot be measured is B(unverified): C(DO)
        blocks other than EF's own guards, C(EXECUTE), C(SET)/C(RESET), C(INSERT ... SELECT), C(ALTER ... USING) with
        an expression, C(COPY), C(CALL), C(SELECT), triggers, rules, C(CREATE OR REPLACE FUNCTION), and any statement
        not recognised. Such a statement is refused, naming file and line, unless its migration is listed here
        (typically the content of C(migrationBuilder.Sql())). Check mode lists them in RV(unverified)."
      - Statements outside EF's migration blocks (anything but EF's history-table preamble and transaction
        statements) are always refused.
    type: list
    elements: str
    default: []
  lock_timeout:
    description:
      - PostgreSQL C(lock_timeout) while migrating, so that a busy table fails fast instead of queueing behind
        the application. Any PostgreSQL duration (C(10s), C(1min)).
    type: str
    default: 10s
  statement_timeout:
    description:
      - PostgreSQL C(statement_timeout) for each statement of the plan; C(0) means none.
    type: str
    default: '0'
  return_schema:
    description:
      - Also return RV(schema), the canonical description of the schema that RV(schema_fingerprint) hashes, so that
        two fingerprints that differ can be shown as a diff (for example with the P(almafrica.rollback.schema_diff#filter)
        filter).
    type: bool
    default: false
notes:
  - Statements that cannot run in a transaction block (C(CREATE INDEX CONCURRENTLY), C(VACUUM)) are refused by the
    V(sql) executor before anything runs.
  - Idempotent scripts' C(DO $EF$) guards are unwrapped (the plan already knows what is applied, under lock), so the
    same statements run whichever way the script was generated.
seealso:
  - module: almafrica.rollback.pg_backup
'''

EXAMPLES = r'''
- name: Record where the database stands (read only)
  almafrica.rollback.ef_migration_state:
    login_host: 127.0.0.1
    login_db: almafrica
    login_user: almafrica_migrator
    login_password: "{{ vault_db_password }}"
  register: db_state

- name: Roll back to the last migration of v1.1.0 with the release's EF scripts
  almafrica.rollback.ef_migration_state:
    login_host: 127.0.0.1
    login_db: almafrica
    login_user: almafrica_migrator
    login_password: "{{ vault_db_password }}"
    target: 20260215090000_AddPayments
    scripts:
      - /srv/releases/v1.2.0/migrations/*.sql
    accept_data_loss:
      - public.Orders.Status

- name: Fingerprint the schema, with the description to show a difference
  almafrica.rollback.ef_migration_state:
    login_host: 127.0.0.1
    login_db: almafrica_scratch
    login_password: "{{ vault_db_password }}"
    return_schema: true
  register: db_schema

- name: Roll back with the application's EF bundle, data-loss check from the scripts
  almafrica.rollback.ef_migration_state:
    login_host: 127.0.0.1
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    target: InitialCreate
    executor: bundle
    bundle_path: /srv/releases/v1.2.0/efbundle
    scripts: /srv/releases/v1.2.0/migrations
'''

RETURN = r'''
applied:
  description: Applied MigrationIds, oldest first, after the run (before it in check mode).
  returned: always
  type: list
  elements: str
  sample: [20260201120000_InitialCreate, 20260210123456_AddFarmerPhoneNumber]
current:
  description: The last applied migration, or null when none is applied.
  returned: always
  type: str
  sample: 20260210123456_AddFarmerPhoneNumber
product_versions:
  description: EF Core ProductVersion of each applied migration.
  returned: always
  type: dict
  sample: {20260201120000_InitialCreate: 8.0.11}
history_table:
  description: The history table as resolved in the database.
  returned: always
  type: dict
  sample: {schema: public, table: __EFMigrationsHistory, id_column: MigrationId, version_column: ProductVersion}
  contains:
    created:
      description: Present when the table did not exist and the plan creates it (true once created; false in check
        mode), with the scripts' own C(CREATE TABLE IF NOT EXISTS), as C(dotnet ef database update) does.
      type: bool
      returned: when the history table did not exist
target:
  description: The target as a full MigrationId (or C(0)).
  returned: when target is given
  type: str
  sample: 20260201120000_InitialCreate
plan:
  description: Migrations to revert (newest first) and to apply (oldest first).
  returned: when target is given
  type: dict
  sample: {to_revert: [20260310140000_WidenOrderAmount, 20260301100000_AddOrderStatus], to_apply: []}
data_loss:
  description:
    - Every data-destroying operation of the plan, measured. C(rows) rows in the table, C(non_null) non-null values
      of the column, C(values_changed) values an ALTER COLUMN TYPE changes; C(exists=false) when the object does not
      exist before the plan runs. After a real run these are the measurements taken under lock right before each
      statement.
  returned: when target is given
  type: list
  elements: dict
  sample:
    - {migration: 20260301100000_AddOrderStatus, operation: drop_column, object: public.Orders.Status,
       rows: 120, non_null: 120, exists: true, statement: "rollback_v1.2.0.sql:12"}
unverified:
  description:
    - Statements of the plan whose effect on data cannot be measured, with file, line, statement, why, and whether
      their migration is in O(accept_unverified). Check mode lists them (and warns) instead of failing.
  returned: when target is given and the plan has such statements
  type: list
  elements: dict
  sample:
    - {migration: 20260301100000_AddOrderStatus, file: rollback_v1.2.0.sql, line: 7, accepted: false,
       statement: "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$", reason: procedural code (DO block)}
timings:
  description: Seconds each migration took inside the transaction (sql executor).
  returned: when something was executed by the sql executor
  type: dict
  sample: {20260310140000_WidenOrderAmount: 0.031}
rewrites:
  description:
    - Each ALTER TABLE of the plan that could rewrite its table (ALTER COLUMN TYPE, ADD COLUMN), and whether it did
      (the table's relfilenode changed inside the transaction, so the table was copied under an exclusive lock) or
      was a metadata-only change.
  returned: when something was executed by the sql executor
  type: list
  elements: dict
  sample: [{migration: 20260310140000_WidenOrderAmount, table: public.Orders, statement: "rollback.sql:3", rewritten: true}]
failed_migration:
  description:
    - When a statement fails, where and why, as PostgreSQL reported it. Also C(failed_statement) (password
      removed), C(failed_file), C(failed_line), C(sqlstate), C(detail) (PostgreSQL's DETAIL), C(constraint),
      C(table), and for a foreign-key violation C(offending_keys), the first 10 child keys without a parent row.
  returned: when a statement of the plan failed
  type: str
  sample: 20260301100000_AddOrderStatus
executed:
  description: The migration steps carried out, in order.
  returned: when something was executed
  type: list
  elements: dict
  sample: [{migration: 20260310140000_WidenOrderAmount, direction: down, source: rollback_v1.2.0.sql}]
executor_output:
  description: Output of the external executor (password removed).
  returned: when an external executor ran
  type: str
  sample: "Done."
schema_fingerprint:
  description:
    - sha256 (hex) of the canonical description of the database's schema (tables, columns with type, default,
      nullability and identity, constraints, indexes, sequences, enum and other types, views, functions,
      triggers, extensions), the history table left out. It does not depend on the order objects were created in.
    - Taken after the run, or as the database stands when nothing ran (check mode, no target, nothing to do).
  returned: success
  type: str
  sample: 3f0c6e2d9a4b8c1e5f7a2b9d0c4e6f8a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e
schema:
  description:
    - The canonical description that RV(schema_fingerprint) hashes, one sorted line per fact.
  returned: success and O(return_schema=true)
  type: list
  elements: str
  sample:
    - 'column "public"."Farmers" "Id" integer not null generated by default as identity'
    - 'constraint "public"."Farmers" "PK_Farmers" primary key: PRIMARY KEY ("Id")'
    - 'table "public"."Farmers"'
duration:
  description: Seconds the module took.
  returned: always
  type: float
  sample: 0.42
'''

import contextlib
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact
from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import (
    connect, describe_target, postgres_common_argument_spec, psycopg2, login_secrets)
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import script as ef_script
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.migrations import (
    PlanError, current_of, expected_history, plan_migration, resolve_target)
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import database as efdb
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import history as hist
from ansible_collections.almafrica.rollback.plugins.module_utils.ef import measure
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.data_loss import format_loss_table, unaccepted
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.executors import executor_argv, executor_env
from ansible_collections.almafrica.rollback.plugins.module_utils.schema_fingerprint import describe_schema, fingerprint


def _state_text(applied):
    lines = ["current: %s" % (applied[-1] if applied else "none (no migration applied)"), "applied:"]
    lines += ["  - %s" % m for m in applied] or ["  []"]
    return "\n".join(lines) + "\n"


def _plan_notes(unverified, data_loss):
    """What the diff adds after the planned state: unverified statements and what each CASCADE would take."""
    lines = []
    if unverified:
        lines.append("unverified statements (run only when their migration is in accept_unverified):")
        lines += ["  - %s:%s [%s%s] %s: %s" % (
            u["file"], u["line"], u["migration"], ", accepted" if u["accepted"] else "", u["reason"],
            " ".join(u["statement"].split())[:200]) for u in unverified]
    cascades = [e for e in data_loss if e.get("via")]
    if cascades:
        lines.append("what a CASCADE would take:")
        lines += ["  - %s: %s %s%s" % (e["via"], e["operation"].replace("cascade_", ""), e["object"],
                                       " (%s rows)" % e["rows"] if "rows" in e and "non_null" not in e else
                                       " (%s non-null values)" % e["non_null"] if "non_null" in e else "")
                  for e in cascades]
    return "\n".join(lines) + "\n" if lines else ""


def load_scripts(module, result, history):
    """The scripts of ``scripts``, read and split once for ``history`` (pglast required)."""
    if not ef_script.HAS_PGLAST:
        module.fail_json(msg=missing_required_lib("pglast"), exception=str(ef_script.PGLAST_IMPORT_ERROR), **result)
    return ef_script.Scripts.load(module.params["scripts"], history)


@contextlib.contextmanager
def reading_history(module, result):
    """Fail the module with what, where and why when finding, locking or reading the history fails."""
    params = module.params
    try:
        yield
    except hist.HistoryError as exc:
        module.fail_json(msg="Cannot read the EF history of %s: %s" % (describe_target(params), exc), **result)
    except psycopg2.errors.LockNotAvailable:
        what = (params["history_table"], describe_target(params), params["lock_timeout"])
        module.fail_json(msg="%s in %s is locked (an application or tool is migrating): could not read it within "
                             "lock_timeout (%s). Nothing was changed." % what, **result)
    except psycopg2.Error as exc:
        reason = str(exc).strip()
        module.fail_json(msg="Cannot read %s in %s: %s" % (params["history_table"], describe_target(params), reason),
                         **result)


def find_history(module, result, conn):
    """``(history, scripts, create_history)``: the history table as found, or as a run from 0 will create it (then
    with the scripts, already read, and the statements that create it)."""
    params = module.params
    with conn.cursor() as cur:
        # Reads must not queue forever behind an application that is migrating (it holds the history lock).
        cur.execute("SELECT set_config('lock_timeout', %s, false)", (params["lock_timeout"],))
        try:
            return hist.resolve_history_table(cur, params["history_table"], params["history_schema"]), None, ()
        except hist.HistoryError as exc:
            return history_to_create(module, result, cur, exc)


def run(module, result):
    params = module.params
    conn = connect(module, autocommit=True)
    key = None
    try:
        with reading_history(module, result):
            history, scripts, create_history = find_history(module, result, conn)
            if params["target"] is not None and not module.check_mode:
                # Before reading anything: a second run must fail at once, not plan from a state about to change.
                key = efdb.try_advisory_lock(conn, history)
            with conn.cursor() as cur:
                rows = [] if create_history else hist.read_history(cur, history)
        applied = [r[0] for r in rows]
        result.update(applied=applied, current=current_of(applied), product_versions=dict(rows),
                      history_table=history.as_dict())
        if create_history:
            result["history_table"]["created"] = not module.check_mode
        if params["target"] is not None:
            if scripts is None and params["scripts"]:
                scripts = load_scripts(module, result, history)
            plan_and_apply(module, result, conn, history, applied, scripts, create_history)
        fingerprint_schema(module, result, conn, history)
    finally:
        if key is not None:
            efdb.release_advisory_lock(conn, key)
        conn.close()


def history_to_create(module, result, cur, exc):
    """A database EF never migrated has no history table; like ``dotnet ef database update``, a plan from 0 creates
    it with the scripts' own ``CREATE TABLE IF NOT EXISTS`` preamble. Returns the history table it will create, the
    scripts (read once, here) and that preamble; anything else re-raises ``exc``."""
    params = module.params
    if not exc.missing or params["target"] is None or params["executor"] != "sql" or not params["scripts"]:
        raise exc
    scripts = load_scripts(module, result, hist.HistoryTable(params["history_table"], params["history_schema"]))
    created = scripts.created_history()
    if created is None:
        raise exc
    named, id_col, version_col, preamble = created
    schema = params["history_schema"] or named or measure.current_schema(cur)
    outside = scripts.history_outside(schema)
    if outside:
        raise ef_script.ScriptError("The scripts create the history table in schema %s but migration %s writes its "
                                    "history elsewhere (%s): set history_schema." % (schema, outside[0][0],
                                                                                     outside[0][1]))
    return hist.ResolvedHistory(params["history_table"], schema, id_col, version_col), scripts, preamble


def fingerprint_schema(module, result, conn, history):
    """The schema as it stands now (after the run; unchanged in check mode), the resolved history table left out."""
    description = describe_schema(conn, exclude_tables=[(history.schema, history.table)])
    result["schema_fingerprint"] = fingerprint(description)
    if module.params["return_schema"]:
        result["schema"] = description


def plan_and_apply(module, result, conn, history, applied, scripts, create_history=()):
    params = module.params
    known = scripts.known_migrations() if scripts is not None else []
    target = resolve_target(params["target"], applied, known)
    plan = plan_migration(applied, target, known)
    expected = expected_history(applied, plan)
    result.update(target=target, plan=plan, data_loss=[])
    if module._diff:
        result["diff"] = {"before_header": "%s (history)" % describe_target(params), "before": _state_text(applied),
                          "after_header": "%s (planned)" % describe_target(params), "after": _state_text(expected)}
    if not plan["to_revert"] and not plan["to_apply"]:
        return

    external = params["executor"] != "sql"
    blocks = None
    if scripts is not None or not external:
        if scripts is None:
            module.fail_json(msg="The plan needs EF-generated SQL scripts: give them in 'scripts' (executor=sql).",
                             **result)
        blocks = scripts.select(plan)
        if not external:
            for block in blocks:
                for stmt in list(block.notable()) + [block.history_statement]:  # the plain harmless ones never are
                    why = ef_script.transaction_incompatible(stmt)
                    if why:
                        module.fail_json(msg="%s at %s (migration %s) cannot run inside a transaction; this module "
                                             "runs the whole plan in one. Run that migration with the EF tools."
                                             % (why, stmt.where, block.migration_id), **result)
    planned = efdb.PlanRun(conn, history, blocks or [], applied, expected, accepted=params["accept_data_loss"],
                           accept_unverified=params["accept_unverified"], lock_timeout=params["lock_timeout"],
                           statement_timeout=params["statement_timeout"], create_history=create_history,
                           secrets=login_secrets(params))

    accepted = params["accept_data_loss"]
    unverified = []
    if blocks is not None:
        unverified = [dict(stmt.as_dict(block.migration_id),
                           accepted=efdb.is_accepted_unverified(block.migration_id, params["accept_unverified"]))
                      for block in blocks for stmt in block.unverified()]
        for entry in unverified:
            entry["statement"] = redact(entry["statement"], login_secrets(params))
        if unverified:
            result["unverified"] = unverified
        result["data_loss"] = planned.assess()
        if module._diff:
            result["diff"]["after"] += _plan_notes(unverified, result["data_loss"])
    elif "*" not in accepted:
        module.fail_json(msg="Cannot measure the data at risk: executor=%s was given no 'scripts'. Give the release's "
                             "EF scripts for the check, or accept any loss with accept_data_loss: ['*']."
                             % params["executor"], **result)
    refused = unaccepted(result["data_loss"], accepted)
    if refused:
        module.fail_json(msg="Refusing to migrate to %s: it would destroy data not listed in accept_data_loss. "
                             "Nothing was changed.\n%s\nTo proceed, back the data up and add to accept_data_loss: %s"
                             % (target, format_loss_table(refused), ", ".join(sorted({e["object"] for e in refused}))),
                         **result)
    refused_unverified = [u for u in unverified if not u["accepted"]]
    if refused_unverified:
        listing = "\n".join("  %s:%s (migration %s): %s: %s" % (
            u["file"], u["line"], u["migration"], u["reason"], " ".join(u["statement"].split())[:200])
            for u in refused_unverified)
        what = ("Refusing to migrate to %s: %d statement(s) of the plan have an effect on data that cannot be "
                "measured (unverified)" % (target, len(refused_unverified)))
        accept = ", ".join(sorted({u["migration"] for u in refused_unverified}))
        if not module.check_mode:
            module.fail_json(msg="%s. Nothing was changed.\n%s\nRead them; if they are what the migration must do, "
                                 "add to accept_unverified: %s" % (what, listing, accept), **result)
        module.warn("%s; a real run would refuse them unless accept_unverified lists %s:\n%s"
                    % (what, accept, listing))
    if module.check_mode:
        result["changed"] = True
        return

    if external:
        run_external(module, result, conn, history, target, expected)
    else:
        result["executed"], result["data_loss"] = planned.execute()
        result.update(timings=planned.timings, rewrites=planned.rewrites)
    result["changed"] = True
    with conn.cursor() as cur:
        rows = hist.read_history(cur, history)
    result.update(applied=[r[0] for r in rows], product_versions=dict(rows), current=current_of([r[0] for r in rows]))


def run_external(module, result, conn, history, target, expected):
    params = module.params
    dotnet = module.get_bin_path("dotnet", required=True) if params["executor"] == "dotnet_ef" else None
    argv = executor_argv(params, target, dotnet)
    rc, out, err = module.run_command(argv, environ_update=executor_env(params))
    result["executor_output"] = redact((out or "") + (err or ""), login_secrets(params))[-4000:]
    with conn.cursor() as cur:
        after = [r[0] for r in hist.read_history(cur, history)]
    if rc != 0:
        result["applied"] = after
        module.fail_json(msg="The %s executor failed (exit %d); history now at %s. Its output is in executor_output."
                             % (params["executor"], rc, after[-1] if after else "none"), **result)
    if after != expected:
        result["applied"] = after
        module.fail_json(msg="The %s executor exited 0 but the history is at %s, not the planned %s."
                             % (params["executor"], after[-1] if after else "none", target), **result)
    result["executed"] = ([{"migration": m, "direction": "down", "source": params["executor"]}
                           for m in result["plan"]["to_revert"]]
                          + [{"migration": m, "direction": "up", "source": params["executor"]}
                             for m in result["plan"]["to_apply"]])


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        history_table=dict(type="str", default="__EFMigrationsHistory"),
        history_schema=dict(type="str"),
        target=dict(type="str"),
        executor=dict(type="str", default="sql", choices=["sql", "bundle", "dotnet_ef"]),
        scripts=dict(type="list", elements="path", default=[]),
        bundle_path=dict(type="path"),
        dotnet_ef_project=dict(type="path"),
        dotnet_ef_startup_project=dict(type="path"),
        executor_args=dict(type="list", elements="str", default=[]),
        connection_env=dict(type="str", default="ConnectionStrings__DefaultConnection"),
        accept_data_loss=dict(type="list", elements="str", default=[]),
        accept_unverified=dict(type="list", elements="str", default=[]),
        lock_timeout=dict(type="str", default="10s"),
        statement_timeout=dict(type="str", default="0"),
        return_schema=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("executor", "bundle", ["bundle_path"]), ("executor", "dotnet_ef", ["dotnet_ef_project"])],
    )
    started = time.monotonic()
    result = dict(changed=False, applied=[], current=None, product_versions={}, history_table={})
    try:
        run(module, result)
    except (PlanError, ef_script.ScriptError) as exc:
        module.fail_json(msg="%s Nothing was changed." % exc, duration=round(time.monotonic() - started, 3), **result)
    except efdb.DataLossRefused as exc:
        module.fail_json(msg="Refused inside the transaction (data changed since the check): rolled back, nothing "
                             "was changed.\n%s" % format_loss_table(exc.entries),
                         duration=round(time.monotonic() - started, 3), **result)
    except efdb.ExecutionError as exc:
        result.update(exc.details)
        module.fail_json(msg=redact(str(exc), login_secrets(module.params)), duration=round(time.monotonic() - started, 3),
                         **result)
    except efdb.LockBusy as exc:
        module.fail_json(msg=str(exc), duration=round(time.monotonic() - started, 3), **result)
    except psycopg2.Error as exc:
        module.fail_json(msg="PostgreSQL error: %s" % redact(str(exc).strip(), login_secrets(module.params)),
                         duration=round(time.monotonic() - started, 3), exception=traceback.format_exc(), **result)
    result["duration"] = round(time.monotonic() - started, 3)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
