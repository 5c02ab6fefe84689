"""The execution environment (AWX / Automation Platform): what ansible-builder learns from the built collection, and
the build context `ansible-builder create` makes from ee/execution-environment.yml, offline (no image is built)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from stage.runner import REPO, ansible_env

BIN = os.path.dirname(sys.executable)
# ansible-builder leaves these to the image (ansible-core and friends) or to its own defaults (PyYAML).
EXCLUDED_BY_BUILDER = {"ansible", "ansible-core", "pyyaml"}


def _tool(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.skip("%s is not installed next to %s" % (name, sys.executable))
    return path


def _requirements(path):
    """``{name (lower case): line}`` of a pip requirements file."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                out[re.split(r"[<>=!~;\[ ]", line, 1)[0].lower()] = line
    return out


def _galaxy_version():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)["version"]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("ee-build")
    subprocess.run([_tool("ansible-galaxy"), "collection", "build", "--output-path", str(out), REPO],
                   env=ansible_env(), check=True, capture_output=True, text=True, cwd=REPO)
    [path] = out.glob("almafrica-rollback-*.tar.gz")
    return path


def test_builder_finds_the_python_and_system_requirements_in_the_built_collection(tarball, tmp_path):
    dest = tmp_path / "collections"
    proc = subprocess.run([_tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p",
                           str(dest), str(tarball)], env=ansible_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([_tool("ansible-builder"), "introspect", "--sanitize", str(dest)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = yaml.safe_load(proc.stdout)
    python = {re.split(r"[<>=!~ ]", line, 1)[0].lower(): line for line in found["python"]}
    runtime = _requirements(os.path.join(REPO, "requirements.txt"))
    # Every library the modules import, pinned as in requirements.txt; nothing the image brings itself.
    for name, line in runtime.items():
        if name in EXCLUDED_BY_BUILDER:
            assert name not in python, python
        else:
            assert name in python and line in python[name], (name, python)
    assert {"psycopg2-binary", "pglast", "requests"} <= set(python)
    system = " ".join(found["system"])
    assert "postgresql-client [platform:dpkg]" in system and "postgresql [platform:rpm]" in system
    assert re.search(r"(^|')zstd\b", " ".join("'" + s for s in found["system"])), found["system"]


def test_builder_creates_the_build_context_offline(tarball, tmp_path):
    ee = tmp_path / "ee"
    shutil.copytree(os.path.join(REPO, "ee"), ee, ignore=shutil.ignore_patterns("context", "*.tar.gz"))
    shutil.copy(tarball, ee)
    context = tmp_path / "context"
    proc = subprocess.run([_tool("ansible-builder"), "create", "-f", str(ee / "execution-environment.yml"),
                           "-c", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    # The EE's ansible-core is the one the collection is tested with.
    core = _requirements(os.path.join(REPO, "requirements.txt"))["ansible-core"]
    assert 'ANSIBLE_INSTALL_REFS="%s ansible-runner==' % core in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile  # the collection's requirements are read in the build
    # The collection goes in from the tarball copied into the context, under the name requirements.yml gives.
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    [entry] = [c for c in requirements["collections"] if c.get("type") == "file"]
    assert entry["name"] == "collections/almafrica-rollback-%s.tar.gz" % _galaxy_version()
    copied = context / "_build" / entry["name"]
    assert copied.read_bytes() == tarball.read_bytes()
