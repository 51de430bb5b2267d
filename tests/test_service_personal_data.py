"""No personal data leaves the service except in the decision the client asked for.

Personal data is planted in every free-text field of an incident (the list is read from the incident
schema, so a new free-text field must be planted here too), in dates of birth, and in invalid
values and unknown keys. Every such incident, and broken JSON holding the same words, is sent to a
live ``hocr serve`` with a decision log, through every endpoint that takes input. Then every output
of the service is searched for the planted words: the error bodies, the batch items' errors,
standard error (uvicorn's log and the access log) and the decision log.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from live_server import Server, body_of, post, raw, start, stop

from hocr.incident import incident_schema

NAME = "Plantedname Jayne Smythe-Okafor"
ADDRESS = "17 Plantedstreet Acacia Avenue Walsall"
DOB = "1971-07-23"
WORDS = ("Plantedname", "Smythe", "Okafor", "Plantedstreet", "Acacia", "Walsall", DOB, "19710723")


def text(n: int) -> str:
    return f"{NAME} of {ADDRESS} said #{n}"


def free_text_paths(schema: Mapping[str, Any] | None = None) -> set[str]:
    """Every path (``*`` for array items) of a string the schema leaves free: no enum, no pattern."""
    schema = schema or incident_schema()
    found: set[str] = set()

    def walk(node: Mapping[str, Any], path: str, depth: int) -> None:
        while "$ref" in node:
            node = schema["$defs"][str(node["$ref"]).rsplit("/", 1)[-1]]
        if depth > 10:
            return
        if node.get("type") == "string" and not ({"enum", "pattern", "const"} & set(node)):
            found.add(path)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}/{name}", depth + 1)
        if isinstance(node.get("items"), Mapping):
            walk(node["items"], f"{path}/*", depth + 1)

    walk(schema, "", 0)
    return found


def planted() -> dict[str, Any]:
    """A valid incident with personal data in every free-text field and a date of birth."""
    n = iter(range(1000))
    return {
        "schema_version": "1", "id": text(next(n)), "notes": text(next(n)),
        "report": {"id": "R1", "received_at": "2024-02-12T09:00", "received_by_force": text(next(n)),
                   "channel": "online", "reporter": {"type": "third_party", "role": text(next(n)), "for_victims": ["V1"]}},
        "recorded_at": "2024-02-13T15:00",
        "victims": [{"id": "V1", "kind": "person", "name": text(next(n)), "date_of_birth": DOB, "age": 52}],
        "suspects": [{"id": "S1", "date_of_birth": DOB}],
        "acts": [{
            "id": "A1", "description": text(next(n)), "classification": "58A", "victims": ["V1"], "suspects": ["S1"],
            "offence": {"statute": "Criminal Damage Act 1971", "section": "1(1)"},
            "elements": {"description": text(next(n))},
            "location": {"description": text(next(n)), "force": text(next(n)), "in_england_and_wales": True, "setting": "dwelling"},
            "contrary_evidence": [{"description": text(next(n)), "kind": "opinion", "immediately_available": False}],
            "other_authority": {"name": text(next(n)), "kind": "other", "has_primacy": False},
        }],
        "force_record": {
            "note": text(next(n)),
            "crimes": [{
                "ref": text(next(n)), "classification": "58A", "acts": ["A1"], "victim": "V1", "reclassified_to": "58A",
                "cancellation": {"ground": "duplicate", "accepted_by_force": text(next(n)), "duplicate_of": text(next(n)), "note": text(next(n))},
                "outcome": {"type": "1", "other_body": text(next(n)), "note": text(next(n))},
            }],
        },
    }


def paths_in(data: Any, path: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from paths_in(v, f"{path}/{k}")
    elif isinstance(data, list):
        for v in data:
            yield from paths_in(v, f"{path}/*")
    else:
        yield path


def test_every_free_text_field_is_planted() -> None:
    holds_text = {p for p in paths_in(planted()) if "#" in str(_get(planted(), p))}
    # statute and section are the law's words, the same for every incident; the codes are the
    # catalogue's: planted among the invalid values instead
    missing = free_text_paths() - holds_text - {"/acts/*/offence/statute", "/acts/*/offence/section",
                                                "/acts/*/classification", "/force_record/crimes/*/classification",
                                                "/force_record/crimes/*/reclassified_to"}
    assert not missing, f"free-text fields not planted: {sorted(missing)}"


def _get(data: Any, path: str) -> Any:
    for part in [p for p in path.split("/") if p]:
        data = data[0] if part == "*" else data[part]
    return data


def invalid_variants() -> list[Any]:
    """The planted incident with personal data in a field that refuses it, one field at a time."""
    changes: list[tuple[tuple[Any, ...], Any]] = [
        (("victims", 0, "age"), NAME), (("victims", 0, "kind"), NAME), (("victims", 0, "id"), NAME),
        (("victims", 0, "date_of_birth"), ADDRESS), (("report", "received_at"), ADDRESS),
        (("acts", 0, "victims", 0), "Jayne.Smythe-Okafor"), (("acts", 0, "classification"), NAME),
        (("acts", 0, "offence", "statute"), NAME), (("report", "reporter", "type"), ADDRESS),
        (("report", "reporter", "for_victims", 0), "Smythe-Okafor"), (("victims", 0, NAME), ADDRESS),
        (("acts", 0, "occurred_at"), f"{DOB}T25:00"), (("suspects", 0, "age"), DOB),
    ]
    out: list[Any] = []
    for path, value in changes:
        incident = copy.deepcopy(planted())
        node: Any = incident
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        out.append(incident)
    out.append({NAME: ADDRESS})
    out.append([NAME, ADDRESS, DOB])
    return out


BROKEN = [
    f'{{"id": "{NAME}", "report": '.encode(),
    f'{{"victims": [{{"name": "{NAME}"}}]}}'.encode() + b"\xff",
    f'{{"x": "{ADDRESS}\\ud800"}}'.encode(),
    b'{"id": "' + ADDRESS.encode() + b'", "n": ' + b"9" * 5000 + b"}",
]


def answers(server: Server) -> list[bytes]:
    """Every answer the service gives to the planted inputs, through every endpoint."""
    bodies = [json.dumps(v).encode() for v in [planted(), *invalid_variants()]] + BROKEN
    out = [raw(server.port, post("/v1/check", b)) for b in bodies]
    out.append(raw(server.port, post(f"/v1/check?as_of={DOB}x", bodies[0])))
    out.append(raw(server.port, post("/v1/check/batch", json.dumps([planted(), *invalid_variants()]).encode())))
    ndjson = b"\n".join(bodies)
    out.append(raw(server.port, post("/v1/check/batch", ndjson, "Content-Type: application/x-ndjson\r\n")))
    for path in (f"/v1/classifications/{NAME.replace(' ', '%20')}", f"/v1/{ADDRESS.replace(' ', '-')}"):
        out.append(raw(server.port, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()))
    return out


def error_parts(answer: bytes) -> list[str]:
    """What of an answer is the service's own words: an error body whole; of a decision, nothing;
    of a batch, each item's errors."""
    status = int(answer.split(maxsplit=2)[1])
    body = body_of(answer)
    if status >= 400:
        return [body.decode("utf-8")]
    lines = body.decode("utf-8").splitlines()
    items: list[Any] = []
    for line in lines:
        data = json.loads(line)
        items.extend(data["results"] if isinstance(data, dict) and "results" in data else [data])
    return [json.dumps(i["errors"]) for i in items if isinstance(i, dict) and "errors" in i]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp: Path = tmp_path_factory.mktemp("personal")
    log = tmp / "decisions.jsonl"
    server = start(tmp, "--decision-log", str(log))
    try:
        got = answers(server)
    finally:
        stop(server)
    return {"errors": "\n".join(p for a in got for p in error_parts(a)), "stderr": server.log(),
            "decision log": log.read_text()}


