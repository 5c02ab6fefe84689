START TRANSACTION;
ALTER TABLE "Orders" ADD "Status" integer NOT NULL DEFAULT 0;

CREATE INDEX "IX_Orders_Status" ON "Orders" ("Status");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20260301100000_AddOrderStatus', '9.0.4');

ALTER TABLE "Orders" ALTER COLUMN "Amount" TYPE numeric(18,4);

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20260310140000_WidenOrderAmount', '9.0.4');

COMMIT;

