# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of ``pg_backup``: names, pg_dump/pg_restore argv, TOC checks, manifests, retention.

Nothing here runs a process or touches PostgreSQL; ``backup.archive`` does, with these pieces.
"""
from __future__ import annotations

import hashlib
import re

FORMATS = ("custom", "directory", "tar", "plain")
VERIFY_LEVELS = ("full", "toc", "restore")
EXTENSIONS = {"custom": ".dump", "directory": "", "tar": ".tar", "plain": ".sql"}
MANIFEST_TOOL = "almafrica.rollback.pg_backup"
MANIFEST_VERSION = 2
# Manifests are ``<name>.pg_backup.json`` (a name no user file has); version 1 wrote ``<name>.json``, which is read
# for restore only, and only when it carries our marker.
MANIFEST_SUFFIX = ".pg_backup.json"
LEGACY_MANIFEST_SUFFIX = ".json"
LOCK_SUFFIX = ".pg_backup.lock"
# Every file name a backup can have after its stem (a directory backup is the stem itself).
BACKUP_SUFFIXES = ("", ".dump", ".dump.zst", ".tar", ".sql", ".sql.gz")
# Compression (pg_dump 16's spelling). pg_dump 16 writes zstd and lz4 itself; with pg_dump <= 15 zstd is had by
# streaming the uncompressed custom format through the zstd tool into ``<name>.dump.zst``.
COMPRESSION_LEVELS = {"gzip": (1, 9), "zstd": (1, 19), "lz4": (1, 12)}
AUTO_ZSTD_LEVEL = 1
FALLBACK_GZIP_LEVEL = 1
NATIVE_ZSTD_MAJOR = 16
ZSTD_PACKAGE = "zstd"
DEFAULT_PREFIX = "backup_before_rollback_"
TIMESTAMP_FORMAT = "%Y%m%d_%H%M%S"
_TIMESTAMP_SUFFIX = re.compile(r"_\d{8}_\d{6}$")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


class BackupError(Exception):
    """A backup could not be made, verified, found or restored; the message says what and why."""


# -- names --------------------------------------------------------------------------------------------

def default_name(dbname, now):
    """``backup_before_rollback_<db>_<UTC yyyymmdd_HHMMSS>``, the database name made safe for a file name."""
    return "%s%s_%s" % (DEFAULT_PREFIX, _UNSAFE_NAME_CHARS.sub("_", dbname), now.strftime(TIMESTAMP_FORMAT))


def check_name(name):
    """Refuse names that would escape ``dest``, hide the backup or pass for one of our own files; returns the name."""
    if not name or "/" in name or "\0" in name or name.startswith(".") or name in ("..",) \
            or name.endswith((MANIFEST_SUFFIX, LOCK_SUFFIX, LEGACY_MANIFEST_SUFFIX)) or len(name) > 200:
        raise BackupError("Invalid backup name %r: a file stem of at most 200 characters, without '/', not starting "
                          "with '.' and not ending in .json or .pg_backup.lock." % (name,))
    return name


def backup_filename(name, fmt, compress):
    """File (or directory) name of a backup: ``<name>.dump`` (``.dump.zst`` when streamed through zstd), ``.tar``,
    ``.sql`` / ``.sql.gz``, or ``<name>/``. ``compress``: a Compression, or a gzip level (0 = none)."""
    if not isinstance(compress, Compression):
        compress = Compression("gzip", compress) if compress else Compression("none", None)
    ext = EXTENSIONS[fmt]
    if fmt == "plain" and compress.method == "gzip":
        ext += ".gz"
    if fmt == "custom" and compress.stream:
        ext += ".zst"
    return name + ext


def manifest_filename(name):
    return name + MANIFEST_SUFFIX


def legacy_manifest_filename(name):
    return name + LEGACY_MANIFEST_SUFFIX


def lock_filename(name):
    """The lock of one backup name in dest: hidden, and named like none of the backups."""
    return "." + name + LOCK_SUFFIX


def is_our_manifest(data):
    """True for a manifest pg_backup wrote (our marker and a format version we know)."""
    return isinstance(data, dict) and data.get("tool") == MANIFEST_TOOL \
        and data.get("manifest_version") in (1, MANIFEST_VERSION) and isinstance(data.get("name"), str)


def plain_member(filename, name):
    """True when ``filename`` is a backup file name of stem ``name``: a plain name in dest, nothing else.

    Refuses ``/``, ``.``, ``..``, empty names and anything that is not ``name`` plus one of our extensions, so a
    manifest can never point retention or restore outside its directory or at another file.
    """
    if not isinstance(filename, str) or not isinstance(name, str) or not name:
        return False
    if "/" in filename or "\0" in filename or filename in ("", ".", "..") or filename.startswith("."):
        return False
    return any(filename == name + suffix for suffix in BACKUP_SUFFIXES)


def normalise_origin(database, host, port):
    """(database, host, port) of a backup's source, compared exactly: ``localhost`` and ``127.0.0.1`` are
    different servers as far as we can tell, so they are different series."""
    host = (host or "").strip()
    host = host.rstrip("/") if host.startswith("/") else host.lower().rstrip(".")
    try:
        port = int(port) if port not in (None, "") else 5432
    except (TypeError, ValueError):
        port = None
    return (database, host or "localhost", port)


def series_prefix(name):
    """The stem prefix shared by a series of backups: the name without its ``_yyyymmdd_HHMMSS`` suffix."""
    return _TIMESTAMP_SUFFIX.sub("", name)


def in_series(name, prefix):
    """True for ``prefix`` itself and ``prefix_<yyyymmdd_HHMMSS>``."""
    return name == prefix or (name.startswith(prefix) and _TIMESTAMP_SUFFIX.fullmatch(name[len(prefix):]) is not None)


def retention_candidates(manifests, prefix, origin, current_file):
    """The manifests retention may act on: ours, of the series ``prefix``, of the same ``origin``
    (``normalise_origin``), naming a plain file of their own name, and not the current run's backup."""
    out = []
    for m in manifests:
        if not is_our_manifest(m) or not in_series(m["name"], prefix):
            continue
        if normalise_origin(m.get("database"), m.get("host"), m.get("port")) != origin:
            continue
        if not plain_member(m.get("file"), m["name"]) or m.get("file") == current_file:
            continue
        out.append(m)
    return out


