"""ef_migration_lint logic over the C# migrations we keep in tests/stage/cs_migrations: pure, no database."""
from __future__ import annotations

import os
import time

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.folder import (
    LintError, failing_summary, lint_folder, reaches)
from stage import fixtures

HERE = os.path.dirname(os.path.abspath(__file__))
CS = os.path.join(os.path.dirname(HERE), "stage", "cs_migrations")
ALMAFRICA = os.path.join(CS, "almafrica")
BROKEN = os.path.join(CS, "broken")


def kinds(entry, severity=None):
    return sorted({f["kind"] for f in entry["findings"] if severity in (None, f["severity"])})


def by_id(result):
    out = {}
    for entry in result["migrations"]:
        out.setdefault(entry["id"], entry)
    return out


def test_staging_kit_migrations_reverse_cleanly_and_say_exactly_what_a_rollback_destroys():
    result = lint_folder(ALMAFRICA)
    assert [e["id"] for e in result["migrations"]] == list(fixtures.MIGRATIONS)
    assert result["contexts"] == {"AlmafricaDbContext": list(fixtures.MIGRATIONS)}
    assert result["counts"]["error"] == 0
    for entry in result["migrations"]:
        assert entry["recognised"] and len(entry["files"]) == 2
        # One finding per migration: a Down() that drops what its own Up() created loses only the data written
        # since (info, said once); narrowing a column that existed before is a data_loss warning.
        (only,) = entry["findings"]
        assert (only["kind"], only["severity"]) in (("drops_created", "info"), ("data_loss", "warning"))
        # The same objects the staging kit's SQL rollback destroys (fixtures.DATA_LOSS), no more, no fewer.
        expected = fixtures.DATA_LOSS[entry["id"]]
        for table, column, _op in expected:
            wanted = "%s.%s" % (table, column) if column else "table %s" % table
            assert wanted in only["message"], (wanted, only["message"])
        assert only["message"].count("table ") + only["message"].count("column ") == len(expected), only["message"]
    widen = by_id(result)["20260310140000_WidenOrderAmount"]["findings"][0]
    assert widen["kind"] == "data_loss"
    assert "numeric(18,4) to numeric(12,2)" in widen["message"] and "rounded from 4 to 2 decimals" in widen["message"]
    assert widen["file"] == "20260310140000_WidenOrderAmount.cs" and widen["line"] > 1
    assert result["counts"]["warning"] == 1 and result["counts"]["info"] == 4
    assert not reaches(result["counts"], "error") and reaches(result["counts"], "warning")


@pytest.mark.parametrize("migration_id, severity, kind, words", [
    ("20260401000000_AddFarmerEmail", "error", "not_recognised", "no [Migration"),
    ("20260402000000_AddFarmerRegion", "error", "missing_down", "No Down()"),
    ("20260403000000_AddCooperatives", "error", "empty_down", "Down() is empty"),
    ("20260404000000_SplitFarmerName", "error", "irreversible", "NotSupportedException"),
    ("20260405000000_IndexFarmerVillage", "error", "no_inverse", "CreateIndex(IX_Farmers_Village on Farmers)"),
    ("20260405000000_IndexFarmerVillage", "error", "duplicate_id", "more than one class"),
    ("20260406000000_LongerFarmerName", "error", "wrong_inverse", "character varying(150) instead of character varying(200)"),
    ("20260406000000_LongerFarmerName", "warning", "data_loss", "from character varying(300) to character varying(150)"),
    ("20260406000000_LongerFarmerName", "warning", "not_null", "Farmers.Name NOT NULL"),
    ("20260407000000_RenameVillage", "error", "wrong_inverse", "to Region instead of back to Village"),
    ("20260407000000_RenameVillage", "error", "no_inverse", "column Payments.Amount (type numeric(12,2) -> numeric(14,2))"),
    ("20260408000000_LinkFarmerCooperative", "error", "no_inverse", "AddForeignKey(FK_Farmers_Cooperatives_CooperativeId"),
    ("20260408000000_LinkFarmerCooperative", "error", "no_inverse", "AddColumn(Farmers.CooperativeId)"),
    ("20260408000000_LinkFarmerCooperative", "error", "no_inverse", "table Payments to OrderPayments"),
    ("20260408000000_LinkFarmerCooperative", "warning", "drops_unrelated", "Cooperatives, which Up() did not create"),
    ("20260409000000_AddReportingSchema", "error", "no_inverse", "CreateTable(DailyTotals)"),
    ("20260409000000_AddReportingSchema", "error", "no_inverse", "InsertData(Farmers)"),
    ("20260409000000_AddReportingSchema", "warning", "left_behind", "EnsureSchema(reporting)"),
    ("20260410000000_FarmerSearchView", "info", "sql_unverified", 'CREATE VIEW "FarmerSearch"'),
    ("20260411000000_BackfillOrderStatus", "warning", "data_loss", "DELETE FROM"),
    ("20260412000000_ArchiveTable", "info", "unresolved", "ArchiveTableName"),
    ("20260413000000_Truncated", "warning", "syntax", "could not read"),
    ("20260414000000_NormaliseVillages", "warning", "sql_unverified", "Down() runs no SQL"),
])
def test_each_finding_kind_is_reported_with_a_message_that_says_what(migration_id, severity, kind, words):
    entries = [e for e in lint_folder(BROKEN)["migrations"] if e["id"] == migration_id]
    assert entries, migration_id
    hits = [f for e in entries for f in e["findings"] if f["kind"] == kind and f["severity"] == severity]
    assert any(words in f["message"] for f in hits), [f["message"] for e in entries for f in e["findings"]]
    assert all(f["file"].endswith(".cs") and f["line"] >= 1 for f in hits)


