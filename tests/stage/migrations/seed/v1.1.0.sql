-- Seed rows for release v1.1.0 of the Almafrica-like fixture database (not EF output: test data).
-- Phone numbers (AddFarmerPhoneNumber) and payments (AddPayments): lost by rolling back v1.1.0.

START TRANSACTION;

UPDATE "Farmers" AS f SET "PhoneNumber" = v.phone
FROM (VALUES
    ('Tendai Moyo', '+234882113118'),
    ('Fatoumata Diallo', '+234857468686'),
    ('Baraka Mwangi', '+254782420670'),
    ('Halima Abdullahi', '+234890938966'),
    ('Oluwaseun Adeyemi', '+234832427565'),
    ('Wanjiru Kamau', '+254757299161'),
    ('Achieng Otieno', '+254776071267'),
    ('Zawadi Mushi', '+255730134354'),
    ('Thabo Nkosi', '+234879891714'),
    ('Esi Owusu', '+233249948710'),
    ('Abebe Bekele', '+234826325999'),
    ('Ngozi Eze', '+234895371175'),
    ('Adjoa Darko', '+233243337148'),
    ('Sipho Ndlovu', '+234868727419'),
    ('Rehema Juma', '+255775555320'),
    ('Nia Wambui', '+234827328391'),
    ('Makena Gitau', '+254701966164'),
    ('Kagiso Molefe', '+234854694973'),
    ('Salif Keïta', '+234873761331'),
    ('Faith Nakato', '+256728674898'),
    ('Tsegaye Alemu', '+234800421282'),
    ('Imani Chebet', '+234807664346')
) AS v(name, phone)
WHERE f."Name" = v.name;

INSERT INTO "Farmers" ("Name", "Village", "CreatedAt", "PhoneNumber") VALUES
    ('Lindiwe Zulu', 'Eshowe', '2026-02-12 09:00:00+00', '+234828489094'),
    ('Ibrahim Sesay', 'Bo', '2026-02-12 14:00:00+00', '+234817786476'),
    ('Auma Odhiambo', 'Siaya', '2026-02-12 19:00:00+00', '+254703572684'),
    ('Selam Tesfaye', 'Adama', '2026-02-13 00:00:00+00', '+234820112608');

INSERT INTO "Orders" ("FarmerId", "Amount", "CreatedAt")
SELECT f."Id", v.amount, v.created_at
FROM (VALUES
    ('Lindiwe Zulu', 1963.93, timestamptz '2026-02-13 09:00:00+00'),
    ('Ibrahim Sesay', 1937.42, timestamptz '2026-02-13 14:17:00+00'),
    ('Auma Odhiambo', 575.77, timestamptz '2026-02-13 19:34:00+00'),
    ('Selam Tesfaye', 2296.05, timestamptz '2026-02-14 00:51:00+00')
) AS v(farmer, amount, created_at)
JOIN "Farmers" f ON f."Name" = v.farmer
ORDER BY v.created_at;

