"""A throwaway PostgreSQL cluster: initdb + pg_ctl on a free loopback port, in a temporary directory.

The server refuses to run as root, so when we are root every server-side command runs as the
``postgres`` system user through ``runuser`` and the directory is handed to that user.

    with PgCluster() as pg:
        pg.create_database("almafrica")
        conn = pg.connect("almafrica")

``PgCluster(ssl=issued)`` (a certificate and key, ``.cert`` and ``.key`` paths, as ``stage.tls``'s
``CertificateAuthority.issue`` returns them) starts the server with ``ssl=on`` and that certificate, accepts TCP
connections only over TLS (``hostssl``; plain TCP is rejected) and logs every connection (``log_connections``), so a test can prove its clients used TLS.

``python -m stage.pg --check`` prints the directory of the server binaries, or exits 1 saying
what to install.
"""
from __future__ import annotations

import argparse
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


def _has_server_binaries(bindir):
    return bool(bindir) and all(os.access(os.path.join(bindir, b), os.X_OK) for b in SERVER_BINARIES)


def find_pg_bindir():
    """Directory holding initdb/pg_ctl/postgres, or None.

    Order: $PG_BINDIR, then the newest Debian versioned directory, then whatever is on PATH.
    """
    candidates = [os.environ.get("PG_BINDIR")]
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0, reverse=True)
    candidates.extend(versioned)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.dirname(os.path.realpath(on_path)))
    for cand in candidates:
        if _has_server_binaries(cand):
            return cand
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One PostgreSQL server for tests, benchmarks and the staging kit."""

    def __init__(self, base_dir=None, superuser="postgres", password=None, durable=False, ssl=None):
        self.bindir = find_pg_bindir()
        if not self.bindir:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found: "
                               "install the Debian package 'postgresql' or set PG_BINDIR")
        self.superuser = superuser
        self.password = password or secrets.token_urlsafe(18)
        self.durable = durable
        self.ssl = ssl
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="almafrica-pg-")
        self.data_dir = os.path.join(self.base_dir, "data")
        self.socket_dir = os.path.join(self.base_dir, "sock")
        self.log_file = os.path.join(self.base_dir, "server.log")
        self.host = "127.0.0.1"
        self.port = None
        self.started = False

    # -- running server-side commands as the right user -----------------------------------
    def _server_cmd(self, argv):
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--"] + argv
        return argv

    def _run(self, argv, **kwargs):
        return subprocess.run(self._server_cmd(argv), check=True, capture_output=True, text=True, **kwargs)

    def _hand_over(self, path):
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        os.makedirs(self.socket_dir, exist_ok=True)
        os.chmod(self.base_dir, 0o700)
        self._hand_over(self.base_dir)
        self._hand_over(self.socket_dir)
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            pwfile = os.path.join(self.base_dir, "pwfile")
            with open(pwfile, "w", encoding="utf-8") as fh:
                fh.write(self.password + "\n")
            os.chmod(pwfile, 0o600)
            self._hand_over(pwfile)
            try:
                self._run([os.path.join(self.bindir, "initdb"), "-D", self.data_dir, "-U", self.superuser,
                           "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                           "-E", "UTF8", "--no-locale", "--no-sync"])
            finally:
                os.unlink(pwfile)
        ssl_opts = self._setup_ssl() if self.ssl else []
        last_error = None
        for _attempt in range(5):
            self.port = free_port()
            opts = ["-p", str(self.port), "-k", self.socket_dir, "-c", "listen_addresses=127.0.0.1",
                    "-c", "max_connections=60", "-c", "shared_buffers=64MB"]
            if not self.durable:
                opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
            opts += ssl_opts
            try:
                self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data_dir, "-l", self.log_file,
                           "-w", "-t", "60", "-o", " ".join(opts), "start"])
                self.started = True
                return self
            except subprocess.CalledProcessError as exc:  # port taken between probe and bind: try another
                last_error = exc
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start: %s\n%s" % (last_error.stderr, self.server_log()))

    def _setup_ssl(self):
        """Copy the certificate and key beside the data directory (the server insists on owning a 0600 key), allow
        TCP only over TLS, and return the server options that turn TLS on."""
        paths = {}
        for name, source in (("server.crt", self.ssl.cert), ("server.key", self.ssl.key)):
            path = paths[name] = os.path.join(self.base_dir, name)
            shutil.copyfile(source, path)
            os.chmod(path, 0o600)
            self._hand_over(path)
        hba = os.path.join(self.data_dir, "pg_hba.conf")
        with open(hba, "w", encoding="utf-8") as fh:
            fh.write("local all all trust\n"
                     "hostnossl all all 0.0.0.0/0 reject\n"
                     "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        self._hand_over(hba)
        return ["-c", "ssl=on", "-c", "ssl_cert_file=%s" % paths["server.crt"],
                "-c", "ssl_key_file=%s" % paths["server.key"], "-c", "log_connections=on"]

    def stop(self, remove=True):
        if self.started:
            subprocess.run(self._server_cmd([os.path.join(self.bindir, "pg_ctl"), "-D", self.data_dir,
                                             "-m", "fast", "-w", "stop"]), capture_output=True, check=False)
            self.started = False
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def server_log(self):
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as fh:
                return fh.read()[-4000:]
        except OSError:
            return ""

    def full_server_log(self):
        """The whole server log (``server_log`` keeps only its tail)."""
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    # -- client side -------------------------------------------------------------------------
    def conn_params(self, dbname="postgres", user=None, password=None):
        return {"host": self.host, "port": self.port, "user": user or self.superuser,
                "password": self.password if password is None else password, "dbname": dbname}

    def login_args(self, dbname="postgres"):
        """The module options that reach this server (the password included)."""
        return {"login_host": self.host, "login_port": self.port, "login_user": self.superuser,
                "login_password": self.password, "login_db": dbname}

    def connect(self, dbname="postgres", autocommit=True):
        import psycopg2  # imported late: `--check` must work before the venv exists

        conn = psycopg2.connect(**self.conn_params(dbname))
        conn.autocommit = autocommit
        return conn

    def execute(self, dbname, sql, params=None, fetch=False):
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if fetch else None
        finally:
            conn.close()

    def create_database(self, name, template="template0"):
        self.execute("postgres", 'CREATE DATABASE "%s" TEMPLATE %s' % (name.replace('"', '""'), template))
        return name

    def drop_database(self, name):
        self.execute("postgres", 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name.replace('"', '""'))

    def client_env(self):
        """Environment for libpq client tools (psql, pg_dump) run by tests: password never on argv."""
        env = dict(os.environ)
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.superuser, PGPASSWORD=self.password)
        return env


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print the server binary directory or fail")
    args = parser.parse_args(argv)
    if args.check:
        bindir = find_pg_bindir()
        if not bindir:
            print("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. "
                  "Install them: apt-get install postgresql (as root), or set PG_BINDIR.", file=sys.stderr)
            return 1
        print(bindir)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
