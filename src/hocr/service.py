"""A local HTTP service for force systems that cannot embed the library: ``hocr serve``.

Endpoints (JSON in, JSON out):

* ``POST /v1/check`` with an incident as the body; query ``as_of=YYYY-MM-DD`` and ``trace=1``
  optional. 200 with the decision (whatever its status: decided, undetermined, conflict);
  400 with ``{"errors": [{"pointer", "message"}]}`` for an invalid incident; 413 for a body
  over the limit; 422 is never used, so a client needs to know only 200 and 400.
* ``GET /v1/rulebook``: the rulebook's name, edition, content hash and first day in force.
* ``GET /v1/health``: ``{"status": "ok"}``.

The rulebook is compiled once at start; each request runs the same pure evaluation, on its own
thread. Nothing about an incident is logged: the access log gives method, path, status and time.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .engine import EvaluationError, evaluate
from .incident import InvalidIncident, check_incident
from .loader import Rulebook

MAX_BODY = 1_000_000  # bytes: an incident is a few kilobytes


def make_server(book: Rulebook, host: str = "127.0.0.1", port: int = 8080, quiet: bool = False) -> ThreadingHTTPServer:
    """An HTTP server bound to host:port (port 0 picks a free port), not yet serving."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "hocr/0.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler API
            if not quiet:
                sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, pointer: str = "") -> None:
            self._send(status, {"errors": [{"pointer": pointer, "message": message}]})

        def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler API
            path = urlsplit(self.path).path
            if path == "/v1/health":
                self._send(HTTPStatus.OK, {"status": "ok"})
            elif path == "/v1/rulebook":
                self._send(HTTPStatus.OK, {**book.info(), "starts": book.starts.isoformat()})
            elif path == "/v1/check":
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST with the incident as the body")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such endpoint {path!r} (try /v1/check, /v1/rulebook, /v1/health)")

        def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler API
            url = urlsplit(self.path)
            if url.path != "/v1/check":
                self._error(HTTPStatus.NOT_FOUND, f"no such endpoint {url.path!r}")
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
                return
            if length > MAX_BODY:
                # Read and discard what was sent (up to a bound), so the client sees the answer
                # rather than a reset connection; beyond the bound, close the connection.
                if length <= 64 * MAX_BODY:
                    remaining = length
                    while remaining > 0:
                        chunk = self.rfile.read(min(remaining, 65536))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                else:
                    self.close_connection = True
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is {length} bytes; the limit is {MAX_BODY}")
                return
            body = self.rfile.read(length)
            query = parse_qs(url.query)
            as_of = None
            if "as_of" in query:
                try:
                    as_of = dt.date.fromisoformat(query["as_of"][0])
                except ValueError:
                    self._error(HTTPStatus.BAD_REQUEST, f"as_of {query['as_of'][0]!r} is not a date (YYYY-MM-DD)")
                    return
            trace = query.get("trace", ["0"])[0] in ("1", "true", "yes")
            try:
                data = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                self._error(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}")
                return
            try:
                decision = evaluate(book, check_incident(data), as_of=as_of, trace=trace)
            except InvalidIncident as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"errors": [{"pointer": p.pointer, "message": p.message} for p in exc.problems]})
                return
            except EvaluationError as exc:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"rulebook fault: {exc}")
                return
            self._send(HTTPStatus.OK, decision)

    return ThreadingHTTPServer((host, port), Handler)


def serve(book: Rulebook, host: str, port: int) -> None:
    server = make_server(book, host, port)
    bound_host, bound_port = server.server_address[:2]
    sys.stderr.write(f"hocr: serving {book.edition} ({book.hash[:19]}) on http://{bound_host!s}:{bound_port}/v1/check\n")
    started = time.monotonic()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stderr.write(f"hocr: stopped after {time.monotonic() - started:.0f} s\n")
