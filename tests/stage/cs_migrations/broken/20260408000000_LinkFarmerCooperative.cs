using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Almafrica.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class LinkFarmerCooperative : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "CooperativeId",
                table: "Farmers",
                type: "integer",
                nullable: true);

            migrationBuilder.AddForeignKey(
                name: "FK_Farmers_Cooperatives_CooperativeId",
                table: "Farmers",
                column: "CooperativeId",
                principalTable: "Cooperatives",
                principalColumn: "Id");

            migrationBuilder.RenameTable(
                name: "Payments",
                newName: "OrderPayments");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Cooperatives");
        }
    }
}
