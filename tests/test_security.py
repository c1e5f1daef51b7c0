"""The condition language is safe: it reads only the declared record fields,
features, parameters and derived values, calls only its own functions, and
refuses oversized input before doing real work. Nothing is ever eval'd."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from rules_support import engine, policy

import customer_rules as cr
from customer_rules.lang.parser import MAX_DEPTH, MAX_NODES, MAX_TEXT, parse

PACKAGE = Path(cr.__file__).parent


def refuse(when: str) -> cr.PolicyError:
    p = policy([{"id": "r", "when": when, "then": "yes"}])
    with pytest.raises(cr.PolicyError) as info:
        engine(p)
    assert info.value.rule == "r"
    return info.value


@pytest.mark.parametrize(
    "when",
    [
        "__class__ is missing",
        "value.__dict__ is missing",
        "x.__class__.__bases__ is missing",
        "value.revenue_12m.__class__ is missing",
        "_private == 1",
        "value._secret == 1",
    ],
)
def test_dunder_and_private_names_are_refused(when: str) -> None:
    err = refuse(when)
    assert "unexpected '_'" in err.message
    assert err.hint is not None and "private names cannot be read" in err.hint


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ('__import__("os")', "unexpected '_'"),
        ("import os", "unexpected 'os'"),
        ("from os import path", "unexpected 'os'"),
        ('open("x") == 1', "unknown function 'open'"),
        ('eval("1") == 1', "unknown function 'eval'"),
        ('exec("x = 1") == 1', "unknown function 'exec'"),
        ('getattr(value, "revenue_12m") == 1', "unknown function 'getattr'"),
        ("globals() is missing", "unknown function 'globals'"),
        ("print(1) is missing", "unknown function 'print'"),
        ("type(value) is missing", "unknown function 'type'"),
    ],
)
def test_imports_and_unknown_functions_are_refused(when: str, fragment: str) -> None:
    assert fragment in refuse(when).message


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ("value.revenue_12m.real > 1", "unknown name 'value.revenue_12m.real'"),
        ("name.upper == 1", "unknown name 'name.upper'"),
        ("value == 1", "unknown name 'value'"),
        ("cases.id == 1", "unknown name 'cases.id'"),
        ("params.x.y == 1", "unknown parameter 'params.x.y'"),
        ("value.revenue_12m.upper() == 1", "unexpected '('"),
        ('name.startswith("a")', "unexpected '('"),
        ("identity[0] is missing", "unexpected '['"),
    ],
)
def test_attribute_access_beyond_the_schema_is_refused(when: str, fragment: str) -> None:
    assert fragment in refuse(when).message


@pytest.mark.parametrize(
    "when",
    [
        "lambda: true",
        "lambda x: x",
        "[x for x in identity]",
        "{1: 2}",
        "x if true else y",
        "value.revenue_12m ** 2 > 1",
        "value.revenue_12m // 2 > 1",
        "value.revenue_12m % 2 == 0",
        "value.revenue_12m; true",
        "a := 1",
        "`ls`",
        "true # comment",
        "f'{name}'",
    ],
)
def test_other_python_syntax_is_refused(when: str) -> None:
    refuse(when)


def test_huge_input_is_refused_quickly() -> None:
    start = time.perf_counter()
    err = refuse("true or " * 1250 + "true")  # 10 004 characters
    assert f"the limit is {MAX_TEXT}" in err.message
    with pytest.raises(cr.PolicyError, match="characters long"):
        parse("x" * 1_000_000)
    assert time.perf_counter() - start < 2


def test_deep_nesting_is_refused_without_recursion() -> None:
    err = refuse("(" * 500 + "true" + ")" * 500)
    assert "brackets nest 500 deep" in err.message
    # unbalanced opening brackets are just as cheap to refuse
    assert "brackets nest" in refuse("(" * 500).message
    assert "brackets nest" in refuse("[" * 500).message


def test_deep_nesting_without_brackets_is_refused() -> None:
    err = refuse("not " * 200 + "true")
    assert f"the limit is {MAX_DEPTH}" in err.message
    err = refuse("-" * 200 + "1 > 0")
    assert f"the limit is {MAX_DEPTH}" in err.message


def test_many_nodes_are_refused() -> None:
    err = refuse("1+" * 300 + "1 > 0")  # short text, many parts
    assert f"the limit is {MAX_NODES}" in err.message


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    p = policy([{"id": "r", "when": 'name == "' + "(" * 100 + '"', "then": "yes"}])
    engine(p)  # loads


def test_the_limits_leave_room_for_real_policies() -> None:
    long_but_fine = " or ".join(f"value.orders_12m == {i}" for i in range(60))
    assert len(long_but_fine) < MAX_TEXT
    parse(long_but_fine)
    parse("(" * 30 + "true" + ")" * 30)


EVAL_CALL = re.compile(r"(?<![\w.])(?<!def )(eval|exec|compile)\s*\(")


def test_no_eval_or_exec_in_the_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if EVAL_CALL.search(code):
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert offenders == []


def test_the_scan_would_find_eval_and_exec() -> None:
    assert EVAL_CALL.search("x = eval(text)")
    assert EVAL_CALL.search("exec (code)")
    assert EVAL_CALL.search("compile(src, 'x', 'eval')")
    assert not EVAL_CALL.search("self._compile(scheme)")
    assert not EVAL_CALL.search("self.evaluate(x)")
    assert not EVAL_CALL.search("lit.eval(x)")
