"""Plugins: discovery through installed entry points, ordering, blocking,
the environment filter, every PluginError path, overrides, observers,
opt-in hook arguments and the conformance kit over every built-in scheme.

The two installed plugins these tests rely on are real packages, installed
the way a user installs a plugin: the care-level plugin by the README's
install command, the throwaway strategy-override plugin by pip into a
private site directory for the test session (see ``conftest.py``), so it
never changes a user's own ``Engine()``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import inspect
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pluggy
import pytest

import customer_rules as cr
from customer_rules import hookspecs
from customer_rules.engine.plugins import DEFAULT_PLUGINS, ENTRY_POINT_GROUP, ENV_PLUGINS
from customer_rules.testing import ConformanceError, check_feature, check_plugin, check_scheme

AS_OF = dt.date(2026, 11, 22)
CARE = "care_level"
OVERRIDE = "test_strategy_override"
BIRD_PLUGIN = "customer_rules.schemes.bird_style"
INSTALL = "pip install -e plugins/customer-rules-care"

#: Built-in scheme plugins other than bird_style: blocked where a test does
#: not need them, so engines are cheap to build.
OTHER_SCHEMES = tuple(
    p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.") and p != BIRD_PLUGIN
)

EAGLE = {"id": "eagle-1", "behaviour": {"speech_pace": "fast", "sociability": "weak"}}
BIRDS = {
    "eagle": ("fast", "weak"),
    "peacock": ("fast", "strong"),
    "dove": ("slow", "strong"),
    "owl": ("slow", "weak"),
}


def bird(label: str) -> dict[str, Any]:
    pace, social = BIRDS[label]
    return {"id": f"{label}-1", "behaviour": {"speech_pace": pace, "sociability": social}}


@pytest.fixture
def installed(
    monkeypatch: pytest.MonkeyPatch, strategy_override_installed: None
) -> dict[str, importlib.metadata.EntryPoint]:
    """Every entry-point plugin loads (no filter); both test plugins must be installed."""
    monkeypatch.delenv(ENV_PLUGINS, raising=False)
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    missing = {CARE, OVERRIDE} - set(eps)
    if missing:
        pytest.fail(f"entry-point plugin(s) {sorted(missing)} not installed; run: {INSTALL}")
    return eps


def bird_engine(**kwargs: Any) -> cr.Engine:
    """An engine with bird_style as its only built-in scheme."""
    block = (*OTHER_SCHEMES, *kwargs.pop("block", ()))
    return cr.Engine(block=block, **kwargs)


def builtin_strategy(label: str) -> cr.Strategy:
    scheme = cr.Engine(load_entry_points=False, block=OTHER_SCHEMES).schemes["bird_style"]
    return scheme.strategies[label]


# -- discovery through installed entry points ----------------------------------


def test_installed_plugins_are_discovered_through_entry_points(installed: Any) -> None:
    import customer_rules_care
    import customer_rules_test_strategy_override as override

    assert installed[CARE].value == "customer_rules_care"
    engine = bird_engine()
    assert engine.plugin_manager.get_plugin(CARE) is customer_rules_care
    assert engine.plugin_manager.get_plugin(OVERRIDE) is override
    assert engine.schemes[CARE].plugin == CARE
    assert "patient_age" in engine.features
    assert "care" in engine.record_model.model_fields  # its record namespace


def test_an_installed_scheme_is_used_to_classify(installed: Any) -> None:
    engine = bird_engine()
    profile = engine.classify({"id": "bed-3", "care": {"condition": "critical", "constant_watch": True}}, as_of=AS_OF)
    assert profile[CARE].label == "special"
    assert profile[CARE].strategy is not None
    assert profile[CARE].strategy.extra["dedicated_nurse"] is True


def test_entry_points_load_only_when_asked(installed: Any) -> None:
    engine = bird_engine(load_entry_points=False)
    assert CARE not in engine.schemes
    assert engine.plugin_manager.get_plugin(OVERRIDE) is None


def test_registration_order_is_builtin_then_entry_points_then_explicit(installed: Any) -> None:
    explicit = SimpleNamespace(__name__="explicit_plugin")
    engine = bird_engine(plugins=[explicit])
    names = [name for name, _ in engine.plugin_manager.list_name_plugin()]
    builtin = [n for n in names if n in DEFAULT_PLUGINS]
    assert names[: len(builtin)] == builtin
    # entry points (others may be installed, e.g. the CLV plugin), then the explicit one
    rest = names[len(builtin) :]
    assert rest[-1] == "explicit_plugin"
    assert [n for n in rest if n in (CARE, OVERRIDE)] == [CARE, OVERRIDE]


def test_every_engine_has_its_own_plugin_manager() -> None:
    a = cr.Engine(load_entry_points=False, block=OTHER_SCHEMES)
    b = cr.Engine(load_entry_points=False, block=OTHER_SCHEMES)
    assert a.plugin_manager is not b.plugin_manager


# -- ordering: a third-party strategy wins over the built-in one ---------------


def test_installed_plugin_replaces_one_builtin_label_strategy(installed: Any) -> None:
    import customer_rules_test_strategy_override as override

    engine = bird_engine()
    decision = engine.decide("bird_style", EAGLE, as_of=AS_OF)
    assert decision.label == "eagle"
    assert decision.strategy is override.STRATEGY
    assert decision.strategy != builtin_strategy("eagle")
    # the scheme itself is untouched: only the choice of strategy changed
    assert engine.schemes["bird_style"].strategies["eagle"] == builtin_strategy("eagle")


@pytest.mark.parametrize("label", ["peacock", "dove", "owl"])
def test_every_other_label_keeps_the_builtin_strategy(installed: Any, label: str) -> None:
    decision = bird_engine().decide("bird_style", bird(label), as_of=AS_OF)
    assert decision.label == label
    assert decision.strategy == builtin_strategy(label)


def test_without_the_plugin_the_builtin_strategy_is_used(installed: Any) -> None:
    decision = bird_engine(block=[OVERRIDE]).decide("bird_style", EAGLE, as_of=AS_OF)
    assert decision.strategy == builtin_strategy("eagle")


def test_an_explicit_plugin_wins_over_entry_point_plugins(installed: Any) -> None:
    mine = cr.Strategy(summary=cr.Text(en="mine", zh="我的"))

    class Mine:
        @cr.hookimpl
        def choose_strategy(self, decision: cr.Decision) -> cr.Strategy | None:
            return mine if decision.label == "eagle" else None

    assert bird_engine(plugins=[Mine()]).decide("bird_style", EAGLE, as_of=AS_OF).strategy is mine


def test_the_builtin_strategy_hook_runs_last() -> None:
    module = sys.modules["customer_rules.builtin.strategies"]
    impl = module.choose_strategy
    assert getattr(impl, f"{hookspecs.PROJECT}_impl")["trylast"] is True


# -- blocking and the environment filter ----------------------------------------


def test_block_an_installed_plugin_by_name(installed: Any) -> None:
    engine = bird_engine(block=[CARE])
    assert CARE not in engine.schemes
    assert "care_condition" not in engine.features
    assert engine.plugin_manager.is_blocked(CARE)


def test_block_a_builtin_plugin_by_module_name() -> None:
    engine = cr.Engine(load_entry_points=False, block=[BIRD_PLUGIN, *OTHER_SCHEMES])
    assert "bird_style" not in engine.schemes


def test_block_an_explicit_plugin_by_name() -> None:
    class Shout:
        @cr.hookimpl
        def register_features(self) -> list[cr.Feature]:
            raise AssertionError("a blocked plugin must not be called")

    name = f"{Shout.__module__}.{Shout.__qualname__}"
    engine = cr.Engine(plugins=[Shout()], load_entry_points=False, block=[name, *OTHER_SCHEMES])
    assert engine.plugin_manager.get_plugin(name) is None


@pytest.mark.parametrize(
    ("value", "loaded"),
    [
        (CARE, {CARE}),
        (OVERRIDE, {OVERRIDE}),
        (f" {CARE} , {OVERRIDE} ", {CARE, OVERRIDE}),
        ("", set()),
        ("no_such_plugin", set()),
    ],
)
def test_environment_variable_limits_entry_point_plugins(
    installed: Any, monkeypatch: pytest.MonkeyPatch, value: str, loaded: set[str]
) -> None:
    monkeypatch.setenv(ENV_PLUGINS, value)
    engine = bird_engine()
    present = {n for n in (CARE, OVERRIDE) if engine.plugin_manager.get_plugin(n) is not None}
    assert present == loaded
    assert (CARE in engine.schemes) is (CARE in loaded)


def test_environment_variable_does_not_affect_builtin_or_explicit_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_PLUGINS, "")
    explicit = SimpleNamespace(__name__="explicit_plugin")
    engine = bird_engine(plugins=[explicit])
    assert "bird_style" in engine.schemes
    assert engine.plugin_manager.get_plugin("explicit_plugin") is explicit


# -- every PluginError path ----------------------------------------------------


def fake_entry_point(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Make ``name`` the only installed entry point (error paths only: discovery
    itself is tested with the real installed packages above)."""
    ep = importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)

    def entry_points(**params: Any) -> Any:
        assert params == {"group": ENTRY_POINT_GROUP}
        return importlib.metadata.EntryPoints([ep])

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.delenv(ENV_PLUGINS, raising=False)


