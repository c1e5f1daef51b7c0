"""Fuzzing the ways user data enters: policy text (YAML, JSON, TOML), record
dicts, tables and fitted files. Whatever comes in, only library errors
(``CustomerRulesError`` subclasses) come out (issue 13).

Bounded for CI (a few seconds, the same examples every run). To fuzz
longer, with fresh random examples each run::

    CUSTOMER_RULES_FUZZ_EXAMPLES=20000 python3 -m pytest tests/test_fuzz.py -p no:cacheprovider \\
        --hypothesis-show-statistics

The policy parser also has a coverage-guided (atheris) target:
``tests/fuzz/fuzz_policy.py`` (see its docstring).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.lab.sample import sample_customers

AS_OF = date(2026, 11, 22)
HERE = Path(__file__).parent
LONG = int(os.environ.get("CUSTOMER_RULES_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings: ``examples`` in CI (derandomized), or the number
    in CUSTOMER_RULES_FUZZ_EXAMPLES with fresh random examples."""
    return settings(
        max_examples=LONG or examples,
        derandomize=not LONG,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@lru_cache(maxsize=1)
def engine() -> cr.Engine:
    return cr.Engine(load_entry_points=False).fit(sample_customers(60), as_of=AS_OF)


def only_library_errors(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except cr.CustomerRulesError:
        return None


# -- hostile text ------------------------------------------------------------------------

SEED_POLICY: dict[str, Any] = {
    "id": "fuzzed",
    "version": "1",
    "hit": "first",
    "labels": [{"id": "a", "zh": "甲", "en": "A"}, {"id": "b", "zh": "乙", "en": "B"}],
    "params": {"big": 500000, "since": "2026-01-01"},
    "derive": {"margin": "value.profit_12m / value.revenue_12m"},
    "rules": [
        {"id": "r1", "when": "value.revenue_12m >= params.big and margin > 0.1", "then": "a",
         "because": {"en": "big", "zh": "大"}},
        {"id": "r2", "when": "value.overdue_days between 1 and 30 or value.bad_debt", "then": "b"},
    ],
    "flags": [{"id": "f1", "when": "value.litigation", "en": "in court"}],
    "default": "b",
}

SEED_TEXT = {
    "yaml": yaml.safe_dump(SEED_POLICY, allow_unicode=True, sort_keys=False)
    + "# a comment\nx_anchor: &x [1, 2]\n",
    "json": json.dumps(SEED_POLICY, ensure_ascii=False, indent=1),
    "toml": (
        'id = "fuzzed"\nversion = "1"\nhit = "first"\ndefault = "b"\n'
        "[params]\nbig = 500_000\nsince = 2026-01-01\n"
        '[derive]\nmargin = "value.profit_12m / value.revenue_12m"\n'
        '[[labels]]\nid = "a"\nzh = "甲"\nen = "A"\n'
        '[[labels]]\nid = "b"\nzh = "乙"\nen = "B"\n'
        '[[rules]]\nid = "r1"\nwhen = """\nvalue.revenue_12m >= params.big\n  and margin > 0.1"""\nthen = "a"\n'
        "[[rules]]\nid = 'r2'\nwhen = 'value.bad_debt'\nthen = 'b'\n"
    ),
}

# pieces that have broken parsers before: deep brackets, long numbers,
# aliases, tags, control characters, unclosed strings, duplicate keys
HOSTILE = [
    "[" * 40, "{a: " * 40, "- " * 40, "9" * 120, "-" + "9" * 4400, "0x" + "f" * 200, "1e999", "-.inf", ".nan",
    "&a [*a, *a]", "*a", "&b [*b]", "!!python/object/apply:os.system ['true']", "!!binary AAAA", "!!set {a}",
    "<<: *a", "? [a, b]\n: c", "\x00", "\ufeff", "\t", "\r", "'", '"', '"""', "'''", "#", "\\", "\\u00", "%YAML 1.1\n---",
    "---\n", "...\n", "rules:\n", "id: x\nid: y\n", '"id": 1, "id": 2', "[[rules]]", "a.b.c.d.e = 1", "a = [[[[",
    "when: (((((", "when: a" + " and a" * 300, "then: 𝔘", "\udcff",
]
STRUCTURE = "{}[]:,-&*!#|>'\"\n =.0123456789abcdefxyz_"


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> str:
    text = seed
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "hostile", "delete", "replace", "truncate", "duplicate", "swap"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(st.text(alphabet=STRUCTURE, max_size=6)) + text[pos:]
        elif op == "hostile":
            text = text[:pos] + draw(st.sampled_from(HOSTILE)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)) :]
        elif op == "replace":
            text = text[:pos] + draw(st.text(max_size=3)) + text[pos + 1 :]
        elif op == "truncate":
            text = text[:pos]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                if op == "duplicate":
                    lines.insert(j, lines[i])
                else:
                    lines[i], lines[j] = lines[j], lines[i]
                text = "".join(lines)
    return text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@st.composite
def edited(draw: st.DrawFn, seed: Any, values: st.SearchStrategy[Any] = json_values) -> Any:
    """``seed`` with one value (anywhere in it) replaced."""
    path = draw(st.sampled_from(_paths(seed)))
    return _replace(seed, path, draw(values))


def _dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False)
    return yaml.safe_dump(data, allow_unicode=True)


