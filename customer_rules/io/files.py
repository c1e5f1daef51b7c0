"""Customer tables as files — CSV, Parquet, JSON Lines — for the command line.

Reading gives two tables: the *input* as the user wrote it (kept for the
output file, so a CSV comes back with its cells untouched) and a *record*
table for the frame backend, named and typed as ``docs/frames.md``
describes. Columns are record paths (``value.revenue_12m`` or
``value__revenue_12m``); in a CSV, or in a JSON Lines file with nested
objects, they may also be nested:

* CSV cells are text; the frame backend parses numbers, booleans
  (``true/false``, ``yes/no``, ``1/0``) and ISO dates column-wise, and
  rejects the rows it cannot read, with the reason. List fields
  (``identity``) take ``media;lawyer`` or a JSON array; nested record lists
  (``cases``, ``interactions``, ``compliance.deductions``, ``grades``)
  take a JSON array of objects.
* JSON Lines: one object per line, nested (``{"value": {"revenue_12m":
  1}}``) or with dotted keys. Scalars are read as the CSV's text is, so a
  number where a date belongs is rejected the same way.
* Parquet: typed columns, structs and lists as they are.

Lines that cannot be read at all (a CSV line with the wrong number of
fields, a JSON line that is not an object, a list cell that is not valid
JSON) become rejected rows here; everything else is for the library to
accept or reject. Row numbers are 0-based positions among the data rows of
the file; ``line`` is the 1-based line in the file where the row starts.

This module imports polars at import time: import it lazily.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import difflib
import json
import math
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

import polars as pl
from polars.datatypes import DataTypeClass

from customer_rules.errors import CustomerRulesError
from customer_rules.lang.types import BOOL, DATE, LIST, NUMBER, Type
from customer_rules.model.bulk import collector_paused
from customer_rules.model.tables import ModelSpec, canonical_name, customer_spec, ragged_column

ROW = "__cli_row"
"""The column that carries a row's position in the file through a run."""

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


class FileError(CustomerRulesError):
    """A file cannot be read or written as a customer table; carries a hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)


def file_format(path: str | Path, *, role: str = "input") -> str:
    """``csv``, ``parquet`` or ``jsonl`` from a file name's extension."""
    if str(path) == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        shown = f"extension {suffix!r}" if suffix else "no extension"
        raise FileError(
            f"cannot tell the format of the {role} file {str(path)!r} ({shown})",
            hint="name it .csv, .parquet or .jsonl (JSON Lines, also .ndjson)",
        )
    return fmt


@dataclass
class BadRow:
    """A row the file could not give (or the library rejected), with the reason."""

    row: int
    line: int | None
    id: str | None
    reason: str


@dataclass
class Table:
    """A customer table read from a file.

    ``records`` is for the library (record columns only, plus ``ROW``);
    ``data`` is the input as written (plus ``ROW``) for the output file;
    ``texts`` the JSON text of each row of a JSON Lines file (its object is
    read again for a JSON Lines output); ``bad`` the rows that could not be
    read; ``lines`` the line of each row.
    """

    path: Path
    format: str
    records: pl.DataFrame
    data: pl.DataFrame
    n_rows: int
    bad: list[BadRow] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)
    texts: dict[int, str] | None = None
    columns: list[str] = field(default_factory=list)  # the input's column names (flattened)
    spec: ModelSpec | None = None  # the record model's columns it was read for (None = the core record)

    @property
    def ids(self) -> list[str | None]:
        if "id" not in self.records.columns:
            return []
        return self.records.get_column("id").cast(pl.String(), strict=False).to_list()


# ---------------------------------------------------------------------------
# Column kinds
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kinds:
    spec: ModelSpec
    lists: frozenset[str]  # scalar-list fields (identity, behaviour.type_history)
    children: Mapping[str, ModelSpec]  # nested record lists
    scalars: frozenset[str]
    prefixes: frozenset[str]

    def path(self, column: str) -> str:
        return column if column in self.scalars or column in self.lists else canonical_name(column)

    def known(self) -> list[str]:
        return sorted([*self.scalars, *self.lists, *self.children])


def _kinds(spec: ModelSpec | None = None) -> _Kinds:
    spec = spec or customer_spec()
    lists = frozenset(p for p, s in spec.slots.items() if s.type.kind == LIST)
    scalars = frozenset(p for p in spec.slots if p not in lists)
    return _Kinds(spec, lists, spec.children, scalars, spec.prefixes)


