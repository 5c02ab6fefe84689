"""A host without psycopg2: every module that connects fails with Ansible's one "missing required library" message,
changes nothing and prints no traceback (the except clauses its exit passes through must stay valid)."""
from __future__ import annotations

import pytest

from stage.runner import run_module

MODULES = [
    ("ef_migration_state", {"target": "0", "scripts": ["{tmp}"]}),
    ("pg_backup", {"dest": "{tmp}/backups"}),
    ("pg_scratch_db", {"name": "scratch_missing_lib", "state": "absent"}),
]


@pytest.mark.parametrize("module, args", MODULES, ids=[m for m, _a in MODULES])
def test_without_psycopg2_a_module_fails_with_one_clear_message(tmp_path, module, args):
    shadow = tmp_path / "site" / "psycopg2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named psycopg2 (hidden by the test)')\n")
    args = {k: [v.format(tmp=tmp_path) for v in val] if isinstance(val, list) else val.format(tmp=tmp_path)
            for k, val in args.items()}
    run = run_module(module, dict(args, login_db="almafrica", login_port=1),
                     env={"PYTHONPATH": str(tmp_path / "site")})
    assert run.failed
    assert "Failed to import the required Python library (psycopg2-binary)" in run["msg"], run
    assert run.proc.returncode == 1
    assert "Traceback" not in run.proc.stderr and "AttributeError" not in run.proc.stderr, run.proc.stderr
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())
