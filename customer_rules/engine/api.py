"""Top-level helpers that do not need an engine of the caller's."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from customer_rules.lang.policy import Policy, parse_policy, read_policy_file

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine


@lru_cache(maxsize=1)
def _builtin_engine() -> Engine:
    from customer_rules.engine.engine import Engine

    return Engine(load_entry_points=False)


def load_policy(
    source: str | Path,
    *,
    format: str | None = None,
    engine: Engine | None = None,
) -> Policy:
    """Load a policy from a file (YAML, JSON or TOML by extension) and check it.

    Names and types are checked against ``engine`` (its record fields and
    features), or against the record model and the built-in features when
    no engine is given. Pass ``format=`` to read text instead of a file:
    ``load_policy(text, format="yaml")``.
    """
    is_text = isinstance(source, str) and ("\n" in source or not Path(source).exists())
    if format is not None and is_text:
        policy = parse_policy(str(source), format)
    else:
        policy = read_policy_file(source, format)
    (engine or _builtin_engine()).check(policy)
    return policy
