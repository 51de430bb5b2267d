"""The HTTP service in process (Starlette's test client): endpoints, limits and errors."""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402

from hocr.engine import evaluate  # noqa: E402
from hocr.loader import Rulebook  # noqa: E402
from hocr.service import ServiceConfig, config_from_env, create_app  # noqa: E402
from hocr.service.bodies import json_depth  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NDJSON = {"content-type": "application/x-ndjson"}


def example(name: str = "recorded-late.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


@pytest.fixture(scope="module")
def client(book: Rulebook) -> Iterator[TestClient]:
    with TestClient(create_app(book, ServiceConfig(max_acts=3, max_batch_items=5))) as c:
        yield c


def test_health_ready_and_rulebook(client: TestClient, book: Rulebook) -> None:
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["rulebook"] == book.hash
    assert client.get("/v1/ready").status_code == 200
    info = client.get("/v1/rulebook").json()
    assert info["hash"] == book.hash and info["starts"] == "2002-04-01"


def test_check_gives_the_same_decision_as_the_library(client: TestClient, book: Rulebook) -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        incident = json.loads(path.read_text())
        response = client.post("/v1/check", content=json.dumps(incident))
        assert response.status_code == 200, path.name
        assert response.json() == json.loads(json.dumps(evaluate(book, incident))), path.name
        assert response.headers["x-decision-id"]


def test_check_with_as_of_and_trace(client: TestClient) -> None:
    d = client.post("/v1/check?as_of=2014-06-01&trace=1", content=json.dumps(example())).json()
    assert d["deadline"]["limit_hours"] == 72 and "trace" in d
    for bad in ("as_of=soon", "as_of=20140601", "trace=maybe"):
        r = client.post(f"/v1/check?{bad}", content=json.dumps(example()))
        assert r.status_code == 400 and r.json()["errors"][0]["pointer"].startswith("?"), bad


def test_bad_bodies_are_400_naming_the_field(client: TestClient) -> None:
    r = client.post("/v1/check", content=b"{not json")
    assert r.status_code == 400 and "not valid JSON" in r.json()["errors"][0]["message"]
    incident = example()
    incident["victims"][0]["age"] = "old"
    r = client.post("/v1/check", content=json.dumps(incident))
    assert r.status_code == 400 and r.json()["errors"][0]["pointer"] == "/victims/0/age"
    for body in (b"\xff\xfe", b"1" * 5000, b'{"id": "\\ud800"}', b"[]", b"null"):
        assert client.post("/v1/check", content=body).status_code == 400, body[:20]


def test_limits_name_what_was_exceeded(client: TestClient) -> None:
    r = client.post("/v1/check", content=b" " * (ServiceConfig().max_body + 1))
    assert r.status_code == 413 and "max_body" in r.json()["errors"][0]["message"]
    r = client.post("/v1/check", content=b"[" * 40 + b"]" * 40)
    assert r.status_code == 400 and "max_depth" in r.json()["errors"][0]["message"]
    incident = example()
    incident["acts"] = [dict(incident["acts"][0], id=f"A{i}") for i in range(4)]
    r = client.post("/v1/check", content=json.dumps(incident))
    assert r.status_code == 413 and r.json()["errors"][0] == {
        "pointer": "/acts", "message": "the incident has 4 acts; the limit is 3 (max_acts)"}


def test_content_length_must_be_a_plain_number(book: Rulebook) -> None:
    from hocr.service.bodies import declared_length
    from hocr.service.errors import ServiceError

    for headers, status in (({}, 411), ({"content-length": "-1"}, 400), ({"content-length": "1e3"}, 400),
                            ({"content-length": "٣"}, 400), ({"content-length": "99999999999"}, 413)):
        with pytest.raises(ServiceError) as caught:
            declared_length(headers, 1000)
        assert caught.value.status == status, headers
    assert declared_length({"transfer-encoding": "chunked"}, 1000) is None
    assert declared_length({"content-length": "12"}, 1000) == 12


def test_a_chunked_body_is_counted_as_it_arrives(book: Rulebook) -> None:
    small = ServiceConfig(max_body=5000)
    with TestClient(create_app(book, small)) as c:
        parts = (b" " * 1000 for _ in range(10))  # a generator: sent chunked, no length
        r = c.post("/v1/check", content=parts)
        assert r.status_code == 413 and "5000" in r.json()["errors"][0]["message"]
        r = c.post("/v1/check", content=iter([json.dumps(example()).encode()]))
        assert r.status_code == 200


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * 5000) == 5000


