"""The service's routes: check one incident, check a batch, look up a classification, describe itself.

``create_app`` builds a Starlette application around one compiled rulebook. Routes are plain
Starlette routes; :data:`ENDPOINTS` describes the API ones for the OpenAPI document, so a later
page (issue 14's training page) is added by passing more routes to ``create_app``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ..catalogue import UnknownCode, find_code, show
from ..decision_log import DecisionLog, new_decision_id
from ..engine import EvaluationError, evaluate
from ..incident import InputProblem, InvalidIncident, check_incident
from ..loader import Rulebook
from ..whynot import WhyNotError
from . import bodies, explaining
from .config import ServiceConfig
from .docs_page import render_docs
from .endpoints import ENDPOINTS, NDJSON
from .errors import ServiceError, error_body, http_error, scrubbed, service_error, unexpected_error
from .guards import Guard
from .openapi import openapi_document
from .pool import EvaluationPool

log = logging.getLogger("hocr.service")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TRUE, FALSE = ("1", "true", "yes"), ("0", "false", "no")
# Bad input the library should refuse with InvalidIncident, and may not yet: answered with a 400.
UNREADABLE = (OverflowError, RecursionError, ValueError, UnicodeError)


class Service:
    """The state every request shares: the rulebook, the limits, the pool and the decision log.

    The pool and the log are opened on first use and closed at shutdown (and opened again if the
    app is started again, as a test client does for each session)."""

    def __init__(self, book: Rulebook, config: ServiceConfig):
        self.book = book
        self.config = config
        self.openapi = openapi_document(ENDPOINTS, book.hash[:19], f"Decisions of {book.edition}")
        self._pool: EvaluationPool | None = None
        self._log: DecisionLog | None = None

    @property
    def pool(self) -> EvaluationPool:
        if self._pool is None:
            self._pool = EvaluationPool(self.config.eval_threads, self.config.eval_timeout, self.config.retry_after)
        return self._pool

    @property
    def log(self) -> DecisionLog | None:
        if self._log is None and self.config.decision_log:
            self._log = DecisionLog(self.config.decision_log, self.book.info())
        return self._log

    def close(self) -> None:
        pool, log, self._pool, self._log = self._pool, self._log, None, None
        if pool is not None:
            pool.close()
        if log is not None:
            log.close()


# ---------------------------------------------------------------------------------------------
# query parameters
# ---------------------------------------------------------------------------------------------


def as_of_param(request: Request) -> dt.date | None:
    text = request.query_params.get("as_of")
    return None if text is None else parse_date(text, "as_of", "?as_of")


def parse_date(text: str, what: str, pointer: str) -> dt.date:
    """``text`` as a YYYY-MM-DD date, else a 400 naming ``what`` at ``pointer`` (never the text)."""
    try:
        if not DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ServiceError(400, f"{what} is not a date (expected YYYY-MM-DD)", pointer) from None


def trace_param(request: Request, name: str = "trace") -> bool:
    text = request.query_params.get(name, "0").lower()
    if text not in TRUE + FALSE:
        raise ServiceError(400, f"{name} must be one of 1, true, yes, 0, false, no", f"?{name}")
    return text in TRUE


WHY_NOT_OUTCOMES = ("record", "not recorded")


def why_not_param(request: Request, book: Rulebook) -> str | None:
    """The classification code (as the catalogue writes it) or outcome asked about, if any."""
    text = request.query_params.get("why_not")
    return None if text is None else why_not_target(book, text, "?why_not")


def why_not_target(book: Rulebook, text: str, pointer: str) -> str:
    """``text`` as a why-not target: a code as the catalogue writes it, record or not recorded."""
    if text.strip().lower() in WHY_NOT_OUTCOMES:
        return text.strip().lower()
    try:
        if not 0 < len(text) <= 32:
            raise UnknownCode(text, ())
        return find_code(book, text)
    except UnknownCode:
        raise ServiceError(400, "why_not must be a classification code in the catalogue, record or not recorded", pointer) from None


# ---------------------------------------------------------------------------------------------
# one evaluation
# ---------------------------------------------------------------------------------------------


def _evaluate(book: Rulebook, data: Any, as_of: dt.date | None, trace: bool) -> dict[str, Any]:
    """The decision for ``data``; ServiceError (400) for an incident that cannot be evaluated."""
    try:
        return evaluate(book, check_incident(data), as_of=as_of, trace=trace)
    except InvalidIncident as exc:
        raise ServiceError(400, "invalid incident", problems=scrubbed(exc.problems, data)) from None
    except EvaluationError:
        log.error("rulebook fault while evaluating an incident")
        raise ServiceError(500, "the rulebook could not decide this incident (a rulebook fault; please report it)") from None
    except UNREADABLE as exc:
        log.warning("unreadable incident: %s", type(exc).__name__)
        raise ServiceError(400, f"the incident cannot be evaluated ({type(exc).__name__})") from None


def parse_incident(service: Service, body: bytes, pointer: str = "") -> Any:
    """One incident's bytes parsed and bounded (400 or 413 otherwise, naming nothing of it)."""
    data = bodies.parse_json(body, service.config, pointer)
    try:
        bodies.check_text(data, service.config, pointer)
    except ServiceError as exc:
        raise ServiceError(exc.status, "", problems=scrubbed(exc.problems, data), headers=exc.headers) from None
    return data


