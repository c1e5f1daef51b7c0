"""Every hook is documented: a pytest-style docstring in customer_rules/hookspecs.py
that covers each argument and the result, and an up-to-date entry in the
generated docs/reference/hooks.md."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from customer_rules import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_MD = ROOT / "docs" / "reference" / "hooks.md"
MARKER = f"{hookspecs.PROJECT}_spec"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_hooks", ROOT / "docs" / "gen_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = load_generator()

HOOKS: dict[str, Callable[..., Any]] = {
    name: fn for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and hasattr(fn, MARKER)
}


def test_the_hooks_the_design_promises_exist() -> None:
    assert set(HOOKS) >= {
        "register_schemes",
        "register_features",
        "choose_strategy",
        "adjust_decision",
        "observe_profile",
        "escalate",
    }
    assert getattr(HOOKS["choose_strategy"], MARKER)["firstresult"] is True
    assert getattr(HOOKS["adjust_decision"], MARKER)["firstresult"] is True


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_docstring_documents_every_argument_and_the_result(name: str) -> None:
    fn = HOOKS[name]
    doc = inspect.getdoc(fn)
    assert doc, f"hook {name} has no docstring"
    paragraphs, params, returns = GEN.parse_docstring(doc)
    assert paragraphs and paragraphs[0].endswith("."), f"hook {name} needs a one-sentence summary"
    args = list(inspect.signature(fn).parameters)
    assert list(params) == args, (
        f"hook {name}: ':param' lines {list(params)} do not match its arguments {args}"
    )
    assert all(text.strip() for text in params.values()), f"hook {name}: an argument is described by nothing"
    assert returns, f"hook {name} has no ':returns:'"
    if getattr(fn, MARKER)["firstresult"]:
        assert "firstresult" in doc, f"hook {name} is firstresult but its docstring does not say so"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_typed(name: str) -> None:
    sig = inspect.signature(HOOKS[name])
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert sig.return_annotation is not inspect.Signature.empty


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_appears_in_the_reference(name: str) -> None:
    text = HOOKS_MD.read_text(encoding="utf-8")
    assert f"\n## {name}\n" in text
    for arg in inspect.signature(HOOKS[name]).parameters:
        assert f"- `{arg}` — " in text


def test_reference_lists_no_hook_that_does_not_exist() -> None:
    headings = [
        line[3:] for line in HOOKS_MD.read_text(encoding="utf-8").splitlines() if line.startswith("## ")
    ]
    assert sorted(headings) == sorted(HOOKS)


def test_reference_is_up_to_date_with_the_generator() -> None:
    assert HOOKS_MD.read_text(encoding="utf-8") == GEN.render(), (
        "docs/reference/hooks.md is stale: run python docs/gen_hooks.py"
    )
    assert GEN.main(["--check"]) == 0


def test_generator_check_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "hooks.md"
    stale.write_text("# Hook reference\n")
    monkeypatch.setattr(GEN, "OUTPUT", stale)
    monkeypatch.setattr(GEN, "ROOT", tmp_path)
    assert GEN.main(["--check"]) == 1
    assert GEN.main([]) == 0
    assert stale.read_text(encoding="utf-8") == GEN.render()


def test_an_undocumented_argument_is_caught() -> None:
    def hook(engine: Any, extra: Any) -> None:
        """Do something.

        :param engine: the engine.
        :returns: nothing.
        """

    _, params, _ = GEN.parse_docstring(inspect.getdoc(hook) or "")
    assert list(params) != list(inspect.signature(hook).parameters)
