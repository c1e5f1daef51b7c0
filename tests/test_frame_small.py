"""The small-table path of ``classify_frame``: below ``SMALL_ROWS`` rows the
default (``backend="auto"``) decides an already canonical, valid table row by
row with the record backend, without the frame backend's query. Its result
(frame, dtypes, rejected rows, warnings) is the frame backend's exactly; where
that is not sure it runs the frame backend itself (one test per such case).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
import record_namespace_plugin as firm_plugin
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import model_validator
from rules_support import AS_OF, engine
from test_frame_differential import policies, records

import customer_rules as cr
import customer_rules.engine.tables as tables
import customer_rules.model.tables as model_tables
from customer_rules.model.tables import records_as_given

BASE: dict[str, Any] = {
        "id": "t",
        "version": "1",
        "hit": "first",
        "labels": [{"id": "big", "zh": "大", "en": "Big"}, {"id": "small", "zh": "小", "en": "Small"}],
        "rules": [
            {"id": "r1", "when": "value.revenue_12m > 100", "then": "big"},
            {"id": "r2", "when": "open_cases >= 1", "then": "small"},
        ],
        "derive": {"spend": "value.revenue_12m * 2"},
        "scores": ["spend"],
}
POLICY = cr.Policy.model_validate(BASE)

ROWS = [
    {"id": "a", "value": {"revenue_12m": 500.0}},
    {"id": "b", "value": {"revenue_12m": 5.0}, "cases": [{"id": "k1", "opened_at": dt.date(2026, 1, 3)}]},
    {"id": "c", "identity": ["media"]},
]


def _run(e: cr.Engine, data: Any, **options: Any) -> tuple[cr.FrameResult | None, BaseException | None, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out: cr.FrameResult | None = e.classify_frame_with_rejects(data, as_of=options.pop("as_of", AS_OF), **options)
            error: BaseException | None = None
        except Exception as exc:  # both backends must fail alike
            out, error = None, exc
    # (a ResourceWarning is about another object's lifetime: an unclosed
    # connection of an earlier test the collector happened to finalise here)
    return out, error, [f"{w.category.__name__}: {w.message}" for w in caught if w.category is not ResourceWarning]


def _collected(x: Any) -> pl.DataFrame:
    if isinstance(x, pl.LazyFrame):
        return x.collect()
    if isinstance(x, pl.DataFrame):
        return x
    return pl.from_pandas(x)


def assert_as_frame_backend(e: cr.Engine, data: Any, **options: Any) -> None:
    """The default gives what ``backend="frame"`` gives: frame, dtypes,
    rejected rows, first error and warnings."""
    auto, auto_error, auto_warned = _run(e, data, **options)
    frame, frame_error, frame_warned = _run(e, data, backend="frame", **options)
    assert auto_warned == frame_warned
    if frame is None or auto is None:
        assert auto is None and frame is None, (auto_error, frame_error)
        assert type(auto_error) is type(frame_error) and str(auto_error) == str(frame_error)
        return
    assert type(auto.frame) is type(frame.frame)
    got, want = _collected(auto.frame), _collected(frame.frame)
    assert got.schema == want.schema  # names, order and dtypes (Enum categories too)
    assert_frame_equal(got, want, check_exact=True)
    assert_frame_equal(_collected(auto.rejected), _collected(frame.rejected), check_exact=True)
    assert (auto.n_rows, auto.n_rejected) == (frame.n_rows, frame.n_rejected)
    assert [(type(x), str(x)) for x in auto.errors] == [(type(x), str(x)) for x in frame.errors]


@pytest.fixture
def frame_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the frame backend ran (the small path does not run it)."""
    calls: list[int] = []
    real = tables.run_frame

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tables, "run_frame", spy)
    return calls


def _small_runs() -> tuple[list[bool], Callable[..., Any]]:
    taken: list[bool] = []
    real = tables.small_run

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        taken.append(out is not None)
        return out

    return taken, spy


