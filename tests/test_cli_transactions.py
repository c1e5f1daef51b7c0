"""``customer-rules customers`` and ``classify --transactions``: order logs on
the command line (click's runner on real files)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

import customer_rules as cr
from customer_rules.cli.main import cli

AS_OF = "2026-11-22"


def run(*args: str | Path) -> Result:
    quiet: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
    return CliRunner().invoke(cli, [str(a) for a in args], env=quiet, catch_exceptions=True)


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    orders = pl.DataFrame(
        {
            "CustomerID": ["A", "A", "B", "C", ""],
            "InvoiceDate": ["2026-01-01", "2026-02-01 10:30", "2026-03-01", "2027-01-01", "2026-01-01"],
            "Price": ["10", "20", "30", "5", "1"],
        }
    )
    contacts = pl.DataFrame({"customer_id": ["A", "D"], "at": ["2026-01-05", "2026-04-01"], "kind": ["call", "visit"]})
    out = {"orders": tmp_path / "orders.csv", "contacts": tmp_path / "contacts.csv"}
    orders.write_csv(out["orders"])
    contacts.write_csv(out["contacts"])
    return out


COLUMNS = ("--column", "customer_id=CustomerID", "--column", "at=InvoiceDate", "--column", "amount=Price")


def test_customers_writes_the_table_and_the_rejected_lines(logs: dict[str, Path], tmp_path: Path) -> None:
    out, bad = tmp_path / "customers.parquet", tmp_path / "bad.csv"
    result = run(
        "customers", logs["orders"], "--as-of", AS_OF, *COLUMNS,
        "--contacts", logs["contacts"], "--out", out, "--rejected", bad,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "5 order line(s), 3 used, 2 rejected -> 3 customer(s)" in result.output
    table = pl.read_parquet(out)
    expected = cr.customers_from_transactions(
        logs["orders"],
        as_of=AS_OF,
        contacts=logs["contacts"],
        columns={"customer_id": "CustomerID", "at": "InvoiceDate", "amount": "Price"},
    )
    assert table.equals(expected.customers)
    assert pl.read_csv(bad)["reason"].to_list() == expected.rejected["reason"].to_list()
    # the table reads back as a customer file
    labels = run("classify", out, "--as-of", AS_OF, "--schemes", "deal_stage", "--out", tmp_path / "l.csv")
    assert labels.exit_code == 0, labels.output
    assert pl.read_csv(tmp_path / "l.csv").select("id", "deal_stage").rows() == [
        ("A", "formal"),
        ("B", "potential"),
        ("D", "potential"),
    ]


def test_customers_reads_the_channel_role(logs: dict[str, Path], tmp_path: Path) -> None:
    orders = pl.read_csv(logs["orders"]).with_columns(Channel=pl.Series(["web", "store", "store", "web", "web"]))
    orders.write_csv(logs["orders"])
    out = tmp_path / "customers.parquet"
    result = run("customers", logs["orders"], "--as-of", AS_OF, *COLUMNS, "--column", "channel=Channel", "--out", out)
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(out)
    # A: web 10, store 20; B: store 30 (C's line is in the future, the last has no id)
    assert table.select("id", "value.main_channel_12m", "value.channels_12m").rows() == [
        ("A", "store", 2),
        ("B", "store", 1),
    ]
    typo = run("customers", logs["orders"], "--as-of", AS_OF, *COLUMNS, "--column", "channel=Chanel")
    assert typo.exit_code == 1 and "did you mean 'Channel'" in typo.output


def test_customers_strict_and_bad_options(logs: dict[str, Path], tmp_path: Path) -> None:
    strict = run("customers", logs["orders"], "--as-of", AS_OF, *COLUMNS, "--strict")
    assert strict.exit_code == 1
    assert "--strict: 2 order line(s) rejected" in strict.output
    missing = run("customers", logs["orders"], "--as-of", AS_OF)
    assert missing.exit_code == 1
    assert "no column 'customer_id'" in missing.output and "did you mean 'CustomerID'" in missing.output
    typo = run("customers", logs["orders"], "--as-of", AS_OF, "--column", "amout=Price")
    assert typo.exit_code == 1 and "did you mean 'amount'" in typo.output
    malformed = run("customers", logs["orders"], "--as-of", AS_OF, "--column", "Price")
    assert malformed.exit_code == 2 and "ROLE=NAME" in malformed.output
    no_date = run("customers", logs["orders"], *COLUMNS)
    assert no_date.exit_code == 2 and "--as-of is required" in no_date.output


def test_classify_transactions_in_one_step(logs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    result = run(
        "classify", logs["orders"], "--transactions", "--as-of", AS_OF, *COLUMNS,
        "--contacts", logs["contacts"], "--schemes", "deal_stage", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 order line(s) of orders.csv rejected" in result.output
    labels = pl.read_csv(out)
    assert labels.select("id", "deal_stage").rows() == [("A", "formal"), ("B", "potential"), ("D", "potential")]
    assert labels["value.revenue_12m"].to_list() == [30.0, 30.0, 0.0]
    strict = run("classify", logs["orders"], "--transactions", "--as-of", AS_OF, *COLUMNS, "--strict")
    assert strict.exit_code == 1 and "2 order line(s) rejected" in strict.output
    # the order-log options need --transactions
    wrong = run("classify", logs["orders"], "--as-of", AS_OF, *COLUMNS)
    assert wrong.exit_code == 2 and "--transactions" in wrong.output
