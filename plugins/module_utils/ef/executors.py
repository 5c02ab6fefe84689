# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""External EF executors: an EF migration bundle (``efbundle``) and ``dotnet ef database update``.

Both get the connection string through an environment variable (``ConnectionStrings__<Name>`` by default),
never on the command line, so it shows neither in ``ps`` nor in Ansible's ``cmd`` output.
"""
from __future__ import annotations

from ansible_collections.almafrica.rollback.plugins.module_utils.postgres import npgsql_connection_string


def executor_argv(params, target, dotnet_bin=None):
    """The command line of the external executor for ``target`` (a MigrationId or ``0``)."""
    if params["executor"] == "bundle":
        return [params["bundle_path"], target] + list(params["executor_args"] or [])
    argv = [dotnet_bin or "dotnet", "ef", "database", "update", target, "--project", params["dotnet_ef_project"]]
    if params.get("dotnet_ef_startup_project"):
        argv += ["--startup-project", params["dotnet_ef_startup_project"]]
    return argv + list(params["executor_args"] or [])


def executor_env(params):
    """Environment of the external executor: the connection string under ``connection_env``."""
    return {params["connection_env"]: npgsql_connection_string(params)}
