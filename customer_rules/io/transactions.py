"""Customers from transactions: an order log (and a contact log) aggregated,
with polars, into the customer table the engine classifies.

One row of the order log is one order line: a customer id, a date or time
and an amount, optionally an order id, a quantity, a cost or a margin, a
status and a sales channel. :func:`customers_from_transactions` checks every line column-wise,
sets aside the bad ones with a reason (rows in = rows used + rows rejected)
and aggregates the rest per customer as of a date:

* ``value.revenue_12m`` / ``value.orders_12m`` — net revenue and orders in
  the 12 months up to ``as_of`` (after the same day one year earlier, up to
  and including ``as_of``); ``value.revenue_total`` / ``value.orders_total``
  the same since the first purchase (historic lifetime value, frequency);
* ``value.profit_12m`` — revenue minus cost (or the sum of the margins) in
  the window, when the log has a cost or margin column; unknown when a line
  in the window lacks it;
* ``value.main_channel_12m`` / ``value.channels_12m`` — with a channel
  column: the channel with the most purchase value in the window (a tie
  goes to the name that sorts first) and the number of distinct channels
  bought through in it. Only purchase lines count (refunds and cancelled
  lines name no channel); a line with a blank channel counts for
  everything else but names no channel. No purchase in the window: no main
  channel and 0 channels; purchases on lines without a channel only: both
  unknown;
* ``value.first_purchase_at`` / ``value.last_purchase_at`` — recency and
  tenure are the features ``days_since_purchase`` and ``tenure_days``;
* ``deal.first_payment_at`` — the first purchase; ``deal.accepted_at`` —
  the first purchase on a later day than the first one: a repeat purchase
  counts as accepted service (``deal_stage`` then reaches ``formal``);
* with a contact log: ``deal.first_contact_at``, ``deal.last_contact_at``
  and ``interactions`` (date, kind, note).

Statuses: a line whose status is in ``cancelled`` never happened (it is
used, and counts nowhere); one whose status is in ``returned`` — or whose
quantity is negative — is a refund: its amount is subtracted from revenue
(and its profit from profit) on the date of the return, it is not an order
and does not move the purchase dates. Net revenue below zero (refunds of
purchases made before the window) counts as 0. Every other status, and no
status, is a purchase. See ``docs/how-to/from-transactions.md``.

The functions here import polars only when called, so ``import
customer_rules`` stays free of it.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "CONTACT_COLUMNS",
    "ORDER_COLUMNS",
    "TransactionsResult",
    "customers_from_transactions",
    "read_log",
]

ORDER_COLUMNS: dict[str, str] = {
    "customer_id": "customer_id",
    "at": "at",
    "amount": "amount",
    "order_id": "order_id",
    "quantity": "quantity",
    "cost": "cost",
    "margin": "margin",
    "status": "status",
    "channel": "channel",
}
"""The roles of an order log's columns and their default names. The first
three are required; the others are used when a column of that name exists
(or ``columns`` names one). ``amount`` is the line's value, or its unit
price when there is a ``quantity``; ``cost`` and ``margin`` are on the same
basis as ``amount``; ``channel`` names the sales channel of the line
(``online``, ``store``, ``wechat``, ... as the firm writes them)."""

CONTACT_COLUMNS: dict[str, str] = {"customer_id": "customer_id", "at": "at", "kind": "kind", "note": "note"}
"""The roles of a contact log's columns and their default names (``kind``
and ``note`` optional; a kind is one of ``visit``, ``call``, ``message``,
``greeting``)."""

_REQUIRED = ("customer_id", "at", "amount")
_CONTACT_KINDS = ("visit", "call", "message", "greeting")
CANCELLED = ("cancelled", "canceled", "void")
RETURNED = ("returned", "refunded", "return", "refund")

_ROW = "__cr_log_row"


@dataclass
class TransactionsResult:
    """The customer table built from an order log, and the lines set aside.

    ``customers`` is a polars DataFrame, one row per customer, sorted by
    ``id``, with record columns (``value.revenue_12m``, ...), ready for
    :meth:`Engine.classify_frame` and :meth:`Engine.fit`. ``rejected`` has
    the columns ``row`` (0-based position in the order log), ``id`` and
    ``reason``; ``rows`` = ``used`` + ``rejected.height``. With a contact
    log, ``contacts_rejected`` is the same for its lines. Unpacks as
    ``customers, rejected``.
    """

    customers: pl.DataFrame
    rejected: pl.DataFrame
    rows: int
    used: int
    as_of: dt.date
    contacts_rejected: pl.DataFrame | None = None

    def __iter__(self) -> Any:
        return iter((self.customers, self.rejected))


# ---------------------------------------------------------------------------
# Reading a log
# ---------------------------------------------------------------------------


def read_log(source: Any, *, connection: Any = None, what: str = "order log") -> pl.LazyFrame:
    """A log as a polars LazyFrame: a CSV, Parquet or JSON Lines path (CSV cells
    are read as text and parsed here, so a bad cell is a rejected line, not an
    error), a polars DataFrame or LazyFrame, a pandas DataFrame, or — with
    ``connection`` — a SQL query run by polars' database readers (a DB-API or
    SQLAlchemy connection, or a URI string for ``read_database_uri``)."""
    import polars as pl

    from customer_rules.io.files import FileError

    if connection is not None:
        if not isinstance(source, str):
            raise FileError(f"with a connection, the {what} must be a SQL query (a string)")
        if isinstance(connection, str):
            return pl.read_database_uri(source, connection).lazy()
        return pl.read_database(source, connection, infer_schema_length=None).lazy()
    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if type(source).__module__.split(".")[0] == "pandas":
        return pl.from_pandas(source).lazy()
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise FileError(f"no such {what} file: {str(path)!r}", hint="check the path")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy")
        if suffix in (".parquet", ".pq"):
            return pl.scan_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pl.scan_ndjson(path, infer_schema_length=None)
        raise FileError(
            f"cannot tell the format of the {what} {str(path)!r} (extension {suffix!r})",
            hint="name it .csv, .parquet or .jsonl, or pass a polars/pandas frame",
        )
    raise FileError(
        f"cannot read a {what} from a {type(source).__name__}",
        hint="pass a file path, a polars or pandas DataFrame, or a SQL query with connection=",
    )


def _roles(
    given: Mapping[str, str | None] | None,
    defaults: Mapping[str, str],
    required: Iterable[str],
    present: list[str],
    what: str,
) -> dict[str, str]:
    """Role -> column name: the defaults (optional ones only when present),
    overridden by ``given`` (``None`` drops an optional role)."""
    from customer_rules.io.files import FileError

    given = dict(given or {})
    for role in given:
        if role not in defaults:
            close = difflib.get_close_matches(role, list(defaults), n=1)
            raise FileError(
                f"unknown {what} column role {role!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                hint="roles: " + ", ".join(defaults),
            )
    roles: dict[str, str] = {}
    for role, default in defaults.items():
        name = given.get(role, default)
        if name is None:
            if role in required:
                raise FileError(f"the {what} needs a {role!r} column")
            continue
        if name not in present:
            if role in required or role in given:
                close = difflib.get_close_matches(name, present, n=1)
                raise FileError(
                    f"the {what} has no column {name!r} (for {role!r})"
                    + (f"; did you mean {close[0]!r}?" if close else ""),
                    hint=f"name the columns with columns={{{role!r}: '<column>'}}; it has: "
                    + ", ".join(present[:12]),
                )
            continue
        roles[role] = name
    return roles


# ---------------------------------------------------------------------------
# Column-wise parsing. A line's checks are (condition, message) pairs; the
# conditions become one small integer per line (0 = good, k = the k-th
# check failed first), and the messages are formatted for rejected lines only.
# ---------------------------------------------------------------------------


@dataclass
class _Lines:
    """How to read a log's columns: stage-1 text columns, stage-2 typed
    columns (which may read stage 1), and the checks over both."""

    text: dict[str, pl.Expr] = field(default_factory=dict)
    typed: dict[str, pl.Expr] = field(default_factory=dict)
    checks: list[tuple[pl.Expr, pl.Expr, pl.Expr]] = field(default_factory=list)

    def check(self, condition: pl.Expr, message: pl.Expr | str, zh: pl.Expr | str) -> None:
        """A line is rejected when ``condition`` holds, with ``message`` (and
        ``zh``, the same in Chinese) as its reason."""
        import polars as pl

        def lit(m: pl.Expr | str) -> pl.Expr:
            return pl.lit(m) if isinstance(m, str) else m

        self.checks.append((condition, lit(message), lit(zh)))

    def build(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        """The log with a row index, the typed columns and ``_bad`` (the code)."""
        import polars as pl

        code: Any = pl
        for k, (condition, _, _) in enumerate(self.checks, start=1):
            code = code.when(condition).then(pl.lit(k, pl.UInt8))
        bad = code.otherwise(pl.lit(0, pl.UInt8)) if self.checks else pl.lit(0, pl.UInt8)
        out = lf.with_row_index(_ROW)
        if self.text:
            out = out.with_columns(**self.text)
        return out.with_columns(**self.typed).with_columns(_bad=bad)

    def reasons(self, lang: str = "en") -> pl.Expr:
        """The message of each rejected line's code, in English or Chinese (``zh``)."""
        import polars as pl

        out: Any = pl
        for k, (_, message, zh) in enumerate(self.checks, start=1):
            out = out.when(pl.col("_bad") == k).then(zh if lang == "zh" else message)
        return out.otherwise(pl.lit(None, pl.String)) if self.checks else pl.lit(None, pl.String)


