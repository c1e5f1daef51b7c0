"""Unary-test cells as ZEN (JDM) and FEEL (DMN, spreadsheets) spell them.

One small parser reads both dialects into a :class:`Cell`, and one printer
writes a cell back. Reading works out exactly which values a cell matches,
including a missing value (``null``), with each dialect's rules:

* equality, ``in``, ordering and ranges never match ``null``;
* ``!= c`` and ``not in [...]`` *do* match ``null`` (in ZEN and in FEEL,
  ``null != c`` is true), so our ``x != c`` is written ``$ != null and
  $ != c`` (ZEN) or ``not(null, c)`` (FEEL);
* in FEEL, ``not(< 5)`` of a missing value stays unknown and so does not
  match (three-valued logic).

What cannot be read exactly (names of other fields, functions,
arithmetic, an ``or`` of tests that is not a list of values, dates) is an
:class:`InteropError` naming the cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal as TypingLiteral

from customer_rules.interop.table import Cell, Const, InteropError, Param, Term, Value

Dialect = TypingLiteral["zen", "feel"]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>\.\.|==|!=|<=|>=|<|>|=|\$|\?|[-(),\[\]])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"true", "false", "null", "not", "in", "and", "or"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # str, num, kw, name, op, end
    text: str


def _tokens(text: str, where: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InteropError(f"cannot read {text[pos:]!r} in cell {text!r}", cell=where)
        kind = m.lastgroup or "op"
        tok = m.group(kind)
        if kind == "name" and tok in _KEYWORDS:
            kind = "kw"
        out.append(_Tok(kind, tok))
        pos = m.end()
    out.append(_Tok("end", ""))
    return out


# A parsed cell is a small formula over tests of the column's value.
# ("or", [...]), ("and", [...]), ("not", f), ("test", Term), ("null",), ("true",), ("false",)
_F = tuple[object, ...]


class _Reader:
    def __init__(self, text: str, dialect: Dialect, where: str, params: Mapping[str, object]) -> None:
        self.text = text
        self.dialect = dialect
        self.where = where
        self.params = params
        self.toks = _tokens(text, where)
        self.i = 0

    # -- token helpers
    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        return self.peek().kind in ("op", "kw") and self.peek().text == text

    def expect(self, text: str) -> None:
        if not self.at(text):
            raise self.error(f"expected {text!r}")
        self.take()

    def error(self, why: str, hint: str | None = None) -> InteropError:
        got = self.peek().text or "the end"
        return InteropError(f"cell {self.text!r}: {why} at {got!r}", cell=self.where, hint=hint)

    # -- grammar
    def cell(self) -> _F:
        if self.peek().kind == "end":
            return ("true",)
        if self.at("-") and self.peek(1).kind == "end":
            return ("true",)
        f = self.tests()
        if self.peek().kind != "end":
            raise self.error("unexpected text")
        return f

    def tests(self) -> _F:
        items = [self.item()]
        while self.at(","):
            self.take()
            items.append(self.item())
        return items[0] if len(items) == 1 else ("or", items)

    def item(self) -> _F:
        if self.at("not") and self.peek(1).text == "(":
            if self.dialect == "zen":
                raise self.error("ZEN has no not(...)", hint="write '$ != ...' or '$ not in [...]'")
            self.take()
            self.take()
            inner = self.tests()
            self.expect(")")
            return ("not", inner)
        if self.starts_expr():
            return self.expr()
        return self.simple()

    def starts_expr(self) -> bool:
        tok = self.peek()
        if tok.text in ("$", "?"):
            return True
        if tok.text == "(":
            j = 1
            while self.peek(j).text == "(":
                j += 1
            return self.peek(j).text in ("$", "?", "not")
        return False

    def simple(self) -> _F:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("<", "<=", ">", ">=", "=", "==", "!="):
            self.take()
            if self.at("null"):
                self.take()
                return self.null_test(tok.text)
            return ("test", Term(_OP[tok.text], (self.const(),)))
        if tok.text in ("[", "(", "]") and self.range_ahead():
            return self.range()
        if self.at("null"):
            self.take()
            return ("null",)
        if self.at("["):  # a ZEN list of values: ["a", "b"]
            return ("test", Term("in", self.values()))
        return ("test", Term("==", (self.const(),)))

    def null_test(self, op: str) -> _F:
        if op in ("=", "=="):
            return ("null",)
        if op == "!=":
            return ("not", ("null",))
        raise self.error("only = and != compare with null")

    def range_ahead(self) -> bool:
        j = 1
        while self.peek(j).kind not in ("end",) and self.peek(j).text not in (",", "]", ")", "["):
            if self.peek(j).text == "..":
                return True
            j += 1
        return False

    def range(self) -> _F:
        open_ = self.take().text
        lo = self.const()
        self.expect("..")
        hi = self.const()
        close = self.take().text
        if close not in ("]", ")", "["):
            raise self.error("a range ends with ] or )")
        tests: list[_F] = []
        if open_ == "[" and close == "]":
            return ("test", Term("between", (lo, hi)))
        tests.append(("test", Term(">=" if open_ == "[" else ">", (lo,))))
        tests.append(("test", Term("<=" if close == "]" else "<", (hi,))))
        return ("and", tests)

    def expr(self) -> _F:
        parts = [self.conj()]
        while self.at("or"):
            self.take()
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def conj(self) -> _F:
        parts = [self.prim()]
        while self.at("and"):
            self.take()
            parts.append(self.prim())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def prim(self) -> _F:
        if self.at("("):
            self.take()
            f = self.expr()
            self.expect(")")
            return f
        if self.at("not"):
            if self.dialect == "zen":
                raise self.error("ZEN has no not(...)", hint="write '$ != ...' or '$ not in [...]'")
            self.take()
            self.expect("(")
            f = self.expr()
            self.expect(")")
            return ("not", f)
        placeholder = "$" if self.dialect == "zen" else "?"
        if not self.at(placeholder):
            raise self.error(f"expected {placeholder!r} (the column's value)")
        self.take()
        tok = self.peek()
        if tok.kind == "op" and tok.text in _OP:
            self.take()
            if self.at("null"):
                self.take()
                return self.null_test(tok.text)
            if self.dialect == "feel" and tok.text == "==":
                raise self.error("FEEL writes equality as =")
            return ("test", Term(_OP[tok.text], (self.const(),)))
        negated = False
        if self.at("not"):
            self.take()
            negated = True
        if self.at("in"):
            self.take()
            if self.at("[") and not self.range_ahead():
                found: _F = ("test", Term("in", self.values()))
            else:
                found = self.range()
            return ("not", found) if negated else found
        raise self.error("expected a comparison or 'in' after the column's value")

    def values(self) -> tuple[Const, ...]:
        self.expect("[")
        out: list[Const] = []
        while not self.at("]"):
            out.append(self.const())
            if not self.at("]"):
                self.expect(",")
        self.take()
        if not out:
            raise self.error("an empty list")
        return tuple(out)

    def const(self) -> Const:
        tok = self.take()
        if tok.kind == "str":
            return _unquote(tok.text, self)
        if tok.kind == "num":
            return _number(tok.text)
        if tok.kind == "op" and tok.text == "-" and self.peek().kind == "num":
            v = _number(self.take().text)
            return -v
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return tok.text == "true"
        if tok.kind == "name":
            parts = tok.text.split(".")
            if len(parts) == 2 and parts[0] == "params" and parts[1] in self.params:
                return Param(parts[1])
            hint = 'write text in double quotes, e.g. "gold"'
            if tok.text.startswith("date") or tok.text.startswith("params"):
                hint = "only constants and the policy's params are shared"
            self.i -= 1
            raise self.error("names and functions are outside the shared subset", hint=hint)
        self.i -= 1
        raise self.error("expected a number, text or true/false")


_OP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "==", "==": "==", "!=": "!="}


def _unquote(text: str, reader: _Reader) -> str:
    body = text[1:-1]
    if reader.dialect == "zen":
        if "\\" in body:
            raise reader.error("ZEN text has no escapes; a backslash is ambiguous")
        return body
    if text[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        value = json.loads('"' + body + '"')
    except json.JSONDecodeError:
        raise reader.error("a text with a bad escape") from None
    assert isinstance(value, str)
    return value


def _number(text: str) -> int | float:
    if re.fullmatch(r"\d+", text):
        return int(text)
    return float(text)


# -- what a formula means ------------------------------------------------------

_T, _N, _FALSE = "T", "N", "F"


def _null_value(f: _F) -> str:
    """Kleene truth of a formula for a missing value (N = unknown: no match)."""
    kind = f[0]
    if kind == "true":
        return _T
    if kind == "false":
        return _FALSE
    if kind == "null":
        return _T
    if kind == "test":
        test = f[1]
        assert isinstance(test, Term)
        if test.op in ("!=", "notin"):
            return _T
        if test.op in ("==", "in"):
            return _FALSE
        return _N
    if kind == "not":
        inner = _null_value(f[1])  # type: ignore[arg-type]
        return {_T: _FALSE, _FALSE: _T, _N: _N}[inner]
    values = [_null_value(p) for p in f[1]]  # type: ignore[attr-defined]
    if kind == "and":
        return _FALSE if _FALSE in values else (_N if _N in values else _T)
    return _T if _T in values else (_N if _N in values else _FALSE)


_NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "in": "notin", "notin": "in"}


def _present(f: _F, reader: _Reader) -> tuple[Term, ...] | None:
    """The tests a present value must pass (None: no present value matches)."""
    kind = f[0]
    if kind in ("true",):
        return ()
    if kind in ("false", "null"):
        return None
    if kind == "test":
        test = f[1]
        assert isinstance(test, Term)
        return (test,)
    if kind == "and":
        out: list[Term] = []
        for part in f[1]:  # type: ignore[attr-defined]
            tests = _present(part, reader)
            if tests is None:
                return None
            out.extend(tests)
        return tuple(out)
    if kind == "or":
        options = [t for part in f[1] if (t := _present(part, reader)) is not None]  # type: ignore[attr-defined]
        if any(t == () for t in options):
            return ()
        if not options:
            return None
        if len(options) == 1:
            return options[0]
        if all(len(t) == 1 and t[0].op in ("==", "in") for t in options):
            return (Term("in", tuple(v for t in options for v in t[0].values)),)
        raise InteropError(
            f"cell {reader.text!r}: an 'or' of different tests is outside the shared subset",
            cell=reader.where,
            hint="split the rule into one rule per alternative",
        )
    assert kind == "not"
    inner = _present(f[1], reader)  # type: ignore[arg-type]
    if inner is None:
        return ()
    if inner == ():
        return None
    if len(inner) == 1 and inner[0].op in _NEGATE:
        return (Term(_NEGATE[inner[0].op], inner[0].values),)
    raise InteropError(
        f"cell {reader.text!r}: not(...) of a range or of several tests is outside the shared subset",
        cell=reader.where,
    )


def read_cell(text: object, dialect: Dialect, where: str, params: Mapping[str, object] | None = None) -> Cell:
    """The cell ``text`` stands for, in ``dialect``; ``where`` names it in errors.

    Non-text values (numbers, booleans, as a spreadsheet holds them) are
    equality tests; ``None`` is an empty cell.
    """
    if text is None:
        return Cell(True, ())
    if isinstance(text, bool | int | float):
        return Cell(False, (Term("==", (text,)),))
    if not isinstance(text, str):
        raise InteropError(f"cannot read a {type(text).__name__} as a cell", cell=where)
    reader = _Reader(text, dialect, where, params or {})
    formula = reader.cell()
    cell = Cell(_null_value(formula) == _T, _present(formula, reader))
    if not cell.null and cell.tests is None:
        raise InteropError(f"cell {text!r} never matches", cell=where)
    return cell


# -- writing ------------------------------------------------------------------


def write_const(value: Value, dialect: Dialect = "feel") -> str:
    """A constant as ``dialect`` spells it.

    ZEN text has no escapes: it is quoted with ``"`` or, when it holds a
    ``"``, with ``'``; text holding both quotes, a backslash or a control
    character cannot be written and is refused.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if dialect == "feel":
            return json.dumps(value, ensure_ascii=False)
        if "\\" in value or any(ord(ch) < 32 for ch in value) or ('"' in value and "'" in value):
            raise InteropError(
                f"text {value!r} cannot be written in ZEN (no escapes: no backslash, control "
                "characters or both kinds of quote)"
            )
        return f"'{value}'" if '"' in value else f'"{value}"'
    number = Decimal(repr(value))
    if dialect == "zen" and not _zen_holds(number):
        raise InteropError(
            f"ZEN cannot hold the number {value!r} exactly (its decimals have at most 28 digits "
            "after the point and stay below 7.9e28)"
        )
    if isinstance(value, int):
        return str(value)
    text = format(number, "f")
    return text if "." in text else text + ".0"


