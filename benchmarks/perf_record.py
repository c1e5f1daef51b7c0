"""Rows of the performance table (benchmarks/perf.py) for the record paths."""

from __future__ import annotations

from perf import Row


def rows(quick: bool) -> list[Row]:
    """Measure the record paths; sizes shrink when quick."""
    return []
