"""The contact agenda: which customers are due or overdue for which action.

Each decision whose strategy has a contact cadence (every ``min_days`` to
``max_days`` days) asks for a contact: not due before ``last contact +
min_days``, due from then on, overdue after ``last contact + max_days``.
One visit serves all of a customer's classes, so a customer gets one
contact item: due at the earliest ``min_days`` of their cadences, overdue
after the earliest ``max_days``, listing every class it serves, the most
demanding cadence first (it names the item's scheme and label). A customer
never contacted is due at once. Birthdays and the holidays of a calendar
(China's by default, lunar festivals included) add greetings.

Order (a sales rep's day): overdue first, then due, then upcoming. Within
overdue and due items the most *urgent* come first, where

    urgency = days overdue + priority_weight × class priority

and the class priority is how many contacts the class's cadence asks for
in 30 days (``30 / max_days``: a key terminal seen every 3–5 days has 6, a
regular one seen every 30 days has 1). With the default ``priority_weight``
of 2 a key terminal 2 days late (2 + 2 × 6 = 14) comes before a regular one
10 days late (10 + 2 × 1 = 12), as the seed's "spend the time on the key
customers" asks; ``priority_weight=0`` orders by lateness alone. Upcoming
items run by date. Ties: higher escalation, then customer id.

The work is column-wise (polars): a table of customers is classified by
the frame backend (the record backend when plugins override decisions),
and contacts and greetings are computed over whole columns, so 100k
customers take about as long as classifying them. Records (or dicts) are
classified one by one through :meth:`Engine.classify` (every hook applies)
and then take the same column-wise path.
"""

from __future__ import annotations

import datetime as dt
import html
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from customer_rules.engine.engine import Engine

#: Fixed-date public holidays (month, day) -> (en, zh): the form a firm can
#: pass as ``holidays=`` instead of a country's calendar.
DEFAULT_HOLIDAYS: dict[tuple[int, int], tuple[str, str]] = {
    (1, 1): ("New Year's Day", "元旦"),
    (5, 1): ("Labour Day", "劳动节"),
    (10, 1): ("National Day", "国庆节"),
}

#: The calendar greeted when none is given: China's, from the ``holidays``
#: library, which computes the lunar festivals (春节, 端午, 中秋).
DEFAULT_CALENDAR = "CN"

#: Holidays of a country's calendar that get no greeting: a day of
#: remembrance, and the eve of a festival greeted the day after.
NO_GREETING = frozenset({"Tomb-Sweeping Day", "Chinese New Year's Eve"})

#: Festivals that are no day off, so the ``holidays`` library does not list
#: them, derived from one it does: (en, zh, the holiday's English name, days
#: after its first day). The Lantern Festival is the 15th day of the first
#: lunar month: 14 days after the Spring Festival (a lunar month has at
#: least 29 days).
DERIVED_FESTIVALS: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    "CN": (("Lantern Festival", "元宵节", "Chinese New Year (Spring Festival)", 14),),
}

#: Days of lateness one unit of class priority is worth (see the module docstring).
DEFAULT_PRIORITY_WEIGHT = 2.0

_STATUS_ORDER = {"overdue": 0, "due": 1, "upcoming": 2}


@dataclass(frozen=True)
class AgendaItem:
    """One action for one customer."""

    customer_id: str
    name: str | None
    owner: str | None
    action: str  # "contact", "birthday_greeting", "holiday_greeting"
    scheme: str | None
    label: str | None
    due: dt.date
    status: str  # "overdue", "due" or "upcoming"
    overdue_days: int
    last_contact: dt.date | None
    escalation: int
    reason_en: str
    reason_zh: str
    schemes: tuple[str, ...] = ()  # every scheme whose cadence the action serves, most demanding first
    priority: float = 0.0  # class priority: contacts per 30 days the most demanding cadence asks for

    def reason(self, lang: str = "en") -> str:
        return self.reason_zh if lang == "zh" else self.reason_en


