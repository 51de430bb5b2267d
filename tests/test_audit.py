"""`hocr audit`: the inspectors' arithmetic, every kind of discrepancy (each from an incident that
produces it, with its explanation citing the rule), every line accounted for, the same results
with and without workers, and the command line with its outputs."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from shipped_audit import shipped_groups, shipped_kinds

from hocr import audit
from hocr.audit import (
    GroupSpec,
    compare,
    parse_annual,
    parse_group,
    published_as,
    run_audit,
    unrecorded_per_year,
    wald_interval,
    wilson_interval,
)
from hocr.engine import evaluate
from hocr.loader import Rulebook, data_path, load_rulebook
from hocr.report import render_html, render_table

REPO = Path(__file__).resolve().parent.parent
F = "Northshire Police"
HERE = {"force": F, "in_england_and_wales": True}
HEADLINE = "all crime excluding fraud"  # the shipped rulebook's headline group


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook()


def incident(id: str = "T-1", code: str = "44", reporter: str = "victim", recorded: Iterable[dict[str, Any]] | None = None,
             received: str = "2024-03-04T08:10", **extra: Any) -> dict[str, Any]:
    """A victim's report of one act against one person, with the force's record."""
    d: dict[str, Any] = {
        "id": id,
        "report": {"received_at": received, "received_by_force": F, "reporter": {"type": reporter}},
        "victims": [{"id": "V1", "kind": "person"}],
        "acts": [{"id": "A1", "classification": code, "victims": ["V1"], "contrary_evidence": [], "location": HERE}],
        "force_record": {"crimes": list(recorded or [])},
    }
    d.update(extra)
    return d


def crime(ref: str = "CR1", code: str = "44", at: str = "2024-03-04T10:00", **extra: Any) -> dict[str, Any]:
    return {"ref": ref, "classification": code, "recorded_at": at, **extra}


def jsonl(items: Iterable[Any]) -> io.BytesIO:
    return io.BytesIO("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in items).encode())


def audit_one(book: Rulebook, inc: dict[str, Any], groups: tuple[GroupSpec, ...] | None = None) -> audit.LineResult:
    return compare(book, inc, evaluate(book, inc), shipped_groups() if groups is None else groups, line=1)


def only(result: audit.LineResult, kind: str) -> audit.Discrepancy:
    kinds = [d.kind for d in result.discrepancies]
    assert kinds == [kind], kinds
    return result.discrepancies[0]


def assert_cites(d: audit.Discrepancy, rule_id: str) -> None:
    """The explanation names the rule, and the rule is cited with its source and verification."""
    assert rule_id in d.explanation, d.explanation
    cited = {r["id"]: r for r in d.rules}
    assert rule_id in cited, list(cited)
    assert cited[rule_id]["citation"] and cited[rule_id]["verification"] in ("verified", "secondary", "unverified")


# --------------------------------------------------------------------------------------------
# The arithmetic (reference: shared/reference/audit-method.md, worked example)
# --------------------------------------------------------------------------------------------


def test_wald_interval_reproduces_published_half_width() -> None:
    half, lo, hi = wald_interval(1332, 1632)
    assert round(100 * 1332 / 1632, 1) == 81.6
    assert round(100 * half, 2) == 1.88
    assert (round(100 * lo, 1), round(100 * hi, 1)) == (79.7, 83.5)


def test_wilson_interval_for_87_of_117() -> None:
    lo, hi = wilson_interval(87, 117)
    assert (round(100 * lo, 1), round(100 * hi, 1)) == (65.8, 81.4)
    # Wald for the same counts, as the reference gives it: ± 7.9 points.
    assert round(100 * wald_interval(87, 117)[0], 1) == 7.9


def test_wilson_at_the_edges_stays_inside_0_1() -> None:
    assert wilson_interval(0, 5)[0] == 0.0 and 0 < wilson_interval(0, 5)[1] < 1
    assert wilson_interval(5, 5)[1] == pytest.approx(1.0) and wilson_interval(5, 5)[0] < 1
    with pytest.raises(ValueError):
        wald_interval(0, 0)


def test_unrecorded_estimate_formula_and_published_form() -> None:
    # U = R(1-p)/p: with p = 0.816 and R = 35,100, U = 7,915, published as "over 7,900".
    assert unrecorded_per_year(35100, 0.816) == pytest.approx(7915, abs=0.5)
    assert published_as(7915.4) == "over 7,900"
    # The naive R(1-p) is not what inspectors report.
    assert unrecorded_per_year(35100, 0.816) != pytest.approx(35100 * 0.184)
    assert unrecorded_per_year(100, 0.0) is None
    assert unrecorded_per_year(35100, 1.0) == 0


def test_groups_and_annual_recorded_parse() -> None:
    g = parse_group("Assaults=code:8N,105A")
    assert (g.label, g.field, g.values) == ("Assaults", "code", frozenset({"8n", "105a"}))
    g = parse_group("category:Robbery")
    assert (g.label, g.field) == ("category:Robbery", "category")
    for bad in ("Robbery", "colour:red", "code:"):
        with pytest.raises(ValueError):
            parse_group(bad)
    groups = audit.groups_with([parse_group("category:Robbery")])
    assert parse_annual(["35,100", "violence against the person=9500", "category:Robbery=1200"], groups, HEADLINE) == {
        HEADLINE: 35100.0, "violence against the person": 9500.0, "category:Robbery": 1200.0}
    for bad in (["x"], ["nosuchgroup=5"], ["-3"]):
        with pytest.raises(ValueError):
            parse_annual(bad, groups, HEADLINE)
    # A bare N is for whichever group is the headline; with none it is refused, GROUP=N is not.
    assert parse_annual(["100"], groups, "rape") == {"rape": 100.0}
    with pytest.raises(ValueError, match="a bare number is for the headline group"):
        parse_annual(["100"], groups, None)
    assert parse_annual(["rape=100"], groups, None) == {"rape": 100.0}
    with pytest.raises(ValueError):
        audit.groups_with([parse_group("rape=tag:rape")])


def test_gloucestershire_sample_81_6_percent_and_unrecorded_per_year() -> None:
    """1,632 crimes that should have been recorded, 1,332 recorded, R = 35,100: the inspection
    published 81.6% ± 1.88 and "over 7,900" a year."""
    lines = [incident(f"G-{i}", recorded=[crime(f"CR{i}")] if i < 1332 else []) for i in range(1632)]
    summary = run_audit(jsonl(lines), workers=1)
    out = summary.as_json(parse_annual(["35100"], shipped_groups(), HEADLINE), wilson_below=200)
    g = next(x for x in out["groups"] if x["label"] == HEADLINE)
    acc = g["recording_accuracy"]
    assert (g["should_be_recorded"], g["recorded"]) == (1632, 1332)
    assert acc["interval"] == "wald"
    assert f"{100 * acc['p']:.1f}% ± {100 * acc['wald']['half_width']:.2f}" == "81.6% ± 1.88"
    u = g["unrecorded_per_year"]
    # From the unrounded p = 1332/1632 U is 7,905; from the published 81.6% it is 7,915.
    assert u["estimate"] == pytest.approx(35100 * 300 / 1332)
    assert u["estimate"] == pytest.approx(7915, rel=2e-3)
    assert u["published_as"] == "over 7,900"
    assert u["low"] < u["estimate"] < u["high"]
    assert out["lines"]["read"] == out["lines"]["evaluated"] == 1632
    assert out["discrepancies"]["not_recorded"] == 300
    assert "81.6%" in render_table(out, "sample") and "over 7,900" in render_table(out, "sample")


def test_small_group_shows_wilson(book: Rulebook) -> None:
    lines = [incident(f"S-{i}", recorded=[crime(f"CR{i}")] if i < 87 else []) for i in range(117)]
    out = run_audit(jsonl(lines)).as_json({}, wilson_below=200)
    acc = out["groups"][0]["recording_accuracy"]
    assert acc["interval"] == "wilson"
    assert (round(100 * acc["wilson"]["low"], 1), round(100 * acc["wilson"]["high"], 1)) == (65.8, 81.4)


# --------------------------------------------------------------------------------------------
# Each kind of discrepancy, from an incident that produces it
# --------------------------------------------------------------------------------------------


def test_correct(book: Rulebook) -> None:
    r = audit_one(book, incident(recorded=[crime()]))
    assert r.discrepancies == []
    assert [(c.recorded, c.classified_ok, c.timely) for c in r.crimes] == [(True, True, True)]


def test_crime_not_recorded(book: Rulebook) -> None:
    r = audit_one(book, incident(recorded=[]))
    d = only(r, "not_recorded")
    assert_cites(d, "ncrs.victim-account")
    assert (d.crime, d.acts, d.victim, d.classification) == ("C1", ("A1",), "V1", "44")
    assert [c.recorded for c in r.crimes] == [False]


def test_crime_recorded_that_should_not_have_been(book: Rulebook) -> None:
    inc = incident(code="105A", reporter="third_party", recorded=[crime(code="105A", at="2024-03-04T09:00")])
    inc["victims"][0].update({"traceable": True, "confirms_crime": False, "vulnerable": False})
    r = audit_one(book, inc)
    d = only(r, "recorded_not_crime")
    assert_cites(d, "ncrs.third-party.not-confirmed")
    assert "victim-not-confirmed" in d.explanation
    assert r.crimes == [] and len(r.over_recorded) == 1


def test_wrong_classification(book: Rulebook) -> None:
    r = audit_one(book, incident(code="8N", recorded=[crime(code="105A")]))
    d = only(r, "wrong_classification")
    assert_cites(d, "general.b.named-classification")
    assert (d.expected.split()[0], d.found) == ("8N", "105A")
    assert [(c.recorded, c.classified_ok) for c in r.crimes] == [(True, False)]


def test_reclassified_to_the_right_code_is_correct(book: Rulebook) -> None:
    r = audit_one(book, incident(code="8N", recorded=[crime(code="105A", reclassified_to="8N")]))
    assert r.discrepancies == []


def test_wrong_number_of_crimes(book: Rulebook) -> None:
    inc = incident(code="8N", suspects=[{"id": "S1"}])
    inc["acts"][0]["suspects"] = ["S1"]
    inc["acts"].append({**copy.deepcopy(inc["acts"][0]), "id": "A2", "classification": "105A"})
    inc["force_record"]["crimes"] = [crime("CR1", "8N", acts=["A1"]), crime("CR2", "105A", acts=["A2"])]
    r = audit_one(book, inc)
    d = only(r, "wrong_count")
    assert_cites(d, "d.one-crime-per-victim")
    assert d.ref == "CR1, CR2" and d.found.startswith("2 crimes")
    assert [(c.recorded, c.classified_ok) for c in r.crimes] == [(True, True)]


def test_recorded_late(book: Rulebook) -> None:
    # Received 08:10 on 4 March 2024; due 08:10 on 5 March. One minute late, and just in time.
    late = audit_one(book, incident(recorded=[crime(at="2024-03-05T08:11")]))
    d = only(late, "late")
    assert_cites(d, "a.time-limit.24-hours")
    assert "24.0 hours" in d.found
    assert [c.timely for c in late.crimes] == [False]
    in_time = audit_one(book, incident(recorded=[crime(at="2024-03-05T08:10")]))
    assert in_time.discrepancies == [] and [c.timely for c in in_time.crimes] == [True]


def test_recording_time_from_the_incident_when_the_record_has_none(book: Rulebook) -> None:
    r = audit_one(book, incident(recorded=[{"ref": "CR1", "classification": "44"}], recorded_at="2024-03-06T08:00"))
    assert only(r, "late").ref == "CR1"
    r = audit_one(book, incident(recorded=[{"ref": "CR1", "classification": "44"}]))
    assert r.discrepancies == [] and [c.timely for c in r.crimes] == [None]


def rape_report(**force: Any) -> dict[str, Any]:
    inc = incident(code="19C", received="2024-06-08T10:15")
    inc["victims"][0].update({"age": 22, "sex": "female"})
    inc["force_record"] = {"crimes": [], **force}
    return inc


def test_rape_left_as_n100(book: Rulebook) -> None:
    r = audit_one(book, rape_report(incident_records=[{"type": "N100", "acts": ["A1"], "victim": "V1"}]))
    d = only(r, "rape_left_as_n100")
    assert_cites(d, "ncrs.victim-account")
    assert "N100" in d.explanation
    rape = next(i for i, g in enumerate(shipped_groups()) if g.label == "rape")
    assert rape in r.crimes[0].groups


def test_rape_not_recorded_without_n100_is_not_recorded(book: Rulebook) -> None:
    only(audit_one(book, rape_report()), "not_recorded")
    # An N100 about another act does not concern this one.
    only(audit_one(book, rape_report(incident_records=[{"type": "N100", "acts": ["A9"]}])), "not_recorded")


def test_n100_where_the_rules_give_n100_is_correct(book: Rulebook) -> None:
    inc = rape_report(incident_records=[{"type": "N100"}])
    inc["report"]["reporter"]["type"] = "third_party"
    inc["victims"][0].update({"traceable": True, "confirms_crime": False, "vulnerable": False})
    r = audit_one(book, inc)
    assert r.discrepancies == [] and r.crimes == []


# Verdict rules for the tests of cancellations and outcomes: they replace the shipped Section C
# and H rules in a copy of the rulebook, because what is tested here is the audit's handling of a
# verdict (the verdict itself is the rules'). The shipped rules are tested below.
VERDICT_RULES = """
file: Test verdict rules for the audit.
defaults:
  source: {document: test, edition: test, section: test}
  in_force: {from: "2002-04-01"}
  verification: unverified
