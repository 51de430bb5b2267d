"""The presumption pass (hocr.presumptions.presume and with_answer).

``presume`` fills an incident object by object with presumption conditions compiled by the
rulebook's code generator (the fast pass; ``codegen.PresumptionWriter``); ``_presume_reference``
is the rule as docs/rule-format.md section 16 states it, presumption by presumption through the
interpreter. These tests hold the fast pass to the reference: the same filled facts and the same
Applied list in the same order, on every worked case and example, on generated incidents, and on
data the fast pass hands back to the reference; each generated condition to the interpreter's
truth; and neither pass, nor with_answer, ever changes the facts it is given. The compiled
conditions are cached like the rulebook's code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hocr import cache, codegen
from hocr import presumptions as P
from hocr.cases import case_incident, load_case_file
from hocr.conditions import MISSING, RuleRuntimeError, Scope, Unknown
from hocr.incident import LONDON, InvalidIncident, check_incident
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")


def reference(facts: Any, day: dt.date) -> tuple[dict[str, Any], list[P.Applied]]:
    return P._presume_reference(tuple(p for p in BOOK.presumptions if p.in_force(day)), facts)


def the_day(facts: Any, as_of: dt.date | None) -> dt.date:
    return as_of or facts["report"]["received_at"].astimezone(LONDON).date()


def worked_facts() -> list[tuple[str, dict[str, Any], dt.date]]:
    """The checked facts and day of every worked case's incident and every example."""
    found: list[tuple[str, Any, dt.date | None]] = []
    for path in sorted((REPO / "tests" / "cases").rglob("*.yaml")):
        for case in load_case_file(path):
            if "error" not in case.get("expect", {}):
                as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
                found.append((f"{path.name}: {case.get('name')}", case_incident(case, path.parent), as_of))
    for path in sorted((REPO / "examples").glob("*.json")):
        found.append((path.name, json.loads(path.read_text(encoding="utf-8")), None))
    out = []
    for name, raw, as_of in found:
        try:
            facts = check_incident(raw).facts
        except InvalidIncident:
            continue
        out.append((name, facts, the_day(facts, as_of)))
    return out


def assert_same(facts: Any, day: dt.date) -> list[P.Applied]:
    """The fast pass gives the reference's filled facts and Applied list, and changes nothing."""
    before = copy.deepcopy(facts)
    filled, applied = P.presume(BOOK.presumptions, facts, day)
    assert facts == before
    ref_filled, ref_applied = reference(facts, day)
    assert filled == ref_filled
    assert applied == ref_applied
    assert [a.pointer for a in applied] == [a.pointer for a in ref_applied]
    return applied


def test_the_shipped_presumptions_take_the_fast_pass() -> None:
    # Not a timing: that the rulebook's conditions all compile for the fast pass (a condition
    # that did not would send every incident through the reference pass, correct but slow).
    for day in map(dt.date.fromisoformat, S.RULE_CHANGE_DAYS):
        assert P._plan(BOOK.presumptions, day).entities is not None


def test_fast_and_reference_passes_agree_on_every_worked_incident_and_every_other_answer() -> None:
    cases = worked_facts()
    assert len(cases) > 500
    presumed = answers = 0
    for _name, facts, day in cases:
        applied = assert_same(facts, day)
        presumed += bool(applied)
        for a in applied:
            for alt in a.presumption.alternatives:
                before = copy.deepcopy(facts)
                stated = P.with_answer(facts, a.pointer, alt)
                assert facts == before
                assert_same(stated, day)
                assert_same_answer(facts, a.pointer, alt, day)
                answers += 1
    assert presumed and answers


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(S.RULE_CHANGE_DAYS), st.data())
def test_fast_and_reference_passes_agree_on_generated_incidents(day_text: str, data: st.DataObject) -> None:
    day = dt.date.fromisoformat(day_text)
    facts = check_incident(data.draw(S.incidents(BOOK, as_of=day))).facts
    for a in assert_same(facts, day):
        assert_same(P.with_answer(facts, a.pointer, a.presumption.alternatives[0]), day)
        assert_same_answer(facts, a.pointer, a.presumption.alternatives[0], day)


