"""Skipping and reusing never change a decision (``hocr.reads``).

The engine decides the other answers to presumed facts only where a rule of the first pass read
the fact, and a pass for another answer re-decides only the decisions that read what it changes.
Every worked case and generated incidents are decided that way and with every other answer
decided again in full (``engine._ALWAYS_REDECIDE``), on both backends and traced, and compared as
sorted JSON. A test with the read log broken shows the comparison can fail."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings

from hocr import codegen, engine, reads
from hocr.cases import case_incident, load_case_file
from hocr.incident import InvalidIncident
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
CASE_FILES = sorted((REPO / "tests" / "cases").rglob("*.yaml"))
ANALYSIS = reads.analysis(BOOK)
DEEP = os.environ.get("HOCR_HYPOTHESIS_PROFILE") == "deep"


def worked() -> Iterator[tuple[str, Any, dt.date | None]]:
    for path in CASE_FILES:
        for case in load_case_file(path):
            if "error" in case.get("expect", {}):
                continue
            as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
            yield f"{path.name}: {case['name']}", case_incident(case, path.parent), as_of


WORKED = list(worked())


def decided(incident: Any, as_of: dt.date | None, full: bool, **options: Any) -> str:
    saved = engine._ALWAYS_REDECIDE
    engine._ALWAYS_REDECIDE = full
    try:
        return json.dumps(engine.evaluate(BOOK, incident, as_of=as_of, **options), sort_keys=True, default=str)
    except InvalidIncident as exc:
        return "invalid: " + "; ".join(p.message for p in exc.problems)
    finally:
        engine._ALWAYS_REDECIDE = saved


def differing(options: dict[str, Any], every: int = 1) -> list[str]:
    return [name for name, incident, as_of in WORKED[::every]
            if decided(incident, as_of, False, **options) != decided(incident, as_of, True, **options)]


@pytest.mark.parametrize("options", [{}, {"backend": "interpreted"}], ids=["compiled", "interpreted"])
def test_every_worked_case_decides_the_same_with_and_without_reuse(options: dict[str, Any]) -> None:
    assert differing(options) == []


def test_traced_worked_cases_decide_the_same_with_and_without_reuse() -> None:
    assert differing({"trace": True}, every=4) == []


@settings(max_examples=2000 if DEEP else 60, deadline=None, derandomize=not DEEP,
          suppress_health_check=[HealthCheck.too_slow])
@given(S.incidents(BOOK))
def test_generated_incidents_decide_the_same_with_and_without_reuse(incident: dict[str, Any]) -> None:
    assert decided(incident, None, False) == decided(incident, None, True)


def test_the_comparison_fails_when_reads_go_unlogged(monkeypatch: pytest.MonkeyPatch) -> None:
    # With no read logged (generated code's and the interpreter's), other answers are skipped or
    # reused wrongly; the comparison above must see it.
    monkeypatch.setitem(codegen.program(BOOK).namespace, "touch", lambda roots, fields, value: value)
    monkeypatch.setattr(engine, "_log_reads", lambda *args: None)
    wrong = sum(decided(incident, as_of, False) != decided(incident, as_of, True) for _, incident, as_of in WORKED[::8])
    assert wrong > 0


def test_a_read_touches_the_fields_beneath_and_above_it() -> None:
    intent, role = "act.elements.intent", "victim.role"
    assert intent in ANALYSIS.fields and role in ANALYSIS.fields
    assert intent in ANALYSIS.of_path("act.elements.intent")
    assert intent in ANALYSIS.of_path("act.elements")  # the whole object
    assert intent in ANALYSIS.of_path("act")
    assert intent in ANALYSIS.of_path("incident.acts")  # the list of acts
    assert ANALYSIS.of_path("act.elements.kind") == frozenset()
    assert role in ANALYSIS.of_path("act_victim.role") and role in ANALYSIS.of_path("victim.role")
    assert role not in ANALYSIS.of_path("act")
    # A quantifier's element was reached through its list, whose read counted.
    assert ANALYSIS.of_path("item.kind") == frozenset()
    assert "act.contrary_evidence" in ANALYSIS.of_path("act.contrary_evidence")
    assert ANALYSIS.of_path("report.received_at") == frozenset()
    assert ANALYSIS.of_path("classification.code") == frozenset()


def test_another_answer_changes_what_presumptions_fill_on_it() -> None:
    # general.b.presume.completed fills act.attempt when act.elements exists: answering an
    # element otherwise can change it (the closure is conservative, never short).
    assert "act.attempt" in ANALYSIS.changed_by("act.elements.intent")
    assert ANALYSIS.changed_by("victim.role") >= {"victim.role"}
    for fact in ANALYSIS.fields:
        assert fact in ANALYSIS.changed_by(fact)


def test_fields_the_engine_itself_reads_always_count_as_read() -> None:
    class P:
        def __init__(self, fact: str) -> None:
            self.entity, *path = fact.split(".")
            self.path, self.fact, self.raw = tuple(path), fact, {}

    a = reads.Analysis([P("act.victims"), P("act.elements.intent")])
    assert a.could_matter("act.victims", set())
    assert not a.could_matter("act.elements.intent", set())
    assert a.could_matter("act.elements.intent", {"act.elements.intent"})


def test_the_comparison_fails_when_the_cut_off_calls_every_outcome_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # The early cut-off reuses what depends on a decision decided again only when it came out the
    # same: if it took every outcome for the same, answers that change the decision would be lost.
    monkeypatch.setattr(engine, "_same_outcome", lambda a, b: True)
    wrong = sum(decided(incident, as_of, False) != decided(incident, as_of, True) for _, incident, as_of in WORKED[::8])
    assert wrong > 0


def test_the_comparison_fails_when_an_answer_is_skipped_on_the_wrong_decisions_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    # An answer is skipped when no decision a pass for it makes read what it changes. Counting
    # the reads of the wrong decisions (here: none) must lose answers that change the decision.
    monkeypatch.setattr(engine, "_recording_names", lambda book: frozenset())
    wrong = sum(decided(incident, as_of, False) != decided(incident, as_of, True) for _, incident, as_of in WORKED[::8])
    assert wrong > 0


def test_only_the_reads_of_the_decisions_a_pass_for_another_answer_makes_count() -> None:
    record = reads.PassRecord(ANALYSIS, frozenset(("recording",)))
    record.reads[("act A1, victim V1", "recording")] = frozenset(("act.elements.intent",))
    record.reads[("act A1, victim V1", "flags")] = frozenset(("victim.role",))
    assert record.could_matter("act.elements.intent")
    assert not record.could_matter("victim.role")
    assert reads.PassRecord(ANALYSIS).touched() == frozenset()


def test_the_same_outcome_means_the_same_types_and_key_order() -> None:
    same = engine._same_value
    assert same({"a": [1, {"b": "x"}], "c": None}, {"a": [1, {"b": "x"}], "c": None})
    assert not same(1, True) and not same({"a": 1}, {"a": True}) and not same(0, 0.0)
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # printed differently
    assert not same([1, 2], (1, 2)) and not same([1], [1, 1])
    d = BOOK.decisions[BOOK.pipeline["recording"]]
    rule = d.rules[0]
    a = engine.Outcome(d, "value", value={"outcome": "record"}, rule=rule)
    assert engine._same_outcome(a, engine.Outcome(d, "value", value={"outcome": "record"}, rule=rule, trace={"x": 1}))
    assert not engine._same_outcome(a, engine.Outcome(d, "value", value={"outcome": "record"}, rule=d.rules[1]))
    assert not engine._same_outcome(a, engine.Outcome(d, "undetermined", blocking=(rule.id,)))


def count_assembled(monkeypatch: pytest.MonkeyPatch, full: bool) -> int:
    calls = [0]
    real = engine._assemble

    def counting(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    with monkeypatch.context() as m:
        m.setattr(engine, "_assemble", counting)
        for _, incident, as_of in WORKED[::8]:
            decided(incident, as_of, full)
    return calls[0]


def test_an_answer_that_decides_everything_as_before_is_not_assembled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert count_assembled(monkeypatch, False) < count_assembled(monkeypatch, True)


def test_passes_for_other_answers_make_only_what_says_what_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    made: set[tuple[bool, str]] = set()
    real = engine._Run.decide

    def noting(self: Any, d: Any, *args: Any) -> Any:
        made.add((self.order is not BOOK.order, d.name))
        return real(self, d, *args)

    monkeypatch.setattr(engine._Run, "decide", noting)
    for _, incident, as_of in WORKED[::8]:
        decided(incident, as_of, True)
    others = {name for only, name in made if only}
    pipeline = BOOK.pipeline
    not_recording = set(pipeline["findings"]) | set(pipeline["flags"]) | set(pipeline["verdicts"])
    assert others and not (others & not_recording)
    assert not_recording & {name for only, name in made if not only}  # made on the presumed facts
    # The recording roles and what they depend on (the elements, the reporter's role) are made.
    order = engine._recording_order(BOOK)
    names = {d.name for ds in order.values() for d in ds}
    assert {pipeline[r] for r in ("classification", "recording", "count_key")} <= names
    assert all(dep in names for n in names for dep in BOOK.decisions[n].depends)
