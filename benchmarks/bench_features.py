"""Features on tables: a feature with a polars implementation against the same
feature without one (computed by its Python implementation, per row, from
only the columns it declares it reads).

Two features, each declared twice (with and without ``polars=``): the age in
whole years (reads ``birthday``) and the number of cases open at as_of
(reads ``cases.opened_at`` and ``cases.closed_at``, a list-of-struct column).
One scheme reads both; ``classify_frame`` runs the whole table (validation
included) with the polars pair and with the Python pair, best of
``--repeat`` runs each, and prints the times and their ratio.

Then, when the care plugin (plugins/customer-rules-care) is importable, the
whole engine — every built-in scheme plus ``care_level`` — on a table of
sample customers (tiled to ``--rows``), with ``care_condition`` as the
plugin declares it (no polars implementation) and with a polars one added
for the comparison.

    python benchmarks/bench_features.py                # 100k rows
    python benchmarks/bench_features.py --rows 20000   # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import warnings
from typing import Any

import polars as pl

import customer_rules as cr

AS_OF = dt.date(2026, 11, 22)


def _age(c: Any, as_of: dt.date) -> int | None:
    born = c.birthday
    if born is None or born > as_of:
        return None
    return as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))


def _age_polars(as_of: dt.date) -> pl.Expr:
    born = pl.col("birthday")
    before = (born.dt.month() > as_of.month) | (
        (born.dt.month() == as_of.month) & (born.dt.day() > as_of.day)
    )
    age = pl.lit(as_of.year) - born.dt.year() - before.cast(pl.Int64())
    return pl.when(born <= as_of).then(age)


def _open(c: Any, as_of: dt.date) -> int:
    return sum(1 for k in c.cases if k.opened_at <= as_of and (k.closed_at is None or k.closed_at > as_of))


def _open_polars(as_of: dt.date) -> pl.Expr:
    e = pl.element()
    opened, closed = e.struct.field("opened_at"), e.struct.field("closed_at")
    return pl.col("cases").list.agg(((opened <= as_of) & (closed.is_null() | (closed > as_of))).sum())


def features(with_polars: bool) -> list[cr.Feature]:
    age = cr.feature(
        type="integer",
        unit="years",
        en="Age",
        zh="年龄",
        description="Age in whole years at as_of.",
        reads=("birthday",),
        polars=_age_polars if with_polars else None,
        name="bench_age",
    )(_age)
    open_cases = cr.feature(
        type="integer",
        unit="count",
        en="Open cases",
        zh="未结案件",
        description="Cases open at as_of.",
        reads=("cases.opened_at", "cases.closed_at"),
        polars=_open_polars if with_polars else None,
        name="bench_open",
    )(_open)
    return [age, open_cases]


POLICY = {
    "id": "bench_features",
    "labels": [{"id": "watch", "zh": "关注", "en": "Watch"}, {"id": "ok", "zh": "正常", "en": "OK"}],
    "rules": [{"id": "r", "when": "bench_age >= 80 or bench_open >= 2", "then": "watch"}],
    "default": "ok",
}


class Features:
    def __init__(self, with_polars: bool) -> None:
        self.features = features(with_polars)

    @cr.hookimpl
    def register_features(self) -> list[cr.Feature]:
        return self.features


def engine(with_polars: bool) -> cr.Engine:
    e = cr.Engine(plugins=[Features(with_polars)], load_entry_points=False)
    e.add_policy(cr.Policy.model_validate(POLICY))
    return e


def table(rows: int, seed: int = 7) -> pl.DataFrame:
    rnd = random.Random(seed)
    start = dt.date(1930, 1, 1)
    birthdays = [
        None if rnd.random() < 0.1 else start + dt.timedelta(days=rnd.randrange(30000)) for _ in range(rows)
    ]
    cases = []
    for i in range(rows):
        items = []
        for j in range(rnd.randrange(4)):
            opened = AS_OF - dt.timedelta(days=rnd.randrange(400))
            closed = None if rnd.random() < 0.4 else opened + dt.timedelta(days=rnd.randrange(60))
            items.append({"id": f"k{i}-{j}", "opened_at": opened, "closed_at": closed})
        cases.append(items)
    case = pl.Struct({"id": pl.String(), "opened_at": pl.Date(), "closed_at": pl.Date()})
    return pl.DataFrame(
        {
            "id": [f"C{i}" for i in range(rows)],
            "birthday": pl.Series(birthdays, dtype=pl.Date()),
            "cases": pl.Series(cases, dtype=pl.List(case)),
        }
    )


def best(e: cr.Engine, data: pl.DataFrame, repeat: int) -> tuple[float, pl.DataFrame]:
    wall, _, out = best_wall_cpu(e, data, repeat)
    return wall, out


def best_wall_cpu(e: cr.Engine, data: pl.DataFrame, repeat: int) -> tuple[float, float, pl.DataFrame]:
    """Best wall and best CPU seconds of classifying ``data``, and the result.
    Both matter: polars spreads its work over every core, a Python feature
    runs on one."""
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = e.classify_frame(data, as_of=AS_OF, schemes=["bench_features"])
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert out is not None
    return min(walls), min(cpus), out


def care_engines() -> tuple[cr.Engine, cr.Engine] | None:
    """The built-in engine with the care plugin as it is, and with a polars
    ``care_condition`` (valid segments only: the benchmark has no others)."""
    import dataclasses
    import types

    try:
        import customer_rules_care as care
    except ImportError:
        return None

    def condition_polars(as_of: dt.date) -> pl.Expr:
        segment = pl.col("segment")
        return pl.when(segment.str.starts_with(care.SEGMENT_PREFIX)).then(
            segment.str.strip_prefix(care.SEGMENT_PREFIX).str.strip_chars()
        )

    fast = dataclasses.replace(care.care_condition, polars=condition_polars)
    twin = types.SimpleNamespace(
        __name__="care_twin",
        register_features=cr.hookimpl(lambda: [fast, care.patient_age]),
        register_schemes=care.register_schemes,
        choose_strategy=care.choose_strategy,
    )
    return (
        cr.Engine(plugins=[twin], load_entry_points=False),
        cr.Engine(plugins=[care], load_entry_points=False),
    )


def sample_table(rows: int) -> pl.DataFrame:
    base = cr.frame_from_records(cr.sample_customers(2000))
    tiled = pl.concat([base] * (rows // base.height + 1)).head(rows)
    conditions = ["critical", "major_surgery", "serious", "recovering", "frail", "self_care"]
    n = pl.int_range(pl.len())
    segment = pl.when(n % 3 == 0).then(pl.format("care:{}", pl.lit(pl.Series(conditions)).gather(n % 6)))
    return tiled.with_columns(id=pl.format("P{}", n), segment=segment.otherwise(pl.col("segment")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = table(args.rows)
    fast, out_fast = best(engine(True), data, args.repeat)
    slow, out_slow = best(engine(False), data, args.repeat)
    same = out_fast["bench_features"].to_list() == out_slow["bench_features"].to_list()
    print(f"rows: {args.rows:,}  (best of {args.repeat})")
    print(f"features with a polars implementation:    {fast:8.3f} s")
    print(f"features without (python, columns read):  {slow:8.3f} s")
    print(f"ratio without / with:                     {slow / fast:8.1f}x   same labels: {same}")
    engines = care_engines()
    if engines is None:
        print("care plugin not importable: whole-engine comparison skipped")
        return
    whole = sample_table(args.rows)
    as_of = cr.SAMPLE_AS_OF
    times = []
    for e in engines:
        e.fit(whole, as_of=as_of)
        best_time = min(_timed(e, whole, as_of) for _ in range(args.repeat))
        times.append(best_time)
    print(f"whole engine ({len(engines[1].schemes)} schemes), care_condition with polars: {times[0]:8.3f} s")
    print(f"whole engine ({len(engines[1].schemes)} schemes), care_condition without:     {times[1]:8.3f} s")
    print(f"ratio without / with:                                  {times[1] / times[0]:8.1f}x")


def _timed(e: cr.Engine, data: pl.DataFrame, as_of: dt.date) -> float:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e.classify_frame(data, as_of=as_of)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
