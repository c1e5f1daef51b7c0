"""The decision table every interchange format shares, and its cells.

A :class:`Table` is a policy seen as a classic decision table: one column
per record field, one row per rule, one output (the label). Each cell is a
:class:`Cell`, a *unary test* on its column's value. JDM, DMN and the xlsx
layout only differ in how they spell cells (:mod:`.cells`) and where they
keep the rest; this module converts between tables and :class:`Policy`.

The shared subset of our language, per rule: a conjunction (``and``) of
tests that each read one record field and compare it with constants:
``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in [...]``, ``not in
[...]``, ``between``, ``is missing``, ``is not missing``, and ``x is
missing or <tests on x>``. Constants are numbers, strings, booleans or
``params.NAME``. Everything else (functions, arithmetic, ``or`` across
fields, ``not``, dates, derived values, flags, ...) is refused with an
:class:`InteropError` naming the rule, never approximated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from customer_rules.errors import PolicyError
from customer_rules.lang.ast import (
    COMPARE,
    Between,
    Binary,
    In,
    IsMissing,
    ListOf,
    Literal,
    Name,
    Node,
    Unary,
    conjuncts,
    to_text,
)
from customer_rules.lang.parser import parse
from customer_rules.lang.policy import LabelDef, Policy, RuleDef, Scalar, Text

Value = bool | int | float | str
Hit = TypingLiteral["first", "unique", "priority", "collect"]

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_KEYWORDS = {"and", "or", "not", "in", "between", "is", "missing", "true", "false"}


class InteropError(PolicyError):
    """A decision table (or a policy being exported) is outside the shared subset.

    ``cell`` names where: a JDM rule id and column, a DMN rule / inputEntry
    id, or a spreadsheet cell such as ``Rules!C7``. It is also in ``field``
    and in the message.
    """

    def __init__(
        self,
        message: str,
        *,
        cell: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        rule: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.cell = cell
        super().__init__(
            message, file=file, line=line, column=column, rule=rule, field=field or cell, hint=hint
        )


@dataclass(frozen=True)
class Param:
    """A reference to a policy parameter used as a constant (``params.NAME``)."""

    name: str


Const = Value | Param


@dataclass(frozen=True)
class Term:
    """One test on a present value.

    ``op`` is a comparison (``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, one
    value), ``in`` / ``notin`` (any number of values) or ``between`` (two
    values, inclusive).
    """

    op: str
    values: tuple[Const, ...]


@dataclass(frozen=True)
class Cell:
    """A unary test: whether a value matches.

    A missing value matches when ``null`` is true. A present value matches
    when every test in ``tests`` holds; ``tests=None`` means no present
    value matches (the cell is ``is missing``).
    """

    null: bool
    tests: tuple[Term, ...] | None

    @property
    def empty(self) -> bool:
        """True for the cell that matches everything (written ``-`` or left blank)."""
        return self.null and self.tests == ()

    def both(self, other: Cell) -> Cell:
        """The cell that matches what both cells match."""
        if self.tests is None or other.tests is None:
            return Cell(self.null and other.null, None)
        return Cell(self.null and other.null, self.tests + other.tests)


ANY = Cell(True, ())


@dataclass(frozen=True)
class Row:
    """One rule: its cells by column (absent = any), label and reason."""

    id: str
    cells: Mapping[str, Cell]
    label: str
    because: Text | None = None


@dataclass(frozen=True)
class Table:
    """A policy as a decision table (columns are dotted record paths)."""

    id: str
    labels: tuple[LabelDef, ...]
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    hit: Hit = "first"
    default: str | None = None
    on_many: str | None = None
    version: str = "1"
    params: Mapping[str, Scalar] = field(default_factory=dict)
    description: Text | None = None

    def value(self, const: Const, where: str | None = None) -> Value:
        """A constant's value (a parameter's current value for ``params.NAME``)."""
        if isinstance(const, Param):
            if const.name not in self.params:
                raise InteropError(f"unknown parameter {const.name!r}", cell=where)
            v = self.params[const.name]
            if not isinstance(v, bool | int | float | str):
                raise InteropError(
                    f"parameter {const.name!r} is a date; dates are not in the shared subset", cell=where
                )
            return v
        return const


# -- policy -> table ----------------------------------------------------------

_UNSUPPORTED_KEYS = ("derive", "flags", "scores", "details", "stability")


def table_from_policy(policy: Policy) -> Table:
    """The decision table of ``policy``; refuses what has no equivalent in a table."""
    for key in _UNSUPPORTED_KEYS:
        if getattr(policy, key):
            raise InteropError(
                f"policy {policy.id!r} uses {key!r}, which decision tables in JDM, DMN and the "
                "spreadsheet layout have no place for",
                field=key,
                hint="only labels, rules, params, default, hit and on_many are exported",
            )
    rows: list[Row] = []
    columns: dict[str, None] = {}
    for rule in policy.rules:
        cells = _rule_cells(rule, policy)
        for col in cells:
            columns.setdefault(col, None)
        rows.append(Row(rule.id, cells, rule.then, rule.because))
    return Table(
        id=policy.id,
        labels=policy.labels,
        columns=tuple(columns),
        rows=tuple(rows),
        hit=policy.hit,
        default=policy.default,
        on_many=policy.on_many,
        version=policy.version,
        params=dict(policy.params),
        description=policy.description,
    )


def _refuse(rule: RuleDef, node: Node, why: str) -> InteropError:
    return InteropError(
        f"condition {to_text(node)!r} is outside the subset decision tables share: {why}",
        rule=rule.id,
        field="when",
        hint="a rule must be an 'and' of tests that compare one record field with constants",
    )


def _rule_cells(rule: RuleDef, policy: Policy) -> dict[str, Cell]:
    tree = parse(rule.when)
    cells: dict[str, Cell] = {}
    if tree == Literal(True):
        return cells
    for part in conjuncts(tree):
        column, cell = _conjunct(part, rule, policy)
        cells[column] = cells[column].both(cell) if column in cells else cell
    for column, cell in cells.items():
        if not cell.null and cell.tests is None:
            raise InteropError(f"the tests on {column!r} can never hold", rule=rule.id, field="when")
    return cells


def _column(node: Node, rule: RuleDef, policy: Policy) -> str:
    if not isinstance(node, Name):
        raise _refuse(rule, node, "the tested value must be a record field")
    if node.parts[0] == "params":
        raise _refuse(rule, node, "a parameter is a constant, not a column")
    if node.dotted in policy.derive:
        raise _refuse(rule, node, "derived values have no column in a decision table")
    return node.dotted


def _conjunct(node: Node, rule: RuleDef, policy: Policy) -> tuple[str, Cell]:
    if isinstance(node, IsMissing):
        column = _column(node.value, rule, policy)
        return column, Cell(False, ()) if node.negated else Cell(True, None)
    if isinstance(node, Binary) and node.op == "or":
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(a, IsMissing) and not a.negated:
                column = _column(a.value, rule, policy)
                tests = []
                for part in conjuncts(b):
                    col, test = _test(part, rule, policy)
                    if col != column:
                        raise _refuse(rule, node, "'or' may only join 'x is missing' with tests on x")
                    tests.append(test)
                return column, Cell(True, tuple(tests))
        raise _refuse(rule, node, "'or' may only join 'x is missing' with tests on x")
    column, test = _test(node, rule, policy)
    return column, Cell(False, (test,))


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _test(node: Node, rule: RuleDef, policy: Policy) -> tuple[str, Term]:
    if isinstance(node, Binary) and node.op in COMPARE:
        if isinstance(node.left, Name) and node.left.parts[0] != "params":
            return _column(node.left, rule, policy), Term(node.op, (_const(node.right, rule, policy),))
        if isinstance(node.right, Name) and node.right.parts[0] != "params":
            column = _column(node.right, rule, policy)
            return column, Term(_FLIP[node.op], (_const(node.left, rule, policy),))
        raise _refuse(rule, node, "a comparison must have a record field on one side")
    if isinstance(node, In):
        if not isinstance(node.container, ListOf):
            raise _refuse(rule, node, "'in' must test a field against a list of constants")
        values = tuple(_const(i, rule, policy) for i in node.container.items)
        return _column(node.item, rule, policy), Term("notin" if node.negated else "in", values)
    if isinstance(node, Between):
        values = (_const(node.low, rule, policy), _const(node.high, rule, policy))
        return _column(node.value, rule, policy), Term("between", values)
    if isinstance(node, Name) and node.parts[0] != "params":
        return _column(node, rule, policy), Term("==", (True,))
    raise _refuse(rule, node, "only comparisons, in, between and is missing are shared")


def _const(node: Node, rule: RuleDef, policy: Policy) -> Const:
    if isinstance(node, Literal):
        if isinstance(node.value, bool | int | float | str):
            return node.value
        raise _refuse(rule, node, "dates compare differently in ZEN and FEEL engines")
    if isinstance(node, Unary) and node.op == "-" and isinstance(node.operand, Literal):
        v = node.operand.value
        if isinstance(v, int | float) and not isinstance(v, bool):
            return -v
    if isinstance(node, Name) and len(node.parts) == 2 and node.parts[0] == "params":
        if node.parts[1] not in policy.params:
            raise _refuse(rule, node, f"unknown parameter {node.parts[1]!r}")
        if not isinstance(policy.params[node.parts[1]], bool | int | float | str):
            raise _refuse(rule, node, "dates compare differently in ZEN and FEEL engines")
        return Param(node.parts[1])
    raise _refuse(rule, node, "the compared value must be a constant (number, string, boolean, params.NAME)")


# -- table -> policy ----------------------------------------------------------


def _lit(const: Const) -> Node:
    if isinstance(const, Param):
        return Name(("params", const.name))
    return Literal(const)


def _test_node(column: Name, test: Term) -> Node:
    if test.op == "between":
        return Between(column, _lit(test.values[0]), _lit(test.values[1]))
    if test.op in ("in", "notin"):
        return In(column, ListOf(tuple(_lit(v) for v in test.values)), negated=test.op == "notin")
    return Binary(test.op, column, _lit(test.values[0]))


def _and(nodes: Sequence[Node]) -> Node:
    out = nodes[0]
    for n in nodes[1:]:
        out = Binary("and", out, n)
    return out


def cell_condition(column: str, cell: Cell) -> Node | None:
    """The condition a cell stands for, in our language (None for an empty cell)."""
    name = Name(tuple(column.split(".")))
    if cell.tests is None:
        return IsMissing(name)
    if not cell.tests:
        return None if cell.null else IsMissing(name, negated=True)
    tests = _and([_test_node(name, t) for t in cell.tests])
    return Binary("or", IsMissing(name), tests) if cell.null else tests


def check_column(column: str, where: str) -> str:
    """``column`` if it is a dotted record path, else an error naming ``where``."""
    if not _PATH.fullmatch(column) or any(p in _KEYWORDS for p in column.split(".")):
        raise InteropError(
            f"column {column!r} is not a record path such as value.revenue_12m",
            cell=where,
            hint="map it with fields={...: 'value.revenue_12m'}",
        )
    return column


def check_id(value: str, what: str, where: str) -> str:
    """``value`` if it is a valid id (label, rule, policy), else an error naming ``where``."""
    if not _ID.fullmatch(value):
        raise InteropError(
            f"{what} {value!r} is not a valid id (a letter, then letters, digits or _)",
            cell=where,
            hint="map it with labels={...: 'my_label'}" if what == "label" else None,
        )
    return value


def policy_from_table(table: Table) -> Policy:
    """The policy a decision table stands for."""
    rules = []
    for row in table.rows:
        parts = [
            node
            for column in table.columns
            if (node := cell_condition(column, row.cells.get(column, ANY))) is not None
        ]
        when = to_text(_and(parts)) if parts else "true"
        rules.append(RuleDef(id=row.id, when=when, then=row.label, because=row.because))
    try:
        return Policy(
            id=table.id,
            version=table.version,
            hit=table.hit,
            on_many=table.on_many,
            labels=table.labels,
            rules=tuple(rules),
            default=table.default,
            params=dict(table.params),
            description=table.description,
        )
    except ValueError as exc:  # pydantic's ValidationError: say what, not how
        raise InteropError(f"the decision table does not make a valid policy: {exc}") from None


def labels_for(ids: Sequence[str], known: Sequence[LabelDef] = ()) -> tuple[LabelDef, ...]:
    """Label definitions for ``ids`` (in order), reusing ``known`` ones' names."""
    by_id = {lab.id: lab for lab in known}
    out = [by_id.get(i) or LabelDef(id=i, en=i, zh=i) for i in dict.fromkeys(ids)]
    return tuple(out)
