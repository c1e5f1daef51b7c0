"""Allocate a scarce product among customers by the weight of their grade.

``allocate(supply, decisions, weights, caps=None)`` splits an integer supply
into integer quantities, one per customer, in proportion to the weight of
each customer's label (e.g. the ``retail_license_grade`` grades ``A5`` …
``C``). The quantities sum exactly to the supply, or to what the caps allow
when that is less.

How (see ``docs/allocation.md``):

1. Every customer's *exact quota* is ``supply × weight / total weight``,
   computed with exact fractions (no floating-point drift).
2. Caps: a customer whose exact quota exceeds its cap is held at its cap;
   what it cannot take is shared among the customers not held, again by
   weight, and so on until no cap is exceeded (water-filling).
3. Rounding (largest remainder, Hamilton): everyone gets the whole part of
   their exact quota; the units left over go one each to the customers with
   the largest fractional remainders.
4. The queue for leftover units runs by larger remainder, then (on equal
   remainders) higher weight, then customer id ascending (ints before
   strings, each in natural order) — never by input order.

Labels in ``exclude`` (default ``suspended``) and labels with weight 0 get
nothing.
"""

from __future__ import annotations

import bisect
import collections
import difflib
import html
import itertools
import math
import numbers
import operator
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any

from customer_rules.model.decision import Decision, Profile

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Allocation", "Share", "allocate"]

CustomerId = Hashable
Number = int | float | Fraction | Decimal


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Share:
    """How one customer's quantity came about.

    ``weight`` is the weight used (0 for excluded labels); ``cap`` is
    ``None`` when uncapped; ``proportional`` is the customer's share of the
    supply before any cap (``supply × weight / total weight``);
    ``uncapped_quota`` its share by weight once the units other customers'
    caps kept from them were redistributed (before its own cap); ``quota``
    the exact (fractional) quota it was given: the smaller of that and its
    cap; ``base`` its whole part; ``extra`` whether a leftover
    unit was added; ``rank`` the position in the queue for leftover units
    (1-based; ``None`` when the remainder is 0); ``capped`` whether the cap
    decided the quantity; ``excluded`` whether the label is in ``exclude``.
    """

    customer_id: CustomerId
    label: str | None
    weight: Fraction
    cap: int | None
    proportional: Fraction
    uncapped_quota: Fraction
    quota: Fraction
    base: int
    extra: bool
    rank: int | None
    capped: bool
    excluded: bool

    @property
    def quantity(self) -> int:
        return self.base + int(self.extra)

    @property
    def remainder(self) -> Fraction:
        return self.quota - self.base