_FIELDS = tuple(f.name for f in fields(AgendaItem))


class Agenda(Iterable[AgendaItem]):
    """The sorted agenda; iterate it, filter it by owner, render it, or take it as a table.

    ``items`` is a list of :class:`AgendaItem` or the agenda's polars table
    (one column per item field, as :meth:`to_frame` returns it); items are
    made from the table when first asked for.
    """

    def __init__(self, items: list[AgendaItem] | pl.DataFrame, as_of: dt.date) -> None:
        self._items: list[AgendaItem] | None = items if isinstance(items, list) else None
        self._frame: pl.DataFrame | None = None if isinstance(items, list) else items
        self.as_of = as_of

    @property
    def items(self) -> list[AgendaItem]:
        """The items, in agenda order."""
        if self._items is None:
            assert self._frame is not None
            self._items = _items_of(self._frame)
        return self._items

    def to_frame(self) -> pl.DataFrame:
        """The agenda as a polars table: one row per item, one column per :class:`AgendaItem` field."""
        if self._frame is None:
            self._frame = _frame_of(self.items)
        return self._frame

    def __iter__(self) -> Iterator[AgendaItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else self.to_frame().height

    def for_owner(self, owner: str) -> Agenda:
        import polars as pl

        if self._items is not None:
            return Agenda([i for i in self._items if i.owner == owner], self.as_of)
        return Agenda(self.to_frame().filter(pl.col("owner") == owner), self.as_of)

    def render(self, lang: str = "en", limit: int | None = None) -> str:
        zh = lang == "zh"
        status_zh = {"overdue": "逾期", "due": "到期", "upcoming": "即将"}
        # the fields a line shows, item by item: from the items when made, else
        # column by column from the table (no AgendaItem per row: a million
        # live objects make the collector's full passes dear)
        reason = "reason_zh" if zh else "reason_en"  # as AgendaItem.reason reads them
        shown = ("due", "status", "overdue_days", "customer_id", "name", reason)
        rows: Iterable[tuple[Any, ...]]
        if self._items is not None:
            rows = map(operator.attrgetter(*shown), self._items[:limit])
        else:
            frame = self.to_frame() if limit is None else self.to_frame().head(limit)
            rows = zip(*frame.select(shown).to_dict(as_series=False).values(), strict=True)
        lines = [f"{'日程' if zh else 'Agenda'} {self.as_of}"]
        for due, state, overdue_days, customer_id, name, text in rows:
            status = status_zh[state] if zh else state
            if state == "overdue":
                status += f" {overdue_days}{'天' if zh else 'd'}"
            who = f"{customer_id} {name or ''}".strip()
            lines.append(f"  {due}  {status:<12} {who:<24} {text}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{i.due}</td><td>{e(i.status)}</td><td>{i.overdue_days or ''}</td>"
            f"<td>{e(i.customer_id)}</td><td>{e(i.name or '')}</td><td>{e(i.owner or '')}</td>"
            f"<td>{e(i.reason_en)}</td></tr>"
            for i in self.items
        )
        return (
            f"<div class='cr-agenda'><b>Agenda {self.as_of}</b><table><tr><th>due</th><th>status</th>"
            f"<th>overdue days</th><th>customer</th><th>name</th><th>owner</th><th>action</th></tr>{rows}</table></div>"
        )


def _item_schema() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "customer_id": pl.String(),
        "name": pl.String(),
        "owner": pl.String(),
        "action": pl.String(),
        "scheme": pl.String(),
        "label": pl.String(),
        "due": pl.Date(),
        "status": pl.String(),
        "overdue_days": pl.Int64(),
        "last_contact": pl.Date(),
        "escalation": pl.Int64(),
        "reason_en": pl.String(),
        "reason_zh": pl.String(),
        "schemes": pl.List(pl.String()),
        "priority": pl.Float64(),
    }


