"""Parse condition text into the AST (:mod:`customer_rules.lang.ast`).

The grammar is LALR(1), built with lark and transformed into our own nodes
while parsing (no recursion, so deep input cannot exhaust the stack). Text
size, nesting depth and node count are limited before anything else sees
the tree.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from customer_rules.errors import PolicyError
from customer_rules.lang.ast import (
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
    Pos,
    Unary,
)

MAX_TEXT = 2000
MAX_DEPTH = 64
MAX_NODES = 500

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr
        | or_expr "or" and_expr                  -> or_

?and_expr: not_expr
         | and_expr "and" not_expr               -> and_

?not_expr: cmp
         | "not" not_expr                        -> not_

?cmp: sum
    | sum COMP_OP sum                            -> compare
    | sum "in" sum                               -> in_
    | sum "not" "in" sum                         -> not_in
    | sum "between" sum "and" sum                -> between
    | sum "is" "missing"                         -> is_missing
    | sum "is" "not" "missing"                   -> is_not_missing

?sum: product
    | sum ADD_OP product                         -> arith

?product: unary
        | product MUL_OP unary                   -> arith

?unary: atom
      | "-" unary                                -> neg

?atom: NUMBER                                    -> number
     | STRING                                    -> string
     | DATE                                      -> date
     | DURATION                                  -> duration
     | TRUE                                      -> true
     | FALSE                                     -> false
     | NAME ("." NAME)*                          -> name
     | NAME "(" [or_expr ("," or_expr)*] ")"     -> call
     | "[" [or_expr ("," or_expr)*] "]"          -> list_
     | "(" or_expr ")"

TRUE: "true"
FALSE: "false"
COMP_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
DATE.3: /[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])/
DURATION.2: /[0-9]+[dw](?![A-Za-z0-9_])/
NUMBER: /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/
STRING: /"(?:[^"\\\n]|\\.)*"/ | /'(?:[^'\\\n]|\\.)*'/
NAME: /(?!(?:and|or|not|in|between|is|missing|true|false)(?![A-Za-z0-9_]))[A-Za-z][A-Za-z0-9_]*/

%import common.WS
%ignore WS
"""

KEYWORDS = frozenset({"and", "or", "not", "in", "between", "is", "missing", "true", "false"})


def _pos(node: Node | None) -> Pos:
    return node.pos if node is not None else (1, 1)


def _tpos(tok: Token) -> Pos:
    return (tok.line or 1, tok.column or 1)


def _unquote(tok: Token) -> str:
    raw = str(tok)
    body = raw[1:-1]
    if raw[0] == "'":
        # turn a single-quoted body into a JSON string body
        out = []
        i = 0
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body) and body[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            if c == "\\" and i + 1 < len(body):
                out.append(body[i : i + 2])
                i += 2
                continue
            out.append('\\"' if c == '"' else c)
            i += 1
        body = "".join(out)
    try:
        value = json.loads('"' + body + '"')
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"bad escape in string {raw}",
            line=tok.line,
            column=tok.column,
            hint='use \\" \\\\ \\n \\t or \\uXXXX',
        ) from exc
    assert isinstance(value, str)
    return value


@v_args(inline=True)
class _Build(Transformer[Token, Node]):
    def or_(self, a: Node, b: Node) -> Node:
        return Binary("or", a, b, pos=_pos(a))

    def and_(self, a: Node, b: Node) -> Node:
        return Binary("and", a, b, pos=_pos(a))

    def not_(self, a: Node) -> Node:
        return Unary("not", a, pos=_pos(a))

    def compare(self, a: Node, op: Token, b: Node) -> Node:
        return Binary(str(op), a, b, pos=_tpos(op))

    def arith(self, a: Node, op: Token, b: Node) -> Node:
        return Binary(str(op), a, b, pos=_tpos(op))

    def in_(self, a: Node, b: Node) -> Node:
        return In(a, b, pos=_pos(a))

    def not_in(self, a: Node, b: Node) -> Node:
        return In(a, b, negated=True, pos=_pos(a))

    def between(self, a: Node, lo: Node, hi: Node) -> Node:
        return Between(a, lo, hi, pos=_pos(a))

    def is_missing(self, a: Node) -> Node:
        return IsMissing(a, pos=_pos(a))

    def is_not_missing(self, a: Node) -> Node:
        return IsMissing(a, negated=True, pos=_pos(a))

    def neg(self, a: Node) -> Node:
        return Unary("-", a, pos=_pos(a))

    def number(self, tok: Token) -> Node:
        text = str(tok)
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float) and math.isinf(value):
            raise PolicyError(
                f"the number {text} is too large for a decimal (it would be infinite)",
                line=tok.line,
                column=tok.column,
                hint="decimals go up to about 1.8e308",
            )
        return Literal(value, pos=_tpos(tok))

    def string(self, tok: Token) -> Node:
        return Literal(_unquote(tok), pos=_tpos(tok))

    def date(self, tok: Token) -> Node:
        try:
            return Literal(dt.date.fromisoformat(str(tok)), pos=_tpos(tok))
        except ValueError as exc:
            raise PolicyError(f"not a valid date: {tok}", line=tok.line, column=tok.column) from exc

    def duration(self, tok: Token) -> Node:
        text = str(tok)
        return Duration(int(text[:-1]), text[-1], pos=_tpos(tok))

    def true(self, tok: Token) -> Node:
        return Literal(True, pos=_tpos(tok))

    def false(self, tok: Token) -> Node:
        return Literal(False, pos=_tpos(tok))

    def name(self, *parts: Token) -> Node:
        return Name(tuple(str(p) for p in parts), pos=_tpos(parts[0]))

    def call(self, name: Token, *args: Node | None) -> Node:
        return Call(str(name), tuple(a for a in args if a is not None), pos=_tpos(name))

    def list_(self, *items: Node | None) -> Node:
        return ListOf(
            tuple(i for i in items if i is not None),
            pos=_pos(next((i for i in items if i is not None), None)),
        )


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        GRAMMAR,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        transformer=_Build(),
    )