@dataclass(frozen=True)
class Allocation(Mapping[CustomerId, int]):
    """The result of :func:`allocate`.

    Behaves as a read-only mapping customer id → quantity
    (``alloc["C1"]``, ``dict(alloc)``). ``quantities`` has every input
    customer, zeros included, ordered by customer id. ``total`` is what was
    handed out, ``unallocated`` what was not (more than 0 only when caps
    bind or no customer has a positive weight), ``by_label`` the total per
    label. ``shares`` holds the working for each customer; ``explain`` renders
    it as text.
    """

    supply: int
    quantities: dict[CustomerId, int]
    shares: Mapping[CustomerId, Share] = field(repr=False)
    leftover: int = field(repr=False, default=0)
    """Units handed out by the largest-remainder step."""

    # -- mapping -------------------------------------------------------------
    def __getitem__(self, customer_id: CustomerId) -> int:
        try:
            return self.quantities[customer_id]
        except KeyError:
            raise KeyError(f"customer {customer_id!r} is not in this allocation") from None

    def __iter__(self) -> Iterator[CustomerId]:
        return iter(self.quantities)

    def __len__(self) -> int:
        return len(self.quantities)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self.quantities

    # -- totals --------------------------------------------------------------
    @property
    def total(self) -> int:
        """Units handed out."""
        return sum(self.quantities.values())

    @property
    def unallocated(self) -> int:
        """Units of the supply nobody could take (``supply - total``)."""
        return self.supply - self.total

    @property
    def by_label(self) -> dict[str | None, int]:
        """Total per label, highest weight first (then label)."""
        totals: dict[str | None, int] = {}
        weight: dict[str | None, Fraction] = {}
        if isinstance(self.shares, _Shares):  # per kind of customer: no Share built
            totals, weight = self.shares.label_totals()
        else:
            for s in self.shares.values():
                totals[s.label] = totals.get(s.label, 0) + s.quantity
                weight[s.label] = s.weight
        order = sorted(totals, key=lambda lab: (-weight[lab], lab is None, lab or ""))
        return {lab: totals[lab] for lab in order}

    # -- explaining ----------------------------------------------------------
    def explain(self, customer_id: CustomerId | None = None, lang: str = "en") -> str:
        """Why a customer got its quantity (or, without an id, a summary).

        ``lang`` is ``en`` or ``zh``. Shows the weight and its share, the
        exact quota, the rounding step and the cap.
        """
        if lang not in ("en", "zh"):
            raise ValueError(f"lang must be 'en' or 'zh', got {lang!r}")
        if customer_id is None:
            return self._summary(lang)
        shares = self.shares
        zh = lang == "zh"
        try:
            if isinstance(shares, _Shares):  # no Share built: read the working directly
                return shares.explain(customer_id, self, zh)
            s = shares[customer_id]
        except KeyError:
            raise KeyError(f"customer {customer_id!r} is not in this allocation") from None
        key = (zh, s.label, s.cap, s.capped)
        body = self._texts.get(key)
        if body is None:
            body = self._texts[key] = _share_body(s, self, zh)
        return _explain_text(body, zh, s.customer_id, s.quantity, s.rank, s.extra)

    # Per-allocation figures every customer's explanation quotes: computed
    # once (on first use) so explaining everyone stays linear in customers.
    @cached_property
    def _total_weight(self) -> Fraction:
        if isinstance(self.shares, _Shares):
            return self.shares.total_weight
        return sum((s.weight for s in self.shares.values()), Fraction(0))

    @cached_property
    def _remainder_counts(self) -> collections.Counter[Fraction]:
        """How many customers in the queue for leftover units have each remainder."""
        if isinstance(self.shares, _Shares):
            return self.shares.remainder_counts
        return collections.Counter(s.remainder for s in self.shares.values() if s.rank is not None)

    @cached_property
    def _texts(self) -> dict[tuple[bool, str | None, int | None, bool], _Body]:
        """Explanation text shared by customers alike but for id and rank (filled on use)."""
        return {}

    @cached_property
    def _bodies(self) -> tuple[list[_Body | None], list[_Body | None]]:
        """The same as ``_texts`` per kind of customer of the working (English, Chinese)."""
        n = len(self.shares._kinds) if isinstance(self.shares, _Shares) else 0
        return [None] * n, [None] * n

    def _summary(self, lang: str) -> str:
        zh = lang == "zh"
        if zh:
            head = f"供应 {self.supply}，分配 {self.total}，未分配 {self.unallocated}（{len(self)} 个客户）"
            rows = [f"  {_label_text(lab, True)}：{n}" for lab, n in self.by_label.items()]
        else:
            head = (
                f"supply {self.supply}, allocated {self.total}, unallocated {self.unallocated} "
                f"({len(self)} customers)"
            )
            rows = [f"  {_label_text(lab, False)}: {n}" for lab, n in self.by_label.items()]
        return "\n".join([head, *rows])

    def __str__(self) -> str:
        return self._summary("en")

    # -- tables ----------------------------------------------------------------
    def to_frame(self) -> pl.DataFrame:
        """One row per customer as a polars DataFrame.

        Columns: ``customer_id``, ``label``, ``weight``, ``cap``, ``quota``
        (exact quota as a float), ``quantity``, ``capped``, ``rounded_up``.
        """
        try:
            import polars as pl
        except ImportError as exc:  # pragma: no cover - polars is a dependency
            raise ImportError("Allocation.to_frame needs polars: pip install polars") from exc
        if isinstance(self.shares, _Shares):  # column by column from the working: no Share built
            columns = self.shares.columns()
        else:
            columns = _share_columns(list(self.shares.values()))
        ids: list[Any] = columns["customer_id"]
        kinds = {type(i) for i in ids}
        if len(kinds) > 1 or not kinds <= {str, int}:  # mixed, or tuples and the like: as text
            ids = [str(i) for i in ids]
        caps = columns["cap"]
        quantities = columns["quantity"]
        return pl.DataFrame(
            {
                "customer_id": pl.Series(
                    ids, dtype=pl.String if kinds != {int} else _int_dtype(ids, "customer_id")
                ),
                "label": columns["label"],
                "weight": columns["weight"],
                "cap": pl.Series(caps, dtype=_int_dtype(caps, "cap")),
                "quota": columns["quota"],
                "quantity": pl.Series(quantities, dtype=_int_dtype(quantities, "quantity")),
                "capped": columns["capped"],
                "rounded_up": columns["rounded_up"],
            },
            schema_overrides={"label": pl.String},
        )

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(str(s.customer_id))}</td><td>{e(_label_text(s.label, False))}</td>"
            f"<td>{e(_num(s.weight))}</td><td>{e('-' if s.cap is None else str(s.cap))}</td>"
            f"<td>{e(_num(s.quota))}</td><td><b>{s.quantity}</b></td>"
            f"<td>{'cap' if s.capped else '+1' if s.extra else ''}</td></tr>"
            for s in self.shares.values()
        )
        return (
            f"<div class='cr-allocation'><b>Allocation</b>: supply {self.supply}, "
            f"allocated {self.total}, unallocated {self.unallocated}"
            "<table><tr><th>customer</th><th>label</th><th>weight</th><th>cap</th>"
            f"<th>exact quota</th><th>quantity</th><th>note</th></tr>{rows}</table></div>"
        )


