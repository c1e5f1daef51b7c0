"""The ``customer-rules`` command line (click + rich).

Every command that reads customers needs ``--as-of``: the library never
reads the wall clock on its own, and neither does the command line
(``--as-of today`` asks for the system date explicitly). Output is rich on a
terminal and plain text (no colour codes) when piped. Errors are one line
plus a hint; ``--debug`` shows the traceback instead.

Exit codes: 0 success; 1 an error, rejected rows under ``--strict``, or
policy findings of severity error (``verify`` / ``check``); 2 a usage
error (a missing or malformed option).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from customer_rules.errors import (
    BackendUnavailable,
    CustomerRulesError,
    EvaluationError,
    NotFittedError,
    PluginError,
    PolicyError,
    RecordError,
)

if TYPE_CHECKING:
    import polars as pl

    from customer_rules.engine.engine import Engine
    from customer_rules.io.files import BadRow
    from customer_rules.io.files import Table as FileTable


CHUNK = 50_000
"""Rows classified per call of the frame backend (the progress bar's step)."""

PROGRESS_MIN_BYTES = 2_000_000
"""Inputs of at least this size show a progress display on a terminal (~20 000 rows)."""

_DEBUG = "customer_rules.debug"


# ---------------------------------------------------------------------------
# Errors: one line and a hint
# ---------------------------------------------------------------------------


class CliError(click.ClickException):
    """An error shown as ``Error: <message>`` and ``Hint: <hint>``."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(_one_line(message))
        self.hint = hint

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)
        if self.hint:
            click.echo(f"Hint: {self.hint}", err=True)


class CliUsageError(CliError):
    """A missing or malformed option (exit code 2)."""

    exit_code = 2


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else "(no message)"


def as_cli_error(exc: BaseException) -> CliError:
    """The one-line message and hint for an exception a command let through."""
    from customer_rules.io.files import FileError

    if isinstance(exc, FileError):
        return CliError(exc.message, exc.hint)
    if isinstance(exc, PolicyError):
        plain = PolicyError(
            exc.message, file=exc.file, line=exc.line, column=exc.column, rule=exc.rule, field=exc.field
        )
        return CliError(
            str(plain), exc.hint or "fix the policy; `customer-rules check FILE` lists every problem"
        )
    if isinstance(exc, RecordError):
        return CliError(
            str(exc), "fix the record; `customer-rules classify --rejected FILE` lists every invalid row"
        )
    if isinstance(exc, NotFittedError):
        return CliError(str(exc), "fit on a population first: classify/explain/agenda fit on the input file")
    if isinstance(exc, PluginError):
        return CliError(
            str(exc),
            "fix or uninstall the plugin, or leave it out: CUSTOMER_RULES_PLUGINS=<the plugins to load>",
        )
    if isinstance(exc, EvaluationError):
        return CliError(str(exc), "two rules of a 'unique' policy matched: make their conditions exclusive")
    if isinstance(exc, CustomerRulesError):
        return CliError(str(exc), "run again with --debug for the full traceback")
    if isinstance(exc, FileNotFoundError):
        return CliError(f"no such file: {exc.filename!r}", "check the path")
    if isinstance(exc, PermissionError):
        return CliError(f"permission denied: {exc.filename!r}", "check the file's permissions")
    if isinstance(exc, KeyError):
        return CliError(
            str(exc.args[0]) if exc.args else "unknown key", "`customer-rules schemes` lists the schemes"
        )
    if isinstance(exc, ImportError):
        return CliError(str(exc), "install the missing package (see the message)")
    return CliError(
        f"{type(exc).__name__}: {exc}",
        "this looks like a bug; run again with --debug and report the traceback",
    )


class _Group(click.Group):
    """Turns unexpected exceptions into one-line errors unless ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # click's own: a missing option, an unknown command ...
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            raise CliUsageError(
                exc.format_message(), f"`{where} --help` shows the options, with examples"
            ) from exc
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `customer-rules ... | head`
            with contextlib.suppress(Exception):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
            raise click.exceptions.Exit(1) from None
        except Exception as exc:
            if ctx.meta.get(_DEBUG) or os.environ.get("CUSTOMER_RULES_DEBUG"):
                raise
            raise as_cli_error(exc) from exc


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_DEBUG] = True
    return value


debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Show the full traceback of an error.",
)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def console(*, stderr: bool = False) -> Console:
    """A rich console: colour on a terminal, plain text (no ANSI codes) when piped."""
    probe = Console(stderr=stderr)
    width = None
    if not probe.is_terminal:
        width = int(os.environ.get("COLUMNS", "0") or 0) or 120
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=False)


def cell(value: Any) -> Text:
    """Data as literal text (never rich markup: ``[x]`` stays ``[x]``)."""
    return Text("" if value is None else str(value))


def table(
    *columns: str,
    title: str | None = None,
    right: Sequence[str] = (),
    nowrap: Sequence[str] = (),
    min_width: dict[str, int] | None = None,
) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for c in columns:
        t.add_column(
            c,
            justify="right" if c in right else "left",
            overflow="fold",
            no_wrap=c in nowrap,
            min_width=(min_width or {}).get(c),
        )
    return t


def warn(err: Console, message: str) -> None:
    err.print(Text("warning: ", style="yellow") + Text(message), soft_wrap=True)


# ---------------------------------------------------------------------------
# Shared options and helpers
# ---------------------------------------------------------------------------


def _parse_date(value: str) -> dt.date:
    if value.strip().lower() == "today":
        return dt.date.today()  # asked for explicitly
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CliUsageError(
            f"--as-of must be a date like 2026-11-22, not {value!r}",
            "write the date as YYYY-MM-DD (or --as-of today for the system date)",
        ) from None


def need_as_of(value: str | None) -> dt.date:
    if value is None:
        raise CliUsageError(
            "--as-of is required: the date that days since contact, open cases and birthdays are counted to",
            "add e.g. --as-of 2026-11-22 (or --as-of today to use the system date explicitly)",
        )
    return _parse_date(value)


as_of_option = click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="Classify as of this date (YYYY-MM-DD, or 'today'). Required.",
)


lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Language of names and explanations.",
)


policy_option = click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Add a policy file (YAML, JSON or TOML) as a scheme; repeatable.",
)


encoding_option = click.option(
    "--encoding",
    default="utf-8-sig",
    show_default=True,
    help="Text encoding of a CSV or JSON Lines input (e.g. gbk).",
)


fitted_option = click.option(
    "--fitted",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Use population cut-offs saved by engine.save_fitted() instead of fitting on the input.",
)


def build_engine(policies: Sequence[Path] = ()) -> Engine:
    from customer_rules.engine.engine import Engine

    engine = Engine()
    for path in policies:
        engine.add_policy(engine.load_policy(path))
    return engine


def wanted_schemes(engine: Engine, given: Sequence[str]) -> list[str] | None:
    """Scheme ids from ``--schemes a,b`` (repeatable), checked; None = all."""
    names = [s.strip() for item in given for s in item.split(",") if s.strip()]
    if not names:
        return None
    for name in names:
        if name not in engine.schemes:
            close = difflib.get_close_matches(name, list(engine.schemes), n=1)
            raise CliUsageError(
                f"unknown scheme {name!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                "`customer-rules schemes` lists the installed schemes",
            )
    return list(dict.fromkeys(names))


class Steps:
    """A rich progress display on stderr for long inputs on a terminal; else silent."""

    def __init__(self, err: Console, enabled: bool) -> None:
        self.enabled = enabled and err.is_terminal
        self._progress: Any = None
        self._err = err
        self._totals: dict[Any, int | None] = {}

    def __enter__(self) -> Steps:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._err,
                transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def task(self, description: str, total: int | None = None) -> Any:
        if self._progress is None:
            return None
        task = self._progress.add_task(description, total=total)
        self._totals[task] = total
        return task

    def advance(self, task: Any, n: int) -> None:
        if self._progress is not None and task is not None:
            self._progress.advance(task, n)

    def done(self, task: Any) -> None:
        if self._progress is not None and task is not None:
            total = self._totals.get(task) or 1
            self._progress.update(task, total=total, completed=total)


