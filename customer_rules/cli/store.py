"""``customer-rules regrade`` and ``customer-rules changes``: the period job
and the delta feed of a decision store (``docs/how-to/keep-grade-history.md``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.text import Text

from customer_rules.cli.common import (
    CliError,
    as_of_option,
    build_engine,
    cli,
    console,
    debug_option,
    encoding_option,
    fit_population,
    fitted_option,
    library_warnings,
    need_as_of,
    param_option,
    policy_option,
    read_input,
    wanted_schemes,
)

store_option = click.option(
    "--store",
    "url",
    required=True,
    metavar="URL",
    help="The decision store: a SQLAlchemy URL (sqlite:///grades.db, postgresql+psycopg://...).",
)


def _open(url: str) -> object:
    try:
        from customer_rules.store import DecisionStore
    except ImportError as exc:
        raise CliError(f"the decision store is not installed ({exc})", "pip install 'customer-rules[store]'") from None
    return DecisionStore(url)


@cli.command(
    help="""Grade every customer of a file for one period and log the decisions.

\b
Example:
  customer-rules regrade customers.parquet --store sqlite:///grades.db \\
      --period 2026Q4 --as-of 2026-12-31

The whole period is written in one transaction: a killed run leaves none
of it, and a period already in the store is skipped (running it twice adds
nothing). Stability rules read each customer's grade from the earlier
periods in the store. Population-relative schemes are fitted on the input
(or use --fitted).
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@store_option
@click.option("--period", required=True, metavar="NAME", help="The grading period, e.g. 2026Q4.")
@as_of_option
@click.option("--schemes", "schemes", multiple=True, metavar="A,B", help="Only these schemes (repeatable).")
@encoding_option
@fitted_option
@policy_option
@param_option
@debug_option
def regrade(
    input_path: Path,
    url: str,
    period: str,
    as_of: str | None,
    schemes: tuple[str, ...],
    encoding: str,
    fitted: Path | None,
    policies: tuple[Path, ...],
) -> None:
    from customer_rules.io.files import ROW
    from customer_rules.store import DecisionStore

    day = need_as_of(as_of)
    err = console(stderr=True)
    out = console()
    engine = build_engine(policies)
    wanted = wanted_schemes(engine, schemes)
    store = _open(url)
    assert isinstance(store, DecisionStore)
    with library_warnings(err):
        table_ = read_input(input_path, encoding, err, model=engine.record_model)
        fit_population(engine, table_, day, wanted, fitted)
        result = store.regrade(engine, table_.records.drop(ROW), period=period, as_of=day, schemes=wanted)
    if result.skipped:
        out.print(Text(f"period {period} is already in the store: nothing written"))
        return
    out.print(
        Text(
            f"period {period}: {result.written} decision(s) logged for"
            f" {table_.records.height - result.rejected} customer(s); {result.rejected} row(s) rejected"
        )
    )


@cli.command(
    help="""The delta feed of a decision store: customers whose label changed
between two periods (and customers new in the second).

\b
Example:
  customer-rules changes --store sqlite:///grades.db --from 2026Q3 --to 2026Q4 --out changes.csv

Columns: customer_id, scheme, label_from, label_to, rule_to, decision_id.
--out writes CSV, Parquet or JSON Lines (by extension; default: CSV to
standard output).
"""
)
@store_option
@click.option("--from", "period_from", required=True, metavar="PERIOD", help="The earlier period.")
@click.option("--to", "period_to", required=True, metavar="PERIOD", help="The later period.")
@click.option("--schemes", "schemes", multiple=True, metavar="A,B", help="Only these schemes (repeatable).")
@click.option("--out", "out", default="-", metavar="FILE", help="Write the feed here (- = stdout).")
@debug_option
def changes(url: str, period_from: str, period_to: str, schemes: tuple[str, ...], out: str) -> None:
    from customer_rules.io.files import write_table
    from customer_rules.store import DecisionStore

    store = _open(url)
    assert isinstance(store, DecisionStore)
    names = [s.strip() for item in schemes for s in item.split(",") if s.strip()] or None
    feed = store.changes(period_from, period_to, schemes=names)
    write_table(feed, out, stdout=sys.stdout)
    if out != "-":
        console().print(Text(f"{feed.height} change(s) from {period_from} to {period_to} written to {out}"))
