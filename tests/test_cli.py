"""The ``customer-rules`` command line, driven through its real entry point
(click's runner on ``customer_rules.cli.main.cli``, and ``python -m
customer_rules`` in a subprocess) on real files."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

import customer_rules as cr
from customer_rules.cli.main import cli
from customer_rules.io.files import write_table

AS_OF = "2026-11-22"
N = 120
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Invoke the command line as a user would (no terminal: plain output)."""
    # a developer's or CI's colour settings must not turn the terminal on
    quiet: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
    return CliRunner().invoke(
        cli, [str(a) for a in args], env={**quiet, **(env or {})}, catch_exceptions=True
    )


@pytest.fixture(scope="module")
def customers() -> list[cr.Customer]:
    return cr.sample_customers(N)


@pytest.fixture(scope="module")
def reference(customers: list[cr.Customer]) -> dict[str, dict[str, str | None]]:
    """Labels by customer id and scheme from the library itself (python backend)."""
    engine = cr.Engine()
    engine.fit(customers, as_of=AS_OF)
    batch = engine.classify_many(customers, as_of=AS_OF)
    assert not batch.rejected
    return {p.customer_id or "": p.labels for p in batch.profiles}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, customers: list[cr.Customer]) -> dict[str, Path]:
    """The sample customers as CSV, Parquet, flat JSON Lines and nested JSON Lines."""
    root = tmp_path_factory.mktemp("customers")
    frame = cr.frame_from_records(customers)
    out = {}
    for fmt in ("csv", "parquet", "jsonl"):
        path = root / f"customers.{fmt}"
        write_table(frame, path)
        out[fmt] = path
    nested = root / "nested.jsonl"
    nested.write_text(
        "".join(c.model_dump_json(exclude_none=True) + "\n" for c in customers), encoding="utf-8"
    )
    out["nested"] = nested
    return out


