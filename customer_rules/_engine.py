"""The engine: plugins in, profiles out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._compile import CheckedPolicy, check_policy, resolve_params
from ._decision import Decision, Profile
from ._errors import (
    CustomerRulesError,
    PluginError,
    PolicyError,
    RecordError,
)
from ._features import Feature
from ._plugins import build_manager, call_each
from ._policy import Policy, Text, read_policy_file
from ._python import PythonPolicy
from ._records import Customer
from ._schema import Namespace, record_fields
from ._strategy import Strategy

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


def to_record(customer: Any, row: int | None = None) -> Customer:
    """Validate a dict (or pass a Customer through), naming the id on failure."""
    if isinstance(customer, Customer):
        return customer
    try:
        return Customer.model_validate(customer)
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
        self.backend = backend
        self._plugins = list(plugins)
        self._load_entry_points = load_entry_points
        self._block = tuple(block)
        self._params: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (params or {}).items()}
        self.plugin_manager = build_manager(
            self._plugins, load_entry_points=load_entry_points, block=self._block
        )
        self._fields = record_fields(Customer)
        self._features: dict[str, Feature] = {}
        self._feature_owner: dict[str, str] = {}
        for owner, result in call_each(self.plugin_manager, "register_features", engine=self):
            for feat in _as_list(result):
                self._add_feature(feat, owner)
        self._schemes: dict[str, Scheme] = {}
        self._compiled: dict[str, PythonPolicy] = {}
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
        self._features[feat.name] = feat
        self._feature_owner[feat.name] = owner

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

    def _compile(self, scheme: Scheme) -> PythonPolicy:
        values = resolve_params(scheme.policy, self._params.get(scheme.id), scheme.params_model)
        checked = check_policy(scheme.policy, self.namespace, values)
        compiled = PythonPolicy(checked, scheme.id)
        self._compiled[scheme.id] = compiled
        return compiled

    def _refresh_hooks(self) -> None:
        hook = self.plugin_manager.hook
        builtin = "customer_rules.builtin.strategies"
        self._custom_strategy = any(i.plugin_name != builtin for i in hook.choose_strategy.get_hookimpls())
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
        return dict(self._compiled[self._scheme(scheme).id].checked.params)

    def _scheme(self, scheme_id: str) -> Scheme:
        try:
            return self._schemes[scheme_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(scheme_id, list(self._schemes), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown scheme {scheme_id!r}{hint}") from None

    def with_params(self, scheme: str, **changes: Any) -> Engine:
        """A new engine like this one with some parameters of ``scheme`` changed."""
        self._scheme(scheme)
        params = {k: dict(v) for k, v in self._params.items()}
        params.setdefault(scheme, {}).update(changes)
        extra = [s for s in self._schemes.values() if s.plugin == "<engine>"]
        return Engine(
            extra,
            plugins=self._plugins,
            load_entry_points=self._load_entry_points,
            backend=self.backend,
            block=self._block,
            params=params,
        )

    # -- classifying ---------------------------------------------------------
    def decide(self, scheme: str, customer: Any, *, as_of: Any) -> Decision:
        """One scheme's decision for one customer (strategy and overrides applied)."""
        record = to_record(customer)
        day = normalise_as_of(as_of)
        return self._decide(self._scheme(scheme), record, day)

    def _decide(self, scheme: Scheme, record: Customer, day: dt.date) -> Decision:
        decision = self._compiled[scheme.id].decide(record, day, record.id)
        if self._has_adjust:
            override = self.plugin_manager.hook.adjust_decision(
                decision=decision, customer=record, as_of=day, scheme=scheme, engine=self
            )
            if override is not None:
                decision = self._apply_override(scheme, decision, override, day)
        if self._custom_strategy:
            decision.strategy = self.plugin_manager.hook.choose_strategy(
                decision=decision, scheme=scheme, customer=record, engine=self
            )
        elif decision.label is not None:
            decision.strategy = scheme.strategies.get(decision.label)
        return decision

    def _apply_override(self, scheme: Scheme, decision: Decision, override: Any, day: dt.date) -> Decision:
        if not isinstance(override, Override):
            raise PluginError("adjust_decision", f"returned {type(override).__name__}, not an Override")
        if override.label not in scheme.labels:
            raise PluginError(
                "adjust_decision", f"override label {override.label!r} is not a label of {scheme.id!r}"
            )
        if override.expires is not None and day > override.expires:
            return decision
        until = f" until {override.expires}" if override.expires else ""
        note = (
            f"manual override by {override.author}{until}: {override.reason}"
            f" (rules said {decision.label or 'unclassified'})"
        )
        return replace(decision, label=override.label, labels=(override.label,), note=note)

    def classify(self, customer: Any, *, as_of: Any, schemes: Iterable[str] | None = None) -> Profile:
        """Classify one customer under every scheme (or the ones named).

        ``customer`` is a :class:`Customer` or a dict; ``as_of`` the date
        every time window is computed against. Raises :class:`RecordError`
        for an invalid record and :class:`KeyError` for an unknown scheme.
        """
        record = to_record(customer)
        day = normalise_as_of(as_of)
        wanted = [self._scheme(s) for s in schemes] if schemes is not None else list(self._schemes.values())
        decisions = {s.id: self._decide(s, record, day) for s in wanted}
        profile = Profile(record.id, day, decisions, customer=record)
        if self._has_observers:
            self.plugin_manager.hook.observe_profile(profile=profile, engine=self)
        return profile

    def classify_many(
        self, customers: Iterable[Any], *, as_of: Any, schemes: Iterable[str] | None = None
    ) -> BatchResult:
        """Classify many customers; bad rows are reported, never lost or fatal."""
        wanted = list(schemes) if schemes is not None else None
        if wanted is not None:
            for s in wanted:
                self._scheme(s)
        profiles: list[Profile] = []
        rejected: list[Rejected] = []
        for i, c in enumerate(customers):
            try:
                record = to_record(c, row=i)
                profiles.append(self.classify(record, as_of=as_of, schemes=wanted))
            except CustomerRulesError as exc:
                rid = exc.record_id if isinstance(exc, RecordError) else getattr(c, "id", None)
                if rid is None and isinstance(c, Mapping):
                    rid = c.get("id")
                rejected.append(Rejected(i, None if rid is None else str(rid), exc))
        return BatchResult(profiles, rejected)

    def __repr__(self) -> str:
        return f"Engine(schemes={list(self._schemes)}, backend={self.backend!r})"


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, list | tuple):
        return list(result)
    return [result]


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
    """
    import yaml

    path = Path(source)
    if path.is_dir():
        candidates = [path / f"policy.{ext}" for ext in ("yaml", "yml", "json", "toml")]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise PolicyError(f"no policy.yaml (or .json/.toml) in {path}", file=str(path))
        policy_file, folder = found[0], path
    else:
        policy_file, folder = path, path.parent
    policy = read_policy_file(policy_file)
    strategies: dict[str, Strategy] = {}
    sfile = folder / "strategies.yaml"
    if sfile.exists():
        try:
            data = yaml.safe_load(sfile.read_text(encoding="utf-8")) or {}
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
    return Scheme(
        policy,
        strategies=strategies,
        kind=kind,
        params_model=params_model,
        unreachable=unreachable,
        description=policy.description,
    )
