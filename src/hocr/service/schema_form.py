"""An incident as an HTML form generated from ``schemas/incident.schema.json``, and the form's
answers read back into an incident.

Every field is named by its JSON pointer into the incident (``/acts/0/elements/injury``) and
typed by the schema at that pointer: a yes/no is a choice of yes, no or not given (a missing fact
is unknown, never false); an enumeration a choice of its values; an integer a number; a list of
ids or of values a comma-separated text; anything else the schema cannot give a single control
(a list of lists) a JSON text. An empty answer removes the fact. Nothing here names a field of the
incident: change the schema and the form follows.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..incident import InputProblem
from ..loader import data_path

BOOLEAN = (("", "not given"), ("true", "yes"), ("false", "no"))
NONE = "(none)"  # an empty list in a list's text (not an id: ids have no brackets); empty text: not given


@cache
def incident_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((data_path("schemas") / "incident.schema.json").read_text(encoding="utf-8"))
    return loaded


def resolve(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``schema`` with its ``$ref`` followed and its ``allOf`` merged (descriptions of the
    referring schema win, as the schema's authors meant them)."""
    root = root or incident_schema()
    out: dict[str, Any] = {}
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        out.update(resolve(root["$defs"][name], root))
    for part in schema.get("allOf", []):
        for key, value in resolve(part, root).items():
            out.setdefault(key, value)
    out.update({k: v for k, v in schema.items() if k not in ("$ref", "allOf")})
    return out


def schema_at(pointer: str) -> dict[str, Any] | None:
    """The (resolved) schema of the value at ``pointer`` in an incident; None off the schema."""
    node = resolve(incident_schema())
    for token in _tokens(pointer):
        if node.get("type") == "array" or "items" in node:
            if not token.isdigit():
                return None
            node = resolve(node.get("items", {}))
        elif token in node.get("properties", {}):
            node = resolve(node["properties"][token])
        else:
            return None
    return node


def _tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# ---------------------------------------------------------------------------------------------
# the form
# ---------------------------------------------------------------------------------------------


@dataclass
class Field:
    """One control: its pointer (also its name), label, question, kind and current text."""

    pointer: str
    label: str
    help: str
    kind: str  # "choice", "integer", "number", "text", "list", "json"
    value: str
    options: Sequence[tuple[str, str]] = ()
    required: bool = False
    multiple: bool = False

    @property
    def control_id(self) -> str:
        return "f" + self.pointer.replace("/", "-").replace("~", "_")


@dataclass
class Group:
    """A fieldset: an object of the incident, or a list of objects (its items are groups)."""

    pointer: str
    label: str
    help: str
    fields: list[Field] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    is_list: bool = False
    given: bool = False  # does the incident hold anything under it (the page opens it)
    removable: bool = False

    @property
    def control_id(self) -> str:
        return "g" + (self.pointer.replace("/", "-").replace("~", "_") or "-root")


def build_form(incident: Mapping[str, Any]) -> Group:
    """The form for ``incident``: every property the schema gives, with the incident's values."""
    return _object_group("", "Incident", resolve(incident_schema()), incident)


def _object_group(pointer: str, label: str, schema: Mapping[str, Any], value: Any) -> Group:
    value = value if isinstance(value, Mapping) else {}
    group = Group(pointer, label, str(schema.get("description", "")), given=bool(value))
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        child_pointer = f"{pointer}/{_escape(name)}"
        sub = resolve(sub)
        child = value.get(name)
        if _is_object(sub):
            group.groups.append(_object_group(child_pointer, _label(name), sub, child))
        elif _is_object_list(sub):
            group.groups.append(_list_group(child_pointer, _label(name), sub, child))
        else:
            group.fields.append(_field(child_pointer, name, sub, child, name in required))
    return group


def _list_group(pointer: str, label: str, schema: Mapping[str, Any], value: Any) -> Group:
    items = value if isinstance(value, list) else []
    group = Group(pointer, label, str(schema.get("description", "")), is_list=True, given=bool(items))
    item_schema = resolve(schema.get("items", {}))
    for i, item in enumerate(items):
        name = item.get("id") if isinstance(item, Mapping) else None
        child = _object_group(f"{pointer}/{i}", f"{label.rstrip('s')} {name or i + 1}", item_schema, item)
        child.removable = True
        group.groups.append(child)
    return group


