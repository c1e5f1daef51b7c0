"""What the distributed runs share (customer_rules.scale): exact cut-offs from
aggregations, chunked partitions, the engine pickled for workers, the extras."""

from __future__ import annotations

import math
import pickle
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.engine.fitting import learn
from customer_rules.lang.ast import Call
from customer_rules.lang.parser import parse
from customer_rules.scale import partition as part
from customer_rules.scale.cuts import FrameMeasures, fit_batches, fit_cuts


class ListMeasures:
    """The Measures protocol over in-memory lists, with quantiles that miss by up to
    ``miss`` of the values in a seeded random direction (a worst-case sketch)."""

    def __init__(self, data: Mapping[str, Sequence[float | None]], miss: float, seed: int) -> None:
        self.data = {c: [v for v in vs if v is not None] for c, vs in data.items()}
        self.miss = miss
        self.rng = random.Random(seed)

    def _finite(self, c: str) -> list[float]:
        return sorted(v for v in self.data[c] if not math.isnan(v))

    def counts(self, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
        return {c: (len(self.data[c]), sum(math.isnan(v) for v in self.data[c])) for c in columns}

    def quantiles(self, wanted: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
        out = {}
        for c, qs in wanted.items():
            vs = self._finite(c)
            picks = []
            for q in qs:
                off = self.rng.uniform(-self.miss, self.miss)
                i = min(len(vs) - 1, max(0, round((q + off) * (len(vs) - 1))))
                picks.append(vs[i])
            out[c] = picks
        return out

    def window(
        self, wanted: Mapping[str, tuple[float, float]]
    ) -> dict[str, tuple[int, list[tuple[float, int]]]]:
        out = {}
        for c, (lo, hi) in wanted.items():
            vs = self._finite(c)
            out[c] = (sum(v > hi for v in vs), list(Counter(v for v in vs if lo <= v <= hi).items()))
        return out

    def values(self, columns: Sequence[str]) -> dict[str, list[tuple[float, int]]]:
        return {c: list(Counter(self._finite(c)).items()) for c in columns}


def _call(text: str) -> Call:
    node = parse(text)
    assert isinstance(node, Call)
    return node


CALLS = [
    _call("top(x, 3)"),
    _call("top_pct(x, 20)"),
    _call("top_pct(x, 50)"),
    _call("top(x, 40)"),
    _call("bottom(x, 3)"),
    _call("bottom_pct(x, 20)"),
    _call("bottom_pct(x, 50)"),
    _call("bottom(x, 40)"),
    _call("percentile(x)"),
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5, -3.0, math.nan]), st.floats(-1e6, 1e6)),
        max_size=120,
    ),
    st.floats(0, 0.5),
    st.integers(0, 1000),
)
def test_fit_cuts_equal_learn_whatever_the_quantiles(
    values: list[float | None], miss: float, seed: int
) -> None:
    """Ties, NaN and missing values included, and however far the approximate
    quantiles miss, the cut-offs are exactly those learn() gives."""
    data = {f"c{i}": values for i in range(len(CALLS))}
    found = fit_cuts(
        ListMeasures(data, miss, seed), [(f"c{i}", c, {}) for i, c in enumerate(CALLS)], rank_error=0.01
    )
    for i, call in enumerate(CALLS):
        want = learn(call, pl.Series(values, dtype=pl.Float64()), {})
        got = found[f"c{i}"]
        assert (got.function, got.size, got.count) == (want.function, want.size, want.count)
        assert got.cutoff == want.cutoff or (math.isnan(got.cutoff or 0) and math.isnan(want.cutoff or 0))
        if want.values is not None:
            assert got.values is not None and len(got.values) == len(want.values)
            assert all(
                a == b or (math.isnan(a) and math.isnan(b))
                for a, b in zip(got.values, want.values, strict=True)
            )


def test_frame_measures_give_the_cuts_of_learn() -> None:
    """FrameMeasures (exact quantiles) find every cut learn() finds, NaN and ties included."""
    values = [3.0, 3.0, 3.0, 1.0, None, math.nan, 7.5, -2.0, 3.0, None, 0.0, 7.5]
    frame = pl.DataFrame({f"c{i}": values for i in range(len(CALLS))})
    found = fit_cuts(FrameMeasures(frame), [(f"c{i}", c, {}) for i, c in enumerate(CALLS)], rank_error=1e-6)
    for i, call in enumerate(CALLS):
        want = learn(call, pl.Series(values, dtype=pl.Float64()), {})
        got = found[f"c{i}"]
        assert (got.function, got.size, got.count) == (want.function, want.size, want.count)
        assert got.cutoff == want.cutoff or (math.isnan(got.cutoff or 0) and math.isnan(want.cutoff or 0))


def test_fit_batches_learns_what_fit_learns_chunk_by_chunk() -> None:
    """One machine, a population read in small chunks (a folder larger than memory):
    every built-in scheme's cut-offs, the care plugin's and a group-wise policy's,
    with ties across chunks, missing values and invalid rows, equal engine.fit's."""
    from scale_support import AS_OF, engine, population

    frame = population()
    local = engine().fit(frame, as_of=AS_OF)
    table = frame.to_arrow()
    fitted = fit_batches(engine(), lambda: table.to_batches(max_chunksize=45), as_of=AS_OF, chunk_rows=70)
    assert local.population_schemes()
    for sid in local.population_schemes():
        assert fitted.cuts(sid) == local.cuts(sid), sid
        assert fitted.fitted_[sid]["population"] == local.fitted_[sid]["population"], sid


