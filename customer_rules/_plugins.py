"""Building the plugin manager of one engine.

Order: the built-in plugins (the default-plugins list), then entry-point
plugins of the ``customer_rules`` group, then plugins passed explicitly.
Nothing happens at import time; every engine gets its own manager.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from typing import Any

import pluggy

from . import hookspecs
from ._errors import PluginError

#: The built-in plugins, registered first in this order. This is the only
#: place in the package that names them.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "customer_rules.builtin.features",
    "customer_rules.builtin.strategies",
)

#: Environment variable limiting which entry-point plugins load: a
#: comma-separated list of entry-point names; empty means none.
ENV_PLUGINS = "CUSTOMER_RULES_PLUGINS"

ENTRY_POINT_GROUP = "customer_rules"


def plugin_name(plugin: Any) -> str:
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}"


def _register(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    if pm.is_blocked(name):
        return
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
        try:
            module = importlib.import_module(modname)
        except Exception as exc:
            raise PluginError(modname, f"cannot import: {type(exc).__name__}: {exc}") from exc
        _register(pm, module, modname)
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
        _register(pm, plugin, plugin_name(plugin))
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
