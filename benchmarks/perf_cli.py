"""Rows of the performance table (benchmarks/perf.py) for the command line.

``customer-rules classify FILE --out labels.csv`` run in this process
(click's runner on ``customer_rules.cli.main.cli``, as tests/test_cli.py
drives it) on N customers read from a CSV file, a Parquet file and a JSON
Lines file. Beside each, the reference: the library doing the same work on
the same customers already given as a typed table — an ``Engine()`` with
the installed plugins (what ``build_engine`` gives without ``--policy``),
fitted on the input, then ``classify_frame``. The ratio is reference / CLI,
so it says how much of the command's time is the classification itself; the
rest is reading the file, checking it, and writing the output. No target
ratio: the file format should not cost more than the classification.

The inputs are the sample customers tiled to N with unique ids; CSV and
Parquet written by the library's own writer (``write_table``), the JSON
Lines file as a CRM export looks: one
``json.dumps(model_dump(mode="json", exclude_none=True))`` per line.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perf import Row


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs and the CPU seconds of that run."""
    best_wall, best_cpu = float("inf"), 0.0
    for _ in range(repeat):
        cpu = time.process_time()
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        if wall < best_wall:
            best_wall, best_cpu = wall, time.process_time() - cpu
    return best_wall, best_cpu


def _inputs(folder: Path, n: int) -> tuple[Any, dict[str, Path]]:
    """The typed table of N customers and the same customers as CSV, Parquet and JSON Lines files."""
    import customer_rules as cr
    from customer_rules.io.files import write_table

    sample = cr.sample_customers(2000)
    base = [c.model_dump() for c in sample]
    frame = cr.frame_from_records([{**base[i % len(base)], "id": f"R{i}"} for i in range(n)])
    files = {fmt: folder / f"customers.{fmt}" for fmt in ("csv", "parquet", "jsonl")}
    write_table(frame, files["csv"])
    write_table(frame, files["parquet"])
    exported = [c.model_dump(mode="json", exclude_none=True) for c in sample]
    with files["jsonl"].open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({**exported[i % len(exported)], "id": f"R{i}"}, ensure_ascii=False))
            f.write("\n")
    return frame, files


def rows(quick: bool) -> list[Row]:
    """``classify FILE --out labels.csv`` from each input format, against the library in-process."""
    from click.testing import CliRunner

    import customer_rules as cr
    from customer_rules.cli.main import cli
    from customer_rules.io.files import write_table

    n = 5_000 if quick else 100_000
    repeat = 1 if quick else 2
    day = cr.SAMPLE_AS_OF
    folder = Path(tempfile.mkdtemp(prefix="perf_cli-"))
    try:
        frame, files = _inputs(folder, n)

        quiet: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}

        def library(table: Any = frame) -> Any:
            engine = cr.Engine()
            population = engine.population_schemes()
            if population:
                engine.fit(table, as_of=day, schemes=population)
            return engine.classify_frame(table, as_of=day)

        def command(path: Path, target: Path) -> None:
            args = ["classify", str(path), "--as-of", day.isoformat(), "--out", str(target)]
            done = CliRunner().invoke(cli, args, env=quiet, catch_exceptions=False)
            assert done.exit_code == 0, done.output

        # warm both (plugins imported, policies parsed once) on a few customers
        library(frame.head(200))
        small = folder / "small.csv"
        write_table(frame.head(200), small)
        command(small, folder / "warm.csv")

        reference, reference_cpu = _best(library, repeat)
        out: list[Row] = []
        for fmt, path in files.items():
            target = folder / f"labels-from-{fmt}.csv"
            wall, cpu = _best(functools.partial(command, path, target), repeat)
            out.append(
                Row(
                    f"CLI `classify` {fmt} → `--out` CSV, {n:,} customers",
                    f"{wall:.2f} s (CPU {cpu:.2f} s)",
                    f"library: fit + `classify_frame` on the typed table {reference:.2f} s (CPU {reference_cpu:.2f} s)",
                    reference / wall,
                    "— (no cliff: the file format should not cost more than the classification)",
                )
            )
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)
