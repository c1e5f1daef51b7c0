"""The missing inputs a reason lists: the frame backend's list is the python
backend's (``Decision.missing``), item for item and in the same order.

Both list the inputs the rules that could not be decided name, in the
order the policy first names them, every input once, among the inputs the
python backend's evaluation read: ``and`` stops at a false
operand, ``or`` at a true one, ``if`` takes one branch, ``coalesce`` stops
at the first known argument, a comparison or sum reads its second operand
only when the first is known (the frame backend computes where each input
is read, ``backends/frame.py:_reads``). Every derived value and flag is
evaluated, so what they read counts too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, YES_NO, engine, policy

import customer_rules as cr
from customer_rules.backends.frame import reason_of

FIELDS = ["value.orders_12m", "value.price_sensitivity", "satisfaction.survey_score", "value.revenue_12m"]

operand = st.sampled_from(
    [
        *FIELDS,
        "coalesce(value.orders_12m, value.revenue_12m)",
        "value.orders_12m * value.price_sensitivity",
        "level",
        "days_since_contact",
        "repair_visits_within(30)",
    ]
)
comparison = st.tuples(operand, st.sampled_from([">=", "<", "=="]), st.integers(0, 4) | st.sampled_from(FIELDS)).map(
    lambda t: f"{t[0]} {t[1]} {t[2]}"
)
# nested and/or/not (parenthesised), so that evaluation stops before some inputs
condition = st.recursive(
    comparison,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda c: f"not {c}"),
    ),
    max_leaves=5,
)
DERIVE = {
    # read by rules: one branch or the other
    "level": "if(satisfaction.survey_score >= 2, value.price_sensitivity, 0)",
    # read by no rule: evaluated all the same (it is evidence)
    "spare": "if(value.orders_12m >= 3, value.revenue_12m, value.price_sensitivity)",
}
FLAGS = [{"id": "active", "when": "value.orders_12m >= 3 or value.revenue_12m >= 3", "zh": "活跃", "en": "active"}]


def _record(i: int, values: list[int | None]) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": f"c{i}", "value": {}, "satisfaction": {}}
    for path, v in zip(FIELDS, values, strict=True):
        if v is not None:
            ns, name = path.split(".")
            rec[ns][name] = v
    return rec


@settings(max_examples=100, deadline=None)
@given(
    whens=st.lists(condition, min_size=1, max_size=4),
    rows=st.lists(st.lists(st.none() | st.integers(1, 3), min_size=4, max_size=4), min_size=1, max_size=6),
    default=st.none() | st.just("no"),
    flags=st.booleans(),
)
def test_frame_reasons_list_the_missing_inputs_as_python_does(
    whens: list[str], rows: list[list[int | None]], default: str | None, flags: bool
) -> None:
    rules = [{"id": f"r{i}", "when": w, "then": "yes"} for i, w in enumerate(whens)]
    e = engine(policy(rules, labels=YES_NO, default=default, derive=DERIVE, flags=FLAGS))
    records = [_record(i, r) for i, r in enumerate(rows)]
    table = cr.frame_from_records(records)
    frame = e.classify_frame(table, as_of=AS_OF, reasons=True, flags=flags, backend="frame")
    got = frame.get_column("t__reason").to_list()
    want = [reason_of(e.decide("t", r, as_of=AS_OF)) for r in records]
    assert got == want


def _both(when: str, rec: dict[str, Any], **extra: Any) -> tuple[str, ...]:
    """``Decision.missing`` for ``rec``, after checking the frame backend's reason says the same."""
    e = engine(policy([{"id": "r0", "when": when, "then": "yes"}], **extra))
    d = e.decide("t", rec, as_of=AS_OF)
    frame = e.classify_frame(cr.frame_from_records([rec]), as_of=AS_OF, reasons=True, backend="frame")
    assert frame.get_column("t__reason").to_list() == [reason_of(d)]
    return d.missing


