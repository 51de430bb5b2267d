"""Presumptions: what the rulebook takes a fact to be when the report says nothing of it.

A presumption is rulebook data (``presumptions:`` in a rule file): a fact of an act, a victim or a
suspect, the value presumed, an optional condition, and its citation. Before the rules are
applied, every fact the incident does not give and a presumption in force covers is filled with
the presumed value (``presume``). The engine then decides on the filled incident exactly as if the
report had stated those values; what it presumed is reported with the decision.

A presumption must never stop a crime from being recorded. ``unsafe_presumptions`` checks that
at load, without any incident: over facts that are all unknown except the presumed one, no
rule that withholds a record (a recording rule whose outcome is not ``record``, or a
classification rule that gives no code) may become possible under the presumed value where
another answer rules it out, and no rule that records may be ruled out by it where another
answer leaves it possible.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .conditions import (
    Cond,
    PathResolver,
    RuleCompileError,
    RuleRuntimeError,
    Scope,
    Truth,
    Unknown,
    always,
    compile_condition,
)
from .tables import TableConflict

# The entities a presumption may be about: its fact's root, and where that entity's objects are
# in the incident (a list of them, or one object).
ENTITIES: Mapping[str, str] = {"act": "acts", "victim": "victims", "suspect": "suspects"}
# The roots a presumption's condition may read, by entity.
CONDITION_ROOTS = ("incident", "report")
UNSAFE_CODE = "HOCR-L060"
_UNKNOWN = Unknown(frozenset(("(probe)",)))


@dataclass(frozen=True)
class Presumption:
    id: str
    title: str
    summary: str
    entity: str  # act | victim | suspect
    path: tuple[str, ...]  # the field within the entity: ("elements", "intent")
    value: Any
    alternatives: tuple[Any, ...]  # the other answers (from the incident schema, or given)
    cond: Cond
    in_force_from: dt.date
    in_force_to: dt.date | None
    verification: str
    citation: str
    file: str
    line: int
    notes: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def fact(self) -> str:
        return ".".join((self.entity, *self.path))

    def in_force(self, day: dt.date) -> bool:
        return self.in_force_from <= day and (self.in_force_to is None or day <= self.in_force_to)

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "citation": self.citation, "verification": self.verification}


@dataclass(frozen=True)
class Applied:
    """One presumed fact of one incident: the presumption and the JSON pointer it filled."""

    presumption: Presumption
    pointer: str
    entity_id: str


# --------------------------------------------------------------------------------------------
# Compiling the presumptions of the rule files
# --------------------------------------------------------------------------------------------


def compile_presumption(raw: Mapping[str, Any], rel: str, line: int, domain_of: Callable[[str], tuple[Any, ...]],
                        cite: Callable[[Any], str], to_date: Callable[[str], dt.date]) -> Presumption:
    """One presumption from its (defaults-merged) YAML mapping: ``domain_of`` gives the answers
    the incident schema allows at a pointer, ``cite`` a source's citation line. Raises
    RuleCompileError."""
    root, *path = str(raw["fact"]).split(".")
    if root not in ENTITIES or not path:
        raise RuleCompileError(f"presumption {raw['id']!r}: the fact must be a field of {', '.join(ENTITIES)} (got {raw['fact']!r})")
    if "alternatives" in raw:
        alternatives = tuple(raw["alternatives"])
    else:
        alternatives = tuple(v for v in domain_of(f"/{ENTITIES[root]}/0/" + "/".join(path)) if v != raw["value"])
    if not alternatives:
        raise RuleCompileError(f"presumption {raw['id']!r}: no other answer to {raw['fact']!r} is known; give 'alternatives'")
    resolver = PathResolver([*CONDITION_ROOTS, root])
    cond = compile_condition(raw["when"], resolver) if "when" in raw else always
    inf = raw["in_force"]
    return Presumption(
        id=raw["id"], title=raw["title"], summary=raw["summary"], entity=root, path=tuple(path),
        value=raw["value"], alternatives=alternatives, cond=cond,
        in_force_from=to_date(inf["from"]), in_force_to=to_date(inf["to"]) if "to" in inf else None,
        verification=raw["verification"], citation=cite(raw["source"]), file=rel, line=line,
        notes=raw.get("notes", ""), raw=raw,
    )


def answers_for(pointer: str) -> tuple[Any, ...]:
    """The answers the incident schema allows for a field: its enum, or true and false."""
    from .incident import incident_schema  # late: the incident module needs the loader

    schema = incident_schema()
    node: Mapping[str, Any] = schema
    for part in (p for p in pointer.split("/") if p):
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        node = node.get("items", {}) if part.isdigit() else node.get("properties", {}).get(part, {})
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    if "enum" in node:
        return tuple(node["enum"])
    if node.get("type") == "boolean":
        return (True, False)
    return ()


# --------------------------------------------------------------------------------------------
# Applying them to an incident
# --------------------------------------------------------------------------------------------


def _entity_objects(facts: Mapping[str, Any], entity: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    items = facts.get(ENTITIES[entity], [])
    yield from enumerate(items if isinstance(items, list) else [])


def _holder(obj: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any] | None:
    """The object that holds the field (None when a parent object is not given: a presumption
    fills a missing field, never a missing object)."""
    node: Any = obj
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            return None
    return node if isinstance(node, Mapping) else None


def _set(obj: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with ``path`` set (the objects along the path copied, nothing else)."""
    out = dict(obj)
    if len(path) == 1:
        out[path[0]] = copy.deepcopy(value)
    else:
        out[path[0]] = _set(dict(out[path[0]]), path[1:], value)
    return out


