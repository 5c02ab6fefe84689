"""pg_backup's pure logic: names, argv, TOC checks, plain-dump scanning, manifests, retention."""
from __future__ import annotations

import datetime
import hashlib

import pytest

from ansible_collections.almafrica.rollback.plugins.module_utils.backup import plan as bk

SECRET = "s3cr:et\\pw'x"

# What `pg_restore --list` prints (PostgreSQL 15), trimmed: a TABLE entry carries (pg_class oid, table oid),
# its TABLE DATA entry (0, table oid).
TOC = """;
; Archive created at 2026-03-01 10:15:00 UTC
;     dbname: almafrica
;     TOC Entries: 9
;
215; 1259 16385 TABLE public __EFMigrationsHistory postgres
216; 1259 16390 TABLE public Farmers postgres
217; 1259 16397 TABLE public Orders postgres
218; 1259 16500 TABLE public measurements postgres
219; 1259 16501 TABLE ATTACH public measurements_2026 postgres
3373; 0 16385 TABLE DATA public __EFMigrationsHistory postgres
3374; 0 16390 TABLE DATA public Farmers postgres
3375; 0 16397 TABLE DATA public Orders postgres
3190; 2606 16402 CONSTRAINT public Orders PK_Orders postgres
"""

TABLES = [
    dict(oid=16385, schema="public", name="__EFMigrationsHistory", has_data=True),
    dict(oid=16390, schema="public", name="Farmers", has_data=True),
    dict(oid=16397, schema="public", name="Orders", has_data=True),
    dict(oid=16500, schema="public", name="measurements", has_data=False),  # partitioned parent: no data of its own
]


# -- names -------------------------------------------------------------------------------------------------

def test_default_name_is_utc_stamped_and_file_safe():
    now = datetime.datetime(2026, 3, 1, 10, 15, 0, tzinfo=datetime.timezone.utc)
    assert bk.default_name("almafrica", now) == "backup_before_rollback_almafrica_20260301_101500"
    assert bk.default_name("my db/../x", now) == "backup_before_rollback_my_db_.._x_20260301_101500"


@pytest.mark.parametrize("name", ["", "a/b", "../x", ".hidden", "x\0y", "..", "x.pg_backup.json", "x.json",
                                  "x.pg_backup.lock", "a" * 201])
def test_names_that_escape_dest_or_hide_are_refused(name):
    with pytest.raises(bk.BackupError, match="Invalid backup name"):
        bk.check_name(name)


def test_file_names_per_format():
    assert bk.backup_filename("b", "custom", 1) == "b.dump"
    assert bk.backup_filename("b", "directory", 1) == "b"
    assert bk.backup_filename("b", "tar", 0) == "b.tar"
    assert bk.backup_filename("b", "plain", 0) == "b.sql"
    assert bk.backup_filename("b", "plain", 6) == "b.sql.gz"
    assert bk.manifest_filename("b") == "b.pg_backup.json"
    assert bk.legacy_manifest_filename("b") == "b.json"
    assert bk.lock_filename("b") == ".b.pg_backup.lock"


def test_series_is_the_name_without_its_timestamp():
    prefix = bk.series_prefix("backup_before_rollback_almafrica_20260301_101500")
    assert prefix == "backup_before_rollback_almafrica"
    assert bk.in_series("backup_before_rollback_almafrica_20260101_000000", prefix)
    assert bk.in_series("backup_before_rollback_almafrica", prefix)
    # another database whose name starts the same is another series
    assert not bk.in_series("backup_before_rollback_almafrica_staging_20260101_000000", prefix)
    assert not bk.in_series("backup_before_rollback_almafrica_2026", prefix)
    assert bk.series_prefix("before_v1.2.0") == "before_v1.2.0"


def _manifest(name, finished, tool=bk.MANIFEST_TOOL, **extra):
    m = {"tool": tool, "manifest_version": bk.MANIFEST_VERSION, "name": name, "file": name + ".dump",
         "finished": finished, "database": "app", "host": "127.0.0.1", "port": 5432}
    m.update(extra)
    return m


