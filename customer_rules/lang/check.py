"""Load-time checking of expressions: every name must be declared and every
operator must get operands of the right type. Errors carry the position of
the offending part and a "did you mean" hint where one helps."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from customer_rules.errors import PolicyError
from customer_rules.lang.ast import (
    Call,
    Duration,
    ListOf,
    Literal,
    Name,
    Node,
    Unary,
)
from customer_rules.lang.functions import FUNCTIONS, POPULATION_FUNCTIONS, check_call
from customer_rules.lang.ops import NOT_CONSTANT, apply, operator_of, representable
from customer_rules.lang.types import BOOL, NUMBER, T_BOOL, T_DATE, T_STRING, Namespace, Type

__all__ = [
    "FUNCTIONS",
    "NOT_CONSTANT",
    "POPULATION_FUNCTIONS",
    "Checker",
    "constant_value",
    "fold",
    "is_constant",
]


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


def constant_value(node: Node, params: Mapping[str, object]) -> Any:
    """The value of a constant node (see :func:`is_constant`)."""
    value = fold(node, params)
    if value is NOT_CONSTANT:
        raise TypeError(node)
    return value


def fold(node: Node, params: Mapping[str, Any], derived: Mapping[str, Node] | None = None) -> Any:
    """The value of ``node`` when it does not depend on the record, else
    :data:`NOT_CONSTANT`. Operators are applied as the operator table says
    (``false and x`` is false whatever ``x`` is); derived values whose
    definition is constant are constants too."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Duration):
        return node.days
    if isinstance(node, Name):
        if node.parts[0] == "params":
            return params[node.parts[1]] if len(node.parts) == 2 and node.parts[1] in params else NOT_CONSTANT
        if derived is not None and node.dotted in derived:
            return fold(derived[node.dotted], params, derived)
        return NOT_CONSTANT
    if isinstance(node, ListOf):
        items = [fold(i, params, derived) for i in node.items]
        return NOT_CONSTANT if any(i is NOT_CONSTANT for i in items) else tuple(items)
    if isinstance(node, Call):
        if node.name != "if":
            return NOT_CONSTANT  # as_of, the population or a feature may change the value
        c = fold(node.args[0], params, derived)
        if c is NOT_CONSTANT or c is None:
            return c
        return fold(node.args[1] if c else node.args[2], params, derived)
    op = operator_of(node)
    if op is None:
        return NOT_CONSTANT
    if op.form == "logic":
        a = fold(node.children()[0], params, derived)
        b = fold(node.children()[1], params, derived)
        absorbing = op.symbol == "or"
        if a is absorbing or b is absorbing:
            return absorbing
        if a is NOT_CONSTANT or b is NOT_CONSTANT:
            return NOT_CONSTANT
        return apply(op, a, b)
    values = [fold(c, params, derived) for c in node.children()]
    if any(v is NOT_CONSTANT for v in values):
        return NOT_CONSTANT
    try:
        return apply(op, *values)
    except TypeError:  # operands the checker refuses (folding before checking)
        return NOT_CONSTANT


class Checker:
    """Type-checks expressions against a :class:`Namespace`.

    The meaning of each operator and function, including its type rule, is
    in the operator and function tables (:mod:`.ops`, :mod:`.functions`);
    the checker applies them. It also folds constant sub-expressions and
    refuses those no backend can represent faithfully (see
    :func:`~customer_rules.lang.ops.representable`). ``types`` and
    ``constants`` keep what it found for every node it checked.
    """

    def __init__(self, ns: Namespace, params_values: Mapping[str, Any] | None = None) -> None:
        self.ns = ns
        self.params_values: dict[str, Any] = dict(params_values or {})
        #: definitions of derived values (constant ones fold like constants)
        self.derived_defs: dict[str, Node] = {}
        # by node identity (equal-looking literals such as 1, 1.0 and true
        # compare equal as nodes): id -> (node, type) / (node, folded value)
        self.types: dict[int, tuple[Node, Type]] = {}
        self.constants: dict[int, tuple[Node, Any]] = {}

    # -- the Typing protocol of the tables' type rules -------------------
    def error(self, node: Node, message: str, hint: str | None = None) -> PolicyError:
        return _err(node, message, hint)

    def constant(self, node: Node) -> Any:
        """The folded value of ``node``, or NOT_CONSTANT."""
        entry = self.constants.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
        return fold(node, self.params_values, self.derived_defs)

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
        known = self.types.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        t = self._check(node)
        value = fold(node, self.params_values, self.derived_defs)
        self.types[id(node)] = (node, t)
        self.constants[id(node)] = (node, value)
        return t

    def _check(self, node: Node) -> Type:
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
        if isinstance(node, Unary) and node.op == "-" and isinstance(node.operand, Literal):
            # -9223372036854775808 is in range though its digits alone are not
            t = self._check(node.operand)
            if t.kind != NUMBER:
                raise _err(node, f"'-' needs a number, got a {t.kind}")
            return t
        if isinstance(node, Call):
            return self._call(node)
        op = operator_of(node)
        if op is None:
            raise _err(node, f"unsupported expression {type(node).__name__}")
        return op.type_rule(self, node)

    def range_check(self, root: Node) -> None:
        """Refuse the constants of a checked tree that a backend cannot
        represent faithfully. Constant sub-expressions are folded first, so
        only what meets a record value (or is the whole expression) counts:
        ``x < 99999999999999999999`` is refused, ``x < 99999999999999999999 / 2``
        is not (it folds to the decimal 5e19)."""
        stack = [root]
        while stack:
            node = stack.pop()
            value = self.constant(node)
            if value is not NOT_CONSTANT and not isinstance(node, ListOf):
                why = representable(value)
                if why is not None:
                    raise _err(node, f"{why}: no backend can evaluate it faithfully", _RANGE_HINT)
                continue
            stack.extend(node.children())

    def enum_check(self, t: Type, other: Node) -> None:
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

    def _call(self, node: Call) -> Type:
        if node.name in FUNCTIONS:
            return check_call(self, node)
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


_RANGE_HINT = "keep whole numbers within ±9223372036854775807 and decimals finite"
