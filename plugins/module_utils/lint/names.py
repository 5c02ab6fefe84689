# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names across renames, for the lint: which table (and column) names of a migration are the same object, how a
rename reads.

``TableNames(operations)`` joins every name a RenameTable gave a table (in Up() and Down() together) without ever
making a name its own parent, so lookups always end; ``undone_within`` tells a rename its own Up() reverts.
"""
from __future__ import annotations

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.csharp import Unresolved
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.values import shown


RENAMES = {"RenameColumn": "column", "RenameTable": "table", "RenameIndex": "index", "RenameSequence": "sequence"}


class TableNames(object):
    """Table names of one migration, with every name a RenameTable gave it treated as the same table.

    A union-find over the names of both methods: Up() renaming a -> b and Down() renaming b -> a put a and b in
    one set once; a rename that only moves the schema (same name) or that joins names already joined adds nothing,
    so no name is ever its own parent and ``root`` always ends (path halving keeps it short).
    """

    def __init__(self, operations):
        self.parent = {}
        for op in operations:
            if op.kind == "RenameTable" and isinstance(op.get("name"), str) and isinstance(op.get("newName"), str):
                self.union(op.get("name"), op.get("newName"))
        # Columns renamed within a table (Up() renames Quantity -> CartId and alters CartId; Down() renames it back
        # and alters Quantity): one column under both names, keyed by its table's set. Same union-find, own keys.
        for op in operations:
            if op.kind == "RenameColumn" and all(isinstance(op.get(k), str) for k in ("table", "name", "newName")):
                table = self.root(op.get("table"))
                self.union((table, op.get("name")), (table, op.get("newName")))

    def root(self, name):
        parent = self.parent
        while name in parent:
            up = parent[name]
            if up in parent:
                parent[name] = parent[up]  # path halving
            name = up
        return name

    def union(self, a, b):
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[rb] = ra

    def same_column(self, table_a, a, table_b, b):
        """Column ``a`` of ``table_a`` and ``b`` of ``table_b`` are one column, across table and column renames."""
        if not self.same("table", table_a, table_b):
            return False
        if not all(isinstance(v, str) for v in (table_a, a, table_b, b)):
            return self.same("name", a, b)
        table = self.root(table_a)
        return self.root((table, a)) == self.root((table, b))

    def same(self, field, a, b):
        if isinstance(a, Unresolved) or isinstance(b, Unresolved):
            return True  # computed at run time: match loosely (an info finding says so)
        if field == "table" and isinstance(a, str) and isinstance(b, str):
            return self.root(a) == self.root(b)
        if field == "table" or a is None or b is None:
            return a == b or a is None or b is None
        return a == b


def qualified(schema, name):
    return "%s.%s" % (shown(schema), shown(name)) if schema is not None else shown(name)


def moves_schema(op):
    """RenameTable/RenameSequence that moves the object to another schema (EF writes newSchema only then)."""
    return op.kind in ("RenameTable", "RenameSequence") and op.get("newSchema") is not None \
        and op.get("newSchema") != op.get("schema")


def rename_text(op):
    what = RENAMES[op.kind]
    if moves_schema(op):
        return "%s %s to %s" % (what, qualified(op.get("schema"), op.get("name")),
                                qualified(op.get("newSchema"), op.get("newName")))
    on = " of table %s" % shown(op.get("table")) if op.kind == "RenameColumn" else ""
    return "%s %s%s to %s" % (what, shown(op.get("name")), on, shown(op.get("newName")))


def loose_equal(a, b):
    return isinstance(a, Unresolved) or isinstance(b, Unresolved) or a == b


def undone_within(op, ops):
    """Up() itself renames the object back (a -> b, then b -> a): nothing is left for Down() to undo."""
    for other in ops:
        if other is op or other.kind != op.kind or other.get("table") != op.get("table"):
            continue
        if other.get("name") != op.get("newName") or other.get("newName") != op.get("name"):
            continue
        if moves_schema(op) and (other.get("schema") != op.get("newSchema") or other.get("newSchema") != op.get("schema")):
            continue
        return True
    return False


def shown_or(value, absent):
    return absent if value is None else shown(value)