@pytest.fixture
def broken_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module that raises while being imported."""
    name = "cr_test_broken_on_import"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('database not configured')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_entry_point_that_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_point(monkeypatch, "ghost", "cr_test_no_such_module_anywhere")
    with pytest.raises(cr.PluginError) as info:
        cr.Engine(block=OTHER_SCHEMES)
    assert info.value.plugin == "ghost"
    assert "ModuleNotFoundError" in info.value.cause
    assert "cr_test_no_such_module_anywhere" in info.value.cause


def test_entry_point_that_raises_on_import(monkeypatch: pytest.MonkeyPatch, broken_module: str) -> None:
    fake_entry_point(monkeypatch, "broken", broken_module)
    with pytest.raises(cr.PluginError, match="database not configured") as info:
        cr.Engine(block=OTHER_SCHEMES)
    assert info.value.plugin == "broken"


def test_a_broken_entry_point_can_be_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_point(monkeypatch, "ghost", "cr_test_no_such_module_anywhere")
    assert "bird_style" in cr.Engine(block=["ghost", *OTHER_SCHEMES]).schemes


def test_explicit_plugin_module_name_that_cannot_be_imported(broken_module: str) -> None:
    with pytest.raises(cr.PluginError, match="cannot import: RuntimeError: database not configured") as info:
        cr.Engine(plugins=[broken_module], load_entry_points=False, block=OTHER_SCHEMES)
    assert info.value.plugin == broken_module


def test_explicit_plugin_given_by_module_name_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cr_test_named_plugin.py").write_text(
        textwrap.dedent(
            """
            import customer_rules as cr

            @cr.hookimpl
            def register_features():
                @cr.feature(type="integer", description="always seven")
                def cr_test_seven(customer, as_of):
                    return 7
                return cr_test_seven
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    engine = cr.Engine(plugins=["cr_test_named_plugin"], load_entry_points=False, block=OTHER_SCHEMES)
    assert "cr_test_seven" in engine.features
    sys.modules.pop("cr_test_named_plugin", None)