def unknown_columns(columns: Iterable[str], spec: ModelSpec | None = None) -> list[tuple[str, str | None]]:
    """Columns that are not record fields, each with a likely intended field.

    A column under a record prefix (``value.revenu_12m``) or close to a
    field's full or last name (``revenue_12m`` → ``value.revenue_12m``) is
    probably a typo; other columns (``notes``) just pass through. ``spec``
    is the record model's columns (plugin namespaces included); the core
    record's by default.
    """
    kinds = _kinds(spec)
    known = kinds.known()
    leaves: dict[str, list[str]] = {}
    for p in known:
        leaves.setdefault(p.rsplit(".", 1)[-1], []).append(p)
    out: list[tuple[str, str | None]] = []
    for column in columns:
        if column == ROW:
            continue
        path = kinds.path(column)
        if path in known or path in kinds.prefixes:
            continue
        close = difflib.get_close_matches(path, known, n=1, cutoff=0.8)
        guess = close[0] if close else None
        if guess is None:
            leaf = path.rsplit(".", 1)[-1]
            by_leaf = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.85)
            if by_leaf and len(leaves[by_leaf[0]]) == 1:
                guess = leaves[by_leaf[0]][0]
        if guess is None and path.split(".")[0] not in kinds.prefixes:
            out.append((column, None))
        else:
            out.append((column, guess))
    return out


# ---------------------------------------------------------------------------
# Cells: text and JSON values into what the frame backend reads
# ---------------------------------------------------------------------------


class _CellError(ValueError):
    pass


