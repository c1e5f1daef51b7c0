"""Hysteresis: a customer keeps their previous label unless the change is clear."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

AS_OF = dt.date(2026, 6, 1)

POLICY = """
id: tier
labels:
  - {id: key, zh: 重点, en: Key}
  - {id: regular, zh: 普通, en: Regular}
stability: {margin: 0.1, min_days: 30}
rules:
  - {id: big, when: "value.revenue_12m >= 1000", then: key}
default: regular
"""


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    return cr.Engine([cr.load_policy(POLICY, format="yaml")], load_entry_points=False)


def customer(revenue: float, previous: str | None = None, since: str = "2026-01-01") -> dict[str, object]:
    grades = [{"scheme": "tier", "label": previous, "since": since}] if previous else []
    return {"id": "X", "value": {"revenue_12m": revenue}, "grades": grades}


@pytest.mark.parametrize(
    ("revenue", "previous", "expected", "kept"),
    [
        (950, "key", "key", True),  # demotion inside the 10% margin (threshold relaxed to 900)
        (900, "key", "key", True),  # exactly at the relaxed threshold
        (899, "key", "regular", False),  # below it: the demotion happens
        (1050, "regular", "regular", True),  # promotion inside the margin (needs 1100)
        (1100, "regular", "key", False),  # at the tightened threshold: promoted
        (1200, None, "key", False),  # no history: the rules alone decide
        (500, "regular", "regular", False),  # no change: nothing to stabilise
    ],
)
def test_margin(engine: cr.Engine, revenue: float, previous: str | None, expected: str, kept: bool) -> None:
    d = engine.decide("tier", customer(revenue, previous), as_of=AS_OF)
    assert d.label == expected
    assert (d.note is not None and "hysteresis" in d.note) is kept
    if kept:
        assert "margin" in d.explain(detail="full")


def test_min_days_keeps_a_new_label(engine: cr.Engine) -> None:
    d = engine.decide("tier", customer(10, "key", since="2026-05-20"), as_of=AS_OF)
    assert d.label == "key"
    assert d.rule is None
    assert "held 12 of the 30 days" in (d.note or "")


def test_min_days_elapsed_allows_the_change(engine: cr.Engine) -> None:
    d = engine.decide("tier", customer(10, "key", since="2026-05-02"), as_of=AS_OF)
    assert d.label == "regular"


def test_future_grades_are_ignored(engine: cr.Engine) -> None:
    # a grade dated after as_of is not the previous label at as_of
    d = engine.decide("tier", customer(950, "key", since="2026-07-01"), as_of=AS_OF)
    assert d.label == "regular"
    assert d.note is None


def test_latest_grade_is_the_previous_one(engine: cr.Engine) -> None:
    c = {
        "id": "X",
        "value": {"revenue_12m": 950},
        "grades": [
            {"scheme": "tier", "label": "regular", "since": "2025-01-01"},
            {"scheme": "tier", "label": "key", "since": "2026-01-01"},
        ],
    }
    assert engine.decide("tier", c, as_of=AS_OF).label == "key"


def test_stability_is_validated() -> None:
    bad = POLICY.replace("margin: 0.1", "margin: 1.5")
    with pytest.raises(cr.PolicyError, match="margin"):
        cr.load_policy(bad, format="yaml")


# -- the hysteresis rewrite (customer_rules.lang.stability) -----------------------------

REWRITE = """
id: rw
labels:
  - {id: a, zh: 甲, en: A}
  - {id: b, zh: 乙, en: B}
params: {floor: 200, flag: true}
derive:
  big: "value.revenue_12m > 500"
stability: {margin: 0.1}
rules:
  - {id: r1, when: "value.revenue_12m >= 1000 and value.orders_12m < 10", then: a}
  - {id: r2, when: "value.revenue_12m >= params.floor and days_since(deal.first_contact_at) > 30d", then: a}
  - {id: r3, when: "big and value.bad_debt == params.flag and value.revenue_12m between 1 and 5", then: b}
  - {id: r4, when: "value.revenue_12m >= -5", then: b}