@contextlib.contextmanager
def library_warnings(err: Console) -> Iterator[None]:
    """Show the library's warnings once each as ``note:`` lines (unknown columns are
    reported by the command itself)."""
    seen: set[str] = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                text = str(w.message)
                if text.startswith("not record fields") or text in seen:
                    continue
                seen.add(text)
                err.print(Text("note: ", style="cyan") + Text(text), soft_wrap=True)


def read_input(
    path: Path, encoding: str, err: Console, *, strict_columns: list[str] | None = None
) -> FileTable:
    """Read the input file and report columns that are not record fields."""
    from customer_rules.io.files import read_table, unknown_columns

    table_ = read_table(path, encoding=encoding)
    typos = []
    others = []
    for column, guess in unknown_columns(table_.columns):
        if guess is not None:
            typos.append(column)
            warn(
                err,
                f"column {column!r} is not a record field (did you mean {guess!r}?); passed through unchanged",
            )
        else:
            others.append(column)
    if others:
        shown = ", ".join(repr(c) for c in others[:6]) + (", ..." if len(others) > 6 else "")
        err.print(
            Text(f"note: {len(others)} column(s) are not record fields, passed through: {shown}"),
            soft_wrap=True,
        )
    if strict_columns is not None:
        strict_columns.extend(typos)
    if table_.n_rows == 0:
        warn(err, f"no customers in {path.name}")
    return table_


def fit_population(
    engine: Engine, table_: FileTable, day: dt.date, wanted: list[str] | None, fitted: Path | None
) -> None:
    """Learn (or load) the cut-offs of the population-relative schemes wanted."""
    if fitted is not None:
        engine.load_fitted(fitted)
        return
    population = [s for s in engine.population_schemes() if wanted is None or s in wanted]
    if not population:
        return
    engine.fit(table_.records, as_of=day, schemes=population)  # a table: fitted column-wise


def records_of(
    table_: FileTable, frame: pl.DataFrame | None = None
) -> tuple[list[tuple[int, Any]], list[BadRow]]:
    """Validated records ``(file row, Customer)`` and the rows rejected on the way."""
    from customer_rules.io.files import ROW, BadRow
    from customer_rules.model.tables import prepare, records_from_canonical

    source = table_.records if frame is None else frame
    prepared = prepare(source, warn=False)
    positions = source.get_column(ROW).to_list()
    bad = [
        BadRow(
            positions[r["row"]],
            table_.lines.get(positions[r["row"]]),
            r["id"],
            _renumber(r["reason"], r["row"], positions[r["row"]]),
        )
        for r in prepared.rejected.iter_rows(named=True)
    ]
    good: list[tuple[int, Any]] = []
    for row, rec in records_from_canonical(prepared.valid):
        pos = positions[row]
        if isinstance(rec, RecordError):
            bad.append(BadRow(pos, table_.lines.get(pos), rec.record_id, _renumber(str(rec), row, pos)))
        else:
            good.append((pos, rec))
    return good, bad


def _renumber(reason: str, row: int, pos: int) -> str:
    """A library reason names the row in the table it was given; name the file's row."""
    if row == pos:
        return reason
    return reason.replace(f"(row {row})", f"(row {pos})", 1)


# ---------------------------------------------------------------------------
# The group
# ---------------------------------------------------------------------------

_MAIN_HELP = """Classify customers by type, tier and crisis level, with explainable policies.

\b
Examples:
  customer-rules demo
  customer-rules classify customers.csv --as-of 2026-11-22 --out labels.csv
  customer-rules explain customers.csv --id C0042 --as-of 2026-11-22 --lang zh
  customer-rules schemes
  customer-rules check my_policy.yaml
  customer-rules agenda customers.csv --as-of 2026-11-22 --owner 王芳

Input files are CSV, Parquet or JSON Lines (the format comes from the
extension); columns are record paths such as value.revenue_12m.
"""


