START TRANSACTION;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260310140000_WidenOrderAmount') THEN
    ALTER TABLE "Orders" ALTER COLUMN "Amount" TYPE numeric(12,2);
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260310140000_WidenOrderAmount') THEN
    DELETE FROM "__EFMigrationsHistory"
    WHERE "MigrationId" = '20260310140000_WidenOrderAmount';
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260301100000_AddOrderStatus') THEN
    DROP INDEX "IX_Orders_Status";
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260301100000_AddOrderStatus') THEN
    ALTER TABLE "Orders" DROP COLUMN "Status";
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260301100000_AddOrderStatus') THEN
    DELETE FROM "__EFMigrationsHistory"
    WHERE "MigrationId" = '20260301100000_AddOrderStatus';
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260215090000_AddPayments') THEN
    DROP TABLE "Payments";
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260215090000_AddPayments') THEN
    DELETE FROM "__EFMigrationsHistory"
    WHERE "MigrationId" = '20260215090000_AddPayments';
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260210123456_AddFarmerPhoneNumber') THEN
    ALTER TABLE "Farmers" DROP COLUMN "PhoneNumber";
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260210123456_AddFarmerPhoneNumber') THEN
    DELETE FROM "__EFMigrationsHistory"
    WHERE "MigrationId" = '20260210123456_AddFarmerPhoneNumber';
    END IF;
END $EF$;
COMMIT;

START TRANSACTION;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260201120000_InitialCreate') THEN
    DROP TABLE "Orders";
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260201120000_InitialCreate') THEN
    DROP TABLE "Farmers";
    END IF;
END $EF$;

DO $EF$
BEGIN
    IF EXISTS(SELECT 1 FROM "__EFMigrationsHistory" WHERE "MigrationId" = '20260201120000_InitialCreate') THEN
    DELETE FROM "__EFMigrationsHistory"
    WHERE "MigrationId" = '20260201120000_InitialCreate';
    END IF;
END $EF$;
COMMIT;

