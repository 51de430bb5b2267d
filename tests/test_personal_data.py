"""No personal data in any error message or audit output: personal data is planted in every
free-text field of the incident schema and as invalid values of typed fields, and every output
of `hocr check` and `hocr audit` is searched for it: standard error (where the log goes too),
the audit's table and JSON summary, --errors, --results, the CSV and the HTML report. (The
service's access and decision logs are tested with the service.)

Identifiers are the exception by design (docs/hardening.md): the incident's `id`, the force's
crime `ref`s, classification codes and force names are how a person finds the record, and are
shown; they must hold references, not personal data. Even so, an incident id or a code that is
not shaped like one (a name with spaces, say) is never repeated in a message."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((REPO / "schemas" / "incident.schema.json").read_text())
SECRET = "Jane Q Doe"  # a name, and below an address and a date of birth
ADDRESS = "7 Acacia Avenue"
BIRTH = "1990-02-30"  # shaped like a date of birth (but no such day: an invalid value too)
# Identifier fields, shown on purpose (see the module docstring); every other text is planted.
IDENTIFIERS = {"id", "ref", "classification", "reclassified_to", "received_by_force", "force", "duplicate_of",
               "accepted_by_force"}

BASE: dict[str, Any] = {
    "id": "PD-1",
    "report": {"received_at": "2024-03-04T08:10", "received_by_force": "Kent Police",
               "reporter": {"type": "victim", "role": ""}},
    "victims": [{"id": "V1", "kind": "person", "name": ""}],
    "suspects": [{"id": "S1"}],
    "acts": [{"id": "A1", "classification": "49", "victims": ["V1"], "suspects": ["S1"], "description": "",
              "location": {"force": "Kent Police", "in_england_and_wales": True, "description": ""},
              "contrary_evidence": [{"kind": "opinion", "immediately_available": False, "description": ""}],
              "other_authority": {"name": "", "has_primacy": False}}],
    "notes": "",
    "force_record": {"note": "", "crimes": [{
        "ref": "KT/1", "classification": "44", "recorded_at": "2024-03-06T09:00", "acts": ["A1"], "victim": "V1",
        "cancellation": {"ground": "duplicate", "note": "", "authorised_by": "officer"},
        "outcome": {"type": "14", "note": "", "other_body": ""},
    }]},
}


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].split("/")[-1]]
    return node


def free_text_fields(data: Any, node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in ``data`` the schema declares as free text (a string with no enum, pattern or
    date form), identifiers left out."""
    node = _resolve(node)
    if isinstance(data, dict):
        props = dict(node.get("properties", {}))
        for branch in node.get("allOf", []) + node.get("anyOf", []):
            props.update(_resolve(branch).get("properties", {}))
        for key, value in data.items():
            sub = _resolve(props.get(key, {}))
            raw = props.get(key, {})
            if isinstance(value, str):
                plain = sub.get("type") == "string" and not ({"enum", "pattern"} & set(sub)) and "$ref" not in raw
                if plain and key not in IDENTIFIERS:
                    yield (*at, key)
            else:
                yield from free_text_fields(value, sub, (*at, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from free_text_fields(item, node.get("items", {}), (*at, i))


def put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def planted() -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    fields = list(free_text_fields(d, SCHEMA))
    assert len(fields) >= 10, fields
    for path in fields:
        put(d, path, f"{SECRET}, {ADDRESS}")
    return d


# Invalid values of typed fields: an enum, an integer, a boolean, dates, an id, a code.
INVALID: list[tuple[tuple[Any, ...], Any]] = [
    (("victims", 0, "kind"), SECRET), (("victims", 0, "age"), SECRET), (("victims", 0, "date_of_birth"), BIRTH),
    (("victims", 0, "date_of_birth"), SECRET), (("acts", 0, "attempt"), SECRET),
    (("report", "received_at"), SECRET), (("acts", 0, "occurred_at"), BIRTH), (("victims", 0, "id"), SECRET),
    (("acts", 0, "classification"), SECRET), (("report", "reporter", "type"), SECRET),
    (("acts", 0, SECRET), 1), (("acts", 0, "offence"), {"statute": SECRET, "section": ADDRESS}),
]


def spoil(d: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    put(d, path, value)
    if path[-1] == "offence":
        del d["acts"][0]["classification"]  # else the named classification is used
    return d


def hocr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hocr", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "always"})


def assert_clean(label: str, text: str) -> None:
    for secret in (SECRET, ADDRESS, BIRTH, "Jane", "Acacia"):
        assert secret not in text, f"{label} repeats personal data ({secret!r}):\n{text[:2000]}"


def test_every_free_text_field_is_planted() -> None:
    fields = {"/".join(map(str, p)) for p in free_text_fields(planted(), SCHEMA)}
    assert {"acts/0/description", "victims/0/name", "notes", "force_record/crimes/0/cancellation/note",
            "acts/0/location/description", "report/reporter/role"} <= fields


def test_check_errors_never_repeat_personal_data(tmp_path: Path) -> None:
    for path, value in INVALID:
        d = spoil(planted(), path, value)
        r = hocr("check", "-", stdin=json.dumps(d))
        assert r.returncode == 2, (path, r.stdout, r.stderr)
        assert_clean(f"check stderr for an invalid {'/'.join(map(str, path))}", r.stderr)
        assert r.stdout == ""


def test_check_of_a_valid_incident_logs_nothing_personal() -> None:
    r = hocr("check", "-", "--explain", stdin=json.dumps(planted()))
    assert r.returncode in (0, 3), r.stderr
    assert_clean("check stderr", r.stderr)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_audit_outputs_never_repeat_personal_data(tmp_path: Path, workers: str) -> None:
    lines = [json.dumps(planted())]
    for path, value in INVALID:
        lines.append(json.dumps(spoil(planted(), path, value)))
    lines.append(json.dumps({**planted(), "report": SECRET}))
    lines.append(json.dumps({**planted(), "id": SECRET}))  # valid, but an id not shaped like one
    lines.append(f'{{"id": "{SECRET}", "notes": "{ADDRESS}", ')  # not JSON
    data = tmp_path / "audit.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = {name: tmp_path / name for name in ("d.csv", "r.html", "e.jsonl", "results.jsonl")}
    r = hocr("audit", str(data), "--workers", workers, "--csv", str(out["d.csv"]), "--html", str(out["r.html"]),
             "--errors", str(out["e.jsonl"]), "--results", str(out["results.jsonl"]))
    assert r.returncode == 0, r.stderr
    summary = hocr("audit", str(data), "--json")
    assert json.loads(summary.stdout)["ended"]["invalid"] == len(INVALID) + 2
    assert json.loads(summary.stdout)["ended"]["read"] == len(INVALID) + 4
    assert_clean("audit stderr", r.stderr)
    assert_clean("audit table", r.stdout)
    assert_clean("audit --json", summary.stdout)
    for name, path in out.items():
        assert_clean(f"audit {name}", path.read_text(encoding="utf-8"))
    assert out["d.csv"].read_text(encoding="utf-8").count("\n") > 1  # the valid line's discrepancies are there
