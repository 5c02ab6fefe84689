#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: ef_migration_lint
short_description: Check statically that every EF Core migration has a working Down()
version_added: 1.0.0
description:
  - Reads an EF Core migrations folder tree (C(*.cs)) with a real C# parser (tree-sitter) and checks, for each
    migration, that its C(Down()) undoes its C(Up()). No database and no .NET SDK are needed.
  - Errors (the rollback cannot run, or does not restore the schema) are C(not_recognised) (no
    C([Migration("...")]) attribute, usually a missing C(.Designer.cs), so EF never runs the migration),
    C(missing_up), C(missing_down), C(empty_down) (C(Up()) changes the schema with EF operations or DDL in raw SQL,
    C(Down()) is empty), C(irreversible) (C(Down()) throws), C(no_inverse) (an C(Up())
    operation such as CreateTable, AddColumn, CreateIndex, AddForeignKey, RenameColumn, RenameTable, AlterColumn,
    InsertData has no matching operation in C(Down())), C(wrong_inverse) (C(Down()) renames or moves an object to
    another name or schema, or restores a column with another type, length, nullability or default than it had
    before C(Up())) and C(duplicate_id).
  - Warnings are C(data_loss) (one per migration, listing what C(Down()) destroys that existed before the
    migration, such as tables or columns it did not create, narrowed column types, destructive raw SQL), C(drops_unrelated),
    C(not_null), C(left_behind) (EnsureSchema, PostgreSQL extensions), C(syntax), C(data_not_undone) (C(Up())
    only changes rows with raw SQL, such as UPDATE or DELETE, and C(Down()) is empty; the schema is restored, those
    rows are not) and C(sql_unverified) when C(Up()) runs raw SQL or helpers and C(Down()) runs none.
  - Infos say what is fine but worth knowing, or cannot be verified statically. C(drops_created) (once per
    migration) when C(Down()) drops what the same migration's C(Up()) created, which loses only the data written
    since; C(default_added) for EF's standard C(Down()) that makes a column C(Up()) made nullable required again
    with the CLR default (C(0), C(""), C(false), an empty Guid, C(DateTime) 0001-01-01) as placeholder;
    C(sql_unverified) (raw SQL in both methods, or a C(Down()) in raw SQL, with the statement that probably undoes
    the operation); C(base_unresolved) when C(Up()) or C(Down()) come from a base class that is not under O(path);
    C(unresolved) (names computed at run time); C(left_behind) for harmless database settings (MySQL character
    set). Check the unverifiable ones with a round trip on a scratch database.
  - C(Up()) and C(Down()) implemented by a base class of the project (under O(path)) are read from it.
  - Migrations are grouped by their C([DbContext(typeof(X))]) attribute, so a tree holding several contexts is
    linted in one run. Npgsql (PostgreSQL), Pomelo (MySQL), SQLite and SQL Server scaffolding is understood; the
    type checks (narrowing) know PostgreSQL's types.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
attributes:
  check_mode:
    support: full
    details:
      - The module only reads files; check mode runs the same checks.
  diff_mode:
    support: none
    details:
      - Nothing is changed, so there is no diff.
options:
  path:
    description:
      - Folder holding the migrations (searched recursively; C(bin) and C(obj) are skipped). May hold several
        DbContexts' migrations and raw SQL resources (C(*.sql), C(*.psql)).
    type: path
    required: true
  since:
    description:
      - Lint only migrations after this one (ordinal MigrationId order, as EF), for example the last migration of
        the released version, so that only new migrations are checked. A full MigrationId or a migration name
        present in the folder. A value that names no migration of the folder fails, listing the closest names.
        Migrations that EF does not recognise are always linted.
    type: str
  timeout:
    description:
      - Time limit in seconds for the whole folder. When it is reached the task fails, naming the file being
        read. C(0) means no limit.
    type: float
    default: 60
  details:
    description:
      - Return every migration with everything known about it (class, files, operation counts, findings) in
        RV(migrations), and the MigrationIds per DbContext in RV(contexts).
      - By default the result stays small whatever the size of the folder. RV(status) has one line per
        migration and RV(migrations) only the linted migrations that have findings.
    type: bool
    default: false
  fail_on:
    description:
      - The task fails when a linted, not ignored migration has a finding of this severity or above.
    type: str
    choices: [ error, warning ]
    default: error
  ignore:
    description:
      - Migrations whose findings are reported but do not count, each with the reason (for example an
        intentionally irreversible data migration).
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description:
          - The MigrationId, or the migration name when unambiguous.
        type: str
        required: true
      reason:
        description:
          - Why this migration's findings are accepted; returned with the result.
        type: str
        required: true
