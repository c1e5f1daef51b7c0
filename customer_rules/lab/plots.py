"""Pictures for the policy lab (the ``plot`` extra: matplotlib).

Each function returns a matplotlib :class:`~matplotlib.figure.Figure`
(built without pyplot, so no global state); in a notebook it shows as the
cell's output (``%matplotlib inline``), elsewhere save it with
``fig.savefig(path)``. Pass ``ax=`` to draw into an axes of your own.
"""

from __future__ import annotations

import math
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
    profs = list(profiles)
    order: dict[str, list[str | None]] = {}
    counts: dict[str, Counter[str | None]] = {}
    for p in profs:
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


def plot_migration(comparison: Comparison, *, share: bool = False, ax: Any = None) -> Any:
    """The migration matrix of a :class:`Comparison` as an annotated heatmap (A rows, B columns)."""
    fig, ax = _axes(ax, figsize=(1.0 + 0.7 * len(comparison.labels_b), 1.0 + 0.55 * len(comparison.labels_a)),
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
    ax.set_xlabel(f"B: {comparison.scheme_b}")
    ax.set_ylabel(f"A: {comparison.scheme_a}")
    top = max((v for row in grid for v in row), default=0) or 1
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v:
                text = f"{v:.0%}" if share else str(int(v))
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if v > top / 2 else "black")
    ax.set_title(f"{comparison.moved} of {comparison.n} moved", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_sweep(frame: Any, param: str | None = None, *, ax: Any = None, stacked: bool = True) -> Any:
    """Label shares against a parameter's value (a frame from :func:`sweep`).

    ``param`` is the parameter column (default: the first column);
    ``stacked`` draws a stacked area chart, otherwise one line per label.
    """
    import polars as pl

    df = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    param = param or df.columns[0]
    labels = [c for c in df.columns if c not in (param, "n", "contacts_per_week")]
    fig, ax = _axes(ax, figsize=(6.4, 3.6), layout="constrained")
    xs = df[param].to_list()
    series = [df[c].to_list() for c in labels]
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


__all__ = ["plot_labels", "plot_migration", "plot_sweep"]
