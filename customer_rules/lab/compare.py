"""``cr.compare`` and ``cr.sweep``: what a policy change does to real customers.

:func:`compare` classifies the same customers with two engines (say, the
current policy and a tightened one) and reports the migration matrix (label
under A × label under B), the customers who moved with both explanations,
and the workload each version implies: contacts per week from the cadences
of the strategies, ``7 / mean(min_days, max_days)`` per customer.
:func:`sweep` tries a range of values of one parameter and returns the
label shares per value, ready to plot.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from customer_rules.errors import RecordError
from customer_rules.model.decision import Decision

if TYPE_CHECKING:
    import polars as pl

    from customer_rules.engine.engine import Engine
    from customer_rules.model.records import Customer
    from customer_rules.model.strategy import Strategy

#: How the label ``None`` (unclassified) is shown in tables.
UNCLASSIFIED = "unclassified"


def contacts_per_week(decision: Decision | None) -> float:
    """Contacts a week the decision's strategy asks for (0 without a cadence)."""
    return 0.0 if decision is None else _rate(decision.strategy)


@dataclass(frozen=True)
class Move:
    """One customer whose label differs between engine A and engine B."""

    record_id: str | None
    label_a: str | None
    label_b: str | None
    decision_a: Decision
    decision_b: Decision

    def explain(self, lang: str = "en") -> str:
        a = self.label_a or UNCLASSIFIED
        b = self.label_b or UNCLASSIFIED
        head = f"{self.record_id}: {a} → {b}"
        body_a = "\n".join("  " + line for line in self.decision_a.explain(lang).splitlines())
        body_b = "\n".join("  " + line for line in self.decision_b.explain(lang).splitlines())
        return f"{head}\n A:\n{body_a}\n B:\n{body_b}"