def raises_plugin_error(plugin: Any, match: str, **kwargs: Any) -> cr.PluginError:
    kwargs.setdefault("block", OTHER_SCHEMES)
    with pytest.raises(cr.PluginError, match=match) as info:
        cr.Engine(plugins=[plugin], load_entry_points=False, **kwargs)
    return info.value


def test_bad_hook_signature() -> None:
    class BadArgs:
        @cr.hookimpl
        def choose_strategy(self, decision: Any, colour: Any) -> None:
            return None

    err = raises_plugin_error(BadArgs(), "bad hook implementation")
    assert err.plugin.endswith("BadArgs")
    assert "colour" in err.cause


def test_unknown_hook_name() -> None:
    class Typo:
        @cr.hookimpl
        def choose_strategies(self, decision: Any) -> None:
            return None

    err = raises_plugin_error(Typo(), "choose_strategies")
    assert err.plugin.endswith("Typo")
    assert "unknown hook" in err.cause


def test_hook_without_the_marker_is_reported_not_ignored() -> None:
    plugin = SimpleNamespace(__name__="forgot_marker", register_schemes=lambda: None)
    err = raises_plugin_error(plugin, "not marked with @customer_rules.hookimpl")
    assert err.plugin == "forgot_marker"
    assert "register_schemes" in err.cause


def test_a_plugin_given_twice_is_registered_once(installed: Any) -> None:
    import customer_rules_care

    twice = SimpleNamespace(__name__="twice")
    engine = bird_engine(plugins=[twice, twice, customer_rules_care])  # care is also an entry point
    names = [name for name, _ in engine.plugin_manager.list_name_plugin()]
    assert names.count("twice") == 1
    assert CARE in names and "customer_rules_care" not in names


def test_two_instances_of_one_plugin_class_are_both_registered() -> None:
    first, second = Recorder(), Recorder()
    engine = cr.Engine(plugins=[first, second], load_entry_points=False, block=OTHER_SCHEMES)
    names = [name for name, _ in engine.plugin_manager.list_name_plugin()]
    assert f"{__name__}.Recorder" in names and f"{__name__}.Recorder#2" in names


