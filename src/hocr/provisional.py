"""What a decision presumed, what each other answer would give, and which crimes are provisional.

The engine decides on the incident with its presumed facts filled (``hocr.presumptions``). For
each presumed fact, the incident is decided again with each other answer stated instead. A
presumption is listed in the decision (``presumptions``) when some other answer would change
the decision; a presumption that changes nothing is not listed (it is still in the trace).

A crime is **provisional** when another answer to a presumed fact would record the same
allegation under another classification: it is recorded now, under the classification the stated
and presumed facts give, with ``reclassify_if`` listing each such answer and the classification
it gives. Nothing here evaluates rules itself: ``decide_with(pointer, value)`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .incident import Incident, question_for
from .presumptions import Applied, fresh


class Unchanged:
    """What a decider gives for an answer that decides every decision as the presumed facts do
    (found without assembling that decision: it would equal the one on the presumed facts)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()

# The decision on another answer; UNCHANGED; or None: the rulebook fails on that answer.
Decider = Callable[[str, Any], "dict[str, Any] | Unchanged | None"]


def outcome_of(decision: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a decision decides, without its explanations: the status, each crime's
    classification and what it covers, and each allegation not recorded or undetermined."""
    crimes = sorted((c["classification"]["code"] if c["classification"] else "", c["victim"] or "",
                     tuple(sorted((x["act"], x["victim"] or "") for x in c["covers"]))) for c in decision["crimes"])
    not_recorded = sorted((n["act"], n["victim"] or "", n["reason"] or "") for n in decision["not_recorded"])
    undetermined = sorted((u["act"], u["victim"] or "", u["decision"]) for u in decision["undetermined"])
    return decision["status"], tuple(crimes), tuple(not_recorded), tuple(undetermined)


def _entity(facts: Mapping[str, Any], pointer: str) -> tuple[str, str]:
    _, plural, index, *path = pointer.split("/")
    item = facts[plural][int(index)]
    return f"{plural[:-1]} {item['id']}", "/".join(path)


def _answer(value: Any, other: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "value": fresh(value),
        "status": other["status"],
        "crimes": [{"classification": c["classification"]["code"] if c["classification"] else None, "victim": c["victim"]}
                   for c in other["crimes"]],
        "not_recorded": [{"act": n["act"], "victim": n["victim"], "reason": n["reason"]} for n in other["not_recorded"]],
        "summary": other["summary"],
    }


def _used(applied: Sequence[Applied], decision: dict[str, Any], decide_with: Decider,
          could_matter: Callable[[Applied], bool] | None) -> list[tuple[Applied, list[tuple[Any, dict[str, Any]]]]]:
    """Each presumption with the other answers that would change the decision (and what they
    give). An answer to a fact ``could_matter`` rules out (no rule of the decision read it) would
    decide the same, so it is not decided again; nor is an answer whose pass decided every
    decision as before (the decider gives UNCHANGED)."""
    mine = outcome_of(decision)
    used = []
    for a in applied:
        if could_matter is not None and not could_matter(a):
            continue
        changed = []
        for alt in a.presumption.alternatives:
            other = decide_with(a.pointer, alt)
            if isinstance(other, Unchanged):
                continue  # decided as the presumed facts are: no change
            if other is None:
                decision["warnings"].append(f"{a.pointer}: the rulebook cannot decide the answer {alt!r} on this date "
                                            "(a rule gives a classification not in force); it is not offered as an alternative")
                continue
            if outcome_of(other) != mine:
                changed.append((alt, other))
        if changed:
            used.append((a, changed))
    return used


def _reclassifications(crime: Mapping[str, Any], used: Sequence[tuple[Applied, list[tuple[Any, dict[str, Any]]]]],
                       facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The answers to presumed facts that would record this crime, covering the same
    allegations, under another classification, each with that classification. (An answer that
    records fewer of them, such as evidence to the contrary, is not a re-classification.)"""
    covers = {(c["act"], c["victim"]) for c in crime["covers"]}
    code = crime["classification"]["code"]
    out = []
    for a, changed in used:
        for alt, other in changed:
            for c in other["crimes"]:
                if covers == {(x["act"], x["victim"]) for x in c["covers"]} and c["classification"]["code"] != code:
                    entity, fld = _entity(facts, a.pointer)
                    out.append({"presumption": a.presumption.id, "pointer": a.pointer, "entity": entity, "field": fld,
                                "question": question_for(a.pointer), "presumed": fresh(a.presumption.value), "answer": fresh(alt),
                                "classification": c["classification"]})
                    break
    return out


def _trace_entry(applied: Sequence[Applied]) -> dict[str, Any]:
    return {
        "decision": "(presumptions)",  # not a decision name: those have no brackets
        "scope": "incident",
        "state": "value" if applied else "absent",
        "rule": None,
        "value": [{"pointer": a.pointer, "presumption": a.presumption.id, "value": fresh(a.presumption.value)} for a in applied],
        "facts_needed": [],
        "rules": [{**_trace_ref(a), "result": "applied", "facts": [], "value": {a.pointer: fresh(a.presumption.value)}} for a in applied],
    }


def _trace_ref(a: Applied) -> dict[str, Any]:
    p = a.presumption
    return {"rule": p.id, "title": p.title, "citation": p.citation, "verification": p.verification}


def add_presumptions(book: Any, inc: Incident, day: Any, decision: dict[str, Any], applied: Sequence[Applied],
                     decide_with: Decider, could_matter: Callable[[Applied], bool] | None = None) -> dict[str, Any]:
    """Complete ``decision`` (made on the presumed facts) with its presumptions, their other
    answers and the provisional marks of its crimes. ``could_matter`` (None: every one could)
    says whether another answer to a presumed fact could change the decision at all."""
    used = _used(applied, decision, decide_with, could_matter) if applied else []
    facts = inc.facts
    entries = []
    for a, changed in used:
        entity, fld = _entity(facts, a.pointer)
        entries.append({**a.presumption.ref(), "pointer": a.pointer, "entity": entity, "field": fld,
                        "question": question_for(a.pointer), "value": fresh(a.presumption.value),
                        "alternatives": [_answer(alt, other) for alt, other in changed]})
    # In order of presumption and entity id, so that the order of the incident's lists does not matter.
    entries.sort(key=lambda e: (e["id"], e["entity"]))
    decision["presumptions"] = entries
    provisional = []
    for crime in decision["crimes"]:
        crime["reclassify_if"] = sorted(_reclassifications(crime, used, facts),
                                        key=lambda r: (r["presumption"], r["entity"], json.dumps(r["answer"])))
        crime["provisional"] = bool(crime["reclassify_if"])
        if crime["provisional"]:
            provisional.append(crime)
    if provisional:
        decision["summary"] += " Provisional: " + "; ".join(
            f"{c['id']} {c['classification']['code']} until {', '.join(sorted({r['field'] for r in c['reclassify_if']}))} known"
            for c in provisional) + "."
    decision["unverified_rules"] = sorted(set(decision["unverified_rules"]) | {
        e["id"] for e in entries if e["verification"] != "verified"})
    if "trace" in decision:
        decision["trace"].insert(0, _trace_entry(applied))
    return decision
