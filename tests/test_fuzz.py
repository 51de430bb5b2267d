"""The fuzz suite: hostile neighbours of valid incidents (tests/hostile_strategies.py) through
the pipeline of `hocr check` and through the audit, in a derandomised profile of a few hundred
examples. Every input gives a valid decision or InvalidIncident naming a field; no other
exception escapes; every output is valid UTF-8. bench/fuzz_deep.py runs the same with 100,000."""

from __future__ import annotations

from typing import Any

from hostile_strategies import HOSTILE_LINES, as_audit_line, hostile_incidents, outcome_of
from hypothesis import given, settings
from hypothesis import strategies as st
from shipped_audit import shipped_groups
from strategies import incidents

from hocr import incident
from hocr.audit import LINE_KINDS, audit_line
from hocr.incident import InvalidIncident, check_incident, check_limits, parse_json
from hocr.loader import load_rulebook

BOOK = load_rulebook()
CI = settings.get_profile("hostile-ci")


@settings(CI)
@given(hostile_incidents(BOOK, generated=False))
def test_worked_cases_made_hostile_give_a_decision_or_invalid(given_input: Any) -> None:
    assert outcome_of(BOOK, given_input) in ("invalid", "decided", "undetermined", "conflict")


@settings(CI, max_examples=120)
@given(hostile_incidents(BOOK, generated=True))
def test_generated_incidents_made_hostile_give_a_decision_or_invalid(given_input: Any) -> None:
    assert outcome_of(BOOK, given_input) in ("invalid", "decided", "undetermined", "conflict")


@settings(CI, max_examples=150)
@given(hostile_incidents(BOOK, generated=False), st.integers(1, 10**6))
def test_an_audit_line_always_ends_in_a_result(given_input: Any, number: int) -> None:
    result = audit_line(BOOK, number, as_audit_line(given_input), shipped_groups())
    assert result.kind in LINE_KINDS and result.kind != "internal_error", result.problems
    assert result.line == number
    for problem in result.problems:
        problem.encode("utf-8")
    if result.kind not in ("evaluated", "blank"):
        assert result.problems


@settings(CI, max_examples=100)
@given(hostile_incidents(BOOK, generated=False))
def test_check_limits_raises_nothing_but_invalid_incident(given_input: Any) -> None:
    try:
        check_limits(given_input)
    except InvalidIncident as exc:
        assert all(p.message for p in exc.problems)


def test_every_hostile_line_is_invalid_with_a_reason() -> None:
    for name, line in HOSTILE_LINES.items():
        assert outcome_of(BOOK, line) == "invalid", name


# The lean input path (issue 13): each fast step against the exact one it stands in for.


def _as_data(given_input: Any) -> Any:
    """Library input as it is; JSON text parsed (or None when it is not JSON)."""
    if not isinstance(given_input, (str, bytes)):
        return given_input
    try:
        return parse_json(given_input.decode("utf-8", "replace") if isinstance(given_input, bytes) else given_input)
    except InvalidIncident:
        return None


def _problems_of(check: Any, data: Any) -> list[str] | None:
    try:
        check(data)
    except InvalidIncident as exc:
        return [str(p) for p in exc.problems]
    return None


@settings(CI, max_examples=150)
@given(hostile_incidents(BOOK, generated=False))
def test_the_fast_copy_refuses_what_the_exact_walk_refuses(given_input: Any) -> None:
    data = _as_data(given_input)
    fast = _problems_of(lambda d: incident._checked_copy(d, incident.LIMITS), data)
    exact = _problems_of(check_limits, data)
    assert fast == exact
    if exact is None:
        assert incident._checked_copy(data, incident.LIMITS) == incident._tree_copy(data)


def _both_validators(data: Any) -> tuple[bool, bool]:
    facts = incident._checked_copy(data, incident.LIMITS)
    fast = incident._fast_validator()
    assert fast is not None, "jsonschema-rs is a dependency"
    return fast(facts), not any(True for _ in incident._validator().iter_errors(facts))


@settings(CI, max_examples=200)
@given(hostile_incidents(BOOK, generated=True))
def test_both_validators_agree_on_broken_incidents(given_input: Any) -> None:
    data = _as_data(given_input)
    if _problems_of(check_limits, data) is not None:
        return  # refused before any schema validator sees it
    fast, reference = _both_validators(data)
    assert fast == reference


@settings(CI, max_examples=100)
@given(incidents(BOOK))
def test_both_validators_accept_generated_valid_incidents(data: Any) -> None:
    assert _both_validators(data) == (True, True)


@settings(CI, max_examples=100)
@given(hostile_incidents(BOOK, generated=False))
def test_check_incident_is_the_same_with_the_reference_validator(given_input: Any) -> None:
    data = _as_data(given_input)
    fast = _problems_of(lambda d: check_incident(d, fast=True), data)
    exact = _problems_of(lambda d: check_incident(d, fast=False), data)
    assert fast == exact
