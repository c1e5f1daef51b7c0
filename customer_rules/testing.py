"""Conformance checks and pytest fixtures for plugin authors.

Run the conformance kit in your plugin's own tests::

    import my_plugin
    from customer_rules.testing import check_plugin

    def test_my_plugin_conforms():
        check_plugin(my_plugin)

:func:`check_plugin` builds a fresh engine with the plugin, then checks
every scheme and feature the plugin contributes:

- every label is reachable (some rule gives it, or it is the default or the
  ``on_many`` label) or declared in ``Scheme.unreachable``;
- every label has display names and a strategy, and every text of every
  strategy (and every rule's ``because``) is written in English and Chinese;
- the policy type-checks against the engine (``engine.check``);
- every feature is typed and described, accepts ``(customer, as_of, *args)``
  and returns its declared type (or ``None``) on a sample population;
- every feature gives the same values three ways, on the sample and on
  records generated for the paths it reads (:mod:`customer_rules.lab.generate`,
  with hypothesis): its Python implementation on whole records, the same
  on the :class:`~customer_rules.model.features.Inputs` the frame backend
  builds from only the columns it declares in ``reads`` (so ``reads`` is
  complete), and its polars implementation, when it has one, over the same
  records as a table (which must read no column outside ``reads``);
- deciding the sample population raises nothing, every strategy the
  engine's plugins choose is bilingual, and a scheme no plugin's
  ``strategy_schemes`` hook names keeps its labels' own strategies.

All problems are collected; a :class:`ConformanceError` (an
``AssertionError``, so pytest shows it as a test failure) lists every one.

When pytest is installed, this module is also a pytest plugin (entry point
``pytest11``) that provides two fixtures: ``engine``, a fresh
``Engine(load_entry_points=False)``, and ``engine_factory``, which makes
more engines (``engine_factory(plugins=[my_plugin])``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

from customer_rules.engine.engine import Engine, Scheme
from customer_rules.engine.plugins import DEFAULT_PLUGINS, plugin_name
from customer_rules.errors import CustomerRulesError, NotFittedError, PluginError, PolicyError
from customer_rules.hookspecs import hookimpl
from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers
from customer_rules.lang.policy import Text
from customer_rules.lang.types import BOOL, DATE, NUMBER, STRING, Type
from customer_rules.model.features import SCALAR_KINDS, Feature, value_problem
from customer_rules.model.records import Customer
from customer_rules.model.strategy import Strategy

__all__ = [
    "ConformanceError",
    "ConformanceReport",
    "check_feature",
    "check_plugin",
    "check_scheme",
    "generated_records",
    "sample_records",
]

#: How many records of :func:`customer_rules.sample_customers` the checks run over.
SAMPLE_SIZE = 50

#: How many records are generated for the paths a feature reads (needs hypothesis).
GENERATED = 120

_KINDS = ("type", "tier", "crisis", "other")


class ConformanceError(AssertionError):
    """A plugin, scheme or feature does not conform; ``problems`` lists every problem."""

    def __init__(self, problems: Sequence[str], subject: str = "plugin") -> None:
        self.problems = tuple(problems)
        self.subject = subject
        lines = [f"{subject} does not conform ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ConformanceReport:
    """What was checked and every problem found (empty = conforms)."""

    subject: str
    schemes: tuple[str, ...]
    features: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`ConformanceError` listing every problem, if there is any."""
        if self.problems:
            raise ConformanceError(self.problems, self.subject)

    def __str__(self) -> str:
        head = f"{self.subject}: {len(self.schemes)} scheme(s), {len(self.features)} feature(s) checked, " + (
            "conforms" if self.ok else f"{len(self.problems)} problem(s)"
        )
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def sample_records(n: int = SAMPLE_SIZE) -> list[Customer]:
    """The records the checks run over: ``n`` sample customers and one empty record."""
    return [*sample_customers(n), Customer(id="conformance-empty")]


# -- texts ---------------------------------------------------------------------


def _text_problems(text: Text | None, where: str) -> list[str]:
    if text is None:
        return []
    out = []
    if not text.en.strip():
        out.append(f"{where} has no English (en) text")
    if not (text.zh or "").strip():
        out.append(f"{where} has no Chinese (zh) text")
    return out


