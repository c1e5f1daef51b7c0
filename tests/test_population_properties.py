"""Properties of the population-relative built-in schemes: shares follow the
parameters, a fitted engine classifies single records exactly as ranking the
population would, equal measures get equal labels, and staged fitting of a
measure that itself reads a population value."""

from __future__ import annotations

import datetime as dt
import doctest
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

AS_OF = dt.date(2026, 11, 22)
SCHEME_PLUGINS = tuple(p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes."))


@lru_cache(maxsize=64)
def engine_for(scheme: str, params: tuple[tuple[str, Any], ...] = ()) -> cr.Engine:
    """An engine with one built-in scheme (cached: ``fit`` replaces all learned cut-offs)."""
    block = tuple(p for p in SCHEME_PLUGINS if p != f"customer_rules.schemes.{scheme}")
    return cr.Engine(load_entry_points=False, block=block, params={scheme: dict(params)} if params else None)


def by_profit(values: list[float]) -> list[dict[str, Any]]:
    return [{"id": f"C{i:04d}", "value": {"profit_12m": v}} for i, v in enumerate(values)]


def decide_all(engine: cr.Engine, scheme: str, customers: list[dict[str, Any]]) -> list[str | None]:
    return [engine.decide(scheme, c, as_of=AS_OF).label for c in customers]


def reference_pyramid(values: list[float], shares: tuple[float, float, float]) -> list[str]:
    """Labels from ranking the population directly: a customer is in the top
    p % when fewer customers than the group size have a strictly higher value."""
    labels = []
    n = len(values)
    sizes = [int(p / 100 * n + 0.5) for p in shares]  # round half up
    for v in values:
        higher = sum(1 for w in values if w > v)
        label = "small"
        for name, size in zip(("vip", "major", "ordinary"), sizes, strict=True):
            if higher < size:
                label = name
                break
        labels.append(label)
    return labels


cumulative_shares = (
    st.lists(st.integers(0, 100), min_size=3, max_size=3)
    .map(sorted)
    .map(lambda xs: tuple(float(x) for x in xs))
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=400, unique=True),
    st.one_of(st.just((1.0, 5.0, 20.0)), cumulative_shares),
)
def test_pyramid_shares_follow_the_parameters(values: list[int], shares: tuple[float, float, float]) -> None:
    params = tuple(zip(("vip_top_pct", "major_top_pct", "ordinary_top_pct"), shares, strict=True))
    engine = engine_for("value_pyramid", params)
    customers = by_profit([float(v) for v in values])
    engine.fit(customers, as_of=AS_OF)
    counts = Counter(decide_all(engine, "value_pyramid", customers))
    n = len(values)
    cumulative = 0
    for label, share in zip(("vip", "major", "ordinary"), shares, strict=True):
        cumulative += counts[label]
        # distinct values: each cumulative group is p % of n, rounded (within one customer)
        assert abs(cumulative - share / 100 * n) <= 0.5 + 1e-9, (label, cumulative, share, n)
    assert sum(counts.values()) == n
    assert counts[None] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=250), cumulative_shares)
def test_pyramid_fitted_then_single_equals_ranking_the_population(
    values: list[int], shares: tuple[float, float, float]
) -> None:
    params = tuple(zip(("vip_top_pct", "major_top_pct", "ordinary_top_pct"), shares, strict=True))
    engine = engine_for("value_pyramid", params)
    customers = by_profit([float(v) for v in values])
    engine.fit(customers, as_of=AS_OF)
    expected = reference_pyramid([float(v) for v in values], shares)
    assert decide_all(engine, "value_pyramid", customers) == expected
    # the saved cut-offs classify each record alone the same way in another engine
    fresh = cr.Engine(
        load_entry_points=False,
        block=tuple(p for p in SCHEME_PLUGINS if not p.endswith(".value_pyramid")),
        params={"value_pyramid": dict(params)},
    ).load_fitted(engine.fitted_)
    one = len(customers) // 2
    assert fresh.decide("value_pyramid", customers[one], as_of=AS_OF).label == expected[one]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([-3.0, 0.0, 1.5, 7.0, 7.0, 100.0]), min_size=1, max_size=300))
def test_pyramid_equal_measures_get_equal_labels(values: list[float]) -> None:
    engine = engine_for("value_pyramid")
    customers = by_profit(values)
    engine.fit(customers, as_of=AS_OF)
    seen: dict[float, str | None] = {}
    for v, label in zip(values, decide_all(engine, "value_pyramid", customers), strict=True):
        assert seen.setdefault(v, label) == label


