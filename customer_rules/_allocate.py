"""Allocate a scarce product among customers by the weight of their grade.

``allocate(supply, decisions, weights, caps=None)`` splits an integer supply
into integer quantities, one per customer, in proportion to the weight of
each customer's label (e.g. the ``retail_license_grade`` grades ``A5`` …
``C``). The quantities sum exactly to the supply, or to what the caps allow
when that is less.

How (see ``docs/allocation.md``):

1. Every customer's *exact quota* is ``supply × weight / total weight``,
   computed with exact fractions (no floating-point drift).
2. Caps: a customer whose exact quota exceeds its cap gets its cap; what it
   cannot take is shared among the uncapped customers, again by weight, and
   so on until no cap is exceeded (water-filling).
3. Rounding (largest remainder, Hamilton): everyone gets the whole part of
   their exact quota; the units left over go one each to the customers with
   the largest fractional remainders.
4. Ties for a leftover unit are broken by the larger remainder, then the
   higher weight, then the customer id ascending (ints before strings, each
   in natural order) — never by input order.

Labels in ``exclude`` (default ``suspended``) and labels with weight 0 get
nothing.
"""

from __future__ import annotations

import html
import math
import numbers
import operator
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ._decision import Decision, Profile

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Allocation", "Share", "allocate"]

