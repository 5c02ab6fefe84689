"""The production database connection: PostgreSQL with TLS and a private CA, for every module and the role.

A PostgreSQL started with ``ssl=on`` that rejects plain TCP (``hostnossl ... reject``) and logs every connection,
with a throwaway CA made in the test (stage.tls). For ssl_mode require, verify-ca and verify-full with ``ca_cert``:
ef_migration_state reads and really rolls back, pg_backup dumps (its pg_dump/pg_restore get PGSSLMODE and
PGSSLROOTCERT) and restores; a wrong CA and a certificate for another host name are refused with nothing changed;
and the role runs with production-like settings (verify-full + CA).
"""
from __future__ import annotations

import glob
import json
import os
import re
import stat
import sys

import pytest
import yaml

from stage import fixtures
from stage import kit as stage_kit
from stage.dumps import dump_state
from stage.pg import PgCluster
from stage.role_kit import PLAYBOOK, Kit, run_role_checked
from stage.runner import run_module
from stage.tls import CertificateAuthority

M = fixtures.MIGRATIONS
V11 = fixtures.last_migration("v1.1.0")
ACCEPT_V12 = ["public.Orders.Status", "public.Orders.Amount"]
SCRIPTS = [os.path.join(fixtures.MIGRATIONS_DIR, "ef8")]
MODES = ["require", "verify-ca", "verify-full"]
# A loopback address no client here connects to: a certificate for it alone is a certificate for the wrong host.
WRONG_HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """``ca`` (PEM path), ``server`` (for 127.0.0.1 and localhost), ``wrong_host`` (same CA, for another host) and
    ``other_ca`` (a CA that signed nothing here)."""
    root = tmp_path_factory.mktemp("tls")
    ca = CertificateAuthority.create(root / "ca")
    return {"ca": ca.cert_path, "server": ca.issue(root / "server"),
            "wrong_host": ca.issue(root / "wrong", hosts=[WRONG_HOST]),
            "other_ca": CertificateAuthority.create(root / "other-ca", name="Other CA").cert_path}


@pytest.fixture(scope="module")
def tls_pg(tls):
    cluster = PgCluster(ssl=tls["server"]).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def wrong_host_pg(tls):
    """Same CA, but the server's certificate names another host than the 127.0.0.1 the clients connect to."""
    cluster = PgCluster(ssl=tls["wrong_host"]).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _database(cluster, request):
    name = "tls_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    cluster.create_database(name)
    fixtures.build_database_in(cluster, name)
    return name


@pytest.fixture
def tdb(tls_pg, request):
    name = _database(tls_pg, request)
    yield name
    tls_pg.drop_database(name)


@pytest.fixture
def wdb(wrong_host_pg, request):
    name = _database(wrong_host_pg, request)
    yield name
    wrong_host_pg.drop_database(name)


def login(cluster, dbname, mode, ca=None):
    args = dict(cluster.login_args(dbname), ssl_mode=mode)
    if ca:
        args["ca_cert"] = ca
    return args


def ca_for(mode, tls):
    return None if mode == "require" else tls["ca"]


def history(cluster, dbname):
    return [r[0] for r in cluster.execute(dbname, 'SELECT "MigrationId" FROM "__EFMigrationsHistory" ORDER BY 1',
                                          fetch=True)]


def module_sessions(cluster, dbname):
    """``(tls, plain)``: connections of our modules/tools to ``dbname`` the server logged as TLS, and plain TCP
    connections to it that it rejected."""
    log = cluster.full_server_log()
    tls_count = len(re.findall(r"connection authorized: user=\S+ database=%s application_name=almafrica\.rollback "
                               r"SSL enabled \(protocol=TLSv1\.[23]" % re.escape(dbname), log))
    plain = len(re.findall(r'rejects connection for host "127\.0\.0\.1", user "\S+", database "%s", no encryption'
                           % re.escape(dbname), log))
    return tls_count, plain


