"""Incidents for property tests: generated from the incident schema, shaped by what the domain
knows (ages around 13 and 16, dates around the rule changes and the clock changes, several
victims, suspects and acts), and the properties every decision must have, as plain functions so
that the mutation tests can run them against a broken rulebook.

The schema part walks ``schemas/incident.schema.json``: every optional fact of an act (its
elements, circumstances, location, school, other authority, evidence...) and of a victim or a
suspect is generated from its declared type or enum, so a fact added to the schema is generated
without any change here. The skeleton (ids, the references between acts, victims and suspects,
classification codes, times) is built by hand so that the incident is valid.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Mapping
from functools import cmp_to_key
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from hocr.engine import code_order
from hocr.incident import InvalidIncident, check_incident, value_at
from hocr.loader import Rulebook

REPO = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((REPO / "schemas" / "incident.schema.json").read_text())
LONDON = ZoneInfo("Europe/London")

# Report times around the rule changes (72 -> 24 hours in April 2015; April 2018 and 2020
# editions; the May 2023 changes) and the clock changes (spring forward skips 01:00-02:00;
# autumn back repeats 01:00-02:00).
REPORT_TIMES = [
    "2014-06-01T10:00", "2015-03-31T23:30", "2015-04-01T00:30", "2018-03-31T12:00", "2018-04-01T12:00",
    "2020-03-31T09:00", "2020-04-01T09:00", "2023-05-30T12:00", "2023-05-31T00:10", "2023-06-01T12:00",
    "2024-03-30T01:30", "2024-03-31T00:59", "2024-03-31T02:00", "2024-10-26T09:00", "2024-10-27T00:30",
    "2024-10-27T01:30", "2025-03-29T23:00", "2024-07-15T14:45",
]
RULE_CHANGE_DAYS = ["2002-04-01", "2015-03-31", "2015-04-01", "2018-03-31", "2018-04-01", "2020-03-31",
                    "2020-04-01", "2023-05-30", "2023-05-31", "2024-03-31", "2024-10-27"]
FORCES = ["Kent Police", "Essex Police"]
HOURS_TO_RECORD = [0, 1, 23, 24, 25, 48, 71, 72, 73, 200]
# Keys built by hand (ids and references between parts), or free text nobody tests.
SKELETON_KEYS = {"id", "report", "victims", "suspects", "classification", "offence", "elements", "for_victims",
                 "description", "name", "notes", "date_of_birth", "age", "confirmed_at", "occurred_at",
                 "occurred_until"}


def resolve(node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = SCHEMA
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def from_schema(node: Any, depth: int = 0, skip: frozenset[str] = frozenset()) -> st.SearchStrategy[Any]:
    """A strategy for a value of an incident-schema node (objects get a random subset of their
    optional properties; free-text strings get a short fixed text)."""
    ref = node.get("$ref") if isinstance(node, Mapping) else None
    if ref == "#/$defs/datetime":
        return st.sampled_from(REPORT_TIMES)
    if ref == "#/$defs/date":
        return st.sampled_from([t[:10] for t in REPORT_TIMES])
    if ref == "#/$defs/date_or_datetime":
        return st.sampled_from(REPORT_TIMES + [t[:10] for t in REPORT_TIMES])
    if ref == "#/$defs/id":
        return st.just("X1")
    node = resolve(node)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind is None and "properties" not in node:
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                return st.one_of([from_schema(b, depth + 1, skip) for b in node[key]])
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        lo, hi = node.get("minimum", 0), node.get("maximum", 10)
        return st.integers(max(lo, 0), min(hi, 20))
    if kind == "number":
        return st.integers(0, 20)
    if kind == "string":
        return st.just("generated")
    if kind == "array":
        if depth > 3:
            return st.just([])
        return st.lists(from_schema(node.get("items", {}), depth + 1), max_size=2)
    if kind == "object" or "properties" in node:
        if depth > 3:
            return st.just({})
        props = {k: v for k, v in node.get("properties", {}).items() if k not in skip}
        required = [k for k in node.get("required", []) if k in props]
        optional = sorted(k for k in props if k not in required)
        children = {k: from_schema(props[k], depth + 1) for k in props}

        @st.composite
        def obj(draw: Any) -> dict[str, Any]:
            # A few of the optional facts each time: drawing all of them is slow and rarely needed.
            chosen = draw(st.lists(st.sampled_from(optional), unique=True, max_size=min(5, len(optional)))) if optional else []
            return {k: draw(children[k]) for k in [*required, *chosen]}

        return obj()
    return st.none()


def defs(name: str) -> Any:
    return SCHEMA["$defs"][name]


def _local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LONDON)


def _later(received: str, hours: int) -> str:
    t = _local(received).astimezone(dt.UTC) + dt.timedelta(hours=hours)
    return t.isoformat(timespec="minutes").replace("+00:00", "Z")


def codes_in_force(book: Rulebook, day: dt.date) -> list[str]:
    return sorted((c for c in book.classifications if book.classification(c, day) is not None), key=code_order)


def incidents(book: Rulebook, max_acts: int = 3, max_victims: int = 3, as_of: dt.date | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid incidents: a hand-built skeleton with schema-generated facts. With ``as_of``, the
    classifications named are those in force on that date."""
    codes_by_day: dict[dt.date, list[str]] = {}
    offences_by_day: dict[dt.date, list[tuple[str, str]]] = {}

    def codes_for(day: dt.date) -> list[str]:
        if day not in codes_by_day:
            codes_by_day[day] = codes_in_force(book, day) or sorted(book.classifications)
            offences_by_day[day] = sorted({(s, n) for entries in book.classifications.values() for c in entries
                                           if c.in_force(day) for s, n in c.offences})
        return codes_by_day[day]

    @st.composite
    def incident(draw: Any) -> dict[str, Any]:
        return _incident(draw, codes_for, offences_by_day, max_acts, max_victims, as_of)

    return incident()


