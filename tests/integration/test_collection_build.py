"""The collection builds from the checkout and installs offline (Galaxy is out of reach), without local litter."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile

import yaml

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


def test_galaxy_yml_declares_every_collection_the_role_and_playbooks_use():
    """A Galaxy or execution-environment install brings what the role calls: every FQCN module of another
    collection in roles/ and playbooks/ is a dependency in galaxy.yml."""
    used = set()
    for top in ("roles", "playbooks"):
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if name.endswith((".yml", ".yaml")):
                    with open(os.path.join(root, name), encoding="utf-8") as fh:
                        used.update(re.findall(r"^\s*-?\s*([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:\s*$", fh.read(), re.M))
    used -= {"ansible.builtin", "almafrica.rollback"}
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as fh:
        dependencies = yaml.safe_load(fh)["dependencies"]
    assert "community.docker" in used and "community.postgresql" in used  # the scan sees them
    assert used <= set(dependencies), used - set(dependencies)
