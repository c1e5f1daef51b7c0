"""Sets of inputs as unions of boxes, for the static analysis of policies.

A *variable* is one thing a condition reads: a record field (``exact``: a
witness record can set it directly) or an opaque value such as a feature,
a population-relative test or arithmetic over several fields (not exact:
only its type is known). Each variable has a domain — numbers (intervals,
whole or not, within the record schema's bounds), strings (an enum, or any
text), booleans — plus, for most variables, *missing*.

A :class:`Dom` is a subset of one variable's domain; a box maps variables
to subsets (a variable not named is unconstrained); a region is a union of
boxes. Intersection, difference and complement are exact, so emptiness of
a region is decided exactly. Regions that would grow past
:data:`MAX_BOXES` raise :class:`TooComplex`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

INF = math.inf
MAX_BOXES = 1000
#: Up to this many boxes, simplify drops the boxes inside another one.
_PAIRWISE = 60
#: Box operations one question may take before the analysis gives up on it.
BUDGET = 30_000

NUM = "num"
STR = "str"
BOOL = "bool"


class TooComplex(Exception):
    """A region grew past :data:`MAX_BOXES` boxes."""


@dataclass(frozen=True)
class Iv:
    """An interval of numbers; ``lo_in``/``hi_in`` say whether the ends belong."""

    lo: float
    hi: float
    lo_in: bool = True
    hi_in: bool = True

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_in and self.hi_in))

    def __str__(self) -> str:
        if self.lo == self.hi:
            return _num(self.lo)
        left = "[" if self.lo_in else "("
        right = "]" if self.hi_in else ")"
        return f"{left}{_num(self.lo)}, {_num(self.hi)}{right}"


def _num(x: float) -> str:
    if x in (INF, -INF):
        return "∞" if x > 0 else "-∞"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Var:
    """One value conditions read.

    ``kind`` is num, str or bool; ``exact`` is true for record fields;
    ``nullable`` whether it can be missing; ``integer``, ``ge``, ``le`` bound
    numbers; ``enum`` lists the allowed strings (None: any text);
    ``date`` marks numbers that are date ordinals; ``path`` is the record
    field a witness sets, ``member`` the item of a list field ``path``
    whose presence this boolean variable stands for.
    """

    key: str
    kind: str
    exact: bool = True
    nullable: bool = True
    integer: bool = False
    ge: float = -INF
    le: float = INF
    enum: tuple[str, ...] | None = None
    date: bool = False
    path: str | None = None
    member: str | None = None


@dataclass(frozen=True)
class Dom:
    """A subset of one variable's values: ``missing`` plus numbers, strings or booleans.

    Strings are ``strs`` when ``co`` is false, every string except ``strs``
    when it is true.
    """

    missing: bool = False
    ivs: tuple[Iv, ...] = ()
    strs: frozenset[str] = frozenset()
    co: bool = False
    bools: frozenset[bool] = frozenset()

    def __hash__(self) -> int:
        # the hash dataclass would give, computed once: the analysis looks
        # domains up in its caches hundreds of thousands of times
        h: int | None = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.missing, self.ivs, self.strs, self.co, self.bools))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict[str, Any]:
        # string hashes differ between processes: never carry one over
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}


def _norm_int(iv: Iv) -> Iv:
    lo = iv.lo
    if lo not in (INF, -INF):
        lo = float(math.ceil(lo)) if (iv.lo_in or not float(lo).is_integer()) else lo + 1
    hi = iv.hi
    if hi not in (INF, -INF):
        hi = float(math.floor(hi)) if (iv.hi_in or not float(hi).is_integer()) else hi - 1
    return Iv(lo, hi, True, True)


def _iv_and(a: Iv, b: Iv) -> Iv:
    if a.lo > b.lo:
        lo, lo_in = a.lo, a.lo_in
    elif b.lo > a.lo:
        lo, lo_in = b.lo, b.lo_in
    else:
        lo, lo_in = a.lo, a.lo_in and b.lo_in
    if a.hi < b.hi:
        hi, hi_in = a.hi, a.hi_in
    elif b.hi < a.hi:
        hi, hi_in = b.hi, b.hi_in
    else:
        hi, hi_in = a.hi, a.hi_in and b.hi_in
    return Iv(lo, hi, lo_in, hi_in)


def _ivs_complement(ivs: tuple[Iv, ...]) -> tuple[Iv, ...]:
    out: list[Iv] = []
    lo, lo_in = -INF, True
    for iv in sorted(ivs, key=lambda i: (i.lo, not i.lo_in)):
        gap = Iv(lo, iv.lo, lo_in, not iv.lo_in)
        if not gap.empty():
            out.append(gap)
        lo, lo_in = iv.hi, not iv.hi_in
    tail = Iv(lo, INF, lo_in, True)
    if not tail.empty():
        out.append(tail)
    return tuple(out)


class Space:
    """The variables of one analysis and the operations on their domains and boxes."""

    def __init__(self) -> None:
        self.vars: dict[str, Var] = {}
        self.left = BUDGET
        self._full: dict[str, Dom] = {}
        self._not: dict[tuple[str, Dom], Dom] = {}
        self._and: dict[tuple[str, Dom, Dom], Dom] = {}
        # (variable, domain) pairs numbered once, so that the subset tests of
        # simplify look small integers up instead of hashing domains
        self._ids: dict[tuple[str, Dom], int] = {}
        self._doms: list[tuple[str, Dom]] = []
        self._full_id: dict[str, int] = {}
        self._sub: dict[tuple[int, int], bool] = {}
        self._hull: dict[int, tuple[float, float, float]] = {}
        self._cuts: dict[tuple[str, Dom, Dom], tuple[Dom, bool, bool, bool, Dom, bool]] = {}

    def renew(self, budget: int = BUDGET) -> None:
        """Give the next question a fresh budget of box operations."""
        self.left = budget

    def _spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise TooComplex("the conditions split into too many cases")

    def add(self, var: Var) -> Var:
        return self.vars.setdefault(var.key, var)

    # -- domains ---------------------------------------------------------------
    def _clip(self, var: Var, ivs: Iterable[Iv]) -> tuple[Iv, ...]:
        base = Iv(var.ge, var.le)
        out = []
        for iv in ivs:
            iv = _iv_and(iv, base)
            if var.integer:
                iv = _norm_int(iv)
            if not iv.empty():
                out.append(iv)
        return tuple(sorted(out, key=lambda i: (i.lo, not i.lo_in)))

    def full(self, var: Var) -> Dom:
        d = self._full.get(var.key)
        if d is None:
            d = self._full[var.key] = self.present(var, missing=var.nullable)
        return d

    def present(self, var: Var, missing: bool = False) -> Dom:
        if var.kind == NUM:
            return Dom(missing, ivs=self._clip(var, [Iv(-INF, INF)]))
        if var.kind == STR:
            if var.enum is not None:
                return Dom(missing, strs=frozenset(var.enum))
            return Dom(missing, co=True)
        return Dom(missing, bools=frozenset((True, False)))

    def nums(self, var: Var, ivs: Iterable[Iv]) -> Dom:
        return Dom(False, ivs=self._clip(var, ivs))

    def strings(self, var: Var, values: Iterable[str], co: bool = False) -> Dom:
        vals = frozenset(values)
        if var.enum is not None:
            vals = frozenset(var.enum) - vals if co else vals & frozenset(var.enum)
            return Dom(False, strs=vals)
        return Dom(False, strs=vals, co=co)

    def bools(self, values: Iterable[bool]) -> Dom:
        return Dom(False, bools=frozenset(values))

    def d_and(self, var: Var, a: Dom, b: Dom) -> Dom:
        if a == b:
            return a
        key = (var.key, a, b)
        d = self._and.get(key)
        if d is None:
            d = self._and[key] = self._d_and(var, a, b)
        return d

    def _d_and(self, var: Var, a: Dom, b: Dom) -> Dom:
        missing = a.missing and b.missing
        if var.kind == NUM:
            ivs = [_iv_and(x, y) for x in a.ivs for y in b.ivs]
            return Dom(missing, ivs=self._clip(var, ivs))
        if var.kind == STR:
            if a.co and b.co:
                return Dom(missing, strs=a.strs | b.strs, co=True)
            if a.co:
                return Dom(missing, strs=b.strs - a.strs)
            if b.co:
                return Dom(missing, strs=a.strs - b.strs)
            return Dom(missing, strs=a.strs & b.strs)
        return Dom(missing, bools=a.bools & b.bools)

    def d_not(self, var: Var, a: Dom) -> Dom:
        """The complement of ``a`` within the variable's full domain."""
        key = (var.key, a)
        d = self._not.get(key)
        if d is None:
            d = self._not[key] = self._d_not(var, a)
        return d

    def _d_not(self, var: Var, a: Dom) -> Dom:
        missing = var.nullable and not a.missing
        if var.kind == NUM:
            return Dom(missing, ivs=self._clip(var, _ivs_complement(a.ivs)))
        if var.kind == STR:
            if var.enum is not None:
                return Dom(missing, strs=frozenset(var.enum) - a.strs)
            return Dom(missing, strs=a.strs, co=not a.co)
        return Dom(missing, bools=frozenset((True, False)) - a.bools)

    def d_empty(self, var: Var, a: Dom) -> bool:
        if a.missing:
            return False
        if var.kind == NUM:
            return not a.ivs
        if var.kind == STR:
            return not a.co and not a.strs
        return not a.bools

    def d_full(self, var: Var, a: Dom) -> bool:
        return self.d_empty(var, self.d_not(var, a))

    def d_subset(self, var: Var, a: Dom, b: Dom) -> bool:
        return self.d_empty(var, self.d_and(var, a, self.d_not(var, b)))

    # -- boxes -------------------------------------------------------------------
    def b_and(self, a: Box, b: Box) -> Box | None:
        out = dict(a)
        for k, d in b.items():
            if k in out:
                var = self.vars[k]
                d = self.d_and(var, out[k], d)
                if self.d_empty(var, d):
                    return None
            out[k] = d
        return _clean(self, out)

    def b_disjoint(self, a: Box, b: Box) -> bool:
        """Whether ``b_and(a, b)`` is None, without building the intersection."""
        for k, d in b.items():
            da = a.get(k)
            if da is not None:
                var = self.vars[k]
                if self.d_empty(var, self.d_and(var, da, d)):
                    return True
        return False

    def b_minus(self, a: Box, b: Box) -> list[Box]:
        """``a`` without ``b``, as disjoint boxes (what :meth:`b_minus_reference` gives)."""
        self._spend(1 + len(b))
        cuts = []
        for k, db in b.items():
            var = self.vars[k]
            da = a.get(k)
            c = self._cut(var, self.full(var) if da is None else da, db)
            if da is not None and c[3]:
                return [a]  # disjoint: an empty intersection on a shared variable
            cuts.append((k, c))
        out: list[Box] = []
        cur = dict(a)
        # the variables of cur left unconstrained (none, in a piece of an earlier cut)
        full = set() if type(a) is _Piece else {k for k, d in a.items() if self.d_full(self.vars[k], d)}
        for k, (outside, out_empty, out_full, _, inter, inter_full) in cuts:
            if not out_empty:
                # _clean({**cur, k: outside}): the same keys in the same order
                if k in cur:
                    piece = _Piece({
                        kk: outside if kk == k else d for kk, d in cur.items()
                        if not (out_full if kk == k else kk in full)
                    })
                else:
                    piece = _Piece({kk: d for kk, d in cur.items() if kk not in full})
                    if not out_full:
                        piece[k] = outside
                out.append(piece)
            cur[k] = inter
            if inter_full:
                full.add(k)
            else:
                full.discard(k)
        return out

    def _cut(self, var: Var, da: Dom, db: Dom) -> tuple[Dom, bool, bool, bool, Dom, bool]:
        """``da`` outside ``db`` and inside it, with whether each is empty or full."""
        key = (var.key, da, db)
        c = self._cuts.get(key)
        if c is None:
            outside = self.d_and(var, da, self.d_not(var, db))
            inter = self.d_and(var, da, db)
            c = self._cuts[key] = (
                outside, self.d_empty(var, outside), self.d_full(var, outside),
                self.d_empty(var, inter), inter, self.d_full(var, inter),
            )
        return c

    def b_minus_reference(self, a: Box, b: Box) -> list[Box]:
        """:meth:`b_minus` as first written."""
        self._spend(1 + len(b))
        if self.b_and(a, b) is None:
            return [a]
        out: list[Box] = []
        cur = dict(a)
        for k, db in b.items():
            var = self.vars[k]
            da = cur.get(k, self.full(var))
            outside = self.d_and(var, da, self.d_not(var, db))
            if not self.d_empty(var, outside):
                piece = _clean(self, {**cur, k: outside})
                out.append(piece)
            cur[k] = self.d_and(var, da, db)
        return out

    def b_subset(self, a: Box, b: Box) -> bool:
        for k, db in b.items():
            var = self.vars[k]
            if not self.d_subset(var, a.get(k, self.full(var)), db):
                return False
        return True

    # -- regions ------------------------------------------------------------------
    def r_and(self, a: Region, b: Region) -> Region:
        self._spend(len(a) * len(b))
        out = []
        for x in a:
            for y in b:
                z = self.b_and(x, y)
                if z is not None:
                    out.append(z)
        return self.simplify(out)

    def r_or(self, a: Region, b: Region) -> Region:
        return self.simplify([*a, *b])

    def r_minus(self, a: Region, b: Region) -> Region:
        cur = list(a)
        # ids of the boxes of ``cur`` that the last simplify found pairwise
        # not nested; a box ``y`` misses keeps its identity (b_minus returns
        # it as is), so those pairs need no second test
        known: set[int] = set()
        for y in b:
            nxt: list[Box] = []
            self._spend(len(cur))
            for x in cur:
                nxt.extend(self.b_minus(x, y))
            cur = self.simplify(nxt, known)
            if not cur:
                break
            known = {id(x) for x in cur} if len(cur) <= _PAIRWISE else set()
        return cur

    def r_minus_reference(self, a: Region, b: Region) -> Region:
        """:meth:`r_minus` without its shortcuts: every step simplified from scratch."""
        cur = list(a)
        for y in b:
            nxt: list[Box] = []
            self._spend(len(cur))
            for x in cur:
                nxt.extend(self.b_minus_reference(x, y))
            cur = self.simplify_reference(nxt)
            if not cur:
                break
        return cur

    def r_not(self, a: Region) -> Region:
        return self.r_minus(FULL, a)

    def simplify(self, boxes: list[Box], known: Collection[int] = ()) -> Region:
        """Drop repeated boxes and, for up to 60 boxes, boxes inside another one.

        ``known`` holds the ids of boxes known to be pairwise not nested (what
        an earlier simplify kept); pairs of two of them are not tested again,
        nor paid for. The result is that of :meth:`simplify_reference`.
        """
        seen: dict[frozenset[tuple[str, int]], tuple[Box, dict[str, int]]] = {}
        for b in boxes:
            sig = self._sig(b)
            seen.setdefault(frozenset(sig.items()), (b, sig))
        if len(seen) > MAX_BOXES:
            raise TooComplex(f"more than {MAX_BOXES} cases")
        pairs = list(seen.values())
        n = len(pairs)
        if not 1 < n <= _PAIRWISE:
            return [b for b, _ in pairs]
        old = [id(b) in known for b, _ in pairs]
        sigs = [sig for _, sig in pairs]
        # a box inside another has each number range inside the other's:
        # compare those bounds first (cheap), test the pairs that pass exactly
        keys = sorted({k for sig in sigs for k in sig if self.vars[k].kind == NUM})
        cand = _below(n, [self._bounds(sig, keys) for sig in sigs])
        olds = sum(1 << i for i in range(n) if old[i])
        for i in range(n):
            cand[i] &= ~((1 << i) | (olds if old[i] else 0))
        m = sum(old)
        self._spend(min((n * n - m * m) // 2, n + sum(c.bit_count() for c in cand)))
        inside = self._sig_subset
        ups = [{j for j in _bits(cand[i]) if inside(sigs[i], sigs[j])} for i in range(n)]
        # what keeping a box unless a later one holds it gives (see
        # simplify_reference): a box goes when another one holds it and it
        # does not hold that one back, or an earlier one holds it and it
        # holds that one back (the same set: the first is kept)
        return [
            pairs[i][0] for i in range(n)
            if not any(j < i or i not in ups[j] for j in ups[i])
        ]

    def _bounds(self, sig: dict[str, int], keys: list[str]) -> list[float]:
        """Per number variable: lowest value, minus highest value, minus whether missing is in."""
        out: list[float] = []
        for k in keys:
            i = sig.get(k)
            if i is None:
                i = self._full_sig(k)
            b = self._hull.get(i)
            if b is None:
                var = self.vars[k]
                d = self._doms[i][1]
                ivs = self._clip(var, d.ivs)
                lo = ivs[0].lo if ivs else INF
                hi = max(iv.hi for iv in ivs) if ivs else -INF
                b = self._hull[i] = (lo, -hi, -float(d.missing and var.nullable))
            out.extend(b)
        return out

    def _full_sig(self, k: str) -> int:
        i = self._full_id.get(k)
        if i is None:
            i = self._full_id[k] = self._sig({k: self.full(self.vars[k])})[k]
        return i

    def _sig(self, box: Box) -> dict[str, int]:
        """The box with each domain replaced by its number."""
        ids = self._ids
        out = {}
        for k, d in box.items():
            i = ids.get((k, d))
            if i is None:
                i = ids[(k, d)] = len(self._doms)
                self._doms.append((k, d))
            out[k] = i
        return out

    def _sig_subset(self, a: dict[str, int], b: dict[str, int]) -> bool:
        """:meth:`b_subset` on numbered boxes, each domain pair decided once."""
        sub = self._sub
        for k, ib in b.items():
            ia = a.get(k)
            if ia is None:
                ia = self._full_sig(k)
            r = sub.get((ia, ib))
            if r is None:
                r = sub[(ia, ib)] = self.d_subset(self.vars[k], self._doms[ia][1], self._doms[ib][1])
            if not r:
                return False
        return True

    def simplify_reference(self, boxes: list[Box]) -> Region:
        """:meth:`simplify` as first written: every pair tested with :meth:`b_subset`."""
        seen: dict[frozenset[tuple[str, Dom]], Box] = {}
        for b in boxes:
            seen.setdefault(frozenset(b.items()), b)
        out = list(seen.values())
        if len(out) > MAX_BOXES:
            raise TooComplex(f"more than {MAX_BOXES} cases")
        if 1 < len(out) <= _PAIRWISE:
            self._spend(len(out) * len(out) // 2)
            # drop boxes inside another one
            kept: list[Box] = []
            for b in out:
                if any(self.b_subset(b, k) for k in kept):
                    continue
                kept = [k for k in kept if not self.b_subset(k, b)]
                kept.append(b)
            out = kept
        return out

    # -- witnesses -----------------------------------------------------------------
    def exact(self, box: Box) -> bool:
        """True when the box constrains record fields only."""
        return all(self.vars[k].exact for k in box)

    def sample(self, var: Var, d: Dom, hints: Iterable[Any] = ()) -> Any:
        """A value of ``d`` (``None`` for missing), preferring a present one."""
        if var.kind == NUM:
            if not d.ivs:
                return None
            for h in hints:
                if isinstance(h, int | float) and not isinstance(h, bool) and _contains(d.ivs, float(h)):
                    return _as_value(var, float(h))
            return _as_value(var, _pick(d.ivs[0], var.integer))
        if var.kind == STR:
            if d.co:
                candidates = [*(h for h in hints if isinstance(h, str)), "other", "x"]
                for c in candidates:
                    if c not in d.strs:
                        return c
                i = 0
                while f"other{i}" in d.strs:
                    i += 1
                return f"other{i}"
            if d.strs:
                return sorted(d.strs)[0]
            return None
        if d.bools:
            return True in d.bools
        return None


Box = Mapping[str, Dom]


class _Piece(dict[str, Dom]):
    """A box :meth:`Space.b_minus` built: it names no unconstrained variable."""

Region = list[Box]
FULL: Region = [{}]
EMPTY: Region = []


def _below(n: int, vecs: list[list[float]]) -> list[int]:
    """For each vector, the bit set of the vectors at or below it in every place."""
    out = [(1 << n) - 1] * n
    for d in range(len(vecs[0]) if vecs else 0):
        order = sorted(range(n), key=lambda j: vecs[j][d])
        acc = p = 0
        while p < n:
            v = vecs[order[p]][d]
            q = p
            while q < n and vecs[order[q]][d] == v:
                acc |= 1 << order[q]
                q += 1
            for r in range(p, q):
                out[order[r]] &= acc
            p = q
    return out


def _bits(m: int) -> Iterator[int]:
    while m:
        low = m & -m
        yield low.bit_length() - 1
        m ^= low


def _clean(space: Space, box: dict[str, Dom]) -> dict[str, Dom]:
    """Drop the variables a box leaves unconstrained."""
    return {k: d for k, d in box.items() if not space.d_full(space.vars[k], d)}


def _contains(ivs: tuple[Iv, ...], x: float) -> bool:
    return any((iv.lo < x or (iv.lo == x and iv.lo_in)) and (x < iv.hi or (x == iv.hi and iv.hi_in)) for iv in ivs)


def _pick(iv: Iv, integer: bool) -> float:
    if iv.lo_in and iv.lo != -INF:
        return iv.lo
    if iv.hi_in and iv.hi != INF and iv.lo == -INF:
        return iv.hi
    if iv.lo == -INF and iv.hi == INF:
        return 0.0
    if iv.lo == -INF:
        return iv.hi - 1
    if iv.hi == INF:
        return iv.lo + 1
    # an open end: a value inside, whole when possible
    inside = math.floor(iv.lo) + 1
    if inside < iv.hi or (inside == iv.hi and iv.hi_in):
        return float(inside)
    return (iv.lo + iv.hi) / 2


def _as_value(var: Var, x: float) -> Any:
    if var.date:
        return dt.date.fromordinal(int(x))
    if var.integer or (float(x).is_integer() and var.kind == NUM and abs(x) < 1e15):
        return int(x)
    return x


def describe(space: Space, var: Var, d: Dom) -> str:
    """A domain as text, e.g. ``[0, 100)`` or ``"a", "b"`` or ``missing``."""
    parts: list[str] = []
    if var.kind == NUM:
        if var.date:
            parts.extend(
                _date_iv(iv) for iv in d.ivs
            )
        else:
            parts.extend(str(iv) for iv in d.ivs)
    elif var.kind == STR:
        listed = ", ".join(f'"{s}"' for s in sorted(d.strs))
        parts.append(f"not {listed}" if d.co else listed)
    else:
        parts.extend("true" if b else "false" for b in sorted(d.bools, reverse=True))
    if d.missing:
        parts.append("missing")
    return " | ".join(p for p in parts if p) or "nothing"


def _date_iv(iv: Iv) -> str:
    def show(x: float) -> str:
        if x in (INF, -INF):
            return _num(x)
        return dt.date.fromordinal(int(x)).isoformat()

    if iv.lo == iv.hi:
        return show(iv.lo)
    return f"{'[' if iv.lo_in else '('}{show(iv.lo)}, {show(iv.hi)}{']' if iv.hi_in else ')'}"