def _items_of(frame: pl.DataFrame) -> list[AgendaItem]:
    # the table's columns are typed as the fields: convert column by column and
    # fill each item's fields directly (a frozen dataclass's __init__ sets them
    # one at a time, which dominates for 100k items)
    columns = frame.select(_FIELDS).to_dict(as_series=False)
    columns["schemes"] = [tuple(s) if s else () for s in columns["schemes"]]
    make = object.__new__
    setattr_ = object.__setattr__
    out = []
    for values in zip(*columns.values(), strict=True):
        item = make(AgendaItem)
        setattr_(item, "__dict__", dict(zip(_FIELDS, values, strict=True)))
        out.append(item)
    return out


def _frame_of(items: list[AgendaItem]) -> pl.DataFrame:
    import polars as pl

    columns: dict[str, list[Any]] = {name: [getattr(i, name) for i in items] for name in _FIELDS}
    columns["schemes"] = [list(s) for s in columns["schemes"]]
    return pl.DataFrame(columns, schema=_item_schema())


# ---------------------------------------------------------------------------
# holidays


def holiday_greetings(start: dt.date, end: dt.date, holidays: Any = None) -> list[tuple[dt.date, str, str]]:
    """The holidays to greet from ``start`` to ``end`` (both included): (date, en, zh).

    ``holidays`` is a country code of the ``holidays`` library (default
    ``"CN"``: its lunar festivals included, plus the derived ones of
    :data:`DERIVED_FESTIVALS`), a ``holidays`` calendar object (any country,
    subdivision or financial calendar; its names serve both languages), a
    mapping ``(month, day) -> (en, zh)`` of fixed dates, or an empty mapping
    for none. A holiday spanning several days is greeted on its first;
    :data:`NO_GREETING` days are skipped.
    """
    from customer_rules.model.timeline import next_anniversary

    if holidays is None:
        holidays = DEFAULT_CALENDAR
    years = list(range(start.year - 1, end.year + 1))
    if hasattr(holidays, "get_list") and hasattr(holidays, "years"):
        for y in years:
            _ = dt.date(y, 1, 1) in holidays  # a holidays calendar fills a year when asked about it
        named = {d: [(n, n) for n in holidays.get_list(d)] for d in sorted(holidays) if d.year in years}
        return _first_days(named, start, end, ())
    if isinstance(holidays, Mapping):
        out = []
        for (month, day), (en, zh) in holidays.items():
            when = next_anniversary(month, day, start)
            if when <= end:
                out.append((when, en, zh))
        return sorted(out)
    if not isinstance(holidays, str):
        raise TypeError(
            "holidays must be a country code (e.g. 'CN'), a holidays calendar object or a mapping "
            f"(month, day) -> (en, zh), got {type(holidays).__name__}"
        )
    en_days, zh_days, derived = _country(holidays, years)
    named = {}
    for d in sorted(en_days):
        en_names = en_days.get_list(d)
        zh_names = zh_days.get_list(d) if zh_days is not None else []
        if len(zh_names) != len(en_names):
            zh_names = en_names
        named[d] = list(zip(en_names, zh_names, strict=True))
    return _first_days(named, start, end, derived)


def _country(code: str, years: list[int]) -> tuple[Any, Any, tuple[tuple[str, str, str, int], ...]]:
    try:
        import holidays as hol
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("holiday greetings need the holidays library: pip install holidays") from exc
    try:
        cls = hol.country_holidays(code, years=years[0])
    except NotImplementedError as exc:
        raise ValueError(f"the holidays library has no calendar for country {code!r}") from exc
    languages = getattr(cls, "supported_languages", ())

    def build(lang: str | None) -> Any:
        return hol.country_holidays(code, years=years, language=lang, observed=False)

    en = build("en_US" if "en_US" in languages else None)
    zh_lang = next((lang for lang in ("zh_CN", "zh_TW") if lang in languages), None)
    zh = build(zh_lang) if zh_lang else None
    return en, zh, DERIVED_FESTIVALS.get(code.upper(), ())