def _text(value: Any, where: str) -> str | None:
    """A scalar as the text a CSV cell would hold (the backend parses it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return repr(value)
    raise _CellError(f"{where}: expected a single value, got {type(value).__name__}")


def _list_cell(value: Any, where: str) -> list[str]:
    """A list field: a JSON array, or text separated by ``;``."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _CellError(f"{where}: not a valid JSON array ({exc.msg})") from None
        else:
            return [t.strip() for t in text.split(";") if t.strip()]
    if not isinstance(value, list):
        raise _CellError(f"{where}: expected a list, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        text_item = _text(item, f"{where}.{i}")
        if text_item is None:
            raise _CellError(f"{where}.{i}: Input should not be missing")
        out.append(text_item)
    return out


def _children_cell(value: Any, where: str, spec: ModelSpec) -> list[dict[str, Any]]:
    """A nested record list: a JSON array of objects (text in a CSV cell)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _CellError(f"{where}: not a valid JSON array of objects ({exc.msg})") from None
    if not isinstance(value, list):
        raise _CellError(f"{where}: expected a JSON array of objects, got {type(value).__name__}")
    items: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _CellError(f"{where}.{i}: Input should be a valid dictionary")
        row: dict[str, Any] = {}
        for key, v in item.items():
            slot = spec.slots.get(key)
            if slot is None:
                close = difflib.get_close_matches(key, list(spec.slots), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _CellError(f"{where}.{i}.{key}: Extra inputs are not permitted{hint}")
            if slot.type.kind == LIST:
                row[key] = _list_cell(v, f"{where}.{i}.{key}")
            else:
                row[key] = _text(v, f"{where}.{i}.{key}")
        for key, slot in spec.slots.items():  # an absent list is empty, never missing
            if slot.type.kind == LIST:
                row.setdefault(key, [])
        items.append(row)
    return items


def _child_dtype(spec: ModelSpec) -> pl.DataType:
    return pl.List(
        pl.Struct(
            {
                name: pl.List(pl.String()) if s.type.kind == LIST else pl.String()
                for name, s in spec.slots.items()
            }
        )
    )


def _record_columns(
    columns: Mapping[str, Sequence[Any]],
    positions: Sequence[int],
    ids: Sequence[Any] | None,
    bad: list[BadRow],
    lines: Mapping[int, int],
    kinds: _Kinds,
    *,
    at_once: bool = True,
) -> pl.DataFrame:
    """The record table from cells (text or JSON values), given column by column
    for the rows at ``positions`` (file order); ``ids`` are the rows' id cells.

    A row with a cell that cannot be read is left out and reported in ``bad``
    with its first such cell (in column order). Each column is converted at
    once in polars where its cells are plain (:func:`_texts_at_once`), else
    cell by cell; ``at_once=False`` converts every column cell by cell (the
    reference the tests hold the other way to)."""
    errors: dict[int, str] = {}  # row index -> the first cell it cannot read
    series: list[pl.Series] = []
    fast: Callable[[], pl.Series | None]  # the column at once, or None
    cell: Callable[[Any], Any]  # one cell (raises _CellError)
    build: Callable[[list[Any]], pl.Series]  # the column from its cells
    empty: Any  # what a cell that cannot be read holds until its row is dropped
    for column, values in columns.items():
        path = kinds.path(column)
        if path in kinds.lists:
            fast = partial(_lists_at_once, column, values)
            cell, empty, build = partial(_list_cell, where=path), [], partial(_texts_in_lists, column)
        elif path in kinds.children:
            spec = kinds.children[path]
            fast = partial(_children_at_once, column, values, spec)
            cell = partial(_children_cell, where=path, spec=spec)
            empty, build = [], partial(_children_column, column, dtype=_child_dtype(spec))
        elif path in kinds.scalars:
            fast = partial(_texts_at_once, column, values)
            cell, empty, build = partial(_text, where=path), None, partial(pl.Series, column, dtype=pl.String())
        else:
            continue
        converted = fast() if at_once else None
        if converted is None:  # cell by cell: a cell that cannot be read rejects its row
            out: list[Any] = []
            for i, v in enumerate(values):
                try:
                    out.append(cell(v))
                except _CellError as exc:
                    errors.setdefault(i, str(exc))
                    out.append(empty)
            converted = build(out)
        series.append(converted)
    frame = pl.DataFrame(series).with_columns(pl.Series(ROW, positions, dtype=pl.Int64()))
    if not errors:
        return frame
    for i in sorted(errors):
        pos = positions[i]
        rid = None if ids is None else ids[i]
        bad.append(
            BadRow(
                pos,
                lines.get(pos),
                None if rid is None else str(rid),
                f"{_who(rid, pos)}: cannot read the row: {errors[i]}",
            )
        )
    keep = pl.Series([i not in errors for i in range(len(positions))], dtype=pl.Boolean())
    return frame.filter(keep)


_NONE = type(None)


def _transpose(dicts: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[list[Any]]:
    """The values of ``keys`` (None where a dict leaves one out), a list per key.
    Read dict by dict, then transposed: reading key by key walks every dict
    once per key, three to four times slower on wide JSON objects."""
    with collector_paused():
        rows = [tuple(map(d.get, keys)) for d in dicts]
        return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in keys]


def _texts_at_once(name: str, values: Sequence[Any]) -> pl.Series | None:
    """The text :func:`_text` gives each of ``values``, as one column built by
    polars, when the values are of one plain kind (text, whole numbers,
    fractions, booleans) or None; else None (convert them one by one)."""
    types = set(map(type, values))
    types.discard(_NONE)
    if not types or types == {str}:
        return pl.Series(name, values, dtype=pl.String())
    if len(types) > 1:
        return None
    (kind,) = types
    try:
        if kind is bool:
            return pl.Series(name, values, dtype=pl.Boolean()).cast(pl.String())
        if kind is int:
            return pl.Series(name, values, dtype=pl.Int64(), strict=True).cast(pl.String())
        if kind is float:
            numbers = pl.Series(name, values, dtype=pl.Float64(), strict=True)
        else:
            return None
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):  # e.g. an int beyond 64 bits
        return None
    text = numbers.cast(pl.String())
    # polars writes tiny fractions without an exponent and NaN as "NaN": those few as Python does
    odd = ((numbers.abs() < 1e-4) & (numbers != 0.0)) | numbers.is_nan()
    if odd.any():
        at = odd.arg_true()
        text = text.scatter(at, [_text(values[i], name) for i in at.to_list()])
    return text


def _lists_at_once(name: str, values: Sequence[Any]) -> pl.Series | None:
    """A list field's cells (:func:`_list_cell`) as one column, when each is a
    JSON array of plain values (or None: empty); else None."""
    if not set(map(type, values)) <= {list, _NONE}:
        return None
    items = [x for v in values if v for x in v]
    if None in items:
        return None
    flat = _texts_at_once(name, items)
    return None if flat is None else ragged_column(name, flat, values, pl.List(pl.String()))


def _texts_in_lists(name: str, lists: Sequence[list[str]]) -> pl.Series:
    """Lists of text as a list column, built from their items at once (polars
    builds a list column from Python lists row by row)."""
    flat = pl.Series(name, [x for v in lists for x in v], dtype=pl.String())
    return ragged_column(name, flat, lists, pl.List(pl.String()))


def _children_at_once(name: str, values: Sequence[Any], spec: ModelSpec) -> pl.Series | None:
    """A nested record list's cells (:func:`_children_cell`) as one column, when
    every cell is a JSON array (or its text, or None) of objects with known
    keys and plain values; else None. The items of every row are read
    field by field, then cut back into each row's list."""
    lists: list[Any] = []
    for v in values:
        if isinstance(v, str):
            text = v.strip()
            try:
                v = json.loads(text) if text else None
            except json.JSONDecodeError:
                return None
        lists.append(v)
    if not set(map(type, lists)) <= {list, _NONE}:
        return None
    items = [item for x in lists if x for item in x]
    if not set(map(type, items)) <= {dict} or not set().union(*items) <= spec.slots.keys():
        return None
    fields: list[pl.Series] = []
    for (key, slot), cells in zip(spec.slots.items(), _transpose(items, list(spec.slots)), strict=True):
        field_ = _lists_at_once(key, cells) if slot.type.kind == LIST else _texts_at_once(key, cells)
        if field_ is None:
            return None
        fields.append(field_)
    dtype = _child_dtype(spec)
    return ragged_column(name, pl.DataFrame(fields).to_struct(name), lists, dtype)


def _children_column(name: str, lists: Sequence[list[dict[str, Any]]], dtype: pl.DataType) -> pl.Series:
    """A nested record list column from each row's items (:func:`_children_cell`):
    the items of every row read at once, then cut back into each row's list.
    Polars builds a list of structs from Python values row by row: 20,000
    JSON Lines customers took 24 s that way."""
    assert isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)
    items = [item for row in lists for item in row]
    flat = pl.DataFrame(items, schema={f.name: f.dtype for f in dtype.inner.fields})
    return ragged_column(name, flat.to_struct(name), lists, dtype)


