-- Seed rows for release v1.2.0 of the Almafrica-like fixture database (not EF output: test data).
-- Order statuses (AddOrderStatus) and 4-decimal amounts (WidenOrderAmount): lost by rolling back v1.2.0.

START TRANSACTION;

-- Status: 0 Pending, 1 Confirmed, 2 Delivered, 3 Cancelled.
UPDATE "Orders" AS o SET "Status" = v.status
FROM (VALUES
    ('Amina Njoroge', timestamptz '2026-02-02 15:20:00+00', 2),
    ('Amina Njoroge', timestamptz '2026-02-05 09:45:00+00', 2),
    ('Kwame Mensah', timestamptz '2026-02-02 21:37:00+00', 2),
    ('Kwame Mensah', timestamptz '2026-02-05 15:45:00+00', 2),
    ('Kwame Mensah', timestamptz '2026-02-08 13:14:00+00', 2),
    ('Chiamaka Okafor', timestamptz '2026-02-03 02:46:00+00', 1),
    ('Tendai Moyo', timestamptz '2026-02-03 09:13:00+00', 1),
    ('Tendai Moyo', timestamptz '2026-02-06 09:17:00+00', 2),
    ('Fatoumata Diallo', timestamptz '2026-02-03 19:27:00+00', 2),
    ('Fatoumata Diallo', timestamptz '2026-02-06 14:55:00+00', 2),
    ('Baraka Mwangi', timestamptz '2026-02-03 20:12:00+00', 1),
    ('Baraka Mwangi', timestamptz '2026-02-06 20:59:00+00', 1),
    ('Baraka Mwangi', timestamptz '2026-02-09 23:24:00+00', 1),
    ('Nomvula Dlamini', timestamptz '2026-02-04 06:04:00+00', 1),
    ('Yaw Boateng', timestamptz '2026-02-04 10:53:00+00', 3),
    ('Halima Abdullahi', timestamptz '2026-02-04 18:23:00+00', 2),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-07 23:51:00+00', 2),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-14 06:05:00+00', 2),
    ('Wanjiru Kamau', timestamptz '2026-02-05 13:39:00+00', 2),
    ('Wanjiru Kamau', timestamptz '2026-02-08 12:29:00+00', 1),
    ('Wanjiru Kamau', timestamptz '2026-02-11 14:57:00+00', 3),
    ('Kofi Asante', timestamptz '2026-02-05 21:43:00+00', 1),
    ('Kofi Asante', timestamptz '2026-02-08 21:16:00+00', 2),
    ('Achieng Otieno', timestamptz '2026-02-06 00:51:00+00', 2),
    ('Mamadou Traoré', timestamptz '2026-02-06 09:31:00+00', 3),
    ('Mamadou Traoré', timestamptz '2026-02-09 03:49:00+00', 2),
    ('Mamadou Traoré', timestamptz '2026-02-12 12:48:00+00', 2),
    ('Zawadi Mushi', timestamptz '2026-02-06 14:30:00+00', 2),
    ('Thabo Nkosi', timestamptz '2026-02-06 23:10:00+00', 1),
    ('Thabo Nkosi', timestamptz '2026-02-10 02:36:00+00', 2),
    ('Thabo Nkosi', timestamptz '2026-02-12 20:12:00+00', 3),
    ('Esi Owusu', timestamptz '2026-02-07 01:37:00+00', 2),
    ('Abebe Bekele', timestamptz '2026-02-07 10:31:00+00', 2),
    ('Abebe Bekele', timestamptz '2026-02-10 16:14:00+00', 2),
    ('Aissatou Sow', timestamptz '2026-02-07 19:39:00+00', 1),
    ('Aissatou Sow', timestamptz '2026-02-11 00:57:00+00', 1),
    ('Aissatou Sow', timestamptz '2026-02-13 16:16:00+00', 2),
    ('Aissatou Sow', timestamptz '2026-02-16 17:11:00+00', 3),
    ('Jabari Kiprono', timestamptz '2026-02-14 07:03:00+00', 2),
    ('Ngozi Eze', timestamptz '2026-02-11 12:17:00+00', 2),
    ('Ngozi Eze', timestamptz '2026-02-14 10:24:00+00', 1),
    ('Ngozi Eze', timestamptz '2026-02-17 16:01:00+00', 1),
    ('Musa Kato', timestamptz '2026-02-08 18:59:00+00', 1),
    ('Adjoa Darko', timestamptz '2026-02-09 05:33:00+00', 1),
    ('Adjoa Darko', timestamptz '2026-02-11 22:01:00+00', 3),
    ('Sipho Ndlovu', timestamptz '2026-02-09 11:45:00+00', 2),
    ('Rehema Juma', timestamptz '2026-02-09 13:56:00+00', 1),
    ('Rehema Juma', timestamptz '2026-02-15 14:40:00+00', 2),
    ('Rehema Juma', timestamptz '2026-02-18 14:54:00+00', 2),
    ('Emeka Nwosu', timestamptz '2026-02-12 20:20:00+00', 1),
    ('Nia Wambui', timestamptz '2026-02-10 08:31:00+00', 1),
    ('Nia Wambui', timestamptz '2026-02-16 10:28:00+00', 2),
    ('Nia Wambui', timestamptz '2026-02-19 10:30:00+00', 1),
    ('Ousmane Cissé', timestamptz '2026-02-10 12:08:00+00', 2),
    ('Ousmane Cissé', timestamptz '2026-02-13 17:22:00+00', 3),
    ('Makena Gitau', timestamptz '2026-02-10 21:22:00+00', 2),
    ('Kagiso Molefe', timestamptz '2026-02-11 03:17:00+00', 2),
    ('Adaeze Obi', timestamptz '2026-02-11 11:32:00+00', 2),
    ('Adaeze Obi', timestamptz '2026-02-14 15:24:00+00', 1),
    ('Salif Keïta', timestamptz '2026-02-11 16:37:00+00', 2),
    ('Salif Keïta', timestamptz '2026-02-14 18:14:00+00', 2),
    ('Salif Keïta', timestamptz '2026-02-17 17:25:00+00', 2),
    ('Faith Nakato', timestamptz '2026-02-14 23:45:00+00', 2),
    ('Faith Nakato', timestamptz '2026-02-18 02:04:00+00', 2),
    ('Faith Nakato', timestamptz '2026-02-21 06:11:00+00', 1),
    ('Tsegaye Alemu', timestamptz '2026-02-12 06:50:00+00', 1),
    ('Tsegaye Alemu', timestamptz '2026-02-15 04:29:00+00', 2),
    ('Imani Chebet', timestamptz '2026-02-12 11:29:00+00', 3),
    ('Kojo Antwi', timestamptz '2026-02-16 00:53:00+00', 2)
) AS v(farmer, created_at, status)
JOIN "Farmers" f ON f."Name" = v.farmer
WHERE o."FarmerId" = f."Id" AND o."CreatedAt" = v.created_at;

