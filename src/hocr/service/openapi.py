"""The OpenAPI 3.1 document, built from the project's own JSON Schemas (``schemas/*.schema.json``).

No schema is re-typed here. Each file becomes a component named after it (``incident``,
``decision``, ``service``) and each of its ``$defs`` a component ``<file>.<def>``; references are
rewritten to point at the components (``#/$defs/act`` in the incident schema becomes
``#/components/schemas/incident.act``, and a file's ``$id`` becomes a reference to its component).
The paths are described by :data:`ENDPOINTS`, the same table the routes are built from.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..loader import data_path

SCHEMA_FILES = ("incident", "decision", "service")
ERRORS = {"$ref": "#/components/schemas/service.errors"}
ERROR_STATUSES = {
    400: "Invalid JSON, an invalid incident, a bad query parameter, or a bad Content-Length",
    408: "The body did not arrive within the read timeout",
    411: "Neither a Content-Length nor a chunked body",
    413: "The body, or the incident's acts or victims, are over a limit",
    415: "The body's content type is not accepted",
    503: "Too many requests at once, or the evaluation took too long: try again after Retry-After",
}


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "query" or "path"
    schema: Mapping[str, Any]
    description: str


@dataclass(frozen=True)
class Endpoint:
    """One operation: what it takes and what it answers, for the OpenAPI document."""

    method: str
    path: str
    operation_id: str
    summary: str
    responses: Mapping[int, tuple[str, Mapping[str, Any] | None]]  # status -> (what, JSON schema)
    body: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # media type -> schema
    params: Sequence[Param] = ()
    errors: Sequence[int] = ()  # error statuses (bodies: service.errors)
    other_media: Mapping[int, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)  # status -> media -> schema


def ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component}"}


def _rewrite(node: Any, name: str, ids: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out[k] = _target(v, name, ids)
            else:
                out[k] = _rewrite(v, name, ids)
        return out
    if isinstance(node, list):
        return [_rewrite(v, name, ids) for v in node]
    return node


def _target(reference: str, name: str, ids: Mapping[str, str]) -> str:
    if reference.startswith("#/$defs/"):
        return f"#/components/schemas/{name}.{reference.removeprefix('#/$defs/')}"
    if reference in ids:
        return f"#/components/schemas/{ids[reference]}"
    raise ValueError(f"schemas/{name}.schema.json: a reference the OpenAPI document cannot follow: {reference}")


def components(names: Sequence[str] = SCHEMA_FILES) -> dict[str, Any]:
    """The components built from the schema files ``names``."""
    files = {n: json.loads((data_path("schemas") / f"{n}.schema.json").read_text()) for n in names}
    ids = {str(doc["$id"]): n for n, doc in files.items() if "$id" in doc}
    out: dict[str, Any] = {}
    for name, doc in files.items():
        doc = copy.deepcopy(doc)
        defs = doc.pop("$defs", {})
        for key in ("$schema", "$id"):
            doc.pop(key, None)
        if set(doc) - {"title", "description"}:  # the file itself is a schema, not only $defs
            out[name] = _rewrite(doc, name, ids)
        for def_name, sub in defs.items():
            out[f"{name}.{def_name}"] = _rewrite(sub, name, ids)
    return out


def _json(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}} if schema is not None else {}


def _responses(e: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, (what, schema) in e.responses.items():
        content = _json(schema)
        for media, other in e.other_media.get(status, {}).items():
            content[media] = {"schema": dict(other)}
        out[str(status)] = {"description": what, **({"content": content} if content else {})}
    for status in e.errors:
        answer: dict[str, Any] = {"description": ERROR_STATUSES[status], "content": _json(ERRORS)}
        if status == 503:
            answer["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
        out.setdefault(str(status), answer)
    return out


def _operation(e: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": e.operation_id, "summary": e.summary, "responses": _responses(e)}
    if e.params:
        op["parameters"] = [
            {"name": p.name, "in": p.where, "required": p.where == "path", "schema": dict(p.schema), "description": p.description}
            for p in e.params
        ]
    if e.body:
        op["requestBody"] = {"required": True, "content": {m: {"schema": dict(s)} for m, s in e.body.items()}}
    return op


@cache
def _components_cached() -> str:
    return json.dumps(components())


def openapi_document(endpoints: Sequence[Endpoint], version: str, description: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "hocr", "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": json.loads(_components_cached())},
    }