def _who(rid: Any, pos: int) -> str:
    return f"customer {str(rid)!r} (row {pos})" if rid not in (None, "") else f"customer (no id) (row {pos})"


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def read_table(path: str | Path, *, encoding: str = "utf-8-sig", spec: ModelSpec | None = None) -> Table:
    """Read a customer table from a CSV, Parquet or JSON Lines file.

    ``spec`` is the record model's columns (``customer_spec(engine.record_model)``
    for an engine whose plugins add namespaces); the core record's by default.
    """
    kinds = _kinds(spec)
    p = Path(path)
    fmt = file_format(p)
    if not p.exists():
        raise FileError(
            f"no such file: {str(path)!r}", hint="check the path (relative to the current folder)"
        )
    if p.is_dir():
        raise FileError(
            f"{str(path)!r} is a folder, not a file", hint="give the path of a .csv, .parquet or .jsonl file"
        )
    if fmt == "csv":
        table = _read_csv(p, encoding, kinds)
    elif fmt == "jsonl":
        table = _read_jsonl(p, encoding, kinds)
    else:
        table = _read_parquet(p, kinds)
    table.spec = spec
    if table.n_rows and not any(kinds.path(c) == "id" for c in table.columns):
        close = difflib.get_close_matches("id", [c.lower() for c in table.columns], n=1, cutoff=0.3)
        hint = "name the column of customer ids 'id'"
        shown = ", ".join(table.columns[:8]) + (", ..." if len(table.columns) > 8 else "")
        raise FileError(
            f"{p.name} has no 'id' column (columns: {shown})",
            hint=hint + (f" (is it {close[0]!r}?)" if close else ""),
        )
    return table


def _decode_error(p: Path, encoding: str, exc: UnicodeDecodeError) -> FileError:
    return FileError(
        f"{p.name} is not valid {encoding.replace('-sig', '')} text (byte {exc.object[exc.start]:#04x}"
        f" at position {exc.start})",
        hint="give the file's encoding, e.g. --encoding gbk (or save it as UTF-8)",
    )


def _read_csv(p: Path, encoding: str, kinds: _Kinds) -> Table:
    try:
        with p.open(newline="", encoding=encoding) as f, collector_paused():  # the rows read all survive
            return _parse_csv(p, f, kinds)
    except UnicodeDecodeError as exc:
        raise _decode_error(p, encoding, exc) from None
    except LookupError:
        raise FileError(f"unknown encoding {encoding!r}", hint="e.g. utf-8, gbk, gb18030, latin-1") from None


def _parse_csv(p: Path, f: TextIO, kinds: _Kinds) -> Table:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(f)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise FileError(f"{p.name}: cannot read the header line: {exc}", hint="is it a CSV file?") from None
    header = [h.strip() for h in header]
    for i, h in enumerate(header):
        if not h:
            raise FileError(
                f"{p.name}: column {i + 1} of the header has no name",
                hint="every column needs a name in the first line (e.g. id,value.revenue_12m)",
            )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FileError(
            f"{p.name}: column(s) named twice in the header: {', '.join(dupes)}", hint="keep one of each"
        )
    width = len(header)
    kept: list[list[str]] = []  # the rows of the right width, made columns at the end
    positions: list[int] = []
    lines: dict[int, int] = {}
    bad: list[BadRow] = []
    pos = 0
    start = reader.line_num + 1
    rows_iter: Iterator[list[str]] = iter(reader)
    while True:
        try:
            row = next(rows_iter)
        except StopIteration:
            break
        except csv.Error as exc:
            bad.append(BadRow(pos, start, None, f"line {start}: cannot read the CSV line: {exc}"))
            lines[pos] = start
            pos += 1
            start = reader.line_num + 1
            continue
        if not row or (len(row) == 1 and not row[0].strip() and width != 1):
            start = reader.line_num + 1
            continue  # blank line
        lines[pos] = start
        if len(row) != width:
            rid = row[header.index("id")] if "id" in header and header.index("id") < len(row) else None
            bad.append(
                BadRow(
                    pos,
                    start,
                    rid or None,
                    f"line {start}: {len(row)} field(s), the header has {width}"
                    + (
                        " (an unclosed quote?)"
                        if len(row) < width and any("," in v or "\n" in v for v in row)
                        else ""
                    ),
                )
            )
        else:
            positions.append(pos)
            kept.append(row)
        pos += 1
        start = reader.line_num + 1
    cells = zip(*kept, strict=True) if kept else ([] for _ in header)
    data = pl.DataFrame(
        [pl.Series(h, c, dtype=pl.String()) for h, c in zip(header, cells, strict=True)]
    ).select(  # an empty cell is a missing value
        *[pl.when(pl.col(h) != "").then(pl.col(h)).alias(h) for h in header],
        pl.Series(ROW, positions, dtype=pl.Int64()),
    )
    records = _records_from_text(data, header, bad, lines, kinds)
    return Table(p, "csv", records, data, pos, bad, lines, None, header)