class Comparison:
    """Two engines' labels for the same customers (see :func:`compare`).

    ``matrix`` / ``shares``: polars frames, one row per label under A and
    one column per label under B (counts / shares of all customers);
    ``moves``: the customers whose label changed (:class:`Move`, with both
    decisions); ``workload_a`` / ``workload_b``: contacts per week implied
    by the strategies' cadences; ``workload``: the same per label;
    ``name_a`` / ``name_b``: what A and B are (shown by :meth:`plot`).
    """

    def __init__(
        self,
        scheme_a: str,
        scheme_b: str,
        as_of: dt.date,
        pairs: list[tuple[Decision, Decision]],
        labels_a: Sequence[str],
        labels_b: Sequence[str],
        rejected: int = 0,
        names: tuple[str, str] | None = None,
    ) -> None:
        self.scheme_a = scheme_a
        self.scheme_b = scheme_b
        #: What A and B are, for titles and axis labels (default: the scheme ids).
        self.name_a, self.name_b = names if names is not None else (scheme_a, scheme_b)
        self.as_of = as_of
        self.pairs = pairs
        self.rejected = rejected
        seen_a = {a.label for a, _ in pairs}
        seen_b = {b.label for _, b in pairs}
        self.labels_a: tuple[str | None, ...] = (*labels_a, *((None,) if None in seen_a else ()))
        self.labels_b: tuple[str | None, ...] = (*labels_b, *((None,) if None in seen_b else ()))
        self.counts: Counter[tuple[str | None, str | None]] = Counter((a.label, b.label) for a, b in pairs)
        self.moves: list[Move] = [
            Move(a.record_id, a.label, b.label, a, b) for a, b in pairs if a.label != b.label
        ]
        self.workload_a = sum(contacts_per_week(a) for a, _ in pairs)
        self.workload_b = sum(contacts_per_week(b) for _, b in pairs)

    # -- numbers -------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def moved(self) -> int:
        return len(self.moves)

    @property
    def share_moved(self) -> float:
        return self.moved / self.n if self.n else 0.0

    def count(self, label_a: str | None, label_b: str | None) -> int:
        return self.counts.get((label_a, label_b), 0)

    def totals(self) -> tuple[dict[str | None, int], dict[str | None, int]]:
        """Customers per label under A and under B."""
        a: Counter[str | None] = Counter(x.label for x, _ in self.pairs)
        b: Counter[str | None] = Counter(y.label for _, y in self.pairs)
        return {k: a.get(k, 0) for k in self.labels_a}, {k: b.get(k, 0) for k in self.labels_b}

    def _table(self, share: bool) -> pl.DataFrame:
        import polars as pl

        n = self.n or 1
        rows: dict[str, list[Any]] = {"label_a": [lab or UNCLASSIFIED for lab in self.labels_a]}
        for lb in self.labels_b:
            col = [self.count(la, lb) for la in self.labels_a]
            rows[lb or UNCLASSIFIED] = [c / n for c in col] if share else col
        totals = [sum(self.count(la, lb) for lb in self.labels_b) for la in self.labels_a]
        rows["total"] = [t / n for t in totals] if share else totals
        return pl.DataFrame(rows)

    @property
    def matrix(self) -> pl.DataFrame:
        """Counts: rows = label under A (``label_a``), columns = label under B, plus ``total``."""
        return self._table(share=False)

    @property
    def shares(self) -> pl.DataFrame:
        """The matrix as shares of all customers compared."""
        return self._table(share=True)

    @property
    def workload(self) -> pl.DataFrame:
        """Per label: customers and contacts per week under A and under B."""
        import polars as pl

        labels = list(dict.fromkeys([*self.labels_a, *self.labels_b]))
        ca: Counter[str | None] = Counter()
        cb: Counter[str | None] = Counter()
        wa: dict[str | None, float] = {}
        wb: dict[str | None, float] = {}
        for a, b in self.pairs:
            ca[a.label] += 1
            cb[b.label] += 1
            wa[a.label] = wa.get(a.label, 0.0) + contacts_per_week(a)
            wb[b.label] = wb.get(b.label, 0.0) + contacts_per_week(b)
        return pl.DataFrame(
            {
                "label": [lab or UNCLASSIFIED for lab in labels],
                "customers_a": [ca.get(lab, 0) for lab in labels],
                "contacts_per_week_a": [round(wa.get(lab, 0.0), 3) for lab in labels],
                "customers_b": [cb.get(lab, 0) for lab in labels],
                "contacts_per_week_b": [round(wb.get(lab, 0.0), 3) for lab in labels],
            }
        )

    def moved_frame(self) -> pl.DataFrame:
        """One row per customer who moved: id, labels and deciding rules under A and B."""
        import polars as pl

        return pl.DataFrame(
            {
                "id": [m.record_id for m in self.moves],
                "label_a": [m.label_a for m in self.moves],
                "label_b": [m.label_b for m in self.moves],
                "rule_a": [m.decision_a.rule for m in self.moves],
                "rule_b": [m.decision_b.rule for m in self.moves],
            },
            schema={"id": pl.String, "label_a": pl.String, "label_b": pl.String, "rule_a": pl.String, "rule_b": pl.String},
        )

    def moves_between(self, label_a: str | None, label_b: str | None) -> list[Move]:
        return [m for m in self.moves if m.label_a == label_a and m.label_b == label_b]

    def plot(self, *, share: bool = False, ax: Any = None, names: tuple[str, str] | None = None) -> Any:
        """The migration matrix as a heatmap (needs the ``plot`` extra); ``names`` overrides A's and B's."""
        from customer_rules.lab.plots import plot_migration

        return plot_migration(self, share=share, ax=ax, names=names)

    # -- text ---------------------------------------------------------------------------
    def _name(self) -> str:
        return self.scheme_a if self.scheme_a == self.scheme_b else f"{self.scheme_a} → {self.scheme_b}"

    def summary(self) -> str:
        delta = self.workload_b - self.workload_a
        return (
            f"compare {self._name()} as of {self.as_of}: {self.n} customers, {self.moved} moved"
            f" ({self.share_moved:.1%}); contacts per week {self.workload_a:.1f} → {self.workload_b:.1f}"
            f" ({delta:+.1f})" + (f"; {self.rejected} rows rejected" if self.rejected else "")
        )

    def explain(self, limit: int = 10) -> str:
        lines = [self.summary()]
        flows = Counter((m.label_a, m.label_b) for m in self.moves)
        for (a, b), k in flows.most_common():
            lines.append(f"  {a or UNCLASSIFIED} → {b or UNCLASSIFIED}: {k}")
        if self.moves and limit:
            lines.append(f"first {min(limit, len(self.moves))} moves:")
            lines.extend(m.explain() for m in self.moves[:limit])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain(limit=0)

    def __repr__(self) -> str:
        return f"Comparison({self._name()!r}, n={self.n}, moved={self.moved})"

    def _repr_html_(self) -> str:
        e = html.escape
        head = "<tr><th>A \\ B</th>" + "".join(f"<th>{e(b or UNCLASSIFIED)}</th>" for b in self.labels_b) + "</tr>"
        body = []
        for a in self.labels_a:
            cells = []
            for b in self.labels_b:
                k = self.count(a, b)
                style = "background:#e8f0fe;" if a == b and k else ("background:#fde7e9;" if k else "color:#bbb;")
                cells.append(f"<td style='{style}'>{k}</td>")
            body.append(f"<tr><th>{e(a or UNCLASSIFIED)}</th>{''.join(cells)}</tr>")
        moves = "".join(
            f"<tr><td>{e(str(m.record_id))}</td><td>{e(m.label_a or UNCLASSIFIED)} → {e(m.label_b or UNCLASSIFIED)}</td>"
            f"<td><code>{e(m.decision_a.rule or '-')}</code> → <code>{e(m.decision_b.rule or '-')}</code></td></tr>"
            for m in self.moves[:15]
        )
        more = f"<div>… and {len(self.moves) - 15} more</div>" if len(self.moves) > 15 else ""
        return (
            f"<div class='cr-comparison'><b>{e(self.summary())}</b>"
            f"<table>{head}{''.join(body)}</table>"
            + (
                "<div>moved:</div><table><tr><th>id</th><th>label</th><th>rule</th></tr>" + moves + "</table>" + more
                if self.moves
                else ""
            )
            + "</div>"
        )


