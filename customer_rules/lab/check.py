"""``cr.check``: property checks of a policy over generated records.

A property says something that must hold for every customer record:
:func:`exactly_one_label` (every record gets a label, no rule conflict),
:func:`monotone` (raising one field never moves a record down the label
order), :func:`label_order` (of two records, the one with the higher
label never has the lower value of a field), :func:`implies` (whenever a
condition holds the label is one of some labels). :func:`check` searches
records generated from the record schema with hypothesis (the fields the
policy reads, values near its thresholds) for a counterexample; a failure
reports the shrunk record and the decision's explanation.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customer_rules.errors import CustomerRulesError, EvaluationError
from customer_rules.lang.ast import Binary, Call, Name, Node, walk
from customer_rules.lang.compile import CheckedPolicy, check_policy
from customer_rules.lang.policy import Policy
from customer_rules.lang.types import DATE, NUMBER
from customer_rules.model.decision import Decision, show

if TYPE_CHECKING:
    from customer_rules.backends.python import PythonPolicy
    from customer_rules.engine.engine import Engine, Scheme
    from customer_rules.model.records import Customer


@dataclass(frozen=True)
class Property:
    """A statement about every record; made by the functions of this module."""

    name: str
    kind: str
    path: str | None = None
    increasing: bool = True
    order: tuple[str, ...] | None = None
    when: str | None = None
    labels: tuple[str, ...] = ()
    known_inputs: bool = False

    def __str__(self) -> str:
        return self.name


def exactly_one_label(*, known_inputs: bool = False) -> Property:
    """Every record gets exactly one label: none is unclassified, no two rules clash.

    With ``known_inputs=True`` only records where every field the policy
    reads has a value are tried (a policy may leave records with missing
    inputs unclassified on purpose).
    """
    if known_inputs:
        return Property("exactly one label per record with every input known", "one_label", known_inputs=True)
    return Property("exactly one label per record", "one_label")


def monotone(path: str, *, increasing: bool = True, order: Sequence[str] | None = None) -> Property:
    """Raising ``path`` (a number or date field) never moves a record down the label order.

    The order is the policy's label order (first = highest), with
    unclassified below every label; an explicit ``order`` ranks only the
    labels it lists (records with other labels are not compared). With
    ``increasing=False``, raising the field never moves a record *up*.
    """
    way = "more" if increasing else "less"
    return Property(
        f"{way} {path} never lowers the label", "monotone", path, increasing, tuple(order) if order else None
    )


def label_order(path: str, *, increasing: bool = True, order: Sequence[str] | None = None) -> Property:
    """Of two records, the one with the higher label never has the lower ``path`` value.

    (With ``increasing=False``: never the higher value.) Records without a
    value or without a label are not compared.
    """
    way = "lower" if increasing else "higher"
    return Property(
        f"a higher label never has a {way} {path}", "label_order", path, increasing, tuple(order) if order else None
    )


def implies(when: str, labels: str | Iterable[str]) -> Property:
    """Whenever the condition ``when`` holds, the label is one of ``labels``.

    ``when`` is written in the policy language and may read the policy's
    derived values and parameters (not population-relative tests).
    """
    labs = (labels,) if isinstance(labels, str) else tuple(labels)
    return Property(f"when {when}: label in {', '.join(labs)}", "implies", when=when, labels=labs)


@dataclass(frozen=True)
class PropertyResult:
    """The outcome of one property: ``passed``, how many records were tried and,
    on failure, the shrunk counterexample (``record``, and ``other`` for
    properties about two records) with the decisions and their explanation."""

    property: Property
    passed: bool
    examples: int
    record: Mapping[str, Any] | None = None
    other: Mapping[str, Any] | None = None
    decisions: tuple[Decision | None, ...] = ()
    explanation: str = ""

    def explain(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        head = f"{mark} {self.property.name} ({self.examples} records tried)"
        if self.passed:
            return head
        return head + "\n" + "\n".join("    " + line for line in self.explanation.splitlines())


class CheckReport(Sequence[PropertyResult]):
    """The results of :func:`check`, one per property; ``ok`` when all passed."""

    def __init__(self, policy_id: str, results: Iterable[PropertyResult], notes: Iterable[str] = ()) -> None:
        self.policy_id = policy_id
        self._results = list(results)
        self.notes = tuple(notes)

    def __getitem__(self, i: Any) -> Any:
        return self._results[i]

    def __len__(self) -> int:
        return len(self._results)

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self._results)

    @property
    def failures(self) -> list[PropertyResult]:
        return [r for r in self._results if not r.passed]

    def explain(self) -> str:
        passed = sum(r.passed for r in self._results)
        head = f"check {self.policy_id}: {passed} of {len(self._results)} properties hold"
        return "\n".join([head, *(r.explain() for r in self._results)])

    def __str__(self) -> str:
        return self.explain()

    def __repr__(self) -> str:
        return f"CheckReport({self.policy_id!r}, {[(r.property.name, r.passed) for r in self._results]!r})"

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for r in self._results:
            mark = "<b style='color:#1b7f3b'>✓</b>" if r.passed else "<b style='color:#b00020'>✗</b>"
            detail = "" if r.passed else f"<pre style='margin:0'>{e(r.explanation)}</pre>"
            rows.append(
                f"<tr><td>{mark}</td><td style='text-align:left'>{e(r.property.name)}</td>"
                f"<td>{r.examples}</td><td style='text-align:left'>{detail}</td></tr>"
            )
        return (
            f"<div class='cr-check'><b>check {e(self.policy_id)}</b>: "
            f"{sum(r.passed for r in self._results)} of {len(self._results)} properties hold"
            "<table><tr><th></th><th>property</th><th>records</th><th>counterexample</th></tr>"
            + "".join(rows)
            + "</table></div>"
        )


# ---------------------------------------------------------------------------


@dataclass
class _Reads:
    paths: list[str] = field(default_factory=list)
    hints: dict[str, set[Any]] = field(default_factory=dict)
    features: bool = False


def _reads(checked: CheckedPolicy, as_of: dt.date) -> _Reads:
    """The record fields a policy reads and the constants it compares them with."""
    from customer_rules.backends.python import Compiler
    from customer_rules.lang.check import is_constant

    ns = checked.namespace
    comp = Compiler(checked)
    out = _Reads()
    nodes: list[Node] = [*(d[1] for d in checked.derived), *(r.node for r in checked.rules)]
    nodes.extend(f.node for f in checked.flags)

    def field_of(node: Node) -> tuple[str, str] | None:
        if isinstance(node, Name) and node.dotted in ns.fields:
            return node.dotted, ""
        if (
            isinstance(node, Call)
            and node.name in ("days_since", "days_until")
            and isinstance(node.args[0], Name)
            and node.args[0].dotted in ns.fields
        ):
            return node.args[0].dotted, node.name
        return None

    for root in nodes:
        for n in walk(root):
            if isinstance(n, Name) and n.dotted in ns.fields:
                out.paths.append(n.dotted)
            elif (isinstance(n, Name) and n.dotted in ns.features) or (isinstance(n, Call) and n.name in ns.features):
                out.features = True
            if isinstance(n, Binary) and n.op in ("==", "!=", "<", "<=", ">", ">="):
                for side, other in ((n.left, n.right), (n.right, n.left)):
                    f = field_of(side)
                    if f is None or not is_constant(other):
                        continue
                    try:
                        value = comp.constant(other)
                    except (TypeError, KeyError):
                        continue
                    path, fn = f
                    if fn and isinstance(value, int | float):
                        value = as_of - dt.timedelta(days=int(value)) if fn == "days_since" else as_of + dt.timedelta(
                            days=int(value)
                        )
                    out.hints.setdefault(path, set()).add(value)
    out.paths = list(dict.fromkeys(out.paths))
    return out


def _value_strategy(path: str, hints: Iterable[Any], as_of: dt.date) -> Any:
    """Present values of one field (for the field a property varies)."""

    from customer_rules.lab.generate import _FIELDS, _scalar, neighbours

    info = _FIELDS[path]
    return _scalar(info, neighbours(info, hints), as_of, missing=False)


def _bump(path: str, value: Any, delta: int) -> Any:
    """``value`` raised by ``delta`` steps (days for dates), within the field's bounds (None: no room)."""
    from customer_rules.lab.generate import _FIELDS

    t = _FIELDS[path].type
    if t.kind == DATE:
        try:
            return value + dt.timedelta(days=delta)
        except OverflowError:
            return None
    if t.kind != NUMBER:
        raise ValueError(f"{path} is not a number or a date field")
    step = delta if t.integer else delta * max(1.0, abs(float(value)) * 0.05) / 3
    new = value + step
    if t.le is not None and new > t.le:
        new = t.le
    if new <= value:
        return None
    return int(new) if t.integer else float(new)


