# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about a migrations folder as a whole, for the C# reader: base classes, model bodies, providers.

``resolve_bases(classes)`` lets migrations inherit Up()/Down() from the project's own base classes (found by simple
name among the classes read; an unknown base is recorded, a cycle ends the walk); ``skip_model_bodies(source)``
empties the model a Designer or snapshot builds before parsing; ``PROVIDER_MARKERS`` name the EF providers.
"""
from __future__ import annotations

import re


# The model a Designer or snapshot builds is most of a migrations folder's C#, and says nothing about Up()/Down():
# its body is blanked (newlines kept, so line numbers stay true) before parsing.
_MODEL_METHOD_RE = re.compile(rb"\bvoid\s+Build(?:Target)?Model\s*\(\s*ModelBuilder\s+\w+\s*\)\s*\{")
_BRACE_SCAN_RE = re.compile(rb'@"(?:[^"]|"")*"|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|//[^\n]*|/\*.*?\*/|[{}]', re.S)


def skip_model_bodies(source):
    """``source`` with the body of ``BuildTargetModel``/``BuildModel`` emptied, or unchanged when unsure."""
    match = _MODEL_METHOD_RE.search(source)
    if match is None or b'"""' in source:
        return source
    depth, start = 1, match.end()
    for token in _BRACE_SCAN_RE.finditer(source, start):
        text = token.group(0)
        if text == b"{":
            depth += 1
        elif text == b"}":
            depth -= 1
            if depth == 0:
                body = source[start:token.start()]
                return source[:start] + b"\n" * body.count(b"\n") + source[token.start():]
    return source


PROVIDER_MARKERS = ((b"Npgsql", "Npgsql"), (b"MySql", "MySql"), (b"Sqlite", "Sqlite"), (b"SqlServer", "SqlServer"))


# Base types that say nothing about Up()/Down(): the framework's own, and interfaces by .NET naming convention.
FRAMEWORK_BASES = frozenset(("Migration", "ModelSnapshot"))


def _ancestors(cls, by_name):
    """Base classes of ``cls`` found in the folder, nearest first, and the first base that is not there (or None).

    Classes are looked up by simple name; a base seen twice (a cycle in broken code) ends the walk.
    """
    chain, seen, missing = [], {id(cls)}, None
    current = cls
    while True:
        bases = [b for b in current.bases if not (len(b) > 1 and b[0] == "I" and b[1].isupper())]
        if not bases or bases[0] in FRAMEWORK_BASES:
            return chain, missing
        found = by_name.get(bases[0])
        if found is None:
            return chain, bases[0]
        if id(found) in seen:
            return chain, missing
        seen.add(id(found))
        chain.append(found)
        current = found


def resolve_bases(classes):
    """Let migrations derive from the project's own base classes: inherit Up()/Down() and the Migration base."""
    by_name = {}
    for cls in classes:
        by_name.setdefault(cls.name, cls)
    for cls in classes:
        for base in cls.bases:
            if base in by_name and by_name[base] is not cls:
                by_name[base].is_base = True
    for cls in classes:
        chain, missing = _ancestors(cls, by_name)
        if any(base.derives_from_migration for base in chain):
            cls.derives_from_migration = True
        for attr in ("up", "down"):
            if getattr(cls, attr).present:
                continue
            source = next((base for base in chain if getattr(base, attr).present), None)
            if source is not None:
                setattr(cls, attr, getattr(source, attr))
                cls.inherited[getattr(source, attr).name] = source.full_name
            elif missing is not None:
                cls.unresolved_base = missing
