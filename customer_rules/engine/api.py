"""Top-level helpers that do not need an engine of the caller's."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from customer_rules.errors import PolicyError
from customer_rules.lang.policy import Policy, is_policy_file, parse_policy, read_policy_file, short

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
    """Load a policy from a file or from text, and check it.

    ``source`` is read as a file when it is a :class:`pathlib.Path` or a
    string naming an existing file (the format comes from the extension
    unless ``format`` is given); any other string is policy text, and then
    ``format`` (``"yaml"``, ``"json"`` or ``"toml"``) is required:
    ``load_policy(Path("tier.yaml"))``, ``load_policy(text, format="yaml")``.
    Nothing is guessed from the length or the look of the string.

    Names and types are checked against ``engine`` (its record fields and
    features), or against the record model and the built-in features when
    no engine is given.
    """
    if is_policy_file(source):
        policy = read_policy_file(source, format)
    elif format is None:
        raise PolicyError(
            f"no such policy file: {short(str(source))!r}",
            hint="for policy text pass format='yaml', 'json' or 'toml'; for a file, check the path",
        )
    else:
        policy = parse_policy(str(source), format)
    (engine or _builtin_engine()).check(policy)
    return policy