def _records_from_text(
    data: pl.DataFrame, header: Sequence[str], bad: list[BadRow], lines: Mapping[int, int], kinds: _Kinds
) -> pl.DataFrame:
    """The record table of a text table: scalars as they are, list cells parsed."""
    nested = [c for c in header if kinds.path(c) in kinds.lists or kinds.path(c) in kinds.children]
    plain = [c for c in header if c not in nested and kinds.path(c) in kinds.scalars]
    if not nested:
        return data.select([*plain, ROW])
    ids = data.get_column("id").to_list() if "id" in data.columns else None
    cells = {c: data.get_column(c).to_list() for c in nested}
    parsed = _record_columns(cells, data.get_column(ROW).to_list(), ids, bad, lines, kinds)
    return (
        data.select([*plain, ROW])
        .join(parsed, on=ROW, how="inner", maintain_order="left")
        .select([*plain, *nested, ROW])
    )


def _flatten(obj: Mapping[str, Any], kinds: _Kinds, prefix: str = "") -> dict[str, Any]:
    """A JSON object with its sub-model objects spliced in as dotted keys."""
    out: dict[str, Any] = {}
    prefixes = kinds.prefixes
    for key, value in obj.items():
        if type(value) is dict:  # what json gives; the name is looked at only here
            path = prefix + key
            if path in prefixes or canonical_name(path) in prefixes:
                out.update(_flatten(value, kinds, path + "."))
            else:
                out[path] = value
        else:
            out[prefix + key] = value
    return out


def _read_jsonl(p: Path, encoding: str, kinds: _Kinds) -> Table:
    try:
        with p.open(encoding=encoding) as f, collector_paused():  # what is read survives, or is freed by count
            return _jsonl_table(p, f, kinds)
    except UnicodeDecodeError as exc:
        raise _decode_error(p, encoding, exc) from None
    except LookupError:
        raise FileError(f"unknown encoding {encoding!r}", hint="e.g. utf-8, gbk, gb18030, latin-1") from None


def _jsonl_table(p: Path, f: TextIO, kinds: _Kinds) -> Table:
    texts: dict[int, str] = {}
    flat: dict[int, dict[str, Any]] = {}
    lines: dict[int, int] = {}
    bad: list[BadRow] = []
    columns: dict[str, None] = {}
    pos = 0
    for number, text in enumerate(f, start=1):
        if not text.strip():
            continue
        lines[pos] = number
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            bad.append(BadRow(pos, number, None, f"line {number}: not valid JSON ({exc.msg}, column {exc.colno})"))
            pos += 1
            continue
        if not isinstance(obj, dict):
            bad.append(
                BadRow(pos, number, None, f"line {number}: expected a JSON object, got {type(obj).__name__}")
            )
            pos += 1
            continue
        texts[pos] = text  # the text, not the object: millions of live objects cost every later collection
        row = _flatten(obj, kinds)
        flat[pos] = row
        columns.update(dict.fromkeys(row))
        pos += 1
    names = list(columns)
    cells = dict(zip(names, _transpose(list(flat.values()), names), strict=True))
    positions = list(flat)
    del flat
    records = _record_columns(cells, positions, cells.get("id"), bad, lines, kinds)
    data = _typed_frame(cells, positions)
    return Table(p, "jsonl", records, data, pos, bad, lines, texts, names)


def _typed_frame(cells: Mapping[str, Sequence[Any]], positions: Sequence[int]) -> pl.DataFrame:
    """The input as a frame for writing: each column typed if its values agree, else JSON text."""
    columns: list[pl.Series] = []
    for name, values in cells.items():
        try:
            series = _typed_column(name, values)
        except _Disagree:
            series = pl.Series(
                name,
                [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values],
                dtype=pl.String(),
            )
        columns.append(series)
    columns.append(pl.Series(ROW, positions, dtype=pl.Int64()))
    return pl.DataFrame(columns)


class _Disagree(Exception):
    """A column's JSON values are not of one type: the column is kept as JSON text."""


