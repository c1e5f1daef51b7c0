"""Fitting: the cut-offs of population-relative calls, from records or a table.

``top(m, n)``, ``top_pct(m, p)``, ``top_within(m, n, cond)``, their
``bottom`` twins and ``percentile(m)`` compare a customer with a fitted population (see
:mod:`customer_rules.lang.population` for their meaning). Fitting has two
steps, and each exists once:

1. the **measures**: each call's measure (and group condition) is evaluated
   for every member of the population — by the python backend's closures
   for records (:func:`cuts_from_records`), or by the frame backend's
   polars expressions over a whole table (:func:`cuts_from_table`, much
   faster; ``None`` when a measure reads a feature without a polars
   implementation, and the caller fits the table's records instead);
2. the **cut-off**: :func:`learn` turns the measures into a
   :class:`~customer_rules.lang.population.Cut`, with polars, the same
   way for both.

Calls are fitted in stages (:func:`~customer_rules.lang.population.fit_order`):
a measure that reads another population value through a derived value is
computed with the inner cut-offs already fitted on the same population.
:meth:`Engine.fit <customer_rules.Engine.fit>` is the entry point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from customer_rules.errors import PluginError, RecordError
from customer_rules.lang.ast import Call, to_text
from customer_rules.lang.compile import CheckedPolicy, key_of
from customer_rules.lang.population import SUMMARY_POINTS, Cut, fit_order, group_size, lowest_first
from customer_rules.model.frames import nested_tables, to_polars
from customer_rules.model.tables import ModelSpec, customer_spec, empty_value, prepare, split_details


def learn(call: Call, measures: pl.Series | Sequence[Any], params: Mapping[str, Any]) -> Cut:
    """The cut for one call from the measures of the records in its group.

    ``measures`` holds one value per record in the group (``None``/null
    when the record's measure is unknown; those do not count). Everything
    is computed in polars; what is kept does not grow with the population
    (see :class:`~customer_rules.lang.population.Cut`).
    """
    if isinstance(measures, pl.Series):
        series = measures.alias("m0")
    else:
        series = pl.Series("m0", [v for v in measures if v is not None], dtype=pl.Float64())
    return learn_all([call], series.to_frame(), params)[0]


def learn_all(calls: Sequence[Call], measures: pl.DataFrame, params: Mapping[str, Any]) -> list[Cut]:
    """The cut of each call from column ``m<i>`` of ``measures`` (one value per
    record, null where it does not count), as :func:`learn` makes it.

    Calls with the same measure (and group condition) read the same values:
    each such column's known values are counted once, and in one query the
    values its calls need at either end are kept once, in order (polars runs
    the columns in parallel); every call's cut-off is picked from them.
    """
    return learn_stages([(calls, measures, params)])[0]


def learn_stages(stages: Sequence[tuple[Sequence[Call], pl.DataFrame, Mapping[str, Any]]]) -> list[list[Cut]]:
    """:func:`learn_all` of several stages at once (each its calls, their
    measures and its policy's parameters; the stages of different policies
    over one table): the same cuts, with the values every stage's calls
    pick from kept in one polars run for all of them."""
    cuts: list[dict[int, Cut]] = [{} for _ in stages]
    queries: list[pl.LazyFrame] = []
    # per query: its stage, and (column, from its lowest end) -> the calls picking there: (call, size, position)
    wanted: list[tuple[int, dict[tuple[int, bool], list[tuple[int, int, int]]], dict[int, int]]] = []
    for s, (calls, measures, params) in enumerate(stages):
        if not calls:
            continue
        first: dict[tuple[str, str | None], int] = {}
        column = [first.setdefault(_measure_key(call), i) for i, call in enumerate(calls)]
        known = {j: pl.col(f"m{j}").cast(pl.Float64()).drop_nulls() for j in first.values()}
        # the known values of a column: those not null (NaN included), counted without a query
        counts = {j: measures.height - measures.get_column(f"m{j}").null_count() for j in known}
        picks: dict[tuple[int, bool], list[tuple[int, int, int]]] = {}
        for i, call in enumerate(calls):
            j = column[i]
            name, count = call.name, counts[j]
            if name == "percentile":
                cuts[s][i] = _percentile_cut(measures.select(known[j].alias("v")).get_column("v"))
                continue
            size = group_size(call, count, params)
            if size <= 0 or not count:
                cuts[s][i] = Cut(name, None, size, count)
                continue
            # the k-th value from the group's end (ties counted; NaN sorts above
            # every number), i.e. a position in ascending order, reached from
            # the nearer end: only that end's values are kept and sorted
            k = min(size, count)
            at = k - 1 if lowest_first(name) else count - k
            low = at < count - at
            picks.setdefault((j, low), []).append((i, size, at if low else count - 1 - at))
        exprs = []
        for (j, low), chosen in picks.items():
            most = max(p for _, _, p in chosen) + 1
            end = known[j].bottom_k(most).sort() if low else known[j].top_k(most).sort(descending=True)
            exprs.append(end.gather([p for _, _, p in chosen]).implode().alias(f"{j}:{int(low)}"))
        if exprs:
            queries.append(measures.lazy().select(exprs))
            wanted.append((s, picks, counts))
    for (s, picks, counts), found in zip(wanted, pl.collect_all(queries) if queries else [], strict=True):
        calls = stages[s][0]
        for ((j, _), chosen), values in zip(picks.items(), found.row(0), strict=True):
            for (i, size, _), cutoff in zip(chosen, values, strict=True):
                assert isinstance(cutoff, float)
                cuts[s][i] = Cut(calls[i].name, cutoff, size, counts[j])
    return [[found[i] for i in range(len(stage[0]))] for found, stage in zip(cuts, stages, strict=True)]


def _measure_key(call: Call) -> tuple[str, str | None]:
    """What a call's measures are computed from: its measure and, for ``*_within``, its group condition."""
    return to_text(call.args[0]), to_text(call.args[2]) if call.name.endswith("_within") else None


def _percentile_cut(known: pl.Series) -> Cut:
    """A ``percentile`` cut from the known values (see :func:`percentile_cut`)."""
    return percentile_cut(known.alias("v").value_counts(name="n"))


def percentile_cut(counts: pl.DataFrame) -> Cut:
    """A ``percentile`` cut from value counts (columns ``v``, a float, and
    ``n``, how many records hold it; NaN ranks above every number): every
    known value when there are at most ``SUMMARY_POINTS``; otherwise the
    distinct values where the share at or below them enters a new
    ``1 / SUMMARY_POINTS`` step, with their exact ranks. Spark and Dask fits
    call it with counts they aggregated, so their cuts equal this machine's."""
    counts = counts.select(pl.col("v").cast(pl.Float64()), pl.col("n").cast(pl.Int64())).filter(pl.col("n") > 0)
    count = int(counts.get_column("n").sum())
    if count <= SUMMARY_POINTS:
        every = counts.sort("v").select(pl.col("v").repeat_by("n").explode()).get_column("v")
        return Cut("percentile", None, 0, count, tuple(every.to_list()))
    steps = (
        counts.sort("v")
        .select("v", pl.col("n").cum_sum().alias("rank"))
        .with_columns(step=pl.col("rank") * SUMMARY_POINTS // count)
        .filter(pl.col("step") != pl.col("step").shift(1, fill_value=-1))
    )
    values = tuple(steps.get_column("v").to_list())
    ranks = tuple(steps.get_column("rank").to_list())
    return Cut("percentile", None, 0, count, values, ranks)


def cuts_from_records(checked: CheckedPolicy, records: Sequence[Any], as_of: dt.date | None) -> dict[str, Cut]:
    """The cut-offs of one policy from validated records (python backend measures).

    ``as_of`` may be ``None`` when no measure reads a dated value
    (``ValueError`` naming the measure otherwise).
    """
    from customer_rules.backends.python import Compiler, Context

    cuts: dict[str, Cut] = {}
    for stage in fit_order(checked.population, checked.derived):
        comp = Compiler(checked, dict(cuts))
        for name, node, _ in checked.derived:
            comp.derived[name] = comp.compile(node)
        for call in stage:
            measure = comp.compile(call.args[0])
            cond = comp.compile(call.args[2]) if call.name.endswith("_within") else None
            values = []
            for rec in records:
                ctx = Context(rec, as_of)  # type: ignore[arg-type]
                try:
                    if cond is not None and cond(ctx) is not True:
                        continue
                    values.append(measure(ctx))
                except (TypeError, PluginError) as exc:
                    if as_of is None:
                        raise ValueError(
                            f"fitting {checked.policy.id!r} needs as_of: its measure {to_text(call.args[0])}"
                            " reads a dated value"
                        ) from exc
                    raise
            cuts[key_of(call)] = learn(call, values, checked.params)
    return cuts


def table_population(
    data: Any,
    tables: Mapping[str, Any] | None = None,
    spec: ModelSpec | None = None,
    columns: Iterable[str] | None = None,
) -> tuple[pl.DataFrame, list[tuple[int, str | None, RecordError]]]:
    """A table's valid rows (canonical columns) and its rejected rows ``(row, id, error)``.

    ``data`` is a polars or pandas table named as for ``classify_frame``;
    ``tables`` holds separate nested tables keyed by ``customer_id``;
    ``spec`` is the engine's record spec (plugin namespaces). ``columns``
    (see :func:`columns_read`): the canonical columns the valid table
    keeps (all when None); every column is validated either way, so the
    same rows are rejected.
    """
    _, source = to_polars(data)
    nested = {k: to_polars(v, k)[1] for k, v in nested_tables(tables).items()}
    spec = spec or customer_spec()
    if columns is None or spec.is_opaque():  # a model's own validators read whole rows
        prepared = prepare(source, nested, warn=False, spec=spec)
    else:
        keep = set(columns)
        children = [c for c in spec.children if c in keep]
        prepared = prepare(source, nested, children=children, columns=keep, warn=False, spec=spec)
    rejected = [
        (r["row"], r["id"], RecordError(r["id"], split_details(r["details"]), row=r["row"]))
        for r in prepared.rejected.iter_rows(named=True)
    ]
    # one chunk per column: every fitting stage evaluates over it (a table in
    # many chunks, e.g. parquet row groups, evaluates markedly slower)
    return prepared.valid.rechunk(), rejected


def cuts_from_table(
    checked: CheckedPolicy, scheme: str, frame: pl.DataFrame, as_of: dt.date, spec: ModelSpec | None = None
) -> dict[str, Cut]:
    """The cut-offs of one policy from a validated table (polars measures;
    a feature without a polars implementation is computed from the columns it reads)."""
    return cuts_from_tables({scheme: checked}, frame, as_of, spec)[scheme]


def cuts_from_tables(
    policies: Mapping[str, CheckedPolicy], frame: pl.DataFrame, as_of: dt.date, spec: ModelSpec | None = None
) -> dict[str, dict[str, Cut]]:
    """The cut-offs of several policies (by scheme id) from one validated
    table, each as :func:`cuts_from_table` learns it: the policies' first
    stages are measured in one polars run and learned together, then their
    second stages, and so on (a stage reads only its own policy's earlier cuts)."""
    orders = {sid: fit_order(checked.population, checked.derived) for sid, checked in policies.items()}
    cuts: dict[str, dict[str, Cut]] = {sid: {} for sid in policies}
    for k in range(max((len(o) for o in orders.values()), default=0)):
        active = [sid for sid, order in orders.items() if k < len(order)]
        queries = [
            _stage_query(policies[sid], sid, frame, as_of, orders[sid][k], cuts[sid], spec) for sid in active
        ]
        outs = pl.collect_all(queries)
        learned = learn_stages(
            [(orders[sid][k], out, policies[sid].params) for sid, out in zip(active, outs, strict=True)]
        )
        for sid, stage_cuts in zip(active, learned, strict=True):
            for call, cut in zip(orders[sid][k], stage_cuts, strict=True):
                cuts[sid][key_of(call)] = cut
    return cuts


def stage_measures(
    checked: CheckedPolicy,
    scheme: str,
    frame: pl.DataFrame,
    as_of: dt.date,
    stage: Sequence[Call],
    cuts: Mapping[str, Cut],
    spec: ModelSpec | None = None,
) -> pl.DataFrame:
    """The measures of one fitting stage over a validated table: a Float64
    column ``m<i>`` per call of ``stage``, null where the record does not
    count for the call (measure missing, or the ``*_within`` condition not
    true). ``cuts`` holds the earlier stages' cut-offs. :func:`learn` turns a
    column into the call's cut; the distributed fits (``customer_rules.spark``,
    ``customer_rules.dask``) compute these columns per partition and
    aggregate them instead."""
    return _stage_query(checked, scheme, frame, as_of, stage, cuts, spec).collect()


def _stage_query(
    checked: CheckedPolicy,
    scheme: str,
    frame: pl.DataFrame,
    as_of: dt.date,
    stage: Sequence[Call],
    cuts: Mapping[str, Cut],
    spec: ModelSpec | None = None,
) -> pl.LazyFrame:
    """The query :func:`stage_measures` collects (a feature without a polars
    implementation is computed here, in Python, first)."""
    from customer_rules.backends.table_features import python_features

    spec = spec or customer_spec()
    plan = _MeasurePlan(checked, scheme, as_of, stage, cuts)
    absent = sorted(c for c in plan.roots(spec) if c not in frame.columns)
    lf = frame.lazy()
    if absent:  # a field no column gives is missing (an absent list is empty)
        lf = lf.with_columns([empty_value(c, spec).alias(c) for c in absent])
    if plan.features.python_uses():
        # a feature without a polars implementation: its Python one over only
        # the columns it reads (rows where it raises are left out)
        computed, _ = python_features(lf.collect(), plan.features.python_uses(), as_of, spec)
        lf = computed.lazy()
    if plan.feature_exprs:
        lf = lf.with_columns(plan.feature_exprs)
    for e in plan.derived:
        lf = lf.with_columns(e)
    return lf.select(plan.outputs)


def columns_read(checked: CheckedPolicy, scheme: str, as_of: dt.date, spec: ModelSpec | None = None) -> set[str]:
    """The canonical columns fitting ``checked`` reads, every stage's measures
    and group conditions (and the columns their features read) together.

    A later stage's measures read earlier stages' cut-offs; they are compiled
    here with a placeholder cut for every call, since which columns an
    expression reads does not depend on the cut-off values in it.
    """
    placeholder = {key_of(c): Cut(c.name, 0.0, 1, 1, (0.0,)) for c in checked.population}
    return _MeasurePlan(checked, scheme, as_of, checked.population, placeholder).roots(spec or customer_spec())


class _MeasurePlan:
    """The polars expressions of some population calls' measures: the
    features they compute, the derived values they read, and a Float64
    column ``m<i>`` per call."""

    def __init__(
        self, checked: CheckedPolicy, scheme: str, as_of: dt.date, calls: Sequence[Call], cuts: Mapping[str, Cut]
    ) -> None:
        from customer_rules.backends.frame import FrameCompiler, derived_needed
        from customer_rules.backends.table_features import FeatureTable

        self.features = features = FeatureTable()
        comp = FrameCompiler(checked, scheme=scheme, as_of=as_of, features=features, cuts=dict(cuts))
        needed = derived_needed(checked, [a for call in calls for a in call.args], ())
        self.derived: list[pl.Expr] = []
        for name, node, _ in checked.derived:
            if name in needed:
                col = comp.column_name("d", name)
                self.derived.append(comp.compile(node).alias(col))
                comp.derived[name] = col
        self.outputs: list[pl.Expr] = []
        for i, call in enumerate(calls):
            measure = comp.compile(call.args[0]).cast(pl.Float64())
            if call.name.endswith("_within"):
                # only records where the group condition is true count
                measure = pl.when(comp.compile(call.args[2]).fill_null(False)).then(measure)
            self.outputs.append(measure.alias(f"m{i}"))
        self.feature_exprs = [e for use in features.uses.values() if (e := use.expr(as_of)) is not None]

    def roots(self, spec: ModelSpec) -> set[str]:
        """The canonical columns the expressions (and the features computed in Python) read."""
        every = [*self.feature_exprs, *self.derived, *self.outputs]
        roots = {c for e in every for c in e.meta.root_names()} | self.features.columns_read(spec)
        return roots & (set(spec.slots) | set(spec.children))
