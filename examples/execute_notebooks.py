"""Run the example notebooks in place so they are committed with their outputs.

    python examples/execute_notebooks.py        # needs nbclient, ipykernel, matplotlib

A reader sees the tables and pictures on GitHub without running anything;
``tests/test_notebooks.py`` checks that every code cell has its output and
that the notebooks still run. Outputs are kept reproducible: no per-cell
timing metadata, the sample data and ``SAMPLE_AS_OF`` are fixed, and the
kernel runs in ``examples/`` so no absolute path of this machine shows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent


def execute(path: Path) -> None:
    """Execute one notebook top to bottom and write it back with its outputs."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    os.environ["MPLBACKEND"] = "Agg"
    client = nbclient.NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    print(f"ran {path.name}")


def main(names: list[str]) -> None:
    paths = [EXAMPLES / n for n in names] if names else sorted(EXAMPLES.glob("*.ipynb"))
    for path in paths:
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