def one_label_policy(pid: str = "extra_scheme", **extra: Any) -> cr.Policy:
    return cr.Policy.model_validate(
        {"id": pid, "labels": [{"id": "only", "zh": "唯一", "en": "only"}], "default": "only", **extra}
    )


def schemes_plugin(name: str, result: Any) -> SimpleNamespace:
    @cr.hookimpl
    def register_schemes() -> Any:
        return result

    return SimpleNamespace(__name__=name, register_schemes=register_schemes)


def features_plugin(name: str, result: Any) -> SimpleNamespace:
    @cr.hookimpl
    def register_features() -> Any:
        return result

    return SimpleNamespace(__name__=name, register_features=register_features)


def test_scheme_id_clash_names_both_plugins() -> None:
    err = raises_plugin_error(schemes_plugin("mine", cr.Scheme(one_label_policy("bird_style"))), "bird_style")
    assert err.plugin == "mine"
    assert f"already registered by {BIRD_PLUGIN!r}" in err.cause


def test_a_clashing_builtin_scheme_can_be_replaced_by_blocking_it() -> None:
    plugin = schemes_plugin("mine", cr.Scheme(one_label_policy("bird_style")))
    engine = cr.Engine(plugins=[plugin], load_entry_points=False, block=[BIRD_PLUGIN, *OTHER_SCHEMES])
    assert engine.schemes["bird_style"].plugin == "mine"


def test_feature_name_clash_with_another_plugin() -> None:
    @cr.feature(type="integer", description="my own count")
    def open_cases(customer: Any, as_of: Any) -> int:
        return 0

    err = raises_plugin_error(features_plugin("mine", open_cases), "open_cases")
    assert err.plugin == "mine"
    assert "already registered by 'customer_rules.builtin.features'" in err.cause


def test_feature_name_clash_with_a_record_field() -> None:
    @cr.feature(type="string", description="shadows the record")
    def segment(customer: Any, as_of: Any) -> str:
        return "x"

    err = raises_plugin_error(features_plugin("mine", segment), "clashes with a record field")
    assert err.plugin == "mine"


def test_register_features_returning_something_else() -> None:
    err = raises_plugin_error(features_plugin("mine", ["open_cases"]), "not a Feature")
    assert err.plugin == "mine"


def test_register_schemes_returning_something_else() -> None:
    err = raises_plugin_error(schemes_plugin("mine", {"id": "x"}), "not a Scheme")
    assert err.plugin == "mine"


def test_policy_that_does_not_type_check() -> None:
    policy = one_label_policy(rules=[{"id": "r", "when": "value.revenue > 1", "then": "only"}])
    err = raises_plugin_error(schemes_plugin("mine", cr.Scheme(policy)), "does not load")
    assert err.plugin == "mine"
    assert "value.revenue" in err.cause


def test_policy_file_that_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("id: broken\nlabels: [\n")

    @cr.hookimpl
    def register_schemes() -> cr.Scheme:
        return cr.load_scheme(tmp_path)

    plugin = SimpleNamespace(__name__="mine", register_schemes=register_schemes)
    err = raises_plugin_error(plugin, "register_schemes failed: PolicyError")
    assert err.plugin == "mine"
    assert "policy.yaml" in err.cause


def test_strategy_for_a_label_the_scheme_does_not_have() -> None:
    strategy = cr.Strategy(summary=cr.Text(en="x", zh="x"))
    scheme = cr.Scheme(one_label_policy(), strategies={"ghost": strategy})
    err = raises_plugin_error(schemes_plugin("mine", scheme), "unknown label 'ghost'")
    assert err.plugin == "mine"


def test_register_hook_that_raises() -> None:
    @cr.hookimpl
    def register_features() -> Any:
        raise KeyError("config")

    plugin = SimpleNamespace(__name__="mine", register_features=register_features)
    err = raises_plugin_error(plugin, "register_features failed: KeyError")
    assert err.plugin == "mine"


class Raising:
    """A plugin whose per-decision hooks raise."""

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def _maybe_raise(self, hook: str) -> None:
        if hook == self.hook:
            raise ValueError(f"{hook} exploded")

    @cr.hookimpl
    def choose_strategy(self) -> None:
        self._maybe_raise("choose_strategy")

    @cr.hookimpl
    def adjust_decision(self) -> None:
        self._maybe_raise("adjust_decision")

    @cr.hookimpl
    def observe_profile(self) -> None:
        self._maybe_raise("observe_profile")