requirements:
  - tree-sitter
  - tree-sitter-c-sharp
notes:
  - A static check cannot tell what raw SQL does; the round trip (apply, roll back, compare schema fingerprints)
    proves it on a real database.
seealso:
  - module: almafrica.rollback.ef_migration_state
'''

EXAMPLES = r'''
- name: Every migration of the application must roll back
  almafrica.rollback.ef_migration_lint:
    path: "{{ app_checkout }}/src/Almafrica.Api/Data/Migrations"

- name: Check only the migrations added since the last release, warnings included
  almafrica.rollback.ef_migration_lint:
    path: "{{ app_checkout }}/src/Almafrica.Api/Data/Migrations"
    since: 20260310140000_WidenOrderAmount
    fail_on: warning
    ignore:
      - id: 20260404000000_SplitFarmerName
        reason: One-way data migration, agreed in the change review; restore from backup instead.
  register: lint

- name: Show what a rollback would destroy (details lists the infos about data written since, too)
  ansible.builtin.debug:
    msg: "{{ lint.migrations | map(attribute='findings') | flatten | selectattr('kind', 'in', ['data_loss', 'drops_created'])
             | map(attribute='message') | list }}"

- name: A large folder, with a longer time limit and every detail
  almafrica.rollback.ef_migration_lint:
    path: "{{ app_checkout }}/src/Almafrica.Api/Data/Migrations"
    timeout: 300
    details: true
'''

RETURN = r'''
msg:
  description: One line for people, with the number of migrations linted and of findings per severity.
  returned: always
  type: str
  sample: "5 of 5 migrations linted under src/Data/Migrations: 0 errors, 1 warning, 4 infos (5 migrations with findings)."
status:
  description:
    - One line per migration found, by MigrationId (for a class EF does not recognise, the id its file name
      suggests; a duplicated id is followed by the class name), with its finding counts in words, C(ok), or
      C(not linted (at or before since)); the reason is appended for O(ignore)d migrations.
  returned: always
  type: dict
  sample:
    20260201120000_InitialCreate: 1 info
    20260210123456_AddFarmerPhoneNumber: ok
    20260310140000_WidenOrderAmount: 1 warning
migrations:
  description:
    - By default, only the linted migrations that have findings to read, in MigrationId order, each with C(id),
      C(context), C(ignored) (and C(ignore_reason)), C(counts) and those C(findings). Errors, warnings and the
      infos that ask for a check are listed; the infos that ask nothing (C(drops_created), C(default_added),
      C(left_behind)) are only counted, in RV(status) and RV(infos).
    - With O(details=true), every migration class found, with also C(name), C(class), C(recognised), C(files),
      C(operations) (calls in C(Up()) and C(Down())), C(linted) (false at or before O(since)) and C(inherits)
      (the base class each inherited method comes from).
    - C(findings) are sorted by severity; each has C(severity), C(kind), C(message), C(file) (relative to O(path))
      and C(line).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 20260310140000_WidenOrderAmount
      context: AlmafricaDbContext
      ignored: false
      counts: {error: 0, warning: 1, info: 0}
      findings:
        - {severity: warning, kind: data_loss, message: "Down() destroys data: changes column Orders.Amount from numeric(18,4)
           to numeric(12,2): values are rounded from 4 to 2 decimals (line 33).", file: 20260310140000_WidenOrderAmount.cs,
           line: 33}
