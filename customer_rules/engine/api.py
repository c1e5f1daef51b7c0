"""Top-level helpers that do not need an engine of the caller's."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from customer_rules.errors import PolicyError
from customer_rules.lang.policy import (
    Policy,
    is_policy_file,
    parse_policy,
    policy_file_text,
    read_policy_file,
    read_policy_text,
    short,
)

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


def policy_problems(
    source: str | Path,
    *,
    format: str | None = None,
    engine: Engine | None = None,
) -> list[PolicyError]:
    """Every problem of a policy, not only the first: what ``customer-rules
    check`` lists. ``source`` is read as by :func:`load_policy`.

    A syntax error or a limit stops the reading (one problem); otherwise
    every structural problem (unknown and missing keys, wrong types,
    unknown labels) is listed; a structurally valid policy has each rule's
    and flag's condition checked against ``engine``. A derived value that
    does not check stops there: the rules read it. Empty when the policy loads.
    """
    if is_policy_file(source):
        text, fmt = policy_file_text(source, format)
        file: str | None = str(source)
    elif format is None:
        return [PolicyError(f"no such policy file: {short(str(source))!r}", hint="check the path")]
    else:
        text, fmt, file = str(source), format, None
    policy, problems = read_policy_text(text, fmt, file=file)
    if policy is None:
        return problems
    eng = engine or _builtin_engine()
    # each failing condition is set aside (replaced by `true`, keeping every
    # position) and the policy checked again, until it checks: one pass per problem
    where = re.compile(r"^(rules|flags)\[(\d+)\]\.when$")
    while True:
        try:
            eng.check(policy)
            return problems
        except PolicyError as exc:
            problems.append(exc)
            m = where.match(exc.field or "")
            if m is None:
                return problems
            policy = _set_aside(policy, m.group(1), int(m.group(2)))


def _set_aside(policy: Policy, key: str, index: int) -> Policy:
    items = list(getattr(policy, key))
    items[index] = items[index].model_copy(update={"when": "true"})
    new = policy.model_copy(update={key: tuple(items)})
    new._origin = policy._origin
    return new
