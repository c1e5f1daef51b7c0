"""A decision-table spreadsheet (.xlsx) that business users edit.

Layout (sheet names are fixed; rows after the header are read until the
first blank row):

``Rules``
    header row: ``rule``, one column per record field (its dotted path,
    e.g. ``value.revenue_12m``), ``label``, optionally ``because``; then one
    row per rule. Condition cells are FEEL unary tests as in DMN: ``>= 5``,
    ``[30..90]``, ``"gold", "silver"``, ``not("north")``, ``null``, ``-`` or
    blank for any value; numbers and booleans typed as such are equality
    tests; ``params.NAME`` reads a parameter.
``Labels``
    ``id``, ``en``, ``zh``; one row per label, highest priority first.
``Policy``
    ``key`` / ``value`` rows: ``id``, ``version``, ``hit``, ``default``,
    ``on_many``, ``description``.
``Params``
    ``name`` / ``value`` rows (optional).

Errors name the cell, e.g. ``Rules!C7``. openpyxl (the ``interop`` extra)
reads and writes the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from customer_rules.interop.cells import read_cell, write_cell
from customer_rules.interop.table import (
    Cell,
    Hit,
    InteropError,
    Row,
    Table,
    check_column,
    check_id,
    policy_from_table,
    table_from_policy,
)
from customer_rules.lang.policy import LabelDef, Policy, Text

_HITS: tuple[Hit, ...] = ("first", "unique", "priority", "collect")


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise ImportError("spreadsheets need openpyxl: pip install 'customer-rules[interop]'") from None
    return openpyxl


def to_xlsx(policy: Policy, path: str | Path) -> Path:
    """Write the policy as a decision-table workbook at ``path``."""
    openpyxl = _openpyxl()
    table = table_from_policy(policy)
    wb = openpyxl.Workbook()
    rules = wb.active
    rules.title = "Rules"
    rules.append(["rule", *table.columns, "label", "because"])
    for row in table.rows:
        cells = [write_cell(row.cells[c], "feel") if c in row.cells else None for c in table.columns]
        rules.append([row.id, *cells, row.label, row.because.en if row.because else None])
    for cell in rules[1]:
        cell.font = openpyxl.styles.Font(bold=True)
    labels = wb.create_sheet("Labels")
    labels.append(["id", "en", "zh"])
    for lab in table.labels:
        labels.append([lab.id, lab.en, lab.zh])
    meta = wb.create_sheet("Policy")
    meta.append(["key", "value"])
    meta.append(["id", table.id])
    meta.append(["version", table.version])
    meta.append(["hit", table.hit])
    if table.default is not None:
        meta.append(["default", table.default])
    if table.on_many is not None:
        meta.append(["on_many", table.on_many])
    if table.description is not None:
        meta.append(["description", table.description.en])
    if table.params:
        params = wb.create_sheet("Params")
        params.append(["name", "value"])
        for name, value in table.params.items():
            if not isinstance(value, bool | int | float | str):
                raise InteropError(
                    f"parameter {name!r} is a date; dates are not in the shared subset", field="params"
                )
            params.append([name, value])
    out = Path(path)
    wb.save(out)
    return out


def _ref(sheet: str, row: int, col: int) -> str:
    letters = ""
    n = col
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{sheet}!{letters}{row}"


def _rows(wb: Any, name: str, file: str, required: bool = True) -> list[tuple[int, list[Any]]]:
    if name not in wb.sheetnames:
        if required:
            raise InteropError(
                f"the workbook has no sheet {name!r}", file=file, hint=f"sheets: {wb.sheetnames}"
            )
        return []
    out = []
    for n, values in enumerate(wb[name].iter_rows(values_only=True), start=1):
        cells = list(values)
        if not any(v is not None and str(v).strip() for v in cells):
            break
        out.append((n, cells))
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def from_xlsx(
    path: str | Path,
    *,
    fields: Mapping[str, str] | None = None,
    policy_id: str | None = None,
) -> Policy:
    """Read a decision-table workbook (layout in the module docs) into a policy."""
    openpyxl = _openpyxl()
    file = str(path)
    try:
        wb = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InteropError(f"cannot read the workbook: {exc}", file=file) from None
    except Exception as exc:  # a zip or XML problem inside openpyxl
        raise InteropError(f"not a valid .xlsx workbook: {type(exc).__name__}", file=file) from None
    try:
        return _read(wb, file, fields or {}, policy_id)
    finally:
        wb.close()


def _read(wb: Any, file: str, fields: Mapping[str, str], policy_id: str | None) -> Policy:
    meta: dict[str, Any] = {}
    for n, cells in _rows(wb, "Policy", file)[1:]:
        key = _text(cells[0] if cells else None)
        meta[key] = (cells[1] if len(cells) > 1 else None, _ref("Policy", n, 2))
    params: dict[str, Any] = {}
    for n, cells in _rows(wb, "Params", file, required=False)[1:]:
        name = check_id(_text(cells[0]), "parameter", _ref("Params", n, 1))
        value = cells[1] if len(cells) > 1 else None
        if isinstance(value, dt.date | dt.datetime) or value is None:
            raise InteropError(
                "a parameter must be a number, text or boolean", cell=_ref("Params", n, 2), file=file
            )
        params[name] = value
    labels: list[LabelDef] = []
    for n, cells in _rows(wb, "Labels", file)[1:]:
        lid = check_id(_text(cells[0]), "label", _ref("Labels", n, 1))
        en = _text(cells[1] if len(cells) > 1 else None) or lid
        zh = _text(cells[2] if len(cells) > 2 else None) or en
        labels.append(LabelDef(id=lid, en=en, zh=zh))
    label_ids = {lab.id for lab in labels}

    def label(value: Any, where: str) -> str:
        text = _text(value).strip('"')
        check_id(text, "label", where)
        if text not in label_ids:
            raise InteropError(f"label {text!r} is not on the Labels sheet", cell=where, file=file)
        return text

    table_rows = _rows(wb, "Rules", file)
    if not table_rows:
        raise InteropError("the Rules sheet is empty", cell="Rules!A1", file=file)
    header_n, header = table_rows[0]
    names = [_text(h) for h in header]
    if "label" not in names:
        raise InteropError("the header row has no 'label' column", cell=_ref("Rules", header_n, 1), file=file)
    label_col = names.index("label")
    rule_col = names.index("rule") if "rule" in names else None
    because_col = names.index("because") if "because" in names else None
    columns: dict[int, str] = {}
    for i, name in enumerate(names):
        if i in (label_col, rule_col, because_col) or not name:
            continue
        columns[i] = check_column(fields.get(name, name), _ref("Rules", header_n, i + 1))
    rows: list[Row] = []
    for n, cells in table_rows[1:]:
        cells = cells + [None] * (len(names) - len(cells))
        rid = _text(cells[rule_col]) if rule_col is not None else ""
        rid = check_id(rid or f"r{n}", "rule id", _ref("Rules", n, (rule_col or 0) + 1))
        parsed: dict[str, Cell] = {}
        for i, path in columns.items():
            value = cells[i]
            if isinstance(value, dt.date | dt.datetime):
                raise InteropError(
                    "dates are not in the shared subset", cell=_ref("Rules", n, i + 1), file=file
                )
            try:
                cell = read_cell(
                    value if not isinstance(value, str) else value.strip() or None,
                    "feel",
                    _ref("Rules", n, i + 1),
                    params,
                )
            except InteropError as exc:
                raise InteropError(exc.message, cell=exc.cell, file=file, hint=exc.hint) from None
            if not cell.empty:
                parsed[path] = parsed[path].both(cell) if path in parsed else cell
        because = _text(cells[because_col]) if because_col is not None else ""
        rows.append(
            Row(
                rid,
                parsed,
                label(cells[label_col], _ref("Rules", n, label_col + 1)),
                Text(en=because) if because else None,
            )
        )

    def meta_text(key: str) -> str | None:
        value = _text(meta[key][0]) if key in meta else ""
        return value or None

    hit = meta_text("hit") or "first"
    if hit not in _HITS:
        raise InteropError(
            f"unknown hit policy {hit!r}", cell=meta["hit"][1], file=file, hint=f"one of {_HITS}"
        )
    default = meta_text("default")
    if default is not None:
        default = label(default, meta["default"][1])
    on_many = meta_text("on_many")
    if on_many is not None:
        on_many = label(on_many, meta["on_many"][1])
    pid = policy_id or meta_text("id") or Path(file).stem
    description = meta_text("description")
    table = Table(
        id=check_id(pid, "policy id", meta["id"][1] if "id" in meta else "Policy!B2"),
        labels=tuple(labels),
        columns=tuple(dict.fromkeys(columns.values())),
        rows=tuple(rows),
        hit=hit,
        default=default,
        on_many=on_many,
        version=meta_text("version") or "1",
        params=params,
        description=Text(en=description) if description else None,
    )
    return policy_from_table(table)
