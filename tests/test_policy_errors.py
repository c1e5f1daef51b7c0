"""Broken policies: every one is refused with a PolicyError that says what is
wrong and where (file, line, column, rule). The corpus lives in
tests/policies/broken/, its expected errors in expectations.yaml there."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rules_support import engine, policy

import customer_rules as cr
from customer_rules.lang.parser import parse
from customer_rules.lang.policy import parse_policy

BROKEN = Path(__file__).parent / "policies" / "broken"
EXPECTATIONS: dict[str, dict[str, Any]] = yaml.safe_load((BROKEN / "expectations.yaml").read_text("utf-8"))
FILES = sorted(p.name for p in BROKEN.iterdir() if p.name != "expectations.yaml")


def test_every_broken_file_has_an_expectation_and_vice_versa() -> None:
    assert sorted(EXPECTATIONS) == FILES


def test_the_corpus_covers_every_format() -> None:
    suffixes = [Path(f).suffix for f in FILES]
    assert len(FILES) >= 30
    assert suffixes.count(".json") >= 3
    assert suffixes.count(".toml") >= 3
    assert suffixes.count(".yaml") >= 30


@pytest.mark.parametrize("name", FILES)
def test_broken_policy_is_refused_with_its_location(name: str) -> None:
    expected = EXPECTATIONS[name]
    if sys.version_info >= (3, 13):  # the json module words some errors differently from 3.13 on
        expected = {**expected, **expected.get("py313", {})}
    path = BROKEN / name
    with pytest.raises(cr.PolicyError) as info:
        cr.load_policy(path)
    err = info.value
    assert expected["message"] in err.message
    assert err.file == str(path)
    assert err.line == expected["line"], str(err)
    if "column" in expected:
        assert err.column == expected["column"], str(err)
    if "rule" in expected:
        assert err.rule == (None if expected["rule"] is None else str(expected["rule"])), str(err)
    if "hint" in expected:
        assert err.hint is not None and expected["hint"] in err.hint, str(err)
    # the rendered message carries everything a reader needs
    text = str(err)
    assert text.startswith(f"{path}:{err.line}")
    assert err.message in text
    if err.rule is not None:
        assert repr(err.rule) in text
    if err.hint is not None:
        assert err.hint in text


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".yaml")])
def test_the_same_errors_from_text(name: str) -> None:
    # reading text instead of a file reports the same line and rule, without a file
    text = (BROKEN / name).read_text("utf-8")
    with pytest.raises(cr.PolicyError) as info:
        cr.load_policy(text, format="yaml")
    err = info.value
    assert err.file is None
    assert err.line == EXPECTATIONS[name]["line"]
    assert EXPECTATIONS[name]["message"] in err.message


def test_engine_load_policy_checks_against_its_own_features() -> None:
    path = BROKEN / "unknown_feature.yaml"
    with pytest.raises(cr.PolicyError, match="unknown name 'open_case'"):
        engine().load_policy(path)


def test_an_engine_given_a_broken_policy_keeps_the_location() -> None:
    p = parse_policy(
        "id: t\nlabels: [{id: a, zh: 甲, en: A}]\nrules:\n  - id: r1\n    when: value.revenue12m > 1\n    then: a\n",
        file="inline.yaml",
    )
    with pytest.raises(cr.PolicyError) as info:
        engine(p)
    err = info.value
    assert (err.file, err.line, err.column, err.rule) == ("inline.yaml", 5, 11, "r1")
    with pytest.raises(cr.PolicyError) as info:
        engine().add_policy(p)
    assert info.value.line == 5


def test_a_policy_built_in_python_reports_positions_in_the_expression() -> None:
    p = policy([{"id": "r1", "when": "value.revenue_12m > 1 and\n  value.nope > 2", "then": "yes"}])
    with pytest.raises(cr.PolicyError) as info:
        engine(p)
    err = info.value
    assert (err.file, err.line, err.column, err.rule) == (None, 2, 3, "r1")
    assert err.field == "rules[0].when"
    assert str(err).startswith("line 2, column 3, rule 'r1', rules[0].when: unknown name 'value.nope'")


def test_structural_errors_without_a_file() -> None:
    with pytest.raises(cr.PolicyError, match="missing required key 'labels'"):
        cr.load_policy("id: t\n", format="yaml")
    with pytest.raises(cr.PolicyError, match="Tuple should have at least 1 item"):
        cr.load_policy("id: t\nlabels: []\n", format="yaml")


def test_unknown_format_and_missing_file() -> None:
    with pytest.raises(cr.PolicyError, match="cannot tell the policy format") as info:
        cr.load_policy(BROKEN / "expectations.txt")
    assert info.value.hint is not None and "format=" in info.value.hint
    with pytest.raises(cr.PolicyError, match="cannot read policy file"):
        cr.load_policy(BROKEN / "does_not_exist.yaml")
    with pytest.raises(cr.PolicyError, match="unknown policy format"):
        cr.load_policy("id: t", format="ini")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("a..b", "expected a name"),
        ("value.revenue_12m > 1 )", "expected 'or', the end"),
        ("x between 1 or 2", "expected '+' or '-', 'and'"),
    ],
)
def test_syntax_hints_name_what_was_expected_in_words(text: str, hint: str) -> None:
    with pytest.raises(cr.PolicyError) as info:
        parse(text)
    assert info.value.hint == hint
