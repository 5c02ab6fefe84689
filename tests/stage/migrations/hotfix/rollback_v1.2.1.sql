START TRANSACTION;

ALTER TABLE "Orders" ADD CONSTRAINT "FK_Orders_Farmers_FarmerId" FOREIGN KEY ("FarmerId") REFERENCES "Farmers" ("Id") ON DELETE CASCADE;

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '20260320090000_AllowGuestOrders';

COMMIT;

