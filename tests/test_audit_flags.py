"""`hocr audit` on crime flags: a force record's flags compared with the flags the rules derive
(rules/flags/). A flag the rules give and the record lacks, and a flag the record carries that the
rules do not give, are each a discrepancy citing the flag's rules; a record without `flags` is not
compared."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from shipped_audit import shipped_groups

from hocr import audit
from hocr.audit import compare, run_audit
from hocr.engine import evaluate
from hocr.loader import Rulebook, load_rulebook

F = "Northshire Police"


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook()


def partner_assault(flags: list[dict[str, Any]] | None, relationship: str = "partner", **act: Any) -> dict[str, Any]:
    """A victim's report that her partner (or another) assaulted her, with the force's record."""
    record: dict[str, Any] = {"ref": "CR1", "classification": "8N", "recorded_at": "2024-03-04T10:00"}
    if flags is not None:
        record["flags"] = flags
    return {
        "id": "FLAG-1",
        "report": {"received_at": "2024-03-04T08:10", "received_by_force": F, "reporter": {"type": "victim"}},
        "victims": [{"id": "V1", "kind": "person"}],
        "suspects": [{"id": "S1", "relationship_to_victim": relationship}],
        "acts": [{"id": "A1", "classification": "8N", "victims": ["V1"], "suspects": ["S1"], "contrary_evidence": [],
                  "location": {"force": F, "in_england_and_wales": True}, **act}],
        "force_record": {"crimes": [record]},
    }


def audit_one(book: Rulebook, inc: dict[str, Any]) -> audit.LineResult:
    return compare(book, inc, evaluate(book, inc), shipped_groups(), line=1)


def kinds(r: audit.LineResult) -> list[str]:
    return [d.kind for d in r.discrepancies]


def test_missing_domestic_abuse_flag_cites_its_rule(book: Rulebook) -> None:
    r = audit_one(book, partner_assault([]))
    assert kinds(r) == ["flag_missing"]
    d = r.discrepancies[0]
    assert [x["id"] for x in d.rules] == ["flags.domestic-abuse"]
    assert d.expected == "flag domestic_abuse" and d.found == "flags: none"
    assert "flags.domestic-abuse" in d.explanation and "CR1" in d.explanation


def test_the_right_flag_is_no_discrepancy(book: Rulebook) -> None:
    r = audit_one(book, partner_assault([{"flag": "domestic_abuse"}]))
    assert r.discrepancies == []


def test_a_record_without_flags_is_not_compared(book: Rulebook) -> None:
    r = audit_one(book, partner_assault(None))
    assert r.discrepancies == []


def test_a_flag_the_rules_do_not_give_cites_the_rule_that_would(book: Rulebook) -> None:
    r = audit_one(book, partner_assault([{"flag": "domestic_abuse"}], relationship="neighbour"))
    assert kinds(r) == ["flag_not_derived"]
    d = r.discrepancies[0]
    assert [x["id"] for x in d.rules] == ["flags.domestic-abuse"]
    assert d.found == "flag domestic_abuse"


def test_a_wrong_hate_crime_strand_is_one_missing_and_one_not_derived(book: Rulebook) -> None:
    inc = partner_assault([{"flag": "hate_crime", "strand": "religion"}], relationship="stranger",
                          hostility=[{"strand": "race", "perceived_by": "witness"}])
    r = audit_one(book, inc)
    assert sorted(kinds(r)) == ["flag_missing", "flag_not_derived"]
    by_kind = {d.kind: d for d in r.discrepancies}
    assert by_kind["flag_missing"].expected == "flag hate_crime (race)"
    assert [x["id"] for x in by_kind["flag_missing"].rules] == ["flags.hate-crime.race"]
    assert [x["id"] for x in by_kind["flag_not_derived"].rules] == ["flags.hate-crime.religion"]


def test_flag_discrepancies_do_not_change_recording_accuracy(book: Rulebook) -> None:
    r = audit_one(book, partner_assault([]))
    assert [(c.recorded, c.classified_ok) for c in r.crimes] == [(True, True)]


def test_the_summary_counts_flag_discrepancies(book: Rulebook) -> None:
    lines = [partner_assault([]), partner_assault([{"flag": "domestic_abuse"}])]
    stream = io.BytesIO("".join(json.dumps(x) + "\n" for x in lines).encode())
    out = run_audit(stream).as_json({}, 200)
    assert out["discrepancies"]["flag_missing"] == 1
    assert out["discrepancies"]["flag_not_derived"] == 0
    assert out["incidents"] == {"evaluated": 2, "correct": 1, "with_discrepancies": 1, "with_undetermined": 0}
