# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static checks of one EF Core migration: does its Down() undo its Up(), and what does Down() destroy.

``lint_migration(cls)`` takes a MigrationClass read by lint.csharp and returns its findings. A finding is
``{severity, kind, message, file, line}``; severities are ``error`` (the rollback will not restore the schema, or
cannot run), ``warning`` (data that existed before the migration is destroyed, or something is left behind) and
``info`` (fine but worth knowing, or cannot be verified statically: check it with a real round trip).
"""
from __future__ import annotations

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.csharp import SIGNATURES, Unresolved
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.sql import (
    best_statement, destructive_statements, excerpt, mentions_all, resources_named, split_statements, sql_excerpt,
    statement_effect)
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.names import (
    RENAMES, TableNames, loose_equal, moves_schema, rename_text, shown_or, undone_within)
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.values import (
    alter_summary, emits_default, is_text_value, norm, nullability, required_again_placeholder, same_value, shown,
    value_text)
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.column_types import describe_change


# Up() operation -> (Down() operations that undo it, identity fields that must match)
INVERSES = {
    "CreateTable": (("DropTable",), ("name",)),
    "DropTable": (("CreateTable",), ("name",)),
    "AddColumn": (("DropColumn",), ("name", "table")),
    "DropColumn": (("AddColumn",), ("name", "table")),
    "CreateIndex": (("DropIndex",), ("name", "table")),
    "DropIndex": (("CreateIndex",), ("name", "table")),
    "AddForeignKey": (("DropForeignKey",), ("name", "table")),
    "DropForeignKey": (("AddForeignKey",), ("name", "table")),
    "AddPrimaryKey": (("DropPrimaryKey",), ("name", "table")),
    "DropPrimaryKey": (("AddPrimaryKey",), ("name", "table")),
    "AddUniqueConstraint": (("DropUniqueConstraint",), ("name", "table")),
    "DropUniqueConstraint": (("AddUniqueConstraint",), ("name", "table")),
    "AddCheckConstraint": (("DropCheckConstraint",), ("name", "table")),
    "CreateCheckConstraint": (("DropCheckConstraint",), ("name", "table")),
    "DropCheckConstraint": (("AddCheckConstraint", "CreateCheckConstraint"), ("name", "table")),
    "CreateSequence": (("DropSequence",), ("name",)),
    "DropSequence": (("CreateSequence",), ("name",)),
    "AlterSequence": (("AlterSequence",), ("name",)),
    "AlterTable": (("AlterTable",), ("name",)),
    "AlterDatabase": (("AlterDatabase",), ()),
    "InsertData": (("DeleteData",), ("table",)),
    "DeleteData": (("InsertData",), ("table",)),
    "UpdateData": (("UpdateData",), ("table",)),
    "EnsureSchema": (("DropSchema",), ("name",)),
    "DropSchema": (("EnsureSchema",), ("name",)),
}
# Up() operations on a table that Down() satisfies by dropping (or, for drops, re-creating) the whole table.
TABLE_SCOPED = frozenset(("AddColumn", "CreateIndex", "AddForeignKey", "AddPrimaryKey", "AddUniqueConstraint",
                          "AddCheckConstraint", "CreateCheckConstraint", "InsertData", "AlterColumn", "RenameColumn",
                          "RenameIndex", "UpdateData"))
TABLE_SCOPED_DROPS = frozenset(("DropColumn", "DropIndex", "DropForeignKey", "DropPrimaryKey",
                                "DropUniqueConstraint", "DropCheckConstraint", "DeleteData"))
# Left behind by a rollback without harm to data: reported, but not as errors.
LEFT_BEHIND_IS_WARNING = frozenset(("EnsureSchema", "EnsurePostgresExtension"))
SQL_LIKE = "Sql"


def finding(severity, kind, message, op=None, file=None, line=None):
    return {"severity": severity, "kind": kind, "message": message,
            "file": op.file if op is not None else file, "line": op.line if op is not None else line}


def _table_of(op):
    return op.get("name") if op.kind in ("CreateTable", "DropTable", "AlterTable") else op.get("table")


def _matches(names, up_op, down_op, fields):
    for field in fields:
        if field == "name" and up_op.kind == "AlterColumn" == down_op.kind:
            if not names.same_column(up_op.get("table"), up_op.get("name"), down_op.get("table"), down_op.get("name")):
                return False
        elif field == "name" and up_op.kind in ("CreateTable", "DropTable"):
            if not names.same("table", up_op.get("name"), down_op.get("name")):
                return False
        elif not names.same(field, up_op.get(field), down_op.get(field)):
            return False
    schema_up, schema_down = up_op.get("schema"), down_op.get("schema")
    return schema_up is None or schema_down is None or names.same("schema", schema_up, schema_down)


def _describe(op):
    kind = op.kind
    table, name = op.get("table"), op.get("name")
    if kind in ("CreateTable", "DropTable", "AlterTable"):
        return "%s(%s)" % (kind, shown(name))
    if kind in ("AddColumn", "DropColumn", "AlterColumn"):
        return "%s(%s.%s)" % (kind, shown(table), shown(name))
    if kind in RENAMES:
        return "%s(%s -> %s)" % (kind, shown(name), shown(op.get("newName")))
    if kind in ("InsertData", "DeleteData", "UpdateData"):
        return "%s(%s)" % (kind, shown(table))
    if name is not None:
        return "%s(%s%s)" % (kind, shown(name), " on %s" % shown(table) if table is not None else "")
    return kind


def _check_rename(names, up_op, down_ops, down, up_ops=None):
    """Down() must rename the object from Up()'s new name (and schema) back to the old one.

    Names are compared exactly here (not through the table equivalence, which the renames themselves build).
    """
    old, new = up_op.get("name"), up_op.get("newName")
    moved = moves_schema(up_op)
    for d in (d for d in down_ops if d.kind == up_op.kind):
        if not loose_equal(d.get("name"), new if new is not None else old):
            continue
        if up_op.kind == "RenameColumn" and not names.same("table", d.get("table"), up_op.get("table")):
            continue
        if moved and not loose_equal(d.get("schema"), up_op.get("newSchema")):
            continue
        back_name = d.get("newName") if d.get("newName") is not None else d.get("name")
        if not loose_equal(back_name, old):
            return finding("error", "wrong_inverse", "Up() renames %s, but Down() renames it to %s instead of back "
                           "to %s." % (rename_text(up_op), shown(back_name), shown(old)), d)
        if moved and not loose_equal(d.get("newSchema"), up_op.get("schema")):
            return finding("error", "wrong_inverse", "Up() moves %s, but Down() moves it to schema %s instead of "
                           "back to %s." % (rename_text(up_op), shown_or(d.get("newSchema"), "the default schema"),
                                            shown_or(up_op.get("schema"), "the default schema")), d)
        return None
    if undone_within(up_op, up_ops or ()):
        return None
    return _unless_sql_undoes(up_op, down, finding(
        "error", "no_inverse", "Up() renames %s and Down() never renames it back." % rename_text(up_op), up_op))


def _check_alter_column(names, up_op, down_ops, down, provider=None):
    down_op = next((d for d in down_ops if d.kind == "AlterColumn" and _matches(names, up_op, d, ("name", "table"))), None)
    column = "%s.%s" % (shown(up_op.get("table")), shown(up_op.get("name")))
    if down_op is None:
        if any(d.kind == "DropColumn" and _matches(names, up_op, d, ("name", "table")) for d in down_ops):
            return [finding("error", "wrong_inverse", "Up() alters column %s; Down() drops the column instead of "
                            "altering it back." % column, up_op)]
        return [_unless_sql_undoes(up_op, down, finding(
            "error", "no_inverse", "Up() alters column %s (%s) and Down() never alters it back."
            % (column, alter_summary(up_op)), up_op))]
    problems, notes = [], []
    for new_key, old_key, label in (("type", "oldType", "type"), ("maxLength", "oldMaxLength", "max length"),
                                    ("precision", "oldPrecision", "precision"), ("scale", "oldScale", "scale"),
                                    ("collation", "oldCollation", "collation")):
        before, restored = up_op.get(old_key), down_op.get(new_key)
        if before is None or restored is None:
            continue
        if norm(before) != norm(restored):
            problems.append("%s %s instead of %s" % (label, value_text(restored, label), value_text(before, label)))
    if bool(up_op.get("oldNullable", False)) != bool(down_op.get("nullable", False)):
        problems.append("%s instead of %s" % (nullability(down_op.get("nullable", False)),
                                              nullability(up_op.get("oldNullable", False))))
    placeholder = required_again_placeholder(up_op, down_op)
    for new_key, old_key in (("defaultValueSql", "oldDefaultValueSql"), ("defaultValue", "oldDefaultValue")):
        before, restored = up_op.get(old_key), down_op.get(new_key)
        if isinstance(before, Unresolved) or isinstance(restored, Unresolved) and new_key == "defaultValueSql":
            continue
        if same_value(before, restored):
            continue
        if new_key == "defaultValue" and placeholder:
            if emits_default(provider, down_op):
                notes.append(finding("info", "default_added", "Down() makes column %s required again with EF's "
                                     "placeholder default %s (EF's standard code when Up() made it nullable, not an "
                                     "error). Rows holding NULL get that value where the provider fills them first, "
                                     "and the column keeps it as DEFAULT, which it did not have before Up()."
                                     % (column, placeholder), down_op))
            continue
        problems.append("%s %s instead of %s" % (new_key, value_text(restored, new_key), value_text(before, new_key)))
    if problems:
        return [finding("error", "wrong_inverse", "Down() does not restore column %s as it was before Up(): %s."
                        % (column, "; ".join(problems)), down_op)] + notes
    return notes


def _check_opaque(up_op, down):
    """Sql() and calls we cannot see into: say so, louder when Down() runs nothing of the kind."""
    down_opaque = [d for d in down.operations if d.kind == SQL_LIKE or d.kind not in SIGNATURES] + down.other_calls
    what = "raw SQL (%s)" % sql_excerpt(up_op) if up_op.kind == SQL_LIKE else "%s" % up_op.text[:100]
    resources = resources_named(up_op)
    if resources:
        what += " from %s" % ", ".join(resources)
    if down_opaque:
        return finding("info", "sql_unverified", "Up() runs %s; Down() also runs raw SQL or helpers (line %s): cannot "
                       "verify statically that it reverses it. Check it with a round trip on a scratch database."
                       % (what, ", ".join(str(d.line) for d in down_opaque)), up_op)
    return finding("warning", "sql_unverified", "Up() runs %s and Down() runs no SQL: cannot verify it is undone. "
                   "If it only changes data on purpose, ignore this migration with a reason." % what, up_op)


def _unless_sql_undoes(up_op, down, error):
    """``error`` (no inverse found), or an info when Down() runs raw SQL or helpers that may undo ``up_op``."""
    down_sql = [d for d in down.operations if d.kind == SQL_LIKE]
    helpers = [d for d in down.operations if d.kind not in SIGNATURES] + down.other_calls
    if not down_sql and not helpers:
        return error
    statement, op = best_statement(_identifiers(up_op), down_sql)
    if statement is not None:
        return finding("info", "sql_unverified", "Up() runs %s; Down() runs raw SQL that probably undoes it (line %d: "
                       "%s): cannot verify statically. Check it with a round trip on a scratch database."
                       % (_describe(up_op), op.line, statement), up_op)
    opaque = [d for d in down_sql if not isinstance(d.get("sql"), str)] + helpers
    if opaque:
        return finding("info", "sql_unverified", "Up() runs %s; Down() runs SQL or helpers whose text is only known at "
                       "run time (line %s): cannot verify statically that they undo it."
                       % (_describe(up_op), ", ".join(str(d.line) for d in opaque)), up_op)
    error["message"] += " (Down() runs raw SQL, but none of its statements names %s.)" % shown(_identifiers(up_op)[0])
    return error


def _identifiers(op):
    """Names that SQL undoing ``op`` would mention, the most specific first."""
    keys = ("newName", "name", "table") if op.kind in RENAMES else ("name", "table", "columns")
    names = []
    for key in keys:
        value = op.get(key)
        for item in value if isinstance(value, list) else [value]:
            if is_text_value(item) and item not in names:
                names.append(item)
    return names or [op.kind]


def _group_destroyed(items, created):
    """One data_loss warning per migration for what existed before it, one info for what its Up() created."""
    found = []
    if items:
        found.append(finding("warning", "data_loss", "Down() destroys data: %s." % "; ".join(
            "%s (line %d)" % (text, op.line) for text, op in items), items[0][1]))
    if created:
        found.append(finding("info", "drops_created", "Down() drops what this migration's Up() created (%s): a "
                             "rollback loses only the data written there since the migration was applied."
                             % ", ".join(text for text, _op in created), created[0][1]))
    return found


def _check_down_destroys(names, up, down, provider=None):
    items, created, found = [], [], []
    up_created_tables = {names.root(op.get("name")) for op in up.operations
                         if op.kind == "CreateTable" and isinstance(op.get("name"), str)}
    up_added_columns = {(names.root(op.get("table")), op.get("name")) for op in up.operations
                        if op.kind == "AddColumn" and isinstance(op.get("table"), str)}
    up_alters = [op for op in up.operations if op.kind == "AlterColumn"]
    for op in down.operations:
        if op.kind == "DropTable":
            text = "table %s" % shown(op.get("name"))
            if isinstance(op.get("name"), str) and names.root(op.get("name")) in up_created_tables:
                created.append((text, op))
                continue
            items.append(("drops %s: every row in it is lost" % text, op))
            if isinstance(op.get("name"), str):
                found.append(finding("warning", "drops_unrelated", "Down() drops table %s, which Up() did not create."
                                     % shown(op.get("name")), op))
        elif op.kind == "DropColumn":
            text = "column %s.%s" % (shown(op.get("table")), shown(op.get("name")))
            table = names.root(op.get("table")) if isinstance(op.get("table"), str) else None
            if table is not None and ((table, op.get("name")) in up_added_columns or table in up_created_tables):
                created.append((text, op))
                continue
            items.append(("drops %s: its values are lost" % text, op))
            if table is not None:
                found.append(finding("warning", "drops_unrelated", "Down() drops column %s.%s, which Up() did not add."
                                     % (shown(op.get("table")), shown(op.get("name"))), op))
        elif op.kind == "AlterColumn":
            losses, extra = _alter_losses(names, op, up_alters)
            items.extend(losses)
            found.extend(extra)
        elif op.kind == SQL_LIKE and isinstance(op.get("sql"), str):
            for what, statement in destructive_statements(op.get("sql")):
                if _names_created(statement, up):
                    created.append(("%s, in raw SQL" % excerpt(statement, 100), op))
                else:
                    items.append(("raw SQL runs %s (%s): it may destroy data that cannot be measured statically"
                                  % (what, excerpt(statement)), op))
    return _group_destroyed(items, created) + found


def _names_created(statement, up):
    """A destructive raw statement that names a table Up() created, or a column Up() added with its table."""
    for op in up.operations:
        if op.kind == "CreateTable" and is_text_value(op.get("name")) and mentions_all(statement, [op.get("name")]):
            return True
        if op.kind == "AddColumn" and is_text_value(op.get("name")) and is_text_value(op.get("table")) \
                and mentions_all(statement, [op.get("name"), op.get("table")]):
            return True
    return False


def _alter_losses(names, op, up_alters):
    up_op = next((u for u in up_alters if _matches(names, u, op, ("name", "table"))), None)
    column = "%s.%s" % (shown(op.get("table")), shown(op.get("name")))
    losses, found = [], []
    current = op.get("oldType") if op.get("oldType") is not None else (up_op.get("type") if up_op else None)
    target = op.get("type")
    verdict, reason = describe_change(current, target)
    if verdict in ("narrows", "converts"):
        losses.append(("changes column %s from %s to %s: %s" % (column, shown(current), shown(target), reason), op))
    old_len = op.get("oldMaxLength") if op.get("oldMaxLength") is not None else (up_op.get("maxLength") if up_op else None)
    new_len = op.get("maxLength")
    if isinstance(old_len, int) and isinstance(new_len, int) and new_len < old_len and verdict in ("same", "unknown"):
        losses.append(("shortens column %s from %d to %d characters: longer values are cut or make the rollback "
                       "fail" % (column, old_len, new_len), op))
    was_nullable = op.get("oldNullable") if op.get("oldNullable") is not None else (
        up_op.get("nullable", False) if up_op else False)
    placeholder = up_op is not None and required_again_placeholder(up_op, op)
    if was_nullable and not op.get("nullable", False) and not placeholder:
        found.append(finding("warning", "not_null", "Down() makes column %s NOT NULL: the rollback fails if any row "
                             "holds NULL there (give it a default or update the rows first)." % column, op))
    return losses, found


def _main_file(cls):
    """The file a reader opens to fix the class: where Up() is, else the part that is not the Designer."""
    own = [f for f in cls.files if not f.endswith(".Designer.cs")]
    if cls.up.file and cls.up.file in cls.files:
        return cls.up.file
    return own[0] if own else cls.files[0]


def _from_unknown_base(cls, main_file):
    """Up()/Down() missing from a class whose base class is not in the folder: they may come from it."""
    missing = [m.name for m in (cls.up, cls.down) if not m.present]
    return finding("info", "base_unresolved", "%s() %s not declared by %s, which derives from %s: that base class is "
                   "not under the linted folder, so %s cannot be verified. Lint the folder that holds it too."
                   % ("() and ".join(missing), "are" if len(missing) > 1 else "is", cls.full_name, cls.unresolved_base,
                      "they" if len(missing) > 1 else "it"), file=main_file, line=1)


def lint_migration(cls, provider=None):
    """Findings for one MigrationClass (any order; the caller sorts)."""
    found = []
    main_file = _main_file(cls)
    up, down = cls.up, cls.down
    if not cls.migration_id:
        found.append(finding("error", "not_recognised", "Class %s derives from Migration but has no [Migration(\"...\")] "
                             "attribute (is its .Designer.cs missing?): EF Core does not see it, so neither "
                             "'database update' nor a rollback ever runs it." % cls.full_name, file=main_file, line=1))
    for method in (up, down):
        if method.syntax_errors and method.name not in cls.inherited:
            found.append(finding("warning", "syntax", "%s() has C# the parser could not read (line %s): findings for "
                                 "it may be incomplete." % (method.name, ", ".join(map(str, sorted(
                                     set(method.syntax_errors))[:5]))), file=method.file, line=method.syntax_errors[0]))
    if cls.unresolved_base and not (up.present and down.present):
        found.append(_from_unknown_base(cls, main_file))
        if down.present and down.throws:
            found.append(finding("error", "irreversible", "Down() throws (%s): this migration cannot be rolled back."
                                 % down.throws[:120], file=down.file, line=down.line))
        return found
    if not up.present:
        found.append(finding("error", "missing_up", "No Up() method in %s%s." % (cls.full_name, _bases_text(cls)),
                             file=main_file, line=1))
    if not down.present:
        found.append(finding("error", "missing_down", "No Down() method in %s%s: EF's default Down() throws, so this "
                             "migration cannot be rolled back." % (cls.full_name, _bases_text(cls)), file=main_file, line=1))
        return found
    if down.throws:
        found.append(finding("error", "irreversible", "Down() throws (%s): this migration cannot be rolled back."
                             % down.throws[:120], file=down.file, line=down.line))
        return found
    if (up.operations or up.other_calls) and down.statements == 0:
        found.append(_empty_down(up, down))
        return found
    names = TableNames(up.operations + down.operations)
    for op in up.operations:
        found.extend(_check_up_operation(names, op, down, provider, up.operations))
    for call in up.other_calls:
        found.append(_check_opaque(call, down))
    found.extend(_check_down_destroys(names, up, down, provider))
    for op in up.operations + down.operations:
        loose = [k for k in ("name", "table", "newName") if isinstance(op.get(k), Unresolved)]
        if loose:
            found.append(finding("info", "unresolved", "%s: %s computed at run time (%s); matched loosely."
                                 % (op.kind, ", ".join(loose), op.get(loose[0]).text[:60]), op))
    return found


def _empty_down(up, down):
    """An empty Down() after an Up() with work: an error when Up() changes the schema (or may: EF operations, DDL);
    when Up() only runs SQL, a warning that says what stays (data changes) or that it cannot be verified."""
    work = up.operations + up.other_calls
    opaque = [op for op in work if op.kind == SQL_LIKE or op.kind not in SIGNATURES]
    if len(opaque) == len(work):
        effects = []  # (effect, statement, op) of every statement whose text is known
        unknown = [op for op in opaque if not isinstance(op.get("sql"), str)]
        for op in opaque:
            if isinstance(op.get("sql"), str):
                effects.extend((statement_effect(st), st, op) for st in split_statements(op.get("sql")))
        schema = [(st, op) for effect, st, op in effects if effect == "schema"]
        if not schema and not unknown and effects and all(effect == "data" for effect, _st, _op in effects):
            _effect, first, op = effects[0]
            return finding("warning", "data_not_undone", "Up() only changes data (%d SQL statement(s); line %d: %s) "
                           "and Down() is empty: after a rollback the schema is as before Up(), and the rows Up() "
                           "changed stay as they are. If that is intended, ignore this migration with a reason."
                           % (len(effects), op.line, excerpt(first)), file=down.file, line=down.line)
        if not schema:
            lines = ", ".join(str(op.line) for op in (unknown or opaque))
            return finding("warning", "sql_unverified", "Up() runs SQL or helpers whose effect cannot be read "
                           "statically (line %s) and Down() is empty: cannot verify that a rollback leaves the schema "
                           "as it was. Check it with a round trip on a scratch database." % lines,
                           file=down.file, line=down.line)
        first, op = schema[0]
        return finding("error", "empty_down", "Down() is empty while Up() changes the schema with raw SQL (line %d: "
                       "%s): a rollback removes the history row and leaves that change." % (op.line, excerpt(first)),
                       file=down.file, line=down.line)
    return finding("error", "empty_down", "Down() is empty while Up() has %d operation(s): a rollback removes the "
                   "history row and leaves the schema as Up() made it." % len(work), file=down.file, line=down.line)


def _bases_text(cls):
    return " or its base classes" if cls.bases and cls.bases[0] not in ("Migration",) else ""


# Database-level settings a provider scaffolds in the first migration's Up() only (no inverse in Down()):
# MySQL's character set and collation; harmless to leave behind.
HARMLESS_DATABASE_ANNOTATIONS = ("MySql:CharSet", "MySql:Collation", "Relational:Collation")


def _check_up_operation(names, op, down, provider=None, up_ops=None):
    kind = op.kind
    if kind == SQL_LIKE or kind not in SIGNATURES:
        return [_check_opaque(op, down)]
    if kind in RENAMES:
        result = _check_rename(names, op, down.operations, down, up_ops)
        return [result] if result else []
    if kind == "AlterColumn":
        if _dropped_with_table(names, op, down):
            return []
        return _check_alter_column(names, op, down.operations, down, provider)
    if kind == "RestartSequence":
        return [finding("info", "no_inverse", "Up() restarts sequence %s: a rollback cannot restore its previous value."
                        % shown(op.get("name")), op)]
    if kind == "EnsurePostgresExtension" or kind not in INVERSES:
        return [finding("warning", "left_behind", "Up() runs %s and Down() has no inverse: it stays after a rollback."
                        % _describe(op), op)]
    inverse_kinds, fields = INVERSES[kind]
    if any(d.kind in inverse_kinds and _matches(names, op, d, fields) for d in down.operations):
        return []
    if kind in TABLE_SCOPED and _dropped_with_table(names, op, down):
        return []
    if kind in TABLE_SCOPED_DROPS and _recreated_with_table(names, op, down):
        return []
    if kind in ("CreateIndex", "AddForeignKey", "AddUniqueConstraint") and _columns_dropped(names, op, down):
        return []  # PostgreSQL drops an index or constraint with the last of its columns
    if kind in LEFT_BEHIND_IS_WARNING:
        return [finding("warning", "left_behind", "Up() runs %s and Down() has no %s: the schema stays after a "
                        "rollback (EF never scaffolds DropSchema; harmless when the schema is shared)."
                        % (_describe(op), "/".join(inverse_kinds)), op)]
    keys = [str(k) for k, _ignored in op.annotations]
    if kind == "AlterDatabase" and keys and all(k.startswith("Npgsql:PostgresExtension") for k in keys):
        return [finding("warning", "left_behind", "Up() enables PostgreSQL extension(s) %s and Down() does not "
                        "disable them: they stay after a rollback." % ", ".join(k.split(":")[-1] for k in keys), op)]
    if kind == "AlterDatabase" and keys and all(k.startswith(HARMLESS_DATABASE_ANNOTATIONS) for k in keys):
        return [finding("info", "left_behind", "Up() sets the database's %s and Down() leaves it: harmless after a "
                        "rollback (EF scaffolds it in Up() only)." % ", ".join(
                            "%s %s" % (k.split(":")[-1], shown(v)) for k, v in op.annotations), op)]
    return [_unless_sql_undoes(op, down, finding("error", "no_inverse", "Up() runs %s and Down() has no matching %s."
                                                 % (_describe(op), " or ".join(inverse_kinds)), op))]


def _dropped_with_table(names, op, down):
    table = _table_of(op)
    return isinstance(table, str) and any(d.kind == "DropTable" and names.same("table", d.get("name"), table) for d in down.operations)


def _columns_dropped(names, op, down):
    columns = op.get("columns")
    columns = [columns] if isinstance(columns, str) else columns
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        return False
    dropped = {d.get("name") for d in down.operations
               if d.kind == "DropColumn" and names.same("table", d.get("table"), op.get("table"))}
    return set(columns) <= dropped


def _recreated_with_table(names, op, down):
    table = _table_of(op)
    return isinstance(table, str) and any(d.kind == "CreateTable" and names.same("table", d.get("name"), table) for d in down.operations)
