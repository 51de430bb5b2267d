"""uvicorn's HTTP/1.1 protocol (h11) with two changes for clients that misbehave.

* A request that is not valid HTTP (a negative or non-numeric Content-Length, a malformed header)
  is refused by h11 before any application code runs; uvicorn answers in plain text. Here the
  answer is the service's JSON error.
* uvicorn has no deadline for the request line and headers, so a client sending them a byte at a
  time holds a connection for ever. Here a request whose headers are not complete within
  ``header_timeout`` seconds of their first byte is answered 408 and the connection closed.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import config_from_env

NOT_HTTP = "the request is not valid HTTP/1.1 (for example a Content-Length that is not a non-negative whole number)"


@cache
def header_timeout() -> float:
    """``header_timeout`` of the configuration this process was started with."""
    return config_from_env().header_timeout


def _error(message: str) -> bytes:
    return json.dumps({"errors": [{"pointer": "", "message": message}]}).encode()


class GuardedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: Any = None

    def send_400_response(self, msg: str) -> None:
        self._send_error(400, "Bad Request", NOT_HTTP)

    def _send_error(self, status: int, reason: str, message: str) -> None:
        body = _error(message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason)) or b"")
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:  # a response had begun: just close
            pass
        self.transport.close()

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_headers() and self._header_timer is None and not self.transport.is_closing():
            self._timed_cycle = self.cycle
            self._header_timer = self.loop.call_later(header_timeout(), self._headers_too_slow)
        elif not self._waiting_for_headers() and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is self._timed_cycle and self._waiting_for_headers() and not self.transport.is_closing():
            self.logger.warning("a request's headers were too slow: connection closed")
            self._send_error(408, "Request Timeout", f"the request's headers did not arrive within {header_timeout():g} s (header_timeout)")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)