async def decide(service: Service, data: Any, as_of: dt.date | None, trace: bool) -> dict[str, Any]:
    """The decision for parsed data, evaluated on the pool."""
    return await service.pool.run(lambda: _evaluate(service.book, data, as_of, trace))


def record(service: Service, body: bytes, data: Any, decision: dict[str, Any] | None,
           error: ServiceError | None, path: str, index: int | None = None) -> str:
    """Write the decision log's line (when there is a log); the decision id."""
    decision_id = new_decision_id()
    if service.log is not None:
        pointers = [p.pointer for p in error.problems] if error else None
        service.log.write(service.log.entry(decision_id, body, data, decision=decision,
                                            error_pointers=pointers, path=path, index=index))
    return decision_id


# ---------------------------------------------------------------------------------------------
# routes
# ---------------------------------------------------------------------------------------------


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def explained(service: Service, data: Any, as_of: dt.date | None, trace: bool, explain: bool,
                    why_not: str | None) -> dict[str, Any]:
    """The decision, with its explanation and why-not when asked (the trace only when asked)."""
    decision = await decide(service, data, as_of, trace or explain)
    if explain:
        steps = decision["trace"] if trace else decision.pop("trace")
        decision["explanation"] = await service.pool.run(lambda: explaining.explanation(service.book, data, decision, steps))
    if why_not is not None:
        try:
            decision["why_not"] = await service.pool.run(lambda: explaining.why_not(service.book, data, why_not, as_of))
        except WhyNotError as exc:
            raise ServiceError(400, str(exc), "?why_not") from None
    return decision


async def check(request: Request) -> Response:
    service = service_of(request)
    as_of, trace = as_of_param(request), trace_param(request)
    explain, why_not = trace_param(request, "explain"), why_not_param(request, service.book)
    body = await bodies.read_body(request, service.config)
    data: Any = None
    try:
        data = parse_incident(service, body)
        decision = await explained(service, data, as_of, trace, explain, why_not)
    except ServiceError as exc:
        if exc.status < 500:  # a refused input is logged; an answer out of time is not a decision
            record(service, body, data, None, exc, "/v1/check")
        raise
    decision_id = record(service, body, data, decision, None, "/v1/check")
    return JSONResponse(decision, headers={"X-Decision-Id": decision_id})


async def batch_item(service: Service, index: int, line: bytes, as_of: dt.date | None, trace: bool) -> dict[str, Any]:
    """One batch item's result: its decision, or its problems, with its index."""
    data: Any = None
    pointer = f"/{index}"
    try:
        if len(line) > service.config.max_body:
            raise ServiceError(413, f"item {index} is {len(line)} bytes; the limit is {service.config.max_body} (max_body)", pointer)
        data = parse_incident(service, line, pointer)
        decision = await decide(service, data, as_of, trace)
    except ServiceError as exc:
        if exc.status < 500:
            record(service, line, data, None, exc, "/v1/check/batch", index)
        return {"index": index, "status": exc.status, **error_body(exc.problems)}
    decision_id = record(service, line, data, decision, None, "/v1/check/batch", index)
    return {"index": index, "status": 200, "decision_id": decision_id, "decision": decision}


def _too_many(service: Service, count: int) -> ServiceError:
    limit = service.config.max_batch_items
    return ServiceError(413, f"the batch has {count} items; the limit is {limit} (max_batch_items)")


async def check_batch(request: Request) -> Response:
    service = service_of(request)
    as_of, trace = as_of_param(request), trace_param(request)
    if NDJSON in request.headers.get("content-type", "").lower():
        bodies.declared_length(request.headers, service.config.max_batch_body)
        lines = stream_lines(request, service)
        return DuplexStream(ndjson_results(service, lines, as_of, trace), media_type=NDJSON)
    body = await bodies.read_body(request, service.config, service.config.max_batch_body, "max_batch_body")
    items = json_items(service, body)
    results = [await batch_item(service, i, item, as_of, trace) for i, item in enumerate(items)]
    return JSONResponse({"results": results})


