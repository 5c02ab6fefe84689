# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL column type changes: does going from one store type to another keep every value?

``describe_change(old, new)`` returns ``(verdict, reason)`` with verdict ``same``, ``widens`` (every old value
fits), ``narrows`` (some values are cut, rounded or rejected) or ``converts`` (a different kind of type: values
are reinterpreted or may fail to convert); ``unknown`` when a side is not given. Types are the store types EF
writes for Npgsql (``character varying(200)``, ``numeric(12,2)``, ``timestamp with time zone``, ``text[]``); the
text types of SQL Server and MySQL (``nvarchar(max)``, ``longtext``) are read for their capacity.
"""
from __future__ import annotations

import re

INFINITE = 10 ** 9
_ALIASES = {
    "int2": "smallint", "int": "integer", "int4": "integer", "int8": "bigint", "serial": "integer",
    "serial4": "integer", "bigserial": "bigint", "serial8": "bigint", "smallserial": "smallint",
    "float4": "real", "float8": "double precision", "float": "double precision", "decimal": "numeric",
    "varchar": "character varying", "char": "character", "bpchar": "character", "bool": "boolean",
    "timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
    "timetz": "time with time zone", "time": "time without time zone", "citext": "text",
    # Other providers' text types (SQL Server, MySQL): only their capacity matters here.
    "nvarchar": "character varying", "nchar": "character", "ntext": "text", "longtext": "text",
    "mediumtext": "text",
}
_INT_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_INT_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}
_FLOAT_RANK = {"real": 1, "double precision": 2}
_TYPE_RE = re.compile(r"^(?P<base>[a-z][a-z0-9_ ]*?)\s*(?:\((?P<a>\d+|max)(?:\s*,\s*(?P<b>\d+))?\))?"
                      r"(?P<tz>\s+with(?:out)?\s+time\s+zone)?(?P<array>(?:\s*\[\d*\])*)$")


class PgType(object):
    def __init__(self, base, length=None, scale=None, array=False):
        self.base, self.length, self.scale, self.array = base, length, scale, array

    def __repr__(self):
        return "PgType(%s, %s, %s, %s)" % (self.base, self.length, self.scale, self.array)


def parse_type(text):
    """A normalised PgType, or None when ``text`` is not a type we understand."""
    if not isinstance(text, str):
        return None
    raw = re.sub(r"\s+", " ", text.strip().lower().replace('"', ""))
    if raw.endswith("[]") is False and raw.startswith("_"):  # internal array names: _int4
        raw = raw[1:] + "[]"
    match = _TYPE_RE.match(raw)
    if not match:
        return None
    base = match.group("base").strip()
    if match.group("tz"):
        base = "%s %s" % (base, match.group("tz").strip())
    if base in ("timestamp", "time") and not match.group("tz"):
        base += " without time zone"
    base = _ALIASES.get(base, base)
    size = match.group("a")
    # varchar(max) / nvarchar(max): SQL Server's unbounded text; MySQL's tinytext holds at most 255 bytes.
    length = int(size) if size and size != "max" else None
    if base == "tinytext":
        base, length = "character varying", 255
    scale = int(match.group("b")) if match.group("b") else None
    if base == "numeric" and length is not None and scale is None:
        scale = 0
    if base == "character" and length is None:
        length = 1
    return PgType(base, length, scale, bool(match.group("array")))


def _text_capacity(t):
    if t.base == "text" or (t.base == "character varying" and t.length is None):
        return INFINITE
    if t.base in ("character varying", "character"):
        return t.length
    return None


def describe_change(old, new):
    if old is None or new is None:
        return "unknown", "type not given"
    a, b = parse_type(old), parse_type(new)
    if a is None or b is None:
        same = re.sub(r"\s+", " ", str(old).strip().lower()) == re.sub(r"\s+", " ", str(new).strip().lower())
        return ("same", "same type") if same else ("converts", "unrecognised type change")
    if a.array != b.array:
        return "converts", "array and non-array types do not convert"
    if (a.base, a.length, a.scale) == (b.base, b.length, b.scale):
        return "same", "same type"
    cap_a, cap_b = _text_capacity(a), _text_capacity(b)
    if cap_a is not None and cap_b is not None:
        if cap_b >= cap_a:
            return "widens", "every value fits"
        return "narrows", "values longer than %d characters are cut or rejected" % cap_b
    if cap_b == INFINITE:
        return "widens", "every value has a text form"
    if cap_a is not None:
        return "converts", "text values may not convert to %s" % new
    if a.base in _INT_RANK and b.base in _INT_RANK:
        if _INT_RANK[b.base] >= _INT_RANK[a.base]:
            return "widens", "every value fits"
        return "narrows", "values out of the %s range are rejected" % b.base
    if a.base in _FLOAT_RANK and b.base in _FLOAT_RANK:
        if _FLOAT_RANK[b.base] >= _FLOAT_RANK[a.base]:
            return "widens", "every value fits"
        return "narrows", "values lose precision"
    if a.base == "numeric" and b.base == "numeric":
        return _numeric_change(a, b)
    if a.base in _INT_RANK and b.base == "numeric":
        if b.length is None or b.length - (b.scale or 0) >= _INT_DIGITS[a.base]:
            return "widens", "every value fits"
        return "narrows", "values with more than %d integer digits are rejected" % (b.length - (b.scale or 0))
    if a.base == "numeric" and b.base in _INT_RANK:
        return "narrows", "decimals are rounded away and large values rejected"
    if a.base in _INT_RANK and b.base in _FLOAT_RANK:
        if a.base == "bigint" or (a.base == "integer" and b.base == "real"):
            return "narrows", "large values lose precision"
        return "widens", "every value fits"
    if a.base in _FLOAT_RANK and b.base in ("numeric",) + tuple(_INT_RANK):
        return "narrows", "values are rounded"
    if a.base == "timestamp with time zone" and b.base == "timestamp without time zone" or \
            b.base == "timestamp with time zone" and a.base == "timestamp without time zone":
        return "converts", "values are reinterpreted in the session time zone"
    if a.base.startswith("timestamp") and b.base == "date":
        return "narrows", "the time of day is lost"
    if a.base == "date" and b.base.startswith("timestamp"):
        return "widens", "every value fits"
    if a.base == "json" and b.base == "jsonb":
        return "narrows", "key order, duplicate keys and whitespace are lost"
    if a.base == "jsonb" and b.base == "json":
        return "widens", "every value fits"
    return "converts", "values may not convert from %s to %s" % (old, new)


def _numeric_change(a, b):
    if b.length is None:
        return "widens", "every value fits"
    if a.length is None:
        return "narrows", "values are rounded to %d decimals or rejected above %d digits" % (b.scale, b.length)
    a_int, b_int = a.length - a.scale, b.length - b.scale
    lost = []
    if b.scale < a.scale:
        lost.append("values are rounded from %d to %d decimals" % (a.scale, b.scale))
    if b_int < a_int:
        lost.append("values with more than %d integer digits are rejected" % b_int)
    if lost:
        return "narrows", " and ".join(lost)
    return "widens", "every value fits"
