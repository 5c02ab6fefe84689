"""ef_migration_lint on the shapes real EF Core projects have (tests/fixtures/lint, written by us in those shapes).

Each folder's findings are asserted exactly: every migration, every (severity, kind), and words of each message.
"""
from __future__ import annotations

import os

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.folder import compact_result, lint_folder

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = os.path.join(os.path.dirname(HERE), "fixtures", "lint")

NO_DEFAULT_INFO = "EF's standard code when Up() made it nullable, not an error"

EXPECTED = {
    # Renames both ways (EF's DropPrimaryKey/RenameTable/AddPrimaryKey dance names the renamed table again: this
    # used to hang), schema-only moves, and a rename Up() undoes itself.
    "renames": ("Npgsql", {
        "20240105100000_RenameCustomersToClients": [],
        "20240210100000_RenameClientsBackToCustomers": [
            ("info", "drops_created", "(column Customers.Segment)")],
        "20240301100000_MoveOrdersToSales": [("warning", "left_behind", "EnsureSchema(sales)")],
        "20240315100000_MoveInvoicesToSales": [
            ("error", "wrong_inverse", "moves table billing.Invoices to sales.Invoices, but Down() moves it to schema "
                                       "archive instead of back to billing")],
        "20240320100000_RenameLinesTwice": [],
    }),
    # Up() makes int, string, Guid, DateTime, bool, decimal and long columns nullable; Down() is EF's standard
    # "required again" with the CLR default as placeholder: information, not errors.
    "nullable_roundtrip": ("Npgsql", {
        "20240401100000_MakeShipmentFieldsOptional": [
            ("info", "default_added", "column Shipments.Quantity required again with EF's placeholder default 0 "),
            ("info", "default_added", 'column Shipments.Code required again with EF\'s placeholder default "" '),
            ("info", "default_added", 'Shipments.ExternalId required again with EF\'s placeholder default new '
                                      'Guid("00000000-0000-0000-0000-000000000000")'),
            ("info", "default_added", "Shipments.ShippedAt required again with EF's placeholder default new "
                                      "DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified)"),
            ("info", "default_added", "Shipments.IsPaid required again with EF's placeholder default false "),
            ("info", "default_added", "Shipments.Discount required again with EF's placeholder default 0 "),
            ("info", "default_added", "Shipments.Version required again with EF's placeholder default 0 "),
        ],
        "20240402100000_MakeParcelFieldsRequired": [],
        # A default that is not the CLR default is a real difference; no Python None in the message.
        "20240403100000_MakeWeightOptional": [
            ("error", "wrong_inverse", "Parcels.Weight as it was before Up(): defaultValue 5 instead of no default."),
            ("warning", "not_null", "Down() makes column Parcels.Weight NOT NULL")],
    }),
    "base_class": ("Npgsql", {
        # Up() from the project's abstract base class, Down() in the migration.
        "20240501100000_AddTags": [("info", "drops_created", "(table Tags)")],
        "20240502100000_AddTenantColumns": [
            ("info", "base_unresolved", "Up() and Down() are not declared by Registry.Data.Migrations.AddTenantColumns, "
                                        "which derives from TenantColumnsMigration")],
        "20240503100000_AddRegions": [
            ("error", "missing_down", "No Down() method in Registry.Data.Migrations.AddRegions or its base classes")],
    }),
    "raw_sql_down": ("Npgsql", {
        "20240601100000_AddFarmerEmail": [
            ("info", "sql_unverified", 'AddColumn(Farmers.Email); Down() runs raw SQL that probably undoes it (line 31: '
                                       'ALTER TABLE "Farmers" DROP COLUMN "Email")'),
            ("info", "sql_unverified", 'CreateIndex(IX_Farmers_Email on Farmers); Down() runs raw SQL that probably '
                                       'undoes it (line 31: DROP INDEX "IX_Farmers_Email")'),
            ("info", "drops_created", '(ALTER TABLE "Farmers" DROP COLUMN "Email", in raw SQL)')],
        "20240602100000_AddRegionTable": [
            ("error", "no_inverse", "CreateTable(Regions) and Down() has no matching DropTable. (Down() runs raw SQL, "
                                    "but none of its statements names Regions.)"),
            ("warning", "data_loss", 'raw SQL runs DROP TABLE (DROP TABLE "Zones")')],
    }),
    # A folder and a file name with spaces; SQL held in constants of a `.sql.cs` part of the partial class.
    "file names": ("Npgsql", {
        "20240701100000_CreateReportViews": [
            ("info", "sql_unverified", 'Up() runs raw SQL (CREATE VIEW "MonthlySales" AS SELECT')],
        "20240702100000_AddOrderNotes": [("info", "drops_created", "(column Orders.Notes)")],
    }),
    # Attributes in the main file, no Designer, no snapshot; one migration without them is invisible to EF.
    "no_designer": (None, {
        "20230101000000_Initial": [("info", "drops_created", "(table Accounts)")],
        "20230201000000_AddAccountLimit": [("info", "drops_created", "(column Accounts.Limit)")],
        "20230301000000_AddAccountEmail": [
            ("error", "not_recognised", "has no [Migration"), ("info", "drops_created", "(column Accounts.Email)")],
    }),
    # Pomelo: database character set in the first Up() only, MySqlValueGenerationStrategy, CharSet annotations;
    # no DEFAULT on longtext, so only the int column gets the default_added info.
    "mysql": ("MySql", {
        "20240801100000_InitialCreate": [
            ("info", "left_behind", "sets the database's CharSet utf8mb4"),
            ("info", "drops_created", "(table Products)")],
        "20240802100000_MakeProductFieldsOptional": [
            ("info", "drops_created", "(column Products.IsActive)"),
            ("info", "default_added", "Products.Stock required again with EF's placeholder default 0 ")],
    }),
    # Shapes of real projects' hand-written and provider-branching code: an AlterColumn under a column's new name
    # (Down() alters it under the old one), data-only SQL with an empty Down() (a warning, not an error), DDL in
    # raw SQL with an empty Down() (an error), provider tests (IsSqlite()) that are no SQL, an interpolated Sql()
    # whose message names no file, a script named by a format string, and a widening back to longtext.
    "sql_and_data": (None, {
        "20241001100000_RenameQuantityToCartId": [],
        "20241002100000_FixBlockMinutes": [
            ("warning", "data_not_undone", "Up() only changes data (2 SQL statement(s); line 20: UPDATE `Block` SET "
                                           "`Minutes` = 30 WHERE `Minutes` = 0) and Down() is empty")],
        "20241003100000_DropLegacyUnique": [
            ("error", "empty_down", "Up() changes the schema with raw SQL (line 20: CREATE TABLE `Legacy_new`")],
        "20241004100000_WidenTagLabel": [
            ("warning", "data_loss", "Tags.Label from varchar(100) to varchar(50): values longer than 50 characters")],
        "20241005100000_CreateReportingRole": [
            ("info", "sql_unverified", 'Up() runs raw SQL (migrationBuilder.Sql($"CREATE ROLE {role} NOLOGIN;")); '
                                       "Down() also runs raw SQL")],
        "20241006100000_MigrateApiKeys": [
            ("info", "sql_unverified", "from Scripts/2024-10-06_00_{0}_MigrateApiKeys.sql;")],
        "20241007100000_LimitBuyerId": [],
    }),
    "sqlite": ("Sqlite", {
        "20240901100000_InitialCreate": [("info", "drops_created", "(table Notes)")],
        "20240902100000_OptionalCreatedAt": [
            ("info", "drops_created", "(column Notes.Priority)"),
            ("info", "default_added", "Notes.CreatedAt required again with EF's placeholder default new DateTime(1, 1, 1")],
    }),
}


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_each_shape_has_exactly_its_expected_findings(shape):
    provider, expected = EXPECTED[shape]
    result = lint_folder(os.path.join(SHAPES, shape), timeout=30)
    assert result["provider"] == provider
    got = {e["id"]: e["findings"] for e in result["migrations"]}
    assert sorted(got) == sorted(expected)
    for mid, wanted in expected.items():
        findings = got[mid]
        assert sorted((f["severity"], f["kind"]) for f in findings) == sorted((s, k) for s, k, _w in wanted), \
            (mid, [f["message"] for f in findings])
        for severity, kind, words in wanted:
            messages = [f["message"] for f in findings if (f["severity"], f["kind"]) == (severity, kind)]
            assert any(words in m for m in messages), (mid, words, messages)
        for f in findings:
            assert "None" not in f["message"] and "''" not in f["message"], f["message"]
            assert f["file"].endswith(".cs") and f["line"] >= 1
            if f["kind"] == "default_added":
                assert NO_DEFAULT_INFO in f["message"]


