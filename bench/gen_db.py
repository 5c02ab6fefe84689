"""Generate a realistic Almafrica-like database of a chosen size for the backup benchmark.

Four tables with the shape and indexes of the production schema: farmers, orders, order_lines, payments
(foreign keys, a few secondary indexes, text that compresses like real names/addresses/notes, numerics,
timestamps, a jsonb column) and an EF Core ``__EFMigrationsHistory``. Rows are generated server side
(``INSERT ... SELECT generate_series``) in batches until ``pg_database_size`` reaches ``--size``.

    .venv/bin/python bench/gen_db.py --size 200MB --dsn "host=127.0.0.1 port=5432 user=postgres dbname=bench"

Used by bench/backup.py (which starts its own throwaway cluster); standalone it needs ``--dsn`` (the
password, if any, through PGPASSWORD or ~/.pgpass, never on the command line).
"""
from __future__ import annotations

import argparse
import re
import sys
import time

SCHEMA = r'''
CREATE TABLE "__EFMigrationsHistory" ("MigrationId" varchar(150) PRIMARY KEY, "ProductVersion" varchar(32) NOT NULL);
INSERT INTO "__EFMigrationsHistory" VALUES ('20260201120000_InitialCreate', '8.0.11'),
    ('20260210123456_AddFarmerPhoneNumber', '8.0.11'), ('20260215090000_AddPayments', '8.0.11');
CREATE TABLE farmers (
    id bigint PRIMARY KEY, full_name text NOT NULL, phone_number varchar(20), region text NOT NULL,
    village text NOT NULL, hectares numeric(8,2) NOT NULL, registered_at timestamptz NOT NULL, notes text);
CREATE TABLE orders (
    id bigint PRIMARY KEY, farmer_id bigint NOT NULL REFERENCES farmers(id), status smallint NOT NULL,
    amount numeric(14,4) NOT NULL, currency char(3) NOT NULL, created_at timestamptz NOT NULL,
    delivery_address text NOT NULL, metadata jsonb);
CREATE TABLE order_lines (
    id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders(id), product_code varchar(16) NOT NULL,
    description text NOT NULL, quantity integer NOT NULL, unit_price numeric(12,4) NOT NULL);
CREATE TABLE payments (
    id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders(id), provider text NOT NULL,
    reference uuid NOT NULL, amount numeric(14,4) NOT NULL, paid_at timestamptz NOT NULL, status text NOT NULL);
'''

INDEXES = r'''
CREATE INDEX ix_farmers_region ON farmers (region);
CREATE INDEX ix_orders_farmer_id ON orders (farmer_id);
CREATE INDEX ix_orders_created_at ON orders (created_at);
CREATE INDEX ix_order_lines_order_id ON order_lines (order_id);
CREATE UNIQUE INDEX ix_payments_reference ON payments (reference);
CREATE INDEX ix_payments_order_id ON payments (order_id);
'''

# One batch: rows per table. Ids continue from the previous batch (%(f)s, %(o)s, ... are offsets).
FARMERS, ORDERS, LINES, PAYMENTS = 10000, 40000, 120000, 30000