def _strategy_problems(strategy: Strategy, where: str) -> list[str]:
    out = _text_problems(strategy.summary, f"{where} summary")
    for i, t in enumerate(strategy.actions):
        out += _text_problems(t, f"{where} actions[{i}]")
    for i, t in enumerate(strategy.avoid):
        out += _text_problems(t, f"{where} avoid[{i}]")
    return out


# -- schemes -------------------------------------------------------------------


def _scheme_problems(
    scheme: Scheme, engine: Engine, records: Sequence[Customer], as_of: dt.date, decide: bool = True
) -> list[str]:
    sid = scheme.id
    pre = f"scheme {sid!r}"
    policy = scheme.policy
    labels = policy.label_ids
    out: list[str] = []
    if scheme.kind not in _KINDS:
        out.append(f"{pre}: kind {scheme.kind!r} is not one of {', '.join(_KINDS)}")

    # every label reachable or declared unreachable
    given: dict[str, str] = {}
    for rule in policy.rules:
        given.setdefault(rule.then, f"rule {rule.id!r}")
    if policy.default is not None:
        given.setdefault(policy.default, "the default")
    if policy.on_many is not None:
        given.setdefault(policy.on_many, "on_many")
    for label in scheme.unreachable:
        if label not in labels:
            out.append(f"{pre}: declares unknown label {label!r} unreachable")
        elif label in given:
            out.append(f"{pre}: label {label!r} is declared unreachable but {given[label]} gives it")
    for label in labels:
        if label not in given and label not in scheme.unreachable:
            out.append(
                f"{pre}: label {label!r} is unreachable (no rule, default or on_many gives it);"
                " add a rule or declare it in Scheme.unreachable"
            )

    # names and strategies, in both languages
    for lab in policy.labels:
        if not lab.en.strip():
            out.append(f"{pre}: label {lab.id!r} has no English name")
        if not lab.zh.strip():
            out.append(f"{pre}: label {lab.id!r} has no Chinese name")
        strategy = scheme.strategies.get(lab.id)
        if strategy is None:
            out.append(f"{pre}: label {lab.id!r} has no strategy")
        else:
            out += _strategy_problems(strategy, f"{pre}: strategy of {lab.id!r}")
    for label in scheme.strategies:
        if label not in labels:
            out.append(f"{pre}: strategy for unknown label {label!r}")
    for rule in policy.rules:
        out += _text_problems(rule.because, f"{pre}: rule {rule.id!r} because")

    # the policy type-checks against the engine, and decides the sample
    registered = engine.schemes.get(sid) is scheme
    params = engine.params(sid) if registered else None
    try:
        engine.check(policy, params)
    except PolicyError as exc:
        out.append(f"{pre}: policy does not type-check: {exc}")
        return out
    if not decide:
        return out
    try:
        alone = _scheme_engine(scheme, engine, params)
    except CustomerRulesError as exc:
        out.append(f"{pre}: does not load: {exc}")
        return out
    out += _decision_problems(alone, [sid], records, as_of, strategies=False)
    return out


class _FeaturesOf:
    """A plugin lending one engine's features to another."""

    def __init__(self, engine: Engine) -> None:
        self.features = list(engine.features.values())

    @hookimpl
    def register_features(self) -> list[Feature]:
        return self.features


def _scheme_engine(scheme: Scheme, engine: Engine, params: Mapping[str, Any] | None) -> Engine:
    """An engine holding only ``scheme`` (with ``engine``'s features and the
    scheme's parameters in ``engine``), and no other plugin hooks."""
    return Engine(
        [scheme],
        plugins=[_FeaturesOf(engine)],
        load_entry_points=False,
        block=DEFAULT_PLUGINS,
        params={scheme.id: dict(params)} if params else None,
    )


def _fitted(engine: Engine, records: Sequence[Customer], as_of: dt.date, own: bool) -> Engine:
    """``engine`` with its population-relative schemes fitted on the sample
    (a fresh copy when the engine is not ours and needs fitting)."""
    unfitted = [sid for sid in engine.population_schemes() if not engine.is_fitted(sid)]
    if not unfitted:
        return engine
    if not own:
        engine = engine.with_params(unfitted[0])
    return engine.fit(records, as_of=as_of, schemes=unfitted)


