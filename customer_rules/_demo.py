"""The README demo: classify the built-in sample customers and explain a few."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from ._engine import Engine
from ._sample import SAMPLE_AS_OF, sample_customers


def run_demo(out: TextIO, *, lang: str = "en", n: int = 300, explain: int = 3) -> None:
    zh = lang == "zh"
    engine = Engine()
    customers = sample_customers(n)
    # population-relative schemes (pyramid, terminal ranking, stars) learn their cut-offs here
    engine.fit(customers, as_of=SAMPLE_AS_OF)
    batch = engine.classify_many(customers, as_of=SAMPLE_AS_OF)
    title = (
        f"customer_rules 演示：{len(customers)} 位样本客户，截至 {SAMPLE_AS_OF}"
        if zh
        else f"customer_rules demo: {len(customers)} sample customers as of {SAMPLE_AS_OF}"
    )
    print(title, file=out)
    print("=" * len(title), file=out)
    for sid, scheme in engine.schemes.items():
        counts = Counter(p[sid].label for p in batch.profiles if sid in p)
        print(f"\n{sid} ({scheme.kind})", file=out)
        for label in [*scheme.labels, None]:
            if counts.get(label):
                name = (
                    scheme.policy.label(label).name(lang) if label else ("未分类" if zh else "unclassified")
                )
                bar = "#" * max(1, round(40 * counts[label] / len(batch.profiles)))
                print(f"  {label or '-':<16} {name:<22} {counts[label]:>5}  {bar}", file=out)
    if batch.rejected:
        print(f"\nrejected rows: {len(batch.rejected)}", file=out)
        for r in batch.rejected:
            print(f"  row {r.row}: {r.reason}", file=out)
    # explain the customers with the most flags and strategies: the interesting ones
    ranked = sorted(
        batch.profiles,
        key=lambda p: (-sum(len(d.flags) + (d.label is not None) for d in p.values()), p.customer_id or ""),
    )
    for profile in ranked[:explain]:
        print("\n" + "-" * 72, file=out)
        print(profile.explain(lang), file=out)
