"""Turn a :class:`Policy` into checked ASTs, independent of any backend.

Every backend (python closures, polars expressions, durable_rules rulesets)
compiles the same :class:`CheckedPolicy`, which is what makes them agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from customer_rules.errors import PolicyError
from customer_rules.lang.ast import Call, Name, Node, to_text, walk
from customer_rules.lang.check import POPULATION_FUNCTIONS, Checker
from customer_rules.lang.check import _suggest as did_you_mean
from customer_rules.lang.ops import representable
from customer_rules.lang.parser import parse
from customer_rules.lang.policy import FlagDef, Policy, RuleDef, Scalar
from customer_rules.lang.types import Namespace, Type, type_of_value


@dataclass(frozen=True)
class CheckedRule:
    index: int
    id: str
    label: str
    node: Node
    definition: RuleDef
    keys: tuple[str, ...]  # every field/feature the rule needs, derived values expanded


@dataclass(frozen=True)
class CheckedFlag:
    id: str
    node: Node
    definition: FlagDef


@dataclass(frozen=True)
class CheckedPolicy:
    """A policy whose expressions are parsed and type-checked, with its parameter values."""

    policy: Policy
    namespace: Namespace
    params: Mapping[str, Scalar]
    derived: tuple[tuple[str, Node, Type], ...]
    rules: tuple[CheckedRule, ...]
    flags: tuple[CheckedFlag, ...]
    label_rank: Mapping[str, int]  # 0 = listed first = highest priority
    derived_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    population: tuple[Call, ...] = ()  # population-relative calls; they need fitting
    #: the type of every checked node, by identity: ``id(node) -> (node, type)``
    types: Mapping[int, tuple[Node, Type]] = field(default_factory=dict)
    #: the folded value of every checked node (NOT_CONSTANT when it depends on the
    #: record), range-checked so every backend represents it faithfully; by identity
    constants: Mapping[int, tuple[Node, Any]] = field(default_factory=dict)

    @property
    def population_relative(self) -> bool:
        return bool(self.population)

    @cached_property
    def input_order(self) -> Mapping[str, int]:
        """Every input the rules name (:attr:`CheckedRule.keys`), numbered in
        the order the policy first names them: rule by rule, each rule's
        inputs in the order it names them. ``Decision.missing`` lists
        inputs in this order."""
        order: dict[str, int] = {}
        for rule in self.rules:
            for k in rule.keys:
                order.setdefault(k, len(order))
        return order

    @cached_property
    def label_flags(self) -> Mapping[str, tuple[str, ...]]:
        """Each label's own flags, by label id (a decision carries them)."""
        return {lab.id: tuple(lab.flags) for lab in self.policy.labels}

    @cached_property
    def _inputs_of_rules(self) -> dict[tuple[int, ...], tuple[str, ...]]:
        return {}

    def inputs_of(self, rules: list[CheckedRule]) -> tuple[str, ...]:
        """Every input ``rules`` name, once each, in :attr:`input_order`
        (worked out once per set of rules: ``Decision.missing`` asks per decision)."""
        known = self._inputs_of_rules
        which = tuple([r.index for r in rules])
        inputs = known.get(which)
        if inputs is None:
            if len(known) >= 4096:  # a policy with very many rules: keep the memo bounded
                known.clear()
            keys = {k for r in rules for k in r.keys}
            inputs = known[which] = tuple(sorted(keys, key=self.input_order.__getitem__))
        return inputs

    @cached_property
    def rule_input_keys(self) -> Mapping[str, frozenset[str]]:
        """Per rule id, the evidence keys that are its inputs: what the rule
        reads, the parameters, derived values and function calls in its own
        expression and in those of the derived values it reads
        (transitively), and the cut-offs of those calls. Worked out once per
        policy (explanations ask for it per decision)."""
        nodes = {name: node for name, node, _ in self.derived}
        out: dict[str, frozenset[str]] = {}
        for rule in self.rules:
            todo, seen, read = [rule.node], set(), []
            while todo:
                for n in walk(todo.pop()):
                    read.append(n)
                    if isinstance(n, Name) and n.dotted in nodes and n.dotted not in seen:
                        seen.add(n.dotted)
                        todo.append(nodes[n.dotted])
            keys = set(rule.keys) | {
                n.dotted
                for n in read
                if isinstance(n, Name) and (n.parts[0] == "params" or n.dotted in self.derived_keys)
            }
            calls = {to_text(n) for n in read if isinstance(n, Call)}
            out[rule.id] = frozenset(keys | calls | {f"cutoff({c})" for c in calls})
        return out

    def type_of(self, node: Node) -> Type:
        """The checked type of an expression of this policy."""
        entry = self.types.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
        return self._checker().check(node)  # a node built after checking (a derived value's name)

    def constant(self, node: Node) -> Any:
        """The folded value of a constant expression, or NOT_CONSTANT.

        Constants are folded once, here, with the operator table's meaning;
        backends read them instead of evaluating constant nodes themselves.
        """
        entry = self.constants.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
        return self._checker().constant(node)

    def _checker(self) -> Checker:
        checker = Checker(self.namespace, self.params)
        checker.derived_defs.update((name, node) for name, node, _ in self.derived)
        return checker


def key_of(node: Name | Call) -> str:
    """The evidence key of a name or a feature call (its canonical text)."""
    from customer_rules.lang.ast import to_text

    return node.dotted if isinstance(node, Name) else to_text(node)


def params_model(policy: Policy) -> type[BaseModel]:
    """A pydantic model (``extra="forbid"``) of a policy's parameters and defaults."""
    fields: dict[str, Any] = {name: (type(v), v) for name, v in policy.params.items()}
    model: type[BaseModel] = create_model(
        f"{policy.id}_params",
        __config__=ConfigDict(extra="forbid", frozen=True),
        **fields,
    )
    return model


