"""A throwaway PostgreSQL server with one empty scratch database, started and stopped from the command line.

    python -m stage.scratch_db up --dir D     # starts it; writes D/state.json (host, port, user, password, dbname), 0600
    python -m stage.scratch_db down --dir D   # stops it and removes D

Used by the molecule scenario ``roundtrip`` (playbooks/test_down.yml needs a database it may wreck). The server keeps
running after ``up`` returns (pg_ctl detaches it); ``down`` stops it with the directory recorded in state.json.
The server's own files live in a fresh temporary directory, not in D: when we are root the server runs as
``postgres``, which cannot enter directories such as molecule's ephemeral one under /root.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

try:  # run as ``python -m stage.scratch_db`` from tests/, or imported by the tests
    from stage.pg import PgCluster
except ImportError:  # pragma: no cover - run from another directory with tests/ on sys.path
    from tests.stage.pg import PgCluster

STATE_FILE = "state.json"


def state_path(directory):
    return os.path.join(directory, STATE_FILE)


def up(directory, dbname="scratch"):
    """Start a cluster under ``directory`` with an empty ``dbname``; returns the state written to state.json."""
    path = state_path(directory)
    if os.path.exists(path):
        raise SystemExit("%s exists: a scratch database is already up there (run 'down' first)" % path)
    os.makedirs(directory, exist_ok=True)
    cluster = PgCluster()
    cluster.start()
    try:
        cluster.create_database(dbname)
    except Exception:
        cluster.stop()
        raise
    state = {"host": cluster.host, "port": cluster.port, "user": cluster.superuser, "password": cluster.password,
             "dbname": dbname, "base_dir": cluster.base_dir}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2)
    return state


def down(directory):
    """Stop the cluster recorded in ``directory`` (if any) and remove the directory. Returns True if one ran."""
    path = state_path(directory)
    stopped = False
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            state = json.load(fh)
        cluster = PgCluster(base_dir=state["base_dir"], password=state["password"])
        cluster.started = True  # started by ``up`` in another process: let stop() run pg_ctl stop
        cluster.stop(remove=True)
        stopped = True
    shutil.rmtree(directory, ignore_errors=True)
    return stopped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", required=True, help="directory of the server and of state.json")
    parser.add_argument("--dbname", default="scratch", help="name of the scratch database (up)")
    args = parser.parse_args(argv)
    if args.action == "up":
        state = up(args.dir, args.dbname)
        print("scratch database %s on %s:%s (state in %s)" % (state["dbname"], state["host"], state["port"],
                                                              state_path(args.dir)))
    else:
        print("stopped and removed" if down(args.dir) else "nothing was running; %s removed" % args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
