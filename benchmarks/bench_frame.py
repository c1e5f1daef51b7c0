"""Whole-table throughput: the frame backend against row-at-a-time engines.

One run, one machine, one table, one policy (the shared 10-rule first-hit
table over 10 fields in ``common.py``), at each table size:

* ``classify_frame`` (polars expressions, validation included) on the whole table;
* a hand-written Python if/elif function over the same rows as dicts, whole table;
* the python backend, ``engine.decide`` per record (a full Decision with evidence);
* durable_rules 2.0.28 ``post`` per record (its own ``durable.engine.Host``, one
  sid per record, state deleted after each) — if installed;
* zen-engine (GoRules) ``evaluate`` per record on the same JDM decision table.

Per-record engines run on a sample (``--sample``, default 20 000 rows) and
their rate is extrapolated to the table size; the output says so. Then every
built-in scheme on a table of sample customers, frame against python. Last,
the peak extra memory (RSS) of ``classify_frame`` on the largest table,
measured in a fresh process, against the table's own size.

    python benchmarks/bench_frame.py                 # 100k and 1M rows
    python benchmarks/bench_frame.py --rows 20000    # a quick run

Conversions (table → dicts, records, messages) happen before the clocks start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from common import POLICY_YAML, zen_jdm

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

AS_OF = dt.date(2026, 11, 22)
SCHEME = "bench_tier"


# -- the workload ---------------------------------------------------------------------


def make_table(n: int, seed: int = 1) -> pl.DataFrame:
    """A flat customer table (the distributions of ``common.make_records``), ~5% unknowns."""
    rng = np.random.default_rng(seed)

    def col(values: Any, dtype: pl.DataType) -> pl.Series:
        s = pl.Series(values, dtype=dtype)
        return s.scatter(np.flatnonzero(rng.random(n) < 0.05), None)

    return pl.DataFrame(
        {
            "id": pl.Series([f"B{i:07d}" for i in range(n)], dtype=pl.String()),
            "kind": pl.Series(
                rng.choice(["company", "person", "retailer", "terminal"], n), dtype=pl.String()
            ),
            "value.revenue_12m": col(np.round(rng.lognormal(13, 1.5, n), 2), pl.Float64()),
            "value.profit_12m": col(np.round(rng.normal(100000, 400000, n), 2), pl.Float64()),
            "value.orders_12m": col(rng.integers(0, 121, n), pl.Int64()),
            "value.overdue_amount": col(np.round(rng.exponential(50000, n), 2), pl.Float64()),
            "value.overdue_days": col(rng.choice([0, 0, 0, 10, 40, 100], n), pl.Int64()),
            "value.growth_rate": col(np.round(rng.uniform(-0.5, 0.6, n), 3), pl.Float64()),
            "value.price_sensitivity": col(rng.integers(0, 4, n), pl.Int64()),
            "value.loyalty": col(rng.integers(0, 4, n), pl.Int64()),
            "lead.budget_status": col(rng.choice(["approved", "pending", "none"], n), pl.String()),
        }
    )


def handwritten(r: dict[str, Any]) -> tuple[str, str | None]:
    """The same table as plain Python over one row dict (None = unknown, never matches)."""
    od, oa = r["value.overdue_days"], r["value.overdue_amount"]
    rev, prof, orders = r["value.revenue_12m"], r["value.profit_12m"], r["value.orders_12m"]
    growth, loyal = r["value.growth_rate"], r["value.loyalty"]
    if od is not None and od > 90:
        return "risky", "r01"
    if oa is not None and od is not None and oa >= 200000 and od > 30:
        return "risky", "r02"
    if rev is not None and prof is not None and rev >= 5000000 and prof >= 500000:
        return "platinum", "r03"
    if rev is not None and loyal is not None and rev >= 2000000 and loyal >= 2 and r["kind"] == "company":
        return "platinum", "r04"
    if rev is not None and growth is not None and rev >= 1000000 and growth >= 0.1:
        return "gold", "r05"
    ps = r["value.price_sensitivity"]
    if orders is not None and ps is not None and orders >= 50 and ps <= 1:
        return "gold", "r06"
    if rev is not None and rev >= 300000 and r["lead.budget_status"] == "approved":
        return "silver", "r07"
    if prof is not None and prof < 0:
        return "watch", "r08"
    if growth is not None and loyal is not None and growth < -0.2 and loyal <= 1:
        return "watch", "r09"
    if orders is not None and orders >= 10:
        return "silver", "r10"
    return "bronze", None


def durable_ruleset(results: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    """The table as a durable_rules ruleset: ``pri`` gives first-hit order."""

    def act(label: str, rule: str | None) -> Callable[[Any], None]:
        def run(c: Any) -> None:
            results[c.m["key"]] = (label, rule)

        return run

    def gt(f: str, v: float) -> dict[str, Any]:
        return {"$gt": {f: v}}

    def gte(f: str, v: float) -> dict[str, Any]:
        return {"$gte": {f: v}}

    def lt(f: str, v: float) -> dict[str, Any]:
        return {"$lt": {f: v}}

    def lte(f: str, v: float) -> dict[str, Any]:
        return {"$lte": {f: v}}

    conds: list[tuple[str, str, Any]] = [
        ("r01", "risky", gt("value__overdue_days", 90)),
        ("r02", "risky", {"$and": [gte("value__overdue_amount", 200000), gt("value__overdue_days", 30)]}),
        ("r03", "platinum", {"$and": [gte("value__revenue_12m", 5000000), gte("value__profit_12m", 500000)]}),
        (
            "r04",
            "platinum",
            {"$and": [gte("value__revenue_12m", 2000000), gte("value__loyalty", 2), {"kind": "company"}]},
        ),
        ("r05", "gold", {"$and": [gte("value__revenue_12m", 1000000), gte("value__growth_rate", 0.1)]}),
        ("r06", "gold", {"$and": [gte("value__orders_12m", 50), lte("value__price_sensitivity", 1)]}),
        ("r07", "silver", {"$and": [gte("value__revenue_12m", 300000), {"lead__budget_status": "approved"}]}),
        ("r08", "watch", lt("value__profit_12m", 0)),
        ("r09", "watch", {"$and": [lt("value__growth_rate", -0.2), lte("value__loyalty", 1)]}),
        ("r10", "silver", gte("value__orders_12m", 10)),
    ]
    rules: dict[str, Any] = {
        rid: {"all": [{"m": cond}], "pri": i + 1, "run": act(label, rid)}
        for i, (rid, label, cond) in enumerate(conds)
    }
    # a catch-all, or an unmatched event raises MessageNotHandledException
    rules["default"] = {"all": [{"m": {"$ex": {"key": 1}}}], "pri": 100, "run": act("bronze", None)}
    return rules


def nested(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, v in row.items():
        if v is None:
            continue
        node = out
        *head, last = path.split(".")
        for p in head:
            node = node.setdefault(p, {})
        node[last] = v
    return out


# -- measuring --------------------------------------------------------------------------


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best-of-``repeat`` wall time of ``fn()`` and its last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, str]] = []

    def add(self, size: str, method: str, rate: float, note: str = "") -> None:
        self.rows.append((size, method, rate, note))

    def show(self, title: str, base: str) -> None:
        print(f"\n{title}")
        print(f"{'rows':>9}  {'method':<46} {'records/s':>13} {'× ' + base:>17}  note")
        by_size: dict[str, float] = {}
        for size, method, rate, _ in self.rows:
            if method.startswith(base):
                by_size[size] = rate
        for size, method, rate, note in self.rows:
            ratio = rate / by_size[size] if size in by_size else float("nan")
            print(f"{size:>9}  {method:<46} {rate:>13,.0f} {ratio:>17.2f}  {note}")


def bench_table(n: int, sample_n: int, repeat: int, out: Table) -> None:
    table = make_table(n)
    policy = cr.load_policy(POLICY_YAML, format="yaml")
    engine = cr.Engine(
        [policy], load_entry_points=False, block=[p for p in DEFAULT_PLUGINS if ".schemes." in p]
    )
    size = f"{n:,}"

    engine.classify_frame(table.head(1000), as_of=AS_OF)  # warm up polars
    t, frame = best(lambda: engine.classify_frame(table, as_of=AS_OF, rejected="raise"), repeat)
    out.add(size, "frame backend: classify_frame", n / t, f"{t:.3f} s, validation included")

    dicts = table.to_dicts()
    t, labels = best(lambda: [handwritten(r) for r in dicts], repeat)
    out.add(size, "hand-written if/elif over dict rows", n / t, f"{t:.3f} s")
    got = list(zip(frame[SCHEME].to_list(), frame[f"{SCHEME}__rule"].to_list(), strict=True))
    assert got == labels, (
        "frame and hand-written disagree"
    )  # a benchmark of different answers measures nothing

    k = min(n, sample_n)
    note = f"{k:,}-row sample, rate extrapolated" if k < n else ""
    sample = dicts[:k]
    records = cr.records_from_frame(table.head(k))
    t, decisions = best(lambda: [engine.decide(SCHEME, r, as_of=AS_OF) for r in records], max(1, repeat // 2))
    assert [(d.label, d.rule) for d in decisions] == labels[:k]
    out.add(size, "python backend: engine.decide per record", k / t, note)

    try:
        from durable.engine import Host
    except ImportError:
        print("durable_rules not installed (pip install durable-rules==2.0.28; Python <= 3.12)")
    else:
        results: dict[int, tuple[str, str | None]] = {}
        host = Host()
        name = f"bench_tier_{os.getpid()}_{n}"
        host.set_rulesets({name: durable_ruleset(results)})  # type: ignore[arg-type]
        messages = [
            {
                "key": i,
                "sid": str(i),
                "id": i + 1,
                **{p.replace(".", "__"): v for p, v in r.items() if v is not None},
            }
            for i, r in enumerate(sample)
        ]

        def run_durable() -> None:
            for m in messages:
                host.post(name, m)
                host.delete_state(name, m["sid"])

        t, _ = best(run_durable, 1)
        assert [results[i] for i in range(k)] == labels[:k], "durable_rules disagrees"
        out.add(size, "durable_rules post per record", k / t, note + "; + delete_state")

    try:
        import zen
    except ImportError:
        print("zen-engine not installed (pip install zen-engine)")
    else:
        decision = zen.ZenEngine().create_decision(zen_jdm())
        plain = [nested(r) for r in sample]
        t, answers = best(lambda: [decision.evaluate(d)["result"] for d in plain], 1)
        assert [(a["label"], None if a["rule"] == "default" else a["rule"]) for a in answers] == labels[:k]
        out.add(size, "zen-engine evaluate per record", k / t, note)


def bench_schemes(n: int, sample_n: int, repeat: int, out: Table) -> None:
    engine = cr.Engine(load_entry_points=False).fit(cr.sample_customers(2000), as_of=cr.SAMPLE_AS_OF)
    table = scheme_table(n)
    size = f"{n:,}"
    t, frame = best(lambda: engine.classify_frame(table, as_of=cr.SAMPLE_AS_OF, rejected="raise"), repeat)
    schemes = len(engine.schemes)
    out.add(size, f"frame backend: classify_frame ({schemes} schemes)", n / t, f"{t:.3f} s")
    k = min(n, sample_n, 5000)
    records = cr.records_from_frame(table.head(k))
    t, profiles = best(lambda: [engine.classify(r, as_of=cr.SAMPLE_AS_OF) for r in records], 1)
    for p, row in zip(profiles, frame.head(k).iter_rows(named=True), strict=True):
        assert all(row[s] == d.label for s, d in p.items()), "frame and python disagree"
    out.add(
        size, f"python backend: engine.classify ({schemes} schemes)", k / t, f"{k:,}-row sample, extrapolated"
    )


_MEMORY_CHILD = """
import datetime as dt, json, sys
import polars as pl
import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS
sys.path.insert(0, {bench!r})
from common import POLICY_YAML

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0

