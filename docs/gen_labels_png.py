"""Draw docs/img/labels.png: how the 300 sample customers split under each
built-in scheme (the picture in the README and on the docs' home page).

    python docs/gen_labels_png.py        # needs matplotlib

Each bar is one scheme; each segment one label, in the scheme's label order,
with unclassified customers in grey at the end.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import customer_rules as cr

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "img" / "labels.png"
PALETTE = [
    "#1b7f79",
    "#3fa796",
    "#7cc6a4",
    "#b7dfa6",
    "#f2d388",
    "#f0a35e",
    "#e06f4f",
    "#c0435a",
    "#8e3b6e",
    "#5b3a7a",
]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    customers = cr.sample_customers()
    engine = cr.Engine(load_entry_points=False).fit(customers, as_of=cr.SAMPLE_AS_OF)
    batch = engine.classify_many(customers, as_of=cr.SAMPLE_AS_OF)
    schemes = list(engine.schemes.items())
    fig, ax = plt.subplots(figsize=(11, 6.2), dpi=110)
    n = len(batch.profiles)
    for row, (sid, scheme) in enumerate(reversed(schemes)):
        counts = Counter(p[sid].label for p in batch.profiles)
        left = 0.0
        for i, label in enumerate([*scheme.labels, None]):
            k = counts.get(label, 0)
            if not k:
                continue
            share = k / n
            colour = "#d0d0d0" if label is None else PALETTE[i % len(PALETTE)]
            ax.barh(row, share, left=left, color=colour, edgecolor="white", linewidth=1.2, height=0.72)
            text = "unclassified" if label is None else label
            if share >= 0.0068 * len(text) + 0.012:  # only where the name fits
                dark = label is not None and (i < 2 or i >= 6)
                ax.text(
                    left + share / 2,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "#222222",
                )
            left += share
    ax.set_yticks(range(len(schemes)))
    ax.set_yticklabels([f"{sid}  ({s.kind})" for sid, s in reversed(schemes)], fontsize=9)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        f"{n} sample customers as of {cr.SAMPLE_AS_OF}: label shares per built-in scheme (grey: unclassified)",
        fontsize=10.5,
        loc="left",
    )
    fig.tight_layout()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUTPUT)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
