using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Almafrica.Api.Data.Migrations
{
    /// <inheritdoc />
    public partial class AddFarmerPhoneNumber : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "PhoneNumber",
                table: "Farmers",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "PhoneNumber",
                table: "Farmers");
        }
    }
}
