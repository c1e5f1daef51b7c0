"""The decision store: an append-only log of decisions and the grade history
it implies, in SQLite (default) or PostgreSQL, through SQLAlchemy Core.

One row per customer, scheme and period (the key that makes a period job
idempotent); what a batch of decisions shares (policy, cut-offs, backend,
time, and a logged table) is stored once per batch, and the policy text with
its parameters, the fitted cut-offs and the inputs (a table, or one
customer's record, which its decisions name) once each, content-addressed by
their sha256.
See ``docs/how-to/keep-grade-history.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote

import sqlalchemy as sa

from customer_rules.errors import StoreError
from customer_rules.model.decision import Decision, Profile
from customer_rules.model.records import Grade
from customer_rules.store.schema import batches, blobs, decisions, metadata, periods

if TYPE_CHECKING:
    import polars as pl

    from customer_rules.engine.engine import Engine

MaskMode = Literal["hash", "drop"]
_MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0005"  # the newest migration; a store at another revision is migrated or refused


def _canonical(obj: Any, *, sort_keys: bool = True) -> str:
    # a policy keeps its key order (derived values are evaluated in order)
    return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, tuple | set | frozenset):
        return list(v)
    if hasattr(v, "model_dump"):
        return v.model_dump(mode="json")
    raise TypeError(f"cannot store a {type(v).__name__} value")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decision_id(period: str, customer_id: str, scheme: str) -> str:
    """The id of the decision for ``customer_id`` under ``scheme`` in ``period``:
    ``period/scheme/customer`` with each part percent-encoded (``2026Q4/tier/C17``).

    It is the log's key written out, so two writers logging the same decision
    agree on its id, and the id finds the row without an index of its own.
    """
    return "/".join(quote(part, safe="") for part in (period, scheme, customer_id))


def _key_of(decision_id: str) -> tuple[str, str, str]:
    """``(period, scheme, customer_id)`` of a decision id."""
    parts = decision_id.split("/")
    if len(parts) != 3:
        raise StoreError(f"{decision_id!r} is not a decision id (period/scheme/customer)")
    period, scheme, customer = (unquote(p) for p in parts)
    return period, scheme, customer


@dataclass(frozen=True)
class LoggedDecision:
    """One row of the decision log, as stored (masked fields already masked)."""

    id: str
    customer_id: str
    scheme: str
    period: str
    as_of: dt.date
    label: str | None
    rule: str | None
    policy_id: str
    policy_version: str
    policy_hash: str
    fitted_hash: str | None
    backend: str
    library_version: str
    note: str | None
    override: dict[str, Any] | None
    evidence: dict[str, Any]
    missing: tuple[str, ...]
    logged_at: dt.datetime
    input_hash: str | None = field(default=None, repr=False)
    input_row: int | None = field(default=None, repr=False)

    def to_decision(self) -> Decision:
        """The logged decision as a :class:`Decision` (for ``explain_change``
        and reports; it carries no compiled policy, so no counterfactuals)."""
        return Decision(
            scheme=self.scheme,
            label=self.label,
            rule=self.rule,
            policy_id=self.policy_id,
            policy_version=self.policy_version,
            as_of=self.as_of,
            evidence=self.evidence,
            missing=self.missing,
            labels=() if self.label is None else (self.label,),
            record_id=self.customer_id,
            note=self.note,
        )


@dataclass(frozen=True)
class RegradeResult:
    """What one period job did: decisions written (0 when the period was
    already in the store), rows rejected, and whether it ran at all."""

    period: str
    written: int
    rejected: int
    skipped: bool


class DecisionStore:
    """An append-only decision log with grade history.

    ``url`` is a SQLAlchemy URL: ``sqlite:///customer_rules.db`` (default, a
    file beside the working directory) or
    ``postgresql+psycopg://user:pass@host/db``. The schema is created or
    migrated with Alembic when the store opens (``migrate=False`` refuses an
    out-of-date store instead); a store written by a newer library is refused.

    ``mask`` maps input and evidence paths (``name``, ``birthday``,
    ``value.revenue_12m``) to ``"hash"`` (an HMAC-SHA256 with ``mask_key``,
    or a plain SHA-256 without one) or ``"drop"``, for personal data. A
    replay of a decision whose rule read a masked input is refused.
    """

    def __init__(
        self,
        url: str = "sqlite:///customer_rules.db",
        *,
        mask: Mapping[str, MaskMode] | Iterable[str] | None = None,
        mask_key: str | bytes | None = None,
        migrate: bool = True,
        echo: bool = False,
    ) -> None:
        self.url = url
        if mask is None:
            self.mask: dict[str, MaskMode] = {}
        elif isinstance(mask, Mapping):
            self.mask = dict(mask)
        else:
            self.mask = dict.fromkeys(mask, "hash")
        for path, mode in self.mask.items():
            if mode not in ("hash", "drop"):
                raise ValueError(f"mask for {path!r} must be 'hash' or 'drop', not {mode!r}")
        self._blobs: dict[str, Any] = {}  # content-addressed, so never stale
        self._policies: dict[str, Any] = {}
        self._mask_key = mask_key.encode() if isinstance(mask_key, str) else mask_key
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            # writers wait for each other instead of failing at once
            kwargs["connect_args"] = {"timeout": 60}
        try:
            self.engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot open decision store {url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self._open(migrate)

    # -- schema ----------------------------------------------------------------
    def _open(self, migrate: bool) -> None:
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(
                    conn, opts={"version_table": "cr_alembic_version"}
                ).get_current_revision()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open decision store {self.url!r}: {exc}") from exc
        if current == HEAD:
            return
        known = {p.stem.split("_", 1)[0] for p in (_MIGRATIONS / "versions").glob("[0-9]*.py")}
        if current is not None and current not in known:
            raise StoreError(
                f"decision store {self.url!r} is at schema revision {current!r}, which this version of"
                " customer_rules does not know (written by a newer version?): upgrade customer_rules"
            )
        if current is not None and not migrate:
            raise StoreError(
                f"decision store {self.url!r} is at schema revision {current!r}, this library needs {HEAD!r};"
                " open it with migrate=True (the default) to migrate it"
            )
        self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (normally done on open)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # two processes opening a new store at once: one migrates, the other waits
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4185029)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    @property
    def revision(self) -> str | None:
        """The schema revision of the database (``HEAD`` once opened)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            rev: str | None = MigrationContext.configure(
                conn, opts={"version_table": "cr_alembic_version"}
            ).get_current_revision()
            return rev

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DecisionStore({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction. On SQLite it starts with BEGIN IMMEDIATE, so
        a second writer waits for the first instead of failing when it turns
        its read into a write."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(cr_immediate=True)
            with conn.begin():
                yield conn

    # -- masking -----------------------------------------------------------------
    def _masked_value(self, value: Any) -> str:
        text = _canonical(value)
        if self._mask_key:
            return "hmac-sha256:" + hmac.new(self._mask_key, text.encode(), hashlib.sha256).hexdigest()
        return "sha256:" + _sha(text)

    def _mask_flat(self, values: Mapping[str, Any]) -> dict[str, Any]:
        if not self.mask:
            return dict(values)
        out: dict[str, Any] = {}
        for k, v in values.items():
            mode = self._mode_of(k)
            if mode == "drop":
                continue
            out[k] = self._masked_value(v) if mode == "hash" and v is not None else v
        return out

    def _mode_of(self, path: str) -> MaskMode | None:
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            mode = self.mask.get(".".join(parts[:i]))
            if mode is not None:
                return mode
        return None

    def _mask_nested(self, data: Any, prefix: str = "") -> Any:
        if not self.mask or not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for k, v in data.items():
            path = f"{prefix}{k}"
            mode = self.mask.get(path)
            if mode == "drop":
                continue
            if mode == "hash":
                out[k] = None if v is None else self._masked_value(v)
            elif isinstance(v, dict):
                out[k] = self._mask_nested(v, path + ".")
            elif isinstance(v, list):
                out[k] = [self._mask_nested(i, path + ".") for i in v]
            else:
                out[k] = v
        return out

    # -- writing -------------------------------------------------------------------
    def log(
        self,
        results: Profile | Iterable[Profile] | Any,
        *,
        period: str | None = None,
        engine: Engine | None = None,
        as_of: Any = None,
        id_column: str = "id",
    ) -> int:
        """Append decisions to the log; returns how many were new.

        ``results`` is a :class:`Profile`, an iterable of them (a
        :class:`BatchResult` too), or a table returned by
        ``engine.classify_frame`` (polars or pandas; then ``engine`` and
        ``as_of`` are required, and the table is written in bulk).
        ``period`` names the grading period (``"2026Q4"``); it defaults to
        the ``as_of`` date. A decision already logged for the same customer,
        scheme and period is left as it is (the log is append-only).
        """
        if isinstance(results, Profile):
            results = [results]
        if _is_table(results):
            if engine is None or as_of is None:
                raise ValueError("logging a classified table needs engine= and as_of=")
            from customer_rules.engine.engine import normalise_as_of

            with self._writing() as conn:
                return self._log_frame(conn, results, engine, normalise_as_of(as_of), period, id_column)
        with self._writing() as conn:
            return self._log_profiles(conn, results, period)

    def _log_profiles(self, conn: sa.Connection, profiles: Iterable[Profile], period: str | None) -> int:
        from customer_rules._version import __version__

        now = dt.datetime.now(dt.UTC)
        blob_rows: dict[str, dict[str, Any]] = {}
        groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        # each compiled policy's blob hashes, worked out once per call (its
        # policy serialised to JSON: a third of the cost when made per decision);
        # the entry holds the policy itself, so no other object takes its id meanwhile
        hashes_of: dict[int, tuple[Any, str, str | None]] = {}
        # the batch a decision goes to, made once per compiled policy, period and day
        batch_of: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for profile in profiles:
            if not isinstance(profile, Profile):
                raise TypeError(f"store.log takes profiles or a classified table, not {type(profile).__name__}")
            if profile.customer_id is None:
                raise StoreError("cannot log a decision for a customer without an id")
            input_hash = None
            if profile.customer is not None:
                body = _canonical(
                    {"record": self._mask_nested(profile.customer.model_dump(mode="json", exclude_none=True))}
                )
                input_hash = _sha(body)
                blob_rows.setdefault(input_hash, {"hash": input_hash, "kind": "input", "body": body, "data": None})
            for decision in profile.decisions.values():
                source = decision.source
                if source is None:
                    raise StoreError(
                        f"decision of {decision.scheme!r} has no compiled policy: log decisions the engine made"
                    )
                per = period or decision.as_of.isoformat()
                where = (id(source), decision.scheme, per, decision.as_of, decision.policy_id, decision.policy_version)
                key = batch_of.get(where)
                if key is None:
                    known = hashes_of.get(id(source))
                    if known is None:
                        known = hashes_of[id(source)] = (
                            source,
                            self._policy_blob(source.checked, blob_rows),
                            self._fitted_blob(source.cuts, blob_rows),
                        )
                    batch = {
                        "scheme": decision.scheme,
                        "period": per,
                        "as_of": decision.as_of,
                        "policy_id": decision.policy_id,
                        "policy_version": decision.policy_version,
                        "policy_hash": known[1],
                        "fitted_hash": known[2],
                        "backend": _backend_name(source),
                        "library_version": __version__,
                        "input_hash": None,  # the record's input is the decision's own (a table's is the batch's)
                        "logged_at": now,
                    }
                    key = batch_of[where] = tuple(batch[c] for c in _BATCH_COLUMNS)
                override = decision.override
                groups.setdefault(key, []).append(
                    (
                        str(decision.record_id),
                        decision.scheme,
                        per,
                        decision.label,
                        decision.rule,
                        None,
                        decision.note,
                        None if override is None else override.author,
                        None if override is None else override.reason,
                        None if override is None else override.expires,
                        _canonical(self._mask_flat(decision.evidence)),
                        _canonical(list(decision.missing)),
                        input_hash,
                    )
                )
        self._write_blobs(conn, blob_rows)
        return sum(
            self._write_batch(conn, dict(zip(_BATCH_COLUMNS, key, strict=True)), _ROW_COLUMNS, list(zip(*rows, strict=True)))
            for key, rows in groups.items()
        )

    def _policy_blob(self, checked: Any, blob_rows: dict[str, dict[str, Any]]) -> str:
        body = _canonical(
            {
                "policy": checked.policy.model_dump(mode="json", exclude_none=True),
                "params": dict(checked.params),
            },
            sort_keys=False,
        )
        h = _sha(body)
        blob_rows.setdefault(h, {"hash": h, "kind": "policy", "body": body, "data": None})
        return h

    def _fitted_blob(self, cuts: Mapping[str, Any] | None, blob_rows: dict[str, dict[str, Any]]) -> str | None:
        if cuts is None:
            return None
        body = _canonical({k: c.to_json() for k, c in cuts.items()})
        h = _sha(body)
        blob_rows.setdefault(h, {"hash": h, "kind": "fitted", "body": body, "data": None})
        return h

    @staticmethod
    def _write_blobs(conn: sa.Connection, blob_rows: Mapping[str, Mapping[str, Any]]) -> None:
        """Store the blobs not stored yet (content-addressed: a known hash is the same content)."""
        if not blob_rows:
            return
        known = set()
        keys = list(blob_rows)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            known |= set(conn.execute(sa.select(blobs.c.hash).where(blobs.c.hash.in_(chunk))).scalars())
        new = [dict(b) for h, b in blob_rows.items() if h not in known]
        if new:
            conn.execute(_insert_ignore(conn, blobs, ["hash"]), new)

    @staticmethod
    def _write_batch(
        conn: sa.Connection, batch: Mapping[str, Any], columns: Sequence[str], values: Sequence[Iterable[Any]]
    ) -> int:
        """Write one batch and its decisions, skipping those already logged;
        returns how many were new. ``values`` holds one iterable per column
        of ``columns`` (the first one finite, the others may repeat a value);
        a batch none of whose decisions were new is not kept."""
        if not values or not values[0]:
            return 0
        batch_id = conn.execute(batches.insert().returning(batches.c.id), dict(batch)).scalar_one()
        names = [*columns, "batch_id"]
        # one tuple per decision, made in C by zip (a table logs in bulk)
        stamped = list(zip(*values, repeat(batch_id), strict=False))
        if conn.dialect.name == "postgresql":
            new = _copy_ignore(conn, names, stamped)
        elif conn.dialect.name == "sqlite":
            new = _sqlite_ignore(conn, names, stamped)
        else:
            raise StoreError(f"the decision store supports SQLite and PostgreSQL, not {conn.dialect.name!r}")
        if new == 0:
            conn.execute(batches.delete().where(batches.c.id == batch_id))
        return new

    def _log_frame(
        self,
        conn: sa.Connection,
        table: Any,
        engine: Engine,
        day: dt.date,
        period: str | None,
        id_column: str,
    ) -> int:
        import polars as pl

        from customer_rules._version import __version__

        frame = table.collect() if isinstance(table, pl.LazyFrame) else table
        if not isinstance(frame, pl.DataFrame):
            frame = pl.from_pandas(frame)
        if id_column not in frame.columns:
            raise StoreError(f"the classified table has no {id_column!r} column to name the customers")
        schemes = [s for s in engine.schemes if s in frame.columns]
        if not schemes:
            raise StoreError("the table holds no scheme column: pass the result of engine.classify_frame")
        derived = {c for s in schemes for c in frame.columns if c == s or c.startswith(f"{s}__")}
        inputs = frame.drop(sorted(derived))
        masked = inputs.drop([c for c in inputs.columns if self._mode_of(c) == "drop"])
        hashed = [c for c in masked.columns if self._mode_of(c) == "hash"]
        if hashed:
            masked = masked.with_columns(
                pl.col(c).map_elements(self._masked_value, return_dtype=pl.String) for c in hashed
            )
        buf = io.BytesIO()
        masked.write_ipc(buf, compression="zstd")  # Arrow IPC: a lossless copy, written several times faster than Parquet
        data = buf.getvalue()
        input_hash = hashlib.sha256(data).hexdigest()
        blob_rows: dict[str, dict[str, Any]] = {input_hash: {"hash": input_hash, "kind": "table", "body": None, "data": data}}
        now = dt.datetime.now(dt.UTC)
        per = period or day.isoformat()
        ids = frame[id_column].cast(pl.String).to_list()
        pending = []
        for sid in schemes:
            compiled = engine.compiled(sid)
            checked_policy = compiled.checked.policy
            batch = {
                "scheme": sid,
                "period": per,
                "as_of": day,
                "policy_id": checked_policy.id,
                "policy_version": checked_policy.version,
                "policy_hash": self._policy_blob(compiled.checked, blob_rows),
                "fitted_hash": self._fitted_blob(compiled.cuts, blob_rows),
                "backend": f"frame/{_backend_name(compiled)}",
                "library_version": __version__,
                "input_hash": input_hash,
                "logged_at": now,
            }
            rule_col = f"{sid}__rule"
            rules = frame[rule_col].to_list() if rule_col in frame.columns else repeat(None)
            labels = frame[sid].cast(pl.String).to_list()
            pending.append((batch, [ids, repeat(sid), repeat(per), labels, rules, range(len(ids))]))
        self._write_blobs(conn, blob_rows)
        return sum(self._write_batch(conn, batch, _FRAME_COLUMNS, values) for batch, values in pending)

    # -- the period job ------------------------------------------------------------------
    def regrade(
        self,
        engine: Engine,
        customers: Any,
        *,
        period: str,
        as_of: Any,
        schemes: Iterable[str] | None = None,
    ) -> RegradeResult:
        """Classify ``customers`` (a table or an iterable of records) for
        ``period`` and log every decision, in ONE transaction together with
        the period's row in ``cr_periods``: a killed job leaves the whole
        period or none of it, and a period already in the store is skipped
        (running it twice adds nothing). Hysteresis reads the grade history
        of the earlier periods.
        """
        from customer_rules.engine.engine import normalise_as_of

        day = normalise_as_of(as_of)
        wanted = list(schemes) if schemes is not None else None
        with self._writing() as conn:
            if conn.dialect.name == "postgresql":
                # one writer per period at a time; the other then sees it done
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": period})
            if conn.execute(sa.select(periods.c.period).where(periods.c.period == period)).first():
                return RegradeResult(period, 0, 0, skipped=True)
            if _is_table(customers):
                data, grades = self.history_tables(customers, day, exclude_period=period)
                result = engine.classify_frame_with_rejects(data, as_of=day, schemes=wanted, grades=grades)
                written = self._log_frame(conn, result.frame, engine, day, period, "id")
                rejected = result.n_rejected
            else:
                batch = engine.classify_many(
                    self.with_history(customers, day, exclude_period=period, conn=conn), as_of=day, schemes=wanted
                )
                written = self._log_profiles(conn, batch.profiles, period)
                rejected = len(batch.rejected)
            conn.execute(
                periods.insert(),
                {
                    "period": period,
                    "as_of": day,
                    "decisions": written,
                    "rejected": rejected,
                    "finished_at": dt.datetime.now(dt.UTC),
                },
            )
        return RegradeResult(period, written, rejected, skipped=False)

    # -- reading ---------------------------------------------------------------------
    @staticmethod
    def _select() -> sa.Select[Any]:
        """Logged decisions with what their batch holds for them."""
        own = [c for c in decisions.c if c.name != "input_hash"]
        shared = [batches.c[c] for c in _BATCH_COLUMNS if c not in ("scheme", "period", "input_hash")]
        # the input: one record's (on the decision), else the logged table's (on the batch)
        given = sa.func.coalesce(decisions.c.input_hash, batches.c.input_hash).label("input_hash")
        return sa.select(*own, *shared, given).select_from(_LOG)

    def _rows(self, query: sa.Select[Any], conn: sa.Connection | None = None) -> list[LoggedDecision]:
        if conn is None:
            with self.engine.connect() as c:
                return [_logged(r) for r in c.execute(query).mappings()]
        return [_logged(r) for r in conn.execute(query).mappings()]

    def decision(self, decision_id: str) -> LoggedDecision:
        """One logged decision by id (:class:`StoreError` if there is none)."""
        period, scheme, customer = _key_of(decision_id)
        found = self._rows(
            self._select().where(
                decisions.c.customer_id == customer, decisions.c.scheme == scheme, decisions.c.period == period
            )
        )
        if not found:
            raise StoreError(f"no decision {decision_id!r} in {self!r}")
        return found[0]

    def history(self, customer_id: str, scheme: str | None = None) -> list[LoggedDecision]:
        """A customer's logged decisions, oldest first (one scheme, or all)."""
        q = self._select().where(decisions.c.customer_id == str(customer_id))
        if scheme is not None:
            q = q.where(decisions.c.scheme == scheme)
        return self._rows(q.order_by(decisions.c.scheme, batches.c.as_of, decisions.c.period))

    def periods(self) -> list[dict[str, Any]]:
        """The period jobs written whole, oldest first."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(periods).order_by(periods.c.as_of)).mappings()]

    def changes(self, period_from: str, period_to: str, *, schemes: Iterable[str] | None = None) -> pl.DataFrame:
        """The delta feed between two periods: who moved from what to what.

        A polars table with ``customer_id``, ``scheme``, ``label_from``,
        ``label_to``, ``rule_to``, ``decision_id`` (of the ``period_to``
        decision); customers new in ``period_to`` have a null
        ``label_from``, customers gone from it are not listed.
        """
        import polars as pl

        before = decisions.alias("a")
        after = decisions.alias("b")
        q = (
            sa.select(
                after.c.customer_id,
                after.c.scheme,
                before.c.label.label("label_from"),
                after.c.label.label("label_to"),
                after.c.rule.label("rule_to"),
            )
            .select_from(
                after.outerjoin(
                    before,
                    sa.and_(
                        before.c.customer_id == after.c.customer_id,
                        before.c.scheme == after.c.scheme,
                        before.c.period == period_from,
                    ),
                )
            )
            .where(after.c.period == period_to)
            .where(
                sa.or_(
                    before.c.customer_id.is_(None),
                    sa.func.coalesce(before.c.label, "") != sa.func.coalesce(after.c.label, ""),
                )
            )
            .order_by(after.c.customer_id, after.c.scheme)
        )
        if schemes is not None:
            q = q.where(after.c.scheme.in_(list(schemes)))
        with self.engine.connect() as conn:
            rows = [
                {**r, "decision_id": decision_id(period_to, r["customer_id"], r["scheme"])}
                for r in conn.execute(q).mappings()
            ]
        schema = dict.fromkeys(("customer_id", "scheme", "label_from", "label_to", "rule_to", "decision_id"), pl.String)
        return pl.DataFrame(rows, schema=schema)

    # -- grade history -------------------------------------------------------------------
    def grades(
        self,
        customer_ids: Iterable[str] | None,
        as_of: dt.date,
        *,
        exclude_period: str | None = None,
        conn: sa.Connection | None = None,
    ) -> dict[str, list[Grade]]:
        """Each customer's current grade per scheme as of ``as_of``, from the
        log: the latest label and the date it was first given in its current
        run (what hysteresis reads as ``Grade(scheme, label, since)``)."""
        q = (
            sa.select(decisions.c.customer_id, decisions.c.scheme, decisions.c.label, batches.c.as_of)
            .select_from(_LOG)
            .where(batches.c.as_of <= as_of)
        )
        if exclude_period is not None:
            q = q.where(decisions.c.period != exclude_period)
        ids = None if customer_ids is None else [str(c) for c in customer_ids]
        if ids is not None and len(ids) <= 500:
            q = q.where(decisions.c.customer_id.in_(ids))
        q = q.order_by(decisions.c.customer_id, decisions.c.scheme, batches.c.as_of)
        if conn is None:
            with self.engine.connect() as c:
                rows = c.execute(q).all()
        else:
            rows = conn.execute(q).all()
        wanted = None if ids is None else set(ids)
        current: dict[tuple[str, str], tuple[str | None, dt.date]] = {}
        for cid, scheme, label, day in rows:
            if wanted is not None and cid not in wanted:
                continue
            key = (cid, scheme)
            held = current.get(key)
            if held is None or held[0] != label:
                current[key] = (label, day)
        out: dict[str, list[Grade]] = {}
        for (cid, scheme), (label, since) in current.items():
            if label is not None:
                out.setdefault(cid, []).append(Grade(scheme=scheme, label=label, since=since))
        return out

    def with_history(
        self,
        customers: Iterable[Any],
        as_of: Any,
        *,
        exclude_period: str | None = None,
        conn: sa.Connection | None = None,
    ) -> Iterator[Any]:
        """The customers (records or dicts) with their grade history taken from
        the log: the log wins over a record's own ``grades`` for the schemes it
        has logged. Nothing is validated here; invalid records pass through
        for the engine to reject."""
        from customer_rules.engine.engine import normalise_as_of

        day = normalise_as_of(as_of)
        items = list(customers)

        def id_of(c: Any) -> str | None:
            cid = c.get("id") if isinstance(c, Mapping) else getattr(c, "id", None)
            return None if cid is None else str(cid)

        ids = [i for i in (id_of(c) for c in items) if i is not None]
        history = self.grades(ids, day, exclude_period=exclude_period, conn=conn)
        for c in items:
            cid = id_of(c)
            logged = history.get(cid) if cid is not None else None
            if not logged:
                yield c
                continue
            schemes = {g.scheme for g in logged}
            if isinstance(c, Mapping):
                own = [g for g in c.get("grades") or () if not (isinstance(g, Mapping) and g.get("scheme") in schemes)]
                yield {**c, "grades": [*own, *(g.model_dump() for g in logged)]}
            else:
                own_grades = [g for g in c.grades if g.scheme not in schemes]
                yield c.model_copy(update={"grades": (*own_grades, *logged)})

    def grades_frame(
        self,
        as_of: dt.date,
        *,
        exclude_period: str | None = None,
        conn: sa.Connection | None = None,
    ) -> pl.DataFrame:
        """The grade history as a ``grades`` table for ``classify_frame``
        (``customer_id``, ``scheme``, ``label``, ``since``)."""
        import polars as pl

        rows = [
            {"customer_id": cid, "scheme": g.scheme, "label": g.label, "since": g.since}
            for cid, gs in self.grades(None, as_of, exclude_period=exclude_period, conn=conn).items()
            for g in gs
        ]
        schema = {"customer_id": pl.String, "scheme": pl.String, "label": pl.String, "since": pl.Date}
        return pl.DataFrame(rows, schema=schema)

    def history_tables(self, data: Any, as_of: dt.date, *, exclude_period: str | None = None) -> tuple[Any, Any]:
        """``(data, grades)`` for ``classify_frame``: the grade history from the
        log as a ``grades`` table, merged with a ``grades`` column of ``data``
        if it has one (the log wins for the schemes it has logged); ``grades``
        is None when there is no history at all."""
        import polars as pl

        history = self.grades_frame(as_of, exclude_period=exclude_period)
        lazy = isinstance(data, pl.LazyFrame)
        names = data.collect_schema().names() if lazy else list(getattr(data, "columns", []))
        if "grades" not in names:
            return data, (history if history.height else None)
        if not isinstance(data, pl.DataFrame | pl.LazyFrame):
            raise StoreError("a pandas table with a 'grades' column: pass grades= or a polars table")
        frame: pl.DataFrame = data.collect() if isinstance(data, pl.LazyFrame) else data
        own = (
            frame.select(pl.col("id").cast(pl.String).alias("customer_id"), "grades")
            .explode("grades")
            .drop_nulls("grades")
            .unnest("grades")
            .select("customer_id", "scheme", "label", pl.col("since").cast(pl.Date))
        )
        keep = own.join(history, on=["customer_id", "scheme"], how="anti")
        merged = pl.concat([keep, history], how="vertical_relaxed")
        rest = frame.drop("grades")
        return (rest.lazy() if lazy else rest), (merged if merged.height else None)

    # -- replay ----------------------------------------------------------------------------
    def blob(self, content_hash: str) -> Any:
        """A stored policy, cut-off set or input by its hash (parsed JSON)."""
        cached = self._blobs.get(content_hash)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(blobs.c.body, blobs.c.data).where(blobs.c.hash == content_hash)).first()
        if found is None:
            raise StoreError(f"no stored content {content_hash!r} in {self!r}")
        body, data = found
        if data is not None:
            import polars as pl

            # an input table: Arrow IPC, or Parquet in stores written before 0003
            read = pl.read_parquet if bytes(data[:4]) == b"PAR1" else pl.read_ipc
            value: Any = read(io.BytesIO(data))
        else:
            value = json.loads(body)
        if len(self._blobs) > 256:
            self._blobs.clear()
        self._blobs[content_hash] = value
        return value

    def replay(self, decision_id: str, engine: Engine | None = None) -> Decision:
        """Re-run a logged decision with its logged policy (and parameters),
        cut-offs and input, and return the decision made now.

        ``engine`` provides the features, hooks and strategies (default: an
        ``Engine()`` with the built-in and installed plugins). The result's
        label and rule equal the logged ones unless something outside the log
        changed (a feature's code, a plugin's override).
        """
        from customer_rules.lang.policy import Policy

        logged = self.decision(decision_id)
        if logged.input_hash is None:
            raise StoreError(f"decision {decision_id!r} was logged without its input: it cannot be replayed")
        stored = self.blob(logged.policy_hash)
        policy = self._policies.get(logged.policy_hash)
        if policy is None:
            policy = self._policies[logged.policy_hash] = Policy.model_validate(stored["policy"])
        fitted = None if logged.fitted_hash is None else self.blob(logged.fitted_hash)
        inp = self.blob(logged.input_hash)
        row = logged.input_row
        if engine is None:
            from customer_rules.engine.engine import Engine

            engine = Engine()
        if row is not None:
            from customer_rules.model.frames import records_from_frame

            record: Any = records_from_frame(inp.slice(row, 1))[0]
        else:
            record = inp["record"]
        masked = self._masked_inputs(policy, engine)
        if masked:
            raise StoreError(
                f"decision {decision_id!r} read masked input(s) {', '.join(sorted(masked))}: it cannot be replayed"
            )
        return engine.replay(policy, record, as_of=logged.as_of, params=stored["params"], fitted=fitted)

    def _masked_inputs(self, policy: Any, engine: Engine) -> set[str]:
        if not self.mask:
            return set()
        checked = engine.check(policy)
        read = {k for r in checked.rules for k in r.keys}
        return {k for k in read if self._mode_of(k) is not None}


# -- helpers -------------------------------------------------------------------------
def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN (pysqlite's own is deferred and late)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    immediate = conn.get_execution_options().get("cr_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _is_table(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] in ("polars", "pandas")


def _backend_name(compiled: Any) -> str:
    name = getattr(compiled, "backend_name", None)
    if isinstance(name, str):
        return name
    return type(compiled).__module__.rsplit(".", 1)[-1]


def _insert_ignore(conn: sa.Connection, table: sa.Table, keys: Sequence[str]) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    raise StoreError(f"the decision store supports SQLite and PostgreSQL, not {name!r}")


_BATCH_COLUMNS = [c.name for c in batches.columns if c.name != "id"]
_ROW_COLUMNS = [c.name for c in decisions.columns if c.name != "batch_id"]
_FRAME_COLUMNS = ["customer_id", "scheme", "period", "label", "rule", "input_row"]
_LOG = decisions.join(batches, decisions.c.batch_id == batches.c.id)


def _copy_ignore(conn: sa.Connection, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    """PostgreSQL bulk path: COPY into a temporary table, then insert what is
    new; returns how many rows were new."""
    raw: Any = conn.connection.dbapi_connection  # psycopg's connection: COPY support
    cols = ", ".join(columns)
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS cr_decisions_in (LIKE cr_decisions) ON COMMIT DROP")
        with cur.copy(f"COPY cr_decisions_in ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        cur.execute(f"INSERT INTO cr_decisions ({cols}) SELECT {cols} FROM cr_decisions_in ON CONFLICT DO NOTHING")
        new = int(cur.rowcount)
        cur.execute("TRUNCATE cr_decisions_in")
    return new


def _sqlite_ignore(conn: sa.Connection, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    """SQLite bulk path: the driver's executemany, skipping rows already
    logged; returns how many rows were new. A date is written in the text form
    SQLAlchemy's SQLite dialect reads back."""
    dated = [i for i, c in enumerate(columns) if isinstance(decisions.c[c].type, sa.Date)]
    if dated:
        rows = [tuple(v.isoformat() if i in dated and v is not None else v for i, v in enumerate(r)) for r in rows]
    sql = f"INSERT INTO cr_decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING"
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(sql, rows)
        return int(cur.rowcount)
    finally:
        cur.close()


def _logged(row: Any) -> LoggedDecision:
    override = None
    if row["override_author"] is not None:
        override = {
            "author": row["override_author"],
            "reason": row["override_reason"],
            "expires": row["override_expires"],
        }
    as_of = row["as_of"]
    logged_at = row["logged_at"]
    return LoggedDecision(
        id=decision_id(row["period"], row["customer_id"], row["scheme"]),
        customer_id=row["customer_id"],
        scheme=row["scheme"],
        period=row["period"],
        as_of=as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)),
        label=row["label"],
        rule=row["rule"],
        policy_id=row["policy_id"],
        policy_version=row["policy_version"],
        policy_hash=row["policy_hash"],
        fitted_hash=row["fitted_hash"],
        backend=row["backend"],
        library_version=row["library_version"],
        note=row["note"],
        override=override,
        evidence={} if row["evidence"] is None else json.loads(row["evidence"]),
        missing=() if row["missing"] is None else tuple(json.loads(row["missing"])),
        logged_at=logged_at,
        input_hash=row["input_hash"],
        input_row=row["input_row"],
    )


__all__ = ["HEAD", "DecisionStore", "LoggedDecision", "RegradeResult", "decision_id", "metadata"]
