# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for Docker Compose projects (the role's RunMigrations gate).

Compose gives a container the variables of the service's ``env_file`` files (in order), then its ``environment``
(which wins). The project's ``.env`` is not given to containers: it only feeds ``${VAR}`` interpolation of the
compose file. These filters follow those rules so that the gate sees what the container will see.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
                            r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def parse_env_file(text):
    """``KEY=VALUE`` lines as Compose reads an env file (comments, blank lines, ``export``, quotes)."""
    env = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        env[key.strip()] = value
    return env


def interpolate(value, variables):
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``$VAR`` and ``$$``."""
    def repl(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in variables
        current = variables.get(name, "")
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if present else arg
        if op == ":+":
            return arg if current else ""
        if op == "+":
            return arg if present else ""
        if op in (":?", "?") and (not present or (op == ":?" and not current)):
            raise AnsibleFilterError("required variable %s is not set: %s" % (name, arg))
        return current
    return _INTERPOLATION.sub(repl, str(value))


def _services(compose_files, service):
    if isinstance(compose_files, dict):
        compose_files = [compose_files]
    found = [((doc or {}).get("services") or {}).get(service) for doc in compose_files or []]
    found = [svc for svc in found if svc is not None]
    if not found:
        raise AnsibleFilterError("service %r is in none of the compose files" % service)
    return found


def compose_service_env_files(compose_files, service):
    """The ``env_file`` paths of a service (relative to the project directory), in the order Compose reads them."""
    paths = []
    for svc in _services(compose_files, service):
        entries = svc.get("env_file") or []
        for entry in [entries] if isinstance(entries, (str, dict)) else entries:
            path = entry.get("path") if isinstance(entry, dict) else entry
            if path and path not in paths:
                paths.append(path)
    return paths


def compose_service_env(compose_files, service, env_file_texts=(), dotenv_text=""):
    """The environment a Compose service's container starts with.

    ``compose_files``: one parsed compose document or a list of them (later ones override earlier ones);
    ``env_file_texts``: the texts of the service's ``env_file`` files in order (a single text is accepted);
    ``dotenv_text``: the project's ``.env``, used only to interpolate ``${VAR}`` in ``environment``.
    """
    if isinstance(env_file_texts, str):
        env_file_texts = [env_file_texts]
    env = {}
    for text in env_file_texts or ():
        env.update(parse_env_file(text))
    variables = parse_env_file(dotenv_text)
    for svc in _services(compose_files, service):
        declared = svc.get("environment") or {}
        items = ([tuple(str(i).partition("=")[::2]) for i in declared if "=" in str(i)]
                 if isinstance(declared, list) else declared.items())
        for key, value in items:
            if value is None:
                continue
            env[key] = str(value).lower() if isinstance(value, bool) else interpolate(value, variables)
    return env


class FilterModule(object):
    def filters(self):
        return {"compose_service_env": compose_service_env, "compose_service_env_files": compose_service_env_files,
                "parse_env_file": parse_env_file}
