"""Policies: one scheme's decision table, as validated data.

A policy is authored in YAML, JSON or TOML (or built in Python) and
validated by pydantic; structural errors and expression errors both come
back as :class:`PolicyError` naming the file, line, column and rule id.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from customer_rules.errors import PolicyError

Scalar = bool | int | float | str | dt.date
_ID = r"^[A-Za-z][A-Za-z0-9_]*$"

Loc = tuple[str | int, ...]

# -- limits -------------------------------------------------------------------
# A policy is user data: these bound the work reading one can cause, and are
# all checked in time linear in the text before anything is built from it
# (docs/language.md, "Safety limits"). Expressions have their own limits
# (customer_rules.lang.parser: MAX_TEXT, MAX_NODES, MAX_DEPTH).

#: Characters of policy text.
MAX_TEXT_CHARS = 500_000
#: Values (mappings, lists, keys and scalars) in a document, counting every
#: use of a YAML alias as a copy of what it refers to.
MAX_VALUES = 20_000
#: Levels of mappings and lists inside one another.
MAX_NESTING = 32
#: Digits in one number.
MAX_DIGITS = 100
#: Rules, flags, derived values and parameters (each).
MAX_RULES = 1_000


class Text(BaseModel):
    """A short text in English and (optionally) Chinese."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: str = Field(min_length=1)
    zh: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"en": data} if isinstance(data, str) else data

    def get(self, lang: str = "en") -> str:
        """The text in ``lang``, falling back to English."""
        return (self.zh or self.en) if lang == "zh" else self.en


class DisplayName(BaseModel):
    """What people call a scheme, a parameter, a derived value or a flag, in
    English and Chinese, and the unit of its value where it has one (the
    unit vocabulary of record fields: ``CNY``, ``days``, ``count``,
    ``points``, ``percent``, ``ratio``, ``level 0-3``, ...). ``values`` names
    the values of a text parameter (``by: count`` → "by count", "按名额")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    unit: str | None = None
    values: dict[str, DisplayName] = Field(default_factory=dict)

    def get(self, lang: str = "en") -> str:
        """The name in ``lang`` (``zh`` or ``en``)."""
        return self.zh if lang == "zh" else self.en


class LabelDef(BaseModel):
    """One label of a scheme: id, display names, and flags it always carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID)
    zh: str
    en: str
    flags: tuple[str, ...] = ()
    description: Text | None = None

    def name(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en


class RuleDef(BaseModel):
    """One row of the decision table: when ``when`` holds, the label is ``then``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID)
    when: str = Field(min_length=1)
    then: str
    because: Text | None = None


class FlagDef(BaseModel):
    """A named condition reported beside the label whenever it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID)
    when: str = Field(min_length=1)
    en: str
    zh: str | None = None


