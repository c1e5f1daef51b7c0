"""Building the plugin manager of one engine.

Order: the built-in plugins (the default-plugins list), then entry-point
plugins of the ``customer_rules`` group, then plugins passed explicitly.
Nothing happens at import time; every engine gets its own manager.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from customer_rules import hookspecs
from customer_rules.errors import PluginError

#: The built-in plugins, registered first in this order. This is the only
#: place in the package that names them.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "customer_rules.builtin.features",
    "customer_rules.builtin.strategies",
    "customer_rules.schemes.nine_types",
    "customer_rules.schemes.social_style",
    "customer_rules.schemes.bird_style",
    "customer_rules.schemes.lead_grade",
    "customer_rules.schemes.customer_quality",
    "customer_rules.schemes.deal_stage",
    "customer_rules.schemes.satisfaction",
    "customer_rules.schemes.crisis",
    "customer_rules.schemes.value_pyramid",
    "customer_rules.schemes.rfm",
    "customer_rules.schemes.terminal_priority",
    "customer_rules.schemes.retail_license_grade",
    # statecharts of event streams, plugins apart from their schemes' (a replaced
    # scheme keeps its chart)
    "customer_rules.schemes.deal_stage.statechart",
    "customer_rules.schemes.crisis.statechart",
    "customer_rules.schemes.satisfaction.statechart",
)

#: Environment variable limiting which entry-point plugins load: a
#: comma-separated list of entry-point names; empty means none.
ENV_PLUGINS = "CUSTOMER_RULES_PLUGINS"

ENTRY_POINT_GROUP = "customer_rules"


def plugin_name(plugin: Any) -> str:
    """The name a plugin is registered (and blocked) under: a module's name,
    an object's ``__name__``, else ``module.ClassName`` of the object (a
    second instance of the same class gets ``#2`` appended, and so on)."""
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}"


def _unmarked_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Hook names the plugin defines as plain functions, without the marker
    (pluggy would ignore them silently)."""
    out = []
    for hook in vars(pm.hook):
        attr = getattr(plugin, hook, None)
        if callable(attr) and pm.parse_hookimpl_opts(plugin, hook) is None:
            out.append(hook)
    return out


def _import(modname: str) -> Any:
    try:
        return importlib.import_module(modname)
    except Exception as exc:
        raise PluginError(modname, f"cannot import: {type(exc).__name__}: {exc}") from exc


def _register(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    if pm.is_blocked(name):
        return
    unmarked = _unmarked_hooks(pm, plugin)
    if unmarked:
        raise PluginError(
            name,
            f"{', '.join(unmarked)} looks like a hook implementation but is not marked"
            " with @customer_rules.hookimpl",
        )
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(name, f"bad hook implementation: {exc}") from None
    except ValueError as exc:
        raise PluginError(name, str(exc)) from None


def build_manager(
    plugins: Iterable[Any] = (),
    *,
    load_entry_points: bool = True,
    block: Iterable[str] = (),
    default_plugins: Iterable[str] = DEFAULT_PLUGINS,
) -> pluggy.PluginManager:
    """A fresh plugin manager with built-in, entry-point and explicit plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in block:
        pm.set_blocked(name)
    for modname in default_plugins:
        if pm.is_blocked(modname):
            continue
        _register(pm, _import(modname), modname)
    if load_entry_points:
        allowed = os.environ.get(ENV_PLUGINS)
        allow = None if allowed is None else {a.strip() for a in allowed.split(",") if a.strip()}
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if allow is not None and ep.name not in allow:
                continue
            if pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    ep.name, f"cannot load entry point {ep.value!r}: {type(exc).__name__}: {exc}"
                ) from exc
            _register(pm, plugin, ep.name)
    for plugin in plugins:
        if isinstance(plugin, str):  # a module name
            if pm.is_blocked(plugin):
                continue
            plugin = _import(plugin)
        name = plugin_name(plugin)
        if pm.is_blocked(name) or pm.is_registered(plugin):  # e.g. also loaded by its entry point
            continue
        unique, n = name, 2
        while pm.get_plugin(unique) not in (None, plugin):  # another instance of the same class
            unique, n = f"{name}#{n}", n + 1
        _register(pm, plugin, unique)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(pm.get_name(exc.plugin) or plugin_name(exc.plugin), str(exc)) from None
    return pm


def call_each(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of ``hook`` in registration order, keeping
    which plugin gave which result (pluggy's own call does not say)."""
    caller = getattr(pm.hook, hook)
    out: list[tuple[str, Any]] = []
    for impl in caller.get_hookimpls():
        args = {a: kwargs[a] for a in impl.argnames}
        try:
            result = impl.function(**args)
        except Exception as exc:
            raise PluginError(impl.plugin_name, f"{hook} failed: {type(exc).__name__}: {exc}") from exc
        if result is None:
            continue
        out.append((impl.plugin_name, result))
    return out


def _is_wrapper(impl: pluggy.HookImpl) -> bool:
    return bool(impl.hookwrapper or impl.wrapper)


def _culprit(impls: list[pluggy.HookImpl], exc: BaseException) -> str | None:
    """The plugin whose implementation raised ``exc`` (deepest frame wins)."""
    codes = {}
    for impl in impls:
        code = getattr(impl.function, "__code__", None)
        if code is not None:
            codes[code] = impl.plugin_name
    owner = None
    tb = exc.__traceback__
    while tb is not None:
        owner = codes.get(tb.tb_frame.f_code, owner)
        tb = tb.tb_next
    return owner


def _failed(hook: str, owner: str | None, exc: Exception) -> PluginError:
    return PluginError(owner or f"<{hook} hook>", f"{hook} failed: {type(exc).__name__}: {exc}")


def call_hook(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> Any:
    """Call ``hook`` the way pluggy does (every implementation, or the first
    result for ``firstresult`` hooks); an exception raised by an
    implementation comes back as a :class:`PluginError` naming its plugin."""
    caller = getattr(pm.hook, hook)
    try:
        return caller(**kwargs)
    except PluginError:
        raise
    except Exception as exc:
        raise _failed(hook, _culprit(caller.get_hookimpls(), exc), exc) from exc


def call_first(
    pm: pluggy.PluginManager,
    hook: str,
    accept: Callable[[Any], bool] | None = None,
    **kwargs: Any,
) -> tuple[str | None, Any]:
    """Call a ``firstresult`` hook in pluggy's order (last registered first,
    ``tryfirst``/``trylast`` honoured) and return ``(plugin name, result)``
    of the first implementation whose result is not ``None`` (and passes
    ``accept``), or ``(None, None)``. With hook wrappers present, pluggy
    itself calls the hook and the plugin that answered is not known."""
    impls = getattr(pm.hook, hook).get_hookimpls()
    if any(_is_wrapper(i) for i in impls):
        result = call_hook(pm, hook, **kwargs)
        return None, (result if result is None or accept is None or accept(result) else None)
    for impl in reversed(impls):
        try:
            result = impl.function(**{a: kwargs[a] for a in impl.argnames})
        except PluginError:
            raise
        except Exception as exc:
            raise _failed(hook, impl.plugin_name, exc) from exc
        if result is not None and (accept is None or accept(result)):
            return impl.plugin_name, result
    return None, None