terminal_rows = st.tuples(
    st.sampled_from([1e4, 5e4, 5e4, 2e5, 1e6]),  # turnover (few values: many ties)
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(terminal_rows, min_size=1, max_size=150), st.sampled_from(["count", "percent"]))
def test_terminals_equal_inputs_get_equal_labels_and_refit_is_stable(
    rows: list[tuple[float, int, int, int]], by: str
) -> None:
    engine = engine_for("terminal_priority", (("by", by),))
    customers = [
        {
            "id": f"T{i:04d}",
            "kind": "terminal",
            "value": {"turnover": t, "consumer_resources": c, "economic_strength": e, "operating_level": o},
        }
        for i, (t, c, e, o) in enumerate(rows)
    ]
    engine.fit(customers)
    got = decide_all(engine, "terminal_priority", customers)
    seen: dict[tuple[float, int, int, int], str | None] = {}
    for row, label in zip(rows, got, strict=True):
        assert label is not None
        assert seen.setdefault(row, label) == label
    # ranks are monotone: a terminal at least as good on every input is never in a lower group
    order = {"key": 0, "secondary": 1, "regular": 2, "unranked": 3}
    for a, la in zip(rows, got, strict=True):
        for b, lb in zip(rows, got, strict=True):
            if all(x >= y for x, y in zip(a, b, strict=True)):
                assert la is not None and lb is not None and order[la] <= order[lb]
    # fitting again on the same population (in another order) changes nothing
    engine.fit(list(reversed(customers)))
    assert decide_all(engine, "terminal_priority", customers) == got


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([70.0, 80.0, 90.0, 95.0]), st.integers(0, 12)), min_size=1, max_size=150
    )
)
def test_licence_stars_equal_scores_get_equal_grades(rows: list[tuple[float, int]]) -> None:
    engine = engine_for("retail_license_grade")
    customers = [
        {"id": f"R{i:04d}", "kind": "retailer", "compliance": {"score": s, "business_score": float(b)}}
        for i, (s, b) in enumerate(rows)
    ]
    engine.fit(customers, as_of=AS_OF)
    got = decide_all(engine, "retail_license_grade", customers)
    seen: dict[tuple[float, int], str | None] = {}
    for row, label in zip(rows, got, strict=True):
        assert seen.setdefault(row, label) == label
    a_class = sum(1 for s, _ in rows if s >= 90)
    starred = sum(1 for label in got if label in {"A5", "A4", "A3", "A2", "A1"})
    # at least min(40, A-class) get a star; more only through ties at the cut-off
    assert starred >= min(40, a_class)


STAGED = """
id: staged
labels:
  - {id: top, zh: 前列, en: top}
  - {id: rest, zh: 其余, en: rest}
derive:
  share: percentile(value.turnover)
  score: 2 * share + value.operating_level
rules:
  - {id: top, when: "top(score, 2)", then: top}
  - {id: rest, when: "score is not missing", then: rest}
"""


def test_a_measure_reading_a_percentile_is_fitted_in_stages() -> None:
    policy = cr.load_policy(STAGED, format="yaml")
    engine = cr.Engine([policy], load_entry_points=False, block=SCHEME_PLUGINS)
    customers = [
        {"id": "A", "value": {"turnover": 10.0, "operating_level": 3}},  # 2 × 0.25 + 3 = 3.5
        {"id": "B", "value": {"turnover": 40.0, "operating_level": 1}},  # 2 × 1.00 + 1 = 3.0
        {"id": "C", "value": {"turnover": 30.0, "operating_level": 1}},  # 2 × 0.75 + 1 = 2.5
        {"id": "D", "value": {"turnover": 20.0, "operating_level": 0}},  # 2 × 0.50 + 0 = 1.0
    ]
    engine.fit(customers)
    assert [engine.decide("staged", c, as_of=AS_OF).label for c in customers] == [
        "top",
        "top",
        "rest",
        "rest",
    ]
    cuts = engine.fitted_["staged"]["cuts"]
    assert cuts["top(score, 2)"]["cutoff"] == 3.0
    assert cuts["percentile(value.turnover)"]["values"] == [10.0, 20.0, 30.0, 40.0]


def test_docs_population_examples_run() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "population.md"
    result = doctest.testfile(
        str(docs), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0
