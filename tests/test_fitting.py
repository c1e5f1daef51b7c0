"""Fitting (customer_rules.engine.fitting): one module for records and tables;
the cut-offs are learned with polars, the same way for both."""

from __future__ import annotations

import bisect
import math
import random

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.engine.fitting import cuts_from_records, cuts_from_table, learn, table_population
from customer_rules.lang.ast import Call, Literal, Name
from customer_rules.lang.population import SUMMARY_POINTS, round_half_up


def reference(name: str, amount: float, measures: list[float | None]) -> tuple[float | None, int, int]:
    """The cut-off written out by hand: the n-th highest known value (lowest, for ``bottom``)."""
    known = sorted((v for v in measures if v is not None), reverse=name.startswith("top"))
    size = round_half_up(amount / 100 * len(known)) if name.endswith("_pct") else int(amount)
    cutoff = known[min(size, len(known)) - 1] if size > 0 and known else None
    return cutoff, size, len(known)


measure_lists = st.lists(
    st.one_of(st.none(), st.integers(-(10**9), 10**9), st.floats(-1e12, 1e12, allow_nan=False)), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(
    measures=measure_lists,
    name=st.sampled_from(["top", "top_pct", "bottom", "bottom_pct"]),
    amount=st.integers(0, 120),
)
def test_learned_cut_offs_are_the_nth_highest_known_value(
    measures: list[float | None], name: str, amount: int
) -> None:
    call = Call(name, (Name(("value", "revenue_12m")), Literal(amount)))
    expected = reference(name, amount, measures)
    by_list = learn(call, measures, {})
    series = pl.Series([None if v is None else float(v) for v in measures], dtype=pl.Float64())
    by_series = learn(call, series, {})
    assert by_list == by_series
    assert (by_list.cutoff, by_list.size, by_list.count) == expected


@settings(max_examples=100, deadline=None)
@given(measures=measure_lists)
def test_percentiles_keep_the_known_values_in_order(measures: list[float | None]) -> None:
    cut = learn(Call("percentile", (Name(("value", "revenue_12m")),)), measures, {})
    known = sorted(float(v) for v in measures if v is not None)
    assert cut.values == tuple(known)
    if known:
        assert cut.percentile(known[-1]) == 1.0
        assert math.isclose(cut.percentile(known[0] - 1) or 0.0, 0.0)


def test_records_and_tables_give_the_same_cut_offs() -> None:
    engine = cr.Engine()
    customers = cr.sample_customers(120)
    frame, rejected = table_population(cr.frame_from_records(customers))
    assert rejected == []
    checked_any = False
    for sid in engine.population_schemes():
        checked = engine.checked(sid)
        by_table = cuts_from_table(checked, sid, frame, cr.SAMPLE_AS_OF)
        by_records = cuts_from_records(checked, customers, cr.SAMPLE_AS_OF)
        assert by_table is not None
        assert by_table == by_records
        checked_any = True
    assert checked_any


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(SUMMARY_POINTS + 1, 6 * SUMMARY_POINTS),
    distinct=st.integers(1, 20 * SUMMARY_POINTS),
)
def test_a_large_population_is_summarised_within_one_step(seed: int, size: int, distinct: int) -> None:
    # issue 14: what fit keeps for percentile does not grow with the population; the
    # share is exact at every kept value and below the lowest, and never more than
    # 1 / SUMMARY_POINTS below the exact share in between
    rng = random.Random(seed)
    known = sorted(float(rng.randrange(distinct)) for _ in range(size))
    cut = learn(Call("percentile", (Name(("value", "revenue_12m")),)), [*known, None], {})
    assert cut.count == size and cut.ranks is not None and cut.values is not None
    assert len(cut.values) <= SUMMARY_POINTS + 1
    for v, r in zip(cut.values, cut.ranks, strict=True):
        assert r == bisect.bisect_right(known, v)  # exact ranks at the kept values
    probes = {known[0] - 1, *known[:: max(1, size // 200)], known[-1], known[-1] + 1}
    probes |= {v + 0.5 for v in known[:: max(1, size // 50)]}
    for m in probes:
        exact = bisect.bisect_right(known, m)
        got = cut.percentile(m)
        assert got is not None
        behind = exact - round(got * size)
        assert behind >= 0 and behind * SUMMARY_POINTS < size


def test_the_frame_backend_reads_a_summary_as_python_does() -> None:
    rng = random.Random(3)
    known = [float(rng.randrange(5000)) for _ in range(4 * SUMMARY_POINTS)]
    cut = learn(Call("percentile", (Name(("value", "revenue_12m")),)), known, {})
    assert cut.ranks is not None
    probes = [-1.0, 0.0, 17.5, 2500.0, 4999.0, 6000.0, *known[:300]]
    from customer_rules.lang.functions import FUNCTIONS, Env

    expr = FUNCTIONS["percentile"].polars(Env(as_of=None, cut=cut, cutoff=None), pl.col("m"))
    got = pl.DataFrame({"m": [*probes, None]}).select(expr).to_series().to_list()
    assert got == [*(cut.percentile(m) for m in probes), None]


@settings(max_examples=150, deadline=None)
@given(
    measures=st.lists(
        st.one_of(st.none(), st.integers(-5, 5), st.just(math.nan), st.floats(-1e6, 1e6, allow_nan=False)),
        max_size=40,
    ),
    calls=st.lists(
        st.tuples(st.sampled_from(["top", "top_pct", "bottom", "bottom_pct"]), st.integers(0, 120)),
        min_size=1,
        max_size=8,
    ),
)
def test_calls_sharing_a_measure_are_learned_together_as_one_by_one(
    measures: list[float | None], calls: list[tuple[str, int]]
) -> None:
    """learn_all picks every call's cut-off from one pass over a shared measure:
    the same cuts as the hand-written n-th value, NaN ranking above every number."""
    from customer_rules.engine.fitting import learn_all

    column = pl.Series([None if v is None else float(v) for v in measures], dtype=pl.Float64())
    parsed = [Call(name, (Name(("value", "revenue_12m")), Literal(amount))) for name, amount in calls]
    frame = pl.DataFrame({f"m{i}": column for i in range(len(parsed))})
    together = learn_all(parsed, frame, {})
    known = [float(v) for v in measures if v is not None]
    order = sorted(known, key=lambda v: (math.isnan(v), v))  # NaN above every number
    for (name, amount), call, cut in zip(calls, parsed, together, strict=True):
        alone = learn(call, column, {})
        assert (cut.function, cut.size, cut.count) == (alone.function, alone.size, alone.count)
        assert cut.cutoff == alone.cutoff or (cut.cutoff is not None and math.isnan(cut.cutoff) and alone.cutoff is not None and math.isnan(alone.cutoff))
        size = round_half_up(amount / 100 * len(known)) if name.endswith("_pct") else amount
        assert (cut.size, cut.count) == (size, len(known))
        if size <= 0 or not known:
            assert cut.cutoff is None
            continue
        k = min(size, len(known))
        want = order[k - 1] if name.startswith("bottom") else order[len(order) - k]
        assert cut.cutoff == want or (math.isnan(want) and cut.cutoff is not None and math.isnan(cut.cutoff))


@settings(max_examples=80, deadline=None)
@given(
    stages=st.lists(
        st.tuples(
            st.lists(st.one_of(st.none(), st.integers(-5, 5), st.just(math.nan)), max_size=30),
            st.lists(
                st.tuples(
                    st.sampled_from(["top", "top_pct", "bottom_pct", "bottom", "percentile"]), st.integers(0, 120)
                ),
                max_size=5,
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_stages_learned_together_equal_each_stage_alone(
    stages: list[tuple[list[float | None], list[tuple[str, int]]]],
) -> None:
    """issue 14: ``fit`` learns every scheme's stage in one polars run
    (learn_stages); each stage's cuts are those learn_all gives it alone."""
    from customer_rules.engine.fitting import learn_all, learn_stages

    jobs = []
    for measures, calls in stages:
        column = pl.Series([None if v is None else float(v) for v in measures], dtype=pl.Float64())
        parsed = [
            Call(n, (Name(("value", "revenue_12m")),) if n == "percentile" else (Name(("value", "revenue_12m")), Literal(a)))
            for n, a in calls
        ]
        frame = pl.DataFrame({f"m{i}": column for i in range(len(parsed))}) if parsed else column.to_frame("m0")
        jobs.append((parsed, frame, {}))
    together = learn_stages(jobs)
    for (calls, frame, params), cuts in zip(jobs, together, strict=True):
        alone = learn_all(calls, frame, params)
        assert [repr(c) for c in cuts] == [repr(c) for c in alone]  # repr: NaN cut-offs compare equal


def test_every_scheme_fitted_at_once_as_one_by_one() -> None:
    """issue 14: ``Engine.fit`` measures and learns every scheme's stages
    together (cuts_from_tables); the cuts are those each scheme gets alone."""
    from customer_rules.engine.fitting import cuts_from_tables

    engine = cr.Engine()
    frame, _ = table_population(cr.frame_from_records(cr.sample_customers(300)))
    schemes = {sid: engine.checked(sid) for sid in engine.population_schemes()}
    assert len(schemes) > 1
    together = cuts_from_tables(schemes, frame, cr.SAMPLE_AS_OF)
    for sid, checked in schemes.items():
        assert together[sid] == cuts_from_table(checked, sid, frame, cr.SAMPLE_AS_OF)
