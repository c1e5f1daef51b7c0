"""Fitted cut-off files: what :meth:`Engine.save_fitted` writes and what
:meth:`Engine.load_fitted` accepts.

A fitted file is user data like a policy: it may be truncated, edited by
hand or meant for another policy. It is validated against the models below
(types, finite numbers, sorted percentile values, a cut consistent with
its function) before anything of it is used; whether it fits the engine's
policies (policy id, version, parameters and their hash, one cut per
population-relative call) is checked by the engine. Anything else is a
:class:`~customer_rules.errors.FittedFileError` naming the file and the key.

Versions of the format: a ``percentile`` cut holds either every known value
of the population, sorted (``values`` alone, ``count`` of them: every file
written before summaries, and any population of at most
``SUMMARY_POINTS`` known values), or a fixed-size summary (``values`` at
most ``SUMMARY_POINTS + 1`` distinct values, ``ranks`` the exact number of
known values at or below each; see
:class:`customer_rules.lang.population.Cut`). Both load; a file's size no
longer grows with the population. A version of the library without
summaries refuses a summary clearly (``unknown key 'ranks'``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from customer_rules.errors import FittedFileError
from customer_rules.model.population_models import MODELS_KEY

#: A number as JSON has it: an int or a float, never a boolean, NaN or infinity.
Number = Annotated[float, Strict(), AllowInfNan(False)]
Count = Annotated[int, Strict(), Field(ge=0)]
#: What a parameter value is in a fitted file (dates as ISO text).
ParamValue = StrictBool | StrictInt | Annotated[float, Strict()] | StrictStr


class CutEntry(BaseModel):
    """What ``fit`` learned for one population-relative call
    (see :class:`customer_rules.lang.population.Cut`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: Literal[
        "top",
        "top_pct",
        "top_within",
        "top_pct_within",
        "bottom",
        "bottom_pct",
        "bottom_within",
        "bottom_pct_within",
        "percentile",
    ]
    cutoff: Number | None = None
    size: Annotated[int, Strict()]
    count: Count
    values: tuple[Number, ...] | None = None
    ranks: tuple[Count, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CutEntry:
        if self.function == "percentile":
            if self.values is None:
                raise ValueError("a percentile cut needs its sorted 'values'")
            if self.ranks is None:  # every known value (as every file before the summaries)
                if len(self.values) != self.count:
                    raise ValueError(f"'values' has {len(self.values)} numbers but 'count' says {self.count}")
                if any(a > b for a, b in zip(self.values, self.values[1:], strict=False)):
                    raise ValueError("'values' must be sorted from the lowest to the highest")
            else:  # a summary: distinct values and the exact number at or below each
                if len(self.ranks) != len(self.values):
                    raise ValueError(f"'ranks' has {len(self.ranks)} numbers but 'values' {len(self.values)}")
                if any(a >= b for a, b in zip(self.values, self.values[1:], strict=False)):
                    raise ValueError("summary 'values' must be distinct, sorted from the lowest to the highest")
                if any(a >= b for a, b in zip(self.ranks, self.ranks[1:], strict=False)) or (
                    self.ranks and (self.ranks[0] < 1 or self.ranks[-1] != self.count)
                ):
                    raise ValueError("'ranks' must rise from at least 1 to 'count'")
            if self.cutoff is not None:
                raise ValueError("a percentile cut has no 'cutoff'")
        else:
            if self.values is not None or self.ranks is not None:
                raise ValueError(f"a {self.function} cut has no 'values' or 'ranks'")
            empty = self.size <= 0 or self.count == 0
            if empty != (self.cutoff is None):
                raise ValueError(
                    "'cutoff' must be null exactly when the group is empty (size <= 0 or count 0)"
                )
        return self


class SchemeEntry(BaseModel):
    """The cut-offs of one scheme and what they were fitted for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Annotated[str, Strict()]
    version: Annotated[str, Strict()]
    params: dict[str, ParamValue]
    params_hash: Annotated[str, Strict()] | None = None
    as_of: Annotated[str, Strict()] | None = None
    population: Count | None = None
    cuts: dict[str, CutEntry]

    @field_validator("as_of")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            dt.date.fromisoformat(value)  # ValueError: reported as the key's error
        return value

    @field_validator("params_hash")
    @classmethod
    def _hash_matches(cls, value: str | None, info: ValidationInfo) -> str | None:
        params = info.data.get("params")
        if value is not None and params is not None and value != params_hash(params):
            raise ValueError("'params_hash' does not match 'params': the file was edited or damaged")
        return value


def _json_value(value: Any) -> Any:
    """``value`` if it is JSON without NaN or infinity (``ValueError`` otherwise)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{_show(value)} is not a number a fitted file may hold")
    if isinstance(value, list):
        for v in value:
            _json_value(v)
    elif isinstance(value, dict):
        for v in value.values():
            _json_value(v)
    return value


class ModelEntry(BaseModel):
    """The parameters of one population model (``register_models``) and what
    they were fitted on; the model itself checks ``params``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: Annotated[str, Strict()] | None = None
    population: Count | None = None
    params: dict[str, Any]

    @field_validator("as_of")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            dt.date.fromisoformat(value)
        return value

    @field_validator("params")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _json_value(value)  # type: ignore[no-any-return]


_FILE = TypeAdapter(dict[str, SchemeEntry])
_MODELS = TypeAdapter(dict[str, ModelEntry])


def params_hash(params: Mapping[str, Any]) -> str:
    """A short content hash of parameter values (as JSON, keys sorted)."""
    text = json.dumps(dict(params), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise FittedFileError(f"key {k!r} is given twice")
        out[k] = v
    return out


def _key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def read_fitted(source: str | Path | Mapping[str, Any]) -> dict[str, SchemeEntry]:
    """Read and validate a fitted file (a path, or the mapping it holds): its schemes' cut-offs."""
    return read_fitted_file(source)[0]


def read_fitted_file(
    source: str | Path | Mapping[str, Any],
) -> tuple[dict[str, SchemeEntry], dict[str, ModelEntry]]:
    """Read and validate a fitted file: its schemes' cut-offs, and its
    population models (the key ``"_models"``, see
    :mod:`customer_rules.model.population_models`)."""
    file: str | None = None
    data: Any = source
    if not isinstance(source, Mapping):
        file = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise FittedFileError("not UTF-8 text: not a fitted file", file=file) from None
        except OSError as exc:
            raise FittedFileError(f"cannot read the fitted file: {exc.strerror}", file=file) from None
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        except FittedFileError as exc:
            raise FittedFileError(exc.message, file=file) from None
        except json.JSONDecodeError as exc:
            raise FittedFileError(
                f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}", file=file
            ) from None
        except (ValueError, RecursionError) as exc:  # a number too long to convert, absurd nesting
            raise FittedFileError(f"not a fitted file: {type(exc).__name__}: {exc}", file=file) from None
    if not isinstance(data, Mapping):
        raise FittedFileError(
            f"a fitted file maps scheme ids to their cut-offs, got {type(data).__name__}", file=file
        )
    schemes = {k: v for k, v in data.items() if k != MODELS_KEY}
    return (
        _validate(_FILE, schemes, file, ()),
        _validate(_MODELS, data.get(MODELS_KEY, {}), file, (MODELS_KEY,)),
    )


def _validate(adapter: TypeAdapter[Any], data: Any, file: str | None, prefix: tuple[str, ...]) -> Any:
    """``data`` validated by ``adapter``; a :class:`FittedFileError` naming
    the first bad key (under ``prefix``) otherwise."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = (*prefix, *err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = f"missing required key {loc[-1]!r}"
        elif err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif "input" in err and not isinstance(err["input"], Mapping | list):
            message += f" (got {_show(err['input'])})"
        more = len(exc.errors()) - 1
        if more:
            message += f"; and {more} more problem(s)"
        raise FittedFileError(message, file=file, key=_key(loc)) from None


def _show(value: Any) -> str:
    text = repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        text = {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    return text if len(text) <= 60 else text[:60] + "…"


def write_fitted(path: str | Path, fitted: Mapping[str, Mapping[str, Any]]) -> None:
    """Write fitted cut-offs as JSON (with each scheme's ``params_hash``),
    whole or not at all: to a temporary file beside ``path``, then renamed."""
    out: dict[str, Any] = {}
    for sid, entry in fitted.items():
        if sid == MODELS_KEY:  # population models: their parameters as they are
            out[sid] = entry
            continue
        head = {k: v for k, v in entry.items() if k != "cuts"}
        out[sid] = {**head, "params_hash": params_hash(entry["params"]), "cuts": entry["cuts"]}
    text = json.dumps(out, ensure_ascii=False, indent=2, allow_nan=False)
    target = Path(path)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
