"""The engine: plugins in, profiles out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from customer_rules.backends.base import Backend, RecordPolicy, TablePolicy, decision_of
from customer_rules.backends.python import PythonBackend
from customer_rules.engine.plugins import build_manager, call_each, call_first, call_hook
from customer_rules.engine.stability import stabilise
from customer_rules.errors import (
    BackendUnavailable,
    CustomerRulesError,
    NotFittedError,
    PluginError,
    PolicyError,
    RecordError,
)
from customer_rules.lang.ast import Call, Name, walk
from customer_rules.lang.compile import CheckedPolicy, check_policy, key_of, resolve_params
from customer_rules.lang.policy import Policy, Text, read_policy_file, yaml_data
from customer_rules.lang.population import Cut
from customer_rules.lang.stability import sticky
from customer_rules.lang.types import Namespace, record_fields
from customer_rules.model.bulk import collector_paused
from customer_rules.model.decision import Decision, Profile
from customer_rules.model.features import Feature
from customer_rules.model.frames import FrameResult
from customer_rules.model.population_models import MODELS_KEY, PopulationModel, check_name
from customer_rules.model.records import Customer, extend_record
from customer_rules.model.strategy import Strategy

if TYPE_CHECKING:
    from customer_rules.apps.agenda import Agenda
    from customer_rules.store.store import DecisionStore
    from customer_rules.streams.stream import EventStream

BACKENDS = ("python", "frame", "durable")


@dataclass(frozen=True)
class Scheme:
    """A classification scheme: a policy, its strategies and where it came from.

    ``kind`` is ``type``, ``tier``, ``crisis`` or ``other``. ``strategies``
    maps label ids to :class:`Strategy`. ``params_model`` validates parameter
    overrides (a pydantic model with ``extra="forbid"``; generated from the
    policy's ``params`` when omitted). ``unreachable`` declares labels no
    rule is meant to produce on its own (e.g. set only by overrides).
    ``plugin`` is filled in by the engine.
    """

    policy: Policy
    strategies: Mapping[str, Strategy] = field(default_factory=dict)
    kind: Literal["type", "tier", "crisis", "other"] = "other"
    params_model: type[BaseModel] | None = None
    unreachable: tuple[str, ...] = ()
    description: Text | None = None
    plugin: str | None = None

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def labels(self) -> tuple[str, ...]:
        return self.policy.label_ids


class Override(BaseModel):
    """A manual grade: replaces a decision's label until ``expires`` (inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    reason: str = Field(min_length=1)
    author: str = Field(min_length=1)
    expires: dt.date | None = None


def normalise_as_of(as_of: Any) -> dt.date:
    """``as_of`` as a date: dates pass, aware datetimes give their date."""
    if isinstance(as_of, dt.datetime):
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError("as_of is a naive datetime; give a date or a timezone-aware datetime")
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    if isinstance(as_of, str):
        try:
            return dt.date.fromisoformat(as_of)
        except ValueError:
            pass
    raise ValueError(f"as_of must be a date (or an aware datetime), got {as_of!r}")


def to_record(customer: Any, row: int | None = None, model: type[Customer] = Customer) -> Customer:
    """Validate a dict (or pass a record through) as ``model``, naming the id on failure.

    ``model`` is an engine's ``record_model`` (:class:`Customer` plus the
    namespaces its plugins register); a core :class:`Customer` given to an
    engine with namespaces gets them all unknown.
    """
    if isinstance(customer, model):
        return customer
    if isinstance(customer, Customer):
        customer = dict(customer)
    try:
        return model.model_validate(customer)
    except ValidationError as exc:
        rid = customer.get("id") if isinstance(customer, Mapping) else None
        errors = [(".".join(str(p) for p in e["loc"]) or "(record)", e["msg"]) for e in exc.errors()]
        raise RecordError(None if rid is None else str(rid), errors, row=row) from None


@dataclass
class Rejected:
    """A row a batch could not classify, and why."""

    row: int
    record_id: str | None
    error: CustomerRulesError

    @property
    def reason(self) -> str:
        return str(self.error)


@dataclass
class BatchResult:
    """Profiles for the rows that worked and the rows rejected: rows in = both."""

    profiles: list[Profile]
    rejected: list[Rejected]

    def __iter__(self) -> Any:
        return iter(self.profiles)

    def __len__(self) -> int:
        return len(self.profiles)


class Engine:
    """Classifies customers with the schemes its plugins provide.

    ``Engine()`` loads the built-in plugins and every installed plugin of
    the ``customer_rules`` entry-point group (limit those with the
    ``CUSTOMER_RULES_PLUGINS`` environment variable); ``plugins`` adds more;
    ``block`` names plugins (module or entry-point names) not to load;
    ``policies`` adds schemes directly; ``params`` overrides scheme
    parameters (``{"scheme_id": {"name": value}}``).
    """

    def __init__(
        self,
        policies: Iterable[Policy | Scheme] = (),
        *,
        plugins: Iterable[Any] = (),
        load_entry_points: bool = True,
        backend: str = "python",
        block: Iterable[str] = (),
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend == "frame":  # tables run on polars; single records still use python
            try:
                import polars  # noqa: F401
            except ImportError as exc:
                raise BackendUnavailable("the frame backend needs polars: pip install polars") from exc
        self._records: Backend = PythonBackend()
        if backend == "durable":  # decisions run on durable_rules rulesets (see backends/durable.py)
            from customer_rules.backends.durable import DurableBackend

            self._records = DurableBackend()  # BackendUnavailable where durable_rules cannot run
        self._tables: Backend | None = None  # the frame backend, made on first use
        self.backend = backend
        self._plugins = list(plugins)
        self._load_entry_points = load_entry_points
        self._block = tuple(block)
        self._params: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (params or {}).items()}
        self.plugin_manager = build_manager(
            self._plugins, load_entry_points=load_entry_points, block=self._block
        )
        self.record_model: type[Customer] = extend_record(
            call_each(self.plugin_manager, "register_record_fields", engine=self)
        )
        """The record model: :class:`Customer` plus the plugins' namespaces (``register_record_fields``)."""
        self._fields = record_fields(self.record_model)
        # models the plugins fit on the population (register_models), before their features
        self._models: dict[str, tuple[PopulationModel, str]] = {}
        self._model_fits: dict[str, dict[str, Any]] = {}
        for owner, result in call_each(self.plugin_manager, "register_models", engine=self):
            for model in _as_list(result):
                self._add_model(model, owner)
        self._features: dict[str, Feature] = {}
        self._feature_owner: dict[str, str] = {}
        for owner, result in call_each(self.plugin_manager, "register_features", engine=self):
            for feat in _as_list(result):
                self._add_feature(feat, owner)
        self._schemes: dict[str, Scheme] = {}
        self._checked: dict[str, CheckedPolicy] = {}
        self._cuts: dict[str, Mapping[str, Cut]] = {}  # fitted cut-offs by scheme
        self._fit_info: dict[str, dict[str, Any]] = {}
        # compiled forms, made from _checked and _cuts: records, tables, hysteresis rewrites
        self._compiled: dict[str, RecordPolicy] = {}
        self._table_compiled: dict[str, TablePolicy] = {}
        # frame-backend run plans by (schemes, as_of, options), with the policies they compiled
        self._table_plans: dict[tuple[Any, ...], tuple[tuple[TablePolicy, ...], Any]] = {}
        self._sticky: dict[str, tuple[RecordPolicy, RecordPolicy]] = {}
        # logged policy versions being replayed (DecisionStore.replay), each compiled once
        self._replayed: dict[tuple[int, int, int], tuple[Any, Any, Any, RecordPolicy, Any]] = {}
        for owner, result in call_each(self.plugin_manager, "register_schemes", engine=self):
            for scheme in _as_list(result):
                self._add_scheme(scheme, owner)
        for p in policies:
            self.add_scheme(p)
        self._refresh_hooks()
        unknown = set(self._params) - set(self._schemes)
        if unknown:
            raise PolicyError(f"params given for unknown scheme(s): {', '.join(sorted(unknown))}")

    # -- registration --------------------------------------------------------
    def _add_feature(self, feat: Any, owner: str) -> None:
        if not isinstance(feat, Feature):
            raise PluginError(owner, f"register_features returned {type(feat).__name__}, not a Feature")
        if feat.name in self._fields or feat.name.split(".")[0] in {f.split(".")[0] for f in self._fields}:
            raise PluginError(owner, f"feature {feat.name!r} clashes with a record field")
        if feat.name in self._features:
            raise PluginError(
                owner, f"feature {feat.name!r} is already registered by {self._feature_owner[feat.name]!r}"
            )
        self._features[feat.name] = replace(feat, plugin=owner)  # its errors name the plugin
        self._feature_owner[feat.name] = owner

    def _add_model(self, model: Any, owner: str) -> None:
        why = check_name(model)
        if why is not None:
            raise PluginError(owner, why)
        if model.name in self._models:
            raise PluginError(
                owner, f"model {model.name!r} is already registered by {self._models[model.name][1]!r}"
            )
        self._models[model.name] = (model, owner)

    def _add_scheme(self, scheme: Any, owner: str) -> None:
        if isinstance(scheme, Policy):
            scheme = Scheme(scheme)
        if not isinstance(scheme, Scheme):
            raise PluginError(owner, f"register_schemes returned {type(scheme).__name__}, not a Scheme")
        sid = scheme.id
        if sid in self._schemes:
            raise PluginError(
                owner,
                f"scheme id {sid!r} is already registered by {self._schemes[sid].plugin!r}"
                " (block that plugin to replace its scheme)",
            )
        for label in scheme.strategies:
            if label not in scheme.policy.label_ids:
                raise PluginError(owner, f"scheme {sid!r} has a strategy for unknown label {label!r}")
        scheme = replace(scheme, plugin=owner)
        try:
            self._compile(scheme)
        except PolicyError as exc:
            if owner == "<engine>" or (exc.field or "").split(".")[0] == "params":
                # the caller's own policy, or the caller's parameter overrides:
                # their error, with its file, line and rule kept
                raise
            raise PluginError(owner, f"scheme {sid!r} does not load: {exc}") from None
        self._schemes[sid] = scheme

    def add_scheme(self, scheme: Policy | Scheme) -> Scheme:
        """Add a scheme (or a bare policy) to this engine; returns the scheme."""
        owner = scheme.plugin if isinstance(scheme, Scheme) and scheme.plugin else "<engine>"
        if isinstance(scheme, Policy):
            scheme = Scheme(scheme)
        if scheme.id in self._schemes:
            raise PolicyError(f"scheme {scheme.id!r} already exists in this engine")
        try:
            self._add_scheme(scheme, owner)
        except PluginError as exc:
            if owner == "<engine>":
                raise PolicyError(exc.cause) from None
            raise
        return self._schemes[scheme.id]

    def add_policy(self, policy: Policy, strategies: Mapping[str, Strategy] | None = None) -> Scheme:
        """Add a policy as a scheme of this engine (with optional strategies)."""
        return self.add_scheme(Scheme(policy, strategies=dict(strategies or {})))

    def load_policy(self, path: str | Path) -> Policy:
        """Read a policy file and check it against this engine's fields and features."""
        policy = read_policy_file(path)
        self.check(policy)
        return policy

    def check(self, policy: Policy, params: Mapping[str, Any] | None = None) -> CheckedPolicy:
        """Type-check a policy against this engine's namespace; raise PolicyError."""
        values = resolve_params(policy, params)
        return check_policy(policy, self.namespace, values)

    def _compile(self, scheme: Scheme) -> None:
        values = resolve_params(scheme.policy, self._params.get(scheme.id), scheme.params_model)
        checked = check_policy(scheme.policy, self.namespace, values)
        self._checked[scheme.id] = checked
        self._recompile(scheme.id)

    def _recompile(self, sid: str) -> None:
        """Compile a scheme's checked policy and cut-offs for records (tables on demand)."""
        compiled = self._records.compile(self._checked[sid], sid, self._cuts.get(sid))
        assert isinstance(compiled, RecordPolicy)
        self._compiled[sid] = compiled
        self._table_compiled.pop(sid, None)
        self._table_plans.clear()
        self._sticky.pop(sid, None)

    # -- compiled policies (read by the frame runner, streams and the policy lab) ---------
    @property
    def record_backend(self) -> Backend:
        """The backend that decides single records (python, or durable)."""
        return self._records

    def checked(self, scheme: str) -> CheckedPolicy:
        """The checked policy ``scheme`` runs with (its parameters resolved)."""
        return self._checked[self.scheme(scheme).id]

    def cuts(self, scheme: str) -> Mapping[str, Cut] | None:
        """The fitted cut-offs of ``scheme`` (``None`` before ``fit`` or when it needs none)."""
        return self._cuts.get(self.scheme(scheme).id)

    def compiled(self, scheme: str) -> RecordPolicy:
        """``scheme`` compiled by the record backend (with its fitted cut-offs)."""
        return self._compiled[self.scheme(scheme).id]

    def table_policy(self, scheme: str) -> TablePolicy:
        """``scheme`` compiled by the frame backend (with its fitted cut-offs)."""
        sid = self.scheme(scheme).id
        compiled = self._table_compiled.get(sid)
        if compiled is None:
            if self._tables is None:
                from customer_rules.backends.frame import FrameBackend

                self._tables = FrameBackend()
            made = self._tables.compile(self._checked[sid], sid, self._cuts.get(sid))
            assert isinstance(made, TablePolicy)
            compiled = self._table_compiled[sid] = made
        return compiled

    def table_plan(self, schemes: Sequence[str], as_of: dt.date, **options: Any) -> Any:
        """The frame backend's run plan for ``schemes`` on ``as_of`` with these
        ``classify_frame`` options, compiled once and reused while the schemes'
        compiled policies stay the same (see ``backends.frame.plan_run``)."""
        from customer_rules.backends.frame import plan_run
        from customer_rules.model.tables import customer_spec

        policies = tuple(self.table_policy(s) for s in schemes)
        key = (tuple(p.scheme for p in policies), as_of, tuple(sorted(options.items())))
        cached = self._table_plans.get(key)
        if cached is not None and all(a is b for a, b in zip(cached[0], policies, strict=True)):
            return cached[1]
        plan = plan_run(policies, as_of, spec=customer_spec(self.record_model), **options)
        if len(self._table_plans) >= 32:  # many dates: keep the newest plans only
            self._table_plans.pop(next(iter(self._table_plans)))
        self._table_plans[key] = (policies, plan)
        return plan

    def use_cuts(self, scheme: str, cuts: Mapping[str, Cut], *, as_of: Any = None, population: Any = None) -> None:
        """Run ``scheme`` with these fitted cut-offs (what :meth:`fit` and
        :meth:`load_fitted` do); ``as_of`` and ``population`` are kept in ``fitted_``."""
        sid = self.scheme(scheme).id
        self._cuts[sid] = dict(cuts)
        info: dict[str, Any] = {}
        if as_of is not None or population is not None:
            info = {"as_of": as_of, "population": population}
        self._fit_info[sid] = info
        self._recompile(sid)

    def replay(
        self,
        policy: Policy,
        customer: Any,
        *,
        as_of: Any,
        params: Mapping[str, Any] | None = None,
        fitted: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide ``customer`` under another version of one of this engine's
        schemes — ``policy`` with ``params`` and the cut-offs ``fitted``
        (``{key: cut}`` as logged by a :class:`DecisionStore`) — with this
        engine's features, stability rules, overrides and strategies."""
        from customer_rules.lang.population import Cut

        scheme = self.scheme(policy.id)
        # replaying a log compiles each logged policy version once
        key = (id(policy), id(params), id(fitted))
        cached = self._replayed.get(key)
        if cached is None or cached[0] is not policy or cached[1] is not params or cached[2] is not fitted:
            checked = check_policy(
                policy, self.namespace, resolve_params(policy, params, scheme.params_model)
            )
            cuts = None if fitted is None else {k: Cut.from_json(v) for k, v in fitted.items()}
            compiled = self._records.compile(checked, scheme.id, cuts)
            assert isinstance(compiled, RecordPolicy)
            pairs: dict[str, tuple[RecordPolicy, RecordPolicy]] = {}

            def rewrites(sid: str) -> tuple[RecordPolicy, RecordPolicy]:
                if sid not in pairs:
                    pairs[sid] = self._compile_sticky(checked, sid, cuts)
                return pairs[sid]

            cached = (policy, params, fitted, compiled, rewrites)
            if len(self._replayed) > 64:
                self._replayed.clear()
            self._replayed[key] = cached
        return self._decide(
            replace(scheme, policy=policy),
            to_record(customer),
            normalise_as_of(as_of),
            compiled=cached[3],
            rewrites=cached[4],
        )

    # -- population-relative schemes -------------------------------------------

    def population_schemes(self) -> list[str]:
        """Ids of the schemes whose rules rank customers against a population."""
        return [sid for sid, c in self._checked.items() if c.population_relative]

    def is_fitted(self, scheme: str) -> bool:
        return self._fitted(self.scheme(scheme).id)

    def _fitted(self, sid: str) -> bool:
        return not self._checked[sid].population_relative or sid in self._cuts

    def fit(
        self,
        population: Iterable[Any],
        *,
        as_of: Any = None,
        schemes: Iterable[str] | None = None,
        tables: Mapping[str, Any] | None = None,
    ) -> Engine:
        """Learn the cut-offs of population-relative schemes from ``population``.

        ``population`` is an iterable of customers (records or dicts), or a
        polars or pandas table named as for :meth:`classify_frame` (fitted
        column-wise, much faster; ``as_of`` is then required; ``tables``
        holds its separate nested tables, as for :meth:`classify_frame`);
        rows that fail validation are left out and listed in ``fit_rejected_``.
        See :mod:`customer_rules.engine.fitting`.
        ``as_of`` is needed when a ranked measure reads a dated feature.
        Returns the engine (scikit-learn convention); the learned cut-offs
        are in ``fitted_`` and can be saved with :meth:`save_fitted`.
        A plugin's population model (``register_models``) is fitted first,
        when one of the schemes being fitted (``schemes``, or all) reads one
        of that plugin's features; a model nothing reads is left as it is.
        """
        from customer_rules.engine import fitting

        named = [self.scheme(s).id for s in schemes] if schemes is not None else list(self._checked)
        models = self._models_read_by(named)
        wanted = [self.scheme(s).id for s in schemes] if schemes is not None else self.population_schemes()
        wanted = [sid for sid in wanted if self._checked[sid].population_relative]
        rejected: list[Rejected] = []
        if type(population).__module__.split(".")[0] in ("polars", "pandas"):
            if as_of is None:
                raise ValueError("fitting a table needs as_of (the date its dated features are computed to)")
            on = normalise_as_of(as_of)
            from customer_rules.model.tables import customer_spec

            spec = customer_spec(self.record_model)
            # the valid table keeps only the columns the cut-offs read (every
            # column is validated all the same); a plugin's model may read any
            columns: set[str] | None = None
            if not models:
                columns = set()
                for sid in wanted:
                    columns |= fitting.columns_read(self._checked[sid], sid, on, spec)
            frame, bad = fitting.table_population(population, tables, spec, columns)
            rejected = [Rejected(row, rid, err) for row, rid, err in bad]
            self._fit_models(models, frame, on)  # first: the cut-offs may rank by a model's feature
            # every scheme's stages measured and learned together (one polars run per stage)
            fitted = fitting.cuts_from_tables({sid: self._checked[sid] for sid in wanted}, frame, on, spec)
            for sid in wanted:
                self.use_cuts(sid, fitted[sid], as_of=on.isoformat(), population=frame.height)
        else:
            day = normalise_as_of(as_of) if as_of is not None else None
            valid: list[Customer] = []
            for i, c in enumerate(population):
                try:
                    valid.append(to_record(c, row=i, model=self.record_model))
                except RecordError as exc:
                    rejected.append(Rejected(i, exc.record_id, exc))
            if models:
                from customer_rules.model.tables import frame_from_records

                self._fit_models(models, frame_from_records(valid, self.record_model), day)
            for sid in wanted:
                cuts = fitting.cuts_from_records(self._checked[sid], valid, day)
                self.use_cuts(
                    sid, cuts, as_of=None if day is None else day.isoformat(), population=len(valid)
                )
        self.fit_rejected_ = rejected
        return self

    def _models_read_by(self, schemes: Sequence[str]) -> list[str]:
        """The population models whose plugin's features ``schemes`` read
        (in rules, flags or derived values): the ones ``fit`` fits. A model
        nothing reads is left as it is, so installing a plugin never makes
        fitting fail on a population its model cannot use."""
        if not self._models:
            return []
        read: set[str] = set()
        for sid in schemes:
            checked = self._checked[sid]
            nodes = [n for _, n, _ in checked.derived] + [r.node for r in checked.rules] + [f.node for f in checked.flags]
            for node in nodes:
                for n in walk(node):
                    if isinstance(n, Call):
                        read.add(n.name)
                    elif isinstance(n, Name) and len(n.parts) == 1:
                        read.add(n.parts[0])
        owners = {f.plugin for name, f in self._features.items() if name in read}
        return [name for name, (_, owner) in self._models.items() if owner in owners]

    def _fit_models(self, names: Sequence[str], frame: Any, as_of: dt.date | None) -> None:
        """Fit the population models ``names`` on ``frame`` (valid rows, canonical columns)."""
        for name in names:
            model, owner = self._models[name]
            try:
                params = model.fit(frame, as_of)
            except CustomerRulesError:
                raise
            except Exception as exc:
                raise PluginError(owner, f"model {name!r} cannot be fitted: {type(exc).__name__}: {exc}") from exc
            day = None if as_of is None else as_of.isoformat()
            model.use(params, as_of=as_of, population=frame.height)
            self._model_fits[name] = {"as_of": day, "population": frame.height, "params": params}

    @property
    def models(self) -> Mapping[str, PopulationModel]:
        """Model name → the :class:`~customer_rules.plugin.PopulationModel` a plugin registered."""
        return MappingProxyType({name: model for name, (model, _) in self._models.items()})

    @property
    def fitted_(self) -> dict[str, dict[str, Any]]:
        """The learned cut-offs per scheme, JSON-ready (raises NotFittedError before ``fit``);
        the plugins' fitted models, if any, under the key ``"_models"``."""
        out: dict[str, dict[str, Any]] = {}
        for sid, cuts in self._cuts.items():
            checked = self._checked[sid]
            policy = checked.policy
            out[sid] = {
                "policy": policy.id,
                "version": policy.version,
                "params": {k: _json_scalar(v) for k, v in checked.params.items()},
                **self._fit_info.get(sid, {}),
                "cuts": {k: c.to_json() for k, c in cuts.items()},
            }
        if self._model_fits:
            out[MODELS_KEY] = {name: dict(fit) for name, fit in self._model_fits.items()}
        if not out:
            raise NotFittedError("nothing is fitted yet: call engine.fit(customers) first")
        return out

    def save_fitted(self, path: str | Path) -> None:
        """Write the learned cut-offs to a JSON file (see :meth:`load_fitted`).

        The file appears whole or not at all (written beside ``path``, then
        renamed); each scheme carries a hash of its parameter values.
        """
        from customer_rules.engine.fitted_file import write_fitted

        write_fitted(path, self.fitted_)

    def load_fitted(self, source: str | Path | Mapping[str, Any]) -> Engine:
        """Use cut-offs saved by :meth:`save_fitted` (a path or the loaded mapping).

        The file is validated first (types, finite numbers, sorted values;
        see ``customer_rules.engine.fitted_file``), then each scheme's
        policy id, version, parameters (and their hash) and cuts must match
        this engine's, so an app never applies last quarter's cut-offs to a
        changed policy silently. The plugins' population models in the file
        (key ``"_models"``) must be models of this engine, and each checks its
        parameters before any is used. Anything else raises
        :class:`~customer_rules.errors.FittedFileError` (a
        ``NotFittedError``) naming the file and the key; nothing is loaded.
        """
        from customer_rules.engine.fitted_file import params_hash, read_fitted_file
        from customer_rules.errors import FittedFileError
        from customer_rules.lang.population import Cut

        file = None if isinstance(source, Mapping) else str(source)
        loaded = {}
        entries, models = read_fitted_file(source)
        for name, fit in models.items():  # each model checks its parameters before any is used
            if name not in self._models:
                known = ", ".join(self._models) or "none"
                raise FittedFileError(
                    f"no model {name!r} in this engine (its models: {known})", file=file, key=f"{MODELS_KEY}.{name}"
                )
            try:
                self._models[name][0].check(fit.params)
            except ValueError as exc:
                raise FittedFileError(str(exc), file=file, key=f"{MODELS_KEY}.{name}.params") from None
        for sid, entry in entries.items():
            if sid not in self._schemes:
                raise FittedFileError(
                    f"no scheme {sid!r} in this engine; it has {', '.join(self._schemes)}", file=file, key=sid
                )
            checked = self._checked[sid]
            policy = checked.policy
            if entry.policy != policy.id:
                raise FittedFileError(
                    f"cut-offs fitted for policy {entry.policy!r}; scheme {sid!r} runs policy {policy.id!r}: refit",
                    file=file,
                    key=f"{sid}.policy",
                )
            params = {k: _json_scalar(v) for k, v in checked.params.items()}
            if entry.version != policy.version or entry.params != params:
                raise FittedFileError(
                    f"saved cut-offs for {sid!r} were fitted with version {entry.version!r} and "
                    f"params {entry.params}; this engine runs version {policy.version!r} with {params}: refit",
                    file=file,
                    key=f"{sid}.version" if entry.version != policy.version else f"{sid}.params",
                )
            if entry.params_hash is not None and entry.params_hash != params_hash(params):
                raise FittedFileError(
                    "the parameters' hash differs: refit", file=file, key=f"{sid}.params_hash"
                )
            calls = {key_of(c): c for c in checked.population}
            if set(entry.cuts) != set(calls):
                odd = sorted(set(entry.cuts) ^ set(calls))
                raise FittedFileError(
                    f"saved cut-offs for {sid!r} do not match its rules ({odd[0]!r}): refit",
                    file=file,
                    key=f"{sid}.cuts",
                )
            for key, cut in entry.cuts.items():
                if cut.function != calls[key].name:
                    raise FittedFileError(
                        f"a {cut.function} cut for a {calls[key].name} call: refit",
                        file=file,
                        key=f"{sid}.cuts.{key}.function",
                    )
            cuts = {k: Cut.from_json(c.model_dump(exclude_none=True)) for k, c in entry.cuts.items()}
            loaded[sid] = (cuts, entry)
        for name, fit in models.items():  # all models and schemes or none
            day = None if fit.as_of is None else dt.date.fromisoformat(fit.as_of)
            self._models[name][0].use(fit.params, as_of=day, population=fit.population)
            self._model_fits[name] = fit.model_dump()
        for sid, (cuts, entry) in loaded.items():
            self.use_cuts(sid, cuts, as_of=entry.as_of, population=entry.population)
        return self

    def _refresh_hooks(self) -> None:
        hook = self.plugin_manager.hook
        builtin = "customer_rules.builtin.strategies"
        self._strategy_choosers = [i.plugin_name for i in hook.choose_strategy.get_hookimpls() if i.plugin_name != builtin]
        self._custom_strategy = bool(self._strategy_choosers)
        self._strategy_scope: frozenset[str] | None = None  # asked on first use (strategy_schemes)
        self._strategy_scope_known = False
        self._has_adjust = bool(hook.adjust_decision.get_hookimpls())
        self._has_observers = bool(hook.observe_profile.get_hookimpls())

    # -- what the engine knows -----------------------------------------------
    @property
    def schemes(self) -> Mapping[str, Scheme]:
        """Scheme id → :class:`Scheme`, in registration order."""
        return MappingProxyType(self._schemes)

    @property
    def features(self) -> Mapping[str, Feature]:
        return MappingProxyType(self._features)

    @property
    def namespace(self) -> Namespace:
        return Namespace(fields=self._fields, features=self._features)

    def params(self, scheme: str) -> dict[str, Any]:
        """The parameter values a scheme runs with in this engine."""
        return dict(self.checked(scheme).params)

    @property
    def has_overrides(self) -> bool:
        """Whether a plugin implements ``adjust_decision`` (manual overrides)."""
        return self._has_adjust

    @property
    def has_custom_strategies(self) -> bool:
        """Whether a plugin implements ``choose_strategy`` (a decision's strategy
        is then not only its label's)."""
        return self._custom_strategy

    def has_custom_strategies_for(self, scheme: str) -> bool:
        """Whether a plugin's ``choose_strategy`` may choose the strategies of
        ``scheme``'s decisions: every scheme for a plugin that does not name
        its schemes (hook ``strategy_schemes``), else the schemes it names."""
        self.scheme(scheme)
        if not self._custom_strategy:
            return False
        if not self._strategy_scope_known:
            self._strategy_scope = self._ask_strategy_scope()
            self._strategy_scope_known = True
        return self._strategy_scope is None or scheme in self._strategy_scope

    def _ask_strategy_scope(self) -> frozenset[str] | None:
        """The schemes the plugins implementing ``choose_strategy`` name, or
        None when one of them does not name its schemes."""
        named = dict(call_each(self.plugin_manager, "strategy_schemes", engine=self))
        scope: set[str] = set()
        for owner in self._strategy_choosers:
            given = named.get(owner)
            if given is None:
                return None
            ids = list(given) if isinstance(given, Iterable) and not isinstance(given, str | bytes) else None
            if ids is None or not all(isinstance(i, str) for i in ids):
                raise PluginError(owner, f"strategy_schemes returned {given!r}, not a list of scheme ids")
            scope.update(ids)
        return frozenset(scope)

    @property
    def has_observers(self) -> bool:
        """Whether a plugin implements ``observe_profile`` (sees every profile made)."""
        return self._has_observers

    def scheme(self, scheme_id: str) -> Scheme:
        """The scheme ``scheme_id`` (:class:`KeyError` with a "did you mean" otherwise)."""
        try:
            return self._schemes[scheme_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(scheme_id, list(self._schemes), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown scheme {scheme_id!r}{hint}") from None

    def with_params(self, scheme: str, **changes: Any) -> Engine:
        """A new engine like this one with some parameters of ``scheme`` changed."""
        self.scheme(scheme)
        params = {k: dict(v) for k, v in self._params.items()}
        params.setdefault(scheme, {}).update(changes)
        extra = [s for s in self._schemes.values() if s.plugin == "<engine>"]
        return self.sibling(extra, backend=self.backend, params=params)

    def sibling(
        self,
        policies: Iterable[Policy | Scheme] = (),
        *,
        backend: str = "python",
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Engine:
        """A new engine with this one's plugins (and entry-point and block
        settings), adding ``policies``; nothing is fitted."""
        return Engine(
            policies,
            plugins=self._plugins,
            load_entry_points=self._load_entry_points,
            backend=backend,
            block=self._block,
            params=params,
        )

    # -- classifying ---------------------------------------------------------
    def decide(self, scheme: str, customer: Any, *, as_of: Any) -> Decision:
        """One scheme's decision for one customer (strategy and overrides applied)."""
        record = to_record(customer, model=self.record_model)
        day = normalise_as_of(as_of)
        return self._decide(self.scheme(scheme), record, day)

    def _decide(
        self,
        scheme: Scheme,
        record: Customer,
        day: dt.date,
        compiled: RecordPolicy | None = None,
        rewrites: Callable[[str], tuple[RecordPolicy, RecordPolicy]] | None = None,
    ) -> Decision:
        sid = scheme.policy.id
        if compiled is None:
            compiled = self._compiled[sid]
        rid = record.id
        outcome = compiled.evaluate(record, day, rid)
        decision = decision_of(compiled.checked, sid, outcome, record=record, as_of=day, record_id=rid, source=compiled)
        stability = compiled.checked.policy.stability
        if stability is not None and (stability.min_days or stability.margin) and record.grades:
            decision = stabilise(compiled, outcome, decision, record, day, rewrites or self._sticky_pair)
        if self._has_adjust:
            owner, override = call_first(
                self.plugin_manager,
                "adjust_decision",
                accept=lambda o: not (isinstance(o, Override) and o.expires is not None and day > o.expires),
                decision=decision,
                customer=record,
                as_of=day,
                scheme=scheme,
                engine=self,
            )
            if override is not None:
                decision = self._apply_override(scheme, decision, override, day, owner)
        if self._custom_strategy:
            owner, strategy = call_first(
                self.plugin_manager,
                "choose_strategy",
                decision=decision,
                scheme=scheme,
                customer=record,
                engine=self,
            )
            if strategy is not None and not isinstance(strategy, Strategy):
                raise PluginError(
                    owner or "<choose_strategy hook>",
                    f"choose_strategy returned {type(strategy).__name__}, not a Strategy",
                )
            decision.strategy = strategy
        elif decision.label is not None:
            decision.strategy = scheme.strategies.get(decision.label)
        return decision

    def _sticky_pair(self, sid: str) -> tuple[RecordPolicy, RecordPolicy]:
        """A scheme's hysteresis rewrites compiled by the record backend (made once)."""
        pair = self._sticky.get(sid)
        if pair is None:
            pair = self._sticky[sid] = self._compile_sticky(self._checked[sid], sid, self._cuts.get(sid))
        return pair

    def _compile_sticky(
        self, checked: CheckedPolicy, sid: str, cuts: Mapping[str, Cut] | None
    ) -> tuple[RecordPolicy, RecordPolicy]:
        rewrites = sticky(checked, cuts)
        assert rewrites is not None
        relaxed = self._records.compile(rewrites.relaxed, sid, rewrites.relaxed_cuts)
        tight = self._records.compile(rewrites.tightened, sid, rewrites.tightened_cuts)
        assert isinstance(relaxed, RecordPolicy) and isinstance(tight, RecordPolicy)
        return relaxed, tight

    def _apply_override(
        self, scheme: Scheme, decision: Decision, override: Any, day: dt.date, owner: str | None = None
    ) -> Decision:
        who = owner or "<adjust_decision hook>"
        if not isinstance(override, Override):
            raise PluginError(who, f"adjust_decision returned {type(override).__name__}, not an Override")
        if override.label not in scheme.labels:
            raise PluginError(
                who,
                f"adjust_decision: override label {override.label!r} is not a label of {scheme.id!r}"
                f" (labels: {', '.join(scheme.labels)})",
            )
        if override.expires is not None and day > override.expires:
            return decision
        old_flags = scheme.policy.label(decision.label).flags if decision.label is not None else ()
        flags = (*scheme.policy.label(override.label).flags, *decision.flags[len(old_flags) :])
        until = f" until {override.expires}" if override.expires else ""
        note = (
            f"manual override by {override.author}{until}: {override.reason}"
            f" (rules said {decision.label or 'unclassified'})"
        )
        return replace(
            decision,
            label=override.label,
            labels=(override.label,),
            flags=flags,
            note=note,
            override=override,
        )

    def classify(
        self,
        customer: Any,
        *,
        as_of: Any,
        schemes: Iterable[str] | None = None,
        store: DecisionStore | None = None,
        period: str | None = None,
    ) -> Profile:
        """Classify one customer under every scheme (or the ones named).

        ``customer`` is a :class:`Customer` or a dict; ``as_of`` the date
        every time window is computed against. Raises :class:`RecordError`
        for an invalid record and :class:`KeyError` for an unknown scheme.
        With a :class:`DecisionStore`, the customer's grade history is read
        from it (for stability rules) and the decisions are logged to it
        under ``period`` (default: the ``as_of`` date).
        """
        record = to_record(customer, model=self.record_model)
        day = normalise_as_of(as_of)
        if store is not None:
            record = next(store.with_history([record], day, exclude_period=period or day.isoformat()))
        skipped: dict[str, str] = {}
        if schemes is not None:
            wanted = [(s.id, s) for s in map(self.scheme, schemes)]
        else:
            wanted = []
            for sid, s in self._schemes.items():
                if not self._fitted(sid):
                    skipped[sid] = "not fitted: population-relative, call engine.fit(customers) first"
                else:
                    wanted.append((sid, s))
        decide = self._decide
        decisions = {sid: decide(s, record, day) for sid, s in wanted}
        profile = Profile(record.id, day, decisions, skipped=skipped, customer=record)
        if self._has_observers:
            call_hook(self.plugin_manager, "observe_profile", profile=profile, engine=self)
        if store is not None:
            store.log(profile, period=period)
        return profile

    def classify_many(
        self, customers: Iterable[Any], *, as_of: Any, schemes: Iterable[str] | None = None
    ) -> BatchResult:
        """Classify many customers; bad rows are reported, never lost or fatal.

        The cyclic garbage collector is paused while the batch runs
        (:func:`~customer_rules.model.bulk.collector_paused`): the profiles
        all survive, and the collector scanning them over and over cost a
        quarter to a third of the run.
        """
        wanted = list(schemes) if schemes is not None else None
        if wanted is not None:
            for s in wanted:
                self.scheme(s)
        profiles: list[Profile] = []
        rejected: list[Rejected] = []
        with collector_paused():
            for i, c in enumerate(customers):
                try:
                    record = to_record(c, row=i, model=self.record_model)
                    profiles.append(self.classify(record, as_of=as_of, schemes=wanted))
                except CustomerRulesError as exc:
                    rid = exc.record_id if isinstance(exc, RecordError) else getattr(c, "id", None)
                    if rid is None and isinstance(c, Mapping):
                        rid = c.get("id")
                    rejected.append(Rejected(i, None if rid is None else str(rid), exc))
        return BatchResult(profiles, rejected)

    # -- tables (the frame backend) ------------------------------------------------
    def classify_frame(
        self,
        data: Any,
        *,
        as_of: Any,
        schemes: Iterable[str] | None = None,
        reasons: bool = False,
        flags: bool = False,
        labels: bool = False,
        scores: bool = False,
        cases: Any = None,
        interactions: Any = None,
        deductions: Any = None,
        grades: Any = None,
        tables: Mapping[str, Any] | None = None,
        rejected: Literal["warn", "raise", "ignore"] = "warn",
        backend: Literal["auto", "frame", "python"] = "auto",
        lang: str = "en",
        store: DecisionStore | None = None,
        period: str | None = None,
    ) -> Any:
        """Classify a whole table: the input columns plus, per scheme, ``<scheme>``
        (the label; null = unclassified) and ``<scheme>__rule`` (the deciding rule).

        ``data`` is a polars DataFrame or LazyFrame or a pandas DataFrame; the
        result is of the same kind, with the rows that could be classified in
        input order. Columns are record paths (``value.revenue_12m`` or
        ``value__revenue_12m``); nested lists are list-of-struct columns or
        separate tables keyed by ``customer_id`` (``cases=``, ``interactions=``,
        ``deductions=``, ``grades=``). Opt-in columns: ``<scheme>__reason``
        (``reasons``), ``<scheme>__flags`` (``flags``), ``<scheme>__labels``
        (``labels``), ``<scheme>__score__<name>`` (``scores``).

        Rows that fail validation, or that two rules match under hit policy
        ``unique``, are left out: ``rejected="warn"`` (default) warns with a
        :class:`RejectedRowsWarning`, ``"raise"`` raises the first row's
        :class:`RecordError` / :class:`EvaluationError`, ``"ignore"`` is
        silent; :meth:`classify_frame_with_rejects` returns them as a table.
        ``backend="auto"`` (default) is the frame backend, except that a
        canonical table of fewer than ``SMALL_ROWS`` (50) valid rows (what
        ``frame_from_records`` gives) is decided row by row with the
        python backend when that gives exactly the frame backend's result
        (no scores, overrides, observers, separate nested tables, ...; see
        "Small tables" in ``docs/frames.md``): its fixed cost is a few
        milliseconds instead of ~30. ``backend="frame"`` always runs the
        frame backend; ``backend="python"`` runs the python backend row by
        row on the same validated table (slow; applies manual overrides). With a
        :class:`DecisionStore`, the grade history comes from it (unless
        ``grades`` is given) and the result is logged to it in bulk under
        ``period``. See ``docs/frames.md``.
        """
        if rejected not in ("warn", "raise", "ignore"):
            raise ValueError(f"rejected must be 'warn', 'raise' or 'ignore', not {rejected!r}")
        result = self.classify_frame_with_rejects(
            data,
            as_of=as_of,
            schemes=schemes,
            reasons=reasons,
            flags=flags,
            labels=labels,
            scores=scores,
            cases=cases,
            interactions=interactions,
            deductions=deductions,
            grades=grades,
            tables=tables,
            backend=backend,
            lang=lang,
            store=store,
            period=period,
        )
        if result.errors and rejected != "ignore":
            first = result.errors[0]
            n = result.n_rejected
            if rejected == "raise":
                raise first
            import warnings

            from customer_rules.model.frames import RejectedRowsWarning

            warnings.warn(
                f"{n} of {result.n_rows} rows rejected and left out; first: {first}"
                " (engine.classify_frame_with_rejects returns them)",
                RejectedRowsWarning,
                stacklevel=2,
            )
        return result.frame

    def classify_frame_with_rejects(
        self,
        data: Any,
        *,
        as_of: Any,
        schemes: Iterable[str] | None = None,
        reasons: bool = False,
        flags: bool = False,
        labels: bool = False,
        scores: bool = False,
        cases: Any = None,
        interactions: Any = None,
        deductions: Any = None,
        grades: Any = None,
        tables: Mapping[str, Any] | None = None,
        backend: Literal["auto", "frame", "python"] = "auto",
        lang: str = "en",
        store: DecisionStore | None = None,
        period: str | None = None,
    ) -> FrameResult:
        """Like :meth:`classify_frame`, returning ``FrameResult(frame, rejected)``.

        ``rejected`` is a table (same kind as ``data``) with the columns
        ``row`` (0-based position in ``data``), ``id`` and ``reason``;
        rows in = rows in ``frame`` + rows in ``rejected``.
        """
        from customer_rules.engine.tables import classify_frame
        from customer_rules.model.frames import nested_tables

        day = normalise_as_of(as_of)
        if store is not None and grades is None and not (tables and "grades" in tables):
            data, grades = store.history_tables(data, day, exclude_period=period or day.isoformat())
        nested = nested_tables(
            tables, cases=cases, interactions=interactions, deductions=deductions, grades=grades
        )
        result = classify_frame(
            self,
            data,
            as_of=day,
            schemes=schemes,
            reasons=reasons,
            flags=flags,
            labels=labels,
            scores=scores,
            tables=nested,
            backend=backend,
            lang=lang,
        )
        if store is not None:
            store.log(result.frame, period=period, engine=self, as_of=day)
        return result

    def stream(self, **options: Any) -> EventStream:
        """A stream of customer events: the statecharts the plugins register
        (deal stage, crisis phases, ...) run in event time (see
        :class:`EventStream` for the ``options``). They run on the python
        backend unless ``backend="durable"`` asks for durable_rules
        (:class:`BackendUnavailable` where it cannot run)."""
        from customer_rules.streams.stream import EventStream

        return EventStream(self, **options)

    def agenda(
        self,
        customers: Any,
        *,
        as_of: Any,
        owner: str | None = None,
        horizon_days: int = 7,
        greeting_days: int = 3,
        holidays: Any = None,
        priority_weight: float | None = None,
        tables: Mapping[str, Any] | None = None,
    ) -> Agenda:
        """Due and overdue actions for ``customers`` by the cadence of their classes.

        ``customers`` is an iterable of records or dicts (classified one by
        one, every hook applied) or a polars/pandas table (classified
        column-wise; nested lists as list columns or in ``tables``, as for
        :meth:`classify_frame`): use a table for large populations. Every
        strategy with a contact cadence yields a contact action (due from
        ``last contact + min_days``, overdue after ``+ max_days``, due at
        once if never contacted); birthdays and the holidays of
        ``holidays`` (a country code of the ``holidays`` library, default
        ``"CN"`` with its lunar festivals; a ``holidays`` calendar object;
        or a mapping ``(month, day) -> (en, zh)``) within ``greeting_days``
        add greetings. Items due within ``horizon_days`` are listed, overdue
        and due ones by urgency: days overdue + ``priority_weight`` (default
        2) × the class priority (contacts per 30 days its cadence asks for).
        ``owner`` keeps one account manager's customers. See ``docs/how-to/plan-the-contact-agenda.md``.
        """
        from customer_rules.apps.agenda import DEFAULT_PRIORITY_WEIGHT, build_agenda

        return build_agenda(
            self,
            customers,
            normalise_as_of(as_of),
            owner=owner,
            horizon_days=horizon_days,
            greeting_days=greeting_days,
            holidays=holidays,
            priority_weight=DEFAULT_PRIORITY_WEIGHT if priority_weight is None else priority_weight,
            tables=tables,
        )

    def __repr__(self) -> str:
        return f"Engine(schemes={list(self._schemes)}, backend={self.backend!r})"

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickle the engine as its recipe, rebuilt where it is unpickled.

        The recipe is what made this engine: its plugins (a module travels by
        name, so it must be installed — or on the path — where the engine is
        unpickled; other plugin objects are pickled as they are), the
        entry-point and block settings, the backend, parameter overrides, the
        schemes added to it, and the fitted cut-offs. Spark executors, Dask
        workers and process pools get the engine this way (see
        ``docs/how-to/scale-out.md``).
        """
        state = {
            "policies": [s for s in self._schemes.values() if s.plugin == "<engine>"],
            "plugins": [_ModuleRef(p.__name__) if isinstance(p, ModuleType) else p for p in self._plugins],
            "load_entry_points": self._load_entry_points,
            "backend": self.backend,
            "block": self._block,
            "params": self._params,
            "cuts": {sid: dict(cuts) for sid, cuts in self._cuts.items()},
            "fit_info": self._fit_info,
        }
        return (_rebuild_engine, (state,))


@dataclass(frozen=True)
class _ModuleRef:
    """A plugin module in a pickled engine: imported by name when rebuilt."""

    name: str


def _rebuild_engine(state: Mapping[str, Any]) -> Engine:
    """An engine from the recipe :meth:`Engine.__reduce__` pickled."""
    import importlib

    plugins = [importlib.import_module(p.name) if isinstance(p, _ModuleRef) else p for p in state["plugins"]]
    engine = Engine(
        state["policies"],
        plugins=plugins,
        load_entry_points=state["load_entry_points"],
        backend=state["backend"],
        block=state["block"],
        params=state["params"],
    )
    for sid, cuts in state["cuts"].items():
        engine.use_cuts(sid, cuts, **state["fit_info"].get(sid, {}))
    return engine


def _json_scalar(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date) else v


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, list | tuple):
        return list(result)
    return [result]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _read_scheme_files(
    policy_file: Path, sfile: Path, policy_stamp: Any, strategies_stamp: Any
) -> tuple[Policy, tuple[tuple[str, Strategy], ...]]:
    """Parse a scheme's files, once per file version (every engine loads the
    built-in schemes again; policies and strategies are immutable)."""
    import yaml

    policy = read_policy_file(policy_file)
    strategies: dict[str, Strategy] = {}
    if strategies_stamp is not None:
        try:
            data = yaml_data(sfile.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise PolicyError(f"not valid YAML: {exc}", file=str(sfile)) from None
        if not isinstance(data, dict):
            raise PolicyError("strategies must map label ids to strategies", file=str(sfile))
        for label, body in data.items():
            try:
                strategies[str(label)] = Strategy.model_validate(body)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise PolicyError(
                    f"strategy for {label!r}: {err['msg']}",
                    file=str(sfile),
                    field=".".join(str(x) for x in (label, *err["loc"])),
                ) from None
    return policy, tuple(strategies.items())


def load_scheme(
    source: str | Path,
    *,
    kind: Literal["type", "tier", "crisis", "other"] = "other",
    unreachable: tuple[str, ...] = (),
    params_model: type[BaseModel] | None = None,
) -> Scheme:
    """Read a scheme from files: a policy and its strategies.

    ``source`` is a directory holding ``policy.yaml`` (or ``.json``/``.toml``)
    and, optionally, ``strategies.yaml`` — a mapping from label id to a
    :class:`Strategy` — or the policy file itself, with the strategies file
    beside it. This is how built-in schemes and plugin schemes are packaged.
    Files are parsed once per version (modification time and size).
    """
    path = Path(source)
    if path.is_dir():
        candidates = [path / f"policy.{ext}" for ext in ("yaml", "yml", "json", "toml")]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise PolicyError(f"no policy.yaml (or .json/.toml) in {path}", file=str(path))
        policy_file, folder = found[0], path
    else:
        policy_file, folder = path, path.parent
    sfile = folder / "strategies.yaml"
    policy, pairs = _read_scheme_files(policy_file, sfile, _stamp(policy_file), _stamp(sfile))
    strategies = dict(pairs)
    return Scheme(
        policy,
        strategies=strategies,
        kind=kind,
        params_model=params_model,
        unreachable=unreachable,
        description=policy.description,
    )