def _first_days(
    named: Mapping[dt.date, list[tuple[str, str]]],
    start: dt.date,
    end: dt.date,
    derived: tuple[tuple[str, str, str, int], ...],
) -> list[tuple[dt.date, str, str]]:
    """First day of every run of days carrying a holiday's name, plus derived festivals."""
    out: list[tuple[dt.date, str, str]] = []
    seen_on: dict[str, dt.date] = {}  # name -> the last day it was seen
    for d in sorted(named):
        for en, zh in named[d]:
            previous = seen_on.get(en)
            seen_on[en] = d
            if previous is not None and (d - previous).days <= 1:
                continue  # the same holiday, a later day
            for name_en, name_zh, of, after in derived:
                if of == en:
                    out.append((d + dt.timedelta(days=after), name_en, name_zh))
            if en not in NO_GREETING:
                out.append((d, en, zh))
    return sorted(x for x in out if start <= x[0] <= end)


# ---------------------------------------------------------------------------
# building the agenda


def build_agenda(
    engine: Engine,
    customers: Any,
    as_of: dt.date,
    *,
    owner: str | None = None,
    horizon_days: int = 7,
    greeting_days: int = 3,
    holidays: Any = None,
    priority_weight: float = DEFAULT_PRIORITY_WEIGHT,
    tables: Mapping[str, Any] | None = None,
) -> Agenda:
    """The agenda of ``customers`` (records, dicts, or a polars/pandas table) at ``as_of``.

    See :meth:`Engine.agenda <customer_rules.Engine.agenda>` and the module docstring.
    """
    import polars as pl

    if priority_weight < 0:
        raise ValueError(f"priority_weight must be 0 or more, got {priority_weight}")
    if _is_table(customers):
        people, reasons = _classified_table(engine, customers, as_of, owner, tables)
    else:
        people, reasons = _classified_records(engine, customers, as_of, owner)
    contacts = _contacts(people, reasons, as_of, horizon_days, priority_weight)
    greetings = _greetings(people, as_of, greeting_days, holidays)
    items = pl.concat([contacts, *greetings], how="vertical")
    upcoming = pl.col("status") == "upcoming"
    items = items.sort(
        pl.col("status").replace_strict(_STATUS_ORDER, return_dtype=pl.Int8()),
        pl.when(upcoming).then(0.0).otherwise(-pl.col("__urgency")),
        "due",
        -pl.col("escalation"),
        "customer_id",
        "action",
    ).drop("__urgency")
    return Agenda(items, as_of)


def _is_table(data: Any) -> bool:
    module = type(data).__module__.split(".")[0]
    return module in ("polars", "pandas") and hasattr(data, "columns")


# A customer's classes with a cadence are reason ids, one column per
# scheme (``__reason0``, ``__reason1``, ...; -1 = none), into a list of
# reasons: one per distinct (scheme, label, cadence, escalation), numbered
# in the order "most demanding cadence first" (shortest max_days, then
# min_days, higher escalation, scheme order), so sorting a customer's ids
# sorts their classes.
_REASON = "__reason"


@dataclass(frozen=True)
class _Reason:
    scheme: str
    label: str
    order: int
    min_days: float
    max_days: float
    escalation: int
    text_en: str
    text_zh: str

    def key(self) -> tuple[float, float, int, int, str]:
        return (self.max_days, self.min_days, -self.escalation, self.order, self.label)


def _reason(engine: Engine, sid: str, label: str, order: int, strategy: Any) -> _Reason:
    cad = strategy.cadence
    label_def = engine.schemes[sid].policy.label(label)
    return _Reason(
        sid,
        label,
        order,
        float(cad.min_days),
        float(cad.max_days),
        int(strategy.escalation),
        f"{sid} {label} ({label_def.name('en')}) {cad.describe('en')}",
        f"{label_def.name('zh')}{cad.describe('zh')}一次",
    )


