"""The compiled backend's per-decision wrapper and the decision's assembly from prepared
constants (issue 13): each compiled outcome equals the interpreter's, field by field, on every
scope the worked cases decide (with presumptions and without: without, many more decisions are
undetermined and need their facts); what is built once and shared is never handed out to be
changed; the type-first _jsonable and the per-pointer facts-needed give what the plain code gave."""

from __future__ import annotations

import collections
import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hocr import codegen, engine
from hocr.cases import case_incident, load_case_file
from hocr.conditions import MISSING, UNDETERMINED, Scope
from hocr.engine import Outcome, decide, decide_compiled, evaluate
from hocr.incident import LONDON, question_for
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
PROG = codegen.program(BOOK)
CASES = [(case, path) for path in sorted((REPO / "tests" / "cases").rglob("*.yaml"))
         for case in load_case_file(path) if "error" not in case.get("expect", {})]


def _as_of(case: Mapping[str, Any]) -> dt.date | None:
    return dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None


@functools.cache
def _scopes(presume: bool) -> list[tuple[Any, dt.date, Scope]]:
    """Every scope the compiled backend decides on over the worked cases, as it stood then
    (each test decides on copies)."""
    seen: list[tuple[Any, dt.date, Scope]] = []
    decide_real = engine.decide_compiled

    def keep(prog: Any, decision: Any, day: dt.date, scope: Scope, label: str) -> Outcome:
        seen.append((decision, day, Scope(dict(scope.roots), dict(scope.pointers))))
        return decide_real(prog, decision, day, scope, label)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "decide_compiled", keep)
        for case, path in CASES:
            evaluate(BOOK, case_incident(case, path.parent), as_of=_as_of(case), presume=presume, backend="compiled")
    return seen


def _fields(o: Outcome) -> tuple[Any, ...]:
    return (o.decision.name, o.state, o.value, o.rule.id if o.rule else None, [r.id for r in o.rows],
            sorted(o.missing), o.blocking, o.conflict,
            [(r.id, v, [x.id for x in rows]) for r, v, rows in o.contributions])


@pytest.mark.parametrize("presume", [False, True], ids=["unpresumed", "presumed"])
def test_every_compiled_outcome_is_the_interpreters(presume: bool) -> None:
    states: collections.Counter[str] = collections.Counter()
    for decision, day, scope in _scopes(presume):
        got = decide_compiled(PROG, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
        want = decide(decision, day, Scope(dict(scope.roots), dict(scope.pointers)), False, "x")
        assert _fields(got) == _fields(want), f"{decision.name} on {day}"
        states[got.state] += 1
    # The comparison covers the outcomes that need their facts worked out, not only values.
    assert states["undetermined"] > 100 and states["value"] > 100 and states["absent"] > 100


def test_a_blocking_rule_the_interpreter_does_not_find_unknown_sends_the_decision_to_it() -> None:
    decision, day, scope = next((d, day, s) for d, day, s in _scopes(False)
                                if decide(d, day, Scope(dict(s.roots), dict(s.pointers)), False, "x").state == "undetermined"
                                and d.combine == "one")
    want = decide(decision, day, Scope(dict(scope.roots), dict(scope.pointers)), False, "x")
    calls: list[Any] = []
    real = engine._unknown_rule_missing

    def disagree(rule: Any, s: Scope) -> None:
        calls.append(rule.id)
        return None

    engine._unknown_rule_missing = disagree  # type: ignore[assignment]
    try:
        got = decide_compiled(PROG, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
    finally:
        engine._unknown_rule_missing = real  # type: ignore[assignment]
    assert calls and _fields(got) == _fields(want)


def test_the_outcome_when_no_rule_applies_is_built_once_per_decision() -> None:
    nothing = [(d, day, s) for d, day, s in _scopes(False)
               if decide(d, day, Scope(dict(s.roots), dict(s.pointers)), False, "x").state == "absent"]
    decision, day, scope = nothing[0]
    first = decide_compiled(PROG, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
    second = decide_compiled(PROG, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
    assert first is second and first.state == "absent"


def test_a_decisions_dicts_are_its_own() -> None:
    """What is built once (the principal-crime reference) is copied into each decision: changing
    one decision changes no other."""
    case, path = next((c, p) for c, p in CASES if any(
        r["id"] == "pipeline.principal" for crime in evaluate(BOOK, case_incident(c, p.parent), as_of=_as_of(c))["crimes"]
        for r in crime["rules"]))
    first = evaluate(BOOK, case_incident(case, path.parent), as_of=_as_of(case))
    before = evaluate(BOOK, case_incident(case, path.parent), as_of=_as_of(case))
    for crime in first["crimes"]:
        for ref in crime["rules"]:
            ref["title"] = "changed"
    for entry in first["absorbed"]:
        for ref in entry["rules"]:
            ref["title"] = "changed"
    assert evaluate(BOOK, case_incident(case, path.parent), as_of=_as_of(case)) == before


class _Text(str):
    pass


class _Number(int):
    pass


def test_jsonable_gives_what_the_isinstance_chain_gave() -> None:
    """The type-first path and the isinstance chain it goes before (_jsonable_other, the whole of
    _jsonable before) agree on every kind of value; nested values go through _jsonable in both."""
    when = dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC)
    values: list[Any] = [
        True, False, 0, 7, -2.5, "", "x", _Text("sub"), _Number(3), MISSING, UNDETERMINED,
        when, dt.date(2024, 1, 2), dt.timedelta(hours=36, minutes=5), dt.timedelta(0),
        {"a": [1, when], 2: {"b": MISSING}}, collections.OrderedDict(z=1), (1, "t"), {3}, frozenset({"f"}),
        [[], {}, (), None], object.__new__(type("Thing", (), {"__str__": lambda self: "thing"})),
    ]
    for value in values:
        got, want = engine._jsonable(value), engine._jsonable_other(value)
        assert got == want and type(got) is type(want), repr(value)
    assert engine._jsonable(None) is None
    assert engine._jsonable({"at": when, "gone": MISSING}) == {"at": when.astimezone(LONDON).isoformat(), "gone": None}


def test_facts_needed_per_pointer() -> None:
    facts = {"acts": [{"id": "A1"}], "victims": [{"id": "V1"}, {"id": "V2"}]}
    pointers = frozenset(("/victims/1/age", "/acts/0/elements/intent", "/acts/4/offence", "/report/received_at",
                          "/recorded_at", "/suspects/0/age", "/acts/x/y"))
    got = engine._facts_needed(pointers, facts)
    assert [g["pointer"] for g in got] == sorted(pointers)
    by = {g["pointer"]: (g["entity"], g["field"], g["question"]) for g in got}
    assert by["/victims/1/age"] == ("victim V2", "age", question_for("/victims/1/age"))
    assert by["/acts/0/elements/intent"] == ("act A1", "elements/intent", question_for("/acts/0/elements/intent"))
    assert by["/acts/4/offence"][:2] == ("", "offence")  # no such act: no entity
    assert by["/suspects/0/age"][:2] == ("", "age")  # no suspects given
    assert by["/report/received_at"] == ("incident", "report/received_at", question_for("/report/received_at"))
    assert by["/acts/x/y"][:2] == ("incident", "acts/x/y")
    assert engine._facts_needed(pointers, facts) == got  # the second time from the per-pointer cache