def _is_object(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" in schema


def _is_object_list(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "array" and _is_object(resolve(schema.get("items", {})))


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _field(pointer: str, name: str, schema: Mapping[str, Any], value: Any, required: bool) -> Field:
    help_text = str(schema.get("description", ""))
    if schema.get("type") == "boolean":
        text = "" if value is None else ("true" if value is True else "false" if value is False else "")
        return Field(pointer, _label(name), help_text, "choice", text, BOOLEAN, required)
    if "enum" in schema:
        options = [("", "not given"), *((str(v), str(v).replace("_", " ")) for v in schema["enum"])]
        return Field(pointer, _label(name), help_text, "choice", "" if value is None else str(value), options, required)
    if schema.get("type") in ("integer", "number"):
        return Field(pointer, _label(name), help_text, str(schema["type"]), "" if value is None else str(value), (), required)
    if schema.get("type") == "array":
        return _list_field(pointer, name, schema, value, help_text, required)
    if schema.get("type") == "string" or "anyOf" in schema:
        return Field(pointer, _label(name), help_text, "text", value if isinstance(value, str) else "", (), required)
    return Field(pointer, _label(name), help_text, "json", "" if value is None else json.dumps(value), (), required)


def _list_field(pointer: str, name: str, schema: Mapping[str, Any], value: Any, help_text: str, required: bool) -> Field:
    items = resolve(schema.get("items", {}))
    if "enum" in items:
        options = [(str(v), str(v).replace("_", " ")) for v in items["enum"]]
        chosen = ",".join(str(v) for v in value) if isinstance(value, list) else ""
        return Field(pointer, _label(name), help_text, "list", chosen, options, required, multiple=True)
    if items.get("type") == "string":
        text = (", ".join(str(v) for v in value) or NONE) if isinstance(value, list) else ""
        return Field(pointer, _label(name), f"{help_text} (comma-separated; {NONE} for none)", "list", text, (), required)
    return Field(pointer, _label(name), help_text + " (JSON)", "json", "" if value is None else json.dumps(value), (), required)


def walk_fields(group: Group) -> Iterator[Field]:
    yield from group.fields
    for child in group.groups:
        yield from walk_fields(child)


# ---------------------------------------------------------------------------------------------
# the answers read back
# ---------------------------------------------------------------------------------------------


class FormProblems(ValueError):
    """Answers that are not of their field's type (pointers and what was expected, never the answer)."""

    def __init__(self, problems: Sequence[InputProblem]):
        super().__init__("; ".join(f"{p.pointer}: {p.message}" for p in problems))
        self.problems = list(problems)


def apply_answers(base: Mapping[str, Any], answers: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``base`` with each answered field (a name that is a pointer) set, or removed when empty.

    Objects emptied by the answers are removed, so clearing every field of an optional part
    (``school``) means the part is not given. FormProblems for answers of the wrong type."""
    incident = copy.deepcopy(dict(base))
    problems: list[InputProblem] = []
    for pointer in sorted((n for n in answers if n.startswith("/")), key=_tokens):
        schema = schema_at(pointer)
        if schema is None or _is_object(schema) or _is_object_list(schema):
            problems.append(InputProblem(pointer, "not a field of the incident schema"))
            continue
        try:
            value = _typed(schema, [v for v in answers[pointer] if v.strip()])
        except ValueError as exc:
            problems.append(InputProblem(pointer, str(exc)))
            continue
        _put(incident, _tokens(pointer), value)
    if problems:
        raise FormProblems(problems)
    return incident


MISSING = object()


def _typed(schema: Mapping[str, Any], texts: list[str]) -> Any:
    """The value of one field's answers; MISSING for no answer."""
    if not texts:
        return MISSING
    if schema.get("type") == "array":
        return _typed_list(schema, texts)
    text = texts[-1].strip()
    if schema.get("type") == "boolean":
        if text not in ("true", "false"):
            raise ValueError("expected yes, no or not given")
        return text == "true"
    if schema.get("type") == "integer":
        if not text.lstrip("-").isdigit() or len(text) > 12:
            raise ValueError("expected a whole number")
        return int(text)
    if schema.get("type") == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if "enum" in schema and text not in [str(v) for v in schema["enum"]]:
        raise ValueError("expected one of the listed values")
    if schema.get("type") == "string" or "anyOf" in schema or "enum" in schema:
        return text
    return _json(text)


def _typed_list(schema: Mapping[str, Any], texts: list[str]) -> Any:
    items = resolve(schema.get("items", {}))
    if "enum" in items:
        allowed = [str(v) for v in items["enum"]]
        if any(t not in allowed for t in texts):
            raise ValueError("expected values from the list")
        return list(dict.fromkeys(texts))
    if items.get("type") == "string":
        return [part.strip() for part in ",".join(texts).split(",") if part.strip() and part.strip() != NONE]
    return _json(texts[-1])


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError("expected JSON") from None


def _put(doc: dict[str, Any], tokens: list[str], value: Any) -> None:
    """Set (or, for MISSING, remove) the value at ``tokens``, creating objects on the way only to
    set, and removing objects the removal empties."""
    trail: list[tuple[Any, str | int]] = []
    node: Any = doc
    for token in tokens[:-1]:
        key: str | int = int(token) if isinstance(node, list) else token
        if isinstance(node, list):
            if not isinstance(key, int) or key >= len(node):
                return
            child = node[key]
        else:
            child = node.get(key)
            if child is None:
                if value is MISSING:
                    return
                child = node[key] = {}
        trail.append((node, key))
        node = child
    last = tokens[-1]
    if not isinstance(node, dict):
        return
    if value is not MISSING:
        node[last] = value
        return
    if last not in node:
        return  # nothing removed: an object the incident gives empty stays
    del node[last]
    for parent, key in reversed(trail):
        if not isinstance(parent, dict) or parent[key]:
            break
        del parent[key]


def add_item(incident: Mapping[str, Any], pointer: str) -> dict[str, Any]:
    """``incident`` with an empty item added to the list of objects at ``pointer``."""
    schema = schema_at(pointer)
    if schema is None or not _is_object_list(schema):
        raise FormProblems([InputProblem(pointer, "not a list the form can add to")])
    out = copy.deepcopy(dict(incident))
    node: Any = out
    for token in _tokens(pointer)[:-1]:
        node = node[int(token)] if isinstance(node, list) else node.setdefault(token, {})
    last = _tokens(pointer)[-1]
    items = node.setdefault(last, []) if isinstance(node, dict) else None
    if not isinstance(items, list):
        raise FormProblems([InputProblem(pointer, "not a list the form can add to")])
    items.append({})
    return out


def remove_item(incident: Mapping[str, Any], pointer: str) -> dict[str, Any]:
    """``incident`` without the list item at ``pointer``."""
    tokens = _tokens(pointer)
    out = copy.deepcopy(dict(incident))
    node: Any = out
    try:
        for token in tokens[:-1]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        if not (isinstance(node, list) and tokens[-1].isdigit()):
            raise LookupError(pointer)
        del node[int(tokens[-1])]
    except (LookupError, ValueError):
        raise FormProblems([InputProblem(pointer, "no such item to remove")]) from None
    return out
