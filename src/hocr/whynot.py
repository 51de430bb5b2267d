"""Why not: what keeps an incident from a classification, or from being recorded (or not).

``why_not(book, incident, target)`` answers "why is this not 8N?", "why is this not recorded?"
or "why is this recorded?" (target ``"not recorded"``) from the rules alone; nothing is written
per case. For each act (for a classification) or allegation (for an outcome) where the target
does not hold:

1. the candidates are the rules in force of the deciding decision (the pipeline's
   ``classification`` or ``recording``) that conclude the target, and for a decision table each
   row that does;
2. the first test that keeps a candidate from applying is read from the trace, walking its
   condition (``all``, ``any``, ``not``, ``some``) with the truth of each test; a test on another
   decision's output (``reporter_role.role``) is followed into that decision's own rules the
   same way; a test on the classification's catalogue entry cannot be met by a fact (a
   different classification is a different act) and stops that candidate;
3. a value that meets the test is proposed (the value an ``equals`` names, an answer the incident
   schema allows for ``not_equals``, an element built from a ``some`` test's own condition...),
   the incident is decided again with it, and the search goes on from the new trace until the
   target holds (confirmed) or no test can be met.

Each way found names the facts that would have to differ (JSON pointers, with the value now and
the value proposed), the rule that would then decide, and the decision it would give. The
search uses only the engine's public ``evaluate`` and the rulebook's rules and decisions.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine import EvaluationError, evaluate
from .explain import Locator, scope_ids
from .incident import Incident, InvalidIncident, check_incident, incident_schema, value_at
from .loader import Rule, Rulebook
from .presumptions import answers_for

FORMAT = "hocr.why_not.v1"
OUTCOMES = {"record": "record", "not recorded": "not_recorded"}
MAX_CHANGES = 6  # facts changed along one way; no rule of the shipped rulebook needs more than 4
MAX_DEPTH = 3  # decisions followed through another decision's output
BRANCHES = 2  # changes tried at each step (the parts of an `any`, the rows of a table)
MAX_DECISIONS = 24  # decisions taken again for one candidate rule
_GONE = object()  # a proposal to leave a field out
_STATED = "stated so that the rule's test is met (a why-not question)"
_OPEN_SCHEMA: Mapping[str, Any] = {}


class WhyNotError(ValueError):
    """A target that is neither a classification code in force nor an outcome."""


@dataclass(frozen=True)
class Goal:
    """A test to meet: ``decision.output`` (or an incident fact) ``op`` ``operand`` is ``want``."""

    fact: str
    op: str
    operand: Any
    want: bool = True


@dataclass(frozen=True)
class Change:
    pointer: str
    value: Any  # _GONE to leave the field out


@dataclass
class _Search:
    book: Rulebook
    day: dt.date
    as_of: dt.date | None
    locate: Locator
    stopped: list[str] = field(default_factory=list)  # why candidates could not be met
    budget: int = MAX_DECISIONS
    base: Sequence[Mapping[str, Any]] = ()  # the trace on the facts as given


def why_not(book: Rulebook, incident: Mapping[str, Any] | Incident, target: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """What keeps ``incident`` from ``target`` (a classification code, ``"record"`` or
    ``"not recorded"``): for each act or allegation where it does not hold, the facts that would
    have to differ and the rule that would then apply, each way confirmed by deciding again.

    Raises :class:`InvalidIncident` for bad input and :class:`WhyNotError` for an unknown target."""
    inc = incident if isinstance(incident, Incident) else check_incident(incident)
    raw = copy.deepcopy(dict(inc.raw))
    decision = evaluate(book, inc, as_of=as_of, trace=True)
    day = dt.date.fromisoformat(decision["as_of"])
    kind, decision_name, goal = _target(book, target, day)
    search = _Search(book, day, as_of, Locator.of(raw), base=decision["trace"])
    entries = []
    for node in decision["trace"]:
        if node["decision"] != decision_name or node["state"] == "absent":
            continue
        if _holds(goal, node):
            entries.append({"scope": node["scope"], "holds": True, "now": _value_text(node), "ways": []})
            continue
        search.stopped = []
        ways = _ways(search, raw, decision, node, goal)
        entries.append({"scope": node["scope"], "holds": False, "now": _value_text(node),
                        "decided_by": _ref(book, node.get("rule")), "ways": ways, "unmet": sorted(set(search.stopped))})
    return {"format": FORMAT, "incident": decision["incident"], "as_of": decision["as_of"], "target": target,
            "kind": kind, "decision": decision["summary"], "entries": entries}


def _target(book: Rulebook, target: str, day: dt.date) -> tuple[str, str, Goal]:
    if target in OUTCOMES:
        return "outcome", book.pipeline["recording"], Goal(f"{book.pipeline['recording']}.outcome", "equals", OUTCOMES[target])
    if book.classification(target, day) is None:
        raise WhyNotError(f"{target!r} is neither a classification in force on {day} nor 'record' or 'not recorded'")
    name = book.pipeline["classification"]
    return "classification", name, Goal(f"{name}.code", "equals", target)


def _holds(goal: Goal, node: Mapping[str, Any]) -> bool:
    if node["state"] != "value" or not isinstance(node.get("value"), Mapping):
        return False
    return _test(goal.op, node["value"].get(goal.fact.split(".", 1)[1]), goal.operand) is goal.want


def _value_text(node: Mapping[str, Any]) -> str:
    value = node.get("value")
    if node["state"] != "value" or not isinstance(value, Mapping):
        return str(node["state"])
    return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)


def _ref(book: Rulebook, rule_id: str | None) -> dict[str, Any] | None:
    rule = book.rules.get(rule_id or "")
    return rule.ref() if rule is not None else None


# --------------------------------------------------------------------------------------------
# The ways to the target: one per candidate rule (or table row), each confirmed
# --------------------------------------------------------------------------------------------


def _candidates(book: Rulebook, day: dt.date, decision: str, goal: Goal) -> list[tuple[Rule, str | None]]:
    """The rules (and rows) in force of ``decision`` whose conclusion can meet the goal."""
    output = goal.fact.split(".", 1)[1]
    out: list[tuple[Rule, str | None]] = []
    for rule in book.decisions[decision].rules_in_force(day):
        if rule.table is not None:
            out += [(rule, row["id"]) for row in rule.raw["table"]["rows"] if _concludes(row["then"].get(output, _GONE), goal)]
        elif _concludes(rule.raw_then.get(output, _GONE), goal):
            out.append((rule, None))
    return out


def _concludes(then: Any, goal: Goal) -> bool:
    if then is _GONE:
        return False
    if isinstance(then, Mapping):
        return "fact" in then  # a value copied from a fact: the fact can be made to meet the goal
    return _test(goal.op, then, goal.operand) is goal.want


def _ways(search: _Search, raw: dict[str, Any], decision: Mapping[str, Any], node: Mapping[str, Any], goal: Goal) -> list[dict[str, Any]]:
    """Every confirmed way to the goal, the fewest changes first; a way that only adds changes
    to a shorter one is left out."""
    found: list[dict[str, Any]] = []
    for rule, row in _candidates(search.book, search.day, node["decision"], goal):
        search.budget, told = MAX_DECISIONS, len(search.stopped)
        reached = _follow(search, raw, decision, _Path(node["scope"], node["decision"], rule, row, goal), [])
        if reached:
            del search.stopped[told:]  # a candidate reached: its dead ends are of no interest
        found += reached
    ways: list[dict[str, Any]] = []
    for way in sorted(found, key=lambda w: (w["names_target"], len(w["changes"]))):
        mine = {_change_key(c) for c in way["changes"]}
        if not any({_change_key(c) for c in w["changes"]} <= mine for w in ways):
            ways.append(way)
    return ways


def _change_key(change: Mapping[str, Any]) -> tuple[str, str]:
    return change["pointer"], repr(change["answer"])


@dataclass(frozen=True)
class _Path:
    """One candidate followed: the decision at a scope, the rule (and row) to bring to apply."""

    scope: str
    decision: str
    rule: Rule
    row: str | None
    goal: Goal


def _follow(search: _Search, raw: dict[str, Any], state: Mapping[str, Any], path: _Path,
            changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Meet the candidate's tests one at a time, deciding again after each change, until the
    target holds; at each step the first ``BRANCHES`` changes proposed are tried."""
    node = _node(state["trace"], path.scope, path.decision)
    if node is not None and _holds(path.goal, node):
        return [_way(search, node, changes, state, path.goal)]
    if len(changes) >= MAX_CHANGES:
        search.stopped.append(f"{path.rule.id}: more than {MAX_CHANGES} facts would have to change")
        return []
    ways: list[dict[str, Any]] = []
    proposals = _proposals(search, raw, state["trace"], path.scope, path.decision, path.rule, path.row, path.goal, 0)
    for change in _first(proposals, BRANCHES):
        if search.budget <= 0:
            break
        search.budget -= 1
        changed = _apply(raw, change)
        decided = _decide(search, changed)
        if decided is None:
            what = "leaving out" if change.value is _GONE else "setting"
            search.stopped.append(f"{path.rule.id}: {what} {change.pointer} gives no valid incident")
            continue
        step = {"pointer": change.pointer, "now": _shown(_get(raw, change.pointer)), "answer": _shown(change.value)}
        ways += _follow(search, changed, decided, path, [*changes, step])
    return ways