def _incident(draw: Any, codes_for: Callable[[dt.date], list[str]], offences_by_day: Mapping[dt.date, list[tuple[str, str]]],
              max_acts: int, max_victims: int, as_of: dt.date | None) -> dict[str, Any]:
    received = draw(st.sampled_from(REPORT_TIMES))
    day = as_of or _local(received).date()
    codes = codes_for(day)
    offences = offences_by_day[day]
    n_victims = draw(st.integers(0, max_victims))
    n_suspects = draw(st.integers(0, 2))
    victims = []
    occurred = _local(received).date() - dt.timedelta(days=draw(st.sampled_from([0, 1, 30])))
    for i in range(n_victims):
        v: dict[str, Any] = {"id": f"V{i + 1}", **draw(from_schema(defs("victim"), skip=frozenset(SKELETON_KEYS)))}
        v["kind"] = draw(st.sampled_from(["person", "person", "household", "organisation"]))
        how_old = draw(st.sampled_from(["age", "dob", "none"]))
        if v["kind"] == "person" and how_old == "age":
            v["age"] = draw(st.sampled_from([12, 13, 14, 15, 16, 17, 30]))
        elif v["kind"] == "person" and how_old == "dob":
            years = draw(st.sampled_from([13, 16]))
            shift = draw(st.sampled_from([-1, 0, 1]))
            try:
                birthday = occurred.replace(year=occurred.year - years)
            except ValueError:  # 29 February
                birthday = occurred.replace(year=occurred.year - years, day=28)
            v["date_of_birth"] = (birthday + dt.timedelta(days=shift)).isoformat()
        victims.append(v)
    suspects = []
    for i in range(n_suspects):
        s: dict[str, Any] = {"id": f"S{i + 1}", **draw(from_schema(defs("suspect"), skip=frozenset(SKELETON_KEYS)))}
        if draw(st.booleans()):
            s["age"] = draw(st.sampled_from([9, 10, 13, 16, 17, 18, 40]))
        suspects.append(s)
    acts = []
    for i in range(draw(st.integers(1, max_acts))):
        act: dict[str, Any] = {"id": f"A{i + 1}", **draw(from_schema(defs("act"), skip=frozenset(SKELETON_KEYS)))}
        how = draw(st.sampled_from(["code", "code", "code", "offence", "elements"]))
        if how == "offence" and offences:
            statute, section = draw(st.sampled_from(offences))
            act["offence"] = {"statute": statute, "section": section}
        elif how == "elements":
            act["elements"] = draw(from_schema(defs("elements")))
            act["elements"].setdefault("kind", draw(from_schema(resolve(defs("elements"))["properties"]["kind"])))
        else:
            act["classification"] = draw(st.sampled_from(codes))
        if draw(st.booleans()):
            act["occurred_at"] = occurred.isoformat()
        if victims:
            act["victims"] = draw(st.lists(st.sampled_from([v["id"] for v in victims]), unique=True, max_size=len(victims)))
        if suspects:
            act["suspects"] = draw(st.lists(st.sampled_from([s["id"] for s in suspects]), unique=True, max_size=len(suspects)))
        acts.append(act)
    reporter: dict[str, Any] = draw(from_schema(defs("reporter"), skip=frozenset(SKELETON_KEYS)))
    if victims and reporter.get("type") in ("victim", "victim_representative") and draw(st.booleans()):
        reporter["for_victims"] = draw(st.lists(st.sampled_from([v["id"] for v in victims]), unique=True, min_size=1, max_size=len(victims)))
    report = {"received_at": received, "reporter": reporter}
    report.update({k: v for k, v in draw(from_schema(defs("report"), skip=frozenset(SKELETON_KEYS | {"received_at", "reporter"}))).items()})
    report["received_by_force"] = draw(st.sampled_from(FORCES))
    incident: dict[str, Any] = {"id": "GEN", "report": report, "victims": victims, "suspects": suspects, "acts": acts}
    if draw(st.booleans()):
        incident["recorded_at"] = _later(received, draw(st.sampled_from(HOURS_TO_RECORD)))
    return incident


