"""Load-time checking of expressions: every name must be declared and every
operator must get operands of the right type. Errors carry the position of
the offending part and a "did you mean" hint where one helps."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from customer_rules.errors import PolicyError
from customer_rules.lang.ast import (
    ARITH,
    COMPARE,
    Between,
    Binary,
    Call,
    Duration,
    In,
    IsMissing,
    ListOf,
    Literal,
    Name,
    Node,
    Unary,
    walk,
)
from customer_rules.lang.types import (
    BOOL,
    DATE,
    LIST,
    NUMBER,
    RECORDS,
    STRING,
    T_BOOL,
    T_DATE,
    T_STRING,
    Namespace,
    Type,
)


@dataclass(frozen=True)
class FunctionSpec:
    """A built-in function of the language.

    ``args`` are the accepted kinds per position (a tuple of kinds each);
    ``variadic`` repeats the last one; ``returns`` is the result kind, or
    ``"same"`` for the first argument's type.
    """

    name: str
    args: tuple[tuple[str, ...], ...]
    returns: str
    doc: str
    variadic: bool = False


FUNCTIONS: dict[str, FunctionSpec] = {
    f.name: f
    for f in (
        FunctionSpec("abs", ((NUMBER,),), NUMBER, "absolute value"),
        FunctionSpec("min", ((NUMBER,), (NUMBER,)), NUMBER, "smallest argument", variadic=True),
        FunctionSpec("max", ((NUMBER,), (NUMBER,)), NUMBER, "largest argument", variadic=True),
        FunctionSpec("len", ((LIST, RECORDS),), NUMBER, "number of items in a list"),
        FunctionSpec("count_distinct", ((LIST,),), NUMBER, "number of different items in a list"),
        FunctionSpec(
            "has_any",
            ((LIST,), (LIST,)),
            BOOL,
            "true when the list field holds any of the listed values",
        ),
        FunctionSpec("days_since", ((DATE,),), NUMBER, "whole days from the date to as_of"),
        FunctionSpec("days_until", ((DATE,),), NUMBER, "whole days from as_of to the date"),
        FunctionSpec(
            "count_true",
            ((BOOL,),),
            NUMBER,
            "how many of the conditions are true (false and missing count 0; never missing)",
            variadic=True,
        ),
        FunctionSpec(
            "top",
            ((NUMBER,), (NUMBER,)),
            BOOL,
            "population-relative: among the N highest values of the measure (fitted)",
        ),
        FunctionSpec(
            "top_pct",
            ((NUMBER,), (NUMBER,)),
            BOOL,
            "population-relative: among the highest P percent of the measure (fitted)",
        ),
        FunctionSpec(
            "top_within",
            ((NUMBER,), (NUMBER,), (BOOL,)),
            BOOL,
            "population-relative: among the N highest of the records where the condition holds",
        ),
        FunctionSpec(
            "top_pct_within",
            ((NUMBER,), (NUMBER,), (BOOL,)),
            BOOL,
            "population-relative: among the highest P percent of the records where the condition holds",
        ),
        FunctionSpec(
            "percentile",
            ((NUMBER,),),
            NUMBER,
            "population-relative: share (0-1) of the fitted population with a value at or below this one",
        ),
        FunctionSpec(
            "if",
            ((BOOL,), (NUMBER, STRING, BOOL, DATE), (NUMBER, STRING, BOOL, DATE)),
            "branch",
            "if(condition, a, b): a when the condition is true, b when it is false, missing when it is"
            " missing (only the chosen branch is evaluated)",
        ),
        FunctionSpec(
            "coalesce",
            ((NUMBER, STRING, BOOL, DATE), (NUMBER, STRING, BOOL, DATE)),
            "same",
            "the first argument that is not missing",
            variadic=True,
        ),
    )
}


def _suggest(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not close:
        # a leaf name alone (e.g. "revenue_12m") often identifies the full path
        close = [c for c in candidates if c.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]][:3]
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"


def _err(node: Node, message: str, hint: str | None = None) -> PolicyError:
    return PolicyError(message, line=node.pos[0], column=node.pos[1], hint=hint)


def is_constant(node: Node) -> bool:
    """True for literals, durations, parameters and lists/negations of them."""
    if isinstance(node, Literal | Duration):
        return True
    if isinstance(node, Name):
        return node.parts[0] == "params"
    if isinstance(node, Unary) and node.op == "-":
        return is_constant(node.operand)
    if isinstance(node, ListOf):
        return all(is_constant(i) for i in node.items)
    return False


#: Functions whose value depends on the whole population: they need ``fit``.
POPULATION_FUNCTIONS = frozenset({"top", "top_pct", "top_within", "top_pct_within", "percentile"})


def constant_value(node: Node, params: dict[str, object]) -> object:
    """The value of a constant node (see :func:`is_constant`)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Duration):
        return node.days
    if isinstance(node, Name):
        return params[node.parts[1]]
    if isinstance(node, Unary):
        v = constant_value(node.operand, params)
        assert isinstance(v, int | float)
        return -v
    raise TypeError(node)


