START TRANSACTION;

ALTER TABLE "Orders" ALTER COLUMN "Amount" TYPE numeric(12,2);

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '20260310140000_WidenOrderAmount';

COMMIT;

START TRANSACTION;

DROP INDEX "IX_Orders_Status";

ALTER TABLE "Orders" DROP COLUMN "Status";

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '20260301100000_AddOrderStatus';

COMMIT;

