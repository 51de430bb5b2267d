"""The local HTTP service, on a free loopback port, with a bounded number of requests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hocr.loader import Rulebook
from hocr.service import MAX_BODY, make_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def base(book: Rulebook) -> Iterator[str]:
    server = make_server(book, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}"
    server.shutdown()
    server.server_close()


def call(url: str, body: bytes | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_health_and_rulebook(base: str, book: Rulebook) -> None:
    assert call(f"{base}/v1/health") == (200, {"status": "ok"})
    status, info = call(f"{base}/v1/rulebook")
    assert status == 200 and info["hash"] == book.hash and info["starts"] == "2002-04-01"


def test_check_gives_the_same_decision_as_the_library(base: str, book: Rulebook) -> None:
    from hocr.engine import evaluate

    for path in sorted(EXAMPLES.glob("*.json")):
        incident = json.loads(path.read_text())
        status, decision = call(f"{base}/v1/check", json.dumps(incident).encode())
        assert status == 200, path.name
        assert decision == json.loads(json.dumps(evaluate(book, incident))), path.name


def test_check_with_as_of_and_trace(base: str) -> None:
    body = (EXAMPLES / "recorded-late.json").read_bytes()
    status, d = call(f"{base}/v1/check?as_of=2014-06-01&trace=1", body)
    assert status == 200
    assert d["deadline"]["limit_hours"] == 72 and "trace" in d


def test_bad_requests(base: str) -> None:
    status, body = call(f"{base}/v1/check", b"{not json")
    assert status == 400 and "not valid JSON" in body["errors"][0]["message"]
    incident = json.loads((EXAMPLES / "victim-report-recorded.json").read_text())
    incident["victims"][0]["age"] = "old"
    status, body = call(f"{base}/v1/check", json.dumps(incident).encode())
    assert status == 400 and body["errors"][0]["pointer"] == "/victims/0/age"
    status, body = call(f"{base}/v1/check?as_of=soon", b"{}")
    assert status == 400
    status, body = call(f"{base}/v1/check", b" " * (MAX_BODY + 1))
    assert status == 413
    assert call(f"{base}/v1/nothing")[0] == 404
    assert call(f"{base}/v1/check")[0] == 405


def test_concurrent_requests_agree(base: str) -> None:
    body = (EXAMPLES / "third-party-not-confirmed.json").read_bytes()
    results: list[Any] = []

    def worker() -> None:
        for _ in range(5):
            results.append(call(f"{base}/v1/check", body))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 20
    assert all(r == results[0] for r in results) and results[0][0] == 200
