"""Reading policy text and files (customer_rules.lang.policy): hostile input
is refused with a PolicyError naming the line, in bounded time, and text is
never taken for a file name (issue 13, items 1, 3, 4 and 6)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.cli.main import cli
from customer_rules.engine.api import policy_problems
from customer_rules.lang.policy import MAX_DIGITS, MAX_NESTING, MAX_RULES, MAX_TEXT_CHARS, MAX_VALUES

POLICY = {
    "id": "t",
    "version": "1",
    "labels": [{"id": "a", "zh": "甲", "en": "A"}, {"id": "b", "zh": "乙", "en": "B"}],
    "rules": [{"id": "r1", "when": "value.revenue_12m > 100", "then": "a"}],
    "default": "b",
}


def alias_bomb(width: int = 10, levels: int = 7) -> str:
    """``levels`` lists, each holding ``width`` aliases of the one before:
    ``width ** levels`` values once expanded, from a few hundred bytes."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refused(text: str, fmt: str, *, seconds: float = 5.0) -> cr.PolicyError:
    start = time.perf_counter()
    with pytest.raises(cr.PolicyError) as info:
        cr.load_policy(text, format=fmt)
    assert time.perf_counter() - start < seconds
    return info.value


# -- 1: the alias bomb ----------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_once_with_its_line() -> None:
    text = alias_bomb()
    assert len(text) < 500
    err = refused(text, "yaml", seconds=2)
    assert "expands to more than" in err.message and str(MAX_VALUES) in err.message
    assert err.line is not None and 1 < err.line <= 7
    assert err.hint is not None and "Safety limits" in err.hint


def test_the_alias_bomb_from_a_file_and_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    with pytest.raises(cr.PolicyError) as info:
        cr.load_policy(path)
    assert info.value.file == str(path) and info.value.line is not None
    for args in (["check", str(path)], ["classify", "-", "--as-of", "2026-11-22", "--policy", str(path)]):
        start = time.perf_counter()
        result = CliRunner().invoke(cli, args, input="id\nC1\n")
        assert time.perf_counter() - start < 10
        assert result.exit_code == 1, result.output
        assert "expands to more than" in result.output and "looks like a bug" not in result.output


def test_aliases_within_the_limit_still_work() -> None:
    text = """
id: t
labels:
  - &lab {id: a, zh: 甲, en: A}
rules:
  - {id: r1, when: &cond "value.revenue_12m > 100", then: a}
  - {id: r2, when: *cond, then: a}
"""
    policy = cr.load_policy(text, format="yaml")
    assert [r.when for r in policy.rules] == ["value.revenue_12m > 100"] * 2


def test_an_alias_inside_its_own_value_is_refused() -> None:
    err = refused("id: t\nlabels: &l [*l]\n", "yaml")
    assert "refers to the value it is inside" in err.message and err.line == 2


# -- 3: text is text, a path is a file ---------------------------------------------------------


def test_long_json_text_is_text_not_a_file_name() -> None:
    data = {**POLICY, "rules": [{**POLICY["rules"][0], "id": f"r{i}"} for i in range(20)]}
    text = json.dumps(data)
    assert len(text) > 255
    assert cr.load_policy(text, format="json").id == "t"
    assert cr.load_policy(json.dumps(data, indent=2), format="json").id == "t"


def test_empty_text_is_an_empty_policy_not_the_current_folder() -> None:
    err = refused("", "yaml")
    assert "a policy must be a mapping" in err.message
    assert "directory" not in str(err) and "folder" not in str(err)


def test_a_path_or_an_existing_file_is_read_as_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tier.json"
    path.write_text(json.dumps(POLICY), encoding="utf-8")
    assert cr.load_policy(path).file == str(path)
    assert cr.load_policy(str(path)).file == str(path)
    monkeypatch.chdir(tmp_path)
    # a string naming an existing file is that file, whatever format says
    assert cr.load_policy("tier.json", format="json").file == "tier.json"


def test_text_without_format_is_not_guessed() -> None:
    with pytest.raises(cr.PolicyError, match="no such policy file") as info:
        cr.load_policy(json.dumps(POLICY))
    assert info.value.hint is not None and "format=" in info.value.hint
    assert len(str(info.value)) < 200  # the text is not echoed whole


def test_a_folder_is_not_a_policy_file(tmp_path: Path) -> None:
    folder = tmp_path / "p.yaml"
    folder.mkdir()
    with pytest.raises(cr.PolicyError, match="folder"):
        cr.load_policy(folder)


def test_a_file_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"id: t\nlabels: [\xff\xfe]\n")
    with pytest.raises(cr.PolicyError, match="not UTF-8"):
        cr.load_policy(path)