_TERMINALS = {
    "$END": "the end",
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "DATE": "a date",
    "DURATION": "a duration",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*' or '/'",
    "TRUE": "true",
    "FALSE": "false",
}


def _readable(terminal: str) -> str:
    """A grammar terminal as a reader would name it ('or', ')', a name)."""
    if terminal in _TERMINALS:
        return _TERMINALS[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return repr(pattern.value) if pattern.type == "str" else terminal.lower()


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, str | None]:
    if isinstance(exc, UnexpectedEOF):
        return "the expression ends too early", "is an operand or a closing bracket missing?"
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        if ch in "&|":
            return f"unexpected character {ch!r}", "write 'and' / 'or'"
        if ch == "_":
            return "unexpected '_'", "names start with a letter; private names cannot be read"
        if ch == "=":
            return "unexpected '='", "compare with '=='"
        if ch.isdigit() or ch.isnumeric():
            return f"unexpected character {ch!r}", "write numbers with the ASCII digits 0-9"
        return f"unexpected character {ch!r}", None
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return "the expression ends too early", "is an operand or a closing bracket missing?"
        expected = sorted({_readable(e) for e in exc.expected if not e.startswith("__")})
        hint = None
        if len(expected) <= 6 and expected:
            hint = "expected " + ", ".join(expected)
        return f"unexpected {str(tok)!r}", hint
    return str(exc), None


def _measure(tree: Node) -> tuple[int, int]:
    count = 0
    depth = 0
    stack: list[tuple[Node, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        count += 1
        depth = max(depth, d)
        stack.extend((c, d + 1) for c in node.children())
    return count, depth


def parse(text: str) -> Node:
    """Parse one condition or value expression.

    Raises :class:`PolicyError` with the line and column of the problem.
    The trees of the last :data:`PARSED_KEPT` texts parsed are kept (they
    are immutable) and given again for the same text: an engine made again
    from the same policies (``with_params``, ``sibling``, a sweep's every
    value) parsed their ~1,300 expressions (248 distinct texts) anew, and a
    second ``Engine()`` took about 62 ms, now about 25 ms.
    """
    if not isinstance(text, str):
        raise PolicyError(f"an expression must be text, not {type(text).__name__}")
    return _parse_text(text)


#: how many expression texts :func:`parse` keeps the trees of: the built-in
#: schemes' 248 take 0.44 MB; a tree of ``MAX_NODES`` nodes, some 50 KB at most
PARSED_KEPT = 1024


@lru_cache(maxsize=PARSED_KEPT)
def _parse_text(text: str) -> Node:
    if len(text) > MAX_TEXT:
        raise PolicyError(
            f"expression is {len(text)} characters long; the limit is {MAX_TEXT}",
            hint="split it with derived values",
        )
    if not text.strip():
        raise PolicyError("the expression is empty")
    # bracket nesting is checked before parsing so that absurd input is cheap to refuse
    # (brackets inside string literals do not count)
    level = deepest = 0
    quote: str | None = None
    escaped = False
    for ch in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote or ch == "\n":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            level += 1
            deepest = max(deepest, level)
        elif ch in ")]":
            level -= 1
    if deepest > MAX_DEPTH // 2:
        raise PolicyError(f"brackets nest {deepest} deep; the limit is {MAX_DEPTH // 2}")
    try:
        tree = _parser().parse(text)
    except PolicyError:
        raise
    except UnexpectedInput as exc:
        message, hint = _describe(exc, text)
        raise PolicyError(
            message, line=getattr(exc, "line", None), column=getattr(exc, "column", None), hint=hint
        ) from None
    assert isinstance(tree, Node)  # the inline transformer builds our nodes
    count, depth = _measure(tree)
    if count > MAX_NODES:
        raise PolicyError(f"expression has {count} parts; the limit is {MAX_NODES}")
    if depth > MAX_DEPTH:
        raise PolicyError(f"expression nests {depth} deep; the limit is {MAX_DEPTH}")
    return tree