class Stability(BaseModel):
    """Hysteresis: when a customer with a previous label may change label.

    ``min_days``: a label held for fewer days than this is kept.
    ``margin``: a change happens only if it still happens with every numeric
    threshold (and population cut-off) moved by this fraction of its value
    against the change — the previous label's rules relaxed, the others
    tightened. Thresholds at zero do not move.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_days: int = Field(default=0, ge=0)
    margin: float = Field(default=0.0, ge=0, lt=1)


class Policy(BaseModel):
    """One scheme's decision table.

    ``hit`` decides what happens when several rules match: ``first`` (first
    in order), ``unique`` (an error naming both rules), ``priority`` (the
    label listed earliest in ``labels``), ``collect`` (all of them; the
    label is ``on_many`` when they disagree). ``params`` are named constants
    rules read as ``params.NAME``; ``derive`` names intermediate values
    (evaluated in order, readable by later ones and by rules); ``flags`` are
    conditions reported alongside the label; ``scores`` names derived values
    the decision reports as its scores; ``details`` maps derived values the
    explanation always shows (whatever rule decided) to their captions, e.g.
    the list of deductions behind a licence grade. ``intended_gap`` says
    why records no rule covers are meant to stay unclassified (a policy
    without a default): ``verify`` and ``customer-rules check`` then report
    the gap as information, with this reason, instead of as an error (with
    a default there is no gap, and it says nothing). ``name`` is the
    scheme's display name; ``names`` gives the display names (and units) of
    its parameters, derived values and the flags its labels carry, so an
    explanation can name every value it shows in either language.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID)
    version: str = "1"
    hit: Literal["first", "unique", "priority", "collect"] = "first"
    on_many: str | None = None
    labels: tuple[LabelDef, ...] = Field(min_length=1)
    rules: tuple[RuleDef, ...] = Field(default=(), max_length=MAX_RULES)
    default: str | None = None
    params: dict[str, Scalar] = Field(default_factory=dict, max_length=MAX_RULES)
    derive: dict[str, str] = Field(default_factory=dict, max_length=MAX_RULES)
    flags: tuple[FlagDef, ...] = Field(default=(), max_length=MAX_RULES)
    scores: tuple[str, ...] = ()
    details: dict[str, Text] = Field(default_factory=dict)
    stability: Stability | None = None
    name: DisplayName | None = None
    names: dict[str, DisplayName] = Field(default_factory=dict, max_length=3 * MAX_RULES)
    intended_gap: Text | None = None
    description: Text | None = None
    source: str | None = None

    _origin: _Origin | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _coerce_version(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("version"), int | float):
            data = {**data, "version": str(data["version"])}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        label_ids = [lab.id for lab in self.labels]
        _unique(label_ids, "label")
        _unique([r.id for r in self.rules], "rule")
        _unique([f.id for f in self.flags], "flag")
        known = set(label_ids)
        for i, rule in enumerate(self.rules):
            if rule.then not in known:
                raise _LocatedValueError(
                    ("rules", i, "then"),
                    f"rule {rule.id!r} gives unknown label {rule.then!r}",
                    _hint(rule.then, label_ids),
                )
        if self.default is not None and self.default not in known:
            raise _LocatedValueError(
                ("default",), f"default {self.default!r} is not a label", _hint(self.default, label_ids)
            )
        if self.on_many is not None:
            if self.hit != "collect":
                raise _LocatedValueError(("on_many",), "on_many only applies to hit: collect", None)
            if self.on_many not in known:
                raise _LocatedValueError(
                    ("on_many",), f"on_many {self.on_many!r} is not a label", _hint(self.on_many, label_ids)
                )
        for name in self.scores:
            if name not in self.derive:
                raise _LocatedValueError(("scores",), f"score {name!r} is not a derived value", None)
        for name in self.details:
            if name not in self.derive:
                raise _LocatedValueError(("details", name), f"detail {name!r} is not a derived value", None)
        for name in [*self.params, *self.derive]:
            if not re.match(_ID, name):
                raise _LocatedValueError(("params",), f"{name!r} is not a valid name", None)
        nameable = [*self.params, *self.derive, *(f for lab in self.labels for f in lab.flags)]
        for name in self.names:
            if name not in nameable:
                raise _LocatedValueError(
                    ("names", name),
                    f"names {name!r}: not a parameter, derived value or label flag of this policy",
                    _hint_key(name, nameable),
                )
        return self

    # -- conveniences ----------------------------------------------------
    def label(self, label_id: str) -> LabelDef:
        for lab in self.labels:
            if lab.id == label_id:
                return lab
        raise KeyError(label_id)

    @property
    def label_ids(self) -> tuple[str, ...]:
        return tuple(lab.id for lab in self.labels)

    @property
    def file(self) -> str | None:
        """The file the policy was loaded from, if any."""
        return self._origin.file if self._origin else None

    def locate(self, loc: Loc, expr_pos: tuple[int, int] | None = None) -> dict[str, Any]:
        """File, line and column for a key path (and a position inside its expression)."""
        if self._origin is None:
            if expr_pos is not None:
                return {"line": expr_pos[0], "column": expr_pos[1]}
            return {}
        return self._origin.locate(loc, expr_pos)

    def with_params(self, **changes: Scalar) -> Policy:
        """A copy with some parameter defaults changed (unknown names are an error)."""
        unknown = sorted(set(changes) - set(self.params))
        if unknown:
            raise PolicyError(
                f"unknown parameter(s) {', '.join(unknown)} for policy {self.id!r}",
                hint="known: " + ", ".join(self.params) if self.params else "it has no parameters",
            )
        new = self.model_copy(update={"params": {**self.params, **changes}})
        new._origin = self._origin
        return new


