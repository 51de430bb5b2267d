"""The explanation (hocr.explain.explanation): the steps in the registrar's order, only rules that
applied, every rule with its citation, at most 40 lines for every shipped example, ending with
what would change it, and valid against the decision schema."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.explain import STEPS, explanation, render_explanation, render_text
from hocr.loader import Rulebook

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.json"))
ORDER = [key for key, _ in STEPS]


def _example(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _case(file: str, name_start: str) -> Any:
    path = REPO / "tests" / "cases" / file
    case = next(c for c in load_case_file(path) if str(c["name"]).startswith(name_start))
    return case_incident(case, path.parent)


def _explained(book: Rulebook, incident: Any, with_incident: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    decision = evaluate(book, incident, trace=True)
    return decision, explanation(book, decision, decision["trace"], incident if with_incident else None)


def _applied(decision: Mapping[str, Any]) -> set[str]:
    """Every rule that applied in the trace, and every rule the decision itself names."""
    ids = {r["rule"] for node in decision["trace"] for r in node["rules"] if r["result"] == "applied"}
    for key in ("crimes", "not_recorded", "absorbed"):
        ids |= {r["id"] for entry in decision[key] for r in entry["rules"]}
    ids |= {r["id"] for r in (decision.get("deadline") or {}).get("rules", [])}
    return ids | {p["id"] for p in decision.get("presumptions", [])}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("with_incident", [True, False], ids=["with incident", "decision only"])
def test_every_example_fits_on_a_screen_and_ends_with_what_would_change(book: Rulebook, path: Path, with_incident: bool) -> None:
    _, expl = _explained(book, _example(path), with_incident)
    text = render_explanation(expl)
    lines = text.splitlines()
    assert len(lines) <= 40, text
    last_step = max(i for i, line in enumerate(lines) if line[:2].rstrip(".").isdigit())
    changes = lines.index("What would change this")
    assert changes > last_step
    assert all(line.startswith("   ") for line in lines[changes + 1:]), "nothing may follow what would change it"
    assert len(lines) > changes + 1


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_steps_come_in_the_registrars_order(book: Rulebook, path: Path) -> None:
    _, expl = _explained(book, _example(path))
    keys = [s["key"] for s in expl["steps"]]
    assert keys == sorted(keys, key=ORDER.index), keys
    assert len(keys) == len(set(keys))
    assert keys[:2] == ["report", "confirmation"] or keys[0] == "report"
    text = render_explanation(expl)
    positions = [text.index(f"{n}. {s['title']}") for n, s in enumerate(expl["steps"], 1)]
    assert positions == sorted(positions)


def test_a_recorded_crime_has_every_step_in_order(book: Rulebook) -> None:
    _, expl = _explained(book, _case("why-not/classification.yaml", "why not 8N: a common assault"))
    assert [s["key"] for s in expl["steps"]] == ORDER


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_no_rule_that_did_not_apply_is_named(book: Rulebook, path: Path) -> None:
    decision, expl = _explained(book, _example(path))
    applied = _applied(decision)
    named = {r["id"] for s in expl["steps"] for r in s["rules"]}
    assert named <= applied, named - applied
    considered = {r["rule"] for node in decision["trace"] for r in node["rules"]}
    not_applied = considered - applied
    steps_text = render_explanation({**expl, "would_change": [], "notes": []})
    for rule_id in not_applied:
        assert f" {rule_id} " not in steps_text.replace(":", " ").replace(",", " ") + " ", rule_id


def test_the_trace_still_lists_the_rules_that_did_not_apply(book: Rulebook) -> None:
    decision = evaluate(book, _example(REPO / "examples" / "third-party-not-confirmed.json"), trace=True)
    text = render_text(decision, show_trace=True)
    assert "- ncrs.victim-account:" in text  # a rule that did not apply, kept in the trace
    assert "ncrs.victim-account" not in render_text(decision, explain=True, book=book).split("What would change this")[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_step_names_its_rules_with_their_citations(book: Rulebook, path: Path) -> None:
    _, expl = _explained(book, _example(path))
    text = render_explanation(expl)
    for step in expl["steps"]:
        assert step["rules"] or step["key"] == "location", f"step {step['key']} names no rule"
        for r in step["rules"]:
            assert r["id"] in text and r["citation"] in text and f"[{r['verification']}]" in text, r["id"]
    for step in expl["steps"]:
        if step["key"] == "location" and not step["rules"]:
            assert step["facts"], "a location step without a rule tells the facts it rests on"


def test_the_steps_give_the_facts_they_used(book: Rulebook) -> None:
    _, expl = _explained(book, _example(REPO / "examples" / "third-party-not-confirmed.json"))
    steps = {s["key"]: s for s in expl["steps"]}
    assert {"pointer": "/report/reporter/type", "value": "third_party"} in steps["report"]["facts"]
    assert {"pointer": "/victims/0/confirms_crime", "value": False} in steps["confirmation"]["facts"]
    assert {"pointer": "/acts/0/location/force", "value": "Kent Police"} in steps["location"]["facts"]
    assert [r["id"] for r in steps["confirmation"]["rules"]] == ["ncrs.third-party.not-confirmed", "ncrs.crime-related-incident"]


def test_the_classification_step_names_the_elements_that_decided_it(book: Rulebook) -> None:
    _, expl = _explained(book, _case("why-not/classification.yaml", "why not 8N: a common assault"))
    step = next(s for s in expl["steps"] if s["key"] == "classification")
    pointers = {f["pointer"] for f in step["facts"]}
    assert "/acts/0/elements/injury" in pointers
    assert any("vap.assault row no-injury" in line for line in step["lines"])


def test_counting_tells_what_absorbed_what(book: Rulebook) -> None:
    incident = _case("general/section-f/exceptions.yaml", "31 May 2023")
    _, expl = _explained(book, incident)
    step = next(s for s in expl["steps"] if s["key"] == "counting")
    assert any("counted within C1: 34B ranks above 8L" in line for line in step["lines"]), step["lines"]
    assert {"f.2023.principal-offence", "pipeline.principal"} <= {r["id"] for r in step["rules"]}


def test_a_late_record_says_so_in_the_deadline_step(book: Rulebook) -> None:
    _, expl = _explained(book, _example(REPO / "examples" / "recorded-late.json"))
    step = next(s for s in expl["steps"] if s["key"] == "deadline")
    assert any("LATE" in line and line.endswith("a.time-limit.missed") for line in step["lines"])
    assert {"pointer": "/recorded_at", "value": "2024-02-13T15:00:00+00:00"} in step["facts"]


def test_presumptions_and_provisional_are_told(book: Rulebook) -> None:
    _, expl = _explained(book, _case("why-not/classification.yaml", "why not 8N: a common assault"))
    step = next(s for s in expl["steps"] if s["key"] == "presumptions")
    assert "vap.presume.no-intent-stated" in {r["id"] for r in step["rules"]}
    assert any("is provisional" in line and "serious_harm gives 5D" in line for line in step["lines"])


def test_what_would_change_it_is_decided_again_with_the_incident(book: Rulebook) -> None:
    incident = _example(REPO / "examples" / "third-party-not-confirmed.json")
    _, expl = _explained(book, incident)
    confirm = [c for c in expl["would_change"] if c["pointer"] == "/victims/0/confirms_crime"]
    assert confirm and confirm[0]["answer"] is True and confirm[0]["rule"] == "ncrs.victim-confirms"
    changed = copy.deepcopy(incident)
    changed["victims"][0]["confirms_crime"] = True
    assert evaluate(book, changed)["summary"] == confirm[0]["effect"]


def test_without_the_incident_the_changes_come_from_the_trace(book: Rulebook) -> None:
    _, expl = _explained(book, _example(REPO / "examples" / "third-party-not-confirmed.json"), with_incident=False)
    text = render_explanation(expl)
    assert "ncrs.victim-confirms would give outcome=record if victim.confirms_crime were True" in text


def test_an_undetermined_allegation_says_what_is_needed(book: Rulebook) -> None:
    incident = _example(REPO / "examples" / "third-party-not-confirmed.json")
    del incident["victims"][0]["confirms_crime"]
    _, expl = _explained(book, incident)
    step = next(s for s in expl["steps"] if s["key"] == "confirmation")
    assert any("undetermined (needs /victims/0/confirms_crime)" in line for line in step["lines"]), step["lines"]


def test_without_a_trace_the_steps_come_from_the_decision(book: Rulebook) -> None:
    decision = evaluate(book, _example(REPO / "examples" / "victim-report-recorded.json"))
    expl = explanation(book, decision, None)
    # The example states only what the victim said: that no contrary evidence exists is presumed.
    assert [s["key"] for s in expl["steps"]] == ["confirmation", "classification", "counting", "deadline", "presumptions"]
    assert render_text(decision, explain=True, book=book).startswith("Incident EX-001: DECIDED\n")


def test_explanation_json_validates_against_the_decision_schema(book: Rulebook) -> None:
    schema = json.loads((REPO / "schemas" / "decision.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema) if "2020-12" in schema["$schema"] else jsonschema.Draft7Validator(schema)
    incidents = [_example(p) for p in EXAMPLES] + [_case("why-not/classification.yaml", "why not 8N: a common assault"),
                                                   _case("general/section-f/exceptions.yaml", "31 May 2023")]
    for incident in incidents:
        for with_incident in (True, False):
            decision, expl = _explained(book, incident, with_incident)
            errors = list(validator.iter_errors(json.loads(json.dumps({**decision, "explanation": expl}))))
            assert not errors, f"{incident['id']}: {errors[0].message} at {list(errors[0].path)}"