def test_retention_keeps_the_newest_of_the_series_only():
    p = "backup_before_rollback_app"
    manifests = [_manifest(p + "_20260101_000000", "2026-01-01T00:00:00Z"),
                 _manifest(p + "_20260103_000000", "2026-01-03T00:00:00Z"),
                 _manifest(p + "_20260102_000000", "2026-01-02T00:00:00Z"),
                 _manifest("backup_before_rollback_other_20251201_000000", "2025-12-01T00:00:00Z"),
                 _manifest(p + "_20251201_000000", "2025-12-01T00:00:00Z", tool="someone-else")]
    expired = bk.expired_backups(manifests, p, keep=2, current_counts=False)
    assert [m["name"] for m in expired] == [p + "_20260101_000000"]
    assert bk.expired_backups(manifests, p, keep=0) == []
    expected = [p + "_20260102_000000", p + "_20260101_000000"]
    assert [m["name"] for m in bk.expired_backups(manifests, p, keep=1, current_counts=False)] == expected
    # the current run's backup is never a candidate and counts as one kept
    origin = bk.normalise_origin("app", "127.0.0.1", 5432)
    current = p + "_20260103_000000.dump"
    expired = bk.expired_backups(manifests, p, keep=2, origin=origin, current_file=current)
    assert [m["name"] for m in expired] == [p + "_20260101_000000"]
    assert current not in [m["file"] for m in bk.expired_backups(manifests, p, 1, origin, current)]


@pytest.mark.parametrize("bad", [
    dict(file="../victim_dir"), dict(file="/abs/path"), dict(file="."), dict(file=".."), dict(file=""),
    dict(file="sub/x.dump"), dict(file="other.dump"), dict(file=None), dict(tool="someone-else"),
    dict(manifest_version=99), dict(database="alma x"), dict(host="localhost"), dict(port=5433),
])
def test_retention_never_acts_on_what_is_not_ours_or_of_another_origin(bad):
    p = "backup_before_rollback_app"
    m = _manifest(p + "_20260101_000000", "2026-01-01T00:00:00Z", **bad)
    origin = bk.normalise_origin("app", "127.0.0.1", "5432")
    assert bk.retention_candidates([m], p, origin, None) == []
    assert bk.expired_backups([m], p, keep=1, origin=origin, current_file="x") == []


def test_origins_are_normalised_but_not_resolved():
    assert bk.normalise_origin("a", "DB.Internal.", "5432") == ("a", "db.internal", 5432)
    assert bk.normalise_origin("a", "", None) == ("a", "localhost", 5432)
    assert bk.normalise_origin("a", "/run/postgresql/", 5432) == ("a", "/run/postgresql", 5432)
    assert bk.normalise_origin("a", "localhost", 5432) != bk.normalise_origin("a", "127.0.0.1", 5432)
    assert bk.normalise_origin("alma x", "h", 1) != bk.normalise_origin("alma_x", "h", 1)


@pytest.mark.parametrize("filename, ok", [
    ("b.dump", True), ("b", True), ("b.sql.gz", True), ("b.tar", True), ("../b.dump", False), ("/b.dump", False),
    (".", False), ("..", False), ("c.dump", False), ("b.dump/..", False), (".b.dump", False), (7, False),
])
def test_a_manifest_may_only_name_a_file_of_its_own_name(filename, ok):
    assert bk.plain_member(filename, "b") is ok


def test_our_manifests_carry_the_marker_and_a_known_version():
    assert bk.is_our_manifest(bk.build_manifest(name="b"))
    assert not bk.is_our_manifest({"tool": bk.MANIFEST_TOOL, "name": "b"})
    assert not bk.is_our_manifest({"tool": "other", "manifest_version": 2, "name": "b"})
    assert not bk.is_our_manifest(["not", "a", "dict"])


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("30 s", 30), ("500ms", 0.5), ("2min", 120), ("1h", 3600),
                                           ("45", 45), ("0.5", 0.5)])
def test_lock_wait_timeout_durations(text, seconds):
    assert bk.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "-1s", "soon", "10 parsecs", ""])
def test_bad_lock_wait_timeout_is_refused(text):
    with pytest.raises(bk.BackupError, match="lock_wait_timeout"):
        bk.parse_duration(text)


# -- argv: the password is never there ---------------------------------------------------------------------