def test_engine_pickles_as_its_recipe() -> None:
    """A pickled engine is rebuilt with its plugins (a module by name), added
    schemes, parameters and fitted cut-offs, and classifies the same."""
    import customer_rules_care

    engine = cr.Engine(plugins=[customer_rules_care], backend="frame", load_entry_points=False)
    engine = engine.with_params("value_pyramid", vip_top_pct=3)
    frame = cr.frame_from_records(cr.sample_customers(200))
    engine.fit(frame, as_of=cr.SAMPLE_AS_OF)
    again = pickle.loads(pickle.dumps(engine))
    assert list(again.schemes) == list(engine.schemes) and "care_level" in again.schemes
    assert again.params("value_pyramid") == engine.params("value_pyramid")
    assert again.fitted_ == engine.fitted_
    a = engine.classify_frame(frame, as_of=cr.SAMPLE_AS_OF, rejected="ignore")
    b = again.classify_frame(frame, as_of=cr.SAMPLE_AS_OF, rejected="ignore")
    assert a.equals(b)


def test_partition_chunks_decide_as_classify_frame() -> None:
    """A partition cut into small chunks: every row comes out once, with the labels
    of classify_frame and the rejected rows named by their place in the partition."""
    engine = cr.Engine(backend="frame", load_entry_points=False)
    frame = cr.frame_from_records(cr.sample_customers(150)).with_columns(
        pl.when(pl.int_range(pl.len()) % 13 == 4)
        .then(-1.0)
        .otherwise(pl.col("value.revenue_12m"))
        .alias("value.revenue_12m")
    )
    engine.fit(frame, as_of=cr.SAMPLE_AS_OF)
    job = part.ClassifyJob(cr.SAMPLE_AS_OF)
    table = frame.to_arrow()
    schema = part.combined_schema(table.schema, part.result_schema(engine, table.schema, job))
    out = pl.from_arrow(
        pa.Table.from_batches(
            list(
                part.classify_batches(
                    engine, table.to_batches(max_chunksize=17), job, schema, 5, chunk_rows=40
                )
            )
        )
    )
    assert isinstance(out, pl.DataFrame) and out.height == frame.height
    assert out.get_column(part.ROW).to_list() == list(range(frame.height))
    ref = engine.classify_frame_with_rejects(frame, as_of=cr.SAMPLE_AS_OF)
    good = out.filter(pl.col(part.REASON).is_null())
    for sid in engine.schemes:
        assert good.get_column(sid).to_list() == ref.frame.get_column(sid).cast(pl.String()).to_list()
    bad = out.filter(pl.col(part.REASON).is_not_null())
    assert bad.get_column(part.ROW).to_list() == ref.rejected.get_column("row").to_list()
    for r, want in zip(bad.iter_rows(named=True), ref.rejected.iter_rows(named=True), strict=True):
        assert r[part.REASON] == want["reason"].replace(
            f"(row {want['row']})", f"(partition 5, row {want['row']})"
        )


def test_without_the_extra_the_error_names_it() -> None:
    for module, extra in (("pyspark", "spark"), ("dask", "dask")):
        code = (
            f"import sys; sys.modules[{module!r}] = None\n"
            "import customer_rules.errors as e\n"
            "try:\n"
            f"    import customer_rules.{extra}\n"
            "except e.BackendUnavailable as exc:\n"
            "    print(exc)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert f"pip install 'customer-rules[{extra}]'" in out


def test_cli_classifies_a_folder_file_by_file(tmp_path: Path) -> None:
    """``customer-rules classify FOLDER`` without --engine: fitted over the whole folder,
    classified one file at a time, with the labels classify_frame gives on the whole
    table and every rejected row named by its file and row."""
    from click.testing import CliRunner
    from scale_support import AS_OF, expected, population, write_parts

    from customer_rules.cli.main import cli

    frame = population().head(120)
    folder = write_parts(frame, tmp_path / "in")
    out, rej = tmp_path / "labels", tmp_path / "rejected"
    args = ["classify", str(folder), "--as-of", AS_OF.isoformat(), "--out", str(out), "--rejected", str(rej)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    labelled, rejected = pl.read_parquet(out), pl.read_parquet(rej)
    assert labelled.height + rejected.height == frame.height and rejected.height > 0
    assert f"{labelled.height} of {frame.height} rows classified file by file" in result.output
    local = cr.Engine()
    local.fit(frame, as_of=AS_OF)
    labels, _ = expected(local, frame)
    got = labelled.select(pl.col(c).cast(pl.String()) if c != "id" else pl.col(c) for c in labels.columns)
    assert got.sort("id").equals(labels)
    files = {f.name for f in folder.iterdir()}
    for r in rejected.iter_rows(named=True):
        assert r["file"] in files and f"(row {r['row']})" in r["reason"]
        source = pl.read_parquet(folder / r["file"])
        assert source.get_column("id")[r["row"]] == r["id"]