def expired_backups(manifests, prefix, keep, origin=None, current_file=None, current_counts=True):
    """Manifests of the series ``prefix`` beyond the ``keep`` newest (newest by ``finished``, then name).

    ``keep`` 0 keeps everything. Only manifests ``retention_candidates`` accepts count: nothing else is ever
    deleted, and never the current run's backup, which counts as the newest when ``current_counts``.
    ``origin`` None takes the origin of nothing: only for tests of the ordering.
    """
    if not keep:
        return []
    if origin is None:
        series = [m for m in manifests if is_our_manifest(m) and in_series(m["name"], prefix)
                  and plain_member(m.get("file"), m["name"]) and m.get("file") != current_file]
    else:
        series = retention_candidates(manifests, prefix, origin, current_file)
    series.sort(key=lambda m: (str(m.get("finished", "")), m["name"]), reverse=True)
    return series[keep - 1 if current_counts else keep:]


# -- compression ------------------------------------------------------------------------------------------

class Compression(tuple):
    """(method, level, stream): ``stream`` True when the zstd tool compresses pg_dump's uncompressed output."""

    def __new__(cls, method, level, stream=False):
        return tuple.__new__(cls, (method, level, stream))

    method = property(lambda self: self[0])
    level = property(lambda self: self[1])
    stream = property(lambda self: self[2])

    @property
    def spec(self):
        return "none" if self.method == "none" else "%s:%d" % (self.method, self.level)


