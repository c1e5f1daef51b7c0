"""The commands of the ``customer-rules`` command line (click + rich); what
they share is in :mod:`customer_rules.cli.common`."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
from rich.console import Console
from rich.text import Text

from customer_rules.cli.common import (
    CHUNK,
    PROGRESS_MIN_BYTES,
    CliError,
    CliUsageError,
    Steps,
    _parse_date,
    _renumber,
    as_cli_error,
    as_of_option,
    build_engine,
    cell,
    cli,
    console,
    debug_option,
    encoding_option,
    fit_population,
    fitted_option,
    lang_option,
    library_warnings,
    need_as_of,
    param_option,
    policy_option,
    read_input,
    records_of,
    table,
    wanted_schemes,
    warn,
)
from customer_rules.cli.convert import convert, read_any_policy
from customer_rules.cli.transactions import log_options, read_orders
from customer_rules.errors import BackendUnavailable, PolicyError

if TYPE_CHECKING:
    import polars as pl

    from customer_rules.engine.engine import Engine
    from customer_rules.io.files import BadRow
    from customer_rules.io.files import Table as FileTable


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


@cli.command(
    help="""Classify the built-in sample customers and explain a few.

\b
Examples:
  customer-rules demo
  customer-rules demo --lang zh -n 60
"""
)
@lang_option
@click.option(
    "-n",
    "n",
    type=click.IntRange(1, 100_000),
    default=300,
    show_default=True,
    help="Number of sample customers.",
)
@debug_option
def demo(lang: str, n: int) -> None:
    from customer_rules.cli.demo import run_demo

    run_demo(sys.stdout, lang=lang, n=n)


# ---------------------------------------------------------------------------
# classify
# ---------------------------------------------------------------------------


@cli.command(
    help="""Classify every customer of a file under every scheme (or the ones named).

\b
Examples:
  customer-rules classify customers.csv --as-of 2026-11-22
  customer-rules classify customers.csv --as-of 2026-11-22 --out labels.parquet --reasons
  customer-rules classify crm.jsonl --as-of today --schemes lead_grade,crisis \\
      --out labels.csv --rejected rejected.csv --strict
  customer-rules classify orders.csv --transactions --as-of 2026-11-22 --out labels.csv
  customer-rules classify customers.csv --as-of 2026-11-22 --param value_pyramid.measure=revenue

INPUT is a CSV, Parquet or JSON Lines file; --out and --rejected write any
of the three (by extension; --out - writes CSV to standard output). The
output has the input's columns plus, per scheme, <scheme> (the label,
empty = unclassified) and <scheme>__rule (with --reasons also
<scheme>__reason). Population-relative schemes (value_pyramid, ...) are
fitted on the input first. Rows that cannot be classified are left out of
the output and listed, with the reason, in --rejected. An id on several
rows: the first row (in file order) is classified, the later ones are
rejected. Parquet and JSON Lines output keep the record fields' types
(numbers, dates, booleans) even from a CSV. The exit code is 0 unless
--strict (then 1 when a row was rejected, a column looks like a misspelt
record field, or the file has no customers).