def test_dump_argv_per_format():
    assert bk.dump_argv("pg_dump", "custom", "/b/.x", 1) == [
        "pg_dump", "--no-password", "--format=custom", "--file=/b/.x", "--compress=1"]
    d = bk.dump_argv("pg_dump", "directory", "/b/.x", 1, jobs=2, snapshot="00000003-1B", lock_wait_timeout=30)
    assert "--jobs=2" in d and "--snapshot=00000003-1B" in d and "--lock-wait-timeout=30000" in d
    assert not any(a.startswith("--compress") for a in bk.dump_argv("pg_dump", "tar", "/b/.x", 1))
    assert "--jobs=2" not in bk.dump_argv("pg_dump", "custom", "/b/.x", 1, jobs=2)
    assert bk.dump_argv("pg_dump", "plain", "/b/.x", 0)[-2:] == ["--clean", "--if-exists"]


def test_restore_argv_is_one_transaction_unless_parallel():
    argv = bk.restore_argv("pg_restore", "/b/x.dump", "almafrica", clean=True)
    assert argv == ["pg_restore", "--no-password", "--exit-on-error", "--dbname=dbname='almafrica'",
                    "--single-transaction", "--clean", "--if-exists", "/b/x.dump"]
    par = bk.restore_argv("pg_restore", "/b/x", "almafrica", clean=False, jobs=4)
    assert "--jobs=4" in par and "--single-transaction" not in par and "--clean" not in par


def test_database_names_are_taken_literally_by_libpq():
    # a name that looks like a conninfo string must not become connection options
    assert bk.libpq_conninfo(dbname="x host=evil") == "dbname='x host=evil'"
    assert bk.libpq_conninfo(dbname="it's\\") == "dbname='it\\'s\\\\'"
    assert "--set=ON_ERROR_STOP=1" in bk.psql_restore_argv("psql", "db")


def test_passfile_line_escapes_separators():
    line = bk.passfile_line(SECRET)
    assert line == "*:*:*:*:s3cr\\:et\\\\pw'x\n"


def test_tool_version():
    assert bk.pg_tool_major("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n") == (15, "15.18")
    assert bk.pg_tool_major("pg_restore (PostgreSQL) 17beta1") == (17, "17beta1")
    with pytest.raises(bk.BackupError):
        bk.pg_tool_major("bash: pg_dump: not found")


# -- table of contents -------------------------------------------------------------------------------------

def test_toc_entries_are_matched_to_tables_by_oid():
    entries = bk.parse_toc(TOC)
    assert len(entries) == 9
    assert bk.table_oids(entries) == {16385, 16390, 16397, 16500}
    assert bk.table_data_oids(entries) == {16385, 16390, 16397}
    assert bk.missing_from_toc(entries, TABLES) == []


def test_a_table_without_data_entry_is_reported():
    entries = [e for e in bk.parse_toc(TOC) if not e[0].startswith("3375;")]
    extra = TABLES + [dict(oid=99999, schema="public", name="Payments", has_data=True)]
    assert bk.missing_from_toc(entries, extra) == ["public.Orders (data)", "public.Payments (definition)"]


def test_readers_split_the_data_and_cover_every_entry_once():
    entries = bk.parse_toc(TOC)
    sizes = {16385: 10, 16390: 1000, 16397: 900}
    lists = bk.split_toc_for_readers(entries, sizes, 2)
    assert len(lists) == 2
    flat = [line for lst in lists for line in lst]
    assert sorted(flat) == sorted(e[0] for e in entries)
    assert any(line.startswith("3374;") for line in lists[0]) != any(line.startswith("3374;") for line in lists[1])
    # the two largest tables land on different readers
    assert any(line.startswith("3374;") for line in lists[0]) != any(line.startswith("3375;") for line in lists[0])
    # each list keeps the archive's order
    assert all(lst == [e[0] for e in entries if e[0] in lst] for lst in lists)
    assert bk.split_toc_for_readers(entries, sizes, 1) == [[e[0] for e in entries]]


# -- plain dumps -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ('public."Farmers"', ("public", "Farmers")),
    ('public.orders', ("public", "orders")),
    ('"my ""schema"".x"."a.b"', ('my "schema".x', "a.b")),
    ('Public.Orders', ("public", "orders")),
])
def test_qualified_names(text, expected):
    assert bk.parse_qualified_name(text) == expected


def test_qualified_name_needs_a_schema():
    with pytest.raises(ValueError):
        bk.parse_qualified_name('"Farmers"')