class _LocatedValueError(ValueError):
    def __init__(self, loc: Loc, message: str, hint: str | None) -> None:
        self.loc = loc
        self.message = message
        self.hint = hint
        super().__init__(message)


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise _LocatedValueError((f"{what}s", i, "id"), f"duplicate {what} id {x!r}", None)
        seen.add(x)


def _hint(value: str, choices: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(value, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else "labels: " + ", ".join(choices)


# -- where things are in the source file ------------------------------------


class _Origin:
    """Maps key paths of a loaded document to file positions."""

    def __init__(self, file: str | None, positions: dict[Loc, tuple[int, int, bool]]) -> None:
        self.file = file
        self.positions = positions  # loc -> (line, column, value_on_same_line)

    def locate(self, loc: Loc, expr_pos: tuple[int, int] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file}
        probe = tuple(loc)
        while probe and probe not in self.positions:
            probe = probe[:-1]
        if probe in self.positions:
            line, col, inline = self.positions[probe]
            if expr_pos is not None and probe == tuple(loc):
                eline, ecol = expr_pos
                if inline:
                    line, col = line + eline - 1, (col + ecol - 1 if eline == 1 else ecol)
                else:  # a block of lines starting below the key, indented by col - 1
                    line, col = line + eline, col + ecol - 1
            out["line"], out["column"] = line, col
        elif expr_pos is not None:
            out["line"], out["column"] = expr_pos
        return out


#: First element of a position entry for a mapping key itself (not its value).
KEY = "#key"

_Positions = dict[Loc, tuple[int, int, bool]]


def _too_big(what: str, limit: int, file: str | None, line: int | None, column: int | None) -> PolicyError:
    return PolicyError(
        f"{what}; the limit is {limit}",
        file=file,
        line=line,
        column=column,
        hint="policy files are limited in size and shape: see 'Safety limits' in docs/language.md",
    )


_YAML_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_RESOLVER = yaml.resolver.Resolver()


def _resolve(value: str, implicit: tuple[bool, bool]) -> str:
    """The tag PyYAML gives a plain scalar (int, float, bool, str, ...)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, implicit)  # type: ignore[no-untyped-call]
    return tag


def _yaml_precheck(text: str, file: str | None, loader: Any) -> None:
    """Refuse a YAML document that would be too deep or too big once its
    aliases are expanded, or holds a number too long to convert, reading its
    events once (the parser keeps its own stack: no recursion)."""
    size: dict[str, int] = {}  # anchor -> values it expands to
    inside: set[str] = set()  # anchors of the collections open now
    stack: list[list[Any]] = []  # [anchor, values so far] per open collection
    total = 0
    aliased = False

    def count(n: int, at: tuple[int | None, int | None]) -> None:
        nonlocal total
        total += n
        if total > MAX_VALUES:
            raise _too_big(
                f"the document {'expands to' if aliased else 'has'} more than {MAX_VALUES} values"
                + (" (every use of an alias counts as a copy)" if aliased else ""),
                MAX_VALUES,
                file,
                *at,
            )

    for ev in yaml.parse(text, Loader=loader):
        mark = ev.start_mark
        at = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        if isinstance(ev, yaml.AliasEvent):
            anchor = ev.anchor or ""
            if anchor in inside:
                raise PolicyError(
                    f"alias *{anchor} refers to the value it is inside",
                    file=file,
                    line=at[0],
                    column=at[1],
                )
            aliased = True
            n = size.get(anchor, 1)  # (an unknown alias is the composer's error to report)
            count(n, at)
            if stack:
                stack[-1][1] += n
        elif isinstance(ev, yaml.ScalarEvent):
            tag = ev.tag if ev.tag not in (None, "!") else None
            if tag is None and ev.implicit[0]:
                tag = _resolve(ev.value, ev.implicit)
            if tag in _YAML_NUMBER_TAGS:
                digits = sum(c.isdigit() for c in ev.value)
                if digits > MAX_DIGITS:
                    raise _too_big(f"a number with {digits} digits", MAX_DIGITS, file, *at)
            if ev.anchor is not None:
                size[ev.anchor] = 1
            count(1, at)
            if stack:
                stack[-1][1] += 1
        elif isinstance(ev, yaml.CollectionStartEvent):
            if len(stack) >= MAX_NESTING:
                raise _too_big(f"values nest more than {MAX_NESTING} deep", MAX_NESTING, file, *at)
            if ev.anchor is not None:
                inside.add(ev.anchor)
            count(1, at)
            stack.append([ev.anchor, 1])
        elif isinstance(ev, yaml.CollectionEndEvent):
            anchor, n = stack.pop()
            if stack:
                stack[-1][1] += n
            if anchor is not None:
                inside.discard(anchor)
                size[anchor] = n


def _yaml_positions(root: yaml.Node | None, text: str) -> tuple[_Positions, list[tuple[Loc, int, int]]]:
    """Positions of every value and key of a composed document, and the
    duplicate keys (key path, line, column of the second occurrence)."""
    positions: _Positions = {}
    duplicates: list[tuple[Loc, int, int]] = []
    lines = text.splitlines()

    def body_indent(after: int) -> int:
        # a block scalar: its text starts on the next non-blank line, after the indentation
        for i in range(after + 1, len(lines)):
            if lines[i].strip():
                return len(lines[i]) - len(lines[i].lstrip(" ")) + 1
        return 1

    def visit(node: yaml.Node, loc: Loc) -> None:
        inline = not (isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"))
        col = node.start_mark.column + 1
        if isinstance(node, yaml.ScalarNode) and node.style in ('"', "'"):
            col += 1
        if not inline:
            col = body_indent(node.start_mark.line)
        positions[loc] = (node.start_mark.line + 1, col, inline)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen and k.tag != "tag:yaml.org,2002:merge":
                        duplicates.append(((*loc, k.value), k.start_mark.line + 1, k.start_mark.column + 1))
                    seen.add(k.value)
                    positions[(KEY, *loc, k.value)] = (k.start_mark.line + 1, k.start_mark.column + 1, True)
                    visit(v, (*loc, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                visit(v, (*loc, i))

    if root is not None:
        visit(root, ())
    return positions, duplicates


#: PyYAML's libyaml loader when PyYAML was built with it (14× faster than the
#: pure one over the built-in schemes' files, with the same nodes and marks)
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass  # the pure loader raises it again, in its own (fuller) words
    return yaml.compose(text, Loader=yaml.SafeLoader)


def yaml_data(text: str) -> Any:
    """A YAML document's data (safe tags only), read as :func:`_compose` reads
    it: with libyaml when present, an error in the pure loader's words."""
    if _FAST_LOADER is not None:
        try:
            return yaml.load(text, Loader=_FAST_LOADER)  # CSafeLoader: safe tags only
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _duplicate_error(loc: Loc, line: int | None, column: int | None, file: str | None) -> PolicyError:
    return PolicyError(
        f"duplicate key {loc[-1]!r}: the same mapping already has it",
        file=file,
        line=line,
        column=column,
        field=_loc_text(loc) or None,
        hint="give each key once; a second one would silently replace the first",
    )


def _read_yaml(text: str, file: str | None) -> tuple[Any, _Positions]:
    try:
        _yaml_precheck(text, file, _FAST_LOADER or yaml.SafeLoader)
    except yaml.YAMLError:
        if _FAST_LOADER is None:
            raise
        _yaml_precheck(text, file, yaml.SafeLoader)  # the same wording as the reading below
    root = _compose(text)
    positions, duplicates = _yaml_positions(root, text)
    if duplicates:
        loc, line, column = duplicates[0]
        raise _duplicate_error(loc, line, column, file)
    if root is None:
        return None, positions
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root), positions
    finally:
        loader.dispose()


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


# Tokens of JSON and TOML text that matter for nesting and number size:
# strings and comments are skipped whole, so brackets and digits inside them
# do not count. A string left open runs to the end of its line (or of the
# text), so every token is matched once and the scan is linear.
_SCAN = {
    "json": re.compile(r'"(?:[^"\\\n]|\\.)*"?|[\[{]|[\]}]|(?<![\w.])[0-9][0-9_]*'),
    "toml": re.compile(
        r'"""[\s\S]*?(?:"""|\Z)|\'\'\'[\s\S]*?(?:\'\'\'|\Z)|"(?:[^"\\\n]|\\.)*"?|\'[^\'\n]*\'?|#[^\n]*'
        # a dotted key of more than MAX_NESTING parts (tomllib takes quadratic time over them)
        r"|(?<![\w.\-])[\w\-]+(?:[ \t]*\.[ \t]*(?:[\w\-]+|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'))"
        + f"{{{MAX_NESTING},}}"
        + r"|[\[{]|[\]}]|(?<![\w.])[0-9][0-9_]*"
    ),
}


def _text_precheck(text: str, fmt: str, file: str | None) -> None:
    """Refuse JSON or TOML text nested too deep (the standard parsers recurse)
    or holding a number with too many digits (Python refuses to convert it)."""

    def where(pos: int) -> tuple[int, int]:
        return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)

    depth = 0
    for m in _SCAN[fmt].finditer(text):
        tok = m.group()
        if tok[0] in "\"'#":  # a string or a comment
            continue
        if tok in ("[", "{"):
            depth += 1
            if depth > MAX_NESTING:
                raise _too_big(f"values nest more than {MAX_NESTING} deep", MAX_NESTING, file, *where(m.start()))
        elif tok in ("]", "}"):
            depth -= 1
        elif "." in tok:
            raise _too_big(f"values nest more than {MAX_NESTING} deep", MAX_NESTING, file, *where(m.start()))
        elif tok[0].isdigit():
            digits = sum(c.isdigit() for c in tok)
            if digits > MAX_DIGITS:
                raise _too_big(f"a number with {digits} digits", MAX_DIGITS, file, *where(m.start()))