def _text(col: pl.Expr) -> pl.Expr:
    import polars as pl

    # strip once; an empty cell is missing (null)
    return col.cast(pl.String).str.strip_chars().replace("", None)


def _id(spec: _Lines, name: str, dtype: pl.DataType) -> None:
    """Customer ids as text (``_id``); a float column of whole numbers (pandas'
    ints with gaps) reads ``17850``, not ``17850.0``."""
    import polars as pl

    col = pl.col(name)
    if dtype.is_float():
        whole = col.is_finite() & (col == col.round(0))
        spec.typed["_id"] = (
            pl.when(whole).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String))
        )
    elif dtype == pl.String:
        spec.typed["_id"] = _text(col)
    else:
        spec.typed["_id"] = col.cast(pl.String)
    spec.check(pl.col("_id").is_null(), "missing customer id", "缺少客户编号")


_LABELS_ZH = {"amount": "金额", "quantity": "数量", "cost": "成本", "margin": "毛利"}


def _number(spec: _Lines, role: str, name: str, dtype: pl.DataType, *, required: bool, label: str) -> None:
    """Column ``_<role>`` as Float64, with its checks (missing when
    ``required``, not a number, not finite)."""
    import polars as pl

    col = pl.col(name)
    value = pl.col(f"_{role}")
    finite = value.is_finite().fill_null(True)
    zh = _LABELS_ZH[label]
    if dtype.is_numeric():
        spec.typed[f"_{role}"] = col.cast(pl.Float64)
        if required:
            spec.check(value.is_null(), f"missing {label}", f"缺少{zh}")
        spec.check(
            ~finite, pl.format(f"{label} {{}} is not a finite number", value), pl.format(f"{zh} {{}} 不是有限数值", value)
        )
        return
    if dtype != pl.String and not isinstance(dtype, pl.Categorical | pl.Enum | pl.Null):
        raise _column_error(name, label, dtype, "numbers")
    raw = f"_{role}_t"
    spec.text[raw] = _text(col)
    spec.typed[f"_{role}"] = pl.col(raw).cast(pl.Float64, strict=False)
    if required:
        spec.check(pl.col(raw).is_null(), f"missing {label}", f"缺少{zh}")
    spec.check(
        pl.col(raw).is_not_null() & value.is_null(),
        pl.format(f"{label} '{{}}' is not a number", pl.col(raw)),
        pl.format(f"{zh}“{{}}”不是数字", pl.col(raw)),
    )
    spec.check(
        ~finite,
        pl.format(f"{label} '{{}}' is not a finite number", pl.col(raw)),
        pl.format(f"{zh}“{{}}”不是有限数值", pl.col(raw)),
    )


