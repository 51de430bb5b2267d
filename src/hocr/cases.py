"""Worked cases: an incident plus the parts of the decision expected, checked against the engine.

A case file (``tests/cases/**/*.yaml``) holds ``cases:``, a list of::

    name: GEN-001 a victim reports her bicycle stolen     # the test's name
    source: "shared/cases GEN-001 [V] ..."                # where the case comes from
    as_of: 2024-03-04                                     # optional; default the report date
    incident: {...}            # or incident_file: path relative to the case file
    expect:
      status: decided          # decided | undetermined | conflict
      crime_count: 1
      crimes: [{classification: "44", victim: V1}]        # the exact list of crimes, any order;
                                                          # each entry may also give acts,
                                                          # suspects, victim_kind, flags
                                                          # (the exact list: [domestic_abuse,
                                                          # "hate_crime:race"], [] for none),
                                                          # provisional and reclassify_if:
                                                          # [{pointer, answer, classification}]
                                                          # (each must be listed)
      not_recorded: [{act: A1, victim: V1, reason: ..., record_as: N100, refer_to: ...}]
      undetermined: [{act: A1, victim: V1, facts_needed: [/victims/0/confirms_crime]}]
      absorbed: [{act: A2, victim: V1, classification: "8N", into_classification: "34B"}]
      deadline: {met: false, due: "2024-02-13T09:00:00+00:00"}
      findings: [{act: A1, finding: contradicts_facts, suggested: "105A", rule: some.rule.id}]
                               # the exact list of findings (any order); `rule` is the id of the
                               # rule that made it
      force_record:            # each crime of the incident's force_record, by its ref
        CR1: {match: recorded, crime_classification: "8N",
              verdicts: {cancellation: {verdict: invalid, rule: general.c.some-rule},
                         outcome: {state: undetermined, facts_needed: [/victims/0/supports_action]}}}
      presumptions: [ncrs.presume.no-contrary-evidence]  # the exact set of presumptions listed
      rules: [ncrs.victim-account]   # rules that must be among those the decision relies on
      error: [/acts/0/classification]  # for bad input: the pointers the errors must name
      why_not:                 # hocr.whynot.why_not for a target (or a list of these)
        target: "8N"           # a classification code, record, or "not recorded"
        blocking: [/acts/0/elements/injury]  # facts that some way to the target changes (each
                               # must be changed by a way found)
        rules: [general.b.from-elements]     # rules that would then apply (each must be a way's
                               # deciding rule, or a rule that also decides differently)
        not_blocking: [/acts/0/circumstances/threatening]  # facts no way found changes (a
                               # rule not yet in force on the date gives no way)
        holds: false           # optional: true when the target already holds everywhere
      explanation:             # hocr.explain.explanation of the traced decision
        steps: [report, confirmation, location, classification, counting, deadline]
                               # the exact keys of its steps, in order
        rules: [ncrs.victim-account]  # rules each step list must name (in some step)
        lines_at_most: 40      # the rendered text's length

Lists of crimes, not-recorded and undetermined entries are compared exactly (same number, any
order); within an entry only the keys given are compared.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .engine import evaluate
from .explain import explanation, render_explanation
from .incident import InvalidIncident
from .loader import Rulebook, load_yaml
from .whynot import why_not


class CaseFailure(AssertionError):
    pass


def load_case_file(path: Path) -> list[dict[str, Any]]:
    data, _ = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CaseFailure(f"{path}: a case file needs a top-level 'cases' list")
    return list(data["cases"])


def case_incident(case: Mapping[str, Any], base: Path) -> Any:
    if "incident" in case:
        return case["incident"]
    return json.loads((base / case["incident_file"]).read_text(encoding="utf-8"))


def run_case(book: Rulebook, case: Mapping[str, Any], base: Path) -> dict[str, Any] | None:
    """Evaluate one case and raise :class:`CaseFailure` listing every difference."""
    expect = case.get("expect", {})
    as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
    try:
        decision = evaluate(book, case_incident(case, base), as_of=as_of)
    except InvalidIncident as exc:
        if "error" not in expect:
            raise CaseFailure(f"the incident was rejected:\n{exc}") from exc
        pointers = {p.pointer for p in exc.problems}
        missing = [p for p in expect["error"] if p not in pointers]
        if missing:
            raise CaseFailure(f"expected errors at {missing}, got:\n{exc}") from exc
        return None
    if "error" in expect:
        raise CaseFailure(f"expected the incident to be rejected, got status {decision['status']}")
    problems = compare(decision, expect)
    incident = case_incident(case, base)
    for want in _as_list(expect.get("why_not")):
        problems += compare_why_not(why_not(book, incident, str(want["target"]), as_of), want)
    if "explanation" in expect:
        traced = evaluate(book, incident, as_of=as_of, trace=True)
        problems += compare_explanation(explanation(book, traced, traced["trace"], incident), expect["explanation"])
    if problems:
        raise CaseFailure("\n".join(problems) + "\n\ndecision summary: " + decision["summary"])
    return decision


def _as_list(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def compare_why_not(result: Mapping[str, Any], want: Mapping[str, Any]) -> list[str]:
    """A why-not answer against a case's ``why_not`` expectation."""
    label = f"why_not {want['target']}"
    blocked = [e for e in result["entries"] if not e["holds"]]
    if "holds" in want and (not blocked) != bool(want["holds"]):
        return [f"{label}: expected the target {'to hold' if want['holds'] else 'not to hold'}; entries: "
                + "; ".join(f"{e['scope']} {e['now']}" for e in result["entries"])]
    ways = [w for e in blocked for w in e["ways"]]
    changed = {c["pointer"] for w in ways for c in w["changes"]}
    deciding = {w["rule"]["id"] for w in ways if w.get("rule")} | {a["id"] for w in ways for a in w.get("also", [])}
    problems = [f"{label}: no way found changes {p} (ways change {sorted(changed)})" for p in want.get("blocking", []) if p not in changed]
    problems += [f"{label}: no way found applies {r} (ways apply {sorted(deciding)})" for r in want.get("rules", []) if r not in deciding]
    problems += [f"{label}: a way changes {p}, expected none to" for p in want.get("not_blocking", []) if p in changed]
    return problems