def _is_table(data: Any) -> bool:
    return type(data).__module__.split(".")[0] in ("polars", "pandas")


def _records(data: Any, model: type[Customer] | None = None) -> tuple[list[Customer], int]:
    """The customers in ``data`` (records, dicts, or a polars or pandas table)
    as records, and how many rows were refused (left out)."""
    from customer_rules.engine.engine import to_record
    from customer_rules.model.records import Customer as core

    model = model or core
    if _is_table(data):
        from customer_rules.model.frames import to_polars
        from customer_rules.model.tables import customer_spec, prepare, records_from_canonical

        prepared = prepare(to_polars(data)[1], spec=customer_spec(model), warn=False)
        pairs = records_from_canonical(prepared.valid, model)
        valid = [r for _, r in pairs if not isinstance(r, RecordError)]
        return valid, prepared.rejected.height + len(pairs) - len(valid)
    out: list[Customer] = []
    rejected = 0
    for i, row in enumerate(data):
        try:
            out.append(to_record(row, row=i, model=model))
        except RecordError:
            rejected += 1
    return out, rejected


def _differing(a: Engine, b: Engine) -> list[str]:
    common = [s for s in a.schemes if s in b.schemes]
    return [
        s
        for s in common
        if a.schemes[s].policy != b.schemes[s].policy
        or a.params(s) != b.params(s)
        or dict(a.schemes[s].strategies) != dict(b.schemes[s].strategies)
    ]


def _describe(engine: Engine, scheme: str, other: Engine, other_scheme: str) -> str:
    """``scheme vVERSION`` plus the parameters whose values differ from the other side's."""
    policy = engine.schemes[scheme].policy
    name = f"{scheme} v{policy.version}" if policy is not None and policy.version else scheme
    if scheme != other_scheme:
        return name
    mine, theirs = engine.params(scheme), other.params(other_scheme)
    changed = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in mine.items() if theirs.get(k) != v]
    if not changed and dict(engine.schemes[scheme].strategies) != dict(other.schemes[other_scheme].strategies):
        changed = ["its own strategies"]
    return f"{name} ({', '.join(changed)})" if changed else name


