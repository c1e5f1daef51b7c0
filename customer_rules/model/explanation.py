"""Explanations in words: what a decision means, for people and for auditors.

Two levels (see :meth:`Decision.explain`):

- ``detail="summary"`` (the default) is for the people who act on a grade
  and the customers who ask about it: the class by its display name, the
  deciding reason in a sentence, the few values that decided it with their
  names and units, what would change the result ("近12个月收入 46.2 万元，离
  重点客户门槛 50 万元还差 3.8 万元") and the strategy;
- ``detail="full"`` keeps every value read, the rule ids (in English) and the
  near misses, for auditors.

Everything shown is named by its declared display name in the language
asked for: record fields (:func:`~customer_rules.model.records.record_field`),
features (``en``/``zh``), parameters, derived values and flags (the
policy's ``names`` and flag definitions), enum values. Values are formatted
by their unit (:data:`UNITS`): amounts in 万/亿 in Chinese, days, points,
percentages, levels as words. Chinese output is Chinese throughout.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from customer_rules.lang.ast import Binary, Call, Literal, Name, Node, quote

if TYPE_CHECKING:
    from customer_rules.model.change import ChangeExplanation
    from customer_rules.model.decision import Counterfactual, Decision, Need

__all__ = [
    "DETAILS",
    "UNITS",
    "Namer",
    "explain",
    "explain_html",
    "format_value",
    "join",
    "sentence",
    "show",
]

#: The levels of an explanation.
DETAILS = ("summary", "full")

# -- values as a policy writes them (the auditor level in English) ------------


def show(value: Any) -> str:
    """A value as it would be written in a policy."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # whole amounts in full (1234567, not 1.23457e+06); others to 12 digits
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.12g}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _known(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that are present: absent ones are listed under 'missing inputs'."""
    return {k: v for k, v in values.items() if v is not None}


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {show(v)}" for k, v in values.items())


# -- units -------------------------------------------------------------------

_LEVELS = {"zh": ("无", "低", "中", "高"), "en": ("none", "low", "medium", "high")}


@dataclass(frozen=True)
class Unit:
    """How values of one unit read: the words after the number, by language
    (``kind``: ``money``, ``level``, ``fraction`` (0.1 = 10%), ``percent`` or
    ``plain``)."""

    zh: str
    en: str
    kind: str = "plain"


#: The units fields, features, parameters and derived values declare.
UNITS: Mapping[str, Unit] = {
    "CNY": Unit("元", "CNY", "money"),
    "days": Unit("天", "days"),
    "years": Unit("岁", "years"),
    "count": Unit("", ""),
    "points": Unit("分", "points"),
    "points 0-100": Unit("分", "points"),
    "points 1-5": Unit("分", "points"),
    "percent": Unit("%", "%", "percent"),
    "ratio": Unit("%", "%", "fraction"),
    "share 0-1": Unit("%", "%", "fraction"),
    "level 0-3": Unit("", "", "level"),
}


def _number(x: float, digits: int = 2, group: bool = False) -> str:
    """A number for people: whole numbers as they are, others to ``digits``
    decimals; ``group`` puts thousands separators in (English)."""
    comma = "," if group else ""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):{comma}}"
    text = f"{x:{comma}.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def _money(x: float, lang: str) -> str:
    if lang == "zh":
        a = abs(x)
        if a >= 1e8:
            return f"{_number(x / 1e8)} 亿元"
        if a >= 1e4:
            return f"{_number(x / 1e4)} 万元"
        return f"{_number(x)} 元"
    return f"CNY {_number(x, group=True)}"


def _date(d: dt.date, lang: str) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.isoformat()


def format_value(
    value: Any,
    unit: str | None = None,
    lang: str = "en",
    value_name: Callable[[str], str] | None = None,
) -> str:
    """``value`` as a person reads it in ``lang``: with its unit, amounts in
    万/亿 in Chinese, levels as words, booleans as yes/no, dates in the
    local style, enum values by ``value_name``."""
    zh = lang == "zh"
    if value is None:
        return "未记录" if zh else "not recorded"
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    if isinstance(value, dt.date):
        return _date(value, lang)
    if isinstance(value, str):
        if value_name is not None:
            return value_name(value)
        return value or "—"
    if isinstance(value, tuple | list):
        if not value:
            return "无" if zh else "none"
        return ("、" if zh else ", ").join(format_value(v, unit, lang, value_name) for v in value)
    if not isinstance(value, int | float):
        dump = getattr(value, "model_dump", None)
        return "（记录）" if zh and callable(dump) else "(record)" if callable(dump) else str(value)
    u = UNITS.get(unit or "")
    if u is None:
        return _number(value, group=not zh)
    if u.kind == "money":
        return _money(value, lang)
    if u.kind == "level" and float(value).is_integer() and 0 <= value <= 3:
        word = _LEVELS["zh" if zh else "en"][int(value)]
        return f"{word}（{int(value)}）" if zh else f"{word} ({int(value)})"
    if u.kind == "fraction":
        return f"{_number(value * 100, 1)}%"
    if u.kind == "percent":
        return f"{_number(value, 1)}%"
    words = u.zh if zh else u.en
    shown = _number(value, group=not zh)
    if not words:
        return shown
    if not zh and value == 1 and words in ("days", "points"):
        words = words[:-1]
    return f"{shown} {words}"


def _amount_between(a: Any, b: Any) -> float | None:
    """``b - a`` when both are numbers (not booleans)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(b) - float(a)
    return None


# -- punctuation ---------------------------------------------------------------

_END = "。；;，,.、：:"


def spaced(*parts: str) -> str:
    """Chinese words and values side by side: a space only next to a number
    or a Latin letter ("收入 46.2 万元", "为是", "为 VIP 客户")."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and (_latin(out[-1]) or _latin(part[0])):
            out += " "
        out += part
    return out


def _latin(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "%-+")


def join(parts: Iterable[str], lang: str) -> str:
    """Clauses joined into one sentence: ``；`` in Chinese (without the
    clauses' own full stops, so never ``。；``), ``; `` in English."""
    items = [t for t in (p.strip().rstrip(_END) for p in parts if p) if t]
    return ("；" if lang == "zh" else "; ").join(items)


def sentence(text: str, lang: str) -> str:
    """``text`` ending in exactly one full stop (``。`` or ``.``)."""
    text = text.strip().rstrip(_END)
    if not text:
        return text
    if text[-1] in "？！?!）)”\"":
        return text
    return text + ("。" if lang == "zh" else ".")


# -- naming what a decision read -------------------------------------------------

def _population_call(name: str) -> bool:
    """A population-relative function of the language's table, or ``cutoff`` (its threshold)."""
    from customer_rules.lang.functions import FUNCTIONS

    fn = FUNCTIONS.get(name)
    return name == "cutoff" or (fn is not None and fn.population)

_FUNCTION_WORDS = {
    # name: (zh, en)
    "len": ("个数", "number of"),
    "count_distinct": ("不同项数", "distinct values of"),
    "days_since": ("距今天数", "days since"),
    "days_until": ("剩余天数", "days until"),
    "abs": ("绝对值", "absolute value of"),
    "min": ("最小值", "smallest of"),
    "max": ("最大值", "largest of"),
    "count_true": ("成立的条件数", "conditions holding among"),
    "has_any": ("含有其一", "any of"),
    "coalesce": ("首个已知值", "first known of"),
}


@lru_cache(maxsize=4096)
def _parsed(key: str) -> Node | None:
    from customer_rules.lang.parser import parse

    try:
        return parse(key)
    except Exception:  # a key that is not an expression is named as it is
        return None


class Namer:
    """Names and formats what one policy reads, in one language.

    Built from the checked policy behind a decision (its namespace holds
    the record fields and features, its policy the parameter, derived value,
    flag and label names); without one, ids are shown as they are.
    """

    def __init__(self, checked: Any, lang: str = "en") -> None:
        self.checked = checked
        self.lang = lang
        self.zh = lang == "zh"
        self.policy = checked.policy if checked is not None else None
        ns = checked.namespace if checked is not None else None
        self.fields: Mapping[str, Any] = ns.fields if ns is not None else _core_fields()
        self.features: Mapping[str, Any] = ns.features if ns is not None else {}
        self.names: Mapping[str, Any] = self.policy.names if self.policy is not None else {}
        self.params: Mapping[str, Any] = checked.params if checked is not None else {}
        self._labels: frozenset[str] | None = None  # the scheme's label ids, once a text needs them

    # -- the scheme, its labels, rules and flags --------------------------------
    def scheme(self, scheme_id: str) -> str:
        name = getattr(self.policy, "name", None)
        return name.get(self.lang) if name is not None else scheme_id

    def _label_or_text(self, text: str) -> str:
        """A label's name when ``text`` is one of the scheme's labels, else ``text``."""
        labels = self._labels
        if labels is None:
            ids = self.policy.label_ids if self.policy is not None else ()
            labels = self._labels = frozenset(ids)
        return self.label(text) if text in labels else text

    def label(self, label: str | None) -> str:
        if label is None:
            return "未分类" if self.zh else "unclassified"
        if self.policy is None:
            return label
        try:
            return str(self.policy.label(label).name(self.lang))
        except KeyError:
            return label

    def rule_number(self, rule: str) -> int | None:
        if self.policy is None:
            return None
        for i, r in enumerate(self.policy.rules, 1):
            if r.id == rule:
                return i
        return None

    def rule(self, rule: str) -> str:
        """A rule as auditors cite it: its id in English, its number in Chinese."""
        if not self.zh:
            return rule
        n = self.rule_number(rule)
        return f"第 {n} 条规则" if n is not None else "规则"

    def because(self, rule: str | None) -> str | None:
        if self.policy is None or rule is None:
            return None
        for r in self.policy.rules:
            if r.id == rule and r.because is not None:
                return str(r.because.get(self.lang))
        return None

    def flag(self, flag: str) -> str:
        if self.policy is not None:
            for f in self.policy.flags:
                if f.id == flag:
                    return str(f.zh or f.en) if self.zh else str(f.en)
        if flag in self.names:
            return str(self.names[flag].get(self.lang))
        return flag

    # -- values ----------------------------------------------------------------
    def key(self, key: str) -> str:
        """The display name of an evidence key (a path, parameter, derived
        value, feature, feature call or population function)."""
        if key.startswith("params."):
            name = key[len("params.") :]
            shown = self.names[name].get(self.lang) if name in self.names else name
            return shown
        if key in self.names:
            return str(self.names[key].get(self.lang))
        if key in self.features:
            return str(self.features[key].display_name(self.lang))
        if key in self.fields:
            return str(self.fields[key].name(self.lang))
        node = _parsed(key)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Name) and node.dotted != key:
            return self.key(node.dotted)
        return key

    def unit(self, key: str) -> str | None:
        if key.startswith("params."):
            name = key[len("params.") :]
            return self.names[name].unit if name in self.names else None
        if key in self.names:
            return self.names[key].unit  # type: ignore[no-any-return]
        if key in self.features:
            return self.features[key].unit  # type: ignore[no-any-return]
        if key in self.fields:
            return self.fields[key].unit  # type: ignore[no-any-return]
        node = _parsed(key)
        if isinstance(node, Call):
            if node.name == "cutoff" and node.args and isinstance(node.args[0], Call) and node.args[0].args:
                return self._unit_of(node.args[0].args[0])
            if node.name in self.features:
                return self.features[node.name].unit  # type: ignore[no-any-return]
            if node.name in ("min", "max", "abs", "coalesce") and node.args:
                return self._unit_of(node.args[0])
        return None

    def value(self, key: str, value: Any) -> str:
        """``value`` of ``key``, with the key's unit and value names."""
        feature = self._feature_of(key)
        if feature is not None and feature.show is not None and isinstance(value, str):
            return str(feature.show(value, self.lang))
        return format_value(value, self.unit(key), self.lang, self._value_names(key))

    def _feature_of(self, key: str) -> Any:
        """The feature behind a key: a feature, a feature call, or a derived
        value that is one."""
        if key in self.features:
            return self.features[key]
        node = _parsed(key)
        if isinstance(node, Call) and node.name in self.features:
            return self.features[node.name]
        if self.checked is not None:
            for name, expr, _ in self.checked.derived:
                if name == key:
                    if isinstance(expr, Call) and expr.name in self.features:
                        return self.features[expr.name]
                    if isinstance(expr, Name) and expr.dotted in self.features:
                        return self.features[expr.dotted]
        return None

    def details(self, decision: Decision) -> list[tuple[str, str]]:
        """The policy's ``details``: (caption, value in words)."""
        if self.policy is None:
            return []
        return [
            (caption.get(self.lang), self.value(name, decision.evidence.get(name)))
            for name, caption in self.policy.details.items()
        ]

    def pair(self, key: str, value: Any) -> str:
        """``name value`` (``name：value`` for yes/no and text in Chinese)."""
        name, shown = self.key(key), self.value(key, value)
        if self.zh:
            return spaced(name, shown) if shown[:1].isascii() else f"{name}：{shown}"
        return f"{name}: {shown}" if isinstance(value, bool | str) or value is None else f"{name} {shown}"

    def _value_names(self, key: str) -> Callable[[str], str] | None:
        name = key[len("params.") :] if key.startswith("params.") else key
        if name in self.names and self.names[name].values:
            values = self.names[name].values
            return lambda v: str(values[v].get(self.lang)) if v in values else v
        info = self.fields.get(key)
        if info is not None and info.values:
            return lambda v: str(info.value_name(v, self.lang))
        if self.policy is not None:  # a text naming one of this scheme's labels (a grade history)
            return self._label_or_text
        return None

    def _unit_of(self, node: Node) -> str | None:
        if isinstance(node, Name):
            return self.unit(node.dotted)
        if isinstance(node, Call):
            from customer_rules.lang.ast import to_text

            return self.unit(to_text(node))
        return None

    def _arg(self, node: Node) -> str:
        """An argument of a call, as a person reads it."""
        if isinstance(node, Name):
            if node.parts[0] == "params" and len(node.parts) == 2 and node.parts[1] in self.params:
                return self.value(node.dotted, self.params[node.parts[1]])
            return self.key(node.dotted)
        if isinstance(node, Literal):
            return format_value(node.value, None, self.lang)
        if isinstance(node, Call):
            return self._call(node)
        return self._condition(node)

    def _condition(self, node: Node) -> str:
        """A group condition (``kind == "terminal"``) in words."""
        if isinstance(node, Binary) and node.op == "==" and isinstance(node.left, Name):
            key = node.left.dotted
            right = node.right
            shown = self.value(key, right.value) if isinstance(right, Literal) else self._arg(right)
            return f"{self.key(key)}为{shown}" if self.zh else f"{self.key(key)} is {shown}"
        if isinstance(node, Name):
            return self.key(node.dotted)
        return "同组" if self.zh else "its group"

    def _window(self, node: Node) -> str:
        """A feature argument: a period of days reads "last 30 days"."""
        if isinstance(node, Name) and node.parts[0] == "params" and len(node.parts) == 2:
            name = node.parts[1]
            unit = self.names[name].unit if name in self.names else None
            v = self.params.get(name)
            if unit == "days" and isinstance(v, int | float) and not isinstance(v, bool):
                return f"近 {_number(v)} 天" if self.zh else f"last {_number(v)} days"
        return self._arg(node)

    def _group(self, node: Call, *, threshold: bool) -> str | None:
        """A ``top``/``bottom`` call in words ("近12个月收入位列前 20%"), or the
        threshold of its group ("…前 20% 的门槛"); ``None`` for another call."""
        name = node.name
        end = "top" if name.startswith("top") else "bottom" if name.startswith("bottom") else None
        args = node.args
        within = name.endswith("_within")
        if end is None or len(args) < (3 if within else 2):
            return None
        zh = self.zh
        measure, size = self._arg(args[0]), self._arg(args[1])
        where = self._condition(args[2]) if within else None
        if zh:
            side = "前" if end == "top" else "最低"
            scope = f"在{where}中" if where is not None else ""
            # "前 20% 的门槛", "前 3 名的门槛"
            size, gap = (size, " ") if "_pct" in name else (f"{size} 名", "")
            return f"{measure}{scope}{side} {size}{gap}的门槛" if threshold else f"{measure}{scope}位列{side} {size}"
        side = "top" if end == "top" else "lowest"
        scope = f" where {where}" if where is not None else ""
        if threshold:
            return f"threshold of the {side} {size} by {measure}{scope}"
        return f"{measure} in the {side} {size}{scope}"

    def _call(self, node: Call) -> str:
        zh = self.zh
        args = node.args
        if node.name == "cutoff" and args and isinstance(args[0], Call):
            inner = args[0]
            group = self._group(inner, threshold=True)
            if group is not None:
                return group
            return f"{self._call(inner)}的门槛" if zh else f"threshold of {self._call(inner)}"
        group = self._group(node, threshold=False)
        if group is not None:
            return group
        if node.name == "percentile" and args:
            m = self._arg(args[0])
            return f"{m}的百分位排名" if zh else f"percentile rank of {m}"
        if node.name in self.features:
            name = str(self.features[node.name].display_name(self.lang))
            if not args:
                return name
            shown = ("，" if zh else ", ").join(self._window(a) for a in args)
            return f"{name}（{shown}）" if zh else f"{name} ({shown})"
        words = _FUNCTION_WORDS.get(node.name)
        shown = ("、" if zh else ", ").join(self._arg(a) for a in args)
        if words is None:
            return f"{node.name}({shown})"
        return f"{shown}的{words[0]}" if zh else f"{words[1]} {shown}"


@lru_cache(maxsize=1)
def _core_fields() -> Mapping[str, Any]:
    """The core record's fields, to name what a decision without its policy
    (e.g. one read back from a decision store) read."""
    from customer_rules.lang.types import record_fields
    from customer_rules.model.records import Customer

    return record_fields(Customer)


def _namer(decision: Decision, lang: str) -> Namer:
    source = decision.source
    checked = getattr(source, "checked", None)
    return Namer(checked, lang)


# -- what would change the result -----------------------------------------------

_OP_WORDS = {
    # op: (zh, en)
    ">=": ("不低于", "at least"),
    ">": ("高于", "above"),
    "<=": ("不超过", "at most"),
    "<": ("低于", "below"),
    "==": ("为", "to be"),
    "!=": ("不为", "not to be"),
}


def need_text(need: Need, label: str, namer: Namer) -> str:
    """One condition a record would have to meet for ``label``, in words:
    "近12个月收入 46.2 万元，离重点客户门槛 50 万元还差 3.8 万元"."""
    zh = namer.zh
    name = namer.key(need.path)
    has = namer.value(need.path, need.has)
    thr = namer.value(need.path, need.threshold)
    gap = _amount_between(need.has, need.threshold)
    if need.has is None:
        word = _OP_WORDS[need.op][0 if zh else 1]
        return (
            spaced(f"{name}未记录，{label}需要{name}{word}", thr)
            if zh
            else f"{name} is not recorded; {label} needs it {word} {thr}"
        )
    if gap is not None and need.op in (">=", ">") and gap >= 0:
        short = namer.value(need.path, gap) if gap else ""
        if zh:
            tail = spaced("还差", short) if gap else "，还须再高一些"
            return spaced(name, has, f"，离{label}门槛", thr, tail)
        tail = f"{short} short of" if gap else "must exceed"
        return f"{name} {has}, {tail} the {label} threshold of {thr}"
    if gap is not None and need.op in ("<=", "<") and gap <= 0:
        over = namer.value(need.path, -gap) if gap else ""
        if zh:
            tail = spaced("，需减少", over) if gap else "，还须再低一些"
            return spaced(name, has, f"，{label}要求{_OP_WORDS[need.op][0]}", thr, tail)
        tail = f"{over} too high" if gap else "must be lower"
        return f"{name} {has}: {label} needs {_OP_WORDS[need.op][1]} {thr}, {tail}"
    word = _OP_WORDS[need.op][0 if zh else 1]
    return (
        spaced(f"{label}需要{name}{word}", thr, "，现为", has)
        if zh
        else f"{label} needs {name} {word} {thr}, has {has}"
    )


def change_text(cf: Counterfactual, namer: Namer) -> str:
    """What it would take to reach another label (one line)."""
    label = namer.label(cf.label)
    needs = [need_text(n, label, namer) for n in cf.needs]
    if len(needs) == 1:
        return needs[0]
    return join(needs, namer.lang)


# -- notes (stability and overrides) ---------------------------------------------


def note_text(decision: Decision, namer: Namer) -> str | None:
    """Why the rules did not decide, in words: a manual override or stability."""
    zh = namer.zh
    o = decision.override
    if o is not None:
        until = ""
        if o.expires is not None:
            until = f"，有效期至{_date(o.expires, 'zh')}" if zh else f" until {o.expires.isoformat()}"
        return f"人工调整（{o.author}{until}）：{o.reason}" if zh else f"manual override by {o.author}{until}: {o.reason}"
    kept = getattr(decision, "kept", None)
    if kept is not None:
        prev, said = namer.label(kept.previous), namer.label(kept.rules_said)
        if kept.min_days is not None:
            return (
                f"保持{prev}：该等级才保持了 {kept.held_days} 天，满 {kept.min_days} 天才调整（按规则应为{said}）"
                if zh
                else f"kept {prev}: held for {kept.held_days} of the {kept.min_days} days required"
                f" before a change (the rules say {said})"
            )
        margin = f"{_number((kept.margin or 0) * 100, 1)}%"
        return (
            f"保持{prev}：调整为{said}的幅度在门槛的 {margin} 缓冲范围内"
            if zh
            else f"kept {prev}: the change to {said} is within the {margin} margin of its thresholds"
        )
    if decision.note and not zh:
        return decision.note
    return None


# -- the two levels ---------------------------------------------------------------


def _deciding_values(decision: Decision, namer: Namer, limit: int = 5) -> list[str]:
    """The few values that decided the result, by name, with their units:
    what the deciding rule compares first, then population thresholds, then
    the strongest of the values read through derived ones."""
    if decision.rule is None:
        return []
    direct: set[str] = set()
    checked = namer.checked
    if checked is not None:
        from customer_rules.lang.ast import to_text, walk

        for r in checked.rules:
            if r.id == decision.rule:
                for node in walk(r.node):
                    if isinstance(node, Name):
                        direct.add(node.dotted)
                    elif isinstance(node, Call):
                        direct.add(to_text(node))
    inputs = decision.rule_inputs()
    # a threshold is read beside the customer's own value of what it ranks
    # ("days since last purchase 200 days; the lowest 60% have at most 30")
    ranked: set[str] = set()
    for key in inputs:
        parsed = _parsed(key) if key.startswith("cutoff(") else None
        if isinstance(parsed, Call) and parsed.args and isinstance(parsed.args[0], Call) and parsed.args[0].args:
            from customer_rules.lang.ast import to_text

            ranked.add(to_text(parsed.args[0].args[0]))
    shown: list[tuple[int, float, str]] = []
    for key, value in inputs.items():
        if value is None or key.startswith("params."):
            continue
        parsed = _parsed(key)
        if isinstance(parsed, Call) and parsed.name != "cutoff" and _population_call(parsed.name):
            continue
        if isinstance(value, tuple | list) and (not value or not isinstance(value[0], str | int | float)):
            continue
        weight = 0.0
        if key in direct:
            rank = 0
        elif key in ranked:
            rank, weight = 1, -math.inf
        elif key.startswith("cutoff("):
            rank = 1
        else:
            # read through a derived value: only what speaks for the result, strongest first
            if value is False or (isinstance(value, int | float) and not isinstance(value, bool) and value == 0):
                continue
            rank = 2
            weight = -float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
        shown.append((rank, weight, namer.pair(key, value)))
    shown.sort(key=lambda t: (t[0], t[1]))
    return [text for _, _, text in shown[:limit]]


def _strategy_lines(decision: Decision, lang: str, indent: str) -> list[str]:
    if decision.strategy is None:
        return []
    head = "策略：" if lang == "zh" else "Strategy:"
    return [indent + head, *(indent + "  " + s for s in decision.strategy.render(lang).splitlines())]


def _distance(cf: Counterfactual) -> tuple[int, float]:
    """How far a record is from another outcome: fewer conditions first, then
    the smaller relative gap (the nearest threshold is the one worth telling)."""
    gap = 0.0
    for need in cf.needs:
        diff = _amount_between(need.has, need.threshold)
        if diff is None:
            gap += 1.0
        else:
            gap += abs(diff) / max(abs(float(need.threshold)), 1e-9)
    return (len(cf.needs), gap)


def summary(decision: Decision, lang: str = "en") -> str:
    """The explanation for people (``detail="summary"``)."""
    n = _namer(decision, lang)
    zh = n.zh
    scheme = n.scheme(decision.scheme)
    if not zh and scheme != decision.scheme:  # a display name starts a sentence; an id stays as it is
        scheme = scheme[:1].upper() + scheme[1:]
    lines = [f"{scheme}：{n.label(decision.label)}" if zh else f"{scheme}: {n.label(decision.label)}"]
    if len(decision.labels) > 1:
        names = ("、" if zh else ", ").join(n.label(x) for x in decision.labels)
        lines.append(f"  同时符合：{names}" if zh else f"  Matches: {names}")
    note = note_text(decision, n)
    if note:
        lines.append("  " + sentence(note, lang))
    if decision.rule is not None:
        reason = n.because(decision.rule)
        if reason:
            lines.append(("  原因：" if zh else "  Why: ") + sentence(reason, lang))
        values = _deciding_values(decision, n)
        if values:
            lines.append(("  依据：" if zh else "  Based on: ") + ("，" if zh else "; ").join(values))
    elif decision.label is not None and decision.override is None and getattr(decision, "kept", None) is None:
        lines.append("  没有规则适用，采用默认类别。" if zh else "  No rule applies, so the default class is used.")
    elif decision.label is None:
        lines.append("  没有规则适用，暂不分类。" if zh else "  No rule applies, so the customer is not classified.")
    if decision.missing:
        missing = ("、" if zh else ", ").join(n.key(k) for k in decision.missing[:6])
        more = len(decision.missing) - 6
        if more > 0:
            missing += f"等 {len(decision.missing)} 项" if zh else f" and {more} more"
        lines.append(("  尚未记录：" if zh else "  Not recorded: ") + missing)
    cfs = sorted(decision.counterfactuals, key=_distance)[:2]
    for cf in cfs:
        lines.append(("  要改变结果：" if zh else "  What would change it: ") + sentence(change_text(cf, n), lang))
    if decision.flags:
        flags = join((n.flag(f) for f in decision.flags), lang)
        lines.append(("  提示：" if zh else "  Note: ") + sentence(flags, lang))
    for caption, text in n.details(decision):
        lines.append(f"  {caption}：{text}" if zh else f"  {caption}: {text}")
    lines.extend(_strategy_lines(decision, lang, "  "))
    return "\n".join(lines)


def full(decision: Decision, lang: str = "en") -> str:
    """The explanation for auditors (``detail="full"``): every value read,
    the rules that matched and the near misses."""
    n = _namer(decision, lang)
    zh = n.zh
    d = decision
    if zh:
        return _full_zh(d, n)
    lines: list[str] = []
    if d.label is None:
        lines.append(f"{d.scheme}: unclassified")
    else:
        lines.append(f"{d.scheme}: {d.label} ({d.label_name(lang)})")
    if len(d.labels) > 1:
        lines.append("  matched labels: " + ", ".join(d.labels))
    if d.note:
        lines.append("  note: " + d.note)
    if d.rule is not None:
        reason = d.because(lang)
        lines.append(f"  by rule {d.rule}" + (f": {reason}" if reason else ""))
        inputs = d.rule_inputs()
        if inputs:
            lines.append("  read: " + _pairs(_known(inputs)))
    elif d.label is not None:
        lines.append("  no rule matched; default label")
        if d.evidence:
            lines.append("  read: " + _pairs(_known(d.evidence)))
    else:
        lines.append("  no rule matched")
    if d.also_matched:
        lines.append("  also matched: " + ", ".join(d.also_matched))
    if d.missing:
        lines.append("  missing inputs: " + ", ".join(d.missing))
    if d.flags:
        lines.append("  flags: " + ", ".join(d.flags))
    if d.scores:
        lines.append("  scores: " + _pairs(d.scores))
    for caption, text in d.details(lang).items():
        lines.append(f"  {caption}: {text}")
    for cf in d.counterfactuals:
        needs = "; ".join(x.render(lang) for x in cf.needs)
        lines.append(f"  for {cf.label} (rule {cf.rule}): {needs}")
    if d.strategy is not None:
        lines.append("  strategy:")
        lines.extend("    " + s for s in d.strategy.render(lang).splitlines())
    return "\n".join(lines)


def _pairs_zh(values: Mapping[str, Any], n: Namer) -> str:
    out = []
    for k, v in values.items():
        name = n.key(k)
        if k.startswith("params."):
            name = f"参数“{name}”"
        out.append(f"{name} = {n.value(k, v)}")
    return "，".join(out)


def _full_zh(d: Decision, n: Namer) -> str:
    lines = [f"{n.scheme(d.scheme)}：{n.label(d.label)}"]
    if len(d.labels) > 1:
        lines.append("  同时符合：" + "、".join(n.label(x) for x in d.labels))
    note = note_text(d, n)
    if note:
        lines.append("  说明：" + sentence(note, "zh"))
    if d.rule is not None:
        reason = n.because(d.rule)
        lines.append(f"  依据{n.rule(d.rule)}" + (f"：{sentence(reason, 'zh')}" if reason else ""))
        inputs = {k: v for k, v in d.rule_inputs().items() if v is not None}
        if inputs:
            lines.append("  读取：" + _pairs_zh(inputs, n))
    elif d.label is not None:
        lines.append("  没有规则匹配，采用默认类别")
        known = {k: v for k, v in d.evidence.items() if v is not None}
        if known:
            lines.append("  读取：" + _pairs_zh(known, n))
    else:
        lines.append("  没有规则匹配")
    if d.also_matched:
        lines.append("  另外匹配：" + "、".join(n.rule(r) for r in d.also_matched))
    if d.missing:
        lines.append("  缺少输入：" + "、".join(n.key(k) for k in d.missing))
    if d.flags:
        lines.append("  标记：" + sentence(join((n.flag(f) for f in d.flags), "zh"), "zh"))
    if d.scores:
        lines.append("  得分：" + _pairs_zh(d.scores, n))
    for caption, text in n.details(d):
        lines.append(f"  {caption}：{text}")
    for cf in d.counterfactuals:
        needs = "；".join(
            f"需要{n.key(x.path)}{_OP_WORDS[x.op][0]} {n.value(x.path, x.threshold)}，实际为 {n.value(x.path, x.has)}"
            for x in cf.needs
        )
        lines.append(f"  若要得到{n.label(cf.label)}（{n.rule(cf.rule)}）：{needs}")
    lines.extend(_strategy_lines(d, "zh", "  "))
    return "\n".join(lines)


def explain(decision: Decision, lang: str = "en", detail: str = "summary") -> str:
    """The decision in words, at ``detail`` ``"summary"`` (for people) or
    ``"full"`` (for auditors), in ``lang`` ``"en"`` or ``"zh"``."""
    _check(lang, detail)
    return full(decision, lang) if detail == "full" else summary(decision, lang)


def _check(lang: str, detail: str) -> None:
    if lang not in ("en", "zh"):
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")


def explain_html(decision: Decision, lang: str = "en", detail: str = "summary") -> str:
    """The same two levels as HTML, for notebooks."""
    _check(lang, detail)
    e = html.escape
    text = explain(decision, lang, detail).splitlines()
    head, body = text[0], text[1:]
    items = "".join(f"<li>{e(line.strip())}</li>" for line in body)
    table = ""
    if detail == "full":
        n = _namer(decision, lang)
        rows = "".join(
            f"<tr><td>{e(n.key(k))}</td><td><code>{e(k)}</code></td><td>{e(n.value(k, v))}</td></tr>"
            for k, v in decision.evidence.items()
        )
        cols = ("读取", "路径", "值") if lang == "zh" else ("read", "path", "value")
        table = f"<table><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{rows}</table>"
    return f"<div class='cr-decision'><b>{e(head)}</b><ul>{items}</ul>{table}</div>"


# -- what changed between two periods -----------------------------------------


def change(ex: ChangeExplanation, lang: str = "en") -> str:
    """Why a customer's class changed (or did not) between two decisions."""
    zh = lang == "zh"
    b, a = ex.before, ex.after
    n = _namer(a, lang)
    nb = _namer(b, lang)
    scheme = n.scheme(a.scheme)
    if not zh and scheme != a.scheme:
        scheme = scheme[:1].upper() + scheme[1:]
    if ex.changed:
        lines = [
            f"{scheme}：由{nb.label(b.label)}变为{n.label(a.label)}"
            if zh
            else f"{scheme}: {nb.label(b.label)} → {n.label(a.label)}"
        ]
    else:
        lines = [f"{scheme}：仍为{n.label(a.label)}" if zh else f"{scheme}: still {n.label(a.label)}"]
    if ex.policy_changed:
        lines.append(
            f"  规则版本由 {b.policy_version} 改为 {a.policy_version}"
            if zh and _plain(b.policy_version, a.policy_version)
            else "  规则已更新为新版本" if zh
            else f"  the policy changed from version {b.policy_version} to {a.policy_version}"
        )
    if ex.held or ex.override:
        note = note_text(a, n)
        if note:
            lines.append("  " + sentence(note, lang))
    for c in ex.crossed:
        lines.append("  " + crossing_text(c, n, _rule_label(c.rule, a, b)))
    crossed = {c.path for c in ex.crossed}
    others = {k: v for k, v in ex.moved.items() if k not in crossed and not _is_population(k)}
    if others:
        moved = ("，" if zh else ", ").join(
            f"{n.key(k)} {n.value(k, x)} → {n.value(k, y)}" for k, (x, y) in sorted(others.items())
        )
        lines.append(("  其他变化：" if zh else "  other inputs that moved: ") + moved)
    for k, (x, y) in sorted(ex.params.items()):
        key = f"params.{k}" if not k.startswith("params.") else k
        lines.append(
            "  " + spaced(f"参数“{n.key(key)}”由", n.value(key, x), "改为", n.value(key, y))
            if zh
            else f"  parameter {n.key(key)} changed from {n.value(key, x)} to {n.value(key, y)}"
        )
    if len(lines) == 1 and not ex.changed:
        lines.append("  读取的输入没有变化" if zh else "  none of the inputs it read changed")
    return "\n".join(lines)


def crossing_text(c: Any, n: Namer, label: str | None) -> str:
    """One threshold an input crossed, in words: "近12个月收入由 62 万元降至
    45.5 万元，低于重点客户门槛 50 万元"."""
    zh = n.zh
    name = n.key(c.path)
    x, y = n.value(c.path, c.before), n.value(c.path, c.after)
    thr = n.value(c.path, c.threshold)
    target = n.label(label) if label else ""
    gap = _amount_between(c.before, c.after)
    if gap is not None and gap != 0 and c.op in (">=", ">", "<=", "<"):
        up = gap > 0
        if zh:
            move = spaced(f"{name}由", x, "升至" if up else "降至", y)
            if c.op in (">=", ">"):
                where = f"达到{target}门槛" if c.held_after else f"低于{target}门槛"
            else:
                where = f"回到{target}上限以内" if c.held_after else f"超出{target}上限"
            return spaced(move, f"，{where}", thr)
        move = f"{name} {'rose' if up else 'fell'} from {x} to {y}"
        if c.op in (">=", ">"):
            where = "and now reaches" if c.held_after else "below"
            return f"{move}, {where} the {target} threshold of {thr}"
        where = "back within" if c.held_after else "above"
        return f"{move}, {where} the {target} limit of {thr}"
    if zh:
        word = _OP_WORDS[c.op][0]
        state = "现已满足" if c.held_after else "不再满足"
        return spaced(f"{name}由", x, "变为", y, f"，{state}{target}的条件（{name}{word}", thr) + "）"
    word = _OP_WORDS[c.op][1]
    state = "now meets" if c.held_after else "no longer meets"
    return f"{name} went from {x} to {y} and {state} the {target} condition ({name} {word} {thr})"


def _plain(*versions: str) -> bool:
    return all(re.fullmatch(r"[0-9.]+", v) for v in versions)


def _is_population(key: str) -> bool:
    node = _parsed(key)
    return isinstance(node, Call) and _population_call(node.name)


def _rule_label(rule: str, *decisions: Decision) -> str | None:
    for d in decisions:
        checked = getattr(d.source, "checked", None)
        if checked is None:
            continue
        for r in checked.rules:
            if r.id == rule:
                return str(r.label)
    return None

