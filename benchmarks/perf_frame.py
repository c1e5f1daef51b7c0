"""Rows of the performance table (benchmarks/perf.py) for the frame paths.

Every row is measured against its reference in the same run: the raw polars
expressions a person would write by hand for the same table, a hand-written
Python loop, or issue 14's budget where there is nothing to race. Each
measurement is the best of a few runs (the machine is shared); results are
checked against the reference before any time is reported, so a row never
times two different answers.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from perf import Row

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2026, 11, 22)


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best-of-``repeat`` wall time of ``fn()`` (seconds) and its last result."""
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _ms(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def _rate(n: int, t: float, what: str = "rows") -> str:
    r = n / t
    return f"{r / 1e6:.1f}M {what}/s" if r >= 1e6 else f"{r / 1e3:.1f}k {what}/s" if r >= 1e3 else f"{r:.0f} {what}/s"


# -- workloads ----------------------------------------------------------------------------


def anchor_engine() -> cr.Engine:
    """The shared 10-rule table (benchmarks/common.py) alone."""
    from common import POLICY_YAML

    policy = cr.load_policy(POLICY_YAML, format="yaml")
    return cr.Engine([policy], load_entry_points=False, block=[p for p in DEFAULT_PLUGINS if ".schemes." in p])


def anchor_when_chain() -> list[pl.Expr]:
    """The 10-rule table as the polars when-chain a person would write (nulls never match)."""
    c = pl.col
    rules = [
        ("r01", "risky", c("value.overdue_days") > 90),
        ("r02", "risky", (c("value.overdue_amount") >= 200000) & (c("value.overdue_days") > 30)),
        ("r03", "platinum", (c("value.revenue_12m") >= 5000000) & (c("value.profit_12m") >= 500000)),
        (
            "r04",
            "platinum",
            (c("value.revenue_12m") >= 2000000) & (c("value.loyalty") >= 2) & (c("kind") == "company"),
        ),
        ("r05", "gold", (c("value.revenue_12m") >= 1000000) & (c("value.growth_rate") >= 0.1)),
        ("r06", "gold", (c("value.orders_12m") >= 50) & (c("value.price_sensitivity") <= 1)),
        ("r07", "silver", (c("value.revenue_12m") >= 300000) & (c("lead.budget_status") == "approved")),
        ("r08", "watch", c("value.profit_12m") < 0),
        ("r09", "watch", (c("value.growth_rate") < -0.2) & (c("value.loyalty") <= 1)),
        ("r10", "silver", c("value.orders_12m") >= 10),
    ]
    label: Any = pl
    rule: Any = pl
    for rid, lab, cond in rules:
        label = label.when(cond).then(pl.lit(lab))
        rule = rule.when(cond).then(pl.lit(rid))
    return [label.otherwise(pl.lit("bronze")).alias("bench_tier"), rule.otherwise(None).alias("bench_tier__rule")]


def scheme_engine() -> cr.Engine:
    return cr.Engine(load_entry_points=False).fit(cr.sample_customers(2000), as_of=cr.SAMPLE_AS_OF)


def scheme_table(n: int) -> pl.DataFrame:
    from bench_frame import scheme_table as tiled

    return tiled(n)


#: how many rules the wide first-hit table has
WIDE = 320


def wide_policy() -> tuple[cr.Policy, list[tuple[str, str, pl.Expr]]]:
    """A 320-rule first-hit table over three numeric fields, and its rules as polars."""
    labels = ["a", "b", "c", "d", "e"]
    rules, raw = [], []
    for i in range(WIDE):
        rev = 10_000 * (WIDE - i)
        orders = i % 60
        loyal = i % 4
        when = f"value.revenue_12m >= {rev} and value.orders_12m >= {orders} and value.loyalty >= {loyal}"
        rid, lab = f"w{i:03d}", labels[i % len(labels)]
        rules.append({"id": rid, "when": when, "then": lab})
        cond = (
            (pl.col("value.revenue_12m") >= rev)
            & (pl.col("value.orders_12m") >= orders)
            & (pl.col("value.loyalty") >= loyal)
        )
        raw.append((rid, lab, cond))
    policy = cr.Policy.model_validate(
        {
            "id": "wide",
            "hit": "first",
            "labels": [{"id": lab, "en": lab.upper(), "zh": lab} for lab in [*labels, "none"]],
            "rules": rules,
            "default": "none",
        }
    )
    return policy, raw


def wide_coalesce(raw: list[tuple[str, str, pl.Expr]]) -> list[pl.Expr]:
    """The reference: ``pl.coalesce`` of one when-then per rule (first non-null wins)."""
    label = pl.coalesce([pl.when(c).then(pl.lit(lab)) for _, lab, c in raw] + [pl.lit("none")])
    rule = pl.coalesce([pl.when(c).then(pl.lit(rid)) for rid, _, c in raw])
    return [label.alias("wide"), rule.alias("wide__rule")]


# -- rows ---------------------------------------------------------------------------------


def anchor_rows(n: int, repeat: int) -> list[Row]:
    from bench_frame import handwritten, make_table

    table = make_table(n)
    engine = anchor_engine()
    engine.classify_frame(table.head(1000), as_of=AS_OF)
    t_ours, res = best(lambda: engine.classify_frame(table, as_of=AS_OF, rejected="raise"), repeat)
    exprs = anchor_when_chain()
    t_raw, raw = best(lambda: table.with_columns(exprs), repeat)
    assert res["bench_tier"].cast(pl.String).to_list() == raw["bench_tier"].to_list()
    assert res["bench_tier__rule"].cast(pl.String).to_list() == raw["bench_tier__rule"].to_list()
    dicts = table.to_dicts()
    t_loop, loop = best(lambda: [handwritten(r) for r in dicts], 1)
    assert [lab for lab, _ in loop] == raw["bench_tier"].to_list()
    return [
        Row(
            f"`classify_frame`, anchor 10-rule table, {n:,} rows (validation included)",
            _rate(n, t_ours),
            f"raw polars when-chain {_rate(n, t_raw)}",
            t_raw / t_ours,
            "≥ 1× the when-chain",
        ),
        Row(
            f"same, against a hand-written if/elif loop over {n:,} dict rows",
            _rate(n, t_ours),
            f"loop {_rate(n, t_loop)}",
            t_loop / t_ours,
            "—",
        ),
    ]


def scheme_rows(n: int, repeat: int) -> list[Row]:
    engine = scheme_engine()
    table = scheme_table(n)
    small = table.head(10)
    engine.classify_frame(small, as_of=cr.SAMPLE_AS_OF)  # warm: plans built once per engine
    t_fixed, _ = best(lambda: engine.classify_frame(small, as_of=cr.SAMPLE_AS_OF), max(5, repeat))
    t_big, _ = best(lambda: engine.classify_frame(table, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat)
    part = table.head(n // 5)
    options = {"reasons": True, "flags": True, "labels": True}
    t_bare, _ = best(lambda: engine.classify_frame(part, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat)
    t_opts, _ = best(lambda: engine.classify_frame(part, as_of=cr.SAMPLE_AS_OF, rejected="raise", **options), repeat)
    nested = [p for p, t in part.schema.items() if isinstance(t, pl.List) and isinstance(t.inner, pl.Struct)]
    apart = {  # the nested lists as separate tables keyed by customer_id, as tables_from_records gives them
        p: part.select(pl.col("id").alias("customer_id"), p).filter(pl.col(p).list.len() > 0).explode(p).unnest(p)
        for p in nested
    }
    customers = part.drop(nested)
    t_apart, split = best(
        lambda: engine.classify_frame(customers, tables=apart, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat
    )
    assert split.height == part.height
    # the same customers as pl.read_csv gives them: every date as text (a CSV holds no lists)
    flat = customers.select(c for c, d in customers.schema.items() if not isinstance(d, pl.List))
    buffer = io.BytesIO()
    flat.write_csv(buffer)
    text = pl.read_csv(buffer.getvalue())
    t_flat, typed = best(lambda: engine.classify_frame(flat, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat)
    t_text, read = best(lambda: engine.classify_frame(text, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat)
    labels = list(engine.schemes)
    assert read.select(labels).equals(typed.select(labels))
    n_text = sum(1 for c, d in flat.schema.items() if d == pl.Date() and text.schema[c] == pl.String())
    # the same kind of customers as pl.read_ndjson gives them: sub-models as
    # struct columns, nested lists of structs, every date as text, in the
    # reader's many small chunks (20,000 rows: polars reads JSON slowly)
    sample = [c.model_dump(mode="json", exclude_none=True) for c in cr.sample_customers(2000)]
    lines = [json.dumps({**sample[i % len(sample)], "id": f"J{i}"}) for i in range(20_000)]
    shape = pl.read_ndjson(io.StringIO("\n".join(json.dumps(d) for d in sample)), infer_schema_length=None).schema
    from_json = pl.read_ndjson(io.StringIO("\n".join(lines)), schema=shape)
    typed_json = cr.frame_from_records([json.loads(line) for line in lines])
    t_json, json_out = best(lambda: engine.classify_frame(from_json, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat)
    t_typed, typed_out = best(
        lambda: engine.classify_frame(typed_json, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat
    )
    assert json_out.select(labels).equals(typed_out.select(labels))
    schemes = len(engine.schemes)
    return [
        Row(
            f"`classify_frame` fixed cost per call, all {schemes} schemes (10-row table)",
            _ms(t_fixed),
            "budget 10 ms",
            0.010 / t_fixed,
            "≤ 10 ms",
        ),
        Row(
            f"`classify_frame`, all {schemes} schemes, {n:,} rows",
            _ms(t_big),
            f"budget {_ms(1.0 * n / 1_000_000)} (1.0 s per 1M rows)",
            (1.0 * n / 1_000_000) / t_big,
            "≤ 1.0 s at 1M",
        ),
        Row(
            f"same, {part.height:,} rows, with reasons, flags and labels",
            _ms(t_opts),
            f"without them {_ms(t_bare)}",
            t_bare / t_opts,
            "— (no cliff; was about 0.007× before 6 December)",
        ),
        Row(
            f"same, {part.height:,} rows, nested lists as separate tables ({sum(t.height for t in apart.values()):,} items)",
            _ms(t_apart),
            f"as list columns {_ms(t_bare)}",
            t_bare / t_apart,
            "— (0.26–0.31× before 6 December)",
        ),
        Row(
            f"same customers, no list columns, from `pl.read_csv` ({n_text} date columns as text)",
            _ms(t_text),
            f"the same table typed {_ms(t_flat)}",
            t_flat / t_text,
            "— (no cliff; 0.43× at 211162a)",
        ),
        Row(
            f"{from_json.height:,} customers from `pl.read_ndjson` (structs, nested lists, dates as text, "
            f"{from_json.get_column('id').n_chunks()} chunks)",
            _ms(t_json),
            f"the same table typed {_ms(t_typed)}",
            t_typed / t_json,
            "— (no cliff; 0.26× at 211162a)",
        ),
    ]


def fit_rows(n: int, repeat: int) -> list[Row]:
    table = scheme_table(n)
    small = scheme_table(max(n // 10, 2000))
    engine = cr.Engine(load_entry_points=False)
    t_fit, _ = best(lambda: engine.fit(table, as_of=cr.SAMPLE_AS_OF), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        big_file, small_file = os.path.join(tmp, "big.json"), os.path.join(tmp, "small.json")
        engine.save_fitted(big_file)
        cr.Engine(load_entry_points=False).fit(small, as_of=cr.SAMPLE_AS_OF).save_fitted(small_file)
        big_size, small_size = os.path.getsize(big_file), os.path.getsize(small_file)
    budget = 0.3 * n / 1_000_000
    return [
        Row(
            f"`fit`, all population schemes, {n:,} rows",
            _ms(t_fit),
            f"budget {_ms(budget)} (0.3 s per 1M rows)",
            budget / t_fit,
            "≤ 0.3 s at 1M",
        ),
        Row(
            f"fitted file size, {n:,} rows",
            f"{big_size / 1024:.1f} KiB",
            f"{small.height:,} rows: {small_size / 1024:.1f} KiB",
            small_size / big_size,
            "independent of the population (1×)",
        ),
    ]


def records_rows(n: int, repeat: int) -> list[Row]:
    # every row its own dicts, as an application (model_dump per record) or a JSON reader gives
    # them: tiled rows sharing their sub-dicts read 3-5x faster (the dicts stay in the CPU's
    # cache), which flattered these rows before 6 December, 13:30
    sample = cr.sample_customers(2000)
    dicts = [{**sample[i % len(sample)].model_dump(), "id": f"R{i}"} for i in range(n)]
    records = cr.records_from_frame(cr.frame_from_records(dicts[: min(n, 20_000)]))
    t_dicts, frame = best(lambda: cr.frame_from_records(dicts), repeat)
    t_recs, _ = best(lambda: cr.frame_from_records(records), repeat)
    json_base = [c.model_dump(mode="json") for c in cr.sample_customers(2000)]  # dates as text
    json_dicts = [json.loads(json.dumps({**json_base[i % len(json_base)], "id": f"R{i}"})) for i in range(n)]
    t_json, json_frame = best(lambda: cr.frame_from_records(json_dicts), repeat)
    assert frame.height == n
    assert json_frame.equals(frame)
    # the way back: records from the table, against a plain loop of pydantic over the same records' dicts
    back = frame.head(min(n, 50_000))
    t_back, again = best(lambda: cr.records_from_frame(back), repeat)
    t_pyd, _ = best(lambda: [cr.Customer.model_validate(d) for d in dicts[: back.height]], repeat)
    assert [r.id for r in again] == back.get_column("id").to_list()
    return [
        Row(
            f"`frame_from_records`, {n:,} dicts (validated)",
            _rate(n, t_dicts, "records"),
            "budget 200k records/s",
            n / t_dicts / 200_000,
            "≥ 200k records/s",
        ),
        Row(
            f"`frame_from_records`, {n:,} dicts as JSON gives them (dates as text)",
            _rate(n, t_json, "records"),
            "budget 200k records/s",
            n / t_json / 200_000,
            "≥ 200k records/s",
        ),
        Row(
            f"`frame_from_records`, {len(records):,} Customer records",
            _rate(len(records), t_recs, "records"),
            "budget 200k records/s",
            len(records) / t_recs / 200_000,
            "≥ 200k records/s",
        ),
        Row(
            f"`records_from_frame`, {back.height:,} rows (validated `Customer` records)",
            _rate(back.height, t_back, "records"),
            f"`Customer.model_validate` of the dicts {_rate(back.height, t_pyd, 'records')}",
            t_pyd / t_back,
            "— (no cliff; 0.50× before 6 December)",
        ),
    ]


def wide_rows(n: int, repeat: int) -> list[Row]:
    from bench_frame import make_table

    table = make_table(n)
    policy, raw = wide_policy()
    engine = cr.Engine([policy], load_entry_points=False, block=[p for p in DEFAULT_PLUGINS if ".schemes." in p])
    engine.classify_frame(table.head(100), as_of=AS_OF)
    t_ours, res = best(lambda: engine.classify_frame(table, as_of=AS_OF, rejected="raise"), repeat)
    exprs = wide_coalesce(raw)
    t_ref, ref = best(lambda: table.with_columns(exprs), repeat)
    assert res["wide"].cast(pl.String).to_list() == ref["wide"].to_list()
    assert res["wide__rule"].cast(pl.String).to_list() == ref["wide__rule"].to_list()
    budget = 0.1 * n / 100_000
    return [
        Row(
            f"{WIDE}-rule first-hit table, {n:,} rows",
            _ms(t_ours),
            f"`pl.coalesce` of when-thens {_ms(t_ref)}; budget {_ms(budget)}",
            budget / t_ours,
            "≤ 100 ms at 100k (ratio against the budget)",
        )
    ]


def feature_rows(n: int, repeat: int) -> list[Row]:
    import bench_features as bf

    data = bf.table(n)
    fast, fast_cpu, out_fast = bf.best_wall_cpu(bf.engine(True), data, repeat)
    slow, slow_cpu, out_slow = bf.best_wall_cpu(bf.engine(False), data, repeat)
    assert out_fast["bench_features"].to_list() == out_slow["bench_features"].to_list()
    return [
        Row(
            f"features without a polars implementation, {n:,} rows",
            _ms(slow),
            f"the same features in polars {_ms(fast)}",
            10 * fast / slow,
            "≤ 10× the polars cost (ratio: 10× budget / ours)",
        ),
        Row(
            "same, CPU seconds (polars works on every core, a Python feature on one)",
            _ms(slow_cpu),
            f"the same features in polars {_ms(fast_cpu)}",
            10 * fast_cpu / slow_cpu,
            "≤ 10× the polars cost",
        ),
    ]


_MEMORY_CHILD = """
import json, sys
sys.path.insert(0, {bench!r})
import polars as pl
import customer_rules as cr
from perf_frame import scheme_engine

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0

table = pl.read_parquet({path!r})
engine = scheme_engine()
engine.classify_frame(table.head(1000), as_of=cr.SAMPLE_AS_OF)
before = rss("VmRSS:")
try:
    open("/proc/self/clear_refs", "w").write("5")
    resettable = True
except OSError:
    resettable = False
out = engine.classify_frame(table, as_of=cr.SAMPLE_AS_OF)
print(json.dumps({{"table": table.estimated_size(), "extra": rss("VmHWM:") - before,
                  "resettable": resettable}}))
"""


def memory_rows(n: int) -> list[Row]:
    if not os.path.exists("/proc/self/status"):
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "table.parquet")
        scheme_table(n).write_parquet(path)
        code = _MEMORY_CHILD.format(bench=str(HERE), path=path)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(res.stdout.strip().splitlines()[-1])
    ratio = data["extra"] / data["table"]
    note = "" if data["resettable"] else " (peak not resettable: upper bound)"
    return [
        Row(
            f"extra memory, all schemes, {n:,} rows{note}",
            f"{data['extra'] / 2**20:.0f} MiB ({ratio:.2f}× the input)",
            f"input table {data['table'] / 2**20:.0f} MiB",
            1 / ratio if ratio > 0 else None,
            "≤ 1× the input size",
        )
    ]


def rows(quick: bool) -> list[Row]:
    """Measure the frame paths; sizes shrink when quick."""
    big = 100_000 if quick else 1_000_000
    repeat = 2 if quick else 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = anchor_rows(big, repeat)
        out += scheme_rows(big, repeat)
        out += fit_rows(big, repeat)
        out += records_rows(20_000 if quick else 100_000, repeat)
        out += wide_rows(100_000, repeat)
        out += feature_rows(20_000 if quick else 100_000, repeat)
    out += memory_rows(big)
    return out
