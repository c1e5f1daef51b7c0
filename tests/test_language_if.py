"""The ``if(condition, a, b)`` function of the condition language and the
``details`` policy key (values every explanation shows)."""

from __future__ import annotations

from typing import Any

import pytest
from rules_support import AS_OF, engine, matches, policy, record, value

import customer_rules as cr


def rev(**fields: Any) -> dict[str, Any]:
    return record(value=fields)


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [(10, "big"), (5, "small"), (None, None)],
)
def test_if_chooses_a_branch_and_a_missing_condition_is_missing(
    revenue: int | None, expected: str | None
) -> None:
    assert value('if(value.revenue_12m > 5, "big", "small")', rev(revenue_12m=revenue)) == expected


def test_if_evaluates_only_the_chosen_branch() -> None:
    # the other branch's missing value does not make the result missing ...
    assert value("if(true, value.profit_12m, value.revenue_12m)", rev(profit_12m=3.0)) == 3.0
    assert value("if(false, value.profit_12m, value.revenue_12m)", rev(revenue_12m=4.0)) == 4.0
    # ... and is neither read nor reported missing
    p = policy(
        [
            {
                "id": "r",
                "when": 'if(params.pick == "p", value.profit_12m, value.revenue_12m) > 1',
                "then": "yes",
            }
        ],
        params={"pick": "p"},
    )
    decision = engine(p).decide("t", rev(), as_of=AS_OF)
    assert decision.label is None
    assert decision.missing == ("value.profit_12m",)
    assert "value.revenue_12m" not in decision.evidence


def test_if_picks_a_field_by_parameter() -> None:
    expr = 'if(params.m == "profit", value.profit_12m, value.revenue_12m) >= 10'
    data = rev(profit_12m=20.0, revenue_12m=1.0)
    assert matches(expr, data, params={"m": "profit"})
    assert not matches(expr, data, params={"m": "revenue"})


def test_if_result_types() -> None:
    assert value('if(kind == "person", 1, 2)', record(kind="person")) == 1
    assert (
        value("if(value.bad_debt, 2026-01-01, 2026-02-01)", rev(bad_debt=False)).isoformat() == "2026-02-01"
    )
    # a string from if() keeps the allowed values of both branches: a typo is caught
    with pytest.raises(cr.PolicyError, match="not an allowed value"):
        matches('if(true, kind, behaviour.speech_pace) == "retialer"')


@pytest.mark.parametrize(
    "expr",
    [
        "if(1, 2, 3) > 0",  # the condition must be true/false
        'if(true, 1, "a") == 1',  # branches of one type
        "if(true, 1) > 0",  # three arguments
        "if(true, identity, identity) == 1",  # single values only
    ],
)
def test_if_type_errors_are_policy_errors(expr: str) -> None:
    with pytest.raises(cr.PolicyError):
        matches(expr)


def test_details_are_always_shown_in_the_explanation() -> None:
    p = policy(
        [{"id": "r", "when": "value.revenue_12m > 5", "then": "yes"}],
        derive={"note": 'if(value.bad_debt, "written off", "")', "orders": "value.orders_12m"},
        details={"note": {"en": "debt", "zh": "欠款"}, "orders": {"en": "orders", "zh": "订单"}},
    )
    e = engine(p)
    decision = e.decide("t", rev(revenue_12m=10, bad_debt=True, orders_12m=4), as_of=AS_OF)
    assert decision.details() == {"debt": "written off", "orders": "4"}
    assert "  debt: written off" in decision.explain(detail="full")
    assert "  欠款：written off" in decision.explain(lang="zh", detail="full")
    # shown whatever decided, an empty text as a dash and a missing value as missing
    other = e.decide("t", rev(revenue_12m=1, bad_debt=False), as_of=AS_OF)
    assert other.details() == {"debt": "—", "orders": "missing"}
    assert other.details("zh") == {"欠款": "—", "订单": "缺失"}


def test_details_must_name_derived_values() -> None:
    text = "id: t\nlabels: [{id: ok, zh: 好, en: OK}]\ndetails:\n  nothing: {en: x}\n"
    with pytest.raises(cr.PolicyError, match="not a derived value") as info:
        cr.load_policy(text, format="yaml")
    assert info.value.line == 4