# -- 4: parse limits are policy errors with a line --------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "text", "line"),
    [
        ("yaml", "id: t\nlabels: " + "[" * 5000 + "]" * 5000, 2),
        ("yaml", "id: t\nx:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), 3),
        ("json", '{"id": "t",\n "labels": ' + "[" * 5000 + "]" * 5000 + "}", 2),
        ("json", '{"a":\n' + '{"a": ' * 5000 + "1" + "}" * 5001, 2),
        ("toml", 'id = "t"\nlabels = ' + "[" * 5000 + "]" * 5000, 2),
        ("toml", 'id = "t"\nx = ' + "{a = " * 5000 + "1" + "}" * 5000, 2),
        ("toml", 'id = "t"\n' + "a" + ".b" * 5000 + " = 1", 2),
    ],
)
def test_deep_nesting_is_refused_with_its_line(fmt: str, text: str, line: int) -> None:
    err = refused(text, fmt)
    assert f"nest more than {MAX_NESTING} deep" in err.message
    assert err.line is not None and err.line >= line


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("yaml", "id: t\nversion: " + "9" * 5000),
        ("yaml", "id: t\nparams: {x: -" + "9" * 5000 + "}"),
        ("yaml", "id: t\nversion: !!int " + "9" * 5000),
        ("json", '{"id": "t",\n "version": ' + "9" * 5000 + "}"),
        ("json", '{"id": "t",\n "params": {"x": -' + "9" * 5000 + "}}"),
        ("toml", 'id = "t"\nversion = ' + "9" * 5000),
        ("toml", 'id = "t"\n[params]\nx = -' + "9_" * 2500 + "9"),
    ],
)
def test_numbers_with_too_many_digits_are_refused_with_their_line(fmt: str, text: str) -> None:
    err = refused(text, fmt)
    assert "digits" in err.message and str(MAX_DIGITS) in err.message
    assert err.line is not None and err.line >= 2


def test_digits_inside_strings_and_long_texts_are_fine() -> None:
    because = "9" * 500
    text = json.dumps({**POLICY, "rules": [{**POLICY["rules"][0], "because": because}]})
    assert cr.load_policy(text, format="json").rules[0].because == cr.Text(en=because)
    yaml_text = f"id: t\nlabels: [{{id: a, zh: 甲, en: '{because}'}}]\n"
    assert cr.load_policy(yaml_text, format="yaml").labels[0].en == because


def test_the_command_line_reports_parse_limits_as_policy_errors(tmp_path: Path) -> None:
    for name, text in {
        "deep.json": '{"id": ' + "[" * 5000 + "]" * 5000 + "}",
        "digits.toml": 'id = "t"\nversion = ' + "9" * 5000,
    }.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(cli, ["check", str(path)])
        assert result.exit_code == 1
        assert f"{path}:" in result.output and "looks like a bug" not in result.output


def test_size_limits() -> None:
    big = "id: t\n" + "".join(f"k{i}: 1\n" for i in range(MAX_VALUES))
    assert "has more than" in refused(big, "yaml").message
    huge = "id: t\n#" + "x" * MAX_TEXT_CHARS
    assert "characters" in refused(huge, "yaml").message
    rules = [{"id": f"r{i}", "when": "value.revenue_12m > 1", "then": "a"} for i in range(MAX_RULES + 1)]
    err = refused(json.dumps({**POLICY, "rules": rules}), "json")
    assert err.field == "rules" and str(MAX_RULES) in err.message


# -- 6: duplicate keys ---------------------------------------------------------------------------


def test_duplicate_keys_in_yaml_are_refused_with_the_line_of_the_second() -> None:
    text = """id: t
labels:
  - {id: a, zh: 甲, en: A}
rules:
  - {id: r1, when: value.revenue_12m > 100, then: a}
rules:
  - {id: r2, when: value.revenue_12m > 200, then: a}
"""
    err = refused(text, "yaml")
    assert "duplicate key 'rules'" in err.message
    assert (err.line, err.column, err.field) == (6, 1, "rules")


def test_duplicate_keys_in_json_are_refused_with_the_line_of_the_second() -> None:
    text = '{"id": "t",\n "labels": [{"id": "a", "zh": "甲", "en": "A"}],\n "rules": [],\n "rules": []}'
    err = refused(text, "json")
    assert "duplicate key 'rules'" in err.message and err.line == 4
    nested = '{"id": "t",\n "labels": [{"id": "a",\n  "zh": "甲", "zh": "乙", "en": "A"}]}'
    err = refused(nested, "json")
    assert err.field == "labels[0].zh" and err.line == 3


def test_duplicate_keys_in_toml_stay_refused() -> None:
    err = refused('id = "t"\nid = "u"\n', "toml")
    assert err.line == 2


