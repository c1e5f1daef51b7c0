"""``customer-rules convert``: policies between YAML/JSON/TOML, JDM, DMN and .xlsx.

Also the one function the other commands use to read a policy file of any
of those formats (:func:`read_any_policy`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine
    from customer_rules.lang.policy import Policy

_FORMATS = ("yaml", "json", "toml", "jdm", "dmn", "xlsx")


def read_any_policy(path: Path, engine: Engine) -> Policy:
    """A policy file of any format (by extension; ``.json`` by content), checked against ``engine``."""
    from customer_rules.interop.files import read_policy

    return read_policy(path, engine=engine)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, target = value.partition("=")
        if not sep or not key or not target:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=option)
        out[key] = target
    return out


@click.command(
    help="""Convert a policy between formats: YAML, JSON, TOML, GoRules JDM,
DMN 1.3-1.5 and .xlsx decision tables.

\b
Examples:
  customer-rules convert my_tier.yaml my_tier.dmn
  customer-rules convert pricing.jdm.json pricing.yaml --field age=behaviour.age
  customer-rules convert my_tier.yaml my_tier.xlsx
  customer-rules convert my_tier.xlsx my_tier.toml

The format comes from the extension: .yaml/.yml, .toml, .json (a policy,
or a JDM graph when it has 'nodes'; .jdm.json is always JDM), .dmn/.xml,
.xlsx. The policy is type-checked on the way. Only what decision tables
share is converted: a rule must be an 'and' of tests comparing one record
field with constants; anything else is refused naming the rule or cell.
"""
)
@click.argument("source", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from", "from_format", type=click.Choice(_FORMATS), help="Format of IN (default: from its name)."
)
@click.option(
    "--to", "to_format", type=click.Choice(_FORMATS), help="Format of OUT (default: from its name)."
)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=PATH",
    help="Read the JDM field / DMN input / sheet column NAME as record path PATH; repeatable.",
)
@click.option(
    "--label", "labels", multiple=True, metavar="VALUE=ID", help="Read output VALUE as label ID; repeatable."
)
@click.option(
    "--table", "table", metavar="NAME", help="The JDM table or DMN decision to read, when there are several."
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def convert(
    source: Path,
    target: Path,
    from_format: str | None,
    to_format: str | None,
    fields: tuple[str, ...],
    labels: tuple[str, ...],
    table: str | None,
    force: bool,
) -> None:
    from customer_rules import Engine
    from customer_rules.interop.files import format_of, read_policy, write_policy

    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it")
    fmt = from_format or format_of(source)
    options: dict[str, object] = {}
    if fields:
        options["fields"] = _pairs(fields, "--field")
    if labels:
        if fmt not in ("jdm", "dmn"):
            raise click.BadParameter("only JDM and DMN outputs are mapped to labels", param_hint="--label")
        options["labels"] = _pairs(labels, "--label")
    if table:
        if fmt not in ("jdm", "dmn"):
            raise click.BadParameter("only JDM and DMN files hold several tables", param_hint="--table")
        options["table" if fmt == "jdm" else "decision"] = table
    if fmt in ("yaml", "json", "toml") and options:
        raise click.BadParameter("--field, --label and --table apply to JDM, DMN and .xlsx input")
    policy = read_policy(source, format=fmt, engine=Engine(), **options)
    out = write_policy(policy, target, format=to_format)  # refusals come before anything is written
    click.echo(f"wrote {out} ({len(policy.rules)} rules, {len(policy.labels)} labels)")
