"""The traced evaluation (``evaluate(..., trace=True)``): the trace is what evaluating each rule in
force on its own gives, and the decision beside it is the untraced one.

The engine's traced pass shares work between the rules of a decision: a predicate several rules
test is evaluated once and its leaves replayed (``conditions.Tracer``), each leaf recorded straight
as its JSON (``engine._JsonTracer``). The reference here does none of that: every rule gets a
tracer of its own, and its leaves' JSON is built from the leaf tuples as the trace defines it.
Both are run on every worked case and on generated incidents, and compared as JSON text in the
engine's own key order."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings

from hocr import engine
from hocr.cases import case_incident, load_case_file
from hocr.conditions import (
    MISSING,
    NO_MISSING,
    Leaf,
    PathResolver,
    Scope,
    Tracer,
    compile_condition,
    is_absent,
)
from hocr.incident import InvalidIncident
from hocr.loader import Decision, load_rulebook
from hocr.tables import TableConflict

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
CASE_FILES = sorted((REPO / "tests" / "cases").rglob("*.yaml"))


def worked(path: Path) -> Iterator[tuple[str, Any, dt.date | None]]:
    for case in load_case_file(path):
        if "error" in case.get("expect", {}):
            continue
        as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
        yield case["name"], case_incident(case, path.parent), as_of


def reference_leaf(leaf: Leaf) -> dict[str, Any]:
    """The trace's JSON of one leaf tuple, as the decision schema describes it."""
    left, op, operand, actual, tv = leaf
    out: dict[str, Any] = {"fact": left, "op": op}
    if op == "input":
        out["input"] = operand
    else:
        out["expected"] = engine._jsonable(operand)
    out["actual"] = None if is_absent(actual) else engine._jsonable(actual)
    # `exists` gives a definite answer about a missing fact.
    out["known"] = not is_absent(actual) or (op == "exists" and tv is not None)
    if op != "input":
        out["result"] = tv
    return out


def reference_rules(decision: Decision, day: dt.date, scope: Scope, label: str) -> Any:
    """``engine._interpret_traced`` with nothing shared: each rule in force evaluated alone."""
    applicable: engine.Applicable = {}
    unknown: engine.Open = {}
    entries = []
    for rule in decision.rules_in_force(day):
        tracer = Tracer()
        try:
            tv, missing, value, rows, row_log = engine._eval_rule(rule, scope, tracer)
        except TableConflict as exc:
            return engine._table_conflict(decision, rule, label, exc, traced=True)
        if tv is True:
            applicable[rule.id] = (rule, value, rows)
        elif tv is None:
            unknown[rule.id] = (rule, missing)
        facts = [reference_leaf(leaf) for leaf in tracer.leaves]
        entries.append(engine._trace_entry(rule, tv, missing, value, rows, row_log, facts))
    return applicable, unknown, entries


def traced(incident: Any, as_of: dt.date | None, **options: Any) -> dict[str, Any] | None:
    try:
        return engine.evaluate(BOOK, incident, as_of=as_of, trace=True, **options)
    except InvalidIncident:
        return None


def text(decision: dict[str, Any] | None) -> str:
    return json.dumps(decision, default=str)  # the engine's key order: not sorted


def check_against_reference(incident: Any, as_of: dt.date | None, monkeypatch: pytest.MonkeyPatch) -> None:
    for presume in (True, False):
        got = traced(incident, as_of, presume=presume)
        with monkeypatch.context() as m:
            m.setattr(engine, "_interpret_traced", reference_rules)
            want = traced(incident, as_of, presume=presume)
        assert text(got) == text(want)


def check_untraced_is_traced_without_trace(incident: Any, as_of: dt.date | None) -> None:
    got = traced(incident, as_of)
    if got is None:
        return
    assert isinstance(got.pop("trace"), list)
    assert json.dumps(got, sort_keys=True, default=str) == json.dumps(
        engine.evaluate(BOOK, incident, as_of=as_of), sort_keys=True, default=str)