def _column_error(name: str, label: str, dtype: Any, wanted: str) -> Exception:
    from customer_rules.io.files import FileError

    return FileError(f"column {name!r} ({label}) holds {dtype}, not {wanted}", hint=f"give {wanted} or text")


def _date(spec: _Lines, name: str, dtype: pl.DataType, date_format: str | None) -> None:
    """Column ``_at`` as Date, with its checks. Text is ISO (a date, or a date
    and time after ``T`` or a space) unless ``date_format`` (strftime) says
    otherwise; a time keeps its date."""
    import polars as pl

    col = pl.col(name)
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        spec.typed["_at"] = col if dtype == pl.Date else col.dt.date()
        spec.check(pl.col("_at").is_null(), "missing date", "缺少日期")
        return
    if dtype != pl.String and not isinstance(dtype, pl.Categorical | pl.Enum | pl.Null):
        raise _column_error(name, "date", dtype, "dates, datetimes or ISO text (YYYY-MM-DD)")
    spec.text["_at_t"] = _text(col)
    text = pl.col("_at_t")
    if date_format is None:
        iso = text.str.contains(r"^\d{4}-\d{2}-\d{2}(?:[T ].*)?$")
        value: pl.Expr = pl.when(iso).then(text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))
    elif any(f in date_format for f in ("%H", "%M", "%S", "%I", "%T", "%R")):
        value = text.str.to_datetime(date_format, strict=False).dt.date()
    else:
        value = text.str.to_date(date_format, strict=False)
    spec.typed["_at"] = value
    spec.check(text.is_null(), "missing date", "缺少日期")
    spec.check(
        pl.col("_at").is_null(),
        pl.format(f"date '{{}}' is not a date ({date_format or 'YYYY-MM-DD'})", text),
        pl.format(f"日期“{{}}”无法识别（应为 {date_format or 'YYYY-MM-DD'} 格式）", text),
    )