def parse_compress(value):
    """The ``compress`` option -> ``(method, level)``: ``auto``, ``none``, a bare gzip level ``0``-``9``,
    ``gzip``, ``zstd``, ``lz4`` with an optional ``:level``. ``("auto", None)`` for auto."""
    text = str(value if value is not None else "auto").strip().lower()
    if text == "auto":
        return ("auto", None)
    if text in ("none", "0"):
        return ("none", None)
    if re.fullmatch(r"\d+", text):
        method, level = "gzip", text
    else:
        m = re.fullmatch(r"(gzip|zstd|lz4)(?::(\d+))?", text)
        if not m:
            raise BackupError("compress %r is not one of auto, none, a gzip level 0-9, gzip:N, zstd:N or lz4:N."
                              % (value,))
        method, level = m.group(1), m.group(2)
    low, high = COMPRESSION_LEVELS[method]
    level = int(level) if level is not None else (AUTO_ZSTD_LEVEL if method == "zstd" else low)
    if not low <= level <= high:
        raise BackupError("compress %r: the %s level must be between %d and %d." % (value, method, low, high))
    return (method, level)


def plan_compression(value, fmt, pg_dump_major, have_zstd):
    """Choose the format and compression for a new backup; returns (format, Compression, warning or None).

    ``fmt`` None is the default format. ``auto``: zstd when it can be used (pg_dump 16+: natively, directory format
    kept; pg_dump <= 15: the custom format streamed through the zstd tool), else gzip 1 (the former default), with a
    warning naming the package when only the missing zstd tool is in the way. An explicit method that cannot be had
    fails, saying why and what would work.
    """
    method, level = parse_compress(value)
    native = pg_dump_major >= NATIVE_ZSTD_MAJOR
    if fmt == "tar":  # pg_dump cannot compress tar archives
        if method in ("zstd", "lz4"):
            raise BackupError("format tar cannot be compressed (pg_dump writes it uncompressed); use format custom "
                              "or directory for %s." % method)
        return "tar", Compression("none", None), None
    if method == "auto":
        if fmt == "plain":
            return "plain", Compression("gzip", FALLBACK_GZIP_LEVEL), None
        if native:
            return fmt or "directory", Compression("zstd", AUTO_ZSTD_LEVEL), None
        if fmt in (None, "custom") and have_zstd:
            return "custom", Compression("zstd", AUTO_ZSTD_LEVEL, stream=True), None
        warning = None
        if fmt in (None, "custom"):
            warning = ("compress auto: the zstd tool was not found (install the Debian package %s); pg_dump %d has no "
                       "zstd of its own, so this backup uses gzip %d." % (ZSTD_PACKAGE, pg_dump_major,
                                                                          FALLBACK_GZIP_LEVEL))
        return fmt or "directory", Compression("gzip", FALLBACK_GZIP_LEVEL), warning
    if method in ("none", "gzip"):
        return fmt or "directory", Compression(method, level), None
    if fmt == "plain":
        raise BackupError("compress %s: a plain (SQL script) backup is compressed with gzip only here; use format "
                          "custom or directory for %s." % (value, method))
    if native:
        return fmt or "directory", Compression(method, level), None
    if method == "lz4":
        raise BackupError("compress %s needs pg_dump %d or newer (this pg_dump is %d); use zstd:N (streamed through "
                          "the zstd tool) or gzip:N." % (value, NATIVE_ZSTD_MAJOR, pg_dump_major))
    if fmt not in (None, "custom"):
        raise BackupError("compress %s with pg_dump %d works only with format custom (the custom archive is streamed "
                          "through the zstd tool); pg_dump %d+ writes zstd into %s archives itself."
                          % (value, pg_dump_major, NATIVE_ZSTD_MAJOR, fmt))
    if not have_zstd:
        raise BackupError("compress %s with pg_dump %d needs the zstd tool, which was not found in bin_dir or PATH: "
                          "install the Debian package %s, or choose compress auto or gzip:N."
                          % (value, pg_dump_major, ZSTD_PACKAGE))
    return "custom", Compression("zstd", level, stream=True), None