def test_an_input_evaluation_stopped_before_is_not_listed() -> None:
    # orders_12m is 0: the "and" is false without reading revenue
    when = "(value.orders_12m >= 1 and value.revenue_12m >= 1) or satisfaction.survey_score >= 1"
    assert _both(when, {"id": "c1", "value": {"orders_12m": 0}}) == ("satisfaction.survey_score",)
    # a parameter choosing the measure: the other one is never read
    when = 'if(params.m == "profit", value.profit_12m, value.revenue_12m) > 1'
    assert _both(when, {"id": "c1"}, params={"m": "profit"}) == ("value.profit_12m",)


def test_an_input_read_elsewhere_is_listed() -> None:
    # the rule stops before revenue; a flag reads it, so it is read and missing
    when = "(value.orders_12m >= 1 and value.revenue_12m >= 1) or satisfaction.survey_score >= 1"
    flags = [{"id": "f", "when": "value.revenue_12m >= 1", "zh": "有收入", "en": "has revenue"}]
    rec = {"id": "c1", "value": {"orders_12m": 0}}
    assert _both(when, rec, flags=flags) == ("value.revenue_12m", "satisfaction.survey_score")


def test_inputs_are_listed_in_the_order_the_policy_first_names_them() -> None:
    # r0 is false (orders_12m 0) and names survey_score first; r1 is undecided
    # and names price_sensitivity first: the list follows the policy, so the
    # same inputs read the same on every row, whichever rules were undecided
    e = engine(
        policy(
            [
                {"id": "r0", "when": "satisfaction.survey_score >= 1 and value.orders_12m >= 1", "then": "yes"},
                {
                    "id": "r1",
                    "when": "value.price_sensitivity >= 1 or satisfaction.survey_score >= 1",
                    "then": "yes",
                },
            ]
        )
    )
    recs = [{"id": "c1", "value": {"orders_12m": 0}}, {"id": "c2"}]
    assert [e.decide("t", r, as_of=AS_OF).missing for r in recs] == [
        ("satisfaction.survey_score", "value.price_sensitivity"),
        ("satisfaction.survey_score", "value.orders_12m", "value.price_sensitivity"),
    ]
    frame = e.classify_frame(cr.frame_from_records(recs), as_of=AS_OF, reasons=True, backend="frame")
    assert frame.get_column("t__reason").to_list() == [
        "no rule matched; missing: satisfaction.survey_score, value.price_sensitivity",
        "no rule matched; missing: satisfaction.survey_score, value.orders_12m, value.price_sensitivity",
    ]


def test_population_functions_read_their_condition_once_the_measure_is_known() -> None:
    p = policy(
        [
            {
                "id": "r0",
                "when": "top_pct_within(value.revenue_12m, 20, value.orders_12m >= 2) or satisfaction.survey_score >= 2",
                "then": "yes",
            },
            {"id": "r1", "when": "percentile(value.profit_12m) >= 0.5 and value.price_sensitivity <= 1", "then": "no"},
        ]
    )
    e = engine(p)
    population = [
        {"id": f"p{i}", "value": {"revenue_12m": float(i), "orders_12m": i % 4, "profit_12m": float(i % 7)}}
        for i in range(50)
    ]
    e.fit(population, as_of=AS_OF)
    records = [
        {"id": "a"},  # no revenue: the condition (orders) is not read
        {"id": "b", "value": {"revenue_12m": 45.0}},  # revenue known: orders read, and missing
        {"id": "c", "value": {"revenue_12m": 1.0}, "satisfaction": {"survey_score": 1}},
        {"id": "d", "value": {"profit_12m": 6.0}},  # high profit: sensitivity read
    ]
    want = [reason_of(e.decide("t", r, as_of=AS_OF)) for r in records]
    frame = e.classify_frame(cr.frame_from_records(records), as_of=AS_OF, reasons=True, backend="frame")
    assert frame.get_column("t__reason").to_list() == want
    assert "value.orders_12m" not in want[0] and "value.orders_12m" in want[1]