def _one_year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


# ---------------------------------------------------------------------------
# The order log
# ---------------------------------------------------------------------------


def _order_lines(
    roles: Mapping[str, str],
    schema: Mapping[str, pl.DataType],
    as_of: dt.date,
    cancelled: tuple[str, ...],
    returned: tuple[str, ...],
    date_format: str | None,
) -> tuple[_Lines, dict[str, pl.Expr], dict[str, pl.Expr]]:
    """How to read an order log's lines (``_id``, ``_at``, ``_bad``, ...), and
    the columns of a good line, in two steps: ``_kind`` (1 purchase, -1
    refund, 0 cancelled) and ``_channel`` (text, null when blank; with a
    channel column), then ``_value`` (signed net revenue) and ``_profit``
    (signed; null = unknown)."""
    import polars as pl

    lit = pl.lit
    spec = _Lines()
    _id(spec, roles["customer_id"], schema[roles["customer_id"]])
    _date(spec, roles["at"], schema[roles["at"]], date_format)
    spec.check(
        pl.col("_at") > as_of,
        pl.format(f"order date {{}} is after as_of {as_of.isoformat()} (a future order)", pl.col("_at")),
        pl.format(f"订单日期 {{}} 晚于统计日 {as_of.isoformat()}（未来的订单）", pl.col("_at")),
    )
    _number(spec, "amount", roles["amount"], schema[roles["amount"]], required=True, label="amount")
    spec.check(
        pl.col("_amount") < 0,
        pl.format("negative amount {} (mark returns with a status or a negative quantity)", pl.col("_amount")),
        pl.format("金额为负（{}），退货请用订单状态或负数量标明", pl.col("_amount")),
    )
    if "quantity" in roles:
        _number(spec, "qty", roles["quantity"], schema[roles["quantity"]], required=True, label="quantity")
        line = pl.col("_amount") * pl.col("_qty").abs()
        scale = pl.col("_qty").abs()
    else:
        line = pl.col("_amount")
        scale = lit(1.0)
    profit: pl.Expr
    if "cost" in roles:
        _number(spec, "cost", roles["cost"], schema[roles["cost"]], required=False, label="cost")
        spec.check(
            pl.col("_cost") < 0, pl.format("negative cost {}", pl.col("_cost")), pl.format("成本为负（{}）", pl.col("_cost"))
        )
        profit = line - pl.col("_cost") * scale
    elif "margin" in roles:
        _number(spec, "margin", roles["margin"], schema[roles["margin"]], required=False, label="margin")
        profit = pl.col("_margin") * scale
    else:
        profit = lit(None, pl.Float64)
    good: dict[str, pl.Expr] = {}
    if "order_id" in roles:
        dtype = schema[roles["order_id"]]
        order = pl.col(roles["order_id"])
        spec.typed["_order"] = _text(order) if dtype == pl.String else order
        spec.check(pl.col("_order").is_null(), "missing order id", "缺少订单编号")
    kind = lit(1, pl.Int8)
    if "status" in roles:
        codes = {**{s.strip().lower(): 0 for s in cancelled}, **{s.strip().lower(): -1 for s in returned}}
        kind = pl.col(roles["status"]).map_batches(
            _status_kinds(codes), return_dtype=pl.Int8, is_elementwise=True
        )
    if "quantity" in roles:
        kind = pl.when((pl.col("_qty") < 0) & (kind != 0)).then(lit(-1, pl.Int8)).otherwise(kind)
    good["_kind"] = kind
    if "channel" in roles:
        good["_channel"] = _text(pl.col(roles["channel"]))
    value = pl.col("_kind").cast(pl.Float64)
    return spec, good, {"_value": value * line, "_profit": value * profit}