policy_texts = st.one_of(
    *[st.tuples(st.just(fmt), mutated(text)) for fmt, text in SEED_TEXT.items()],
    st.tuples(st.sampled_from(["yaml", "json", "toml"]), st.text(alphabet=STRUCTURE, max_size=200)),
    st.tuples(st.sampled_from(["yaml", "json"]), edited(SEED_POLICY)).map(lambda p: (p[0], _dump(p[1], p[0]))),
    st.tuples(st.sampled_from(["yaml", "json"]), json_values).map(lambda p: (p[0], _dump(p[1], p[0]))),
)


def test_the_seeds_are_valid_policies() -> None:
    for fmt, text in SEED_TEXT.items():
        if fmt == "yaml":
            text = text.replace("x_anchor: &x [1, 2]\n", "")
        assert cr.load_policy(text, format=fmt, engine=engine()).id == "fuzzed"


@fuzz(150)
@given(policy_texts)
def test_policy_text_gives_a_policy_or_a_policy_error(case: tuple[str, str]) -> None:
    fmt, text = case
    try:
        policy = cr.load_policy(text, format=fmt, engine=engine())
    except cr.PolicyError as exc:
        assert exc.message
        return
    # what loads also verifies and runs without anything but library errors
    only_library_errors(lambda: engine().check(policy))


# -- records -----------------------------------------------------------------------------

HOSTILE_VALUES = st.one_of(
    json_values,
    st.sampled_from(
        [math.nan, math.inf, -math.inf, 10**30, -(10**30), 2**63, "", "abc", "2026/11/02", "2026-02-30", -1, 1e308,
         [{"at": "x"}], {"x": 1}, True, "\x00", "９９"]
    ),
)


@lru_cache(maxsize=1)
def seed_records() -> tuple[dict[str, Any], ...]:
    return tuple(c.model_dump(mode="json", exclude_none=True) for c in sample_customers(8, seed=3))


@st.composite
def records(draw: st.DrawFn) -> Any:
    seed = draw(st.sampled_from(seed_records()))
    record = seed
    for _ in range(draw(st.integers(1, 3))):
        record = draw(edited(record, HOSTILE_VALUES)) if isinstance(record, dict) else record
    return record


@fuzz(60)
@given(records())
def test_a_record_is_classified_or_refused_with_a_library_error(record: Any) -> None:
    eng = engine()
    only_library_errors(lambda: eng.classify(record, as_of=AS_OF))
    batch = eng.classify_many([record, seed_records()[0]], as_of=AS_OF)
    assert len(batch.profiles) + len(batch.rejected) == 2


# -- tables ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def seed_frame() -> pl.DataFrame:
    return cr.frame_from_records(sample_customers(12, seed=5))


COLUMN_VALUES = st.sampled_from(
    [
        [None] * 12,
        ["abc"] * 12,
        [math.nan] * 12,
        [math.inf, -math.inf] * 6,
        [10**18] * 12,
        [-1] * 12,
        [True, False] * 6,
        ["2026/11/02"] * 12,
        ["", "1", "x", None] * 3,
        [1.5, None] * 6,
    ]
)


@st.composite
def tables(draw: st.DrawFn) -> pl.DataFrame:
    frame = seed_frame()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "set", "drop", "add", "rows"]))
        column = draw(st.sampled_from(frame.columns))
        if op == "set":
            values = draw(COLUMN_VALUES)[: frame.height]
            values += [None] * (frame.height - len(values))
            try:
                series = pl.Series(column, values, strict=False)
            except Exception:  # polars cannot hold these together: not the library's input
                continue
            frame = frame.with_columns(series)
        elif op == "drop" and column != "id":
            frame = frame.drop(column)
        elif op == "add":
            frame = frame.with_columns(pl.lit(draw(st.sampled_from([1, "x", None, 1.5]))).alias(f"extra_{column}"))
        elif op == "rows":
            frame = frame.head(draw(st.integers(0, frame.height)))
    return frame


@fuzz(10)
@given(tables())
def test_a_table_is_classified_with_bad_rows_rejected(frame: pl.DataFrame) -> None:
    eng = engine()
    result = only_library_errors(lambda: eng.classify_frame_with_rejects(frame, as_of=AS_OF))
    if result is not None:
        assert result.frame.height + result.rejected.height == frame.height


# -- fitted files ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def fitted_text() -> str:
    return json.dumps(engine().fitted_, indent=1)


@lru_cache(maxsize=1)
def blank() -> cr.Engine:
    return cr.Engine(load_entry_points=False)


fitted_files = st.one_of(
    st.deferred(lambda: mutated(fitted_text())),
    st.deferred(lambda: edited(json.loads(fitted_text()), HOSTILE_VALUES)).map(json.dumps),
)


@fuzz(60)
@given(fitted_files)
def test_a_fitted_file_is_loaded_or_refused_with_a_library_error(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("fitted") / "cuts.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    eng = cr.Engine(load_entry_points=False) if LONG else blank()
    loaded = only_library_errors(lambda: eng.load_fitted(path))
    if loaded is not None:  # an edit the model accepts: it must still decide
        for c in seed_records()[:3]:
            only_library_errors(lambda c=c: loaded.classify(c, as_of=AS_OF))
        blank.cache_clear()


def test_the_atheris_target_runs_without_atheris() -> None:
    from fuzz.fuzz_policy import one_input

    for fmt, text in SEED_TEXT.items():
        one_input(bytes([["yaml", "json", "toml"].index(fmt)]) + text.encode("utf-8"))
    for piece in HOSTILE:
        one_input(b"\x00" + piece.encode("utf-8", "surrogatepass"))
