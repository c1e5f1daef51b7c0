"""Pictures for the policy lab (the ``plot`` extra: matplotlib).

Each function returns a matplotlib :class:`~matplotlib.figure.Figure`
(built without pyplot, so no global state); in a notebook it shows as the
cell's output (``%matplotlib inline``), elsewhere save it with
``fig.savefig(path)``. Pass ``ax=`` to draw into an axes of your own.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customer_rules.lab.compare import Comparison

EXTRA = "plot"


def _figure(**kw: Any) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            f"pictures need matplotlib: pip install 'customer-rules[{EXTRA}]' (or pip install matplotlib)"
        ) from exc
    return Figure(**kw)


def _axes(ax: Any, **kw: Any) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    fig = _figure(**kw)
    return fig, fig.add_subplot(1, 1, 1)


def plot_labels(
    profiles: Iterable[Any], *, schemes: Sequence[str] | None = None, share: bool = False, cols: int = 3
) -> Any:
    """Label distribution per scheme: one bar chart per scheme, labels in the scheme's order.

    ``profiles`` are :class:`Profile` objects (a list, or the result of
    ``engine.classify_many``); ``schemes`` picks and orders the schemes
    (default: every scheme decided); ``share`` plots shares instead of counts.
    """
    wanted, order, counts = _tally(list(profiles), schemes)
    ncols = max(1, min(cols, len(wanted)))
    nrows = math.ceil(len(wanted) / ncols)
    fig = _figure(figsize=(4.2 * ncols, 3.0 * nrows), layout="constrained")
    for i, sid in enumerate(wanted):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        labels = list(order[sid])
        if None in counts[sid]:
            labels.append(None)
        labels.extend(k for k in counts[sid] if k not in labels)
        total = sum(counts[sid].values()) or 1
        ys = [counts[sid].get(lab, 0) / (total if share else 1) for lab in labels]
        names = [lab if lab is not None else "unclassified" for lab in labels]
        colours = ["#9aa0a6" if lab is None else "#3367d6" for lab in labels]
        ax.bar(names, ys, color=colours)
        ax.set_title(sid, fontsize=10)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.set_ylabel("share" if share else "customers", fontsize=8)
    return fig


#: Segment colours of :func:`plot_label_shares`, in label order (unclassified is grey).
PALETTE = (
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
)
_DARK = frozenset({0, 1, 6, 7, 8, 9})  # palette entries that need white text


def _tally(
    profiles: list[Any], schemes: Sequence[str] | None
) -> tuple[list[str], dict[str, list[str | None]], dict[str, Counter[str | None]]]:
    """The schemes to draw, each one's label order and its customers per label."""
    order: dict[str, list[str | None]] = {}
    counts: dict[str, Counter[str | None]] = {}
    for p in profiles:
        for sid, d in p.items():
            if schemes is not None and sid not in schemes:
                continue
            if sid not in order:
                policy = d.source.checked.policy if d.source is not None else None
                order[sid] = list(policy.label_ids) if policy is not None else []
                counts[sid] = Counter()
            counts[sid][d.label] += 1
    wanted = [s for s in (schemes or list(order)) if s in order]
    if not wanted:
        raise ValueError("no decisions to plot")
    return wanted, order, counts


