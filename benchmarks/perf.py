"""Issue 14's performance table: every path, the reference measured beside it in
the same run, and the ratio.

    python benchmarks/perf.py [--quick]

Each ``perf_*.py`` module next to this file contributes rows through
``rows(quick) -> list[Row]``; this script runs them all and prints one
Markdown table. ``--quick`` shrinks the sizes so the table prints in about a
minute (the numbers are then only indicative). Timing is never asserted in
the unit tests; this table is where performance claims live.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: the modules that contribute rows, in the order the table lists them
SECTIONS = ("perf_record", "perf_frame", "perf_apps", "perf_cli")


@dataclass(frozen=True)
class Row:
    """One measured path.

    ``ours`` and ``reference`` are printed as given (with their units);
    ``ratio`` is ours relative to the reference, oriented so that > 1 means
    we are faster or within budget; ``target`` says what issue 14 asks.
    """

    path: str
    ours: str
    reference: str
    ratio: float | None
    target: str


def render(rows: list[Row]) -> str:
    """The rows as one Markdown table."""
    out = ["| path | ours | reference | ratio | target |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        out.append(f"| {r.path} | {r.ours} | {r.reference} | {ratio} | {r.target} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, indicative numbers")
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    args = ap.parse_args()
    rows: list[Row] = []
    for name in args.only or SECTIONS:
        module = importlib.import_module(name)
        rows.extend(module.rows(args.quick))
    print(render(rows))


if __name__ == "__main__":
    main()
