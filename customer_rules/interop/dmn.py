"""DMN 1.3-1.5 XML decision tables in and out.

Reads a ``decision`` whose logic is a ``decisionTable``: its ``input``
columns (``inputExpression`` must be a dotted name such as
``value.revenue_12m``, mapped with ``fields=``), one ``output`` whose
entries are text constants (the labels), its ``outputValues`` (label
order), ``defaultOutputEntry`` (the default) and rules whose
``inputEntry`` cells are FEEL unary tests (see :mod:`.cells`).

Hit policies: ``U`` is ``unique``, ``F`` ``first``, ``P`` ``priority``
(labels ranked by the output values), ``C`` (no aggregation) and ``O``
``collect`` (``O`` with labels ranked by the output values, so the
decided label is the first of O's list). ``A`` (any: overlaps must agree,
else an error), ``R`` (a list in rule order, repeats kept) and ``C`` with
an aggregation (``C+``, ``C#``, ``C<``, ``C>``) mean something our hit
policies do not, and are refused.

XML is parsed with defusedxml (no entity expansion, no external
entities); it is in the ``interop`` extra.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from customer_rules.interop.cells import read_cell, write_cell
from customer_rules.interop.table import (
    ANY,
    Cell,
    Hit,
    InteropError,
    Param,
    Row,
    Table,
    check_column,
    check_id,
    labels_for,
    policy_from_table,
    table_from_policy,
)
from customer_rules.lang.policy import LabelDef, Policy, Text

NAMESPACES = {
    "1.3": "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "1.4": "https://www.omg.org/spec/DMN/20211108/MODEL/",
    "1.5": "https://www.omg.org/spec/DMN/20230324/MODEL/",
}
FEEL = {
    "https://www.omg.org/spec/DMN/20191111/FEEL/",
    "https://www.omg.org/spec/DMN/20211108/FEEL/",
    "https://www.omg.org/spec/DMN/20230324/FEEL/",
}
EXT = "urn:customer-rules:policy:1"

_HIT_IN: dict[str, Hit] = {
    "UNIQUE": "unique",
    "FIRST": "first",
    "PRIORITY": "priority",
    "COLLECT": "collect",
    "OUTPUT ORDER": "collect",
}
_REFUSED = {
    "ANY": "A (any) requires overlapping rules to agree and is an error otherwise; no hit policy of ours does that",
    "RULE ORDER": "R (rule order) returns every match in rule order, repeats kept; collect reports each label once",
}
_HIT_OUT = {"first": "FIRST", "unique": "UNIQUE", "priority": "PRIORITY", "collect": "COLLECT"}


def _defused() -> Any:
    try:
        import defusedxml.ElementTree as safe
    except ImportError:
        raise ImportError("reading DMN needs defusedxml: pip install 'customer-rules[interop]'") from None
    return safe


# -- export ---------------------------------------------------------------------


def to_dmn(policy: Policy, *, version: str = "1.3") -> str:
    """The policy as DMN XML text (DMN ``version`` 1.3, 1.4 or 1.5)."""
    if version not in NAMESPACES:
        raise InteropError(f"unknown DMN version {version!r}", hint="use 1.3, 1.4 or 1.5")
    ns = NAMESPACES[version]
    table = table_from_policy(policy)
    ET.register_namespace("", ns)
    ET.register_namespace("cr", EXT)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    root = ET.Element(
        f"{{{ns}}}definitions",
        {"id": f"definitions_{table.id}", "name": table.id, "namespace": f"urn:customer-rules:{table.id}"},
    )
    decision = el(root, "decision", id=table.id, name=table.description.en if table.description else table.id)
    ext = el(decision, "extensionElements")
    meta = ET.SubElement(ext, f"{{{EXT}}}policy", {"id": table.id, "version": table.version})
    if table.on_many is not None:
        meta.set("on_many", table.on_many)
    if table.description is not None:
        ET.SubElement(meta, f"{{{EXT}}}description", _text_attrs(table.description))
    for lab in table.labels:
        ET.SubElement(meta, f"{{{EXT}}}label", {"id": lab.id, "en": lab.en, "zh": lab.zh})
    for name, value in table.params.items():
        if isinstance(value, bool | int | float | str):
            ET.SubElement(meta, f"{{{EXT}}}param", {"name": name, "value": _feel(value)})
    dt = el(
        decision, "decisionTable", id=f"table_{table.id}", hitPolicy=_HIT_OUT[table.hit], outputLabel="label"
    )
    params = {k: v for k, v in table.params.items() if isinstance(v, bool | int | float | str)}
    for n, column in enumerate(table.columns):
        inp = el(dt, "input", id=f"input_{n + 1}", label=column)
        attrs = {"id": f"inputExpression_{n + 1}"}
        type_ref = _type_of(table, column)
        if type_ref:
            attrs["typeRef"] = type_ref
        expr = el(inp, "inputExpression", **attrs)
        el(expr, "text", column)
    out = el(dt, "output", id="output_1", name="label", typeRef="string")
    values = el(out, "outputValues", id="outputValues_1")
    el(values, "text", ",".join(_feel(lab.id) for lab in table.labels))
    if table.default is not None:
        default = el(out, "defaultOutputEntry", id="defaultOutputEntry_1")
        el(default, "text", _feel(table.default))
    for row in table.rows:
        rule = el(dt, "rule", id=row.id)
        if row.because is not None:
            el(rule, "description", row.because.en)
        for n, column in enumerate(table.columns):
            entry = el(rule, "inputEntry", id=f"{row.id}_in{n + 1}")
            el(entry, "text", write_cell(row.cells.get(column, ANY), "feel", params))
        entry = el(rule, "outputEntry", id=f"{row.id}_out")
        el(entry, "text", _feel(row.label))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _feel(value: bool | int | float | str) -> str:
    from customer_rules.interop.cells import write_const

    return write_const(value, "feel")


def _text_attrs(text: Text) -> dict[str, str]:
    return {"en": text.en, **({"zh": text.zh} if text.zh else {})}


def _type_of(table: Table, column: str) -> str | None:
    kinds = set()
    for row in table.rows:
        cell = row.cells.get(column)
        for test in (cell.tests or ()) if cell else ():
            for v in test.values:
                value = table.value(v) if isinstance(v, Param) else v
                kinds.add(
                    "boolean" if isinstance(value, bool) else "string" if isinstance(value, str) else "number"
                )
    return kinds.pop() if len(kinds) == 1 else None


# -- import ---------------------------------------------------------------------


def from_dmn(
    source: str | Path | bytes,
    *,
    decision: str | None = None,
    fields: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    policy_id: str | None = None,
) -> Policy:
    """Read a DMN decision table into a policy.

    ``source`` is a ``.dmn`` file or its XML text. ``decision`` picks a
    decision by id or name when the file has several tables; ``fields``
    maps input expressions (or input labels) to record paths; ``labels``
    maps output values to label ids.
    """
    safe = _defused()
    file: str | None = None
    if isinstance(source, bytes) or (isinstance(source, str) and source.lstrip().startswith("<")):
        text = source
    else:
        file = str(source)
        try:
            text = Path(source).read_bytes()
        except OSError as exc:
            raise InteropError(f"cannot read DMN file: {exc.strerror}", file=file) from None
    try:
        root = safe.fromstring(text)
    except ET.ParseError as exc:
        line, col = exc.position
        raise InteropError(f"not valid XML: {exc}", file=file, line=line, column=col + 1) from None
    except Exception as exc:  # defusedxml's refusals (entities, DTDs)
        raise InteropError(f"refused XML: {type(exc).__name__}: {exc}", file=file) from None
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if ns not in NAMESPACES.values():
        raise InteropError(
            f"not a DMN 1.3-1.5 document (namespace {ns!r})",
            file=file,
            hint="expected " + ", ".join(NAMESPACES.values()),
        )
    q = f"{{{ns}}}"
    found = [d for d in root.iter(f"{q}decision") if d.find(f"{q}decisionTable") is not None]
    if decision is not None:
        found = [d for d in found if decision in (d.get("id"), d.get("name"))]
    if len(found) != 1:
        names = [d.get("id") for d in root.iter(f"{q}decision")]
        raise InteropError(
            f"found {len(found)} decision tables{f' for {decision!r}' if decision else ''}; expected one",
            file=file,
            hint=f"pick one with decision=...: {names}" if names else None,
        )
    node = found[0]
    dt = node.find(f"{q}decisionTable")
    assert dt is not None
    fields = fields or {}
    labels = labels or {}

    def err(message: str, where: str, hint: str | None = None) -> InteropError:
        return InteropError(message, cell=where, file=file, hint=hint)

    hit_attr = (dt.get("hitPolicy") or "UNIQUE").upper()
    if hit_attr in _REFUSED:
        raise err(
            f"hit policy {hit_attr} is refused: {_REFUSED[hit_attr]}", f"decisionTable {dt.get('id')!r}"
        )
    if hit_attr not in _HIT_IN:
        raise err(f"unknown hit policy {hit_attr!r}", f"decisionTable {dt.get('id')!r}")
    if dt.get("aggregation"):
        raise err(
            f"hit policy C{dt.get('aggregation')} aggregates outputs into a number; a label cannot be aggregated",
            f"decisionTable {dt.get('id')!r}",
        )
    outputs = dt.findall(f"{q}output")
    if len(outputs) != 1:
        raise err(
            f"the table has {len(outputs)} outputs; a policy decides one label",
            f"decisionTable {dt.get('id')!r}",
            hint="split a multi-output table into one table per output",
        )
    output = outputs[0]
    columns: list[str] = []
    kinds: list[type | None] = []  # the Python type each input's typeRef declares
    for inp in dt.findall(f"{q}input"):
        where = f"input {inp.get('id')!r}"
        expr_el = inp.find(f"{q}inputExpression")
        expr = expr_el.find(f"{q}text") if expr_el is not None else None
        raw = (expr.text or "").strip() if expr is not None else ""
        mapped = fields.get(raw) or fields.get(inp.get("label") or "") or raw
        columns.append(check_column(mapped, where))
        type_ref = (expr_el.get("typeRef") or "").strip() if expr_el is not None else ""
        if type_ref and type_ref not in _TYPES:
            raise err(
                f"input type {type_ref!r} is outside the shared subset (number, string, boolean)",
                where,
                hint="dates and times compare differently across engines",
            )
        kinds.append(_TYPES.get(type_ref))
    order = _output_values(output, q, labels, file)
    default_el = output.find(f"{q}defaultOutputEntry/{q}text")
    default = (
        _label(default_el.text, labels, f"output {output.get('id')!r} defaultOutputEntry", file)
        if default_el is not None
        else None
    )
    if hit_attr in ("PRIORITY", "OUTPUT ORDER") and not order:
        raise err(
            f"hit policy {hit_attr} ranks by the output values, and the output has none",
            f"output {output.get('id')!r}",
        )
    meta = node.find(f"{q}extensionElements/{{{EXT}}}policy")
    params: dict[str, Any] = {}
    if meta is not None:
        for p in meta.findall(f"{{{EXT}}}param"):
            cell = read_cell(p.get("value"), "feel", f"param {p.get('name')!r}")
            if cell.tests and cell.tests[0].op == "==" and not isinstance(cell.tests[0].values[0], Param):
                params[str(p.get("name"))] = cell.tests[0].values[0]
    rows: list[Row] = []
    for n, rule in enumerate(dt.findall(f"{q}rule")):
        raw_id = rule.get("id") or f"r{n + 1}"
        rid = raw_id if _valid_id(raw_id) else f"r{n + 1}"
        entries = rule.findall(f"{q}inputEntry")
        if len(entries) != len(columns):
            raise err(f"rule has {len(entries)} input entries for {len(columns)} inputs", f"rule {raw_id!r}")
        cells: dict[str, Cell] = {}
        for column, kind, entry in zip(columns, kinds, entries, strict=True):
            where = f"rule {raw_id!r} inputEntry {entry.get('id')!r}"
            lang = entry.get("expressionLanguage")
            if lang and lang not in FEEL and lang.lower() != "feel":
                raise err(f"expression language {lang!r} is not FEEL", where)
            text_el = entry.find(f"{q}text")
            cell = read_cell((text_el.text or "") if text_el is not None else "", "feel", where)
            _check_type(cell, kind, where, file)
            if not cell.empty:
                cells[column] = cells[column].both(cell) if column in cells else cell
        outs = rule.findall(f"{q}outputEntry")
        out_where = f"rule {raw_id!r} outputEntry {outs[0].get('id') if outs else None!r}"
        out_text = outs[0].find(f"{q}text") if outs else None
        label = _label(out_text.text if out_text is not None else None, labels, out_where, file)
        desc_el = rule.find(f"{q}description")
        because = (
            Text(en=desc_el.text.strip())
            if desc_el is not None and desc_el.text and desc_el.text.strip()
            else None
        )
        rows.append(Row(rid, cells, label, because))
    known = [
        LabelDef(id=str(lab.get("id")), en=str(lab.get("en")), zh=str(lab.get("zh")))
        for lab in (meta.findall(f"{{{EXT}}}label") if meta is not None else [])
    ]
    label_ids = [*order, *(lab.id for lab in known), *(r.label for r in rows)]
    if default is not None:
        label_ids.append(default)
    desc = meta.find(f"{{{EXT}}}description") if meta is not None else None
    pid = policy_id or (meta.get("id") if meta is not None else None) or node.get("id") or "dmn"
    result = Table(
        id=check_id(str(pid), "policy id", f"decision {node.get('id')!r}"),
        labels=labels_for(label_ids, known),
        columns=tuple(dict.fromkeys(columns)),
        rows=tuple(rows),
        hit=_HIT_IN[hit_attr],
        default=default,
        on_many=meta.get("on_many") if meta is not None else None,
        version=meta.get("version", "1") if meta is not None else "1",
        params=params,
        description=Text(en=str(desc.get("en")), zh=desc.get("zh")) if desc is not None else None,
    )
    return policy_from_table(result)


#: DMN / FEEL type names (and common engine aliases) of the shared subset.
_TYPES: dict[str, type | None] = {
    "number": float,
    "integer": float,
    "long": float,
    "double": float,
    "string": str,
    "boolean": bool,
    "Any": None,
}


def _check_type(cell: Cell, kind: type | None, where: str, file: str | None) -> None:
    """Refuse a cell whose constants are not of its input's declared type."""
    if kind is None:
        return
    for term in cell.tests or ():
        for v in term.values:
            if isinstance(v, Param):
                continue
            if kind is bool:
                ok = isinstance(v, bool)
            elif kind is str:
                ok = isinstance(v, str)
            else:
                ok = isinstance(v, int | float) and not isinstance(v, bool)
            if not ok:
                name = {float: "number", str: "string", bool: "boolean"}[kind]
                raise InteropError(f"{v!r} is not a {name}, the input's typeRef", cell=where, file=file)