def compare(
    engine_a: Engine,
    engine_b: Engine,
    data: Any,
    *,
    as_of: Any,
    scheme: str | tuple[str, str] | None = None,
    names: tuple[str, str] | None = None,
) -> Comparison:
    """Classify ``data`` with both engines and compare one scheme's labels.

    ``data`` is an iterable of customers (records or dicts) or a polars or
    pandas table named as for ``engine.classify_frame`` (read into records:
    a comparison keeps both decisions of every customer); rows that do not
    validate are counted in ``rejected``. ``scheme`` names the scheme (or a
    pair ``(scheme under A, scheme under B)`` to compare two different
    schemes); by default the one scheme whose policy, parameters or
    strategies differ between the engines. An engine whose scheme ranks
    customers against a population and is not fitted yet is fitted on
    ``data`` first (``engine.fit``, which changes that engine).
    ``names`` says what A and B are in pictures (default: each
    side's scheme id, policy version and the parameters that differ).
    """
    from customer_rules.engine.engine import normalise_as_of

    day = normalise_as_of(as_of)
    if scheme is None:
        differ = _differing(engine_a, engine_b)
        if len(differ) != 1:
            what = "no scheme differs" if not differ else f"several schemes differ ({', '.join(differ)})"
            raise ValueError(f"{what} between the engines: pass scheme=")
        sa = sb = differ[0]
    elif isinstance(scheme, tuple):
        sa, sb = scheme
    else:
        sa = sb = scheme
    for eng, sid in ((engine_a, sa), (engine_b, sb)):
        if sid not in eng.schemes:
            raise KeyError(f"unknown scheme {sid!r} in {eng!r}")
    records, rejected = _records(data, engine_a.record_model)
    for eng, sid in ((engine_a, sa), (engine_b, sb)):
        if not eng.is_fitted(sid):
            eng.fit(records, as_of=day, schemes=[sid])
    pairs = [(engine_a.decide(sa, r, as_of=day), engine_b.decide(sb, r, as_of=day)) for r in records]
    return Comparison(
        sa,
        sb,
        day,
        pairs,
        engine_a.schemes[sa].labels,
        engine_b.schemes[sb].labels,
        rejected,
        names if names is not None else (_describe(engine_a, sa, engine_b, sb), _describe(engine_b, sb, engine_a, sa)),
    )


class _Customers:
    """What the lab classifies: records, or a table decided column-wise.

    A table (polars DataFrame or LazyFrame, pandas DataFrame) is classified
    by the frame backend when the engine's labels and strategies there are
    the decisions' of ``scheme`` (no plugin adjusts decisions, none chooses
    the scheme's strategies): the same label counts as record by record, at
    a table's cost. Otherwise its valid rows become records. Rows that do
    not validate are left out either way.
    """

    def __init__(self, data: Any, engine: Engine, scheme: str) -> None:
        from customer_rules.model.frames import to_polars

        self.table: pl.DataFrame | None = None
        self.records: list[Customer] = []
        if _is_table(data) and not (engine.has_overrides or engine.has_custom_strategies_for(scheme)):
            self.table = to_polars(data)[1]
        else:
            self.records, _ = _records(data, engine.record_model)

    def fit(self, engine: Engine, scheme: str, day: dt.date) -> None:
        """Fit ``scheme`` on these customers when it ranks them and is not fitted."""
        if not engine.is_fitted(scheme):
            population: Any = self.table if self.table is not None else self.records
            engine.fit(population, as_of=day, schemes=[scheme])

    def tally(self, engine: Engine, scheme: str, day: dt.date) -> tuple[Counter[str | None], Counter[float]]:
        """Customers per label, and per weekly contact rate of their strategy."""
        if self.table is None:
            decisions = [engine.decide(scheme, r, as_of=day) for r in self.records]
            return Counter(d.label for d in decisions), Counter(contacts_per_week(d) for d in decisions)
        result = engine.classify_frame_with_rejects(self.table, as_of=day, schemes=[scheme])
        for error in result.errors:
            if not isinstance(error, RecordError):  # a conflict under hit policy unique: as decide raises it
                raise error
        strategies = engine.schemes[scheme].strategies
        labels: Counter[str | None] = Counter()
        for label, count in result.frame.get_column(scheme).value_counts(sort=True).iter_rows():
            labels[label] = count
        rates: Counter[float] = Counter()
        for label, count in labels.items():
            strategy = strategies.get(label) if label is not None else None
            rates[_rate(strategy)] += count
        return labels, rates


