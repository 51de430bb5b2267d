"""The rulebook rendered for people (docs/rulebook.md) is the one the rule files give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hocr.explain import render_rulebook
from hocr.loader import Rulebook

REPO = Path(__file__).resolve().parent.parent


def test_rendered_rulebook_is_current(book: Rulebook) -> None:
    committed = (REPO / "docs" / "rulebook.md").read_text(encoding="utf-8")
    assert committed == render_rulebook(book), (
        "docs/rulebook.md is out of date: run `hocr rules render --out docs/rulebook.md`"
    )


def test_rendered_rulebook_names_every_rule(book: Rulebook) -> None:
    text = render_rulebook(book)
    for rule_id in book.rules:
        assert f"`{rule_id}`" in text
    for code in book.classifications:
        assert f"### {code} " in text


def _fields(schema: dict[str, Any], node: dict[str, Any], path: str, depth: int = 0) -> list[str]:
    if depth > 10:
        return []
    if "$ref" in node:
        return _fields(schema, schema["$defs"][node["$ref"].split("/")[-1]], path, depth + 1)
    out = []
    for name, sub in node.get("properties", {}).items():
        out.append(f"{path}/{name}")
        out += _fields(schema, sub, f"{path}/{name}", depth + 1)
    if "items" in node:
        out += _fields(schema, node["items"], f"{path}[]", depth + 1)
    for sub in node.get("allOf", []):
        out += _fields(schema, sub, path, depth + 1)
    return out


def test_every_incident_field_is_documented() -> None:
    """Each field of the incident schema is named in docs/incident.md, or, for the force's
    own record, in docs/audit.md."""
    schema = json.loads((REPO / "schemas" / "incident.schema.json").read_text())
    docs = (REPO / "docs" / "incident.md").read_text() + (REPO / "docs" / "audit.md").read_text()
    missing = sorted({p for p in _fields(schema, schema, "") if f"`{p.rsplit('/', 1)[1]}`" not in docs})
    assert not missing, f"fields not documented in docs/incident.md or docs/audit.md: {missing}"
