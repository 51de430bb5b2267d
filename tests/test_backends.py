"""The compiled backend decides exactly as the interpreter does: every worked case, on both, and
thousands of generated incidents (the ``deep`` hypothesis profile; the default runs a few
seconds' worth). Decisions are compared as JSON text with sorted keys, byte for byte."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings

from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.incident import InvalidIncident
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
CASE_FILES = sorted((REPO / "tests" / "cases").rglob("*.yaml"))
DEEP = os.environ.get("HOCR_HYPOTHESIS_PROFILE") == "deep"

# Incidents on which the backends are allowed to differ, with the reason: (incident id, reason).
# Empty, and it must stay empty: a difference is a bug in the code generator.
KNOWN_DIFFERENCES: dict[str, str] = {}


def decided(incident: Any, backend: str, as_of: dt.date | None = None) -> str:
    """The decision as sorted JSON, or the problems of an incident refused."""
    try:
        return json.dumps(evaluate(BOOK, incident, as_of=as_of, backend=backend), sort_keys=True)
    except InvalidIncident as exc:
        return "invalid: " + "; ".join(f"{p.pointer} {p.message}" for p in exc.problems)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: str(p.relative_to(REPO / "tests" / "cases")))
def test_every_worked_case_decides_the_same_on_both_backends(path: Path) -> None:
    for case in load_case_file(path):
        as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
        incident = case_incident(case, path.parent)
        compiled = decided(incident, "compiled", as_of)
        interpreted = decided(incident, "interpreted", as_of)
        assert compiled == interpreted, f"case {case['name']!r}: the backends differ"


@settings(max_examples=3000 if DEEP else 40, deadline=None, derandomize=not DEEP,
          suppress_health_check=[HealthCheck.too_slow])
@given(S.incidents(BOOK))
def test_generated_incidents_decide_the_same_on_both_backends(incident: dict[str, Any]) -> None:
    compiled = decided(incident, "compiled")
    if incident.get("id") in KNOWN_DIFFERENCES:
        return
    assert compiled == decided(incident, "interpreted")


def test_no_known_differences() -> None:
    """The list of tolerated differences stays empty (see KNOWN_DIFFERENCES)."""
    assert KNOWN_DIFFERENCES == {}


def test_a_traced_evaluation_is_interpreted_and_decides_the_same() -> None:
    case = load_case_file(CASE_FILES[0])[0]
    incident = case_incident(case, CASE_FILES[0].parent)
    traced = evaluate(BOOK, incident, trace=True)
    assert traced.pop("trace")
    assert json.dumps(traced, sort_keys=True) == decided(incident, "compiled")
    with pytest.raises(ValueError, match="interpreted"):
        evaluate(BOOK, incident, trace=True, backend="compiled")
    with pytest.raises(ValueError, match="backend"):
        evaluate(BOOK, incident, backend="fast")
