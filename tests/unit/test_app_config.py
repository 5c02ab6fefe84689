"""Pure parts of the staging application: Npgsql connection strings, what each release reads, EF script blocks."""
from __future__ import annotations

import pytest

from stage import fixtures
from stage.app import (
    RELEASES_KNOWN, expected_columns, farmer_columns, migration_blocks, order_columns, parse_npgsql_connection_string,
    psycopg2_params, schema_problems,
)

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string


def test_parses_the_string_our_modules_build():
    params = dict(login_host="127.0.0.1", login_port=5433, login_user="app", login_password='p;a"s=s w',
                  login_db="almafrica", login_unix_socket="", ssl_mode="verify-full", ca_cert="/etc/ca.pem",
                  connect_timeout=7)
    parsed = parse_npgsql_connection_string(npgsql_connection_string(params))
    assert parsed == {"host": "127.0.0.1", "port": 5433, "dbname": "almafrica", "user": "app",
                      "password": 'p;a"s=s w', "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem",
                      "connect_timeout": "7", "application_name": "almafrica.rollback"}


@pytest.mark.parametrize("text, expected", [
    ("Host=db;Port=5432;Database=a;Username=u;Password=p",
     {"host": "db", "port": 5432, "dbname": "a", "user": "u", "password": "p"}),
    ("server = db ; user id=u; pwd='it''s'; DB=x;", {"host": "db", "user": "u", "password": "it's", "dbname": "x"}),
    ('Host=db;Password="a ""quoted"" one" ;SslMode=Require', {"host": "db", "password": 'a "quoted" one',
                                                              "sslmode": "require"}),
    ("Host=db;Pooling=true;Maximum Pool Size=20;Include Error Detail=true", {"host": "db"}),
    ("Host=db;;Search Path=app, public", {"host": "db", "search_path": "app, public"}),
    ("", {}),
])
def test_npgsql_forms(text, expected):
    assert parse_npgsql_connection_string(text) == expected


@pytest.mark.parametrize("text, message", [
    ("Host=db;Colour=blue", "unknown keyword 'Colour'"),
    ("Host=db;Port=abc", "Port must be a number"),
    ('Host=db;Password="never closed', "unterminated quoted value for 'Password'"),
    ('Host=db;Password="x"y', "unexpected text after the quoted value"),
    ("Host=db;SSL Mode=Sometimes", "unknown SSL Mode"),
    ("Host=db;justtext", "is not keyword=value"),
])
def test_npgsql_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_npgsql_connection_string(text)


def test_errors_never_show_the_password():
    with pytest.raises(ValueError) as err:
        parse_npgsql_connection_string('Host=db;Password="s3cret-value')
    assert "s3cret" not in str(err.value)


def test_psycopg2_params_need_a_host_and_bound_waits():
    with pytest.raises(ValueError, match="Host is required"):
        psycopg2_params("Database=x")
    params = psycopg2_params("Host=db;Search Path=app, public")
    assert "lock_timeout" in params["options"] and "-c search_path=app,public" in params["options"]
    assert params["connect_timeout"] == 5


def test_releases_read_more_columns_as_they_grow():
    assert RELEASES_KNOWN == fixtures.RELEASE_ORDER
    assert farmer_columns("v1.0.0") == ["Id", "Name", "Village"]
    assert farmer_columns("v1.1.0") == farmer_columns("v1.2.0") == ["Id", "Name", "Village", "PhoneNumber"]
    assert "Status" not in order_columns("v1.1.0") and "Status" in order_columns("v1.2.0")
    with pytest.raises(ValueError, match="unknown release 'v9'"):
        farmer_columns("v9")


def _schema(release):
    return {t: dict(cols) for t, cols in expected_columns(release).items()}


def test_schema_problems():
    assert schema_problems(_schema("v1.2.0"), "v1.2.0") == []
    assert schema_problems(_schema("v1.2.0"), "v1.0.0") == []  # an older app on a newer schema works
    assert schema_problems(_schema("v1.1.0"), "v1.2.0") == ["column Orders.Status is missing"]
    assert schema_problems(_schema("v1.0.0"), "v1.2.0") == ["column Farmers.PhoneNumber is missing",
                                                            "column Orders.Status is missing"]
    wrong = _schema("v1.2.0")
    wrong["Orders"]["Status"] = "text"
    del wrong["Farmers"]
    assert schema_problems(wrong, "v1.2.0") == ["table Farmers is missing",
                                                "column Orders.Status is text, expected integer"]


@pytest.mark.parametrize("release", RELEASES_KNOWN)
def test_migration_blocks_of_every_ef8_script(release):
    blocks = migration_blocks(fixtures.split_statements(fixtures.read_sql(fixtures.migrate_script("ef8", release))))
    assert [mid for mid, _ignored in blocks] == fixtures.RELEASES[release]
    for _mid, statements in blocks:
        assert not any(s.upper().startswith(("START TRANSACTION", "COMMIT")) for s in statements)
        assert '"__EFMigrationsHistory"' in statements[-1]


def test_migration_blocks_refuse_trailing_statements():
    with pytest.raises(ValueError, match="after the last migration"):
        migration_blocks(['INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") '
                          "VALUES ('1_A', '8.0.11');", 'DROP TABLE "Farmers";'])
