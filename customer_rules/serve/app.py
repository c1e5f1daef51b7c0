"""The ASGI app: :func:`create_app` (FastAPI)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import customer_rules as cr
from customer_rules.serve.models import (
    BatchRequest,
    BatchResponse,
    ChangeOut,
    ClassifyOptions,
    ClassifyRequest,
    ClassifyResponse,
    DecisionOut,
    EventsRequest,
    EventsResponse,
    Explain,
    Health,
    LabelChange,
    LabelOut,
    Lang,
    PolicyRef,
    Problem,
    ProfileOut,
    RecordChanged,
    RejectedEventOut,
    RejectedRow,
    ReloadResponse,
    SchemeDetail,
    SchemeSummary,
    StepOut,
    WebhookResponse,
)
from customer_rules.serve.settings import ServeConfig, build_engine, hash_token

log = logging.getLogger("customer_rules.serve")

PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"
T = TypeVar("T")


def _problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": Problem, "description": HTTPStatus(c).phrase} for c in codes}


def _problems_as_problem_json(app: FastAPI) -> None:
    """Document every 4xx/5xx body as application/problem+json (what the handlers send)."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = make()
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    for code, resp in op.get("responses", {}).items():
                        content = resp.get("content", {})
                        if str(code)[0] in "45" and "application/json" in content:
                            content[PROBLEM] = content.pop("application/json")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_COMMON = (400, 401, 403, 408, 413, 422, 500, 503)


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem response."""
    body = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors, instance=instance
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM,
        headers=dict(headers or {}),
    )


# ---------------------------------------------------------------------------
# what is served, and swapping it
# ---------------------------------------------------------------------------


@dataclass
class Served:
    """One engine and what it serves; replaced whole by a reload, never changed in place."""

    engine: Any
    generation: int
    policies: dict[str, str]
    _stream: Any = None
    _stream_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, engine: Any, generation: int) -> Served:
        return cls(engine, generation, {sid: s.policy.version for sid, s in engine.schemes.items()})

    def stream(self) -> Any:
        """This engine's event stream (made on first use; needs durable_rules)."""
        with self._stream_lock:
            if self._stream is None:
                self._stream = self.engine.stream()
            return self._stream

    def stamp(self) -> dict[str, Any]:
        return {"policies": self.policies, "generation": self.generation}


