"""The decision log's lines and its masking, read from the incident schema."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from hocr.decision_log import MASK, DecisionLog, input_hash, mask, outcome, rule_ids
from hocr.engine import evaluate
from hocr.loader import Rulebook

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_mask_keeps_closed_forms_and_masks_free_text() -> None:
    incident = {
        "id": "Smith household", "notes": "lives at 3 Elm Road",
        "report": {"received_at": "2024-02-12T09:00", "channel": "online",
                   "reporter": {"type": "third_party", "role": "her neighbour Ann"}},
        "victims": [{"id": "V1", "kind": "person", "name": "Ann Smith", "age": 40, "date_of_birth": "1984-01-02",
                     "traceable": True}],
        "acts": [{"id": "A1", "description": "Ann's car", "location": {"setting": "dwelling", "description": "3 Elm Road"},
                  "victims": ["V1"], "occurred_at": "2024-02-11"}],
        "unknown": {"deep": "Ann"},
    }
    masked = mask(incident)
    assert masked["id"] == MASK and masked["notes"] == MASK
    assert masked["report"] == {"received_at": "2024-02-12T09:00", "channel": "online",
                                "reporter": {"type": "third_party", "role": MASK}}
    assert masked["victims"][0] == {"id": "id1", "kind": "person", "name": MASK, "age": 40,
                                    "date_of_birth": MASK, "traceable": True}
    assert masked["acts"][0]["description"] == MASK and masked["acts"][0]["location"]["description"] == MASK
    # ids are pseudonyms, the same id by the same pseudonym
    assert masked["acts"][0]["id"] == "id2" and masked["acts"][0]["victims"] == ["id1"]
    assert masked["acts"][0]["occurred_at"] == "2024-02-11"
    assert masked[MASK] == MASK and "Ann" not in json.dumps(masked) and "Elm" not in json.dumps(masked)


def test_mask_masks_a_value_that_does_not_fit_its_field() -> None:
    masked = mask({"victims": [{"kind": "Ann Smith", "age": "Ann Smith", "id": "Ann.Smith"}], "acts": 5,
                   "report": {"received_at": "1984-13-02T10:00"}})
    assert "Ann" not in json.dumps(masked) and "1984" not in json.dumps(masked)
    assert masked["acts"] == MASK and masked["victims"][0]["id"] == "id1"


def test_a_line_holds_the_outcome_and_the_rules(tmp_path: Path, book: Rulebook) -> None:
    body = (EXAMPLES / "recorded-late.json").read_bytes()
    incident = json.loads(body)
    decision = evaluate(book, incident)
    log = DecisionLog(tmp_path / "d.jsonl", book.info())
    log.write(log.entry("id-1", body, incident, decision=decision))
    log.write(log.entry("id-2", b"{", None, error_pointers=[""]))
    log.close()
    first, second = (json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines())
    assert first["decision_id"] == "id-1" and first["rulebook"]["hash"] == book.hash
    assert first["input_hash"] == input_hash(body) and first["outcome"] == outcome(decision)
    assert first["outcome"]["classifications"] == ["58A"]
    assert first["rule_ids"] == rule_ids(decision) and "a.time-limit.24-hours" in first["rule_ids"]
    assert second["outcome"] == {"status": "invalid", "errors": [""]} and second["input"] is None
    assert stat.S_IMODE((tmp_path / "d.jsonl").stat().st_mode) == 0o600