def test_things_that_are_fine_are_not_reported():
    result = by_id(lint_folder(BROKEN))
    # Down() dropping the column also drops its index in PostgreSQL, and Down() undoes AddColumn: no error.
    assert "no_inverse" not in kinds(result["20260414000000_NormaliseVillages"])
    # A view dropped by Down() holds no data.
    assert "data_loss" not in kinds(result["20260410000000_FarmerSearchView"])
    # An irreversible migration gets that one error, not one per Up() operation.
    assert kinds(result["20260404000000_SplitFarmerName"]) == ["irreversible"]


def test_since_lints_only_newer_migrations_and_accepts_a_bare_name():
    full = lint_folder(BROKEN, since="20260408000000_LinkFarmerCooperative")
    bare = lint_folder(BROKEN, since="LinkFarmerCooperative")
    assert full["counts"] == bare["counts"] and full["since"] == "20260408000000_LinkFarmerCooperative"
    linted = [e["id"] for e in full["migrations"] if e["linted"]]
    # Newer ones, plus the unrecognised one (it has no MigrationId EF would order).
    assert linted == ["20260401000000_AddFarmerEmail", "20260409000000_AddReportingSchema",
                      "20260410000000_FarmerSearchView", "20260411000000_BackfillOrderStatus",
                      "20260412000000_ArchiveTable", "20260413000000_Truncated", "20260414000000_NormaliseVillages"]
    assert full["counts"]["skipped"] == 8 and full["counts"]["linted"] == 7
    assert full["counts"]["error"] < lint_folder(BROKEN)["counts"]["error"]
    everything_new = lint_folder(ALMAFRICA, since="20260310140000_WidenOrderAmount")
    assert everything_new["counts"]["linted"] == 0 and not reaches(everything_new["counts"], "warning")


def test_since_that_names_nothing_fails_listing_the_closest_names():
    with pytest.raises(LintError, match="NoSuchMigration"):
        lint_folder(ALMAFRICA, since="NoSuchMigration")
    # A full id that is not in the folder is a typo, not a position: it would check nothing and pass (issue 13).
    with pytest.raises(LintError) as typo:
        lint_folder(ALMAFRICA, since="20260301100000_AddOrderStatuss")
    assert "names no migration in the folder (5 migrations)" in str(typo.value)
    assert "Closest: 20260301100000_AddOrderStatus" in str(typo.value)
    with pytest.raises(LintError, match="Closest: 20260210123456_AddFarmerPhoneNumber"):
        lint_folder(ALMAFRICA, since="AddFarmerPhonNumber")
    with pytest.raises(LintError, match="names no migration"):
        lint_folder(ALMAFRICA, since="20990101000000_Typo")


def test_ignore_keeps_the_findings_but_does_not_count_them():
    reason = "One-way data migration agreed in review #42"
    result = lint_folder(BROKEN, ignore=[{"id": "SplitFarmerName", "reason": reason},
                                         {"id": "20991231000000_Stale", "reason": "old"}])
    entry = by_id(result)["20260404000000_SplitFarmerName"]
    assert entry["ignored"] and entry["ignore_reason"] == reason and kinds(entry) == ["irreversible"]
    plain = lint_folder(BROKEN)
    assert result["counts"]["error"] == plain["counts"]["error"] - 1
    assert result["counts"]["ignored"] == 1 and result["unused_ignores"] == ["20991231000000_Stale"]
    assert not any("SplitFarmerName" in line for line in failing_summary(result, "error", limit=100))


