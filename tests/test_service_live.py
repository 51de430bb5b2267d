"""``hocr serve`` as a force's system meets it: uvicorn on a free loopback port, raw HTTP.

Covers what only the real server shows: malformed Content-Length, slow headers and half-sent
bodies, the access log, SIGTERM with a request in flight, and ``--workers``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import REPO, Server, free_port, post, raw, start, status_and_json, stop

EXAMPLE = (REPO / "examples" / "recorded-late.json").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    s = start(tmp, "--read-timeout", "1", "--header-timeout", "1", "--decision-log", str(tmp / "decisions.jsonl"))
    yield s
    stop(s)


def test_a_decision_over_real_http(server: Server) -> None:
    status, body = status_and_json(raw(server.port, post("/v1/check", EXAMPLE)))
    assert status == 200 and isinstance(body, dict) and body["incident"] == "EX-004"


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5"])
def test_a_malformed_content_length_is_a_json_400(server: Server, length: str) -> None:
    answer = raw(server.port, f"POST /v1/check HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
    status, body = status_and_json(answer)
    assert status == 400 and isinstance(body, dict) and "Content-Length" in body["errors"][0]["message"]


def test_a_missing_length_is_411(server: Server) -> None:
    answer = raw(server.port, b"POST /v1/check HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert status_and_json(answer)[0] == 411


def test_a_half_sent_body_is_408_after_the_read_timeout(server: Server) -> None:
    started = time.monotonic()
    answer = raw(server.port, post("/v1/check", EXAMPLE)[:-20])
    assert status_and_json(answer)[0] == 408 and time.monotonic() - started < 8


def test_slow_headers_are_408_after_the_header_timeout(server: Server) -> None:
    started = time.monotonic()
    answer = raw(server.port, b"POST /v1/check HTTP/1.1\r\nHost: t\r\nContent-")
    assert status_and_json(answer)[0] == 408 and time.monotonic() - started < 8


def test_the_access_log_gives_route_and_status_only(server: Server) -> None:
    raw(server.port, b"GET /v1/classifications/Jane-Smith-1970?as_of=Acacia-Avenue HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    time.sleep(0.3)
    log = server.log()
    assert "GET /v1/classifications/{code} 400" in log  # as_of is not a date
    assert "Jane" not in log and "Acacia" not in log


def test_sigterm_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    s = start(tmp_path)
    request = post("/v1/check", EXAMPLE)
    with socket.create_connection(("127.0.0.1", s.port), timeout=20) as conn:
        conn.sendall(request[:-10])
        time.sleep(0.5)
        s.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        conn.sendall(request[-10:])
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert status_and_json(answer)[0] == 200
    # uvicorn, once shut down, raises the signal again: the conventional end of a SIGTERM
    assert s.process.wait(timeout=40) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in s.log()


def test_workers_serve_the_same_decisions(tmp_path: Path) -> None:
    s = start(tmp_path, "--workers", "2")
    try:
        answers = {raw(s.port, post("/v1/check", EXAMPLE)).partition(b"\r\n\r\n")[2] for _ in range(6)}
        assert len(answers) == 1 and json.loads(answers.pop())["incident"] == "EX-004"
    finally:
        stop(s)


def test_a_bad_limit_is_refused_before_serving(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HOCR_SERVICE_MAX_BODY": "big"}
    done = subprocess.run([sys.executable, "-m", "hocr", "serve", "--port", str(free_port())],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "HOCR_SERVICE_MAX_BODY" in done.stderr


def test_a_port_in_use_is_refused_before_serving() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        done = subprocess.run([sys.executable, "-m", "hocr", "serve", "--port", str(port)],
                              capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "cannot serve" in done.stderr