PLAIN = """--
-- PostgreSQL database dump
--
-- Name: Farmers; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public."Farmers" (id integer);
-- Data for Name: Farmers; Type: TABLE DATA; Schema: public; Owner: postgres
COPY public."Farmers" (id) FROM stdin;
1
\\.
-- Data for Name: __EFMigrationsHistory; Type: TABLE DATA; Schema: public; Owner: postgres
COPY public."__EFMigrationsHistory" ("MigrationId", "ProductVersion") FROM stdin;
20260201120000_InitialCreate\t8.0.11
\\.
-- Data for Name: Orders; Type: TABLE DATA; Schema: public; Owner: postgres
COPY public."Orders" (id) FROM stdin;
7
\\.
--
-- PostgreSQL database dump complete
--
"""


def _scan(text):
    scanner = bk.PlainDumpScanner()
    for line in text.splitlines(True):
        scanner.feed(line)
    return scanner


def test_complete_plain_dump_passes():
    scanner = _scan(PLAIN)
    assert scanner.missing(TABLES) == []
    assert scanner.entries == 4


def test_truncated_plain_dump_is_caught():
    cut = PLAIN[:PLAIN.index("7\n")]
    problems = _scan(cut).missing(TABLES)
    assert problems[0] == "public.Orders (data cut off)"
    assert any("trailer" in p for p in problems)
    assert "public.Orders (data)" in problems


# -- checksums and manifests -------------------------------------------------------------------------------

def test_combined_digest_is_a_sorted_sha256sum_listing():
    files = {"toc.dat": "a" * 64, "3374.dat.gz": "b" * 64}
    listing = "%s  3374.dat.gz\n%s  toc.dat\n" % ("b" * 64, "a" * 64)
    assert bk.combined_sha256(files) == hashlib.sha256(listing.encode()).hexdigest()
    assert bk.combined_sha256(dict(reversed(list(files.items())))) == bk.combined_sha256(files)


def test_checksum_mismatch_says_what_differs():
    m = bk.build_manifest(name="b", size=10, sha256="a" * 64, files={"toc.dat": "1", "1.dat.gz": "2"})
    assert bk.checksum_mismatch(m, 10, "a" * 64, {"toc.dat": "1", "1.dat.gz": "2"}) is None
    assert bk.checksum_mismatch(m, 10, "a" * 64, {"toc.dat": "1", "1.dat.gz": "X", "2.dat.gz": "3"}) == \
        "unexpected files: 2.dat.gz; changed files: 1.dat.gz"
    assert bk.checksum_mismatch(m, 10, "a" * 64, {"toc.dat": "1"}) == "missing files: 1.dat.gz"
    single = bk.build_manifest(name="b", size=10, sha256="a" * 64)
    assert "size 9 bytes" in bk.checksum_mismatch(single, 9, "a" * 64)
    assert "SHA-256" in bk.checksum_mismatch(single, 10, "b" * 64)
    assert "not written by" in bk.checksum_mismatch({"sha256": "a" * 64, "size": 10}, 10, "a" * 64)


def test_manifest_has_every_field_and_refuses_unknown_ones():
    m = bk.build_manifest(name="b", database="almafrica", ef_migration="20260201120000_InitialCreate")
    assert m["tool"] == bk.MANIFEST_TOOL and m["manifest_version"] == 2
    assert set(bk.MANIFEST_KEYS) <= set(m)
    with pytest.raises(ValueError, match="password"):
        bk.build_manifest(name="b", password=SECRET)


# -- compression (issue 16) -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("auto", ("auto", None)), (None, ("auto", None)), ("none", ("none", None)), (0, ("none", None)),
    ("0", ("none", None)), (1, ("gzip", 1)), ("6", ("gzip", 6)), ("gzip", ("gzip", 1)), ("gzip:9", ("gzip", 9)),
    ("zstd", ("zstd", bk.AUTO_ZSTD_LEVEL)), ("zstd:19", ("zstd", 19)), ("ZSTD:3", ("zstd", 3)), ("lz4:12", ("lz4", 12)),
])
def test_compress_spellings(value, expected):
    assert bk.parse_compress(value) == expected


@pytest.mark.parametrize("value", ["zstd:0", "zstd:20", "gzip:10", "10", "lz4:13", "brotli", "zstd:", "gzip:x", "-1"])
def test_bad_compress_is_refused(value):
    with pytest.raises(bk.BackupError, match="compress"):
        bk.parse_compress(value)


def test_auto_is_zstd_streamed_through_the_tool_with_pg_dump_15():
    fmt, c, warning = bk.plan_compression("auto", None, 15, have_zstd=True)
    assert (fmt, c.method, c.level, c.stream, warning) == ("custom", "zstd", bk.AUTO_ZSTD_LEVEL, True, None)
    assert bk.backup_filename("b", fmt, c) == "b.dump.zst"
    assert c.spec == "zstd:%d" % bk.AUTO_ZSTD_LEVEL


