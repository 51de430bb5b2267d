"""Unit tests of the evaluation pipeline (hocr.engine): the default logic of ``decide`` on a
small rulebook built for the purpose, and properties of ``evaluate`` on the shipped one."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hocr.conditions import Scope
from hocr.engine import Outcome, decide, evaluate
from hocr.loader import Rulebook, data_path, load_rulebook

DAY = dt.date(2024, 6, 1)


def decision(name: str, extra: str = "", if_none: str = "undetermined") -> str:
    return (
        f"  - name: {name}\n"
        f"    scope: incident\n"
        f"    title: Test decision {name}\n"
        f"    outputs:\n"
        f"      outcome: {{enum: [allow, deny]}}\n"
        f"      reason: {{type: string}}\n"
        f"    if_no_rule_applies: {if_none}\n"
        f"{extra}"
    )


def rule(rid: str, dname: str, when: str | None, outcome: str, reason: str, extra: str = "") -> str:
    out = (
        f"  - id: {rid}\n"
        f"    decision: {dname}\n"
        f"    title: Rule {rid}\n"
        f"    summary: A test rule.\n"
    )
    if when is not None:
        out += f"    when: {when}\n"
    out += f"    then: {{outcome: {outcome}, reason: {reason}}}\n{extra}"
    return out


def eq(fact: str, value: int = 1) -> str:
    return f"{{fact: incident.{fact}, equals: {value}}}"


DECISIONS = "decisions:\n" + "".join([
    decision("exc"),
    decision("trans"),
    decision("confl"),
    decision("det", "    determined_by: [outcome]\n"),
    decision("det_all"),
    decision("none_u"),
    decision("none_a", if_none="absent"),
    decision("dated"),
    decision("tbl"),
    decision("gated"),
    decision("pres"),
])

RULES = """\
defaults:
  source: {document: Test, edition: "1", section: S}
  in_force: {from: "2000-01-01"}
  verification: unverified
rules:
""" + "".join([
    rule("exc.base", "exc", eq("a"), "allow", "base"),
    rule("exc.exception", "exc", eq("b"), "deny", "exception", "    overrides: [exc.base]\n"),
    rule("trans.a", "trans", eq("p"), "allow", "a"),
    rule("trans.b", "trans", eq("q"), "deny", "b", "    overrides: [trans.a]\n"),
    rule("trans.c", "trans", eq("r"), "allow", "c", "    overrides: [trans.b]\n"),
    rule("confl.x", "confl", eq("a"), "allow", "x"),
    rule("confl.y", "confl", eq("c"), "deny", "y"),
    rule("det.win", "det", eq("a"), "allow", "win"),
    rule("det.same", "det", eq("u"), "allow", "same-outcome"),
    rule("det.diff", "det", eq("v"), "deny", "other-outcome"),
    rule("det_all.win", "det_all", eq("a"), "allow", "win"),
    rule("det_all.same", "det_all", eq("u"), "allow", "same-outcome"),
    rule("none_u.only", "none_u", eq("a"), "allow", "only"),
    rule("none_a.only", "none_a", eq("a"), "allow", "only"),
    rule("dated.old", "dated", None, "allow", "old", '    in_force: {from: "2000-01-01", to: "2020-12-31"}\n'),
    rule("dated.new", "dated", None, "deny", "new", '    in_force: {from: "2021-01-01"}\n'),
    rule("dated.future", "dated", eq("a"), "allow", "future", '    in_force: {from: "2030-01-01"}\n'),
]) + """\
  - id: tbl.overlap
    decision: tbl
    title: An overlapping unique table
    summary: Two rows can match the same facts.
    table:
      hit_policy: unique
      inputs:
        - {name: a, fact: incident.a}
        - {name: b, fact: incident.b}
      rows:
        - {id: r1, when: {a: 1}, then: {outcome: allow, reason: r1}}
        - {id: r2, when: {b: 1}, then: {outcome: deny, reason: r2}}
  - id: pres.rule
    decision: pres
    title: A rule with a presence guard and a value guard
    summary: Test.
    when:
      all:
        - {fact: incident.e, exists: true}
        - {fact: incident.k, equals: 1}
    then: {outcome: allow, reason: present}
  - id: gated.table
    decision: gated
    title: A table behind a condition
    summary: The table's facts matter only once the condition holds.
    when: {fact: incident.k, equals: 1}
    table:
      hit_policy: unique
      inputs:
        - {name: x, fact: incident.x, domain: [1, 2]}
      rows:
        - {id: one, when: {x: 1}, then: {outcome: allow, reason: one}}
        - {id: two, when: {x: 2}, then: {outcome: deny, reason: two}}
