"""The C# reader on shapes found in real EF Core folders: EF 3..10 styles, Npgsql, several DbContexts."""
from __future__ import annotations

import textwrap

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.csharp import (
    Unresolved, find_source_files, read_migrations)
from ansible_collections.almafrica.rollback.plugins.module_utils.lint.folder import lint_folder
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.column_types import describe_change

import pytest


def write(folder, rel, text):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def read_one(tmp_path, text, name="20260101000000_X.cs"):
    write(tmp_path, name, text)
    files, _ignored = find_source_files(str(tmp_path))
    return [c for c in read_migrations(files, str(tmp_path)) if c.is_migration]


def test_file_scoped_namespace_renamed_builder_positional_arguments_and_constants(tmp_path):
    (cls,) = read_one(tmp_path, '''
        using Microsoft.EntityFrameworkCore.Migrations;
        namespace Shop.Data.Migrations;

        [DbContext(typeof(Shop.Data.ShopContext))]
        [Migration("20240105093000_Positional")]
        public partial class Positional : Migration
        {
            private const string Table = "Products";
            protected override void Up(MigrationBuilder mb)
            {
                mb.AddColumn<int>("Stock", Table, "integer", nullable: false, defaultValue: 0);
                mb.CreateIndex("IX_" + Table + "_Stock", Table, new[] { "Stock", "Id" }, unique: true);
                mb.RenameColumn("Title", Table, "Name");
                mb.CreateIndex(name: "IX_Products_Sku", table: nameof(Products), columns: ["Sku"]);
            }
            protected override void Down(MigrationBuilder mb) { }
        }
        ''')
    assert cls.full_name == "Shop.Data.Migrations.Positional" and cls.context == "ShopContext"
    assert cls.migration_id == "20240105093000_Positional" and cls.up.builder == "mb"
    add, index, rename, sku = cls.up.operations
    assert (add.kind, add.get("name"), add.get("table"), add.get("type"), add.get("defaultValue"), add.generic) == \
        ("AddColumn", "Stock", "Products", "integer", 0, "int")
    assert index.get("name") == "IX_Products_Stock" and index.get("columns") == ["Stock", "Id"] and index.get("unique")
    assert (rename.get("name"), rename.get("table"), rename.get("newName")) == ("Title", "Products", "Name")
    assert sku.get("table") == "Products" and sku.get("columns") == ["Sku"]
    assert cls.down.present and cls.down.statements == 0


def test_every_kind_of_string_literal_is_decoded(tmp_path):
    (cls,) = read_one(tmp_path, r'''
        public partial class Strings : Migration
        {
            protected override void Up(MigrationBuilder migrationBuilder)
            {
                migrationBuilder.Sql("UPDATE \"T\" SET \"A\" = 'x\ty';");
                migrationBuilder.Sql(@"UPDATE ""T"" SET ""B"" = 1;");
                migrationBuilder.Sql("""
                    CREATE FUNCTION f() RETURNS int
                    AS $$ SELECT 1 $$ LANGUAGE sql;
                    """);
                migrationBuilder.Sql($"SELECT {Value}");
            }
        }
        ''')
    sqls = [op.get("sql") for op in cls.up.operations]
    assert sqls[0] == "UPDATE \"T\" SET \"A\" = 'x\ty';"
    assert sqls[1] == 'UPDATE "T" SET "B" = 1;'
    assert sqls[2] == "CREATE FUNCTION f() RETURNS int\nAS $$ SELECT 1 $$ LANGUAGE sql;"
    assert isinstance(sqls[3], Unresolved)
    assert cls.migration_id is None and cls.derives_from_migration


def test_create_table_columns_and_chained_annotations_are_read(tmp_path):
    (cls,) = read_one(tmp_path, '''
        public partial class Init : Migration
        {
            protected override void Up(MigrationBuilder migrationBuilder)
            {
                migrationBuilder.AlterDatabase()
                    .Annotation("Npgsql:Enum:order_state", "new,paid")
                    .Annotation("Npgsql:PostgresExtension:citext", ",,");

                migrationBuilder.CreateTable(
                    name: "Orders",
                    schema: "shop",
                    columns: table => new
                    {
                        Id = table.Column<Guid>(nullable: false),
                        Total = table.Column<decimal>(type: "numeric(10,2)", nullable: false),
                        Legacy = table.Column<string>(name: "legacy_code", maxLength: 10, nullable: true)
                    },
                    constraints: table =>
                    {
                        table.PrimaryKey("PK_Orders", x => x.Id);
                    })
                    .Annotation("Npgsql:StorageParameter:fillfactor", 70);
            }
            protected override void Down(MigrationBuilder migrationBuilder)
            {
                migrationBuilder.DropTable(name: "Orders", schema: "shop");
                migrationBuilder.AlterDatabase()
                    .OldAnnotation("Npgsql:Enum:order_state", "new,paid")
                    .OldAnnotation("Npgsql:PostgresExtension:citext", ",,");
            }
        }
        ''')
    alter, create = cls.up.operations
    assert alter.annotations == [("Npgsql:Enum:order_state", "new,paid"), ("Npgsql:PostgresExtension:citext", ",,")]
    assert create.get("schema") == "shop" and create.annotations == [("Npgsql:StorageParameter:fillfactor", 70)]
    assert [(c["name"], c.get("type"), c["clr_type"]) for c in create.get("columns")] == [
        ("Id", None, "Guid"), ("Total", "numeric(10,2)", "decimal"), ("legacy_code", None, "string")]
    assert cls.down.operations[1].old_annotations[0] == ("Npgsql:Enum:order_state", "new,paid")