def _reason_table(reasons: Iterable[_Reason]) -> tuple[list[_Reason], dict[_Reason, int]]:
    """The distinct reasons in order of demand (a reason's id is its index) and each one's id."""
    ordered = sorted(set(reasons), key=_Reason.key)
    return ordered, {r: i for i, r in enumerate(ordered)}


def _classified_table(
    engine: Engine, data: Any, as_of: dt.date, owner: str | None, tables: Mapping[str, Any] | None
) -> tuple[pl.DataFrame, list[_Reason]]:
    """People (one row each, with their reason ids) and the reasons they refer to, from a table."""
    import polars as pl

    from customer_rules.model.frames import to_polars
    from customer_rules.model.tables import canonical_name

    _, frame = to_polars(data, "customers")
    frame = frame.rename({c: canonical_name(c) for c in frame.columns if canonical_name(c) != c})
    if owner is not None:
        frame = frame.filter(pl.col("owner") == owner) if "owner" in frame.columns else frame.clear()
    # the frame backend decides like the record backend; manual overrides need the latter
    if engine.has_overrides:
        out = engine.classify_frame(frame, as_of=as_of, tables=tables, backend="python")
    else:
        out = engine.classify_frame(frame, as_of=as_of, tables=tables)
    wanted = ["id", "name", "owner", "birthday", "deal.last_contact_at", "interactions", *engine.schemes]
    out = out.select([c for c in wanted if c in out.columns]).rechunk()  # one chunk: whole-column work
    cols = set(out.columns)

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in cols else pl.lit(None, dtype=dtype)

    deal = col("deal.last_contact_at", pl.Date())
    last: pl.Expr = pl.when(deal <= as_of).then(deal)
    if "interactions" in cols:
        at = pl.element().struct.field("at")
        last = pl.max_horizontal(
            last, pl.col("interactions").list.eval(at.filter(at <= as_of).max()).list.first()
        )

    schemes = [sid for sid in engine.schemes if sid in cols]
    found = [
        _reason(engine, sid, label, order, strategy)
        for order, sid in enumerate(schemes)
        for label, strategy in engine.schemes[sid].strategies.items()
        if strategy.cadence is not None
    ]
    ordered, ids = _reason_table(found)
    by_scheme: dict[str, dict[str, int]] = {}
    for r, i in ids.items():
        by_scheme.setdefault(r.scheme, {})[r.label] = i
    coded = [
        pl.col(sid)
        .cast(pl.String())
        .replace_strict(by_scheme[sid], default=-1, return_dtype=pl.Int32())
        .alias(f"{_REASON}{i}")
        for i, sid in enumerate(s for s in schemes if s in by_scheme)
    ]
    people = out.select(
        pl.col("id").cast(pl.String()).alias("customer_id"),
        col("name", pl.String()),
        col("owner", pl.String()),
        col("birthday", pl.Date()),
        last.alias("last_contact"),
        *coded,
    )
    interactions = (tables or {}).get("interactions")
    if interactions is not None:  # a separate interactions table keyed by customer
        _, log = to_polars(interactions, "interactions")
        key = "customer_id" if "customer_id" in log.columns else "id"
        seen = (
            log.filter(pl.col("at").cast(pl.Date()) <= as_of)
            .group_by(pl.col(key).cast(pl.String()).alias("customer_id"))
            .agg(pl.col("at").cast(pl.Date()).max().alias("__seen"))
        )
        people = (
            people.join(seen, on="customer_id", how="left", maintain_order="left")
            .with_columns(pl.max_horizontal("last_contact", "__seen").alias("last_contact"))
            .drop("__seen")
        )
    return people, ordered


