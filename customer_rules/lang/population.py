"""Population-relative conditions: cut-offs learned by ``fit``.

``top(m, n)`` holds for a record whose measure ``m`` is at least the n-th
highest value of the fitted population (``top_pct(m, p)``: the
``round(p% × count)``-th, counting only records whose measure is known;
``*_within`` variants count only records where the condition holds).
``bottom(m, n)``, ``bottom_pct``, ``bottom_within`` and
``bottom_pct_within`` are the same from the other end: the measure is at
most the n-th lowest value (rank days since the last purchase with
``bottom_pct(days_since_purchase, 20)`` — no negated measure, so the
cut-off and every value read stay days). Which end a function ranks from
is its ``ranks`` in the function table.
Records tied with the cut-off value are all in: two customers with the same
value always get the same answer, so a share can exceed its target when
values tie at the boundary, never because of input order.
``percentile(m)`` is the share of the fitted population with a value at or
below ``m``.

A record whose measure is missing is never in a group (the condition is
unknown, like any comparison with a missing value). NaN ranks above every
number, as in polars.

A measure may itself read a population-relative value through a derived
value (``score: 3 * percentile(value.turnover) + ...`` ranked with
``top(score, 20)``): ``fit`` learns the cuts in stages, the inner ones
first (:func:`fit_order`), so the outer measure is computed with the inner
cuts already fitted on the same population.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from customer_rules.lang.ast import Call, Name, Node, to_text, walk
from customer_rules.lang.check import POPULATION_FUNCTIONS, constant_value
from customer_rules.lang.functions import FUNCTIONS


def round_half_up(x: float) -> int:
    """Round to the nearest whole number, halves up (0.5 → 1, 2.5 → 3)."""
    return math.floor(x + 0.5)


def lowest_first(function: str) -> bool:
    """True for a group function that holds the lowest values (``bottom``...)."""
    return FUNCTIONS[function].ranks == "lowest"


def group_size(call: Call, count: int, params: Mapping[str, Any]) -> int:
    """How many records the group of a ``top``/``bottom`` call is meant to hold,
    ``count`` records having a known measure (in its group, for ``*_within``)."""
    amount = constant_value(call.args[1], dict(params))
    assert isinstance(amount, int | float)
    return round_half_up(amount / 100 * count) if "_pct" in call.name else int(amount)


#: at most this many points (plus one) summarise a fitted population for ``percentile``
SUMMARY_POINTS = 1000


@dataclass(frozen=True)
class Cut:
    """What ``fit`` learned for one population-relative call.

    ``cutoff`` is the lowest value still in a top group, the highest still
    in a bottom group (``None``: nobody is in it); ``size`` the number of
    records the group was meant to hold;
    ``count`` the number of records with a known measure (in the group
    condition, for ``*_within``). ``values`` is kept only for
    ``percentile``: with ``ranks`` absent, every known value, sorted (a
    population of at most :data:`SUMMARY_POINTS`); otherwise at most
    ``SUMMARY_POINTS + 1`` distinct values, sorted, and ``ranks[i]`` the
    exact number of known values at or below ``values[i]`` (see
    :meth:`percentile` for what that guarantees).
    """

    function: str
    cutoff: float | None
    size: int
    count: int
    values: tuple[float, ...] | None = None
    ranks: tuple[int, ...] | None = None

    def percentile(self, value: float) -> float | None:
        """The share of the fitted population at or below ``value``.

        Exact when every known value is kept (``ranks`` absent), at every
        kept value and below the lowest; between two kept values it is the
        share at or below the lower one, less than ``1 / SUMMARY_POINTS``
        below the exact share (the kept values are chosen so that fewer than
        ``count / SUMMARY_POINTS`` records lie strictly between them).
        """
        if not self.values:
            return None
        return self.share(bisect.bisect_right(self.values, value))

    def share(self, kept: int) -> float:
        """The share of the population at or below the ``kept``-th kept value (0: below all)."""
        assert self.values
        if self.ranks is None:
            return kept / len(self.values)
        return (self.ranks[kept - 1] if kept else 0) / self.count

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "function": self.function,
            "cutoff": self.cutoff,
            "size": self.size,
            "count": self.count,
        }
        if self.values is not None:
            out["values"] = list(self.values)
        if self.ranks is not None:
            out["ranks"] = list(self.ranks)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cut:
        values = data.get("values")
        ranks = data.get("ranks")
        return cls(
            function=str(data["function"]),
            cutoff=None if data.get("cutoff") is None else float(data["cutoff"]),
            size=int(data["size"]),
            count=int(data["count"]),
            values=None if values is None else tuple(float(v) for v in values),
            ranks=None if ranks is None else tuple(int(r) for r in ranks),
        )


def fit_order(calls: Sequence[Call], derived: Sequence[tuple[str, Node, Any]]) -> list[list[Call]]:
    """The population calls grouped into stages that can be fitted in order.

    A call whose measure or group condition reads another population call
    (through derived values) comes in a later stage than that call. Derived
    values only read earlier ones, so there is no cycle.
    """
    reads: dict[str, set[str]] = {}  # derived name -> population calls it reads

    def needs(node: Node) -> set[str]:
        out: set[str] = set()
        for n in walk(node):
            if isinstance(n, Call) and n.name in POPULATION_FUNCTIONS:
                out.add(to_text(n))
            elif isinstance(n, Name) and n.dotted in reads:
                out |= reads[n.dotted]
        return out

    for name, node, *_ in derived:
        reads[name] = needs(node)
    pending = {to_text(c): c for c in calls}
    deps = {}
    for key, call in pending.items():
        inner: set[str] = set()
        for arg in call.args:
            inner |= needs(arg)
        deps[key] = (inner - {key}) & set(pending)
    stages: list[list[Call]] = []
    done: set[str] = set()
    while pending:
        ready = [k for k in pending if deps[k] <= done]
        if not ready:  # cannot happen for a checked policy; refuse rather than loop
            raise ValueError("population-relative values depend on each other in a cycle")
        stages.append([pending.pop(k) for k in ready])
        done.update(ready)
    return stages
