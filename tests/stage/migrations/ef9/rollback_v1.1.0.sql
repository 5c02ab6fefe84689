START TRANSACTION;
DROP TABLE "Payments";

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '20260215090000_AddPayments';

ALTER TABLE "Farmers" DROP COLUMN "PhoneNumber";

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '20260210123456_AddFarmerPhoneNumber';

COMMIT;