def _share_columns(shares: list[Share]) -> dict[str, list[Any]]:
    """:meth:`Allocation.to_frame`'s columns read from :class:`Share` objects (the
    customer id, label, cap, quantity, whether capped and whether rounded up as
    they are; weight and exact quota as floats). ``_Shares.columns`` makes the
    same from the working, without a Share per customer."""
    return {
        "customer_id": [s.customer_id for s in shares],
        "label": [s.label for s in shares],
        "weight": [float(s.weight) for s in shares],
        "cap": [s.cap for s in shares],
        "quota": [float(s.quota) for s in shares],
        "quantity": [s.quantity for s in shares],
        "capped": [s.capped for s in shares],
        "rounded_up": [s.extra for s in shares],
    }


# ---------------------------------------------------------------------------
# the function


def allocate(
    supply: int,
    decisions: Any,
    weights: Mapping[str, Number],
    caps: Mapping[Any, int | None] | int | None = None,
    *,
    scheme: str | None = None,
    id_column: str = "id",
    label_column: str | None = None,
    missing_weight: Number | None = None,
    exclude: Iterable[str] = ("suspended",),
) -> Allocation:
    """Divide ``supply`` integer units among customers by the weight of their label.

    Args:
        supply: units to hand out, a non-negative int.
        decisions: who gets a share and with which label. One of:
            a mapping customer id → label (or → ``Decision``/``Profile``);
            an iterable of ``Decision`` (``record_id`` and ``label``);
            an iterable of ``Profile`` (or a ``BatchResult``) with ``scheme``
            naming the scheme whose label counts; a polars or pandas
            DataFrame with an id column (``id_column``, default ``"id"``) and
            a label column (``label_column``, default the ``scheme`` name or
            ``"label"``).
        weights: label → non-negative finite number. A label met in
            ``decisions`` but absent from ``weights`` (an unclassified
            customer counts as the label ``None``) raises ``ValueError``
            unless ``missing_weight`` gives the weight to use for it.
        caps: most units a customer may take: a mapping customer id →
            non-negative int (customers absent or mapped to ``None`` are
            uncapped; an id that is not among the customers raises
            ``ValueError``), or one int for
            every customer, or ``None`` (no caps).
        scheme: the scheme whose label to read from profiles; when given
            with decisions, each decision must belong to it.
        missing_weight: weight for labels absent from ``weights``.
        exclude: labels that get nothing whatever the weights say (default
            ``("suspended",)``: supply stops for a suspended licence); a
            positive weight for an excluded label raises ``ValueError``.

    Returns:
        an :class:`Allocation`; its quantities sum to
        ``min(supply, sum of the caps of customers with a positive weight)``.

    Ties for a leftover unit go to the larger remainder, then the higher
    weight, then the smaller customer id; input order never matters.
    """
    supply_n = _as_count(supply, "supply")
    excluded = _as_labels(exclude)
    weight_of = _as_weights(weights, excluded)
    fallback = None if missing_weight is None else _as_weight(missing_weight, "missing_weight")
    entries = _entries(decisions, scheme=scheme, id_column=id_column, label_column=label_column)
    cap_of = _as_caps(caps, decisions, entries)

    # the weight of each label met, then of each customer
    label_weight: dict[str | None, tuple[Fraction, bool]] = {}
    for cid, label in entries:
        if label in label_weight:
            continue
        if label is not None and label in excluded:
            label_weight[label] = (Fraction(0), True)
            continue
        w = weight_of.get(label) if label is not None else None
        if w is None:
            if fallback is None:
                what = (
                    f"customer {cid!r}, which is unclassified (label None)"
                    if label is None
                    else f"label {label!r} (customer {cid!r})"
                )
                known = ", ".join(repr(k) for k in weight_of) or "none"
                close = _close(label, list(weight_of)) if label is not None else []
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"no weight for {what}; weights are given for {known}{hint} "
                    "(add it to weights, or pass missing_weight=0 to give unknown labels nothing)"
                )
            w = fallback
        label_weight[label] = (w, False)
    if set(map(type, map(operator.itemgetter(0), entries))) in ({str}, {int}):
        entries.sort(key=operator.itemgetter(0))  # one kind of id: the same order as _id_key, faster
    else:
        entries.sort(key=lambda e: _id_key(e[0]))
    return _solve(supply_n, entries, label_weight, cap_of)


