# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values in EF Core migrations, for the lint: how they read in a message, and which are EF's CLR-default placeholders.

``shown``/``value_text`` write a value for people (never Python's None: "unlimited", "no default"...);
``required_again_placeholder(up_op, down_op)`` recognises EF's standard Down() for a column Up() made nullable
(NOT NULL again, ``defaultValue`` = the CLR default: 0, "", false, an empty Guid, DateTime 0001-01-01...).
"""
from __future__ import annotations

import decimal
import re

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.csharp import Symbol, Unresolved


def shown(value):
    """A name or value for a message: never Python's None or an invisible empty string."""
    if isinstance(value, Unresolved):
        return "<%s>" % value.text
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "(none)"
    if value is None:
        return "(not given)"
    if value is True or value is False:
        return "true" if value else "false"
    if value == "":
        return '""'
    return str(value)


# How a missing value reads in a message: never Python's None.
ABSENT = {"type": "the type EF infers", "max length": "unlimited", "precision": "the provider's default",
          "scale": "the provider's default", "collation": "the database default", "defaultValue": "no default",
          "defaultValueSql": "no default"}


def value_text(value, label):
    """A value for a message: strings quoted as in C# (so an empty string shows as \"\"), None in words."""
    if value is None:
        return ABSENT.get(label, "none")
    if label in ("defaultValue", "defaultValueSql") and is_text_value(value):
        return '"%s"' % value
    return shown(value)


def is_text_value(value):
    return isinstance(value, str) and not isinstance(value, Symbol)


def same_value(a, b):
    if isinstance(a, Unresolved) and isinstance(b, Unresolved):
        return " ".join(a.text.split()) == " ".join(b.text.split())
    return type(a) is type(b) and a == b or (is_number(a) and is_number(b) and a == b)


def is_number(value):
    return isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool)


# The CLR default EF writes as defaultValue when a column becomes NOT NULL (AlterColumn, AddColumn), by the
# source text of the argument when it is not a plain literal.
CLR_DEFAULT_TEXT_RE = re.compile(
    r"^(?:new\s+(?:System\.)?Guid\(\s*\"0{8}-0{4}-0{4}-0{4}-0{12}\"\s*\)"
    r"|(?:System\.)?Guid\.Empty"
    r"|new\s+(?:System\.)?DateTime\(\s*1\s*,\s*1\s*,\s*1\s*(?:,\s*0\s*){0,4}(?:,\s*(?:System\.)?DateTimeKind\.\w+\s*)?\)"
    r"|new\s+(?:System\.)?DateTimeOffset\(\s*new\s+(?:System\.)?DateTime\(\s*1\s*,\s*1\s*,\s*1[^()]*\)\s*,"
    r"\s*new\s+(?:System\.)?TimeSpan\(\s*0\s*(?:,\s*0\s*)*\)\s*\)"
    r"|new\s+(?:System\.)?TimeSpan\(\s*0\s*(?:,\s*0\s*)*\)|(?:System\.)?TimeSpan\.Zero"
    r"|new\s+(?:System\.)?DateOnly\(\s*1\s*,\s*1\s*,\s*1\s*\)|new\s+(?:System\.)?TimeOnly\(\s*0\s*(?:,\s*0\s*)*\)"
    r"|\(\s*(?:short|ushort|byte|sbyte|uint|ulong|long|float|double|decimal)\s*\)\s*0"
    r"|new\s+byte\s*\[\s*0\s*\]|'\\0'|default(?:\(\w+\))?)$")


def clr_default_text(value):
    """How a CLR default reads (``0``, ``\"\"``, ``false``, ``new Guid(...)``), or None when ``value`` is not one."""
    if value is False:
        return "false"
    if is_number(value) and value == 0:
        return str(value)
    if is_text_value(value) and value == "":
        return '""'
    if isinstance(value, Unresolved) and CLR_DEFAULT_TEXT_RE.match(" ".join(value.text.split())):
        return " ".join(value.text.split())
    return None


def required_again_placeholder(up_op, down_op):
    """EF's Down() for a column Up() made nullable: NOT NULL again, with the CLR default to fill the NULLs.

    Returns how the placeholder reads, or None when the AlterColumn pair is not that shape.
    """
    made_nullable = up_op.get("nullable", False) and not up_op.get("oldNullable", False)
    required_again = not down_op.get("nullable", False) and down_op.get("oldNullable", False)
    if not (made_nullable and required_again) or up_op.get("oldDefaultValue") is not None:
        return None
    return clr_default_text(down_op.get("defaultValue"))


# Store types for which Pomelo (MySQL) writes no literal DEFAULT (MySQL does not accept one on them).
MYSQL_NO_DEFAULT_RE = re.compile(r"^(?:tiny|medium|long)?(?:text|blob)\b|^json\b|^geometry|^point\b|^(?:multi)?(?:linestring|polygon)\b", re.I)


def emits_default(provider, op):
    if provider == "MySql" and isinstance(op.get("type"), str) and MYSQL_NO_DEFAULT_RE.match(op.get("type").strip()):
        return False
    return True


def alter_summary(op):
    parts = []
    if op.get("oldType") is not None or op.get("type") is not None:
        parts.append("type %s -> %s" % (value_text(op.get("oldType"), "type"), value_text(op.get("type"), "type")))
    if op.get("oldNullable", False) != op.get("nullable", False):
        parts.append("%s -> %s" % (nullability(op.get("oldNullable", False)), nullability(op.get("nullable", False))))
    if op.get("oldMaxLength") is not None or op.get("maxLength") is not None:
        parts.append("max length %s -> %s" % (value_text(op.get("oldMaxLength"), "max length"),
                                              value_text(op.get("maxLength"), "max length")))
    return ", ".join(parts) or "annotations"


def nullability(value):
    return "nullable" if value else "NOT NULL"


def norm(value):
    return re.sub(r"\s+", " ", value.strip().lower()) if isinstance(value, str) else value