def _shape_check(data: Any, positions: _Positions, file: str | None) -> None:
    """The same limits on the parsed document, whatever its format (TOML's
    dotted keys nest without brackets); iterative, so depth cannot hurt."""
    origin = _Origin(file, positions)
    count = 0
    todo: list[tuple[Any, Loc]] = [(data, ())]
    while todo:
        value, loc = todo.pop()
        count += 1 + (len(value) if isinstance(value, Mapping) else 0)  # a mapping's keys count too
        if count > MAX_VALUES:
            raise _too_big(f"the document has more than {MAX_VALUES} values", MAX_VALUES, file, None, None)
        if isinstance(value, Mapping | list | tuple):
            if len(loc) >= MAX_NESTING:
                where = origin.locate(loc)
                raise _too_big(
                    f"values nest more than {MAX_NESTING} deep",
                    MAX_NESTING,
                    file,
                    where.get("line"),
                    where.get("column"),
                )
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            todo.extend((v, (*loc, k)) for k, v in items)


def _toml_positions(text: str) -> dict[Loc, tuple[int, int, bool]]:
    positions: dict[Loc, tuple[int, int, bool]] = {}
    counts: dict[str, int] = {}
    table: Loc = ()
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        m = re.match(r"^\[\[\s*([A-Za-z0-9_.]+)\s*\]\]", line)
        if m:
            name = m.group(1)
            idx = counts.get(name, 0)
            counts[name] = idx + 1
            table = (name, idx)
            positions[table] = (n, 1, True)
            continue
        m = re.match(r"^\[\s*([A-Za-z0-9_.]+)\s*\]", line)
        if m:
            table = tuple(m.group(1).split("."))
            positions[table] = (n, 1, True)
            continue
        m = re.match(r'^\s*([A-Za-z0-9_]+)\s*=\s*("""|\'\'\'|["\']?)', raw)
        if m:
            # 1-based column of the value's first character (after any opening quote)
            col = m.end() + 1
            positions[(KEY, *table, m.group(1))] = (n, m.start(1) + 1, True)
            if len(m.group(2)) == 3 and not raw[m.end() :].strip():
                # a multi-line string starting on the next line
                positions[(*table, m.group(1))] = (n, 1, False)
            else:
                positions[(*table, m.group(1))] = (n, col, True)
    return positions


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    if suffix == ".toml":
        return "toml"
    raise PolicyError(
        f"cannot tell the policy format from {path.name!r}",
        file=str(path),
        hint="use a .yaml, .yml, .json or .toml file, or pass format=",
    )