class Checker:
    """Type-checks expressions against a :class:`Namespace`."""

    def __init__(self, ns: Namespace, params_values: dict[str, object] | None = None) -> None:
        self.ns = ns
        self.params_values = params_values or {}

    # -- names -----------------------------------------------------------
    def name_type(self, node: Name) -> Type:
        dotted = node.dotted
        if node.parts[0] == "params":
            if len(node.parts) == 2 and node.parts[1] in self.ns.params:
                return self.ns.params[node.parts[1]]
            raise _err(
                node,
                f"unknown parameter {dotted!r}",
                _suggest(dotted, [f"params.{p}" for p in self.ns.params]),
            )
        if dotted in self.ns.derived:
            return self.ns.derived[dotted]
        if dotted in self.ns.fields:
            return self.ns.fields[dotted].type
        feature = self.ns.features.get(dotted)
        if feature is not None:
            if feature.args:
                raise _err(node, f"feature {dotted!r} takes arguments: {feature.signature}")
            t: Type = feature.type
            return t
        raise _err(node, f"unknown name {dotted!r}", _suggest(dotted, self.ns.all_names()))

    # -- expressions -----------------------------------------------------
    def check_condition(self, node: Node) -> Type:
        t = self.check(node)
        if t.kind != BOOL:
            raise _err(
                node,
                f"a condition must be true or false, but this is a {t.kind}",
                "compare it, e.g. '... > 0' or '... is missing'",
            )
        return t

    def check(self, node: Node) -> Type:
        if isinstance(node, Literal):
            v = node.value
            if isinstance(v, bool):
                return T_BOOL
            if isinstance(v, int | float):
                return Type(NUMBER, integer=isinstance(v, int))
            if isinstance(v, str):
                return T_STRING
            return T_DATE
        if isinstance(node, Duration):
            return Type(NUMBER, integer=True)
        if isinstance(node, Name):
            return self.name_type(node)
        if isinstance(node, ListOf):
            raise _err(node, "a list can only stand on the right of 'in'")
        if isinstance(node, Unary):
            t = self.check(node.operand)
            if node.op == "not":
                if t.kind != BOOL:
                    raise _err(node, f"'not' needs true/false, got a {t.kind}")
                return T_BOOL
            if t.kind != NUMBER:
                raise _err(node, f"'-' needs a number, got a {t.kind}")
            return Type(NUMBER, integer=t.integer)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Between):
            tv = self.check(node.value)
            if tv.kind not in (NUMBER, DATE):
                raise _err(node, f"'between' needs numbers or dates, got a {tv.kind}")
            for bound in (node.low, node.high):
                tb = self.check(bound)
                if tb.kind != tv.kind:
                    raise _err(bound, f"'between' bound is a {tb.kind}, the value a {tv.kind}")
            return T_BOOL
        if isinstance(node, IsMissing):
            self.check(node.value)
            return T_BOOL
        if isinstance(node, Call):
            return self._call(node)
        raise _err(node, f"unsupported expression {type(node).__name__}")

    def _binary(self, node: Binary) -> Type:
        op = node.op
        if op in ("and", "or"):
            for side in (node.left, node.right):
                t = self.check(side)
                if t.kind != BOOL:
                    raise _err(side, f"'{op}' needs true/false on both sides, got a {t.kind}")
            return T_BOOL
        lt = self.check(node.left)
        rt = self.check(node.right)
        if op in ARITH:
            if lt.kind == NUMBER and rt.kind == NUMBER:
                return Type(NUMBER, integer=lt.integer and rt.integer and op != "/")
            if op in "+-" and lt.kind == DATE and rt.kind == NUMBER:
                if not rt.integer:
                    raise _err(node.right, "only whole days can be added to a date", "use e.g. 30d")
                return T_DATE
            if op == "+" and lt.kind == NUMBER and rt.kind == DATE and lt.integer:
                return T_DATE
            if op == "-" and lt.kind == DATE and rt.kind == DATE:
                return Type(NUMBER, integer=True)
            raise _err(node, f"cannot apply '{op}' to a {lt.kind} and a {rt.kind}")
        assert op in COMPARE
        if lt.kind != rt.kind or lt.kind in (LIST, RECORDS):
            hint = None
            if lt.kind == DATE and rt.kind == STRING:
                hint = "write dates without quotes: 2026-01-31"
            raise _err(node, f"cannot compare a {lt.kind} with a {rt.kind}", hint)
        if op not in ("==", "!=") and lt.kind in (STRING, BOOL):
            raise _err(node, f"'{op}' does not order {lt.kind}s; use == or !=")
        if lt.kind == STRING:
            self._enum_check(lt, node.right)
            self._enum_check(rt, node.left)
        return T_BOOL

    def _enum_check(self, t: Type, other: Node) -> None:
        if (
            t.enum
            and isinstance(other, Literal)
            and isinstance(other.value, str)
            and other.value not in t.enum
        ):
            close = difflib.get_close_matches(other.value, list(t.enum), n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(repr(e) for e in t.enum)
            )
            raise _err(other, f"{other.value!r} is not an allowed value", hint)

    def _in(self, node: In) -> Type:
        it = self.check(node.item)
        c = node.container
        if isinstance(c, ListOf):
            for item in c.items:
                if not is_constant(item):
                    raise _err(item, "list items must be constants")
                t = self.check(item)
                if t.kind != it.kind:
                    raise _err(item, f"list item is a {t.kind}, the value a {it.kind}")
                if it.kind == STRING:
                    self._enum_check(it, item)
            return T_BOOL
        ct = self.check(c)
        if ct.kind != LIST or ct.item is None:
            raise _err(c, f"'in' needs a list on the right, got a {ct.kind}")
        if ct.item.kind != it.kind:
            raise _err(node, f"the list holds {ct.item.kind}s, the value is a {it.kind}")
        if it.kind == STRING:
            self._enum_check(ct.item, node.item)
        return T_BOOL

    def _check_share(self, node: Call) -> None:
        amount = node.args[1]
        if not is_constant(amount):
            raise _err(amount, f"the size in {node.name}() must be a constant or a parameter")
        value = constant_value(amount, dict(self.params_values))
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _err(amount, f"the size in {node.name}() must be a number")
        if node.name.startswith("top_pct"):
            if not 0 <= value <= 100:
                raise _err(amount, f"{node.name}() takes a percentage from 0 to 100, got {value}")
        elif value < 0 or int(value) != value:
            raise _err(amount, f"{node.name}() takes a whole count of at least 0, got {value}")

    def _call(self, node: Call) -> Type:
        spec = FUNCTIONS.get(node.name)
        if spec is None:
            feature = self.ns.features.get(node.name)
            if feature is None:
                names = [*FUNCTIONS, *(n for n, f in self.ns.features.items() if f.args)]
                raise _err(node, f"unknown function {node.name!r}", _suggest(node.name, names))
            if len(node.args) != len(feature.args):
                raise _err(
                    node,
                    f"{node.name} takes {len(feature.args)} argument(s), got {len(node.args)}",
                    f"signature: {feature.signature}",
                )
            for arg, (aname, atype) in zip(node.args, feature.args, strict=True):
                if not is_constant(arg):
                    raise _err(arg, f"argument {aname!r} of {node.name} must be a constant")
                t = self.check(arg)
                if t.kind != atype.kind or (atype.integer and not t.integer):
                    what = "whole number" if atype.integer else atype.kind
                    raise _err(arg, f"argument {aname!r} of {node.name} must be a {what}")
            ft: Type = feature.type
            return ft
        n = len(node.args)
        if n < len(spec.args) or (n > len(spec.args) and not spec.variadic):
            raise _err(node, f"{spec.name}() takes {len(spec.args)} argument(s), got {n}")
        if spec.name in POPULATION_FUNCTIONS:
            for arg in node.args:
                inner = next((x for x in walk(arg) if isinstance(x, Call) and x.name in POPULATION_FUNCTIONS), None)
                if inner is not None:
                    raise _err(inner, f"{inner.name}() cannot be used inside {spec.name}()")
            if spec.name != "percentile":
                self._check_share(node)
        if spec.name == "if":
            return self._if(node)
        first: Type | None = None
        seen: list[Type] = []
        for i, arg in enumerate(node.args):
            kinds = spec.args[min(i, len(spec.args) - 1)]
            if spec.name == "has_any" and i == 1:
                if not isinstance(arg, ListOf):
                    raise _err(arg, "has_any() needs a [list] of values as its second argument")
                assert first is not None and first.item is not None
                for item in arg.items:
                    if not is_constant(item) or self.check(item).kind != first.item.kind:
                        raise _err(item, f"has_any() values must be {first.item.kind} constants")
                    self._enum_check(first.item, item)
                continue
            t = self.check(arg)
            if t.kind not in kinds:
                raise _err(arg, f"{spec.name}() argument {i + 1} must be a {' or '.join(kinds)}")
            seen.append(t)
            if first is None:
                first = t
            elif spec.returns == "same" and t.kind != first.kind:
                raise _err(arg, f"{spec.name}() arguments must all be {first.kind}s")
        whole = all(t.integer for t in seen)
        if spec.returns == "same":
            assert first is not None
            # coalesce gives any of its arguments: the allowed strings are those
            # of all of them (none when one is free text), whole only if all are
            enums = [t.enum for t in seen]
            enum = tuple(dict.fromkeys(e for es in enums if es for e in es)) if all(enums) else None
            return Type(first.kind, enum=enum or None, integer=whole)
        if spec.name in ("abs", "min", "max"):
            return Type(NUMBER, integer=whole)
        whole_kinds = ("len", "count_distinct", "count_true", "days_since", "days_until")
        return Type(spec.returns, integer=spec.name in whole_kinds)

    def _if(self, node: Call) -> Type:
        cond, then, other = node.args
        if self.check(cond).kind != BOOL:
            raise _err(cond, "if() needs a condition (true/false) as its first argument")
        ta = self.check(then)
        tb = self.check(other)
        for arg, t in ((then, ta), (other, tb)):
            if t.kind in (LIST, RECORDS):
                raise _err(arg, f"if() gives a single value, not a {t.kind}")
        if ta.kind != tb.kind:
            raise _err(other, f"if() branches must be of one type: a {ta.kind} and a {tb.kind}")
        # either branch may be the result: strings allowed by both, whole only if both are
        enum = tuple(dict.fromkeys([*ta.enum, *tb.enum])) if ta.enum and tb.enum else None
        return Type(ta.kind, enum=enum, integer=ta.integer and tb.integer)
