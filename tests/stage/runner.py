"""Run the collection's modules and playbooks, as a user would.

Playbooks (and modules at a verbosity, whose printed output a test reads) run through the real ansible-playbook.
A module at verbosity 0 runs the way Ansible itself runs it on the host, without the controller around it: its own
file in a fresh Python process, the task's arguments as JSON on its standard input (ansible-core's documented
direct invocation, the ``ANSIBLE_MODULE_ARGS`` envelope), ``_ansible_check_mode``/``_ansible_diff`` for --check and
--diff; what it prints is what the task result holds. That spares about 2 s of ansible-playbook start-up per call
(about 500 calls in the suite). ``ALMAFRICA_TESTS_VIA=playbook`` (or ``via="playbook"``) sends every call through
ansible-playbook instead. Either way arguments never reach the command line, so secrets used by the tests stay off
argv as they do in real use.
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


def _run_module_directly(fqcn, args, check, diff, env, task_env, timeout=600):
    namespace, collection, name = fqcn.split(".")
    envelope = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=bool(check), _ansible_diff=bool(diff),
                                            _ansible_verbosity=0, _ansible_module_name=fqcn)}
    penv = ansible_env(env)
    penv.update({k: str(v) for k, v in (task_env or {}).items()})
    penv["PYTHONPATH"] = os.pathsep.join([COLLECTIONS] + [p for p in [penv.get("PYTHONPATH")] if p])
    cmd = [sys.executable, "-m", "ansible_collections.%s.%s.plugins.modules.%s" % (namespace, collection, name)]
    proc = subprocess.run(cmd, input=json.dumps(envelope), env=penv, capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, check=False)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    except ValueError:
        result = None
    if not isinstance(result, dict):  # what ansible-playbook reports when a module dies without its JSON
        result = {"failed": True, "msg": "MODULE FAILURE: See stdout/stderr for the exact error",
                  "module_stdout": proc.stdout, "module_stderr": proc.stderr, "rc": proc.returncode}
    for key in ("warnings", "deprecations"):  # summaries, as the task result shows them: their messages
        if key in result:
            result[key] = [_message(item) for item in result[key]]
    return ModuleRun(proc, result)


def _message(item):
    """The text of a WarningSummary/DeprecationSummary as a module prints it (``{"event": {"msg": ...}}``)."""
    if not isinstance(item, dict):
        return item
    event, texts = item.get("event") or {}, []
    while isinstance(event, dict) and event.get("msg"):
        texts.append(event["msg"])
        event = event.get("chain", {}).get("event") if isinstance(event.get("chain"), dict) else None
    return ": ".join(texts) if texts else item.get("msg", json.dumps(item))


def run_module(module, args, check=False, diff=False, verbosity=0, env=None, task_env=None, via=None):
    """Run one module on localhost; returns a ModuleRun.

    ``module`` may be short (``ef_migration_state``) or a FQCN. ``via``: ``"direct"`` or ``"playbook"`` (default:
    direct at verbosity 0 unless ``ALMAFRICA_TESTS_VIA=playbook``; a verbosity always goes through
    ansible-playbook, whose printed output the caller reads).
    """
    fqcn = module if "." in module else "almafrica.rollback." + module
    via = via or os.environ.get("ALMAFRICA_TESTS_VIA") or "direct"
    if via == "direct" and not verbosity:
        return _run_module_directly(fqcn, args, check, diff, env, task_env)
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