def _zen_holds(number: Decimal) -> bool:
    exponent = number.as_tuple().exponent
    return abs(number) < Decimal("7.9e28") and isinstance(exponent, int) and exponent >= -28


def _bounds(tests: tuple[Term, ...]) -> tuple[Term, Term] | None:
    if len(tests) != 2:
        return None
    lo, hi = sorted(tests, key=lambda t: t.op not in (">", ">="))
    if lo.op in (">", ">=") and hi.op in ("<", "<="):
        return lo, hi
    return None


def write_cell(cell: Cell, dialect: Dialect, params: Mapping[str, Value] | None = None) -> str:
    """``cell`` in ``dialect`` (parameters inlined unless ``params`` is None).

    Raises :class:`InteropError` when the dialect cannot say it (ZEN has no
    way to write "missing, or several tests").
    """

    def k(c: Const) -> str:
        if isinstance(c, Param):
            return f"params.{c.name}" if params is None else write_const(params[c.name], dialect)
        return write_const(c, dialect)

    def simple(tests: tuple[Term, ...]) -> str | None:
        if (pair := _bounds(tests)) is not None:
            lo, hi = pair
            open_ = "[" if lo.op == ">=" else "("
            close = "]" if hi.op == "<=" else ")"
            return f"{open_}{k(lo.values[0])}..{k(hi.values[0])}{close}"
        if len(tests) != 1:
            return None
        t = tests[0]
        if t.op == "==":
            return k(t.values[0])
        if t.op == "in":
            return ", ".join(k(v) for v in t.values)
        if t.op == "between":
            return f"[{k(t.values[0])}..{k(t.values[1])}]"
        if t.op in ("<", "<=", ">", ">="):
            return f"{t.op} {k(t.values[0])}"
        return None

    ph = "$" if dialect == "zen" else "?"
    eq = "==" if dialect == "zen" else "="

    def conj(tests: tuple[Term, ...]) -> str:
        parts: list[str] = []
        for t in tests:
            if t.op == "between":
                parts.append(f"{ph} >= {k(t.values[0])} and {ph} <= {k(t.values[1])}")
            elif t.op in ("in", "notin") and dialect == "zen":
                not_ = " not" if t.op == "notin" else ""
                parts.append(f"{ph}{not_} in [" + ", ".join(k(v) for v in t.values) + "]")
            elif t.op == "in":
                parts.append("(" + " or ".join(f"{ph} = {k(v)}" for v in t.values) + ")")
            elif t.op == "notin":
                parts.append(" and ".join(f"{ph} != {k(v)}" for v in t.values))
            else:
                parts.append(f"{ph} {eq if t.op == '==' else t.op} {k(t.values[0])}")
        body = " and ".join(parts)
        if any(t.op in ("!=", "notin") for t in tests):
            return f"{ph} != null and {body}"  # != matches null in ZEN and FEEL
        return body

    if cell.tests is None:
        return "null"
    if not cell.tests:
        if cell.null:
            return "" if dialect == "zen" else "-"
        return f"{ph} != null" if dialect == "zen" else "not(null)"
    text = simple(cell.tests)
    if not cell.null:
        if text is not None:
            return text
        if dialect == "feel" and len(cell.tests) == 1:  # != or not in
            return "not(null, " + ", ".join(k(v) for v in cell.tests[0].values) + ")"
        return conj(cell.tests)
    if len(cell.tests) == 1 and cell.tests[0].op in ("!=", "notin"):
        values = cell.tests[0].values
        if dialect == "feel":
            return "not(" + ", ".join(k(v) for v in values) + ")"
        if cell.tests[0].op == "!=":
            return f"!= {k(values[0])}"
        return "$ not in [" + ", ".join(k(v) for v in values) + "]"
    if text is not None:
        return f"null, {text}"
    if dialect == "feel":
        return f"? = null or {conj(cell.tests)}"
    raise InteropError(
        "ZEN cannot write 'missing, or several tests' in one cell "
        "(its 'or' does not guard a comparison with a missing value)",
        hint="split the rule into one for the missing value and one for the tests",
    )