rules:
  - id: test.cancel.registrar
    decision: cancellation
    title: A cancellation authorised by the registrar stands
    summary: Test.
    when:
      all:
        - {fact: recorded.cancellation, exists: true}
        - {fact: recorded.cancellation.authorised_by, equals: force_crime_registrar}
    then: {verdict: valid, reason: authorised by the registrar, authority: force_crime_registrar}
  - id: test.cancel.not-registrar
    decision: cancellation
    title: A cancellation not authorised by the registrar does not stand
    summary: Test.
    when:
      all:
        - {fact: recorded.cancellation, exists: true}
        - {fact: recorded.cancellation.authorised_by, not_equals: force_crime_registrar}
    then: {verdict: invalid, reason: not authorised by the registrar, authority: force_crime_registrar}
  - id: test.outcome16.ok
    decision: outcome
    title: Outcome 16 where the victim does not support action
    summary: Test.
    when:
      all:
        - {fact: recorded.outcome, exists: true}
        - {fact: recorded.outcome.type, equals: "16"}
        - {fact: victim.supports_action, equals: false}
    then: {verdict: valid, reason: victim does not support action}
  - id: test.outcome16.bad
    decision: outcome
    title: Outcome 16 where the victim supports action
    summary: Test.
    when:
      all:
        - {fact: recorded.outcome, exists: true}
        - {fact: recorded.outcome.type, equals: "16"}
        - {fact: victim.supports_action, equals: true}
    then: {verdict: invalid, reason: the victim supports action}
