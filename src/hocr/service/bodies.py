"""Reading request bodies within the limits: size, time between parts, JSON depth and size.

A body is read in the parts the client sends. Its declared length must be a plain non-negative
number, or the body must be chunked; either way the bytes are counted as they arrive and the
request is refused as soon as the count passes the limit, so a false length gains nothing. Each
part must arrive within the read timeout, so a half-sent body cannot hold the service.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from itertools import accumulate
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request

from .config import ServiceConfig
from .errors import ServiceError

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")
MAX_DIGITS = 40  # no field of an incident needs more
_SURROGATE = re.compile("[\ud800-\udfff]")
_STEP = bytes.maketrans(b"[]{}", b"\x01\x02\x01\x02")


def declared_length(headers: Mapping[str, str], limit: int) -> int | None:
    """The body's declared length (None when chunked); refuses a missing, negative or
    non-numeric length (411/400) and one over ``limit`` (413)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return None
    text = headers.get("content-length")
    if text is None:
        raise ServiceError(411, "a Content-Length header (or a chunked body) is required")
    if not text.isascii() or not text.isdigit():
        raise ServiceError(400, "the Content-Length header is not a non-negative whole number")
    length = int(text)
    if length > limit:
        raise ServiceError(413, f"the body is {length} bytes; the limit is {limit} (max_body)")
    return length


async def body_parts(request: Request, limit: int, timeout: float, limit_name: str) -> AsyncIterator[bytes]:
    """The body's parts as they arrive, refusing it (413) once it passes ``limit`` bytes and
    (408) when the next part takes longer than ``timeout`` seconds."""
    declared_length(request.headers, limit)
    stream = request.stream().__aiter__()
    seen = 0
    while True:
        try:
            with anyio.fail_after(timeout):
                part = await stream.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ServiceError(408, f"the body did not arrive within {timeout:g} s (read_timeout)") from None
        except ClientDisconnect:
            raise ServiceError(400, "the client disconnected before sending the whole body") from None
        seen += len(part)
        if seen > limit:
            raise ServiceError(413, f"the body is over the limit of {limit} bytes ({limit_name})")
        if part:
            yield part


async def read_body(request: Request, config: ServiceConfig, limit: int | None = None,
                    limit_name: str = "max_body") -> bytes:
    parts = [p async for p in body_parts(request, limit or config.max_body, config.read_timeout, limit_name)]
    return b"".join(parts)


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, without parsing it (so a hostile
    nesting cannot exhaust the parser's stack). Brackets inside strings do not count."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data)).translate(_STEP)
    steps = (1 if b == 1 else -1 for b in brackets)
    return max(accumulate(steps, initial=0))


def parse_json(data: bytes, config: ServiceConfig, pointer: str = "") -> Any:
    """The JSON value of ``data``; 400 for text that is not JSON or not UTF-8, nests deeper than
    ``max_depth`` or holds a number too long to read. The message gives the position only."""
    depth = json_depth(data)
    if depth > config.max_depth:
        raise ServiceError(400, f"the JSON nests {depth} deep; the limit is {config.max_depth} (max_depth)", pointer)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(400, f"the body is not UTF-8 (byte {exc.start})", pointer) from None
    try:
        return json.loads(text, parse_constant=_no_constant, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise ServiceError(400, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", pointer) from None
    except _NotJson as exc:
        raise ServiceError(400, f"not valid JSON: {exc}", pointer) from None
    except (ValueError, RecursionError):  # pragma: no cover - bounded above
        raise ServiceError(400, "not valid JSON", pointer) from None


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise _NotJson(f"an integer of more than {MAX_DIGITS} digits")
    return int(digits)


def check_size(data: Any, config: ServiceConfig, pointer: str = "") -> None:
    """Refuse (413) an incident with more acts or victims than the limits allow."""
    if not isinstance(data, dict):
        return
    for key, limit, name in (("acts", config.max_acts, "max_acts"), ("victims", config.max_victims, "max_victims")):
        items = data.get(key)
        if isinstance(items, list) and len(items) > limit:
            raise ServiceError(413, f"the incident has {len(items)} {key}; the limit is {limit} ({name})", f"{pointer}/{key}")


def lone_surrogate(data: Any, at: str = "") -> str | None:
    """The pointer of the first string in ``data`` holding half of a UTF-16 pair (a ``\\ud800``
    escape without its partner), which no UTF-8 output could carry; None if there is none."""
    stack: list[tuple[Any, str]] = [(data, at)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return where
        elif isinstance(node, dict):
            for key, value in node.items():
                step = where + "/" + _pointer_step(key)
                if _SURROGATE.search(key):
                    return where
                stack.append((value, step))
        elif isinstance(node, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(node))
    return None


def _pointer_step(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def check_text(data: Any, config: ServiceConfig, pointer: str = "") -> None:
    """Refuse (400) an incident whose size or text cannot be evaluated and answered."""
    check_size(data, config, pointer)
    where = lone_surrogate(data, pointer)
    if where is not None:
        raise ServiceError(400, "the text holds a lone UTF-16 surrogate (half of a \\u escape pair)", where)