BATCH = r'''
INSERT INTO farmers
SELECT %(f)s + g,
       (ARRAY['Amina','Kwame','Fatou','Chinedu','Wanjiru','Tendai','Abebe','Zanele','Moussa','Nia'])[1 + g %% 10]
         || ' ' || (ARRAY['Okafor','Mensah','Diallo','Mwangi','Banda','Tesfaye','Nkosi','Traore','Achieng'])[1 + g %% 9]
         || ' ' || substr(md5(g::text), 1, 6),
       '+2547' || lpad(((%(f)s + g)::bigint * 7919 %% 100000000)::text, 8, '0'),
       (ARRAY['Nakuru','Kisumu','Eldoret','Meru','Nyeri','Machakos','Kakamega'])[1 + g %% 7],
       'Village ' || (g %% 500),
       round((random() * 40)::numeric, 2),
       timestamptz '2024-01-01' + (g %% 700) * interval '1 day' + (g %% 86400) * interval '1 second',
       CASE WHEN g %% 3 = 0 THEN 'Grows maize and beans; cooperative member since ' || (2010 + g %% 14)
            || '. Prefers mobile money. ' || md5((%(f)s + g)::text) END
FROM generate_series(1, %(nf)s) g;
INSERT INTO orders
SELECT %(o)s + g, %(f)s + 1 + (g * 31 %% %(nf)s), g %% 5,
       round((random() * 5000)::numeric, 4), (ARRAY['KES','UGX','TZS'])[1 + g %% 3],
       timestamptz '2024-06-01' + (g %% 600) * interval '1 day' + (g * 13 %% 86400) * interval '1 second',
       'P.O. Box ' || (g %% 9000) || ', ' || (ARRAY['Nakuru','Kisumu','Eldoret','Meru'])[1 + g %% 4] || ', Kenya',
       jsonb_build_object('channel', (ARRAY['ussd','app','agent'])[1 + g %% 3], 'season', 2024 + g %% 2,
                          'agent', 'A' || (g %% 300), 'trace', substr(md5((%(o)s + g)::text), 1, 16))
FROM generate_series(1, %(no)s) g;
INSERT INTO order_lines
SELECT %(l)s + g, %(o)s + 1 + (g %% %(no)s),
       'SKU-' || lpad((g %% 2000)::text, 5, '0'),
       (ARRAY['Hybrid maize seed 2kg','DAP fertiliser 50kg','CAN fertiliser 50kg','Knapsack sprayer',
              'Bean seed 1kg','Herbicide 1L','Hermetic storage bag'])[1 + g %% 7] || ' lot ' || (g %% 977),
       1 + g %% 20, round((random() * 300)::numeric, 4)
FROM generate_series(1, %(nl)s) g;
INSERT INTO payments
SELECT %(p)s + g, %(o)s + 1 + (g * 7 %% %(no)s), (ARRAY['mpesa','airtel','mtn','bank'])[1 + g %% 4],
       md5((%(p)s + g)::text || 'pay')::uuid, round((random() * 5000)::numeric, 4),
       timestamptz '2024-06-02' + (g %% 600) * interval '1 day',
       (ARRAY['settled','settled','settled','reversed'])[1 + g %% 4]
FROM generate_series(1, %(np)s) g;
'''

_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def parse_size(text):
    """``"1GB"`` -> 1073741824 (binary units; a bare number is bytes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", text.upper())
    if not m:
        raise argparse.ArgumentTypeError("size like 200MB or 1GB, not %r" % text)
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def generate(conn, size, log=print):
    """Fill the (empty) database of ``conn`` until it holds about ``size`` bytes; returns the final size."""
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(SCHEMA)
        batch, started = 0, time.monotonic()
        # Indexes are built at the end (as a restore would), so estimate their share from one measured batch.
        index_factor = None
        while True:
            offsets = dict(f=batch * FARMERS, o=batch * ORDERS, l=batch * LINES, p=batch * PAYMENTS,
                           nf=FARMERS, no=ORDERS, nl=LINES, np=PAYMENTS)
            cur.execute(BATCH % offsets)
            batch += 1
            cur.execute("SELECT pg_database_size(current_database())")
            current = cur.fetchone()[0]
            if index_factor is None:
                cur.execute(INDEXES)
                cur.execute("SELECT pg_database_size(current_database())")
                index_factor = cur.fetchone()[0] / current
                cur.execute("DROP INDEX ix_farmers_region, ix_orders_farmer_id, ix_orders_created_at, "
                            "ix_order_lines_order_id, ix_payments_reference, ix_payments_order_id")
            if current * index_factor >= size:
                break
            if batch % 10 == 0:
                log("  %d batches, %.0f MB, %.0f s" % (batch, current / 2**20, time.monotonic() - started))
        cur.execute(INDEXES)
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT pg_database_size(current_database())")
        return cur.fetchone()[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GB"), help="target size (default 1GB)")
    parser.add_argument("--dsn", required=True, help="libpq connection string of an empty database (no password)")
    args = parser.parse_args(argv)
    import psycopg2

    conn = psycopg2.connect(args.dsn)
    final = generate(conn, args.size)
    print("database size: %.0f MB" % (final / 2**20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