def valid(incident: Mapping[str, Any]) -> bool:
    try:
        check_incident(copy.deepcopy(dict(incident)))
    except InvalidIncident:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Reading decisions
# --------------------------------------------------------------------------------------------


def allegations(incident: Mapping[str, Any]) -> set[tuple[str, str | None]]:
    return {(a["id"], v) for a in incident["acts"] for v in (sorted(a.get("victims", [])) or [None])}


def recorded(decision: Mapping[str, Any]) -> set[tuple[str, str | None]]:
    return {(x["act"], x["victim"]) for c in decision["crimes"] for x in c["covers"]}


def not_recorded(decision: Mapping[str, Any]) -> set[tuple[str, str | None]]:
    return {(n["act"], n["victim"]) for n in decision["not_recorded"]}


def undetermined(decision: Mapping[str, Any]) -> set[tuple[str, str | None]]:
    return {(u["act"], u["victim"]) for u in decision["undetermined"]}


_ABSENT = object()


def pointer_present(incident: Any, pointer: str) -> bool:
    """Whether the incident gives the fact (an empty list of victims gives none: the schema
    reads it as 'no identified victim')."""
    found = value_at(incident, pointer, _ABSENT)
    return found is not _ABSENT and found != []


def schema_at(pointer: str) -> Any:
    node: Any = SCHEMA
    for part in [p for p in pointer.split("/") if p]:
        node = resolve(node)
        if part.isdigit():
            node = node.get("items", {})
        else:
            props: dict[str, Any] = {}
            for b in [node, *node.get("allOf", []), *node.get("anyOf", [])]:
                props.update(resolve(b).get("properties", {}))
            node = props.get(part, {})
    return node


def put(incident: dict[str, Any], pointer: str, value: Any) -> None:
    parts = [p for p in pointer.split("/") if p]
    node: Any = incident
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[parts[-1]] = value


# --------------------------------------------------------------------------------------------
# The principal crime order, computed from the catalogue (not from the engine's code)
# --------------------------------------------------------------------------------------------


def principal_key(book: Rulebook, day: dt.date) -> Callable[[str], Any]:
    order = book.principal["order_by"]

    def compare(a: str, b: str) -> int:
        ca, cb = book.classification(a, day), book.classification(b, day)
        assert ca is not None and cb is not None
        for spec in order:
            field = spec["field"]
            x = code_order(a) if field == "code" else getattr(ca, field)
            y = code_order(b) if field == "code" else getattr(cb, field)
            if x != y:
                less = (x < y) != (spec["direction"] == "desc")
                return -1 if less else 1
        return 0

    return cmp_to_key(compare)


