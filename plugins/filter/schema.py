# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over schema descriptions (the C(schema) that ef_migration_state returns with return_schema)."""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.almafrica.rollback.plugins.module_utils.schema_fingerprint import schema_diff as _diff


def _lines(value, which):
    if value is None:
        raise AnsibleFilterError("schema_diff: the %s description is missing (register ef_migration_state with "
                                 "return_schema: true)" % which)
    if isinstance(value, (str, bytes)):
        return to_text(value).splitlines()
    try:
        return [to_text(line) for line in value]
    except TypeError:
        raise AnsibleFilterError("schema_diff: the %s description must be a list of lines, not %s"
                                 % (which, type(value).__name__))


def schema_diff(before, after, before_label="before", after_label="after"):
    """Unified diff of two schema descriptions (lists of lines); empty when they are the same."""
    return _diff(_lines(before, "before"), _lines(after, "after"), to_text(before_label), to_text(after_label))


def schema_object_pattern(name):
    """A regular expression matching the schema-description line of ``schema.table`` or ``schema.table.column``.

    Names are case-sensitive, as quoted EF names are; a name containing a dot cannot be given this way.
    """
    parts = to_text(name).split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise AnsibleFilterError("schema_object_pattern: %r is not schema.table or schema.table.column" % name)
    quoted = ['"%s"' % re.escape(p.replace('"', '""')) for p in parts]
    if len(parts) == 2:
        return r"^table %s\.%s( |$)" % tuple(quoted)
    return r"^column %s\.%s %s " % tuple(quoted)


class FilterModule(object):
    def filters(self):
        return {"schema_diff": schema_diff, "schema_object_pattern": schema_object_pattern}
