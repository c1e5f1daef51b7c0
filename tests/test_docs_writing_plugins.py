"""docs/writing-plugins.md works: the files it shows build a plugin that loads,
passes the conformance kit and passes the tutorial's own tests."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS
from customer_rules.testing import check_plugin

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "writing-plugins.md"
BLOCK = re.compile(r'```\w+ title="(?P<path>[^"]+)"\n(?P<body>.*?)```', re.DOTALL)
AS_OF = dt.date(2026, 11, 22)
OTHER_SCHEMES = tuple(
    p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.") and not p.endswith(".bird_style")
)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of the tutorial, written out as the reader would."""
    root = tmp_path_factory.mktemp("tutorial")
    for m in BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8")):
        path = root / m.group("path")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(m.group("body"), encoding="utf-8")
    return root


@pytest.fixture
def importable(tutorial: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tutorial / "acme-rules"))
    monkeypatch.syspath_prepend(str(tutorial / "extras"))
    yield tutorial
    for name in [m for m in sys.modules if m.split(".")[0] in ("acme_rules", "eagle_brief", "manual_grades")]:
        del sys.modules[name]


def test_tutorial_shows_every_file_of_the_plugin(tutorial: Path) -> None:
    files = {p.relative_to(tutorial).as_posix() for p in tutorial.rglob("*") if p.is_file()}
    assert {
        "acme-rules/pyproject.toml",
        "acme-rules/acme_rules/__init__.py",
        "acme-rules/acme_rules/payment_risk/policy.yaml",
        "acme-rules/acme_rules/payment_risk/strategies.yaml",
        "acme-rules/tests/test_acme_rules.py",
    } <= files


def test_pyproject_declares_the_entry_point(tutorial: Path) -> None:
    data = tomllib.loads((tutorial / "acme-rules" / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["entry-points"]["customer_rules"] == {"acme_rules": "acme_rules"}


def test_tutorial_plugin_loads_and_conforms(importable: Path) -> None:
    acme_rules = importlib.import_module("acme_rules")
    report = check_plugin(acme_rules)
    assert report.schemes == ("payment_risk",)
    assert report.features == ("acme_overdue_share",)
    engine = cr.Engine(plugins=[acme_rules], load_entry_points=False, block=OTHER_SCHEMES)
    decision = engine.decide("payment_risk", {"id": "c", "value": {"overdue_days": 3}}, as_of=AS_OF)
    assert decision.label == "prompt"
    assert engine.schemes["payment_risk"].plugin == "acme_rules"
    assert (
        "payment_risk"
        not in cr.Engine(
            plugins=[acme_rules], load_entry_points=False, block=["acme_rules", *OTHER_SCHEMES]
        ).schemes
    )


def test_tutorial_tests_pass(importable: Path) -> None:
    project = importable / "acme-rules"
    env = {**os.environ, "PYTHONPATH": str(project)}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 passed" in out.stdout


def test_going_further_examples_work(importable: Path) -> None:
    eagle_brief = importlib.import_module("eagle_brief")
    manual_grades = importlib.import_module("manual_grades")
    acme_rules = importlib.import_module("acme_rules")
    engine = cr.Engine(
        plugins=[acme_rules, eagle_brief, manual_grades], load_entry_points=False, block=OTHER_SCHEMES
    )
    eagle = {"id": "C0007", "behaviour": {"speech_pace": "fast", "sociability": "weak"}}
    assert engine.decide("bird_style", eagle, as_of=AS_OF).strategy is eagle_brief.EAGLE
    owl = {"id": "C0008", "behaviour": {"speech_pace": "slow", "sociability": "weak"}}
    assert (
        engine.decide("bird_style", owl, as_of=AS_OF).strategy
        == engine.schemes["bird_style"].strategies["owl"]
    )
    graded = {"id": "C0042", "value": {"overdue_days": 0}}
    decision = engine.decide("payment_risk", graded, as_of=AS_OF)
    assert decision.label == "late"
    assert decision.note is not None and "finance" in decision.note
    assert engine.decide("payment_risk", graded, as_of=dt.date(2027, 4, 1)).label == "prompt"
