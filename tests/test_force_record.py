"""The engine's generic machinery for the force's own record and for findings:

- each crime in ``force_record.crimes`` is matched to what the rulebook decided (by the acts and
  victim it names, else by victim and classification, else the only crime), and the pipeline's
  verdict decisions (scope ``recorded_crime``) are made for it;
- decisions with ``combine: all`` accumulate every applicable rule's conclusion as findings.

The rules used here are test rules added to a copy of the shipped rulebook, so that these tests
check the machinery, not the shipped rules (which have their own worked cases)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hocr.engine import evaluate
from hocr.loader import Rulebook, data_path, load_rulebook

TEST_RULES = """
file: Test rules for the force-record and findings machinery.
defaults:
  source: {document: test, edition: test, section: test}
  in_force: {from: "2002-04-01"}
  verification: unverified
rules:
  - id: test.reclassify
    decision: reclassification
    title: Recorded code differs from decided code
    summary: Test.
    when:
      all:
        - {fact: decided.status, equals: recorded}
        - {fact: recorded.classification, not_equals: {fact: decided.code}}
    then: {verdict: reclassify, to: {fact: decided.code}, reason: differs}
  - id: test.correct
    decision: reclassification
    title: Recorded code is the decided code
    summary: Test.
    when:
      all:
        - {fact: decided.status, equals: recorded}
        - {fact: recorded.classification, equals: {fact: decided.code}}
    then: {verdict: correct, to: null, reason: same}
  - id: test.cancel-duplicate
    decision: cancellation
    title: A later record of the same crime may be cancelled as a duplicate
    summary: Test.
    when:
      all:
        - {fact: recorded.cancellation, exists: true}
        - {fact: recorded.cancellation.ground, equals: duplicate}
        - {fact: decided.first_record, equals: false}
    then: {verdict: valid, reason: duplicate, authority: null}
  - id: test.cancel-error
    decision: cancellation
    title: Recorded in error when the rules would not record it
    summary: Test.
    when:
      all:
        - {fact: recorded.cancellation, exists: true}
        - {fact: recorded.cancellation.ground, equals: recorded_in_error}
        - {fact: decided.status, equals: not_recorded}
    then: {verdict: valid, reason: {fact: decided.reason}, authority: null}
  - id: test.outcome-needs-victim-view
    decision: outcome
    title: Outcome 16 needs the victim not to support action
    summary: Test.
    when:
      all:
        - {fact: recorded.outcome, exists: true}
        - {fact: recorded.outcome.type, equals: "16"}
    then:
      verdict: valid
      reason: ok
  - id: test.outcome-16-invalid
    decision: outcome
    title: Outcome 16 invalid when the victim supports action
    summary: Test.
    overrides: [test.outcome-needs-victim-view]
    when:
      all:
        - {fact: recorded.outcome, exists: true}
        - {fact: recorded.outcome.type, equals: "16"}
        - {fact: victim.supports_action, equals: true}
    then: {verdict: invalid, reason: the victim supports action}
  - id: test.finding-one
    decision: classification_check
    title: Finding one
    summary: Test.
    when: {fact: act.classification, equals: "8N"}
    then: {finding: contradicts_facts, message: first, suggested: null}
  - id: test.finding-child
    decision: classification_check
    title: Finding on the act's single victim
    summary: Test.
    when: {fact: act_victim.age, lt: 16}
    then: {finding: contradicts_facts, message: child, suggested: null}
  - id: test.finding-two
    decision: classification_check
    title: Finding two
    summary: Test.
    when: {fact: act.classification, in: ["8N", "105A"]}
    then: {finding: contradicts_facts, message: second, suggested: "105A"}
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Rulebook:
    root = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(data_path("rules"), root)
    # Only the test rules decide the verdicts and findings: drop the shipped ones, which have
    # their own worked cases.
    mine = {"reclassification", "cancellation", "outcome", "classification_check"}
    for path in root.rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or "rules" not in doc:
            continue
        default = (doc.get("defaults") or {}).get("decision")
        kept = [r for r in doc["rules"] if r.get("decision", default) not in mine]
        if len(kept) != len(doc["rules"]):
            doc["rules"] = kept
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (root / "zz-test-force-record.yaml").write_text(TEST_RULES)
    return load_rulebook(root)


HERE = {"force": "F", "in_england_and_wales": True}


def incident(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "T-1",
        "report": {"received_at": "2024-03-04T08:10", "received_by_force": "F", "reporter": {"type": "victim"}},
        "victims": [{"id": "V1", "kind": "person"}, {"id": "V2", "kind": "person"}],
        "acts": [
            {"id": "A1", "classification": "8N", "victims": ["V1"], "contrary_evidence": [], "location": HERE},
            {"id": "A2", "classification": "105A", "victims": ["V2"], "contrary_evidence": [], "location": HERE},
        ],
    }
    base.update(extra)
    return base


