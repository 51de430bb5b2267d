"""Error answers: ``{"errors": [{"pointer", "message"}]}`` with a status, never echoing input.

Every message here is written by the service (what was exceeded, what was expected) or comes
from the library's validation passed through :func:`scrub`, which removes every string and key the
client sent. A traceback never reaches a client or the log: an unexpected exception is a 500 that
says only that it happened.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..incident import InputProblem, incident_schema

log = logging.getLogger("hocr.service")

SHORTEST_SCRUBBED = 3  # shorter strings cannot carry a name, an address or a date
MAX_SCRUB_VALUES = 5_000
MASK = "<input>"


class ServiceError(Exception):
    """A request the service refuses: ``status`` and the problems to report."""

    def __init__(self, status: int, message: str, pointer: str = "",
                 headers: Mapping[str, str] | None = None,
                 problems: Sequence[InputProblem] | None = None):
        super().__init__(message)
        self.status = status
        self.problems = tuple(problems) if problems else (InputProblem(pointer, message),)
        self.headers = dict(headers or {})


def error_body(problems: Iterable[InputProblem]) -> dict[str, Any]:
    return {"errors": [{"pointer": p.pointer, "message": p.message} for p in problems]}


def error_response(status: int, problems: Iterable[InputProblem], headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(problems), status_code=status, headers=dict(headers or {}))


def _strings(data: Any) -> Iterator[str]:
    """Every string and object key in ``data``, and the text of every number."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, Mapping):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            yield str(node)


@cache
def vocabulary() -> frozenset[str]:
    """The incident schema's own words (property names, enumerated values): never personal data,
    and the words messages are made of, so they are not scrubbed."""
    words: set[str] = set()
    stack: list[Any] = [incident_schema()]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            words.update(str(k) for k in node.get("properties", {}) if isinstance(node.get("properties"), Mapping))
            words.update(str(v) for v in node.get("enum", ()) if isinstance(v, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(words)


def input_values(data: Any) -> list[str]:
    """The texts of ``data`` that a message must not repeat, longest first (so a value that
    contains another is removed whole). The schema's own words are left alone."""
    values: set[str] = set()
    known = vocabulary()
    for text in _strings(data):
        if len(text) >= SHORTEST_SCRUBBED and text not in known:
            values.add(text)
            values.add(repr(text)[1:-1])
            values.add(json.dumps(text)[1:-1])
        if len(values) > MAX_SCRUB_VALUES:
            break
    return sorted(values, key=len, reverse=True)


def scrub(text: str, values: Sequence[str]) -> str:
    """``text`` with every one of ``values`` replaced by a marker."""
    for value in values:
        if value and value in text:
            text = text.replace(value, MASK)
    return text


def scrubbed(problems: Iterable[InputProblem], data: Any) -> list[InputProblem]:
    """The library's problems for ``data``, with nothing of ``data`` left in pointer or message."""
    values = input_values(data)
    return [InputProblem(scrub(p.pointer, values), scrub(p.message, values)) for p in problems]


async def service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status, exc.problems, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404, 405) in the service's shape, without the path."""
    assert isinstance(exc, HTTPException)
    messages = {404: "no such endpoint (see /openapi.json)", 405: "method not allowed for this endpoint"}
    message = messages.get(exc.status_code, "the request was refused")
    return error_response(exc.status_code, [InputProblem("", message)], exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # The exception's text may hold input: log its type only.
    log.error("internal error: %s while answering %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, [InputProblem("", "internal error (please report it)")])