# -- features ------------------------------------------------------------------


def _sample_arg(t: Type, as_of: dt.date) -> Any:
    if t.enum:
        return t.enum[0]
    return {NUMBER: 30, STRING: "x", BOOL: True, DATE: as_of}.get(t.kind, 30)


def _feature_problems(
    feat: Feature,
    records: Sequence[Customer],
    as_of: dt.date,
    args: Sequence[Any] | None,
    generated: int = GENERATED,
) -> list[str]:
    pre = f"feature {feat.name!r}"
    out: list[str] = []
    if not isinstance(feat.type, Type) or feat.type.kind not in SCALAR_KINDS:
        out.append(f"{pre}: type must be one of {', '.join(SCALAR_KINDS)}, got {feat.type!r}")
        return out
    if not isinstance(feat.description, str) or not feat.description.strip():
        out.append(f"{pre}: has no description")
    for name, t in feat.args:
        if not isinstance(t, Type) or t.kind not in SCALAR_KINDS:
            out.append(f"{pre}: argument {name!r} has no scalar type")
    if not callable(feat.func):
        out.append(f"{pre}: func is not callable")
        return out
    call_args = tuple(args) if args is not None else tuple(_sample_arg(t, as_of) for _, t in feat.args)
    if len(call_args) != len(feat.args):
        out.append(f"{pre}: {len(call_args)} sample argument(s) given, it declares {len(feat.args)}")
        return out
    try:
        inspect.signature(feat.func).bind(records[0], as_of, *call_args)
    except TypeError as exc:
        out.append(
            f"{pre}: func cannot be called as (customer, as_of{', *args' if feat.args else ''}): {exc}"
        )
        return out
    except ValueError:  # no signature (a builtin): calling it below tells
        pass
    raised: list[str] = []
    wrong: list[str] = []
    for record in records:
        try:
            value = feat.func(record, as_of, *call_args)
        except NotFittedError:
            # a population model's feature before its model is fitted: it says so,
            # as it must; fit the engine before the kit checks its values
            return out
        except Exception as exc:
            raised.append(f"{record.id}: {type(exc).__name__}: {exc}")
            continue
        why = value_problem(value, feat.type)
        if why is not None:
            wrong.append(f"{record.id}: {why}")
    if raised:
        out.append(f"{pre}: raised on {len(raised)} of {len(records)} sample record(s), e.g. {raised[0]}")
    if wrong:
        out.append(
            f"{pre}: wrong type on {len(wrong)} of {len(records)} sample record(s)"
            f" (declared {feat.type}), e.g. {wrong[0]}"
        )
    out += _agreement_problems(feat, records, as_of, args, generated)
    return out


# -- one feature, three ways -----------------------------------------------------


def _arg_sets(feat: Feature, as_of: dt.date, args: Sequence[Any] | None) -> list[tuple[Any, ...]]:
    """The constant arguments to compare a feature with: those given, or a few per type."""
    if args is not None:
        return [tuple(args)]
    if not feat.args:
        return [()]
    numbers = (30, 0, 1, 400, -3)
    return [
        tuple(n if t.kind == NUMBER and not t.enum else _sample_arg(t, as_of) for _, t in feat.args)
        for n in numbers
    ]


def _generated_paths(feat: Feature) -> list[str]:
    """The record fields to generate for a feature: the fields its reads name
    or lie in (a record list for one of its item fields)."""
    from customer_rules.lab.generate import FEATURE_FIELDS
    from customer_rules.lang.types import record_fields

    known = record_fields(Customer)
    if feat.reads is None:
        return list(FEATURE_FIELDS)
    out: list[str] = []
    for path in feat.reads:
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in known:
                out.append(head)
                break
        else:  # a nested model: every field in it
            out.extend(p for p in known if p.startswith(path + "."))
    return list(dict.fromkeys(out))