@pytest.mark.parametrize("output", ["errors", "stderr", "decision log"])
def test_no_planted_word_in_any_output(outputs: dict[str, str], output: str) -> None:
    text = outputs[output]
    assert text.strip(), f"{output}: nothing was written, so nothing was tested"
    leaked = [w for w in WORDS if w in text]
    assert not leaked, f"{output} holds {leaked}"


def test_the_decision_log_has_a_line_for_every_evaluated_input(outputs: dict[str, str]) -> None:
    lines = [json.loads(line) for line in outputs["decision log"].splitlines()]
    assert {"decision_id", "time", "rulebook", "input_hash", "outcome", "rule_ids", "input"} <= set(lines[0])
    decided = [x for x in lines if x["outcome"]["status"] != "invalid"]
    assert decided and all(x["rule_ids"] for x in decided)
    victim = decided[0]["input"]["victims"][0]
    assert victim == {"id": victim["id"], "kind": "person", "name": "***", "date_of_birth": "***", "age": 52}
    assert victim["id"].startswith("id")
    refused = [x for x in lines if x["outcome"]["status"] == "invalid" and x["input"] is not None]
    assert len(refused) >= 2 * len(invalid_variants()), "each invalid incident is logged, masked"
    # the single check, the batch array's and the NDJSON batch's item: the planted incident 3 times
    assert len({x["input_hash"] for x in decided}) <= 2 and len(decided) >= 3
