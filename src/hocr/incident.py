"""Incidents: parse, check against ``schemas/incident.schema.json``, and normalise.

Every problem is reported with the JSON pointer of the field and what was expected. Times
without a UTC offset are UK local time (Europe/London): a local time that does not exist (the
hour skipped when the clocks go forward) is an error; one that happens twice (when the clocks go
back) is read as the first of the two, and a warning says so. All arithmetic is then done on
absolute times, so 24 hours across a clock change is 24 real hours.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import marshal
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
from jsonschema.exceptions import best_match

from .loader import cache_root, data_path

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class InputProblem:
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class InvalidIncident(ValueError):
    """The incident cannot be evaluated; ``problems`` lists each problem with its JSON pointer."""

    def __init__(self, problems: Sequence[InputProblem], source: str = ""):
        self.problems = tuple(problems)
        self.source = source
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Incident:
    """A checked incident: the original data plus a normalised copy with real date-times."""

    raw: Mapping[str, Any]
    facts: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.raw["id"])


@cache
def incident_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((data_path("schemas") / "incident.schema.json").read_text())
    return schema


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = incident_schema()
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


@cache
def _fast_validator() -> Callable[[Any], Any] | None:
    """A compiled accelerator for the common case of a valid incident (fastjsonschema, about 15
    times faster than the reference validator). It only ever says "valid": whenever it objects,
    or is not installed, the reference validator (jsonschema) decides and words the errors.
    The generated code is cached as bytecode beside the rulebook cache."""
    try:
        import fastjsonschema
    except ImportError:  # pragma: no cover - optional speed-up
        return None
    schema = dict(incident_schema())
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    text = json.dumps(schema, sort_keys=True)
    key = hashlib.sha256(f"{text}|{sys.version}|{fastjsonschema.VERSION}".encode()).hexdigest()[:32]
    cache_dir = cache_root()
    target = cache_dir / f"incident-validator-{key}.bin" if cache_dir else None
    code_obj = None
    if target is not None and target.exists():
        try:
            code_obj = marshal.loads(target.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            code_obj = None
    if code_obj is None:
        source = fastjsonschema.compile_to_code(schema, use_default=False)
        code_obj = compile(source, "<hocr incident validator>", "exec")
        if target is not None:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(marshal.dumps(code_obj))
                os.replace(tmp, target)
            except OSError:
                pass
    namespace: dict[str, Any] = {}
    exec(code_obj, namespace)  # our own generated validator, compiled from our own schema
    entry = "validate_" + "".join(c if c.isalnum() else "_" for c in schema["$id"])
    validator = namespace.get(entry)
    if validator is None:  # pragma: no cover - naming changed in fastjsonschema
        return None
    exc_type = fastjsonschema.JsonSchemaException

    def fast(data: Any) -> bool:
        try:
            validator(data)
            return True
        except exc_type:
            return False

    return fast


def pointer(path: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def parse_json(text: str, source: str = "<input>") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidIncident(
            [InputProblem("", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
            source,
        ) from exc


def _schema_problems(data: Any) -> list[InputProblem]:
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        specific = best_match(error.context) if error.context else error
        path = list(specific.absolute_path) if error.context else list(error.absolute_path)
        message = specific.message
        schema_of = specific.schema if isinstance(specific.schema, Mapping) else {}
        pattern = str(schema_of.get("pattern", "")) if specific.validator == "pattern" else ""
        if pattern.startswith("^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]"):
            message = (
                f"{specific.instance!r} is not a date and time "
                "(expected YYYY-MM-DDTHH:MM, optionally with seconds and a UTC offset)"
            )
        elif pattern == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$":
            message = f"{specific.instance!r} is not a date (expected YYYY-MM-DD)"
        elif error.validator == "anyOf" and error.context and all(
            str(e.schema.get("pattern", "")).startswith("^[0-9]{4}")  # type: ignore[union-attr]
            for e in error.context
            if e.validator == "pattern"
        ) and any(e.validator == "pattern" for e in error.context):
            message = f"{error.instance!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
        problems.append(InputProblem(pointer(path), message))
    return problems


_TIME_KINDS = {"#/$defs/datetime": "datetime", "#/$defs/date": "date", "#/$defs/date_or_datetime": "either"}


@cache
def time_fields() -> tuple[tuple[tuple[str, ...], str], ...]:
    """Paths (with '*' for array items) of every date or date-time field in the incident schema."""
    schema = incident_schema()
    kinds = _TIME_KINDS
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(node: Mapping[str, Any], path: tuple[str, ...], depth: int) -> None:
        if depth > 12:
            return
        ref = node.get("$ref")
        if ref in kinds:
            found.append((path, kinds[ref]))
            return
        if ref:
            walk(schema["$defs"][ref.split("/")[-1]], path, depth + 1)
            return
        for name, sub in node.get("properties", {}).items():
            walk(sub, (*path, name), depth + 1)
        if "items" in node:
            walk(node["items"], (*path, "*"), depth + 1)

    walk(schema, (), 0)
    return tuple(found)


def parse_time(text: str, kind: str) -> tuple[dt.date | dt.datetime, str | None]:
    """Parse a date or date-time; naive times are Europe/London. Returns (value, warning)."""
    if kind in ("date", "either") and len(text) == 10:
        return dt.date.fromisoformat(text), None
    value = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC), None
    first = value.replace(tzinfo=LONDON, fold=0)
    second = value.replace(tzinfo=LONDON, fold=1)
    round_trip = first.astimezone(dt.UTC).astimezone(LONDON).replace(tzinfo=None)
    if round_trip != value:
        raise ValueError(
            f"{text!r} does not exist in UK local time (the clocks went forward then); "
            "give a UTC offset or a time that exists"
        )
    # Held in UTC, so that adding hours is adding real hours (aware arithmetic in one zone is
    # wall-clock arithmetic in Python).
    if first.utcoffset() != second.utcoffset():
        return first.astimezone(dt.UTC), (
            f"{text!r} happened twice in UK local time (the clocks went back); "
            f"read as the first, {first.isoformat()}"
        )
    return first.astimezone(dt.UTC), None


def _locate(data: Any, path: tuple[str, ...], at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Yield (container, key path) for each existing value at a '*'-path."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(data, list):
            for i, item in enumerate(data):
                if rest:
                    yield from _locate(item, rest, (*at, i))
                else:
                    yield data, (*at, i)
        return
    if isinstance(data, dict) and head in data:
        if rest:
            yield from _locate(data[head], rest, (*at, head))
        else:
            yield data, (*at, head)


def check_incident(data: Any, source: str = "<input>", fast: bool = True) -> Incident:
    """Check an incident against the schema and its own references; normalise its times.

    ``fast`` lets the compiled accelerator accept a valid incident without the reference
    validator; set it to False to always use the reference validator."""
    accelerator = _fast_validator() if fast else None
    problems = [] if accelerator is not None and accelerator(data) else _schema_problems(data)
    if problems:
        raise InvalidIncident(problems, source)
    facts = copy.deepcopy(data)
    warnings: list[str] = []
    for path, kind in time_fields():
        for container, at in _locate(facts, path):
            key = at[-1]
            try:
                value, warning = parse_time(container[key], kind)
            except ValueError as exc:
                problems.append(InputProblem(pointer(at), str(exc)))
                continue
            container[key] = value
            if warning:
                warnings.append(f"{pointer(at)}: {warning}")
    problems.extend(_reference_problems(facts))
    if problems:
        raise InvalidIncident(problems, source)
    return Incident(raw=data, facts=facts, warnings=warnings)


def _reference_problems(facts: Mapping[str, Any]) -> list[InputProblem]:
    problems: list[InputProblem] = []
    ids: dict[str, set[str]] = {}
    for kind in ("victims", "suspects", "acts"):
        seen: set[str] = set()
        for i, item in enumerate(facts.get(kind, [])):
            if item["id"] in seen:
                problems.append(InputProblem(f"/{kind}/{i}/id", f"id {item['id']!r} is used twice in {kind}"))
            seen.add(item["id"])
        ids[kind] = seen
    for i, act in enumerate(facts["acts"]):
        for kind in ("victims", "suspects"):
            for j, ref in enumerate(act.get(kind, [])):
                if ref not in ids[kind]:
                    known = ", ".join(sorted(ids[kind])) or "none"
                    problems.append(InputProblem(f"/acts/{i}/{kind}/{j}", f"no {kind[:-1]} with id {ref!r} (known: {known})"))
    reports = [facts["report"].get("id", "R1")]
    for i, later in enumerate(facts.get("further_reports", [])):
        if later["id"] in reports:
            problems.append(InputProblem(f"/further_reports/{i}/id", f"report id {later['id']!r} is used twice (the first report's id is {reports[0]!r})"))
        reports.append(later["id"])
    for i, act in enumerate(facts["acts"]):
        if "report" in act and act["report"] not in reports:
            problems.append(InputProblem(f"/acts/{i}/report", f"no report with id {act['report']!r} (known: {', '.join(reports)})"))
    for i, rc in enumerate(facts.get("force_record", {}).get("crimes", [])):
        if "victim" in rc and rc["victim"] not in ids["victims"]:
            problems.append(InputProblem(f"/force_record/crimes/{i}/victim", f"no victim with id {rc['victim']!r}"))
        for j, ref in enumerate(rc.get("acts", [])):
            if ref not in ids["acts"]:
                problems.append(InputProblem(f"/force_record/crimes/{i}/acts/{j}", f"no act with id {ref!r}"))
    for j, ref in enumerate(facts["report"]["reporter"].get("for_victims", [])):
        if ref not in ids["victims"]:
            problems.append(InputProblem(f"/report/reporter/for_victims/{j}", f"no victim with id {ref!r}"))
    return problems


def question_for(pointer_text: str) -> str:
    """The plain-English question the incident schema asks for a field, from its description."""
    schema = incident_schema()
    node: Mapping[str, Any] = schema
    parts = [p for p in pointer_text.split("/") if p]
    for part in parts:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        if part.isdigit() and "items" in node:
            node = node["items"]
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            return ""
    description = node.get("description", "")
    if not description and "$ref" in node:
        description = schema["$defs"][node["$ref"].split("/")[-1]].get("description", "")
    return str(description)