def zstd_compress_argv(zstd, level, threads):
    """zstd reading stdin, writing stdout; the frame carries a checksum (zstd's default), so corruption is caught."""
    return [zstd, "-q", "-c", "--no-progress", "-%d" % level, "-T%d" % max(1, threads)]


def zstd_decompress_argv(zstd, path):
    return [zstd, "-q", "-d", "-c", "--no-progress", "--", path]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text):
    """``30s``, ``500ms``, ``2min``, ``1h`` or a bare number of seconds -> seconds (float > 0)."""
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise BackupError("lock_wait_timeout %r is not a positive duration such as 30s, 500ms or 2min." % (text,))
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


# -- argv ---------------------------------------------------------------------------------------------

def libpq_conninfo(**params):
    """A libpq conninfo string (``dbname='x'``): values quoted, so any database name is taken literally."""
    def quote(value):
        return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "\\'")
    return " ".join("%s=%s" % (k, quote(v)) for k, v in params.items())


def passfile_line(password):
    """A ``.pgpass`` line matching any host, port, database and user (the file serves one run only)."""
    return "*:*:*:*:%s\n" % password.replace("\\", "\\\\").replace(":", "\\:")


def dump_argv(pg_dump, fmt, path, compress, jobs=1, snapshot=None, lock_wait_timeout=None):
    """pg_dump's argv. Connection settings (and the password file) come from the environment.

    ``compress``: a Compression or a gzip level. Streamed zstd: the custom format, uncompressed, to stdout
    (``path`` None). Native zstd/lz4 (pg_dump 16+): ``--compress=zstd:3``. gzip keeps the spelling every
    pg_dump reads (``--compress=N``).
    """
    if not isinstance(compress, Compression):
        compress = Compression("gzip", compress) if compress else Compression("none", None)
    argv = [pg_dump, "--no-password", "--format=%s" % fmt]
    if path is not None:
        argv.append("--file=%s" % path)
    if fmt != "tar":  # pg_dump cannot compress tar archives
        if compress.method in ("none",) or compress.stream:
            argv.append("--compress=0")
        elif compress.method == "gzip":
            argv.append("--compress=%d" % compress.level)
        else:
            argv.append("--compress=%s:%d" % (compress.method, compress.level))
    if fmt == "directory" and jobs > 1:
        argv.append("--jobs=%d" % jobs)
    if fmt == "plain":
        # so that the script, like pg_restore --clean, can be replayed over the existing database
        argv += ["--clean", "--if-exists"]
    if snapshot:
        argv.append("--snapshot=%s" % snapshot)
    if lock_wait_timeout:  # seconds; pg_dump takes milliseconds
        argv.append("--lock-wait-timeout=%d" % max(1, round(lock_wait_timeout * 1000)))
    return argv


def restore_argv(pg_restore, path, dbname, clean, jobs=1):
    """pg_restore's argv: stop on the first error; one transaction unless parallel (``jobs`` > 1).

    ``path`` None: the archive comes on stdin (a zstd stream decompressed), which only one job can read.
    """
    argv = [pg_restore, "--no-password", "--exit-on-error", "--dbname=%s" % libpq_conninfo(dbname=dbname)]
    argv.append("--jobs=%d" % jobs if jobs > 1 else "--single-transaction")
    if clean:
        argv += ["--clean", "--if-exists"]
    if path is not None:
        argv.append(path)
    return argv


def psql_restore_argv(psql, dbname):
    """psql's argv to replay a plain-format backup (read from stdin) in one transaction, stopping on error."""
    return [psql, "--no-password", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
            "--output=/dev/null", "--dbname=%s" % libpq_conninfo(dbname=dbname), "--file=-"]