def test_batch_json_array_answers_every_item_with_its_index(client: TestClient, book: Rulebook) -> None:
    bad = example()
    bad["victims"][0]["age"] = -1
    items = [example(), bad, 7, example("third-party-not-confirmed.json")]
    r = client.post("/v1/check/batch", content=json.dumps(items))
    assert r.status_code == 200
    results = r.json()["results"]
    assert [(x["index"], x["status"]) for x in results] == [(0, 200), (1, 400), (2, 400), (3, 200)]
    assert results[0]["decision"] == json.loads(json.dumps(evaluate(book, example())))
    assert results[1]["errors"][0]["pointer"] == "/victims/0/age"
    assert client.post("/v1/check/batch", content=json.dumps([example()] * 6)).status_code == 413
    assert client.post("/v1/check/batch", content=json.dumps({"not": "a list"})).status_code == 400


def test_batch_ndjson_streams_a_line_per_line(client: TestClient) -> None:
    lines = [json.dumps(example()), "", "{broken", json.dumps(example("victim-report-recorded.json"))]
    r = client.post("/v1/check/batch", content="\n".join(lines) + "\n", headers=NDJSON)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    out = [json.loads(line) for line in r.text.splitlines()]
    assert [(x["index"], x["status"]) for x in out] == [(0, 200), (2, 400), (3, 200)]
    assert "decision" in out[0] and "not valid JSON" in out[1]["errors"][0]["message"]


def test_batch_ndjson_over_the_item_limit_ends_with_the_reason(client: TestClient) -> None:
    body = "\n".join([json.dumps(example())] * 7)
    out = [json.loads(line) for line in client.post("/v1/check/batch", content=body, headers=NDJSON).text.splitlines()]
    assert [x["status"] for x in out] == [200] * 5 + [413]
    assert "max_batch_items" in out[-1]["errors"][0]["message"]


def test_classifications(client: TestClient) -> None:
    r = client.get("/v1/classifications/8n?as_of=2024-01-01")
    assert r.status_code == 200 and r.json()["code"] == "8N" and r.json()["in_force_on_date"]
    assert client.get("/v1/classifications/4/1").json()["code"] == "4/1"
    r = client.get("/v1/classifications/8Z")
    assert r.status_code == 404 and r.json()["suggestions"]
    assert all(code.startswith("8") for code in r.json()["suggestions"])