INSERT INTO "Payments" ("OrderId", "Amount", "Method", "PaidAt")
SELECT o."Id", v.amount, v.method, v.paid_at
FROM (VALUES
    ('Kwame Mensah', timestamptz '2026-02-02 21:37:00+00', 1073.54, 'Airtel Money', timestamptz '2026-02-02 22:37:00+00'),
    ('Halima Abdullahi', timestamptz '2026-02-04 18:23:00+00', 493.49, 'MTN MoMo', timestamptz '2026-02-07 20:23:00+00'),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-05 07:45:00+00', 999.62, 'Cash', timestamptz '2026-02-05 09:45:00+00'),
    ('Kwame Mensah', timestamptz '2026-02-05 15:45:00+00', 1297.80, 'MTN MoMo', timestamptz '2026-02-08 17:45:00+00'),
    ('Chiamaka Okafor', timestamptz '2026-02-05 21:30:00+00', 1679.87, 'Cash', timestamptz '2026-02-09 03:30:00+00'),
    ('Achieng Otieno', timestamptz '2026-02-06 00:51:00+00', 41.98, 'MTN MoMo', timestamptz '2026-02-10 06:51:00+00'),
    ('Zawadi Mushi', timestamptz '2026-02-06 14:30:00+00', 869.27, 'Bank Transfer', timestamptz '2026-02-10 18:30:00+00'),
    ('Fatoumata Diallo', timestamptz '2026-02-06 14:55:00+00', 2878.07, 'MPesa', timestamptz '2026-02-12 19:55:00+00'),
    ('Baraka Mwangi', timestamptz '2026-02-06 20:59:00+00', 4685.18, 'MTN MoMo', timestamptz '2026-02-11 03:59:00+00'),
    ('Esi Owusu', timestamptz '2026-02-07 01:37:00+00', 2114.51, 'MTN MoMo', timestamptz '2026-02-10 03:37:00+00'),
    ('Abebe Bekele', timestamptz '2026-02-07 10:31:00+00', 220.34, 'Bank Transfer', timestamptz '2026-02-09 17:31:00+00'),
    ('Aissatou Sow', timestamptz '2026-02-07 19:39:00+00', 1705.10, 'Bank Transfer', timestamptz '2026-02-10 04:39:00+00'),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-07 23:51:00+00', 2304.20, 'MTN MoMo', timestamptz '2026-02-14 00:51:00+00'),
    ('Jabari Kiprono', timestamptz '2026-02-08 00:54:00+00', 1984.84, 'Bank Transfer', timestamptz '2026-02-09 01:54:00+00'),
    ('Musa Kato', timestamptz '2026-02-08 18:59:00+00', 4147.68, 'Cash', timestamptz '2026-02-14 00:59:00+00'),
    ('Mamadou Traoré', timestamptz '2026-02-09 03:49:00+00', 3222.29, 'Cash', timestamptz '2026-02-10 04:49:00+00'),
    ('Adjoa Darko', timestamptz '2026-02-09 05:33:00+00', 836.26, 'Airtel Money', timestamptz '2026-02-11 14:33:00+00'),
    ('Sipho Ndlovu', timestamptz '2026-02-09 11:45:00+00', 1956.17, 'Airtel Money', timestamptz '2026-02-15 15:45:00+00'),
    ('Rehema Juma', timestamptz '2026-02-09 13:56:00+00', 1894.99, 'MTN MoMo', timestamptz '2026-02-14 19:56:00+00'),
    ('Baraka Mwangi', timestamptz '2026-02-09 23:24:00+00', 184.60, 'Bank Transfer', timestamptz '2026-02-11 01:24:00+00'),
    ('Nia Wambui', timestamptz '2026-02-10 08:31:00+00', 4706.70, 'MPesa', timestamptz '2026-02-14 14:31:00+00'),
    ('Ousmane Cissé', timestamptz '2026-02-10 12:08:00+00', 1554.22, 'Bank Transfer', timestamptz '2026-02-12 14:08:00+00'),
    ('Abebe Bekele', timestamptz '2026-02-10 16:14:00+00', 425.95, 'Airtel Money', timestamptz '2026-02-11 00:14:00+00'),
    ('Makena Gitau', timestamptz '2026-02-10 21:22:00+00', 2291.47, 'Bank Transfer', timestamptz '2026-02-17 02:22:00+00'),
    ('Aissatou Sow', timestamptz '2026-02-11 00:57:00+00', 1548.53, 'MPesa', timestamptz '2026-02-15 09:57:00+00'),
    ('Kagiso Molefe', timestamptz '2026-02-11 03:17:00+00', 1208.58, 'Bank Transfer', timestamptz '2026-02-14 10:17:00+00'),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-11 08:21:00+00', 1232.18, 'Airtel Money', timestamptz '2026-02-17 09:21:00+00'),
    ('Adaeze Obi', timestamptz '2026-02-11 11:32:00+00', 2755.85, 'MPesa', timestamptz '2026-02-15 16:32:00+00'),
    ('Ngozi Eze', timestamptz '2026-02-11 12:17:00+00', 3737.37, 'Cash', timestamptz '2026-02-16 21:17:00+00'),
    ('Salif Keïta', timestamptz '2026-02-11 16:37:00+00', 2115.32, 'MTN MoMo', timestamptz '2026-02-14 22:37:00+00'),
    ('Imani Chebet', timestamptz '2026-02-12 11:29:00+00', 964.59, 'Airtel Money', timestamptz '2026-02-14 14:29:00+00'),
    ('Mamadou Traoré', timestamptz '2026-02-12 12:48:00+00', 1905.50, 'Cash', timestamptz '2026-02-13 20:48:00+00'),
    ('Zawadi Mushi', timestamptz '2026-02-12 18:04:00+00', 2972.27, 'Airtel Money', timestamptz '2026-02-12 19:04:00+00'),
    ('Emeka Nwosu', timestamptz '2026-02-12 20:20:00+00', 1228.17, 'MPesa', timestamptz '2026-02-18 23:20:00+00'),
    ('Ousmane Cissé', timestamptz '2026-02-13 17:22:00+00', 2267.59, 'Cash', timestamptz '2026-02-14 20:22:00+00'),
    ('Auma Odhiambo', timestamptz '2026-02-13 19:34:00+00', 575.77, 'Cash', timestamptz '2026-02-18 00:34:00+00'),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-14 06:05:00+00', 3963.05, 'Airtel Money', timestamptz '2026-02-20 09:05:00+00'),
    ('Ngozi Eze', timestamptz '2026-02-14 10:24:00+00', 1252.85, 'Airtel Money', timestamptz '2026-02-16 14:24:00+00'),
    ('Zawadi Mushi', timestamptz '2026-02-15 15:47:00+00', 3611.86, 'MTN MoMo', timestamptz '2026-02-18 21:47:00+00'),
    ('Emeka Nwosu', timestamptz '2026-02-16 00:11:00+00', 106.38, 'Bank Transfer', timestamptz '2026-02-19 01:11:00+00'),
    ('Kojo Antwi', timestamptz '2026-02-16 00:53:00+00', 3031.71, 'MPesa', timestamptz '2026-02-19 03:53:00+00'),
    ('Nia Wambui', timestamptz '2026-02-16 10:28:00+00', 3541.85, 'Bank Transfer', timestamptz '2026-02-20 13:28:00+00'),
    ('Adaeze Obi', timestamptz '2026-02-17 14:33:00+00', 321.92, 'MPesa', timestamptz '2026-02-21 21:33:00+00'),
    ('Ngozi Eze', timestamptz '2026-02-17 16:01:00+00', 719.37, 'Cash', timestamptz '2026-02-23 01:01:00+00'),
    ('Salif Keïta', timestamptz '2026-02-17 17:25:00+00', 4599.28, 'Cash', timestamptz '2026-02-17 22:25:00+00'),
    ('Tsegaye Alemu', timestamptz '2026-02-18 04:16:00+00', 1823.73, 'Airtel Money', timestamptz '2026-02-22 06:16:00+00'),
    ('Rehema Juma', timestamptz '2026-02-18 14:54:00+00', 2983.86, 'MTN MoMo', timestamptz '2026-02-19 20:54:00+00'),
    ('Kojo Antwi', timestamptz '2026-02-18 18:57:00+00', 977.08, 'Cash', timestamptz '2026-02-20 22:57:00+00'),
    ('Nia Wambui', timestamptz '2026-02-19 10:30:00+00', 1748.37, 'Cash', timestamptz '2026-02-22 13:30:00+00'),
    ('Kojo Antwi', timestamptz '2026-02-21 19:14:00+00', 440.04, 'MTN MoMo', timestamptz '2026-02-26 21:14:00+00')
) AS v(farmer, ordered_at, amount, method, paid_at)
JOIN "Farmers" f ON f."Name" = v.farmer
JOIN "Orders" o ON o."FarmerId" = f."Id" AND o."CreatedAt" = v.ordered_at
ORDER BY v.paid_at;

COMMIT;