infos:
  description: Number of info findings per kind over the linted, not ignored migrations.
  returned: always
  type: dict
  sample: {drops_created: 4}
counts:
  description: Migrations found, linted, skipped (O(since)) and ignored, and findings per severity over the linted,
    not ignored migrations.
  returned: always
  type: dict
  sample: {migrations: 5, linted: 5, skipped: 0, ignored: 0, error: 0, warning: 1, info: 4}
contexts:
  description:
    - Number of migrations per DbContext (C((no DbContext attribute)) for classes without one); with
      O(details=true), the list of their MigrationIds instead.
  returned: always
  type: dict
  sample: {AlmafricaDbContext: 5}
provider:
  description: The EF provider the folder's migrations name (C(Npgsql), C(MySql), C(Sqlite), C(SqlServer)), or
    null when none or several are named.
  returned: always
  type: str
  sample: Npgsql
since:
  description: O(since) resolved to a full MigrationId.
  returned: always
  type: str
  sample: 20260310140000_WidenOrderAmount
sql_resources:
  description: Raw SQL files (C(*.sql), C(*.psql)) found in the folder tree, relative to O(path).
  returned: always
  type: list
  elements: str
  sample: [Scripts/farmer_search.psql]
unused_ignores:
  description: Entries of O(ignore) that match no migration of the folder (probably stale).
  returned: always
  type: list
  elements: str
  sample: []
duration:
  description: Seconds the lint took.
  returned: always
  type: float
  sample: 0.31
'''

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.almafrica.rollback.plugins.module_utils.lint import csharp as ef_csharp
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.folder import (
    LintError, compact_result, failing_summary, lint_folder, reaches, summary_line)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            since=dict(type="str"),
            fail_on=dict(type="str", choices=["error", "warning"], default="error"),
            timeout=dict(type="float", default=60),
            details=dict(type="bool", default=False),
            ignore=dict(type="list", elements="dict", default=[], options=dict(
                id=dict(type="str", required=True),
                reason=dict(type="str", required=True),
            )),
        ),
        supports_check_mode=True,
    )
    result = dict(changed=False, status={}, migrations=[], counts={}, infos={}, contexts={}, provider=None, since=None,
                  sql_resources=[], unused_ignores=[], duration=0.0)
    if not ef_csharp.HAS_TREE_SITTER:
        module.fail_json(msg=missing_required_lib("tree-sitter and tree-sitter-c-sharp"),
                         exception=str(ef_csharp.TREE_SITTER_IMPORT_ERROR), **result)
    params = module.params
    started = time.monotonic()
    try:
        linted = lint_folder(params["path"], since=params["since"], ignore=params["ignore"], timeout=params["timeout"])
    except LintError as exc:
        module.fail_json(msg=str(exc), **result)
    except (OSError, UnicodeDecodeError) as exc:
        module.fail_json(msg="Cannot read the migrations under %s: %s" % (params["path"], exc), **result)
    except Exception as exc:  # pragma: no cover - a parser bug must still say where it happened
        module.fail_json(msg="Unexpected error while linting %s: %s" % (params["path"], exc),
                         exception=traceback.format_exc(), **result)
    result.update(compact_result(linted, details=params["details"]))
    result["duration"] = round(time.monotonic() - started, 3)
    summary = summary_line(linted, params["path"])
    for stale in linted["unused_ignores"]:
        module.warn("ignore entry %s matches no migration under %s" % (stale, params["path"]))

    counts = linted["counts"]
    if reaches(counts, params["fail_on"]):
        lines = failing_summary(linted, params["fail_on"])
        module.fail_json(msg="%d error(s), %d warning(s) in %d linted migration(s) under %s (fail_on=%s):\n%s\n%s"
                         % (counts["error"], counts["warning"], counts["linted"], params["path"], params["fail_on"],
                            "\n".join(lines), summary), **result)
    module.exit_json(msg=summary, **result)


if __name__ == "__main__":
    main()
