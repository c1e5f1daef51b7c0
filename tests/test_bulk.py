"""The collector pause batches run under: whatever happens inside, the
collector is left as the caller had it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import customer_rules as cr
from customer_rules.model.bulk import collector_paused


@pytest.fixture(params=[True, False], ids=["collector on", "collector off"])
def enabled(request: pytest.FixtureRequest) -> Iterator[bool]:
    was = gc.isenabled()
    (gc.enable if request.param else gc.disable)()
    yield request.param
    (gc.enable if was else gc.disable)()


def test_the_collector_is_paused_inside_and_restored_after(enabled: bool) -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled() is enabled


def test_classify_many_restores_the_collector_whatever_the_rows_do(enabled: bool) -> None:
    engine = cr.Engine(load_entry_points=False)
    good = cr.sample_customers(3)
    out = engine.classify_many([*good, {"id": "bad", "kind": "robot"}], as_of=cr.SAMPLE_AS_OF, schemes=["bird_style"])
    assert [p.customer_id for p in out.profiles] == [c.id for c in good]
    assert [r.record_id for r in out.rejected] == ["bad"]
    assert gc.isenabled() is enabled

    def rows() -> Iterator[object]:
        yield good[0]
        raise OSError("the source went away")

    with pytest.raises(OSError, match="went away"):
        engine.classify_many(rows(), as_of=cr.SAMPLE_AS_OF, schemes=["bird_style"])
    assert gc.isenabled() is enabled
