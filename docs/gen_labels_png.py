"""Draw docs/img/labels.png: how the 300 sample customers split under each
built-in scheme (the picture in the README and on the docs' home page).

    python docs/gen_labels_png.py        # needs matplotlib

The picture is :func:`customer_rules.plot_label_shares`: each bar is one
scheme; each segment one label, in the scheme's label order, with
unclassified customers in grey at the end; every segment is named, in the
bar where its name fits, otherwise right of the bar.
"""

from __future__ import annotations

from pathlib import Path

import customer_rules as cr

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "img" / "labels.png"


def main() -> None:
    customers = cr.sample_customers()
    engine = cr.Engine(load_entry_points=False).fit(customers, as_of=cr.SAMPLE_AS_OF)
    batch = engine.classify_many(customers, as_of=cr.SAMPLE_AS_OF)
    fig = cr.plot_label_shares(
        batch.profiles,
        schemes=list(engine.schemes),
        title=f"{len(batch.profiles)} sample customers as of {cr.SAMPLE_AS_OF}: label shares per built-in scheme\n"
        "(grey: unclassified; segments too narrow for their name are named right of the bar)",
    )
    ax = fig.axes[0]
    ax.set_yticklabels([f"{sid}  ({s.kind})" for sid, s in reversed(engine.schemes.items())], fontsize=9)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUTPUT, metadata={"Software": None})
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
