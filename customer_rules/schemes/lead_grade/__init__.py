"""Built-in plugin: the ``lead_grade`` scheme (sales lead grade A / B1 / B2 / B3 / C / D).

The rules, parameters and labels are in ``policy.yaml`` next to this file,
the strategies in ``strategies.yaml``; this module only registers them.
"""

from __future__ import annotations

from pathlib import Path

from customer_rules.plugin import Scheme, hookimpl, load_scheme


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="tier")