With --transactions, INPUT is an order log (see `customer-rules customers
--help`): its customer table is built first (order lines that cannot be
used are reported, and fail --strict), then classified.
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--transactions",
    is_flag=True,
    help="INPUT is an order log: build the customer table from it first (see `customers`).",
)
@log_options
@click.option(
    "--schemes",
    "schemes",
    multiple=True,
    metavar="A,B",
    help="Only these schemes (comma-separated; repeatable).",
)
@as_of_option
@click.option(
    "--out",
    "out",
    metavar="FILE",
    help="Write the classified rows here (.csv, .parquet, .jsonl; - = stdout).",
)
@click.option(
    "--rejected",
    "rejected_path",
    metavar="FILE",
    help="Write the rejected rows (row, line, id, reason) here.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with code 1 when a row is rejected (duplicate ids included), a column looks like "
    "a misspelt field, or the file has no customers.",
)
@click.option("--reasons", is_flag=True, help="Add a <scheme>__reason column (the rule and why).")
@lang_option
@click.option(
    "--backend",
    type=click.Choice(["auto", "frame", "python"]),
    default="auto",
    show_default=True,
    help="frame: polars, whole table; python: record by record (applies manual overrides). "
    "auto: frame, or python when a plugin overrides decisions.",
)
@click.option(
    "--engine",
    "run_on",
    type=click.Choice(["local", "spark", "dask"]),
    default="local",
    show_default=True,
    help="spark / dask: INPUT, --out and --rejected are Parquet folders, classified on a local "
    "Spark session or Dask cluster (extras customer-rules[spark] / [dask]). A folder INPUT "
    "with local is classified file by file on this machine.",
)
@encoding_option
@fitted_option
@policy_option
@param_option
@debug_option
def classify(
    input_path: Path,
    transactions: bool,
    contacts: Path | None,
    columns: tuple[str, ...],
    contact_columns: tuple[str, ...],
    date_format: str | None,
    schemes: tuple[str, ...],
    as_of: str | None,
    out: str | None,
    rejected_path: str | None,
    strict: bool,
    reasons: bool,
    lang: str,
    backend: str,
    encoding: str,
    fitted: Path | None,
    policies: tuple[Path, ...],
    run_on: str = "local",
) -> None:
    from customer_rules.io.files import bad_rows_frame, file_format, with_cell_values

    day = need_as_of(as_of)
    if run_on != "local" or input_path.is_dir():
        _classify_distributed(
            run_on, input_path, out, rejected_path, day, schemes, reasons, lang, fitted, policies
        )
        return
    for target in (out, rejected_path):
        if target is not None:
            file_format(target, role="output")
    err = console(stderr=True)
    stdout = console()
    engine = build_engine(policies)
    wanted = wanted_schemes(engine, schemes)
    if backend == "auto":
        backend = "python" if engine.has_overrides else "frame"
    typos: list[str] = []
    lines_rejected = 0  # order lines (--transactions)
    big = input_path.is_file() and input_path.stat().st_size >= PROGRESS_MIN_BYTES
    with library_warnings(err), Steps(err, big) as steps:
        task = steps.task("reading")
        if transactions:
            from customer_rules.io.files import table_from_frame
            from customer_rules.model.tables import customer_spec

            built = read_orders(
                input_path,
                day,
                err,
                contacts=contacts,
                columns=columns,
                contact_columns=contact_columns,
                date_format=date_format,
            )
            lines_rejected = built.rejected.height
            table_ = table_from_frame(built.customers, input_path, spec=customer_spec(engine.record_model))
        else:
            if contacts or columns or contact_columns or date_format:
                raise CliUsageError(
                    "--contacts, --column, --contact-column and --date-format read an order log",
                    "add --transactions (INPUT is then an order log)",
                )
            table_ = read_input(
                input_path, encoding, err, strict_columns=typos, strict=strict, model=engine.record_model
            )
        steps.done(task)
        task = steps.task("fitting")
        fit_population(engine, table_, day, wanted, fitted)
        steps.done(task)
        task = steps.task("classifying", total=table_.records.height)
        if backend == "frame":
            try:
                results, bad = _classify_frame(engine, table_, day, wanted, reasons, lang, steps, task)
            except BackendUnavailable as exc:  # no frame backend here: record by record
                warn(err, f"{exc}; classifying record by record instead")
                backend = "python"
        if backend == "python":
            results, bad = _classify_frame(
                engine, table_, day, wanted, reasons, lang, steps, task, backend="python"
            )
        bad = with_cell_values(table_, [*table_.bad, *bad])
        task = steps.task("writing")
        if out is not None:
            _write_output(table_, results, out)
        if rejected_path is not None:
            from customer_rules.io.files import write_table

            write_table(bad_rows_frame(bad), rejected_path, stdout=sys.stdout)
        steps.done(task)
    report = err if out == "-" else stdout
    schemes_run = wanted if wanted is not None else [s for s in engine.schemes if s in results.columns]
    _summary(report, engine, results, schemes_run, lang, table_, bad, day)
    if bad:
        _report_rejected(err, bad, rejected_path)
    if out is None:
        report.print(Text("write the labels with --out FILE (.csv, .parquet or .jsonl)", style="dim"))
    if strict and (bad or typos or lines_rejected):
        why = (
            f"{len(bad)} row(s) rejected"
            if bad
            else f"{lines_rejected} order line(s) rejected"
            if lines_rejected
            else f"column(s) {', '.join(map(repr, typos))} look misspelt"
        )
        raise CliError(
            f"--strict: {why}",
            "see --rejected FILE for the reasons"
            if bad
            else "`customer-rules customers INPUT --rejected FILE` lists them with the reasons"
            if lines_rejected
            else "rename the column(s)",
        )