"""


@pytest.fixture(scope="module")
def tbook(tmp_path_factory: pytest.TempPathFactory) -> Rulebook:
    base = tmp_path_factory.mktemp("engine") / "rules"
    base.mkdir()
    shutil.copy(data_path("rules") / "rulebook.yaml", base / "rulebook.yaml")
    (base / "decisions.yaml").write_text(DECISIONS)
    (base / "rules.yaml").write_text(RULES)
    return load_rulebook(base)


def run(book: Rulebook, name: str, day: dt.date = DAY, traced: bool = False, **facts: Any) -> Outcome:
    scope = Scope({"incident": facts}, {"incident": ""})
    return decide(book.decisions[name], day, scope, traced, "incident")


def summary(o: Outcome) -> tuple[Any, ...]:
    return (o.state, o.rule.id if o.rule else None, o.value, o.missing, o.blocking, o.conflict)


# ------------------------------------------------------------------------------------------
# Default logic
# ------------------------------------------------------------------------------------------


def test_base_rule_alone(tbook: Rulebook) -> None:
    o = run(tbook, "exc", a=1, b=0)
    assert summary(o) == ("value", "exc.base", {"outcome": "allow", "reason": "base"}, frozenset(), (), ())
    assert o.as_root() == {"outcome": "allow", "reason": "base"}


def test_exception_overrides_base_rule(tbook: Rulebook) -> None:
    o = run(tbook, "exc", a=1, b=1)
    assert summary(o) == ("value", "exc.exception", {"outcome": "deny", "reason": "exception"},
                          frozenset(), (), ())


def test_exception_alone(tbook: Rulebook) -> None:
    assert run(tbook, "exc", a=0, b=1).value == {"outcome": "deny", "reason": "exception"}


def test_unknown_overriding_rule_makes_the_decision_undetermined(tbook: Rulebook) -> None:
    o = run(tbook, "exc", a=1)
    assert summary(o) == ("undetermined", None, None, frozenset({"/b"}), ("exc.exception",), ())
    assert o.as_root().missing == frozenset({"/b"})


def test_unknown_rule_overridden_by_an_applicable_rule_does_not_block(tbook: Rulebook) -> None:
    o = run(tbook, "exc", b=1)  # exc.base unknown, but exc.exception overrides it and applies
    assert summary(o) == ("value", "exc.exception", {"outcome": "deny", "reason": "exception"},
                          frozenset(), (), ())


@pytest.mark.parametrize(
    ("facts", "winner"),
    [
        ({"p": 1, "q": 1, "r": 1}, "trans.c"),
        ({"p": 1, "q": 0, "r": 1}, "trans.c"),  # c defeats a through b even though b does not apply
        ({"p": 1, "q": 1, "r": 0}, "trans.b"),
        ({"p": 1, "q": 0, "r": 0}, "trans.a"),
        ({"p": 1, "r": 1}, "trans.c"),  # b unknown, but defeated by c which applies
        ({"q": 1, "r": 1}, "trans.c"),
    ],
)
def test_transitive_override(tbook: Rulebook, facts: dict[str, int], winner: str) -> None:
    o = run(tbook, "trans", **facts)
    assert (o.state, o.rule.id if o.rule else None) == ("value", winner)
    assert o.value["reason"] == winner[-1]


def test_transitive_override_open_top_rule_blocks(tbook: Rulebook) -> None:
    o = run(tbook, "trans", p=1, q=1)
    assert summary(o) == ("undetermined", None, None, frozenset({"/r"}), ("trans.c",), ())


def test_unknown_base_rules_collect_missing_facts(tbook: Rulebook) -> None:
    o = run(tbook, "trans", r=0)
    assert o.state == "undetermined"
    assert o.missing == frozenset({"/p", "/q"})
    assert o.blocking == ("trans.a", "trans.b")


def test_two_applicable_rules_without_override_conflict(tbook: Rulebook) -> None:
    o = run(tbook, "confl", a=1, c=1)
    assert summary(o) == ("conflict", None, None, frozenset(), (), ("confl.x", "confl.y"))
    o = run(tbook, "confl", a=1, c=0)
    assert (o.state, o.rule.id if o.rule else None) == ("value", "confl.x")


def test_open_rule_that_could_conflict_blocks(tbook: Rulebook) -> None:
    o = run(tbook, "confl", a=1)
    assert summary(o) == ("undetermined", None, None, frozenset({"/c"}), ("confl.y",), ())


def test_determined_by_open_rule_changing_only_other_outputs_does_not_block(tbook: Rulebook) -> None:
    o = run(tbook, "det", a=1, v=0)  # det.same is open but can only conclude outcome=yes too
    assert summary(o) == ("value", "det.win", {"outcome": "allow", "reason": "win"}, frozenset(), (), ())


def test_determined_by_open_rule_changing_the_determining_output_blocks(tbook: Rulebook) -> None:
    o = run(tbook, "det", a=1, u=0)
    assert summary(o) == ("undetermined", None, None, frozenset({"/v"}), ("det.diff",), ())


def test_determined_by_two_applicable_rules_still_conflict(tbook: Rulebook) -> None:
    assert run(tbook, "det", a=1, u=1, v=0).conflict == ("det.same", "det.win")


def test_without_determined_by_every_output_determines(tbook: Rulebook) -> None:
    assert tbook.decisions["det_all"].determined_by == ("outcome", "reason")
    assert tbook.decisions["det"].determined_by == ("outcome",)
    o = run(tbook, "det_all", a=1)
    assert summary(o) == ("undetermined", None, None, frozenset({"/u"}), ("det_all.same",), ())


def test_if_no_rule_applies_undetermined(tbook: Rulebook) -> None:
    o = run(tbook, "none_u", a=0)
    assert summary(o) == ("undetermined", None, None, frozenset(), ("(no rule applies)",), ())


def test_if_no_rule_applies_absent(tbook: Rulebook) -> None:
    o = run(tbook, "none_a", a=0)
    assert summary(o) == ("absent", None, None, frozenset(), (), ())
    from hocr.conditions import MISSING

    assert o.as_root() is MISSING


@pytest.mark.parametrize("name", ["none_u", "none_a"])
def test_unknown_rule_is_undetermined_whatever_if_no_rule_applies(tbook: Rulebook, name: str) -> None:
    o = run(tbook, name)
    assert summary(o) == ("undetermined", None, None, frozenset({"/a"}), (f"{name}.only",), ())


@pytest.mark.parametrize(
    ("day", "winner"),
    [
        (dt.date(2020, 6, 1), "dated.old"),
        (dt.date(2020, 12, 31), "dated.old"),  # the last day in force is inclusive
        (dt.date(2021, 1, 1), "dated.new"),
        (dt.date(2029, 12, 31), "dated.new"),
    ],
)
def test_rules_not_in_force_are_ignored(tbook: Rulebook, day: dt.date, winner: str) -> None:
    o = run(tbook, "dated", day=day, a=1)
    assert (o.state, o.rule.id if o.rule else None) == ("value", winner)


def test_rules_in_force_together_can_conflict(tbook: Rulebook) -> None:
    assert run(tbook, "dated", day=dt.date(2030, 1, 1), a=1).conflict == ("dated.future", "dated.new")
    o = run(tbook, "dated", day=dt.date(2030, 1, 1), a=0)
    assert (o.state, o.rule.id if o.rule else None) == ("value", "dated.new")


def test_rules_before_the_first_in_force_day(tbook: Rulebook) -> None:
    o = run(tbook, "dated", day=dt.date(1999, 12, 31), a=1)
    assert summary(o) == ("undetermined", None, None, frozenset(), ("(no rule applies)",), ())


def test_overlapping_unique_table_is_a_conflict(tbook: Rulebook) -> None:
    o = run(tbook, "tbl", a=1, b=1)
    assert (o.state, o.conflict) == ("conflict", ("tbl.overlap",))
    o = run(tbook, "tbl", a=1, b=0)
    assert (o.state, o.value, [r.id for r in o.rows]) == ("value", {"outcome": "allow", "reason": "r1"}, ["r1"])


def test_trace_of_an_override(tbook: Rulebook) -> None:
    o = run(tbook, "exc", traced=True, a=1, b=1)
    assert o.trace is not None
    assert (o.trace["state"], o.trace["rule"]) == ("value", "exc.exception")
    results = {e["rule"]: e for e in o.trace["rules"]}
    assert results["exc.base"]["result"] == "overridden"
    assert results["exc.base"]["overridden_by"] == ["exc.exception"]
    assert results["exc.exception"]["result"] == "applied"
    assert results["exc.exception"]["overrides"] == ["exc.base"]
    untraced = run(tbook, "exc", a=1, b=1)
    assert untraced.trace is None
    assert summary(untraced) == summary(o)


def test_trace_of_unknown_rule_lists_facts_needed(tbook: Rulebook) -> None:
    o = run(tbook, "exc", traced=True, a=1)
    assert o.trace is not None
    entry = {e["rule"]: e for e in o.trace["rules"]}["exc.exception"]
    assert entry["result"] == "unknown"
    assert entry["facts_needed"] == ["/b"]
    assert o.trace["facts_needed"] == ["/b"]


# ------------------------------------------------------------------------------------------
# evaluate() on the shipped rulebook
# ------------------------------------------------------------------------------------------

TVP = {"force": "Thames Valley Police", "in_england_and_wales": True}
INCIDENT: dict[str, Any] = {
    "id": "ENG-1",
    "report": {
        "received_at": "2024-03-04T08:10",
        "received_by_force": "Thames Valley Police",
        "channel": "non_emergency_call",
        "reporter": {"type": "third_party"},
    },
    "victims": [
        {"id": "V1", "kind": "person", "confirms_crime": True, "vulnerable": False},
        {"id": "V2", "kind": "person"},
        {"id": "V3", "kind": "person", "confirms_crime": False, "traceable": True,
         "vulnerable": False},
        {"id": "V4", "kind": "person", "confirms_crime": True, "vulnerable": False},
    ],
    "suspects": [{"id": "S1"}, {"id": "S2"}],
    "acts": [
        {"id": "A1", "classification": "44", "occurred_at": "2024-03-03T23:00",
         "victims": ["V1", "V2", "V3"], "suspects": ["S1", "S2"], "contrary_evidence": [],
         "location": TVP},
        {"id": "A2", "classification": "49", "victims": ["V4", "V2"], "contrary_evidence": [],
         "location": TVP},
        {"id": "A3", "classification": "49", "victims": ["V1"], "suspects": ["S2", "S1"],
         "contrary_evidence": [], "location": TVP},
        {"id": "A4", "elements": {"kind": "no_offence"}, "victims": ["V3"]},
    ],
}


def without_pointers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_pointers(v) for k, v in value.items() if k != "pointer"}
    if isinstance(value, list):
        return [without_pointers(v) for v in value]
    return value


def dump(result: dict[str, Any]) -> str:
    return json.dumps(without_pointers(result), sort_keys=True)


@pytest.fixture(scope="module")
def shipped() -> Rulebook:
    return load_rulebook()


@pytest.fixture(scope="module")
def baseline(shipped: Rulebook) -> dict[str, Any]:
    return evaluate(shipped, copy.deepcopy(INCIDENT))


def test_the_test_incident_exercises_every_outcome(baseline: dict[str, Any]) -> None:
    assert baseline["status"] == "undetermined"
    assert baseline["crime_count"] == 2
    assert [(c["id"], c["classification"]["code"], c["victim"], c["acts"]) for c in baseline["crimes"]] == [
        ("C1", "44", "V1", ["A1", "A3"]),
        ("C2", "49", "V4", ["A2"]),
    ]
    assert [(a["act"], a["into"]) for a in baseline["absorbed"]] == [("A3", "C1")]
    assert [(n["act"], n["victim"]) for n in baseline["not_recorded"]] == [("A1", "V3"), ("A4", "V3")]
    assert [(u["act"], u["victim"]) for u in baseline["undetermined"]] == [("A1", "V2"), ("A2", "V2")]
    needed = [f for u in baseline["undetermined"] for f in u["facts_needed"]]
    assert {f["entity"] for f in needed} >= {"victim V2"}
    assert all(f["pointer"].startswith("/victims/1/") for f in needed if f["entity"] == "victim V2")


def reorder(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["acts"].reverse()
    data["victims"] = data["victims"][1:] + data["victims"][:1]
    data["suspects"].reverse()
    for act in data["acts"]:
        for key in ("victims", "suspects"):
            if key in act:
                act[key].reverse()
    return data


def test_evaluate_is_independent_of_list_order(shipped: Rulebook, baseline: dict[str, Any]) -> None:
    reordered = reorder(INCIDENT)
    assert [a["id"] for a in reordered["acts"]] != [a["id"] for a in INCIDENT["acts"]]
    result = evaluate(shipped, reordered)
    assert dump(result) == dump(baseline)
    # The pointers themselves follow the reordered lists.
    needed = [f for u in result["undetermined"] for f in u["facts_needed"]]
    assert any(f["pointer"].startswith("/victims/0/") for f in needed if f["entity"] == "victim V2")


def test_evaluate_with_and_without_trace(shipped: Rulebook, baseline: dict[str, Any]) -> None:
    traced = evaluate(shipped, copy.deepcopy(INCIDENT), trace=True)
    assert isinstance(traced.pop("trace"), list)
    assert "trace" not in baseline
    assert json.dumps(traced, sort_keys=True) == json.dumps(baseline, sort_keys=True)


def test_evaluate_from_eight_threads(shipped: Rulebook, baseline: dict[str, Any]) -> None:
    expected = json.dumps(baseline, sort_keys=True)
    inputs = [copy.deepcopy(INCIDENT) for _ in range(32)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda d: evaluate(shipped, d, trace=len(d) % 2 == 0), inputs))
    for r in results:
        r.pop("trace", None)
        assert json.dumps(r, sort_keys=True) == expected


def test_evaluate_does_not_change_its_input(shipped: Rulebook) -> None:
    data = copy.deepcopy(INCIDENT)
    evaluate(shipped, data)
    assert data == INCIDENT


def test_deadline_is_24_real_hours_across_the_clock_change(shipped: Rulebook, tmp_path: Path) -> None:
    data = json.loads((data_path("examples") / "victim-report-recorded.json").read_text())
    data["report"]["received_at"] = "2024-03-30T12:00"
    data["recorded_at"] = "2024-03-31T12:30"  # 23.5 real hours later
    deadline = evaluate(shipped, data)["deadline"]
    assert deadline["due"] == "2024-03-31T13:00:00+01:00"
    assert deadline["hours_to_record"] == 23.5
    assert deadline["met"] is True


@pytest.mark.parametrize("traced", [False, True])
def test_a_table_behind_an_unknown_condition_asks_only_the_condition(tbook: Rulebook, traced: bool) -> None:
    # Neither the condition's fact nor the table's is given: only the condition's is asked.
    o = run(tbook, "gated", traced=traced)
    assert (o.state, o.missing) == ("undetermined", frozenset({"/k"}))
    # The condition holds: now the table's fact is asked.
    o = run(tbook, "gated", traced=traced, k=1)
    assert (o.state, o.missing) == ("undetermined", frozenset({"/x"}))
    assert summary(run(tbook, "gated", traced=traced, k=1, x=2))[:3] == ("value", "gated.table", {"outcome": "deny", "reason": "two"})
    assert run(tbook, "gated", traced=traced, k=2).state == "undetermined"  # no rule applies


def test_guard_index_leaves_out_only_rules_that_cannot_apply(tbook: Rulebook) -> None:
    from hocr.engine import _candidates

    d = tbook.decisions["exc"]

    def ids(**facts: Any) -> list[str]:
        return [r.id for r in _candidates(d, DAY, Scope({"incident": facts}, {"incident": ""}))]

    assert ids(a=1, b=0) == ["exc.base"]
    assert ids(a=0, b=0) == []
    assert ids(a=1) == ["exc.base", "exc.exception"]  # b unknown: the exception may apply
    assert ids(a=True, b=1) == ["exc.exception"]  # true is not 1
    assert ids(a=1.0, b=1) == ["exc.base", "exc.exception"]  # 1.0 is 1
    assert ids(a=[1], b=1) == ["exc.base", "exc.exception"]  # not a scalar: evaluated, not indexed


def test_presence_guard_leaves_out_rules_whose_required_fact_is_absent(tbook: Rulebook) -> None:
    from hocr.engine import _candidates

    d = tbook.decisions["pres"]

    def ids(**facts: Any) -> list[str]:
        return [r.id for r in _candidates(d, DAY, Scope({"incident": facts}, {"incident": ""}))]

    assert ids() == []
    assert ids(k=1) == []
    assert ids(e=0, k=2) == []
    assert ids(e=0, k=1) == ["pres.rule"]
    assert ids(e=0) == ["pres.rule"]
    assert run(tbook, "pres", e=0).state == "undetermined"
    assert run(tbook, "pres", k=1).state == "undetermined"  # no rule applies: the gap is reported


# --------------------------------------------------------------------------------------------
# Presumptions and provisional classification (issue 11), on the shipped rulebook
# --------------------------------------------------------------------------------------------

def _assault(**elements: Any) -> dict[str, Any]:
    return {
        "schema_version": "1", "id": "P1",
        "report": {"received_at": "2024-06-03T10:00", "received_by_force": "Thames Valley Police",
                   "reporter": {"type": "victim"}},
        "victims": [{"id": "V1", "kind": "person"}],
        "acts": [{"id": "A1", "elements": {"kind": "assault", **elements},
                  "location": {"force": "Thames Valley Police", "in_england_and_wales": True}, "victims": ["V1"]}],
    }


def test_serious_injury_and_unknown_intent_is_one_crime_8n_provisional(shipped: Rulebook) -> None:
    d = evaluate(shipped, _assault(injury="serious"))
    assert d["status"] == "decided" and d["crime_count"] == 1 and not d["undetermined"]
    (crime,) = d["crimes"]
    assert crime["classification"]["code"] == "8N" and crime["provisional"] is True
    answers = {(r["field"], json.dumps(r["answer"])): r["classification"]["code"] for r in crime["reclassify_if"]}
    assert answers[("elements/intent", '"serious_harm"')] == "5D"


def test_without_presumptions_the_same_report_is_undetermined(shipped: Rulebook) -> None:
    d = evaluate(shipped, _assault(injury="serious"), presume=False)
    assert d["status"] == "undetermined" and d["crime_count"] == 0
    assert "presumptions" not in d and "provisional" not in (d["crimes"] or [{}])[0]


def test_a_stated_fact_is_never_presumed_even_when_it_equals_the_presumed_value(shipped: Rulebook) -> None:
    stated = evaluate(shipped, _assault(injury="minor", intent="none"))
    assert "vap.presume.no-intent-stated" not in {p["id"] for p in stated["presumptions"]}
    assert all(r["field"] != "elements/intent" for r in stated["crimes"][0]["reclassify_if"])


def test_presumptions_are_listed_with_what_each_other_answer_gives(shipped: Rulebook) -> None:
    d = evaluate(shipped, _assault(injury="none"))
    by_id = {p["id"]: p for p in d["presumptions"]}
    evidence = by_id["ncrs.presume.no-contrary-evidence"]
    assert evidence["pointer"] == "/acts/0/contrary_evidence" and evidence["value"] == []
    (alt,) = evidence["alternatives"]
    assert alt["crimes"] == [] and alt["not_recorded"][0]["reason"] == "credible-evidence-to-contrary"
    assert {a["value"] for a in by_id["ncrs.presume.not-aggravated"]["alternatives"]} == {True}
    assert d["unverified_rules"] == sorted(d["unverified_rules"]) and "vap.presume.no-intent-stated" in d["unverified_rules"]


def test_a_presumption_that_changes_nothing_is_not_listed(shipped: Rulebook) -> None:
    theft = _assault()
    theft["acts"][0]["classification"] = "48"
    del theft["acts"][0]["elements"]
    d = evaluate(shipped, theft)
    assert [p["id"] for p in d["presumptions"]] == ["ncrs.presume.no-contrary-evidence"]
    assert d["crimes"][0]["provisional"] is False


def test_the_trace_starts_with_what_was_presumed(shipped: Rulebook) -> None:
    d = evaluate(shipped, _assault(injury="serious"), trace=True)
    first = d["trace"][0]
    assert first["decision"] == "(presumptions)" and first["scope"] == "incident"
    assert {e["pointer"] for e in first["value"]} == {"/acts/0/attempt", "/acts/0/contrary_evidence", "/acts/0/elements/intent",
                                                      "/acts/0/elements/racially_or_religiously_aggravated", "/victims/0/role"}
    untraced = evaluate(shipped, _assault(injury="serious"))
    d.pop("trace")
    assert d == untraced


def test_a_rule_is_guarded_on_its_sharpest_equality_first() -> None:
    # A truth value splits a decision's rules in two; a code or a role leaves a few. The guard is
    # the first conjunct naming such values, else the first on a truth value.
    from hocr.conditions import PathResolver
    from hocr.loader import _guards

    paths = PathResolver(["classification", "act"])

    def guard(*conjuncts: dict[str, Any]) -> tuple[str, frozenset[Any]] | None:
        found, _ = _guards({"all": list(conjuncts)}, paths)
        return None if found is None else (found[0], found[2])

    notifiable = {"fact": "classification.notifiable", "equals": True}
    code = {"fact": "classification.code", "in": ["8R", "8L"]}
    armed = {"fact": "act.elements.armed", "equals": False}
    assert guard(notifiable, code) == ("classification.code", frozenset({("s", "8R"), ("s", "8L")}))
    assert guard(code, notifiable) == guard(notifiable, code)
    assert guard(notifiable, armed) == ("classification.notifiable", frozenset({("b", True)}))
    assert guard(armed, {"fact": "act.kind", "equals": "assault"}) == ("act.kind", frozenset({("s", "assault")}))
    assert guard({"fact": "act.kind", "exists": True}) is None