def _valid_id(value: str) -> bool:
    try:
        check_id(value, "rule id", "")
    except InteropError:
        return False
    return True


def _output_values(output: ET.Element, q: str, labels: Mapping[str, str], file: str | None) -> list[str]:
    values = output.find(f"{q}outputValues/{q}text")
    if values is None or not (values.text or "").strip():
        return []
    where = f"output {output.get('id')!r} outputValues"
    cell = read_cell(values.text, "feel", where)
    tests = cell.tests or ()
    if len(tests) != 1 or tests[0].op not in ("==", "in"):
        raise InteropError("output values must be a list of text constants", cell=where, file=file)
    out = []
    for v in tests[0].values:
        if not isinstance(v, str):
            raise InteropError(f"output value {v!r} is not text; labels are text", cell=where, file=file)
        out.append(check_id(labels.get(v, v), "label", where))
    return out


def _label(text: str | None, labels: Mapping[str, str], where: str, file: str | None) -> str:
    cell = read_cell(text or "", "feel", where)
    tests = cell.tests or ()
    if cell.null or len(tests) != 1 or tests[0].op != "==" or not isinstance(tests[0].values[0], str):
        raise InteropError(
            f"output {text!r} is not a text constant; a label must be one",
            cell=where,
            file=file,
            hint='write the label in quotes, e.g. "gold"',
        )
    value = tests[0].values[0]
    return check_id(labels.get(value, value), "label", where)