def test_inherited_methods_and_files_with_spaces_are_reported_where_they_are():
    base = {e["id"]: e for e in lint_folder(os.path.join(SHAPES, "base_class"))["migrations"]}
    assert base["20240501100000_AddTags"]["inherits"] == {
        "Up": "Registry.Data.Migrations.Infrastructure.LookupTableMigration"}
    # Abstract base classes are not migrations of their own.
    assert sorted(base) == ["20240501100000_AddTags", "20240502100000_AddTenantColumns", "20240503100000_AddRegions"]
    names = {e["id"]: e for e in lint_folder(os.path.join(SHAPES, "file names"))["migrations"]}
    assert names["20240702100000_AddOrderNotes"]["files"] == [
        "Data Migrations/20240702100000_AddOrderNotes (hotfix).Designer.cs",
        "Data Migrations/20240702100000_AddOrderNotes (hotfix).cs"]
    assert "Data Migrations/20240701100000_CreateReportViews.sql.cs" in names["20240701100000_CreateReportViews"]["files"]


def test_the_compact_result_keeps_findings_only_where_there_are_some():
    full = lint_folder(os.path.join(SHAPES, "renames"))
    compact = compact_result(full)
    assert compact["status"] == {
        "20240105100000_RenameCustomersToClients": "ok",
        "20240210100000_RenameClientsBackToCustomers": "1 info",
        "20240301100000_MoveOrdersToSales": "1 warning",
        "20240315100000_MoveInvoicesToSales": "1 error",
        "20240320100000_RenameLinesTwice": "ok"}
    # The info that asks nothing (drops_created) is counted, not listed.
    assert [m["id"] for m in compact["migrations"]] == ["20240301100000_MoveOrdersToSales",
                                                        "20240315100000_MoveInvoicesToSales"]
    assert compact["infos"] == {"drops_created": 1} and compact["contexts"] == {"ShopDbContext": 5}
    raw_sql = compact_result(lint_folder(os.path.join(SHAPES, "raw_sql_down")))
    assert [f["kind"] for f in raw_sql["migrations"][0]["findings"]] == ["sql_unverified", "sql_unverified"]
    assert raw_sql["infos"] == {"sql_unverified": 2, "drops_created": 1}
    detailed = compact_result(full, details=True)
    assert len(detailed["migrations"]) == 5 and detailed["contexts"]["ShopDbContext"][0].startswith("20240105")
