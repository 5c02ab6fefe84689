#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: pg_backup
short_description: Make a PostgreSQL backup proven restorable, or restore one, stopping on the first error
version_added: 1.0.0
description:
  - With O(state=present), dumps the database with C(pg_dump) into O(dest), verifies the result and only then gives
    it its final name, with a JSON manifest C(<name>.pg_backup.json) beside it (our marker C(tool), format version,
    database, host, port, the EF Core migration it was taken at, tool and server versions, format, compression,
    size, SHA-256, table-of-contents entries, start, end, duration).
  - The dump is written under a temporary name in O(dest) and renamed atomically once verified; a failed, killed
    or interrupted dump leaves nothing under the final name and no temporary file behind.
  - The table list, the EF migration and the row counts used by verification are read in the very snapshot
    C(pg_dump) dumps (C(pg_export_snapshot) and C(pg_dump --snapshot)), so the manifest describes exactly what is
    in the file even while the application writes.
  - Verification proves restorability, not only that a file exists. C(pg_restore --list) alone proves nothing about
    the data (it reads only the table of contents; an archive cut in half still lists), so by default every data
    block is read back (O(verify=full)).
  - With O(state=restored), checks the backup against its manifest (SHA-256 of every file) and restores it with
    C(pg_restore --exit-on-error --single-transaction), into the database itself or into a new database
    O(restore_db), leaving the source untouched. A zstd stream (C(<name>.dump.zst)) is decompressed through a pipe
    into C(pg_restore --single-transaction), with one job.
  - The password reaches C(pg_dump), C(pg_restore) and C(psql) only through a temporary 0600 password file
    (C(PGPASSFILE)); it is in no command line and in no process environment.
author:
  - Almafrica platform team (@almafrica)
extends_documentation_fragment:
  - almafrica.rollback.attributes
  - almafrica.rollback.postgres
attributes:
  check_mode:
    support: full
    details:
      - Connects, reads the tables and the EF migration, checks an existing backup of the same O(name) against its
        manifest and reports the backup (or restore) it would make and the backups retention would delete.
        Nothing is dumped, restored, created or deleted.
  diff_mode:
    support: full
    details:
      - O(state=present) shows the backups of the series in O(dest) before and after (new one, deleted ones).
      - O(state=restored) shows the target database's EF migration before and the backup's after.