def _status_kinds(codes: Mapping[str, int]) -> Callable[[pl.Series], pl.Series]:
    """Statuses to kinds (``codes``: normalised status -> kind, else 1).

    A log holds a handful of distinct statuses in millions of lines, and the
    lines of one order usually share theirs, so each batch maps its runs of
    equal statuses, not its lines: the first status of each run is looked
    up (the distinct ones normalised — strip, lower case — once) and the
    run's kind is spread over its lines by position. On a log whose every
    line differs from the one before, that is one lookup per line, as
    before; on an order log it costs half of looking up every line."""
    import polars as pl

    def kinds(status: pl.Series) -> pl.Series:
        text = status.cast(pl.String)
        runs = text.rle_id()
        heads = text.filter((runs != runs.shift(1)).fill_null(True))
        distinct = heads.unique().drop_nulls()
        normal = distinct.str.strip_chars().str.to_lowercase()
        mapping = {raw: codes.get(norm, 1) for raw, norm in zip(distinct.to_list(), normal.to_list(), strict=True)}
        return heads.replace_strict(mapping, default=1, return_dtype=pl.Int8).fill_null(1).gather(runs)

    return kinds


def _distinct(col: pl.Expr) -> pl.Expr:
    """Distinct values other than null, per group."""
    import polars as pl

    return col.n_unique().cast(pl.Int64) - (col.null_count() > 0).cast(pl.Int64)


def _bucket(ids: pl.Expr) -> pl.Expr:
    """A 64-bit hash of the customer id: an integer key that groups and joins
    far faster than text. Two ids may share a bucket; :func:`_aggregate`
    detects that exactly and recomputes what it affects."""
    return ids.hash(seed=0x5EED)


def _channels(lines: pl.LazyFrame, recent: pl.Expr) -> pl.LazyFrame:
    """Per customer, the main channel of the last 12 months (the most
    purchase value; a tie goes to the name that sorts first) and ``_named``,
    the number of distinct channels named on purchase lines in the window
    (null when none is named). Refunds and cancelled lines are not
    purchases; lines without a channel name none."""
    import polars as pl

    return (
        lines.filter((pl.col("_kind") == 1) & recent & pl.col("_channel").is_not_null())
        .group_by("_id", "_channel")
        .agg(pl.col("_value").sum().alias("_bought"))
        .group_by("_id")
        .agg(
            pl.col("_channel")
            .sort_by("_bought", "_channel", descending=[True, False])
            .first()
            .alias("value.main_channel_12m"),
            pl.len().cast(pl.Int64).alias("_named"),
        )
    )


