"""Test-suite setup shared by every test module."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Keep the suite hermetic: entry-point plugins installed in this environment
# (the care-level example plugin, the throwaway strategy-override plugin, or a
# developer's own) must not change what a plain ``Engine()`` does in tests
# that did not ask for them. tests/test_plugins.py sets or removes the
# variable per test to exercise discovery. An explicit value is respected.
os.environ.setdefault("CUSTOMER_RULES_PLUGINS", "")

OVERRIDE_PLUGIN = Path(__file__).parent / "plugins" / "strategy_override"


@pytest.fixture(scope="module")
def frame_backend() -> Any:
    """``classify_frame``'s default (``backend="auto"``) runs the frame
    backend whatever the table's height: for the modules that compare the
    frame backend with the record backend on small tables (the small-table
    path decides with the record backend itself; tests/test_frame_small.py
    holds it equal to the frame backend)."""
    import customer_rules.engine.tables as tables

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "SMALL_ROWS", 0)
        yield


@pytest.fixture(scope="session")
def strategy_override_installed(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Install the throwaway strategy-override plugin the way pip installs any
    plugin, into a private site directory for this test session only, so a
    user's own environment (and the README demo) never sees it. Skipped when
    it is already installed in the environment."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="customer_rules")}
    if "test_strategy_override" in names:
        return
    site = tmp_path_factory.mktemp("site")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(OVERRIDE_PLUGIN),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        pytest.fail(f"could not install {OVERRIDE_PLUGIN}: {out.stderr[-2000:]}")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()


# -- one Spark session and one Dask cluster for the whole run (tests/test_spark.py,
# tests/test_dask.py): started on first use, small, stopped at the end


@pytest.fixture(scope="session")
def spark_session():  # type: ignore[no-untyped-def]
    """A local Spark session (2 cores, few shuffle partitions, no UI)."""
    pytest.importorskip("pyspark", reason="needs the spark extra: pip install -e \".[spark]\"")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("customer-rules-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def dask_client():  # type: ignore[no-untyped-def]
    """A local ``distributed`` cluster: two worker processes, one thread each."""
    pytest.importorskip("distributed", reason="needs the dask extra: pip install -e \".[dask]\"")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True)
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