CustomerId = Hashable


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Share:
    """How one customer's quantity came about.

    ``weight`` is the weight used (0 for excluded labels); ``cap`` is
    ``None`` when uncapped; ``proportional`` is the customer's share of the
    supply before any cap (``supply × weight / total weight``); ``quota`` the
    exact (fractional) quota after caps were applied and the surplus
    redistributed; ``base`` its whole part; ``extra`` whether a leftover
    unit was added; ``rank`` the position in the queue for leftover units
    (1-based; ``None`` when the remainder is 0); ``capped`` whether the cap
    decided the quantity.
    """

    customer_id: CustomerId
    label: str | None
    weight: Fraction
    cap: int | None
    proportional: Fraction
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
    shares: dict[CustomerId, Share] = field(repr=False)
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
        try:
            s = self.shares[customer_id]
        except KeyError:
            raise KeyError(f"customer {customer_id!r} is not in this allocation") from None
        return _explain_share(s, self, lang == "zh")

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
        shares = list(self.shares.values())
        ids: list[Any] = [s.customer_id for s in shares]
        if len({type(i) for i in ids}) > 1:
            ids = [str(i) for i in ids]
        return pl.DataFrame(
            {
                "customer_id": ids,
                "label": [s.label for s in shares],
                "weight": [float(s.weight) for s in shares],
                "cap": [s.cap for s in shares],
                "quota": [float(s.quota) for s in shares],
                "quantity": [s.quantity for s in shares],
                "capped": [s.capped for s in shares],
                "rounded_up": [s.extra for s in shares],
            },
            schema_overrides={"label": pl.String, "cap": pl.Int64, "quantity": pl.Int64},
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


# ---------------------------------------------------------------------------
# the function


def allocate(
    supply: int,
    decisions: Any,
    weights: Mapping[str, float | int | Fraction],
    caps: Mapping[CustomerId, int] | int | None = None,
    *,
    scheme: str | None = None,
    id_column: str = "id",
    label_column: str | None = None,
    missing_weight: float | int | Fraction | None = None,
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
            non-negative int (customers absent are uncapped; an id that is
            not among the customers raises ``ValueError``), or one int for
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
    cap_of = _as_caps(caps, [cid for cid, _ in entries])

    # weights per customer
    people: list[tuple[CustomerId, str | None, Fraction, bool]] = []
    for cid, label in entries:
        if label is not None and label in excluded:
            people.append((cid, label, Fraction(0), True))
            continue
        w = weight_of.get(label) if label is not None else None
        if w is None:
            if fallback is None:
                what = f"customer {cid!r} is unclassified" if label is None else f"label {label!r}"
                known = ", ".join(repr(k) for k in weight_of) or "none"
                raise ValueError(
                    f"no weight for {what} (weights given for: {known}); "
                    "add it to weights or pass missing_weight=0"
                )
            w = fallback
        people.append((cid, label, w, False))
    people.sort(key=lambda p: _id_key(p[0]))

    # water-filling on exact quotas: fix customers whose cap is below their
    # share, redistribute the rest by weight among the others, repeat.
    positive = [(cid, w) for cid, _, w, _ in people if w > 0]
    total_weight = sum((w for _, w in positive), Fraction(0))
    if any(cap_of.get(cid) is None for cid, _ in positive):
        target = supply_n
    else:
        target = min(supply_n, sum(cap_of[cid] or 0 for cid, _ in positive))
    remaining = Fraction(target)
    weight_left = total_weight
    capped: set[CustomerId] = set()
    by_ratio = sorted(
        ((cid, w) for cid, w in positive if cap_of.get(cid) is not None),
        key=lambda p: (Fraction(cap_of[p[0]] or 0) / p[1], _id_key(p[0])),
    )
    for cid, w in by_ratio:
        cap = cap_of[cid] or 0
        # cap / w <= remaining / weight_left, without dividing
        if weight_left > 0 and cap * weight_left <= remaining * w:
            capped.add(cid)
            remaining -= cap
            weight_left -= w
        else:
            break
    level = remaining / weight_left if weight_left > 0 else Fraction(0)

    quotas: dict[CustomerId, Fraction] = {}
    for cid, _, w, _ in people:
        if w <= 0:
            quotas[cid] = Fraction(0)
        elif cid in capped:
            quotas[cid] = Fraction(cap_of[cid] or 0)
        else:
            quotas[cid] = level * w

    # largest remainder: whole parts first, then one unit each down the queue
    bases = {cid: math.floor(q) for cid, q in quotas.items()}
    leftover = target - sum(bases.values())
    weights_by_id = {cid: w for cid, _, w, _ in people}
    queue = sorted(
        (cid for cid, q in quotas.items() if q != bases[cid]),
        key=lambda c: (-(quotas[c] - bases[c]), -weights_by_id[c], _id_key(c)),
    )
    rank = {cid: i + 1 for i, cid in enumerate(queue)}
    lucky = set(queue[:leftover])

    shares: dict[CustomerId, Share] = {}
    for cid, label, w, is_excluded in people:
        cap = cap_of.get(cid)
        shares[cid] = Share(
            customer_id=cid,
            label=label,
            weight=w,
            cap=cap,
            proportional=supply_n * w / total_weight if w > 0 else Fraction(0),
            quota=quotas[cid],
            base=bases[cid],
            extra=cid in lucky,
            rank=rank.get(cid),
            capped=cid in capped,
            excluded=is_excluded,
        )
    quantities = {cid: s.quantity for cid, s in shares.items()}
    return Allocation(supply=supply_n, quantities=quantities, shares=shares, leftover=leftover)


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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad
    try:
        w = Fraction(value)  # type: ignore[arg-type]
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


def _as_caps(caps: Any, ids: list[CustomerId]) -> dict[CustomerId, int | None]:
    if caps is None:
        return {}
    if not isinstance(caps, Mapping):
        n = _as_count(caps, "caps")
        return dict.fromkeys(ids, n)
    known = set(ids)
    out: dict[CustomerId, int | None] = {}
    for cid, value in caps.items():
        if cid not in known:
            raise ValueError(f"caps names customer {cid!r}, which is not among the customers to allocate to")
        out[cid] = _as_count(value, f"cap for customer {cid!r}")
    return out


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
    if module.startswith(("polars", "pandas")) and hasattr(decisions, "columns"):
        return _from_frame(decisions, module, id_column, label_column or scheme or "label")
    if isinstance(decisions, Mapping):
        return [(cid, _label_of(v, scheme, cid)) for cid, v in decisions.items()]
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
    if module.startswith("polars") and hasattr(frame, "collect") and not hasattr(frame, "get_column"):
        frame = frame.collect()  # a LazyFrame
    columns = [str(c) for c in frame.columns]
    for col, arg in ((id_column, "id_column"), (label_column, "label_column")):
        if col not in columns:
            raise ValueError(
                f"the frame has no column {col!r} (set {arg}=); columns: {', '.join(columns)}"
            )
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


def _label_text(label: str | None, zh: bool) -> str:
    if label is None:
        return "未分类" if zh else "unclassified"
    return label


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _explain_share(s: Share, alloc: Allocation, zh: bool) -> str:
    label = _label_text(s.label, zh)
    unit = "" if zh else (" unit" if s.quantity == 1 else " units")
    lines = [
        f"客户 {s.customer_id}：{s.quantity} 单位（{label}，权重 {_num(s.weight)}）"
        if zh
        else f"customer {s.customer_id}: {s.quantity}{unit} (label {label}, weight {_num(s.weight)})"
    ]
    if s.excluded:
        lines.append(f"  标签 {label} 被排除，不分配" if zh else f"  label {label} is excluded: gets nothing")
        return "\n".join(lines)
    if s.weight == 0:
        lines.append("  权重为 0，不分配" if zh else "  weight 0: gets nothing")
        return "\n".join(lines)
    total_weight = sum((x.weight for x in alloc.shares.values()), Fraction(0))
    share = s.weight / total_weight
    pct = f"{float(share) * 100:.2f}%"
    if zh:
        lines.append(f"  权重占比：{_num(s.weight)} / {_num(total_weight)} = {pct}")
        lines.append(f"  按比例应得：{alloc.supply} × {pct} = {_num(s.proportional)}")
    else:
        lines.append(f"  weight share: {_num(s.weight)} of {_num(total_weight)} = {pct}")
        lines.append(f"  proportional share: {alloc.supply} × {pct} = {_num(s.proportional)}")
    cap = "无" if zh else "none"
    if s.cap is not None:
        cap = str(s.cap)
    if s.capped:
        lost = s.proportional - s.quota
        if zh:
            lines.append(f"  上限 {cap} 生效：得到上限；超出的 {_num(lost)} 按权重分给其他客户")
        else:
            lines.append(
                f"  cap {cap} binds: gets its cap; the {_num(lost)} above it went to the others by weight"
            )
        return "\n".join(lines)
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
    if s.rank is None:
        lines.append(
            f"  取整：配额为整数，得到 {s.base}" if zh else f"  rounding: the quota is whole, gets {s.base}"
        )
    else:
        ties = sum(
            1 for x in alloc.shares.values() if x is not s and x.rank is not None and x.remainder == s.remainder
        )
        if zh:
            got = "加 1" if s.extra else "不加"
            tie = f"（与 {ties} 个客户余数相同，依次按权重较高、客户编号较小排序）" if ties else ""
            lines.append(
                f"  取整（最大余数法）：整数部分 {s.base}，余数 {_num(s.remainder)} 排第 {s.rank} 位，"
                f"剩余 {alloc.leftover} 个单位 → {got}{tie}"
            )
        else:
            got = "+1" if s.extra else "no extra unit"
            tie = (
                f" (tied on remainder with {ties} other{'s' if ties > 1 else ''}; "
                "order: higher weight, then smaller customer id)"
                if ties
                else ""
            )
            lines.append(
                f"  rounding (largest remainder): whole part {s.base}, remainder {_num(s.remainder)} "
                f"ranks {_ordinal(s.rank)} for {alloc.leftover} leftover unit"
                f"{'s' if alloc.leftover != 1 else ''} → {got}{tie}"
            )
    return "\n".join(lines)