@click.group(
    name="customer-rules",
    cls=_Group,
    help=_MAIN_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="customer-rules", prog_name="customer-rules")
@debug_option
def cli() -> None:
    pass


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

INPUT is a CSV, Parquet or JSON Lines file; --out and --rejected write any
of the three (by extension; --out - writes CSV to standard output). The
output has the input's columns plus, per scheme, <scheme> (the label,
empty = unclassified) and <scheme>__rule (with --reasons also
<scheme>__reason). Population-relative schemes (value_pyramid, ...) are
fitted on the input first. Rows that cannot be classified are left out of
the output and listed, with the reason, in --rejected; the exit code is 0
unless --strict (then 1 when a row was rejected or a column looks like a
misspelt record field).
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
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
    help="Exit with code 1 when a row is rejected or a column looks like a misspelt field.",
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
@encoding_option
@fitted_option
@policy_option
@debug_option
def classify(
    input_path: Path,
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
) -> None:
    from customer_rules.io.files import bad_rows_frame, file_format

    day = need_as_of(as_of)
    for target in (out, rejected_path):
        if target is not None:
            file_format(target, role="output")
    err = console(stderr=True)
    stdout = console()
    engine = build_engine(policies)
    wanted = wanted_schemes(engine, schemes)
    if backend == "auto":
        backend = "python" if engine._has_adjust else "frame"
    typos: list[str] = []
    big = input_path.is_file() and input_path.stat().st_size >= PROGRESS_MIN_BYTES
    with library_warnings(err), Steps(err, big) as steps:
        task = steps.task("reading")
        table_ = read_input(input_path, encoding, err, strict_columns=typos)
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
            results, bad = _classify_python(engine, table_, day, wanted, reasons, lang, steps, task)
        bad = [*table_.bad, *bad]
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
    if strict and (bad or typos):
        why = (
            f"{len(bad)} row(s) rejected" if bad else f"column(s) {', '.join(map(repr, typos))} look misspelt"
        )
        raise CliError(
            f"--strict: {why}", "see --rejected FILE for the reasons" if bad else "rename the column(s)"
        )


def _classify_frame(
    engine: Engine,
    table_: FileTable,
    day: dt.date,
    wanted: list[str] | None,
    reasons: bool,
    lang: str,
    steps: Steps,
    task: Any,
) -> tuple[pl.DataFrame, list[BadRow]]:
    """The frame backend over the record table, in chunks (rows keep their file position)."""
    import polars as pl

    from customer_rules.io.files import ROW, BadRow

    frame = table_.records
    parts: list[pl.DataFrame] = []
    bad: list[BadRow] = []
    for start in range(0, max(frame.height, 1), CHUNK):
        chunk = frame.slice(start, CHUNK)
        result = engine.classify_frame_with_rejects(
            chunk, as_of=day, schemes=wanted, reasons=reasons, lang=lang
        )
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


def _classify_python(
    engine: Engine,
    table_: FileTable,
    day: dt.date,
    wanted: list[str] | None,
    reasons: bool,
    lang: str,
    steps: Steps,
    task: Any,
) -> tuple[pl.DataFrame, list[BadRow]]:
    """The python backend, record by record (the reference semantics; applies overrides)."""
    import polars as pl

    from customer_rules.backends.frame import reason_of
    from customer_rules.io.files import ROW, BadRow

    good, bad = records_of(table_)
    batch = engine.classify_many([rec for _, rec in good], as_of=day, schemes=wanted)
    rejected_at = {r.row for r in batch.rejected}
    for r in batch.rejected:
        pos = good[r.row][0]
        bad.append(BadRow(pos, table_.lines.get(pos), r.record_id, str(r.error)))
    rows = [pos for i, (pos, _) in enumerate(good) if i not in rejected_at]
    schemes = wanted if wanted is not None else list(engine.schemes)
    columns: dict[str, list[Any]] = {ROW: rows}
    for sid in schemes:
        decided = [p.decisions.get(sid) for p in batch.profiles]
        if wanted is None and all(d is None for d in decided) and batch.profiles:
            continue  # skipped (not fitted)
        columns[sid] = [d.label if d else None for d in decided]
        columns[f"{sid}__rule"] = [d.rule if d else None for d in decided]
        if reasons:
            columns[f"{sid}__reason"] = [reason_of(d, lang) if d else None for d in decided]
    steps.advance(task, table_.records.height)
    schema = {c: (pl.Int64() if c == ROW else pl.String()) for c in columns}
    return pl.DataFrame(columns, schema=schema), bad