"""


@pytest.fixture(scope="module")
def test_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit-rules") / "rules"
    shutil.copytree(data_path("rules"), root)
    # Only the test rules judge cancellations and outcomes in this copy.
    for section in ("section-c", "section-h"):
        shutil.rmtree(root / "general" / section, ignore_errors=True)
    (root / "zz-test-audit-verdicts.yaml").write_text(VERDICT_RULES)
    return root


def test_invalid_cancellation(test_rules: Path) -> None:
    tb = load_rulebook(test_rules)
    bad = audit_one(tb, incident(recorded=[crime(cancellation={"ground": "duplicate", "authorised_by": "officer"})]))
    d = only(bad, "invalid_cancellation")
    assert_cites(d, "test.cancel.not-registrar")
    assert "not authorised by the registrar" in d.explanation
    assert [j.valid for j in bad.cancellations] == [False]
    good = audit_one(tb, incident(recorded=[crime(cancellation={"ground": "duplicate", "authorised_by": "force_crime_registrar"})]))
    assert good.discrepancies == [] and [j.valid for j in good.cancellations] == [True]


def test_outcome_conditions_not_met(test_rules: Path) -> None:
    tb = load_rulebook(test_rules)
    inc = incident(code="105A", recorded=[crime(code="105A", outcome={"type": "16"})])
    inc["victims"][0]["supports_action"] = True
    d = only(audit_one(tb, inc), "outcome_conditions_not_met")
    assert_cites(d, "test.outcome16.bad")
    inc["victims"][0]["supports_action"] = False
    r = audit_one(tb, inc)
    assert r.discrepancies == [] and [j.valid for j in r.outcomes] == [True]


def test_outcome_without_a_verdict_is_counted_not_judged(test_rules: Path) -> None:
    tb = load_rulebook(test_rules)
    inc = incident(code="105A", recorded=[crime(code="105A", outcome={"type": "16"})])  # supports_action unknown
    r = audit_one(tb, inc)
    assert r.discrepancies == [] and [j.valid for j in r.outcomes] == [None]


def test_cancellation_accuracy_in_the_summary(test_rules: Path) -> None:
    lines = [incident(f"C-{i}", recorded=[crime(f"CR{i}", cancellation={
        "ground": "duplicate", "authorised_by": "force_crime_registrar" if i < 3 else "supervisor"})]) for i in range(4)]
    out = run_audit(jsonl(lines), rules=str(test_rules)).as_json({}, 200)
    c = out["groups"][0]["cancellation_accuracy"]
    assert (c["x"], c["n"], c["cancellations"], c["not_judged"]) == (3, 4, 4, 0)
    assert out["discrepancies"]["invalid_cancellation"] == 1


@pytest.mark.skipif(not (data_path("rules") / "general" / "section-c").exists(), reason="shipped Section C rules not there yet")
def test_shipped_rules_judge_a_cancellation(book: Rulebook) -> None:
    """With the shipped rulebook: a cancellation authorised by an officer, with no ground the
    rules recognise, is judged invalid. (Runs once Section C is in.)"""
    r = audit_one(book, incident(recorded=[crime(cancellation={"ground": "insufficient_evidence", "authorised_by": "officer"})]))
    assert [j.valid for j in r.cancellations] == [False]
    assert only(r, "invalid_cancellation").rules


@pytest.mark.skipif(not (data_path("rules") / "general" / "section-h").exists(), reason="shipped Section H rules not there yet")
def test_shipped_rules_judge_an_outcome(book: Rulebook) -> None:
    """With the shipped rulebook: outcome 16 (victim does not support action) where the victim
    supports action is invalid. (Runs once Section H is in.)"""
    inc = incident(code="105A", recorded=[crime(code="105A", outcome={"type": "16", "evidential_difficulties": True})],
                   suspects=[{"id": "S1", "named": True}])
    inc["acts"][0]["suspects"] = ["S1"]
    inc["victims"][0]["supports_action"] = True
    assert only(audit_one(book, inc), "outcome_conditions_not_met").rules


# --------------------------------------------------------------------------------------------
# Matching cases given by hand (the engine's force_record section)
# --------------------------------------------------------------------------------------------


def test_record_the_rules_cannot_judge_is_counted_undetermined(book: Rulebook) -> None:
    inc = incident(recorded=[crime()])
    decision = evaluate(book, inc)
    decision["force_record"]["crimes"][0]["match"] = {"crime": None, "status": "undetermined", "acts": ["A1"]}
    r = compare(book, inc, decision, shipped_groups())
    assert r.undetermined == 1
    assert [d.kind for d in r.discrepancies] == ["not_recorded"]


def test_unmatched_extra_record_is_a_wrong_count(book: Rulebook) -> None:
    inc = incident(recorded=[crime("CR1"), crime("CR2", "58D")])
    decision = evaluate(book, inc)
    for m in decision["force_record"]["crimes"]:
        if m["ref"] == "CR2":
            m["match"] = {"crime": None, "status": "unmatched", "acts": []}
    r = compare(book, inc, decision, shipped_groups())
    d = only(r, "wrong_count")
    assert d.ref == "CR2" and "matches none" in d.explanation


def test_decision_without_force_record_is_an_audit_error(book: Rulebook) -> None:
    inc = incident(recorded=[crime()])
    decision = evaluate(book, inc)
    del decision["force_record"]
    with pytest.raises(audit.AuditError):
        compare(book, inc, decision, shipped_groups())


def test_records_paired_by_reference_whatever_the_order(book: Rulebook) -> None:
    inc = incident(code="8N", recorded=[crime("CR2", "8N", at="2024-03-04T12:00"), crime("CR1", "105A", at="2024-03-04T09:00")])
    inc["force_record"]["crimes"][1]["cancellation"] = {"ground": "duplicate"}
    decision = evaluate(book, inc)
    rule = {"id": "x.test", "title": "t", "citation": "c", "verification": "unverified"}
    for m in decision["force_record"]["crimes"]:
        m["verdicts"] = [{"decision": "cancellation", "state": "value", "verdict": "invalid", "reason": "test",
                          "rules": [rule]}] if m["ref"] == "CR1" else []
    decision["force_record"]["crimes"].reverse()
    r = compare(book, inc, decision, shipped_groups())
    assert sorted((d.kind, d.ref) for d in r.discrepancies) == [("invalid_cancellation", "CR1"), ("wrong_count", "CR2, CR1")]
    assert [j.valid for j in r.cancellations] == [False]


def test_a_validly_cancelled_record_is_not_an_extra_crime(test_rules: Path) -> None:
    tb = load_rulebook(test_rules)
    ok = {"ground": "duplicate", "authorised_by": "force_crime_registrar"}
    r = audit_one(tb, incident(recorded=[crime("CR1"), crime("CR2", at="2024-03-04T11:00", cancellation=ok)]))
    assert r.discrepancies == [] and [c.recorded for c in r.crimes] == [True]
    inc = incident(code="105A", reporter="third_party", recorded=[crime(code="105A", cancellation=ok)])
    inc["victims"][0].update({"traceable": True, "confirms_crime": False, "vulnerable": False})
    r = audit_one(tb, inc)
    assert r.discrepancies == [] and r.over_recorded == [] and [j.valid for j in r.cancellations] == [True]
    # Not validly cancelled: still an extra record.
    r = audit_one(tb, incident(recorded=[crime("CR1"), crime("CR2", at="2024-03-04T11:00", cancellation={**ok, "authorised_by": "officer"})]))
    assert sorted(d.kind for d in r.discrepancies) == ["invalid_cancellation", "wrong_count"]


# --------------------------------------------------------------------------------------------
# Every line accounted for; workers give the same results
# --------------------------------------------------------------------------------------------


def mixed_lines() -> list[Any]:
    good = [incident(f"M-{i}", recorded=[crime(f"CR{i}")] if i % 3 else []) for i in range(40)]
    lines: list[Any] = list(good)
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"id": "no-report", "acts": []}))
    lines.insert(12, "")
    bad_time = incident("bad-time", recorded=[crime()])
    bad_time["report"]["received_at"] = "04/03/2024 08:10"
    lines.insert(20, bad_time)
    unknown_code = incident("bad-code", code="ZZZ9", recorded=[])
    lines.insert(25, unknown_code)
    no_record = incident("no-record")
    del no_record["force_record"]
    lines.insert(30, no_record)
    lines.insert(33, "[1, 2]")
    return lines


def test_bad_lines_are_reported_with_line_numbers_and_counted(book: Rulebook) -> None:
    lines = mixed_lines()
    seen: list[audit.LineResult] = []
    summary = run_audit(jsonl(lines), on_line=seen.append)
    assert [r.line for r in seen] == list(range(1, len(lines) + 1))
    out = summary.as_json({}, 200)
    n = out["lines"]
    assert n["read"] == len(lines) == n["evaluated"] + n["blank"] + n["invalid_json"] + n["invalid_incident"] + n["rulebook_error"]
    assert (n["evaluated"], n["blank"], n["invalid_json"], n["invalid_incident"]) == (40, 1, 1, 5)
    errors = {e["line"]: e for e in out["errors"]}
    assert sorted(errors) == [6, 10, 21, 26, 31, 34]
    assert errors[6]["kind"] == "invalid_json"
    assert errors[21]["incident"] == "bad-time" and "/report/received_at" in errors[21]["problems"][0]
    assert "ZZZ9" in errors[26]["problems"][0]
    assert "/force_record" in errors[31]["problems"][0]
    # Every good line has its result, and the figures count only them.
    assert sum(1 for r in seen if r.kind == "evaluated") == 40
    assert (out["groups"][0]["should_be_recorded"], out["groups"][0]["recorded"]) == (40, 26)


def test_not_utf8_line_is_an_error_not_a_crash() -> None:
    data = jsonl([incident(recorded=[crime()])]).getvalue() + b"\xff\xfe{}\n"
    out = run_audit(io.BytesIO(data)).as_json({}, 200)
    assert out["lines"]["evaluated"] == 1 and out["lines"]["invalid_json"] == 1
    assert out["errors"][0]["line"] == 2


def test_workers_give_identical_results(book: Rulebook) -> None:
    lines = mixed_lines() * 3
    one: list[dict[str, Any]] = []
    two: list[dict[str, Any]] = []
    s1 = run_audit(jsonl(lines), workers=1, on_line=lambda r: one.append(r.as_dict()))
    s2 = run_audit(jsonl(lines), workers=2, chunk_size=7, on_line=lambda r: two.append(r.as_dict()))
    assert one == two
    assert s1.as_json({"all crimes": 1000.0}, 200) == s2.as_json({"all crimes": 1000.0}, 200)


def test_errors_list_is_bounded_but_every_error_counted() -> None:
    summary = audit.Summary(shipped_groups(), max_errors=2)
    for n in range(1, 4):
        summary.add(audit.LineResult(line=n, kind="invalid_json", problems=("bad",)))
    out = summary.as_json({}, 200)
    assert len(out["errors"]) == 2 and out["errors_not_listed"] == 1 and out["lines"]["invalid_json"] == 3


def test_user_group_and_per_group_annual_recorded(book: Rulebook) -> None:
    lines = [incident(f"V-{i}", code="8N", recorded=[crime(f"CR{i}", "8N")] if i < 8 else []) for i in range(10)]
    lines += [incident(f"T-{i}", recorded=[crime(f"CT{i}")]) for i in range(5)]
    groups = audit.groups_with([parse_group("Assaults=code:8N,105A")])
    annual = parse_annual(["violence against the person=9500", "Assaults=800"], groups, HEADLINE)
    out = run_audit(jsonl(lines), groups=groups).as_json(annual, 200)
    by = {g["label"]: g for g in out["groups"]}
    assert (by["Assaults"]["should_be_recorded"], by["Assaults"]["recorded"]) == (10, 8)
    assert (by["violence against the person"]["should_be_recorded"], by[HEADLINE]["should_be_recorded"]) == (10, 15)
    assert by["violence against the person"]["unrecorded_per_year"]["estimate"] == pytest.approx(9500 * 0.2 / 0.8)
    assert by["sexual offences"]["recording_accuracy"] is None


# --------------------------------------------------------------------------------------------
# The command line and its outputs
# --------------------------------------------------------------------------------------------


def hocr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hocr", *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_cli_audit_outputs(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" if not isinstance(x, str) else x + "\n" for x in mixed_lines()))
    out_csv, out_html, out_err, out_res = (tmp_path / n for n in ("d.csv", "r.html", "e.jsonl", "l.jsonl"))
    r = hocr("audit", str(src), "--annual-recorded", "35100", "--csv", str(out_csv), "--html", str(out_html),
             "--errors", str(out_err), "--results", str(out_res))
    assert r.returncode == 0, r.stderr
    assert "all crime excluding fraud" in r.stdout and "Discrepancies" in r.stdout
    assert f"{src}:6: invalid JSON" in r.stderr and f"{src}:31 (incident no-record): invalid incident" in r.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 14 and {row["kind"] for row in rows} == {"not_recorded"}
    assert all(row["rule_ids"] and row["citations"] and row["line"] for row in rows)
    assert len(out_err.read_text().splitlines()) == 6
    assert len(out_res.read_text().splitlines()) == 47
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_cli_audit_json_stdin_and_fail_under() -> None:
    text = (REPO / "examples" / "audit-sample.jsonl").read_text()
    r = hocr("audit", "-", "--json", stdin=text)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["format"] == "hocr.audit.v1" and out["lines"]["read"] == out["lines"]["evaluated"] == len(text.splitlines())
    # One incident for each kind of discrepancy, judged by the shipped rules (Sections C and H included).
    assert out["discrepancies"] == dict.fromkeys(shipped_kinds(), 1)
    assert out["incidents"] == {"evaluated": 11, "correct": 2, "with_discrepancies": 9, "with_undetermined": 0}
    assert hocr("audit", "-", "--fail-under", "99", stdin=text).returncode == 5
    assert hocr("audit", "-", "--fail-under", "1", stdin=text).returncode == 0


def test_cli_audit_bad_file_and_options(tmp_path: Path) -> None:
    r = hocr("audit", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    assert hocr("audit", "-", "--group", "colour:red", stdin="").returncode == 2
    assert hocr("audit", "-", "--annual-recorded", "lots", stdin="").returncode == 2


def test_shipped_sample_all_lines_evaluated_and_html(book: Rulebook) -> None:
    with (REPO / "examples" / "audit-sample.jsonl").open("rb") as f:
        out = run_audit(f).as_json({}, 200)
    assert out["lines"]["read"] == out["lines"]["evaluated"]
    # The summary marks the rulebook's headline group, and the cards lead with it.
    assert [g["label"] for g in out["groups"] if g["headline"]] == [HEADLINE]
    html_page = render_html({**out, "rulebook": book.info()}, "audit-sample.jsonl")
    assert "Discrepancies by kind" in html_page
    assert f"Recording accuracy, {HEADLINE}</div>" in html_page
    # The cards follow the headline given; with none marked or given they show the first group.
    assert "Recording accuracy, rape</div>" in render_html(out, "audit-sample.jsonl", "rape")
    unmarked = {**out, "groups": [{**g, "headline": False} for g in out["groups"]]}
    assert "Recording accuracy, all crimes</div>" in render_html(unmarked, "audit-sample.jsonl")


# --------------------------------------------------------------------------------------------
# The groups and the finding kinds come from the rulebook (rules/audit/report-groups.yaml)
# --------------------------------------------------------------------------------------------

SAMPLE_LINES = (REPO / "examples" / "audit-sample.jsonl").read_text().splitlines()


def test_the_shipped_groups_and_kinds_are_those_hocr_reported_before_they_moved_to_the_rulebook() -> None:
    assert [(g.label, g.definition()) for g in shipped_groups()] == [
        ("all crimes", "every crime"),
        (HEADLINE, "every HOCR category except fraud"),
        ("violence against the person", "HOCR category violence against the person"),
        ("sexual offences", "HOCR category sexual offences"),
        ("rape", "classifications tagged rape"),
    ]
    assert list(shipped_kinds()) == ["not_recorded", "rape_left_as_n100", "recorded_not_crime", "wrong_classification",
                                 "wrong_count", "late", "flag_missing", "flag_not_derived", "invalid_cancellation",
                                 "outcome_conditions_not_met"]
    assert shipped_kinds()["rape_left_as_n100"][0] == "rape left as N100"
    assert audit.headline_label(load_rulebook()) == HEADLINE
    assert audit.groups_with([]) == shipped_groups()


def _edited_rules(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """A copy of the shipped rules whose audit section has each (old, new) text replaced."""
    root = tmp_path / "rules"
    shutil.copytree(data_path("rules"), root)
    path = root / "audit" / "report-groups.yaml"
    text = path.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return root


def test_the_audit_reports_the_groups_and_kinds_its_rulebook_gives(tmp_path: Path) -> None:
    robbery = ("    - label: robbery\n      match: category\n      values: [Robbery]\n"
               "      source: {document: D, edition: E, section: S}\n      verification: unverified\n")
    root = _edited_rules(tmp_path, ("  finding_kinds:\n", robbery + "  finding_kinds:\n"),
                         ("label: rape left as N100", "label: rape kept as an N100"))
    out = run_audit(jsonl(SAMPLE_LINES), rules=str(root)).as_json({}, 200)
    assert [g["label"] for g in out["groups"]] == [g.label for g in shipped_groups()] + ["robbery"]
    assert out["discrepancy_kinds"]["rape_left_as_n100"]["label"] == "rape kept as an N100"
    assert [d["label"] for d in out["examples"]["rape_left_as_n100"]] == ["rape kept as an N100"]
    shipped = run_audit(jsonl(SAMPLE_LINES)).as_json({}, 200)
    assert out["discrepancies"] == shipped["discrepancies"]


def test_a_finding_with_no_kind_in_the_rulebook_is_a_crime_not_recorded(tmp_path: Path) -> None:
    # The mapping from the finding to its kind is the rulebook's: without it the rape the force
    # left as N100 is counted as a crime not recorded (and `hocr rules lint` reports the rule).
    text = (data_path("rules") / "audit" / "report-groups.yaml").read_text()
    kinds = text[text.index("  finding_kinds:\n"):]
    root = _edited_rules(tmp_path, (kinds, "  finding_kinds: []\n"))
    out = run_audit(jsonl(SAMPLE_LINES), rules=str(root)).as_json({}, 200)
    assert "rape_left_as_n100" not in out["discrepancies"]
    shipped = run_audit(jsonl(SAMPLE_LINES)).as_json({}, 200)["discrepancies"]
    assert out["discrepancies"]["not_recorded"] == shipped["not_recorded"] + shipped["rape_left_as_n100"] == 2


def rules_with_audit_section(tmp_path: Path, section: str | None) -> Path:
    """A copy of the shipped rules whose audit section is ``section`` (None: no audit section)."""
    root = tmp_path / "rules"
    shutil.copytree(data_path("rules"), root)
    target = root / "audit" / "report-groups.yaml"
    if section is None:
        target.unlink()
    else:
        target.write_text(section)
    return root


ONE_GROUP = """\
file: a force's own audit method (a test)
audit:
  as_of: "2026-12-01"
  report_groups:
    - label: thefts only
      match: category
      values: [Theft]
      source: {document: a test, edition: "2026", section: groups}
      verification: unverified
  finding_kinds: []