def _null_cells(table: pl.DataFrame, cells: list[tuple[str, int]]) -> pl.DataFrame:
    """``table`` with these (column, row) cells set to null."""
    by_column: dict[str, list[int]] = {}
    for column, row in cells:
        by_column.setdefault(column, []).append(row)
    return table.with_columns(
        pl.when(pl.int_range(pl.len()).is_in(rows)).then(None).otherwise(pl.col(c)).alias(c)
        for c, rows in by_column.items()
    )


@st.composite
def nulled(draw: st.DrawFn, table: pl.DataFrame) -> pl.DataFrame:
    """``table``, mostly as it is, else with a few cells set to null (any
    column: ``id`` and nested lists too, which the table checks refuse)."""
    if draw(st.integers(0, 2)) > 0:
        return table
    cells = draw(
        st.lists(st.tuples(st.sampled_from(table.columns), st.integers(0, table.height - 1)), min_size=1, max_size=4)
    )
    return _null_cells(table, cells)


OPTIONS = st.fixed_dictionaries(
    {
        "reasons": st.booleans(),
        "flags": st.booleans(),
        "labels": st.booleans(),
        "scores": st.sampled_from([False, False, False, True]),  # scores: the frame backend always
    }
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=st.data(), policy=policies(), rows=st.lists(records(), min_size=1, max_size=8), options=OPTIONS)
def test_random_policies_small_path_is_the_frame_backend(
    data: st.DataObject, policy: dict[str, Any], rows: list[dict[str, Any]], options: dict[str, bool]
) -> None:
    try:
        e = engine(cr.Policy.model_validate(policy))
    except cr.PolicyError:  # pragma: no cover - the generator only builds well-typed policies
        assume(False)
        return
    table = cr.frame_from_records([{"id": f"c{i}", **r} for i, r in enumerate(rows)])
    table = data.draw(nulled(table))
    taken, spy = _small_runs()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "small_run", spy)
        assert_as_frame_backend(e, table, **options)
    event(f"small path taken: {any(taken)}")


@pytest.fixture(scope="module")
def sample() -> tuple[cr.Engine, pl.DataFrame]:
    records = cr.sample_customers(200)
    e = cr.Engine(load_entry_points=False).fit(records, as_of=cr.SAMPLE_AS_OF)
    return e, cr.frame_from_records(records)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), options=OPTIONS, lang=st.sampled_from(["en", "zh"]))
def test_builtin_schemes_small_path_is_the_frame_backend(
    sample: tuple[cr.Engine, pl.DataFrame], data: st.DataObject, options: dict[str, bool], lang: str
) -> None:
    e, table = sample
    rows = data.draw(st.lists(st.integers(0, table.height - 1), min_size=0, max_size=12))
    part = data.draw(nulled(table[rows])) if rows else table.clear()
    schemes = data.draw(st.none() | st.lists(st.sampled_from(sorted(e.schemes)), min_size=1, max_size=4, unique=True))
    taken, spy = _small_runs()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "small_run", spy)
        assert_as_frame_backend(e, part, as_of=cr.SAMPLE_AS_OF, schemes=schemes, lang=lang, **options)
    event(f"small path taken: {any(taken)}")


def test_a_canonical_valid_small_table_skips_the_frame_backend(frame_runs: list[int]) -> None:
    e = engine(POLICY)
    table = cr.frame_from_records(ROWS)
    out = e.classify_frame_with_rejects(table, as_of=AS_OF, flags=True, labels=True)
    assert frame_runs == []
    assert out.frame["t"].to_list() == ["big", "small", None]
    assert_as_frame_backend(e, table, flags=True, labels=True)
    frame_runs.clear()
    e.classify_frame_with_rejects(table, as_of=AS_OF, reasons=True, lang="zh")
    assert frame_runs == []
    assert_as_frame_backend(e, table, reasons=True, lang="zh")


