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


# -- lunar festivals and the firm's calendar -------------------------------------------------


def test_lunar_festivals_from_the_holidays_library() -> None:
    from customer_rules.apps.agenda import holiday_greetings

    year = holiday_greetings(dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    by_zh = {zh: day for day, _, zh in year}
    assert by_zh["春节"] == dt.date(2027, 2, 6)
    assert by_zh["元宵节"] == dt.date(2027, 2, 20)  # 15th day of the first lunar month
    assert by_zh["端午节"] == dt.date(2027, 6, 9)
    assert by_zh["中秋节"] == dt.date(2027, 9, 15)
    assert by_zh["国庆节"] == dt.date(2027, 10, 1)  # a week off, greeted once, on its first day
    assert len([d for d, _, zh in year if zh == "国庆节"]) == 1
    assert "清明节" not in by_zh and "农历除夕" not in by_zh  # no greetings on those
    english = {en for _, en, _ in year}
    assert {"Dragon Boat Festival", "Mid-Autumn Festival", "Lantern Festival"} <= english


def test_spring_festival_greeting_on_the_agenda(engine: cr.Engine) -> None:
    agenda = engine.agenda([shop("A", 10, "2027-02-01")], as_of=dt.date(2027, 2, 4))
    greetings = [i for i in agenda if i.action == "holiday_greeting"]
    assert [(g.due, g.reason("zh")) for g in greetings] == [(dt.date(2027, 2, 6), "2027-02-06 春节问候")]


def test_a_firm_chooses_its_calendar(engine: cr.Engine) -> None:
    import holidays

    def greeted(cal: object, as_of: dt.date) -> list[dt.date]:
        agenda = engine.agenda([shop("A", 10, None)], as_of=as_of, holidays=cal, greeting_days=3)
        return [i.due for i in agenda if i.action == "holiday_greeting"]

    thanksgiving = dt.date(2026, 11, 26)
    assert greeted("US", dt.date(2026, 11, 24)) == [thanksgiving]
    assert greeted("CN", dt.date(2026, 11, 24)) == []
    assert greeted(holidays.country_holidays("US"), dt.date(2026, 11, 24)) == [thanksgiving]
    assert greeted({(11, 25): ("Founders' Day", "司庆日")}, dt.date(2026, 11, 24)) == [dt.date(2026, 11, 25)]
    assert greeted({}, dt.date(2026, 12, 30)) == []
    with pytest.raises(ValueError, match="no calendar"):
        greeted("XX", AS_OF)


# -- class cadence and class priority ----------------------------------------------------------


def two_scheme_engine(engine: cr.Engine) -> cr.Engine:
    """visits (key every 3-5 days) plus a slow scheme whose id sorts first."""
    slow = cr.load_policy(POLICY.replace("id: visits", "id: awareness"), format="yaml")
    slow_strategies = {
        label: cr.Strategy(
            summary=cr.Text(en="Keep warm", zh="保持联系"), cadence=cr.Cadence(min_days=30, max_days=60)
        )
        for label in ("key", "regular")
    }
    e = cr.Engine([], load_entry_points=False, block=[p for p in DEFAULT_PLUGINS if ".schemes." in p])
    e.add_policy(slow, slow_strategies)
    e.add_policy(cr.load_policy(POLICY, format="yaml"), engine.schemes["visits"].strategies)
    return e


def test_never_contacted_key_customer_gets_its_class_cadence(engine: cr.Engine) -> None:
    agenda = two_scheme_engine(engine).agenda([shop("K", 5000, None)], as_of=AS_OF)
    (item,) = [i for i in agenda if i.action == "contact"]
    assert (item.scheme, item.label, item.status) == ("visits", "key", "due")
    assert item.schemes == ("visits", "awareness")  # the most demanding cadence first
    assert item.reason_en.startswith("contact (never contacted): visits key (Key) every 3–5 days")
    assert item.priority == 6  # 30 / 5 days


def test_key_two_days_late_before_regular_ten_days_late(engine: cr.Engine) -> None:
    people = [
        shop("R", 10, "2026-10-13"),  # regular, every 30 days: late after 11-12 -> 10 days overdue
        shop("K", 5000, "2026-11-15"),  # key, every 3-5 days: late after 11-20 -> 2 days overdue
    ]
    order = [i.customer_id for i in engine.agenda(people, as_of=AS_OF) if i.action == "contact"]
    assert order == ["K", "R"]
    by_lateness = engine.agenda(people, as_of=AS_OF, priority_weight=0)
    assert [i.customer_id for i in by_lateness if i.action == "contact"] == ["R", "K"]
    with pytest.raises(ValueError, match="priority_weight"):
        engine.agenda(people, as_of=AS_OF, priority_weight=-1)


# -- column-wise ------------------------------------------------------------------------------


def test_a_table_gives_the_same_agenda_as_records() -> None:
    from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers

    customers = sample_customers(120)
    e = cr.Engine()
    e.fit(customers, as_of=SAMPLE_AS_OF)
    from_records = e.agenda(customers, as_of=SAMPLE_AS_OF)
    table = cr.frame_from_records(customers)
    from_table = e.agenda(table, as_of=SAMPLE_AS_OF)
    assert len(from_records) > 50
    assert from_table.items == from_records.items
    assert from_table.to_frame().equals(from_records.to_frame())
    owner = from_records.items[0].owner
    assert owner is not None
    assert e.agenda(table, as_of=SAMPLE_AS_OF, owner=owner).items == from_records.for_owner(owner).items
    assert from_table.for_owner(owner).items == from_records.for_owner(owner).items


def test_chinese_agenda_lines_name_classes_in_chinese(engine: cr.Engine) -> None:
    agenda = engine.agenda([shop("K", 5000, "2026-11-10")], as_of=AS_OF)
    (item,) = [i for i in agenda if i.action == "contact"]
    assert item.reason("zh") == "联系（上次联系 2026-11-10）：重点每 3–5 天一次"


def test_rendering_a_table_makes_no_items_and_says_what_the_items_say() -> None:
    """``render`` of an agenda kept as a table reads the table's columns (no
    AgendaItem per row); the text must be the one the items give."""
    from customer_rules.apps.agenda import Agenda
    from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers

    customers = sample_customers(120)
    e = cr.Engine()
    e.fit(customers, as_of=SAMPLE_AS_OF)
    frame = e.agenda(cr.frame_from_records(customers), as_of=SAMPLE_AS_OF).to_frame()
    assert frame.height > 50 and frame["status"].n_unique() > 1
    for lang in ("en", "zh", "fr"):
        for limit in (None, 0, 3, -2, 10_000):
            from_table = Agenda(frame, SAMPLE_AS_OF)
            text = from_table.render(lang, limit)
            assert from_table._items is None
            from_items = Agenda(frame, SAMPLE_AS_OF)
            assert from_items.items
            assert text == from_items.render(lang, limit)
            assert text == Agenda(list(from_items.items), SAMPLE_AS_OF).render(lang, limit)
