"""Property tests of ef_migration_lint over generated migration sources (bounded, seeded, plain pytest).

1. Whatever Up() and Down() hold (renames both ways, self-renames, schema-only moves, drops of unknown tables),
   the lint returns, within its time limit, a well-formed result for every migration.
2. A Down() that is the exact inverse of its Up(), written as EF writes it, has no error.
3. Remove one operation of such a Down() and the lint reports an error naming the object it no longer undoes.
"""
from __future__ import annotations

import random

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.csharp import Operation
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.folder import Deadline, LintTimeout, lint_folder
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.names import TableNames as _Names

TABLES = ["Farmers", "Orders", "Clients", "Lines"]
COLUMNS = ["Name", "Code", "Amount", "Village"]
SCHEMAS = [None, "sales", "archive"]
CLR = [("int", "integer", "0"), ("string", "text", '""'), ("bool", "boolean", "false"),
       ("Guid", "uuid", 'new Guid("00000000-0000-0000-0000-000000000000")'),
       ("DateTime", "timestamp with time zone", "new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified)")]


def q(value):
    return '"%s"' % value


def schema_arg(key, schema):
    return ", %s: %s" % (key, q(schema)) if schema else ""


def render(op):
    """One ``migrationBuilder.X(...)`` statement for an operation tuple."""
    kind = op[0]
    if kind == "CreateTable":
        _ignored, table, schema = op
        return ('migrationBuilder.CreateTable(name: %s%s, columns: table => new { Id = table.Column<int>(type: "integer", '
                'nullable: false) }, constraints: table => { table.PrimaryKey("PK_%s", x => x.Id); });'
                % (q(table), schema_arg("schema", schema), table))
    if kind == "DropTable":
        _ignored, table, schema = op
        return "migrationBuilder.DropTable(name: %s%s);" % (q(table), schema_arg("schema", schema))
    if kind == "AddColumn":
        _ignored, table, column = op
        return 'migrationBuilder.AddColumn<string>(name: %s, table: %s, type: "text", nullable: true);' % (q(column), q(table))
    if kind == "DropColumn":
        _ignored, table, column = op
        return "migrationBuilder.DropColumn(name: %s, table: %s);" % (q(column), q(table))
    if kind == "RenameTable":
        _ignored, old, schema, new, new_schema = op
        return "migrationBuilder.RenameTable(name: %s%s, newName: %s%s);" % (
            q(old), schema_arg("schema", schema), q(new), schema_arg("newSchema", new_schema))
    if kind == "RenameColumn":
        _ignored, table, old, new = op
        return "migrationBuilder.RenameColumn(name: %s, table: %s, newName: %s);" % (q(old), q(table), q(new))
    if kind == "AlterColumn":
        _ignored, table, column, clr, nullable, default = op
        generic, store, _placeholder = next(c for c in CLR if c[0] == clr)
        return ("migrationBuilder.AlterColumn<%s>(name: %s, table: %s, type: %s, nullable: %s%s, oldClrType: typeof(%s), "
                "oldType: %s%s);" % (generic, q(column), q(table), q(store), "true" if nullable else "false",
                                     ", defaultValue: %s" % default if default else "", generic, q(store),
                                     "" if nullable else ", oldNullable: true"))
    if kind == "CreateIndex":
        _ignored, table, column = op
        return "migrationBuilder.CreateIndex(name: %s, table: %s, column: %s);" % (q("IX_%s_%s" % (table, column)), q(table), q(column))
    if kind == "DropIndex":
        _ignored, table, column = op
        return "migrationBuilder.DropIndex(name: %s, table: %s);" % (q("IX_%s_%s" % (table, column)), q(table))
    if kind == "Sql":
        return "migrationBuilder.Sql(%s);" % q(op[1])
    raise ValueError(kind)


