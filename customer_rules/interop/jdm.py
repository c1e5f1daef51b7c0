"""GoRules JSON Decision Model (JDM): decision tables in and out.

A JDM file is a graph (``nodes``, ``edges``); its ``decisionTableNode``
holds ``content``: ``hitPolicy`` (``first`` or ``collect``), ``inputs``
(each with a ``field``, the dotted path it reads), ``outputs`` and
``rules`` (each a mapping of input / output id to cell text, plus ``_id``
and ``_description``). Cells are ZEN unary tests (see :mod:`.cells`).

Export writes a graph ``inputNode -> decisionTableNode -> outputNode``
whose table has one output, ``label``, and keeps what JDM has no place for
(label names, the policy id and version, ``default`` under ``collect``,
``on_many``) under a top-level ``customer_rules`` key, which ZEN ignores.

:data:`ZEN_DIFFERENCES` and :func:`zen_input` are the one place where the
known differences between ZEN's evaluation and ours are written down.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from customer_rules.interop.cells import read_cell, write_cell
from customer_rules.interop.table import (
    ANY,
    Cell,
    Hit,
    InteropError,
    Row,
    Table,
    check_column,
    check_id,
    labels_for,
    policy_from_table,
    table_from_policy,
)
from customer_rules.lang.policy import LabelDef, Policy, Text

CONTENT_TYPE = "application/vnd.gorules.decision"
OUTPUT_FIELD = "label"

#: The known differences between ZEN's evaluation of an exported table and
#: ours, and how each is made to not matter. The differential tests use
#: :func:`zen_input` for the first; the exporter handles the others.
ZEN_DIFFERENCES: tuple[tuple[str, str], ...] = (
    (
        "decimal numbers",
        "ZEN compares numbers as decimals (about 28 significant digits) made from the input's "
        "binary floats, rounded to about 15 significant digits, with at most 28 digits after the "
        "point, and refuses numbers beyond +-7.9e28; we compare binary floats. zen_input rounds "
        "record floats to 15 significant digits and 28 decimal places, which both engines then "
        "compare the same way, and refuses larger numbers; the exporter refuses constants ZEN "
        "cannot hold exactly.",
    ),
    (
        "empty cells and null",
        "An empty ZEN cell matches anything, null included; so does a column a rule does not "
        "test in our language. Both are written as an empty cell.",
    ),
    (
        "!= and not in match null",
        "In ZEN '$ != c' and '$ not in [...]' are true for null, while our 'x != c' does not "
        "match a missing x. The exporter writes '$ != null and $ != c'; the importer reads a "
        "bare '!= c' as 'x is missing or x != c'.",
    ),
    (
        "error cells",
        "A ZEN cell whose evaluation fails (e.g. '$ < 3' on null inside an 'or') does not "
        "match, silently. Exported cells never compare a missing value except where failing "
        "means not matching; 'missing, or several tests' has no safe ZEN spelling and is refused.",
    ),
    (
        "default and collect",
        "JDM has no default output. Under 'first' the exporter adds a last rule with empty "
        "cells; under 'collect' the default is kept in the customer_rules metadata and applies "
        "when ZEN returns no match. Our collect reports the distinct matched labels in rule "
        "order; ZEN returns one result per matched rule.",
    ),
)

_DECIMAL_LIMIT = 7.9e28


def zen_input(data: Any) -> Any:
    """``data`` (a record as plain JSON data) with its numbers as ZEN reads them.

    Floats are rounded to 15 significant digits; numbers ZEN cannot hold
    are an :class:`InteropError`. Give the result to both engines.
    """
    if isinstance(data, Mapping):
        return {k: zen_input(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [zen_input(v) for v in data]
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return data
    if isinstance(data, int | float):
        if not math.isfinite(data) or abs(data) >= _DECIMAL_LIMIT:
            raise InteropError(f"ZEN cannot hold the number {data!r}")
        return round(float(f"{data:.15g}"), 28) if isinstance(data, float) else data
    return data


def zen_decision(policy: Policy, result: Any) -> tuple[str | None, tuple[str, ...]]:
    """ZEN's ``result`` for ``to_jdm(policy)`` as the ``(label, labels)`` a Decision reports.

    Under ``first`` ZEN returns the first matching rule's output (``{}`` for
    none); under ``collect`` one output per matching rule, in rule order.
    Labels are then reported once each; with none, the default; the label
    of a disagreeing collect is ``on_many`` or the highest-ranked label.
    """
    if isinstance(result, Mapping):
        found = [result[OUTPUT_FIELD]] if OUTPUT_FIELD in result else []
    else:
        found = [r[OUTPUT_FIELD] for r in result if isinstance(r, Mapping) and OUTPUT_FIELD in r]
    labels = tuple(dict.fromkeys(str(x) for x in found))
    if not labels:
        return policy.default, (policy.default,) if policy.default is not None else ()
    if len(labels) == 1 or policy.hit != "collect":
        return labels[0], labels
    rank = {lab: i for i, lab in enumerate(policy.label_ids)}
    return policy.on_many or min(labels, key=rank.__getitem__), labels


# -- export ---------------------------------------------------------------------


def to_jdm(policy: Policy) -> dict[str, Any]:
    """The policy as a JDM graph (a JSON-ready dict)."""
    table = table_from_policy(policy)
    if table.hit == "unique":
        raise InteropError(
            f"policy {policy.id!r} has hit: unique, which JDM has no equivalent for "
            "(ZEN knows first and collect)",
            field="hit",
            hint="use first (the same when rules never overlap) before exporting",
        )
    rows = list(table.rows)
    hit = "collect" if table.hit == "collect" else "first"
    if table.hit == "priority":  # first over rules sorted by their label's rank, stably
        rank = {lab.id: i for i, lab in enumerate(table.labels)}
        rows.sort(key=lambda r: rank[r.label])
    inputs = [{"id": f"in{n}", "name": col, "field": col} for n, col in enumerate(table.columns)]
    params = {k: v for k, v in table.params.items() if isinstance(v, bool | int | float | str)}
    rules: list[dict[str, str]] = []
    for row in rows:
        rule = {"_id": row.id, "_description": row.because.en if row.because else ""}
        for n, col in enumerate(table.columns):
            try:
                rule[f"in{n}"] = write_cell(row.cells.get(col, ANY), "zen", params)
            except InteropError as exc:
                raise InteropError(
                    exc.message, cell=f"rule {row.id!r} column {col!r}", hint=exc.hint
                ) from None
        rule["out"] = json.dumps(row.label)
        rules.append(rule)
    if table.default is not None and hit == "first":
        rules.append(
            {
                "_id": "default",
                "_description": "default",
                **{f"in{n}": "" for n in range(len(inputs))},
                "out": json.dumps(table.default),
            }
        )
    meta: dict[str, Any] = {
        "id": table.id,
        "version": table.version,
        "labels": [
            lab.model_dump(exclude_none=True, exclude_defaults=True) | {"id": lab.id} for lab in table.labels
        ],
    }
    if table.default is not None:
        meta["default"] = table.default
    if table.on_many is not None:
        meta["on_many"] = table.on_many
    if table.description is not None:
        meta["description"] = table.description.model_dump(exclude_none=True)
    return {
        "contentType": CONTENT_TYPE,
        "customer_rules": meta,
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": table.id,
                "position": {"x": 300, "y": 0},
                "content": {
                    "hitPolicy": hit,
                    "inputs": inputs,
                    "outputs": [{"id": "out", "name": "Label", "field": OUTPUT_FIELD}],
                    "rules": rules,
                    "passThrough": False,
                    "inputField": None,
                    "outputPath": None,
                    "executionMode": "single",
                },
            },
            {"id": "response", "type": "outputNode", "name": "Response", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


# -- import ---------------------------------------------------------------------


def is_jdm(data: Any) -> bool:
    """True when ``data`` (parsed JSON) is a JDM graph rather than a policy."""
    return isinstance(data, Mapping) and isinstance(data.get("nodes"), list) and "labels" not in data


def _load(source: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    text = str(source)
    if isinstance(source, str) and text.lstrip().startswith("{"):
        where = None
    else:
        where = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InteropError(f"cannot read JDM file: {exc.strerror}", file=where) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InteropError(
            f"not valid JSON: {exc.msg}", file=where, line=exc.lineno, column=exc.colno
        ) from None
    if not is_jdm(data):
        raise InteropError("not a JDM graph (no 'nodes' list)", file=where)
    return data  # type: ignore[no-any-return]


def from_jdm(
    source: Mapping[str, Any] | str | Path,
    *,
    table: str | None = None,
    fields: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    policy_id: str | None = None,
) -> Policy:
    """Read a JDM graph's decision table into a policy.

    ``source`` is a JDM file, its JSON text or the parsed graph. ``table``
    picks a ``decisionTableNode`` by name when there are several.
    ``fields`` maps JDM input fields to record paths (unmapped fields must
    already be record paths); ``labels`` maps output values to label ids.
    """
    graph = _load(source)
    file = None if isinstance(source, Mapping) or str(source).lstrip().startswith("{") else str(source)
    tables = [n for n in graph["nodes"] if isinstance(n, Mapping) and n.get("type") == "decisionTableNode"]
    if table is not None:
        tables = [n for n in tables if n.get("name") == table]
    if len(tables) != 1:
        names = [
            n.get("name")
            for n in graph["nodes"]
            if isinstance(n, Mapping) and n.get("type") == "decisionTableNode"
        ]
        raise InteropError(
            f"found {len(tables)} decision tables{f' named {table!r}' if table else ''}; expected one",
            file=file,
            hint=f"pick one with table=...: {names}" if names else None,
        )
    node = tables[0]
    content = node.get("content") or {}
    meta = graph.get("customer_rules") or {}
    fields = fields or {}
    labels = labels or {}
    hit_policy = content.get("hitPolicy", "first")
    if hit_policy not in ("first", "collect"):
        raise InteropError(f"unknown JDM hit policy {hit_policy!r}", file=file, field="hitPolicy")
    hit: Hit = hit_policy
    outputs = content.get("outputs") or []
    if len(outputs) != 1:
        raise InteropError(
            f"the table has {len(outputs)} outputs; a policy has exactly one (the label)",
            file=file,
            field="outputs",
        )
    out_id = outputs[0].get("id")
    columns: list[tuple[str, str, str]] = []  # (input id, display name, record path)
    for n, inp in enumerate(content.get("inputs") or []):
        display = str(inp.get("name") or inp.get("field") or f"input {n + 1}")
        raw = inp.get("field")
        if not raw:
            raise InteropError(
                "an input without a field (an expression column) is outside the shared subset",
                file=file,
                field=f"column {display!r}",
            )
        columns.append(
            (str(inp.get("id")), display, check_column(fields.get(raw, raw), f"column {display!r}"))
        )
    rows: list[Row] = []
    for n, rule in enumerate(content.get("rules") or []):
        raw_id = str(rule.get("_id") or f"r{n + 1}")
        rid = raw_id if _valid_id(raw_id) else f"r{n + 1}"
        cells: dict[str, Cell] = {}
        for in_id, display, path in columns:
            where = f"rule {raw_id!r} column {display!r}"
            cell = read_cell(rule.get(in_id) or None, "zen", where)
            if not cell.empty:
                cells[path] = cells[path].both(cell) if path in cells else cell
        label = _label(
            rule.get(out_id), labels, f"rule {raw_id!r} column {outputs[0].get('name', 'output')!r}"
        )
        desc = rule.get("_description")
        rows.append(Row(rid, cells, label, Text(en=desc) if desc else None))
    default = meta.get("default")
    if hit == "first" and default is not None and rows and not rows[-1].cells and rows[-1].id == "default":
        rows.pop()  # the catch-all rule to_jdm wrote for the default
    label_ids = [
        *(lab.get("id") for lab in meta.get("labels", []) if isinstance(lab, Mapping)),
        *(r.label for r in rows),
    ]
    if default is not None:
        label_ids.append(default)
    known = [LabelDef.model_validate(lab) for lab in meta.get("labels", []) if isinstance(lab, Mapping)]
    description = meta.get("description")
    result = Table(
        id=check_id(
            policy_id or meta.get("id") or _slug(str(node.get("name") or "jdm")), "policy id", "name"
        ),
        labels=labels_for([str(i) for i in label_ids if i], known),
        columns=tuple(dict.fromkeys(path for _, _, path in columns)),
        rows=tuple(rows),
        hit=hit,
        default=default,
        on_many=meta.get("on_many"),
        version=str(meta.get("version", "1")),
        description=Text.model_validate(description) if description else None,
    )
    return policy_from_table(result)


def _valid_id(value: str) -> bool:
    try:
        check_id(value, "rule id", "")
    except InteropError:
        return False
    return True


def _slug(name: str) -> str:
    out = "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in name).strip("_")
    return out if out and out[0].isalpha() else "t_" + out if out else "jdm"


def _label(text: Any, labels: Mapping[str, str], where: str) -> str:
    if not isinstance(text, str):
        raise InteropError("the output cell is empty", cell=where)
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        value = stripped[1:-1]
    else:
        raise InteropError(
            f"output {text!r} is not a text constant; a label must be one",
            cell=where,
            hint='write the label in quotes, e.g. "gold"',
        )
    return check_id(labels.get(value, value), "label", where)