def assert_same_answer(facts: Any, pointer: str, value: Any, day: dt.date) -> None:
    """presume_answer, from the presumed facts, fills what presuming the answered incident in
    full fills, and changes neither what it is given."""
    filled, _ = P.presume(BOOK.presumptions, facts, day)
    before, filled_before = copy.deepcopy(facts), copy.deepcopy(filled)
    got = P.presume_answer(BOOK.presumptions, facts, filled, pointer, value, day)
    assert got == P.presume(BOOK.presumptions, P.with_answer(facts, pointer, value), day)[0]
    assert facts == before and filled == filled_before


def test_an_answer_refills_only_its_own_object() -> None:
    facts = two_acts()
    day = dt.date(2024, 7, 1)
    filled, _ = P.presume(BOOK.presumptions, facts, day)
    got = P.presume_answer(BOOK.presumptions, facts, filled, "/acts/0/elements/armed", True, day)
    assert got["acts"][0]["elements"]["armed"] is True
    assert got["acts"][1] is filled["acts"][1] and got["victims"] is filled["victims"]  # taken as filled
    assert_same_answer(facts, "/acts/0/elements/armed", True, day)
    assert_same_answer(facts, "/acts/1/elements/intent", "kill", day)


def two_acts() -> dict[str, Any]:
    """Two acts and two victims with nothing presumed stated: a burglary and an assault."""
    return {
        "report": {"received_at": dt.datetime(2024, 7, 1, 12, tzinfo=dt.UTC)},
        "acts": [{"id": "A1", "elements": {"kind": "burglary", "building": "dwelling"}},
                 {"id": "A2", "elements": {"kind": "assault", "injury": "none"}, "hostility": [{"strand": "race"}]}],
        "victims": [{"id": "V1", "kind": "person"}, {"id": "V2", "kind": "organisation"}],
    }


def test_applied_in_order_of_presumption_then_object() -> None:
    day = dt.date(2024, 7, 1)
    applied = assert_same(two_acts(), day)
    ids = [p.id for p in BOOK.presumptions]
    keys = [(ids.index(a.presumption.id), a.pointer) for a in applied]
    assert keys == sorted(keys, key=lambda k: (k[0], int(k[1].split("/")[2])))
    assert {a.entity_id for a in applied} == {"A1", "A2", "V1"}
    pointers = {a.pointer: a.presumption.id for a in applied}
    assert pointers["/acts/1/elements/racially_or_religiously_aggravated"] == "ncrs.presume.aggravated-when-hostility-perceived"
    assert pointers["/acts/0/elements/racially_or_religiously_aggravated"] == "ncrs.presume.not-aggravated"
    assert "/victims/1/role" not in pointers


def test_filled_values_are_fresh_and_untouched_objects_are_shared() -> None:
    facts = two_acts()
    facts["acts"].append({"id": "A3", "elements": {"kind": "theft"}, "classification": "49", "contrary_evidence": [], "attempt": True})
    filled, _ = P.presume(BOOK.presumptions, facts, dt.date(2024, 7, 1))
    first, second = filled["acts"][0]["contrary_evidence"], filled["acts"][1]["contrary_evidence"]
    assert first == second == [] and first is not second
    first.append("changed")
    assert filled["acts"][1]["contrary_evidence"] == []
    assert all(p.value == [] for p in BOOK.presumptions if p.id == "ncrs.presume.no-contrary-evidence")
    assert filled["acts"][2] is facts["acts"][2]  # nothing presumed for it: not copied
    assert filled["acts"][0]["elements"] is not facts["acts"][0]["elements"]
    assert "armed" not in facts["acts"][0]["elements"]