def resolve_params(
    policy: Policy,
    overrides: Mapping[str, Any] | None,
    model: type[BaseModel] | None = None,
) -> dict[str, Scalar]:
    """Validate parameter overrides against the scheme's parameter model."""
    model = model or params_model(policy)
    values: dict[str, Any] = dict(policy.params)
    if overrides:
        values.update(overrides)
    try:
        validated = model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            raise PolicyError(
                f"unknown parameter {name!r} for scheme {policy.id!r}",
                field=f"params.{name}",
                hint=(did_you_mean(name, list(policy.params)) or "known: " + ", ".join(policy.params))
                if policy.params
                else None,
            ) from None
        what = f"bad value for parameter {name!r}" if name else "parameters that do not fit together"
        raise PolicyError(
            f"{what} of scheme {policy.id!r}: {err['msg']}",
            field=f"params.{name}" if name else "params",
        ) from None
    return dict(validated.model_dump())


def _names_in(node: Node) -> list[Name | Call]:
    return [n for n in walk(node) if isinstance(n, Name | Call)]


def check_policy(
    policy: Policy,
    base: Namespace,
    params: Mapping[str, Scalar] | None = None,
) -> CheckedPolicy:
    """Parse and type-check every expression of ``policy`` against ``base``.

    ``params`` are the resolved parameter values (defaults when omitted).
    Errors are :class:`PolicyError` located in the policy's file.
    """
    values = dict(params) if params is not None else dict(policy.params)
    for name, value in values.items():
        why = representable(value)
        if why is not None:
            raise PolicyError(
                f"parameter {name!r}: {why}",
                field=f"params.{name}",
                hint="parameters must be finite numbers within the 64-bit range",
                **_where(policy, ("params", name), None),
            )
    ns = Namespace(
        fields=base.fields,
        features=base.features,
        params={k: type_of_value(v) for k, v in values.items()},
    )
    checker = Checker(ns, dict(values))

    def parse_at(text: str, loc: tuple[str | int, ...], rule: str | None) -> Node:
        try:
            return parse(text)
        except PolicyError as exc:
            pos = (exc.line, exc.column or 1) if exc.line is not None else None
            # the parser's position is inside the expression: translate it to the file
            raise PolicyError(
                exc.message, rule=rule, field=_field(loc), hint=exc.hint, **_where(policy, loc, pos)
            ) from None

    def check_at(node: Node, loc: tuple[str | int, ...], rule: str | None, condition: bool) -> Type:
        try:
            t = checker.check_condition(node) if condition else checker.check(node)
            checker.range_check(node)
            return t
        except PolicyError as exc:
            pos = (exc.line, exc.column or 1) if exc.line is not None else None
            raise PolicyError(
                exc.message, rule=rule, field=_field(loc), hint=exc.hint, **_where(policy, loc, pos)
            ) from None

    clashes = set(policy.derive) & (set(base.fields) | set(base.features))
    if clashes:
        name = sorted(clashes)[0]
        raise PolicyError(
            f"derived value {name!r} hides a record field or feature of the same name",
            field=f"derive.{name}",
            **_where(policy, ("derive", name), None),
        )

    derived: list[tuple[str, Node, Type]] = []
    derived_keys: dict[str, tuple[str, ...]] = {}

    def expand(node: Node) -> tuple[str, ...]:
        keys: list[str] = []
        for n in _names_in(node):
            if isinstance(n, Name) and n.dotted in derived_keys:
                keys.extend(derived_keys[n.dotted])
            elif (isinstance(n, Name) and n.parts[0] == "params") or (
                isinstance(n, Call) and n.name not in ns.features
            ):
                continue
            else:
                keys.append(key_of(n))
        return tuple(dict.fromkeys(keys))

    for name, text in policy.derive.items():
        loc = ("derive", name)
        node = parse_at(text, loc, None)
        t = check_at(node, loc, None, condition=False)
        ns.derived[name] = t
        checker.derived_defs[name] = node
        derived.append((name, node, t))
        derived_keys[name] = expand(node)

    rules = []
    for i, rule in enumerate(policy.rules):
        rloc: tuple[str | int, ...] = ("rules", i, "when")
        node = parse_at(rule.when, rloc, rule.id)
        check_at(node, rloc, rule.id, condition=True)
        rules.append(CheckedRule(i, rule.id, rule.then, node, rule, expand(node)))

    flags = []
    for i, flag in enumerate(policy.flags):
        floc: tuple[str | int, ...] = ("flags", i, "when")
        node = parse_at(flag.when, floc, flag.id)
        check_at(node, floc, flag.id, condition=True)
        flags.append(CheckedFlag(flag.id, node, flag))

    population: dict[str, Call] = {}
    for node in [*(d[1] for d in derived), *(r.node for r in rules), *(f.node for f in flags)]:
        for n in walk(node):
            if isinstance(n, Call) and n.name in POPULATION_FUNCTIONS:
                population.setdefault(key_of(n), n)
    return CheckedPolicy(
        policy=policy,
        namespace=ns,
        params=values,
        derived=tuple(derived),
        rules=tuple(rules),
        flags=tuple(flags),
        label_rank={lab.id: i for i, lab in enumerate(policy.labels)},
        derived_keys=derived_keys,
        population=tuple(population.values()),
        types=checker.types,
        constants=checker.constants,
    )


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _where(policy: Policy, loc: tuple[str | int, ...], pos: tuple[int, int] | None) -> dict[str, Any]:
    return policy.locate(loc, pos)