# --------------------------------------------------------------------------------------------
# The properties, as checks of one incident (AssertionError when one fails)
# --------------------------------------------------------------------------------------------


def check_one_outcome(decision: Mapping[str, Any], incident: Mapping[str, Any]) -> None:
    """Each act and victim has exactly one outcome: recorded as (or absorbed by) a named crime,
    not recorded with a reason, or undetermined with the facts needed."""
    assert not decision["conflicts"], decision["conflicts"]
    seen: list[tuple[str, str | None]] = []
    for c in decision["crimes"]:
        seen += [(x["act"], x["victim"]) for x in c["covers"]]
    seen += [(n["act"], n["victim"]) for n in decision["not_recorded"]]
    seen += [(u["act"], u["victim"]) for u in decision["undetermined"]]
    assert sorted(seen, key=str) == sorted(allegations(incident), key=str)
    crimes = {c["id"]: c for c in decision["crimes"]}
    for a in decision["absorbed"]:
        crime = crimes[a["into"]]
        assert {"act": a["act"], "victim": a["victim"]} in crime["covers"]
    for c in decision["crimes"]:
        absorbed_here = [a for a in decision["absorbed"] if a["into"] == c["id"]]
        assert len(absorbed_here) == len(c["covers"]) - 1
    for n in decision["not_recorded"]:
        assert isinstance(n["reason"], str) and n["reason"]
    assert decision["crime_count"] == len(decision["crimes"])
    assert (decision["status"] == "undetermined") == bool(decision["undetermined"])


def check_no_gap(decision: Mapping[str, Any]) -> None:
    """An undetermined allegation names the facts needed: no allegation is left open because no
    rule covers it (a gap in the rulebook)."""
    for u in decision["undetermined"]:
        assert u["facts_needed"], f"no rule covers act {u['act']} / victim {u['victim']} ({u['decision']}: {u['open_rules']})"


def check_needed_facts_are_missing(decision: Mapping[str, Any], incident: Mapping[str, Any]) -> None:
    """An allegation is undetermined only for facts the incident does not give."""
    for u in decision["undetermined"]:
        for f in u["facts_needed"]:
            if _several_victims(incident, f["pointer"]):
                continue  # a rule reads the act's one victim: the act must be split, one per victim
            assert not pointer_present(incident, f["pointer"]), (f["pointer"], u)


def _several_victims(incident: Mapping[str, Any], pointer: str) -> bool:
    parts = pointer.split("/")
    if len(parts) != 4 or parts[1] != "acts" or parts[3] != "victims":
        return False
    return len(incident["acts"][int(parts[2])].get("victims", [])) > 1


def check_principal(book: Rulebook, decision: Mapping[str, Any]) -> None:
    """The counted crime of a group is the most serious of the group by the look-up order."""
    day = dt.date.fromisoformat(decision["as_of"])
    key = principal_key(book, day)
    for c in decision["crimes"]:
        group = [c["classification"]["code"]] + [a["classification"]["code"] for a in decision["absorbed"] if a["into"] == c["id"]]
        best = min(group, key=key)
        assert key(c["classification"]["code"]) == key(best), (c["id"], c["classification"]["code"], group)


def check_in_force(book: Rulebook, decision: Mapping[str, Any]) -> None:
    """The as-of date selects exactly the rules in force on that date (traced decision)."""
    day = dt.date.fromisoformat(decision["as_of"])
    presumptions = {p.id: p for p in book.presumptions}
    for entry in decision["trace"]:
        if entry["decision"] == "(presumptions)":
            assert all(presumptions[r["rule"]].in_force(day) for r in entry["rules"]), entry["rules"]
            continue
        considered = {r["rule"] for r in entry["rules"]}
        expected = {r.id for r in book.decisions[entry["decision"]].rules if r.in_force(day)}
        assert considered == expected, (entry["decision"], entry["scope"], sorted(considered ^ expected))
    cited = [r for c in decision["crimes"] for r in c["rules"]] + [r for n in decision["not_recorded"] for r in n["rules"]]
    for ref in cited:
        if ref["id"] in book.rules:
            assert book.rules[ref["id"]].in_force(day), ref["id"]
    for c in decision["crimes"]:
        assert book.classification(c["classification"]["code"], day) is not None