-- Weighed produce priced per kilogram: amounts with 4 decimals.
UPDATE "Orders" AS o SET "Amount" = v.amount
FROM (VALUES
    ('Amina Njoroge', timestamptz '2026-02-02 15:20:00+00', 1531.3003),
    ('Tendai Moyo', timestamptz '2026-02-06 09:17:00+00', 1872.9007),
    ('Fatoumata Diallo', timestamptz '2026-02-03 19:27:00+00', 3427.2269),
    ('Fatoumata Diallo', timestamptz '2026-02-06 14:55:00+00', 1521.7935),
    ('Baraka Mwangi', timestamptz '2026-02-03 20:12:00+00', 209.9389),
    ('Baraka Mwangi', timestamptz '2026-02-06 20:59:00+00', 4790.3027),
    ('Baraka Mwangi', timestamptz '2026-02-09 23:24:00+00', 4394.1337),
    ('Yaw Boateng', timestamptz '2026-02-04 10:53:00+00', 4487.1823),
    ('Halima Abdullahi', timestamptz '2026-02-04 18:23:00+00', 1891.6099),
    ('Oluwaseun Adeyemi', timestamptz '2026-02-05 07:45:00+00', 3146.7989),
    ('Wanjiru Kamau', timestamptz '2026-02-05 13:39:00+00', 1729.6343),
    ('Wanjiru Kamau', timestamptz '2026-02-08 12:29:00+00', 2481.9399),
    ('Mamadou Traoré', timestamptz '2026-02-09 03:49:00+00', 590.8675),
    ('Thabo Nkosi', timestamptz '2026-02-06 23:10:00+00', 2989.7625),
    ('Thabo Nkosi', timestamptz '2026-02-12 20:12:00+00', 3960.9467),
    ('Esi Owusu', timestamptz '2026-02-07 01:37:00+00', 2401.0955),
    ('Abebe Bekele', timestamptz '2026-02-07 10:31:00+00', 1093.5585),
    ('Aissatou Sow', timestamptz '2026-02-11 00:57:00+00', 3384.4931),
    ('Jabari Kiprono', timestamptz '2026-02-11 01:10:00+00', 3085.7685),
    ('Ngozi Eze', timestamptz '2026-02-08 07:40:00+00', 1077.0461),
    ('Adjoa Darko', timestamptz '2026-02-11 22:01:00+00', 3806.7951),
    ('Nia Wambui', timestamptz '2026-02-13 07:21:00+00', 2212.8549),
    ('Nia Wambui', timestamptz '2026-02-19 10:30:00+00', 4100.7483),
    ('Adaeze Obi', timestamptz '2026-02-11 11:32:00+00', 4047.2195),
    ('Faith Nakato', timestamptz '2026-02-18 02:04:00+00', 2467.9193),
    ('Faith Nakato', timestamptz '2026-02-21 06:11:00+00', 3796.2159),
    ('Tsegaye Alemu', timestamptz '2026-02-12 06:50:00+00', 4573.1623),
    ('Tsegaye Alemu', timestamptz '2026-02-15 04:29:00+00', 2897.7071),
    ('Kojo Antwi', timestamptz '2026-02-13 03:50:00+00', 2470.2287),
    ('Kojo Antwi', timestamptz '2026-02-21 19:14:00+00', 2333.1373)
) AS v(farmer, created_at, amount)
JOIN "Farmers" f ON f."Name" = v.farmer
WHERE o."FarmerId" = f."Id" AND o."CreatedAt" = v.created_at;

