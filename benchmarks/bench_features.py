"""Features on tables: a feature with a polars implementation against the same
feature without one (computed by its Python implementation, per row, from
only the columns it declares it reads).

Two features, each declared twice (with and without ``polars=``): the age in
whole years (reads ``birthday``) and the number of cases open at as_of
(reads ``cases.opened_at`` and ``cases.closed_at``, a list-of-struct column).
One scheme reads both; ``classify_frame`` runs the whole table (validation
included) with the polars pair and with the Python pair, best of
``--repeat`` runs each, and prints the times and their ratio.

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
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = e.classify_frame(data, as_of=AS_OF, schemes=["bench_features"])
        times.append(time.perf_counter() - t0)
    assert out is not None
    return min(times), out


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


if __name__ == "__main__":
    main()