def _classified_records(
    engine: Engine, customers: Iterable[Any], as_of: dt.date, owner: str | None
) -> tuple[pl.DataFrame, list[_Reason]]:
    """People and the reasons they refer to, classifying records one by one (every hook applies:
    a strategy a plugin chooses for one customer sets that customer's cadence)."""
    import polars as pl

    from customer_rules.engine.engine import to_record
    from customer_rules.model.timeline import last_contact_date

    people: list[tuple[Any, ...]] = []
    found: list[list[_Reason]] = []
    order = {sid: i for i, sid in enumerate(engine.schemes)}
    for c in customers:
        record = to_record(c, model=engine.record_model)
        if owner is not None and record.owner != owner:
            continue
        profile = engine.classify(record, as_of=as_of)
        people.append(
            (record.id, record.name, record.owner, record.birthday, last_contact_date(record, as_of))
        )
        found.append(
            [
                _reason(engine, sid, d.label, order.get(sid, len(order)), d.strategy)
                for sid, d in profile.decisions.items()
                if d.label is not None and d.strategy is not None and d.strategy.cadence is not None
            ]
        )
    ordered, ids = _reason_table(r for rs in found for r in rs)
    frame = pl.DataFrame(
        people,
        schema={
            "customer_id": pl.String(),
            "name": pl.String(),
            "owner": pl.String(),
            "birthday": pl.Date(),
            "last_contact": pl.Date(),
        },
        orient="row",
    )
    width = max((len(rs) for rs in found), default=0)
    codes = [[ids[r] for r in rs] + [-1] * (width - len(rs)) for rs in found]
    return frame.with_columns(
        pl.Series(f"{_REASON}{i}", [c[i] for c in codes], dtype=pl.Int32()) for i in range(width)
    ), ordered


def _contacts(
    people: pl.DataFrame, reasons: list[_Reason], as_of: dt.date, horizon_days: int, priority_weight: float
) -> pl.DataFrame:
    """One contact item per customer with a cadence, due within the horizon."""
    import polars as pl

    # Customers share their combination of classes: merge each distinct
    # combination once (the most demanding cadence first: it names the item
    # and sets the overdue date), then join it back.
    keys = [c for c in people.columns if c.startswith(_REASON)]
    merged = []
    for combo in people.select(keys).unique().iter_rows():
        ids = sorted(i for i in combo if i >= 0)
        if not ids:
            continue
        rs = [reasons[i] for i in ids]
        merged.append(
            (
                *combo,
                rs[0].scheme,
                rs[0].label,
                min(r.min_days for r in rs),
                rs[0].max_days,
                max(r.escalation for r in rs),
                "; ".join(r.text_en for r in rs),
                "；".join(r.text_zh for r in rs),
                [r.scheme for r in rs],
            )
        )
    if not merged:
        return pl.DataFrame(schema={**_item_schema(), "__urgency": pl.Float64()})
    classes = pl.DataFrame(
        merged,
        schema={
            **dict.fromkeys(keys, pl.Int32()),
            "scheme": pl.String(),
            "label": pl.String(),
            "min_days": pl.Float64(),
            "max_days": pl.Float64(),
            "escalation": pl.Int64(),
            "__text_en": pl.String(),
            "__text_zh": pl.String(),
            "schemes": pl.List(pl.String()),
        },
        orient="row",
    )
    day = pl.duration(days=1)
    last = pl.col("last_contact")
    never = last.is_null()
    due = pl.when(never).then(pl.lit(as_of)).otherwise(last + pl.col("min_days").cast(pl.Int64()) * day)
    late = pl.when(never).then(pl.lit(as_of)).otherwise(last + pl.col("max_days").cast(pl.Int64()) * day)
    limit = as_of + dt.timedelta(days=horizon_days)
    frame = (
        people.join(classes, on=keys, how="inner", maintain_order="left")
        .with_columns(due.alias("due"), late.alias("__late"))
        .filter(pl.col("due") <= limit)
    )
    is_late = pl.col("__late") < as_of
    status = pl.when(is_late).then(pl.lit("overdue")).when(pl.col("due") <= as_of).then(pl.lit("due"))
    overdue = pl.when(is_late).then((pl.lit(as_of) - pl.col("__late")).dt.total_days()).otherwise(0)
    seen = last.cast(pl.String())
    frame = frame.with_columns(
        status.otherwise(pl.lit("upcoming")).alias("status"),
        overdue.cast(pl.Int64()).alias("overdue_days"),
        (30.0 / pl.col("max_days")).alias("priority"),
    )
    return frame.select(
        "customer_id",
        "name",
        "owner",
        pl.lit("contact").alias("action"),
        "scheme",
        "label",
        "due",
        "status",
        "overdue_days",
        "last_contact",
        "escalation",
        pl.concat_str(
            pl.lit("contact ("),
            pl.when(never).then(pl.lit("never contacted")).otherwise(pl.lit("last contact ") + seen),
            pl.lit("): "),
            "__text_en",
        ).alias("reason_en"),
        pl.concat_str(
            pl.lit("联系（"),
            pl.when(never).then(pl.lit("从未联系")).otherwise(pl.lit("上次联系 ") + seen),
            pl.lit("）："),
            "__text_zh",
        ).alias("reason_zh"),
        "schemes",
        "priority",
        (pl.col("overdue_days") + priority_weight * pl.col("priority")).alias("__urgency"),
    )


