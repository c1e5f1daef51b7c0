"""customers_from_transactions: order and contact logs to the customer table."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.io.files import FileError

AS_OF = dt.date(2026, 11, 22)
D = dt.date


def _orders() -> pl.DataFrame:
    # two customers, an order of two lines, a refund, a cancellation, bad lines
    return pl.DataFrame(
        {
            "cust": ["A", "A", "A", "A", "A", "B", "B", "", "C", "B", "B"],
            "day": [
                "2025-06-01",  # A: first purchase, before the 12-month window
                "2026-03-01",  # A: order 2, line 1
                "2026-03-01",  # A: order 2, line 2
                "2026-04-10",  # A: refund
                "2026-05-01",  # A: cancelled
                "2026-10-01",  # B: only purchase
                "2027-01-01",  # B: future -> rejected
                "2026-01-01",  # no id -> rejected
                "2026-02-30",  # not a date -> rejected
                "2026-10-02",  # B: negative amount -> rejected
                "2026-10-03",  # B: not a number -> rejected
            ],
            "order": ["o1", "o2", "o2", "r1", "o3", "o4", "o5", "o6", "o7", "o8", "o9"],
            "price": ["100", "40", "10.5", "20", "999", "30", "5", "5", "5", "-1", "1,5"],
            "qty": ["1", "2", "1", "1", "1", "3", "1", "1", "1", "1", "1"],
            "unit_cost": ["60", "25", "5", "12", "1", "10", "1", "1", "1", "1", "1"],
            "state": ["paid", "paid", "PAID", "Returned", "cancelled", None, None, None, None, None, None],
        }
    )


COLUMNS = {
    "customer_id": "cust",
    "at": "day",
    "amount": "price",
    "order_id": "order",
    "quantity": "qty",
    "cost": "unit_cost",
    "status": "state",
}


def test_a_small_log_by_hand() -> None:
    result = cr.customers_from_transactions(_orders(), as_of=AS_OF, columns=COLUMNS)
    assert result.rows == 11
    assert result.used == 6
    assert result.rejected.drop("reason_zh").to_dicts() == [
        {"row": 6, "id": "B", "reason": "order date 2027-01-01 is after as_of 2026-11-22 (a future order)"},
        {"row": 7, "id": None, "reason": "missing customer id"},
        {"row": 8, "id": "C", "reason": "date '2026-02-30' is not a date (YYYY-MM-DD)"},
        {"row": 9, "id": "B", "reason": "negative amount -1.0 (mark returns with a status or a negative quantity)"},
        {"row": 10, "id": "B", "reason": "amount '1,5' is not a number"},
    ]
    # the same reasons in Chinese, for Chinese output
    assert result.rejected["reason_zh"].to_list() == [
        "订单日期 2027-01-01 晚于统计日 2026-11-22（未来的订单）",
        "缺少客户编号",
        "日期“2026-02-30”无法识别（应为 YYYY-MM-DD 格式）",
        "金额为负（-1.0），退货请用订单状态或负数量标明",
        "金额“1,5”不是数字",
    ]
    a, b = result.customers.to_dicts()
    # A: 100 (2025) + 2*40 + 10.5 (2026-03-01) - 20 refund (2026-04-10); cancelled counts nowhere
    assert a == {
        "id": "A",
        "value.revenue_12m": 80 + 10.5 - 20,
        # profit: (80-50) + (10.5-5) - (20-12)
        "value.profit_12m": 30 + 5.5 - 8,
        "value.orders_12m": 1,
        "value.revenue_total": 100 + 80 + 10.5 - 20,
        "value.orders_total": 2,
        "value.first_purchase_at": D(2025, 6, 1),
        "value.last_purchase_at": D(2026, 3, 1),
        "deal.first_payment_at": D(2025, 6, 1),
        "deal.accepted_at": D(2026, 3, 1),  # the repeat purchase
    }
    assert b == {
        "id": "B",
        "value.revenue_12m": 90.0,
        "value.profit_12m": 60.0,
        "value.orders_12m": 1,
        "value.revenue_total": 90.0,
        "value.orders_total": 1,
        "value.first_purchase_at": D(2026, 10, 1),
        "value.last_purchase_at": D(2026, 10, 1),
        "deal.first_payment_at": D(2026, 10, 1),
        "deal.accepted_at": None,  # one purchase: not yet a repeat buyer
    }


def test_contacts_fill_milestones_and_interactions() -> None:
    contacts = pl.DataFrame(
        {
            "customer_id": ["A", "Z", "Z", "A", "A"],
            "at": ["2026-02-01", "2026-03-03", "2026-01-05", "2026-01-01", "2026-12-24"],
            "kind": ["call", "Visit", None, "fax", "call"],
            "note": ["asked for a quote", None, "met at the fair", None, None],
        }
    )
    result = cr.customers_from_transactions(_orders(), as_of=AS_OF, columns=COLUMNS, contacts=contacts)
    assert result.contacts_rejected is not None
    assert result.contacts_rejected.drop("reason_zh").to_dicts() == [
        {"row": 3, "id": "A", "reason": "contact kind 'fax' is not one of visit, call, message, greeting"},
        {"row": 4, "id": "A", "reason": "contact date 2026-12-24 is after as_of 2026-11-22 (a future contact)"},
    ]
    rows = {r["id"]: r for r in result.customers.to_dicts()}
    assert set(rows) == {"A", "B", "Z"}
    assert rows["A"]["interactions"] == [{"at": D(2026, 2, 1), "kind": "call", "note": "asked for a quote"}]
    assert rows["A"]["deal.first_contact_at"] == rows["A"]["deal.last_contact_at"] == D(2026, 2, 1)
    assert rows["B"]["interactions"] == []
    assert rows["B"]["deal.first_contact_at"] is None
    # Z is only in the contact log: no orders, no revenue, no profit (the log has costs)
    assert rows["Z"]["value.orders_total"] == 0 and rows["Z"]["value.revenue_12m"] == 0.0
    assert rows["Z"]["value.profit_12m"] == 0.0
    assert rows["Z"]["value.first_purchase_at"] is None
    assert [i["at"] for i in rows["Z"]["interactions"]] == [D(2026, 1, 5), D(2026, 3, 3)]
    assert rows["Z"]["interactions"][1]["kind"] == "visit"


def test_the_table_classifies_repeat_buyers_reach_formal() -> None:
    result = cr.customers_from_transactions(_orders(), as_of=AS_OF, columns=COLUMNS)
    engine = cr.Engine()
    out = engine.classify_frame(result.customers, as_of=AS_OF, schemes=["deal_stage"], rejected="raise")
    assert dict(zip(out["id"], out["deal_stage"], strict=True)) == {"A": "formal", "B": "potential"}
    record = cr.records_from_frame(result.customers)
    assert [c.id for c in record] == ["A", "B"]


def test_profit_is_unknown_when_a_line_in_the_window_lacks_cost() -> None:
    orders = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "at": [D(2026, 1, 1), D(2026, 2, 1), D(2026, 2, 1)],
            "amount": [10.0, 20.0, 5.0],
            "cost": [4.0, None, 1.0],
        }
    )
    customers = cr.customers_from_transactions(orders, as_of=AS_OF).customers
    assert customers["value.profit_12m"].to_list() == [None, 4.0]
    margins = orders.rename({"cost": "margin"})
    customers = cr.customers_from_transactions(margins, as_of=AS_OF).customers
    assert customers["value.profit_12m"].to_list() == [None, 1.0]
    no_cost = orders.drop("cost")
    assert "value.profit_12m" not in cr.customers_from_transactions(no_cost, as_of=AS_OF).customers.columns


def _channel_log() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "A", "A", "B", "B", "B", "C", "C", "D", "D"],
            "at": [
                "2025-01-10",  # A: before the window (store 500 does not count)
                "2026-01-05",  # A: web 40
                "2026-02-05",  # A: store 30
                "2026-02-06",  # A: store 10 -> store 40, a tie with web: "store" sorts first
                "2026-03-01",  # A: refund through the app: not a purchase, no channel
                "2026-04-01",  # A: cancelled through wechat: counts nowhere
                "2026-05-01",  # B: web 20 (qty 2)
                "2026-05-02",  # B: no channel: revenue and orders, but no channel
                "2026-05-03",  # B: blank channel: the same
                "2026-06-01",  # C: no channel on any purchase -> unknown
                "2026-06-02",  # C: refund through the store: still no channel
                "2024-06-01",  # D: bought only before the window -> 0 channels
                "2026-07-01",  # D: cancelled in the window -> still 0
            ],
            "amount": [500.0, 40.0, 30.0, 10.0, 15.0, 99.0, 10.0, 70.0, 5.0, 8.0, 8.0, 3.0, 3.0],
            "quantity": [1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1],
            "status": [None, None, None, None, "returned", "cancelled", None, None, None, None, "refund", None, "void"],
            "sales_channel": [
                "store", "web", " store", "store ", "app", "wechat", "web", None, "  ", None, "store", "web", "web"
            ],
        }
    )


def test_channel_fields_by_hand() -> None:
    result = cr.customers_from_transactions(_channel_log(), as_of=AS_OF, columns={"channel": "sales_channel"})
    assert result.rejected.height == 0
    rows = {r["id"]: r for r in result.customers.to_dicts()}
    channels = {i: (r["value.main_channel_12m"], r["value.channels_12m"]) for i, r in rows.items()}
    assert channels == {
        "A": ("store", 2),  # web 40 = store 30 + 10: a tie, broken by name
        "B": ("web", 1),  # 70 without a channel does not make another one the main channel
        "C": (None, None),  # bought in the window, but no line names its channel
        "D": (None, 0),  # nothing bought in the window
    }
    # lines without a channel count for everything else
    assert rows["B"]["value.revenue_12m"] == 95.0 and rows["B"]["value.orders_12m"] == 3
    # without the role (or with it mapped to None) there are no channel columns
    plain = cr.customers_from_transactions(_channel_log(), as_of=AS_OF).customers
    assert "value.main_channel_12m" not in plain.columns
    ignored = cr.customers_from_transactions(
        _channel_log().rename({"sales_channel": "channel"}), as_of=AS_OF, columns={"channel": None}
    ).customers
    assert "value.channels_12m" not in ignored.columns
    # the default column name is "channel"; a contact-only customer bought through no channel
    contacts = pl.DataFrame({"customer_id": ["Z"], "at": ["2026-01-01"]})
    both = cr.customers_from_transactions(
        _channel_log().rename({"sales_channel": "channel"}), as_of=AS_OF, contacts=contacts
    ).customers
    assert both.filter(pl.col("id") == "Z").select("value.main_channel_12m", "value.channels_12m").row(0) == (None, 0)
    assert both.filter(pl.col("id") == "C")["value.channels_12m"].item() is None


def test_a_policy_reads_the_main_channel() -> None:
    table = cr.customers_from_transactions(_channel_log(), as_of=AS_OF, columns={"channel": "sales_channel"}).customers
    policy = cr.Policy.model_validate(
        {
            "id": "channel_focus",
            "labels": [
                {"id": "store_first", "zh": "门店为主", "en": "store first"},
                {"id": "multichannel", "zh": "多渠道", "en": "multichannel"},
                {"id": "other", "zh": "其他", "en": "other"},
            ],
            "rules": [
                {"id": "store", "when": 'value.main_channel_12m == "store"', "then": "store_first"},
                {"id": "many", "when": "value.channels_12m >= 1", "then": "multichannel"},
            ],
            "default": "other",
        }
    )
    from customer_rules.engine.plugins import DEFAULT_PLUGINS

    schemes = [p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.")]
    engine = cr.Engine([policy], load_entry_points=False, block=schemes)
    labels = engine.classify_frame(table, as_of=AS_OF, rejected="raise")
    assert dict(zip(labels["id"], labels["channel_focus"], strict=True)) == {
        "A": "store_first",
        "B": "multichannel",
        "C": "other",  # unknown channel: neither rule matches
        "D": "other",
    }
    # one record at a time, the same
    (b,) = [r for r in cr.records_from_frame(table) if r.id == "B"]
    assert b.value.main_channel_12m == "web"
    assert engine.decide("channel_focus", b, as_of=AS_OF).label == "multichannel"


def test_negative_quantity_is_a_refund_and_no_quantity_means_lines() -> None:
    orders = pl.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "at": [dt.datetime(2026, 1, 1, 9), dt.datetime(2026, 1, 1, 18), dt.datetime(2026, 3, 1, 12)],
            "amount": [10.0, 10.0, 10.0],
            "quantity": [3, -1, 1],
        }
    )
    (row,) = cr.customers_from_transactions(orders, as_of=AS_OF).customers.to_dicts()
    assert row["id"] == "1"
    assert row["value.revenue_total"] == 30.0  # 30 - 10 + 10
    assert row["value.orders_total"] == 2  # two purchase lines (no order id)
    assert row["deal.accepted_at"] == D(2026, 3, 1)  # a later day; the same day is not a repeat


def _same(a: cr.TransactionsResult, b: cr.TransactionsResult) -> None:
    assert a.customers.equals(b.customers)
    assert a.rejected.equals(b.rejected)


def test_every_input_kind_gives_the_same_table(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    orders = _orders()
    expected = cr.customers_from_transactions(orders, as_of=AS_OF, columns=COLUMNS)
    csv = tmp_path / "orders.csv"
    orders.write_csv(csv)
    _same(cr.customers_from_transactions(csv, as_of=AS_OF, columns=COLUMNS), expected)
    _same(cr.customers_from_transactions(str(csv), as_of=AS_OF, columns=COLUMNS), expected)
    parquet = tmp_path / "orders.parquet"
    orders.write_parquet(parquet)
    _same(cr.customers_from_transactions(parquet, as_of=AS_OF, columns=COLUMNS), expected)
    _same(cr.customers_from_transactions(orders.lazy(), as_of=AS_OF, columns=COLUMNS), expected)
    _same(cr.customers_from_transactions(orders.to_pandas(), as_of=AS_OF, columns=COLUMNS), expected)
    db = sqlite3.connect(tmp_path / "shop.db")
    try:
        db.execute(f"create table orders ({', '.join(f'[{c}]' for c in orders.columns)})")
        db.executemany(f"insert into orders values ({', '.join('?' * orders.width)})", orders.rows())
        from_db = cr.customers_from_transactions(
            "select * from orders", as_of=AS_OF, columns=COLUMNS, connection=db
        )
    finally:
        db.close()
    _same(from_db, expected)


def test_pandas_float_ids_read_as_whole_numbers() -> None:
    pd = pytest.importorskip("pandas")
    orders = pd.DataFrame(
        {"customer_id": [17850.0, None, 13047.0], "at": ["2026-01-01"] * 3, "amount": [1.0, 2.0, 3.0]}
    )
    result = cr.customers_from_transactions(orders, as_of=AS_OF)
    assert result.customers["id"].to_list() == ["13047", "17850"]
    assert result.rejected["reason"].to_list() == ["missing customer id"]


def test_date_format_for_non_iso_text() -> None:
    orders = pl.DataFrame(
        {"customer_id": ["A", "A", "A"], "at": ["12/1/2025 8:26", "1/3/2026 10:00", "2026-01-01"], "amount": [1, 2, 3]}
    )
    result = cr.customers_from_transactions(orders, as_of=AS_OF, date_format="%m/%d/%Y %H:%M")
    (row,) = result.customers.to_dicts()
    assert row["value.first_purchase_at"] == D(2025, 12, 1)
    assert row["deal.accepted_at"] == D(2026, 1, 3)
    assert result.rejected["reason"].to_list() == ["date '2026-01-01' is not a date (%m/%d/%Y %H:%M)"]


def test_bad_configuration_names_the_column() -> None:
    orders = pl.DataFrame({"customer": ["A"], "at": ["2026-01-01"], "amount": [1.0]})
    with pytest.raises(FileError, match=r"no column 'customer_id'.*did you mean 'customer'"):
        cr.customers_from_transactions(orders, as_of=AS_OF)
    with pytest.raises(FileError, match=r"unknown order log column role 'amout'; did you mean 'amount'"):
        cr.customers_from_transactions(orders, as_of=AS_OF, columns={"customer_id": "customer", "amout": "x"})
    with pytest.raises(FileError, match="holds Boolean"):
        cr.customers_from_transactions(
            orders.with_columns(pl.lit(True).alias("at")), as_of=AS_OF, columns={"customer_id": "customer"}
        )
    with pytest.raises(FileError, match="no such order log file"):
        cr.customers_from_transactions("missing.csv", as_of=AS_OF)
    both = orders.with_columns(cost=pl.lit(1.0), margin=pl.lit(1.0))
    with pytest.raises(FileError, match="both a cost and a margin"):
        cr.customers_from_transactions(both, as_of=AS_OF, columns={"customer_id": "customer"})
    assert isinstance(FileError("x"), cr.CustomerRulesError)


# ---------------------------------------------------------------------------
# Property: the table equals a plain group-by written here; rows in = used + rejected
# ---------------------------------------------------------------------------

_DAYS = st.one_of(st.none(), st.dates(min_value=D(2024, 6, 1), max_value=D(2027, 1, 31)))
_LINE = st.fixed_dictionaries(
    {
        "customer_id": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])),
        "order_id": st.sampled_from(["o1", "o2", "o3", "o4", "o5", "o6"]),
        "at": _DAYS,
        "amount": st.one_of(st.none(), st.sampled_from([-5.0, 0.0, 1.5, 10.0, 250.0])),
        "cost": st.one_of(st.none(), st.sampled_from([0.0, 1.0, 7.5])),
        "status": st.one_of(st.none(), st.sampled_from(["paid", "returned", "cancelled", "Refund"])),
        "channel": st.one_of(st.none(), st.sampled_from(["web", " web", "store", "app", "", "  "])),
    }
)
_SCHEMA = {
    "customer_id": pl.String,
    "order_id": pl.String,
    "at": pl.Date,
    "amount": pl.Float64,
    "cost": pl.Float64,
    "status": pl.String,
    "channel": pl.String,
}


def _plain(log: pl.DataFrame, as_of: dt.date) -> tuple[pl.DataFrame, set[int]]:
    """The expected customer table, written as plainly as possible."""
    log = log.with_row_index("row")
    valid = log.filter(
        pl.col("customer_id").is_not_null()
        & pl.col("at").is_not_null()
        & (pl.col("at") <= as_of)
        & pl.col("amount").is_not_null()
        & (pl.col("amount") >= 0)
        & (pl.col("cost").is_null() | (pl.col("cost") >= 0))
    )
    status = pl.col("status").str.to_lowercase()
    lines = valid.filter(~status.is_in(["cancelled"]).fill_null(False)).with_columns(
        sign=pl.when(status.is_in(["returned", "refund"]).fill_null(False)).then(-1.0).otherwise(1.0)
    )
    year_ago = as_of.replace(year=as_of.year - 1)
    recent = pl.col("at") > year_ago
    buy = pl.col("sign") > 0
    table = lines.group_by("customer_id").agg(
        pl.max_horizontal((pl.col("sign") * pl.col("amount")).filter(recent).sum(), 0.0).alias("value.revenue_12m"),
        pl.when(pl.col("cost").filter(recent).null_count() == 0)
        .then((pl.col("sign") * (pl.col("amount") - pl.col("cost"))).filter(recent).sum())
        .alias("value.profit_12m"),
        pl.col("order_id").filter(buy & recent).n_unique().cast(pl.Int64).alias("value.orders_12m"),
        pl.max_horizontal((pl.col("sign") * pl.col("amount")).sum(), 0.0).alias("value.revenue_total"),
        pl.col("order_id").filter(buy).n_unique().cast(pl.Int64).alias("value.orders_total"),
        pl.col("at").filter(buy).min().alias("value.first_purchase_at"),
        pl.col("at").filter(buy).max().alias("value.last_purchase_at"),
        pl.col("at").filter(buy).min().alias("deal.first_payment_at"),
        pl.col("at").filter(buy).unique().sort().get(1, null_on_oob=True).alias("deal.accepted_at"),
    )
    # customers whose every line was cancelled are still customers (with nothing bought)
    everyone = valid.select(pl.col("customer_id").unique())
    table = everyone.join(table, on="customer_id", how="left").with_columns(
        pl.col("value.revenue_12m", "value.revenue_total").fill_null(0.0),
        pl.col("value.orders_12m", "value.orders_total").fill_null(0),
        pl.col("value.profit_12m").fill_null(pl.when(pl.col("value.revenue_12m").is_null()).then(0.0)),
    )
    if "channel" in log.columns:
        table = table.join(_plain_channels(lines, table["customer_id"], year_ago), on="customer_id", how="left")
    bad = set(log["row"].to_list()) - set(valid["row"].to_list())
    return table.rename({"customer_id": "id"}).sort("id"), bad


def _plain_channels(lines: pl.DataFrame, customers: pl.Series, year_ago: dt.date) -> pl.DataFrame:
    """The channel fields, line by line in Python: purchase value per named
    channel in the window; the largest wins, a tie goes to the first name."""
    bought: dict[str, dict[str, float]] = {}
    in_window: set[str] = set()
    for line in lines.iter_rows(named=True):
        customer = line["customer_id"]
        if line["sign"] < 0 or line["at"] <= year_ago:
            continue
        in_window.add(customer)
        channel = (line["channel"] or "").strip()
        if channel:
            per = bought.setdefault(customer, {})
            per[channel] = per.get(channel, 0.0) + line["amount"]
    rows = []
    for customer in customers.to_list():
        per = bought.get(customer, {})
        main = min(per, key=lambda c: (-per[c], c)) if per else None
        count = len(per) if per else (None if customer in in_window else 0)
        rows.append({"customer_id": customer, "value.main_channel_12m": main, "value.channels_12m": count})
    schema = {"customer_id": pl.String, "value.main_channel_12m": pl.String, "value.channels_12m": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE, max_size=40), as_of=st.sampled_from([D(2026, 11, 22), D(2025, 3, 1)]))
def test_the_table_is_a_plain_group_by(lines: list[dict[str, object]], as_of: dt.date) -> None:
    log = pl.DataFrame(lines, schema=_SCHEMA)
    result = cr.customers_from_transactions(log, as_of=as_of)
    expected, bad = _plain(log, as_of)
    assert result.rows == log.height == result.used + result.rejected.height
    assert set(result.rejected["row"].to_list()) == bad
    got = result.customers.select(expected.columns)
    assert got.equals(expected), (got.to_dicts(), expected.to_dicts())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE, max_size=40), as_of=st.sampled_from([D(2026, 11, 22), D(2025, 3, 1)]))
def test_customers_sharing_a_hash_bucket_still_get_their_own_dates(
    lines: list[dict[str, object]], as_of: dt.date
) -> None:
    # every id in one bucket: the integer shortcut for the repeat purchase date
    # must notice and fall back to the exact computation
    import customer_rules.io.transactions as transactions

    # "b" and "c" start after "a" (so their bucket's first date is not theirs);
    # "b" buys again later, "c" twice on one day (no repeat purchase)
    fixed = [("a", "o1", D(2024, 7, 1)), ("b", "o2", D(2024, 8, 1)), ("b", "o3", D(2024, 9, 1))]
    fixed += [("c", "o4", D(2024, 8, 1)), ("c", "o5", D(2024, 8, 1))]
    lines = [
        {"customer_id": c, "order_id": o, "at": d, "amount": 1.5, "cost": None, "status": None} for c, o, d in fixed
    ] + lines
    log = pl.DataFrame(lines, schema=_SCHEMA)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transactions, "_bucket", lambda ids: ids.is_not_null().cast(pl.UInt64))
        result = cr.customers_from_transactions(log, as_of=as_of)
    expected, _ = _plain(log, as_of)
    got = result.customers.select(expected.columns)
    assert got.equals(expected), (got.to_dicts(), expected.to_dicts())


# ties between channels are rare in the lines above: here few amounts, few
# customers and few channels make them common
_TIED_LINE = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["a", "b"]),
        "order_id": st.sampled_from(["o1", "o2", "o3"]),
        "at": st.dates(min_value=D(2025, 9, 1), max_value=D(2026, 11, 22)),
        "amount": st.sampled_from([0.0, 1.0, 2.0]),
        "cost": st.none(),
        "status": st.one_of(st.none(), st.sampled_from(["returned", "cancelled"])),
        "channel": st.one_of(st.none(), st.sampled_from(["web", "store", "app", " "])),
    }
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_TIED_LINE, max_size=12))
def test_channel_ties_and_blanks_match_the_plain_computation(lines: list[dict[str, object]]) -> None:
    log = pl.DataFrame(lines, schema=_SCHEMA)
    result = cr.customers_from_transactions(log, as_of=AS_OF)
    expected, _ = _plain(log, AS_OF)
    got = result.customers.select(expected.columns)
    assert got.equals(expected), (got.to_dicts(), expected.to_dicts())


# order logs as shops write them: an order's lines in a row, sharing its
# customer, date and often its status; but an order id may be reused by
# another customer or on another day, and a line may carry a day of its own
# (an order shipped or returned over several days)
_DAY = st.dates(min_value=D(2024, 6, 1), max_value=D(2026, 11, 22))
_ORDER = st.tuples(
    st.sampled_from(["o1", "o2", "o3"]),  # few ids: reuse across customers and days is common
    st.sampled_from(["a", "b", " a"]),
    _DAY,
    st.one_of(st.none(), st.sampled_from(["paid", "Returned", "cancelled ", " PAID"])),
    st.lists(
        st.tuples(
            st.one_of(st.none(), _DAY),  # a line's own day (else the order's)
            st.sampled_from([0.0, 1.0, 2.5]),
            st.one_of(st.none(), st.sampled_from(["returned", "cancelled"])),  # a line's own status
        ),
        min_size=1,
        max_size=4,
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=st.lists(_ORDER, max_size=10),
    shuffle=st.randoms(use_true_random=False) | st.none(),
    as_of=st.sampled_from([D(2026, 11, 22), D(2025, 3, 1)]),
)
def test_order_logs_with_reused_order_ids_are_a_plain_group_by(
    orders: list[tuple[str, str, dt.date, str | None, list[tuple[dt.date | None, float, str | None]]]],
    shuffle: object,
    as_of: dt.date,
) -> None:
    lines = [
        {
            "customer_id": customer,
            "order_id": order,
            "at": own_day or day,
            "amount": amount,
            "cost": None,
            "status": own_status or status,
        }
        for order, customer, day, status, items in orders
        for own_day, amount, own_status in items
    ]
    if shuffle is not None:
        shuffle.shuffle(lines)  # type: ignore[attr-defined]
    log = pl.DataFrame(lines, schema={c: t for c, t in _SCHEMA.items() if c != "channel"})
    result = cr.customers_from_transactions(log, as_of=as_of)
    # the plain computation lower-cases statuses but strips neither them nor ids
    expected, bad = _plain(log.with_columns(pl.col("customer_id", "status").str.strip_chars()), as_of)
    assert result.rows == log.height == result.used + result.rejected.height
    assert set(result.rejected["row"].to_list()) == bad
    got = result.customers.select(expected.columns)
    assert got.equals(expected), (got.to_dicts(), expected.to_dicts())


@settings(max_examples=200, deadline=None)
@given(
    statuses=st.lists(
        st.one_of(st.none(), st.sampled_from(["paid", "PAID", " paid", "cancelled", "Cancelled ", "returned", "x"])),
        max_size=30,
    )
)
def test_status_kinds_equal_a_line_by_line_lookup(statuses: list[str | None]) -> None:
    import customer_rules.io.transactions as transactions

    codes = {"cancelled": 0, "returned": -1}
    got = transactions._status_kinds(codes)(pl.Series(statuses, dtype=pl.String)).to_list()
    assert got == [1 if s is None else codes.get(s.strip().lower(), 1) for s in statuses]