def _with(data: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    import copy

    from customer_rules.lab.generate import _set

    out = copy.deepcopy(dict(data))
    _set(out, path, value)
    return out


def _read(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for p in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(p)
    return node


class _Checker:
    def __init__(self, compiled: PythonPolicy, as_of: dt.date, engine: Engine, params: Mapping[str, Any]) -> None:
        self.compiled = compiled
        self.as_of = as_of
        self.engine = engine
        self.params = params
        self.policy = compiled.checked.policy

    def decide(self, data: Mapping[str, Any]) -> tuple[Decision | None, str | None]:
        from customer_rules.lab.generate import to_customer

        rec = to_customer(data)
        if rec is None:
            return None, "invalid"
        try:
            return self.compiled.decide(rec, self.as_of, rec.id), None
        except EvaluationError as exc:
            return None, str(exc)
        except CustomerRulesError as exc:
            return None, str(exc)

    def rank(self, order: tuple[str, ...] | None, label: str | None) -> int | None:
        """0 for the highest label; unclassified is below every label; with an
        explicit ``order``, labels outside it are not ranked (None)."""
        labels = order or self.policy.label_ids
        if label is not None and label in labels:
            return labels.index(label)
        return None if order is not None else len(labels)

    def condition(self, when: str) -> Any:
        """A compiled test for ``when`` in the policy's namespace (derived values, params)."""
        from customer_rules.backends.python import Context, PythonPolicy

        data = self.policy.model_dump()
        data.update(
            {
                "id": "property",
                "hit": "first",
                "on_many": None,
                "labels": ({"id": "yes", "zh": "是", "en": "yes"}, {"id": "no", "zh": "否", "en": "no"}),
                "rules": ({"id": "holds", "when": when, "then": "yes"},),
                "default": "no",
                "flags": (),
                "scores": (),
                "details": {},
                "names": {k: v for k, v in data.get("names", {}).items() if k in data["params"] or k in data["derive"]},
                "stability": None,
            }
        )
        probe = Policy.model_validate(data)
        checked = check_policy(probe, self.engine.namespace, self.params)
        compiled = PythonPolicy(checked, cuts=self.compiled.cuts)
        fn = compiled.rules[0][1]

        def holds(rec: Customer) -> bool:
            return bool(fn(Context(rec, self.as_of)) is True)

        return holds


def check(
    policy: Policy | Scheme | str | Path,
    properties: Property | Iterable[Property],
    engine: Engine | None = None,
    *,
    max_examples: int = 200,
    as_of: Any = None,
) -> CheckReport:
    """Check properties of a policy on records generated from the record schema.

    ``policy`` is a :class:`Policy`, a :class:`Scheme`, a scheme id of
    ``engine`` or a policy file; ``properties`` are made by
    :func:`exactly_one_label`, :func:`monotone`, :func:`label_order` and
    :func:`implies`. Each property is tried on up to ``max_examples``
    records (hypothesis, no example database, deterministic); a failure is
    shrunk to a small counterexample. Population-relative schemes use the
    engine's fitted cut-offs, or cut-offs fitted on the sample customers.
    """
    from customer_rules.engine.engine import normalise_as_of
    from customer_rules.lab.generate import need_hypothesis, records, settings
    from customer_rules.lab.sample import SAMPLE_AS_OF
    from customer_rules.lab.verify import compiled_for, resolve

    hypothesis = need_hypothesis()

    day = normalise_as_of(as_of) if as_of is not None else SAMPLE_AS_OF
    pol, eng, params, _scheme = resolve(policy, engine)
    compiled, note = compiled_for(pol, eng, params, day)
    chk = _Checker(compiled, day, eng, params)
    reads = _reads(compiled.checked, day)
    props = [properties] if isinstance(properties, Property) else list(properties)
    results: list[PropertyResult] = []
    for prop in props:
        paths = list(reads.paths)
        if prop.path is not None and prop.path not in paths:
            paths.append(prop.path)
        base = records(paths, reads.hints, day, nested=reads.features, missing=not prop.known_inputs)
        count = [0]
        strategy, test = _search_for(prop, chk, base, reads, day)

        def bad(data: Any, test: Any = test, count: list[int] = count) -> bool:
            count[0] += 1
            return bool(test(data))

        try:
            example = hypothesis.find(strategy, bad, settings=settings(max_examples))
        except hypothesis.errors.NoSuchExample:
            results.append(PropertyResult(prop, True, count[0]))
            continue
        results.append(_failure(prop, example, chk, count[0]))
    return CheckReport(pol.id, results, [note] if note else [])


def _search_for(prop: Property, chk: _Checker, base: Any, reads: _Reads, day: dt.date) -> tuple[Any, Any]:
    """The strategy to draw from and the test a counterexample passes."""
    from hypothesis import strategies as st

    from customer_rules.lab.generate import to_customer

    if prop.kind == "one_label":

        def unlabelled(data: Any) -> bool:
            d, err = chk.decide(data)
            if err == "invalid":
                return False
            return err is not None or d is None or d.label is None

        return base, unlabelled

    if prop.kind == "implies":
        assert prop.when is not None
        holds = chk.condition(prop.when)

        def outside(data: Any) -> bool:
            rec = to_customer(data)
            if rec is None or not holds(rec):
                return False
            d, err = chk.decide(data)
            if err is not None or d is None:
                return err not in (None, "invalid")
            return d.label not in prop.labels

        return base, outside

    assert prop.path is not None
    path = prop.path
    values = _value_strategy(path, reads.hints.get(path, ()), day)
    if prop.kind == "monotone":

        def lowered(data: Any) -> bool:
            rec, value, delta = data
            higher = _bump(path, value, delta)
            if higher is None:
                return False
            (da, ea), (db, eb) = chk.decide(_with(rec, path, value)), chk.decide(_with(rec, path, higher))
            if ea or eb or da is None or db is None:
                return False
            ra, rb = chk.rank(prop.order, da.label), chk.rank(prop.order, db.label)
            if ra is None or rb is None:
                return False
            return rb > ra if prop.increasing else rb < ra

        return st.tuples(base, values, st.integers(1, 1000)), lowered

    if prop.kind == "label_order":

        def inverted(data: Any) -> bool:
            ra_, va, rb_, vb = data
            (da, ea), (db, eb) = chk.decide(_with(ra_, path, va)), chk.decide(_with(rb_, path, vb))
            if ea or eb or da is None or db is None or da.label is None or db.label is None:
                return False
            ka, kb = chk.rank(prop.order, da.label), chk.rank(prop.order, db.label)
            if ka is None or kb is None or ka == kb:
                return False
            hi_val, lo_val = (va, vb) if ka < kb else (vb, va)
            return bool(hi_val < lo_val) if prop.increasing else bool(hi_val > lo_val)

        return st.tuples(base, values, base, values), inverted
    raise ValueError(f"unknown property kind {prop.kind!r}")  # pragma: no cover


def _failure(prop: Property, example: Any, chk: _Checker, tried: int) -> PropertyResult:
    from customer_rules.lab.verify import witness_text

    def explain(data: Mapping[str, Any]) -> tuple[Decision | None, str]:
        d, err = chk.decide(data)
        if d is not None:
            return d, d.explain(detail="full")  # a counterexample is for the policy's author
        return None, f"error: {err}"

    if prop.kind in ("one_label", "implies"):
        d, text = explain(example)
        lines = [f"record: {witness_text(example)}", text]
        return PropertyResult(prop, False, tried, example, None, (d,), "\n".join(lines))
    path = prop.path
    assert path is not None
    if prop.kind == "monotone":
        rec, value, delta = example
        higher = _bump(path, value, delta)
        a, b = _with(rec, path, value), _with(rec, path, higher)
    else:
        ra_, va, rb_, vb = example
        a, b = _with(ra_, path, va), _with(rb_, path, vb)
    (da, ta), (db, tb) = explain(a), explain(b)
    lines = [
        f"record: {witness_text(a)}",
        ta,
        f"other record ({path} = {show(_read(b, path))}): {witness_text(b)}",
        tb,
    ]
    return PropertyResult(prop, False, tried, a, b, (da, db), "\n".join(lines))


__all__ = [
    "CheckReport",
    "Property",
    "PropertyResult",
    "check",
    "exactly_one_label",
    "implies",
    "label_order",
    "monotone",
]