def _rate(strategy: Strategy | None) -> float:
    """Contacts a week ``strategy`` asks for (0 without one or without a cadence)."""
    if strategy is None or strategy.cadence is None:
        return 0.0
    c = strategy.cadence
    return 7.0 / ((c.min_days + c.max_days) / 2)


def _workload(rates: Counter[float]) -> float:
    """Contacts a week in all, from the customers per rate (summed in one order
    whichever way the customers were classified)."""
    return sum(rate * count for rate, count in sorted(rates.items()))


def label_shares(
    engine: Engine, scheme: str, data: Any, *, as_of: Any
) -> dict[str | None, float]:
    """The share of customers per label (fitting the engine first when needed).

    ``data`` is customers (records or dicts) or a table (see :func:`sweep`)."""
    from customer_rules.engine.engine import normalise_as_of

    day = normalise_as_of(as_of)
    engine.scheme(scheme)
    customers = _Customers(data, engine, scheme)
    customers.fit(engine, scheme, day)
    counts, _ = customers.tally(engine, scheme, day)
    n = sum(counts.values()) or 1
    return {k: v / n for k, v in counts.items()}


def sweep(
    engine: Engine,
    scheme: str,
    param: str,
    values: Iterable[Any],
    data: Any,
    *,
    as_of: Any,
) -> pl.DataFrame:
    """Label shares of ``scheme`` for each value of one parameter.

    For each value, ``engine.with_params(scheme, **{param: value})`` (fitted
    on ``data`` when the scheme ranks customers) classifies ``data``. The
    result has one row per value: the column ``param`` (named after the
    parameter), ``n``, then one column per label (in label order, plus
    ``unclassified`` when some are) holding the share of customers, and
    ``contacts_per_week`` from the strategies' cadences.

    ``data`` is customers (records or dicts; rows that do not validate are
    left out) or a table named as for ``engine.classify_frame`` (polars or
    pandas): a table is classified column-wise by the frame backend, with
    the same result, unless a plugin adjusts decisions or may choose the
    scheme's strategies (then its rows are decided one by one; see the
    ``strategy_schemes`` hook).
    """
    import polars as pl

    from customer_rules.engine.engine import normalise_as_of

    day = normalise_as_of(as_of)
    engine.scheme(scheme)
    customers = _Customers(data, engine, scheme)
    labels: list[str | None] = list(engine.schemes[scheme].labels)
    rows: list[dict[str, Any]] = []
    for value in values:
        eng = engine.with_params(scheme, **{param: value})
        customers.fit(eng, scheme, day)
        counts, rates = customers.tally(eng, scheme, day)
        total = sum(counts.values())
        n = total or 1
        row: dict[str, Any] = {param: value, "n": total}
        for lab in counts:
            if lab not in labels:
                labels.append(lab)
        row.update({lab or UNCLASSIFIED: counts.get(lab, 0) / n for lab in labels})
        row["contacts_per_week"] = round(_workload(rates), 3)
        rows.append(row)
    columns = [param, "n", *(lab or UNCLASSIFIED for lab in labels), "contacts_per_week"]
    return pl.DataFrame([{c: r.get(c, 0.0) for c in columns} for r in rows]).select(columns)


__all__ = ["Comparison", "Move", "compare", "contacts_per_week", "label_shares", "sweep"]
