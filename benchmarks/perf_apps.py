"""Rows of the performance table (benchmarks/perf.py) for the apps paths.

* ``agenda``: 100k customers given as a table (the column-wise path),
  against issue 14's budget of 2 s; the classification alone
  (``classify_frame``) is printed beside it, since the agenda includes it.
* ``allocate`` + ``explain`` for every customer: 1M customers, against the
  budget of 10 s.
* ``cr.sweep`` (the policy lab) over customers given as a table, against
  the same sweep over the same customers as records (decided one by one). The old paths are gone (per-record agenda, quadratic
  explanations); their times are quoted from issue 14: agenda 32 s at
  100k, ``Allocation.explain`` 3.3 s *per call* at 1M.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from perf import Row


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best and worst wall time of ``repeat`` runs (the machine is shared: report both)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), max(times)


def _agenda_row(quick: bool) -> list[Row]:
    import polars as pl

    import customer_rules as cr
    from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers

    n = 10_000 if quick else 100_000
    customers = sample_customers(1000)
    base = cr.frame_from_records(customers)
    table = pl.concat(
        [base.with_columns(pl.col("id") + f"-{k}") for k in range(n // base.height)], rechunk=True
    )
    engine = cr.Engine()
    engine.fit(customers, as_of=SAMPLE_AS_OF)
    repeat = 3
    agenda, agenda_worst = _best(lambda: engine.agenda(table, as_of=SAMPLE_AS_OF), repeat)
    items, _ = _best(lambda: engine.agenda(table, as_of=SAMPLE_AS_OF).items, 1)
    classify, _ = _best(lambda: engine.classify_frame(table, as_of=SAMPLE_AS_OF), repeat)
    budget = 2.0 * n / 100_000
    return [
        Row(
            f"`agenda`, {table.height:,} customers (table)",
            f"{agenda:.2f} s (worst {agenda_worst:.2f}; with items as objects {items:.2f} s; "
            f"classify_frame alone {classify:.2f} s)",
            "budget 2 s per 100k; was 32 s (issue 14)",
            budget / agenda,
            "≤ 2 s at 100k (column-wise)",
        )
    ]


def _allocation_row(quick: bool) -> list[Row]:
    import customer_rules as cr

    n = 100_000 if quick else 1_000_000
    rng = random.Random(14)
    grades = ["A5", "A4", "A3", "A2", "A1", "A", "B", "C", "suspended"]
    weights = {"A5": 10, "A4": 8, "A3": 6, "A2": 5, "A1": 4, "A": 3, "B": 2, "C": 1, "suspended": 0}
    labels = {f"R{i:07d}": rng.choice(grades) for i in range(n)}
    caps = {cid: rng.randint(1, 60) for cid in list(labels)[: n // 10]}
    supply = 7 * n + 3

    def run() -> None:
        alloc = cr.allocate(supply, labels, weights, caps=caps)
        for cid in alloc:
            alloc.explain(cid)

    total, worst = _best(run, 1 if not quick else 2)
    budget = 10.0 * n / 1_000_000
    return [
        Row(
            f"`allocate` + `explain` for all, {n:,} customers",
            f"{total:.2f} s (worst {worst:.2f})",
            "budget 10 s per 1M; was quadratic: 3.3 s per explain call at 1M (issue 14)",
            budget / total,
            "linear; 1M ≤ 10 s",
        )
    ]


def _sweep_row(quick: bool) -> list[Row]:
    """``cr.sweep`` of a population-relative scheme (fitted anew for every
    value) over the same customers given as a table and as records."""
    import warnings

    import polars as pl

    import customer_rules as cr
    from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers

    n = 5_000 if quick else 20_000
    base = cr.frame_from_records(sample_customers(1000))
    table = pl.concat([base.with_columns(pl.col("id") + f"-{k}") for k in range(n // base.height)], rechunk=True)
    records = cr.records_from_frame(table)
    # the default engine: the care plugin, when installed, chooses the
    # strategies of care_level only (strategy_schemes), so the table stays
    # column-wise here; before that hook, 5.5-6.0 s at 20,000 (record by record)
    engine = cr.Engine()
    values = [1, 2, 3, 4, 5]

    def run(data: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cr.sweep(engine, "value_pyramid", "vip_top_pct", values, data, as_of=SAMPLE_AS_OF)

    run(table.head(100))  # warm: the policies parsed once
    t_table, worst = _best(lambda: run(table), 3)
    t_records, _ = _best(lambda: run(records), 1)
    assert run(table).equals(run(records))
    return [
        Row(
            f"`sweep`, {len(values)} values of a ranked scheme, {n:,} customers as a table",
            f"{t_table:.2f} s (worst {worst:.2f})",
            f"the same customers as records {t_records:.2f} s",
            t_records / t_table,
            "— (no cliff: a table is classified column-wise)",
        )
    ]


def rows(quick: bool) -> list[Row]:
    """Measure the apps paths; sizes shrink when quick."""
    return [*_agenda_row(quick), *_allocation_row(quick), *_sweep_row(quick)]
