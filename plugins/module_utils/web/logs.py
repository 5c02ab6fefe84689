# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Application log checks for app_logs: error patterns of ASP.NET Core / EF Core / Npgsql and the scan of a log text.

ASP.NET Core's console logger writes an entry as ``fail: <category>[<event id>]`` followed by lines indented by
six spaces (message, then exception); the JSON formatter writes ``"LogLevel":"Error"`` objects. A match names the
line and keeps the entry it belongs to (header and message), so a report says what failed, not only where.

Pure logic: no I/O here. Secret values are redacted with ``redact.redact`` (the one redaction).
"""
from __future__ import annotations

import re

from ansible_collections.almafrica.rollback.plugins.module_utils.redact import redact

# What an ASP.NET Core / EF Core / Npgsql application writes when it fails, and when its schema does not match.
DEFAULT_ERROR_PATTERNS = (
    r"^\s*(fail|crit):\s",                                     # simple console formatter, Error / Critical
    r'"(LogLevel|level)"\s*:\s*"(Error|Critical|error|critical|fail|crit)"',  # JSON console formatter
    r"Unhandled exception",
    r"Npgsql\.PostgresException",
    r"\b42703\b",                                              # SQLSTATE undefined_column
    r"\b42P01\b",                                              # SQLSTATE undefined_table
    r"Microsoft\.EntityFrameworkCore\.Database\.Command\[20102\]",  # failed command
)
ENTRY_HEADER = re.compile(r"^(trce|dbug|info|warn|fail|crit): \S")
CONTINUATION = re.compile(r"^\s{2,}\S|^\s*$")
MAX_CONTEXT_LINES = 6
MAX_TEXT = 500


class PatternError(ValueError):
    pass


def compile_patterns(patterns, option="error_patterns"):
    """Compiled regular expressions; PatternError naming the bad one."""
    out = []
    for pattern in patterns or ():
        try:
            out.append(re.compile(pattern))
        except re.error as exc:
            raise PatternError("%s: %r is not a valid regular expression (%s)" % (option, pattern, exc))
    return out


def split_lines(text):
    """Lines of a log text, without line ends (CRLF and a final newline tolerated); Docker's multiplexing
    prefix-free text is expected."""
    if not text:
        return []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def entry_of(lines, index):
    """The ASP.NET Core entry line ``index`` belongs to: its header and continuation lines (at most
    MAX_CONTEXT_LINES), as (first line index, lines)."""
    start = index
    while start > 0 and not ENTRY_HEADER.match(lines[start]) and CONTINUATION.match(lines[start]) \
            and index - start < MAX_CONTEXT_LINES:
        start -= 1
    if not ENTRY_HEADER.match(lines[start]):
        start = index
    end = index + 1
    while end < len(lines) and end - start < MAX_CONTEXT_LINES and lines[end].strip() \
            and not ENTRY_HEADER.match(lines[end]) and CONTINUATION.match(lines[end]):
        end += 1
    return start, lines[start:end]


def _clip(text):
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def entry_kind(entry_text):
    """What an entry is, without its numbers (durations, ids, ports): repeated entries of one kind share it."""
    return re.sub(r"\d+(?:\.\d+)?", "N", entry_text)


def scan_log(text, patterns, ignore=(), secrets=(), max_matches=50):
    """Scan ``text`` for ``patterns`` (compiled). Returns a dict:

    * ``lines_read``: how many lines the text has;
    * ``matches``: up to ``max_matches`` of ``{"line": 1-based number, "text": the line, "pattern": the first
      pattern that matched, "entry": the entry's header and message lines joined by newlines}``, in line order,
      redacted. When there are more, the first line of each kind of entry is kept before repeats, so that a
      burst of one error (a failing health check polled for a minute) does not hide another;
    * ``match_count``: every matching line, also those not returned.

    Lines matching a pattern of ``ignore`` are skipped.
    """
    lines = split_lines(text)
    hits = []
    for index, line in enumerate(lines):
        hit = next((p for p in patterns if p.search(line)), None)
        if hit is None or any(p.search(line) for p in ignore):
            continue
        start, entry = entry_of(lines, index)
        hits.append((index, hit, "\n".join(part.strip() for part in entry), start))
    chosen = hits
    if len(hits) > max_matches:
        # Every matching line of the first entry of each kind (an exception's header, its Npgsql line, its
        # SqlState) comes before the repeats of an entry already seen.
        first_entry, first, rest = {}, [], []
        for item in hits:
            kind = entry_kind(item[2])
            (first if first_entry.setdefault(kind, item[3]) == item[3] else rest).append(item)
        chosen = sorted((first + rest)[:max_matches], key=lambda item: item[0])
    matches = [{"line": index + 1, "text": _clip(redact(lines[index], secrets)), "pattern": hit.pattern,
                "entry": _clip(redact(entry, secrets))} for index, hit, entry, _start in chosen]
    return {"lines_read": len(lines), "matches": matches, "match_count": len(hits)}


def summarize_matches(matches, match_count, lines_read, source, limit=3):
    """One sentence for a failure message: how many lines matched, and the first entry of the first kinds."""
    shown = []
    seen = set()
    for match in matches:
        key = entry_kind(match["entry"])
        if key in seen:
            continue
        seen.add(key)
        shown.append("line %d: %s" % (match["line"], match["entry"].replace("\n", " | ")))
        if len(shown) >= limit:
            break
    return "%d of the %d log lines read from %s match error patterns; %s" % (
        match_count, lines_read, source, "; ".join(shown))
