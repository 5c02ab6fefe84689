# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup files and the PostgreSQL client tools that write, read and restore them.

- Tools run as argv lists; the password reaches them only through a 0600 password file named by PGPASSFILE
  (not even the environment), so it is in no argv and no ``/proc/<pid>/environ``.
- A backup is written under a temporary name in its final directory, verified, then renamed: a failed, killed
  or interrupted run leaves nothing under the final name. Temporary names carry host and pid, so a later run
  removes what a killed run (SIGKILL: no chance to clean up) left behind.
- Verification reads every data block with ``pg_restore --file=/dev/null`` (split across parallel readers by
  table) while the SHA-256 of every file is computed in a thread beside it.
"""
from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

from ansible_collections.almafrica.rollback.plugins.module_utils.backup import plan as bk

CHUNK = 1 << 20
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"
_TEMP_SUFFIX = ".pg_backup-tmp"
_TEMP_NAME = re.compile(r"^\.(?P<file>.+)\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)" + re.escape(_TEMP_SUFFIX) + "$")


class Interrupted(Exception):
    """The module got SIGTERM/SIGINT/SIGHUP (Ansible timeout, Ctrl-C): children are stopped, temp files removed."""


class ToolRunner:
    """Starts the client tools with the right environment and stops them all if the module is interrupted."""

    def __init__(self, env, workdir):
        self.env = env
        self.workdir = workdir
        self._children = []
        self._lock = threading.Lock()

    def start(self, argv, stdin=None, stdout=None):
        err = tempfile.TemporaryFile(dir=self.workdir)
        proc = subprocess.Popen(argv, env=self.env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=err,
                                close_fds=True)
        proc.err_file = err
        with self._lock:
            self._children.append(proc)
        return proc

    def finish(self, proc):
        """Wait for ``proc``; returns (returncode, stderr text)."""
        rc = proc.wait()
        proc.err_file.seek(0)
        text = proc.err_file.read().decode("utf-8", "replace")
        proc.err_file.close()
        with self._lock:
            self._children.remove(proc)
        return rc, text

    def run(self, argv):
        return self.finish(self.start(argv))

    def pipeline(self, producer, consumer, stdout=None, keep_output=False):
        """``producer | consumer``; returns [(tool, rc, stderr)] of both, and the consumer's stdout when
        ``keep_output``. Either failing is seen: the consumer gets EOF when the producer dies, the producer
        EPIPE/SIGPIPE when the consumer does."""
        first = self.start(producer, stdout=subprocess.PIPE)
        try:
            second = self.start(consumer, stdin=first.stdout,
                                stdout=subprocess.PIPE if keep_output else stdout)
        finally:
            first.stdout.close()  # only the consumer holds the read end now
        output = second.stdout.read().decode("utf-8", "replace") if keep_output else None
        if keep_output:
            second.stdout.close()
        rc2, err2 = self.finish(second)
        rc1, err1 = self.finish(first)
        outcome = [(os.path.basename(producer[0]), rc1, err1), (os.path.basename(consumer[0]), rc2, err2)]
        return (outcome, output) if keep_output else outcome

    def output(self, argv):
        """Run ``argv`` and return (returncode, stdout, stderr)."""
        proc = subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")

    def stop_all(self):
        with self._lock:
            children = list(self._children)
        for proc in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def pipeline_problems(outcome):
    """Failures of a pipeline's processes, each described (empty when all exited 0)."""
    return [describe_exit(tool, rc, err) for tool, rc, err in outcome if rc != 0]