def plot_label_shares(
    profiles: Iterable[Any], *, schemes: Sequence[str] | None = None, title: str | None = None, width: float = 11.0
) -> Any:
    """Label shares per scheme as one stacked bar per scheme, every segment named.

    Each bar is a scheme (``schemes`` picks and orders them; default every
    scheme decided), each segment a label in the scheme's order, unclassified
    customers in grey at the end. A segment wide enough carries its name;
    the names (and shares) of the narrow ones are listed right of the bar,
    so no segment goes unnamed.
    """
    from matplotlib.ticker import PercentFormatter

    profs = list(profiles)
    wanted, order, counts = _tally(profs, schemes)
    fig = _figure(figsize=(width, 1.2 + 0.42 * len(wanted)), dpi=110, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    bar_inches = width * 0.36  # about the bar's width once the names either side have their room
    for row, sid in enumerate(reversed(wanted)):
        labels = [*order[sid], *(k for k in counts[sid] if k is not None and k not in order[sid]), None]
        n = sum(counts[sid].values())
        left = 0.0
        narrow: list[str] = []
        for i, label in enumerate(labels):
            k = counts[sid].get(label, 0)
            if not k:
                continue
            share = k / n
            text = "unclassified" if label is None else label
            colour = "#d0d0d0" if label is None else PALETTE[i % len(PALETTE)]
            ax.barh(row, share, left=left, color=colour, edgecolor="white", linewidth=1.2, height=0.72)
            if share * bar_inches >= (len(text) * 8 * 0.6 + 6) / 72:  # the name fits at 8 pt
                dark = label is not None and i % len(PALETTE) in _DARK
                ax.text(
                    left + share / 2,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "#222222",
                )
            else:
                narrow.append(f"{text} {share:.0%}" if share >= 0.01 else f"{text} {share:.1%}")
            left += share
        if narrow:
            ax.text(
                1.01,
                row,
                textwrap.fill(", ".join(narrow), 64),
                ha="left",
                va="center",
                fontsize=7,
                color="#444444",
                transform=ax.get_yaxis_transform(),
                clip_on=False,
            )
    ax.set_yticks(range(len(wanted)))
    ax.set_yticklabels(list(reversed(wanted)), fontsize=9)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.suptitle(
        title
        or f"{len(profs)} customers: label shares per scheme\n(grey: unclassified; narrow segments named right of the bar)",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return fig


def plot_migration(
    comparison: Comparison, *, share: bool = False, ax: Any = None, names: tuple[str, str] | None = None
) -> Any:
    """The migration matrix of a :class:`Comparison` as an annotated heatmap (A rows, B columns).

    The title and the axis labels say what A and B are: ``names`` (a pair
    of your own, say ``("current", "tight")``) or else the comparison's
    ``name_a`` / ``name_b`` (scheme, policy version and the parameters
    that differ, see :func:`compare`).
    """
    name_a, name_b = names if names is not None else (comparison.name_a, comparison.name_b)
    fig, ax = _axes(ax, figsize=(1.6 + 0.7 * len(comparison.labels_b), 1.4 + 0.55 * len(comparison.labels_a)),
                    layout="constrained")
    n = comparison.n or 1
    grid = [
        [comparison.count(a, b) / (n if share else 1) for b in comparison.labels_b] for a in comparison.labels_a
    ]
    image = ax.imshow(grid, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(comparison.labels_b)))
    ax.set_xticklabels([b or "unclassified" for b in comparison.labels_b], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(comparison.labels_a)))
    ax.set_yticklabels([a or "unclassified" for a in comparison.labels_a], fontsize=8)
    width, height = fig.get_size_inches()
    # long names (a scheme with many changed parameters) wrap at about the axes' length
    ax.set_xlabel(textwrap.fill(f"B: {name_b}", max(24, int(width * 11))), fontsize=8)
    ax.set_ylabel(textwrap.fill(f"A: {name_a}", max(24, int(height * 11))), fontsize=8)
    top = max((v for row in grid for v in row), default=0) or 1
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v:
                text = f"{v:.0%}" if share else str(int(v))
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if v > top / 2 else "black")
    heading = f"A: {name_a}  →  B: {name_b}"
    if len(heading) > width * 10:
        heading = "\n".join(textwrap.fill(f"{side}: {name}", int(width * 10)) for side, name in (("A", name_a), ("B", name_b)))
    ax.set_title(f"{heading}\n{comparison.moved} of {comparison.n} customers moved", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


#: A sweep whose label shares differ by less than this share of customers between
#: any two values is "flat": :func:`plot_sweep` says so instead of drawing a flat stack.
FLAT_SWEEP = 0.01


def sweep_spread(frame: Any, param: str | None = None) -> float:
    """The largest share of customers that must change label between two values of a sweep.

    For two rows of label shares ``p`` and ``q`` that is ``sum(|p - q|) / 2``
    (the fewest customers whose moves turn one split into the other); the
    spread is the largest such number over all pairs of rows.
    """
    import polars as pl

    df = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    param = param or df.columns[0]
    labels = _sweep_labels(df, param)
    rows = [[float(df[c][i]) for c in labels] for i in range(df.height)]
    return max(
        (sum(abs(x - y) for x, y in zip(p, q, strict=True)) / 2 for p in rows for q in rows), default=0.0
    )


def _sweep_labels(df: Any, param: str) -> list[str]:
    return [c for c in df.columns if c not in (param, "n", "contacts_per_week")]


def plot_sweep(
    frame: Any, param: str | None = None, *, ax: Any = None, stacked: bool = True, flat: float = FLAT_SWEEP
) -> Any:
    """Label shares against a parameter's value (a frame from :func:`sweep`).

    ``param`` is the parameter column (default: the first column);
    ``stacked`` draws a stacked area chart, otherwise one line per label.
    When the shares barely move (:func:`sweep_spread` below ``flat``, a share
    of customers) the picture says so in words, with the split the sweep
    keeps, instead of drawing a flat stack.
    """
    import polars as pl

    df = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    param = param or df.columns[0]
    labels = _sweep_labels(df, param)
    fig, ax = _axes(ax, figsize=(6.4, 3.6), layout="constrained")
    xs = df[param].to_list()
    series = [df[c].to_list() for c in labels]
    spread = sweep_spread(df, param)
    if df.height and spread < flat:
        first = ", ".join(f"{name} {ys[0]:.0%}" for name, ys in zip(labels, series, strict=True) if ys[0])
        span = f"{xs[0]}" if len(xs) == 1 else f"{xs[0]} … {xs[-1]}"
        ax.set_axis_off()
        ax.set_title(f"{param} = {span}: the labels barely move", fontsize=10)
        ax.text(
            0.5,
            0.5,
            f"label shares shift by less than {flat:.0%} of customers across the sweep\n"
            f"(at most {spread:.1%} between any two values of {param})\n\nat {param} = {xs[0]}: {first}",
            ha="center",
            va="center",
            fontsize=9,
            wrap=True,
            transform=ax.transAxes,
        )
        return fig
    if stacked:
        ax.stackplot(xs, *series, labels=labels)
        ax.set_ylim(0, 1)
    else:
        for name, ys in zip(labels, series, strict=True):
            ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlabel(param)
    ax.set_ylabel("share of customers")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


__all__ = ["plot_label_shares", "plot_labels", "plot_migration", "plot_sweep", "sweep_spread"]