def test_with_answer_copies_only_the_path_and_a_fresh_value() -> None:
    facts = two_acts()
    answer = [{"kind": "verifiable_fact", "immediately_available": True}]
    out = P.with_answer(facts, "/acts/1/contrary_evidence", answer)
    assert out["acts"][1]["contrary_evidence"] == answer and out["acts"][1]["contrary_evidence"] is not answer
    assert out["acts"][1]["contrary_evidence"][0] is not answer[0]
    assert out["acts"][0] is facts["acts"][0] and out["victims"] is facts["victims"]
    assert "contrary_evidence" not in facts["acts"][1]
    deep = P.with_answer(facts, "/acts/0/elements/intent", "kill")
    assert deep["acts"][0]["elements"]["intent"] == "kill" and "intent" not in facts["acts"][0]["elements"]


@pytest.mark.parametrize("odd", [
    lambda f: f["acts"].append("not an object"),
    lambda f: f["acts"][0].update(elements=["not", "an", "object"]),
    lambda f: f["acts"][1].update(hostility={"strand": "race"}),
    lambda f: f["acts"][1].update(hostility=[{"strand": ["race"]}]),
    lambda f: f["acts"][1].update(hostility=["race"]),
    lambda f: f.update(victims="nobody"),
    lambda f: f["victims"].append(None),
    lambda f: f["victims"][0].update(kind=["person"]),
    lambda f: f["acts"][0]["elements"].update(kind=None),
    lambda f: f["acts"][0]["elements"].pop("kind"),
], ids=["act-not-object", "elements-list", "hostility-object", "strand-list", "hostility-texts",
        "victims-text", "victim-none", "kind-list", "kind-none", "kind-missing"])
def test_data_that_is_not_plain_json_is_filled_as_the_reference_fills_it(odd: Any) -> None:
    # The fast pass hands what it does not read as the interpreter would to the reference pass:
    # the same result, or the same error.
    facts = two_acts()
    odd(facts)
    day = dt.date(2024, 7, 1)
    try:
        expected: Any = reference(facts, day)
    except (RuleRuntimeError, TypeError) as exc:
        with pytest.raises(type(exc)) as got:
            P.presume(BOOK.presumptions, facts, day)
        assert str(got.value) == str(exc)
    else:
        assert P.presume(BOOK.presumptions, facts, day) == expected


def compiled(raw: dict[str, Any]) -> P.Presumption:
    base = {"id": "t.presume.x", "title": "t", "summary": "t", "value": False, "alternatives": [True],
            "in_force": {"from": "2002-04-01"}, "verification": "unverified", "source": None}
    return P.compile_presumption({**base, **raw}, "t.yaml", 1, lambda _: (True, False), lambda _: "cited",
                                 dt.date.fromisoformat)


def test_a_condition_the_fast_pass_does_not_compile_is_applied_by_the_reference() -> None:
    # A condition on `incident` sees the other objects as filled so far: only the reference
    # pass, presumption by presumption, gives that, so such a rulebook takes it.
    first = compiled({"id": "t.presume.a", "fact": "act.elements.armed", "when": {"fact": "act.elements.kind", "equals": "burglary"}})
    second = compiled({"id": "t.presume.b", "fact": "act.elements.distraction", "when": {
        "some": "incident.acts", "where": {"fact": "item.elements.armed", "equals": False}}})
    ps = (first, second)
    day = dt.date(2024, 1, 1)
    assert P._plan(ps, day).entities is None
    facts = two_acts()
    filled, applied = P.presume(ps, facts, day)
    assert [(a.presumption.id, a.pointer) for a in applied] == [
        ("t.presume.a", "/acts/0/elements/armed"), ("t.presume.b", "/acts/0/elements/distraction"),
        ("t.presume.b", "/acts/1/elements/distraction")]
    assert (filled, applied) == P._presume_reference(ps, facts)