def test_ignoring_every_finding_makes_the_folder_pass():
    result = lint_folder(ALMAFRICA, ignore=[{"id": m, "reason": "accepted data loss"} for m in fixtures.MIGRATIONS])
    assert not reaches(result["counts"], "warning") and result["counts"]["ignored"] == 5


def test_reaches_respects_the_threshold():
    counts = {"error": 0, "warning": 2, "info": 7}
    assert reaches(counts, "warning") and not reaches(counts, "error")
    assert reaches(dict(counts, error=1), "error")


def test_a_folder_without_migrations_or_that_does_not_exist_is_refused(tmp_path):
    (tmp_path / "Program.cs").write_text("class Program { static void Main() {} }")
    with pytest.raises(LintError, match="No EF Core migration"):
        lint_folder(str(tmp_path))
    with pytest.raises(LintError, match="does not exist"):
        lint_folder(str(tmp_path / "missing"))


MIGRATION_TEMPLATE = '''using Microsoft.EntityFrameworkCore.Migrations;

namespace Generated.Migrations
{{
    public partial class {name} : Migration
    {{
        protected override void Up(MigrationBuilder migrationBuilder)
        {{
            migrationBuilder.CreateTable(
                name: "{table}",
                columns: table => new
                {{
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Code = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    Note = table.Column<string>(type: "text", nullable: true)
                }},
                constraints: table =>
                {{
                    table.PrimaryKey("PK_{table}", x => x.Id);
                }});

            migrationBuilder.CreateIndex(
                name: "IX_{table}_Code",
                table: "{table}",
                column: "Code",
                unique: true);

            migrationBuilder.AddColumn<int>(
                name: "Rank{n}",
                table: "Farmers",
                type: "integer",
                nullable: false,
                defaultValue: 0);
        }}

        protected override void Down(MigrationBuilder migrationBuilder)
        {{
            migrationBuilder.DropTable(
                name: "{table}");

            migrationBuilder.DropColumn(
                name: "Rank{n}",
                table: "Farmers");
        }}
    }}
}}
'''


def write_generated_folder(folder, count):
    """``count`` migrations with Designer files, like a two-year-old application's folder: each Designer holds the
    whole model (here ~1,300 lines, the staging kit's model repeated for 30 entities)."""
    design = open(os.path.join(ALMAFRICA, "20260310140000_WidenOrderAmount.Designer.cs"), encoding="utf-8").read()
    design = design.replace("Almafrica.Api.Data.Migrations", "Generated.Migrations")
    start = design.index('            modelBuilder.Entity("Almafrica.Api.Domain.Farmer"')
    end = design.index("#pragma warning restore")
    entities = "".join(design[start:end].replace("Almafrica.Api.Domain.", "Generated.Domain%d." % k) for k in range(10))
    design = design[:start] + entities + design[end:]
    for n in range(count):
        name = "Feature%02d" % n
        mid = "2025%02d%02d120000_%s" % (1 + n // 28, 1 + n % 28, name)
        (folder / (mid + ".cs")).write_text(MIGRATION_TEMPLATE.format(name=name, table="Things%02d" % n, n=n))
        (folder / (mid + ".Designer.cs")).write_text(
            design.replace("20260310140000_WidenOrderAmount", mid).replace("partial class WidenOrderAmount",
                                                                           "partial class " + name))


def test_a_forty_migration_folder_lints_in_one_pass(tmp_path, capsys):
    write_generated_folder(tmp_path, 40)
    started = time.monotonic()
    result = lint_folder(str(tmp_path))
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print("\n[ef_migration_lint] 40 migrations (80 files, %d lines of C#) linted in %.2f s"
              % (sum(len(open(str(p), encoding="utf-8").read().splitlines()) for p in tmp_path.iterdir()), elapsed))
    assert result["counts"]["migrations"] == 40 and result["counts"]["error"] == 0
    assert all(e["operations"] == {"up": 3, "down": 2} for e in result["migrations"])
    # Each Down() drops the table and the column its own Up() created: one info each, no warning.
    assert result["counts"]["warning"] == 0 and result["counts"]["info"] == 40
    assert all([f["kind"] for f in e["findings"]] == ["drops_created"] for e in result["migrations"])