class DuplexStream(StreamingResponse):
    """A streamed answer whose generator is still reading the request body: Starlette's own
    listens for a disconnect by reading the body too, and would take the parts the generator
    needs. A disconnect reaches the generator instead, as the end of the body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)


def json_items(service: Service, body: bytes) -> list[bytes]:
    """The items of a JSON array body, each as its own JSON text (so each is bounded and
    reported on its own)."""
    data = bodies.parse_json(body, service.config.replace(max_depth=service.config.max_depth + 1))
    if not isinstance(data, list):
        raise ServiceError(400, "the batch must be a JSON array of incidents (or NDJSON, one incident a line)")
    if len(data) > service.config.max_batch_items:
        raise _too_many(service, len(data))
    # ensure_ascii: a lone surrogate survives as its escape, and is refused with the item
    return [json.dumps(item, ensure_ascii=True).encode() for item in data]


async def stream_lines(request: Request, service: Service) -> AsyncIterator[bytes]:
    """The lines of an NDJSON body as they arrive. A line over ``max_body`` is given as its first
    ``max_body`` + 1 bytes (so its item is refused as too large) and the rest of it is dropped
    unread into memory, so the next line keeps its number."""
    cfg = service.config
    pending, skipping = b"", False
    async for part in bodies.body_parts(request, cfg.max_batch_body, cfg.read_timeout, "max_batch_body"):
        if skipping:
            cut = part.find(b"\n")
            if cut < 0:
                continue
            part, skipping = part[cut + 1:], False
        pending += part
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line
        if len(pending) > cfg.max_body:
            yield pending[: cfg.max_body + 1]
            pending, skipping = b"", True
    if pending:
        yield pending


async def ndjson_results(service: Service, lines: AsyncIterator[bytes], as_of: dt.date | None,
                         trace: bool) -> AsyncIterator[bytes]:
    """One result line per non-blank input line (``index`` is the input line's number from 0); a
    problem with the stream itself ends it with one last line giving the problem."""
    index = -1
    count = 0
    try:
        async for line in lines:
            index += 1
            if not line.strip():
                continue
            count += 1
            if count > service.config.max_batch_items:
                raise _too_many(service, count)
            yield _ndjson(await batch_item(service, index, line, as_of, trace))
    except ServiceError as exc:
        yield _ndjson({"index": max(index, 0), "status": exc.status, **error_body(exc.problems)})


def _ndjson(result: dict[str, Any]) -> bytes:
    return (json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


async def classification(request: Request) -> Response:
    service = service_of(request)
    day = as_of_param(request) or dt.date.today()
    code = request.path_params["code"]
    try:
        find_code(service.book, code)
    except UnknownCode as exc:
        message = "no such classification in the catalogue" + ("; see suggestions" if exc.suggestions else "")
        return JSONResponse({**error_body([InputProblem("/code", message)]), "suggestions": list(exc.suggestions)}, 404)
    return JSONResponse(show(service.book, code, day))


async def rulebook(request: Request) -> Response:
    book = service_of(request).book
    return JSONResponse({**book.info(), "starts": book.starts.isoformat()})


async def health(request: Request) -> Response:
    service = service_of(request)
    guard: Guard = request.app.state.guard
    return JSONResponse({"status": "ok", "rulebook": service.book.hash, "in_flight": guard.in_flight})


async def ready(request: Request) -> Response:
    guard: Guard = request.app.state.guard
    state = "stopping" if guard.stopping else "ok"
    return JSONResponse({"status": state, "in_flight": guard.in_flight}, 503 if guard.stopping else 200)


async def openapi(request: Request) -> Response:
    return JSONResponse(service_of(request).openapi)


async def docs(request: Request) -> Response:
    return HTMLResponse(render_docs(service_of(request).openapi))


HANDLERS: dict[str, Callable[[Request], Any]] = {
    "check": check, "check_batch": check_batch, "classification": classification,
    "rulebook": rulebook, "health": health, "ready": ready, "openapi": openapi, "docs": docs,
}


def api_routes() -> list[BaseRoute]:
    """One route per path of :data:`ENDPOINTS`, each with the methods the table gives it."""
    methods: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for e in ENDPOINTS:
        methods.setdefault(e.path, []).append(e.method)
        names[e.path] = e.operation_id
    # {code:path}: a code may hold a slash (4/1)
    return [Route(path.replace("{code}", "{code:path}"), HANDLERS[names[path]], methods=m, name=names[path])
            for path, m in methods.items()]


def create_app(book: Rulebook, config: ServiceConfig | None = None, routes: Sequence[BaseRoute] = ()) -> Guard:
    """The ASGI application: the service's routes (and ``routes``) behind its guard (in-flight
    limit, access log, errors that never echo input)."""
    config = config or ServiceConfig()
    service = Service(book, config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        guard.stopping = False
        yield
        guard.stopping = True  # uvicorn has let the requests in flight finish
        service.close()

    app = Starlette(
        routes=[*api_routes(), *routes],
        exception_handlers={ServiceError: service_error, HTTPException: http_error, Exception: unexpected_error},
        lifespan=lifespan,
    )
    guard = Guard(app, config)
    app.state.service = service
    app.state.guard = guard
    return guard
