"""Scale-out: every built-in scheme on N generated customers, on one machine, on
local Spark and on a local Dask cluster, in one run.

For each engine: the time of ``fit`` (population cut-offs over all N rows) and
of ``classify`` (labels for all N rows, the output forced but not collected),
rows/s, and the peak resident memory of a worker process (Spark's Python
workers, Dask's worker processes, sampled from outside every 0.2 s; the
single-node process itself). Each
engine runs in a fresh subprocess on the same Parquet folder. The single
node reads the folder file by file (``customer_rules.scale.cuts.fit_batches``,
then ``classify_frame_with_rejects`` per file): 10M customers of ~130 columns
are ~9 GiB in memory, more than one ``classify_frame`` of the whole table
can hold on a small machine.

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


class Sampler:
    """Peak resident memory of every process this one starts (Spark's JVM and its
    Python workers, Dask's worker processes), sampled every 0.2 s while it runs."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.peaks: dict[int, tuple[str, float]] = {}
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.2):
            for proc in self._me.children(recursive=True):
                try:
                    name = "jvm" if proc.name() == "java" else "python"
                    mb = proc.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                old = self.peaks.get(proc.pid, (name, 0.0))[1]
                self.peaks[proc.pid] = (name, max(old, mb))

    def stop(self) -> dict[str, list[float]]:
        """Peak MB of each process seen, by kind (``jvm``, ``python``), largest first."""
        self._stop.set()
        self._thread.join()
        out: dict[str, list[float]] = {}
        for name, mb in self.peaks.values():
            out.setdefault(name, []).append(mb)
        return {k: sorted(v, reverse=True) for k, v in out.items()}


def run_single(folder: Path, chunk_rows: int) -> dict[str, Any]:
    """One process, the folder read file by file: ``fit_batches`` (the measures of
    every chunk, then exact cut-offs), then ``classify_frame_with_rejects`` on
    each file in turn, so memory holds one file's classification at a time."""
    import polars as pl
    import pyarrow.dataset as ds

    import customer_rules as cr
    from customer_rules.scale.cuts import fit_batches

    engine = cr.Engine(backend="frame", load_entry_points=False)
    files = sorted(folder.glob("*.parquet"))
    t0 = time.perf_counter()
    fit_batches(engine, lambda: ds.dataset(files).to_batches(), as_of=AS_OF, chunk_rows=chunk_rows)
    t1 = time.perf_counter()
    rows = 0
    for f in files:
        frame = pl.read_parquet(f)
        result = engine.classify_frame_with_rejects(frame, as_of=AS_OF)
        assert result.n_rows == frame.height
        rows += frame.height
        del frame, result
    t2 = time.perf_counter()
    return {"fit": t1 - t0, "classify": t2 - t1, "worker_mb": [_peak_mb()], "rows": rows}


def run_spark(folder: Path, chunk_rows: int, driver_memory: str) -> dict[str, Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import customer_rules as cr
    from customer_rules import spark as crs

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    sdf = session.read.parquet(str(folder))
    engine = cr.Engine(backend="frame", load_entry_points=False)
    sampler = Sampler()
    t0 = time.perf_counter()
    crs.fit(engine, sdf, as_of=AS_OF, chunk_rows=chunk_rows)
    t1 = time.perf_counter()
    result = crs.classify(engine, sdf, as_of=AS_OF, chunk_rows=chunk_rows)
    result.combined.write.format("noop").mode("overwrite").save()
    t2 = time.perf_counter()
    peaks = sampler.stop()
    rows = sdf.count()
    session.stop()
    return {
        "fit": t1 - t0,
        "classify": t2 - t1,
        "worker_mb": peaks.get("python", [])[:4],
        "jvm_mb": peaks.get("jvm", []),
        "rows": rows,
        "driver_mb": _peak_mb(),
    }


def run_dask(folder: Path, chunk_rows: int) -> dict[str, Any]:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import customer_rules as cr
    from customer_rules import dask as crd

    sampler = Sampler()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, memory_limit=0)
    client = Client(cluster)
    ddf = dd.read_parquet(str(folder), dtype_backend="pyarrow")
    engine = cr.Engine(backend="frame", load_entry_points=False)
    with dask.config.set(scheduler=client.get):
        t0 = time.perf_counter()
        crd.fit(engine, ddf, as_of=AS_OF, chunk_rows=chunk_rows)
        t1 = time.perf_counter()
        result = crd.classify(engine, ddf, as_of=AS_OF, chunk_rows=chunk_rows)
        rows = int(result.combined.map_partitions(len).sum().compute())
        t2 = time.perf_counter()
    peaks = sampler.stop()
    client.close()
    cluster.close()
    return {
        "fit": t1 - t0,
        "classify": t2 - t1,
        "worker_mb": peaks.get("python", [])[:2],
        "rows": rows,
        "driver_mb": _peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=0, help="Parquet files (default: one per 250k rows)")
    parser.add_argument("--chunk-rows", type=int, default=200_000)
    parser.add_argument("--engines", default="single,spark,dask")
    parser.add_argument(
        "--spark-memory",
        default="6g",
        help="the local Spark JVM's heap (driver and executors are one process in local mode)",
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one engine in this process
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        folder = Path(args.folder)
        out = {
            "single": lambda: run_single(folder, args.chunk_rows),
            "spark": lambda: run_spark(folder, args.chunk_rows, args.spark_memory),
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
                    "--spark-memory",
                    args.spark_memory,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                # the first errors say why (a JVM's OutOfMemoryError, a lost
                # worker); the traceback's tail is often only the aftermath
                causes = [ln for ln in proc.stderr.splitlines() if "Error" in ln or "Exception" in ln]
                print(f"{name:8} failed: " + "\n".join(causes[:8]) + "\n..." + proc.stderr[-1500:])
                continue
            r = json.loads(lines[-1][7:])
            both = r["fit"] + r["classify"]
            mbs = ", ".join(f"{m:.0f}" for m in r["worker_mb"])
            if r.get("jvm_mb"):
                mbs += f" (JVM {r['jvm_mb'][0]:.0f})"
            print(
                f"{name:8} {r['fit']:8.1f} {r['classify']:11.1f} {r['rows'] / r['classify']:18,.0f}"
                f" {r['rows'] / both:14,.0f}  {mbs}"
            )
            sys.stdout.flush()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
