"""Hysteresis as one policy rewrite, compiled by every backend.

A scheme with ``stability.margin`` changes a customer's label only if the
change still happens with every numeric threshold (and population cut-off)
moved by that fraction of its value *against* the change: the previous
label's rules are relaxed, the other rules tightened. Rather than each
backend moving thresholds while it compiles, this module rewrites the
checked policy once — :func:`shifted` returns a policy whose rule
conditions (and the derived values they read) compare with the moved
constants, and :func:`shifted_cuts` the moved cut-offs — and a backend
compiles the result like any other policy.

What moves: the right-hand constant of an ordering comparison (``<``,
``<=``, ``>``, ``>=``) when it is a number literal, a duration or a numeric
``params.x`` (a parameter stays a parameter, ``params.x + delta``, so it is
still evidence); and the ``cutoff`` of ``top``/``top_pct``/``top_within``
(a ``>=`` threshold) and of their ``bottom`` twins (a ``<=`` one).
A threshold ``c`` moves by ``shift * |c|``: up for ``>``/``>=``, down for
``<``/``<=`` (a positive shift makes every threshold harder to pass).
Booleans, dates, strings, ``between`` and ``percentile`` do not move.
Policy flags are not rewritten: a kept decision reports the unshifted flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from customer_rules.lang.ast import Binary, Duration, Literal, Name, Node
from customer_rules.lang.compile import CheckedPolicy
from customer_rules.lang.population import Cut, lowest_first

_ORDER = ("<", "<=", ">", ">=")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def shift_value(op: str, c: Any, shift: float) -> Any:
    """``c`` moved against passing ``op`` by ``shift`` times its size."""
    if not shift or op not in _ORDER or not _is_number(c):
        return c
    delta = shift * abs(c)
    return c + delta if op in (">", ">=") else c - delta


def _shift_node(node: Node, shift: float, params: Mapping[str, Any]) -> Node:
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        if f.name == "pos":
            continue
        value = getattr(node, f.name)
        if isinstance(value, Node):
            new = _shift_node(value, shift, params)
            if new is not value:
                changes[f.name] = new
        elif isinstance(value, tuple) and value and all(isinstance(v, Node) for v in value):
            items = tuple(_shift_node(v, shift, params) for v in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[f.name] = items
    if isinstance(node, Binary) and node.op in _ORDER:
        right = node.right
        moved: Node | None = None
        if isinstance(right, Literal) and _is_number(right.value):
            moved = Literal(shift_value(node.op, right.value, shift), pos=right.pos)
        elif isinstance(right, Duration):
            moved = Literal(shift_value(node.op, right.days, shift), pos=right.pos)
        elif isinstance(right, Name) and right.parts[0] == "params":
            raw = params[right.parts[1]]
            if _is_number(raw):
                delta = abs(shift * abs(raw))
                grow = (shift > 0) == (node.op in (">", ">="))
                moved = Binary("+" if grow else "-", right, Literal(delta), pos=right.pos)
        if moved is not None:
            changes["right"] = moved
    return replace(node, **changes) if changes else node


def shifted(checked: CheckedPolicy, shift: float) -> CheckedPolicy:
    """``checked`` with the thresholds of its rules and derived values moved by ``shift``."""
    if not shift:
        return checked
    params = checked.params
    derived = tuple((name, _shift_node(node, shift, params), t) for name, node, t in checked.derived)
    rules = tuple(replace(r, node=_shift_node(r.node, shift, params)) for r in checked.rules)
    return replace(checked, derived=derived, rules=rules)


def shifted_cuts(cuts: Mapping[str, Cut] | None, shift: float) -> Mapping[str, Cut] | None:
    """Fitted cut-offs moved by ``shift`` (as a ``>=`` threshold, a bottom
    group's as a ``<=`` one); ``None`` stays ``None``."""
    if cuts is None or not shift:
        return cuts
    return {
        k: (
            replace(c, cutoff=shift_value("<=" if lowest_first(c.function) else ">=", c.cutoff, shift))
            if c.cutoff is not None
            else c
        )
        for k, c in cuts.items()
    }


@dataclass(frozen=True)
class Sticky:
    """The two rewrites hysteresis compares with: relaxed (``-margin``) for the
    previous label's rules, tightened (``+margin``) for the others."""

    relaxed: CheckedPolicy
    relaxed_cuts: Mapping[str, Cut] | None
    tightened: CheckedPolicy
    tightened_cuts: Mapping[str, Cut] | None


def sticky(checked: CheckedPolicy, cuts: Mapping[str, Cut] | None) -> Sticky | None:
    """The hysteresis rewrites of a policy with a margin (``None`` without one)."""
    stability = checked.policy.stability
    margin = stability.margin if stability is not None else 0.0
    if not margin:
        return None
    return Sticky(
        relaxed=shifted(checked, -margin),
        relaxed_cuts=shifted_cuts(cuts, -margin),
        tightened=shifted(checked, margin),
        tightened_cuts=shifted_cuts(cuts, margin),
    )
