# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for Docker Compose projects (the role's RunMigrations gate)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError


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


def compose_service_env(compose_files, service, env_file_text=""):
    """The environment a Compose service starts with: its env file, then ``environment`` of each file in order.

    ``compose_files`` is one parsed compose document or a list of them (later files override earlier ones).
    """
    if isinstance(compose_files, dict):
        compose_files = [compose_files]
    env = parse_env_file(env_file_text)
    found = False
    for doc in compose_files or []:
        svc = ((doc or {}).get("services") or {}).get(service)
        if svc is None:
            continue
        found = True
        declared = svc.get("environment") or {}
        if isinstance(declared, list):
            for item in declared:
                key, sep, value = str(item).partition("=")
                if sep:
                    env[key] = value
        else:
            for key, value in declared.items():
                if value is not None:
                    env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if not found:
        raise AnsibleFilterError("service %r is in none of the compose files" % service)
    return env


class FilterModule(object):
    def filters(self):
        return {"compose_service_env": compose_service_env, "parse_env_file": parse_env_file}
