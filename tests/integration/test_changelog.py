"""The changelog is managed with antsibull-changelog: changelogs/config.yaml, changelogs/changelog.yaml and fragments.

The fragments must lint, and a release made from them (in a temporary copy of the collection) must render every
fragment into the changelog file and consume the fragments.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHANGELOGS = REPO / "changelogs"
FRAGMENTS = CHANGELOGS / "fragments"
BIN = Path(sys.executable).parent
ANTSIBULL_CHANGELOG = BIN / "antsibull-changelog"
ANSIBLE_DOC = BIN / "ansible-doc"

# What `antsibull-changelog release` reads: the changelog files, galaxy.yml, and the collection's content for the
# "New Modules / Plugins / Roles" sections (found with ansible-doc from their version_added).
RELEASE_INPUTS = ("changelogs", "galaxy.yml", "meta", "plugins", "roles")


def _run(args, cwd, timeout=300):
    if not ANTSIBULL_CHANGELOG.exists():
        pytest.skip("antsibull-changelog is not installed next to %s" % sys.executable)
    env = dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("ANSIBLE_CONFIG", None)  # ansible-doc must see the copy only, not the repository's configuration
    return subprocess.run(
        [str(ANTSIBULL_CHANGELOG)] + list(args),
        cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def _config():
    return yaml.safe_load((CHANGELOGS / "config.yaml").read_text())


def _rendered_sections(config):
    """Fragment categories that appear in the changelog (the trivial section does not)."""
    return {config.get("prelude_section_name", "release_summary")} | {name for name, _ignored in config["sections"]}


def _fragments():
    return sorted(FRAGMENTS.glob("*.yml")) + sorted(FRAGMENTS.glob("*.yaml"))


def _plain_rst(text):
    """The words of an RST fragment entry: literals unquoted, whitespace collapsed."""
    text = re.sub(r"``(.+?)``", r"\1", text)
    return " ".join(text.split())


def _plain_md(text):
    """The words of antsibull-changelog's Markdown: tags dropped, backslash escapes undone, whitespace collapsed."""
    text = re.sub(r"</?code>", "", text)
    text = re.sub(r"\\(.)", r"\1", text)
    return " ".join(text.split())


def test_fragments_lint():
    result = _run(["lint"], REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout
    assert "ERROR" not in result.stderr.upper(), result.stderr

    result = _run(["lint-changelog-yaml", str(CHANGELOGS / "changelog.yaml")], REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_unreleased_changelog_has_no_hand_written_entries():
    """Until a release exists, CHANGELOG.md only points at the fragments: entries live in one place."""
    changes = yaml.safe_load((CHANGELOGS / "changelog.yaml").read_text())
    if changes.get("releases"):
        pytest.skip("a release exists: the changelog file is the tool's output")
    outputs = [REPO / out["file"] for out in _config()["output"]]
    for output in outputs:
        text = output.read_text()
        assert "changelogs/fragments" in text
        assert not re.search(r"^\s*[-*] ", text, re.M), "%s lists entries by hand" % output.name
        assert not re.search(r"^##", text, re.M), "%s has release headings but no release exists" % output.name


@pytest.mark.slow
def test_release_renders_every_fragment(tmp_path):
    fragments = _fragments()
    assert fragments, "no changelog fragment in %s" % FRAGMENTS
    for name in RELEASE_INPUTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".plugin-cache.yaml"))
        elif source.exists():
            shutil.copy2(source, tmp_path / name)

    args = ["release", "--version", "1.0.0", "--date", "2026-12-02"]
    if ANSIBLE_DOC.exists():
        args += ["--ansible-doc-bin", str(ANSIBLE_DOC)]
    result = _run(args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    config = _config()
    outputs = [tmp_path / out["file"] for out in config["output"]]
    for output in outputs:
        assert output.is_file(), "release did not write %s" % output
    rendered = _plain_md(outputs[0].read_text())
    assert "1.0.0" in rendered

    sections = _rendered_sections(config)
    checked = 0
    for fragment in fragments:
        content = yaml.safe_load(fragment.read_text())
        for section, entries in content.items():
            if section not in sections:
                continue
            first = entries if isinstance(entries, str) else entries[0]
            assert _plain_rst(first) in rendered, "%s (%s) is missing from the changelog" % (fragment.name, section)
            checked += 1
    assert checked, "no fragment has a rendered section"

    left = [p.name for p in (tmp_path / "changelogs" / "fragments").iterdir()]
    assert left == [], "fragments not consumed by the release: %s" % left
    changes = yaml.safe_load((tmp_path / "changelogs" / "changelog.yaml").read_text())
    assert changes["releases"]["1.0.0"]["release_date"] == "2026-12-02"
    assert sorted(changes["releases"]["1.0.0"]["fragments"]) == sorted(p.name for p in fragments)