def _classify_distributed(
    run_on: str,
    input_path: Path,
    out: str | None,
    rejected_path: str | None,
    day: dt.date,
    schemes: tuple[str, ...],
    reasons: bool,
    lang: str,
    fitted: Path | None,
    policies: tuple[Path, ...],
) -> None:
    """``classify FOLDER`` and ``classify --engine spark|dask``: a Parquet folder fitted
    and classified file by file on this machine (``local``: only one file's rows
    and the population measures are in memory at a time), or on a local Spark
    session or Dask cluster (``customer_rules.spark`` / ``customer_rules.dask``);
    the labelled rows and the rejected rows written as Parquet folders."""
    if not input_path.exists():
        raise CliUsageError(f"no such Parquet folder or file: {input_path}")
    for target in (out, rejected_path):
        if target == "-":
            raise CliUsageError(f"--engine {run_on} writes Parquet folders, not standard output")
    engine = build_engine(policies)
    wanted = wanted_schemes(engine, schemes)
    population = [s for s in engine.population_schemes() if wanted is None or s in wanted]
    stdout = console()
    if run_on == "local":
        n_all, n_bad = _classify_folder(
            engine, input_path, out, rejected_path, day, wanted, population, reasons, lang, fitted
        )
        stdout.print(f"{n_all - n_bad} of {n_all} rows classified file by file; {n_bad} rejected")
        return
    try:
        if run_on == "spark":
            import os

            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            from pyspark.sql import SparkSession

            from customer_rules import spark as dist

            session = SparkSession.builder.appName("customer-rules classify").getOrCreate()
            data: Any = session.read.parquet(str(input_path))
        else:
            import dask.dataframe as dd

            from customer_rules import dask as dist  # type: ignore[no-redef]

            data = dd.read_parquet(str(input_path), dtype_backend="pyarrow")
    except ImportError as exc:
        raise CliError(
            f"--engine {run_on} needs {exc.name or run_on}", f"pip install 'customer-rules[{run_on}]'"
        ) from exc
    except BackendUnavailable as exc:
        raise CliError(str(exc), f"pip install 'customer-rules[{run_on}]'") from exc
    if fitted is not None:
        engine.load_fitted(fitted)
    elif population:
        dist.fit(engine, data, as_of=day, schemes=population)
    result: Any = dist.classify(engine, data, as_of=day, schemes=wanted, reasons=reasons, lang=lang)
    if run_on == "spark":
        result.combined.persist()  # both outputs from one classification
        if out is not None:
            result.frame.write.mode("overwrite").parquet(out)
        if rejected_path is not None:
            result.rejected.write.mode("overwrite").parquet(rejected_path)
        n_bad = result.rejected.count()
        n_all = result.combined.count()
    else:
        import dask
        import pyarrow.dataset as pads

        # the input's own Arrow types for its columns (the empty meta dask infers
        # from cannot type nested lists); the label and rule columns are inferred
        source = pads.dataset(str(input_path), format="parquet").schema
        typed = {name: source.field(name).type for name in source.names if name in result.frame.columns}
        writes = [
            part.to_parquet(target, compute=False, write_index=False, schema=schema)
            for part, target, schema in ((result.frame, out, typed), (result.rejected, rejected_path, "infer"))
            if target is not None
        ]
        *_, n_all, n_bad = dask.compute(*writes, result.combined.shape[0], result.rejected.shape[0])
    stdout.print(f"{n_all - n_bad} of {n_all} rows classified on {run_on}; {n_bad} rejected")


def _classify_folder(
    engine: Engine,
    folder: Path,
    out: str | None,
    rejected_path: str | None,
    day: dt.date,
    wanted: list[str] | None,
    population: list[str],
    reasons: bool,
    lang: str,
    fitted: Path | None,
) -> tuple[int, int]:
    """A Parquet folder on one machine: fitted chunk by chunk
    (:func:`customer_rules.scale.cuts.fit_batches`), then classified one file at
    a time, each written to ``out`` (and its rejected rows, named by file and
    row, to ``rejected_path``) under the input file's name. Returns (rows, rejected)."""
    import polars as pl
    import pyarrow.dataset as pads

    from customer_rules.scale.cuts import fit_batches

    files = sorted(f for f in folder.rglob("*.parquet") if f.is_file())
    if not files:
        raise CliUsageError(f"{folder} holds no Parquet files")
    if fitted is not None:
        engine.load_fitted(fitted)
    elif population:
        fit_batches(engine, lambda: pads.dataset(files, format="parquet").to_batches(), as_of=day, schemes=population)
    n_all = n_bad = 0
    for target in (out, rejected_path):
        if target is not None:
            Path(target).mkdir(parents=True, exist_ok=True)
    for f in files:
        frame = pl.read_parquet(f)
        result = engine.classify_frame_with_rejects(frame, as_of=day, schemes=wanted, reasons=reasons, lang=lang)
        name = str(f.relative_to(folder)).replace("/", "__")
        if out is not None:
            result.frame.write_parquet(Path(out) / name)
        if rejected_path is not None and result.rejected.height:
            result.rejected.with_columns(pl.lit(name).alias("file")).write_parquet(Path(rejected_path) / name)
        n_all += frame.height
        n_bad += result.rejected.height
    return n_all, n_bad


def _classify_frame(
    engine: Engine,
    table_: FileTable,
    day: dt.date,
    wanted: list[str] | None,
    reasons: bool,
    lang: str,
    steps: Steps,
    task: Any,
    backend: Literal["frame", "python"] = "frame",
) -> tuple[pl.DataFrame, list[BadRow]]:
    """The record table through ``classify_frame``, in chunks (rows keep their file position):
    the frame backend, or ``backend="python"`` record by record (the reference; applies overrides)."""
    import polars as pl

    from customer_rules.engine.tables import classify_frame as classify_table
    from customer_rules.io.files import ROW, BadRow

    frame = table_.records
    parts: list[pl.DataFrame] = []
    bad: list[BadRow] = []
    for start in range(0, max(frame.height, 1), CHUNK):
        chunk = frame.slice(start, CHUNK)
        if backend == "python":  # the one row-by-row runner, without the frame backend
            result = classify_table(engine, chunk, as_of=day, schemes=wanted, reasons=reasons, lang=lang, backend="python")
        else:
            result = engine.classify_frame_with_rejects(chunk, as_of=day, schemes=wanted, reasons=reasons, lang=lang)
        out = result.frame
        keep = [ROW, *[c for c in out.columns if c not in chunk.columns]]
        parts.append(out.select(keep))
        positions = chunk.get_column(ROW).to_list()
        for r in result.rejected.iter_rows(named=True):
            pos = positions[r["row"]]
            bad.append(BadRow(pos, table_.lines.get(pos), r["id"], _renumber(r["reason"], r["row"], pos)))
        steps.advance(task, chunk.height)
    results = (
        pl.concat(parts, how="vertical_relaxed")
        if parts
        else pl.DataFrame({ROW: []}, schema={ROW: pl.Int64()})
    )
    label_cols = [c for c in results.columns if c != ROW]
    return results.with_columns(
        [pl.col(c).cast(pl.String()) for c in label_cols if "__" in c or c in engine.schemes]
    ), bad


