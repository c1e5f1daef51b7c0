"""The durable backend: policies compiled to durable_rules rulesets.

This is the only module that imports ``durable`` (durable_rules 2.0.28, a
Rete engine with statecharts, unmaintained; it builds and imports on
CPython 3.12 and older only). It is fenced in as docs/events.md describes:

* one :class:`Runtime` per engine owns its own ``durable.engine.Host``
  (never the module-global host) and registers every ruleset under a
  unique name. The host's timer threads are not started, so no action ever
  runs outside a call made here: every action completes inside the call
  that triggered it, and results are collected by request id;
* one re-entrant lock is held around every call into durable (its C core
  has no locks);
* decisions use ``assert_fact`` so that every matching rule fires; the
  stream's label look-ups use ``post`` on purpose, with rule priorities
  (``pri``, never negative) equal to the hit policy's order, so that
  exactly the winning rule fires;
* exceptions raised inside actions (which durable stores in the session
  state) are caught and raised again in the caller;
* facts hold JSON-safe values only: numbers, booleans (strings become
  integer codes, dates proleptic day numbers ``date.toordinal()``, always
  at least 1, never 0 or negative); no float is written in a form durable's
  parser rejects (``1e-05``); at most :data:`MAX_FIELDS` fields per fact;
  field names are checked for collisions of durable's 32-bit name hash;
  conditions use comparisons only (no patterns);
* every condition starts with a discriminator field so that durable's
  session-state objects never match a rule; every ruleset has a catch-all
  rule, so no fact or event goes unhandled
  (``MessageNotHandledException``);
* a session's state is deleted as soon as it is no longer needed, and
  rulesets are deleted from durable's core when their engine goes away.

Statecharts (:class:`Chart`, :class:`PolicyChart`) are compiled to one
ruleset per state whose rules are the state's transitions; messages are
posted to one session and each instance's state is kept in Python. (durable's
own statecharts keep a session per instance: ~2 ms and 0.3-1.2 MB each, at
most 1024 per ruleset.)

How a policy is split between Python and durable
------------------------------------------------
A condition is compiled into two durable conditions, one that holds when it
is *true* and one that holds when it is *false*; when neither holds its
value is *missing* (Kleene's three-valued logic). ``and``/``or``/``not``,
comparisons with a constant, ``in [...]``, ``between`` with constant
bounds, ``is missing`` and derived true/false values (inlined) run in
durable. Every other sub-expression — record fields, features, arithmetic,
functions, population cut-offs, comparisons of two computed values — is an
*atom*: Python computes it with the python backend's closures and writes it
into the fact as field ``v<n>`` (``n<n>`` marks a NaN; a missing value is a
missing field). A sub-condition too large for durable's limits (31
expression entries per condition) also becomes an atom, and a policy whose
rules could overflow durable's 64-entry alpha stack (see
:func:`alpha_stack`) or need more fields than one fact holds is split over
several rulesets, each asserted in turn.

The Rete network decides which rules are true, false and missing and which
flags hold; the hit policy is applied to that. To report the same
evidence and missing inputs as the python backend, whose evaluation stops
early (``false and x`` never reads ``x``), Python replays the order in
which the reference would read the atoms, without reading the record
again. A rule whose value durable and the replay disagree on is a bug and
raises :class:`~customer_rules.EvaluationError`.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import datetime as dt
import importlib
import itertools
import json
import math
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from customer_rules.backends.base import Outcome, decision_of, record_parts, resolve
from customer_rules.backends.python import Context, Fn, PythonPolicy
from customer_rules.errors import BackendUnavailable, EvaluationError
from customer_rules.lang.ast import (
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
    to_text,
)
from customer_rules.lang.check import is_constant
from customer_rules.lang.compile import CheckedPolicy, CheckedRule
from customer_rules.lang.functions import FUNCTIONS
from customer_rules.lang.ops import COMPARISONS, OPERATORS, PROPAGATES, Operator, operator_of
from customer_rules.lang.population import Cut
from customer_rules.model.decision import Counterfactual, Decision

EXTRA = "customer-rules[durable]"

#: Most fields one fact may carry (durable stops at 255, ``id`` and ``sid`` included).
MAX_FIELDS = 240
#: Most expression entries one durable condition may use (durable allows 31;
#: every ``$and``/``$or`` takes two).
_MAX_CONNECTIVES = 12
_MAX_LEAVES = 40
#: durable's alpha matcher fails when its stack passes 64 entries: keep a margin.
_MAX_STACK = 56
#: Largest magnitude written as a number as it is: every integer up to it is exact in a double.
_EXACT = 2**53
#: Stands for any number above (below) every constant of a policy.
_BEYOND = float(2**54)

#: The discriminator: only facts and events written by this module carry it.
DISCRIMINATOR = "q"

# durable's comparison for each operator, from the operator table
_OPS = {op: entry.durable for op, entry in COMPARISONS.items()}

_RUNTIME_IDS = itertools.count(1)
_KEYS = frozenset({"sid", "id", DISCRIMINATOR})
_MISS = object()
_ANSWERS = 4096  # look-up answers kept per policy (label_of)


# ---------------------------------------------------------------------------
# Loading durable_rules and talking to it
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _fence() -> Any:
    """Where our code calls durable_rules: its warnings stay here.

    durable_rules 2.0.28 is unmaintained; on CPython 3.12 every action it
    runs calls ``datetime.utcfromtimestamp`` and warns (tens of thousands of
    ``DeprecationWarning`` lines in a test run). Warnings raised by durable's
    own modules are dropped inside this block; everything else is untouched.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"durable(\.|_|$)")
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"durable(\.|_|$)")
        yield


def load() -> tuple[Any, Any]:
    """Import durable_rules (``durable.engine`` and its C core) or raise
    :class:`~customer_rules.BackendUnavailable` naming the extra to install."""
    if sys.version_info >= (3, 13):
        raise BackendUnavailable(
            "the durable backend needs durable_rules, which builds and imports on CPython 3.12 and "
            f"older only; this is Python {sys.version_info[0]}.{sys.version_info[1]}. "
            f'Use backend="python" here, or run on CPython 3.12 or older with pip install "{EXTRA}".'
        )
    try:
        with _fence():
            import durable.engine as engine_module

            core = importlib.import_module("durable_rules_engine")  # durable's C core
    except ImportError as exc:
        raise BackendUnavailable(
            f'the durable backend needs durable_rules: pip install "{EXTRA}" ({exc})'
        ) from None
    return engine_module, core


def available() -> bool:
    """Whether durable_rules can be used here."""
    try:
        load()
    except BackendUnavailable:
        return False
    return True


def fnv1a32(name: str) -> int:
    """The 32-bit FNV-1a hash durable identifies a field name by."""
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


#: Field names this module writes besides the atoms (statechart messages: st, ev, g, closed).
RESERVED = ("id", "sid", "$s", DISCRIMINATOR, "st", "ev", "g", "closed")
_RESERVED_HASHES = frozenset(fnv1a32(n) for n in RESERVED)


