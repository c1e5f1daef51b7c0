"""The example notebooks run from top to bottom without an error (so they
never rot), and are committed with their outputs (so a reader sees the
tables and pictures without running them; ``python
examples/execute_notebooks.py`` refreshes them). How long they take is not asserted here: wall-clock limits in
unit tests fail on a loaded machine, not on slow code; a cell that hangs is
stopped by the per-cell timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# Notebooks that use a separately installed plugin: skipped, naming what to install, where it is missing.
NEEDS = {
    "orders_to_rfm_and_clv.ipynb": (
        ("customer_rules_clv", "pymc_marketing"),
        "pip install -e plugins/customer-rules-clv (pymc-marketing, the extra 'clv')",
    ),
}


def test_the_examples_are_there() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {
        "licence_grade_experiment.ipynb",
        "orders_to_rfm_and_clv.ipynb",
        "own_scheme_from_yaml.ipynb",
    } <= names
    assert set(NEEDS) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_its_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    assert code
    missing = [cell.source.splitlines()[0] for cell in code if not cell.get("outputs")]
    assert not missing, f"{path.name}: code cells without outputs (run examples/execute_notebooks.py): {missing}"
    # run once, top to bottom, in order, without an error
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [o for cell in code for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    # nothing of the machine that ran them: no absolute paths of it, no timings
    text = nbformat.writes(nb)
    for local in {str(Path.home()), str(Path(__file__).resolve().parent.parent)}:
        assert local not in text
    assert not [cell for cell in code if "execution" in cell.metadata]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules, install = NEEDS.get(path.name, ((), ""))
    for module in modules:
        pytest.importorskip(module, reason=f"{path.name} needs {module}: {install}")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the lab's objects show as HTML tables and pictures, not bare reprs
    assert any("text/html" in o.get("data", {}) for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)