def inverse(op):
    """What EF writes in Down() for one Up() operation."""
    kind = op[0]
    if kind == "CreateTable":
        return ("DropTable", op[1], op[2])
    if kind == "DropTable":
        return ("CreateTable", op[1], op[2])
    if kind == "AddColumn":
        return ("DropColumn", op[1], op[2])
    if kind == "DropColumn":
        return ("AddColumn", op[1], op[2])
    if kind == "RenameTable":
        _ignored, old, schema, new, new_schema = op
        moved = new_schema is not None and new_schema != schema
        return ("RenameTable", new, new_schema if moved else schema, old, schema if moved else None)
    if kind == "RenameColumn":
        return ("RenameColumn", op[1], op[3], op[2])
    if kind == "AlterColumn":
        _ignored, table, column, clr, nullable, _default = op
        placeholder = next(c for c in CLR if c[0] == clr)[2]
        return ("AlterColumn", table, column, clr, not nullable, None if not nullable else placeholder)
    if kind == "CreateIndex":
        return ("DropIndex", op[1], op[2])
    if kind == "DropIndex":
        return ("CreateIndex", op[1], op[2])
    raise ValueError(kind)


def random_op(rng, allow_sql=True):
    kind = rng.choice(["CreateTable", "DropTable", "AddColumn", "DropColumn", "RenameTable", "RenameTable",
                       "RenameColumn", "AlterColumn", "CreateIndex", "DropIndex"] + (["Sql"] if allow_sql else []))
    table, column = rng.choice(TABLES), rng.choice(COLUMNS)
    if kind in ("CreateTable", "DropTable"):
        return (kind, table, rng.choice(SCHEMAS))
    if kind in ("AddColumn", "DropColumn", "CreateIndex", "DropIndex"):
        return (kind, table, column)
    if kind == "RenameTable":
        schema = rng.choice(SCHEMAS)
        if rng.random() < 0.3:  # a schema-only move: same name, another schema
            return (kind, table, schema, table, rng.choice([s for s in SCHEMAS if s and s != schema]))
        return (kind, table, schema, rng.choice(TABLES), None)  # may rename a table to itself
    if kind == "RenameColumn":
        return (kind, table, column, rng.choice(COLUMNS))
    if kind == "AlterColumn":
        clr = rng.choice(CLR)
        nullable = rng.random() < 0.5
        return (kind, table, column, clr[0], nullable, None if nullable else clr[2])
    return (kind, "ALTER TABLE \\\"%s\\\" DROP COLUMN \\\"%s\\\";" % (table, column))


def source(name, up, down):
    def body(ops):
        return "\n".join("            " + render(op) for op in ops)
    return ('using System;\nusing Microsoft.EntityFrameworkCore.Migrations;\n\nnamespace Fuzz.Migrations\n{\n'
            '    [DbContext(typeof(FuzzContext))]\n    [Migration("%s")]\n    public partial class %s : Migration\n    {\n'
            '        protected override void Up(MigrationBuilder migrationBuilder)\n        {\n%s\n        }\n\n'
            '        protected override void Down(MigrationBuilder migrationBuilder)\n        {\n%s\n        }\n    }\n}\n'
            % (name, name.split("_", 1)[1], body(up), body(down)))


