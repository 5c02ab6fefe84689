START TRANSACTION;

DROP TABLE "Orders";

DROP TABLE "Farmers";

DELETE FROM "__EFMigrationsHistory"
WHERE "MigrationId" = '20260201120000_InitialCreate';

COMMIT;

