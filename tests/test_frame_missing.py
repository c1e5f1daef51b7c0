"""The missing inputs a reason lists: the frame backend's list is the python
backend's (``Decision.missing``), item for item and in the same order.

Both list, rule by rule among the rules that could not be decided, each
rule's inputs in the order it names them, every input once. The rules here
are flat ``and`` / ``or`` chains of comparisons: an undecided chain has read
every operand, so "read and missing" (python) and "missing" (frame) are the
same inputs.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, YES_NO, engine, policy

import customer_rules as cr
from customer_rules.backends.frame import reason_of

FIELDS = ["value.orders_12m", "value.price_sensitivity", "satisfaction.survey_score", "value.revenue_12m"]

comparison = st.tuples(st.sampled_from(FIELDS), st.sampled_from([">=", "<", "=="]), st.integers(0, 4)).map(
    lambda t: f"{t[0]} {t[1]} {t[2]}"
)
condition = st.tuples(st.lists(comparison, min_size=1, max_size=4), st.sampled_from([" and ", " or "])).map(
    lambda t: t[1].join(t[0])
)


def _record(i: int, values: list[int | None]) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": f"c{i}", "value": {}, "satisfaction": {}}
    for path, v in zip(FIELDS, values, strict=True):
        if v is not None:
            ns, name = path.split(".")
            rec[ns][name] = v
    return rec


@settings(max_examples=60, deadline=None)
@given(
    whens=st.lists(condition, min_size=1, max_size=5),
    rows=st.lists(st.lists(st.none() | st.integers(1, 3), min_size=4, max_size=4), min_size=1, max_size=6),
    default=st.none() | st.just("no"),
)
def test_frame_reasons_list_the_missing_inputs_as_python_does(
    whens: list[str], rows: list[list[int | None]], default: str | None
) -> None:
    rules = [{"id": f"r{i}", "when": w, "then": "yes"} for i, w in enumerate(whens)]
    e = engine(policy(rules, labels=YES_NO, default=default))
    records = [_record(i, r) for i, r in enumerate(rows)]
    frame = e.classify_frame(cr.frame_from_records(records), as_of=AS_OF, reasons=True, backend="frame")
    got = frame.get_column("t__reason").to_list()
    want = [reason_of(e.decide("t", r, as_of=AS_OF)) for r in records]
    assert got == want


def test_an_input_named_by_a_decided_rule_first_is_listed_where_the_undecided_rule_names_it() -> None:
    # r0 is false (orders_12m 0) and names survey_score first; r1 is undecided
    # and names price_sensitivity first: the list follows r1, the rule that
    # could not be decided
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
    rec = {"id": "c1", "value": {"orders_12m": 0}}
    d = e.decide("t", rec, as_of=AS_OF)
    assert d.missing == ("value.price_sensitivity", "satisfaction.survey_score")
    frame = e.classify_frame(cr.frame_from_records([rec]), as_of=AS_OF, reasons=True, backend="frame")
    assert frame.get_column("t__reason").to_list() == [
        "no rule matched; missing: value.price_sensitivity, satisfaction.survey_score"
    ]
