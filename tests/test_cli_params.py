"""``--param scheme.name=value`` on the commands that build an engine."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

import customer_rules as cr
from customer_rules.cli.common import CliUsageError, parse_params
from customer_rules.cli.main import cli

AS_OF = "2026-11-22"


def run(*args: str | Path) -> Result:
    quiet: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
    return CliRunner().invoke(cli, [str(a) for a in args], env=quiet, catch_exceptions=True)


def test_values_are_yaml_scalars() -> None:
    assert parse_params(["a.x=0.5", "a.y=true", "b.z=revenue", "a.w=3", "b.v="]) == {
        "a": {"x": 0.5, "y": True, "w": 3},
        "b": {"z": "revenue", "v": ""},
    }
    for bad in ("a=1", "x.y", ".y=1", "a.=1"):
        with pytest.raises(CliUsageError, match=r"SCHEME\.NAME=VALUE"):
            parse_params([bad])


def test_param_changes_the_labels(tmp_path: Path) -> None:
    customers = cr.sample_customers(200)
    path = tmp_path / "customers.parquet"
    cr.frame_from_records(customers).write_parquet(path)
    outputs = {}
    for name, extra in (("default", ()), ("revenue", ("--param", "value_pyramid.measure=revenue"))):
        out = tmp_path / f"{name}.csv"
        result = run("classify", path, "--as-of", AS_OF, "--schemes", "value_pyramid", "--out", out, *extra)
        assert result.exit_code == 0, result.output
        outputs[name] = pl.read_csv(out)["value_pyramid"].to_list()
    engine = cr.Engine().with_params("value_pyramid", measure="revenue")
    engine.fit(customers, as_of=AS_OF, schemes=["value_pyramid"])
    expected = engine.classify_frame(cr.frame_from_records(customers), as_of=AS_OF, schemes=["value_pyramid"])
    assert outputs["revenue"] == expected["value_pyramid"].cast(pl.String).to_list()
    assert outputs["revenue"] != outputs["default"]


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("value_pyramd.vip_top_pct=2", "unknown scheme 'value_pyramd'; did you mean 'value_pyramid'?"),
        ("value_pyramid.vip_top_pc=2", "did you mean 'vip_top_pct'"),
        ("value_pyramid.vip_top_pct=abc", "bad value for parameter 'vip_top_pct'"),
    ],
)
def test_bad_params_are_usage_errors(param: str, message: str) -> None:
    for command in (["schemes", "value_pyramid"], ["verify", "value_pyramid"]):
        result = run(*command, "--param", param)
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_schemes_shows_the_value_given() -> None:
    result = run("schemes", "value_pyramid", "--param", "value_pyramid.vip_top_pct=2.5")
    assert result.exit_code == 0, result.output
    assert "2.5" in result.output
