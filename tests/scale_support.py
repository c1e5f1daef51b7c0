"""A population for the distributed tests: every built-in scheme (and the care
plugin's), ties at the population cut-offs spread across partitions, missing
values, invalid rows, and a group-wise policy (top N within a region)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

import customer_rules as cr

AS_OF = cr.SAMPLE_AS_OF
N = 480
PARTS = 3

GROUPWISE = """
id: regional_top
version: "1"
hit: first
labels:
  - {id: east_top, zh: 东区前列, en: East top}
  - {id: top_share, zh: 前列, en: Top share}
  - {id: high, zh: 高, en: High}
  - {id: rest, zh: 其他, en: Rest}
rules:
  - {id: east, when: 'top_within(value.revenue_12m, 4, region == "east")', then: east_top}
  - {id: share, when: 'top_pct(value.orders_12m, 15)', then: top_share}
  - {id: high, when: 'percentile(value.profit_12m) >= 0.5', then: high}
default: rest
"""


def engine() -> cr.Engine:
    """A frame engine with every built-in scheme, the care plugin (a module, shipped
    by name) and the group-wise policy."""
    import customer_rules_care

    eng = cr.Engine(plugins=[customer_rules_care], backend="frame", load_entry_points=False)
    eng.add_policy(cr.load_policy(GROUPWISE, format="yaml"))
    return eng


def population() -> pl.DataFrame:
    """Sample customers with coarse (tied) measures, gaps and a few invalid rows."""
    frame = cr.frame_from_records(cr.sample_customers(N))
    i = pl.int_range(pl.len())
    return frame.with_columns(
        # ties: revenue in steps of 100k, orders in steps of 5, business scores rounded
        (pl.col("value.revenue_12m") / 100_000).round(0) * 100_000,
        (pl.col("value.orders_12m") // 5) * 5,
        pl.col("compliance.business_score").round(0),
        (pl.col("value.turnover") / 10_000).round(0) * 10_000,
        pl.when(i % 3 == 0).then(pl.lit("east")).otherwise(pl.col("region")).alias("region"),
        # missing values
        pl.when(i % 11 == 0).then(None).otherwise(pl.col("value.profit_12m")).alias("value.profit_12m"),
    ).with_columns(
        # invalid rows: a negative revenue is refused by the record model
        pl.when(i % 37 == 5).then(-1.0).otherwise(pl.col("value.revenue_12m")).alias("value.revenue_12m"),
    )


def write_parts(frame: pl.DataFrame, folder: Path) -> Path:
    """The rows dealt round-robin into ``PARTS`` Parquet files (ties land in every one)."""
    folder.mkdir(parents=True, exist_ok=True)
    i = pl.int_range(pl.len())
    for p in range(PARTS):
        frame.filter(i % PARTS == p).write_parquet(folder / f"part-{p}.parquet")
    return folder


def expected(eng: cr.Engine, frame: pl.DataFrame) -> tuple[pl.DataFrame, set[tuple[str, str]]]:
    """What ``classify_frame`` says on one machine: labels and rules by id (as strings),
    and the rejected rows as (id, reason)."""
    result = eng.classify_frame_with_rejects(frame, as_of=AS_OF)
    added = [c for c in result.frame.columns if c not in frame.columns or c in eng.schemes]
    labels = result.frame.select("id", *(pl.col(c).cast(pl.String()) for c in added if c != "id"))
    rejected = {(r["id"], r["reason"]) for r in result.rejected.iter_rows(named=True)}
    return labels.sort("id"), rejected


def global_reasons(rejected: list[dict[str, Any]], frame: pl.DataFrame) -> set[tuple[str, str]]:
    """Distributed rejected rows as (id, reason), the reason naming the row in ``frame``."""
    where = {rid: n for n, rid in enumerate(frame.get_column("id").to_list())}
    out = set()
    for r in rejected:
        reason = re.sub(r"\(partition \d+, row \d+\)", f"(row {where[r['id']]})", r["reason"])
        out.add((r["id"], reason))
    return out