def _solve(
    supply: int,
    entries: list[tuple[CustomerId, str | None]],
    label_weight: Mapping[str | None, tuple[Fraction, bool]],
    cap_of: Mapping[CustomerId, int] | int | None,
) -> Allocation:
    """The arithmetic, on customers already sorted by id.

    Customers with the same weight share everything but their cap, so the
    work is done per weight group (``g``, numbered by weight, highest
    first): exact fractions stay cheap for large populations. Per customer
    only its *kind* is kept (its label, cap and whether the cap holds it:
    what fixes its working and, with its rank, its quantity); the queue for
    leftover units is numbered column-wise.
    """
    ids = list(map(operator.itemgetter(0), entries))
    labels = list(map(operator.itemgetter(1), entries))
    weights = sorted({w for w, _ in label_weight.values() if w > 0}, reverse=True)
    index = {w: g for g, w in enumerate(weights)}
    group_of = {lab: index.get(w, -1) for lab, (w, _) in label_weight.items()}  # -1: gets nothing
    k = len(weights)

    size = [0] * k  # customers per group
    for lab, count in collections.Counter(labels).items():
        if group_of[lab] >= 0:
            size[group_of[lab]] += count
    caps: list[list[int]] = [[] for _ in range(k)]  # caps of the capped ones
    capped: list[tuple[int, int]] = []  # (place, cap) of each customer with its own cap
    if isinstance(cap_of, int):
        caps = [[cap_of] * size[g] for g in range(k)]
    elif cap_of:
        # the capped customers' places, in id order: one pass of lookups in the
        # caps (smaller than a table of every customer's place, see _Shares)
        cap_at = list(map(cap_of.get, ids))
        for i in itertools.compress(range(len(ids)), map(operator.is_not, cap_at, itertools.repeat(None))):
            cap = cap_at[i]
            assert cap is not None
            capped.append((i, cap))
            g = group_of[labels[i]]
            if g >= 0:
                caps[g].append(cap)
    free = [size[g] - len(caps[g]) for g in range(k)]  # uncapped customers per group
    prefix = []
    for c in caps:
        c.sort()
        prefix.append([0, *itertools.accumulate(c)])
    total_weight = sum((weights[g] * size[g] for g in range(k)), Fraction(0))
    target = supply if any(free) else min(supply, sum(p[-1] for p in prefix))

    # Water-filling: at level λ a customer's exact quota is λ × weight. Fix
    # every capped customer whose cap ≤ λ × weight at its cap, share what is
    # left among the others by weight (a new, higher λ), and repeat until no
    # one else reaches their cap. λ only grows, so the fixed set only grows.
    fixed = [0] * k  # per group: how many (those with the smallest caps) are fixed
    level = Fraction(0)
    while True:
        fixed_units = sum(prefix[g][fixed[g]] for g in range(k))
        weight_left = total_weight - sum(weights[g] * fixed[g] for g in range(k))
        if weight_left <= 0:
            break
        level = (target - fixed_units) / weight_left
        now = [bisect.bisect_right(caps[g], math.floor(level * weights[g])) for g in range(k)]
        if now == fixed:
            break
        fixed = now
    limit = [caps[g][fixed[g] - 1] if fixed[g] else -1 for g in range(k)]  # largest fixed cap

    # exact quotas and whole parts of the customers not held at their cap
    quota = [level * w for w in weights]
    base = [math.floor(q) for q in quota]
    whole = sum(prefix[g][fixed[g]] + base[g] * (size[g] - fixed[g]) for g in range(k))
    leftover = target - whole
    proportional = [supply * w / total_weight for w in weights]

    # Kinds: one per label (its customers uncapped, or all under the one
    # cap given), then one per (label, cap, held) met among customers with
    # their own cap.
    uniform = cap_of if isinstance(cap_of, int) else None
    kinds: list[tuple[str | None, int | None, bool]] = [
        (lab, uniform, uniform is not None and group_of[lab] >= 0 and uniform <= limit[group_of[lab]])
        for lab in label_weight
    ]
    code = {kind: c for c, kind in enumerate(kinds)}
    kind_at = list(map({lab: c for c, lab in enumerate(label_weight)}.__getitem__, labels))
    # customers held at their cap, per group
    held = [size[g] if uniform is not None and uniform <= limit[g] else 0 for g in range(k)]
    for i, cap in capped:
        lab = labels[i]
        g = group_of[lab]
        kind = (lab, cap, g >= 0 and cap <= limit[g])
        if kind[2]:
            held[g] += 1
        kc = code.get(kind)
        if kc is None:
            kc = code[kind] = len(kinds)
            kinds.append(kind)
        kind_at[i] = kc

    # Largest remainder: the queue for leftover units runs by larger
    # remainder, then higher weight (both per group), then id ascending
    # (places are in id order): a customer's rank is where its group starts
    # in the queue plus its place among its group's queued customers.
    queued = [size[g] - held[g] if quota[g] != base[g] else 0 for g in range(k)]
    start = [0] * k
    ahead = 0
    for g in sorted(range(k), key=lambda g: (-(quota[g] - base[g]), g)):
        start[g] = ahead
        ahead += queued[g]
    queue_of = [
        group_of[lab] if group_of[lab] >= 0 and queued[group_of[lab]] and not is_held else None
        for lab, _, is_held in kinds
    ]
    rank = _ranks(kind_at, queue_of, start)
    whole_of = [  # quantity before any leftover unit, per kind
        (cap or 0) if is_held else base[group_of[lab]] if group_of[lab] >= 0 else 0
        for lab, cap, is_held in kinds
    ]
    lucky = [r is not None and r <= leftover for r in rank]
    quantities = dict(zip(ids, map(operator.add, map(whole_of.__getitem__, kind_at), lucky), strict=True))
    ranked = collections.Counter({quota[g] - base[g]: 0 for g in range(k) if queued[g]})
    for g in range(k):
        if queued[g]:
            ranked[quota[g] - base[g]] += queued[g]
    shares = _Shares(
        ids=ids,
        kind_at=kind_at,
        kinds=kinds,
        whole_of=whole_of,
        rank=rank,
        leftover=leftover,
        label_weight=label_weight,
        group_of=group_of,
        quota=quota,
        base=base,
        proportional=proportional,
        total_weight=total_weight,
        remainder_counts=ranked,
    )
    return Allocation(supply=supply, quantities=quantities, shares=shares, leftover=leftover)


