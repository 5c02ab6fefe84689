"""The shape of plugins/module_utils: one folder per runbook concern, and each module ships only what it uses.

Ansible copies into a module's payload every module_utils file the module imports, transitively. The closures
below are read from the source (``ast``), the way Ansible's own dependency finder reads them.
"""
import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
UTILS = os.path.join(PLUGINS, "module_utils")
PREFIX = "ansible_collections.almafrica.rollback.plugins.module_utils."


def _utils_files():
    for folder, _ignored, files in os.walk(UTILS):
        for name in files:
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), UTILS)[:-3].replace(os.sep, ".")


def _imports(path):
    """(our module_utils modules, third-party top-level packages) imported by one file."""
    ours, others = set(), set()
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(PREFIX) or node.module + "." == PREFIX:
                base = node.module[len(PREFIX):] if node.module.startswith(PREFIX) else ""
                for alias in node.names:
                    candidate = (base + "." if base else "") + alias.name
                    ours.add(candidate if os.path.exists(_path(candidate)) else base)
            elif not node.module.startswith("ansible"):
                others.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            others.update(a.name.split(".")[0] for a in node.names)
    return ours, others


def _path(name):
    return os.path.join(UTILS, *name.split(".")) + ".py"


def closure(plugin_path):
    """Every module_utils module a plugin ships, and the third-party packages they import."""
    todo, seen, third = [plugin_path], set(), set()
    while todo:
        ours, others = _imports(todo.pop())
        third |= others
        for name in ours - seen:
            seen.add(name)
            todo.append(_path(name))
    return seen, third


def _plugin(kind, name):
    return os.path.join(PLUGINS, kind, name + ".py")


def test_every_file_sits_in_a_concern_folder_or_is_shared():
    top_level = sorted(n for n in _utils_files() if "." not in n)
    assert top_level == ["postgres", "redact", "schema_fingerprint"]
    folders = sorted({n.split(".")[0] for n in _utils_files() if "." in n})
    assert folders == ["backup", "ef", "lint", "web"]


def test_no_file_shadows_a_standard_library_module():
    for name in _utils_files():
        assert name.split(".")[-1] not in sys.stdlib_module_names, name


def test_each_file_says_in_its_first_line_what_it_is_for():
    for name in _utils_files():
        with open(_path(name), encoding="utf-8") as handle:
            doc = ast.get_docstring(ast.parse(handle.read()))
        assert doc and len(doc.splitlines()[0]) > 20, name


def test_every_file_is_shipped_by_some_plugin():
    shipped = set()
    for kind in ("modules", "lookup", "filter"):
        for name in os.listdir(os.path.join(PLUGINS, kind)):
            if name.endswith(".py"):
                shipped |= closure(os.path.join(PLUGINS, kind, name))[0]
    assert sorted(set(_utils_files()) - shipped) == []


@pytest.mark.parametrize("module, never", [
    # pg_backup reads one migration id: the history table, not the SQL parser
    ("pg_backup", ("ef.script", "ef.classify", "lint.", "web.")),
    ("pg_scratch_db", ("ef.", "lint.", "web.", "backup.")),
    ("coolify_deploy", ("ef.", "lint.", "backup.", "postgres")),
    ("health_assert", ("ef.", "lint.", "backup.", "postgres", "web.coolify")),
    ("app_watch", ("ef.", "lint.", "backup.", "postgres", "web.coolify")),
    ("app_logs", ("ef.", "lint.", "backup.", "postgres", "web.smoke", "web.watch")),
    ("ef_migration_lint", ("ef.script", "ef.database", "backup.", "web.", "postgres")),
    ("ef_migration_state", ("lint.", "backup.", "web.")),
])
def test_a_module_ships_only_its_own_concerns(module, never):
    shipped, _ignored = closure(_plugin("modules", module))
    assert shipped, module
    assert sorted(n for n in shipped if n.startswith(never)) == []


def test_the_sql_parser_goes_only_where_scripts_are_read():
    parsed = sorted(name[:-3] for name in os.listdir(os.path.join(PLUGINS, "modules"))
                    if name.endswith(".py") and "pglast" in closure(_plugin("modules", name[:-3]))[1])
    assert parsed == ["ef_migration_state"]
    assert "pglast" not in closure(_plugin("modules", "pg_backup"))[1]