options:
  state:
    description:
      - V(present) ensures a verified backup exists (a new one, unless a backup of that O(name) exists and matches
        its manifest).
      - V(restored) restores the database from the backup O(path).
    type: str
    choices: [ present, restored ]
    default: present
  dest:
    description:
      - Directory the backup and its manifest are written to. Created with mode 0700 when missing.
      - Required with O(state=present).
    type: path
  name:
    description:
      - File stem of the backup. The backup is C(<name>.dump) (custom), C(<name>.tar), C(<name>.sql) or
        C(<name>.sql.gz) (plain), or the directory C(<name>) (directory format); the manifest is
        C(<name>.pg_backup.json).
      - An existing C(<name>.pg_backup.json) that pg_backup did not write (no marker, not a regular file) is never
        overwritten (the run fails).
      - Defaults to C(backup_before_rollback_<db>_<UTC yyyymmdd_HHMMSS>), a new backup each run. Give a fixed name
        (for example C(before_{{ target }})) to make reruns idempotent.
    type: str
  format:
    description:
      - C(pg_dump) archive format. Unset, it follows the compression O(compress) resolves to - V(custom) when the
        backup is streamed through the C(zstd) tool (pg_dump 15 and older), else V(directory).
      - V(directory) is dumped, verified and restored in parallel (O(jobs)); the backup is a directory of files.
      - V(custom) is one file (C(<name>.dump), or C(<name>.dump.zst) when streamed through C(zstd)); V(tar) is one
        uncompressed file; V(plain) is an SQL script (replayed with C(psql)), written with C(--clean --if-exists).
    type: str
    choices: [ directory, custom, tar, plain ]
  compress:
    description:
      - Compression, in pg_dump 16's spelling - V(auto), V(none), C(gzip:N) (1-9), C(zstd:N) (1-19), C(lz4:N)
        (1-12), or a bare number, which is a gzip level (V(0) is none) as before.
      - V(auto) (the default, chosen from measurements, see C(docs/BENCHMARKS.md)) is C(zstd:1) when zstd can be
        used, else C(gzip:1). With pg_dump 16 or newer C(pg_dump) writes zstd itself (C(--compress=zstd:1); the
        directory format keeps its parallel jobs). With pg_dump 15 or older the custom format is dumped uncompressed
        and streamed through the C(zstd) tool (C(pg_dump -Fc -Z0 | zstd -T<jobs> -1)) into C(<name>.dump.zst).
        When the C(zstd) tool is missing there, V(auto) falls back to C(gzip:1) with a warning naming the Debian
        package C(zstd); an explicit C(zstd:N) fails instead.
      - C(lz4:N) needs pg_dump 16 or newer. V(tar) archives are never compressed (C(pg_dump) cannot). V(plain)
        scripts take gzip (C(<name>.sql.gz)) or none; V(auto) is gzip 1 for them.
    type: raw
    default: auto
  jobs:
    description:
      - Parallelism. With O(state=present) - parallel dump connections for V(directory), and parallel readers for
        the verification of V(directory) and V(custom). Defaults to 2 (measured; each job is one more connection
        and one more busy core on the database server while the dump runs).
      - With O(state=restored), more than 1 restores with C(pg_restore --jobs) (V(directory) and V(custom)), which
        B(cannot run as one transaction); an error then leaves the database partly restored. Defaults to 1 (one
        transaction, all or nothing).
    type: int
  verify:
    description:
      - How the new backup is proven before it gets its final name.
      - V(toc) (fast, weak) - the table of contents has a definition and a data entry for every table of the
        database; size and SHA-256.
      - V(full) - as V(toc), and every data block is read and decompressed (C(pg_restore --file=/dev/null)), so a
        truncated or corrupted archive fails; SHA-256 computed beside that read.
      - V(restore) (strongest, slowest) - as V(toc), and the backup is restored into a scratch database (dropped
        afterwards; needs the CREATEDB privilege) whose row counts must equal the dumped snapshot's.
      - A V(plain) script is read in full for any level (every C(COPY) block complete, pg_dump's trailer present);
        V(restore) also replays it.
    type: str
    choices: [ full, toc, restore ]
    default: full
  keep:
    description:
      - Retention. After the backup is in place, keep the newest O(keep) backups of its series in O(dest) and delete
        older ones with their manifests. The series is every backup whose manifest's name is O(name) without its
        C(_yyyymmdd_HHMMSS) suffix, followed by such a suffix, B(of the same database, host and port) (compared
        exactly - C(localhost) and C(127.0.0.1) are different series).
      - Only what pg_backup itself made is ever deleted - a backup whose manifest C(<name>.pg_backup.json) is a
        regular file with pg_backup's marker, whose C(file) is a plain name of its own name inside O(dest) (no C(/),
        C(.), C(..), not a symbolic link). The current run's backup is never deleted and counts as one of the
        O(keep). A backup another run holds the lock of is skipped (with a warning). V(0) keeps everything.
    type: int
    default: 0
  path:
    description:
      - With O(state=restored), the backup to restore (the file or directory; its manifest C(<name>.pg_backup.json)
        must be beside it), or its manifest.
      - The manifest must carry pg_backup's marker and name a file of its own name beside it. A version 1 manifest
        C(<name>.json) (collection 1.0) is still read for restore when it carries the marker; retention ignores it.
      - A backup whose manifest names another database than O(login_db) is refused unless O(restore_db) or
        O(allow_other_database) is given.
    type: path
  restore_db:
    description:
      - With O(state=restored), restore into this new database (created from template0 with the encoding and locale
        of O(login_db)) instead of O(login_db), leaving O(login_db) untouched. If the restore fails the new database
        is dropped. When it already exists and was restored from this same backup (its comment says so), nothing
        is done; any other existing database is refused.
    type: str
  clean:
    description:
      - With O(state=restored) into the database itself, drop the backup's objects before recreating them
        (C(pg_restore --clean --if-exists)). Objects created after the backup was taken are not dropped.
      - A V(plain) backup always carries its C(DROP ... IF EXISTS) statements; it cannot be restored over the
        existing database with O(clean=false).
    type: bool
    default: true
  history_table:
    description:
      - EF Core migrations history table whose newest MigrationId the manifest records.
    type: str
    default: __EFMigrationsHistory
  history_schema:
    description:
      - Schema of O(history_table); by default the search path, then the one schema that has it.
    type: str
  lock_wait_timeout:
    description:
      - How long to wait for a lock before failing, as a duration (C(30s), C(500ms), C(2min), C(1h); a bare number
        is seconds).
      - One backup name, one writer - every run takes the lock C(.<name>.pg_backup.lock) in O(dest) (C(flock)); a
        second run with the same name waits up to this long for the first, then fails naming the holder. Never two
        results for one file. O(state=restored) takes the lock of the backup it reads, so retention of another run
        cannot delete it meanwhile.
      - Also passed to C(pg_dump --lock-wait-timeout) for the shared table locks it takes (a table held in ACCESS
        EXCLUSIVE mode by a migration makes the backup fail instead of waiting forever).
    type: str
    default: 30s
  allow_other_database:
    description:
      - With O(state=restored) into O(login_db) itself, accept a backup whose manifest names another database and
        replace O(login_db) with it. By default such a restore is refused (restore it into a new database with
        O(restore_db) instead).
    type: bool
    default: false
  terminate_sessions:
    description:
      - With O(state=restored) into an existing database, other sessions connected to it make the module refuse
        (their writes would be lost, their locks would block the restore); it names them (pid, user,
        application_name, client address).
      - V(true) terminates them (C(pg_terminate_backend)) before restoring, and says so in a warning and in
        RV(terminated_sessions). The application should be stopped first, or it reconnects.
    type: bool
    default: false
  bin_dir:
    description:
      - Directory of C(pg_dump), C(pg_restore) and C(psql), searched before C(PATH) (for example
        C(/usr/lib/postgresql/16/bin) when the server is newer than the default client).
    type: path
