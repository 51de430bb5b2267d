"""Crime flags (rules/flags/, pipeline role `flags`): the manifest checks on the role, and the
engine's flags on each recorded crime (one entry per flag and strand over every allegation the
crime covers, each with its rules; never a change to what is recorded)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hocr.cases import flag_names
from hocr.engine import evaluate
from hocr.incident import InvalidIncident
from hocr.loader import Rulebook, RulebookError, data_path, load_rulebook

F = "Northshire Police"


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook()


def manifest_with(tmp_path: Path, old: str, new: str) -> Path:
    base = tmp_path / "rules"
    base.mkdir()
    text = (data_path("rules") / "rulebook.yaml").read_text()
    assert old in text
    (base / "rulebook.yaml").write_text(text.replace(old, new, 1))
    return base


def test_a_flags_decision_needs_allegation_scope(tmp_path: Path) -> None:
    base = manifest_with(tmp_path, "flags: [crime_flags]", "flags: [deadline]")
    with pytest.raises(RulebookError) as info:
        load_rulebook(base)
    assert any("pipeline flags: decision 'deadline' must have scope allegation" in p.message for p in info.value.problems)


def test_a_flags_decision_needs_a_flag_output(tmp_path: Path) -> None:
    base = manifest_with(tmp_path, "flags: [crime_flags]", "flags: [reporter_role]")
    with pytest.raises(RulebookError) as info:
        load_rulebook(base)
    assert any("needs an output 'flag'" in p.message for p in info.value.problems)


def test_a_rulebook_without_flags_gives_crimes_no_flags_field(tmp_path: Path) -> None:
    base = tmp_path / "rules"
    shutil.copytree(data_path("rules"), base)
    text = (base / "rulebook.yaml").read_text().replace("    flags: [crime_flags]\n", "", 1)
    (base / "rulebook.yaml").write_text(text)
    d = evaluate(load_rulebook(base), assault(relationship="partner"))
    assert "flags" not in d["crimes"][0]


def assault(relationship: str | None = None, acts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    suspect: dict[str, Any] = {"id": "S1"}
    if relationship:
        suspect["relationship_to_victim"] = relationship
    base_act = {"id": "A1", "classification": "8N", "victims": ["V1"], "suspects": ["S1"], "contrary_evidence": [],
                "location": {"force": F, "in_england_and_wales": True}}
    return {
        "id": "FLAGS-T",
        "report": {"received_at": "2024-03-04T08:10", "received_by_force": F, "reporter": {"type": "victim"}},
        "victims": [{"id": "V1", "kind": "person"}],
        "suspects": [suspect],
        "acts": [{**base_act, **a} for a in acts] if acts else [base_act],
    }


def test_flags_never_change_what_is_recorded(book: Rulebook) -> None:
    plain = evaluate(book, assault())
    flagged = evaluate(book, assault("partner", [{"hostility": [{"strand": "race", "perceived_by": "victim"}],
                                                  "circumstances": {"online": True}}]))
    strip = ("flags",)
    assert [{k: v for k, v in c.items() if k not in strip} for c in plain["crimes"]] == \
           [{k: v for k, v in c.items() if k not in strip} for c in flagged["crimes"]]
    assert plain["status"] == flagged["status"] and plain["undetermined"] == flagged["undetermined"] == []
    assert [f["flag"] for f in flagged["crimes"][0]["flags"]] == ["domestic_abuse", "hate_crime", "online"]
    assert plain["crimes"][0]["flags"] == []


def test_a_crime_carries_the_flags_of_the_allegations_it_absorbs(book: Rulebook) -> None:
    # Two acts against the same victim by the same suspect, reported together: one crime (8N
    # absorbs 105A); the hostility perceived in the absorbed act flags the crime.
    d = evaluate(book, assault(acts=[{"id": "A1"},
                                     {"id": "A2", "classification": "105A",
                                      "hostility": [{"strand": "disability", "perceived_by": "witness"}]}]))
    assert d["crime_count"] == 1 and [a["act"] for a in d["absorbed"]] == ["A2"]
    flags = d["crimes"][0]["flags"]
    assert [(f["flag"], f["strand"]) for f in flags] == [("hate_crime", "disability")]
    assert [r["id"] for r in flags[0]["rules"]] == ["flags.hate-crime.disability"]


def test_one_entry_per_flag_and_strand_with_every_rule(book: Rulebook) -> None:
    d = evaluate(book, assault(acts=[{"offence": {"statute": "Female Genital Mutilation Act 2003", "section": "1"},
                                      "circumstances": {"honour_based": True},
                                      "hostility": [{"strand": "race", "perceived_by": "victim"},
                                                    {"strand": "race", "perceived_by": "police"}]}]))
    flags = d["crimes"][0]["flags"]
    assert [(f["flag"], f["strand"]) for f in flags] == [("hate_crime", "race"), ("honour_based_abuse", None)]
    assert [r["id"] for r in flags[1]["rules"]] == ["flags.honour-based-abuse", "flags.honour-based-abuse.fgm"]
    assert {"flags.hate-crime.race", "flags.honour-based-abuse", "flags.honour-based-abuse.fgm"} <= set(d["unverified_rules"])


def test_flags_are_not_asked_for(book: Rulebook) -> None:
    d = evaluate(book, assault())
    assert d["status"] == "decided" and d["undetermined"] == []


FLAG_ONLY_FACTS = ("hostility",)
FLAG_ONLY_CIRCUMSTANCES = ("online", "honour_based", "knife_or_sharp_instrument")


def without_flag_facts(incident: dict[str, Any]) -> dict[str, Any]:
    """The incident without the facts only the flag rules read."""
    out = copy.deepcopy(incident)
    for act in out["acts"]:
        for key in FLAG_ONLY_FACTS:
            act.pop(key, None)
        for key in FLAG_ONLY_CIRCUMSTANCES:
            act.get("circumstances", {}).pop(key, None)
    return out


def without_flags(decision: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(decision)
    for crime in out["crimes"]:
        crime.pop("flags", None)
    out["unverified_rules"] = [r for r in out["unverified_rules"] if not r.startswith("flags.")]
    return out


def with_flag_facts(incident: dict[str, Any]) -> dict[str, Any]:
    """The incident with racial hostility perceived by a witness, and committed online, in every act."""
    out = copy.deepcopy(incident)
    for act in out["acts"]:
        act["hostility"] = [{"strand": "race", "perceived_by": "witness"}]
        act.setdefault("circumstances", {})["online"] = True
    return out


@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(S.incidents(load_rulebook()))
def test_flag_facts_change_nothing_but_flags(incident: dict[str, Any]) -> None:
    """Over generated incidents: the facts only flags read (hostility, online, honour-based) change
    no recording, classification, count or question; with them stated in every act, every crime
    carries the flags in force on the day, each citing a flag rule."""
    book = load_rulebook()
    try:
        as_given = evaluate(book, incident)
    except InvalidIncident:
        return
    bare = evaluate(book, without_flag_facts(incident))
    flagged = evaluate(book, with_flag_facts(incident))
    assert without_flags(as_given) == without_flags(bare) == without_flags(flagged)
    day = flagged["as_of"]
    for crime in flagged["crimes"]:
        names = {f["flag"] if not f["strand"] else f"{f['flag']}:{f['strand']}" for f in crime["flags"]}
        assert ("online" in names) == (day >= "2017-04-01")
        assert ("hate_crime:race" in names) == (day >= "2011-04-01")
        for flag in crime["flags"]:
            assert flag["rules"] and all(r["id"].startswith("flags.") for r in flag["rules"])


# A victim's report of one act by one suspect, on days either side of each flag's start, with the
# facts the flags read drawn at random: what the flags should be is computed here independently.
DAYS = ["2011-03-31", "2011-04-01", "2015-03-31", "2015-04-01", "2017-03-31", "2017-04-01", "2019-03-31",
        "2019-04-01", "2024-03-04"]
RELATIONSHIPS = [None, "stranger", "neighbour", "acquaintance", "carer", "partner", "former_partner", "family_member"]
STRANDS = ["race", "religion", "sexual_orientation", "disability", "transgender", "alternative_subculture", "sex", "age", "other"]
MONITORED = {"race", "religion", "sexual_orientation", "disability", "transgender"}


@st.composite
def flag_reports(draw: Any) -> dict[str, Any]:
    day = draw(st.sampled_from(DAYS))
    victim: dict[str, Any] = {"id": "V1", "kind": "person"}
    suspect: dict[str, Any] = {"id": "S1"}
    for who in (victim, suspect):
        age = draw(st.sampled_from([None, 15, 16, 40]))
        if age is not None:
            who["age"] = age
    relationship = draw(st.sampled_from(RELATIONSHIPS))
    if relationship:
        suspect["relationship_to_victim"] = relationship
    act: dict[str, Any] = {"id": "A1", "classification": draw(st.sampled_from(["49", "58A", "34B"])), "victims": ["V1"],
                           "suspects": ["S1"], "contrary_evidence": [],
                           "location": {"force": F, "in_england_and_wales": True,
                                        "setting": draw(st.sampled_from(["dwelling", "public_place", "online"]))}}
    act["hostility"] = draw(st.lists(st.fixed_dictionaries({"strand": st.sampled_from(STRANDS),
                                                           "perceived_by": st.sampled_from(["victim", "witness", "police", "other"])}),
                                     max_size=3))
    circumstances = {k: draw(st.sampled_from([None, True, False]))
                     for k in ("online", "honour_based", "knife_or_sharp_instrument")}
    act["circumstances"] = {k: v for k, v in circumstances.items() if v is not None}
    return {"id": "FLAGS-P", "report": {"received_at": f"{day}T12:00", "received_by_force": F, "reporter": {"type": "victim"}},
            "victims": [victim], "suspects": [suspect], "acts": [act]}


def expected_flags(incident: dict[str, Any]) -> list[str]:
    day = incident["report"]["received_at"][:10]
    victim, suspect, act = incident["victims"][0], incident["suspects"][0], incident["acts"][0]
    out = set()
    adults = all(who.get("age") is None or who["age"] >= 16 for who in (victim, suspect))
    if day >= "2015-04-01" and adults and suspect.get("relationship_to_victim") in ("partner", "former_partner", "family_member"):
        out.add("domestic_abuse")
    if day >= "2011-04-01":
        out |= {f"hate_crime:{h['strand']}" for h in act["hostility"] if h["strand"] in MONITORED}
    if day >= "2017-04-01" and (act["circumstances"].get("online") or act["location"]["setting"] == "online"):
        out.add("online")
    if day >= "2019-04-01" and act["circumstances"].get("honour_based"):
        out.add("honour_based_abuse")
    if day >= "2008-04-01" and act["classification"] == "34B" and act["circumstances"].get("knife_or_sharp_instrument"):
        out.add("knife_or_sharp_instrument")
    return sorted(out)


@settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag_reports())
def test_flags_match_their_definitions_and_change_nothing_else(incident: dict[str, Any]) -> None:
    book = load_rulebook()
    d = evaluate(book, incident)
    assert d["status"] == "decided" and d["crime_count"] == 1, d["summary"]
    assert flag_names(d["crimes"][0]["flags"]) == expected_flags(incident)
    assert without_flags(d) == without_flags(evaluate(book, without_flag_facts(incident)))
