"""The API's operations, as one table: the routes are built from it and so is the OpenAPI document."""

from __future__ import annotations

from .openapi import Endpoint, Param, ref

NDJSON = "application/x-ndjson"
HTML = "text/html"

AS_OF = Param("as_of", "query", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
              "Apply the rules in force on this date (YYYY-MM-DD) instead of the report date")
TRACE = Param("trace", "query", {"enum": ["0", "1", "true", "false", "yes", "no"]},
              "Include the trace: every rule considered, with the facts it read")
EXPLAIN = Param("explain", "query", {"enum": ["0", "1", "true", "false", "yes", "no"]},
                "Include the explanation: the steps in the order a registrar reasons, with their facts and rules, and what would change it")
WHY_NOT = Param("why_not", "query", {"type": "string", "minLength": 1, "maxLength": 32},
                "Include what blocks this classification (a code, e.g. 8N) or outcome (record, not recorded)")
BODY_ERRORS = (400, 408, 411, 413, 503)
BATCH_ITEM = ref("service.batch_item")

ENDPOINTS = (
    Endpoint(
        "POST", "/v1/check", "check", "Decide one incident: whether, what and by when to record",
        {200: ("The decision, whatever its status (decided, undetermined, conflict)", ref("decision"))},
        body={"application/json": ref("incident")}, params=(AS_OF, TRACE, EXPLAIN, WHY_NOT), errors=BODY_ERRORS,
    ),
    Endpoint(
        "POST", "/v1/check/batch", "check_batch",
        "Decide many incidents: a JSON array answered with {results}, or NDJSON answered line by line",
        {200: ("One result per item, with its index: its decision or its problems", ref("service.batch"))},
        body={"application/json": {"type": "array", "items": ref("incident")}, NDJSON: ref("incident")},
        params=(AS_OF, TRACE), errors=BODY_ERRORS,
        other_media={200: {NDJSON: {**BATCH_ITEM, "description": "NDJSON: one such object a line"}}},
    ),
    Endpoint(
        "GET", "/v1/classifications/{code}", "classification",
        "A classification: its catalogue entry, dated values, offences and the rules that name it",
        {200: ("The classification", ref("service.classification")),
         404: ("No such code; the nearest codes are suggested", ref("service.unknown_code"))},
        params=(Param("code", "path", {"type": "string", "minLength": 1, "maxLength": 32}, "The code, e.g. 8N, 105A, 4/1 (or 4.1)"),
                Param("as_of", "query", AS_OF.schema, "The date for the entry in force (default today)")),
        errors=(400, 503),
    ),
    Endpoint("GET", "/v1/rulebook", "rulebook", "The rulebook: name, edition, content hash, first day in force",
             {200: ("The rulebook", ref("service.rulebook"))}, errors=(503,)),
    Endpoint("GET", "/v1/health", "health", "Liveness: the process answers",
             {200: ("Alive", ref("service.health"))}),
    Endpoint("GET", "/v1/ready", "ready", "Readiness: 503 while shutting down",
             {200: ("Ready", ref("service.health")), 503: ("Shutting down", ref("service.health"))}),
    Endpoint("GET", "/openapi.json", "openapi", "This document",
             {200: ("The OpenAPI 3.1 document", {"type": "object"})}),
    Endpoint("GET", "/docs", "docs", "The API described as a page, with a form to try /v1/check",
             {200: ("A page", None)}, other_media={200: {HTML: {"type": "string"}}}),
)
