"""The interactive API page (``GET /docs``), rendered from the OpenAPI document with a Jinja2
template shipped in the package: nothing is fetched from the internet."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..loader import data_path

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    """The service's templates (a later page adds its own beside ``docs.html``)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def operations(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's operations in its order, with what the page shows of each."""
    out = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            out.append({
                "method": method.upper(), "path": path, "id": op["operationId"], "summary": op["summary"],
                "parameters": op.get("parameters", []),
                "body": {media: _ref_name(spec["schema"]) for media, spec in body.items()},
                "responses": {status: r["description"] for status, r in op["responses"].items()},
            })
    return out


def _ref_name(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "items" in schema:
        return "array of " + _ref_name(schema["items"])
    return json.dumps(schema)


EXAMPLE = "recorded-late.json"  # a shipped example, to start the form with


def render_docs(doc: Mapping[str, Any]) -> str:
    example = (data_path("examples") / EXAMPLE).read_text()
    return environment().get_template("docs.html").render(
        info=doc["info"], operations=operations(doc), schemas=sorted(doc["components"]["schemas"]), example=example)