def _aggregate(
    lines: pl.LazyFrame, as_of: dt.date, has_orders: bool, has_profit: bool, has_channel: bool = False
) -> pl.LazyFrame:
    """One row per customer from the good lines.

    The repeat purchase date (the first purchase on a later day than the
    first one) needs each customer's first purchase date before the lines
    are aggregated. A window over the text id costs as much as a second
    full group-by; instead the first date is taken per :func:`_bucket` (an
    integer group-by) and joined back, so the date is a plain ``min`` in the
    one group-by by id. The table keeps that bucket's first date as
    ``_bucket_first``: where it differs from the customer's own first
    purchase, the bucket was shared with another id, and
    :func:`_exact_repeat_dates` recomputes those customers' dates."""
    import polars as pl

    since = _one_year_before(as_of)
    buy = pl.col("_kind") == 1
    recent = pl.col("_at") > since
    order = pl.col("_order") if has_orders else None
    pre: dict[str, pl.Expr] = {
        "_buy_at": pl.when(buy).then(pl.col("_at")),
        "_v12": pl.when(recent).then(pl.col("_value")),
        "_bucket": _bucket(pl.col("_id")),
    }
    if has_orders:
        pre["_o"] = pl.when(buy).then(order)
        pre["_o12"] = pl.when(buy & recent).then(order)
    else:
        pre["_o"] = buy.cast(pl.Int64)
        pre["_o12"] = (buy & recent).cast(pl.Int64)
    if has_profit:
        pre["_p12"] = pl.when(recent & (pl.col("_kind") != 0)).then(pl.col("_profit"))
        pre["_p12_unknown"] = (recent & (pl.col("_kind") != 0) & pl.col("_profit").is_null()).cast(pl.Int64)
    first = pl.col("_buy_at").min()
    aggs: list[pl.Expr] = [
        pl.col("_value").sum().alias("_rev"),
        pl.col("_v12").sum().alias("_rev12"),
        first.alias("value.first_purchase_at"),
        pl.col("_buy_at").max().alias("value.last_purchase_at"),
        pl.when(pl.col("_buy_at") > pl.col("_bucket_first")).then(pl.col("_buy_at")).min().alias("deal.accepted_at"),
        pl.col("_bucket_first").min(),
    ]
    if has_orders:
        aggs += [
            _distinct(pl.col("_o")).alias("value.orders_total"),
            _distinct(pl.col("_o12")).alias("value.orders_12m"),
        ]
    else:
        aggs += [pl.col("_o").sum().alias("value.orders_total"), pl.col("_o12").sum().alias("value.orders_12m")]
    if has_profit:
        aggs += [pl.col("_p12").sum().alias("_prof12"), pl.col("_p12_unknown").sum().alias("_unknown")]
    keyed = lines.select(
        "_id", "_at", "_kind", "_value", *(["_order"] if has_orders else []), *(["_profit"] if has_profit else [])
    ).with_columns(**pre)
    firsts = keyed.group_by("_bucket").agg(pl.col("_buy_at").min().alias("_bucket_first"))
    out = (
        keyed.join(firsts, on="_bucket", how="left")
        .group_by("_id")
        .agg(aggs)
        .with_columns(
            pl.col("_rev12").clip(lower_bound=0.0).alias("value.revenue_12m"),
            pl.col("_rev").clip(lower_bound=0.0).alias("value.revenue_total"),
            pl.col("value.orders_12m").cast(pl.Int64),
            pl.col("value.orders_total").cast(pl.Int64),
            pl.col("value.first_purchase_at").alias("deal.first_payment_at"),
        )
    )
    if has_profit:
        out = out.with_columns(pl.when(pl.col("_unknown") == 0).then(pl.col("_prof12")).alias("value.profit_12m"))
    if has_channel:
        # no purchase in the window: no channel used (0); purchases on lines
        # that name no channel: unknown (null)
        out = out.join(_channels(lines, recent), on="_id", how="left").with_columns(
            pl.when(pl.col("value.orders_12m") == 0)
            .then(pl.lit(0, pl.Int64))
            .otherwise(pl.col("_named"))
            .alias("value.channels_12m")
        )
    columns = [
        "value.revenue_12m",
        *(["value.profit_12m"] if has_profit else []),
        "value.orders_12m",
        "value.revenue_total",
        "value.orders_total",
        *(["value.main_channel_12m", "value.channels_12m"] if has_channel else []),
        "value.first_purchase_at",
        "value.last_purchase_at",
        "deal.first_payment_at",
        "deal.accepted_at",
    ]
    return out.select(pl.col("_id").alias("id"), *columns, "_bucket_first", pl.lit(True).alias("_in_log"))