def _first(changes: Iterator[Change], most: int) -> list[Change]:
    out: list[Change] = []
    for change in changes:
        if all(c.pointer != change.pointer or not _same(c.value, change.value) for c in out):
            out.append(change)
        if len(out) == most:
            break
    return out


def _way(search: _Search, node: Mapping[str, Any], changes: list[dict[str, Any]], state: Mapping[str, Any],
         goal: Goal) -> dict[str, Any]:
    """A confirmed way: the changes, the rule that then decides, and the decision it gives."""
    names_target = goal.fact.endswith(".code") and any(c["answer"] == goal.operand for c in changes)
    return {"rule": _ref(search.book, node.get("rule")), "row": _matched_row(node), "changes": changes,
            "decision": state["summary"], "names_target": names_target, "also": _now_deciding(search, state, node)}


def _now_deciding(search: _Search, state: Mapping[str, Any], node: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The other rules that decide differently once the facts are changed (an elements table
    behind the classification, the reporter's role behind the recording), with their rows."""
    before = {(n["scope"], n["decision"]): (n.get("rule"), _matched_row(n)) for n in search.base}
    out = []
    for n in state["trace"]:
        if n is node or n["state"] != "value" or not n.get("rule") or n["decision"] == node["decision"]:
            continue
        now = (n.get("rule"), _matched_row(n))
        if before.get((n["scope"], n["decision"])) != now and n["rule"] in search.book.rules:
            out.append({**search.book.rules[n["rule"]].ref(), "row": now[1], "scope": n["scope"]})
    return out


def _matched_row(node: Mapping[str, Any]) -> str | None:
    entry = next((r for r in node.get("rules", []) if r["rule"] == node.get("rule")), None)
    rows = (entry or {}).get("matched_rows") or []
    return ", ".join(rows) or None


def _decide(search: _Search, raw: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return evaluate(search.book, raw, as_of=search.as_of, trace=True)
    except (InvalidIncident, EvaluationError):
        return None


def _node(trace: Sequence[Mapping[str, Any]], scope: str, name: str) -> Mapping[str, Any] | None:
    return next((n for n in trace if n["scope"] == scope and n["decision"] == name), None)


def _scope_of(book: Rulebook, decision: str, scope: str) -> str:
    """The trace scope of ``decision`` seen from ``scope`` (an act's decision from an allegation)."""
    level = book.decisions[decision].scope
    act, _ = scope_ids(scope)
    if level == "incident":
        return "incident"
    if level == "act" and act is not None:
        return f"act {act}"
    return scope


# --------------------------------------------------------------------------------------------
# The next change: walking a rule's condition with the truth of each test in the trace
# --------------------------------------------------------------------------------------------


def _proposals(search: _Search, raw: Mapping[str, Any], trace: Sequence[Mapping[str, Any]], scope: str, name: str,
               rule: Rule, row: str | None, goal: Goal, depth: int) -> Iterator[Change]:
    """The changes that would bring ``rule`` (``row``) nearer to applying, best first."""
    node = _node(trace, _scope_of(search.book, name, scope), name)
    entry = next((r for r in (node or {}).get("rules", []) if r["rule"] == rule.id), None)
    if entry is None:
        search.stopped.append(f"{rule.id}: not considered on these facts")
        return
    truth = _Truth(entry["facts"])
    when = rule.raw.get("when")
    if when is not None and truth.of(when) is not True:
        yield from _meet(search, raw, trace, scope, when, True, truth, depth)
        return
    if entry["result"] == "overridden":
        for other in entry.get("overridden_by", []):
            stronger = search.book.rules.get(other)
            if stronger is not None and "when" in stronger.raw:
                other_entry = next((r for r in node["rules"] if r["rule"] == other), None) if node else None
                yield from _meet(search, raw, trace, scope, stronger.raw["when"], False, _Truth(other_entry["facts"] if other_entry else []), depth)
        return
    if row is not None:
        yield from _row_changes(search, raw, trace, scope, rule, row, truth, depth)
    then = (_row(rule, row) or {}).get("then", rule.raw_then) if row else rule.raw_then
    copied = then.get(goal.fact.split(".", 1)[1])
    if isinstance(copied, Mapping) and "fact" in copied:
        yield from _meet_goal(search, raw, trace, scope, Goal(copied["fact"], goal.op, goal.operand, goal.want), depth)


def _row(rule: Rule, row: str | None) -> Mapping[str, Any] | None:
    return next((r for r in rule.raw["table"]["rows"] if r["id"] == row), None) if rule.table is not None else None


def _row_changes(search: _Search, raw: Mapping[str, Any], trace: Sequence[Mapping[str, Any]], scope: str, rule: Rule,
                 row: str, truth: _Truth, depth: int) -> Iterator[Change]:
    """The inputs of a table row whose cells the facts do not meet."""
    spec, cells = rule.raw["table"], (_row(rule, row) or {}).get("when", {})
    for given in spec["inputs"]:
        cell = cells.get(given["name"], "-")
        if cell == "-" or "fact" not in given:
            continue
        actual = truth.input(given["fact"])
        if isinstance(cell, list):
            op, operand = "in", cell
        elif isinstance(cell, Mapping):
            (op, operand), = cell.items()
        else:
            op, operand = "equals", cell
        if actual is _GONE or _test(op, actual, operand) is not True:
            yield from _meet_goal(search, raw, trace, scope, Goal(given["fact"], op, operand, True), depth)


class _Truth:
    """The truth of a condition's tests, as the trace recorded them."""

    def __init__(self, facts: Sequence[Mapping[str, Any]]):
        self.leaves: dict[tuple[str, str], Mapping[str, Any]] = {}
        for f in facts:
            self.leaves.setdefault((f["fact"], f["op"]), f)

    def input(self, fact: str) -> Any:
        leaf = self.leaves.get((fact, "input"))
        return leaf["actual"] if leaf is not None and leaf["known"] else _GONE

    def leaf(self, node: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if "some" in node or "every" in node:
            return self.leaves.get((node.get("some", node.get("every")), "some" if "some" in node else "every"))
        op = next((k for k in node if k not in ("fact", "value")), "")
        return self.leaves.get((node.get("fact", ""), op))

    def of(self, node: Mapping[str, Any]) -> bool | None:
        if "all" in node:
            parts = [self.of(p) for p in node["all"]]
            return False if False in parts else None if None in parts else True
        if "any" in node:
            parts = [self.of(p) for p in node["any"]]
            return True if True in parts else None if None in parts else False
        if "not" in node:
            inner = self.of(node["not"])
            return None if inner is None else not inner
        leaf = self.leaf(node)
        return leaf.get("result") if leaf is not None else None


def _meet(search: _Search, raw: Mapping[str, Any], trace: Sequence[Mapping[str, Any]], scope: str, node: Mapping[str, Any],
          want: bool, truth: _Truth, depth: int) -> Iterator[Change]:
    """Changes that would make the condition ``node`` come out ``want``."""
    if truth.of(node) is want:
        return
    if "all" in node or "any" in node:
        every = ("all" in node) == want  # all parts must come out `want` (all/true, any/false)
        for part in node.get("all", node.get("any", [])):
            if truth.of(part) is not want:
                yield from _meet(search, raw, trace, scope, part, want, truth, depth)
                if every:
                    return  # the first part that falls short; the others are read after it is met
        return
    if "not" in node:
        yield from _meet(search, raw, trace, scope, node["not"], not want, truth, depth)
        return
    if "some" in node:
        pointer = search.locate.pointer(scope, node["some"])
        if pointer is not None:
            yield from (_add_item if want else _spoil_items)(raw, pointer, node["where"])
        return
    if "fact" not in node:
        return
    op = next(k for k in node if k != "fact")
    leaf = truth.leaf(node)
    operand = leaf["expected"] if leaf is not None and "expected" in leaf else node[op]
    if isinstance(operand, Mapping):
        return  # compared with another fact not read yet
    yield from _meet_goal(search, raw, trace, scope, Goal(node["fact"], op, operand, want), depth)


def _meet_goal(search: _Search, raw: Mapping[str, Any], trace: Sequence[Mapping[str, Any]], scope: str, goal: Goal,
               depth: int) -> Iterator[Change]:
    """Changes that would meet one test: a value for an incident fact, or, for another
    decision's output, the changes that bring a rule concluding it nearer to applying."""
    root = goal.fact.split(".")[0]
    if root == "classification":
        search.stopped.append(f"{goal.fact} would have to differ: that is another classification, not another fact")
        return
    if root in search.book.decisions:
        if depth >= MAX_DEPTH:
            return
        for rule, row in _candidates(search.book, search.day, root, goal):
            yield from _proposals(search, raw, trace, scope, root, rule, row, goal, depth + 1)
        return
    pointer = search.locate.pointer(scope, goal.fact)
    if pointer is None:
        return
    value = _value_for(goal, pointer, _get(raw, pointer))
    if value is not None and not _same(value, _get(raw, pointer)):
        yield Change(pointer, value)


def _same(a: Any, b: Any) -> bool:
    return a is b or (a is not _GONE and b is not _GONE and a == b and type(a) is type(b))


# --------------------------------------------------------------------------------------------
# Values: what meets a test, from the test and the incident schema
# --------------------------------------------------------------------------------------------


def _value_for(goal: Goal, pointer: str, now: Any) -> Any:
    """A value for the field at ``pointer`` that makes the test come out ``goal.want``, or None."""
    op, operand = goal.op, goal.operand
    if not goal.want:
        op, operand = _negated(op, operand)
        if op == "":
            return None
    answers = answers_for(pointer)
    if op == "equals":
        return operand
    if op == "not_equals":
        return next((a for a in answers if a != operand), None)
    if op == "in":
        return next((a for a in operand if not answers or a in answers), None)
    if op == "not_in":
        return next((a for a in answers if a not in operand), None)
    if op == "exists":
        return _empty(pointer) if operand else _GONE
    if op == "contains":
        return [*(now if isinstance(now, list) else []), operand]
    if op == "lacks":
        return [v for v in now if v != operand] if isinstance(now, list) else None
    return _beyond(op, operand)


def _negated(op: str, operand: Any) -> tuple[str, Any]:
    return {"equals": ("not_equals", operand), "not_equals": ("equals", operand), "in": ("not_in", operand),
            "not_in": ("in", operand), "exists": ("exists", not operand), "contains": ("lacks", operand),
            "lt": ("ge", operand), "le": ("gt", operand), "gt": ("le", operand), "ge": ("lt", operand)}.get(op, ("", None))


def _beyond(op: str, operand: Any) -> Any:
    """A number or time that meets an ordering test (``lt``: just below, ``le``: the bound...)."""
    step = {"lt": -1, "le": 0, "ge": 0, "gt": 1}.get(op)
    if step is None or isinstance(operand, bool):
        return None
    if isinstance(operand, (int, float)):
        return operand + step
    if isinstance(operand, str):
        try:
            when = dt.datetime.fromisoformat(operand)
        except ValueError:
            return None
        return (when + dt.timedelta(minutes=step)).isoformat()
    return None


def _schema_at(pointer: str) -> Mapping[str, Any]:
    """The incident schema's node for the field at ``pointer``."""
    schema = incident_schema()
    node: Mapping[str, Any] = schema
    for part in [p for p in pointer.split("/") if p]:
        node = _resolved(schema, node)
        node = node.get("items", {}) if part.isdigit() else node.get("properties", {}).get(part, _OPEN_SCHEMA)
    return _resolved(schema, node)


def _resolved(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    return node


def _empty(pointer: str) -> Any:
    """A value for a field that must be given: an empty object or list, or the first answer."""
    node = _schema_at(pointer)
    kind = node.get("type")
    if kind == "object":
        return _complete({}, pointer)
    if kind == "array":
        return []
    answers = answers_for(pointer)
    return answers[0] if answers else None


def _add_item(raw: Mapping[str, Any], pointer: str, where: Mapping[str, Any]) -> Iterator[Change]:
    """A ``some`` test to be met: the list with an element built from the test's condition."""
    item = _item(where)
    if item is not None:
        have = _get(raw, pointer)
        yield Change(pointer, [*(have if isinstance(have, list) else []), _complete(item, pointer + "/0")])


def _spoil_items(raw: Mapping[str, Any], pointer: str, where: Mapping[str, Any]) -> Iterator[Change]:
    """A ``some`` test to be failed: for the first element that meets the condition, each field
    of the condition given a value that fails its test (the evidence an opinion, or found later)."""
    have = _get(raw, pointer)
    parts = where.get("all", [where])
    if not isinstance(have, list) or not all(str(p.get("fact", "")).startswith("item.") for p in parts):
        return
    for index, element in enumerate(have):
        tests = [(str(p["fact"])[5:].replace(".", "/"), next(k for k in p if k != "fact"), p) for p in parts]
        if not all(_test(op, _get(element, name), p[op]) is True for name, op, p in tests):
            continue
        for name, op, p in tests:
            at = f"{pointer}/{index}/{name}"
            value = _value_for(Goal(str(p["fact"]), op, p[op], False), at, _get(raw, at))
            if value is not None and value is not _GONE:
                yield Change(at, value)
        return


def _item(where: Mapping[str, Any]) -> dict[str, Any] | None:
    """An element that meets a ``some`` test's condition: each ``item.`` test of an ``all`` given
    the value it asks for (None when the condition asks for more than values)."""
    parts = where.get("all", [where])
    item: dict[str, Any] = {}
    for part in parts:
        fact = str(part.get("fact", ""))
        if not fact.startswith("item.") or "." in fact[5:]:
            return None
        if "equals" in part:
            item[fact[5:]] = part["equals"]
        elif "in" in part and part["in"]:
            item[fact[5:]] = part["in"][0]
        else:
            return None
    return item


def _complete(obj: Mapping[str, Any], pointer: str) -> dict[str, Any]:
    """``obj`` with the fields the schema requires and it lacks: the first answer of an enum,
    true for a yes/no, a short note for a text."""
    node = _schema_at(pointer)
    out = dict(obj)
    for name in node.get("required", []):
        if name in out:
            continue
        sub = _schema_at(f"{pointer}/{name}")
        answers = answers_for(f"{pointer}/{name}")
        if answers:
            out[name] = answers[0]
        elif sub.get("type") == "string":
            out[name] = _STATED
    return out


# --------------------------------------------------------------------------------------------
# The incident as JSON: reading and changing a field by its pointer
# --------------------------------------------------------------------------------------------


def _get(raw: Any, pointer: str) -> Any:
    return value_at(raw, pointer, _GONE)


def _apply(raw: Mapping[str, Any], change: Change) -> dict[str, Any]:
    """A copy of the incident with one field set (objects on the way made as needed) or left out."""
    out = copy.deepcopy(dict(raw))
    parts = [p for p in change.pointer.split("/") if p]
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if change.value is _GONE:
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    elif isinstance(node, list):
        node[int(parts[-1])] = change.value
    else:
        node[parts[-1]] = change.value
    return out


def _shown(value: Any) -> Any:
    return None if value is _GONE else value


def _test(op: str, actual: Any, operand: Any) -> bool | None:
    """The test ``actual op operand`` on plain values (None when it cannot be told)."""
    if actual is _GONE:
        return None
    if op == "equals":
        return bool(actual == operand)
    if op == "not_equals":
        return bool(actual != operand)
    if op == "in":
        return actual in operand
    if op == "not_in":
        return actual not in operand
    try:
        return {"lt": actual < operand, "le": actual <= operand, "gt": actual > operand, "ge": actual >= operand}.get(op)
    except TypeError:
        return None


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def render_text(result: Mapping[str, Any]) -> str:
    """The answer for people: for each act or allegation, what decides it now, and each way to
    the target with the facts that would have to differ and the rule that would then apply."""
    target = result["target"]
    lines = [f"Why not {target}? Incident {result['incident']}, rules in force on {result['as_of']}", result["decision"]]
    for e in result["entries"]:
        lines.append("")
        if e["holds"]:
            lines.append(f"[{e['scope']}] already {target} ({e['now']})")
            continue
        by = f" by {e['decided_by']['id']}" if e.get("decided_by") else ""
        lines.append(f"[{e['scope']}] now {e['now']}{by}")
        for w in e["ways"]:
            lines += _way_lines(w)
        if not e["ways"]:
            lines.append("  no change of fact gives it under the rules in force")
        lines += [f"  (not reached: {u})" for u in e.get("unmet", [])[:3]]
    return "\n".join(lines) + "\n"


def _way_lines(way: Mapping[str, Any]) -> list[str]:
    rule = way["rule"]
    row = f", row {way['row']}" if way.get("row") else ""
    facts = "; ".join(f"{c['pointer']} {_words(c['answer'])} (now {_words(c['now'])})" for c in way["changes"])
    lines = [f"  if {facts}:",
             f"    {rule['id']}{row} would apply [{rule['verification']}]: {rule['citation']}"]
    for other in way.get("also", []):
        row = f", row {other['row']}" if other.get("row") else ""
        lines.append(f"    with {other['id']}{row} [{other['verification']}] ({other['scope']}): {other['citation']}")
    return lines + [f"    giving: {way['decision']}"]


def _words(value: Any) -> str:
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return f"{len(value)} item(s)" if value else "none"
    return "given" if isinstance(value, Mapping) else str(value)
