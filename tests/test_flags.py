"""Crime flags (rules/flags/, pipeline role `flags`): the manifest checks on the role, and the
engine's flags on each recorded crime (one entry per flag and strand over every allegation the
crime covers, each with its rules; never a change to what is recorded)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from hocr.engine import evaluate
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
