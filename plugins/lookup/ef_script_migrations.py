# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
name: ef_script_migrations
author:
  - Almafrica platform team (@almafrica)
version_added: 1.0.0
short_description: MigrationIds found in EF Core generated SQL scripts
description:
  - Reads EF-generated SQL scripts (C(dotnet ef migrations script)) on the controller with the real PostgreSQL
    parser, the way M(almafrica.rollback.ef_migration_state) does, and returns the MigrationIds that have a block in
    the requested direction, oldest first (EF order).
  - Used by C(playbooks/test_down.yml) to find the migrations to round-trip.
options:
  _terms:
    description: Script files, globs, or directories (their C(*.sql)), as O(almafrica.rollback.ef_migration_state#module:scripts).
    required: true
    type: list
    elements: path
  direction:
    description: V(up) for migrations with a forward (Up) block, V(down) for a rollback (Down) block, V(any) for either.
    type: str
    default: up
    choices: [ up, down, any ]
  history_table:
    description: Name of the EF Core history table the scripts write to.
    type: str
    default: __EFMigrationsHistory
  history_schema:
    description: Schema of the history table in the scripts; when omitted any schema (or none) matches.
    type: str
  history_id_column:
    description: Name of the MigrationId column in the scripts (C(migration_id) with snake_case naming).
    type: str
    default: MigrationId
requirements:
  - pglast on the controller
'''

EXAMPLES = r'''
- name: Every migration of the release folder, oldest first
  ansible.builtin.debug:
    msg: "{{ query('almafrica.rollback.ef_script_migrations', '/srv/releases/v1.2.0/migrations') }}"
'''

RETURN = r'''
_raw:
  description: MigrationIds, oldest first.
  type: list
  elements: str
'''

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.almafrica.rollback.plugins.module_utils.ef import script as ef_script
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import HistoryTable
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.migrations import sort_migrations


def script_migrations(patterns, direction="up", history=None):
    """MigrationIds with a block in ``direction`` (``up``, ``down`` or ``any``) in the scripts, oldest first."""
    scripts = ef_script.Scripts.load(patterns, history or HistoryTable())
    return sort_migrations(mid for mid, found in scripts.index if direction in ("any", found))


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not ef_script.HAS_PGLAST:
            raise AnsibleLookupError("ef_script_migrations needs the Python library pglast on the controller: %s"
                                     % ef_script.PGLAST_IMPORT_ERROR)
        history = HistoryTable(self.get_option("history_table"), self.get_option("history_schema"),
                               self.get_option("history_id_column"))
        try:
            return script_migrations([str(t) for t in terms], self.get_option("direction"), history)
        except ef_script.ScriptError as exc:
            raise AnsibleLookupError(str(exc))