def read_any(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False).to_dicts()
    if path.suffix == ".parquet":
        return pl.read_parquet(path).to_dicts()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_labels(rows: list[dict[str, Any]], reference: dict[str, dict[str, str | None]]) -> None:
    assert len(rows) == len(reference)
    for row in rows:
        expected = reference[row["id"]]
        got = {s: (row.get(s) or None) for s in expected}
        assert got == expected, row["id"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# ---------------------------------------------------------------------------
# classify: formats and backends
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("csv", "csv"),
        ("parquet", "parquet"),
        ("jsonl", "jsonl"),
        ("nested", "jsonl"),
        ("csv", "parquet"),
        ("parquet", "jsonl"),
        ("nested", "csv"),
    ],
)
def test_classify_round_trips_every_format(
    files: dict[str, Path],
    reference: dict[str, dict[str, str | None]],
    tmp_path: Path,
    source: str,
    target: str,
) -> None:
    out = tmp_path / f"labels.{target}"
    result = run("classify", files[source], "--as-of", AS_OF, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_any(out)
    # the labels are the library's, whatever the file format
    assert_labels(rows, reference)
    for row in rows:
        assert {f"{s}__rule" for s in reference[row["id"]]} <= set(row)
    assert f"{N} row(s), {N} classified, 0 rejected" in result.stdout


def test_csv_output_keeps_the_input_cells_as_written(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    assert run("classify", files["csv"], "--as-of", AS_OF, "--out", out).exit_code == 0
    before = pl.read_csv(files["csv"], infer_schema=False)
    after = pl.read_csv(out, infer_schema=False)
    assert after.select(before.columns).equals(before)


def test_nested_jsonl_output_keeps_the_objects(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    assert (
        run("classify", files["nested"], "--as-of", AS_OF, "--out", out, "--schemes", "crisis").exit_code == 0
    )
    originals = [json.loads(x) for x in files["nested"].read_text(encoding="utf-8").splitlines()]
    written = read_any(out)
    for before, after in zip(originals, written, strict=True):
        assert {k: v for k, v in after.items() if k not in ("crisis", "crisis__rule")} == before
        assert after["crisis"] in ("G", "F", "none")


def test_python_backend_gives_the_frame_backends_labels(
    files: dict[str, Path], reference: dict[str, dict[str, str | None]], tmp_path: Path
) -> None:
    frame_out, python_out = tmp_path / "frame.csv", tmp_path / "python.csv"
    base = ("classify", files["csv"], "--as-of", AS_OF, "--reasons")
    assert run(*base, "--out", frame_out, "--backend", "frame").exit_code == 0
    assert run(*base, "--out", python_out, "--backend", "python").exit_code == 0
    assert_labels(read_any(python_out), reference)
    frame, python = (pl.read_csv(p, infer_schema=False) for p in (frame_out, python_out))
    assert frame.columns == python.columns
    # labels and rules agree exactly; the reason texts name the same rules
    same = [c for c in frame.columns if not c.endswith("__reason")]
    assert frame.select(same).equals(python.select(same))
    for c in frame.columns:
        if c.endswith("__reason"):
            firsts = [(r or "").split(";")[0] for r in frame.get_column(c).to_list()]
            assert firsts == [(r or "").split(";")[0] for r in python.get_column(c).to_list()]


def test_without_the_frame_backend_it_classifies_record_by_record(
    files: dict[str, Path],
    reference: dict[str, dict[str, str | None]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable(self: cr.Engine, *args: Any, **kwargs: Any) -> Any:
        raise cr.BackendUnavailable("the frame backend needs polars: pip install polars")

    monkeypatch.setattr(cr.Engine, "classify_frame_with_rejects", unavailable)
    out = tmp_path / "labels.csv"
    result = run("classify", files["csv"], "--as-of", AS_OF, "--out", out)
    assert result.exit_code == 0, result.output
    assert "classifying record by record instead" in result.stderr
    assert_labels(read_any(out), reference)


def test_schemes_option_limits_the_output_columns(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    result = run(
        "classify",
        files["csv"],
        "--as-of",
        AS_OF,
        "--schemes",
        "lead_grade,crisis",
        "--reasons",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    added = [
        c for c in pl.read_csv(out, infer_schema=False).columns if c.startswith(("lead_grade", "crisis"))
    ]
    assert added == [
        "lead_grade",
        "lead_grade__rule",
        "lead_grade__reason",
        "crisis",
        "crisis__rule",
        "crisis__reason",
    ]
    assert "value_pyramid" not in pl.read_csv(out, infer_schema=False).columns


def test_unknown_scheme_is_a_usage_error_with_a_suggestion(files: dict[str, Path]) -> None:
    result = run("classify", files["csv"], "--as-of", AS_OF, "--schemes", "lead_grad")
    assert result.exit_code == 2
    assert "unknown scheme 'lead_grad'; did you mean 'lead_grade'?" in result.stderr
    assert "Traceback" not in result.output


def test_population_schemes_are_fitted_on_the_input(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pyramid.csv"
    assert (
        run("classify", files["csv"], "--as-of", AS_OF, "--schemes", "value_pyramid", "--out", out).exit_code
        == 0
    )
    counts = pl.read_csv(out, infer_schema=False).get_column("value_pyramid").value_counts()
    labels = dict(zip(counts["value_pyramid"].to_list(), counts["count"].to_list(), strict=True))
    assert labels.get("vip", 0) >= 1 and labels.get("small", 0) > labels.get("major", 0)


def test_saved_cut_offs_are_used_with_fitted(
    files: dict[str, Path], customers: list[cr.Customer], tmp_path: Path
) -> None:
    # cut-offs learned on the first 20 customers only: far fewer in the top groups
    engine = cr.Engine().fit(customers[:20], as_of=AS_OF, schemes=["value_pyramid"])
    saved = tmp_path / "cuts.json"
    engine.save_fitted(saved)
    out = tmp_path / "labels.csv"
    result = run(
        "classify",
        files["csv"],
        "--as-of",
        AS_OF,
        "--schemes",
        "value_pyramid",
        "--fitted",
        saved,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    got = pl.read_csv(out, infer_schema=False).get_column("value_pyramid").to_list()
    expected = [engine.decide("value_pyramid", c, as_of=AS_OF).label for c in customers]
    assert [g or None for g in got] == expected


def test_a_policy_file_adds_a_scheme(files: dict[str, Path], tmp_path: Path) -> None:
    policy = tmp_path / "my_tier.yaml"
    policy.write_text(
        """
id: my_tier
version: "1"
hit: first
labels:
  - {id: key, zh: 重点客户, en: Key account}
  - {id: regular, zh: 普通客户, en: Regular}
rules:
  - id: big
    when: value.revenue_12m >= 500000
    then: key
default: regular
""",
        encoding="utf-8",
    )
    out = tmp_path / "labels.csv"
    result = run(
        "classify", files["csv"], "--as-of", AS_OF, "--policy", policy, "--schemes", "my_tier", "--out", out
    )
    assert result.exit_code == 0, result.output
    rows = read_any(out)
    for row in rows:
        revenue = row.get("value.revenue_12m")
        expected = "key" if revenue is not None and float(revenue) >= 500000 else "regular"
        assert row["my_tier"] == expected
    assert "Key account" in result.stdout


def test_out_dash_writes_csv_to_stdout_and_the_summary_to_stderr(files: dict[str, Path]) -> None:
    result = run("classify", files["csv"], "--as-of", AS_OF, "--schemes", "crisis", "--out", "-")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("id,") and lines[0].endswith(",crisis,crisis__rule")
    assert len(lines) == N + 1
    assert "classified" in result.stderr


def test_summary_counts_labels_per_scheme(
    files: dict[str, Path], reference: dict[str, dict[str, str | None]]
) -> None:
    result = run("classify", files["csv"], "--as-of", AS_OF, "--schemes", "crisis")
    assert result.exit_code == 0
    counts: dict[str | None, int] = {}
    for labels in reference.values():
        counts[labels["crisis"]] = counts.get(labels["crisis"], 0) + 1
    table_lines = [ln.split() for ln in result.stdout.splitlines()]
    for label, n in counts.items():
        assert any(label in line and str(n) in line for line in table_lines), (label, n)
    assert "--out FILE" in result.stdout  # says how to get the labels


# ---------------------------------------------------------------------------
# bad input: malformed, unknown columns, wrong types, empty
# ---------------------------------------------------------------------------


def test_malformed_csv_rows_are_rejected_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "id,name,value.revenue_12m\n"
        "C1,Ann,100\n"
        "C2,Bob\n"  # a field short
        "C3,Cy,5,extra\n"  # a field too many
        "\n"  # blank lines are skipped
        'C4,"Di,7\n'  # an unclosed quote swallows the rest
        "C5,Ed,9\n",
        encoding="utf-8",
    )
    out, rejected = tmp_path / "out.csv", tmp_path / "rejected.csv"
    result = run(
        "classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--out", out, "--rejected", rejected
    )
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_any(out)] == ["C1"]
    bad = read_any(rejected)
    assert [(r["row"], r["line"]) for r in bad] == [("1", "3"), ("2", "4"), ("3", "6")]
    assert "2 field(s), the header has 3" in bad[0]["reason"]
    assert "4 field(s), the header has 3" in bad[1]["reason"]
    assert "unclosed quote" in bad[2]["reason"]
    # rows in = rows out + rows rejected
    assert "4 row(s), 1 classified, 3 rejected" in result.stdout


def test_bad_header_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("id,name,name\nC1,a,b\n", encoding="utf-8")
    result = run("classify", path, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: crm.csv: column(s) named twice in the header: name",
        "Hint: keep one of each",
    ]


def test_missing_id_column_says_which_columns_there_are(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ["ID", "name"], [["C1", "Ann"]])
    result = run("classify", path, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "has no 'id' column (columns: ID, name)" in result.stderr
    assert "Hint: name the column of customer ids 'id'" in result.stderr


def test_unknown_columns_are_reported_and_passed_through(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        ["id", "value.revenu_12m", "revenue_12m", "crm_notes"],
        [["C1", "1", "2", "call back"]],
    )
    out = tmp_path / "out.csv"
    result = run("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--out", out)
    assert result.exit_code == 0
    assert (
        "column 'value.revenu_12m' is not a record field (did you mean 'value.revenue_12m'?)" in result.stderr
    )
    assert "column 'revenue_12m' is not a record field (did you mean 'value.revenue_12m'?)" in result.stderr
    assert "passed through: 'crm_notes'" in result.stderr
    assert read_any(out)[0]["crm_notes"] == "call back"
    # a misspelt record field fails --strict; a column of one's own does not
    strict = run("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--strict")
    assert strict.exit_code == 1
    assert "look misspelt" in strict.stderr
    own = write_csv(tmp_path / "own.csv", ["id", "crm_notes"], [["C1", "x"]])
    assert run("classify", own, "--as-of", AS_OF, "--schemes", "crisis", "--strict").exit_code == 0


def test_wrong_types_are_rejected_with_reasons_and_strict_fails(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        ["id", "kind", "value.revenue_12m", "value.bad_debt", "deal.last_contact_at", "identity"],
        [
            ["C1", "company", "1200.5", "no", "2026-10-01", "media;lawyer"],
            ["C2", "company", "lots", "no", "2026-10-01", ""],
            ["C3", "spaceship", "1", "maybe", "2026-02-30", ""],
            ["C4", "person", "-5", "yes", "2026-10-01", "astronaut"],
            ["C5", "person", "7", "true", "2026-10-01", '["media"'],
        ],
    )
    out, rejected = tmp_path / "out.csv", tmp_path / "rejected.jsonl"
    args = ("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--out", out, "--rejected", rejected)
    result = run(*args)
    assert result.exit_code == 0  # rejected rows fail only with --strict
    assert [r["id"] for r in read_any(out)] == ["C1"]
    bad = {r["id"]: r["reason"] for r in read_any(rejected)}
    assert set(bad) == {"C2", "C3", "C4", "C5"}
    assert "value.revenue_12m: Input should be a valid number" in bad["C2"]
    assert "kind: Input should be" in bad["C3"]
    assert "value.bad_debt: Input should be a valid boolean" in bad["C3"]
    assert "deal.last_contact_at: Input should be a valid date" in bad["C3"]
    assert "value.revenue_12m: Input should be greater than or equal to 0" in bad["C4"]
    assert "identity" in bad["C4"]
    assert "identity: not a valid JSON array" in bad["C5"]
    strict = run(*args, "--strict")
    assert strict.exit_code == 1
    assert "Error: --strict: 4 row(s) rejected" in strict.stderr
    assert out.exists() and rejected.exists()  # the files are written all the same


def test_wrong_json_lines_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    path.write_text(
        '{"id": "C1", "value": {"revenue_12m": 10}}\n'
        "{not json}\n"
        "[1, 2]\n"
        '{"id": "C4", "value": {"revenue_12m": [1, 2]}}\n'
        '{"id": "C5", "cases": [{"id": "k1", "opened_at": "2026-11-01", "severty": "minor"}]}\n'
        '{"id": "C6", "cases": [{"id": "k1", "opened_at": "2026-11-01", "severity": "minor"}]}\n',
        encoding="utf-8",
    )
    out, rejected = tmp_path / "out.jsonl", tmp_path / "rejected.csv"
    result = run(
        "classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--out", out, "--rejected", rejected
    )
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_any(out)] == ["C1", "C6"]
    bad = read_any(rejected)
    assert [r["line"] for r in bad] == ["2", "3", "4", "5"]
    assert "not valid JSON" in bad[0]["reason"]
    assert "expected a JSON object, got list" in bad[1]["reason"]
    assert "value.revenue_12m: expected a single value, got list" in bad[2]["reason"]
    assert "cases.0.severty: Extra inputs are not permitted (did you mean 'severity'?)" in bad[3]["reason"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.csv", ""), ("header.csv", "id,value.revenue_12m\n"), ("empty.jsonl", "\n\n")],
)
def test_empty_files_classify_nobody_and_succeed(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run("classify", path, "--as-of", AS_OF, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"warning: no customers in {name}" in result.stderr
    assert "0 row(s), 0 classified, 0 rejected" in result.stdout
    assert out.read_text(encoding="utf-8").splitlines()[0].endswith("retail_license_grade__rule")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1
    # ... but an empty export is an error under --strict (issue 13, item 9)
    out.unlink()
    strict = run("classify", path, "--as-of", AS_OF, "--out", out, "--strict")
    assert strict.exit_code == 1
    assert f"Error: --strict: no customers in {name}" in strict.stderr
    assert not out.exists()


def test_empty_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pl.DataFrame(schema={"id": pl.String(), "value.revenue_12m": pl.Float64()}).write_parquet(path)
    result = run("classify", path, "--as-of", AS_OF, "--out", tmp_path / "out.parquet")
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "out.parquet").height == 0


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("id\nC1\n", encoding="utf-8")
    result = run("classify", path, "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "Error: cannot read fake.parquet as Parquet" in result.stderr
    assert "Traceback" not in result.output


def test_other_encodings_need_to_be_named(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("id,name\nC1,王芳\n".encode("gbk"))
    result = run("classify", path, "--as-of", AS_OF, "--schemes", "crisis")
    assert result.exit_code == 1
    assert "Hint: give the file's encoding, e.g. --encoding gbk" in result.stderr
    out = tmp_path / "out.csv"
    ok = run("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--encoding", "gbk", "--out", out)
    assert ok.exit_code == 0
    assert read_any(out)[0]["name"] == "王芳"


def test_100k_rows(tmp_path: Path) -> None:
    """A CRM export of 100 000 customers goes through in reasonable time."""
    rng = random.Random(3)
    n = 100_000
    path = tmp_path / "big.csv"
    header = [
        "id",
        "kind",
        "owner",
        "value.revenue_12m",
        "value.profit_12m",
        "value.overdue_days",
        "behaviour.speech_pace",
        "behaviour.sociability",
        "deal.last_contact_at",
        "satisfaction.survey_score",
        "value.turnover",
        "identity",
    ]
    rows = [
        [
            f"C{i:06d}",
            rng.choice(["person", "company", "retailer", "terminal"]),
            rng.choice(["王芳", "李强", "陈静"]),
            f"{rng.uniform(0, 1e6):.2f}",
            f"{rng.uniform(-1e5, 3e5):.2f}",
            rng.choice(["0", "0", "10", "45", ""]),
            rng.choice(["fast", "slow", ""]),
            rng.choice(["strong", "weak", ""]),
            f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
            rng.choice(["1", "2", "3", "4", "5", ""]),
            f"{rng.uniform(0, 5e5):.2f}",
            rng.choice(["", "", "media", "lawyer;media"]),
        ]
        for i in range(n)
    ]
    rows[500][3] = "not a number"  # one bad row among them
    write_csv(path, header, rows)
    out, rejected = tmp_path / "labels.parquet", tmp_path / "rejected.csv"
    started = time.perf_counter()
    result = run("classify", path, "--as-of", AS_OF, "--out", out, "--rejected", rejected)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 60, f"100k rows took {elapsed:.1f} s"
    labels = pl.read_parquet(out)
    assert labels.height == n - 1
    assert read_any(rejected)[0]["id"] == "C000500"
    assert labels.get_column("value_pyramid").null_count() < n  # fitted and applied
    print(f"\n100k-row classify: {elapsed:.1f} s")


# ---------------------------------------------------------------------------
# explain, schemes, agenda
# ---------------------------------------------------------------------------


def test_explain_shows_every_decision_and_its_strategy(
    files: dict[str, Path], customers: list[cr.Customer], reference: dict[str, dict[str, str | None]]
) -> None:
    customer = customers[6]
    result = run("explain", files["csv"], "--id", customer.id, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Customer {customer.id} {customer.name}  as of {AS_OF}")
    engine = cr.Engine()
    engine.fit(customers, as_of=AS_OF)
    profile = engine.classify(customer, as_of=AS_OF)
    for sid, decision in profile.items():
        assert decision.label == reference[customer.id][sid]
        # the full explanation of each decision, strategy included
        for line in decision.explain().splitlines():
            assert line.strip() in result.stdout


def test_explain_in_chinese(files: dict[str, Path], customers: list[cr.Customer]) -> None:
    result = run("explain", files["nested"], "--id", customers[0].id, "--as-of", AS_OF, "--lang", "zh")
    assert result.exit_code == 0, result.output
    assert f"客户 {customers[0].id}" in result.stdout and "截至" in result.stdout
    assert "策略" in result.stdout


def test_explain_in_chinese_prints_only_chinese(files: dict[str, Path], customers: list[cr.Customer]) -> None:
    from test_explanation import chinese_problems

    for detail in ("summary", "full"):
        result = run(
            "explain", files["nested"], "--id", customers[6].id, "--as-of", AS_OF, "--lang", "zh", "--detail", detail
        )
        assert result.exit_code == 0, result.output
        assert chinese_problems(result.stdout.replace(customers[6].id, "")) == []


def test_explain_full_detail_is_for_auditors(files: dict[str, Path], customers: list[cr.Customer]) -> None:
    customer = customers[6]
    result = run("explain", files["csv"], "--id", customer.id, "--as-of", AS_OF, "--detail", "full")
    assert result.exit_code == 0, result.output
    engine = cr.Engine()
    engine.fit(customers, as_of=AS_OF)
    for decision in engine.classify(customer, as_of=AS_OF).values():
        for line in decision.explain(detail="full").splitlines():
            assert line.strip() in result.stdout


def test_demo_and_agenda_in_chinese_print_only_chinese(files: dict[str, Path]) -> None:
    import re

    from test_explanation import chinese_problems

    for args in (("demo", "--lang", "zh", "-n", "60"), ("agenda", files["csv"], "--as-of", AS_OF, "--lang", "zh")):
        result = run(*args)
        assert result.exit_code == 0, result.output
        text = re.sub(r"C\d{4}", "", result.stdout)  # customer ids are data
        assert chinese_problems(text) == []


def test_explain_unknown_id_suggests_close_ones(files: dict[str, Path]) -> None:
    result = run("explain", files["csv"], "--id", "C00007", "--as-of", AS_OF)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: no customer with id 'C00007' in customers.csv"
    assert lines[1].startswith("Hint: did you mean 'C0007'")


def test_explain_an_invalid_row_says_why(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ["id", "value.revenue_12m"], [["C1", "1"], ["C2", "lots"]])
    result = run("explain", path, "--id", "C2", "--as-of", AS_OF)
    assert result.exit_code == 1
    assert (
        "Error: customer 'C2' (row 1): invalid record: value.revenue_12m: Input should be a valid number"
        in (result.stderr)
    )


def test_schemes_lists_plugins_labels_and_parameters() -> None:
    result = run("schemes")
    assert result.exit_code == 0
    engine = cr.Engine()
    assert f"{len(engine.schemes)} schemes" in result.stdout
    for sid, scheme in engine.schemes.items():
        assert sid in result.stdout
        assert scheme.labels[0] in result.stdout
        for name, value in engine.params(sid).items():
            assert f"{name}=" in result.stdout, (sid, name, value)
    assert "built-in" in result.stdout


def test_schemes_detail_of_one_scheme() -> None:
    result = run("schemes", "lead_grade", "--lang", "zh")
    assert result.exit_code == 0
    assert "诚意客户" in result.stdout and "a_min_asks_details" in result.stdout
    assert "每 1–2 天" in result.stdout
    bad = run("schemes", "lead")
    assert bad.exit_code == 2 and "unknown scheme 'lead'" in bad.stderr


def test_schemes_shows_an_entry_point_plugin_as_its_source() -> None:
    result = run("schemes", env={"CUSTOMER_RULES_PLUGINS": "care_level"})
    assert result.exit_code == 0
    engine = cr.Engine()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CUSTOMER_RULES_PLUGINS", "care_level")
        plugged = cr.Engine()
    added = set(plugged.schemes) - set(engine.schemes)
    for sid in added:
        assert sid in result.stdout
        assert str(plugged.schemes[sid].plugin) in result.stdout


def test_agenda_for_one_owner(files: dict[str, Path], customers: list[cr.Customer], tmp_path: Path) -> None:
    owner = customers[0].owner
    assert owner is not None
    out = tmp_path / "agenda.csv"
    result = run("agenda", files["csv"], "--as-of", AS_OF, "--owner", owner, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_any(out)
    assert rows and {r["owner"] for r in rows} == {owner}
    engine = cr.Engine()
    engine.fit(customers, as_of=AS_OF)
    expected = engine.agenda(customers, as_of=AS_OF, owner=owner)
    assert [(r["customer_id"], r["action"], r["due"]) for r in rows] == [
        (i.customer_id, i.action, i.due.isoformat()) for i in expected
    ]
    assert f"Agenda {AS_OF} · {owner} · {len(expected)} item(s)" in result.stdout
    first = expected.items[0]
    assert first.customer_id in result.stdout


def test_agenda_unknown_owner_warns(files: dict[str, Path]) -> None:
    result = run("agenda", files["csv"], "--as-of", AS_OF, "--owner", "nobody")
    assert result.exit_code == 0
    assert "no customer of owner 'nobody'" in result.stderr
    assert "nothing due" in result.stdout


def test_agenda_limit(files: dict[str, Path]) -> None:
    result = run("agenda", files["csv"], "--as-of", AS_OF, "--limit", "2")
    assert result.exit_code == 0
    assert "more (--limit)" in result.stdout


# ---------------------------------------------------------------------------
# verify / check: a firm's CI
# ---------------------------------------------------------------------------

HEAD = """
version: "1"
labels:
  - {id: a, zh: 甲, en: A}
  - {id: b, zh: 乙, en: B}
  - {id: c, zh: 丙, en: C}
"""


def policy_file(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"id: {name}{HEAD}{body}", encoding="utf-8")
    return path


@pytest.fixture
def policies(tmp_path: Path) -> dict[str, Path]:
    return {
        "clean": policy_file(
            tmp_path,
            "clean",
            "hit: first\nrules:\n"
            "  - {id: big, when: value.revenue_12m >= 500000, then: a}\n"
            "  - {id: mid, when: value.revenue_12m >= 100000, then: b}\ndefault: c\n",
        ),
        "overlap": policy_file(
            tmp_path,
            "overlap",
            "hit: unique\nrules:\n"
            "  - {id: r1, when: value.revenue_12m > 100, then: a}\n"
            "  - {id: r2, when: value.revenue_12m > 200, then: b}\ndefault: c\n",
        ),
        "dead": policy_file(
            tmp_path,
            "dead",
            "hit: first\nrules:\n"
            "  - {id: r1, when: value.revenue_12m > 100, then: a}\n"
            "  - {id: r2, when: value.revenue_12m > 200, then: b}\ndefault: c\n",
        ),
        "broken": policy_file(
            tmp_path, "broken", "hit: first\nrules:\n  - {id: r1, when: value.revenu_12m > 100, then: a}\n"
        ),
    }


@pytest.mark.parametrize("command", ["verify", "check"])
def test_policy_findings_and_exit_codes(command: str, policies: dict[str, Path]) -> None:
    clean = run(command, policies["clean"])
    assert clean.exit_code == 0, clean.output
    assert "clean: no findings" in clean.stdout

    overlap = run(command, policies["overlap"])
    assert overlap.exit_code == 1
    assert "overlap" in overlap.stdout and "r1, r2" in overlap.stdout
    assert "1 error(s)" in overlap.stdout

    dead = run(command, policies["dead"])
    assert dead.exit_code == 0  # warnings only
    assert "unreachable" in dead.stdout and "warning" in dead.stdout
    assert run(command, policies["dead"], "--strict").exit_code == 1

    broken = run(command, policies["broken"])
    assert broken.exit_code == 1
    assert "broken.yaml:9:20" in broken.output and "unknown name 'value.revenu_12m'" in broken.output
    assert "value.revenue_12m" in broken.output  # the suggestion
    assert "Traceback" not in broken.output


def test_check_takes_several_files_and_fails_if_any_fails(policies: dict[str, Path]) -> None:
    assert run("check", policies["clean"], policies["dead"]).exit_code == 0
    both = run("check", policies["clean"], policies["broken"])
    assert both.exit_code == 1
    assert "clean: no findings" in both.stdout


def test_check_properties_on_generated_records(tmp_path: Path) -> None:
    policy = policy_file(
        tmp_path,
        "risk",
        "hit: first\nrules:\n"
        "  - {id: bad, when: value.bad_debt, then: a}\n"
        "  - {id: late, when: value.overdue_days > 30, then: b}\ndefault: c\n",
    )
    holds = run(
        "check",
        policy,
        "--implies",
        "value.bad_debt => a",
        "--increasing",
        "value.overdue_days",
        "--max-examples",
        "50",
    )
    assert holds.exit_code == 0, holds.output
    assert "check risk: 2 of 2 properties hold" in holds.stdout
    fails = run("check", policy, "--implies", "value.overdue_days > 60 => b", "--max-examples", "50")
    assert fails.exit_code == 1
    assert "FAIL" in fails.stdout and "0 of 1 properties hold" in fails.stdout
    assert "value.bad_debt = true" in fails.stdout  # the counterexample: bad debt wins over lateness
    bad = run("check", policy, "--implies", "value.bad_debt")
    assert bad.exit_code == 2
    assert "--implies needs 'CONDITION => LABEL[,LABEL]'" in bad.stderr


def test_verify_an_installed_scheme_by_id() -> None:
    result = run("verify", "bird_style", "--no-search")
    assert result.exit_code in (0, 1)
    assert "verify bird_style" in result.stdout
    missing = run("verify", "bird_styl")
    assert missing.exit_code == 1
    assert "did you mean the scheme 'bird_style'?" in missing.stderr


# ---------------------------------------------------------------------------
# the command line's manners
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["classify", "explain", "agenda"])
def test_as_of_is_required_and_never_defaults_to_the_clock(command: str, files: dict[str, Path]) -> None:
    args = ["--id", "C0001"] if command == "explain" else []
    result = run(command, files["csv"], *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: --as-of is required: the date that days since contact, open cases and birthdays are counted to",
        "Hint: add e.g. --as-of 2026-11-22 (or --as-of today to use the system date explicitly)",
    ]
    bad = run(command, files["csv"], *args, "--as-of", "22/11/2026")
    assert bad.exit_code == 2
    assert "--as-of must be a date like 2026-11-22, not '22/11/2026'" in bad.stderr


def test_as_of_today_is_an_explicit_choice(files: dict[str, Path]) -> None:
    result = run("classify", files["csv"], "--as-of", "today", "--schemes", "crisis")
    assert result.exit_code == 0
    import datetime as dt

    assert f"as of {dt.date.today()}" in result.stdout


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["classify", "missing.csv", "--as-of", AS_OF], "no such file: 'missing.csv'", "check the path"),
        (
            ["classify", "customers.xlsx", "--as-of", AS_OF],
            "cannot tell the format of the input file 'customers.xlsx'",
            "name it .csv, .parquet or .jsonl",
        ),
        (
            ["classify", "{csv}", "--as-of", AS_OF, "--out", "labels.txt"],
            "cannot tell the format of the output file 'labels.txt'",
            "name it .csv, .parquet or .jsonl",
        ),
    ],
)
def test_errors_are_one_line_and_a_hint(
    files: dict[str, Path], args: list[str], message: str, hint: str
) -> None:
    result = run(*[a.format(csv=files["csv"]) for a in args])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert lines[1].startswith("Hint: ") and hint in lines[1]


def test_usage_errors_are_one_line_and_a_hint_too(files: dict[str, Path]) -> None:
    cases: list[tuple[list[str | Path], str]] = [
        (["explain", files["csv"], "--as-of", AS_OF], "Error: Missing option '--id'."),
        (["clasify", files["csv"]], "Error: No such command 'clasify'. Did you mean 'classify'?"),
        (
            ["agenda", files["csv"], "--as-of", AS_OF, "--horizon", "-1"],
            "Error: Invalid value for '--horizon'",
        ),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.exit_code == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 2 and lines[0].startswith(message), lines
        assert lines[1].startswith("Hint: `customer-rules") and "--help` shows the options" in lines[1]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("not parquet", encoding="utf-8")
    plain = run("classify", path, "--as-of", AS_OF)
    assert plain.exit_code == 1 and plain.exception is not None
    assert isinstance(plain.exception, SystemExit)
    debug = run("classify", path, "--as-of", AS_OF, "--debug")
    assert debug.exit_code == 1
    assert debug.exception is not None and not isinstance(debug.exception, SystemExit)
    assert run("--debug", "classify", path, "--as-of", AS_OF).exception.__class__.__name__ == "FileError"


@pytest.mark.parametrize(
    "command", ["demo", "classify", "explain", "schemes", "verify", "check", "agenda", None]
)
def test_help_everywhere_with_examples(command: str | None) -> None:
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "customer-rules " in result.stdout


def test_output_is_plain_when_not_a_terminal(files: dict[str, Path], policies: dict[str, Path]) -> None:
    for args in (
        ["classify", files["csv"], "--as-of", AS_OF],
        ["explain", files["csv"], "--id", "C0001", "--as-of", AS_OF],
        ["schemes"],
        ["verify", policies["overlap"]],
        ["agenda", files["csv"], "--as-of", AS_OF, "--limit", "3"],
    ):
        result = run(*args)
        assert "\x1b[" not in result.output, args


def test_progress_and_colour_on_a_terminal_only(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import customer_rules.cli.main as cli_module

    monkeypatch.setattr(cli_module, "PROGRESS_MIN_BYTES", 0)  # as if the file were large
    args = ("classify", files["csv"], "--as-of", AS_OF, "--schemes", "crisis")
    terminal = run(*args, env={"FORCE_COLOR": "1"})  # rich: behave as on a terminal
    assert terminal.exit_code == 0
    assert "classifying" in terminal.stderr and "\x1b[" in terminal.stdout
    piped = run(*args)
    assert "classifying" not in piped.stderr and "\x1b[" not in piped.output


def test_python_m_customer_rules_subprocess(files: dict[str, Path], tmp_path: Path) -> None:
    """The module entry point, piped: CSV on stdout, no colour codes, exit codes kept."""
    env = {**os.environ, "CUSTOMER_RULES_PLUGINS": "", "TERM": "xterm-256color"}
    env.pop("FORCE_COLOR", None)  # a colour-capable TERM, but the output is a pipe
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_rules",
            "classify",
            str(files["csv"]),
            "--as-of",
            AS_OF,
            "--out",
            "-",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout + proc.stderr
    table = list(csv.DictReader(proc.stdout.splitlines()))
    assert len(table) == N and "value_pyramid" in table[0]
    assert "classified" in proc.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "customer_rules", "classify", str(files["csv"])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: --as-of is required")
    demo = subprocess.run(
        [sys.executable, "-m", "customer_rules", "demo", "-n", "20"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert demo.returncode == 0 and "customer_rules demo: 20 sample customers" in demo.stdout


def test_main_returns_the_exit_code(policies: dict[str, Path]) -> None:
    from customer_rules.__main__ import main

    assert main(["verify", str(policies["clean"])]) == 0
    assert main(["verify", str(policies["overlap"])]) == 1
    assert main(["classify", "x.csv"]) == 2


def test_every_command_and_option_is_in_the_reference() -> None:
    reference = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"## {name}" in reference, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-") and opt not in ("--debug", "--help", "-h"):
                    assert opt in reference, (name, opt)


# ---------------------------------------------------------------------------
# issue 13, item 9: duplicate ids, typed output, values in reasons
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["frame", "python"])
def test_duplicate_ids_keep_the_first_row_warn_and_fail_under_strict(tmp_path: Path, backend: str) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        ["id", "value.revenue_12m", "value.overdue_amount"],
        [["C1", "900000", "0"], ["C2", "10", "0"], ["C1", "10", "0"], ["C1", "20", "0"]],
    )
    out, rejected = tmp_path / "out.csv", tmp_path / "rejected.csv"
    args = ("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--backend", backend)
    result = run(*args, "--out", out, "--rejected", rejected)
    assert result.exit_code == 0, result.output
    assert "warning: 2 row(s) repeat the id of an earlier row (e.g. 'C1' on row 2)" in result.stderr
    assert "only the first row of each id is used" in result.stderr
    rows = read_any(out)
    assert [(r["id"], r["value.revenue_12m"]) for r in rows] == [("C1", "900000"), ("C2", "10")]
    bad = read_any(rejected)
    assert [(r["row"], r["id"]) for r in bad] == [("2", "C1"), ("3", "C1")]
    assert "duplicate id: only the first row with this id (row 0) is used" in bad[0]["reason"]
    assert "4 row(s), 2 classified, 2 rejected" in result.stdout  # rows in = out + rejected
    strict = run(*args, "--strict")
    assert strict.exit_code == 1
    assert "Error: --strict: 2 row(s) rejected" in strict.stderr


def test_duplicate_ids_are_not_counted_twice_in_a_population(tmp_path: Path) -> None:
    frame = cr.frame_from_records(cr.sample_customers(40))
    once = tmp_path / "once.parquet"
    frame.write_parquet(once)
    twice = tmp_path / "twice.parquet"
    pl.concat([frame, frame.head(10)]).write_parquet(twice)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run("classify", once, "--as-of", AS_OF, "--schemes", "value_pyramid", "--out", a).exit_code == 0
    assert run("classify", twice, "--as-of", AS_OF, "--schemes", "value_pyramid", "--out", b).exit_code == 0
    assert read_any(a) == read_any(b)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_typed_output_from_csv(tmp_path: Path, fmt: str) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        ["id", "value.revenue_12m", "value.bad_debt", "deal.last_contact_at", "notes", "identity"],
        [["C1", "1200.5", "no", "2026-10-01", "007", "media;lawyer"], ["C2", "7", "yes", "", "x", ""]],
    )
    out = tmp_path / f"out.{fmt}"
    result = run("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--out", out)
    assert result.exit_code == 0, result.output
    if fmt == "parquet":
        frame = pl.read_parquet(out)
        assert frame.schema["value.revenue_12m"] == pl.Float64()
        assert frame.schema["value.bad_debt"] == pl.Boolean()
        assert frame.schema["deal.last_contact_at"] == pl.Date()
        assert frame.schema["notes"] == pl.String()  # not a record field: as written
        rows = frame.to_dicts()
        assert rows[0]["deal.last_contact_at"].isoformat() == "2026-10-01"
    else:
        rows = read_any(out)
        assert rows[0]["deal.last_contact_at"] == "2026-10-01"
    assert [r["value.revenue_12m"] for r in rows] == [1200.5, 7]
    assert [r["value.bad_debt"] for r in rows] == [False, True]
    assert rows[1]["deal.last_contact_at"] is None
    assert [r["notes"] for r in rows] == ["007", "x"]
    assert rows[0]["id"] == "C1" and rows[0]["crisis"] is not None


def test_csv_output_keeps_cells_as_written(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", ["id", "value.revenue_12m"], [["C1", "1e3"]])
    out = tmp_path / "out.csv"
    assert run("classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--out", out).exit_code == 0
    assert read_any(out)[0]["value.revenue_12m"] == "1e3"


@pytest.mark.parametrize("backend", ["frame", "python"])
def test_value_errors_show_the_value_and_the_expected_form(tmp_path: Path, backend: str) -> None:
    path = write_csv(
        tmp_path / "crm.csv",
        ["id", "birthday", "value.bad_debt", "value.revenue_12m", "kind"],
        [["C1", "2026/11/02", "maybe", "lots", "company"], ["C2", "2026-11-02", "no", "-5", "spaceship"]],
    )
    rejected = tmp_path / "rejected.csv"
    result = run(
        "classify", path, "--as-of", AS_OF, "--schemes", "crisis", "--backend", backend, "--rejected", rejected
    )
    assert result.exit_code == 0, result.output
    bad = {r["id"]: r["reason"] for r in read_any(rejected)}
    # pydantic's own wording (the same on every path), then the cell and the form expected
    assert "birthday: Input should be a valid date" in bad["C1"]
    assert "(got '2026/11/02'; expected YYYY-MM-DD)" in bad["C1"]
    assert "(got 'maybe'; expected true/false, yes/no or 1/0)" in bad["C1"]
    assert "(got 'lots'; expected a number such as 1200 or 1200.5)" in bad["C1"]
    assert "value.revenue_12m: Input should be greater than or equal to 0 (got '-5')" in bad["C2"]
    assert "(got 'spaceship')" in bad["C2"]
    assert "expected YYYY-MM-DD" in result.stderr  # the reasons shown on the terminal too


def test_check_passes_on_every_shipped_policy() -> None:
    # six built-in schemes leave records unclassified by design and say so (intended_gap)
    files = sorted((ROOT / "customer_rules" / "schemes").glob("*/policy.yaml"))
    assert len(files) == 12
    result = run("check", *files)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": 0 error(s)") == 12
    assert "by design" in result.stdout


def test_check_lists_every_problem_of_a_file(tmp_path: Path) -> None:
    policy = policy_file(
        tmp_path,
        "many",
        "hit: first\nrules:\n"
        "  - {id: r1, when: value.revenu_12m > 100, then: a}\n"
        "  - {id: r2, when: value.revenue_12m > > 5, then: b}\n"
        "  - {id: r3, when: value.revenue_12m > 5, then: b}\n"
        "flags:\n  - {id: f1, when: value.nope == 1, en: F}\n",
    )
    result = run("check", policy)
    assert result.exit_code == 1
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("error ")]
    assert len(lines) == 3, result.stdout
    assert "rule 'r1'" in lines[0] and "rule 'r2'" in lines[1] and "rule 'f1'" in lines[2]
    assert "unknown name 'value.revenu_12m'" in lines[0] and "unexpected '>'" in lines[1]
    assert "3 problem(s)" in result.stdout

    structure = policy_file(
        tmp_path,
        "structure",
        "hit: sometimes\nrules:\n  - {id: r1, wen: value.revenue_12m > 100, then: a}\n",
    )
    result = run("check", structure)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("error ")]
    assert len(lines) == 2, result.stdout
    assert "unknown key 'wen'" in lines[0] and "hit" in lines[1]
    assert "missing required key 'when'" not in result.stdout  # the misspelling says it
