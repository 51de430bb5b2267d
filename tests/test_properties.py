"""Properties of evaluation over generated incidents (hypothesis).

CI runs a fixed, derandomised profile sized to stay quick; set HOCR_HYPOTHESIS_PROFILE=deep for
a longer run. The generator knows the domain: the classifications in the catalogue, every kind
of reporter, victims who do or do not confirm, evidence of every kind, places in and out of the
force and of England and Wales, dates around the rule changes and the clock changes.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import strategies as S
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hocr.engine import evaluate
from hocr.incident import check_incident
from hocr.loader import load_rulebook
from hocr.presumptions import presume
from hocr.provisional import outcome_of

REPO = Path(__file__).resolve().parent.parent
# HOCR_PROPERTY_RULES runs the properties against another rulebook folder (default: the shipped one).
BOOK = load_rulebook(Path(os.environ.get("HOCR_PROPERTY_RULES", REPO / "rules")))

settings.register_profile("ci", max_examples=60, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HOCR_HYPOTHESIS_PROFILE", "ci"))
# The schema-driven incidents cost more to draw; CI takes fewer of them (the deep profile, all).
GEN_EXAMPLES = settings(max_examples=30) if settings.default.max_examples <= 60 else settings()

DECISION_SCHEMA = json.loads((REPO / "schemas" / "decision.schema.json").read_text())
DECISION_VALIDATOR = jsonschema.Draft202012Validator(DECISION_SCHEMA)

CODES = sorted(BOOK.classifications)
FORCES = ["Kent Police", "Essex Police"]
# Around NCRS changes and the clocks: April 2015 (24 hours), May 2023, March and October 2024.
DATES = ["2014-06-01T10:00", "2015-03-31T23:30", "2015-04-01T00:30", "2023-05-30T12:00",
         "2023-05-31T12:00", "2024-03-30T09:00", "2024-10-26T09:00", "2024-07-15T14:45"]


def maybe(draw: Any, strategy: Any) -> Any:
    """A value from the strategy, or None for 'not given' (an unknown fact)."""
    return draw(st.one_of(st.none(), strategy))


@st.composite
def incidents(draw: Any) -> dict[str, Any]:
    n_victims = draw(st.integers(0, 3))
    n_suspects = draw(st.integers(0, 2))
    victims = []
    for i in range(n_victims):
        v: dict[str, Any] = {"id": f"V{i + 1}", "kind": draw(st.sampled_from(["person", "household", "organisation"]))}
        for key in ("traceable", "confirms_crime", "vulnerable", "wants_police_action"):
            value = maybe(draw, st.booleans())
            if value is not None:
                v[key] = value
        victims.append(v)
    suspects = [{"id": f"S{i + 1}"} for i in range(n_suspects)]
    acts = []
    for i in range(draw(st.integers(1, 3))):
        act: dict[str, Any] = {"id": f"A{i + 1}"}
        how = draw(st.sampled_from(["code", "code", "code", "elements"]))
        if how == "code":
            act["classification"] = draw(st.sampled_from(CODES))
        else:
            act["elements"] = {"kind": draw(st.sampled_from(["no_offence", "non_notifiable_offence"]))}
        if victims:
            act["victims"] = draw(st.lists(st.sampled_from([v["id"] for v in victims]), unique=True, max_size=len(victims)))
        if suspects:
            act["suspects"] = draw(st.lists(st.sampled_from([s["id"] for s in suspects]), unique=True, max_size=len(suspects)))
        location: dict[str, Any] = {}
        force = maybe(draw, st.sampled_from(FORCES))
        if force is not None:
            location["force"] = force
        in_ew = maybe(draw, st.booleans())
        if in_ew is not None:
            location["in_england_and_wales"] = in_ew
        act["location"] = location
        evidence = maybe(draw, st.lists(st.fixed_dictionaries({
            "description": st.just("generated"),
            "kind": st.sampled_from(["verifiable_fact", "opinion", "suspicion"]),
            "immediately_available": st.booleans(),
        }), max_size=2))
        if evidence is not None:
            act["contrary_evidence"] = evidence
        ptp = maybe(draw, st.booleans())
        if ptp is not None:
            act["points_to_prove"] = ptp
        circumstances = {k: b for k in ("public_disturbance", "resolved_before_police_arrival", "threatening", "undercover_operation")
                         if (b := maybe(draw, st.booleans())) is not None}
        if circumstances:
            act["circumstances"] = circumstances
        if draw(st.booleans()):
            act["other_authority"] = {"name": "British Transport Police", "has_primacy": draw(st.booleans())}
        acts.append(act)
    received = draw(st.sampled_from(DATES))
    incident: dict[str, Any] = {
        "id": "GEN",
        "report": {
            "received_at": received,
            "received_by_force": draw(st.sampled_from(FORCES)),
            "reporter": {"type": draw(st.sampled_from(["victim", "victim_representative", "professional_third_party",
                                                       "third_party", "police", "other_agency"]))},
        },
        "victims": victims,
        "suspects": suspects,
        "acts": acts,
    }
    if draw(st.booleans()):
        incident["recorded_at"] = draw(st.sampled_from(DATES))
    return incident


def _valid_on_its_date(incident: dict[str, Any]) -> bool:
    import datetime as dt

    day = dt.date.fromisoformat(incident["report"]["received_at"][:10])
    return all(a.get("classification") is None or BOOK.classification(a["classification"], day) is not None
               for a in incident["acts"])


def _without_pointers(decision: dict[str, Any]) -> str:
    d = copy.deepcopy(decision)
    for u in d["undetermined"]:
        for f in u["facts_needed"]:
            f.pop("pointer")
    for p in d.get("presumptions", []):
        p.pop("pointer")
    for c in d["crimes"]:
        for r in c.get("reclassify_if", []):
            r.pop("pointer")
    return json.dumps(d, sort_keys=True)


def _shuffled(incident: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    out = copy.deepcopy(incident)
    for key in ("victims", "suspects", "acts"):
        rng.shuffle(out[key])
    for act in out["acts"]:
        for key in ("victims", "suspects"):
            if key in act:
                rng.shuffle(act[key])
    return out


@given(incidents(), st.integers(0, 10_000))
def test_evaluation_is_total_deterministic_and_order_independent(incident: dict[str, Any], seed: int) -> None:
    if not _valid_on_its_date(incident):
        return
    first = evaluate(BOOK, incident)
    assert not list(DECISION_VALIDATOR.iter_errors(first))
    assert evaluate(BOOK, incident) == first
    assert _without_pointers(evaluate(BOOK, _shuffled(incident, seed))) == _without_pointers(first)
    traced = evaluate(BOOK, incident, trace=True)
    assert not list(DECISION_VALIDATOR.iter_errors(traced))
    traced.pop("trace")
    assert traced == first


@given(incidents())
def test_every_allegation_has_exactly_one_outcome(incident: dict[str, Any]) -> None:
    if not _valid_on_its_date(incident):
        return
    d = evaluate(BOOK, incident)
    expected = set()
    for act in incident["acts"]:
        for victim in sorted(act.get("victims", [])) or [None]:
            expected.add((act["id"], victim))
    seen: list[tuple[str, str | None]] = []
    for c in d["crimes"]:
        seen += [(x["act"], x["victim"]) for x in c["covers"]]
    seen += [(n["act"], n["victim"]) for n in d["not_recorded"]]
    seen += [(u["act"], u["victim"]) for u in d["undetermined"]]
    seen += [(c["scope"], None) for c in d["conflicts"]]
    assert not d["conflicts"], d["conflicts"]
    assert sorted(seen, key=str) == sorted(expected, key=str)
    # Absorbed allegations are covered by the crime they name.
    crimes = {c["id"]: c for c in d["crimes"]}
    for a in d["absorbed"]:
        assert {"act": a["act"], "victim": a["victim"]} in crimes[a["into"]]["covers"]


@given(incidents())
def test_undetermined_always_names_the_facts_needed(incident: dict[str, Any]) -> None:
    if not _valid_on_its_date(incident):
        return
    d = evaluate(BOOK, incident)
    assert (d["status"] == "undetermined") == bool(d["undetermined"])
    for u in d["undetermined"]:
        assert u["facts_needed"], u
        for f in u["facts_needed"]:
            assert f["pointer"].startswith("/")


@given(incidents())
def test_credible_evidence_never_turns_not_recorded_into_recorded(incident: dict[str, Any]) -> None:
    if not _valid_on_its_date(incident):
        return
    before = evaluate(BOOK, incident)
    stronger = copy.deepcopy(incident)
    for act in stronger["acts"]:
        act["contrary_evidence"] = [*act.get("contrary_evidence", []),
                                    {"description": "CCTV", "kind": "verifiable_fact", "immediately_available": True}]
    after = evaluate(BOOK, stronger)
    recorded_after = {(x["act"], x["victim"]) for c in after["crimes"] for x in c["covers"]}
    not_recorded_before = {(n["act"], n["victim"]) for n in before["not_recorded"]}
    assert not (recorded_after & not_recorded_before)


# --------------------------------------------------------------------------------------------
# Properties over incidents generated from the incident schema with domain-aware strategies
# (tests/strategies.py): ages around 13 and 16, times around the rule and clock changes, several
# victims, suspects and acts.
# --------------------------------------------------------------------------------------------

GEN = S.incidents(BOOK)


@GEN_EXAMPLES
@given(GEN, st.integers(0, 10_000))
def test_deterministic_order_independent_valid_and_traced_agrees(incident: dict[str, Any], seed: int) -> None:
    first = evaluate(BOOK, incident)
    assert not list(DECISION_VALIDATOR.iter_errors(first))
    assert evaluate(BOOK, copy.deepcopy(incident)) == first
    assert _without_pointers(evaluate(BOOK, _shuffled(incident, seed))) == _without_pointers(first)
    traced = evaluate(BOOK, incident, trace=True)
    assert not list(DECISION_VALIDATOR.iter_errors(traced))
    traced.pop("trace")
    assert traced == first


@GEN_EXAMPLES
@given(GEN)
def test_exactly_one_outcome_for_each_act_and_victim(incident: dict[str, Any]) -> None:
    S.check_one_outcome(evaluate(BOOK, incident), incident)


@GEN_EXAMPLES
@given(GEN)
def test_no_allegation_is_left_open_by_a_gap_in_the_rules(incident: dict[str, Any]) -> None:
    S.check_no_gap(evaluate(BOOK, incident))


@GEN_EXAMPLES
@given(GEN, st.data())
def test_undetermined_exactly_when_a_needed_fact_is_missing_and_supplying_it_resolves(incident: dict[str, Any], data: st.DataObject) -> None:
    current = copy.deepcopy(incident)
    day = dt.date.fromisoformat(evaluate(BOOK, current)["as_of"])
    codes = S.codes_in_force(BOOK, day)
    for _ in range(8):
        d = evaluate(BOOK, current)
        S.check_needed_facts_are_missing(d, current)
        if not d["undetermined"]:
            assert d["status"] == "decided"
            return
        needed = sorted({f["pointer"] for u in d["undetermined"] for f in u["facts_needed"]})
        if any(not u["facts_needed"] for u in d["undetermined"]):
            return  # a gap in the rules, not a missing fact (test_no_allegation_is_left_open...)
        supplied = []
        for pointer in needed:
            if pointer.endswith("/victims") or not pointer.startswith("/"):
                continue  # an allegation with no identified victim: no fact to supply
            if pointer.startswith("/acts/") and pointer.endswith("/classification"):
                value = data.draw(st.sampled_from(codes))
            else:
                value = data.draw(S.from_schema(S.schema_at(pointer)))
            S.put(current, pointer, value)
            supplied.append(pointer)
        if not supplied:
            return
        assume(S.valid(current))
        after = evaluate(BOOK, current)
        asked_again = {f["pointer"] for u in after["undetermined"] for f in u["facts_needed"]} & set(supplied)
        assert not asked_again, asked_again
    # Eight rounds of answers leave nothing open.
    assert not evaluate(BOOK, current)["undetermined"]


@GEN_EXAMPLES
@given(GEN)
def test_contrary_evidence_never_turns_not_recorded_into_recorded(incident: dict[str, Any]) -> None:
    before = evaluate(BOOK, incident)
    stronger = copy.deepcopy(incident)
    for act in stronger["acts"]:
        act["contrary_evidence"] = [*act.get("contrary_evidence", []),
                                    {"description": "CCTV", "kind": "verifiable_fact", "immediately_available": True}]
    after = evaluate(BOOK, stronger)
    assert not (S.recorded(after) & S.not_recorded(before))


@GEN_EXAMPLES
@given(GEN)
def test_a_victim_confirming_never_turns_recorded_into_not_recorded(incident: dict[str, Any]) -> None:
    before = evaluate(BOOK, incident)
    confirmed = copy.deepcopy(incident)
    for v in confirmed["victims"]:
        v["confirms_crime"] = True
    after = evaluate(BOOK, confirmed)
    assert not (S.recorded(before) & S.not_recorded(after))


@GEN_EXAMPLES
@given(GEN, st.sampled_from(["person", "household", "organisation"]))
def test_an_extra_victim_never_lowers_the_count(incident: dict[str, Any], kind: str) -> None:
    before = evaluate(BOOK, incident)
    more = copy.deepcopy(incident)
    more["victims"].append({"id": "V9", "kind": kind, "traceable": True, "confirms_crime": True, "vulnerable": False})
    more["acts"][0]["victims"] = [*more["acts"][0].get("victims", []), "V9"]
    after = evaluate(BOOK, more)
    assert after["crime_count"] >= before["crime_count"], (before["summary"], after["summary"])


@GEN_EXAMPLES
@given(S.incidents(BOOK, max_acts=4, max_victims=2))
def test_the_counted_crime_is_the_most_serious_of_its_group(incident: dict[str, Any]) -> None:
    S.check_principal(BOOK, evaluate(BOOK, incident))


@GEN_EXAMPLES
@given(st.sampled_from(S.RULE_CHANGE_DAYS), st.data())
def test_the_as_of_date_selects_exactly_the_rules_in_force(day_text: str, data: st.DataObject) -> None:
    day = dt.date.fromisoformat(day_text)
    incident = data.draw(S.incidents(BOOK, as_of=day))
    d = evaluate(BOOK, incident, as_of=day, trace=True)
    assert d["as_of"] == day_text
    S.check_in_force(BOOK, d)


# --------------------------------------------------------------------------------------------
# Presumptions (issue 11): filling presumed facts never removes a crime, and only questions
# whose answer matters are asked.
# --------------------------------------------------------------------------------------------


@GEN_EXAMPLES
@given(GEN)
def test_filling_presumed_facts_never_removes_a_crime(incident: dict[str, Any]) -> None:
    presumed = evaluate(BOOK, incident)
    unpresumed = evaluate(BOOK, incident, presume=False)
    # What is recorded on the stated facts alone stays recorded once the silences are filled.
    assert S.recorded(unpresumed) <= S.recorded(presumed), (unpresumed["summary"], presumed["summary"])
    assert presumed["crime_count"] >= unpresumed["crime_count"]
    # And no other answer to a presumed fact records an allegation the presumed answer leaves out.
    checked = check_incident(copy.deepcopy(incident))
    day = dt.date.fromisoformat(presumed["as_of"])
    _, applied = presume(BOOK.presumptions, checked.facts, day)
    for a in applied:
        for alt in a.presumption.alternatives:
            other = copy.deepcopy(incident)
            S.put(other, a.pointer, copy.deepcopy(alt))
            stated = evaluate(BOOK, other)
            assert S.recorded(stated) <= S.recorded(presumed), (a.presumption.id, alt, stated["summary"], presumed["summary"])


def _answers(pointer: str) -> list[Any]:
    node = S.resolve(S.schema_at(pointer))
    if "enum" in node:
        return list(node["enum"])
    if node.get("type") == "boolean":
        return [True, False]
    return []


def _asked(decision: Mapping[str, Any]) -> set[str]:
    return {f["pointer"] for u in decision["undetermined"] for f in u["facts_needed"]}


def _stated(incident: dict[str, Any], pointer: str, value: Any) -> dict[str, Any] | None:
    """The incident with the fact at ``pointer`` stated, or None when that makes it invalid."""
    out = copy.deepcopy(incident)
    S.put(out, pointer, value)
    return out if S.valid(out) else None


def _answer_matters(incident: dict[str, Any], pointer: str) -> bool:
    """Some answer to ``pointer`` changes what is decided, or what else must be asked."""
    before = evaluate(BOOK, incident)
    rest = _asked(before) - {pointer}
    for value in _answers(pointer):
        after_incident = _stated(incident, pointer, value)
        if after_incident is None:
            continue
        after = evaluate(BOOK, after_incident)
        if outcome_of(after) != outcome_of(before) or _asked(after) != rest:
            return True
    return False


@GEN_EXAMPLES
@given(GEN)
def test_a_fact_is_asked_only_when_some_answer_to_it_matters(incident: dict[str, Any]) -> None:
    before = evaluate(BOOK, incident)
    asked = sorted(_asked(before))
    for pointer in asked:
        if not _answers(pointer):
            continue  # a free value (a code, a date): its domain cannot be walked here
        if _answer_matters(incident, pointer):
            continue
        # Facts asked together (the inputs of one table: the injury and the manner of driving)
        # may matter only jointly: then some answer to another asked fact makes this one matter.
        jointly = any(
            (given := _stated(incident, other, value)) is not None
            and pointer in _asked(evaluate(BOOK, given))
            and _answer_matters(given, pointer)
            for other in asked if other != pointer and _answers(other)
            for value in _answers(other)
        )
        assert jointly, f"{pointer} is asked but no answer to it changes anything ({before['summary']})"
