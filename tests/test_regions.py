"""The region algebra of cr.verify: simplify and r_minus with their shortcuts
give what the plain pairwise versions (simplify_reference, r_minus_reference)
give, box for box and in the same order, and never take more of the budget."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from customer_rules.lab.regions import BOOL, NUM, STR, Box, Dom, Iv, Space, TooComplex, Var

VARS = (
    Var("a", NUM, integer=True, ge=0, le=10),
    Var("b", NUM, nullable=False),
    Var("c", STR, enum=("x", "y", "z")),
    Var("d", BOOL),
)


def _space() -> Space:
    sp = Space()
    for v in VARS:
        sp.add(v)
    return sp


@st.composite
def _dom(draw: Any, sp: Space, var: Var) -> Dom:
    if var.kind == NUM:
        ivs = []
        for _ in range(draw(st.integers(1, 2))):
            lo = draw(st.sampled_from([-float("inf"), -1.0, 0.0, 0.5, 2.0, 3.0, 7.0]))
            hi = draw(st.sampled_from([0.0, 1.5, 2.0, 3.0, 9.0, 12.0, float("inf")]))
            ivs.append(Iv(lo, hi, draw(st.booleans()), draw(st.booleans())))
        d = sp.nums(var, ivs)
    elif var.kind == STR:
        d = sp.strings(var, draw(st.sets(st.sampled_from(["x", "y", "z"]))))
    else:
        d = sp.bools(draw(st.sets(st.booleans())))
    if var.nullable and draw(st.booleans()):
        d = Dom(True, d.ivs, d.strs, d.co, d.bools)
    return d


@st.composite
def _box(draw: Any, sp: Space) -> Box:
    chosen = draw(st.lists(st.sampled_from(VARS), max_size=3, unique=True))
    return {v.key: draw(_dom(sp, v)) for v in chosen}


def _region(sp: Space, size: int) -> Any:
    return st.lists(_box(sp), max_size=size)


SP = _space()


def _run(f: Any, *args: Any) -> tuple[str, Any, int]:
    SP.renew(10**9)
    try:
        out = f(*args)
    except TooComplex:
        return "too complex", None, 10**9 - SP.left
    return "ok", out, 10**9 - SP.left


@settings(max_examples=200, deadline=None)
@given(_region(SP, 25), st.data())
def test_simplify_is_the_pairwise_reference(boxes: list[Box], data: Any) -> None:
    ref_state, ref, ref_cost = _run(SP.simplify_reference, boxes)
    state, out, cost = _run(SP.simplify, boxes)
    assert state == ref_state
    assert out == ref and [id(b) for b in out or ()] == [id(b) for b in ref or ()]
    assert cost <= ref_cost
    # boxes an earlier simplify kept are pairwise not nested: told so, it still agrees
    if ref is not None:
        more = data.draw(_region(SP, 10))
        mixed = [*ref, *more]
        data.draw(st.randoms()).shuffle(mixed)
        ref_state, ref2, ref_cost = _run(SP.simplify_reference, mixed)
        state, out2, cost = _run(SP.simplify, mixed, {id(b) for b in ref})
        assert state == ref_state and out2 == ref2
        assert [id(b) for b in out2 or ()] == [id(b) for b in ref2 or ()]
        assert cost <= ref_cost


@settings(max_examples=200, deadline=None)
@given(_region(SP, 6), _region(SP, 8))
def test_r_minus_is_the_step_by_step_reference(a: list[Box], b: list[Box]) -> None:
    ref_state, ref, ref_cost = _run(SP.r_minus_reference, a, b)
    state, out, cost = _run(SP.r_minus, a, b)
    assert state == ref_state
    assert _items(out) == _items(ref)
    assert cost <= ref_cost


def _items(region: Any) -> Any:
    """A region with each box's variables in order (dict equality ignores it)."""
    return None if region is None else [list(box.items()) for box in region]


@settings(max_examples=300, deadline=None)
@given(_box(SP), _box(SP), _box(SP))
def test_b_minus_is_the_reference(a: Box, b: Box, c: Box) -> None:
    ref_state, ref, ref_cost = _run(SP.b_minus_reference, a, b)
    state, out, cost = _run(SP.b_minus, a, b)
    assert state == ref_state and cost == ref_cost
    assert _items(out) == _items(ref)
    assert [x is a for x in out] == [x is a for x in ref]
    # the pieces b_minus built (it skips their fullness test) cut again
    for piece in out or ():
        assert _items(SP.b_minus(piece, c)) == _items(SP.b_minus_reference(piece, c))


@settings(max_examples=200, deadline=None)
@given(_box(SP), _box(SP))
def test_b_disjoint_is_an_empty_b_and(a: Box, b: Box) -> None:
    assert SP.b_disjoint(a, b) == (SP.b_and(a, b) is None)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(VARS).flatmap(lambda v: _dom(SP, v)))
def test_a_domain_hashes_as_its_fields_and_pickles_without_its_hash(d: Dom) -> None:
    import pickle

    fields = hash((d.missing, d.ivs, d.strs, d.co, d.bools))
    assert hash(d) == fields and hash(d) == fields
    back = pickle.loads(pickle.dumps(d))
    assert back == d and "_hash" not in back.__dict__ and hash(back) == fields
