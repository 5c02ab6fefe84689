"""Run the collection's modules and playbooks through the real ansible-playbook, as a user would.

Arguments go into a playbook file, never onto the command line, so secrets used by the tests stay
off argv as they do in real use.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".collections")


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    env.pop("ANSIBLE_CONFIG", None)
    if extra:
        env.update(extra)
    return env


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def run_playbook(playbook, *args, env=None, inventory=None, json_output=False, cwd=None, timeout=600):
    """Run ansible-playbook; returns the CompletedProcess (stdout is JSON when json_output)."""
    cmd = [_bin("ansible-playbook"), "-i", inventory or "localhost,", playbook] + list(args)
    extra = dict(env or {})
    if json_output:
        extra.update(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    return subprocess.run(cmd, env=ansible_env(extra), capture_output=True, text=True, cwd=cwd or REPO,
                          timeout=timeout, check=False)


class ModuleRun:
    """The outcome of one module task: ``result`` is what the module returned."""

    def __init__(self, proc, result):
        self.proc = proc
        self.result = result

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def changed(self):
        return bool(self.result.get("changed"))

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)

    def __repr__(self):
        return "ModuleRun(%s)" % json.dumps(self.result, indent=1, default=str)[:3000]


def run_module(module, args, check=False, diff=False, verbosity=0, env=None, task_env=None):
    """Run one module on localhost through ansible-playbook; returns a ModuleRun.

    ``module`` may be short (``ef_migration_state``) or a FQCN.
    """
    fqcn = module if "." in module else "almafrica.rollback." + module
    task = {"name": "run " + fqcn, fqcn: args}
    if task_env:
        task["environment"] = task_env
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task]}]
    with tempfile.TemporaryDirectory(prefix="almafrica-play-") as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(play, fh, sort_keys=False)
        opts = []
        if check:
            opts.append("--check")
        if diff:
            opts.append("--diff")
        if verbosity:
            opts.append("-" + "v" * verbosity)
        proc = run_playbook(path, *opts, env=env, json_output=not verbosity)
    if verbosity:
        return ModuleRun(proc, {})
    try:
        data = json.loads(proc.stdout)
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError("ansible-playbook gave no task result (%s)\nstdout:\n%s\nstderr:\n%s"
                             % (exc, proc.stdout[-3000:], proc.stderr[-3000:])) from exc
    return ModuleRun(proc, result)
