"""The comparison engine: one hocr classification table as a GoRules JDM decision table, and the
facts each worked-case allegation gives that table.

The table is translated from the rule file itself (not retyped), so the rows, their order and the
first-hit policy are hocr's. What is and is not equivalent is set out in docs/performance.md
("The zen-engine comparison").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

RULE_ID = "vap.assault"  # assault by intent, injury, aggravation and the victim's role
# Where each table input is read: ("act" | "victim", path inside it).
INPUT_FACTS = {
    "act.elements.intent": ("act", ("elements", "intent")),
    "act.elements.injury": ("act", ("elements", "injury")),
    "act.elements.racially_or_religiously_aggravated": ("act", ("elements", "racially_or_religiously_aggravated")),
    "act_victim.role": ("victim", ("role",)),
}


def find_rule(rules_dir: Path, rule_id: str = RULE_ID) -> dict[str, Any]:
    """The rule's YAML mapping, as written, with its file's default in_force and decision applied."""
    needle = f"id: {rule_id}\n"
    for path in sorted(rules_dir.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if needle not in text:
            continue
        data = yaml.safe_load(text)
        for rule in data.get("rules", []):
            if rule.get("id") == rule_id:
                defaults = data.get("defaults", {})
                return {"in_force": defaults.get("in_force", {}), "decision": defaults.get("decision"), **rule}
    raise LookupError(f"rule {rule_id} not found under {rules_dir}")


def in_force_from(rule: Mapping[str, Any]) -> dt.date:
    return dt.date.fromisoformat(str(rule["in_force"]["from"]))


def _literal(value: Any) -> str:
    return json.dumps(value)  # a ZEN literal: "kill", true, 3


def _cell(value: Any) -> str:
    """A JDM unary cell: one value, or a comma-separated list meaning 'any of these'."""
    values = value if isinstance(value, list) else [value]
    return ", ".join(_literal(v) for v in values)


def jdm(rule: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's table as a JDM graph: request -> decision table -> response."""
    spec = rule["table"]
    policy = {"first": "first", "unique": "first"}[spec["hit_policy"]]  # unique rows never overlap
    inputs = [{"id": f"in-{i['name']}", "name": i["name"], "field": i["name"]} for i in spec["inputs"]]
    outputs = [{"id": "out-code", "name": "code", "field": "code"},
               {"id": "out-row", "name": "row", "field": "row"}]
    rows = []
    for row in spec["rows"]:
        cells = {f"in-{name}": _cell(v) for name, v in row["when"].items()}
        rows.append({"_id": row["id"], **{i["id"]: cells.get(i["id"], "") for i in inputs},
                     "out-code": _literal(row["then"]["code"]), "out-row": _literal(row["id"])})
    table_node = {
        "id": "table", "type": "decisionTableNode", "name": rule["id"], "position": {"x": 300, "y": 0},
        "content": {"hitPolicy": policy, "inputs": inputs, "outputs": outputs, "rules": rows},
    }
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}},
            table_node,
            {"id": "response", "type": "outputNode", "name": "response", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


def _read(obj: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def contexts(rule: Mapping[str, Any], facts: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(act id, victim id, table context) for each assault allegation of one incident, read from
    its facts as hocr's presumptions filled them (so both engines see the same values)."""
    victims = {v.get("id"): v for v in facts.get("victims", [])}
    names = {i["fact"]: i["name"] for i in rule["table"]["inputs"]}
    out = []
    for act in facts.get("acts", []):
        if _read(act, ("elements", "kind")) != "assault":
            continue
        for victim_id in act.get("victims", []):
            where = {"act": act, "victim": victims.get(victim_id)}
            ctx = {names[f]: _read(where[holder], path) for f, (holder, path) in INPUT_FACTS.items()}
            out.append((act["id"], victim_id, ctx))
    return out
