"""The public plugin API (customer_rules.plugin): the built-in plugins use
it alone, as a third-party plugin would, and no core module names a scheme."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import customer_rules
import customer_rules.plugin as plugin_api

PACKAGE = Path(customer_rules.__file__).resolve().parent
PUBLIC = {"customer_rules", "customer_rules.plugin", "customer_rules.hookspecs", "customer_rules.testing"}
BUILTIN_PLUGINS = sorted(
    [*PACKAGE.glob("schemes/*/*.py"), *PACKAGE.glob("schemes/*.py"), *PACKAGE.glob("builtin/*.py")]
)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports from customer_rules (line, module), type-checking imports included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                out.append((node.lineno, "." * node.level + (node.module or "")))
            elif node.module and node.module.split(".")[0] == "customer_rules":
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "customer_rules"]
    return out


def test_there_are_built_in_plugins_to_check() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in BUILTIN_PLUGINS}
    assert len([n for n in names if n.endswith("/__init__.py") and n.count("/") == 2]) == 12
    assert {"builtin/features.py", "builtin/strategies.py", "schemes/crisis/statechart.py"} <= names


@pytest.mark.parametrize("path", BUILTIN_PLUGINS, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_built_in_plugins_import_only_the_public_api(path: Path) -> None:
    private = [f"line {line}: {module}" for line, module in imported_modules(path) if module not in PUBLIC]
    assert not private, f"{path.relative_to(PACKAGE)} imports private modules: {private}"


def test_the_check_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from customer_rules.plugin import hookimpl\n"
        "from customer_rules.engine.engine import Scheme\n"
        "import customer_rules.model.records\n"
        "from . import sibling\n"
    )
    assert [m for _, m in imported_modules(bad) if m not in PUBLIC] == [
        "customer_rules.engine.engine",
        "customer_rules.model.records",
        ".",
    ]


def test_the_plugin_api_is_sorted_and_every_name_resolves() -> None:
    names = plugin_api.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n.lower() if not n[0].isupper() else n))
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(plugin_api, name) is not None
    # what the root exports for plugins is the same object here
    for name in ("hookimpl", "Scheme", "load_scheme", "Feature", "feature", "Strategy", "Cadence", "Text"):
        assert getattr(plugin_api, name) is getattr(customer_rules, name)


def test_the_plugin_api_is_documented() -> None:
    docs = (PACKAGE.parent / "docs" / "reference" / "api.md").read_text(encoding="utf-8")
    guide = (PACKAGE.parent / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    assert "customer_rules.plugin" in guide
    missing = [n for n in plugin_api.__all__ if f"`{n}`" not in docs]
    assert not missing, f"docs/reference/api.md does not list {missing}"


SCHEME_IDS = sorted(p.name for p in (PACKAGE / "schemes").iterdir() if (p / "policy.yaml").exists())
# the layers that must not know a single scheme (the apps, CLI, lab and record
# model still mention some in help texts and samples; see issue 12)
CORE = ["engine", "backends", "lang", "streams", "plugin.py", "hookspecs.py", "errors.py", "apps/agenda.py"]


def test_no_core_module_names_a_built_in_scheme() -> None:
    assert len(SCHEME_IDS) == 12
    found = []
    for part in CORE:
        root = PACKAGE / part
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {
                id(n.body[0].value)
                for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and n.body
                and isinstance(n.body[0], ast.Expr)
                and isinstance(n.body[0].value, ast.Constant)
            }
            # scheme *kinds* (type, tier, crisis) are a vocabulary of the core, not scheme ids
            kinds = {
                id(c)
                for n in ast.walk(tree)
                if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "Literal"
                for c in ast.walk(n.slice)
            }
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings | kinds
                ):
                    words = set(node.value.replace(".", " ").replace(":", " ").split())
                    hits = words & set(SCHEME_IDS)
                    if hits and "customer_rules" not in node.value:  # the default-plugins list names modules
                        found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {sorted(hits)}")
    assert not found, found


def test_built_in_plugin_modules_import() -> None:
    for path in BUILTIN_PLUGINS:
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        importlib.import_module(".".join(parts))
