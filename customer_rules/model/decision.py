"""Decisions and profiles: what was decided, why, and what to do about it."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from customer_rules.model.explanation import show as show  # re-exported: its home before explanations moved

if TYPE_CHECKING:
    from customer_rules.model.strategy import Strategy

_OP_ZH = {"==": "等于", "!=": "不等于", "<": "小于", "<=": "不大于", ">": "大于", ">=": "不小于"}


@dataclass(frozen=True)
class Need:
    """One comparison a record would have to satisfy: ``path op threshold``."""

    path: str
    op: str
    threshold: Any
    has: Any

    def render(self, lang: str = "en") -> str:
        has = "缺失" if self.has is None and lang == "zh" else show(self.has)
        if lang == "zh":
            return f"需要 {self.path} {_OP_ZH[self.op]} {show(self.threshold)}，实际为 {has}"
        return f"needs {self.path} {self.op} {show(self.threshold)}, has {has}"


@dataclass(frozen=True)
class Counterfactual:
    """A rule that did not match and what it would take to match it."""

    rule: str
    label: str
    needs: tuple[Need, ...]


@dataclass(frozen=True)
class Kept:
    """Stability rules kept the previous label: ``previous`` is kept where the
    rules said ``rules_said``; either the label was held ``held_days`` of the
    ``min_days`` required, or the change is within the ``margin``."""

    previous: str
    rules_said: str | None
    held_days: int | None = None
    min_days: int | None = None
    margin: float | None = None


@dataclass(slots=True, eq=False)
class Decision:
    """The outcome of one scheme for one customer.

    ``label`` is ``None`` when the customer is unclassified. ``rule`` is the
    deciding rule (``None`` for the default or unclassified). ``evidence``
    maps every dotted path (and parameter, derived value, feature) read to
    its value; ``missing`` lists the inputs that were needed but absent;
    ``also_matched`` the other rules that matched; ``labels`` every label
    matched (several under ``collect``); ``flags`` the label's flags plus the
    policy flags that hold. ``note`` says when an override or hysteresis
    decided instead of the rules. Treat it as read-only.
    """

    scheme: str
    label: str | None
    rule: str | None
    policy_id: str
    policy_version: str
    as_of: dt.date
    evidence: Mapping[str, Any]
    also_matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    record_id: str | None = None
    strategy: Strategy | None = None
    note: str | None = None
    source: Any = field(default=None, repr=False)
    record: Any = field(default=None, repr=False)
    scores: Mapping[str, Any] | None = None
    override: Any = None  # the manual Override that decided, if one did
    kept: Kept | None = None  # what stability rules kept, if they did

    # -- reading it --------------------------------------------------------
    @property
    def classified(self) -> bool:
        return self.label is not None

    def _policy(self) -> Any:
        return self.source.checked.policy if self.source is not None else None

    def scheme_name(self, lang: str = "en") -> str:
        """The scheme's display name in ``lang`` (its id when it declares none)."""
        policy = self._policy()
        name = getattr(policy, "name", None)
        return str(name.get(lang)) if name is not None else self.scheme

    def label_name(self, lang: str = "en") -> str | None:
        """The label's display name in ``lang`` (``zh`` or ``en``)."""
        policy = self._policy()
        if self.label is None:
            return None
        if policy is None:
            return self.label
        try:
            return str(policy.label(self.label).name(lang))
        except KeyError:
            return self.label

    def because(self, lang: str = "en") -> str | None:
        """The deciding rule's stated reason, if it has one."""
        policy = self._policy()
        if policy is None or self.rule is None:
            return None
        for r in policy.rules:
            if r.id == self.rule and r.because is not None:
                return str(r.because.get(lang))
        return None

    @property
    def counterfactuals(self) -> list[Counterfactual]:
        """Nearest other outcomes: rules that fail only on simple thresholds."""
        if self.source is None or not hasattr(self.source, "counterfactuals"):
            return []
        result: list[Counterfactual] = self.source.counterfactuals(self)
        return result

    def rule_inputs(self) -> dict[str, Any]:
        """The evidence the deciding rule read (all evidence if no rule decided)."""
        if self.source is None or self.rule is None:
            return dict(self.evidence)
        keys = self.source.checked.rule_input_keys.get(self.rule)
        if keys is None:  # not a rule of the policy (e.g. a manual override's note)
            return dict(self.evidence)
        return {k: v for k, v in self.evidence.items() if k in keys}

    def details(self, lang: str = "en") -> dict[str, str]:
        """The policy's ``details`` as caption → text, for the explanation
        (text values unquoted, an empty text as a dash)."""
        policy = self._policy()
        if policy is None or not policy.details:
            return {}
        out = {}
        for name, caption in policy.details.items():
            v = self.evidence.get(name)
            if v is None:
                text = "缺失" if lang == "zh" else "missing"
            elif isinstance(v, str):
                text = v or "—"
            else:
                text = show(v)
            out[caption.get(lang)] = text
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (for logs, CRM sync, audit)."""
        return {
            "scheme": self.scheme,
            "label": self.label,
            "rule": self.rule,
            "policy": {"id": self.policy_id, "version": self.policy_version},
            "as_of": self.as_of.isoformat(),
            "record_id": self.record_id,
            "evidence": {k: _jsonable(v) for k, v in self.evidence.items()},
            "also_matched": list(self.also_matched),
            "missing": list(self.missing),
            "labels": list(self.labels),
            "flags": list(self.flags),
            "note": self.note,
        }

    # -- explaining it -------------------------------------------------------
    def explain(self, lang: str = "en", detail: str = "summary") -> str:
        """The decision in words, in English (``en``) or Chinese (``zh``).

        ``detail="summary"`` is for people: the class by its display name,
        the deciding reason, the few values that decided it with names and
        units, what would change the result, and the strategy.
        ``detail="full"`` keeps every value read, the rules and the near
        misses, for auditors (see :mod:`customer_rules.model.explanation`).
        """
        from customer_rules.model.explanation import explain

        return explain(self, lang, detail)

    def __str__(self) -> str:
        return self.explain()

    def _repr_html_(self) -> str:
        from customer_rules.model.explanation import explain_html

        return explain_html(self, "en", "summary")

    def to_html(self, lang: str = "en", detail: str = "summary") -> str:
        """The explanation as HTML, at the same two levels as :meth:`explain`."""
        from customer_rules.model.explanation import explain_html

        return explain_html(self, lang, detail)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    dump = getattr(v, "model_dump", None)
    if callable(dump):  # a nested record read whole, e.g. the cases behind len(cases)
        return dump(mode="json")
    return v


class Profile(Mapping[str, Decision]):
    """One customer's decisions, by scheme id, and the strategies they call for.

    ``skipped`` maps schemes that were not decided to the reason (e.g. a
    population-relative scheme that has not been fitted).
    """

    def __init__(
        self,
        customer_id: str | None,
        as_of: dt.date,
        decisions: dict[str, Decision],
        skipped: dict[str, str] | None = None,
        customer: Any = None,
    ) -> None:
        self.customer_id = customer_id
        self.as_of = as_of
        self.decisions = decisions
        self.skipped = skipped or {}
        self.customer = customer

    def __getitem__(self, scheme: str) -> Decision:
        try:
            return self.decisions[scheme]
        except KeyError:
            if scheme in self.skipped:
                raise KeyError(f"{scheme!r} was skipped: {self.skipped[scheme]}") from None
            raise KeyError(
                f"no decision for scheme {scheme!r}; decided: {', '.join(self.decisions)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.decisions)

    def __len__(self) -> int:
        return len(self.decisions)

    @property
    def labels(self) -> dict[str, str | None]:
        """Scheme id → label."""
        return {s: d.label for s, d in self.decisions.items()}

    @property
    def strategies(self) -> dict[str, Strategy]:
        """Scheme id → strategy, for the decisions that have one."""
        return {s: d.strategy for s, d in self.decisions.items() if d.strategy is not None}

    def explain(self, lang: str = "en", detail: str = "summary") -> str:
        """Every decision in words (see :meth:`Decision.explain`)."""
        zh = lang == "zh"
        day = f"{self.as_of.year}年{self.as_of.month}月{self.as_of.day}日" if zh else str(self.as_of)
        head = f"客户 {self.customer_id}（截至{day}）" if zh else f"Customer {self.customer_id} as of {self.as_of}"
        parts = [head] + [d.explain(lang, detail) for d in self.decisions.values()]
        for scheme, why in self.skipped.items():
            if zh:
                parts.append(f"{scheme}：跳过（需要先按客户总体拟合）" if why.startswith("not fitted") else f"{scheme}：跳过")
            else:
                parts.append(f"{scheme}: skipped ({why})")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"Profile({self.customer_id!r}, {self.labels!r})"

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(s)}</td><td><b>{e(d.label or 'unclassified')}</b></td>"
            f"<td>{e(d.label_name('en') or '')}</td><td>{e(d.label_name('zh') or '')}</td>"
            f"<td><code>{e(d.rule or '-')}</code></td>"
            f"<td>{e(d.strategy.summary.en if d.strategy else '')}</td></tr>"
            for s, d in self.decisions.items()
        )
        return (
            f"<div class='cr-profile'><b>Customer {e(str(self.customer_id))}</b> as of {self.as_of}"
            "<table><tr><th>scheme</th><th>label</th><th>en</th><th>zh</th><th>rule</th>"
            f"<th>strategy</th></tr>{rows}</table></div>"
        )
