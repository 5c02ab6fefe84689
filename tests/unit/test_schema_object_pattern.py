"""schema_object_pattern: find a table or column line in a schema description."""
from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.almafrica.rollback.plugins.filter.schema import schema_object_pattern

LINES = ['table "public"."Orders"', 'table "public"."OrdersArchive"', 'table "ef"."Orders" unlogged',
         'column "public"."Orders" "Status" integer not null default 0',
         'column "public"."Orders" "StatusText" text']


def found(name):
    return [line for line in LINES if re.match(schema_object_pattern(name), line)]


def test_tables_and_columns_match_exactly():
    assert found("public.Orders") == ['table "public"."Orders"']
    assert found("ef.Orders") == ['table "ef"."Orders" unlogged']
    assert found("public.Orders.Status") == ['column "public"."Orders" "Status" integer not null default 0']
    assert found("public.orders") == [] and found("public.Orders.Statu") == []


@pytest.mark.parametrize("bad", ["Orders", "a.b.c.d", "public..Status"])
def test_bad_names(bad):
    with pytest.raises(AnsibleFilterError, match="is not schema.table or schema.table.column"):
        schema_object_pattern(bad)
