"""The error tree. Every error the library raises on purpose derives from
:class:`CustomerRulesError`, so callers can catch one class."""

from __future__ import annotations


class CustomerRulesError(Exception):
    """Base class of every error raised by customer_rules."""


class PolicyError(CustomerRulesError):
    """A policy (or one expression in it) is malformed or does not type-check.

    Carries where the problem is: ``file``, ``line`` and ``column`` (1-based,
    in the policy file when it came from one, else in the expression),
    ``rule`` (the rule id), ``field`` (the policy key, e.g. ``rules[2].when``)
    and ``hint`` (a suggestion such as "did you mean ...").
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        rule: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.rule = rule
        self.field = field
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file:
            loc = self.file
            if self.line is not None:
                loc += f":{self.line}"
                if self.column is not None:
                    loc += f":{self.column}"
            where.append(loc)
        elif self.line is not None:
            where.append(f"line {self.line}, column {self.column}")
        if self.rule:
            where.append(f"rule {self.rule!r}")
        if self.field:
            where.append(self.field)
        text = ": ".join([", ".join(where), self.message]) if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class RecordError(CustomerRulesError, ValueError):
    """A customer record (or event) failed validation.

    ``record_id`` names the customer (or row), ``errors`` is a list of
    ``(field path, message)`` pairs, ``row`` the row index in a batch.
    """

    def __init__(
        self,
        record_id: str | None,
        errors: list[tuple[str, str]],
        *,
        row: int | None = None,
    ) -> None:
        self.record_id = record_id
        self.errors = errors
        self.row = row
        who = f"customer {record_id!r}" if record_id is not None else "customer (no id)"
        if row is not None:
            who += f" (row {row})"
        detail = "; ".join(f"{path}: {msg}" for path, msg in errors)
        super().__init__(f"{who}: invalid record: {detail}")

    @property
    def paths(self) -> list[str]:
        """The dotted field paths that failed."""
        return [p for p, _ in self.errors]


class EvaluationError(CustomerRulesError):
    """A policy could not decide a record (e.g. two rules matched under ``unique``)."""

    def __init__(
        self,
        message: str,
        *,
        scheme: str | None = None,
        rules: tuple[str, ...] = (),
        record_id: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.rules = rules
        self.record_id = record_id
        parts = []
        if record_id is not None:
            parts.append(f"customer {record_id!r}")
        if scheme is not None:
            parts.append(f"scheme {scheme!r}")
        super().__init__(": ".join([*parts, message]))


class NotFittedError(CustomerRulesError):
    """A population-relative scheme was used before ``Engine.fit``."""


class FittedFileError(NotFittedError):
    """Saved cut-offs were refused: the file is damaged, not a fitted file,
    or fitted for another policy, version or parameters (refit).

    ``file`` is the file (``None`` for a mapping), ``key`` the dotted key
    path of the problem inside it (e.g. ``value_pyramid.cuts.<call>.cutoff``).
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.message = message
        self.file = file
        self.key = key
        where = ": ".join(x for x in (file, key) if x)
        super().__init__(f"{where}: {message}" if where else message)


class PluginError(CustomerRulesError):
    """A plugin failed to load or register; names the plugin and the cause."""

    def __init__(self, plugin: str, cause: str) -> None:
        self.plugin = plugin
        self.cause = cause
        super().__init__(f"plugin {plugin!r}: {cause}")


class BackendUnavailable(CustomerRulesError):
    """The requested backend cannot run here (its dependency is missing)."""


class StoreError(CustomerRulesError):
    """A decision store cannot be opened, read or written as asked (wrong
    schema version, unknown decision id, a masked input a replay needs)."""