@pytest.mark.parametrize("hook", ["choose_strategy", "adjust_decision", "observe_profile"])
def test_a_hook_that_raises_while_classifying_names_the_plugin(hook: str) -> None:
    engine = cr.Engine(plugins=[Raising(hook)], load_entry_points=False, block=OTHER_SCHEMES)
    with pytest.raises(cr.PluginError, match=f"{hook} failed: ValueError: {hook} exploded") as info:
        engine.classify(EAGLE, as_of=AS_OF)
    assert info.value.plugin == f"{__name__}.Raising"
    assert isinstance(info.value.__cause__, ValueError)


def test_a_raising_hook_is_named_even_behind_a_hook_wrapper() -> None:
    class Wrapper:
        @cr.hookimpl(wrapper=True)
        def observe_profile(self) -> Any:
            return (yield)

    engine = cr.Engine(
        plugins=[Raising("observe_profile"), Wrapper()], load_entry_points=False, block=OTHER_SCHEMES
    )
    with pytest.raises(cr.PluginError, match="observe_profile exploded") as info:
        engine.classify(EAGLE, as_of=AS_OF)
    assert info.value.plugin == f"{__name__}.Raising"


def test_choose_strategy_returning_something_else() -> None:
    class Wrong:
        @cr.hookimpl
        def choose_strategy(self) -> str:
            return "be nice"

    engine = cr.Engine(plugins=[Wrong()], load_entry_points=False, block=OTHER_SCHEMES)
    with pytest.raises(cr.PluginError, match="returned str, not a Strategy") as info:
        engine.decide("bird_style", EAGLE, as_of=AS_OF)
    assert info.value.plugin.endswith("Wrong")