def _ranks(kind_at: list[int], queue_of: list[int | None], start: list[int]) -> list[int | None]:
    """Each customer's rank in the queue for leftover units (``None`` when not
    queued). ``kind_at`` gives each customer's kind in id order; per kind,
    ``queue_of`` is the weight group its customers queue with (``None``: they
    do not queue); per group, ``start`` is how many queue ahead of it.

    One counter per group, drawn in id order by the queued customers of its
    kinds: column-wise in C (``map``), with no fixed cost for small
    allocations.
    """
    counters = [itertools.count(s + 1).__next__ for s in start]
    none = itertools.repeat(None).__next__
    draw: list[Callable[[], int | None]] = [none if g is None else counters[g] for g in queue_of]
    return list(map(operator.call, map(draw.__getitem__, kind_at)))


class _Shares(Mapping[CustomerId, Share]):
    """Every customer's :class:`Share`, made when asked for.

    ``_solve`` works per weight group; a customer's share is its kind's
    figures (label, cap, held; its group's quota) plus its own rank, so
    keeping each customer's place, kind and rank and building the
    :class:`Share` on access keeps allocating (and explaining everyone)
    linear with a small constant.

    A customer's place in id order is found without hashing when it is the
    one after the customer asked for last (``for cid in alloc:
    alloc.explain(cid)``): at a million customers a lookup in a table of
    every customer's place misses the CPU's caches and was a third of an
    ``explain`` call (and building that table a quarter of ``allocate``), so
    the table is built only when a customer is asked for out of order.
    """

    def __init__(
        self,
        *,
        ids: list[CustomerId],
        kind_at: list[int],
        kinds: list[tuple[str | None, int | None, bool]],
        whole_of: list[int],
        rank: list[int | None],
        leftover: int,
        label_weight: Mapping[str | None, tuple[Fraction, bool]],
        group_of: Mapping[str | None, int],
        quota: list[Fraction],
        base: list[int],
        proportional: list[Fraction],
        total_weight: Fraction,
        remainder_counts: collections.Counter[Fraction],
    ) -> None:
        self._ids = ids
        self._next = 0  # the place after the customer asked for last
        self._pos_table: dict[CustomerId, int] | None = None
        self._kind_at = kind_at
        self._kinds = kinds
        self._whole_of = whole_of
        self._rank = rank
        self._leftover = leftover
        self._label_weight = label_weight
        self._group_of = group_of
        self._quota = quota
        self._base = base
        self._proportional = proportional
        self.total_weight = total_weight
        self.remainder_counts = remainder_counts

    @property
    def _pos(self) -> dict[CustomerId, int]:
        """Customer id -> place in id order, built on the first lookup out of order.
        Kept in an attribute set in ``__init__``: ``cached_property`` writes to
        the instance's ``__dict__``, which in CPython makes every later attribute
        read of the object slower (measured: the in-order test 95 -> 140 ns)."""
        if self._pos_table is None:
            self._pos_table = dict(zip(self._ids, range(len(self._ids)), strict=True))
        return self._pos_table

    def _place(self, cid: CustomerId) -> int:
        """``cid``'s place in id order (KeyError for an unknown customer). The
        place after the last one asked for is taken when the id there is
        ``cid`` itself (the same object: then it is that key of ``_pos``);
        otherwise ``_pos`` says."""
        i = self._next
        try:
            hit = self._ids[i] is cid
        except IndexError:  # the last customer was asked for last
            hit = False
        if not hit:
            i = self._pos[cid]
        self._next = i + 1
        return i

    def __getitem__(self, cid: CustomerId) -> Share:
        i = self._place(cid)
        label, cap, held = self._kinds[self._kind_at[i]]
        return self._share(cid, label, cap, held, self._rank[i])

    def _share(
        self, cid: CustomerId, label: str | None, cap: int | None, held: bool, rank: int | None
    ) -> Share:
        """The share of a customer of kind ``(label, cap, held)`` with ``rank``."""
        g = self._group_of[label]
        w, is_excluded = self._label_weight[label]
        if g < 0:
            zero = Fraction(0)
            q, b, p, u = zero, 0, zero, zero
        elif held:
            q, b, p, u = Fraction(cap or 0), cap or 0, self._proportional[g], self._quota[g]
        else:
            q, b, p, u = self._quota[g], self._base[g], self._proportional[g], self._quota[g]
        return Share(
            customer_id=cid,
            label=label,
            weight=w,
            cap=cap,
            proportional=p,
            uncapped_quota=u,
            quota=q,
            base=b,
            extra=rank is not None and rank <= self._leftover,
            rank=rank,
            capped=held,
            excluded=is_excluded,
        )

    def _extra(self) -> list[bool]:
        """Per customer in id order: whether it got a leftover unit."""
        leftover = self._leftover
        return [r is not None and r <= leftover for r in self._rank]

    def _share_of_kind(self, kind: int) -> Share:
        """What customers of one kind share: a :class:`Share` with no id and no rank."""
        label, cap, held = self._kinds[kind]
        return self._share(None, label, cap, held, None)

    def columns(self) -> dict[str, list[Any]]:
        """The columns of :func:`_share_columns` from the working: what a customer's
        :class:`Share` says is its kind's (label, weight, cap, exact quota, capped)
        but for its rank, so each figure is made once per kind and spread over the
        customers column-wise (``map``, in C)."""
        per_kind = [self._share_of_kind(k) for k in range(len(self._kinds))]
        kind_at = self._kind_at
        extra = self._extra()

        def spread(values: list[Any]) -> list[Any]:
            return list(map(values.__getitem__, kind_at))

        return {
            "customer_id": list(self._ids),
            "label": spread([s.label for s in per_kind]),
            "weight": spread([float(s.weight) for s in per_kind]),
            "cap": spread([s.cap for s in per_kind]),
            "quota": spread([float(s.quota) for s in per_kind]),
            "quantity": list(map(operator.add, spread([s.base for s in per_kind]), extra)),
            "capped": spread([s.capped for s in per_kind]),
            "rounded_up": extra,
        }

    def label_totals(self) -> tuple[dict[str | None, int], dict[str | None, Fraction]]:
        """Units and weight per label (labels with customers only), counted per kind."""
        count = collections.Counter(self._kind_at)
        extras = collections.Counter(itertools.compress(self._kind_at, self._extra()))
        totals: dict[str | None, int] = {}
        weight: dict[str | None, Fraction] = {}
        for kind, n in count.items():
            s = self._share_of_kind(kind)
            totals[s.label] = totals.get(s.label, 0) + s.base * n + extras[kind]
            weight[s.label] = s.weight
        return totals, weight

    def explain(self, cid: CustomerId, alloc: Allocation, zh: bool) -> str:
        """``alloc.explain(cid)`` from the working, without building the :class:`Share`
        (KeyError for an unknown customer)."""
        i = self._place(cid)
        kind = self._kind_at[i]
        bodies = alloc._bodies[zh]
        body = bodies[kind]
        if body is None:
            body = bodies[kind] = _share_body(self[cid], alloc, zh)
        rank = self._rank[i]
        extra = rank is not None and rank <= self._leftover
        return _explain_text(body, zh, cid, self._whole_of[kind] + extra, rank, extra)

    def __iter__(self) -> Iterator[CustomerId]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, cid: object) -> bool:
        return cid in self._pos


