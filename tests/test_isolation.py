"""A decision shares nothing mutable with the rulebook or with another decision.

Force systems embed hocr and post-process decisions in place (adding their own fields, trimming
lists). If a list or mapping of a decision were an object of the rulebook (a presumption's
value, its other answers), such an edit would change what every later incident is decided on.
Each worked case is decided twice, on both backends and traced, and no list or dict may be one
object in both decisions; and editing a decision in place changes nothing decided after it."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
EXAMPLE = json.loads((REPO / "examples" / "victim-report-recorded.json").read_text(encoding="utf-8"))


def worked(every: int) -> list[tuple[str, Any, dt.date | None]]:
    found = []
    for path in sorted((REPO / "tests" / "cases").rglob("*.yaml")):
        for case in load_case_file(path):
            if "error" not in case.get("expect", {}):
                as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
                found.append((f"{path.name}: {case['name']}", case_incident(case, path.parent), as_of))
    return found[::every]


def containers(value: Any, path: str = "") -> Iterator[tuple[int, str]]:
    if isinstance(value, (dict, list)):
        yield id(value), path
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            yield from containers(item, f"{path}/{key}")


OPTIONS = [{}, {"trace": True}, {"backend": "interpreted"}]


@pytest.mark.parametrize("options", OPTIONS, ids=["compiled", "traced", "interpreted"])
def test_two_decisions_share_no_list_or_mapping(options: dict[str, Any]) -> None:
    shared = []
    for name, incident, as_of in worked(every=4):
        first = evaluate(BOOK, incident, as_of=as_of, **options)
        second = dict(containers(evaluate(BOOK, incident, as_of=as_of, **options)))
        shared += [f"{name}: {path}" for key, path in containers(first) if key in second]
    assert shared == []


@pytest.mark.parametrize("options", OPTIONS, ids=["compiled", "traced", "interpreted"])
def test_editing_a_decision_changes_nothing_decided_after_it(options: dict[str, Any]) -> None:
    before = evaluate(BOOK, EXAMPLE, **options)
    assert any(isinstance(p["value"], list) for p in before["presumptions"])  # the case this guards
    kept = copy.deepcopy(before)
    for p in before["presumptions"]:  # what a force system might do to the decision it was given
        for value in [p["value"], *(a["value"] for a in p["alternatives"])]:
            if isinstance(value, list):
                value.append({"kind": "added by the caller"})
    for entry in before.get("trace", []):
        if entry["decision"] == "(presumptions)":
            for v in entry["value"]:
                if isinstance(v["value"], list):
                    v["value"].append("added by the caller")
    assert evaluate(BOOK, EXAMPLE, **options) == kept
