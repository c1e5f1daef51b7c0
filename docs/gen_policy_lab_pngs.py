"""Draw the pictures of docs/policy-lab.md (docs/images/policy-lab-*.png) from
the page's own examples: the 300 sample customers, ``value_pyramid`` with
``vip_top_pct`` 1 (current) against 3 (wider), and the sweep over it.

    python docs/gen_policy_lab_pngs.py        # needs matplotlib
"""

from __future__ import annotations

from pathlib import Path

import customer_rules as cr

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "images"


def main() -> None:
    customers = cr.sample_customers()
    engine = cr.Engine(load_entry_points=False).fit(customers, as_of=cr.SAMPLE_AS_OF)
    wider = engine.with_params("value_pyramid", vip_top_pct=3)
    comp = cr.compare(engine, wider, customers, as_of=cr.SAMPLE_AS_OF)
    frame = cr.sweep(engine, "value_pyramid", "vip_top_pct", [1, 2, 3, 5], customers, as_of=cr.SAMPLE_AS_OF)
    batch = engine.classify_many(
        customers, as_of=cr.SAMPLE_AS_OF, schemes=["lead_grade", "customer_quality", "deal_stage"]
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name, fig in (
        ("policy-lab-migration.png", comp.plot()),
        ("policy-lab-sweep.png", cr.plot_sweep(frame)),
        ("policy-lab-labels.png", cr.plot_labels(batch)),
    ):
        fig.savefig(OUTPUT / name, dpi=100, metadata={"Software": None})
        print(f"wrote {(OUTPUT / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