class ServiceState:
    """The engine served now, how to reload it, and the webhook adapter's memory."""

    def __init__(self, engine: Any, loader: Callable[[], Any] | None, config: ServeConfig) -> None:
        self.config = config
        self.loader = loader
        self.current = Served.of(engine, 1)
        # every decision is logged when a decision store is configured (the store
        # is opened once and outlives reloads: it belongs to no engine)
        self.store: Any = None
        if config.store_url:
            from customer_rules.store import DecisionStore

            self.store = DecisionStore(config.store_url)
        self._reload_lock = threading.Lock()
        self.labels: dict[str, dict[str, str | None]] = {}
        self.labels_lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "customer_rules_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "customer_rules_http_request_seconds",
            "Time to answer a request.",
            ["route"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "customer_rules_decisions",
            "Decisions made, by scheme and label.",
            ["scheme", "label"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "customer_rules_rejected_rows", "Batch rows rejected.", registry=self.registry
        )
        self.reloads = Counter(
            "customer_rules_reloads", "Reloads, by outcome.", ["outcome"], registry=self.registry
        )
        self.generation = Gauge(
            "customer_rules_engine_generation", "Engine generation served.", registry=self.registry
        )
        self.generation.set(1)

    def reload(self) -> Served:
        """Build a new engine and swap it in; requests already running finish on the old one."""
        if self.loader is None:
            raise HTTPException(
                409, "this service was given an engine object: there is nothing to reload from"
            )
        with self._reload_lock:
            try:
                engine = self.loader()
            except Exception:
                self.reloads.labels("failed").inc()
                raise
            served = Served.of(engine, self.current.generation + 1)
            self.current = served  # one reference assignment: atomic for readers
            self.generation.set(served.generation)
            self.reloads.labels("ok").inc()
            log.info("reloaded: generation %d", served.generation)
            return served


# ---------------------------------------------------------------------------
# guards: body size, slow clients, metrics
# ---------------------------------------------------------------------------


class Guard:
    """ASGI middleware: refuses bodies over the limit (413) or arriving too slowly
    (408), and counts every request for ``/metrics``."""

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = self.state.config
        started = time.perf_counter()
        status = [500]

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            if length is not None and (not length.isdigit() or int(length) > config.max_body_bytes):
                response = problem(413, f"request body over {config.max_body_bytes} bytes")
                await response(scope, receive, send_counted)
                return
            seen = 0

            async def limited() -> Message:
                nonlocal seen
                try:
                    message = await asyncio.wait_for(receive(), config.body_timeout_s)
                except TimeoutError:
                    raise HTTPException(
                        408, f"request body not received within {config.body_timeout_s} s"
                    ) from None
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > config.max_body_bytes:
                        raise HTTPException(413, f"request body over {config.max_body_bytes} bytes")
                return message

            await self.app(scope, limited, send_counted)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.state.requests.labels(scope["method"], path, str(status[0])).inc()
            self.state.latency.labels(path).observe(time.perf_counter() - started)


# ---------------------------------------------------------------------------
# turning library objects into response bodies
# ---------------------------------------------------------------------------


def profile_out(profile: Any, lang: str, explain: str) -> ProfileOut:
    decisions = []
    for d in profile.values():
        text = None
        if explain == "short":
            text = d.because(lang)
        elif explain == "full":
            text = d.explain(lang)
        decisions.append(
            DecisionOut(
                scheme=d.scheme,
                label=d.label,
                label_name=d.label_name(lang),
                labels=list(d.labels),
                rule=d.rule,
                flags=list(d.flags),
                missing=list(d.missing),
                note=d.note,
                policy=PolicyRef(id=d.policy_id, version=d.policy_version),
                strategy=None if d.strategy is None else d.strategy.model_dump(mode="json"),
                explanation=text,
            )
        )
    return ProfileOut(
        record_id=profile.customer_id,
        as_of=profile.as_of,
        labels=dict(profile.labels),
        decisions=decisions,
        skipped=dict(profile.skipped),
    )


def _check_schemes(engine: Any, schemes: list[str] | None) -> None:
    for s in schemes or ():
        if s not in engine.schemes:
            raise HTTPException(422, f"unknown scheme {s!r}; known: {', '.join(sorted(engine.schemes))}")


def _validation_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


# ---------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------


def create_app(
    engine: Any = None,
    *,
    config: ServeConfig,
    loader: Callable[[], Any] | None = None,
    reload_on_sighup: bool = False,
) -> FastAPI:
    """The HTTP decision service.

    ``engine``: the :class:`customer_rules.Engine` to serve (default: one
    built from ``config`` — its plugins, policy files and fitted cut-offs).
    ``loader`` makes the engine a reload swaps in (default: rebuild from
    ``config`` when no engine was given; none when one was).
    ``reload_on_sighup``: also reload on SIGHUP (the CLI sets it; needs the
    main thread's event loop).
    """
    if engine is None:
        engine = build_engine(config)
        if loader is None:
            loader = lambda: build_engine(config)  # noqa: E731
    state = ServiceState(engine, loader, config)
    digests = [bytes.fromhex(d) for d in config.token_sha256]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        hup = reload_on_sighup and hasattr(signal, "SIGHUP")
        pending: set[asyncio.Task[None]] = set()
        if hup:

            def on_hup() -> None:
                async def run() -> None:
                    try:
                        await run_in_threadpool(state.reload)
                    except Exception as exc:
                        log.error(
                            "reload on SIGHUP failed, still serving generation %d: %s",
                            state.current.generation,
                            exc,
                        )

                task = loop.create_task(run())
                pending.add(task)
                task.add_done_callback(pending.discard)

            loop.add_signal_handler(signal.SIGHUP, on_hup)
        try:
            yield
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)

    app = FastAPI(
        title="customer_rules decision service",
        version=cr.__version__,
        description=(
            "Classify customers by type, tier and crisis level with the policies this service loaded. "
            "Every decision response names the policy versions it was decided with. Errors are "
            "RFC 9457 problems (application/problem+json)."
        ),
        lifespan=lifespan,
    )
    app.state.service = state
    _problems_as_problem_json(app)
    app.add_middleware(Guard, state=state)

    # -- errors: problem+json, never a stack trace --------------------------------
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail), instance=request.url.path, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return problem(
            422,
            "the request does not match its schema",
            errors=_validation_errors(exc),
            instance=request.url.path,
        )

    @app.exception_handler(cr.CustomerRulesError)
    async def _library(request: Request, exc: cr.CustomerRulesError) -> Response:
        status = 503 if isinstance(exc, cr.BackendUnavailable) else 422
        return problem(status, str(exc), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "internal error (logged by the service)", instance=request.url.path)

    # -- auth ---------------------------------------------------------------------
    def _token_ok(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(
                401,
                "an API token is required (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = bytes.fromhex(hash_token(token.strip()))
        ok = False
        for d in digests:  # compare with every digest: no early exit
            ok |= hmac.compare_digest(given, d)
        if not ok:
            raise HTTPException(403, "the API token is not accepted")
        return True

    def require_token(request: Request) -> None:
        if digests:
            _token_ok(request)

    def require_admin(request: Request) -> None:
        if not digests:
            raise HTTPException(403, "admin endpoints need API tokens configured (--token-file)")
        _token_ok(request)

    auth = [Depends(require_token)]

    async def timed(fn: Callable[[], T]) -> T:
        try:
            return await asyncio.wait_for(run_in_threadpool(fn), config.time_limit_s)
        except TimeoutError:
            raise HTTPException(503, f"the request took longer than {config.time_limit_s} s") from None

    def count(profiles: list[ProfileOut]) -> None:
        for p in profiles:
            for sid, label in p.labels.items():
                state.decisions.labels(sid, str(label)).inc()

    # -- classification -----------------------------------------------------------
    @app.post(
        "/v1/classify",
        response_model=ClassifyResponse,
        dependencies=auth,
        responses=_problem_responses(*_COMMON),
        tags=["classify"],
    )
    async def classify(body: ClassifyRequest) -> ClassifyResponse:
        """Classify one record."""
        served = state.current
        _check_schemes(served.engine, body.schemes)

        def run() -> ProfileOut:
            profile = served.engine.classify(
                body.record, as_of=body.as_of, schemes=body.schemes, store=state.store
            )
            return profile_out(profile, body.lang, body.explain)

        out = await timed(run)
        count([out])
        return ClassifyResponse(**out.model_dump(), **served.stamp())

    batch_body = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": BatchRequest.model_json_schema()},
                NDJSON: {"schema": {"type": "string", "description": "One JSON record a line."}},
            },
        }
    }

    @app.post(
        "/v1/classify/batch",
        response_model=BatchResponse,
        dependencies=auth,
        responses=_problem_responses(*_COMMON, 415),
        openapi_extra=batch_body,
        tags=["classify"],
    )
    async def classify_batch(
        request: Request,
        as_of: Annotated[str | None, Query(description="NDJSON bodies only: the as-of date.")] = None,
        schemes: Annotated[
            str | None, Query(description="NDJSON bodies only: comma-separated scheme ids.")
        ] = None,
        lang: Annotated[Lang, Query(description="NDJSON bodies only.")] = "en",
        explain: Annotated[Explain, Query(description="NDJSON bodies only.")] = "none",
    ) -> BatchResponse:
        """Classify many records: a JSON `BatchRequest`, or NDJSON (one record a line,
        options in the query). At most `max_batch` rows; rows in = results + rejected."""
        served = state.current
        media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        raw = await request.body()
        rows: list[Any]
        bad: list[RejectedRow] = []
        if media == NDJSON:
            try:
                opts = ClassifyOptions.model_validate(
                    {
                        "as_of": as_of,
                        "lang": lang,
                        "explain": explain,
                        "schemes": [s for s in (schemes or "").split(",") if s] or None,
                    }
                )
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from None
            rows = []
            lines = [ln for ln in raw.decode("utf-8", errors="replace").splitlines() if ln.strip()]
            if len(lines) > config.max_batch:
                raise HTTPException(413, f"batch of {len(lines)} rows; at most {config.max_batch}")
            for i, line in enumerate(lines):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    rows.append(None)
                    bad.append(
                        RejectedRow(row=i, record_id=None, reason=f"line {i + 1}: not JSON: {exc.msg}")
                    )
        elif media in ("application/json", ""):
            try:
                req = BatchRequest.model_validate_json(raw)
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from None
            opts, rows = req, req.records
            if len(rows) > config.max_batch:
                raise HTTPException(413, f"batch of {len(rows)} rows; at most {config.max_batch}")
        else:
            raise HTTPException(415, f"send application/json or {NDJSON}, not {media}")
        _check_schemes(served.engine, opts.schemes)
        skip = {r.row for r in bad}
        index = [i for i in range(len(rows)) if i not in skip]

        def run() -> tuple[list[ProfileOut], list[RejectedRow]]:
            records = [rows[i] for i in index]
            if state.store is not None:  # the grade history from the store, then log
                records = list(state.store.with_history(records, opts.as_of))
            result = served.engine.classify_many(records, as_of=opts.as_of, schemes=opts.schemes)
            if state.store is not None:
                state.store.log(result.profiles)
            outs = [profile_out(p, opts.lang, opts.explain) for p in result.profiles]
            rejected = [
                RejectedRow(row=index[r.row], record_id=r.record_id, reason=r.reason) for r in result.rejected
            ]
            return outs, rejected

        outs, rejected = await timed(run)
        rejected = sorted([*bad, *rejected], key=lambda r: r.row)
        count(outs)
        state.rejected.inc(len(rejected))
        return BatchResponse(results=outs, rejected=rejected, **served.stamp())

    # -- schemes ------------------------------------------------------------------
    def summary(sid: str, scheme: Any) -> dict[str, Any]:
        return {
            "id": sid,
            "kind": scheme.kind,
            "version": scheme.policy.version,
            "labels": list(scheme.labels),
            "plugin": scheme.plugin,
        }

    @app.get(
        "/v1/schemes",
        response_model=list[SchemeSummary],
        dependencies=auth,
        responses=_problem_responses(401, 403, 500),
        tags=["schemes"],
    )
    async def list_schemes() -> list[SchemeSummary]:
        """The schemes served."""
        return [SchemeSummary(**summary(sid, s)) for sid, s in state.current.engine.schemes.items()]

    @app.get(
        "/v1/schemes/{scheme_id}",
        response_model=SchemeDetail,
        dependencies=auth,
        responses=_problem_responses(401, 403, 404, 422, 500),
        tags=["schemes"],
    )
    async def get_scheme(scheme_id: str, lang: Lang = "en") -> SchemeDetail:
        """One scheme: labels and their names, parameters, policy version."""
        engine = state.current.engine
        scheme = engine.schemes.get(scheme_id)
        if scheme is None:
            raise HTTPException(404, f"no scheme {scheme_id!r}")
        return SchemeDetail(
            **summary(scheme_id, scheme),
            description=None if scheme.description is None else scheme.description.get(lang),
            label_names=[LabelOut(id=lab.id, name=lab.name(lang)) for lab in scheme.policy.labels],
            params=json.loads(json.dumps(engine.params(scheme_id), default=str)),
            population_relative=scheme_id in engine.population_schemes(),
            fitted=engine.is_fitted(scheme_id),
        )

    # -- events -------------------------------------------------------------------
    @app.post(
        "/v1/events",
        response_model=EventsResponse,
        dependencies=auth,
        responses=_problem_responses(*_COMMON),
        tags=["events"],
    )
    async def events(body: EventsRequest) -> EventsResponse:
        """Apply customer events in order (each customer's events in time order); returns what changed.
        The stream lives with the engine: a reload starts a new one."""
        if len(body.events) > config.max_batch:
            raise HTTPException(413, f"{len(body.events)} events; at most {config.max_batch}")
        served = state.current

        def run() -> EventsResponse:
            result = served.stream().post_many(body.events)
            return EventsResponse(
                changes=[
                    ChangeOut(
                        kind=c.kind,
                        customer_id=c.customer_id,
                        at=c.at,
                        scheme=c.scheme,
                        previous=c.previous,
                        current=c.current,
                        rule=c.rule,
                        case_id=c.case_id,
                        plan=list(c.plan),
                        steps=[StepOut(en=t.en, zh=t.get("zh")) for t in c.steps],
                        reasons=list(c.reasons),
                    )
                    for c in result.changes
                ],
                rejected=[
                    RejectedEventOut(index=r.index, reason=str(r.error), applied=r.applied)
                    for r in result.rejected
                ],
                posted=result.posted,
                **served.stamp(),
            )

        # no time limit here: events cannot be un-applied, so a request runs to the end
        return await run_in_threadpool(run)

    # -- admin --------------------------------------------------------------------
    @app.post(
        "/v1/admin/reload",
        response_model=ReloadResponse,
        dependencies=[Depends(require_admin)],
        responses=_problem_responses(401, 403, 409, 422, 500),
        tags=["admin"],
    )
    async def reload() -> ReloadResponse:
        """Reload policies, plugins and fitted cut-offs; requests in flight finish on the old engine."""
        served = await run_in_threadpool(state.reload)
        return ReloadResponse(**served.stamp())

    # -- CRM webhook --------------------------------------------------------------
    @app.post(
        "/v1/webhooks/record-changed",
        response_model=WebhookResponse,
        dependencies=auth,
        responses=_problem_responses(*_COMMON),
        tags=["webhooks"],
    )
    async def record_changed(body: RecordChanged) -> WebhookResponse:
        """Classify a changed record and call back (``callback_url``) with the labels that changed."""
        served = state.current
        _check_schemes(served.engine, body.schemes)
        profile = await timed(
            lambda: served.engine.classify(
                body.record, as_of=body.as_of, schemes=body.schemes, store=state.store
            )
        )
        rid = str(profile.customer_id)
        now = dict(profile.labels)
        with state.labels_lock:
            before = state.labels.get(rid, {})
        changed = [
            LabelChange(scheme=s, previous=before.get(s), current=v)
            for s, v in now.items()
            if s not in before or before[s] != v
        ]
        delivered: bool | None = None
        if changed and config.callback_url:
            payload = {
                "record_id": rid,
                "event_id": body.event_id,
                "as_of": profile.as_of.isoformat(),
                "changed": [c.model_dump() for c in changed],
                **served.stamp(),
            }
            try:
                async with httpx.AsyncClient(timeout=config.callback_timeout_s) as client:
                    reply = await client.post(config.callback_url, json=payload)
                delivered = reply.is_success
            except httpx.HTTPError as exc:
                log.warning("callback to %s failed: %s", config.callback_url, exc)
                delivered = False
        if delivered is not False:  # an undelivered change is sent again next time
            with state.labels_lock:
                state.labels[rid] = {**state.labels.get(rid, {}), **now}
        return WebhookResponse(
            record_id=rid, event_id=body.event_id, changed=changed, delivered=delivered, **served.stamp()
        )

    # -- operations ---------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["operations"])
    async def readyz() -> Health:
        """An engine is loaded and serving."""
        served = state.current
        return Health(status="ready", generation=served.generation, schemes=len(served.engine.schemes))

    @app.get(
        "/metrics",
        dependencies=auth,
        response_class=Response,
        tags=["operations"],
        responses={
            200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
            **_problem_responses(401, 403),
        },
    )
    async def metrics() -> Response:
        """Counters and histograms in the Prometheus text format."""
        return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)

    return app
