"""The guard in front of every request: a bounded number in flight, an access log that names no
input, and no exception escaping to the server (whose log would print its text).

Backpressure: at most ``max_in_flight`` requests are handled at once; one more is answered at once
with 503 and ``Retry-After``, so a burst queues at the client (or the proxy), not in the service's
memory. Health and readiness are never refused, so a load balancer sees a busy service as alive.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import ServiceConfig

access = logging.getLogger("hocr.access")
log = logging.getLogger("hocr.service")
ALWAYS_ANSWERED = frozenset({"/v1/health", "/v1/ready"})


def route_name(app: Any, scope: Scope) -> str:
    """The route template a request matched (``/v1/classifications/{code}``), never the path
    itself, whose parts are the client's."""
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "?")).replace(":path}", "}")
    return "(no such endpoint)"


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """ASGI middleware around the Starlette app (reachable as ``.app``)."""

    def __init__(self, app: ASGIApp, config: ServiceConfig):
        self.app = app
        self.config = config
        self.in_flight = 0
        self.stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._admit(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - answered and logged by type only
            log.error("internal error: %s on %s", type(exc).__name__, route_name(self.app, scope))
            if not status["code"]:
                await _send_json(sending, 500, {"errors": [{"pointer": "", "message": "internal error (please report it)"}]})
        finally:
            access.info('%s %s %s %.1f ms', scope["method"], route_name(self.app, scope), status["code"],
                        (time.monotonic() - started) * 1000)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in ALWAYS_ANSWERED:  # neither refused nor counted
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.config.max_in_flight:
            limit = self.config.max_in_flight
            await _send_json(send, 503, {"errors": [{"pointer": "", "message": f"the service is handling {limit} requests (max_in_flight); try again"}]},
                             {"Retry-After": str(self.config.retry_after)})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
