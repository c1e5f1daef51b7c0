"""The backend protocol (customer_rules.backends.base) and the engine's public accessors."""

from __future__ import annotations

import datetime as dt

import pytest

import customer_rules as cr
from customer_rules.backends import durable
from customer_rules.backends.base import Outcome, RecordPolicy, TablePolicy, decision_of, resolve
from customer_rules.backends.frame import FrameBackend
from customer_rules.backends.python import PythonBackend, PythonPolicy
from customer_rules.errors import EvaluationError
from customer_rules.lang.compile import check_policy

AS_OF = dt.date(2026, 6, 1)

POLICY = """
id: t
labels:
  - {id: hi, zh: 高, en: High, flags: [watch]}
  - {id: mid, zh: 中, en: Mid}
  - {id: lo, zh: 低, en: Low}
hit: {hit}
on_many: {on_many}
flags:
  - {id: late, zh: 逾期, en: Late, when: "value.overdue_days > 30"}
rules:
  - {id: m1, when: "value.revenue_12m >= 10", then: mid}
  - {id: h1, when: "value.revenue_12m >= 100", then: hi}
  - {id: l1, when: "value.orders_12m >= 1", then: lo}
default: lo
"""


def checked_for(hit: str, on_many: str = "lo") -> object:
    text = POLICY.replace("{hit}", hit).replace("{on_many}", on_many)
    if hit != "collect":
        text = text.replace("on_many: lo\n", "")
    return check_policy(cr.load_policy(text, format="yaml"), cr.Engine(load_entry_points=False).namespace)


@pytest.mark.parametrize(
    ("hit", "matched", "expected"),
    [
        ("first", [], (None, "lo", ("lo",))),
        ("first", ["m1", "h1"], ("m1", "mid", ("mid",))),
        ("priority", ["m1", "h1", "l1"], ("h1", "hi", ("hi",))),
        ("collect", ["m1"], ("m1", "mid", ("mid",))),
        ("collect", ["m1", "h1"], ("m1", "lo", ("mid", "hi"))),  # several labels: on_many
    ],
)
def test_resolve_applies_the_hit_policy(hit: str, matched: list[str], expected: tuple[object, ...]) -> None:
    checked = checked_for(hit)
    rules = {r.id: r for r in checked.rules}  # type: ignore[attr-defined]
    chosen, label, labels = resolve(checked, [rules[m] for m in matched], "t", None)  # type: ignore[arg-type]
    assert (chosen.id if chosen else None, label, labels) == expected


def test_resolve_refuses_two_matches_under_unique() -> None:
    checked = checked_for("unique")
    rules = list(checked.rules)  # type: ignore[attr-defined]
    with pytest.raises(EvaluationError, match="'m1' and 'h1' both match") as info:
        resolve(checked, rules[:2], "t", "C9")  # type: ignore[arg-type]
    assert info.value.record_id == "C9"


def test_a_decision_is_built_once_from_an_outcome() -> None:
    checked = checked_for("first")
    rules = list(checked.rules)  # type: ignore[attr-defined]
    outcome = Outcome(
        matched=[rules[1]],
        unknown=[rules[2]],
        flags=["late"],
        evidence={"value.revenue_12m": 150, "value.orders_12m": None},
    )
    d = decision_of(checked, "t", outcome, record=None, as_of=AS_OF, record_id="C1", source=None)  # type: ignore[arg-type]
    assert (d.label, d.rule, d.flags, d.missing) == ("hi", "h1", ("watch", "late"), ("value.orders_12m",))


def test_each_backend_declares_what_it_decides_and_compiles_to_the_protocol() -> None:
    checked = checked_for("first")
    python = PythonBackend().compile(checked, "t")  # type: ignore[arg-type]
    assert isinstance(python, RecordPolicy) and not isinstance(python, TablePolicy)
    frame = FrameBackend().compile(checked, "t")  # type: ignore[arg-type]
    assert isinstance(frame, TablePolicy) and not isinstance(frame, RecordPolicy)
    assert (PythonBackend.decides_records, PythonBackend.decides_tables) == (True, False)
    assert (FrameBackend.decides_records, FrameBackend.decides_tables) == (False, True)
    assert (durable.DurableBackend.decides_records, durable.DurableBackend.decides_tables) == (True, False)
    # the durable backend is a backend of its own, not a variant of the python one
    assert not issubclass(durable.DurablePolicy, PythonPolicy)


def test_the_engine_hands_out_its_compiled_policies_through_public_accessors() -> None:
    engine = cr.Engine()
    assert isinstance(engine.record_backend, PythonBackend)
    sid = "value_pyramid"
    assert engine.scheme(sid) is engine.schemes[sid]
    with pytest.raises(KeyError, match="did you mean"):
        engine.scheme("value_pyramd")
    assert engine.checked(sid).policy is engine.schemes[sid].policy
    assert isinstance(engine.compiled(sid), RecordPolicy)
    assert engine.cuts(sid) is None and not engine.is_fitted(sid)
    engine.fit(cr.sample_customers(40), as_of=cr.SAMPLE_AS_OF, schemes=[sid])
    cuts = engine.cuts(sid)
    assert cuts is not None and engine.compiled(sid).cuts == cuts
    assert isinstance(engine.table_policy(sid), TablePolicy)
    assert engine.table_policy(sid).cuts == cuts
    fresh = cr.Engine()  # cut-offs move between engines through the public API
    fresh.use_cuts(sid, cuts, as_of="2026-01-01", population=40)
    assert fresh.fitted_[sid]["population"] == 40
    customer = cr.sample_customers(5)[2]
    assert (
        fresh.decide(sid, customer, as_of=cr.SAMPLE_AS_OF).label
        == engine.decide(sid, customer, as_of=cr.SAMPLE_AS_OF).label
    )
    assert engine.sibling().schemes.keys() == cr.Engine().schemes.keys()
    assert engine.has_overrides is False


def test_nothing_outside_the_engine_module_reads_its_private_state() -> None:
    import re
    from pathlib import Path

    package = Path(cr.__file__).parent
    private = re.compile(r"\b(?:engine|eng|self\.engine)\._[a-z]\w*")
    offenders = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path != package / "engine" / "engine.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []
