"""Planning a huge EF rollback script: linear in its size (issue 9, "bounded work").

    .venv/bin/python bench/script_split.py [--statements 2500000] [--per-migration 1000]

Writes a generated EF-8-style rollback script (``START TRANSACTION;`` / Down() statements / history ``DELETE`` /
``COMMIT;`` per migration; by default 2.5M statements, about 50 MB) to a temporary file, then times, in the same
run and on the same text:

* ``pglast split``: ``pglast.parser.split(text)``, PostgreSQL's parser splitting the text into statements and
  nothing else (and its scanner-only variant, which the planner uses: every statement the fast path does not
  recognise whole is then parsed on its own);
* ``planning``: what ef_migration_state does before it touches the database: read the file (regular-file check),
  split it, classify every statement (measured / harmless / unverified), check EF's block structure, index the
  blocks and select the ones a plan reverting every migration needs.

and prints both, their ratio, then the time until the planner has also listed every operation to measure and
every unverified statement (what the module reads before it queries the database), and the peak memory, as
Markdown.
The database-side measurement of the data at risk is not part of it (it depends on the tables, not the script).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, ".collections"))

import pglast  # noqa: E402

from ansible_collections.almafrica.rollback.plugins.module_utils.ef import script as ef_script  # noqa: E402
from ansible_collections.almafrica.rollback.plugins.module_utils.ef.history import HistoryTable  # noqa: E402

# One migration's Down(): mostly the short statements EF writes by the thousand (dropped indexes, seed rows
# removed with their tables, dropped tables and columns), then its history DELETE.
MIX = (
    (70, 'DROP INDEX "IX_%d";\n'),
    (15, 'INSERT INTO "S" VALUES (%d);\n'),
    (10, 'DROP TABLE "T%d";\n'),
    (5, 'ALTER TABLE "O" DROP COLUMN "C%d";\n'),
)


def generate(statements, per_migration):
    migrations = max(1, statements // per_migration)
    pattern = [text for weight, text in MIX for _ignored in range(weight)]
    parts, ids, n = [], [], 0
    for m in range(migrations, 0, -1):
        mid = "%014d_M%d" % (20260000000000 + m, m)
        ids.append(mid)
        parts.append("START TRANSACTION;\n")
        for k in range(per_migration - 1):
            parts.append(pattern[k % len(pattern)] % k)
        n += per_migration
        parts.append('DELETE FROM "__EFMigrationsHistory"\nWHERE "MigrationId" = \'%s\';\n\nCOMMIT;\n\n' % mid)
    return "".join(parts), ids, migrations * per_migration


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2500000)
    parser.add_argument("--per-migration", type=int, default=1000)
    args = parser.parse_args(argv)
    text, ids, count = generate(args.statements, args.per_migration)
    with tempfile.TemporaryDirectory(prefix="almafrica-bench-") as tmp:
        path = os.path.join(tmp, "rollback_huge.sql")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        size = os.path.getsize(path)

        started = time.perf_counter()
        raw = pglast.parser.split(text)
        raw_seconds = time.perf_counter() - started
        raw_count = len(raw)
        del raw
        started = time.perf_counter()
        pglast.parser.split(text, with_parser=False)
        scan_seconds = time.perf_counter() - started

        started = time.perf_counter()
        blocks = ef_script.Scripts.load([path], HistoryTable()).select({"to_revert": list(ids), "to_apply": []})
        plan_seconds = time.perf_counter() - started
        # What the module then reads before it measures anything in the database: the statements to measure
        # (their operations), the unverified ones.
        measured = sum(len(op_list) for b in blocks for op_list in (s.ops for s in b.notable()))
        unverified = sum(len(b.unverified()) for b in blocks)
        notable_seconds = time.perf_counter() - started
    planned = sum(len(b.statements) + 1 for b in blocks)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    load = os.getloadavg()[0]
    print("| script | statements | pglast split, parser (s) | pglast split, scanner (s) | planning (s) | "
          "planning + operations to measure (s) | planning / parser split | measured ops | unverified | "
          "peak RSS (MB) | load average |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("| %.1f MB, %d migrations | %d | %.2f | %.2f | %.2f | %.2f | %.2fx | %d | %d | %.0f | %.1f |"
          % (size / 1e6, len(ids), raw_count, raw_seconds, scan_seconds, plan_seconds, notable_seconds,
             plan_seconds / raw_seconds, measured, unverified, rss, load))
    if planned != count or raw_count != count + 2 * len(ids):
        print("count mismatch: planned %d, generated %d, split %d" % (planned, count, raw_count), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
