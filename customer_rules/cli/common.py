"""What every command of the ``customer-rules`` command line shares: the
click group, errors and exit codes, consoles, common options, reading the
input and building the engine. Commands live in :mod:`customer_rules.cli.main`
and in modules of their own (``convert``, ``store``), which register on
:data:`cli`.

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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from customer_rules.errors import (
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


_PARAMS = "customer_rules.params"


def _set_params(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    ctx.meta[_PARAMS] = [*ctx.meta.get(_PARAMS, []), *values]
    return values


param_option = click.option(
    "--param",
    "params",
    multiple=True,
    expose_value=False,
    callback=_set_params,
    metavar="SCHEME.NAME=VALUE",
    help="Set a scheme parameter (e.g. value_pyramid.top_share=0.1); repeatable. "
    "`customer-rules schemes SCHEME` lists a scheme's parameters.",
)


def parse_params(given: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``scheme.name=value`` items as ``{scheme: {name: value}}``; the value is
    read as a YAML scalar (``0.1``, ``true``, ``2026-11-22``, text)."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in given:
        key, eq, text = item.partition("=")
        scheme, dot, name = key.strip().partition(".")
        if not eq or not dot or not scheme or not name.strip():
            raise CliUsageError(
                f"--param must look like SCHEME.NAME=VALUE, not {item!r}",
                "e.g. --param value_pyramid.top_share=0.1",
            )
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, list | dict):
            value = text  # a parameter is a scalar: keep the text and let the scheme's model judge it
        out.setdefault(scheme, {})[name.strip()] = value
    return out


def given_params() -> dict[str, dict[str, Any]]:
    """The command's ``--param`` values, by scheme (not yet checked against the schemes)."""
    ctx = click.get_current_context(silent=True)
    return parse_params(ctx.meta.get(_PARAMS, []) if ctx is not None else [])


def build_engine(policies: Sequence[Path] = ()) -> Engine:
    """The engine a command runs: installed plugins, ``--policy`` files, and the
    ``--param`` values of the command (checked against each scheme's
    parameter model; an unknown scheme or parameter says "did you mean")."""
    from customer_rules.engine.engine import Engine

    engine = Engine()
    for path in policies:
        engine.add_policy(engine.load_policy(path))
    for scheme, values in given_params().items():
        if scheme not in engine.schemes:
            close = difflib.get_close_matches(scheme, list(engine.schemes), n=1)
            raise CliUsageError(
                f"--param: unknown scheme {scheme!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                "`customer-rules schemes` lists the installed schemes",
            )
        try:
            engine = engine.with_params(scheme, **values)
        except PolicyError as exc:
            raise CliUsageError(
                f"--param: {exc.message}",
                exc.hint or f"`customer-rules schemes {scheme}` lists its parameters",
            ) from None
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
    path: Path,
    encoding: str,
    err: Console,
    *,
    strict_columns: list[str] | None = None,
    strict: bool = False,
    model: Any = None,
) -> FileTable:
    """Read the input file and report columns that are not record fields and ids
    used on more than one row (only the first row of an id is kept); with
    ``strict``, a file without customers is an error. ``model`` is the
    engine's record model (plugin namespaces are record fields)."""
    from customer_rules.io.files import read_table, reject_duplicate_ids, unknown_columns
    from customer_rules.model.tables import customer_spec

    spec = customer_spec(model) if model is not None else None
    table_ = read_table(path, encoding=encoding, spec=spec)
    repeated = reject_duplicate_ids(table_)
    if repeated:
        first = repeated[0]
        warn(
            err,
            f"{len(repeated)} row(s) repeat the id of an earlier row (e.g. {first.id!r} on row {first.row});"
            " only the first row of each id is used, the others are rejected",
        )
    typos = []
    others = []
    for column, guess in unknown_columns(table_.columns, spec):
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
        if strict:
            raise CliError(
                f"--strict: no customers in {path.name} (the file is empty or has only a header)",
                "check that the export wrote its rows",
            )
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
    from customer_rules.model.tables import customer_spec, prepare, records_from_canonical

    source = table_.records if frame is None else frame
    spec = table_.spec or customer_spec()
    prepared = prepare(source, warn=False, spec=spec)
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
    for row, rec in records_from_canonical(prepared.valid, spec.model):  # type: ignore[arg-type]
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
