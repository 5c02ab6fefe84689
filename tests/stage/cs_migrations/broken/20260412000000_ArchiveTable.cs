using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Almafrica.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class ArchiveTable : Migration
    {
        private static readonly string ArchiveTableName = "Archive" + DateTime.UtcNow.Year;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: ArchiveTableName,
                columns: table => new
                {
                    Id = table.Column<int>(type: "integer", nullable: false)
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: ArchiveTableName);
        }
    }
}