def presume(presumptions: Sequence[Presumption], facts: Mapping[str, Any], day: dt.date) -> tuple[dict[str, Any], list[Applied]]:
    """The incident's facts with every presumed fact filled in, and what was presumed.

    Presumptions are applied in order of id, each to every act, victim or suspect whose field is
    missing and whose condition holds on the facts as filled so far."""
    filled = dict(facts)
    applied: list[Applied] = []
    for p in _in_force(presumptions, day):
        plural = ENTITIES[p.entity]
        for index, obj in _entity_objects(filled, p.entity):
            holder = _holder(obj, p.path)
            if holder is None or p.path[-1] in holder:
                continue
            if p.cond is not always:
                scope = Scope({"incident": filled, "report": filled.get("report", {}), p.entity: obj}, {})
                if p.cond(scope, None)[0] is not True:
                    continue
            items = list(filled[plural])
            items[index] = _set(dict(obj), p.path, p.value)
            filled[plural] = items
            applied.append(Applied(p, f"/{plural}/{index}/" + "/".join(p.path), str(obj.get("id", index))))
    return filled, applied


_IN_FORCE: dict[tuple[int, dt.date], tuple[Sequence[Presumption], tuple[Presumption, ...]]] = {}


def _in_force(presumptions: Sequence[Presumption], day: dt.date) -> tuple[Presumption, ...]:
    """The presumptions in force on ``day``, kept by list and day (the same few days are asked
    for again and again; the list is kept with its entry so that its id cannot be reused)."""
    key = (id(presumptions), day)
    hit = _IN_FORCE.get(key)
    if hit is None or hit[0] is not presumptions:
        if len(_IN_FORCE) > 4096:
            _IN_FORCE.clear()
        hit = _IN_FORCE[key] = (presumptions, tuple(p for p in presumptions if p.in_force(day)))
    return hit[1]


