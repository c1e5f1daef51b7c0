"""Built-in plugin: the ``customer_quality`` scheme (good / average / poor customers, with big-customer risk flags and a fit check).

The rules, parameters and labels are in ``policy.yaml`` next to this file,
the strategies in ``strategies.yaml``; this module only registers them.
"""

from __future__ import annotations

from pathlib import Path

from customer_rules.plugin import Scheme, hookimpl, load_scheme


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="tier")