def test_a_presumption_may_fill_a_field_another_one_guards_on() -> None:
    # The guard fact is missing, so every presumption of the entity is tried, in order of id:
    # the first fills `kind`, the second then sees it.
    kind = compiled({"id": "t.presume.a-kind", "fact": "act.elements.kind", "value": "burglary", "alternatives": ["theft"]})
    armed = compiled({"id": "t.presume.b-armed", "fact": "act.elements.armed", "when": {
        "all": [{"fact": "act.elements.kind", "equals": "burglary"}, {"fact": "report.received_at", "exists": True}]}})
    ps = (kind, armed)
    facts = {"report": {"received_at": "x"}, "acts": [{"id": "A1", "elements": {}}, {"id": "A2", "elements": {"kind": "theft"}}]}
    day = dt.date(2024, 1, 1)
    assert P._plan(ps, day).entities is not None
    filled, applied = P.presume(ps, facts, day)
    assert filled["acts"][0]["elements"] == {"kind": "burglary", "armed": False}
    assert filled["acts"][1] is facts["acts"][1]
    assert (filled, applied) == P._presume_reference(ps, facts)


def test_a_presumption_list_that_is_not_a_tuple_is_planned_afresh() -> None:
    day = dt.date(2024, 1, 1)
    ps = list(BOOK.presumptions)
    facts = two_acts()
    assert P.presume(ps, facts, day) == P.presume(BOOK.presumptions, facts, day)
    ps.clear()
    assert P.presume(ps, facts, day) == (facts, [])


CONDITIONS = [
    {"fact": "act.x", "equals": "a"}, {"fact": "act.x", "equals": 1}, {"fact": "act.x", "equals": True},
    {"fact": "act.x", "not_equals": "a"}, {"fact": "act.x", "in": ["a", 1, True, None]},
    {"fact": "act.x", "not_in": ["a", 2]}, {"fact": "act.x", "lt": 3}, {"fact": "act.x", "contains": "a"},
    {"fact": "act.x.y", "exists": True}, {"fact": "act.x", "known": False}, {"fact": "report.r", "equals": "a"},
    {"all": [{"fact": "act.x", "equals": "a"}, {"fact": "act.x.y", "exists": False}]},
    {"all": [{"fact": "act.x", "equals": "b"}, {"fact": "act.items", "exists": True}, {"fact": "report.r", "equals": "a"}]},
    {"any": [{"fact": "act.x", "equals": 1}, {"fact": "report.r", "in": ["a"]}, {"fact": "act.x", "gt": 0}]},
    {"not": {"all": []}}, {"not": {"any": [{"fact": "act.x", "exists": True}, {"fact": "act.x", "equals": "b"}]}},
    {"some": "act.items", "where": {"fact": "item.s", "in": ["a", "b"]}},
    {"every": "act.items", "where": {"any": [{"fact": "item.s", "equals": "a"}, {"fact": "act.x", "exists": False}]}},
    {"some": "act.items", "where": {"some": "act.items", "where": {"fact": "item.s", "not_equals": "a"}}},
    # Expressions and facts as operands, which the generator writes as it does for rules.
    {"value": {"count": "act.items"}, "gt": 0}, {"fact": "act.x", "equals": {"fact": "report.r"}},
    {"fact": "act.x", "in": [{"fact": "report.r"}, "b"]}, {"value": {"first_known": [{"fact": "act.x"}, {"fact": "report.r"}]}, "equals": "a"},
]
VALUES = [MISSING, "a", "b", 1, 1.0, 0, True, False, None, [1], ["a"], {"y": 1}, {"y": None}, {}, Unknown(frozenset({"/x"})), {"y": Unknown(frozenset({"/y"}))}]
ITEMS = [MISSING, [], [{"s": "a"}], [{"s": "b"}, {}], [{}], [{"s": ["a"]}], "not a list", [1], 3]
FAILS = "fails"


def truth(fn: Any) -> Any:
    try:
        return fn()
    except (RuleRuntimeError, TypeError):
        return FAILS


