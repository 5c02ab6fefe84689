"""The hotfix release v1.2.1 of the staging kit, for the shadow rehearsal: AllowGuestOrders and orders of guests.

``AllowGuestOrders`` drops the foreign key Orders -> Farmers; its Down() re-adds it. Orders of farmers that do not
exist, written under v1.2.1, make that Down() fail on this database's data only (migrations/hotfix/README.md).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import psycopg2

from stage import fixtures
from stage.kit import read_secrets

HOTFIX_DIR = os.path.join(fixtures.MIGRATIONS_DIR, "hotfix")
HOTFIX = "20260320090000_AllowGuestOrders"
FIRST_GUEST = 9001


class StageDatabase:
    """The database of one environment of a running staging kit (``python -m stage up --dir DIR``)."""

    def __init__(self, stage_dir, environment="staging"):
        with open(os.path.join(stage_dir, "stage.json"), encoding="utf-8") as fh:
            self.state = json.load(fh)
        self.password = read_secrets(self.state)["stage_db_password"]
        self.name = self.state["environments"][environment]["database"]
        pgs = self.state["postgres"]
        self.params = dict(host=pgs["host"], port=pgs["port"], user=pgs["user"], password=self.password)

    def connect(self, dbname=None):
        conn = psycopg2.connect(dbname=dbname or self.name, **self.params)
        conn.autocommit = True
        return conn

    def sql(self, statement, args=None, dbname=None):
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def dump(self):
        """pg_dump of schema and data (without the per-run \\restrict key lines of pg_dump 15.14+)."""
        pgs = self.state["postgres"]
        exe = shutil.which("pg_dump") or os.path.join(pgs["bindir"], "pg_dump")
        env = dict(os.environ, PGPASSWORD=self.password, PGHOST=pgs["host"], PGPORT=str(pgs["port"]),
                   PGUSER=pgs["user"])
        out = subprocess.run([exe, "--no-owner", self.name], env=env, capture_output=True, text=True,
                             check=True).stdout
        return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))

    def history(self):
        return [r[0] for r in self.sql('SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY 1')]

    def scratch_copies(self):
        """Databases named like the role's shadow copies of this database."""
        pattern = self.name.replace("_", "\\_") + "\\_shadow\\_%"
        return [r[0] for r in self.sql("SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1",
                                       (pattern,))]

    def apply_hotfix(self, guests=12):
        """Migrate to v1.2.1 and write ``guests`` orders of farmers that do not exist (ids from 9001)."""
        conn = self.connect()
        try:
            if HOTFIX not in self.history():
                fixtures.apply_sql_file(conn, os.path.join(HOTFIX_DIR, "migrate_v1.2.1.sql"))
            with conn.cursor() as cur:
                for guest in range(FIRST_GUEST, FIRST_GUEST + guests):
                    cur.execute('INSERT INTO "Orders" ("FarmerId", "Amount", "CreatedAt", "Status") '
                                "VALUES (%s, 12.5, now(), 1)", (guest,))
        finally:
            conn.close()

    def remove_guest_orders(self):
        """The runbook's "manually clean up problematic data": the orders of farmers that do not exist."""
        self.sql('DELETE FROM "Orders" o WHERE NOT EXISTS (SELECT 1 FROM "Farmers" f WHERE f."Id" = o."FarmerId")')