def _write_output(table_: FileTable, results: pl.DataFrame, out: str) -> None:
    """The input's columns (as written) plus the result columns, classified rows only."""
    from customer_rules.io.files import ROW, file_format, typed_fields, write_jsonl, write_table

    added = [c for c in results.columns if c != ROW]
    fmt = file_format(out) if out != "-" else "csv"
    if table_.texts is not None and fmt == "jsonl":
        texts = table_.texts
        rows = (
            {**{k: v for k, v in json.loads(texts[r[ROW]]).items() if k not in added}, **{c: r[c] for c in added}}
            for r in results.iter_rows(named=True)
        )
        write_jsonl(rows, out)
        return
    data = table_.data.drop([c for c in added if c in table_.data.columns])
    if fmt != "csv":  # Parquet and JSON Lines keep types: numbers, dates, booleans as read
        data = typed_fields(table_, data)
    joined = data.join(results, on=ROW, how="inner", maintain_order="left").drop(ROW)
    write_table(joined, out, stdout=sys.stdout)


def _summary(
    report: Console,
    engine: Engine,
    results: pl.DataFrame,
    schemes: Sequence[str],
    lang: str,
    table_: FileTable,
    bad: Sequence[BadRow],
    day: dt.date,
) -> None:
    n = results.height
    t = table("scheme", "label", "name", "count", "share", title=None, right=("count", "share"))
    for sid in schemes:
        if sid not in results.columns:
            continue
        policy = engine.schemes[sid].policy
        counts = Counter(results.get_column(sid).to_list())
        if t.row_count:
            t.add_section()
        first = True
        for label in [*policy.label_ids, None]:
            k = counts.get(label, 0)
            if not k:
                continue
            name = (
                policy.label(label).name(lang)
                if label is not None
                else ("未分类" if lang == "zh" else "unclassified")
            )
            t.add_row(
                cell(sid if first else ""),
                cell(label or "-"),
                cell(name),
                cell(f"{k:,}"),
                cell(f"{k / n:.1%}" if n else "-"),
            )
            first = False
    head = (
        f"{table_.path.name}: {table_.n_rows:,} row(s), {n:,} classified, {len(bad):,} rejected, as of {day}"
    )
    report.print(Text(head))
    if n:
        report.print(t)


def _report_rejected(err: Console, bad: Sequence[BadRow], path: str | None) -> None:
    shown = sorted(bad, key=lambda b: b.row)[:3]
    for b in shown:
        err.print(Text("rejected: ", style="red") + Text(b.reason), soft_wrap=True)
    if path is None:
        more = f" ({len(bad) - len(shown)} more)" if len(bad) > len(shown) else ""
        err.print(Text(f"write every rejected row and its reason with --rejected FILE{more}", style="dim"))
    else:
        err.print(Text(f"{len(bad):,} rejected row(s) written to {path}", style="dim"))


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------


