"""``by_pattern`` (backends/frame.py): a list column built once per distinct
combination of true/false facts gives what building it row by row gives,
and a policy with more flags than one whole number packs still gets the
python backend's flags."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine, policy

import customer_rules as cr
from customer_rules.backends.frame import PATTERN_BITS, by_pattern


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda width: st.lists(st.lists(st.none() | st.booleans(), min_size=width, max_size=width), min_size=1, max_size=40)
    )
)
def test_by_pattern_gives_the_row_by_row_value(rows: list[list[bool | None]]) -> None:
    width = len(rows[0])
    frame = pl.DataFrame({f"f{i}": [r[i] for r in rows] for i in range(width)}, schema={f"f{i}": pl.Boolean() for i in range(width)})
    facts = [pl.col(f"f{i}") for i in range(width)]

    def value(holds: Any) -> pl.Expr:
        return pl.concat_list([pl.when(holds(i)).then(pl.lit(f"fact {i}")) for i in range(width)]).list.drop_nulls()

    got = frame.select(by_pattern(facts, value).alias("v")).get_column("v").to_list()
    want = frame.select(value(lambda i: facts[i]).alias("v")).get_column("v").to_list()
    assert got == want


def test_more_flags_than_one_pattern_holds_are_listed_as_python_lists_them() -> None:
    flags = [
        {"id": f"f{i:02d}", "when": f"value.orders_12m >= {i}", "en": f"orders {i}", "zh": f"订单数达 {i}"}
        for i in range(PATTERN_BITS + 2)
    ]
    e = engine(policy([{"id": "r", "when": "value.orders_12m >= 1", "then": "yes"}], flags=flags))
    records = [{"id": f"c{n}", "value": {"orders_12m": n}} for n in (0, 3, PATTERN_BITS + 1)] + [{"id": "none"}]
    frame = e.classify_frame(cr.frame_from_records(records), as_of=AS_OF, flags=True, backend="frame")
    want = [list(e.decide("t", r, as_of=AS_OF).flags) for r in records]
    assert frame.get_column("t__flags").to_list() == want
    assert len(want[2]) == PATTERN_BITS + 2