def check_no_shared_objects(decision: dict[str, Any] | None) -> None:
    """No two places in the rule entries of a trace's decisions hold the same dict or list: a
    caller may change one without changing another. (The trace's first step, what was presumed,
    is ``hocr.provisional``'s, not the rules'.)"""
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, (dict, list)):
            assert id(node) not in seen, f"shared object in the trace: {node!r}"
            seen.add(id(node))
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    for step in (decision or {}).get("trace", []):
        if step["decision"] in BOOK.decisions:
            walk(step.get("rules", []))


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: str(p.relative_to(REPO / "tests" / "cases")))
def test_every_worked_case_traces_as_each_rule_alone_would(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _, incident, as_of in worked(path):
        check_against_reference(incident, as_of, monkeypatch)
        check_untraced_is_traced_without_trace(incident, as_of)
        check_no_shared_objects(traced(incident, as_of))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(S.incidents(BOOK))
def test_generated_incidents_trace_as_each_rule_alone_would(incident: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        check_against_reference(incident, None, monkeypatch)
    check_untraced_is_traced_without_trace(incident, None)
    check_no_shared_objects(traced(incident, None))


def test_the_comparison_sees_a_shared_leaf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaying a leaf without copying it is caught: the check can fail."""
    name, incident, as_of = next(worked(CASE_FILES[0]))
    monkeypatch.setattr(engine._JsonTracer, "replay", lambda self, leaves: self.leaves.extend(leaves))
    with pytest.raises(AssertionError, match="shared object"):
        check_no_shared_objects(traced(incident, as_of))


def test_a_predicate_two_rules_test_is_evaluated_once_and_replayed() -> None:
    paths = PathResolver(["act"])
    first = compile_condition({"all": [{"fact": "act.kind", "equals": "theft"}, {"fact": "act.value", "gt": 10}]}, paths)
    second = compile_condition({"any": [{"fact": "act.kind", "equals": "theft"}]}, paths)
    reads = []

    class Counting(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            reads.append(key)
            return super().get(key, default)

    scope = Scope(Counting(act={"kind": "theft"}), {"act": "/acts/0"})
    tracer = Tracer()
    assert first(scope, tracer) == (None, frozenset({"/acts/0/value"}))
    leaves_first = list(tracer.leaves)
    tracer.leaves = []
    assert second(scope, tracer) == (True, NO_MISSING)
    assert tracer.leaves == [leaves_first[0]] == [("act.kind", "equals", "theft", "theft", True)]
    assert leaves_first[1] == ("act.value", "gt", 10, MISSING, None)
    assert reads == ["act", "act"]  # act.kind once, act.value once: the second rule read nothing


def test_membership_of_constants_is_equality_with_each() -> None:
    """The set lookup behind a constant `in` / `not_in` (``conditions._member_of``) gives what
    testing `equals` against each constant gives, on scalars of every kind and on others."""
    from hocr.conditions import _member_of
    from hocr.ops import equals

    nan = float("nan")
    values: list[Any] = [1, 1.0, 0, True, False, "1", "", None, 2.5, nan, [1], (1,), {"a": 1}, -0.0]
    for size in range(4):
        for start in range(len(values) - size):
            constants = tuple(v for v in values[start:start + size] if not isinstance(v, (list, tuple, dict)))
            member = _member_of(constants)
            for v in values:
                assert member(v) == any(equals(v, x) for x in constants), (v, constants)


def test_the_short_getter_is_the_general_one_for_one_key() -> None:
    """conditions._two_key_getter also serves one-key paths (act.classification): it gives what
    the general getter gives on every kind of value a root can hold (two keys: test_conditions)."""
    import types

    from hocr.conditions import RuleRuntimeError, Unknown, _getter, _two_key_getter

    unknown = Unknown(frozenset(("/acts/0/classification",)))
    roots = [{}, *({"act": v} for v in (MISSING, unknown, None, 0, "x", [1], {"a": 1}, {"a": unknown},
                                        {"a": MISSING}, {}, {"a": {"b": 1}}, types.MappingProxyType({"a": 2})))]

    def read(get: Any, facts: dict[str, Any]) -> Any:
        try:
            return get(Scope(facts, {"act": "/acts/0"}), None)
        except RuleRuntimeError as exc:
            return str(exc)

    fast, general = _two_key_getter("act.a", "act", ("a",)), _getter("act.a", "act", ("a",))
    assert [read(fast, r) for r in roots] == [read(general, r) for r in roots]