def schema_check(decision: dict[str, Any]) -> None:
    schema = json.loads((data_path("schemas") / "decision.schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(decision)), schema)


def test_no_force_record_no_section(book: Rulebook) -> None:
    d = evaluate(book, incident())
    assert "force_record" not in d
    schema_check(d)


def test_matching_by_acts_and_verdicts(book: Rulebook) -> None:
    inc = incident(force_record={"crimes": [
        {"ref": "CR1", "classification": "105A", "acts": ["A1"], "recorded_at": "2024-03-04T09:00"},
        {"ref": "CR2", "classification": "105A", "acts": ["A2"]},
    ]})
    d = evaluate(book, inc)
    schema_check(d)
    by_ref = {c["ref"]: c for c in d["force_record"]["crimes"]}
    assert by_ref["CR1"]["match"] == {"crime": "C1", "status": "recorded", "acts": ["A1"]}
    v = by_ref["CR1"]["verdicts"][0]
    assert (v["decision"], v["verdict"], v["to"]) == ("reclassification", "reclassify", "8N")
    assert v["rules"][0]["id"] == "test.reclassify"
    assert by_ref["CR2"]["verdicts"][0]["verdict"] == "correct"
    assert d["force_record"]["decided_crimes_not_in_record"] == []


def test_matching_by_victim_and_only_crime(book: Rulebook) -> None:
    inc = incident(force_record={"crimes": [{"ref": "CR9", "classification": "105A", "victim": "V2"}]})
    d = evaluate(book, inc)
    [rc] = d["force_record"]["crimes"]
    assert rc["match"]["crime"] == "C2" and rc["match"]["acts"] == ["A2"]
    assert d["force_record"]["decided_crimes_not_in_record"] == ["C1"]


def test_unmatched_and_not_recorded(book: Rulebook) -> None:
    # Two crimes decided, the record names neither acts nor victim and matches neither code.
    inc = incident(force_record={"crimes": [{"ref": "CRX", "classification": "49"}]})
    d = evaluate(book, inc)
    assert d["force_record"]["crimes"][0]["match"]["status"] == "unmatched"
    inc2 = incident()
    inc2["acts"][0]["contrary_evidence"] = [{"description": "CCTV shows nothing happened", "kind": "verifiable_fact", "immediately_available": True}]
    inc2["force_record"] = {"crimes": [{"ref": "CR1", "classification": "8N", "acts": ["A1"]}]}
    d2 = evaluate(book, inc2)
    rc = d2["force_record"]["crimes"][0]
    assert rc["match"]["status"] == "not_recorded"
    # No reclassification verdict applies to something that should not be recorded at all.
    assert [v["decision"] for v in rc["verdicts"]] == []


def test_duplicates_first_record(book: Rulebook) -> None:
    inc = incident(force_record={"crimes": [
        {"ref": "B", "classification": "8N", "acts": ["A1"], "recorded_at": "2024-03-04T10:00",
         "cancellation": {"ground": "duplicate"}},
        {"ref": "A", "classification": "8N", "acts": ["A1"], "recorded_at": "2024-03-04T09:00",
         "cancellation": {"ground": "duplicate"}},
    ]})
    d = evaluate(book, inc)
    by_ref = {c["ref"]: c for c in d["force_record"]["crimes"]}
    later = {v["decision"]: v for v in by_ref["B"]["verdicts"]}
    earlier = {v["decision"]: v for v in by_ref["A"]["verdicts"]}
    assert later["cancellation"]["verdict"] == "valid"
    assert "cancellation" not in earlier  # the first record is not a duplicate of itself
    assert [c["ref"] for c in d["force_record"]["crimes"]] == ["A", "B"]  # in recording order


def test_verdict_reads_victim_and_undetermined(book: Rulebook) -> None:
    inc = incident(force_record={"crimes": [
        {"ref": "CR1", "classification": "8N", "acts": ["A1"], "outcome": {"type": "16"}}]})
    d = evaluate(book, inc)
    out = {v["decision"]: v for v in d["force_record"]["crimes"][0]["verdicts"]}["outcome"]
    assert out["state"] == "undetermined"
    assert out["facts_needed"][0]["pointer"] == "/victims/0/supports_action"
    inc2 = copy.deepcopy(inc)
    inc2["victims"][0]["supports_action"] = True
    out2 = {v["decision"]: v for v in evaluate(book, inc2)["force_record"]["crimes"][0]["verdicts"]}["outcome"]
    assert (out2["verdict"], out2["rules"][0]["id"]) == ("invalid", "test.outcome-16-invalid")
    inc2["victims"][0]["supports_action"] = False
    out3 = {v["decision"]: v for v in evaluate(book, inc2)["force_record"]["crimes"][0]["verdicts"]}["outcome"]
    assert out3["verdict"] == "valid"


def test_findings_accumulate(book: Rulebook) -> None:
    d = evaluate(book, incident())
    schema_check(d)
    a1 = [f for f in d["findings"] if f["act"] == "A1"]
    assert sorted(f["message"] for f in a1) == ["first", "second"]
    assert {f["rules"][0]["id"] for f in a1} == {"test.finding-one", "test.finding-two"}
    a2 = [f for f in d["findings"] if f["act"] == "A2"]
    assert [(f["message"], f["suggested"]) for f in a2] == [("second", "105A")]


def test_traced_equals_untraced(book: Rulebook) -> None:
    inc = incident(force_record={"crimes": [{"ref": "CR1", "classification": "105A", "acts": ["A1"], "outcome": {"type": "16"}}]})
    plain = evaluate(book, inc)
    traced = evaluate(book, inc, trace=True)
    traced.pop("trace")
    assert plain == traced
    scopes = {t["scope"] for t in evaluate(book, inc, trace=True)["trace"]}
    assert "recorded crime CR1" in scopes


def test_shipped_rulebook_loads_new_decisions() -> None:
    book = load_rulebook(data_path("rules"))
    assert book.decisions["classification_check"].combine == "all"
    assert [d.name for d in book.order["recorded_crime"]] == sorted(book.pipeline["verdicts"])
    assert Path(book.decisions["cancellation"].file).name == "rulebook.yaml"


def test_worked_case_expectations_for_findings_and_verdicts(book: Rulebook) -> None:
    from hocr.cases import compare

    inc = incident(force_record={"crimes": [
        {"ref": "CR1", "classification": "105A", "acts": ["A1"], "outcome": {"type": "16"}}]})
    d = evaluate(book, inc)
    good = {
        "findings": [{"act": "A1", "message": "first", "rule": "test.finding-one"},
                     {"act": "A1", "message": "second"}, {"act": "A2", "suggested": "105A"}],
        "force_record": {"CR1": {"match": "recorded", "crime_classification": "8N",
                                 "verdicts": {"reclassification": {"verdict": "reclassify", "to": "8N", "rule": "test.reclassify"},
                                              "outcome": {"state": "undetermined"},
                                              "cancellation": None}}},
    }
    assert compare(d, good) == []
    bad = {
        "findings": [{"act": "A1", "message": "first"}],
        "force_record": {"CR1": {"match": "absorbed",
                                 "verdicts": {"reclassification": {"verdict": "correct"}, "outcome": {"verdict": "valid"}}},
                         "CR2": {}},
    }
    problems = compare(d, bad)
    assert any(p.startswith("findings: 2 unexpected") for p in problems)
    assert any("CR1.match" in p for p in problems)
    assert any("CR1.reclassification" in p for p in problems)
    assert any("CR1.outcome: expected a value, got undetermined" in p for p in problems)
    assert any("CR2: no such crime" in p for p in problems)


def test_act_victim_is_the_single_victim_of_an_act(book: Rulebook) -> None:
    inc = incident()
    inc["victims"][0]["age"] = 15
    inc["victims"][1]["age"] = 15
    inc["acts"][1]["victims"] = ["V1", "V2"]
    d = evaluate(book, inc)
    child = [f["act"] for f in d["findings"] if f["message"] == "child"]
    assert child == ["A1"]  # A2 has two victims: no single victim to read
    inc["victims"][0]["age"] = 16
    assert [f for f in evaluate(book, inc)["findings"] if f["message"] == "child"] == []


def test_text_output_shows_findings_and_the_force_record(book: Rulebook) -> None:
    from hocr.explain import render_text

    inc = incident(force_record={"crimes": [
        {"ref": "CR1", "classification": "105A", "acts": ["A1"], "outcome": {"type": "16"}}]})
    text = render_text(evaluate(book, inc))
    assert "Findings about the input" in text
    assert "act A2: second (the facts point to 105A)" in text
    assert "CR1 (105A): recorded C1" in text
    assert "reclassification: reclassify to 8N: differs" in text
    assert "outcome: undetermined (facts needed: /victims/0/supports_action)" in text
    assert "not in the force's record: C2" in text


def test_not_recorded_match_finds_the_reason_without_a_victim_named(book: Rulebook) -> None:
    inc = incident()
    inc["acts"][0]["contrary_evidence"] = [{"description": "CCTV shows nothing happened", "kind": "verifiable_fact", "immediately_available": True}]
    inc["force_record"] = {"crimes": [{"ref": "CR1", "classification": "8N", "acts": ["A1"], "cancellation": {"ground": "recorded_in_error"}}]}
    d = evaluate(book, inc)
    rc = d["force_record"]["crimes"][0]
    assert rc["match"]["status"] == "not_recorded"
    [v] = rc["verdicts"]
    assert (v["verdict"], v["reason"]) == ("valid", d["not_recorded"][0]["reason"])


def test_unverified_rules_include_findings_and_verdicts(book: Rulebook) -> None:
    inc = incident(force_record={"crimes": [{"ref": "CR1", "classification": "105A", "acts": ["A1"]}]})
    d = evaluate(book, inc)
    assert {"test.reclassify", "test.finding-one", "test.finding-two"} <= set(d["unverified_rules"])
    assert d["unverified_rules"] == sorted(d["unverified_rules"])
    assert "unverified_rules" not in d["force_record"]