@pytest.mark.parametrize("kind", ["lazy", "pandas"])
def test_other_kinds_of_input_give_the_frame_backend_result(kind: str) -> None:
    e = engine(POLICY)
    table = cr.frame_from_records(ROWS)
    data = table.lazy() if kind == "lazy" else pytest.importorskip("pandas") and table.to_pandas()
    assert_as_frame_backend(e, data, reasons=True)


def test_null_cells_are_read_as_the_table_checks_read_them(frame_runs: list[int]) -> None:
    """A null list cell of a field with a default (``identity``) is that
    default, a null item field with one (a case's ``repair_visits``) too."""
    e = engine(POLICY)
    table = cr.frame_from_records(ROWS)
    table = _null_cells(table, [("identity", 2), ("value.revenue_12m", 0)])
    table = table.with_columns(
        pl.col("cases").list.eval(pl.element().struct.with_fields(repair_visits=pl.lit(None, dtype=pl.List(pl.Date))))
    )
    assert_as_frame_backend(e, table, reasons=True)
    frame_runs.clear()
    e.classify_frame_with_rejects(table, as_of=AS_OF)
    assert frame_runs == []


def _store_engine() -> cr.Engine:
    return engine(POLICY)


FALLBACKS: dict[str, Callable[[pl.DataFrame], tuple[cr.Engine, Any, dict[str, Any]]]] = {
    "explicit frame backend": lambda t: (engine(POLICY), t, {"backend": "frame"}),
    "nested table given apart": lambda t: (
        engine(POLICY),
        t.drop("cases"),
        {"cases": pl.DataFrame({"customer_id": ["b"], "id": ["k1"], "opened_at": [dt.date(2026, 1, 3)]})},
    ),
    "underscored column names": lambda t: (engine(POLICY), t.rename({"value.revenue_12m": "value__revenue_12m"}), {}),
    "a column of another dtype": lambda t: (engine(POLICY), t.with_columns(pl.col("value.revenue_12m").cast(pl.Float32)), {}),
    "a nested list missing": lambda t: (engine(POLICY), t.drop("cases"), {}),
    "a column that is no field": lambda t: (engine(POLICY), t.with_columns(note=pl.lit("x")), {}),
    "an invalid row": lambda t: (engine(POLICY), _null_cells(t, [("id", 1)]), {}),
    "a required item field null": lambda t: (
        engine(POLICY),
        t.with_columns(pl.col("cases").list.eval(pl.element().struct.with_fields(opened_at=pl.lit(None, dtype=pl.Date)))),
        {},
    ),
    "scores": lambda t: (engine(POLICY), t, {"scores": True}),
    "as many rows as SMALL_ROWS": lambda t: (
        engine(POLICY),
        pl.concat([t.with_columns(pl.format("{}{}", "id", pl.lit(i)).alias("id")) for i in range(tables.SMALL_ROWS)]).head(
            tables.SMALL_ROWS
        ),
        {},
    ),
}


@pytest.mark.parametrize("case", list(FALLBACKS))
def test_unusual_tables_and_options_run_the_frame_backend(case: str, frame_runs: list[int]) -> None:
    e, data, options = FALLBACKS[case](cr.frame_from_records(ROWS))
    e.classify_frame_with_rejects(data, as_of=AS_OF, **options)
    assert frame_runs == [1]
    options.pop("backend", None)
    assert_as_frame_backend(e, data, **options)


def test_a_model_with_validators_of_its_own_is_not_read_row_wise() -> None:
    class Strict(cr.Customer):
        @model_validator(mode="after")
        def _check(self) -> Strict:
            return self

    table = cr.frame_from_records(ROWS)
    assert records_as_given(table, cr.Customer) is not None
    assert records_as_given(table, Strict) is None