def test_several_contexts_in_one_tree_are_grouped_and_resources_listed(tmp_path):
    for ctx, folder in (("ConfigurationDbContext", "ConfigurationDb"), ("PersistedGrantDbContext", "PersistedGrantDb")):
        for stamp, name in (("20230101000000", "Init"), ("20230301000000", "Grow")):
            write(tmp_path, "%s/%s_%s%s.Designer.cs" % (folder, stamp, ctx, name), '''
                namespace Identity.Migrations.%s
                {
                    [DbContext(typeof(%s))]
                    [Migration("%s_%s%s")]
                    partial class %s%s { }
                }
                ''' % (folder, ctx, stamp, ctx, name, ctx, name))
            write(tmp_path, "%s/%s_%s%s.cs" % (folder, stamp, ctx, name), '''
                namespace Identity.Migrations.%s
                {
                    public partial class %s%s : Migration
                    {
                        protected override void Up(MigrationBuilder migrationBuilder)
                        {
                            SqlScripts.Run(migrationBuilder, "Scripts/%s.psql");
                        }
                        protected override void Down(MigrationBuilder migrationBuilder)
                        {
                            SqlScripts.Run(migrationBuilder, "Scripts/%s_down.psql");
                        }
                    }
                }
                ''' % (folder, ctx, name, name, name))
    write(tmp_path, "Scripts/Init.psql", "CREATE TABLE x (id int);")
    write(tmp_path, "obj/Debug/Generated.cs", "this is not C# at all {{{")
    result = lint_folder(str(tmp_path))
    assert sorted(result["contexts"]) == ["ConfigurationDbContext", "PersistedGrantDbContext"]
    assert all(len(ids) == 2 for ids in result["contexts"].values())
    assert result["sql_resources"] == ["Scripts/Init.psql"]
    assert result["counts"]["error"] == 0 and result["counts"]["warning"] == 0
    infos = [f for e in result["migrations"] for f in e["findings"]]
    assert len(infos) == 4 and all(f["kind"] == "sql_unverified" and ".psql" in f["message"] for f in infos)


def test_ef3_style_migration_with_attribute_in_main_file_and_helper_down(tmp_path):
    migrations = read_one(tmp_path, '''
        using Microsoft.EntityFrameworkCore.Migrations;
        using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

        namespace Legacy.Migrations
        {
            [DbContext(typeof(LegacyContext))]
            [Migration("20191011051102_AddUsers")]
            public partial class AddUsers : Migration
            {
                protected override void Up(MigrationBuilder migrationBuilder)
                {
                    migrationBuilder.CreateTable(
                        name: "Users",
                        columns: table => new
                        {
                            Id = table.Column<int>(nullable: false)
                                .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.SerialColumn),
                            Email = table.Column<string>(nullable: true)
                        },
                        constraints: table => table.PrimaryKey("PK_Users", x => x.Id));
                    migrationBuilder.AlterColumn<string>(
                        name: "Name", table: "Teams", maxLength: 100, nullable: false,
                        oldClrType: typeof(string), oldMaxLength: 50, oldNullable: true);
                }

                protected override void Down(MigrationBuilder migrationBuilder)
                {
                    migrationBuilder.DropTable(name: "Users");
                    migrationBuilder.AlterColumn<string>(
                        name: "Name", table: "Teams", maxLength: 50, nullable: true,
                        oldClrType: typeof(string), oldMaxLength: 100);
                }
            }
        }
        ''')
    (cls,) = migrations
    assert cls.migration_id == "20191011051102_AddUsers" and cls.files == ["20260101000000_X.cs"]
    result = lint_folder(str(tmp_path))
    (entry,) = result["migrations"]
    assert entry["recognised"] and entry["counts"]["error"] == 0
    assert any("shortens column Teams.Name from 100 to 50" in f["message"] for f in entry["findings"])


@pytest.mark.parametrize("old, new, verdict", [
    ("numeric(18,4)", "numeric(12,2)", "narrows"),
    ("numeric(12,2)", "numeric(18,4)", "widens"),
    ("character varying(200)", "character varying(100)", "narrows"),
    ("character varying(100)", "text", "widens"),
    ("text", "character varying(50)", "narrows"),
    ("bigint", "integer", "narrows"),
    ("integer", "bigint", "widens"),
    ("integer", "numeric(5,0)", "narrows"),
    ("timestamp with time zone", "date", "narrows"),
    ("timestamp with time zone", "timestamp without time zone", "converts"),
    ("text", "integer", "converts"),
    ("integer[]", "integer", "converts"),
    ("double precision", "real", "narrows"),
    ("jsonb", "json", "widens"),
    ("Character  Varying(10)", "varchar(10)", "same"),
    (None, "integer", "unknown"),
])
def test_type_changes_are_classified(old, new, verdict):
    assert describe_change(old, new)[0] == verdict