@cli.command(
    help="""Explain one customer of a file: every decision, why, and what to do.

\b
Examples:
  customer-rules explain customers.csv --id C0042 --as-of 2026-11-22
  customer-rules explain customers.jsonl --id C0042 --as-of 2026-11-22 --lang zh
  customer-rules explain customers.csv --id C0042 --as-of 2026-11-22 --detail full

Population-relative schemes are fitted on the whole input first, so the
customer is ranked against the others in the file. The explanation is for
people (display names, units, the reason, what would change it, the
strategy); --detail full adds every value read and the rules, for auditors.
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id", "customer_id", required=True, metavar="CUSTOMER_ID", help="The customer's id.")
@as_of_option
@lang_option
@click.option(
    "--detail",
    type=click.Choice(["summary", "full"]),
    default="summary",
    show_default=True,
    help="summary: for people; full: every value read and the rules, for auditors.",
)
@click.option(
    "--schemes", "schemes", multiple=True, metavar="A,B", help="Only these schemes (comma-separated)."
)
@encoding_option
@fitted_option
@policy_option
@param_option
@debug_option
def explain(
    input_path: Path,
    customer_id: str,
    as_of: str | None,
    lang: str,
    detail: str,
    schemes: tuple[str, ...],
    encoding: str,
    fitted: Path | None,
    policies: tuple[Path, ...],
) -> None:
    import polars as pl

    day = need_as_of(as_of)
    err = console(stderr=True)
    out = console()
    engine = build_engine(policies)
    wanted = wanted_schemes(engine, schemes)
    with library_warnings(err):
        table_ = read_input(input_path, encoding, err, model=engine.record_model)
        ids = table_.ids
        matches = [i for i, v in enumerate(ids) if v == customer_id]
        if not matches:
            unread = [b for b in table_.bad if b.id == customer_id]
            if unread:
                raise CliError(unread[0].reason, "fix that line of the file")
            close = difflib.get_close_matches(customer_id, [i for i in ids if i], n=3)
            raise CliError(
                f"no customer with id {customer_id!r} in {input_path.name}",
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else "ids are read from the 'id' column",
            )
        if len(matches) > 1:
            warn(err, f"{len(matches)} rows have id {customer_id!r}; explaining the first")
        fit_population(engine, table_, day, wanted, fitted)
        frame = table_.records.slice(matches[0], 1)
        good, bad = records_of(table_, frame.with_columns(pl.col("id").cast(pl.String(), strict=False)))
        if bad:
            raise CliError(
                bad[0].reason,
                "fix the row; `customer-rules classify --rejected FILE` lists every invalid row",
            )
        profile = engine.classify(good[0][1], as_of=day, schemes=wanted)
    _show_profile(out, profile, lang, detail)


def _show_profile(out: Console, profile: Any, lang: str, detail: str = "summary") -> None:
    """One customer's decisions: a table, then each explanation at ``detail``.
    In Chinese everything is named by its display name (no ids)."""
    zh = lang == "zh"
    record = profile.customer
    name = f" {record.name}" if record is not None and record.name else ""
    out.print(Text(f"{'客户' if zh else 'Customer'} {profile.customer_id}{name}", style="bold"), end="")
    day = f"{profile.as_of.year}年{profile.as_of.month}月{profile.as_of.day}日" if zh else str(profile.as_of)
    out.print(Text(f"  {'截至' if zh else 'as of'}{'' if zh else ' '}{day}"))
    if zh:
        t = table("方案", "类别", "策略")
        for d in profile.decisions.values():
            t.add_row(
                cell(d.scheme_name("zh")),
                Text(d.label_name("zh") or "未分类", style="bold" if d.label else "dim"),
                cell(d.strategy.summary.get("zh") if d.strategy is not None else ""),
            )
    else:
        t = table("scheme", "label", "name", "rule", "strategy")
        for sid, d in profile.decisions.items():
            t.add_row(
                cell(sid),
                Text(d.label or "-", style="bold" if d.label else "dim"),
                cell(d.label_name(lang) or "unclassified"),
                cell(d.rule or ("default" if d.label else "-")),
                cell(d.strategy.summary.get(lang) if d.strategy is not None else ""),
            )
    out.print(t)
    for d in profile.decisions.values():
        text = d.explain(lang, detail)
        head, _, rest = text.partition("\n")
        out.print(Text(head, style="bold"))
        if rest:
            out.print(Text(rest), soft_wrap=True)
    for sid, why in profile.skipped.items():
        if zh:
            out.print(Text(f"{sid}：跳过（需要先按客户总体拟合）", style="dim"))
        else:
            out.print(Text(f"{sid}: skipped ({why})", style="dim"))


# ---------------------------------------------------------------------------
# schemes
# ---------------------------------------------------------------------------


@cli.command(
    help="""List the installed schemes: source plugin, labels and parameters.

\b
Examples:
  customer-rules schemes
  customer-rules schemes lead_grade --lang zh
  customer-rules schemes --policy my_tier.yaml
"""
)
@click.argument("scheme", required=False)
@lang_option
@policy_option
@param_option
@debug_option
def schemes(scheme: str | None, lang: str, policies: tuple[Path, ...]) -> None:
    out = console()
    engine = build_engine(policies)
    if scheme is not None:
        (sid,) = wanted_schemes(engine, [scheme]) or [scheme]
        _show_scheme(out, engine, sid, lang)
        return
    t = table(
        "scheme",
        "kind",
        "plugin",
        "labels",
        "parameters",
        title=f"{len(engine.schemes)} schemes",
        nowrap=("scheme", "plugin"),
        min_width={"labels": 24},
    )
    for sid, s in engine.schemes.items():
        params = engine.params(sid)
        t.add_row(
            cell(sid),
            cell(s.kind),
            cell(_plugin_name(s.plugin)),
            cell(" ".join(s.labels)),
            cell("\n".join(f"{k}={_value(v)}" for k, v in params.items()) or "-"),
        )
    out.print(t)
    if engine.population_schemes():
        out.print(
            Text(
                "fitted on the input: " + ", ".join(engine.population_schemes()) + " (population-relative)",
                style="dim",
            )
        )


def _plugin_name(plugin: str | None) -> str:
    """Built-in scheme plugins are all ``customer_rules.schemes.<scheme id>``."""
    if plugin is not None and plugin.startswith("customer_rules.schemes."):
        return "built-in"
    return plugin or "-"


def _value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _show_scheme(out: Console, engine: Engine, sid: str, lang: str) -> None:
    s = engine.schemes[sid]
    policy = s.policy
    out.print(
        Text(f"{sid}", style="bold")
        + Text(f"  {s.kind} · plugin {s.plugin} · policy {policy.id} v{policy.version} · hit {policy.hit}")
    )
    desc = s.description or policy.description
    if desc is not None:
        out.print(Text(desc.get(lang)))
    t = table("label", "name", "rules", "strategy", "cadence", "escalation", title="labels", right=("rules",))
    for label in policy.labels:
        n_rules = sum(1 for r in policy.rules if r.then == label.id)
        strategy = s.strategies.get(label.id)
        t.add_row(
            cell(label.id + (" (default)" if policy.default == label.id else "")),
            cell(label.name(lang)),
            cell(n_rules),
            cell(strategy.summary.get(lang) if strategy else ""),
            cell(strategy.cadence.describe(lang) if strategy and strategy.cadence else ""),
            cell(strategy.escalation if strategy else ""),
        )
    out.print(t)
    params = engine.params(sid)
    if params:
        pt = table("parameter", "value", title="parameters")
        for k, v in params.items():
            pt.add_row(cell(k), cell(_value(v)))
        out.print(pt)


# ---------------------------------------------------------------------------
# verify / check
# ---------------------------------------------------------------------------


def _findings_table(out: Console, findings: Any, title: str) -> None:
    items = list(findings)
    if not items:
        return
    t = table("severity", "kind", "rules", "finding", "example", title=title)
    styles = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for f in items:
        severity = str(getattr(f, "severity", "error"))
        witness = getattr(f, "witness", None)
        example = ""
        if witness is not None:
            from customer_rules.lab.verify import witness_text

            example = witness_text(witness)
        t.add_row(
            Text(severity, style=styles.get(severity, "")),
            cell(getattr(f, "kind", "")),
            cell(", ".join(getattr(f, "rules", ()) or ())),
            cell(getattr(f, "message", str(f))),
            cell(example),
        )
    out.print(t)


def _count(findings: Any, severity: str) -> int:
    return sum(1 for f in findings if getattr(f, "severity", None) == severity)


def _finish_findings(out: Console, findings: Any, what: str, strict: bool) -> None:
    errors, warnings_ = _count(findings, "error"), _count(findings, "warning")
    infos = len(list(findings)) - errors - warnings_
    if not (errors or warnings_ or infos):
        out.print(Text(f"{what}: no findings", style="green"))
    else:
        style = "bold red" if errors else "yellow" if warnings_ else ""
        out.print(Text(f"{what}: {errors} error(s), {warnings_} warning(s), {infos} info", style=style))
    if errors or (strict and warnings_):
        raise click.exceptions.Exit(1)


@cli.command(
    help="""Verify a policy: gaps, overlaps, unreachable rules, dead labels.

\b
Examples:
  customer-rules verify my_tier.yaml
  customer-rules verify my_tier.yaml --strict     # warnings fail too

POLICY_FILE is a policy file (YAML, JSON or TOML) or the id of an installed
scheme. Findings are listed as a table; the exit code is 1 when there is a
finding of severity error (or, with --strict, a warning), so a firm's CI can
run it on every change of its policies.
"""
)
@click.argument("policy_file", metavar="POLICY_FILE")
@click.option(
    "--as-of", "as_of", metavar="DATE", help="Date examples are built against (default: the sample data's)."
)
@click.option("--strict", is_flag=True, help="Exit with code 1 on warnings too.")
@click.option(
    "--no-search",
    is_flag=True,
    help="Do not search for example records (faster; some questions stay undecided).",
)
@policy_option
@param_option
@debug_option
def verify(
    policy_file: str, as_of: str | None, strict: bool, no_search: bool, policies: tuple[Path, ...]
) -> None:
    from customer_rules import verify as verify_policy

    out = console()
    engine = build_engine(policies)
    target = _policy_target(policy_file, engine)
    day = _parse_date(as_of) if as_of else None
    findings = verify_policy(target, engine, as_of=day, search=not no_search)
    name = getattr(findings, "policy_id", policy_file)
    _findings_table(out, findings, f"verify {name}")
    _finish_findings(out, findings, f"verify {name}", strict)


@cli.command(
    help="""Check policies for CI: they load, type-check, pass the static analysis
and, when asked, hold properties on generated records.

\b
Examples:
  customer-rules check my_tier.yaml
  customer-rules check policies/*.yaml --strict
  customer-rules check payment_tier.yaml --exactly-one \\
      --increasing value.overdue_days --implies "value.bad_debt => risky"

A policy that does not load is reported with its file, line and column,
and the other files are still checked. Property options: --exactly-one
(every record whose inputs are all known gets exactly one label),
--increasing/--decreasing PATH (raising the field never moves a record
down/up the label order, first label = highest), --implies "CONDITION =>
LABEL[,LABEL]" (whenever the condition holds, the label is one of those).
Each property is tried on up to --max-examples generated records; a
failure shows the smallest counterexample. The exit code is 1 when a file
does not load, has a finding of severity error (with --strict: also a
warning) or a property fails.
"""
)
@click.argument("policy_files", metavar="POLICY_FILE...", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Exit with code 1 on warnings too.")
@click.option(
    "--exactly-one", is_flag=True, help="Property: every record with all inputs known gets one label."
)
@click.option(
    "--increasing", multiple=True, metavar="PATH", help="Property: raising PATH never lowers the label."
)
@click.option(
    "--decreasing", multiple=True, metavar="PATH", help="Property: raising PATH never raises the label."
)
@click.option(
    "--implies",
    "implications",
    multiple=True,
    metavar='"COND => A,B"',
    help="Property: when COND holds, the label is one of A, B.",
)
@click.option(
    "--max-examples",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Records tried per property.",
)
@policy_option
@param_option
@debug_option
def check(
    policy_files: tuple[str, ...],
    strict: bool,
    exactly_one: bool,
    increasing: tuple[str, ...],
    decreasing: tuple[str, ...],
    implications: tuple[str, ...],
    max_examples: int,
    policies: tuple[Path, ...],
) -> None:
    from customer_rules import verify as verify_policy

    out = console()
    engine = build_engine(policies)
    properties = _properties(exactly_one, increasing, decreasing, implications)
    failed = False
    for policy_file in policy_files:
        try:
            target = _policy_target(policy_file, engine)
        except (PolicyError, CliError) as exc:
            _show_problems(out, policy_file, exc, engine)
            failed = True
            continue
        findings = verify_policy(target, engine, search=False)
        name = getattr(findings, "policy_id", policy_file)
        _findings_table(out, findings, f"check {name}")
        try:
            _finish_findings(out, findings, f"check {name}", strict)
        except click.exceptions.Exit:
            failed = True
        if properties:
            from customer_rules import check as check_properties

            report = check_properties(target, properties, engine, max_examples=max_examples)
            failed = _show_properties(out, report, name) or failed
    if failed:
        raise click.exceptions.Exit(1)


def _show_problems(out: Console, policy_file: str, exc: PolicyError | CliError, engine: Engine) -> None:
    """Every problem of a policy file that does not load, each with its hint."""
    from customer_rules.engine.api import policy_problems

    found: list[PolicyError | CliError] = [exc]
    if isinstance(exc, PolicyError):
        found = list(policy_problems(Path(policy_file), engine=engine)) or found
    for problem in found:
        err = problem if isinstance(problem, CliError) else as_cli_error(problem)
        out.print(Text("error ", style="bold red") + Text(err.format_message()), soft_wrap=True)
        if err.hint and not err.hint.startswith("fix the policy; `customer-rules check"):
            out.print(Text(f"  hint: {err.hint}", style="dim"), soft_wrap=True)
    out.print(Text(f"check {policy_file}: does not load, {len(found)} problem(s)", style="bold red"))


def _properties(
    exactly_one: bool, increasing: Sequence[str], decreasing: Sequence[str], implications: Sequence[str]
) -> list[Any]:
    """The properties the options of ``check`` ask for (see ``cr.check``)."""
    if not (exactly_one or increasing or decreasing or implications):
        return []
    from customer_rules import exactly_one_label, implies, monotone

    out: list[Any] = []
    if exactly_one:
        out.append(exactly_one_label(known_inputs=True))
    out += [monotone(p, increasing=True) for p in increasing]
    out += [monotone(p, increasing=False) for p in decreasing]
    for text in implications:
        condition, arrow, labels = text.partition("=>")
        names = [x.strip() for x in labels.split(",") if x.strip()]
        if not arrow or not condition.strip() or not names:
            raise CliUsageError(
                f"--implies needs 'CONDITION => LABEL[,LABEL]', not {text!r}",
                'e.g. --implies "value.bad_debt => risky"',
            )
        out.append(implies(condition.strip(), names))
    return out


def _show_properties(out: Console, report: Any, name: str) -> bool:
    """The property results as a table; True when one failed."""
    t = table(
        "property", "result", "records", "counterexample", title=f"properties of {name}", right=("records",)
    )
    failed = False
    for r in report:
        failed = failed or not r.passed
        t.add_row(
            cell(r.property.name),
            Text("ok", style="green") if r.passed else Text("FAIL", style="bold red"),
            cell(r.examples),
            cell("" if r.passed else r.explanation),
        )
    out.print(t)
    held = sum(1 for r in report if r.passed)
    out.print(
        Text(
            f"check {name}: {held} of {len(report)} properties hold", style="bold red" if failed else "green"
        )
    )
    return failed


def _policy_target(policy_file: str, engine: Engine) -> Any:
    """A policy file (loaded and type-checked against ``engine``) or a scheme id."""
    path = Path(policy_file)
    if os.path.exists(policy_file):  # (False, not an error, for a name no file can have)
        if path.is_dir():
            raise CliError(f"{policy_file!r} is a folder", "give a policy file (.yaml, .json or .toml)")
        return read_any_policy(path, engine)  # YAML/JSON/TOML, JDM, DMN or .xlsx
    if policy_file in engine.schemes:
        return engine.schemes[policy_file]
    close = difflib.get_close_matches(policy_file, list(engine.schemes), n=1)
    raise CliError(
        f"no such policy file or scheme: {policy_file!r}",
        f"did you mean the scheme {close[0]!r}?"
        if close
        else "give the path of a .yaml, .json or .toml policy",
    )


# ---------------------------------------------------------------------------
# agenda
# ---------------------------------------------------------------------------


@cli.command(
    help="""Who to contact, greet or follow up, by the cadence of their classes.

\b
Examples:
  customer-rules agenda customers.csv --as-of 2026-11-22
  customer-rules agenda customers.csv --as-of 2026-11-22 --owner 王芳 --lang zh
  customer-rules agenda customers.csv --as-of today --out agenda.csv

Overdue items come first (most overdue first), then due, then upcoming
within --horizon days.
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@as_of_option
@click.option("--owner", metavar="NAME", help="Only this account manager's customers.")
@click.option(
    "--horizon", type=click.IntRange(0, 366), default=7, show_default=True, help="Days ahead to list."
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most this many items.")
@click.option("--out", "out", metavar="FILE", help="Write the agenda as a table (.csv, .parquet, .jsonl).")
@lang_option
@encoding_option
@fitted_option
@policy_option
@param_option
@debug_option
def agenda(
    input_path: Path,
    as_of: str | None,
    owner: str | None,
    horizon: int,
    limit: int | None,
    out: str | None,
    lang: str,
    encoding: str,
    fitted: Path | None,
    policies: tuple[Path, ...],
) -> None:
    import polars as pl

    from customer_rules.io.files import file_format, write_table

    day = need_as_of(as_of)
    if out is not None:
        file_format(out, role="output")
    err = console(stderr=True)
    stdout = console()
    engine = build_engine(policies)
    with library_warnings(err):
        table_ = read_input(input_path, encoding, err, model=engine.record_model)
        fit_population(engine, table_, day, None, fitted)
        frame = table_.records
        if owner is not None:
            owners = frame.get_column("owner").cast(pl.String()).to_list() if "owner" in frame.columns else []
            if owner not in owners:
                close = difflib.get_close_matches(owner, sorted({o for o in owners if o}), n=3)
                warn(
                    err,
                    f"no customer of owner {owner!r} in {input_path.name}"
                    + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""),
                )
            frame = frame.filter(pl.col("owner") == owner) if "owner" in frame.columns else frame.clear()
        good, bad = records_of(table_, frame)
        items = engine.agenda([rec for _, rec in good], as_of=day, owner=owner, horizon_days=horizon)
    bad = [*table_.bad, *bad] if owner is None else bad
    if bad:
        warn(
            err,
            f"{len(bad)} row(s) could not be read and are not on the agenda; first: {sorted(bad, key=lambda b: b.row)[0].reason}",
        )
    rows = list(items)
    zh = lang == "zh"
    status_zh = {"overdue": "逾期", "due": "到期", "upcoming": "即将"}
    title = (
        f"日程 {day}" + (f" · {owner}" if owner else "") + f" · 共 {len(rows)} 项"
        if zh
        else f"Agenda {day}" + (f" · {owner}" if owner else "") + f" · {len(rows)} item(s)"
    )
    columns = ("到期", "状态", "客户", "名称", "客户经理", "事项") if zh else ("due", "status", "customer", "name", "owner", "action")
    t = table(*columns, title=title)
    for item in rows[:limit]:
        status = status_zh[item.status] if zh else item.status
        if item.status == "overdue":
            status += f" {item.overdue_days}{'天' if zh else 'd'}"
        style = {"overdue": "red", "due": "yellow"}.get(item.status, "")
        t.add_row(
            cell(item.due),
            Text(status, style=style),
            cell(item.customer_id),
            cell(item.name),
            cell(item.owner),
            cell(item.reason(lang)),
        )
    if rows:
        stdout.print(t)
    else:
        stdout.print(Text(f"{title}: nothing due"))
    if limit is not None and len(rows) > limit:
        stdout.print(Text(f"... {len(rows) - limit} more (--limit)", style="dim"))
    if out is not None:
        frame_out = pl.DataFrame(
            {
                "due": [i.due for i in rows],
                "status": [i.status for i in rows],
                "overdue_days": [i.overdue_days for i in rows],
                "customer_id": [i.customer_id for i in rows],
                "name": [i.name for i in rows],
                "owner": [i.owner for i in rows],
                "action": [i.action for i in rows],
                "scheme": [i.scheme for i in rows],
                "label": [i.label for i in rows],
                "escalation": [i.escalation for i in rows],
                "reason": [i.reason(lang) for i in rows],
            },
            schema={
                "due": pl.Date(),
                "status": pl.String(),
                "overdue_days": pl.Int64(),
                "customer_id": pl.String(),
                "name": pl.String(),
                "owner": pl.String(),
                "action": pl.String(),
                "scheme": pl.String(),
                "label": pl.String(),
                "escalation": pl.Int64(),
                "reason": pl.String(),
            },
        )
        write_table(frame_out, out, stdout=sys.stdout)


# commands that live in their own modules register themselves on ``cli``
from customer_rules.cli import serve as _serve_commands  # noqa: E402
from customer_rules.cli import store as _store_commands  # noqa: E402

del _serve_commands, _store_commands

# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


cli.add_command(convert)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None, prog_name="customer-rules", standalone_mode=True
        )
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0
