START TRANSACTION;

ALTER TABLE "Orders" DROP CONSTRAINT "FK_Orders_Farmers_FarmerId";

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20260320090000_AllowGuestOrders', '8.0.11');

COMMIT;