def _greetings(people: pl.DataFrame, as_of: dt.date, greeting_days: int, holidays: Any) -> list[pl.DataFrame]:
    """Birthday and holiday greetings within ``greeting_days`` of ``as_of``."""
    import polars as pl

    end = as_of + dt.timedelta(days=greeting_days)
    born = pl.col("birthday")
    month, mday = born.dt.month(), born.dt.day()

    def on(year: pl.Expr) -> pl.Expr:
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        day = pl.when((month == 2) & (mday == 29) & ~leap).then(28).otherwise(mday)  # 29 Feb -> 28 Feb
        return pl.date(year, month, day)

    this_year = on(pl.lit(as_of.year))
    bday = pl.when(this_year >= as_of).then(this_year).otherwise(on(pl.lit(as_of.year + 1)))
    common = [pl.lit(None, pl.String()).alias("scheme"), pl.lit(None, pl.String()).alias("label")]
    birthdays = (
        people.filter(born.is_not_null())
        .with_columns(bday.alias("due"))
        .filter(pl.col("due") <= end)
        .select(
            "customer_id",
            "name",
            "owner",
            pl.lit("birthday_greeting").alias("action"),
            *common,
            "due",
            pl.when(pl.col("due") == as_of).then(pl.lit("due")).otherwise(pl.lit("upcoming")).alias("status"),
            pl.lit(0, pl.Int64()).alias("overdue_days"),
            "last_contact",
            pl.lit(0, pl.Int64()).alias("escalation"),
            pl.concat_str(pl.lit("birthday greeting on "), pl.col("due").cast(pl.String())).alias(
                "reason_en"
            ),
            pl.concat_str(pl.col("due").cast(pl.String()), pl.lit(" 生日问候")).alias("reason_zh"),
            pl.lit([], pl.List(pl.String())).alias("schemes"),
            pl.lit(0.0).alias("priority"),
            pl.lit(0.0).alias("__urgency"),
        )
    )
    out = [birthdays]
    for when, en, zh in holiday_greetings(as_of, end, holidays):
        out.append(
            people.select(
                "customer_id",
                "name",
                "owner",
                pl.lit("holiday_greeting").alias("action"),
                *common,
                pl.lit(when).alias("due"),
                pl.lit("due" if when == as_of else "upcoming").alias("status"),
                pl.lit(0, pl.Int64()).alias("overdue_days"),
                "last_contact",
                pl.lit(0, pl.Int64()).alias("escalation"),
                pl.lit(f"{en} greeting on {when}").alias("reason_en"),
                pl.lit(f"{when} {zh}问候").alias("reason_zh"),
                pl.lit([], pl.List(pl.String())).alias("schemes"),
                pl.lit(0.0).alias("priority"),
                pl.lit(0.0).alias("__urgency"),
            )
        )
    return out