class FieldNames:
    """Field names whose durable hashes never collide with each other or a reserved name."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counter = itertools.count()
        self._used: set[int] = set(_RESERVED_HASHES)

    def new(self) -> str:
        while True:
            name = f"{self.prefix}{next(self._counter)}"
            h = fnv1a32(name)
            if h not in self._used:
                self._used.add(h)
                return name


def _delete_rulesets(core: Any, lock: threading.RLock, handles: dict[str, int]) -> None:
    with lock:
        for handle in handles.values():
            with contextlib.suppress(Exception):  # the core is going away anyway
                core.delete_ruleset(handle)
        handles.clear()


class Runtime:
    """One durable host for one engine, and the lock every call into it holds.

    Nothing outside this class calls durable. The host's dispatch and
    timer threads are never started, so actions only ever run inside the
    call that triggered them, on the caller's thread.
    """

    def __init__(self) -> None:
        engine_module, core = load()

        class _Host(engine_module.Host):  # type: ignore[misc,name-defined]
            def _run(self) -> None:  # no timer threads: actions run only inside our calls
                return None

        self._core = core
        self._not_handled: type[Exception] = engine_module.MessageNotHandledException
        with _fence():
            self._host = _Host()
        self.lock = threading.RLock()
        self.id = next(_RUNTIME_IDS)
        self._names = itertools.count()
        self._handles: dict[str, int] = {}
        self._errors: list[BaseException] = []
        self._finalizer = weakref.finalize(self, _delete_rulesets, core, self.lock, self._handles)

    # -- rulesets --------------------------------------------------------
    def unique_name(self, hint: str) -> str:
        safe = "".join(ch if ch.isalnum() else "_" for ch in hint)[:40]
        return f"cr{self.id}_{safe}_{next(self._names)}"

    def register(self, name: str, definition: Mapping[str, Any], *, statechart: bool = False) -> str:
        """Register a ruleset (or, with ``statechart``, a statechart) under ``name``."""
        key = name + "$state" if statechart else name
        with self.lock, _fence():
            self._host.register_rulesets({key: dict(definition)})
            self._handles[name] = self._host.get_ruleset(name)._handle
        return name

    def drop(self, name: str) -> None:
        """Delete a ruleset from the host and from durable's core."""
        with self.lock:
            handle = self._handles.pop(name, None)
            ruleset = self._host._ruleset_directory.pop(name, None)
            if ruleset is not None:
                self._host._ruleset_list.remove(ruleset)
            if handle is not None:
                self._core.delete_ruleset(handle)

    def action(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Wrap an action: an exception it raises is kept and raised again in the caller."""
        errors = self._errors

        def run(c: Any) -> None:
            try:
                fn(c)
            except BaseException as exc:
                errors.append(exc)

        return run

    # -- calls -----------------------------------------------------------
    def _check(self, name: str, state: Any) -> None:
        if self._errors:
            exc = self._errors[0]
            self._errors.clear()
            raise exc
        if isinstance(state, dict) and "exception" in state:
            raise EvaluationError(f"durable_rules ruleset {name!r}: {state['exception']}")

    def assert_fact(self, name: str, fact: dict[str, Any]) -> bool:
        """Assert a fact (every matching rule fires); False if no rule took it."""
        return self._send(self._host.assert_fact, name, fact)

    def post(self, name: str, message: dict[str, Any]) -> bool:
        """Post an event (only the highest-priority matching rule fires); False if none took it."""
        return self._send(self._host.post, name, message)

    def _send(self, call: Any, name: str, payload: dict[str, Any]) -> bool:
        with self.lock, _fence():
            try:
                state = call(name, payload)
            except self._not_handled:
                self._check(name, None)
                return False
            except self._core.error as exc:
                self._errors.clear()
                raise EvaluationError(f"durable_rules ruleset {name!r} failed: {exc}") from None
            self._check(name, state)
            return True

    def delete_state(self, name: str, sid: str) -> None:
        """Forget everything a session of ``name`` holds."""
        with self.lock, _fence():
            self._host.delete_state(name, sid)

    def close(self) -> None:
        """Delete every ruleset of this runtime from durable's core."""
        self._finalizer()


# ---------------------------------------------------------------------------
# Conditions in durable's JSON language
# ---------------------------------------------------------------------------

# A form is True or False (a constant condition), a leaf test (a dict in
# durable's language) or ("$and" | "$or", parts).
Form = Any


def _join(op: str, absorbing: bool, parts: tuple[Form, ...]) -> Form:
    """``op`` ("$and" | "$or") of ``parts``, flattened and with constants folded."""
    out: list[Form] = []
    for p in parts:
        if p is absorbing:
            return absorbing
        if p is (not absorbing):
            continue
        if isinstance(p, tuple) and p[0] == op:
            out.extend(p[1])
        else:
            out.append(p)
    if not out:
        return not absorbing
    return out[0] if len(out) == 1 else (op, tuple(out))


def f_and(*parts: Form) -> Form:
    return _join(OPERATORS["and"].durable, False, parts)


def f_or(*parts: Form) -> Form:
    return _join(OPERATORS["or"].durable, True, parts)


def cost(form: Form) -> tuple[int, int, int]:
    """(connectives, leaves, disjunctions) of a form."""
    if isinstance(form, tuple):
        c, leaves, ors = 1, 0, 1 if form[0] == "$or" else 0
        for p in form[1]:
            pc, pl, po = cost(p)
            c, leaves, ors = c + pc, leaves + pl, ors + po
        return c, leaves, ors
    return (0, 0 if isinstance(form, bool) else 1, 0)


def to_json(form: Form) -> dict[str, Any]:
    if isinstance(form, tuple):
        return {form[0]: [to_json(p) for p in form[1]]}
    assert isinstance(form, dict)
    return form


def condition(form: Form) -> dict[str, Any]:
    """A rule condition: the discriminator, then the form."""
    disc = {DISCRIMINATOR: 1}
    if form is True:
        return disc
    parts = form[1] if isinstance(form, tuple) and form[0] == "$and" else (form,)
    return {"$and": [disc, *(to_json(p) for p in parts)]}


def _test(op: str, name: str, value: Any) -> dict[str, Any]:
    if op == "==":
        return {name: value}
    return {_OPS[op]: {name: value}}


def _safe_float(x: float) -> bool:
    """A finite float whose repr durable's JSON parser reads back exactly."""
    if not math.isfinite(x) or abs(x) > _EXACT:
        return False
    text = repr(x)
    return "e" not in text or "." in text.split("e")[0]


def safe_number(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return abs(x) <= _EXACT
    if isinstance(x, float):
        return _safe_float(x)
    return False


def _between(lo: float | None, hi: float | None) -> float:
    """A safe number strictly between two constants (either may be open)."""
    if lo is None and hi is None:
        return 0
    if lo is None:
        return -_BEYOND
    if hi is None:
        return _BEYOND
    mid = lo + (hi - lo) / 2
    for candidate in (mid, math.nextafter(mid, hi), math.nextafter(mid, lo)):
        if lo < candidate < hi and _safe_float(float(candidate)):
            return float(candidate)
    raise EvaluationError(f"cannot encode a number between {lo!r} and {hi!r} for durable_rules")


# ---------------------------------------------------------------------------
# Atoms: the values Python computes and writes into the facts
# ---------------------------------------------------------------------------


@dataclass
class Atom:
    """A sub-expression Python computes; durable reads it as field ``name``."""

    key: str
    node: Node
    kind: str  # number, date, string, bool, or other (presence only)
    fn: Fn
    may_nan: bool = False
    name: str = ""
    nan_name: str | None = None
    #: the constants compared with the atom, sorted (day numbers for dates)
    numbers: list[Any] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    in_durable: bool = False
    #: (function, arguments) when the atom is a feature read, so calls can be shared
    feature: tuple[Callable[..., Any], tuple[Any, ...]] | None = None

    def constant(self, value: Any) -> Any:
        """The encoded form of a constant compared with this atom, or None when
        durable cannot compare it exactly (the comparison then stays in Python)."""
        if self.kind == "number":
            if not safe_number(value):
                return None
            i = bisect.bisect_left(self.numbers, value)
            if i == len(self.numbers) or self.numbers[i] != value:
                self.numbers.insert(i, value)
            return value
        if self.kind == "date":
            if not isinstance(value, dt.date):
                return None
            day = value.toordinal()
            i = bisect.bisect_left(self.numbers, day)
            if i == len(self.numbers) or self.numbers[i] != day:
                self.numbers.insert(i, day)
            return day
        if self.kind == "string":
            if not isinstance(value, str):
                return None
            return self.codes.setdefault(value, len(self.codes) + 1)
        if self.kind == "bool":
            return value if isinstance(value, bool) else None
        return None

    def encode(self, value: Any) -> tuple[Any, bool]:
        """(field value or None for a missing field, whether the value is NaN)."""
        if value is None:
            return None, False
        kind = self.kind
        if value.__class__ is int and -_EXACT <= value <= _EXACT and kind == "number":
            return value, False  # the common case first
        if kind == "number":
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, float) and math.isnan(value):
                if self.nan_name is None:  # declared whole, or a record field: never NaN
                    raise EvaluationError(f"{self.key} is not a number (NaN)")
                return None, True
            if not isinstance(value, int | float):
                raise EvaluationError(f"{self.key} should be a number, got {value!r}")
            if safe_number(value):
                return value, False
            nums = self.numbers
            i = bisect.bisect_left(nums, value)
            if i < len(nums) and nums[i] == value:
                return nums[i], False
            return _between(nums[i - 1] if i > 0 else None, nums[i] if i < len(nums) else None), False
        if kind == "date":
            return value.toordinal(), False
        if kind == "string":
            return self.codes.get(value, 0), False
        if kind == "bool":
            return bool(value), False
        return 1, False

    def klass(self, encoded: Any) -> Hashable:
        """What durable can tell of an encoded value: durable compares this
        atom's field with the constants of :meth:`constant` only (a value
        against another value is computed in Python), so two values equal to
        the same constant, or strictly between the same two neighbouring
        constants, satisfy the same conditions. Look-up answers are
        remembered by these classes, not by the values (a date or a number of
        days seldom repeats; its place among the constants does)."""
        if self.kind in ("number", "date"):
            nums = self.numbers
            i = bisect.bisect_left(nums, encoded)
            if i < len(nums) and nums[i] == encoded:
                return (encoded.__class__, encoded)
            return (encoded.__class__, None, i)
        return (encoded.__class__, encoded)

    def encode_class(self, value: Any) -> tuple[Any, Hashable]:
        """:meth:`encode` and :meth:`klass` at once (the look-ups' hot path):
        (field value or None, its class); a missing value's class is None,
        a NaN's ``_NAN_CLASS``."""
        if value is None:
            return None, None
        kind = self.kind
        if kind == "bool":
            v = bool(value)
            return v, (bool, v)
        if kind == "date" or (kind == "number" and value.__class__ is int and -_EXACT <= value <= _EXACT):
            if kind == "date":
                value = value.toordinal()
            nums = self.numbers
            i = bisect.bisect_left(nums, value)
            if i < len(nums) and nums[i] == value:
                return value, (int, value)
            return value, (int, None, i)
        v, nan = self.encode(value)
        if v is None:
            return None, _NAN_CLASS if nan else None
        return v, self.klass(v)


_NAN_CLASS = ("nan",)


class Tracked(dict[str, Any]):
    """A value cache that records which keys each computation read, in order.

    The python backend's closures read and fill ``ctx.values``; through this
    mapping each atom's computation leaves its *trace* (the keys the
    reference evaluation would add to the evidence when it reads the atom),
    cached values included with what they read when first computed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.deps: dict[str, tuple[str, ...]] = {}
        self._pending: list[str] = []
        self._traces: list[dict[str, None]] = [{}]

    def _touch(self, key: str) -> None:
        top = self._traces[-1]
        for k in self.deps.get(key, ()):
            top[k] = None
        top[key] = None

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            self._touch(key)
            return dict.__getitem__(self, key)
        self._pending.append(key)
        self._traces.append({})
        return default

    def __setitem__(self, key: str, value: Any) -> None:
        if self._pending and self._pending[-1] == key:
            self._pending.pop()
            self.deps[key] = tuple(self._traces.pop())
        dict.__setitem__(self, key, value)
        self._touch(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def compute(self, fn: Fn, ctx: Context) -> tuple[Any, BaseException | None, tuple[str, ...]]:
        """Run one closure: (value, exception raised or None, keys read in order)."""
        depth = len(self._pending)
        self._traces[0] = {}
        try:
            value, error = fn(ctx), None
        except Exception as exc:
            value, error = None, exc
            del self._pending[depth:]
            del self._traces[depth + 1 :]
        return value, error, tuple(self._traces[0])


# ---------------------------------------------------------------------------
# Compiling one policy
# ---------------------------------------------------------------------------


@dataclass
class Partition:
    """One durable ruleset holding some of a policy's rules."""

    name: str
    fields: tuple[str, ...]
    definition: dict[str, Any]


@dataclass
class _Rule:
    """A durable rule before registration: its meaning, condition, priority, fields."""

    rid: str
    meaning: tuple[str, int]  # ("T"|"F"|"flag"|"win", index)
    form: Form
    pri: int = 0


class Plan:
    """How one policy is compiled: its atoms and durable rules (see the module docs)."""

    def __init__(
        self, checked: CheckedPolicy, compiler: Any, *, inline: bool = True, whole_rules: bool = False
    ) -> None:
        self.checked = checked
        self.compiler = compiler
        # inline: derived true/false values are compiled into the conditions
        # that read them; otherwise each is an atom (smaller conditions)
        self.inline = inline
        self.atoms: dict[str, Atom] = {}
        self.atom_at: dict[int, Atom] = {}
        self.names = FieldNames("v")
        self.derived = {name: node for name, node, t in checked.derived if t.kind == "bool"}
        self._memo: dict[int, tuple[Form, Form]] = {}
        # whole_rules: each rule's condition is one atom (the smallest rulesets)
        self.rule_forms: list[tuple[Form, Form]] = [
            self._opaque(r.node) if whole_rules else self.cond(r.node) for r in checked.rules
        ]
        self.flag_forms: list[Form] = [self.cond(f.node)[0] for f in checked.flags]
        # every derived value is part of the evidence (the reference computes them all):
        # the true/false ones are compiled like conditions, the others are atoms
        for name, node, t in checked.derived:
            if t.kind == "bool":
                self.cond(node)
            else:
                self.value_atom(Name(tuple(name.split("."))), durable=False, in_tree=False)
        used: set[str] = set()
        for r in self.decision_rules():
            used |= _fields_of(r.form)
        # the atoms durable reads; the others only serve the evidence
        self.durable_atoms = [a for a in self.atoms.values() if a.name in used or a.nan_name in used]

    # -- atoms -----------------------------------------------------------
    def _kind(self, node: Node) -> str:
        t = self.checked.type_of(node)
        return t.kind if t.kind in ("number", "date", "string", "bool") else "other"

    def value_atom(self, node: Node, *, durable: bool = True, in_tree: bool = True) -> Atom:
        """The atom computing ``node`` (one per distinct expression text).

        ``in_tree``: ``node`` belongs to the checked policy (and lives as long
        as it), so the replay may find the atom by the node's identity.
        """
        key = to_text(node)
        atom = self.atoms.get(key)
        if atom is None:
            kind = self._kind(node)
            if isinstance(node, Name) and node.dotted in self.compiler.derived:
                fn = self.compiler.derived[node.dotted]
            else:
                fn = self.compiler.compile(node)
            t = self.checked.type_of(node)
            field_leaf = isinstance(node, Name) and node.dotted in self.checked.namespace.fields
            # a computed fraction may be NaN (inf - inf); whole numbers and record fields never are
            may_nan = kind == "number" and not t.integer and not field_leaf
            atom = self.atoms[key] = Atom(key, node, kind, fn, may_nan=may_nan)
            features = self.checked.namespace.features
            if isinstance(node, Name) and node.dotted in features and not features[node.dotted].args:
                atom.feature = (features[node.dotted].compute, ())
            elif isinstance(node, Call) and node.name in features and node.name not in FUNCTIONS:
                atom.feature = (features[node.name].compute, tuple(self.compiler.constant(a) for a in node.args))
        if durable and not atom.in_durable:
            atom.in_durable = True
            atom.name = self.names.new()
            if atom.may_nan:
                atom.nan_name = self.names.new()
        if in_tree:
            self.atom_at[id(node)] = atom
        return atom

    def _opaque(self, node: Node) -> tuple[Form, Form]:
        atom = self.value_atom(node)
        return {atom.name: True}, {atom.name: False}

    # -- conditions ------------------------------------------------------
    def cond(self, node: Node) -> tuple[Form, Form]:
        """(form when true, form when false) of a true/false expression."""
        memo = self._memo.get(id(node))
        if memo is None:
            memo = self._memo[id(node)] = self._cond(node)
        return memo

    def _fits(self, forms: tuple[Form, Form]) -> bool:
        for form in forms:
            c, leaves, _ = cost(form)
            if c > _MAX_CONNECTIVES or leaves > _MAX_LEAVES:
                return False
        return True

    def _cond(self, node: Node) -> tuple[Form, Form]:
        if isinstance(node, Binary) and node.op in ("and", "or"):
            sides = [node.left, node.right]
            forms = [self.cond(s) for s in sides]
            while True:
                if node.op == "and":
                    combined = (f_and(forms[0][0], forms[1][0]), f_or(forms[0][1], forms[1][1]))
                else:
                    combined = (f_or(forms[0][0], forms[1][0]), f_and(forms[0][1], forms[1][1]))
                if self._fits(combined):
                    return combined
                # too big for one durable condition: the larger side is computed in Python
                sizes = [max(cost(f[0])[0] + cost(f[0])[1], cost(f[1])[0] + cost(f[1])[1]) for f in forms]
                i = 0 if sizes[0] >= sizes[1] else 1
                if sizes[i] <= 1:
                    return self._opaque(node)
                forms[i] = self._opaque(sides[i])
        if isinstance(node, Unary) and node.op == "not":
            t, f = self.cond(node.operand)
            return f, t
        if isinstance(node, Literal) and isinstance(node.value, bool):
            return (True, False) if node.value else (False, True)
        if isinstance(node, Name):
            if node.parts[0] == "params":
                v = self.checked.params[node.parts[1]]
                return (True, False) if v is True else (False, True)
            if node.dotted in self.derived and self.inline:
                inlined = self.cond(self.derived[node.dotted])
                return inlined if self._fits(inlined) else self._opaque(node)
            return self._opaque(node)
        if isinstance(node, Binary) and node.op in COMPARE:
            return self._compare(node)
        if isinstance(node, In) and isinstance(node.container, ListOf) and not is_constant(node.item):
            return self._in(node)
        if isinstance(node, Between) and not is_constant(node.value):
            return self._between(node)
        if isinstance(node, IsMissing) and not is_constant(node.value):
            atom = self.value_atom(node.value)
            absent: Form = {OPERATORS["is missing"].durable: {atom.name: 1}}
            present: Form = {OPERATORS["is not missing"].durable: {atom.name: 1}}
            if atom.nan_name:
                absent = f_and(absent, {"$nex": {atom.nan_name: 1}})
                present = f_or(present, {"$ex": {atom.nan_name: 1}})
            return (present, absent) if node.negated else (absent, present)
        return self._opaque(node)

    def _const(self, node: Node) -> Any:
        return self.compiler.constant(node)

    def _leaf(self, atom: Atom, op: str, c: Any) -> tuple[Form, Form]:
        t: Form = _test(op, atom.name, c)
        f: Form = _test(COMPARISONS[op].negated, atom.name, c)
        if atom.nan_name:
            nan = {atom.nan_name: True}
            if op == "!=":
                t = f_or(t, nan)
            else:
                f = f_or(f, nan)
        return t, f

    def _compare(self, node: Binary) -> tuple[Form, Form]:
        left, right, op = node.left, node.right, node.op
        if is_constant(right) and not is_constant(left):
            side, c = left, self._const(right)
        elif is_constant(left) and not is_constant(right):
            side, c, op = right, self._const(left), COMPARISONS[op].flipped
        else:
            return self._opaque(node)
        atom = self.value_atom(side)
        enc = atom.constant(c)
        if enc is None:
            return self._opaque(node)
        return self._leaf(atom, op, enc)

    def _in(self, node: In) -> tuple[Form, Form]:
        assert isinstance(node.container, ListOf)
        atom = self.value_atom(node.item)
        encoded = [atom.constant(self._const(i)) for i in node.container.items]
        if any(e is None for e in encoded):
            return self._opaque(node)
        t: Form = f_or(*({atom.name: e} for e in encoded))
        f: Form = f_and(*({"$neq": {atom.name: e}} for e in encoded)) if encoded else {"$ex": {atom.name: 1}}
        if atom.nan_name:
            f = f_or(f, {atom.nan_name: True})
        forms = (f, t) if node.negated else (t, f)
        return forms if self._fits(forms) else self._opaque(node)

    def _between(self, node: Between) -> tuple[Form, Form]:
        if not (is_constant(node.low) and is_constant(node.high)):
            return self._opaque(node)
        atom = self.value_atom(node.value)
        lo, hi = atom.constant(self._const(node.low)), atom.constant(self._const(node.high))
        if lo is None or hi is None:
            return self._opaque(node)
        t: Form = f_and({_OPS[">="]: {atom.name: lo}}, {_OPS["<="]: {atom.name: hi}})
        f: Form = f_or({_OPS["<"]: {atom.name: lo}}, {_OPS[">"]: {atom.name: hi}})
        if atom.nan_name:
            f = f_or(f, {atom.nan_name: True})
        return t, f

    def record_parts(self, atoms: Iterable[Atom]) -> frozenset[str] | None:
        """The record attributes (``deal``, ``cases`` ...) the atoms read (see
        :func:`~customer_rules.backends.base.record_parts`)."""
        return record_parts(self.checked, [a.node for a in atoms])

    # -- rulesets --------------------------------------------------------
    def decision_rules(self) -> list[_Rule]:
        """The durable rules of a decision: each rule true, each rule false, each flag."""
        out: list[_Rule] = []
        for i, (t, f) in enumerate(self.rule_forms):
            if t is not False:
                out.append(_Rule(f"t{i}", ("T", i), t, 0))
            if f is not False:
                out.append(_Rule(f"f{i}", ("F", i), f, 0))
        for j, t in enumerate(self.flag_forms):
            if t is not False:
                out.append(_Rule(f"g{j}", ("flag", j), t, 0))
        return out

    def winner_rules(self) -> list[_Rule]:
        """The durable rules of a label look-up: each rule true, prioritised by the hit policy."""
        checked = self.checked
        n = len(checked.rules)
        out = []
        for i, (rule, (t, _)) in enumerate(zip(checked.rules, self.rule_forms, strict=True)):
            if t is False:
                continue
            pri = i if checked.policy.hit == "first" else checked.label_rank[rule.label] * n + i
            out.append(_Rule(f"w{i}", ("win", i), t, pri))
        return out


def _fields_of(form: Form) -> set[str]:
    if isinstance(form, tuple):
        out: set[str] = set()
        for p in form[1]:
            out |= _fields_of(p)
        return out
    if isinstance(form, dict):
        ((k, v),) = form.items()
        if k.startswith("$"):
            ((name, _),) = v.items()
            return {name}
        return {k}
    return set()


def partition(rules: list[_Rule]) -> list[list[_Rule]]:
    """Group rules so that no ruleset overflows durable's alpha stack or holds too many fields."""
    groups: list[list[_Rule]] = []
    current: list[_Rule] = []
    fields: set[str] = set()
    for rule in rules:
        rule_fields = _fields_of(rule.form)
        if current and (
            len(fields | rule_fields) > MAX_FIELDS
            or alpha_stack([*(r.form for r in current), rule.form]) > _MAX_STACK
        ):
            groups.append(current)
            current, fields = [], set()
        current.append(rule)
        fields |= rule_fields
    if current or not groups:
        groups.append(current)
    return groups


# ---------------------------------------------------------------------------
# The policy object the engine uses
# ---------------------------------------------------------------------------


class _Collector:
    """Which durable rules fired, per request id (filled by the actions)."""

    def __init__(self) -> None:
        self.fired: dict[str, list[str]] = {}

    def action(self, rule: str) -> Callable[[Any], None]:
        fired = self.fired

        def record(c: Any) -> None:
            fired[str(c.m["id"])].append(rule)

        return record


class DurablePolicy:
    """A checked policy compiled to durable_rules rulesets.

    ``decide`` gives the same :class:`~customer_rules.Decision` as the python
    backend (see the module docs for what runs where); ``label_of`` is the
    stream's fast path: one ``post`` and one action give the label. The
    atoms durable cannot evaluate are computed by the python backend's
    compiled form of the same policy (``reference``), which also answers
    counterfactuals.
    """

    def __init__(
        self,
        checked: CheckedPolicy,
        scheme: str | None = None,
        cuts: Mapping[str, Cut] | None = None,
        *,
        runtime: Runtime,
    ) -> None:
        self.checked = checked
        self.scheme = scheme or checked.policy.id
        self.cuts = cuts
        self.hit = checked.policy.hit
        self.reference = PythonPolicy(checked, self.scheme, cuts)
        self.runtime = runtime
        self.plan = Plan(checked, self.reference.compiler)
        self._collector = _Collector()
        self._requests = itertools.count()
        self._names: list[str] = []
        # the rulesets leave durable's core with this object
        self._finalizer = weakref.finalize(self, _drop_all, weakref.ref(runtime), self._names)
        # every rule true / false and every flag; the catch-all runs last and marks the fact done
        self.partitions = self._register(self.plan.decision_rules(), "decide", done_pri=1)
        self._winners: list[Partition] | None = None
        self._winner_meaning: dict[str, tuple[str, int]] = {}
        self._winner_atoms: list[Atom] = []
        #: look-up answers by message (see label_of), at most _ANSWERS of them
        self._answers: dict[tuple[Any, ...], tuple[str | None, str | None]] = {}
        self._origin: DurablePolicy | None = None  # the policy a fresh() view shares rulesets with

    # -- registration ----------------------------------------------------
    def _register(self, rules: list[_Rule], hint: str, *, done_pri: int) -> list[Partition]:
        out = []
        collector = self._collector
        runtime = self.runtime
        for group in partition(rules):
            definition: dict[str, Any] = {}
            fields: set[str] = set()
            for r in group:
                rule: dict[str, Any] = {
                    "all": [{"m": condition(r.form)}],
                    "run": runtime.action(collector.action(r.rid)),
                }
                if r.pri:
                    rule["pri"] = r.pri
                definition[r.rid] = rule
                fields |= _fields_of(r.form)
            # the catch-all: no fact goes unhandled
            definition["done"] = {
                "pri": done_pri,
                "all": [{"m": {DISCRIMINATOR: 1}}],
                "run": runtime.action(collector.action("done")),
            }
            name = runtime.unique_name(f"{self.scheme}_{hint}")
            runtime.register(name, definition)  # durable takes the actions ("run") out of the dicts
            self._names.append(name)
            out.append(Partition(name, tuple(sorted(fields)), definition))
        return out

    def rulesets(self) -> dict[str, dict[str, Any]]:
        """The registered durable rulesets as JSON, by ruleset name."""
        return {p.name: p.definition for p in [*self.partitions, *(self._winners or [])]}

    def coverage(self) -> dict[str, Any]:
        """What runs where: the durable rulesets and rules, and the atoms Python computes."""
        return {
            "rulesets": [p.name for p in self.partitions],
            "durable_rules": sum(len(p.definition) for p in self.partitions),
            "atoms": {a.name: a.key for a in self.plan.durable_atoms},
        }

    # -- facts -----------------------------------------------------------
    def _encode_into(self, fact: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        for atom in self.plan.durable_atoms:
            v, nan = atom.encode(values[atom.key])
            if v is not None:
                fact[atom.name] = v
            elif nan and atom.nan_name:
                fact[atom.nan_name] = True
        return fact

    def _fire(self, partitions: list[Partition], fact: dict[str, Any], *, post: bool) -> list[str]:
        """Send ``fact`` to each ruleset (assert, or post for a look-up): the rules that fired.

        Every action has run when durable returns (no host threads): the
        collector holds their records under the fact's id, and the
        catch-all's record (or, for a post, the one record) proves it.
        """
        rid = fact["id"]
        runtime = self.runtime
        fired = self._collector.fired
        with runtime.lock:
            got = fired[rid] = []
            try:
                for part in partitions:
                    msg = {k: v for k, v in fact.items() if k in _KEYS or k in part.fields}
                    before = len(got)
                    try:
                        handled = (
                            runtime.post(part.name, msg) if post else runtime.assert_fact(part.name, msg)
                        )
                    finally:
                        if not post:  # the fact is not needed any more
                            runtime.delete_state(part.name, msg["sid"])
                    new = got[before:]
                    if not handled or (len(new) != 1 if post else "done" not in new):
                        raise EvaluationError(
                            f"durable_rules did not complete the actions of {part.name!r} in the call",
                            scheme=self.scheme,
                        )
                return got
            finally:
                del fired[rid]

    # -- deciding --------------------------------------------------------
    def decide(self, record: Any, as_of: dt.date, record_id: str | None = None) -> Decision:
        outcome = self.evaluate(record, as_of, record_id)
        return decision_of(
            self.checked, self.scheme, outcome, record=record, as_of=as_of, record_id=record_id, source=self
        )

    def counterfactuals(self, decision: Decision, limit: int = 3) -> list[Counterfactual]:
        """As for the python backend (counterfactuals are evaluated in Python)."""
        return self.reference.counterfactuals(decision, limit)

    def evaluate(self, record: Any, as_of: dt.date, record_id: str | None = None) -> Outcome:
        """Which rules hold, by asserting the record's atoms into the rulesets."""
        plan = self.plan
        values = Tracked()
        ctx = Context(record, as_of)
        ctx.values = values
        results: dict[str, tuple[Any, BaseException | None, tuple[str, ...]]] = {}
        for atom in plan.atoms.values():
            results[atom.key] = values.compute(atom.fn, ctx)
        replay = _Replay(plan, results, self.checked.params)
        reference = [replay.ev(r.node) for r in self.checked.rules]
        for name, _node, dtype in self.checked.derived:
            replay.derived_value(name, dtype.kind)
        rid = f"d{next(self._requests)}"
        fact = self._encode_into(
            {"sid": rid, "id": rid, DISCRIMINATOR: 1}, {k: r[0] for k, r in results.items()}
        )
        fired = set(self._fire(self.partitions, fact, post=False))
        matched: list[CheckedRule] = []
        unknown: list[CheckedRule] = []
        for i, rule in enumerate(self.checked.rules):
            t, f = f"t{i}" in fired, f"f{i}" in fired
            value = True if t else (False if f else None)
            ref = True if reference[i] is True else (None if reference[i] is None else False)
            if (t and f) or value is not ref:
                raise EvaluationError(
                    f"durable_rules and the reference disagree on rule {rule.id!r}"
                    f" ({value!r} vs {reference[i]!r})",
                    scheme=self.scheme,
                    record_id=record_id,
                )
            if t:
                matched.append(rule)
            elif not f:
                unknown.append(rule)
        flags_held = [flag.id for j, flag in enumerate(self.checked.flags) if f"g{j}" in fired]
        for flag in self.checked.flags:
            replay.ev(flag.node)
        known = replay.known
        # the evidence is what the reference reads (so missing inputs are among them)
        evidence = {k: known[k] if k in known else dict.get(values, k) for k in replay.reads}
        return Outcome(matched, unknown, flags_held, evidence)

    # -- the stream's fast path ------------------------------------------
    def label_of(
        self, record: Any, as_of: dt.date, memo: dict[Any, Any] | None = None
    ) -> tuple[str | None, str | None]:
        """(label, deciding rule id) by one ``post`` per ruleset: the winning rule alone fires.

        ``memo`` shares feature values between look-ups of several schemes
        on the same record and date. Hit policies ``unique`` and
        ``collect`` (which need every match) go through :meth:`decide`, and
        so does a record whose atoms raise.
        """
        if self.hit not in ("first", "priority"):
            d = self.decide(record, as_of)
            return d.label, d.rule
        if self._winners is None:
            self._prepare_winners()
        ctx = Context(record, as_of)
        fact: dict[str, Any] = {"sid": "0", DISCRIMINATOR: 1}
        classes: list[Hashable] = []
        try:
            for atom in self._winner_atoms:
                feature = atom.feature
                if feature is not None and memo is not None:
                    mkey = (feature[0], feature[1], id(record), as_of)
                    value = memo.get(mkey, _MISS)
                    if value is _MISS:
                        value = memo[mkey] = feature[0](record, as_of, *feature[1])
                else:
                    value = atom.fn(ctx)
                v, c = atom.encode_class(value)
                classes.append(c)
                if v is not None:
                    fact[atom.name] = v
                elif c is _NAN_CLASS and atom.nan_name:
                    fact[atom.nan_name] = True
        except Exception:
            # the reference may never read the atom that failed: decide exactly
            d = self.decide(record, as_of)
            return d.label, d.rule
        # the look-up rulesets keep nothing between posts, so the winner is a function
        # of the message alone, and of it only what the conditions can tell (Atom.klass):
        # a message like one already posted gets the answer durable gave
        key = tuple(classes)
        known = self._answers.get(key)
        if known is not None:
            return known
        fact["id"] = f"w{next(self._requests)}"
        answer = self._winner_of(self._fire(self._winners or [], fact, post=True))
        if len(self._answers) >= _ANSWERS:
            self._answers.clear()
        self._answers[key] = answer
        return answer

    def fresh(self) -> DurablePolicy:
        """The same compiled policy (rulesets shared) with no remembered look-up
        answers, for a new stream; it keeps this policy, and so the rulesets, alive."""
        if self._winners is None and self.hit in ("first", "priority"):
            self._prepare_winners()
        view = copy.copy(self)
        view._answers = {}
        view._origin = self
        return view

    def _winner_of(self, fired: list[str]) -> tuple[str | None, str | None]:
        won = sorted({self._winner_meaning[name][1] for name in fired if name in self._winner_meaning})
        rule, label, _ = resolve(self.checked, [self.checked.rules[i] for i in won], self.scheme, None)
        return label, rule.id if rule is not None else None

    def _prepare_winners(self) -> None:
        # derived values inlined (more of the logic in durable) when the rules then
        # fit in one ruleset, else each derived value is an atom (smaller conditions)
        plan = Plan(self.checked, self.reference.compiler, inline=True)
        rules = plan.winner_rules()
        if len(partition(rules)) > 1:
            plan = Plan(self.checked, self.reference.compiler, inline=False)
            rules = plan.winner_rules()
        self.label_plan = plan
        # the catch-all comes last: it fires alone when no rule holds (the default label)
        last = max((r.pri for r in rules), default=0) + 1
        self._winners = self._register(rules, "label", done_pri=last)
        self._winner_meaning = {r.rid: r.meaning for r in rules}
        used: set[str] = set()
        for r in rules:
            used |= _fields_of(r.form)
        self._winner_atoms = [a for a in plan.atoms.values() if a.name in used or a.nan_name in used]


class DurableBackend:
    """The durable backend: policies compiled to durable_rules rulesets on one
    :class:`Runtime` (its own host; :class:`BackendUnavailable` where
    durable_rules cannot run)."""

    name = "durable"
    decides_records = True
    decides_tables = False

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.runtime = runtime if runtime is not None else Runtime()

    def compile(
        self, checked: CheckedPolicy, scheme: str, cuts: Mapping[str, Cut] | None = None
    ) -> DurablePolicy:
        return DurablePolicy(checked, scheme, cuts=cuts, runtime=self.runtime)


def _drop_all(runtime_ref: weakref.ref[Runtime], names: list[str]) -> None:
    runtime = runtime_ref()
    if runtime is None:
        return
    for name in names:
        with contextlib.suppress(Exception):  # best effort at garbage collection
            runtime.drop(name)


# ---------------------------------------------------------------------------
# Replaying the reference evaluation order (for evidence and missing inputs)
# ---------------------------------------------------------------------------


class _Replay:
    """Walks conditions the way the python backend evaluates them, reading
    atoms from the values Python already computed, to know which keys the
    reference reads (its evidence) — and in which order."""

    def __init__(
        self,
        plan: Plan,
        results: Mapping[str, tuple[Any, BaseException | None, tuple[str, ...]]],
        params: Mapping[str, Any],
    ) -> None:
        self.plan = plan
        self.results = results
        self.params = params
        self.reads: dict[str, None] = {}
        self.derived_done: dict[str, Any] = {}
        #: values the replay itself produced: parameters, derived true/false values
        self.known: dict[str, Any] = {}

    def _atom(self, atom: Atom) -> Any:
        value, error, trace = self.results[atom.key]
        for k in trace:
            self.reads[k] = None
        if error is not None:
            raise error
        return value

    def derived_value(self, name: str, kind: str) -> Any:
        if kind == "bool":
            return self.ev(Name(tuple(name.split("."))))
        return self._atom(self.plan.atoms[name])

    def ev(self, node: Node) -> Any:
        atom = self.plan.atom_at.get(id(node))
        if atom is not None:
            return self._atom(atom)
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Duration):
            return node.days
        if isinstance(node, Name):
            key = node.dotted
            if node.parts[0] == "params":
                self.reads[key] = None
                v = self.known[key] = self.params[node.parts[1]]
                return v
            if key in self.plan.derived:
                if key not in self.derived_done:
                    self.derived_done[key] = self.known[key] = self.ev(self.plan.derived[key])
                    self.reads[key] = None
                return self.derived_done[key]
            return self._atom(self.plan.atoms[key])
        op = operator_of(node)
        if op is None:  # pragma: no cover - every other node is an atom
            raise TypeError(f"no atom for {to_text(node)}")
        if op.form == "logic":
            assert isinstance(node, Binary)
            left, right = node.left, node.right
            return op.python(lambda _: self.ev(left), lambda _: self.ev(right))(None)
        if isinstance(node, Binary):
            return self._compare(node, op)
        if isinstance(node, In):
            v = self.ev(node.item)
            if v is None:
                return None
            assert isinstance(node.container, ListOf)
            items = {self.plan.compiler.constant(i) for i in node.container.items}
            return op.python(v, items)
        if op.missing != PROPAGATES:  # is (not) missing
            return op.python(self.ev(node.children()[0]))
        # the others read their operands left to right; the first missing one decides
        values = []
        for child in node.children():
            v = self.ev(child)
            if v is None:
                return None
            values.append(v)
        return op.python(*values)

    def _compare(self, node: Binary, op: Operator) -> Any:
        right = node.right
        if isinstance(right, Literal | Duration) or (isinstance(right, Name) and right.parts[0] == "params"):
            c = self.plan.compiler.constant(right)
            a = self.ev(node.left)
            if isinstance(right, Name):  # the reference records a parameter it compares with
                self.reads[right.dotted] = None
                self.known[right.dotted] = c
            return None if a is None else op.python(a, c)
        a = self.ev(node.left)
        if a is None:
            return None
        b = self.ev(right)
        return None if b is None else op.python(a, b)


# ---------------------------------------------------------------------------
# Statecharts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """A statechart transition: to ``target`` when the message satisfies ``when``.

    ``when`` is a form over the message's fields (``True``: any message);
    among the transitions of a state whose condition holds, the one with
    the lowest ``pri`` is taken (durable's ``post``: one rule fires).
    ``tag`` is reported back when the transition is taken.
    """

    target: str
    when: Form = True
    pri: int = 0
    tag: Any = None


class Chart:
    """A statechart compiled to one durable_rules ruleset.

    Each state is a ruleset and each of its transitions a rule: the rule's
    condition is the transition's guard, its priority the transition's. The
    message for an instance goes to the ruleset of the state it is in. A message is *posted*,
    so exactly one rule fires: the transition taken, or the lowest-priority
    catch-all (the instance stays, tag ``None``). The instances' current
    states are kept here, by key, not in durable sessions: durable's own
    statecharts hold one session per instance, and a session costs about
    2 ms to create and 0.3-1.2 MB of memory (it allocates frame pools for
    every rule), with at most 1024 sessions per ruleset. All messages go to
    one session, which holds nothing between posts.
    """

    def __init__(
        self,
        runtime: Runtime,
        hint: str,
        states: Mapping[str, Iterable[Transition]],
        start: str,
    ) -> None:
        self.runtime = runtime
        self.start = start
        self.states = {state: tuple(trs) for state, trs in states.items()}
        self.state: dict[Hashable, str] = {}
        self._taken: list[tuple[str, str, Any]] = []
        #: transitions by (state, message), at most _ANSWERS of them (see step)
        self._answers: dict[tuple[Any, ...], tuple[str, Any]] = {}
        # one ruleset per state: a message meets only the transitions of its state
        self.definitions: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}
        for state, transitions in self.states.items():
            definition: dict[str, Any] = {}
            last = 0
            for i, tr in enumerate(transitions):
                rule: dict[str, Any] = {
                    "all": [{"m": condition(tr.when)}],
                    "run": runtime.action(self._recorder(state, tr.target, tr.tag)),
                }
                if tr.pri:
                    rule["pri"] = tr.pri
                definition[f"t{i}"] = rule
                last = max(last, tr.pri)
            definition["stay"] = {
                "pri": last + 1,
                "all": [{"m": {DISCRIMINATOR: 1}}],
                "run": runtime.action(self._recorder(state, state, None)),
            }
            self.definitions[state] = definition
            self.names[state] = runtime.register(runtime.unique_name(f"{hint}_{state}"), definition)

    def _recorder(self, source: str, target: str, tag: Any) -> Callable[[Any], None]:
        taken = self._taken

        def record(c: Any) -> None:
            taken.append((source, target, tag))

        return record

    def step(
        self, key: Hashable, fields: Mapping[str, Any], classes: Hashable = None
    ) -> tuple[str, str, Any]:
        """Post one message for instance ``key``: (state before, state after, tag).

        ``classes``: what the guards can tell of the message (messages with
        the same classes take the same transition), when the caller knows it
        (see :meth:`Atom.klass`); by default the message itself.
        """
        before = self.state.get(key, self.start)
        # the rulesets keep nothing between posts: the transition is a function of the
        # state and the message, so a pair already posted gets the transition durable took
        memo = (
            (before, classes)
            if classes is not None
            else (before, *((k, v.__class__, v) for k, v in fields.items()))
        )
        known = self._answers.get(memo)
        if known is None:
            runtime = self.runtime
            name = self.names[before]
            with runtime.lock:
                self._taken.clear()
                handled = runtime.post(name, {**fields, "sid": "0", DISCRIMINATOR: 1})
                taken = list(self._taken)
            if not handled or len(taken) != 1:
                raise EvaluationError(
                    f"statechart {name!r}: the message for {key!r} was not consumed ({taken})"
                )
            known = taken[0][1:]
            if len(self._answers) >= _ANSWERS:
                self._answers.clear()
            self._answers[memo] = known
        target, tag = known
        if target != self.start or key in self.state:
            self.state[key] = target
        return before, target, tag

    def forget(self, key: Hashable) -> None:
        """Forget an instance (it starts over in the start state)."""
        self.state.pop(key, None)

    def fresh(self) -> Chart:
        """The same chart with no instances: its rulesets and the transitions
        it remembers are shared (they are functions of state and message)."""
        view = copy.copy(self)
        view.state = {}
        view._answers = {}  # each stream learns its own answers (they could be shared)
        return view

    @property
    def instances(self) -> int:
        return len(self.state)


def alpha_stack(forms: Iterable[Form]) -> int:
    """An upper bound of the stack durable's alpha matcher needs for a message
    (it fails above 64 entries): the depth-first walk of the alpha network of
    these conditions, as if every test held. Tests shared by conditions (the
    same test under the same parent) are one node, as in durable."""
    children: dict[Any, list[Any]] = {}
    forwards = itertools.count()

    def link(parent: Any, child: Any) -> None:
        kids = children.setdefault(parent, [])
        if child not in kids:
            kids.append(child)

    def walk(form: Form, parent: Any) -> Any:
        if isinstance(form, bool):
            return parent
        if isinstance(form, dict):
            node = (parent, json.dumps(form, sort_keys=True))
            link(parent, node)
            return node
        if form[0] == "$and":
            node = parent
            for part in form[1]:
                node = walk(part, node)
            return node
        forward = ("forward", next(forwards))
        for part in form[1]:
            link(walk(part, parent), forward)
        return forward

    for form in forms:
        walk(form, DISCRIMINATOR)
    stack: list[Any] = [DISCRIMINATOR]
    most = 1
    while stack:
        stack.extend(children.get(stack.pop(), ()))
        most = max(most, len(stack))
    return most + 1  # the type node above the discriminator


class PolicyChart:
    """A statechart whose states are a policy's labels, guarded by its rules.

    From every state, each rule of the policy is a transition to the rule's
    label, guarded by the rule's condition (in durable, over the atoms
    Python computes) and prioritised by the hit policy (``first`` or
    ``priority``); when no rule holds, the transition goes to the default
    label. ``allowed(source, target)`` names the event codes that may
    cause a move (``None``: any); a winning move that the event may not
    cause keeps the state and is reported as refused. One ``post`` per
    message: the policy decision and the transition are one rule firing.
    """

    def __init__(
        self,
        policy: DurablePolicy,
        hint: str,
        allowed: Callable[[str, str], frozenset[int] | None],
        events: Iterable[int],
        start: str | None = None,
    ) -> None:
        if policy.hit not in ("first", "priority"):
            raise EvaluationError(f"a statechart needs hit policy first or priority, not {policy.hit!r}")
        self.policy = policy
        checked = policy.checked
        universe = frozenset(events)
        # the most logic in durable that keeps every state's ruleset within the
        # alpha-node limit: derived values inlined, else derived values as atoms,
        # else each rule's whole condition as an atom
        for inline, whole in ((True, False), (False, False), (False, True)):
            plan = Plan(checked, policy.reference.compiler, inline=inline, whole_rules=whole)
            rules = plan.winner_rules()
            table = self._table(plan, rules, allowed, universe)
            if max(alpha_stack(t.when for t in trs) for trs in table.values()) <= _MAX_STACK:
                break
        used: set[str] = set()
        for r in rules:
            used |= _fields_of(r.form)
        self.atoms = [a for a in plan.atoms.values() if a.name in used or a.nan_name in used]
        #: the record attributes the guards read (None: a full record is needed)
        self.record_parts = plan.record_parts(self.atoms)
        default = checked.policy.default or self.none_state
        self.chart = Chart(policy.runtime, hint, table, start or default)
        self.name = hint

    none_state = "__unclassified__"

    def _table(
        self,
        plan: Plan,
        rules: list[_Rule],
        allowed: Callable[[str, str], frozenset[int] | None],
        universe: frozenset[int],
    ) -> dict[str, list[Transition]]:
        checked = self.policy.checked
        labels = [lab.id for lab in checked.policy.labels]
        default = checked.policy.default or self.none_state
        states = [*labels] + ([] if checked.policy.default else [self.none_state])
        last = max((r.pri for r in rules), default=0) + 1

        def among(codes: frozenset[int]) -> tuple[Form, Form]:
            # "the event is one of codes" and its negation, with the fewest tests
            others = universe - codes
            if len(codes) <= len(others):
                return f_or(*({"ev": c} for c in sorted(codes))), f_and(
                    *({"$neq": {"ev": c}} for c in sorted(codes))
                )
            return f_and(*({"$neq": {"ev": c}} for c in sorted(others))), f_or(
                *({"ev": c} for c in sorted(others))
            )

        def moves(source: str, target: str, when: Form, pri: int, tag: tuple[Any, ...]) -> list[Transition]:
            if target == source:
                return [Transition(source, when, pri, (*tag, False))]
            codes = allowed(source, target)
            if codes is None:
                return [Transition(target, when, pri, (*tag, False))]
            ok, refused = among(codes)
            return [
                Transition(target, f_and(when, ok), pri, (*tag, False)),
                Transition(source, f_and(when, refused), pri, (*tag, True)),
            ]

        table: dict[str, list[Transition]] = {}
        for source in states:
            trs: list[Transition] = []
            for r in rules:
                i = r.meaning[1]
                trs.extend(moves(source, checked.rules[i].label, r.form, r.pri, (i,)))
            trs.extend(moves(source, default, True, last, (None,)))
            table[source] = trs
        return table

    def step(
        self, key: Hashable, record: Any, as_of: dt.date, event: int
    ) -> tuple[str, str, str | None, bool]:
        """Decide ``record`` and move instance ``key``: (before, after, deciding rule id, refused)."""
        ctx = Context(record, as_of)
        message: dict[str, Any] = {"ev": event}
        classes: list[Hashable] = [event]
        for atom in self.atoms:
            v, c = atom.encode_class(atom.fn(ctx))
            classes.append(c)
            if v is not None:
                message[atom.name] = v
            elif c is _NAN_CLASS and atom.nan_name:
                message[atom.nan_name] = True
        source, target, tag = self.chart.step(key, message, tuple(classes))
        if tag is None:  # pragma: no cover - the default transition always matches
            raise EvaluationError(f"statechart {self.name!r}: no transition for {key!r}")
        index, refused = tag
        rule = self.policy.checked.rules[index].id if index is not None else None
        return source, target, rule, refused

    def forget(self, key: Hashable) -> None:
        self.chart.forget(key)

    def fresh(self) -> PolicyChart:
        """The same chart with no instances (see :meth:`Chart.fresh`)."""
        view = copy.copy(self)
        view.chart = self.chart.fresh()
        return view