def generated_records(
    paths: Sequence[str], as_of: dt.date = SAMPLE_AS_OF, n: int = GENERATED
) -> list[Customer]:
    """``n`` valid records with the fields in ``paths`` (and the nested lists
    features read), drawn reproducibly by hypothesis; ``[]`` without it."""
    try:
        from hypothesis import given
    except ImportError:
        return []
    from customer_rules.lab.generate import records, settings

    drawn: list[Customer] = []

    def collect(data: dict[str, Any]) -> None:
        drawn.append(Customer.model_validate({**data, "id": f"generated-{len(drawn)}"}))

    settings(n, shrink=False)(given(records(paths, {}, as_of, nested=True))(collect))()
    return drawn


@lru_cache(maxsize=16)
def _generated(paths: tuple[str, ...], as_of: dt.date, n: int) -> tuple[Customer, ...]:
    """:func:`generated_records`, kept: the draws are reproducible and records immutable."""
    return tuple(generated_records(paths, as_of, n))


@lru_cache(maxsize=16)
def _table(records: tuple[Customer, ...]) -> Any:
    """The validated table of ``records`` (row i is record i), kept for the next feature."""
    from customer_rules.model.tables import frame_from_records, prepare

    return prepare(frame_from_records(records), warn=False).valid


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-9)
    return bool(a == b) and type(a) is type(b)


def _shown(record: Customer) -> str:
    text = record.model_dump_json(exclude_defaults=True)
    return text if len(text) <= 400 else text[:400] + "…"


def _agreement_problems(
    feat: Feature,
    sample: Sequence[Customer],
    as_of: dt.date,
    args: Sequence[Any] | None,
    generated: int,
) -> list[str]:
    """The Python implementation on whole records, on the inputs built from
    its reads, and the polars implementation: the same values on every record."""
    from customer_rules.backends.table_features import FeatureUse, columns_read, feature_inputs, record_paths
    from customer_rules.errors import EvaluationError
    from customer_rules.model.features import UndeclaredRead
    from customer_rules.model.tables import ROW

    pre = f"feature {feat.name!r}"
    unknown = feat.unknown_reads(record_paths())
    if unknown:
        return [f"{pre}: reads unknown record path(s) {', '.join(map(repr, unknown))}"]
    paths = tuple(_generated_paths(feat))
    records = [*sample, *(_generated(paths, as_of, generated) if generated else ())]
    table = _table(tuple(records))
    rows = table.get_column(ROW).to_list()
    out: list[str] = []
    declared = columns_read(feat)
    try:
        inputs = feature_inputs(table, feat)
    except EvaluationError as exc:
        return [f"{pre}: {exc}"]
    for call_args in _arg_sets(feat, as_of, args):
        shown_args = f"{feat.name}({', '.join(map(repr, call_args))})" if feat.args else feat.name
        want: list[Any] = []
        for row in rows:
            try:
                want.append(feat.func(records[row], as_of, *call_args))
            except Exception:  # reported with the record checks above
                want.append(_RAISED)
        for row, one, w in zip(rows, inputs, want, strict=True):
            if w is _RAISED:
                continue
            try:
                got = feat.func(one, as_of, *call_args)
            except UndeclaredRead as exc:
                out.append(
                    f"{pre}: reads {exc.attribute!r}, which is not among the paths it declares in reads"
                    f" ({', '.join(feat.reads or ())}); on a table it would fail"
                )
                break
            except Exception as exc:
                out.append(
                    f"{pre}: {shown_args} raised {type(exc).__name__}: {exc} on the inputs built from its"
                    f" reads, not on the whole record {_shown(records[row])}"
                )
                break
            if not _same(got, w):
                out.append(
                    f"{pre}: {shown_args} is {got!r} on the inputs built from its reads but {w!r} on the"
                    f" whole record (reads incomplete?): {_shown(records[row])}"
                )
                break
            renamed = type(one)(("conformance-other-id", *one[1:]))
            if "id" not in (feat.reads or ("id",)) and not _same(feat.func(renamed, as_of, *call_args), got):
                out.append(
                    f"{pre}: {shown_args} depends on the record's id; declare 'id' in reads"
                    " (the id is given for messages; on tables a feature reading only plain"
                    " fields is computed once per distinct combination of their values)"
                )
                break
        if feat.polars is None:
            continue
        try:
            expr = FeatureUse("value", feat, call_args).expr(as_of)
            assert expr is not None
            extra = sorted(set(expr.meta.root_names()) - set(declared))
            if extra and feat.reads is not None:
                out.append(
                    f"{pre}: the polars implementation reads {', '.join(extra)}, not declared in reads"
                )
            values = table.select(expr).to_series().to_list()
        except Exception as exc:
            out.append(
                f"{pre}: the polars implementation of {shown_args} failed: {type(exc).__name__}: {exc}"
            )
            continue
        for row, got, w in zip(rows, values, want, strict=True):
            if w is not _RAISED and not _same(got, w):
                out.append(
                    f"{pre}: {shown_args} is {got!r} by its polars implementation but {w!r} by its Python"
                    f" implementation on {_shown(records[row])}"
                )
                break
    return list(dict.fromkeys(out))


