"""Backup benchmark: the runbook's pg_dump, plain pg_dump with our options, pg_dump | zstd and pg_backup, side by side.

    .venv/bin/python bench/backup.py                 # about 1 GB, every variant once (about 10 minutes on 2 cores)
    .venv/bin/python bench/backup.py --size 100MB --repeat 3

One run starts a throwaway, durable PostgreSQL cluster (tests/stage/pg.py), fills a database with
bench/gen_db.py, then measures the variants round-robin (so that load from other processes spreads over all
of them) and reports, per variant, the median wall time, the size of the result and the ratios the goals of
issue 3 are stated in. pg_backup runs as a user runs it: through ansible-playbook (wall includes Ansible's
start-up; the module's own ``duration`` is reported beside it). Results go to bench/results/ as JSON; with
``--markdown`` the tables for docs/BENCHMARKS.md are printed too.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, HERE)

from stage.pg import PgCluster  # noqa: E402
from stage.runner import run_module  # noqa: E402
import gen_db  # noqa: E402

DB = "almafrica_bench"

# (key, label, kind, spec): kind "pg_dump" -> argv after pg_dump (output path appended as --file);
# kind "pipe" -> (pg_dump argv, compressor argv): pg_dump's stdout through the compressor into the file;
# kind "pg_backup" -> module options.
MAIN = [
    ("runbook", "runbook: pg_dump -F c -b -v (gzip 6), unverified", "pg_dump", ["-F", "c", "-b", "-v"]),
    ("pipe_zstd1", "pg_dump -Fc -Z0 | zstd -1 -T2, unverified", "pipe", (["-Fc", "-Z0"], ["zstd", "-q", "-1", "-T2"])),
    ("pgb_defaults", "pg_backup defaults (auto = custom | zstd:1, jobs 2, verify=full)", "pg_backup", {}),
    ("dump_fc_z1", "pg_dump -Fc -Z1 (our options), unverified", "pg_dump", ["-Fc", "-Z1"]),
    ("pgb_fc_z1", "pg_backup format=custom compress=1, verify=full", "pg_backup", {"format": "custom", "compress": 1}),
    ("dump_fd_z1_j2", "pg_dump -Fd -Z1 -j2, unverified", "pg_dump", ["-Fd", "-Z1", "-j2"]),
    ("pgb_old_defaults", "pg_backup former defaults (directory, gzip 1, jobs 2, verify=full)", "pg_backup",
     {"format": "directory", "compress": 1}),
    ("pgb_fc_default_z", "pg_backup format=custom (runbook's gzip 6), verify=full", "pg_backup",
     {"format": "custom", "compress": 6}),
]
# zstd levels (issue 16): the raw pipe and pg_backup at level 3.
ZSTD = [
    ("pipe_zstd3", "pg_dump -Fc -Z0 | zstd -3 -T2, unverified", "pipe", (["-Fc", "-Z0"], ["zstd", "-q", "-3", "-T2"])),
    ("pgb_zstd3", "pg_backup compress=zstd:3, verify=full", "pg_backup", {"compress": "zstd:3"}),
]
# Candidates for the defaults: compression level and parallelism of the directory format (unverified dumps).
SWEEP = [
    ("dump_fd_z0_j2", "pg_dump -Fd -Z0 -j2 (no compression: the floor)", "pg_dump", ["-Fd", "-Z0", "-j2"]),
    ("dump_fd_z2_j2", "pg_dump -Fd -Z2 -j2", "pg_dump", ["-Fd", "-Z2", "-j2"]),
    ("dump_fd_z3_j2", "pg_dump -Fd -Z3 -j2", "pg_dump", ["-Fd", "-Z3", "-j2"]),
    ("dump_fd_z6_j2", "pg_dump -Fd -Z6 -j2", "pg_dump", ["-Fd", "-Z6", "-j2"]),
    ("dump_fd_z1_j1", "pg_dump -Fd -Z1 -j1", "pg_dump", ["-Fd", "-Z1", "-j1"]),
    ("pgb_fd_z3", "pg_backup defaults with compress=3", "pg_backup", {"compress": 3}),
    ("pgb_fd_verify_toc", "pg_backup defaults with verify=toc (weak)", "pg_backup", {"verify": "toc"}),
    ("pgb_fd_verify_restore", "pg_backup defaults with verify=restore", "pg_backup", {"verify": "restore"}),
]


def du(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _d, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def clear(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)


def measure_pg_dump(pg, args, out):
    env = dict(pg.client_env(), PGDATABASE=DB)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(["pg_dump"] + args + ["--file=" + out], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of pg_dump and its workers (the client side; the server's share is the same for all levels):
    # unlike wall time, barely moved by other processes on a shared machine.
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError("pg_dump %s failed: %s" % (" ".join(args), proc.stderr.decode()[-2000:]))
    size = du(out)
    clear(out)
    return {"wall": wall, "size": size, "client_cpu": cpu}


def measure_pipe(pg, spec, out):
    """``pg_dump ARGS | COMPRESSOR > out``: both processes checked, wall time of the whole."""
    dump_args, compressor = spec
    env = dict(pg.client_env(), PGDATABASE=DB)
    started = time.monotonic()
    with open(out, "wb") as fh:
        dump = subprocess.Popen(["pg_dump"] + dump_args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        comp = subprocess.Popen(compressor, stdin=dump.stdout, stdout=fh, stderr=subprocess.PIPE)
        dump.stdout.close()
        comp_err = comp.communicate()[1]
        dump_err = dump.communicate()[1]
    wall = time.monotonic() - started
    if dump.returncode or comp.returncode:
        raise RuntimeError("pipe %s failed: %s %s" % (spec, dump_err.decode()[-1000:], comp_err.decode()[-1000:]))
    size = du(out)
    clear(out)
    return {"wall": wall, "size": size}


def measure_pg_backup(pg, options, dest):
    args = dict(pg.login_args(DB), dest=dest, name="bench", **options)
    started = time.monotonic()
    run = run_module("pg_backup", args, via="playbook")  # as a user runs it: Ansible start-up included
    wall = time.monotonic() - started
    if run.failed:
        raise RuntimeError("pg_backup %s failed: %s" % (options, run.get("msg")))
    for entry in os.listdir(dest):
        clear(os.path.join(dest, entry))
    timings = run.get("timings") or {}
    return {"wall": wall, "size": run["size"], "module": run["duration"], "verify": timings.get("verify")}


def run_variants(pg, variants, repeat, workdir, log):
    samples = {key: [] for key, _l, _k, _s in variants}
    for round_no in range(repeat):
        for key, label, kind, spec in variants:
            if kind == "pg_dump":
                sample = measure_pg_dump(pg, spec, os.path.join(workdir, key))
            elif kind == "pipe":
                sample = measure_pipe(pg, spec, os.path.join(workdir, key))
            else:
                sample = measure_pg_backup(pg, spec, os.path.join(workdir, "pg_backup"))
            samples[key].append(sample)
            log("  [%d/%d] %-62s %7.2f s %8.1f MB%s" % (
                round_no + 1, repeat, label, sample["wall"], sample["size"] / 2**20,
                "  (module %.2f s)" % sample["module"] if "module" in sample
                else "  (pg_dump CPU %.2f s)" % sample["client_cpu"] if "client_cpu" in sample else ""))
    summary = {}
    for key, label, kind, _spec in variants:
        s = samples[key]
        summary[key] = {"label": label, "kind": kind, "wall": statistics.median(x["wall"] for x in s),
                        "size": s[-1]["size"], "samples": s}
        if kind == "pg_dump":
            summary[key]["client_cpu"] = statistics.median(x["client_cpu"] for x in s)
        if kind == "pg_backup":
            summary[key]["module"] = statistics.median(x["module"] for x in s)
            summary[key]["verify"] = statistics.median(x["verify"] or 0 for x in s)
    return summary


def goals(r):
    """The goals of issues 3 (with the former defaults, kept for comparison) and 16 (zstd), with the figures."""
    out = []
    speed = r["runbook"]["wall"] / r["pgb_defaults"]["module"]
    out.append(("issue 16: pg_backup defaults (full verification) >= 3.5x faster than the runbook, module time",
                "%.2fx" % speed, speed >= 3.5))
    speed_wall = r["runbook"]["wall"] / r["pgb_defaults"]["wall"]
    out.append(("  same, wall time through ansible-playbook", "%.2fx" % speed_wall, speed_wall >= 3.5))
    size = r["pgb_defaults"]["size"] / r["runbook"]["size"]
    out.append(("issue 16: pg_backup defaults' file <= the runbook's", "%.2fx" % size, size <= 1.0))
    same = r["pgb_defaults"]["module"] / r["pipe_zstd1"]["wall"]
    out.append(("issue 16: pg_backup defaults (module time) <= 1.3x raw pg_dump -Fc -Z0 | zstd -1 -T2",
                "%.2fx" % same, same <= 1.3))
    same_wall = r["pgb_defaults"]["wall"] / r["pipe_zstd1"]["wall"]
    out.append(("  same, wall time through ansible-playbook", "%.2fx" % same_wall, same_wall <= 1.3))
    same = r["pgb_fc_z1"]["wall"] / r["dump_fc_z1"]["wall"]
    out.append(("pg_backup (custom, compress 1, full verification) <= 1.4x plain pg_dump -Fc -Z1",
                "%.2fx" % same, same <= 1.4))
    same_module = r["pgb_fc_z1"]["module"] / r["dump_fc_z1"]["wall"]
    out.append(("  same, module time only (without ansible-playbook start-up)", "%.2fx" % same_module,
                same_module <= 1.4))
    same_dir = r["pgb_old_defaults"]["wall"] / r["dump_fd_z1_j2"]["wall"]
    out.append(("issue 3: former defaults (directory, -Z1 -j2, full verification) <= 1.4x pg_dump -Fd -Z1 -j2",
                "%.2fx" % same_dir, same_dir <= 1.4))
    speed = r["runbook"]["wall"] / r["pgb_old_defaults"]["wall"]
    out.append(("issue 3: former defaults >= 2.5x faster than the runbook's command", "%.2fx" % speed, speed >= 2.5))
    size = r["pgb_old_defaults"]["size"] / r["runbook"]["size"]
    out.append(("issue 3: former defaults' size <= 1.1x the runbook's", "%.2fx" % size, size <= 1.1))
    return out


def markdown(meta, results):
    base = results["runbook"]
    lines = ["| variant | wall (s) | module (s) | of which verify (s) | pg_dump CPU (s) | size (MB) "
             "| time vs runbook | size vs runbook |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, r in results.items():
        lines.append("| %s | %.2f | %s | %s | %s | %.1f | %.2fx | %.2fx |" % (
            r["label"].replace("|", "\\|"), r["wall"], "%.2f" % r["module"] if "module" in r else "",
            "%.2f" % r["verify"] if "verify" in r else "",
            "%.2f" % r["client_cpu"] if "client_cpu" in r else "", r["size"] / 2**20,
            r["wall"] / base["wall"], r["size"] / base["size"]))
    lines += ["", "| goal | measured | met |", "|---|---:|---|"]
    lines += ["| %s | %s | %s |" % (g.replace("|", "\\|"), v, "yes" if ok else "**no**") for g, v, ok in goals(results)]
    lines += ["", "Database %.0f MB (%s), PostgreSQL %s, %d CPUs, load average before %s, after %s, %d round(s)."
              % (meta["db_size"] / 2**20, meta["generator"], meta["server"], meta["cpus"], meta["load_before"],
                 meta["load_after"], meta["repeat"])]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=gen_db.parse_size, default=gen_db.parse_size("1GB"),
                        help="database size to generate (default 1GB)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the median is reported (default 1)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the gzip candidates for the defaults")
    parser.add_argument("--no-zstd-levels", action="store_true", help="skip the zstd level 3 variants")
    parser.add_argument("--markdown", action="store_true", help="also print the tables for docs/BENCHMARKS.md")
    parser.add_argument("--workdir", help="where the dumps go (default: a temp dir, removed)")
    args = parser.parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    workdir = args.workdir or tempfile.mkdtemp(prefix="almafrica-bench-")
    os.makedirs(workdir, exist_ok=True)
    pg = PgCluster(durable=True)  # its own temp dir, handed to the postgres user when we are root
    try:
        pg.start()
        pg.create_database(DB)
        log("generating %.0f MB ..." % (args.size / 2**20))
        started = time.monotonic()
        conn = pg.connect(DB)
        db_size = gen_db.generate(conn, args.size, log=log)
        server = conn.server_version
        conn.close()
        pg.execute(DB, "CHECKPOINT")
        log("database %.0f MB in %.0f s" % (db_size / 2**20, time.monotonic() - started))
        measure_pg_dump(pg, ["-Fc", "-Z1"], os.path.join(workdir, "warmup"))  # page cache, like every later run
        variants = MAIN + ([] if args.no_zstd_levels else ZSTD) + ([] if args.no_sweep else SWEEP)
        load_before = "%.2f %.2f %.2f" % os.getloadavg()
        results = run_variants(pg, variants, args.repeat, workdir, log)
        meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "db_size": db_size, "generator": "bench/gen_db.py --size %d" % args.size,
                "server": "%d.%d" % (server // 10000, server % 100), "cpus": os.cpu_count(),
                "load_before": load_before, "load_after": "%.2f %.2f %.2f" % os.getloadavg(),
                "repeat": args.repeat}
    finally:
        pg.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    log("")
    header = ("variant", "wall s", "size MB", "t/runbook", "s/runbook", "pg_dump CPU")
    log("%-70s %9s %10s %9s %9s %12s" % header)
    base = results["runbook"]
    for r in results.values():
        log("%-70s %9.2f %10.1f %8.2fx %8.2fx %12s" % (
            r["label"], r["wall"], r["size"] / 2**20, r["wall"] / base["wall"], r["size"] / base["size"],
            "%.2f s" % r["client_cpu"] if "client_cpu" in r else ""))
    log("")
    for goal, value, ok in goals(results):
        log("%-4s %-100s %s" % ("ok" if ok else "MISS", goal, value))
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "backup-%s.json" % meta["date"].replace(":", ""))
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "results": results, "goals": goals(results)}, fh, indent=2)
    log("\nresults: %s" % os.path.relpath(out, REPO))
    if args.markdown:
        log("\n" + markdown(meta, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