def test_unknown_paths_and_methods(client: TestClient) -> None:
    r = client.get("/v1/nothing/Jane-Smith")
    assert r.status_code == 404 and "Jane" not in r.text
    r = client.get("/v1/check")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_openapi_references_the_project_schemas(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    incident = json.loads((EXAMPLES.parent / "schemas" / "incident.schema.json").read_text())
    assert schemas["incident"]["required"] == incident["required"]
    assert set(incident["$defs"]) <= {k.removeprefix("incident.") for k in schemas}
    body = doc["paths"]["/v1/check"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/incident"}
    refs = {m for m in json.dumps(doc).split('"$ref": ')[1:]}
    assert all(r.startswith('"#/components/schemas/') for r in refs)


def test_openapi_is_a_valid_openapi_3_1_document(client: TestClient) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(client.get("/openapi.json").json())


def test_docs_page_is_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/v1/check/batch" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing fetched from elsewhere


def test_an_evaluation_past_its_deadline_is_503(book: Rulebook, monkeypatch: pytest.MonkeyPatch) -> None:
    from hocr.service import app as service_app

    monkeypatch.setattr(service_app, "evaluate", lambda *a, **k: time.sleep(2))
    with TestClient(create_app(book, ServiceConfig(eval_timeout=0.2, eval_threads=1))) as c:
        r = c.post("/v1/check", content=json.dumps(example()))
    assert r.status_code == 503 and "eval_timeout" in r.json()["errors"][0]["message"]
    assert r.headers["retry-after"] == "1"


def test_requests_beyond_the_in_flight_limit_get_503(book: Rulebook, monkeypatch: pytest.MonkeyPatch) -> None:
    from hocr.service import app as service_app

    release = threading.Event()
    real = service_app.evaluate
    monkeypatch.setattr(service_app, "evaluate", lambda *a, **k: (release.wait(60), real(*a, **k))[1])
    statuses: list[int] = []
    with TestClient(create_app(book, ServiceConfig(max_in_flight=2))) as c:
        def send() -> None:
            statuses.append(c.post("/v1/check", content=json.dumps(example())).status_code)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while c.get("/v1/health").json()["in_flight"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.get("/v1/health").json()["in_flight"] == 2
        third = c.post("/v1/check", content=json.dumps(example()))
        release.set()
        for t in threads:
            t.join(60)
    assert third.status_code == 503 and third.headers["retry-after"] == "1"
    assert "max_in_flight" in third.json()["errors"][0]["message"]
    assert statuses == [200, 200]


def test_configuration_from_environment_and_flags() -> None:
    config = config_from_env({"HOCR_SERVICE_MAX_BODY": "10", "HOCR_SERVICE_EVAL_TIMEOUT": "0.5"}, max_acts=7)
    assert (config.max_body, config.eval_timeout, config.max_acts) == (10, 0.5, 7)
    assert config_from_env(config.as_env()) == config
    with pytest.raises(ValueError, match="HOCR_SERVICE_MAX_BODY"):
        config_from_env({"HOCR_SERVICE_MAX_BODY": "lots"})
    with pytest.raises(ValueError, match="max_depth"):
        config_from_env({}, max_depth=0)


def test_an_unexpected_error_is_a_500_that_repeats_nothing(book: Rulebook, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    from hocr.service import app as service_app

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Jayne Planted of 3 Elm Road")

    monkeypatch.setattr(service_app, "evaluate", fail)
    with TestClient(create_app(book), raise_server_exceptions=False) as c:
        r = c.post("/v1/check", content=json.dumps(example()))
    assert r.status_code == 500 and r.json()["errors"][0]["message"] == "internal error (please report it)"
    assert "RuntimeError" in caplog.text and "Planted" not in caplog.text and "Elm" not in r.text


def test_numbers_json_does_not_have_are_refused(client: TestClient) -> None:
    for body in (b'{"id": NaN}', b'{"id": -Infinity}', b'{"id": ' + b"9" * 41 + b"}"):
        r = client.post("/v1/check", content=body)
        assert r.status_code == 400 and "not valid JSON" in r.json()["errors"][0]["message"], body[:20]


def test_more_routes_can_be_added_behind_the_same_guard(book: Rulebook) -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("a page")

    app = create_app(book, ServiceConfig(), routes=[Route("/training", page)])
    with TestClient(app) as c:
        assert c.get("/training").text == "a page"
        assert c.get("/v1/health").status_code == 200


def test_an_overlong_ndjson_line_is_refused_and_the_next_keeps_its_index(book: Rulebook) -> None:
    with TestClient(create_app(book, ServiceConfig(max_body=2000))) as c:
        long_line = b'{"id": "' + b"x" * 10_000 + b'"}'
        parts = iter([long_line[:3000], long_line[3000:], b"\n" + json.dumps(example()).encode() + b"\n"])
        r = c.post("/v1/check/batch", content=parts, headers=NDJSON)
    out = [json.loads(line) for line in r.text.splitlines()]
    assert [(x["index"], x["status"]) for x in out] == [(0, 413), (1, 200)]
