"""``customer-rules customers``: an order log (and a contact log) to a customer
table, and what ``classify --transactions`` shares with it."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from customer_rules.cli.common import (
    CliError,
    CliUsageError,
    as_of_option,
    cli,
    console,
    debug_option,
    need_as_of,
    warn,
)
from customer_rules.io.transactions import CONTACT_COLUMNS, ORDER_COLUMNS

if TYPE_CHECKING:
    from customer_rules.io.transactions import TransactionsResult

F = TypeVar("F", bound=Callable[..., Any])


def log_options(f: F) -> F:
    """``--contacts``, ``--column``, ``--contact-column`` and ``--date-format``."""
    for option in reversed(
        (
            click.option(
                "--contacts",
                "contacts",
                type=click.Path(dir_okay=False, path_type=Path),
                metavar="FILE",
                help="A contact log (customer_id, at, kind, note): first/last contact and interactions.",
            ),
            click.option(
                "--column",
                "columns",
                multiple=True,
                metavar="ROLE=NAME",
                help=f"The order log's column for a role ({', '.join(ORDER_COLUMNS)}), "
                "e.g. --column customer_id=CustomerID; repeatable.",
            ),
            click.option(
                "--contact-column",
                "contact_columns",
                multiple=True,
                metavar="ROLE=NAME",
                help=f"The contact log's column for a role ({', '.join(CONTACT_COLUMNS)}); repeatable.",
            ),
            click.option(
                "--date-format",
                "date_format",
                metavar="FORMAT",
                help="How dates are written, strftime style (e.g. '%m/%d/%Y %H:%M'); default ISO.",
            ),
        )
    ):
        f = option(f)
    return f


def _mapping(items: Sequence[str], option: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        role, eq, name = item.partition("=")
        if not eq or not role.strip():
            raise CliUsageError(
                f"{option} must look like ROLE=NAME, not {item!r}", f"e.g. {option} customer_id=CustomerID"
            )
        out[role.strip()] = name.strip() or None
    return out


def read_orders(
    orders: Path,
    day: dt.date,
    err: Console,
    *,
    contacts: Path | None,
    columns: Sequence[str],
    contact_columns: Sequence[str],
    date_format: str | None,
) -> TransactionsResult:
    """The customer table from the order log (and contact log); warns about
    rejected lines."""
    from customer_rules.io.transactions import customers_from_transactions

    result = customers_from_transactions(
        orders,
        as_of=day,
        contacts=contacts,
        columns=_mapping(columns, "--column"),
        contact_columns=_mapping(contact_columns, "--contact-column"),
        date_format=date_format,
    )
    for what, rejected, name in (
        ("order line", result.rejected, orders.name),
        ("contact", result.contacts_rejected, contacts.name if contacts else ""),
    ):
        if rejected is not None and rejected.height:
            first = rejected.row(0, named=True)
            warn(
                err,
                f"{rejected.height} {what}(s) of {name} rejected (e.g. row {first['row']}: {first['reason']})",
            )
    return result


@cli.command(
    help="""Build a customer table from an order log (and a contact log).

\b
Examples:
  customer-rules customers orders.csv --as-of 2026-11-22 --out customers.parquet
  customer-rules customers orders.parquet --as-of 2026-11-22 --contacts contacts.csv \\
      --out customers.parquet --rejected bad_lines.csv
  customer-rules customers export.csv --as-of 2026-11-22 --column customer_id=CustomerID \\
      --column at=InvoiceDate --column amount=Price --column quantity=Quantity --out customers.csv

ORDERS is a CSV, Parquet or JSON Lines file with one order line per row:
customer_id, at (date), amount, and optionally order_id, quantity (amount is
then a unit price), cost or margin, status (cancelled / returned), channel.
The table has value.revenue_12m, value.orders_12m, value.profit_12m (with
cost or margin), value.revenue_total, value.orders_total,
value.main_channel_12m and value.channels_12m (with channel), first and last
purchase, deal.first_payment_at and deal.accepted_at (the first repeat
purchase), and with --contacts deal.first_contact_at, deal.last_contact_at
and interactions. Lines that cannot be used (missing id or date, a future date,
a negative or unreadable amount, ...) are left out and listed, with the
reason, in --rejected. `customer-rules classify --transactions ORDERS` does
this and classifies in one step.
"""
)
@click.argument("orders", metavar="ORDERS", type=click.Path(dir_okay=False, path_type=Path))
@as_of_option
@click.option("--out", "out", metavar="FILE", help="Write the customer table here (.parquet, .csv, .jsonl; - = stdout).")
@click.option("--rejected", "rejected_path", metavar="FILE", help="Write the rejected order lines (row, id, reason) here.")
@click.option("--strict", is_flag=True, help="Exit with code 1 when a line is rejected.")
@log_options
@debug_option
def customers(
    orders: Path,
    as_of: str | None,
    out: str | None,
    rejected_path: str | None,
    strict: bool,
    contacts: Path | None,
    columns: tuple[str, ...],
    contact_columns: tuple[str, ...],
    date_format: str | None,
) -> None:
    from customer_rules.io.files import file_format, write_table

    day = need_as_of(as_of)
    for target in (out, rejected_path):
        if target is not None and target != "-":
            file_format(target, role="output")
    err = console(stderr=True)
    result = read_orders(
        orders, day, err, contacts=contacts, columns=columns, contact_columns=contact_columns, date_format=date_format
    )
    if out is not None:
        write_table(result.customers, out, stdout=sys.stdout)
    if rejected_path is not None:
        write_table(result.rejected, rejected_path, stdout=sys.stdout)
    report = err if out == "-" else console()
    report.print(
        Text(
            f"{orders.name}: {result.rows} order line(s), {result.used} used, {result.rejected.height} rejected"
            f" -> {result.customers.height} customer(s) as of {day}"
            + (f"; written to {out}" if out not in (None, "-") else "")
        ),
        soft_wrap=True,
    )
    if out is None:
        report.print(Text("write the table with --out FILE (.parquet, .csv or .jsonl)", style="dim"))
    if strict and result.rejected.height:
        raise CliError(
            f"--strict: {result.rejected.height} order line(s) rejected", "see --rejected FILE for the reasons"
        )