def _exact_repeat_dates(customers: pl.DataFrame, good: pl.LazyFrame) -> pl.DataFrame:
    """``deal.accepted_at`` recomputed exactly (grouped by the id itself) for
    the customers whose bucket held another id with an earlier first
    purchase; the table unchanged when there are none (the usual case). A
    customer whose first purchase is its bucket's first already has the
    right date: the later purchases it is compared with are its own."""
    import polars as pl

    shared = customers.filter(pl.col("_bucket_first") != pl.col("value.first_purchase_at"))
    if shared.height:
        buy_at = pl.when(pl.col("_kind") == 1).then(pl.col("_at"))
        fixed = (
            good.select("_id", buy_at.alias("_buy_at"))
            .join(shared.lazy().select(pl.col("id").alias("_id")), on="_id", how="semi")
            .group_by("_id")
            .agg(
                pl.when(pl.col("_buy_at") > pl.col("_buy_at").min())
                .then(pl.col("_buy_at"))
                .min()
                .alias("_exact")
            )
            .rename({"_id": "id"})
            .collect()
        )
        customers = (
            customers.join(fixed, on="id", how="left")
            .with_columns(
                pl.when(pl.col("_bucket_first") != pl.col("value.first_purchase_at"))
                .then(pl.col("_exact"))
                .otherwise(pl.col("deal.accepted_at"))
                .alias("deal.accepted_at")
            )
            .drop("_exact")
        )
    return customers.drop("_bucket_first")


def _rejected(lines: pl.LazyFrame, spec: _Lines) -> pl.LazyFrame:
    import polars as pl

    return lines.filter(pl.col("_bad") != 0).select(
        pl.col(_ROW).cast(pl.Int64).alias("row"),
        pl.col("_id").alias("id"),
        spec.reasons().alias("reason"),
        spec.reasons("zh").alias("reason_zh"),
    )


# ---------------------------------------------------------------------------
# The contact log
# ---------------------------------------------------------------------------


def _contact_lines(
    roles: Mapping[str, str], schema: Mapping[str, pl.DataType], as_of: dt.date, date_format: str | None
) -> _Lines:
    import polars as pl

    spec = _Lines()
    _id(spec, roles["customer_id"], schema[roles["customer_id"]])
    _date(spec, roles["at"], schema[roles["at"]], date_format)
    spec.check(
        pl.col("_at") > as_of,
        pl.format(f"contact date {{}} is after as_of {as_of.isoformat()} (a future contact)", pl.col("_at")),
        pl.format(f"联系日期 {{}} 晚于统计日 {as_of.isoformat()}（未来的联系）", pl.col("_at")),
    )
    spec.typed["_kind"] = (
        _text(pl.col(roles["kind"])).str.to_lowercase() if "kind" in roles else pl.lit(None, pl.String)
    )
    spec.typed["_note"] = pl.col(roles["note"]).cast(pl.String) if "note" in roles else pl.lit(None, pl.String)
    spec.check(
        pl.col("_kind").is_not_null() & ~pl.col("_kind").is_in(list(_CONTACT_KINDS)),
        pl.format(f"contact kind '{{}}' is not one of {', '.join(_CONTACT_KINDS)}", pl.col("_kind")),
        pl.format("联系方式“{}”不在可用的方式之列", pl.col("_kind")),
    )
    return spec