"""


def test_cli_audit_reports_the_audited_rulebooks_groups_and_kinds(tmp_path: Path) -> None:
    sample = str(REPO / "examples" / "audit-sample.jsonl")
    html = tmp_path / "r.html"
    r = hocr("audit", sample, "--rules", str(rules_with_audit_section(tmp_path, ONE_GROUP)), "--html", str(html))
    assert r.returncode == 0, r.stderr
    assert "thefts only" in r.stdout and "all crime excluding fraud" not in r.stdout
    assert "rape left as N100" not in r.stdout and "crime not recorded" in r.stdout  # the audit's own kinds stay
    page = html.read_text()
    assert "thefts only" in page and "rape left as N100" not in page
    # No group of this rulebook is the headline, which --fail-under and a bare --annual-recorded N
    # judge: both are refused before any line is read, saying what is missing; GROUP=N is not.
    r = hocr("audit", sample, "--rules", str(tmp_path / "rules"), "--fail-under", "90")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr == ("hocr: --fail-under judges the headline group, and no report group of the rulebook is the "
                        "headline (headline: true in its audit section)\n")
    r = hocr("audit", sample, "--rules", str(tmp_path / "rules"), "--annual-recorded", "100")
    assert r.returncode == 2 and "a bare number is for the headline group, and no report group" in r.stderr
    assert "Traceback" not in r.stderr
    r = hocr("audit", sample, "--rules", str(tmp_path / "rules"), "--annual-recorded", "thefts only=100")
    assert r.returncode == 0, r.stderr


def test_cli_audit_judges_the_audited_rulebooks_headline_group(tmp_path: Path) -> None:
    # The shipped headline (all crime excluding fraud, 77.8% on the sample) moved to rape (0%):
    # --fail-under, a bare --annual-recorded N and the HTML report's card all follow it.
    root = _edited_rules(tmp_path, ("      headline: true\n", ""), ("      values: [rape]\n", "      values: [rape]\n      headline: true\n"))
    sample, html = str(REPO / "examples" / "audit-sample.jsonl"), tmp_path / "r.html"
    assert hocr("audit", sample, "--fail-under", "50").returncode == 0
    r = hocr("audit", sample, "--rules", str(root), "--fail-under", "50", "--annual-recorded", "35100", "--json", "--html", str(html))
    assert r.returncode == 5 and "recording accuracy 0.0% is below --fail-under 50%" in r.stderr
    by = {g["label"]: g for g in json.loads(r.stdout)["groups"]}
    assert (by["rape"]["annual_recorded"], by[HEADLINE]["annual_recorded"]) == (35100, None)
    page = html.read_text()
    assert "Recording accuracy, rape</div>" in page and f"Recording accuracy, {HEADLINE}" not in page


def test_cli_audit_with_no_audit_section_refuses_fail_under(tmp_path: Path) -> None:
    r = hocr("audit", str(REPO / "examples" / "audit-sample.jsonl"), "--rules", str(rules_with_audit_section(tmp_path, None)),
             "--fail-under", "90")
    assert r.returncode == 2 and "--fail-under judges the headline group, and no report group" in r.stderr


def test_cli_audit_with_no_audit_section_reports_the_audits_own_kinds(tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    r = hocr("audit", str(REPO / "examples" / "audit-sample.jsonl"), "--rules", str(rules_with_audit_section(tmp_path, None)),
             "--html", str(html))
    assert r.returncode == 0, r.stderr
    assert "Discrepancies" in r.stdout and "crime not recorded" in r.stdout and "rape left as N100" not in r.stdout
    page = html.read_text()  # no group at all: no accuracy card, the discrepancies still shown
    assert "Recording accuracy," not in page and "Discrepancies found" in page and "No groups to report" in page
