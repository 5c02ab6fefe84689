"""The throwaway cluster itself: reachable with the password, refuses a wrong one."""
from __future__ import annotations

import psycopg2
import pytest


def test_cluster_accepts_password_and_refuses_wrong_one(pg, dbname):
    rows = pg.execute(dbname, "SELECT current_database(), current_setting('listen_addresses')", fetch=True)
    assert rows == [(dbname, "127.0.0.1")]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**pg.conn_params(dbname, password="wrong-" + pg.password))