def test_manual_overrides_run_the_frame_backend(frame_runs: list[int]) -> None:
    class Sticky:
        @cr.hookimpl
        def adjust_decision(self, decision: cr.Decision) -> cr.Override | None:
            return cr.Override(label="small", reason="VIP", author="me") if decision.record_id == "a" else None

    e = engine(POLICY, plugins=[Sticky()])
    with pytest.warns(UserWarning, match="adjust_decision hooks"):
        out = e.classify_frame(cr.frame_from_records(ROWS), as_of=AS_OF)
    assert frame_runs == [1]
    assert out["t"][0] == "big"  # not overridden: the frame backend does not apply overrides


def test_profile_observers_run_the_frame_backend(frame_runs: list[int]) -> None:
    seen: list[str] = []

    class Watcher:
        @cr.hookimpl
        def observe_profile(self, profile: Any) -> None:
            seen.append(profile.customer_id)

    e = engine(POLICY, plugins=[Watcher()])
    e.classify_frame(cr.frame_from_records(ROWS), as_of=AS_OF)
    assert frame_runs == [1]
    assert seen == []  # the frame backend calls no observer


def test_the_durable_record_backend_runs_the_frame_backend(frame_runs: list[int]) -> None:
    pytest.importorskip("durable", reason="durable_rules is not installed (CPython >= 3.13)")
    e = engine(POLICY, backend="durable")
    e.classify_frame(cr.frame_from_records(ROWS), as_of=AS_OF)
    assert frame_runs == [1]


def test_a_feature_without_frame_implementation_runs_the_frame_backend(frame_runs: list[int]) -> None:
    feat = cr.feature(type="number", description="twice the revenue", name="twice_revenue")(
        lambda customer, as_of: 2 * (customer.value.revenue_12m or 0)
    )

    class Features:
        @cr.hookimpl
        def register_features(self) -> Any:
            return feat

    policy = cr.Policy.model_validate(
        {**BASE, "id": "w", "rules": [{"id": "r1", "when": "twice_revenue > 100", "then": "big"}]}
    )
    e = engine(policy, plugins=[Features()])
    with pytest.warns(UserWarning, match="no frame implementation"):
        e.classify_frame(cr.frame_from_records(ROWS), as_of=AS_OF)
    assert frame_runs == [1]


def test_a_row_the_record_backend_cannot_decide_runs_the_frame_backend(frame_runs: list[int]) -> None:
    unique = cr.Policy.model_validate(
        {
            **BASE,
            "id": "u",
            "hit": "unique",
            "rules": [
                {"id": "r1", "when": "value.revenue_12m > 100", "then": "big"},
                {"id": "r2", "when": "value.revenue_12m > 200", "then": "small"},
            ],
        }
    )
    e = engine(unique)
    table = cr.frame_from_records(ROWS)
    out = e.classify_frame_with_rejects(table, as_of=AS_OF)
    assert frame_runs == [1]
    assert out.rejected["row"].to_list() == [0]
    assert_as_frame_backend(e, table)