def _read(text: str, fmt: str, file: str | None) -> tuple[Any, _Positions]:
    if fmt not in ("yaml", "json", "toml"):
        raise PolicyError(f"unknown policy format {fmt!r}", file=file, hint="use yaml, json or toml")
    if len(text) > MAX_TEXT_CHARS:
        raise _too_big(f"the policy text has {len(text)} characters", MAX_TEXT_CHARS, file, None, None)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from bytes decoded with surrogateescape
        line, column = text.count("\n", 0, exc.start) + 1, exc.start - text.rfind("\n", 0, exc.start)
        raise PolicyError(
            f"not valid Unicode text: a lone surrogate {text[exc.start]!r}", file=file, line=line, column=column
        ) from None
    try:
        if fmt == "yaml":
            data, positions = _read_yaml(text, file)
        elif fmt == "json":
            _text_precheck(text, fmt, file)
            data = json.loads(text, object_pairs_hook=_no_duplicates)
            positions = _json_positions(text)
        else:
            _text_precheck(text, fmt, file)
            data, positions = tomllib.loads(text), _toml_positions(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise PolicyError(
            f"not valid YAML: {exc.problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}", file=file) from None
    except _DuplicateKey as exc:
        raise _json_duplicate(text, exc.key, file) from None
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"not valid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno
        ) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+), column (\d+)", str(exc))
        raise PolicyError(
            f"not valid TOML: {str(exc).split(' (at')[0]}",
            file=file,
            line=int(m.group(1)) if m else None,
            column=int(m.group(2)) if m else None,
        ) from None
    _shape_check(data, positions, file)
    return data, positions


