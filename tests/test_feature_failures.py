"""A plugin's feature that fails for one customer (issue 13, item 2).

A feature is third-party code: a ``ZeroDivisionError`` for one customer, or
``"abc"`` where a number is declared, must be a :class:`PluginError` naming
the plugin, the feature and the customer. In a batch only that row is
rejected, with that reason; rows in = rows out + rows rejected.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.lang.types import T_NUMBER
from customer_rules.model.features import value_problem

AS_OF = "2026-11-22"

# the test feature has no polars version: the frame backend computes it row by row
pytestmark = [
    pytest.mark.filterwarnings("ignore:feature\\(s\\) revenue_per_visit have no frame implementation"),
    pytest.mark.usefixtures("frame_backend"),  # the frame backend, also on small tables
]

POLICY = """
id: per_visit
version: "1"
hit: first
labels:
  - {id: high, zh: 高, en: High}
  - {id: low, zh: 低, en: Low}
rules:
  - id: big
    when: revenue_per_visit > 1000
    then: high
default: low
"""


def _plugin(func: Any, *, type_: str = "number", frame: Any = None) -> SimpleNamespace:
    feat = cr.feature(
        type=type_, description="revenue per repair visit", name="revenue_per_visit", frame=frame
    )(func)

    @cr.hookimpl
    def register_features() -> Any:
        return feat

    return SimpleNamespace(__name__="acme_features", register_features=register_features)


def _visits(customer: Any) -> int:
    return int(customer.id[1:]) % 3  # C3, C6, ... have no visits


def _divide(customer: Any, as_of: Any) -> Any:
    return 5000 / _visits(customer)  # ZeroDivisionError for one customer in three


def _text_for_c4(customer: Any, as_of: Any) -> Any:
    return "abc" if customer.id == "C4" else 5000


def _engine(func: Any, backend: str = "python") -> cr.Engine:
    engine = cr.Engine(plugins=[_plugin(func)], load_entry_points=False, backend=backend)
    engine.add_scheme(cr.load_policy(POLICY, format="yaml", engine=engine))
    return engine


CUSTOMERS = [{"id": f"C{i}", "value": {"revenue_12m": 1000 * i}} for i in range(1, 10)]


def test_classify_names_plugin_feature_and_customer() -> None:
    engine = _engine(_divide)
    with pytest.raises(cr.PluginError) as info:
        engine.classify(CUSTOMERS[2], as_of=AS_OF)
    err = info.value
    assert err.plugin == "acme_features"
    assert "feature 'revenue_per_visit' failed for customer 'C3': ZeroDivisionError" in str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert engine.classify(CUSTOMERS[0], as_of=AS_OF)["per_visit"].label == "high"


def test_a_wrong_type_is_a_plugin_error_not_a_type_error() -> None:
    engine = _engine(_text_for_c4)
    with pytest.raises(
        cr.PluginError,
        match=r"feature 'revenue_per_visit' for customer 'C4' returned 'abc' \(str\), not a number",
    ):
        engine.classify(CUSTOMERS[3], as_of=AS_OF)


@pytest.mark.parametrize("func", [_divide, _text_for_c4])
def test_classify_many_rejects_only_the_failing_rows(func: Any) -> None:
    batch = _engine(func).classify_many(CUSTOMERS, as_of=AS_OF)
    bad = {"C3", "C6", "C9"} if func is _divide else {"C4"}
    assert {r.record_id for r in batch.rejected} == bad
    assert all(
        isinstance(r.error, cr.PluginError) and "revenue_per_visit" in r.reason for r in batch.rejected
    )
    assert len(batch.profiles) + len(batch.rejected) == len(CUSTOMERS)
    assert {p.customer_id for p in batch.profiles} == {c["id"] for c in CUSTOMERS} - bad


@pytest.mark.parametrize("backend", ["frame", "python"])
@pytest.mark.parametrize("func", [_divide, _text_for_c4])
def test_classify_frame_with_rejects_rejects_only_the_failing_rows(func: Any, backend: Any) -> None:
    table = cr.frame_from_records(CUSTOMERS)
    result = _engine(func).classify_frame_with_rejects(table, as_of=AS_OF, backend=backend)
    bad = ["C3", "C6", "C9"] if func is _divide else ["C4"]
    assert result.rejected.get_column("id").to_list() == bad
    assert all("plugin 'acme_features'" in r and "revenue_per_visit" in r for r in result.rejected["reason"])
    assert result.frame.height + result.rejected.height == table.height
    assert result.frame.get_column("per_visit").cast(pl.String).to_list() == ["high"] * (9 - len(bad))


def test_the_durable_backend_reports_it_the_same_way() -> None:
    pytest.importorskip("durable", reason="durable_rules is not installed (CPython >= 3.13)")
    engine = _engine(_divide, backend="durable")
    batch = engine.classify_many(CUSTOMERS, as_of=AS_OF)
    assert {r.record_id for r in batch.rejected} == {"C3", "C6", "C9"}
    assert all(isinstance(r.error, cr.PluginError) for r in batch.rejected)


_RETURNS: dict[str, Any] = {}  # what the feature of the property test returns, by customer id
_RETURNING = _engine(lambda customer, as_of: _RETURNS[customer.id])


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-(10**6), 10**6),
            st.floats(allow_nan=True),
            st.text(max_size=3),
            st.none(),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_rows_in_equal_rows_out_plus_rejected(values: list[Any]) -> None:
    """Whatever a feature returns, a batch classifies or rejects every row, nothing raw escapes."""
    _RETURNS.clear()
    _RETURNS.update({f"C{i}": v for i, v in enumerate(values)})
    customers = [{"id": k} for k in _RETURNS]
    ok = {k for k, v in _RETURNS.items() if value_problem(v, T_NUMBER) is None}
    batch = _RETURNING.classify_many(customers, as_of=AS_OF)
    assert len(batch.profiles) + len(batch.rejected) == len(values)
    assert {p.customer_id for p in batch.profiles} == ok
    table = _RETURNING.classify_frame_with_rejects(cr.frame_from_records(customers), as_of=AS_OF)
    assert table.frame.height + table.rejected.height == len(values)
    assert set(table.frame.get_column("id").to_list()) == ok
