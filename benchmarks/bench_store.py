"""Decision-store write throughput: a classified table logged in bulk.

One run, one machine: ``classify_frame`` labels N rows under the shared
10-rule table (``common.py``), then ``store.log(frame, ...)`` writes the N
decisions (with their input rows, content-addressed) into

* a SQLite file (the default store), and
* PostgreSQL (COPY into a staging table), when ``CUSTOMER_RULES_TEST_PG`` or
  ``--pg URL`` names a server;

beside the reference for each database in the same run: the same number of
bare rows (id, customer, scheme, period, label, rule) inserted with the
driver's own ``executemany`` into a plain table — the floor any log that
keeps one row per decision pays.

    python benchmarks/bench_store.py                # 100k rows
    python benchmarks/bench_store.py --rows 20000   # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from typing import Any

import polars as pl
from common import POLICY_YAML, make_records

import customer_rules as cr

AS_OF = dt.date(2026, 11, 22)


def _reference(url: str, rows: list[tuple[Any, ...]]) -> float:
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_plain")
        conn.exec_driver_sql(
            "CREATE TABLE bench_plain (id VARCHAR(32) PRIMARY KEY, customer_id VARCHAR(200),"
            " scheme VARCHAR(100), period VARCHAR(64), label VARCHAR(100), rule VARCHAR(200))"
        )
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        mark = "?" if url.startswith("sqlite") else "%s"
        t0 = time.perf_counter()
        cur.executemany(f"INSERT INTO bench_plain VALUES ({', '.join([mark] * 6)})", rows)
        raw.commit()
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
        eng.dispose()
    return elapsed


def _fresh_pg(url: str, tag: str = "") -> str:
    """An empty database ``cr_bench_<pid><tag>`` on the server ``url`` names
    (made from its ``postgres`` database, so ``url`` may be an earlier one)."""
    import sqlalchemy as sa

    server = url.rsplit("/", 1)[0]
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    name = f"cr_bench_{os.getpid()}{tag}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return f"{server}/{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--pg", default=os.environ.get("CUSTOMER_RULES_TEST_PG"))
    args = ap.parse_args()
    engine = cr.Engine([cr.load_policy(POLICY_YAML, format="yaml")], load_entry_points=False)
    table = cr.frame_from_records(make_records(args.rows)) if args.rows <= 20_000 else None
    if table is None:
        recs = make_records(20_000)
        base = cr.frame_from_records(recs)
        reps = -(-args.rows // base.height)
        table = pl.concat(
            [base.with_columns((pl.col("id") + f"-{i}").alias("id")) for i in range(reps)]
        ).head(args.rows)
    t0 = time.perf_counter()
    out = engine.classify_frame(table, as_of=AS_OF, schemes=["bench_tier"])
    t_classify = time.perf_counter() - t0
    n = out.height
    plain = [
        (f"{i:032d}", cid, "bench_tier", "2026Q4", lab, rule)
        for i, (cid, lab, rule) in enumerate(zip(out["id"], out["bench_tier"].cast(pl.String), out["bench_tier__rule"], strict=True))
    ]
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("SQLite", f"sqlite:///{tmp}/store.db", f"sqlite:///{tmp}/plain.db"))
        if args.pg:
            pg = _fresh_pg(args.pg)
            targets.append(("PostgreSQL", pg, pg))
        print(f"{n:,} rows classified in {t_classify:.2f} s ({n / t_classify / 1e6:.2f} M rows/s)\n")
        print("| database | store.log (decisions/s) | driver executemany, bare rows (rows/s) | ratio |")
        print("|---|---|---|---|")
        for name, url, plain_url in targets:
            store = cr.DecisionStore(url)
            t0 = time.perf_counter()
            written = store.log(out, engine=engine, as_of=AS_OF, period="2026Q4")
            t_log = time.perf_counter() - t0
            assert written == n, (written, n)
            store.close()
            t_ref = _reference(plain_url, plain)
            print(f"| {name} | {n / t_log:,.0f} | {n / t_ref:,.0f} | {t_ref / t_log:.2f} |")
        relog(engine, targets)
        profiles_and_table(targets)


def relog(engine: cr.Engine, targets: list[tuple[str, str, str]]) -> None:
    """Profiles logged again (a period re-run: nothing new is written)
    against the same number logged for a new period, in stores of growing
    size: the cost of a repeat must not grow with the store."""
    print("\n| database | customers in the store | 200 profiles logged again | 200 logged new | ratio |")
    print("|---|---|---|---|---|")
    for name, url, _ in targets:
        for size in (1_000, 10_000):
            fresh = _fresh_pg(url, f"_relog{size}") if name == "PostgreSQL" else url.replace("store.db", f"relog{size}.db")
            store = cr.DecisionStore(fresh)
            profiles = engine.classify_many(make_records(size), as_of=AS_OF).profiles
            store.log(profiles, period="P1")
            part = profiles[:200]
            t0 = time.perf_counter()
            assert store.log(part, period="P1") == 0
            t_again = time.perf_counter() - t0
            t0 = time.perf_counter()
            assert store.log(part, period="P2") == sum(len(p.decisions) for p in part)
            t_new = time.perf_counter() - t0
            store.close()
            print(f"| {name} | {size:,} | {t_again * 1e3:.0f} ms | {t_new * 1e3:.0f} ms | {t_new / t_again:.2f} |")


def profiles_and_table(targets: list[tuple[str, str, str]]) -> None:
    """Every built-in scheme's decisions for the same customers, logged as
    profiles (``classify_many``: each decision with its evidence and the
    customer's input) against logged as a classified table (labels and
    rules, the table kept once): what a profile's extra content costs."""
    engine = cr.Engine(load_entry_points=False).fit(cr.sample_customers(2000), as_of=cr.SAMPLE_AS_OF)
    customers = cr.sample_customers(2000, seed=7)
    profiles = engine.classify_many(customers, as_of=cr.SAMPLE_AS_OF).profiles
    table = engine.classify_frame(cr.frame_from_records(customers), as_of=cr.SAMPLE_AS_OF)
    n = sum(len(p.decisions) for p in profiles)
    print(f"\n| database | {len(profiles):,} profiles logged ({n:,} decisions) | the same as a table | ratio |")
    print("|---|---|---|---|")
    for name, url, _ in targets:
        if name == "PostgreSQL":
            fresh = [_fresh_pg(url, f"_{k}") for k in ("profiles", "table")]
        else:
            fresh = [url.replace("store.db", f"{k}.db") for k in ("profiles", "table")]
        store = cr.DecisionStore(fresh[0])
        t0 = time.perf_counter()
        assert store.log(profiles, period="P1") == n
        t_profiles = time.perf_counter() - t0
        store.close()
        store = cr.DecisionStore(fresh[1])
        t0 = time.perf_counter()
        assert store.log(table, engine=engine, as_of=cr.SAMPLE_AS_OF, period="P1") == n
        t_table = time.perf_counter() - t0
        store.close()
        print(
            f"| {name} | {t_profiles:.2f} s ({n / t_profiles:,.0f} decisions/s) "
            f"| {t_table:.2f} s ({n / t_table:,.0f} decisions/s) | {t_table / t_profiles:.2f} |"
        )


if __name__ == "__main__":
    main()