def with_answer(facts: Mapping[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """A copy of the incident's facts with the field at ``pointer`` (``/acts/0/elements/intent``)
    stated as ``value``."""
    _, plural, index, *path = pointer.split("/")
    out = dict(facts)
    items = list(out[plural])
    items[int(index)] = _set(dict(items[int(index)]), path, value)
    out[plural] = items
    return out


# --------------------------------------------------------------------------------------------
# The safety check: no presumption may remove a recorded crime
# --------------------------------------------------------------------------------------------


class _Probe(Mapping[str, Any]):
    """An object whose fields are all unknown except those given."""

    def __init__(self, known: Mapping[str, Any]):
        self._known = dict(known)

    def __getitem__(self, key: str) -> Any:
        return self._known.get(key, _UNKNOWN)

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)


def _probe_object(path: Sequence[str], value: Any) -> _Probe:
    return _Probe({path[0]: value if len(path) == 1 else _probe_object(path[1:], value)})


def probe_scope(p: Presumption, value: Any, roots: Sequence[str]) -> Scope:
    """A scope where every fact is unknown except the presumption's field, set to ``value``."""
    obj = _probe_object(p.path, value)
    scope_roots: dict[str, Any] = {root: _UNKNOWN for root in roots}
    if p.entity == "suspect":
        scope_roots["incident"] = _Probe({"suspects": [obj]})
    else:
        for root in ("act",) if p.entity == "act" else ("victim", "act_victim"):
            scope_roots[root] = obj
    return Scope(scope_roots, {root: "" for root in roots})


@dataclass(frozen=True)
class Unsafe:
    presumption: Presumption
    rule: str
    message: str


def _conclusions(rule: Any, scope: Scope, withholds: Callable[[Mapping[str, Any]], bool]) -> dict[str, tuple[bool, Truth]]:
    """Each conclusion of the rule (its ``then``, or each table row) in the probe scope: whether
    it withholds a record, and whether it can apply (None: it may). Rows are taken one by one, a
    sound over-approximation of the hit policy. A probe value the rule cannot compare leaves
    every conclusion possible."""
    thens = {"then": rule.raw_then} if rule.table is None else {f"row {r.id}": r.raw_then for r in rule.table.rows}
    try:
        tv, _ = rule.cond(scope, None)
        rows = dict(rule.table.evaluate(scope, None)[1]) if rule.table is not None and tv is not False else {}
    except (RuleRuntimeError, TypeError, TableConflict):
        return {name: (withholds(then), None) for name, then in thens.items()}
    out: dict[str, tuple[bool, Truth]] = {}
    for name, then in thens.items():
        t: Truth = tv if rule.table is None or tv is False else rows.get(name[4:], False)
        out[name] = (withholds(then), None if (t is True and tv is None) else t)
    return out


def unsafe_presumptions(book: Any) -> list[Unsafe]:
    """Every presumption whose presumed value could withhold a record that another answer
    would give (see the module's docstring). ``book`` is a loaded Rulebook."""
    found: list[Unsafe] = []
    for decision, withholds in _guarded_decisions(book):
        # A recording conclusion ruled out may leave the allegation unrecorded; a classification
        # ruled out only gives another classification (a withholding one is caught as such).
        records = decision.name == book.pipeline["recording"]
        roots = _roots_for(book, decision.scope)
        for p in book.presumptions:
            for rule in decision.rules:
                if _overlaps(rule, p):
                    found.extend(_unsafe_for(p, rule, roots, withholds, records))
    return found


def _row_excludes(p: Presumption, rule: Any, row: Any) -> bool:
    """Whether the presumption's own condition is false wherever the table row applies: the
    row's single-valued cells on the presumption's entity are set in a probe (all else unknown)
    and the condition tested there. A presumption that never applies where a row withholds a
    record cannot make that row withhold one."""
    prefix = p.entity + "."
    known: dict[str, Any] = {}
    when = rule.raw.get("when", {})
    for part in when.get("all", [when]) if isinstance(when, Mapping) else []:
        if isinstance(part, Mapping) and set(part) == {"fact", "equals"} and str(part["fact"]).startswith(prefix):
            known[str(part["fact"])[len(prefix):]] = part["equals"]
    for idx, op, operand, _test in row.cells:
        path = rule.table.inputs[idx][1]
        if op == "equals" and path.startswith(prefix):
            known[path[len(prefix):]] = operand
    if not known:
        return False
    obj = _Probe({})
    for dotted, value in known.items():
        obj = _merge_probe(obj, dotted.split("."), value)
    roots = {"incident": _UNKNOWN, "report": _UNKNOWN, p.entity: obj}
    try:
        return p.cond(Scope(roots, {}), None)[0] is False
    except (RuleRuntimeError, TypeError):
        return False


def _merge_probe(obj: _Probe, path: Sequence[str], value: Any) -> _Probe:
    known = dict(obj._known)
    if len(path) == 1:
        known[path[0]] = value
    else:
        inner = known.get(path[0])
        known[path[0]] = _merge_probe(inner if isinstance(inner, _Probe) else _Probe({}), path[1:], value)
    return _Probe(known)


def _unsafe_for(p: Presumption, rule: Any, roots: Sequence[str], withholds: Any, records: bool) -> list[Unsafe]:
    under = _conclusions(rule, probe_scope(p, p.value, roots), withholds)
    if rule.table is not None:
        rows = {f"row {r.id}": r for r in rule.table.rows}
        under = {name: v for name, v in under.items() if not (name in rows and _row_excludes(p, rule, rows[name]))}
    for alt in p.alternatives:
        other = _conclusions(rule, probe_scope(p, alt, roots), withholds)
        for name, (bad, truth) in under.items():
            where = f"rule {rule.id!r}" + (f" ({name})" if name != "then" else "")
            if bad and truth is not False and other[name][1] is False:
                return [Unsafe(p, rule.id, f"presumption {p.id!r} ({p.fact} = {p.value!r}) leaves {where} able to withhold a record, which the answer {alt!r} rules out; a presumption must never stop a crime from being recorded")]
            if records and not bad and truth is False and other[name][1] is not False:
                return [Unsafe(p, rule.id, f"presumption {p.id!r} ({p.fact} = {p.value!r}) rules out {where}, which records with the answer {alt!r}; a presumption must never stop a crime from being recorded")]
    return []


def _overlaps(rule: Any, p: Presumption) -> bool:
    return rule.in_force_from <= (p.in_force_to or dt.date.max) and p.in_force_from <= (rule.in_force_to or dt.date.max)


def _guarded_decisions(book: Any) -> list[tuple[Any, Any]]:
    """The decisions whose rules can withhold a record, each with the test of a withholding
    conclusion: the recording decision (an outcome other than record) and the classification
    decision with every decision it reads (no classification code: no crime)."""
    pipeline = book.pipeline
    out: list[tuple[Any, Any]] = [(book.decisions[pipeline["recording"]],
                                   lambda then: "outcome" in then and then["outcome"] != "record")]
    pending = [pipeline["classification"]]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        d = book.decisions[name]
        if "code" in d.outputs:
            out.append((d, lambda then: "code" in then and then["code"] is None))
        pending.extend(dep for dep in d.depends if book.decisions[dep].scope == d.scope)
    return out


def _roots_for(book: Any, scope: str) -> list[str]:
    from .loader import SCOPE_ROOTS, VISIBLE_SCOPES

    return list(SCOPE_ROOTS[scope]) + [n for n, d in book.decisions.items() if d.scope in VISIBLE_SCOPES[scope]]