_RAISED = object()


# -- decisions through the engine's hooks --------------------------------------


def _decision_problems(
    engine: Engine,
    schemes: Iterable[str],
    records: Sequence[Customer],
    as_of: dt.date,
    *,
    strategies: bool = True,
    own: bool = True,
) -> list[str]:
    """Decide every record under every scheme through ``engine`` (fitted on
    the records first where a scheme ranks customers against a population)."""
    schemes = list(schemes)
    try:
        engine = _fitted(engine, records, as_of, own)
    except Exception as exc:
        return [f"fitting {', '.join(schemes)} on the sample raised {type(exc).__name__}: {exc}"]
    out: list[str] = []
    seen: set[tuple[str, str | None]] = set()
    try:  # schemes whose strategies no plugin says it chooses: their decisions must carry their labels'
        labels_only = {sid for sid in schemes if not engine.has_custom_strategies_for(sid)}
    except PluginError as exc:
        return [str(exc)]
    for sid in schemes:
        failures = []
        for record in records:
            try:
                decision = engine.decide(sid, record, as_of=as_of)
            except Exception as exc:
                failures.append(f"{record.id}: {type(exc).__name__}: {exc}")
                continue
            strategy = decision.strategy
            if sid in labels_only and strategy != engine.schemes[sid].strategies.get(decision.label or ""):
                out.append(
                    f"scheme {sid!r}: a plugin chose the strategy for {decision.label!r}, but no plugin's"
                    f" strategy_schemes hook names {sid!r} (the policy lab would count the label's own)"
                )
            if not strategies or strategy is None or (sid, decision.label) in seen:
                continue
            seen.add((sid, decision.label))
            out += _strategy_problems(strategy, f"scheme {sid!r}: strategy chosen for {decision.label!r}")
        if failures:
            out.append(
                f"scheme {sid!r}: deciding {len(failures)} of {len(records)} sample record(s) raised,"
                f" e.g. {failures[0]}"
            )
    return out


# -- public checks --------------------------------------------------------------


def _finish(report: ConformanceReport, raise_errors: bool) -> ConformanceReport:
    if raise_errors:
        report.raise_for_problems()
    return report


def check_scheme(
    scheme: Scheme | str,
    engine: Engine | None = None,
    *,
    records: Sequence[Customer] | None = None,
    as_of: dt.date = SAMPLE_AS_OF,
    raise_errors: bool = True,
) -> ConformanceReport:
    """Check one scheme (a :class:`Scheme`, or the id of one of ``engine``'s).

    ``engine`` supplies the record fields and features the policy is
    checked against (default: a fresh ``Engine(load_entry_points=False)``).
    ``records`` default to :func:`sample_records`. Raises
    :class:`ConformanceError` listing every problem unless ``raise_errors``
    is false; returns the :class:`ConformanceReport`.
    """
    engine = engine if engine is not None else Engine(load_entry_points=False)
    if isinstance(scheme, str):
        scheme = engine.schemes[scheme]
    records = list(records) if records is not None else sample_records()
    problems = _scheme_problems(scheme, engine, records, as_of)
    report = ConformanceReport(f"scheme {scheme.id!r}", (scheme.id,), (), tuple(problems))
    return _finish(report, raise_errors)