def pg_tool_major(version_output):
    """``pg_dump (PostgreSQL) 15.18 (Debian ...)`` -> (15, "15.18")."""
    m = re.search(r"\(PostgreSQL\)\s+(\d+)(\S*)", version_output or "")
    if not m:
        raise BackupError("Cannot tell the version of %r." % (version_output or "").strip())
    return int(m.group(1)), m.group(1) + m.group(2)


# -- table of contents ----------------------------------------------------------------------------------

_TOC_LINE = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")


def parse_toc(text):
    """``pg_restore --list`` output -> ``[(line, tableoid, oid, rest)]`` (comment lines dropped)."""
    entries = []
    for line in text.splitlines():
        m = _TOC_LINE.match(line)
        if m:
            entries.append((line, int(m.group(2)), int(m.group(3)), m.group(4)))
    return entries


def _desc_is(rest, desc):
    return rest.startswith(desc + " ")


def table_data_oids(entries):
    """OIDs of the tables that have a TABLE DATA entry (pg_dump gives those entries the table's OID)."""
    return {oid for _line, _tableoid, oid, rest in entries if _desc_is(rest, "TABLE DATA")}


def table_oids(entries):
    return {oid for _line, _tableoid, oid, rest in entries
            if _desc_is(rest, "TABLE") and not (_desc_is(rest, "TABLE DATA") or _desc_is(rest, "TABLE ATTACH"))}


def missing_from_toc(entries, tables):
    """Tables of the database the archive lacks: ``[qualified name]``.

    ``tables``: ``[{"oid", "schema", "name", "has_data"}]`` read in the dump's snapshot. Every table needs a TABLE
    entry; every table with storage (not partitioned parents) needs a TABLE DATA entry.
    """
    defined, with_data = table_oids(entries), table_data_oids(entries)
    missing = []
    for t in tables:
        if t["oid"] not in defined:
            missing.append("%s.%s (definition)" % (t["schema"], t["name"]))
        elif t["has_data"] and t["oid"] not in with_data:
            missing.append("%s.%s (data)" % (t["schema"], t["name"]))
    return missing


def split_toc_for_readers(entries, sizes, readers):
    """Split a TOC into ``readers`` use-lists that together read every entry once, balancing the table data.

    TABLE DATA entries go, largest first (``sizes``: table oid -> bytes), to the least loaded list; every other
    entry goes to the first list. Each list keeps the archive's order (pg_restore follows a use-list's order, and
    reads a file front to back). Returns a list of lists of TOC lines (fewer when there is little data).
    """
    readers = max(1, readers)
    lists = [[] for _ignored in range(readers)]
    load = [0] * readers
    data = [e for e in entries if _desc_is(e[3], "TABLE DATA")]
    data.sort(key=lambda e: sizes.get(e[2], 0), reverse=True)
    for entry in data:
        i = load.index(min(load))
        lists[i].append(entry[0])
        load[i] += sizes.get(entry[2], 0) or 1
    lists[0].extend(e[0] for e in entries if not _desc_is(e[3], "TABLE DATA"))
    position = {e[0]: i for i, e in enumerate(entries)}
    return [sorted(lst, key=position.get) for lst in lists if lst]


# -- plain format -------------------------------------------------------------------------------------

PLAIN_TRAILER = "-- PostgreSQL database dump complete"
_COPY_START = re.compile(r'^COPY (.+?) (?:\(.*\) )?FROM stdin;$')
_IDENT = re.compile(r'"((?:[^"]|"")*)"|([^".\s]+)')


def parse_qualified_name(text):
    """``public."Farmers"`` -> ("public", "Farmers"), as PostgreSQL reads it (bare names folded to lower case)."""
    parts, pos = [], 0
    while pos < len(text):
        m = _IDENT.match(text, pos)
        if not m:
            raise ValueError("not a qualified name: %r" % text)
        parts.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2).lower())
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise ValueError("not a qualified name: %r" % text)
            pos += 1
    if len(parts) != 2:
        raise ValueError("not a schema-qualified name: %r" % text)
    return tuple(parts)