table = pl.read_parquet({path!r})
if {schemes!r}:
    engine = cr.Engine(load_entry_points=False).fit(cr.sample_customers(2000), as_of=cr.SAMPLE_AS_OF)
else:
    engine = cr.Engine([cr.load_policy(POLICY_YAML, format="yaml")], load_entry_points=False,
                       block=[p for p in DEFAULT_PLUGINS if ".schemes." in p])
engine.classify_frame(table.head(1000), as_of=dt.date(2026, 11, 22))
before = rss("VmRSS:")
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to now
    resettable = True
except OSError:
    resettable = False
out = engine.classify_frame(table, as_of=dt.date(2026, 11, 22))
peak = rss("VmHWM:")
print(json.dumps({{"table": table.estimated_size(), "before": before, "peak": peak,
                  "resettable": resettable, "rows": out.height}}))
"""


def scheme_table(n: int) -> pl.DataFrame:
    """Sample customers (with their nested lists) tiled to ``n`` rows, ids kept unique."""
    one = cr.frame_from_records(cr.sample_customers(2000))
    copies = -(-n // one.height)
    return pl.concat(
        [one.with_columns(pl.format("{}-{}", pl.col("id"), pl.lit(i)).alias("id")) for i in range(copies)]
    ).head(n)


def bench_memory(n: int, schemes: bool) -> None:
    if not os.path.exists("/proc/self/status"):
        print("\nmemory: needs Linux /proc (skipped)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "table.parquet")
        (scheme_table(n) if schemes else make_table(n)).write_parquet(path)
        code = _MEMORY_CHILD.format(
            bench=os.path.dirname(os.path.abspath(__file__)), path=path, schemes=schemes
        )
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(res.stdout.strip().splitlines()[-1])
    extra = data["peak"] - data["before"]
    what = "every built-in scheme on tiled sample customers" if schemes else "the 10-rule table"
    print(f"\nmemory, {n:,} rows, {what} (fresh process, RSS):")
    print(f"  input table (polars estimated size)  {data['table'] / 2**20:8.1f} MiB")
    print(f"  peak extra RSS during classify_frame {extra / 2**20:8.1f} MiB")
    print(f"  ratio extra / table                  {extra / data['table']:8.2f}×  (target ≤ 3×)")
    if not data["resettable"]:
        print("  (the peak could not be reset before the run: the ratio is an upper bound)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--sample", type=int, default=20_000, help="rows for the per-record engines")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-schemes", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()

    print(
        f"python {sys.version.split()[0]}, polars {pl.__version__}, {os.cpu_count()} CPUs;"
        f" best of {args.repeat} runs for the whole-table methods"
    )
    table = Table()
    for n in args.rows:
        bench_table(n, args.sample, args.repeat, table)
    table.show("10-rule first-hit table over 10 fields (benchmarks/common.py)", "hand-written")
    if not args.no_schemes:
        schemes = Table()
        for n in args.rows:
            bench_schemes(n, args.sample, args.repeat, schemes)
        schemes.show("every built-in scheme, sample customers tiled to the table size", "python backend")
    if not args.no_memory:
        bench_memory(max(args.rows), schemes=False)
        if not args.no_schemes:
            bench_memory(max(args.rows), schemes=True)


if __name__ == "__main__":
    main()