def _write_output(table_: FileTable, results: pl.DataFrame, out: str) -> None:
    """The input's columns (as written) plus the result columns, classified rows only."""
    from customer_rules.io.files import ROW, file_format, write_jsonl, write_table

    added = [c for c in results.columns if c != ROW]
    if table_.objects is not None and file_format(out) == "jsonl" and out != "-":
        objects = table_.objects
        rows = (
            {**{k: v for k, v in objects[r[ROW]].items() if k not in added}, **{c: r[c] for c in added}}
            for r in results.iter_rows(named=True)
        )
        write_jsonl(rows, out)
        return
    data = table_.data.drop([c for c in added if c in table_.data.columns])
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

Population-relative schemes are fitted on the whole input first, so the
customer is ranked against the others in the file.
"""
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id", "customer_id", required=True, metavar="CUSTOMER_ID", help="The customer's id.")
@as_of_option
@lang_option
@click.option(
    "--schemes", "schemes", multiple=True, metavar="A,B", help="Only these schemes (comma-separated)."
)
@encoding_option
@fitted_option
@policy_option
@debug_option
def explain(
    input_path: Path,
    customer_id: str,
    as_of: str | None,
    lang: str,
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
        table_ = read_input(input_path, encoding, err)
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
    _show_profile(out, profile, lang)


def _show_profile(out: Console, profile: Any, lang: str) -> None:
    zh = lang == "zh"
    record = profile.customer
    name = f" {record.name}" if record is not None and record.name else ""
    out.print(Text(f"{'客户' if zh else 'Customer'} {profile.customer_id}{name}", style="bold"), end="")
    out.print(Text(f"  {'截至' if zh else 'as of'} {profile.as_of}"))
    t = table("scheme", "label", "name", "rule", "strategy")
    for sid, d in profile.decisions.items():
        t.add_row(
            cell(sid),
            Text(d.label or "-", style="bold" if d.label else "dim"),
            cell(d.label_name(lang) or ("未分类" if zh else "unclassified")),
            cell(d.rule or ("默认" if zh and d.label else "default" if d.label else "-")),
            cell(d.strategy.summary.get(lang) if d.strategy is not None else ""),
        )
    out.print(t)
    for d in profile.decisions.values():
        text = d.explain(lang)
        head, _, rest = text.partition("\n")
        out.print(Text(head, style="bold"))
        if rest:
            out.print(Text(rest), soft_wrap=True)
    for sid, why in profile.skipped.items():
        out.print(Text(f"{sid}: {'跳过' if zh else 'skipped'} ({why})", style="dim"))


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
            err = exc if isinstance(exc, CliError) else as_cli_error(exc)
            out.print(Text("error ", style="bold red") + Text(err.format_message()), soft_wrap=True)
            if err.hint:
                out.print(Text(f"  hint: {err.hint}", style="dim"), soft_wrap=True)
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
    if path.exists():
        if path.is_dir():
            raise CliError(f"{policy_file!r} is a folder", "give a policy file (.yaml, .json or .toml)")
        return engine.load_policy(path)
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
        table_ = read_input(input_path, encoding, err)
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
        f"{'日程' if zh else 'Agenda'} {day}" + (f" · {owner}" if owner else "") + f" · {len(rows)} item(s)"
    )
    t = table("due", "status", "customer", "name", "owner", "action", title=title)
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


from customer_rules.cli import serve as _serve_commands  # noqa: E402, F401

# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


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