class PlainDumpScanner:
    """Reads a plain-format dump line by line: which tables have data, and whether the dump is complete.

    A plain dump is complete when every ``COPY ... FROM stdin;`` block ends with ``\\.`` and pg_dump's
    trailer comment is present (it writes it last).
    """

    def __init__(self):
        self.copied = set()
        self.entries = 0
        self.complete = False
        self._in_copy = None
        self.error = None

    def feed(self, line):
        line = line.rstrip("\n")
        if self._in_copy is not None:
            if line == "\\.":
                self.copied.add(self._in_copy)
                self._in_copy = None
            return
        if line.startswith("-- Name: ") or line.startswith("-- Data for Name: "):
            self.entries += 1
        m = _COPY_START.match(line)
        if m:
            try:
                self._in_copy = parse_qualified_name(m.group(1))
            except ValueError as exc:
                self.error = str(exc)
                self._in_copy = ("?", m.group(1))
        elif line == PLAIN_TRAILER:
            self.complete = True

    def missing(self, tables):
        """Like missing_from_toc, for a plain dump (matched by name: a script has no OIDs)."""
        problems = []
        if self._in_copy is not None:
            problems.append("%s.%s (data cut off)" % self._in_copy)
        if not self.complete:
            problems.append("end of dump (the trailer %r is missing: the file is truncated)" % PLAIN_TRAILER)
        for t in tables:
            if t["has_data"] and (t["schema"], t["name"]) not in self.copied:
                problems.append("%s.%s (data)" % (t["schema"], t["name"]))
        return problems


# -- checksums and manifests ------------------------------------------------------------------------------

def combined_sha256(file_digests):
    """One digest for a directory backup: SHA-256 of its ``sha256sum``-style listing, sorted by file name."""
    listing = "".join("%s  %s\n" % (file_digests[name], name) for name in sorted(file_digests))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def checksum_mismatch(manifest, size, sha256, files=None):
    """What differs between a backup on disk and its manifest, or None when it matches."""
    if manifest.get("tool") != MANIFEST_TOOL:
        return "the manifest was not written by %s" % MANIFEST_TOOL
    if files is not None and manifest.get("files") is not None:
        expected = manifest["files"]
        extra = sorted(set(files) - set(expected))
        lost = sorted(set(expected) - set(files))
        changed = sorted(n for n in set(files) & set(expected) if files[n] != expected[n])
        parts = []
        if lost:
            parts.append("missing files: %s" % ", ".join(lost))
        if extra:
            parts.append("unexpected files: %s" % ", ".join(extra))
        if changed:
            parts.append("changed files: %s" % ", ".join(changed))
        if parts:
            return "; ".join(parts)
    if manifest.get("size") != size:
        return "size %s bytes, the manifest says %s" % (size, manifest.get("size"))
    if manifest.get("sha256") != sha256:
        return "SHA-256 %s, the manifest says %s" % (sha256, manifest.get("sha256"))
    return None


MANIFEST_KEYS = ("name", "file", "format", "compress", "compression", "container", "jobs", "database", "host", "port", "user", "ef_migration",
                 "ef_history_table", "pg_dump_version", "server_version", "size", "sha256", "files", "toc_entries",
                 "tables", "verify", "snapshot", "started", "finished", "duration")


def build_manifest(**fields):
    """The JSON manifest written beside a backup (no password, no absolute path: it travels with the backup)."""
    unknown = set(fields) - set(MANIFEST_KEYS)
    if unknown:
        raise ValueError("unknown manifest fields: %s" % ", ".join(sorted(unknown)))
    manifest = {"tool": MANIFEST_TOOL, "manifest_version": MANIFEST_VERSION}
    manifest.update((k, fields.get(k)) for k in MANIFEST_KEYS)
    return manifest