"""


def _checked() -> object:
    from customer_rules.lang.compile import check_policy

    engine = cr.Engine(load_entry_points=False)
    return check_policy(cr.load_policy(REWRITE, format="yaml"), engine.namespace)


def test_the_rewrite_moves_ordering_thresholds_against_passing_them() -> None:
    from customer_rules.lang.ast import to_text
    from customer_rules.lang.stability import shifted

    checked = _checked()
    up = shifted(checked, 0.1)  # type: ignore[arg-type]
    texts = [to_text(r.node) for r in up.rules]
    assert texts[0] == "value.revenue_12m >= 1100.0 and value.orders_12m < 9.0"
    # a parameter stays a parameter (it is still evidence); a duration becomes days
    assert texts[1] == "value.revenue_12m >= params.floor + 20.0 and days_since(deal.first_contact_at) > 33.0"
    # booleans, between and equality do not move; derived values do
    assert texts[2] == to_text(checked.rules[2].node)  # type: ignore[attr-defined]
    assert to_text(up.derived[0][1]) == "value.revenue_12m > 550.0"
    # a negative constant written with a minus sign is not a literal: it stays
    assert texts[3] == to_text(checked.rules[3].node)  # type: ignore[attr-defined]
    down = shifted(checked, -0.1)  # type: ignore[arg-type]
    assert to_text(down.rules[0].node) == "value.revenue_12m >= 900.0 and value.orders_12m < 11.0"
    assert to_text(down.rules[1].node).startswith("value.revenue_12m >= params.floor - 20.0")
    assert shifted(checked, 0.0) is checked  # type: ignore[arg-type]


def test_the_rewrite_moves_cut_offs_but_not_percentiles() -> None:
    from customer_rules.lang.population import Cut
    from customer_rules.lang.stability import shifted_cuts

    cuts = {"top": Cut("top", 100.0, 3, 10), "none": Cut("top", None, 0, 0), "pct": Cut("percentile", None, 0, 2, (1.0, 2.0))}
    moved = shifted_cuts(cuts, 0.1)
    assert moved is not None
    assert moved["top"].cutoff == pytest.approx(110.0)
    assert moved["none"] == cuts["none"] and moved["pct"] == cuts["pct"]
    assert shifted_cuts(None, 0.1) is None


@settings(max_examples=200, deadline=None)
@given(
    c=st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False)),
    x=st.one_of(st.none(), st.floats(-2e6, 2e6, allow_nan=False)),
    op=st.sampled_from(["<", "<=", ">", ">="]),
    shift=st.sampled_from([-0.25, -0.1, 0.1, 0.25]),
)
def test_every_backend_compiles_the_rewrite_to_the_moved_threshold(
    c: float, x: float | None, op: str, shift: float
) -> None:
    import polars as pl

    from customer_rules.backends.frame import FeatureTable, FrameCompiler
    from customer_rules.backends.python import Compiler, Context
    from customer_rules.lang.compile import check_policy
    from customer_rules.lang.stability import shift_value, shifted

    text = f"value.growth_rate {op} {c!r}" if c >= 0 else f"value.growth_rate {op} params.c"
    policy = cr.Policy.model_validate(
        {
            "id": "p",
            "labels": [{"id": "a", "zh": "甲", "en": "A"}],
            "params": {"c": c},
            "rules": [{"id": "r", "when": text, "then": "a"}],
        }
    )
    checked = check_policy(policy, cr.Engine(load_entry_points=False).namespace)
    node = shifted(checked, shift).rules[0].node
    moved = shift_value(op, c, shift)
    expected = None if x is None else {"<": x < moved, "<=": x <= moved, ">": x > moved, ">=": x >= moved}[op]
    record = cr.Customer.model_validate({"id": "a", "value": {"growth_rate": x}})
    assert Compiler(checked).compile(node)(Context(record, AS_OF)) == expected
    frame = pl.DataFrame({"value.growth_rate": [x]}, schema={"value.growth_rate": pl.Float64()})
    comp = FrameCompiler(checked, scheme="p", as_of=AS_OF, features=FeatureTable())
    assert frame.select(comp.compile(node)).item() == expected


def test_hysteresis_runs_through_the_rewrite_on_every_backend(engine: cr.Engine) -> None:
    import polars as pl

    rows = [customer(r, p) for r, p in [(950, "key"), (899, "key"), (1050, "regular"), (1100, "regular")]]
    by_record = [engine.decide("tier", r, as_of=AS_OF).label for r in rows]
    assert by_record == ["key", "regular", "regular", "key"]
    table = cr.frame_from_records(rows)
    assert engine.classify_frame(table, as_of=AS_OF)["tier"].cast(pl.String).to_list() == by_record
