START TRANSACTION;

ALTER TABLE "Orders" ADD "Status" integer NOT NULL DEFAULT 0;

CREATE INDEX "IX_Orders_Status" ON "Orders" ("Status");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20260301100000_AddOrderStatus', '8.0.11');

COMMIT;

START TRANSACTION;

ALTER TABLE "Orders" ALTER COLUMN "Amount" TYPE numeric(18,4);

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20260310140000_WidenOrderAmount', '8.0.11');

COMMIT;