def test_a_store_runs_the_frame_backend(tmp_path: Any, frame_runs: list[int]) -> None:
    table = cr.frame_from_records(ROWS)
    outs = []
    for name in ("auto", "frame"):
        with cr.DecisionStore(f"sqlite:///{tmp_path}/{name}.db") as store:
            e = _store_engine()
            kw: dict[str, Any] = {} if name == "auto" else {"backend": "frame"}
            outs.append(e.classify_frame(table, as_of=AS_OF, store=store, **kw))
    assert frame_runs == [1, 1]
    assert_frame_equal(outs[0], outs[1])


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="'auto', 'frame' or 'python'"):
        engine(POLICY).classify_frame(cr.frame_from_records(ROWS), as_of=AS_OF, backend="polars")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([{"id": "a", "value": {"revenue_12m": 3.0, "orders_12m": 3}}], "r1: when "),  # r1 decides
        # no rule: sensitivity is listed; revenue, missing too, is never read (orders 0)
        ([{"id": "a", "value": {"orders_12m": 0}}], "no rule matched; missing: value.price_sensitivity"),
        (
            [{"id": "a"}],
            "no rule matched; missing: value.orders_12m, value.revenue_12m, value.price_sensitivity",
        ),
    ],
)
def test_with_reasons_a_row_no_rule_decided_takes_the_small_path(
    rows: list[dict[str, Any]], reason: str, frame_runs: list[int]
) -> None:
    """A "no rule matched" reason lists the missing inputs, which both
    backends list alike (not an input evaluation stopped before)."""
    when = "(value.orders_12m > 1 and value.revenue_12m > 1) or value.price_sensitivity > 1"
    both = cr.Policy.model_validate(
        {**BASE, "id": "m", "derive": {}, "scores": [], "rules": [{"id": "r1", "when": when, "then": "big"}]}
    )
    e = engine(both)
    table = cr.frame_from_records(rows)
    got = e.classify_frame(table, as_of=AS_OF, reasons=True).get_column("m__reason").to_list()
    assert frame_runs == []
    assert got[0].startswith(reason)
    assert_as_frame_backend(e, table, reasons=True)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), rows=st.lists(records(), min_size=0, max_size=6), firm=st.booleans())
def test_records_read_row_wise_are_the_records_the_table_checks_give(
    data: st.DataObject, rows: list[dict[str, Any]], firm: bool
) -> None:
    """``records_as_given`` (polars' row conversion, transposed) gives the
    records ``records_from_frame`` builds through the table checks: null
    cells, and columns the table lacks (a plugin's namespace, for a table
    built for the core record), included. Where it gives None, those checks
    refuse a row or read a cell otherwise."""
    model = FIRM_MODEL if firm else cr.Customer
    table = cr.frame_from_records([{"id": f"c{i}", **r} for i, r in enumerate(rows)])
    if table.height:
        table = data.draw(nulled(table))
    dropped = data.draw(st.lists(st.sampled_from(table.columns), max_size=3, unique=True))
    table = table.drop(dropped)
    given_ = records_as_given(table, model)
    event(f"read row-wise: {given_ is not None}")
    if given_ is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_tables, "AS_GIVEN_ROWS", -1)  # records_from_frame through prepare's checks
        checked = cr.records_from_frame(table, model=model)
    assert [r.model_dump() for r in given_] == [r.model_dump() for r in checked]


def test_records_from_a_small_table_skip_the_table_checks_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """``records_from_frame`` reads a small canonical, valid table row-wise;
    a table it cannot read so (here an invalid row) still goes through
    ``prepare`` and its error names the row."""
    table = cr.frame_from_records(ROWS)
    expected = [r.model_dump() for r in cr.records_from_frame(table)]

    def no_query(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("prepare ran")

    monkeypatch.setattr(model_tables, "prepare", no_query)
    assert [r.model_dump() for r in cr.records_from_frame(table)] == expected
    monkeypatch.undo()
    with pytest.raises(cr.RecordError, match="row 1"):
        cr.records_from_frame(_null_cells(table, [("id", 1)]))


FIRM_MODEL = cr.Engine(plugins=[firm_plugin], load_entry_points=False).record_model


def test_a_table_for_the_core_record_takes_the_small_path_of_an_engine_with_namespaces(
    frame_runs: list[int],
) -> None:
    """A plugin's namespace columns are null when the table lacks them: the
    small path is still taken, with the frame backend's result."""
    e = cr.Engine([POLICY], plugins=[firm_plugin], load_entry_points=False)
    table = cr.frame_from_records(ROWS)
    assert "firm.nps" not in table.columns
    for data in (table, table.drop("birthday")):  # a core column the table lacks is null too
        frame_runs.clear()
        e.classify_frame_with_rejects(data, as_of=AS_OF, flags=True, labels=True)
        assert frame_runs == []
        assert_as_frame_backend(e, data, flags=True, labels=True)