def test_no_client_root_certificate_is_lying_around():
    # verify-* would otherwise find ~/.postgresql/root.crt and the ca_cert tests would prove nothing.
    assert not os.path.exists(os.path.expanduser("~/.postgresql/root.crt"))


@pytest.mark.parametrize("mode", MODES)
def test_ef_migration_state_reads_over_tls(tls_pg, tdb, tls, mode):
    before = module_sessions(tls_pg, tdb)
    run = run_module("ef_migration_state", login(tls_pg, tdb, mode, ca_for(mode, tls)))
    assert not run.failed, run
    assert run["applied"] == list(M) and not run.changed
    after = module_sessions(tls_pg, tdb)
    assert after[0] > before[0] and after[1] == before[1] == 0


@pytest.mark.parametrize("mode", MODES)
def test_ef_migration_state_rolls_back_over_tls(tls_pg, tdb, tls, mode):
    run = run_module("ef_migration_state", dict(login(tls_pg, tdb, mode, ca_for(mode, tls)), target=V11,
                                                scripts=SCRIPTS, accept_data_loss=ACCEPT_V12))
    assert not run.failed, run
    assert run.changed and run["current"] == V11
    assert history(tls_pg, tdb) == list(M[:3])
    tls_count, plain = module_sessions(tls_pg, tdb)
    assert tls_count >= 1 and plain == 0


def test_ef_migration_state_refuses_a_server_signed_by_another_ca(tls_pg, tdb, tls):
    before = dump_state(tls_pg.client_env(), tdb)
    for mode in ("verify-ca", "verify-full"):
        run = run_module("ef_migration_state", dict(login(tls_pg, tdb, mode, tls["other_ca"]), target=V11,
                                                    scripts=SCRIPTS, accept_data_loss=ACCEPT_V12))
        assert run.failed
        assert "Cannot connect to PostgreSQL %s@127.0.0.1:%s" % (tdb, tls_pg.port) in run["msg"]
        assert "certificate verify failed" in run["msg"]
        assert tls_pg.password not in json.dumps(run.result)
    assert dump_state(tls_pg.client_env(), tdb) == before


def test_ef_migration_state_refuses_a_certificate_for_another_host(wrong_host_pg, wdb, tls):
    before = dump_state(wrong_host_pg.client_env(), wdb)
    run = run_module("ef_migration_state", dict(login(wrong_host_pg, wdb, "verify-full", tls["ca"]), target=V11,
                                                scripts=SCRIPTS, accept_data_loss=ACCEPT_V12))
    assert run.failed
    assert 'server certificate for "%s"' % WRONG_HOST in run["msg"]
    assert 'does not match host name "127.0.0.1"' in run["msg"]
    assert dump_state(wrong_host_pg.client_env(), wdb) == before
    # verify-ca checks the CA only, not the name: the same server is accepted (read only here).
    read = run_module("ef_migration_state", login(wrong_host_pg, wdb, "verify-ca", tls["ca"]))
    assert not read.failed, read
    assert read["applied"] == list(M)


# -- pg_backup: its own connection and the pg_dump / pg_restore it spawns -----------------------------------

