"""The API against its own OpenAPI document (schemathesis, in process): every operation, with
bodies and parameters generated from the schemas (valid ones and broken ones). No answer may be
a server error, and every answer must match the document: status, content type, headers and body.

Bounded and derandomised, so it takes seconds and gives the same cases on every run.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi import checks  # noqa: E402

from hocr.loader import load_rulebook  # noqa: E402
from hocr.service import ServiceConfig, create_app  # noqa: E402

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")



@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """One incident a line (a generated body is one incident: one line)."""
    return (json.dumps(value) + "\n").encode()


APP = create_app(load_rulebook(), ServiceConfig(eval_timeout=30))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)

# positive_data_acceptance is left out: the schema cannot say that an act's victims must name a
# victim of the incident, or that a local time must exist, so a schema-valid incident can be
# rightly refused with a 400 naming the field.
CHECKS: list[Any] = [
    checks.status_code_conformance, checks.content_type_conformance,
    checks.response_headers_conformance, checks.response_schema_conformance,
    checks.negative_data_rejection, checks.unsupported_method,
]


# A batch is judged item by item: a batch holding an invalid incident is a valid request, answered
# 200 with that item's 400 and its index, so "invalid data must be rejected" does not apply to it.
ITEM_BY_ITEM = {("POST", "/v1/check/batch")}


def checks_for(case: Any) -> list[Any]:
    if (case.method.upper(), case.path) in ITEM_BY_ITEM:
        return [c for c in CHECKS if c is not checks.negative_data_rejection]
    return CHECKS


@SCHEMA.parametrize()
@settings(max_examples=8, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_document(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    case.validate_response(response, checks=checks_for(case))