# ---------------------------------------------------------------------------
# validation


def _as_count(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}") from None
    if n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n}")
    return n


def _as_weight(value: Any, what: str) -> Fraction:
    bad = ValueError(f"{what} must be a non-negative finite number, got {value!r}")
    try:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, numbers.Rational):
            w = Fraction(int(value.numerator), int(value.denominator))
        elif isinstance(value, float | Decimal):
            w = Fraction(value)
        elif isinstance(value, numbers.Real):
            w = Fraction(float(value))
        else:
            raise bad
    except (TypeError, ValueError, OverflowError):
        raise bad from None
    if w < 0:
        raise bad
    return w


def _as_labels(exclude: Iterable[str]) -> frozenset[str]:
    if isinstance(exclude, str):
        return frozenset({exclude})
    return frozenset(exclude)


def _as_weights(weights: Mapping[str, Any], excluded: frozenset[str]) -> dict[str, Fraction]:
    if not isinstance(weights, Mapping):
        raise ValueError(f"weights must be a mapping label -> number, got {type(weights).__name__}")
    out: dict[str, Fraction] = {}
    for label, value in weights.items():
        w = _as_weight(value, f"weight for label {label!r}")
        if label in excluded and w > 0:
            raise ValueError(
                f"label {label!r} is excluded (it always gets nothing) but has weight {value!r}; "
                "give it weight 0 or leave it out of exclude="
            )
        out[label] = w
    return out


def _as_caps(
    caps: Any, decisions: Any, entries: list[tuple[CustomerId, str | None]]
) -> dict[CustomerId, int] | int | None:
    """Caps checked: ``None`` (no caps), one int for every customer, or customer id → cap
    (the uncapped left out). ``entries`` are the customers read from ``decisions``."""
    if caps is None:
        return None
    if not isinstance(caps, Mapping):
        return _as_count(caps, "caps")
    # a dict's keys are its customers: no set of every id to build
    known = decisions.keys() if type(decisions) is dict else {cid for cid, _ in entries}
    out: dict[CustomerId, int] = {}
    for cid, value in caps.items():
        if cid not in known:
            raise ValueError(f"caps names customer {cid!r}, which is not among the customers to allocate to")
        if value is not None:
            out[cid] = _as_count(value, f"cap for customer {cid!r}")
    return out


def _close(word: str, options: list[str]) -> list[str]:
    same = [o for o in options if o.casefold() == word.casefold()]
    return same or difflib.get_close_matches(word, options, n=1)


def _id_key(cid: CustomerId) -> tuple[int, Any]:
    """Sort key for customer ids: ints, then strings, then anything by repr."""
    if isinstance(cid, int) and not isinstance(cid, bool):
        return (0, cid)
    if isinstance(cid, str):
        return (1, cid)
    return (2, repr(cid))


