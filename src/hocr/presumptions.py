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
import operator
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .codegen import PresumptionTest

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


def presume(presumptions: Sequence[Presumption], facts: Mapping[str, Any], day: dt.date) -> tuple[dict[str, Any], list[Applied]]:
    """The incident's facts with every presumed fact filled in, and what was presumed.

    Presumptions are applied in order of id, each to every act, victim or suspect whose field is
    missing and whose condition holds on the facts as filled so far. ``facts`` is never changed:
    the objects a presumption fills are copied (the others are shared with ``facts``).

    The fast pass (below) gives exactly what the reference pass gives; where it cannot be sure
    of that (a condition with no generated code, an object that is not a plain dict, a condition
    that fails on the data), the reference pass fills the incident instead."""
    plan = _plan(presumptions, day)
    if plan.entities is not None:
        try:
            return _fast_presume(plan.entities, facts)
        except _Fallback:
            pass
    return _presume_reference(plan.in_force, facts)


def with_answer(facts: Mapping[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """A copy of the incident's facts with the field at ``pointer`` (``/acts/0/elements/intent``)
    stated as ``value`` (only the objects along the pointer are copied)."""
    _, plural, index, *path = pointer.split("/")
    out = dict(facts)
    items = list(out[plural])
    items[int(index)] = _set(items[int(index)], path, value)
    out[plural] = items
    return out


def presume_answer(presumptions: Sequence[Presumption], facts: Mapping[str, Any], filled: Mapping[str, Any],
                   pointer: str, value: Any, day: dt.date) -> dict[str, Any]:
    """What ``presume(presumptions, with_answer(facts, pointer, value), day)`` fills, given
    ``filled``, the facts ``presume`` filled on ``facts`` (the same presumptions and day).

    The fast pass fills each object from that object and the report alone, so another answer to
    one object's field changes only that object: it alone is filled again, and the rest is taken
    from ``filled``. Where the fast pass does not serve (see :func:`presume`), the incident is
    presumed again in full."""
    plan = _plan(presumptions, day)
    _, plural, index, *path = pointer.split("/")
    ent = next((e for e in plan.entities if e.plural == plural), None) if plan.entities is not None else None
    items, done = facts.get(plural), filled.get(plural)
    i = int(index)
    if (ent is not None and type(items) is list and type(done) is list and len(items) == len(done) and i < len(items)
            and type(items[i]) is dict):
        try:
            new = _fill_object(ent, _set(items[i], path, value), i, facts.get("report", {}), [])
        except _Fallback:
            pass
        else:
            out = dict(filled)
            out[plural] = [new if k == i else obj for k, obj in enumerate(done)]
            return out
    return presume(presumptions, with_answer(facts, pointer, value), day)[0]


_IMMUTABLE: frozenset[type] = frozenset((str, int, float, bool, type(None)))


def fresh(value: Any) -> Any:
    """A copy of a value that shares nothing mutable with it: what ``copy.deepcopy`` gives,
    built directly for the JSON values that rule files and the schema's answers hold (a tenth of
    the time). A rule file's value placed in the facts or in a decision is always such a copy,
    so that nothing a caller does to either can change the rulebook."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is list:
        return [fresh(v) for v in value]
    if kind is dict and all(type(k) is str for k in value):
        return {k: fresh(v) for k, v in value.items()}
    return copy.deepcopy(value)


def _set(obj: Mapping[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``obj`` with ``path`` set (the objects along the path copied, nothing else)."""
    out = dict(obj)
    if len(path) == 1:
        out[path[0]] = fresh(value)
    else:
        out[path[0]] = _set(out[path[0]], path[1:], value)
    return out


# --- the reference pass: the rule as the docs state it, presumption by presumption ---


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


def _presume_reference(in_force: Sequence[Presumption], facts: Mapping[str, Any]) -> tuple[dict[str, Any], list[Applied]]:
    """``presume`` with the presumptions in force, one after another over every object, each
    condition evaluated by the interpreter (``hocr.conditions``): the oracle of the fast pass."""
    filled = dict(facts)
    applied: list[Applied] = []
    for p in in_force:
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
            items[index] = _set(obj, p.path, p.value)
            filled[plural] = items
            applied.append(Applied(p, f"/{plural}/{index}/" + "/".join(p.path), str(obj.get("id", index))))
    return filled, applied


# --- the fast pass: object by object, only the presumptions an object's guard lets in ---
#
# Object by object gives what presumption by presumption gives because a condition compiled
# for it reads only its own object and the report (never ``incident``, which would see the other
# objects as filled so far), and the presumptions of one object are still taken in order of id,
# each on the object as filled so far; what was presumed is then put back in order of id and
# object. A guard (a condition that starts by requiring ``kind`` or the like to equal a text)
# that reads another text is false before the interpreter reads anything else, so those
# presumptions are not even looked at; a guard fact that is missing (a presumption might fill
# it) lets every presumption of the entity in. The conditions are Python written by the
# rulebook's code generator (``codegen.PresumptionWriter``), with the interpreter's truth on
# any value; where it fails (a value it cannot read or compare), the reference pass fills the
# incident, and reports the failure if it fails too.


class _Fallback(Exception):
    """The fast pass met data it does not read exactly as the reference pass would (an object
    that is not a plain dict, a condition that fails on it...)."""


# A compiled condition: the truth (True, False, None) of (the entity's object, the report).
_Test = Callable[[dict[str, Any], Any], Truth]
# A condition's guard: the fact within the entity (("elements", "kind")) and the text it must be.
_Guard = tuple[tuple[str, ...], str]


def _guard(when: Any, entity: str) -> _Guard | None:
    """The guard of a condition: its first test, when that requires a field of the entity to
    equal a text (``{fact: act.elements.kind, equals: burglary}``); None when there is none."""
    first = when["all"][0] if isinstance(when, Mapping) and when.get("all") else when
    if not isinstance(first, Mapping) or set(first) != {"fact", "equals"} or type(first["equals"]) is not str:
        return None
    root, *path = str(first["fact"]).split(".")
    return (tuple(path), first["equals"]) if root == entity and path else None


@dataclass(frozen=True)
class _Member:
    """One presumption in force, as the fast pass applies it."""

    rank: int  # its place in order of id among those in force
    p: Presumption
    parent: tuple[str, ...]  # the path to the object that holds the field
    leaf: str
    tail: str  # its pointer after the entity's index: "elements/intent"
    test: _Test | None  # None: no condition
    guard: _Guard | None
    rest: _Test | None  # the test once the guard holds (None: it holds)
    # The Applied records made so far, by object index and id: they are immutable values, and
    # building a frozen dataclass costs more than the rest of filling a field.
    made: dict[tuple[int, str], Applied] = field(default_factory=dict, compare=False, repr=False)

    def applied(self, plural: str, index: int, entity_id: str) -> Applied:
        hit = self.made.get((index, entity_id))
        if hit is None:
            if len(self.made) > 256:  # bounded: ids are the incident's own
                self.made.clear()
            hit = self.made[index, entity_id] = Applied(self.p, f"/{plural}/{index}/{self.tail}", entity_id)
        return hit


@dataclass(frozen=True)
class _Entity:
    """The presumptions in force on one entity (acts, victims or suspects), dispatched on the
    guard fact most of them test."""

    name: str
    plural: str
    guard: tuple[str, ...] | None
    by_value: Mapping[str, tuple[_Member, ...]]  # the guard fact's text -> the members it lets in
    others: tuple[_Member, ...]  # the members for a text no guard asks for
    every: tuple[_Member, ...]

    def candidates(self, obj: dict[str, Any]) -> tuple[_Member, ...]:
        if self.guard is None:
            return self.every
        value: Any = obj
        for key in self.guard:
            if type(value) is not dict:
                return self.every
            value = value.get(key)
        return self.by_value.get(value, self.others) if type(value) is str else self.every


def _entity_plan(name: str, members: list[_Member]) -> _Entity:
    guarded = Counter(m.guard[0] for m in members if m.guard is not None)
    path = guarded.most_common(1)[0][0] if guarded else None
    on_path = {m.rank: m.guard[1] for m in members if m.guard is not None and m.guard[0] == path}
    # Where the guard holds, only the rest of the member's condition is left to test.
    by_value = {v: tuple(replace(m, test=m.rest) if m.rank in on_path else m
                         for m in members if on_path.get(m.rank, v) == v) for v in on_path.values()}
    others = tuple(m for m in members if m.rank not in on_path)
    return _Entity(name, ENTITIES[name], path, by_value, others, tuple(members))


@dataclass(frozen=True)
class _Plan:
    in_force: tuple[Presumption, ...]
    entities: tuple[_Entity, ...] | None  # None: the reference pass fills every incident


def _plan_of(every: tuple[Presumption, ...], ranks: tuple[int, ...]) -> _Plan:
    """The plan for the presumptions of ``every`` at ``ranks`` (those in force)."""
    in_force = tuple(every[i] for i in ranks)
    compiled = _compiled(every)
    members: list[_Member] = []
    for rank, i in enumerate(ranks):
        p, code = every[i], compiled[i]
        # A condition with no code, or not the one compiled from the presumption's ``when``: the
        # reference pass fills with the presumptions in force.
        if code is None or (code.test is None) != (p.cond is always) or p.entity not in ENTITIES or not p.path:
            return _Plan(in_force, None)
        members.append(_Member(rank, p, p.path[:-1], p.path[-1], "/".join(p.path), code.test,
                               _guard(p.raw.get("when"), p.entity), code.rest))
    entities = (_entity_plan(e, [m for m in members if m.p.entity == e]) for e in ENTITIES)
    return _Plan(in_force, tuple(e for e in entities if e.every))


def _compiled(every: tuple[Presumption, ...]) -> list[PresumptionTest | None]:
    """The compiled conditions of a list of presumptions (``codegen.presumption_tests``: the
    functions ``hocr rules compile`` shows for the rulebook's list), made once per list."""
    from . import codegen  # late: codegen needs the loader, which needs this module

    key = tuple(map(id, every))
    hit = _COMPILED.get(key)
    if hit is None or any(a is not b for a, b in zip(hit[0], every, strict=True)):
        hit = _remember(_COMPILED, key, (every, codegen.presumption_tests(every)))
    return hit[1]


# The plan for each list of presumptions and day, and for each set in force (compiled once per
# span of days with the same presumptions in force). Each entry keeps its list, so that an id
# reused by another list is never taken for it; a list that is not a tuple might change, so it is
# planned on every call.
_PLANS: dict[tuple[int, dt.date], tuple[Sequence[Presumption], _Plan]] = {}
_SPANS: dict[tuple[int, tuple[int, ...]], tuple[Sequence[Presumption], _Plan]] = {}
_COMPILED: dict[tuple[int, ...], tuple[tuple[Presumption, ...], list[PresumptionTest | None]]] = {}


def _plan(presumptions: Sequence[Presumption], day: dt.date) -> _Plan:
    key = (id(presumptions), day)
    hit = _PLANS.get(key)
    if hit is None or hit[0] is not presumptions:
        ranks = tuple(i for i, p in enumerate(presumptions) if p.in_force(day))
        if not isinstance(presumptions, tuple):
            return _plan_of(tuple(presumptions), ranks)
        span = _SPANS.get((key[0], ranks))
        if span is None or span[0] is not presumptions:
            span = _remember(_SPANS, (key[0], ranks), (presumptions, _plan_of(presumptions, ranks)))
        hit = _remember(_PLANS, key, span)
    return hit[1]


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) > 4096:  # bounded: a process might see many rulebooks (the tests load hundreds)
        cache.clear()
    cache[key] = value
    return value


_IN_ORDER = operator.itemgetter(0, 1)  # (rank, object index): in order of id, then of object


def _fast_presume(entities: tuple[_Entity, ...], facts: Mapping[str, Any]) -> tuple[dict[str, Any], list[Applied]]:
    filled = dict(facts)
    report = facts.get("report", {})
    found: list[tuple[int, int, Applied]] = []
    for ent in entities:
        items = facts.get(ent.plural, [])
        if type(items) is not list:
            if isinstance(items, list):
                raise _Fallback
            continue  # the reference pass skips what is not a list
        out = _fill_entity(ent, items, report, found)
        if out is not None:
            filled[ent.plural] = out
    if len(found) > 1:
        found.sort(key=_IN_ORDER)
    return filled, [a for _, _, a in found]



def _fill_entity(ent: _Entity, items: list[Any], report: Any, found: list[tuple[int, int, Applied]]) -> list[Any] | None:
    """The entity's list with its objects filled (None: nothing presumed)."""
    out: list[Any] | None = None
    for index, obj in enumerate(items):
        if type(obj) is not dict:
            if isinstance(obj, Mapping):
                raise _Fallback
            continue  # the reference pass finds no field to fill in it
        new = _fill_object(ent, obj, index, report, found)
        if new is not obj:
            if out is None:
                out = list(items)
            out[index] = new
    return out


def _fill_object(ent: _Entity, obj: dict[str, Any], index: int, report: Any, found: list[tuple[int, int, Applied]]) -> dict[str, Any]:
    cur = obj
    owned: set[int] = set()
    for m in ent.candidates(obj):
        holder = _fast_holder(cur, m.parent) if m.parent else cur  # no call for a field of the object itself
        if holder is None or m.leaf in holder:
            continue
        if m.test is not None:
            try:
                if m.test(cur, report) is not True:
                    continue
            except Exception:  # a value the condition cannot read or compare: the reference pass reports it
                raise _Fallback from None
        found.append((m.rank, index, m.applied(ent.plural, index, str(cur.get("id", index)))))
        cur = _put(cur, m.p.path, m.p.value, owned)
    return cur


def _fast_holder(obj: dict[str, Any], parent: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = obj
    for key in parent:
        node = node.get(key)
        if type(node) is not dict:
            if node is None or not isinstance(node, Mapping):  # None first: the usual case, and cheap
                return None
            raise _Fallback
    return node  # type: ignore[no-any-return]


def _put(obj: dict[str, Any], path: Sequence[str], value: Any, owned: set[int]) -> dict[str, Any]:
    """``obj`` with ``path`` set to a fresh copy of ``value``: each object along the path is
    copied the first time this pass changes it (``owned`` holds the ids of its copies), so the
    incident's own objects are never changed and an object filled twice is copied once."""
    top = _own(obj, owned)
    node = top
    for key in path[:-1]:
        child = _own(node[key], owned)
        node[key] = child
        node = child
    node[path[-1]] = fresh(value)
    return top


def _own(obj: dict[str, Any], owned: set[int]) -> dict[str, Any]:
    if id(obj) in owned:
        return obj
    copied = dict(obj)
    owned.add(id(copied))
    return copied


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
