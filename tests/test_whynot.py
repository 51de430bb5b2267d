"""Why not (hocr.whynot.why_not): each way it finds is confirmed by deciding again with its
changes; it names the blocking fact and the rule that would then apply; and it follows the rules
it is given, not answers written per case."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hocr.engine import evaluate
from hocr.incident import InvalidIncident
from hocr.loader import Rulebook, load_rulebook
from hocr.whynot import WhyNotError, render_text, why_not

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def _with(incident: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The incident with a way's changes made, independently of the search's own code."""
    out = copy.deepcopy(incident)
    for c in changes:
        *parents, last = [p for p in c["pointer"].split("/") if p]
        node: Any = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if c["answer"] is None:
            node.pop(last, None)
        else:
            node[last] = c["answer"]
    return out


def _ways(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for e in result["entries"] if not e["holds"] for w in e["ways"]]


@pytest.mark.parametrize(("example", "target"), [
    ("third-party-not-confirmed.json", "record"),
    ("victim-report-recorded.json", "not recorded"),
    ("credible-evidence-to-contrary.json", "record"),
    ("recorded-late.json", "not recorded"),
])
def test_every_way_found_gives_the_target_when_decided_again(book: Rulebook, example: str, target: str) -> None:
    incident = _example(example)
    ways = _ways(why_not(book, incident, target))
    assert ways
    for way in ways:
        decision = evaluate(book, _with(incident, way["changes"]))
        assert decision["summary"] == way["decision"]
        recorded = decision["crime_count"] > 0
        assert recorded == (target == "record"), (way["changes"], decision["summary"])


def test_why_not_record_names_the_victims_confirmation(book: Rulebook) -> None:
    result = why_not(book, _example("third-party-not-confirmed.json"), "record")
    entry = result["entries"][0]
    assert not entry["holds"] and entry["decided_by"]["id"] == "ncrs.third-party.not-confirmed"
    confirm = next(w for w in entry["ways"] if w["changes"][0]["pointer"] == "/victims/0/confirms_crime")
    assert confirm["changes"] == [{"pointer": "/victims/0/confirms_crime", "now": False, "answer": True}]
    assert confirm["rule"]["id"] == "ncrs.victim-confirms"
    vulnerable = next(w for w in entry["ways"] if w["changes"][0]["pointer"] == "/victims/0/vulnerable")
    assert vulnerable["rule"]["id"] == "ncrs.third-party.without-confirmation" and vulnerable["row"] == "vulnerable"


def test_a_test_on_another_decision_is_followed_into_its_rules(book: Rulebook) -> None:
    """ncrs.victim-account needs reporter_role.role = victim; the reporter-role rules say which
    fact of the report gives that."""
    entry = why_not(book, _example("third-party-not-confirmed.json"), "record")["entries"][0]
    way = next(w for w in entry["ways"] if w["rule"]["id"] == "ncrs.victim-account")
    assert way["changes"] == [{"pointer": "/report/reporter/type", "now": "third_party", "answer": "victim"}]
    assert "ncrs.reporter.victim" in {a["id"] for a in way["also"]}


def test_why_not_not_recorded_builds_the_evidence_the_rule_asks_for(book: Rulebook) -> None:
    entry = why_not(book, _example("victim-report-recorded.json"), "not recorded")["entries"][0]
    way = next(w for w in entry["ways"] if w["rule"]["id"] == "ncrs.credible-evidence-to-contrary")
    (change,) = way["changes"]
    assert change["pointer"] == "/acts/0/contrary_evidence"
    assert change["answer"][0]["kind"] == "verifiable_fact" and change["answer"][0]["immediately_available"] is True


def test_a_classification_already_given_holds(book: Rulebook) -> None:
    result = why_not(book, _example("victim-report-recorded.json"), "44")
    assert [e["holds"] for e in result["entries"]] == [True]
    assert "already 44" in render_text(result)


def test_the_rule_text_names_the_fact_and_the_rule_with_its_citation(book: Rulebook) -> None:
    text = render_text(why_not(book, _example("third-party-not-confirmed.json"), "record"))
    assert "if /victims/0/confirms_crime yes (now no):" in text
    rule = book.rules["ncrs.victim-confirms"]
    assert f"{rule.id} would apply [{rule.verification}]: {rule.citation}" in text


def test_an_unknown_target_is_refused(book: Rulebook) -> None:
    with pytest.raises(WhyNotError, match="neither a classification"):
        why_not(book, _example("victim-report-recorded.json"), "ZZ9")


def test_an_invalid_incident_is_refused(book: Rulebook) -> None:
    incident = _example("victim-report-recorded.json")
    del incident["report"]
    with pytest.raises(InvalidIncident):
        why_not(book, incident, "record")


def test_the_answer_follows_the_rules_given(tmp_path: Path) -> None:
    """With a rulebook where a crime the police witness needs the victim's support for action
    instead of the points to prove (a change made only for this test), the same question names
    that fact: nothing is written per case."""
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    path = tmp_path / "rules" / "ncrs" / "recording-standard.yaml"
    text = path.read_text()
    old = "        - {fact: act.points_to_prove, equals: true}\n    then: {outcome: record, reason: police-witnessed, refer_to: null}"
    assert old in text
    path.write_text(text.replace(old, old.replace("act.points_to_prove", "victim.supports_action")))
    incident = _example("third-party-not-confirmed.json")
    before = {w["rule"]["id"]: w["changes"] for w in _ways(why_not(load_rulebook(REPO / "rules"), incident, "record"))}
    after = {w["rule"]["id"]: w["changes"] for w in _ways(why_not(load_rulebook(tmp_path / "rules"), incident, "record"))}
    police = {"pointer": "/report/reporter/type", "now": "third_party", "answer": "police"}
    assert before["ncrs.police-witnessed"] == [police, {"pointer": "/acts/0/points_to_prove", "now": None, "answer": True}]
    assert after["ncrs.police-witnessed"] == [police, {"pointer": "/victims/0/supports_action", "now": None, "answer": True}]