def _contact_table(lines: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    return (
        lines.filter(pl.col("_bad") == 0)
        .sort("_id", "_at", _ROW)
        .group_by("_id", maintain_order=True)
        .agg(
            pl.col("_at").min().alias("deal.first_contact_at"),
            pl.col("_at").max().alias("deal.last_contact_at"),
            pl.struct(at=pl.col("_at"), kind=pl.col("_kind"), note=pl.col("_note")).alias("interactions"),
        )
        .rename({"_id": "id"})
    )


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def customers_from_transactions(
    orders: Any,
    *,
    as_of: Any,
    contacts: Any = None,
    columns: Mapping[str, str | None] | None = None,
    contact_columns: Mapping[str, str | None] | None = None,
    cancelled: Iterable[str] = CANCELLED,
    returned: Iterable[str] = RETURNED,
    date_format: str | None = None,
    connection: Any = None,
) -> TransactionsResult:
    """Build the customer table from an order log (and a contact log), as of a date.

    ``orders`` is a CSV, Parquet or JSON Lines path, a polars DataFrame or
    LazyFrame, a pandas DataFrame, or a SQL query with ``connection`` (a
    DB-API connection such as :mod:`sqlite3`'s, a SQLAlchemy connection, or
    a URI string). ``contacts`` is a contact log in any of those forms
    (without a query). ``columns`` maps roles (:data:`ORDER_COLUMNS`) to the
    log's column names — ``{"customer_id": "CustomerID", "at": "InvoiceDate",
    "amount": "Price", "quantity": "Quantity"}`` — and ``contact_columns``
    does the same for the contact log (:data:`CONTACT_COLUMNS`). Optional
    roles are used when a column of their default name exists; map a role
    to ``None`` to ignore that column.

    A line is rejected, with the reason, when its customer id or date is
    missing, its date is not a date (ISO text, or ``date_format`` in strftime
    notation) or after ``as_of`` (a future order), its amount is missing,
    not a number or negative, its quantity is missing or not a number, its
    cost is not a number or negative, or its margin is not a number, or
    its order id is missing (when the log has one); a blank channel is no
    reason to reject a line. Statuses in ``cancelled``
    (case-insensitive) count nowhere; statuses in ``returned`` and negative
    quantities are refunds (see the module docs). Orders are distinct order
    ids among purchase lines (lines when there is no order id).

    Raises :class:`~customer_rules.io.files.FileError` (a
    :class:`CustomerRulesError`) for a log that cannot be read or lacks a
    column, with a "did you mean".
    """
    import polars as pl

    from customer_rules.engine.engine import normalise_as_of
    from customer_rules.io.files import FileError

    day = normalise_as_of(as_of)
    lf = read_log(orders, connection=connection)
    try:
        schema = dict(lf.collect_schema())
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FileError(f"cannot read the order log: {exc}") from None
    roles = _roles(columns, ORDER_COLUMNS, _REQUIRED, list(schema), "order log")
    if "cost" in roles and "margin" in roles:
        if columns is not None and "margin" in columns and "cost" not in columns:
            roles.pop("cost")
        elif columns is not None and "cost" in columns and "margin" not in columns:
            roles.pop("margin")
        else:
            raise FileError(
                "the order log has both a cost and a margin column; profit needs one",
                hint="choose one with columns={'margin': None} or columns={'cost': None}",
            )
    spec, kind, amounts = _order_lines(roles, schema, day, tuple(cancelled), tuple(returned), date_format)
    lines = spec.build(lf)
    good = lines.filter(pl.col("_bad") == 0).with_columns(**kind).with_columns(**amounts)
    table = _aggregate(good, day, "order_id" in roles, "cost" in roles or "margin" in roles, "channel" in roles)
    plans = [table, _rejected(lines, spec), lines.select(pl.len())]
    if contacts is not None:
        clf = read_log(contacts, what="contact log")
        try:
            cschema = dict(clf.collect_schema())
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise FileError(f"cannot read the contact log: {exc}") from None
        croles = _roles(contact_columns, CONTACT_COLUMNS, ("customer_id", "at"), list(cschema), "contact log")
        cspec = _contact_lines(croles, cschema, day, date_format)
        clines = cspec.build(clf)
        plans += [_contact_table(clines), _rejected(clines, cspec)]
    try:
        frames = pl.collect_all(plans)
    except pl.exceptions.PolarsError as exc:
        raise FileError(f"cannot read the order log: {exc}".splitlines()[0]) from None
    customers, rejected, count = _exact_repeat_dates(frames[0], good), frames[1], frames[2]
    contacts_rejected = None
    if contacts is not None:
        people = frames[3]
        contacts_rejected = frames[4]
        customers = customers.join(people, on="id", how="full", coalesce=True)
        fill: dict[str, Any] = {
            "value.revenue_12m": 0.0,
            "value.revenue_total": 0.0,
            "value.orders_12m": 0,
            "value.orders_total": 0,
        }
        customers = customers.with_columns(
            *[pl.col(c).fill_null(v) for c, v in fill.items()],
            pl.col("interactions").fill_null(pl.lit(pl.Series([[]], dtype=people.schema["interactions"]))),
        )
        # a customer not in the order log has made no profit (the log has
        # costs) and bought through no channel (the log has channels)
        for column, none in (("value.profit_12m", 0.0), ("value.channels_12m", 0)):
            if column in customers.columns:
                customers = customers.with_columns(
                    pl.when(pl.col("_in_log").is_null()).then(pl.lit(none)).otherwise(pl.col(column)).alias(column)
                )
    customers = customers.drop("_in_log").sort("id")
    rows = int(count.item())
    return TransactionsResult(
        customers=customers,
        rejected=rejected.sort("row"),
        rows=rows,
        used=rows - rejected.height,
        as_of=day,
        contacts_rejected=None if contacts_rejected is None else contacts_rejected.sort("row"),
    )