def test_yaml_merge_keys_are_not_duplicates() -> None:
    text = """
base: &base {zh: 甲, en: A}
id: t
labels:
  - {<<: *base, id: a}
"""
    with pytest.raises(cr.PolicyError, match="unknown key 'base'"):
        cr.load_policy(text, format="yaml")


# -- every problem, not only the first -------------------------------------------------------


def test_policy_problems_lists_each_failing_condition_at_its_own_line() -> None:
    text = """id: t
labels: [{id: a, zh: 甲, en: A}]
rules:
  - {id: r1, when: value.revenu_12m > 1, then: a}
  - {id: r2, when: value.revenue_12m > 1, then: a}
  - {id: r3, when: "value.revenue_12m >", then: a}
flags:
  - {id: f1, when: value.nope, en: F}
"""
    problems = policy_problems(text, format="yaml")
    assert [(p.rule, p.line) for p in problems] == [("r1", 4), ("r3", 6), ("f1", 8)]
    with pytest.raises(cr.PolicyError) as info:
        cr.load_policy(text, format="yaml")
    assert str(info.value) == str(problems[0])  # load_policy raises the first of them


def test_policy_problems_lists_every_structural_problem_once() -> None:
    text = "id: t\nhit: sometimes\nlabels: [{id: a, zh: 甲, en: A}]\nrules:\n  - {id: r1, wen: x, then: a}\n"
    problems = policy_problems(text, format="yaml")
    assert [p.field for p in problems] == ["rules[0].wen", "hit"]
    assert problems[0].hint == "did you mean 'when'?"


def test_policy_problems_of_text_that_does_not_parse_or_does_load(tmp_path: Path) -> None:
    (problem,) = policy_problems(alias_bomb(), format="yaml")
    assert "expands to more than" in problem.message
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(POLICY), encoding="utf-8")
    assert policy_problems(path) == []
    assert "no such policy file" in policy_problems("id: t")[0].message


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_text_with_a_lone_surrogate_is_a_policy_error(fmt: str) -> None:
    # found by tests/test_fuzz.py: libyaml raised a raw UnicodeEncodeError
    err = refused("id: t\n\udcffx", fmt)
    assert "lone surrogate" in err.message and (err.line, err.column) == (2, 1)


# -- libyaml and the pure loader read alike ----------------------------------------------------

_YAML_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)
_YAML_DOCS = st.recursive(
    _YAML_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _read_both(text: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the policy reader makes of ``text`` with libyaml, then with the pure
    loader only: the data and every value's position, or the error's text,
    line and column."""
    import customer_rules.lang.policy as policy_module

    out: list[Any] = []
    for fast in (policy_module._FAST_LOADER, None):
        monkeypatch.setattr(policy_module, "_FAST_LOADER", fast)
        try:
            out.append(policy_module._read_yaml(text, "p.yaml"))
        except cr.PolicyError as exc:
            out.append((exc.message, exc.line, exc.column))
        except yaml.MarkedYAMLError as exc:  # the caller words it as a PolicyError
            mark = exc.problem_mark
            out.append((str(exc), None if mark is None else mark.line, None if mark is None else mark.column))
        try:  # how strategy files are read
            out[-1] = (out[-1], policy_module.yaml_data(text))
        except yaml.YAMLError as exc:
            out[-1] = (out[-1], str(exc))
    return out


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_YAML_DOCS, flow=st.sampled_from([None, True, False]), style=st.sampled_from([None, '"', "'", "|", ">"]))
def test_libyaml_and_the_pure_loader_give_the_same_values_and_positions(
    doc: Any, flow: bool | None, style: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # policies, scheme files and strategies are read with libyaml (14 times faster);
    # positions name the line and column of a bad value, so they must not move
    text = yaml.safe_dump({"id": "t", "body": doc}, default_flow_style=flow, default_style=style, allow_unicode=True)
    fast, pure = _read_both(text, monkeypatch)
    assert fast == pure


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@pytest.mark.parametrize(
    "text",
    [
        "id: t\nlabels: [a, b\n",  # an unclosed flow sequence
        "id: t\n  rules: x\n",  # bad indentation
        "id: *nowhere\n",  # an undefined alias: the composer's error
        "id: t\nid: u\n",  # a duplicate key
    ],
)
def test_a_yaml_error_reads_the_same_with_or_without_libyaml(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, pure = _read_both(text, monkeypatch)
    assert fast == pure and isinstance(fast[0], tuple) and fast[0][1] is not None


def test_the_shipped_yaml_files_read_the_same_with_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("customer_rules/schemes/*/*.yaml")) + sorted(root.glob("plugins/*/*/*/*.yaml"))
    assert len(files) >= 22
    for path in files:
        fast, pure = _read_both(path.read_text(encoding="utf-8"), monkeypatch)
        assert fast == pure, path