@pytest.mark.parametrize("when", CONDITIONS, ids=[json.dumps(c) for c in CONDITIONS])
def test_a_generated_condition_is_the_interpreters_three_valued_truth(when: dict[str, Any]) -> None:
    # The generated code gives the interpreter's truth (true, false or unknown), or fails where
    # the interpreter fails (the fast pass then hands the incident to the reference pass, which
    # reports it); where the guard holds, the rest of the condition alone gives that truth too.
    p = compiled({"fact": "act.z", "when": when})
    code = codegen.presumption_tests([p])[0]
    assert code is not None and code.test is not None
    guard = P._guard(when, "act")
    assert (code.rest is not None) == (len(when.get("all", ())) > 1)
    for x in VALUES:
        for items in ITEMS:
            for report in ({}, {"r": "a"}, {"r": 2}):
                obj = {k: v for k, v in (("x", x), ("items", items)) if v is not MISSING}
                got = truth(lambda obj=obj, report=report: code.test(obj, report))
                expected = truth(lambda obj=obj, report=report: p.cond(Scope({"incident": {}, "report": report, "act": obj}, {}), None)[0])
                assert got is expected, (obj, report, codegen.presumption_source([p]))
                if guard is not None and obj.get(guard[0][0]) == guard[1] and type(obj.get(guard[0][0])) is str:
                    assert truth(lambda obj=obj, report=report: True if code.rest is None else code.rest(obj, report)) is expected


def test_a_condition_on_the_incident_has_no_code_and_the_others_keep_theirs() -> None:
    on_incident = compiled({"fact": "act.y", "when": {"some": "incident.acts", "where": {"fact": "item.x", "exists": True}}})
    plain = compiled({"fact": "act.y", "when": {"fact": "act.x", "equals": "a"}})
    unconditional = compiled({"fact": "act.y"})
    tests = codegen.presumption_tests([on_incident, plain, unconditional])
    assert tests[0] is None
    assert tests[1] is not None and tests[1].test is not None and tests[1].test({"x": "a"}, {}) is True
    assert tests[2] == codegen.PresumptionTest(None, None)
    assert "no code" in codegen.presumption_source([on_incident])


def test_the_conditions_are_cached_with_the_rulebooks_code_and_a_tampered_entry_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    first = codegen.Program(BOOK)  # the engine makes it before it presumes
    compiled = codegen.presumption_tests(BOOK.presumptions)
    first.save()
    entry, = (tmp_path / "cache").glob("engine-*.bin")  # one entry: the rules' chunks and these

    def no_compile(*args: Any) -> Any:
        raise AssertionError("compiled again although the cache holds it")

    with monkeypatch.context() as m:
        m.setattr(codegen, "compile", no_compile, raising=False)
        codegen.Program(BOOK)
        again = codegen.presumption_tests(BOOK.presumptions)
    act = {"elements": {"kind": "burglary"}}
    assert [t is None or t.test is None or t.test(act, {}) for t in again] == [t is None or t.test is None or t.test(act, {}) for t in compiled]
    data = bytearray(entry.read_bytes())
    data[-1] ^= 1
    entry.write_bytes(bytes(data))
    assert cache.read("engine", cache.entry_key("engine", BOOK.hash, codegen.CODEGEN_VERSION)) is None
    codegen.Program(BOOK)
    assert all(t is not None for t in codegen.presumption_tests(BOOK.presumptions))  # compiled again
    # A list that is no rulebook's is compiled, and nothing is cached for it.
    entries = sorted((tmp_path / "cache").iterdir())
    assert all(t is not None for t in codegen.presumption_tests(list(BOOK.presumptions)))
    assert sorted((tmp_path / "cache").iterdir()) == entries


def test_the_presume_bench_runs_tiny(tmp_path: Path) -> None:
    # A smoke run of bench/bench_presume.py (it prints figures and asserts nothing).
    pytest.importorskip("orjson")  # bench_mix's anchor
    env = {**os.environ, "HOCR_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "bench_presume.py"), "--tiny"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "presume, every incident" in done.stdout and "with_answer, each other answer" in done.stdout
