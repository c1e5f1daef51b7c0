"""Scale-out: every built-in scheme on N generated customers, on one machine, on
local Spark and on a local Dask cluster, in one run.

For each engine: the time of ``fit`` (population cut-offs over all N rows) and
of ``classify`` (labels for all N rows, the output forced but not collected),
rows/s, and the peak resident memory of a worker process (Spark's Python
workers, Dask's worker processes; the single-node process itself). Each
engine runs in a fresh subprocess on the same Parquet folder.

    python benchmarks/bench_scale.py                  # 10M rows
    python benchmarks/bench_scale.py --rows 1000000   # 1M rows
    python benchmarks/bench_scale.py --rows 100000 --engines single,dask

The population is the library's sample customers (2 000 of them) repeated
with fresh ids and jittered amounts until N rows, written as ``--files``
Parquet files to a temporary folder (removed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AS_OF = "2025-06-30"


def make_population(folder: Path, rows: int, files: int) -> None:
    """N customers from the sample ones, with fresh ids and jittered amounts."""
    import numpy as np
    import polars as pl

    import customer_rules as cr

    base = cr.frame_from_records(cr.sample_customers(2000))
    per_file = -(-rows // files)
    rng = np.random.default_rng(1)
    written = 0
    for f in range(files):
        n = min(per_file, rows - written)
        if n <= 0:
            break
        idx = pl.Series(rng.integers(0, base.height, n))
        part = base[idx]
        jitter = pl.Series(rng.uniform(0.8, 1.2, n))
        part = part.with_columns(
            pl.format("G{}", pl.int_range(written, written + n)).alias("id"),
            (pl.col("value.revenue_12m") * jitter).round(0),
            (pl.col("value.turnover") * jitter).round(0),
            (pl.col("compliance.business_score") * jitter).clip(0, 100).round(1),
        )
        part.write_parquet(folder / f"part-{f:04d}.parquet")
        written += n


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_single(folder: Path) -> dict[str, Any]:
    import polars as pl

    import customer_rules as cr

    engine = cr.Engine(backend="frame", load_entry_points=False)
    frame = pl.read_parquet(folder)
    t0 = time.perf_counter()
    engine.fit(frame, as_of=AS_OF)
    t1 = time.perf_counter()
    result = engine.classify_frame_with_rejects(frame, as_of=AS_OF)
    t2 = time.perf_counter()
    assert result.n_rows == frame.height
    return {"fit": t1 - t0, "classify": t2 - t1, "worker_mb": [_peak_mb()], "rows": frame.height}


def run_spark(folder: Path, chunk_rows: int) -> dict[str, Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import customer_rules as cr
    from customer_rules import spark as crs

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    sdf = session.read.parquet(str(folder))
    engine = cr.Engine(backend="frame", load_entry_points=False)
    t0 = time.perf_counter()
    crs.fit(engine, sdf, as_of=AS_OF, chunk_rows=chunk_rows)
    t1 = time.perf_counter()
    result = crs.classify(engine, sdf, as_of=AS_OF, chunk_rows=chunk_rows)
    result.combined.write.format("noop").mode("overwrite").save()
    t2 = time.perf_counter()
    rows = sdf.count()

    def peak(_: Any) -> Any:
        import resource as r

        yield {"pid": os.getpid(), "mb": r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024}

    seen = session.sparkContext.parallelize(range(8), 8).mapPartitions(peak).collect()
    workers = sorted({s["pid"]: s["mb"] for s in seen}.values())
    session.stop()
    return {"fit": t1 - t0, "classify": t2 - t1, "worker_mb": workers, "rows": rows, "driver_mb": _peak_mb()}


def run_dask(folder: Path, chunk_rows: int) -> dict[str, Any]:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import customer_rules as cr
    from customer_rules import dask as crd

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, memory_limit=0)
    client = Client(cluster)
    ddf = dd.read_parquet(str(folder))
    engine = cr.Engine(backend="frame", load_entry_points=False)
    with dask.config.set(scheduler=client.get):
        t0 = time.perf_counter()
        crd.fit(engine, ddf, as_of=AS_OF, chunk_rows=chunk_rows)
        t1 = time.perf_counter()
        result = crd.classify(engine, ddf, as_of=AS_OF, chunk_rows=chunk_rows)
        rows = int(result.combined.map_partitions(len).sum().compute())
        t2 = time.perf_counter()

    def peak() -> float:
        import resource as r

        return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024

    workers = sorted(client.run(peak).values())
    client.close()
    cluster.close()
    return {"fit": t1 - t0, "classify": t2 - t1, "worker_mb": workers, "rows": rows, "driver_mb": _peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=0, help="Parquet files (default: one per 250k rows)")
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--engines", default="single,spark,dask")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one engine in this process
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        folder = Path(args.folder)
        out = {
            "single": lambda: run_single(folder),
            "spark": lambda: run_spark(folder, args.chunk_rows),
            "dask": lambda: run_dask(folder, args.chunk_rows),
        }[args.run]()
        print("RESULT " + json.dumps(out))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        files = args.files or max(2, -(-args.rows // 250_000))
        t = time.perf_counter()
        make_population(folder, args.rows, files)
        print(
            f"{args.rows:,} customers in {files} Parquet files ({time.perf_counter() - t:.0f}s to generate)"
        )
        print(
            f"{'engine':8} {'fit s':>8} {'classify s':>11} {'rows/s (classify)':>18} {'rows/s (both)':>14}  peak MB per worker"
        )
        for name in args.engines.split(","):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--run",
                    name,
                    "--folder",
                    str(folder),
                    "--chunk-rows",
                    str(args.chunk_rows),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(f"{name:8} failed: {proc.stderr[-1500:]}")
                continue
            r = json.loads(lines[-1][7:])
            both = r["fit"] + r["classify"]
            mbs = ", ".join(f"{m:.0f}" for m in r["worker_mb"])
            print(
                f"{name:8} {r['fit']:8.1f} {r['classify']:11.1f} {r['rows'] / r['classify']:18,.0f}"
                f" {r['rows'] / both:14,.0f}  {mbs}"
            )
            sys.stdout.flush()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
