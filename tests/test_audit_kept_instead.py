"""The audit's 'rape left as N100' comes from the rulebook (n100.kept-for-recorded-rape, a finding of
the kept_instead_of_crime decision), not from the audit's code: without that rule the same line is a
crime not recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from shipped_audit import shipped_groups

from hocr.audit import compare
from hocr.engine import evaluate
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
SAMPLE = [json.loads(x) for x in (REPO / "examples" / "audit-sample.jsonl").read_text(encoding="utf-8").splitlines()]
LEFT = next(x for x in SAMPLE if x["id"] == "AUD-007")  # a rape the rules record, left by the force as N100


def kinds(book: Any, inc: dict[str, Any]) -> list[str]:
    return [d.kind for d in compare(book, inc, evaluate(book, inc), shipped_groups(), line=1).discrepancies]


def test_a_rape_left_as_n100_cites_the_rule() -> None:
    book = load_rulebook()
    (d,) = compare(book, LEFT, evaluate(book, LEFT), shipped_groups(), line=1).discrepancies
    assert d.kind == "rape_left_as_n100" and d.found == "left as an N100 record"
    assert "n100.kept-for-recorded-rape" in [r["id"] for r in d.rules]
    assert "kept N100 instead" in d.explanation


def test_a_rape_recorded_as_a_crime_as_well_is_no_discrepancy() -> None:
    inc = json.loads(json.dumps(LEFT))
    inc["force_record"]["crimes"] = [{"ref": "CR1", "classification": "19C", "acts": ["A1"], "recorded_at": "2024-06-08T11:00"}]
    assert kinds(load_rulebook(), inc) == []


def test_an_n100_for_another_victim_leaves_the_crime_not_recorded() -> None:
    inc = json.loads(json.dumps(LEFT))
    inc["victims"].append({"id": "V2", "kind": "person"})
    inc["force_record"]["incident_records"][0]["victim"] = "V2"
    assert kinds(load_rulebook(), inc) == ["not_recorded"]


def test_without_the_rule_the_same_line_is_a_crime_not_recorded(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(REPO / "rules", root)
    (root / "ncrs" / "kept-instead-of-crime.yaml").unlink()
    book = load_rulebook(root)
    assert kinds(book, LEFT) == ["not_recorded"]