def test_auto_falls_back_to_gzip_1_naming_the_package_when_zstd_is_missing():
    fmt, c, warning = bk.plan_compression("auto", None, 15, have_zstd=False)
    assert (fmt, c.spec, c.stream) == ("directory", "gzip:1", False)
    assert "Debian package zstd" in warning
    # an explicit directory format keeps gzip 1 (pg_dump 15 cannot write zstd into it), silently
    assert bk.plan_compression("auto", "directory", 15, True)[1:] == (bk.Compression("gzip", 1), None)


def test_explicit_zstd_fails_clearly_when_it_cannot_be_had():
    with pytest.raises(bk.BackupError, match="needs the zstd tool.*Debian package zstd"):
        bk.plan_compression("zstd:3", None, 15, have_zstd=False)
    with pytest.raises(bk.BackupError, match="works only with format custom"):
        bk.plan_compression("zstd:3", "directory", 15, have_zstd=True)
    with pytest.raises(bk.BackupError, match="needs pg_dump 16"):
        bk.plan_compression("lz4:1", None, 15, have_zstd=True)
    with pytest.raises(bk.BackupError, match="tar cannot be compressed"):
        bk.plan_compression("zstd:1", "tar", 16, have_zstd=True)
    with pytest.raises(bk.BackupError, match="gzip only"):
        bk.plan_compression("zstd:1", "plain", 16, have_zstd=True)


def test_pg_dump_16_writes_zstd_and_lz4_itself_and_keeps_the_directory_format():
    fmt, c, warning = bk.plan_compression("auto", None, 16, have_zstd=False)
    assert (fmt, c.spec, c.stream, warning) == ("directory", "zstd:%d" % bk.AUTO_ZSTD_LEVEL, False, None)
    argv = bk.dump_argv("pg_dump", fmt, "/b/.x", c, jobs=2)
    assert "--compress=zstd:%d" % bk.AUTO_ZSTD_LEVEL in argv and "--jobs=2" in argv
    fmt, c, _w = bk.plan_compression("lz4:3", "custom", 17, have_zstd=False)
    assert bk.dump_argv("pg_dump", fmt, "/b/.x", c) == [
        "pg_dump", "--no-password", "--format=custom", "--file=/b/.x", "--compress=lz4:3"]
    assert bk.backup_filename("b", fmt, c) == "b.dump"  # pg_dump's own compression: the usual name


def test_streamed_dump_argv_is_the_uncompressed_custom_format_on_stdout():
    fmt, c, _w = bk.plan_compression("zstd:3", None, 15, have_zstd=True)
    argv = bk.dump_argv("pg_dump", fmt, None, c, jobs=2, snapshot="00000003-1B", lock_wait_timeout=30)
    assert argv == ["pg_dump", "--no-password", "--format=custom", "--compress=0", "--snapshot=00000003-1B",
                    "--lock-wait-timeout=30000"]
    assert not any(a.startswith("--file") for a in argv)
    assert bk.zstd_compress_argv("zstd", 3, 2) == ["zstd", "-q", "-c", "--no-progress", "-3", "-T2"]
    assert bk.zstd_decompress_argv("zstd", "/b/x.dump.zst") == [
        "zstd", "-q", "-d", "-c", "--no-progress", "--", "/b/x.dump.zst"]
    assert bk.restore_argv("pg_restore", None, "db", clean=False) == [
        "pg_restore", "--no-password", "--exit-on-error", "--dbname=dbname='db'", "--single-transaction"]


def test_gzip_keeps_the_spelling_every_pg_dump_reads():
    for major in (15, 16):
        fmt, c, _w = bk.plan_compression("gzip:6", "custom", major, True)
        assert "--compress=6" in bk.dump_argv("pg_dump", fmt, "/x", c)
    fmt, c, _w = bk.plan_compression("none", None, 15, True)
    assert "--compress=0" in bk.dump_argv("pg_dump", fmt, "/x", c) and fmt == "directory"
    fmt, c, _w = bk.plan_compression("auto", "tar", 15, True)
    assert c.method == "none" and not any(a.startswith("--compress") for a in bk.dump_argv("pg_dump", fmt, "/x", c))
