"""The abstract syntax tree of the condition language.

Nodes are frozen dataclasses; their source position (``pos``) is kept for
error messages but ignored when nodes are compared, so a tree printed with
:func:`to_text` and parsed again equals the original.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

Pos = tuple[int, int]  # (line, column), 1-based, within the expression text

NO_POS: Pos = (1, 1)


@dataclass(frozen=True)
class Node:
    pos: Pos = field(default=NO_POS, compare=False, repr=False, kw_only=True)

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True)
class Literal(Node):
    """A number, string, boolean or date constant."""

    value: int | float | str | bool | dt.date


@dataclass(frozen=True)
class Duration(Node):
    """A length of time such as ``30d`` or ``2w``; its value is in days."""

    amount: int
    unit: str  # "d" or "w"

    @property
    def days(self) -> int:
        return self.amount * (7 if self.unit == "w" else 1)


@dataclass(frozen=True)
class Name(Node):
    """A dotted name: a record field, a feature, ``params.x`` or a derived value."""

    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class ListOf(Node):
    """A bracketed list of constants, the right-hand side of ``in``."""

    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (+ - * /), comparison (== != < <= > >=) or logic (and, or)."""

    op: str
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class In(Node):
    item: Node
    container: Node
    negated: bool = False

    def children(self) -> tuple[Node, ...]:
        return (self.item, self.container)


@dataclass(frozen=True)
class Between(Node):
    """``x between lo and hi`` — inclusive at both ends."""

    value: Node
    low: Node
    high: Node

    def children(self) -> tuple[Node, ...]:
        return (self.value, self.low, self.high)


@dataclass(frozen=True)
class IsMissing(Node):
    value: Node
    negated: bool = False

    def children(self) -> tuple[Node, ...]:
        return (self.value,)


@dataclass(frozen=True)
class Call(Node):
    """A call of a built-in function or of a feature that takes arguments."""

    name: str
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args


ARITH = ("+", "-", "*", "/")
COMPARE = ("==", "!=", "<", "<=", ">", ">=")
LOGIC = ("and", "or")

# Binding strength, loosest first. Used by the printer to place parentheses.
_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "atom": 8}


def _prec(node: Node) -> int:
    if isinstance(node, Binary):
        return _PREC["cmp"] if node.op in COMPARE else _PREC[node.op]
    if isinstance(node, Unary):
        return _PREC["not"] if node.op == "not" else _PREC["neg"]
    if isinstance(node, In | Between | IsMissing):
        return _PREC["cmp"]
    return _PREC["atom"]


def _wrap(node: Node, min_prec: int) -> str:
    text = to_text(node)
    return f"({text})" if _prec(node) < min_prec else text


def quote(s: str) -> str:
    """A string literal in the language's syntax."""
    return json.dumps(s, ensure_ascii=False)


def to_text(node: Node) -> str:
    """Print a tree as canonical expression text (parses back to an equal tree)."""
    if isinstance(node, Literal):
        v = node.value
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return quote(v)
        if isinstance(v, dt.date):
            return v.isoformat()
        # the parser reads "-5" as negation of 5; print a negative constant so
        # that it reads back with the same meaning
        return repr(v) if v >= 0 else f"(-{-v!r})"
    if isinstance(node, Duration):
        return f"{node.amount}{node.unit}"
    if isinstance(node, Name):
        return node.dotted
    if isinstance(node, ListOf):
        return "[" + ", ".join(to_text(i) for i in node.items) + "]"
    if isinstance(node, Unary):
        if node.op == "not":
            return "not " + _wrap(node.operand, _PREC["not"])
        return "-" + _wrap(node.operand, _PREC["atom"])
    if isinstance(node, Binary):
        p = _prec(node)
        if node.op in COMPARE:
            # comparisons do not chain: both sides must bind tighter
            return f"{_wrap(node.left, p + 1)} {node.op} {_wrap(node.right, p + 1)}"
        # left-associative: the right side needs strictly tighter binding
        return f"{_wrap(node.left, p)} {node.op} {_wrap(node.right, p + 1)}"
    if isinstance(node, In):
        op = "not in" if node.negated else "in"
        return f"{_wrap(node.item, _PREC['cmp'] + 1)} {op} {_wrap(node.container, _PREC['cmp'] + 1)}"
    if isinstance(node, Between):
        p = _PREC["cmp"] + 1
        return f"{_wrap(node.value, p)} between {_wrap(node.low, p)} and {_wrap(node.high, p)}"
    if isinstance(node, IsMissing):
        op = "is not missing" if node.negated else "is missing"
        return f"{_wrap(node.value, _PREC['cmp'] + 1)} {op}"
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(to_text(a) for a in node.args) + ")"
    raise TypeError(f"not an expression node: {node!r}")


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents before children."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))


def conjuncts(node: Node) -> list[Node]:
    """The operands of a chain of ``and`` (the node itself if it is not one)."""
    if isinstance(node, Binary) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]
