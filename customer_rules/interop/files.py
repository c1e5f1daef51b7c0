"""Policy files in every format, told apart by their name (and JSON by content).

=========  ===========================================================
format     files
=========  ===========================================================
yaml       ``.yaml``, ``.yml``
toml       ``.toml``
json       ``.json`` holding a policy (a mapping with ``labels``)
jdm        ``.jdm.json``, or ``.json`` holding a JDM graph (``nodes``)
dmn        ``.dmn``, ``.xml``
xlsx       ``.xlsx``
=========  ===========================================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customer_rules.errors import PolicyError
from customer_rules.interop.table import InteropError
from customer_rules.lang.policy import Policy

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

FORMATS = ("yaml", "json", "toml", "jdm", "dmn", "xlsx")
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".dmn": "dmn", ".xml": "dmn", ".xlsx": "xlsx"}


def format_of(path: str | Path, *, sniff: bool = True) -> str:
    """The format of a policy file from its name; a ``.json`` file is sniffed when it exists."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".jdm.json"):
        return "jdm"
    if p.suffix.lower() == ".json":
        if sniff and p.is_file():
            from customer_rules.interop.jdm import is_jdm
            from customer_rules.lang.policy import MAX_TEXT_CHARS

            try:
                if p.stat().st_size > MAX_TEXT_CHARS:
                    return "json"  # the policy reader refuses it, bounded
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError, RecursionError):
                return "json"  # the policy reader reports the problem with its position
            return "jdm" if is_jdm(data) else "json"
        return "json"
    if p.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[p.suffix.lower()]
    raise InteropError(
        f"cannot tell the policy format from {p.name!r}",
        file=str(p),
        hint="use .yaml, .yml, .json, .toml, .jdm.json, .dmn, .xml or .xlsx",
    )


def read_policy(
    path: str | Path, *, format: str | None = None, engine: Engine | None = None, **options: Any
) -> Policy:
    """Read and type-check a policy file of any format.

    Names and types are checked against ``engine`` (default: the built-in
    fields and features). ``options`` go to the format's reader
    (``fields=``, ``labels=``, ``table=`` / ``decision=``, ``policy_id=``).
    """
    from customer_rules.engine.api import load_policy

    fmt = format or format_of(path)
    if fmt in ("yaml", "json", "toml"):
        return load_policy(path, format=fmt, engine=engine)
    if fmt == "jdm":
        from customer_rules.interop.jdm import from_jdm

        policy = from_jdm(Path(path), **options)
    elif fmt == "dmn":
        from customer_rules.interop.dmn import from_dmn

        policy = from_dmn(Path(path), **options)
    elif fmt == "xlsx":
        from customer_rules.interop.xlsx import from_xlsx

        policy = from_xlsx(path, **options)
    else:
        raise InteropError(f"unknown format {fmt!r}", hint="one of " + ", ".join(FORMATS))
    if engine is None:
        from customer_rules.engine.engine import Engine

        engine = Engine(load_entry_points=False)
    try:
        engine.check(policy)
    except PolicyError as exc:  # name the file the table came from
        raise PolicyError(
            exc.message, file=str(path), rule=exc.rule, field=exc.field, hint=exc.hint
        ) from None
    return policy


def policy_data(policy: Policy) -> dict[str, Any]:
    """The policy as plain data for a YAML/JSON/TOML file (defaults left out)."""
    data: dict[str, Any] = policy.model_dump(mode="json", exclude_defaults=True)
    data = {"id": policy.id, "version": policy.version, **data}
    return data


def write_policy(policy: Policy, path: str | Path, *, format: str | None = None) -> Path:
    """Write ``policy`` to ``path`` in the format its name says (or ``format``)."""
    p = Path(path)
    fmt = format or format_of(p, sniff=False)
    if fmt == "yaml":
        import yaml

        p.write_text(
            yaml.safe_dump(policy_data(policy), sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    elif fmt == "json":
        p.write_text(json.dumps(policy_data(policy), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif fmt == "toml":
        try:
            import tomli_w
        except ImportError:
            raise ImportError("writing TOML needs tomli-w: pip install 'customer-rules[interop]'") from None
        p.write_text(tomli_w.dumps(policy_data(policy)), encoding="utf-8")
    elif fmt == "jdm":
        from customer_rules.interop.jdm import to_jdm

        p.write_text(json.dumps(to_jdm(policy), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif fmt == "dmn":
        from customer_rules.interop.dmn import to_dmn

        p.write_text(to_dmn(policy), encoding="utf-8")
    elif fmt == "xlsx":
        from customer_rules.interop.xlsx import to_xlsx

        to_xlsx(policy, p)
    else:
        raise InteropError(f"unknown format {fmt!r}", hint="one of " + ", ".join(FORMATS))
    return p
