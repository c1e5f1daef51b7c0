"""Single-record latency: our python backend (full Decision with evidence)
against a hand-written if/elif function and zen-engine on the same 10-rule
first-hit table, in one run on one machine.

    python benchmarks/bench_single.py [--records 2000] [--repeat 5]

Prints microseconds per record and ratios to the hand-written function and
to zen-engine. zen-engine is optional (``pip install zen-engine``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from common import POLICY_YAML, handwritten, make_records, zen_jdm

import customer_rules as cr

AS_OF = dt.date(2026, 11, 22)


def per_record(fn: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    """Best-of-``repeat`` mean time per item, in microseconds."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in items:
            fn(x)
        runs.append((time.perf_counter() - t0) / len(items) * 1e6)
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    dicts = make_records(args.records)
    records = [cr.Customer.model_validate(d) for d in dicts]
    policy = cr.load_policy(POLICY_YAML, format="yaml")
    engine = cr.Engine([policy], load_entry_points=False)

    # agreement first: a benchmark of different answers measures nothing
    for rec in records:
        d = engine.decide("bench_tier", rec, as_of=AS_OF)
        assert (d.label, d.rule) == handwritten(rec), (rec.id, d.label, d.rule, handwritten(rec))

    rows: list[tuple[str, float]] = []
    rows.append(("hand-written if/elif", per_record(handwritten, records, args.repeat)))
    rows.append(
        (
            "customer_rules decide (Decision + evidence)",
            per_record(lambda r: engine.decide("bench_tier", r, as_of=AS_OF), records, args.repeat),
        )
    )
    rows.append(
        (
            "customer_rules classify (Profile + strategy)",
            per_record(lambda r: engine.classify(r, as_of=AS_OF, schemes=["bench_tier"]), records, args.repeat),
        )
    )
    rows.append(
        (
            "customer_rules classify from dict (validates)",
            per_record(lambda r: engine.classify(r, as_of=AS_OF, schemes=["bench_tier"]), dicts, args.repeat),
        )
    )
    zen_us = None
    try:
        import zen

        decision = zen.ZenEngine().create_decision(zen_jdm())
        plain = [json.loads(json.dumps(d)) for d in dicts]
        for rec, d in zip(records, plain, strict=True):
            got = decision.evaluate(d)["result"]
            exp = handwritten(rec)
            assert (got.get("label"), got.get("rule")) == (exp[0], exp[1] or "default"), (rec.id, got, exp)
        sample = plain[: min(len(plain), 1000)]
        zen_us = per_record(decision.evaluate, sample, max(1, args.repeat // 2))
        rows.append(("zen-engine evaluate (same table)", zen_us))
    except ImportError:
        print("zen-engine not installed: pip install zen-engine to compare")

    hand = rows[0][1]
    print(f"\n10-rule first-hit table, {args.records} records, best of {args.repeat} runs")
    print(f"{'method':<48} {'µs/record':>10} {'× hand-written':>15} {'÷ zen-engine':>13}")
    for name, us in rows:
        vs_zen = f"{us / zen_us:>13.3f}" if zen_us else f"{'-':>13}"
        print(f"{name:<48} {us:>10.2f} {us / hand:>15.1f} {vs_zen}")
    print(f"\npython {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
