"""The contact agenda: due / overdue actions from class cadences and last contact."""

from __future__ import annotations

import datetime as dt

import pytest

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

AS_OF = dt.date(2026, 11, 22)

POLICY = """
id: visits
labels:
  - {id: key, zh: 重点, en: Key}
  - {id: regular, zh: 普通, en: Regular}
rules:
  - {id: big, when: "value.turnover >= 1000", then: key}
default: regular
"""


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    strategies = {
        "key": cr.Strategy(
            summary=cr.Text(en="Visit often", zh="常拜访"),
            cadence=cr.Cadence(min_days=3, max_days=5),
            escalation=1,
        ),
        "regular": cr.Strategy(
            summary=cr.Text(en="Visit monthly", zh="每月拜访"), cadence=cr.Cadence(min_days=30, max_days=30)
        ),
    }
    # only this scheme: built-in schemes would add their own cadences
    builtin_schemes = [p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.")]
    e = cr.Engine(load_entry_points=False, block=builtin_schemes)
    e.add_policy(cr.load_policy(POLICY, format="yaml"), strategies)
    return e


def shop(
    cid: str, turnover: float, last: str | None, owner: str = "王芳", birthday: str | None = None
) -> dict[str, object]:
    c: dict[str, object] = {"id": cid, "owner": owner, "value": {"turnover": turnover}}
    if last:
        c["interactions"] = [{"at": last, "kind": "visit"}]
    if birthday:
        c["birthday"] = birthday
    return c


def contacts(agenda: cr.Agenda) -> dict[str, tuple[str, int, dt.date]]:
    return {
        i.customer_id: (i.status, i.overdue_days, i.due)
        for i in agenda
        if i.action == "contact" and i.scheme == "visits"
    }


def test_due_overdue_upcoming(engine: cr.Engine) -> None:
    people = [
        shop("K-late", 5000, "2026-11-10"),  # key: due 11-13, late after 11-15 -> 7 days overdue
        shop("K-due", 5000, "2026-11-18"),  # key: due 11-21..11-23 -> due
        shop("K-soon", 5000, "2026-11-21"),  # key: due 11-24 -> upcoming
        shop("R-never", 10, None),  # never contacted -> due today
        shop("R-far", 10, "2026-11-20"),  # regular: due 12-20, beyond the 7-day horizon -> absent
    ]
    got = contacts(engine.agenda(people, as_of=AS_OF))
    assert got == {
        "K-late": ("overdue", 7, dt.date(2026, 11, 13)),
        "K-due": ("due", 0, dt.date(2026, 11, 21)),
        "K-soon": ("upcoming", 0, dt.date(2026, 11, 24)),
        "R-never": ("due", 0, AS_OF),
    }


def test_sorted_for_the_day(engine: cr.Engine) -> None:
    people = [
        shop("A", 5000, "2026-11-21"),
        shop("B", 5000, "2026-11-01"),
        shop("C", 5000, "2026-11-12"),
        shop("D", 10, None),
    ]
    agenda = engine.agenda(people, as_of=AS_OF)
    order = [i.customer_id for i in agenda if i.action == "contact" and i.scheme == "visits"]
    assert order == ["B", "C", "D", "A"]  # most overdue first, then due, then upcoming


def test_owner_filter_and_greetings(engine: cr.Engine) -> None:
    people = [
        shop("mine", 10, None, owner="王芳", birthday="1980-11-24"),
        shop("theirs", 10, None, owner="李强", birthday="1980-11-23"),
    ]
    agenda = engine.agenda(people, as_of=AS_OF, owner="王芳")
    assert {i.customer_id for i in agenda} == {"mine"}
    greetings = [i for i in agenda if i.action == "birthday_greeting"]
    assert [(g.due, g.status) for g in greetings] == [(dt.date(2026, 11, 24), "upcoming")]
    assert "生日" in greetings[0].reason("zh")


def test_holiday_greeting_within_window(engine: cr.Engine) -> None:
    agenda = engine.agenda([shop("A", 10, "2026-12-28")], as_of=dt.date(2026, 12, 30))
    assert [i.due for i in agenda if i.action == "holiday_greeting"] == [dt.date(2027, 1, 1)]


def test_render_and_html(engine: cr.Engine) -> None:
    agenda = engine.agenda([shop("K", 5000, "2026-11-10")], as_of=AS_OF)
    assert "overdue 7d" in agenda.render()
    assert "逾期 7天" in agenda.render("zh")
    assert "<table>" in agenda._repr_html_()


def test_one_contact_per_customer_serving_every_class(engine: cr.Engine) -> None:
    second = cr.load_policy(POLICY.replace("id: visits", "id: calls"), format="yaml")
    strategies = {
        label: cr.Strategy(
            summary=cr.Text(en="Call", zh="电话"), cadence=cr.Cadence(min_days=10, max_days=20)
        )
        for label in ("key", "regular")
    }
    e = cr.Engine([], load_entry_points=False, block=[p for p in DEFAULT_PLUGINS if ".schemes." in p])
    e.add_policy(cr.load_policy(POLICY, format="yaml"), engine.schemes["visits"].strategies)
    e.add_policy(second, strategies)
    items = list(e.agenda([shop("K", 5000, "2026-11-10")], as_of=AS_OF))
    contact = [i for i in items if i.action == "contact"]
    assert len(contact) == 1
    # the visits cadence (3-5 days) is the most demanding: it sets the dates
    assert (contact[0].status, contact[0].overdue_days, contact[0].schemes) == (
        "overdue",
        7,
        ("visits", "calls"),
    )
    assert "calls key" in contact[0].reason_en
