"""Starting ``hocr serve`` on a free loopback port and talking raw HTTP to it (for the live tests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


def start(tmp: Path, *flags: str) -> Server:
    port = free_port()
    stderr = tmp / f"stderr-{port}.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "hocr", "serve", "--port", str(port), *flags],
        stdout=subprocess.DEVNULL, stderr=stderr.open("wb"), env=env, cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if b" 200 " in raw(port, b"GET /v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 5):
                return Server(process, port, stderr)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the service did not start: {stderr.read_text()}")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=40)


def raw(port: int, data: bytes, wait: float = 10, then: bytes = b"", pause: float = 0) -> bytes:
    """Send ``data`` (then, after ``pause`` s, ``then``) and read until the server closes or
    ``wait`` seconds pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        if then:
            time.sleep(pause)
            s.sendall(then)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def post(path: str, body: bytes, extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def status_and_json(answer: bytes) -> tuple[int, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else None


def body_of(answer: bytes) -> bytes:
    """The body of a raw HTTP answer, with a chunked one put together."""
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out
