"""The collection builds from the checkout and installs offline (Galaxy is out of reach), without local litter."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile

from stage.runner import REPO, ansible_env

BIN = os.path.dirname(sys.executable)


def test_build_and_offline_install(tmp_path):
    env = ansible_env()
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), REPO],
                   env=env, check=True, capture_output=True, text=True, cwd=REPO)
    [tarball] = list(tmp_path.glob("almafrica-rollback-*.tar.gz"))
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "plugins/modules/ef_migration_state.py" in names and "roles/rollback/tasks/main.yml" in names
    assert not [n for n in names if n.startswith((".venv", ".collections", ".cache", "reports/", ".git/"))]
    dest = tmp_path / "collections"
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--force",
                           "-p", str(dest), str(tarball)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "ansible_collections" / "almafrica" / "rollback" / "MANIFEST.json").exists()