notes:
  - C(pg_dump) must be at least as new as the server; the module checks this before dumping.
  - Restoring with O(jobs) greater than 1 is not one transaction (PostgreSQL's parallel restore cannot be).
  - The application should be stopped during O(state=restored) into the database itself; C(--clean) waits for the
    locks of the tables it drops.
  - "Restoring a C(<name>.dump.zst) backup by hand (it is a custom-format archive compressed by the C(zstd) tool):
    C(zstd -dc NAME.dump.zst | pg_restore --single-transaction --exit-on-error --dbname=DB); to list it,
    C(zstd -dc NAME.dump.zst | pg_restore --list). C(pg_restore) reads it from the pipe with one job only;
    for a parallel restore, decompress it first (C(zstd -d NAME.dump.zst -o NAME.dump)) and use C(pg_restore --jobs)."
  - The manifest records the compression (C(compression), for example C(zstd:1)) and C(container) (C(zstd) for a
    streamed backup); its SHA-256 is of the compressed file.
seealso:
  - module: almafrica.rollback.ef_migration_state
'''

EXAMPLES = r'''
- name: Back up before rolling back, keep the 5 newest backups of this database
  almafrica.rollback.pg_backup:
    login_host: db.internal
    login_db: almafrica
    login_user: almafrica_backup
    login_password: "{{ vault_db_password }}"
    dest: /var/backups/almafrica
    keep: 5
  register: backup

- name: An idempotent backup for this rollback (a rerun verifies the checksum and dumps nothing)
  almafrica.rollback.pg_backup:
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    dest: /var/backups/almafrica
    name: "before_{{ target }}"
    format: custom
    verify: restore

- name: Restore the backup into a new database to inspect it, the live one untouched
  almafrica.rollback.pg_backup:
    state: restored
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    path: "{{ backup.path }}"
    restore_db: almafrica_restored

- name: Put the database back as it was when the backup was taken (stops on the first error, all or nothing)
  almafrica.rollback.pg_backup:
    state: restored
    login_db: almafrica
    login_password: "{{ vault_db_password }}"
    path: /var/backups/almafrica/before_20260201120000_InitialCreate
'''

RETURN = r'''
path:
  description: The backup (file or directory); with O(state=restored), the backup restored.
  returned: always
  type: str
  sample: /var/backups/almafrica/backup_before_rollback_almafrica_20260301_101500
manifest:
  description: Path of the backup's JSON manifest.
  returned: always
  type: str
  sample: /var/backups/almafrica/backup_before_rollback_almafrica_20260301_101500.json
format:
  description: Archive format of the backup.
  returned: success
  type: str
  sample: custom
compression:
  description: Compression of the backup, in pg_dump 16's spelling (C(none), C(gzip:1), C(zstd:1), C(lz4:1)).
  returned: success
  type: str
  sample: zstd:1
container:
  description: C(zstd) when the custom archive was streamed through the C(zstd) tool (C(<name>.dump.zst)), else null.
  returned: success
  type: str
  sample: zstd
restore_jobs:
  description: Jobs C(pg_restore) ran with (1 is one transaction; always 1 for a zstd stream, read from a pipe).
  returned: with O(state=restored)
  type: int
  sample: 1
size:
  description: Bytes of the backup (all its files).
  returned: success, except in check mode for a new backup
  type: int
  sample: 318767104
sha256:
  description: SHA-256 of the backup file; for a directory, of its C(sha256sum)-style listing of every file's SHA-256.
  returned: success, except in check mode for a new backup
  type: str
  sample: 9f2c4be7a1d0c3f55e8e1b1f2a4c6d8e0b2d4f6a8c0e2f4a6b8d0f2e4c6a8b0d
toc_entries:
  description: Entries of the archive's table of contents (for a plain script, of its object comments).
  returned: success, except in check mode for a new backup
  type: int
  sample: 57
tables:
  description: Tables in the dumped snapshot.
  returned: success
  type: int
  sample: 5
ef_migration:
  description: Newest EF Core migration applied when the backup was taken (null without a history table).
  returned: success
  type: str
  sample: 20260310140000_WidenOrderAmount
verify:
  description: Verification level the backup passed.
  returned: with O(state=present)
  type: str
  sample: full
duration:
  description: Seconds the module took.
  returned: always
  type: float
  sample: 8.71
timings:
  description: Seconds spent dumping (C(pg_dump)) and verifying (reading back, checksumming) a new backup.
  returned: when a new backup was made
  type: dict
  sample: {dump: 6.52, verify: 1.87}
pg_dump_version:
  description: Version of the C(pg_dump) used (or recorded in the manifest).
  returned: success
  type: str
  sample: "15.18"
server_version:
  description: Version of the PostgreSQL server.
  returned: success
  type: str
  sample: "15.18"
deleted:
  description: Backups deleted by retention (O(keep)), or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [/var/backups/almafrica/backup_before_rollback_almafrica_20260201_090000]
sessions:
  description: Other sessions that were connected to the target database when O(state=restored) checked it.
  returned: with O(state=restored) into an existing database
  type: list
  elements: dict
  sample: [{pid: 4242, user: almafrica, application_name: Almafrica.Api, client_addr: 10.0.0.5, state: idle}]
terminated_sessions:
  description: PIDs of the sessions terminated before restoring (O(terminate_sessions=true)).
  returned: when sessions were terminated
  type: list
  elements: int
  sample: [4242]
restored_to:
  description: Database the backup was (or would be) restored into.
  returned: with O(state=restored)
  type: str
  sample: almafrica_restored
'''


import os
import signal
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact
from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import (
    login_secrets, postgres_common_argument_spec)
from ansible_collections.almafrica.rollback.plugins.module_utils.backup import plan as bk
from ansible_collections.almafrica.rollback.plugins.module_utils.backup import archive as ba
from ansible_collections.almafrica.rollback.plugins.module_utils.backup.task import BackupTask


class BackupModule(AnsibleModule):
    """AnsibleModule whose result keeps its own ``size`` and ``state``.

    AnsibleModule stats any returned ``path`` and overwrites ``size`` (and ``state``) with it: a directory backup
    would report 4096 bytes. Our ``size`` is the backup's, all files included.
    """

    def add_path_info(self, kwargs):
        return kwargs


def _interrupt(signum, _frame):
    raise ba.Interrupted("interrupted by signal %s" % signal.Signals(signum).name)


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        state=dict(type="str", default="present", choices=["present", "restored"]),
        dest=dict(type="path"),
        name=dict(type="str"),
        format=dict(type="str", choices=list(bk.FORMATS)),
        compress=dict(type="raw", default="auto"),
        jobs=dict(type="int"),
        verify=dict(type="str", default="full", choices=list(bk.VERIFY_LEVELS)),
        keep=dict(type="int", default=0),
        path=dict(type="path"),
        restore_db=dict(type="str"),
        clean=dict(type="bool", default=True),
        history_table=dict(type="str", default="__EFMigrationsHistory"),
        history_schema=dict(type="str"),
        lock_wait_timeout=dict(type="str", default="30s"),
        allow_other_database=dict(type="bool", default=False),
        terminate_sessions=dict(type="bool", default=False),
        bin_dir=dict(type="path"),
    )
    module = BackupModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["dest"]), ("state", "restored", ["path"])],
    )
    p = module.params
    result = dict(changed=False, state=p["state"], path=None, manifest=None, deleted=[])
    try:
        bk.parse_compress(p["compress"])
    except bk.BackupError as exc:
        module.fail_json(msg=str(exc), **result)
    for option, low, high in (("jobs", 1, 64), ("keep", 0, None)):
        if p[option] is not None and (p[option] < low or (high is not None and p[option] > high)):
            module.fail_json(msg="%s must be between %d and %s, not %d." % (option, low, high or "any", p[option]),
                             **result)
    clock = time.monotonic()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    old_umask = os.umask(0o077)  # every file the tools and we create is 0600 from the first byte
    run = None
    try:
        try:
            run = BackupTask(module, result)
            if p["state"] == "present":
                run.present()
            else:
                run.restored()
        except (bk.BackupError, ba.Interrupted) as exc:
            result["duration"] = round(time.monotonic() - clock, 3)
            module.fail_json(msg=redact(str(exc), login_secrets(p)), **result)
        except OSError as exc:
            result["duration"] = round(time.monotonic() - clock, 3)
            module.fail_json(msg=redact("%s: %s" % (type(exc).__name__, exc), login_secrets(p)), **result)
        except Exception as exc:  # pylint: disable=broad-except
            result["duration"] = round(time.monotonic() - clock, 3)
            module.fail_json(msg=redact("Unexpected error: %s" % exc, login_secrets(p)),
                             exception=redact(traceback.format_exc(), login_secrets(p)), **result)
        result["duration"] = round(time.monotonic() - clock, 3)
    finally:
        # also runs when fail_json exits (SystemExit): no child, temporary file or password file outlives the run
        if run:
            run.cleanup()
        os.umask(old_umask)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