def write_folder(folder, migrations):
    for k, (up, down) in enumerate(migrations):
        name = "2024%02d%02d%06d_M%d" % (1 + k // 28 % 12, 1 + k % 28, k, k)
        (folder / (name + ".cs")).write_text(source(name, up, down), encoding="utf-8")


@pytest.mark.parametrize("seed", range(6))
def test_any_sequence_of_operations_lints_to_a_well_formed_result(tmp_path, seed):
    rng = random.Random(seed)
    migrations = []
    for _ignored in range(40):
        up = [random_op(rng) for _ignored in range(rng.randint(0, 8))]
        down = [random_op(rng) for _ignored in range(rng.randint(0, 8))]
        if rng.random() < 0.5:  # renames both ways across Up() and Down(), as EF writes them
            down += [inverse(op) for op in reversed(up) if op[0] == "RenameTable"]
        migrations.append((up, down))
    write_folder(tmp_path, migrations)
    result = lint_folder(str(tmp_path), timeout=60)
    assert result["counts"]["migrations"] == len(migrations) == result["counts"]["linted"]
    for entry in result["migrations"]:
        assert entry["recognised"]
        for f in entry["findings"]:
            assert f["severity"] in ("error", "warning", "info") and f["kind"] and f["line"] >= 1
            assert "None" not in f["message"], f["message"]


def up_of_distinct_objects(rng, k):
    """Up() operations on objects no other operation of the migration touches, so one missing inverse shows."""
    ops = []
    for n in range(rng.randint(1, 6)):
        table, column = "T%d_%d" % (k, n), "C%d" % n
        kind = rng.choice(["CreateTable", "AddColumn", "DropColumn", "RenameTable", "RenameColumn", "AlterColumn",
                           "CreateIndex", "DropIndex"])
        if kind == "CreateTable":
            ops.append((kind, table, rng.choice(SCHEMAS)))
        elif kind == "RenameTable":
            if rng.random() < 0.4:
                ops.append((kind, table, None, table, rng.choice(["sales", "archive"])))
            else:
                ops.append((kind, table, rng.choice(SCHEMAS), table + "New", None))
        elif kind == "RenameColumn":
            ops.append((kind, table, column, column + "New"))
        elif kind == "AlterColumn":
            clr = rng.choice(CLR)
            nullable = rng.random() < 0.5
            ops.append((kind, table, column, clr[0], nullable, None if nullable else clr[2]))
        else:
            ops.append((kind, table, column))
    return ops


@pytest.mark.parametrize("seed", range(4))
def test_an_exact_inverse_has_no_error_and_removing_one_operation_is_reported(tmp_path, seed):
    rng = random.Random(1000 + seed)
    exact, broken, removed = [], [], []
    for k in range(30):
        up = up_of_distinct_objects(rng, k)
        down = [inverse(op) for op in reversed(up)]
        exact.append((up, down))
        drop = rng.randrange(len(down))
        broken.append((up, down[:drop] + down[drop + 1:]))
        removed.append(up[len(up) - 1 - drop])
    (tmp_path / "exact").mkdir()
    (tmp_path / "broken").mkdir()
    write_folder(tmp_path / "exact", exact)
    write_folder(tmp_path / "broken", broken)
    for entry in lint_folder(str(tmp_path / "exact"))["migrations"]:
        assert not [f for f in entry["findings"] if f["severity"] != "info"], entry["findings"]
    for entry, up_op, (_up, down) in zip(lint_folder(str(tmp_path / "broken"))["migrations"], removed, broken):
        errors = [f for f in entry["findings"] if f["severity"] == "error"]
        if not down:  # the only operation removed: the Down() is empty, and said so
            assert [f["kind"] for f in errors] == ["empty_down"]
            continue
        assert any(up_op[1] in f["message"] and f["kind"] in ("no_inverse", "wrong_inverse") for f in errors), \
            (up_op, entry["findings"])


def test_the_time_limit_stops_the_lint_naming_the_file(tmp_path):
    write_folder(tmp_path, [([("CreateTable", "A", None)], [("DropTable", "A", None)])] * 3)
    with pytest.raises(LintTimeout) as stopped:
        lint_folder(str(tmp_path), timeout=1e-6)
    assert "time limit of 1e-06 s while reading 20240101000000_M0.cs" in str(stopped.value)
    assert lint_folder(str(tmp_path), timeout=0)["counts"]["linted"] == 3  # 0: no limit


def test_the_alarm_backstop_stops_code_that_never_reaches_a_check():
    deadline = Deadline(0.05)
    deadline.at("20240101000000_Loop.cs")
    with pytest.raises(LintTimeout, match="while reading 20240101000000_Loop.cs"):
        with deadline.armed():
            while True:  # stands for any construct that would loop: the alarm interrupts it
                pass


def test_renames_both_ways_and_schema_moves_join_names_without_a_cycle():
    ops = [Operation("RenameTable", {"name": "a", "newName": "b"}, 1, "", "x.cs"),
           Operation("RenameTable", {"name": "b", "newName": "a"}, 2, "", "x.cs"),
           Operation("RenameTable", {"name": "a", "newName": "a", "newSchema": "s"}, 3, "", "x.cs"),
           Operation("RenameTable", {"name": "c", "newName": "b"}, 4, "", "x.cs"),
           Operation("RenameTable", {"name": "b", "newName": "c"}, 5, "", "x.cs")]
    names = _Names(ops)
    assert all(child != parent for child, parent in names.parent.items())
    assert names.root("a") == names.root("b") == names.root("c") and names.root("d") == "d"
    assert names.same("table", "a", "c") and not names.same("table", "a", "d")
