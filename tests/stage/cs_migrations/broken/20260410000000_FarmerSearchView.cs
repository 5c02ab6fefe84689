using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Almafrica.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class FarmerSearchView : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder builder)
        {
            builder.Sql("""
                CREATE VIEW "FarmerSearch" AS
                SELECT "Id", lower("Name") AS "Name" FROM "Farmers";
                """);
            builder.Sql(@"CREATE EXTENSION IF NOT EXISTS pg_trgm;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder builder)
        {
            builder.Sql(@"DROP VIEW ""FarmerSearch"";");
        }
    }
}
