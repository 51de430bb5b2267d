"""Every decision the engine gives, for every shipped example and worked case, fits the decision
schema, traced or not; and the schemas themselves are valid."""

from __future__ import annotations

import json
from pathlib import Path

import fastjsonschema
import jsonschema
import pytest

from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.incident import InvalidIncident
from hocr.loader import Rulebook

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("name", ["incident.schema.json", "decision.schema.json", "rule.schema.json"])
def test_schema_is_valid(name: str) -> None:
    _validator(name)


def _incidents() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = [(p.name, json.loads(p.read_text())) for p in sorted((REPO / "examples").glob("*.json"))]
    for f in sorted((REPO / "tests" / "cases").rglob("*.yaml")):
        for case in load_case_file(f):
            if "error" not in case.get("expect", {}):
                out.append((case["name"], case_incident(case, f.parent)))
    return out


def test_every_decision_validates(book: Rulebook) -> None:
    validator = _validator("decision.schema.json")
    # A compiled validator (fastjsonschema) checks the thousands of decisions quickly; the
    # reference validator words the error when it objects.
    schema = json.loads((SCHEMAS / "decision.schema.json").read_text())
    fast = fastjsonschema.compile({**schema, "$schema": "http://json-schema.org/draft-07/schema#"})
    checked = 0
    for name, incident in _incidents():
        for traced in (False, True):
            try:
                decision = evaluate(book, incident, trace=traced)  # type: ignore[arg-type]
            except InvalidIncident:
                continue
            try:
                fast(json.loads(json.dumps(decision)))
            except fastjsonschema.JsonSchemaException:
                errors = sorted(validator.iter_errors(decision), key=lambda e: list(e.path))
                assert not errors, f"{name}: {errors[0].message} at {list(errors[0].path)}"
            checked += 1
    assert checked >= 10


def test_the_fast_decision_check_rejects_what_the_reference_rejects(book: Rulebook) -> None:
    schema = json.loads((SCHEMAS / "decision.schema.json").read_text())
    fast = fastjsonschema.compile({**schema, "$schema": "http://json-schema.org/draft-07/schema#"})
    name, incident = _incidents()[0]
    decision = json.loads(json.dumps(evaluate(book, incident)))  # type: ignore[arg-type]
    fast(decision)
    for broken in ({**decision, "status": "maybe"}, {**decision, "crimes": [{"id": "C1"}]},
                   {k: v for k, v in decision.items() if k != "findings"}):
        with pytest.raises(fastjsonschema.JsonSchemaException):
            fast(broken)
        assert list(_validator("decision.schema.json").iter_errors(broken))


def test_examples_validate_against_incident_schema() -> None:
    validator = _validator("incident.schema.json")
    for p in sorted((REPO / "examples").glob("*.json")):
        assert not list(validator.iter_errors(json.loads(p.read_text()))), p.name