class Overrides:
    """adjust_decision returning a fixed answer for bird_style."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    @cr.hookimpl
    def adjust_decision(self, scheme: cr.Scheme) -> Any:
        return self.answer if scheme.id == "bird_style" else None


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ("owl", "returned str, not an Override"),
        (cr.Override(label="phoenix", reason="r", author="a"), "'phoenix' is not a label of 'bird_style'"),
    ],
)
def test_adjust_decision_returning_a_bad_override(answer: Any, match: str) -> None:
    engine = cr.Engine(plugins=[Overrides(answer)], load_entry_points=False, block=OTHER_SCHEMES)
    with pytest.raises(cr.PluginError, match=match) as info:
        engine.decide("bird_style", EAGLE, as_of=AS_OF)
    assert info.value.plugin == f"{__name__}.Overrides"


# -- adjust_decision: manual overrides with expiry -----------------------------


def override_engine(*answers: Any) -> cr.Engine:
    plugins = [Overrides(a) for a in answers]
    names = [f"override_{i}" for i in range(len(answers))]
    for p, n in zip(plugins, names, strict=True):
        p.__name__ = n  # type: ignore[attr-defined]
    return cr.Engine(plugins=plugins, load_entry_points=False, block=OTHER_SCHEMES)


GRADE = cr.Override(
    label="owl", reason="key person in the tender", author="li.wei", expires=dt.date(2026, 12, 31)
)


@pytest.mark.parametrize("day", [AS_OF, GRADE.expires])
def test_override_applies_until_its_expiry_inclusive(day: dt.date) -> None:
    decision = override_engine(GRADE).decide("bird_style", EAGLE, as_of=day)
    assert decision.label == "owl"
    assert decision.labels == ("owl",)
    assert decision.note is not None
    for part in ("li.wei", "2026-12-31", "key person in the tender", "rules said eagle"):
        assert part in decision.note
    assert decision.evidence["behaviour.speech_pace"] == "fast"  # the rule's evidence is kept
    assert decision.strategy == builtin_strategy("owl")  # the strategy follows the override
    assert "li.wei" in decision.explain(detail="full")


def test_override_lapses_after_its_expiry() -> None:
    decision = override_engine(GRADE).decide("bird_style", EAGLE, as_of=dt.date(2027, 1, 1))
    assert decision.label == "eagle"
    assert decision.note is None
    assert decision.strategy == builtin_strategy("eagle")


def test_override_without_expiry_always_applies() -> None:
    forever = cr.Override(label="dove", reason="family friend", author="boss")
    assert override_engine(forever).decide("bird_style", EAGLE, as_of=dt.date(2099, 1, 1)).label == "dove"


def test_an_expired_override_lets_the_next_plugin_answer() -> None:
    older = cr.Override(label="dove", reason="standing order", author="boss")
    expired = cr.Override(label="owl", reason="old", author="li.wei", expires=dt.date(2026, 1, 1))
    # the last registered plugin is asked first: ``expired`` is asked before ``older``
    decision = override_engine(older, expired).decide("bird_style", EAGLE, as_of=AS_OF)
    assert decision.label == "dove"
    assert decision.note is not None and "boss" in decision.note


def test_override_uses_the_new_labels_flags() -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "flagged",
            "labels": [
                {"id": "risky", "zh": "高风险", "en": "risky", "flags": ["watch"]},
                {"id": "calm", "zh": "平稳", "en": "calm", "flags": ["relax"]},
            ],
            "rules": [{"id": "r", "when": "value.revenue_12m > 0", "then": "risky"}],
            "flags": [{"id": "has_cases", "when": "len(cases) >= 0", "en": "has cases", "zh": "有案例"}],
        }
    )

    class Calm:
        @cr.hookimpl
        def adjust_decision(self) -> cr.Override:
            return cr.Override(label="calm", reason="reviewed", author="qa")

    engine = cr.Engine(
        [policy], plugins=[Calm()], load_entry_points=False, block=[BIRD_PLUGIN, *OTHER_SCHEMES]
    )
    decision = engine.decide("flagged", {"id": "x", "value": {"revenue_12m": 5}}, as_of=AS_OF)
    assert decision.label == "calm"
    assert decision.flags == ("relax", "has_cases")


# -- observe_profile ----------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str | None] = []

    @cr.hookimpl
    def observe_profile(self, profile: cr.Profile) -> None:
        self.seen.append(profile.customer_id)


def test_observe_profile_is_called_once_per_profile() -> None:
    rec = Recorder()
    engine = cr.Engine(plugins=[rec], load_entry_points=False, block=OTHER_SCHEMES)
    engine.classify(EAGLE, as_of=AS_OF)
    assert rec.seen == ["eagle-1"]
    rows = [bird("dove"), {"no": "id"}, bird("owl")]
    batch = engine.classify_many(rows, as_of=AS_OF)
    assert len(batch.profiles) == 2 and len(batch.rejected) == 1
    assert rec.seen == ["eagle-1", "dove-1", "owl-1"]  # rejected rows are not observed


def test_observe_profile_sees_final_decisions_and_every_observer_is_called() -> None:
    first, second = Recorder(), Recorder()
    final: list[str | None] = []

    class Check:
        @cr.hookimpl
        def observe_profile(self, profile: cr.Profile) -> None:
            final.append(profile["bird_style"].label)

    grade = cr.Override(label="owl", reason="r", author="a")
    engine = cr.Engine(
        plugins=[first, second, Check(), Overrides(grade)], load_entry_points=False, block=OTHER_SCHEMES
    )
    engine.classify(EAGLE, as_of=AS_OF)
    assert first.seen == second.seen == ["eagle-1"]
    assert final == ["owl"]


def test_decide_alone_does_not_notify_observers() -> None:
    rec = Recorder()
    cr.Engine(plugins=[rec], load_entry_points=False, block=OTHER_SCHEMES).decide(
        "bird_style", EAGLE, as_of=AS_OF
    )
    assert rec.seen == []


# -- opt-in hook arguments -------------------------------------------------------


def test_implementations_may_take_fewer_arguments_than_the_spec() -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []
    mine = cr.Strategy(summary=cr.Text(en="mine", zh="我的"))

    class Minimal:
        @cr.hookimpl
        def register_features(self) -> None:
            calls.append(("register_features", ()))

        @cr.hookimpl
        def register_schemes(self) -> None:
            calls.append(("register_schemes", ()))

        @cr.hookimpl
        def choose_strategy(self, decision: cr.Decision) -> cr.Strategy:
            calls.append(("choose_strategy", (decision.label or "",)))
            return mine

        @cr.hookimpl
        def adjust_decision(self, as_of: dt.date) -> None:
            calls.append(("adjust_decision", (as_of.isoformat(),)))

        @cr.hookimpl
        def observe_profile(self, engine: cr.Engine) -> None:
            calls.append(("observe_profile", (type(engine).__name__,)))

    engine = cr.Engine(plugins=[Minimal()], load_entry_points=False, block=OTHER_SCHEMES)
    profile = engine.classify(EAGLE, as_of=AS_OF)
    assert profile["bird_style"].strategy is mine
    assert calls == [
        ("register_features", ()),
        ("register_schemes", ()),
        ("adjust_decision", ("2026-11-22",)),
        ("choose_strategy", ("eagle",)),
        ("observe_profile", ("Engine",)),
    ]


def test_the_builtin_strategy_plugin_uses_opt_in_arguments() -> None:
    spec = inspect.signature(hookspecs.choose_strategy).parameters
    impl = inspect.signature(sys.modules["customer_rules.builtin.strategies"].choose_strategy).parameters
    assert set(impl) < set(spec)


def test_hookimpl_is_exported_from_the_package_root() -> None:
    assert cr.hookimpl is hookspecs.hookimpl
    assert isinstance(cr.hookimpl, pluggy.HookimplMarker)
    assert hookspecs.PROJECT == "customer_rules"


# -- the conformance kit ------------------------------------------------------------


BUILTIN = cr.Engine(load_entry_points=False)


@pytest.mark.parametrize("scheme_id", list(BUILTIN.schemes))
def test_builtin_scheme_passes_the_conformance_kit(scheme_id: str) -> None:
    report = check_scheme(BUILTIN.schemes[scheme_id], BUILTIN)
    assert report.ok, str(report)


@pytest.mark.parametrize("plugin", DEFAULT_PLUGINS)
def test_builtin_plugin_passes_the_conformance_kit(plugin: str) -> None:
    report = check_plugin(plugin)
    assert report.ok, str(report)


def test_builtin_features_pass_the_conformance_kit() -> None:
    for feat in BUILTIN.features.values():
        check_feature(feat)


def test_installed_plugins_pass_the_conformance_kit(installed: Any) -> None:
    import customer_rules_care
    import customer_rules_test_strategy_override as override

    assert check_plugin(customer_rules_care).schemes == (CARE,)
    report = check_plugin(override)  # hooks only: checked through every scheme's decisions
    assert report.ok and report.schemes == () and report.features == ()


def test_conformance_kit_holds_a_plugin_to_the_schemes_it_names() -> None:
    """A plugin whose ``strategy_schemes`` leaves out a scheme it chooses
    strategies for would make the policy lab count the wrong cadences."""

    class Liar:
        @cr.hookimpl
        def choose_strategy(self, decision: cr.Decision, scheme: cr.Scheme) -> cr.Strategy | None:
            own = scheme.strategies.get(decision.label) if decision.label else None
            if scheme.id != "bird_style" or own is None:
                return None
            return own.model_copy(update={"cadence": cr.Cadence(min_days=1, max_days=2)})

        @cr.hookimpl
        def strategy_schemes(self) -> list[str]:
            return ["crisis"]

    report = check_plugin(Liar(), raise_errors=False)
    assert any("strategy_schemes hook names 'bird_style'" in p for p in report.problems), report.problems

    class Honest(Liar):
        @cr.hookimpl
        def strategy_schemes(self) -> list[str]:
            return ["bird_style"]

    assert check_plugin(Honest(), raise_errors=False).ok


def test_a_whole_engine_passes_the_conformance_kit(installed: Any) -> None:
    engine = cr.Engine()
    report = check_plugin(engine)
    assert report.ok, str(report)
    assert set(report.schemes) == set(engine.schemes)


def text(en: str, zh: str | None = "中文") -> dict[str, Any]:
    return {"en": en, "zh": zh}


def test_conformance_kit_lists_every_scheme_problem() -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "sloppy",
            "labels": [
                {"id": "a", "zh": "甲", "en": "A"},
                {"id": "b", "zh": "乙", "en": "B"},
                {"id": "c", "zh": "丙", "en": "C"},
                {"id": "d", "zh": "丁", "en": "D"},
            ],
            "rules": [
                {"id": "r1", "when": "value.revenue_12m > 100", "then": "a", "because": {"en": "big"}},
                {"id": "r2", "when": "value.revenue_12m > 10", "then": "b"},
            ],
        }
    )
    strategies = {
        "a": cr.Strategy(summary=cr.Text(**text("ok")), actions=(cr.Text(en="do it"),)),
        "b": cr.Strategy(summary=cr.Text(**text("ok"))),
        "d": cr.Strategy(summary=cr.Text(**text("ok"))),
    }
    scheme = cr.Scheme(policy, strategies=strategies, unreachable=("d", "b", "zz"))
    with pytest.raises(ConformanceError) as info:
        check_scheme(scheme)
    problems = info.value.problems
    expected = [
        "label 'c' is unreachable",
        "declares unknown label 'zz' unreachable",
        "label 'b' is declared unreachable but rule 'r2' gives it",
        "label 'c' has no strategy",
        "strategy of 'a' actions[0] has no Chinese (zh) text",
        "rule 'r1' because has no Chinese (zh) text",
    ]
    for part in expected:
        assert any(part in p for p in problems), (part, problems)
    assert len(problems) == len(expected)
    assert isinstance(info.value, AssertionError)
    message = str(info.value)
    assert all(p in message for p in problems)


def test_conformance_kit_reports_a_policy_that_does_not_type_check() -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "typo",
            "labels": [{"id": "a", "zh": "甲", "en": "A"}],
            "rules": [{"id": "r", "when": "value.revenue > 1", "then": "a"}],
        }
    )
    report = check_scheme(
        cr.Scheme(policy, strategies={"a": cr.Strategy(summary=cr.Text(**text("x")))}), raise_errors=False
    )
    assert not report.ok
    assert any("does not type-check" in p and "value.revenue" in p for p in report.problems)


def test_conformance_kit_reports_a_policy_that_fails_on_sample_records() -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "clash",
            "hit": "unique",
            "labels": [{"id": "a", "zh": "甲", "en": "A"}, {"id": "b", "zh": "乙", "en": "B"}],
            "rules": [{"id": "r1", "when": "true", "then": "a"}, {"id": "r2", "when": "true", "then": "b"}],
        }
    )
    strategies = {k: cr.Strategy(summary=cr.Text(**text(k))) for k in "ab"}
    report = check_scheme(cr.Scheme(policy, strategies=strategies), raise_errors=False)
    assert len(report.problems) == 1
    assert "raised" in report.problems[0] and "both match" in report.problems[0]


def test_conformance_kit_checks_features_on_the_sample() -> None:
    @cr.feature(type="integer", description="returns a float")
    def wobbly(customer: cr.Customer, as_of: dt.date) -> float:
        return 1.5

    @cr.feature(type="date", description="breaks on the empty record")
    def fragile(customer: cr.Customer, as_of: dt.date) -> dt.date:
        return customer.interactions[0].at

    @cr.feature(type="integer", description="forgot the customer argument")
    def short(as_of: dt.date) -> int:
        return 1

    @cr.feature(type="string", description="", enum=("x", "y"))
    def undocumented(customer: cr.Customer, as_of: dt.date) -> str:
        return "z"

    @cr.feature(type="integer", description="fine", args=(("days", "integer"),))
    def within(customer: cr.Customer, as_of: dt.date, days: int) -> int:
        return days

    problems = {
        f.name: check_feature(f, raise_errors=False).problems
        for f in (wobbly, fragile, short, undocumented, within)
    }
    assert "declared integer" in problems["wobbly"][0]
    assert "raised on" in problems["fragile"][0] and "IndexError" in problems["fragile"][0]
    assert "cannot be called as (customer, as_of)" in problems["short"][0]
    assert problems["undocumented"][0].endswith("has no description")
    assert "not one of x, y" in problems["undocumented"][1]
    assert problems["within"] == ()
    assert check_feature(within, args=(7,), raise_errors=False).ok


def test_conformance_kit_checks_strategies_a_plugin_chooses() -> None:
    class Monolingual:
        @cr.hookimpl
        def choose_strategy(self) -> cr.Strategy:
            return cr.Strategy(summary=cr.Text(en="English only"))

    with pytest.raises(ConformanceError, match="strategy chosen for 'eagle' summary has no Chinese"):
        check_plugin(Monolingual())


def test_conformance_kit_checks_a_plugin_passed_by_module_name() -> None:
    report = check_plugin("customer_rules.builtin.features")
    assert "open_cases" in report.features and report.schemes == ()


# -- pytest fixtures of customer_rules.testing ------------------------------------


def test_engine_fixture_is_a_fresh_engine_without_entry_points(engine: cr.Engine, installed: Any) -> None:
    assert isinstance(engine, cr.Engine)
    assert CARE not in engine.schemes
    assert set(engine.schemes) == set(BUILTIN.schemes)
    assert engine is not BUILTIN


def test_engine_factory_fixture(engine_factory: Any, installed: Any) -> None:
    policy = one_label_policy()
    made = engine_factory(policy, block=OTHER_SCHEMES)
    assert "extra_scheme" in made.schemes and CARE not in made.schemes
    assert CARE in engine_factory(load_entry_points=True, block=OTHER_SCHEMES).schemes


def test_fixtures_come_from_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert names.get("customer_rules") == "customer_rules.testing"
    assert pytestconfig.pluginmanager.has_plugin("customer_rules")


def test_testing_module_imports_without_pytest() -> None:
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import customer_rules.testing as t\n"
        "assert not hasattr(t, 'engine') and not hasattr(t, 'engine_factory')\n"
        "assert callable(t.check_plugin)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