def _typed_column(name: str, values: Sequence[Any]) -> pl.Series:
    """JSON values as one typed column (:class:`_Disagree` if they are not of
    one type). Objects, and lists of objects, are read key by key over all of
    them: polars, building a struct from Python values itself, takes its
    fields from the first values only and drops keys that first appear later."""
    types = set(map(type, values))
    types.discard(_NONE)
    if types == {dict}:
        return _struct_column(name, values)
    if types == {list}:  # the items of every list as one column, then cut back into lists
        items = [x for v in values if v for x in v]
        inner = set(map(type, items))
        if dict in inner:
            flat = _struct_column(name, items)
        elif items and not inner & {list, tuple}:
            flat = _typed_column(name, items)
        else:
            flat = None
        if flat is not None:
            return _nulls_where_none(ragged_column(name, flat, values, pl.List(flat.dtype)), values)
    try:
        return pl.Series(name, values, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        raise _Disagree(name) from None


def _struct_column(name: str, objects: Sequence[Any]) -> pl.Series:
    """JSON objects (or None) as a struct column, a typed field per key."""
    if not set(map(type, objects)) <= {dict, _NONE}:
        raise _Disagree(name)
    dicts = [{} if d is None else d for d in objects]
    keys = list(dict.fromkeys(chain.from_iterable(dicts)))  # in the order they first appear
    if not keys:
        raise _Disagree(name)
    fields = [_typed_column(k, vals) for k, vals in zip(keys, _transpose(dicts, keys), strict=True)]
    return _nulls_where_none(pl.DataFrame(fields).to_struct(name), objects)


def _nulls_where_none(column: pl.Series, values: Sequence[Any]) -> pl.Series:
    if None not in values:
        return column
    missing = pl.Series([v is None for v in values], dtype=pl.Boolean())
    return pl.select(pl.when(missing).then(None).otherwise(column).alias(column.name)).to_series()


def _read_parquet(p: Path, kinds: _Kinds) -> Table:
    try:
        frame = pl.read_parquet(p)
    except Exception as exc:  # polars raises several kinds for a file that is not parquet
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileError(f"cannot read {p.name} as Parquet: {first}", hint="is it a Parquet file?") from None
    return _typed_table(p, frame, kinds)


def table_from_frame(frame: pl.DataFrame, path: str | Path, *, spec: ModelSpec | None = None) -> Table:
    """A customer table from a typed polars frame (as a Parquet file would give
    it), e.g. the one ``customers_from_transactions`` builds from an order
    log; ``path`` names where it came from."""
    return _typed_table(Path(path), frame, _kinds(spec))


def _typed_table(p: Path, frame: pl.DataFrame, kinds: _Kinds) -> Table:
    if "id" in frame.columns and frame.schema["id"].is_integer():
        frame = frame.with_columns(pl.col("id").cast(pl.String()))  # numeric CRM ids are ids too
    frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64()).alias(ROW))
    keep = [
        c
        for c in frame.columns
        if c == ROW or kinds.path(c) in kinds.known() or kinds.path(c) in kinds.prefixes
    ]
    return Table(
        p,
        "parquet",
        frame.select(keep),
        frame,
        frame.height,
        [],
        {},
        None,
        [c for c in frame.columns if c != ROW],
    )


def reject_duplicate_ids(table: Table) -> list[BadRow]:
    """Keep the first row of each customer id; reject the later ones.

    A file with one id on two rows would give one customer two labels (or
    count it twice in a population), so only the first row with an id (in
    file order) is kept in ``table.records``; each later row becomes a
    rejected row naming the first one. Rows without an id are left to the
    library (which rejects them). Returns the rows rejected here (also
    added to ``table.bad``).
    """
    if "id" not in table.records.columns or not table.records.height:
        return []
    ids = table.records.select(pl.col("id").cast(pl.String(), strict=False).alias("__id"), ROW)
    later = ids.filter(pl.col("__id").is_not_null() & pl.col("__id").is_duplicated())
    if not later.height:
        return []
    first = later.group_by("__id", maintain_order=True).agg(pl.col(ROW).min().alias("__first"))
    later = later.join(first, on="__id", how="left", maintain_order="left").filter(
        pl.col(ROW) != pl.col("__first")
    )
    rejected = [
        BadRow(
            pos,
            table.lines.get(pos),
            rid,
            f"{_who(rid, pos)}: duplicate id: only the first row with this id (row {first_pos}) is used",
        )
        for rid, pos, first_pos in later.iter_rows()
    ]
    table.records = table.records.filter(~pl.col(ROW).is_in(later.get_column(ROW).implode()))
    table.bad.extend(rejected)
    return rejected


def with_cell_values(table: Table, bad: Sequence[BadRow]) -> list[BadRow]:
    """Reasons that show the offending cell and the form expected.

    A value error of a record field (``birthday: Input should be a valid
    date``) gets the value the file holds and, for dates, numbers and
    booleans, how to write one: ``(got '2026/11/02'; expected YYYY-MM-DD)``.
    """
    kinds = _kinds()
    wanted = {b.row for b in bad if "Input should be" in b.reason}
    if not wanted:
        return list(bad)
    columns = [c for c in table.data.columns if c != ROW and kinds.path(c) in kinds.scalars]
    rows = {
        r[ROW]: r
        for r in table.data.select([*columns, ROW])
        .filter(pl.col(ROW).is_in(pl.Series(sorted(wanted), dtype=pl.Int64()).implode()))
        .iter_rows(named=True)
    }
    out = []
    for b in bad:
        cells = rows.get(b.row)
        reason = b.reason
        if cells is not None:
            for column in columns:
                value = cells[column]
                path = kinds.path(column)
                start = reason.find(f"{path}: Input should be")
                if value is None or start < 0 or (start and reason[start - 1] not in " ;"):
                    continue
                end = reason.find("; ", start)
                end = len(reason) if end < 0 else end
                text = reason[start:end]
                note = f"got {value!r}"
                form = _expected_form(kinds.spec.slots[path].type)
                if form is not None and "valid" in text:
                    note += f"; expected {form}"
                reason = f"{reason[:end]} ({note}){reason[end:]}"
        out.append(BadRow(b.row, b.line, b.id, reason))
    return out