def recording_bin_dir(cluster, tmp_path):
    """A bin_dir whose pg_dump, pg_restore and psql record the SSL environment they were given, then run the real
    tool of the cluster's PostgreSQL version."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "tools.log"
    for tool in ("pg_dump", "pg_restore", "psql"):
        path = bindir / tool
        path.write_text('#!/bin/sh\nprintf "%%s PGSSLMODE=%%s PGSSLROOTCERT=%%s\\n" "%s" "$PGSSLMODE" "$PGSSLROOTCERT" '
                        '>> "%s"\nexec "%s" "$@"\n' % (tool, record, os.path.join(cluster.bindir, tool)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(bindir), record


def tool_calls(record):
    return record.read_text().splitlines() if record.exists() else []


@pytest.mark.parametrize("mode", MODES)
def test_pg_backup_dumps_and_restores_over_tls(tls_pg, tdb, tls, tmp_path, mode):
    bindir, record = recording_bin_dir(tls_pg, tmp_path)
    ca = ca_for(mode, tls)
    original = dump_state(tls_pg.client_env(), tdb)
    dest = tmp_path / "backups"
    run = run_module("pg_backup", dict(login(tls_pg, tdb, mode, ca), dest=str(dest), name="before", format="custom",
                                       bin_dir=bindir))
    assert not run.failed, run
    assert run.changed and os.path.exists(run["path"]) and run["ef_migration"] == M[-1]
    expected = "PGSSLMODE=%s PGSSLROOTCERT=%s" % (mode, ca or "")
    dumps = [c for c in tool_calls(record) if c.startswith("pg_dump ")]
    assert dumps and all(c == "pg_dump " + expected for c in dumps), tool_calls(record)

    copy = tdb + "_copy"
    try:
        restored = run_module("pg_backup", dict(login(tls_pg, tdb, mode, ca), state="restored", path=run["path"],
                                                restore_db=copy, bin_dir=bindir))
        assert not restored.failed, restored
        assert restored.changed and restored["restored_to"] == copy
        restores = [c for c in tool_calls(record) if c.startswith("pg_restore ")]
        assert restores and all(c == "pg_restore " + expected for c in restores), tool_calls(record)
        assert dump_state(tls_pg.client_env(), copy) == original
    finally:
        tls_pg.drop_database(copy)
    assert dump_state(tls_pg.client_env(), tdb) == original
    tls_count, plain = module_sessions(tls_pg, tdb)
    assert tls_count >= 2 and plain == 0  # the module's connection and pg_dump's, at least


def test_pg_backup_refuses_a_wrong_ca_and_a_wrong_host_and_writes_nothing(tls_pg, tdb, wrong_host_pg, wdb, tls,
                                                                          tmp_path):
    bindir, record = recording_bin_dir(tls_pg, tmp_path)
    dest = tmp_path / "backups"
    before = dump_state(tls_pg.client_env(), tdb)
    wrong_ca = run_module("pg_backup", dict(login(tls_pg, tdb, "verify-full", tls["other_ca"]), dest=str(dest),
                                            name="before", bin_dir=bindir))
    assert wrong_ca.failed
    assert "certificate verify failed" in wrong_ca["msg"]
    wrong_before = dump_state(wrong_host_pg.client_env(), wdb)
    wrong_host = run_module("pg_backup", dict(login(wrong_host_pg, wdb, "verify-full", tls["ca"]), dest=str(dest),
                                              name="before", bin_dir=bindir))
    assert wrong_host.failed
    assert 'does not match host name "127.0.0.1"' in wrong_host["msg"]
    assert [p for p in glob.glob(str(dest / "*")) if not p.endswith(".lock")] == []
    assert tool_calls(record) == [] or all(c.startswith(("pg_dump", "psql")) for c in tool_calls(record))
    assert dump_state(tls_pg.client_env(), tdb) == before
    assert dump_state(wrong_host_pg.client_env(), wdb) == wrong_before

    # A restore that cannot verify the server creates and changes nothing either.
    good = run_module("pg_backup", dict(login(tls_pg, tdb, "verify-full", tls["ca"]), dest=str(dest), name="good",
                                        bin_dir=bindir))
    assert not good.failed, good
    copy = tdb + "_copy"
    refused = run_module("pg_backup", dict(login(tls_pg, tdb, "verify-full", tls["other_ca"]), state="restored",
                                           path=good["path"], restore_db=copy, bin_dir=bindir))
    assert refused.failed and "certificate verify failed" in refused["msg"]
    assert copy not in [r[0] for r in tls_pg.execute("postgres", "SELECT datname FROM pg_database", fetch=True)]
    assert dump_state(tls_pg.client_env(), tdb) == before


# -- the role, with production-like settings -----------------------------------------------------------------

def test_role_rolls_back_over_verified_tls(tls_pg, tdb, tls, tmp_path):
    inv = tmp_path / "inventory"
    (inv / "group_vars" / "almafrica").mkdir(parents=True)
    reports = tmp_path / "reports"
    (inv / "hosts.yml").write_text(yaml.safe_dump({"almafrica": {"hosts": {"almafrica_tls": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (inv / "group_vars" / "almafrica" / "main.yml").write_text(yaml.safe_dump({
        "rollback_environment": "staging",
        "rollback_db_host": "127.0.0.1", "rollback_db_port": tls_pg.port, "rollback_db_name": tdb,
        "rollback_db_user": tls_pg.superuser, "rollback_db_password": "{{ tls_db_password }}",
        "rollback_db_ssl_mode": "verify-full", "rollback_db_ca_cert": tls["ca"],
        "rollback_scripts": SCRIPTS, "rollback_accept_data_loss": ACCEPT_V12,
        "rollback_expected_objects": ["public.Payments"], "rollback_absent_objects": ["public.Orders.Status"],
        "rollback_backup_dir": str(tmp_path / "backups"), "rollback_report_dir": str(reports),
        "rollback_deploy_method": "none", "rollback_on_failure": "roll_forward", "rollback_operator": "tls test",
    }))
    (inv / "group_vars" / "almafrica" / "secrets.yml").write_text(yaml.safe_dump(
        {"tls_db_password": tls_pg.password}))
    before_sessions = module_sessions(tls_pg, tdb)
    # At -vvv, with the password searched for in every form in the output (stage.role_kit).
    proc = run_role_checked(PLAYBOOK, "-e", "target=" + V11, inventory=str(inv),
                            secrets={"db_password": tls_pg.password})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert history(tls_pg, tdb) == list(M[:3])
    [path] = glob.glob(str(reports / "almafrica_tls" / "*.json"))
    with open(path, encoding="utf-8") as fh:
        report = json.load(fh)
    assert report["outcome"] == "succeeded"
    assert report["backup"]["sha256"] and os.path.exists(report["backup"]["path"])
    tls_count, plain = module_sessions(tls_pg, tdb)
    # preflight, record, backup (module + pg_dump), migrate, verify_db: every session over TLS, none in plain TCP.
    assert tls_count - before_sessions[0] >= 5 and plain == 0

    # The same settings with a CA that did not sign the server: refused in preflight, nothing changed.
    before = dump_state(tls_pg.client_env(), tdb)
    refused = run_role_checked(PLAYBOOK, "-e", "target=InitialCreate", "-e", "rollback_db_ca_cert=" + tls["other_ca"],
                               inventory=str(inv), secrets={"db_password": tls_pg.password})
    assert refused.returncode == 2
    assert "certificate verify failed" in refused.stdout
    assert dump_state(tls_pg.client_env(), tdb) == before
    assert len(glob.glob(str(tmp_path / "backups" / "*.json"))) == 1  # no second backup


def test_production_shape_over_verified_tls_with_the_maintenance_window(tmp_path):
    """The production inventory's shape (Coolify deploy, the maintenance window) with the database verified as it
    should be (verify-full + the CA): the application is stopped, its sessions are listed through
    community.postgresql over the same verified TLS, then backup, migrate, deploy and verify all pass."""
    kit = Kit(str(tmp_path), tls=True)
    try:
        assert kit.state["postgres"]["ca_cert"]
        kit.add_vars({"rollback_maintenance": True})
        proc = kit.run("-e", "target=" + V11)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert "TASK [almafrica.rollback.rollback : Maintenance | no session of the application is left" in proc.stdout
        assert kit.history() == list(M[:3])
        assert kit.version()["version"] == stage_kit.REHEARSAL_VERSION
        [report] = kit.reports_of()
        assert report["outcome"] == "succeeded"
    finally:
        assert kit.down() == []