def _json_positions(text: str) -> _Positions:
    """Positions in JSON text, read as YAML (JSON is almost a subset of it)."""
    try:
        return _yaml_positions(_compose(text), text)[0]
    except yaml.YAMLError:
        return {}


def _json_duplicate(text: str, key: str, file: str | None) -> PolicyError:
    """The error for a key given twice in one JSON object, located by reading
    the text as YAML, else at the key's second appearance in the text."""
    try:
        duplicates = _yaml_positions(_compose(text), text)[1]
    except yaml.YAMLError:
        duplicates = []
    if duplicates:
        return _duplicate_error(*duplicates[0], file)
    spelled = re.compile(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:")
    hits = list(spelled.finditer(text))
    if len(hits) < 2:
        return _duplicate_error((key,), None, None, file)
    pos = hits[1].start()
    return _duplicate_error((key,), text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos), file)


def _rule_id_at(data: Any, loc: Loc) -> str | None:
    if len(loc) >= 2 and loc[0] in ("rules", "flags") and isinstance(loc[1], int):
        try:
            rid = data[loc[0]][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return str(rid) if rid is not None else None
    return None


def _loc_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def policy_from_data(
    data: Any,
    *,
    file: str | None = None,
    positions: dict[Loc, tuple[int, int, bool]] | None = None,
) -> Policy:
    """Validate a plain mapping into a :class:`Policy` (errors located in ``file``).

    Raises the first problem as a :class:`PolicyError`; :func:`policy_problems`
    lists them all.
    """
    policy, problems = _validate(data, file, positions)
    if policy is None:
        raise problems[0]
    return policy


def policy_problems(
    data: Any,
    *,
    file: str | None = None,
    positions: dict[Loc, tuple[int, int, bool]] | None = None,
) -> list[PolicyError]:
    """Every structural problem of a policy document, in the order reported
    (unknown keys first); empty when it validates."""
    return _validate(data, file, positions)[1]


def _validate(
    data: Any, file: str | None, positions: dict[Loc, tuple[int, int, bool]] | None
) -> tuple[Policy | None, list[PolicyError]]:
    origin = _Origin(file, positions or {})
    if not isinstance(data, Mapping):
        return None, [
            PolicyError(
                f"a policy must be a mapping of keys (id, labels, rules, ...), got {type(data).__name__}",
                file=file,
                line=1 if file or positions else None,  # read from text: it starts there
            )
        ]
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a misspelt key ('wen') also makes the right one ('when') missing:
        # report the misspelling, which says what to fix, and not the missing key
        misspelt = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
        errors = [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"][:-1]) in misspelt)]
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        return None, [_problem(err, data, origin) for err in errors]
    policy._origin = origin
    return policy, []


def _problem(err: Any, data: Any, origin: _Origin) -> PolicyError:
    ctx_err = err.get("ctx", {}).get("error")
    loc: Loc = tuple(err["loc"])
    hint = None
    message = err["msg"]
    if isinstance(ctx_err, _LocatedValueError):
        loc, message, hint = ctx_err.loc, ctx_err.message, ctx_err.hint
    elif err["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
        allowed = _allowed_keys(loc)
        hint = _hint_key(str(loc[-1]), allowed)
    elif err["type"] == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif "input" in err:
        message = f"{message} (got {short(repr(err['input']), 80)})"
    where = origin.locate(loc)
    key_pos = origin.positions.get((KEY, *loc))
    if err["type"] == "extra_forbidden" and key_pos is not None:
        where["line"], where["column"] = key_pos[:2]  # the unknown key itself
    return PolicyError(message, rule=_rule_id_at(data, loc), field=_loc_text(loc) or None, hint=hint, **where)


def read_policy_text(text: str, format: str, *, file: str | None = None) -> tuple[Policy | None, list[PolicyError]]:
    """Read policy text: the policy, or every structural problem (a syntax
    error or a limit stops the reading: then that one problem)."""
    try:
        data, positions = _read(text, format, file)
    except PolicyError as exc:
        return None, [exc]
    return _validate(data, file, positions)


_MODEL_BY_KEY: dict[str, type[BaseModel]] = {"labels": LabelDef, "rules": RuleDef, "flags": FlagDef}


def _allowed_keys(loc: Loc) -> list[str]:
    if len(loc) >= 3 and loc[0] in _MODEL_BY_KEY:
        return list(_MODEL_BY_KEY[str(loc[0])].model_fields)
    return list(Policy.model_fields)


def _hint_key(key: str, allowed: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "allowed keys: " + ", ".join(allowed)


def parse_policy(text: str, format: str = "yaml", *, file: str | None = None) -> Policy:
    """Read a policy from text in ``yaml``, ``json`` or ``toml``."""
    policy, problems = read_policy_text(text, format, file=file)
    if policy is None:
        raise problems[0]
    return policy


def read_policy_file(path: str | Path, format: str | None = None) -> Policy:
    """Read a policy file (format from the extension unless given)."""
    text, fmt = policy_file_text(path, format)
    return parse_policy(text, fmt, file=str(path))


def policy_file_text(path: str | Path, format: str | None = None) -> tuple[str, str]:
    """The text of a policy file and its format (from the extension unless given)."""
    p = Path(path)
    fmt = format or _format_of(p)
    if p.is_dir():
        raise PolicyError("this is a folder, not a policy file", file=str(p), hint="give a .yaml, .json or .toml file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(
            f"not UTF-8 text (byte {exc.start} cannot be decoded)", file=str(p), hint="save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror}", file=str(p)) from None
    return text, fmt


def is_policy_file(source: str | Path) -> bool:
    """Whether :func:`customer_rules.load_policy` reads ``source`` as a file:
    a :class:`~pathlib.Path` always is one; a string is one when it names an
    existing file (never guessed from its length or content)."""
    if isinstance(source, Path):
        return True
    return os.path.isfile(source)  # False (not an error) for text no file can be named


def short(text: str, limit: int = 60) -> str:
    """``text`` cut to one short line, for messages that quote user input."""
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit and line == text else line[:limit] + "…"