def _expected_form(t: Type) -> str | None:
    if t.kind == DATE:
        return "YYYY-MM-DD"
    if t.kind == BOOL:
        return "true/false, yes/no or 1/0"
    if t.kind == NUMBER:
        return "a whole number" if t.integer else "a number such as 1200 or 1200.5"
    return None


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def typed_fields(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (columns of ``table.data`` plus ``ROW``) with its record fields
    typed as the library read them: the text of a CSV (or a JSON Lines
    string) becomes numbers, dates and booleans, for output formats that keep
    types (Parquet, JSON Lines). Other columns, and rows the library
    rejected, are left as they are."""
    from customer_rules.model.tables import ROW as POSITION
    from customer_rules.model.tables import prepare

    kinds = _kinds()
    text = {
        c: kinds.path(c)
        for c, dtype in frame.schema.items()
        if c != ROW and dtype == pl.String() and kinds.path(c) in kinds.scalars and kinds.path(c) != "id"
    }
    if not text or not table.records.height:
        return frame
    valid = prepare(table.records, warn=False).valid
    present = {c: p for c, p in text.items() if p in valid.columns}
    if not present:
        return frame
    positions = table.records.get_column(ROW)
    typed = valid.select(
        positions.gather(valid.get_column(POSITION)).alias(ROW),
        *[pl.col(p).alias(c) for c, p in present.items()],
    )
    return (
        frame.drop(list(present))
        .join(typed, on=ROW, how="left", maintain_order="left")
        .select(frame.columns)
    )


def _json_default(v: Any) -> Any:
    """How a value ``json`` cannot write becomes JSON: dates and datetimes as
    ISO text (``2026-11-02``, ``2026-11-02T09:30:00``), anything else as its
    ``str``. The column-wise writers (:func:`_json_columns`) write only what
    they write the same way; a test holds them equal."""
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return str(v)


def _json_cell(v: Any) -> str:
    """One value as JSON text, the per-cell way (the reference)."""
    return json.dumps(v, ensure_ascii=False, default=_json_default)


_JSON_AS_IS: tuple[type[pl.DataType], ...] = (
    pl.String,
    pl.Boolean,
    pl.Null,
    pl.Date,
    pl.Decimal,
    pl.Enum,
    pl.Categorical,
    pl.Float64,
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.Int128,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)
"""Dtypes polars' JSON encoder writes as :func:`_json_cell` does (the same
JSON value, compact): dates as ISO text, decimals as their text,
enums as their text, integers exactly, finite floats in the shortest form
that reads back to the same float."""


def _dtype(dtype: pl.DataType | DataTypeClass) -> pl.DataType:
    """A dtype as an instance (polars types a nested dtype's inner dtypes as
    either a class or an instance)."""
    return dtype if isinstance(dtype, pl.DataType) else dtype()


def _json_dtype(dtype: pl.DataType | DataTypeClass) -> pl.DataType | None:
    """The dtype to cast a column to so that polars' JSON encoder writes the
    values :func:`_json_cell` writes, or None if it cannot. ``Float32`` is
    cast to ``Float64`` (written as Python writes the widened value, not as
    the shorter float32 text); ``Datetime`` (polars writes a space, Python a
    ``T``), ``Time`` (polars writes ``01:02:03.120``, Python
    ``01:02:03.120000``, and nanoseconds Python drops), ``Duration``,
    ``Binary`` and ``Object`` are left to the per-cell path."""
    dtype = _dtype(dtype)
    if isinstance(dtype, pl.List):
        inner = _json_dtype(dtype.inner)
        return None if inner is None else pl.List(inner)
    if isinstance(dtype, pl.Array):
        inner = _json_dtype(dtype.inner)
        return None if inner is None else pl.Array(inner, dtype.shape)
    if isinstance(dtype, pl.Struct):
        if not dtype.fields:
            return None
        fields: dict[str, pl.DataType] = {}
        for f in dtype.fields:
            target = _json_dtype(f.dtype)
            if target is None:
                return None
            fields[f.name] = target
        return pl.Struct(fields)
    if isinstance(dtype, pl.Float32):
        return pl.Float64()
    if isinstance(dtype, _JSON_AS_IS):
        return dtype
    return None


def _float_leaves(expr: pl.Expr, dtype: pl.DataType | DataTypeClass) -> list[pl.Expr]:
    """Every float inside a (nested) column, each leaf as one flat column."""
    dtype = _dtype(dtype)
    if isinstance(dtype, pl.List):
        return _float_leaves(expr.explode(), dtype.inner)
    if isinstance(dtype, pl.Array):
        return _float_leaves(expr.arr.explode(), dtype.inner)
    if isinstance(dtype, pl.Struct):
        return [leaf for f in dtype.fields for leaf in _float_leaves(expr.struct.field(f.name), f.dtype)]
    return [expr] if dtype.is_float() else []


def _json_columns(frame: pl.DataFrame, names: Sequence[str]) -> dict[str, pl.DataType]:
    """Of ``names``, the columns polars can write as JSON column-wise, each
    with the dtype to cast it to first (:func:`_json_dtype`). A column with
    a NaN or an infinity anywhere inside is not one of them: polars writes
    ``null`` where ``json`` writes ``NaN``/``Infinity`` (which the CSV reader
    reads back), so it keeps the per-cell path."""
    targets = {n: t for n in names if (t := _json_dtype(frame.schema[n])) is not None}
    leaves = [(n, leaf) for n in targets for leaf in _float_leaves(_column(frame, n), frame.schema[n])]
    if leaves and frame.height:
        found = frame.select((~leaf.is_finite()).any().alias(str(i)) for i, (_, leaf) in enumerate(leaves))
        for (name, _), bad in zip(leaves, found.row(0), strict=True):
            if bad:
                targets.pop(name, None)
    return targets


def _column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A column by position: ``pl.col`` would read a name such as ``*`` or
    ``^a.*$`` as a pattern (the input's column names are the user's)."""
    return pl.nth(frame.columns.index(name))


