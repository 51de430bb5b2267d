"""The decision log: one JSON line for every decision the service gives, as OPA keeps one.

Each line holds the decision id (also sent to the client as ``X-Decision-Id``), the time, the
rulebook's name, edition and hash, a hash of the input, the outcome, the ids of the rules the
decision rests on, and the input with its personal data masked. Masking is always on: a value is
kept only when the incident schema confines its field to a closed form (an enumeration, a pattern
such as an id or a time, a number or a yes/no) and the value has that form, except names and dates
of birth; every free-text string
(names, addresses, descriptions, notes, roles, forces) and everything the schema does not know is
replaced by ``"***"``; ids are replaced by pseudonyms (``id1``, ``id2``) that keep the links
between acts and victims. The input hash is over the exact bytes received, so a force can prove which
input a line describes from its own copy without the log holding it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .incident import incident_schema, parse_time

MASK = "***"
ALWAYS_MASKED = frozenset({"date_of_birth", "name"})  # personal even where the schema confines the form
RULE_LISTS = frozenset({"rules", "rules_in_conflict"})


def input_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


TIME_DEFS = {"date": "date", "datetime": "datetime", "date_or_datetime": "either"}
ID_DEF = "id"


def _def_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _resolve(node: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][str(node["$ref"]).rsplit("/", 1)[-1]]
    return node


def _fits(node: Mapping[str, Any], value: str | float, schema: Mapping[str, Any]) -> bool:
    """Whether the schema confines this field to a closed form (enum, const, pattern, number)
    and ``value`` has that form: only then is the value free of personal data. A date or time
    must also be one (a pattern admits month 13)."""
    kind = TIME_DEFS.get(_def_name(node) or "")
    if kind is not None and isinstance(value, str):
        try:
            parse_time(value, kind)
        except (ValueError, OverflowError):
            return False
    node = _resolve(node, schema)
    branches = node.get("anyOf") or node.get("oneOf") or ()
    if branches:
        return any(_fits(b, value, schema) for b in branches)
    if isinstance(value, int | float):
        return node.get("type") in ("integer", "number")
    if "enum" in node or "const" in node:
        return value in node.get("enum", [node.get("const")])
    pattern = node.get("pattern")
    return isinstance(pattern, str) and len(value) <= 64 and re.search(pattern, value) is not None


def _child(node: Mapping[str, Any] | None, key: str | int, schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if node is None:
        return None
    node = _resolve(node, schema)
    if isinstance(key, int):
        items = node.get("items")
        return items if isinstance(items, Mapping) else None
    sub = node.get("properties", {}).get(key)
    return sub if isinstance(sub, Mapping) else None


class _Masker:
    """One incident's masking. Ids (which a force may build from a name) are replaced by
    pseudonyms, ``id1``, ``id2``... in order of first appearance, the same id by the same
    pseudonym, so the line still shows which act concerns which victim."""

    def __init__(self, schema: Mapping[str, Any]):
        self.schema = schema
        self.pseudonyms: dict[str, str] = {}

    def value(self, data: Any, node: Mapping[str, Any] | None, key: str | int | None) -> Any:
        if isinstance(key, str) and key in ALWAYS_MASKED:
            return MASK
        if isinstance(data, dict):
            return self.mapping(data, node)
        if isinstance(data, list):
            return [self.value(v, _child(node, i, self.schema), i) for i, v in enumerate(data)]
        if isinstance(data, bool) or data is None:
            return data
        if node is None or not isinstance(data, str | int | float) or not _fits(node, data, self.schema):
            return MASK
        if _def_name(node) == ID_DEF and isinstance(data, str):
            return self.pseudonyms.setdefault(data, f"id{len(self.pseudonyms) + 1}")
        return data

    def mapping(self, data: dict[str, Any], node: Mapping[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in data.items():
            sub = _child(node, k, self.schema)
            if sub is None:
                out[MASK] = MASK  # a key the schema does not know: it and its value
            else:
                out[k] = self.value(v, sub, k)
        return out


def mask(data: Any, schema: Mapping[str, Any] | None = None) -> Any:
    """``data`` (an incident, valid or not) with its personal data replaced by ``"***"`` and its
    ids by pseudonyms. Object keys the schema does not define are masked with their values."""
    schema = incident_schema() if schema is None else schema
    return _Masker(schema).value(data, schema, None)


def rule_ids(decision: Any) -> list[str]:
    """The ids of every rule a decision cites, sorted."""
    found: set[str] = set()
    stack = [decision]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in RULE_LISTS and isinstance(v, list):
                    found.update(str(r["id"]) for r in v if isinstance(r, dict) and "id" in r)
                    found.update(str(r) for r in v if isinstance(r, str))
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)


def outcome(decision: Mapping[str, Any]) -> dict[str, Any]:
    """What was decided, without the incident's own words: status, counts, codes, deadline met."""
    deadline = decision.get("deadline") or {}
    return {
        "status": decision["status"],
        "crime_count": decision["crime_count"],
        "classifications": [c["classification"]["code"] for c in decision["crimes"] if c.get("classification")],
        "not_recorded": len(decision["not_recorded"]),
        "undetermined": len(decision["undetermined"]),
        "deadline_met": deadline.get("met"),
    }


def new_decision_id() -> str:
    return str(uuid.uuid4())


class DecisionLog:
    """An append-only JSONL file. One ``write`` per line on a file opened for appending, so the
    lines of several threads or worker processes never interleave."""

    def __init__(self, path: str | Path, rulebook: Mapping[str, str]):
        self.path = Path(path)
        self.rulebook = dict(rulebook)
        self._lock = threading.Lock()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def entry(self, decision_id: str, body: bytes, data: Any, *, decision: Mapping[str, Any] | None = None,
              error_pointers: list[str] | None = None, path: str = "/v1/check", index: int | None = None) -> dict[str, Any]:
        line: dict[str, Any] = {
            "decision_id": decision_id,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "path": path,
            "rulebook": self.rulebook,
            "input_hash": input_hash(body),
        }
        if index is not None:
            line["index"] = index
        if decision is not None:
            line["outcome"] = outcome(decision)
            line["rule_ids"] = rule_ids(decision)
        else:
            line["outcome"] = {"status": "invalid", "errors": error_pointers or []}
            line["rule_ids"] = []
        line["input"] = mask(data)
        return line

    def write(self, line: Mapping[str, Any]) -> None:
        data = (json.dumps(line, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        with self._lock:
            os.write(self._fd, data)

    def close(self) -> None:
        os.close(self._fd)