def compare_explanation(expl: Mapping[str, Any], want: Mapping[str, Any]) -> list[str]:
    """An explanation against a case's ``explanation`` expectation."""
    problems = []
    keys = [s["key"] for s in expl["steps"]]
    if "steps" in want and keys != list(want["steps"]):
        problems.append(f"explanation.steps: expected {list(want['steps'])}, got {keys}")
    named = {r["id"] for s in expl["steps"] for r in s["rules"]}
    problems += [f"explanation.rules: {r} is named in no step ({sorted(named)})" for r in want.get("rules", []) if r not in named]
    length = render_explanation(expl).count("\n")
    if "lines_at_most" in want and length > int(want["lines_at_most"]):
        problems.append(f"explanation: {length} lines, expected at most {want['lines_at_most']}")
    return problems


def _subset(entry: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    for key, value in want.items():
        if key == "classification":
            got = entry.get("classification")
            code = got.get("code") if isinstance(got, Mapping) else got
            if code != value:
                return False
        elif key == "record_as":
            got = entry.get("record_as")
            if (got or {}).get("record") != value:
                return False
        elif key == "facts_needed":
            got_ptrs = sorted(f["pointer"] for f in entry.get("facts_needed", []))
            if got_ptrs != sorted(value):
                return False
        elif key == "into_classification":
            continue
        elif key == "flags":
            if flag_names(entry.get("flags", [])) != sorted(value):
                return False
        elif key == "reclassify_if":
            got_q = {(r["pointer"], json.dumps(r["answer"]), r["classification"]["code"]) for r in entry.get("reclassify_if", [])}
            if any((w["pointer"], json.dumps(w["answer"]), w["classification"]) not in got_q for w in value):
                return False
        elif entry.get(key) != value:
            return False
    return True


def flag_names(flags: Sequence[Mapping[str, Any]]) -> list[str]:
    """A crime's flags as a case writes them: ``domestic_abuse``, ``hate_crime:race``."""
    return sorted(f"{f['flag']}:{f['strand']}" if f.get("strand") else str(f["flag"]) for f in flags)


def _match_list(label: str, got: Sequence[Mapping[str, Any]], want: Sequence[Mapping[str, Any]]) -> list[str]:
    remaining = list(got)
    problems = []
    for w in want:
        for i, g in enumerate(remaining):
            if _subset(g, w):
                del remaining[i]
                break
        else:
            problems.append(f"{label}: expected an entry like {w}, none matched")
    if remaining:
        problems.append(f"{label}: {len(remaining)} unexpected entr{'y' if len(remaining) == 1 else 'ies'}: {_brief(remaining)}")
    return problems


def _brief(items: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for i in items:
        d = {k: v for k, v in i.items() if k in ("act", "victim", "reason", "classification", "facts_needed", "record_as")}
        if isinstance(d.get("classification"), Mapping):
            d["classification"] = d["classification"]["code"]
        if "facts_needed" in d:
            d["facts_needed"] = [f["pointer"] for f in d["facts_needed"]]
        out.append(str(d))
    return "; ".join(out)


def decisive_rules(decision: Mapping[str, Any]) -> set[str]:
    ids = set()
    for c in decision["crimes"]:
        ids |= {r["id"] for r in c["rules"]}
        ids |= {r["id"] for f in c.get("flags", []) for r in f["rules"]}
    for n in decision["not_recorded"]:
        ids |= {r["id"] for r in n["rules"]}
    for a in decision["absorbed"]:
        ids |= {r["id"] for r in a["rules"]}
    if decision.get("deadline"):
        ids |= {r["id"] for r in decision["deadline"].get("rules", [])}
    return ids


def compare(decision: Mapping[str, Any], expect: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if "status" in expect and decision["status"] != expect["status"]:
        problems.append(f"status: expected {expect['status']}, got {decision['status']}")
    if "crime_count" in expect and decision["crime_count"] != expect["crime_count"]:
        problems.append(f"crime_count: expected {expect['crime_count']}, got {decision['crime_count']}")
    for key in ("crimes", "not_recorded", "undetermined"):
        if key in expect:
            problems += _match_list(key, decision[key], expect[key])
    if "absorbed" in expect:
        crimes = {c["id"]: c for c in decision["crimes"]}
        absorbed = [
            {**a, "into_classification": crimes[a["into"]]["classification"]["code"]}
            for a in decision["absorbed"]
        ]
        for w in expect["absorbed"]:
            if not any(_subset(a, w) and a["into_classification"] == w.get("into_classification", a["into_classification"]) for a in absorbed):
                problems.append(f"absorbed: expected an entry like {w}")
        if len(absorbed) != len(expect["absorbed"]):
            problems.append(f"absorbed: expected {len(expect['absorbed'])} entries, got {len(absorbed)}")
    if "deadline" in expect:
        got = decision.get("deadline")
        if expect["deadline"] is None:
            if got is not None:
                problems.append(f"deadline: expected none, got {got}")
        elif got is None:
            problems.append("deadline: expected one, got none")
        else:
            for k, v in expect["deadline"].items():
                if got.get(k) != v:
                    problems.append(f"deadline.{k}: expected {v!r}, got {got.get(k)!r}")
    if "findings" in expect:
        found = [{**f, "rule": f["rules"][0]["id"] if f["rules"] else None} for f in decision.get("findings", [])]
        problems += _match_list("findings", found, expect["findings"])
    if "force_record" in expect:
        problems += _compare_force_record(decision, expect["force_record"])
    if "presumptions" in expect:
        got_p = sorted({p["id"] for p in decision.get("presumptions", [])})
        if got_p != sorted(expect["presumptions"]):
            problems.append(f"presumptions: expected {sorted(expect['presumptions'])}, got {got_p}")
    if "rules" in expect:
        have = decisive_rules(decision)
        for rid in expect["rules"]:
            if rid not in have:
                problems.append(f"rules: expected {rid} among the rules relied on ({', '.join(sorted(have))})")
    return problems


def _compare_force_record(decision: Mapping[str, Any], want: Mapping[str, Any]) -> list[str]:
    section = decision.get("force_record")
    if section is None:
        return ["force_record: the decision has no force_record section (does the incident have one?)"]
    problems: list[str] = []
    crimes = {c["id"]: c for c in decision["crimes"]}
    by_ref = {c["ref"]: c for c in section["crimes"]}
    for ref, w in want.items():
        got = by_ref.get(str(ref))
        if got is None:
            problems.append(f"force_record.{ref}: no such crime in the force record")
            continue
        if "match" in w and got["match"]["status"] != w["match"]:
            problems.append(f"force_record.{ref}.match: expected {w['match']}, got {got['match']['status']}")
        if "crime_classification" in w:
            crime = crimes.get(got["match"]["crime"] or "")
            code = crime["classification"]["code"] if crime and crime["classification"] else None
            if code != w["crime_classification"]:
                problems.append(f"force_record.{ref}.crime_classification: expected {w['crime_classification']}, got {code}")
        verdicts = {v["decision"]: v for v in got["verdicts"]}
        for name, expected in (w.get("verdicts") or {}).items():
            v = verdicts.get(name)
            if expected is None:
                if v is not None:
                    problems.append(f"force_record.{ref}.{name}: expected no verdict, got {v}")
                continue
            if v is None:
                problems.append(f"force_record.{ref}.{name}: expected a verdict, got none (verdicts: {', '.join(verdicts) or 'none'})")
                continue
            flat = {**v, "rule": v["rules"][0]["id"] if v.get("rules") else None}
            if "state" not in expected and flat["state"] != "value":
                problems.append(f"force_record.{ref}.{name}: expected a value, got {flat['state']} "
                                f"(facts needed: {[f['pointer'] for f in v.get('facts_needed', [])]})")
            elif not _subset(flat, expected):
                shown = {k: flat.get(k) for k in expected}
                problems.append(f"force_record.{ref}.{name}: expected {dict(expected)}, got {shown}")
    return problems