# ---------------------------------------------------------------------------
# reading the decisions


def _entries(
    decisions: Any, *, scheme: str | None, id_column: str, label_column: str | None
) -> list[tuple[CustomerId, str | None]]:
    module = type(decisions).__module__ or ""
    if module.startswith("polars") and type(decisions).__name__ == "LazyFrame":
        decisions = decisions.collect()
    if module.startswith(("polars", "pandas")) and hasattr(decisions, "columns"):
        return _from_frame(decisions, module, id_column, label_column or scheme or "label")
    if isinstance(decisions, Mapping):
        return [
            (cid, v if v is None or type(v) is str else _label_of(v, scheme, cid))
            for cid, v in decisions.items()
        ]
    if isinstance(decisions, str | bytes) or not isinstance(decisions, Iterable):
        raise ValueError(
            "decisions must be a mapping customer id -> label, an iterable of Decision or Profile, "
            f"or a polars/pandas DataFrame; got {type(decisions).__name__}"
        )
    out: list[tuple[CustomerId, str | None]] = []
    seen: set[CustomerId] = set()
    for i, item in enumerate(decisions):
        if isinstance(item, Decision):
            cid: Any = item.record_id
        elif isinstance(item, Profile):
            cid = item.customer_id
        else:
            raise ValueError(
                f"decisions[{i}] is a {type(item).__name__}; expected a Decision or Profile "
                "(or pass a mapping customer id -> label)"
            )
        if cid is None:
            raise ValueError(f"decisions[{i}] has no customer id (record_id is None)")
        if cid in seen:
            raise ValueError(f"customer {cid!r} appears more than once in decisions")
        seen.add(cid)
        out.append((cid, _label_of(item, scheme, cid)))
    return out


def _label_of(value: Any, scheme: str | None, cid: CustomerId) -> str | None:
    if isinstance(value, Decision):
        if scheme is not None and value.scheme != scheme:
            raise ValueError(
                f"the decision for customer {cid!r} is for scheme {value.scheme!r}, not {scheme!r}"
            )
        return value.label
    if isinstance(value, Profile):
        if scheme is None:
            raise ValueError("decisions holds profiles: pass scheme= to say whose label to use")
        try:
            return value[scheme].label
        except KeyError as exc:
            raise ValueError(f"customer {cid!r} has no decision for scheme {scheme!r}: {exc}") from None
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"the label for customer {cid!r} must be a string or None, got {value!r}")


def _from_frame(
    frame: Any, module: str, id_column: str, label_column: str
) -> list[tuple[CustomerId, str | None]]:
    columns = [str(c) for c in frame.columns]
    for col, arg in ((id_column, "id_column"), (label_column, "label_column")):
        if col not in columns:
            raise ValueError(f"the frame has no column {col!r} (set {arg}=); columns: {', '.join(columns)}")
    if module.startswith("polars"):
        ids = frame.get_column(id_column).to_list()
        labels = frame.get_column(label_column).to_list()
    else:
        ids = frame[id_column].tolist()
        labels = frame[label_column].tolist()
    out: list[tuple[CustomerId, str | None]] = []
    seen: set[CustomerId] = set()
    for row, (cid, label) in enumerate(zip(ids, labels, strict=True)):
        if cid is None or (isinstance(cid, float) and math.isnan(cid)):
            raise ValueError(f"row {row} of the frame has no customer id in column {id_column!r}")
        if cid in seen:
            raise ValueError(f"customer {cid!r} appears more than once in column {id_column!r}")
        seen.add(cid)
        if isinstance(label, float) and math.isnan(label):
            label = None
        out.append((cid, _label_of(label, None, cid)))
    return out


# ---------------------------------------------------------------------------
# text


def _num(x: Fraction | int) -> str:
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    text = f"{float(x):.3f}".rstrip("0").rstrip(".")
    return text if text not in ("0", "-0") else f"{float(x):.3g}"


def _int_dtype(values: list[Any], column: str) -> Any:
    """The polars integer type that holds ``values`` (whole numbers, ``None``
    for none): 64-bit when they fit, else 128-bit; beyond that a clear error."""
    import polars as pl

    present = [v for v in values if v is not None]
    low, high = (min(present), max(present)) if present else (0, 0)
    if low >= -(2**63) and high < 2**63:
        return pl.Int64
    if low >= -(2**127) and high < 2**127:
        return pl.Int128
    raise ValueError(
        f"Allocation.to_frame: column {column!r} holds {high if high >= 2**127 else low}, beyond 128 bits"
    )


def _label_text(label: str | None, zh: bool) -> str:
    if label is None:
        return "未分类" if zh else "unclassified"
    return label


_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


#: What customers with the same label, cap and capped state share in their
#: explanation: the end of the first line (label and weight), the lines
#: after it (each after its newline), and (for those in the queue for
#: leftover units) the rounding line's text before the whole part (from its
#: newline), between it and the rank, and its end with and without the
#: extra unit.
_Body = tuple[str, str, tuple[str, str, str, str] | None]


