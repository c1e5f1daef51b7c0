"""The contact agenda: which customers are due or overdue for which action.

Each decision whose strategy has a contact cadence (every ``min_days`` to
``max_days`` days) asks for a contact: not due before ``last contact +
min_days``, due from then on, overdue after ``last contact + max_days``.
One visit serves all of a customer's classes, so a customer gets one
contact item: due at the earliest ``min_days`` of their cadences, overdue
after the earliest ``max_days``, listing every class it serves. A customer
never contacted is due at once. Birthdays and fixed-date holidays
add greetings. Items are sorted for a sales rep's day: overdue first (most
overdue first), then due, then upcoming by date; ties by escalation level
(highest first), then customer id.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

#: Fixed-date public holidays greeted by default (month, day) -> (en, zh).
DEFAULT_HOLIDAYS: dict[tuple[int, int], tuple[str, str]] = {
    (1, 1): ("New Year's Day", "元旦"),
    (5, 1): ("Labour Day", "劳动节"),
    (10, 1): ("National Day", "国庆节"),
}


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
    schemes: tuple[str, ...] = ()  # every scheme whose cadence the action serves, most urgent first

    def reason(self, lang: str = "en") -> str:
        return self.reason_zh if lang == "zh" else self.reason_en


class Agenda(Iterable[AgendaItem]):
    """The sorted agenda; iterate it, filter it by owner, or render it."""

    def __init__(self, items: list[AgendaItem], as_of: dt.date) -> None:
        self.items = items
        self.as_of = as_of

    def __iter__(self) -> Iterator[AgendaItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def for_owner(self, owner: str) -> Agenda:
        return Agenda([i for i in self.items if i.owner == owner], self.as_of)

    def render(self, lang: str = "en", limit: int | None = None) -> str:
        zh = lang == "zh"
        status_zh = {"overdue": "逾期", "due": "到期", "upcoming": "即将"}
        lines = [f"{'日程' if zh else 'Agenda'} {self.as_of}"]
        for item in self.items[:limit]:
            status = status_zh[item.status] if zh else item.status
            if item.status == "overdue":
                status += f" {item.overdue_days}{'天' if zh else 'd'}"
            who = f"{item.customer_id} {item.name or ''}".strip()
            lines.append(f"  {item.due}  {status:<12} {who:<24} {item.reason(lang)}")
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


def _status(due: dt.date, late: dt.date, as_of: dt.date) -> tuple[str, int]:
    if as_of > late:
        return "overdue", (as_of - late).days
    if as_of >= due:
        return "due", 0
    return "upcoming", 0


def build_agenda(
    engine: Engine,
    customers: Iterable[Any],
    as_of: dt.date,
    *,
    owner: str | None = None,
    horizon_days: int = 7,
    greeting_days: int = 3,
    holidays: Mapping[tuple[int, int], tuple[str, str]] | None = None,
) -> Agenda:
    from customer_rules.engine.engine import to_record
    from customer_rules.model.timeline import last_contact_date, next_anniversary

    holidays = DEFAULT_HOLIDAYS if holidays is None else holidays
    limit = as_of + dt.timedelta(days=horizon_days)
    items: list[AgendaItem] = []
    for c in customers:
        record = to_record(c, model=engine.record_model)
        if owner is not None and record.owner != owner:
            continue
        profile = engine.classify(record, as_of=as_of)
        last = last_contact_date(record, as_of)
        # one visit serves every class of the customer: merge their cadences,
        # the most demanding one setting the dates
        reasons: list[tuple[dt.date, dt.date, int, str, str, str, str]] = []
        for scheme, d in profile.decisions.items():
            s = d.strategy
            if s is None or s.cadence is None or d.label is None:
                continue
            cad = s.cadence
            if last is None:
                due = late = as_of
            else:
                due = last + dt.timedelta(days=int(cad.min_days))
                late = last + dt.timedelta(days=int(cad.max_days))
            reasons.append(
                (
                    late,
                    due,
                    s.escalation,
                    scheme,
                    d.label,
                    f"{scheme} {d.label} ({d.label_name('en')}) {cad.describe('en')}",
                    f"{d.scheme_name('zh')}：{d.label_name('zh')}，{cad.describe('zh')}",
                )
            )
        if reasons:
            reasons.sort(key=lambda r: (r[0], r[1], -r[2], r[3]))
            late, due = reasons[0][0], min(r[1] for r in reasons)
            if due <= limit:
                status, overdue = _status(due, late, as_of)
                seen_en = "never contacted" if last is None else f"last contact {last}"
                seen_zh = "从未联系" if last is None else f"上次联系 {last}"
                items.append(
                    AgendaItem(
                        record.id,
                        record.name,
                        record.owner,
                        "contact",
                        reasons[0][3],
                        reasons[0][4],
                        due,
                        status,
                        overdue,
                        last,
                        max(r[2] for r in reasons),
                        f"contact ({seen_en}): " + "; ".join(r[5] for r in reasons),
                        f"联系（{seen_zh}）：" + "；".join(r[6] for r in reasons),
                        tuple(r[3] for r in reasons),
                    )
                )
        if record.birthday is not None:
            bday = next_anniversary(record.birthday.month, record.birthday.day, as_of)
            if (bday - as_of).days <= greeting_days:
                items.append(
                    AgendaItem(
                        record.id,
                        record.name,
                        record.owner,
                        "birthday_greeting",
                        None,
                        None,
                        bday,
                        "due" if bday == as_of else "upcoming",
                        0,
                        last,
                        0,
                        f"birthday greeting on {bday}",
                        f"{bday} 生日问候",
                    )
                )
        for (month, day), (en, zh) in holidays.items():
            hday = next_anniversary(month, day, as_of)
            if (hday - as_of).days <= greeting_days:
                items.append(
                    AgendaItem(
                        record.id,
                        record.name,
                        record.owner,
                        "holiday_greeting",
                        None,
                        None,
                        hday,
                        "due" if hday == as_of else "upcoming",
                        0,
                        last,
                        0,
                        f"{en} greeting on {hday}",
                        f"{hday} {zh}问候",
                    )
                )
    order = {"overdue": 0, "due": 1, "upcoming": 2}
    items.sort(
        key=lambda i: (order[i.status], -i.overdue_days, i.due, -i.escalation, i.customer_id, i.action)
    )
    return Agenda(items, as_of)