def dump_streamed(runner, dump, compress, tmp):
    """``pg_dump -Fc -Z0 | zstd`` into the new file ``tmp`` (0600, O_EXCL); returns the problems of both."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        outcome = runner.pipeline(dump, compress, stdout=fd)
        if not [1 for _tool, rc, _err in outcome if rc != 0]:
            os.fsync(fd)
    finally:
        os.close(fd)
    return pipeline_problems(outcome)


def describe_exit(tool, rc, stderr):
    if rc < 0:
        how = "was killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name if -rc in signal.valid_signals() else "?")
    else:
        how = "failed (exit %d)" % rc
    detail = stderr.strip()
    return "%s %s%s" % (tool, how, ": " + detail[-2000:] if detail else "")


def tool_env(base_env, libpq, passfile):
    """Environment for a client tool: libpq settings, and the password file instead of any PGPASSWORD."""
    env = dict(base_env)
    env.update((k, v) for k, v in libpq.items() if k != "PGPASSWORD")
    if passfile:
        env.pop("PGPASSWORD", None)
        env["PGPASSFILE"] = passfile
    return env


def write_passfile(directory, password):
    fd, path = tempfile.mkstemp(prefix="pgpass-", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(bk.passfile_line(password))
    return path


# -- files --------------------------------------------------------------------------------------------------

def temp_path(dest, filename):
    return os.path.join(dest, ".%s.%s-%d%s" % (filename, _HOST, os.getpid(), _TEMP_SUFFIX))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(dest):
    """Remove temporary backups of runs on this host that no longer exist (killed with no chance to clean up)."""
    removed = []
    for entry in os.listdir(dest):
        m = _TEMP_NAME.match(entry)
        if m and m.group("host") == _HOST and not _alive(int(m.group("pid"))):
            remove_path(os.path.join(dest, entry))
            removed.append(entry)
    return removed


def remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def restrict_modes(path):
    """0600 for the backup's files, 0700 for a directory backup."""
    if os.path.isdir(path):
        os.chmod(path, 0o700)
        for root, dirs, files in os.walk(path):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o700)
            for f in files:
                os.chmod(os.path.join(root, f), 0o600)
    else:
        os.chmod(path, 0o600)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path, data):
    """Write ``data`` to ``path`` (0600), durably, in one piece: temp file in the same directory, then rename."""
    tmp = temp_path(os.path.dirname(path), os.path.basename(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except BaseException:
        remove_path(tmp)
        raise


def read_own_manifest(path):
    """The manifest at ``path`` when it is a regular file (not a symlink) that pg_backup wrote, else None.

    Raises OSError only for an unreadable file that exists; a foreign or malformed file gives None.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat_is_regular(st):
        return None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(1 << 20)
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    return data if bk.is_our_manifest(data) else None


def stat_is_regular(st):
    return stat.S_ISREG(st.st_mode)


class NameLock:
    """One writer per backup name: ``fcntl.flock`` on ``dest/.<name>.pg_backup.lock``.

    A second run waits up to ``timeout`` seconds, then fails naming the holder. The file is removed on release;
    a waiter that got the lock on a file already removed (its inode is no longer the path's) tries again, so two
    runs never both hold it. The kernel releases a flock when its holder dies, whatever killed it.
    """

    def __init__(self, dest, name):
        self.path = os.path.join(dest, bk.lock_filename(name))
        self.name = name
        self.fd = None

    def _try_once(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed it while we waited: lock the new one
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, ("%s pid %d\n" % (_HOST, os.getpid())).encode())
        self.fd = fd
        return True

    def holder(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                return fh.read(200).strip() or "unknown"
        except OSError:
            return "unknown"

    def acquire(self, timeout):
        deadline = time.monotonic() + max(0.0, timeout)
        while not self._try_once():
            if time.monotonic() >= deadline:
                raise bk.BackupError(
                    "Another pg_backup run (%s) holds the lock of backup %s in %s; waited %s s (lock_wait_timeout). "
                    "Nothing was done: wait for it to finish, or choose another name."
                    % (self.holder(), self.name, os.path.dirname(self.path), _seconds(timeout)))
            time.sleep(0.1)
        return self

    def try_acquire(self):
        return self if self._try_once() else None

    def release(self):
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None


def _seconds(value):
    return ("%.3f" % value).rstrip("0").rstrip(".")


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum(path):
    """(size, sha256, files): ``files`` is ``{relative name: sha256}`` for a directory backup, else None."""
    if not os.path.isdir(path):
        return os.path.getsize(path), sha256_file(path), None
    files, size = {}, 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            files[os.path.relpath(full, path)] = sha256_file(full)
            size += os.path.getsize(full)
    return size, bk.combined_sha256(files), files


class _Background(threading.Thread):
    """Run ``func`` in a thread, keeping its result or exception (hashlib releases the GIL on big buffers)."""

    def __init__(self, func, *args):
        super().__init__(daemon=True)
        self._call = (func, args)
        self.result = self.error = None
        self.start()

    def run(self):
        func, args = self._call
        try:
            self.result = func(*args)
        except BaseException as exc:  # re-raised by get()
            self.error = exc

    def get(self):
        self.join()
        if self.error is not None:
            raise self.error
        return self.result


# -- verification ---------------------------------------------------------------------------------------------

def read_toc(runner, pg_restore, path):
    rc, out, err = runner.output([pg_restore, "--list", path])
    if rc != 0:
        raise bk.BackupError("%s (the archive's table of contents is unreadable)"
                             % describe_exit("pg_restore --list", rc, err))
    return bk.parse_toc(out)


def _directory_sizes(path, entries):
    """Bytes of each table's data file in a directory backup, by table oid (to balance the readers)."""
    sizes = {}
    for line, _tableoid, oid, rest in entries:
        if rest.startswith("TABLE DATA "):
            dump_id = line.split(";", 1)[0]
            for suffix in (".dat.gz", ".dat"):
                full = os.path.join(path, dump_id + suffix)
                if os.path.exists(full):
                    sizes[oid] = os.path.getsize(full)
    return sizes


def verify_archive(runner, pg_restore, path, fmt, level, tables, readers=1, restore_db=None):
    """Verify a custom/directory/tar archive; returns dict(size, sha256, files, toc_entries, problems).

    ``toc``: the table of contents lists every table (definition and data). ``full``: and every data block reads
    back (pg_restore to /dev/null, ``readers`` in parallel for custom and directory). ``restore``: and it restores
    into ``restore_db`` (created empty by the caller; row counts compared by the caller). SHA-256 and size are
    computed beside the reading.
    """
    entries = read_toc(runner, pg_restore, path)
    missing = bk.missing_from_toc(entries, tables)
    problems = ["missing from the archive: %s" % ", ".join(missing)] if missing else []
    hashing = _Background(checksum, path)
    procs = []
    try:
        if level == "full":
            parallel = readers if fmt in ("custom", "directory") else 1
            if fmt == "directory":
                sizes = _directory_sizes(path, entries)
            else:
                sizes = {t["oid"]: t.get("approx_bytes") or 0 for t in tables}
            lists = (bk.split_toc_for_readers(entries, sizes, parallel) if parallel > 1 else None) or [None]
            for i, lines in enumerate(lists):
                argv = [pg_restore, "--file=%s" % os.devnull]
                if lines is not None:
                    list_path = os.path.join(runner.workdir, "toc-%d.list" % i)
                    with open(list_path, "w", encoding="utf-8") as fh:
                        fh.write("\n".join(lines) + "\n")
                    argv.append("--use-list=%s" % list_path)
                procs.append(runner.start(argv + [path]))
        elif level == "restore":
            jobs = readers if fmt in ("custom", "directory") else 1
            procs.append(runner.start(bk.restore_argv(pg_restore, path, restore_db, clean=False, jobs=jobs)))
        for proc in list(procs):
            rc, err = runner.finish(proc)
            procs.remove(proc)
            if rc != 0:
                problems.append(describe_exit("pg_restore", rc, err))
    finally:
        for proc in procs:
            proc.kill()
            runner.finish(proc)
    size, sha, files = hashing.get()
    return dict(size=size, sha256=sha, files=files, toc_entries=len(entries), problems=problems)


def verify_streamed(runner, pg_restore, zstd, path, level, tables, restore_db=None):
    """Verify a zstd-compressed custom archive by streaming it back: ``zstd -dc | pg_restore --list`` (every table
    listed), then for ``full`` ``zstd -dc | pg_restore --file=/dev/null`` (every block decompressed and read; the
    zstd frame checksum checked), for ``restore`` ``zstd -dc | pg_restore --single-transaction`` into
    ``restore_db``; the SHA-256 of the compressed bytes computed beside it. Returns dict like verify_archive."""
    hashing = _Background(checksum, path)
    unzstd = bk.zstd_decompress_argv(zstd, path)
    outcome, listing = runner.pipeline(unzstd, [pg_restore, "--list"], keep_output=True)
    # pg_restore --list stops after the table of contents: zstd may then die of the closed pipe; only
    # pg_restore's status counts here, the full read below checks zstd's.
    lister = outcome[1]
    problems = []
    if lister[1] != 0:
        unreadable = describe_exit("pg_restore --list", lister[1], lister[2])
        problems.append("%s (the archive's table of contents is unreadable)" % unreadable)
        entries = []
    else:
        entries = bk.parse_toc(listing)
        missing = bk.missing_from_toc(entries, tables)
        if missing:
            problems.append("missing from the archive: %s" % ", ".join(missing))
    if not problems and level == "full":
        problems += pipeline_problems(runner.pipeline(unzstd, [pg_restore, "--file=%s" % os.devnull]))
    elif not problems and level == "restore":
        problems += pipeline_problems(runner.pipeline(unzstd, bk.restore_argv(pg_restore, None, restore_db,
                                                                              clean=False)))
    size, sha, files = hashing.get()
    return dict(size=size, sha256=sha, files=files, toc_entries=len(entries), problems=problems)


class _HashingReader(io.RawIOBase):
    """A raw file that hashes what is read from it (plain dumps: one pass for the checksum and the scan)."""

    def __init__(self, fh):
        super().__init__()
        self._fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self):
        return True

    def readinto(self, buf):
        n = self._fh.readinto(buf)
        if n:
            self.digest.update(memoryview(buf)[:n])
            self.size += n
        return n

    def drain(self):
        for chunk in iter(lambda: self._fh.read(CHUNK), b""):
            self.digest.update(chunk)
            self.size += len(chunk)


def verify_plain(path, tables, compressed):
    """Verify a plain (SQL script) dump in one pass: every table's COPY block is complete, the trailer is there."""
    scanner = bk.PlainDumpScanner()
    problems = []
    with open(path, "rb") as raw:
        hashing = _HashingReader(raw)
        stream = io.BufferedReader(hashing, CHUNK)
        if compressed:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        try:
            for line in io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n"):
                scanner.feed(line)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            problems.append("cannot read the script: %s" % exc)
        hashing.drain()
    missing = scanner.missing(tables)
    if missing:
        problems.append("missing from the script: %s" % ", ".join(missing))
    return dict(size=hashing.size, sha256=hashing.digest.hexdigest(), files=None, toc_entries=scanner.entries,
                problems=problems)


def feed_plain(path, compressed, proc):
    """Stream a plain dump (decompressed) into ``proc``'s stdin, in a thread; returns the thread."""
    def pump():
        opener = gzip.open if compressed else open
        try:
            with opener(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    proc.stdin.write(chunk)
        except BrokenPipeError:  # psql stopped on an error: its exit status says why
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
    return _Background(pump)