INSERT INTO "Orders" ("FarmerId", "Amount", "CreatedAt", "Status")
SELECT f."Id", v.amount, v.created_at, v.status
FROM (VALUES
    ('Amina Njoroge', 84.9181, timestamptz '2026-03-02 07:00:00+00', 0),
    ('Tendai Moyo', 315.4113, timestamptz '2026-03-02 16:07:00+00', 1),
    ('Nomvula Dlamini', 2171.9857, timestamptz '2026-03-03 01:14:00+00', 2),
    ('Oluwaseun Adeyemi', 2659.3013, timestamptz '2026-03-03 10:21:00+00', 1),
    ('Achieng Otieno', 724.0123, timestamptz '2026-03-03 19:28:00+00', 2),
    ('Thabo Nkosi', 809.5517, timestamptz '2026-03-04 04:35:00+00', 2),
    ('Aissatou Sow', 576.2517, timestamptz '2026-03-04 13:42:00+00', 0),
    ('Musa Kato', 2652.8523, timestamptz '2026-03-04 22:49:00+00', 2),
    ('Rehema Juma', 151.9611, timestamptz '2026-03-05 07:56:00+00', 2),
    ('Ousmane Cissé', 2889.9051, timestamptz '2026-03-05 17:03:00+00', 1),
    ('Adaeze Obi', 477.4691, timestamptz '2026-03-06 02:10:00+00', 1),
    ('Tsegaye Alemu', 863.6561, timestamptz '2026-03-06 11:17:00+00', 1)
) AS v(farmer, amount, created_at, status)
JOIN "Farmers" f ON f."Name" = v.farmer
ORDER BY v.created_at;

COMMIT;