def _explain_text(
    body: _Body, zh: bool, cid: CustomerId, quantity: int, rank: int | None, extra: bool
) -> str:
    """One customer's explanation: the part it shares with customers of the
    same label, cap and capped state (``body``, from :func:`_share_body`)
    around the figures that are its own."""
    head_tail, lines, queued = body
    if zh:
        head = f"客户 {cid}：{quantity} 单位（{head_tail}{lines}"
    else:
        head = f"customer {cid}: {quantity}{' unit' if quantity == 1 else ' units'} {head_tail}{lines}"
    if queued is None or rank is None:
        return head
    before, between, got_yes, got_no = queued
    if zh:
        return f"{head}{before}{quantity - extra}{between}{rank}{got_yes if extra else got_no}"
    th = "th" if 10 <= rank % 100 <= 20 else _SUFFIX.get(rank % 10, "th")
    return f"{head}{before}{quantity - extra}{between}{rank}{th}{got_yes if extra else got_no}"


def _lines(lines: list[str]) -> str:
    return "".join(f"\n{line}" for line in lines)


def _share_body(s: Share, alloc: Allocation, zh: bool) -> _Body:
    """The part of ``s``'s explanation it shares with customers of the same label, cap and capped state."""
    label = _label_text(s.label, zh)
    weight = _num(s.weight)
    head = f"{label}，权重 {weight}）" if zh else f"(label {label}, weight {weight})"
    lines: list[str] = []
    if s.excluded:
        lines.append(f"  标签 {label} 被排除，不分配" if zh else f"  label {label} is excluded: gets nothing")
        return head, _lines(lines), None
    if s.weight == 0:
        lines.append("  权重为 0，不分配" if zh else "  weight 0: gets nothing")
        return head, _lines(lines), None
    total_weight = alloc._total_weight
    share = s.weight / total_weight
    pct = f"{float(share) * 100:.2f}%"
    if zh:
        lines.append(f"  权重占比：{weight} / {_num(total_weight)} = {pct}")
        lines.append(f"  按比例应得：{alloc.supply} × {pct} = {_num(s.proportional)}")
    else:
        lines.append(f"  weight share: {weight} of {_num(total_weight)} = {pct}")
        lines.append(f"  proportional share: {alloc.supply} × {pct} = {_num(s.proportional)}")
    cap = "无" if zh else "none"
    if s.cap is not None:
        cap = str(s.cap)
    if s.capped:
        if s.proportional >= s.quota:
            lost = s.proportional - s.quota
            if lost == 0:
                lines.append(
                    f"  上限 {cap} 恰好等于应得：得到 {cap}"
                    if zh
                    else f"  cap {cap} equals its share: gets {cap}"
                )
            elif zh:
                lines.append(f"  上限 {cap} 生效：得到 {cap}；放不下的 {_num(lost)} 按权重分给其他客户")
            else:
                lines.append(
                    f"  cap {cap} binds: gets {cap}; the {_num(lost)} it cannot take went to the others by weight"
                )
        elif zh:
            lines.append(
                f"  上限 {cap} 在重新分配后生效：加上其他客户因上限放不下的部分，"
                f"按权重应得 {_num(s.uncapped_quota)}，得到 {cap}"
            )
        else:
            lines.append(
                f"  cap {cap} binds after redistribution: with the units capped customers could not take, "
                f"its share by weight would be {_num(s.uncapped_quota)}; gets {cap}"
            )
        return head, _lines(lines), None
    gain = s.quota - s.proportional
    if gain > 0:
        lines.append(
            f"  精确配额：{_num(s.quota)}（含其他客户受上限限制后重新分配的 {_num(gain)}）"
            if zh
            else f"  exact quota: {_num(s.quota)} (including {_num(gain)} redistributed from capped customers)"
        )
    else:
        lines.append(f"  精确配额：{_num(s.quota)}" if zh else f"  exact quota: {_num(s.quota)}")
    lines.append(f"  上限：{cap}" if zh else f"  cap: {cap}")
    if s.quota == s.base:
        lines.append(
            f"  取整：配额为整数，得到 {s.base}" if zh else f"  rounding: the quota is whole, gets {s.base}"
        )
        return head, _lines(lines), None
    remainder = _num(s.remainder)
    ties = alloc._remainder_counts[s.remainder] - 1  # the others with the same remainder
    leftover = alloc.leftover
    if zh:
        tie = f"（与 {ties} 个客户余数相同，依次按权重较高、客户编号较小排序）" if ties else ""
        before, between = "\n  取整（最大余数法）：整数部分 ", f"，余数 {remainder} 排第 "
        tail = f" 位，剩余 {leftover} 个单位 → "
        return head, _lines(lines), (before, between, f"{tail}加 1{tie}", f"{tail}不加{tie}")
    tie = (
        f" (tied on remainder with {ties} other{'s' if ties > 1 else ''}; "
        "order: higher weight, then smaller customer id)"
        if ties
        else ""
    )
    before, between = "\n  rounding (largest remainder): whole part ", f", remainder {remainder} ranks "
    tail = f" for {leftover} leftover unit{'s' if leftover != 1 else ''} → "
    return head, _lines(lines), (before, between, f"{tail}+1{tie}", f"{tail}no extra unit{tie}")