def check_feature(
    feature: Feature,
    *,
    args: Sequence[Any] | None = None,
    records: Sequence[Customer] | None = None,
    as_of: dt.date = SAMPLE_AS_OF,
    generated: int = GENERATED,
    raise_errors: bool = True,
) -> ConformanceReport:
    """Check one feature: typed, described, callable as ``(customer, as_of,
    *args)`` and returning its declared type or ``None`` on every record,
    and its Python implementation, the same on the inputs built from its
    ``reads``, and its polars implementation agree on ``records`` plus
    ``generated`` records drawn for the paths it reads. ``args`` are the
    constant arguments to call it with (defaults: a few by type)."""
    records = list(records) if records is not None else sample_records()
    problems = _feature_problems(feature, records, as_of, args, generated)
    report = ConformanceReport(f"feature {feature.name!r}", (), (feature.name,), tuple(problems))
    return _finish(report, raise_errors)


def _resolve(plugin: Any) -> Any:
    if isinstance(plugin, str):
        return importlib.import_module(plugin)
    return plugin


def check_plugin(
    plugin_or_engine: Any,
    *,
    records: Sequence[Customer] | None = None,
    as_of: dt.date = SAMPLE_AS_OF,
    feature_args: Mapping[str, Sequence[Any]] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    generated: int = GENERATED,
    raise_errors: bool = True,
) -> ConformanceReport:
    """Check a plugin (a module, an object with hook implementations, or a
    module name), or every scheme and feature of an :class:`Engine`.

    A plugin is loaded into a fresh ``Engine(plugins=[plugin],
    load_entry_points=False, params=params)`` (a built-in plugin is checked
    in the built-in engine); a plugin that fails to load raises its
    :class:`~customer_rules.PluginError`. Then every scheme and feature the
    plugin contributes is checked (see the module docs), and the sample
    records are decided through the engine, so strategies chosen by the
    plugin's ``choose_strategy`` are checked too. ``feature_args`` gives the
    constant arguments to call a feature with, by feature name; ``generated``
    how many records to draw per feature for the paths it reads.

    Raises :class:`ConformanceError` listing every problem unless
    ``raise_errors`` is false; returns the :class:`ConformanceReport`.
    """
    records = list(records) if records is not None else sample_records()
    feature_args = feature_args or {}
    own = not isinstance(plugin_or_engine, Engine)
    if isinstance(plugin_or_engine, Engine):
        engine = plugin_or_engine
        subject = repr(engine)
        schemes = list(engine.schemes.values())
        features = list(engine.features.values())
        hooks_only = False
    else:
        plugin = _resolve(plugin_or_engine)
        name = plugin_name(plugin)
        subject = f"plugin {name!r}"
        if isinstance(plugin, ModuleType) and name in DEFAULT_PLUGINS:
            engine = Engine(load_entry_points=False, params=params)
        else:
            engine = Engine(plugins=[plugin], load_entry_points=False, params=params)
        schemes = [s for s in engine.schemes.values() if s.plugin == name]
        owners = getattr(engine, "_feature_owner", {})
        features = [f for f in engine.features.values() if owners.get(f.name) == name]
        hooks_only = not schemes and not features
    problems: list[str] = []
    for scheme in schemes:
        problems += _scheme_problems(scheme, engine, records, as_of, decide=False)
    for feat in features:
        problems += _feature_problems(feat, records, as_of, feature_args.get(feat.name), generated)
    # a plugin that only implements hooks (e.g. choose_strategy) is checked
    # through every scheme's decisions
    decided = list(engine.schemes) if hooks_only else [s.id for s in schemes]
    problems += _decision_problems(engine, decided, records, as_of, own=own)
    report = ConformanceReport(
        subject,
        tuple(s.id for s in schemes),
        tuple(f.name for f in features),
        tuple(dict.fromkeys(problems)),
    )
    return _finish(report, raise_errors)


# -- pytest fixtures (only when pytest is installed) ------------------------------

if importlib.util.find_spec("pytest") is not None:
    import pytest

    @pytest.fixture
    def engine() -> Engine:
        """A fresh engine with the built-in plugins only (no entry points)."""
        return Engine(load_entry_points=False)

    @pytest.fixture
    def engine_factory() -> Callable[..., Engine]:
        """Make engines: ``engine_factory(*policies, plugins=[...], params=...)``;
        entry-point plugins are not loaded unless ``load_entry_points=True``."""

        def make(*policies: Any, **kwargs: Any) -> Engine:
            kwargs.setdefault("load_entry_points", False)
            return Engine(policies, **kwargs)

        return make