def _json_text(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` as compact JSON text, column-wise (null stays null):
    polars encodes a struct as an object, so the column is wrapped in a
    one-field struct and the wrapper's ``{"v":`` and ``}`` are cut off."""
    col = _column(frame, name)
    wrapped = pl.struct(col.cast(dtype).alias("v")).struct.json_encode()
    return pl.when(col.is_not_null()).then(wrapped.str.slice(5).str.head(-1)).alias(name)


def _for_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as JSON text, enums as strings: what a CSV can hold.

    The JSON is compact (no spaces) and written column-wise by polars where
    it writes the same values as :func:`_json_cell` (see :func:`_json_columns`);
    a column it cannot write so (datetimes, NaN, ...) goes cell by cell."""
    nested = [n for n, d in frame.schema.items() if isinstance(d, pl.List | pl.Array | pl.Struct)]
    fast = _json_columns(frame, nested)
    exprs: list[pl.Expr | pl.Series] = []
    for name, dtype in frame.schema.items():
        if name in fast:
            exprs.append(_json_text(frame, name, fast[name]))
        elif name in nested:
            exprs.append(
                pl.Series(
                    name,
                    [None if v is None else _json_cell(v) for v in frame.get_column(name).to_list()],
                    dtype=pl.String(),
                )
            )
        elif isinstance(dtype, pl.Enum | pl.Categorical):
            exprs.append(frame.get_column(name).cast(pl.String()))
        else:
            exprs.append(frame.get_column(name))
    return frame.select(exprs)


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Write a file whole or not at all: yields a temporary path beside ``path``
    (same folder, so the rename cannot cross file systems); when the block
    ends normally the file is flushed to disk and renamed over ``path`` in one
    step (``os.replace``). On any exception, ``KeyboardInterrupt`` (Ctrl-C)
    included, the temporary file is removed and ``path`` keeps its previous
    content."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(frame: pl.DataFrame, path: str | Path, *, stdout: TextIO | None = None) -> None:
    """Write a table; the format comes from the extension (``-``: CSV to stdout).

    A file appears whole or not at all (see :func:`replacing`).
    """
    fmt = file_format(path, role="output")
    try:
        if str(path) == "-":
            assert stdout is not None
            stdout.write(_for_text(frame).write_csv())
            return
        p = Path(path)
        if p.parent and not p.parent.exists():
            raise FileError(
                f"cannot write {str(path)!r}: the folder {str(p.parent)!r} does not exist",
                hint="create it first",
            )
        if fmt == "jsonl":
            _write_jsonl_frame(frame, p)
            return
        with replacing(p) as tmp:
            if fmt == "csv":
                _for_text(frame).write_csv(tmp)
            else:
                frame.write_parquet(tmp)
    except PermissionError:
        raise FileError(
            f"cannot write {str(path)!r}: permission denied", hint="choose another path"
        ) from None


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> None:
    """One JSON object per line (dates as ISO text); whole or not at all."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=_json_default))
            f.write("\n")


def _write_jsonl_frame(frame: pl.DataFrame, path: Path) -> None:
    """A frame as JSON Lines: column-wise by polars (compact, keys in column
    order) when it writes every column as :func:`write_jsonl` would (see
    :func:`_json_columns`), else row by row; whole or not at all."""
    fast = _json_columns(frame, frame.columns)
    if not frame.width or len(fast) < frame.width:
        write_jsonl(frame.iter_rows(named=True), path)
        return
    with replacing(path) as tmp:
        frame.select(_column(frame, n).cast(t) for n, t in fast.items()).write_ndjson(tmp)


def bad_rows_frame(rows: Sequence[BadRow]) -> pl.DataFrame:
    """Rejected rows as a table: row, line, id, reason (in file order)."""
    ordered = sorted(rows, key=lambda r: r.row)
    return pl.DataFrame(
        {
            "row": [r.row for r in ordered],
            "line": [r.line for r in ordered],
            "id": [r.id for r in ordered],
            "reason": [r.reason for r in ordered],
        },
        schema={"row": pl.Int64(), "line": pl.Int64(), "id": pl.String(), "reason": pl.String()},
    )
