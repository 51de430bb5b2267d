"""Static consistency checks over a whole rulebook: ``hocr rules lint``.

The linter reads the rule files itself (with the loader's safe YAML reader and schema check) and
reasons about them without evaluating any incident. It knows nothing about any offence: every
check is about the structure of the rules (ids, references, tables, overrides, dates, citations,
classifications). Each finding has a stable code (``HOCR-Lnnn``), a severity, the file and line,
and a one-line message. ``docs/consistency.md`` lists every check, what it guarantees and what it
does not.

Reasoning about conditions is done on a small symbolic form: each condition is turned into a
disjunction of conjunctions of *atoms* (a fact path, an operator, an operand). Two sets of atoms
are *provably disjoint* when the atoms on one fact path cannot all hold at once (``equals a`` and
``equals b``; ``exists: true`` and ``exists: false``; disjoint ``in`` lists; ``lt 13`` and
``ge 16``; ``le x`` and ``gt x`` for the same expression ``x``...). Anything the linter cannot
analyse (``some``/``every``, computed ``value:`` predicates, ``contains``) is treated as possibly
true, so a check built on disjointness never claims more than it can prove; where that makes a
check incomplete, a note (``HOCR-N001``) says what was not analysed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from . import ops
from .loader import (
    RulebookError,
    YamlError,
    _sentence_months,
    data_path,
    line_of,
    load_rulebook,
    load_yaml,
    rule_files,
)
from .loader import _schema_problems as schema_problems

# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------

#: Every check: code -> (severity, short name, what it finds). Codes are stable: never reuse one.
CHECKS: Mapping[str, tuple[str, str, str]] = {
    "HOCR-L000": ("error", "load", "the rulebook does not load (a problem the loader reports)"),
    "HOCR-L001": ("error", "duplicate-id", "a rule id, decision name, table input or table row id used twice"),
    "HOCR-L002": ("error", "unknown-rule", "an override names a rule that does not exist or decides something else"),
    "HOCR-L003": ("error", "unknown-decision", "a rule or the pipeline names a decision that does not exist"),
    "HOCR-L004": ("error", "unknown-classification", "a classification code that is not in the catalogue, or not in force while the rule is"),
    "HOCR-L005": ("error", "unknown-fact", "a fact path or output that the incident schema, the catalogue or the decision does not have"),
    "HOCR-L006": ("error", "bad-output-value", "an output value that is not in the output's enum"),
    "HOCR-L007": ("error", "audit-headline", "an audit section whose report groups mark no headline group, or more than one"),
    "HOCR-L010": ("error", "table-overlap", "two rows of a unique table can match the same facts"),
    "HOCR-L011": ("error", "table-gap", "an input combination over the declared domains that no row covers"),
    "HOCR-L012": ("error", "table-dead-row", "a table row that can never match"),
    "HOCR-L013": ("error", "table-shadowed-row", "a row of a first (or priority) table that earlier rows always pre-empt"),
    "HOCR-L014": ("warning", "cell-outside-domain", "a cell value that is not in the input's declared domain"),
    "HOCR-L020": ("error", "override-cycle", "rules that override each other in a cycle"),
    "HOCR-L021": ("error", "unresolved-pair", "two rules of one decision can both apply on one day with no override between them"),
    "HOCR-L030": ("error", "date-overlap", "editions of one rule, or entries of one classification code, in force on the same day"),
    "HOCR-L031": ("error", "date-gap", "editions of one rule or classification leave a day uncovered, or a decision has no rule in force on some day"),
    "HOCR-L032": ("error", "date-empty", "an in_force period that ends before it starts"),
    "HOCR-L040": ("error", "no-citation", "a rule, table row or classification without a citation (source, or a placeholder section)"),
    "HOCR-L041": ("error", "section-not-in-edition", "a citation of a section that the cited edition does not have"),
    "HOCR-L050": ("error", "unreachable-classification", "a classification that no rule can give on any day it is in force"),
    "HOCR-L060": ("error", "presumption-removes-crime", "a presumption whose value could stop a crime from being recorded (also a load error)"),
    "HOCR-N001": ("note", "not-analysed", "a part the linter could not analyse statically (not a finding; the check is incomplete there)"),
}

EXIT_FINDINGS = 5


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    code: str
    message: str
    severity: str = field(default="error", compare=False)
    subject: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.code} [{self.severity}] {self.message}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LintResult:
    findings: list[Finding]
    notes: list[Finding]

    @property
    def clean(self) -> bool:
        return not self.findings


# --------------------------------------------------------------------------------------------
# The raw model: every file parsed, rules merged with their file's defaults
# --------------------------------------------------------------------------------------------


@dataclass
class RawRule:
    id: str
    data: dict[str, Any]  # merged with the file's defaults (not 'category')
    file: str
    line: int
    path: tuple[Any, ...]  # path of the rule inside its file
    lines: dict[tuple[Any, ...], int]

    @property
    def decision(self) -> str | None:
        d = self.data.get("decision")
        return d if isinstance(d, str) else None

    def line_at(self, *sub: Any) -> int:
        return line_of(self.lines, (*self.path, *sub)) or self.line

    def period(self) -> tuple[dt.date, dt.date] | None:
        return _period(self.data.get("in_force"))


@dataclass
class RawClassification:
    code: str
    data: dict[str, Any]
    file: str
    line: int


@dataclass
class RawDecision:
    name: str
    data: dict[str, Any]
    file: str
    line: int


@dataclass
class Model:
    root: Path
    rules: list[RawRule]
    decisions: dict[str, RawDecision]
    decision_dups: list[RawDecision]
    classifications: list[RawClassification]
    manifest: dict[str, Any] | None
    manifest_file: str
    manifest_lines: dict[tuple[Any, ...], int]
    audit: tuple[str, dict[str, Any], dict[tuple[Any, ...], int]] | None = None  # file, section, lines
    documents: tuple[dict[str, Any], ...] = ()  # the cited documents' editions (a "documents" section)

    @property
    def rule_ids(self) -> dict[str, RawRule]:
        out: dict[str, RawRule] = {}
        for r in self.rules:
            out.setdefault(r.id, r)
        return out

    def codes(self) -> dict[str, list[RawClassification]]:
        out: dict[str, list[RawClassification]] = {}
        for c in self.classifications:
            out.setdefault(c.code, []).append(c)
        return out


def _period(inf: Any) -> tuple[dt.date, dt.date] | None:
    if not isinstance(inf, Mapping) or "from" not in inf:
        return None
    try:
        start = dt.date.fromisoformat(str(inf["from"]))
        end = dt.date.fromisoformat(str(inf["to"])) if "to" in inf else dt.date.max
    except ValueError:
        return None
    return start, end


def _overlaps(a: tuple[dt.date, dt.date] | None, b: tuple[dt.date, dt.date] | None) -> bool:
    if a is None or b is None:
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def read_model(root: Path, checked: bool = False) -> Model:
    """Parse every rule file; files that are not valid YAML or fail the schema are left out
    (the loader's own report of them becomes HOCR-L000 findings)."""
    rules: list[RawRule] = []
    decisions: dict[str, RawDecision] = {}
    dups: list[RawDecision] = []
    classes: list[RawClassification] = []
    manifest: dict[str, Any] | None = None
    manifest_file = "rulebook.yaml"
    manifest_lines: dict[tuple[Any, ...], int] = {}
    audit: tuple[str, dict[str, Any], dict[tuple[Any, ...], int]] | None = None
    documents: tuple[dict[str, Any], ...] = ()
    for path in rule_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            data, lines = load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YamlError):
            continue
        if not isinstance(data, dict) or (not checked and schema_problems(data, lines, rel)):
            continue
        if "rulebook" in data and manifest is None:
            manifest, manifest_file, manifest_lines = data["rulebook"], rel, lines
        if "audit" in data and audit is None:
            audit = rel, data["audit"], lines
        documents += tuple(data.get("documents", ()))
        defaults = data.get("defaults", {})
        for i, d in enumerate(data.get("decisions", [])):
            rd = RawDecision(d["name"], d, rel, line_of(lines, ["decisions", i]) or 0)
            if d["name"] in decisions:
                dups.append(rd)
            else:
                decisions[d["name"]] = rd
        for i, r in enumerate(data.get("rules", [])):
            merged = {**{k: v for k, v in defaults.items() if k != "category"}, **r}
            rules.append(RawRule(r["id"], merged, rel, line_of(lines, ["rules", i]) or 0, ("rules", i), lines))
        for i, c in enumerate(data.get("classifications", [])):
            classes.append(RawClassification(c["code"], {**defaults, **c}, rel, line_of(lines, ["classifications", i]) or 0))
    return Model(root, rules, decisions, dups, classes, manifest, manifest_file, manifest_lines, audit, documents)


# --------------------------------------------------------------------------------------------
# Symbolic conditions
# --------------------------------------------------------------------------------------------

# An atom: (fact path, operator, operand). Operands are literals, tuples of literals (in/not_in)
# or ("expr", canonical text) for an operand computed from facts.
Atom = tuple[str, str, Any]
Conj = tuple[Atom, ...]
DNF_LIMIT = 1024
_NEGATE = {"equals": "not_equals", "not_equals": "equals", "in": "not_in", "not_in": "in",
           "lt": "ge", "ge": "lt", "le": "gt", "gt": "le", "contains": "not_contains",
           "not_contains": "contains"}
_RELATIONS = {"lt": {"<"}, "le": {"<", "="}, "gt": {">"}, "ge": {">", "="},
              "equals": {"="}, "not_equals": {"<", ">"}}
_SCALARS = ops.SCALARS


class _Opaque:
    __slots__ = ()


def _operand(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value) if all(type(x) in _SCALARS for x in value) else ("expr", json.dumps(value, sort_keys=True))
    if type(value) in _SCALARS:
        return value
    return ("expr", json.dumps(value, sort_keys=True))


def _is_expr(operand: Any) -> bool:
    return isinstance(operand, tuple) and len(operand) == 2 and operand[0] == "expr"


def dnf(node: Any, negate: bool = False) -> list[Conj]:
    """A condition as a disjunction of conjunctions of atoms. Parts that cannot be analysed add
    no atom (they are treated as possibly true). Too large a form is cut to 'possibly true'."""
    if node is None:
        return [()]
    if not isinstance(node, Mapping):
        return [()]
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        parts = [dnf(c, negate) for c in node[key]]
        conjunctive = (key == "all") != negate
        if conjunctive:
            out: list[Conj] = [()]
            for p in parts:
                out = [a + b for a in out for b in p]
                if len(out) > DNF_LIMIT:
                    return [()]
            return out
        merged = [c for p in parts for c in p]
        return merged if len(merged) <= DNF_LIMIT else [()]
    if "not" in node:
        return dnf(node["not"], not negate)
    if "fact" in node and len(node) == 2:
        (op, operand), = ((k, v) for k, v in node.items() if k != "fact")
        path = node["fact"]
        if op == "exists":
            return [((path, "exists", bool(operand) != negate),)]
        if op not in _RELATIONS and op not in ("in", "not_in", "contains"):
            return [()]
        if negate:
            op = _NEGATE[op]
        return [((path, op, _operand(operand)),)]
    return [()]  # some / every / value: not analysed


def cell_atoms(path: str, cell: Any) -> Conj:
    if cell == "-":
        return ()
    if isinstance(cell, list):
        return ((path, "in", _operand(cell)),)
    if isinstance(cell, Mapping):
        out = []
        for op, operand in cell.items():
            out.append((path, "exists", bool(operand)) if op == "exists" else (path, op, _operand(operand)))
        return tuple(out)
    return ((path, "equals", _operand(cell)),)


_eq = ops.equals


MISSING = _Opaque()


def test_value(value: Any, op: str, operand: Any) -> bool | None:
    """Whether the value passes ``op operand`` (None: cannot tell). ``MISSING`` is an absent fact."""
    if op == "exists":
        return (value is not MISSING) == bool(operand)
    if value is MISSING:
        return False  # any other test of an absent fact is unknown, never true
    if _is_expr(operand):
        return None
    if op in ("equals", "not_equals", "in", "not_in"):
        return ops.COMPARISONS[op](value, operand)
    if op in ("contains", "not_contains"):
        if not isinstance(value, (str, list, tuple)):
            return None
        return ops.contains(value, operand) == (op == "contains")
    try:
        if isinstance(value, bool) or isinstance(operand, bool):
            return None
        return ops.COMPARISONS[op](value, operand)
    except TypeError:
        return None


def satisfiable(atoms: Sequence[tuple[str, Any]], domain: Sequence[Any] | None) -> bool | None:
    """Can all the (op, operand) tests on one fact hold at once? True, False, or None (cannot
    tell). With a domain, the values are the domain and 'absent'."""
    if not atoms:
        return True
    exists = {bool(o) for op, o in atoms if op == "exists"}
    others = [(op, o) for op, o in atoms if op != "exists"]
    if len(exists) > 1:
        return False
    if False in exists:
        return not others
    # Comparisons with the same computed operand: intersect the relations they allow.
    by_expr: dict[Any, set[str]] = {}
    for op, o in others:
        if _is_expr(o) and op in _RELATIONS:
            by_expr[o] = by_expr.get(o, {"<", "=", ">"}) & _RELATIONS[op]
    if any(not rel for rel in by_expr.values()):
        return False
    held = {o for op, o in others if op == "contains"}
    if any(op == "not_contains" and o in held for op, o in others):
        return False
    others = [(op, o) for op, o in others if op not in ("contains", "not_contains") or not _is_expr(o)]
    literal = [(op, o) for op, o in others if not _is_expr(o)]
    unknown = len(literal) < len(others)
    if domain is not None:
        undecided = False
        for v in domain:
            verdict: bool | None = True
            for op, o in literal:
                r = test_value(v, op, o)
                if r is False:
                    verdict = False
                    break
                if r is None:
                    verdict = None
            if verdict is True:
                return None if unknown else True
            undecided = undecided or verdict is None
        return None if undecided else False
    candidates: list[Any] | None = None
    for op, o in literal:
        if op == "equals":
            values = [o]
        elif op == "in":
            values = list(o)
        else:
            continue
        candidates = values if candidates is None else [v for v in candidates if any(_eq(v, x) for x in values)]
    if candidates is not None:
        for v in candidates:
            results = [test_value(v, op, o) for op, o in literal]
            if all(r is True for r in results):
                return None if unknown else True
        if any(test_value(v, op, o) is None for v in candidates for op, o in literal):
            return None
        return False
    # Only not_equals / not_in / bounds: an interval over the numbers.
    lo, lo_strict, hi, hi_strict = None, False, None, False
    for op, o in literal:
        if op in ("not_equals", "not_in", "contains", "not_contains"):
            continue
        if isinstance(o, bool) or not isinstance(o, (int, float)):
            return None
        if op in ("gt", "ge") and (lo is None or o > lo or (o == lo and op == "gt")):
            lo, lo_strict = o, op == "gt"
        if op in ("lt", "le") and (hi is None or o < hi or (o == hi and op == "lt")):
            hi, hi_strict = o, op == "lt"
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_strict or hi_strict))):
        return False
    return None if unknown else True


class Reasoner:
    """Decides whether a conjunction of atoms can hold (False only when it provably cannot),
    using the domains of the facts, the catalogue (the fields of ``classification`` come from one
    catalogue entry, so they constrain each other) and the parents of a path (a fact that has a
    value has parents that exist)."""

    CATALOGUE_FIELDS = ("code", "name", "category", "group", "victim_based", "max_sentence_months",
                        "counting_unit", "tags", "notifiable")

    def __init__(self, domains: Mapping[str, Sequence[Any] | None], catalogue: Sequence[Mapping[str, Any]]):
        self.domains = domains
        self.catalogue = list(catalogue)
        self._memo: dict[tuple[Atom, ...], bool] = {}
        self._sat: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}

    def possible(self, conj: Iterable[Atom]) -> bool:
        key = tuple(sorted(set(conj), key=repr))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._possible(key)
        return hit

    def _possible(self, conj: Iterable[Atom]) -> bool:
        by_path: dict[str, list[tuple[str, Any]]] = {}
        for path, op, operand in conj:
            by_path.setdefault(path, []).append((op, operand))
            if op != "exists" or operand:
                # A fact with a value (or present) has every parent present; offence.* is
                # built from act.offence.
                parts = path.split(".")
                for k in range(2, len(parts)):
                    by_path.setdefault(".".join(parts[:k]), []).append(("exists", True))
                if parts[0] == "offence":
                    by_path.setdefault("act.offence", []).append(("exists", True))
        for path, atoms in by_path.items():
            key = (path, tuple(atoms))
            sat = self._sat.get(key, MISSING)
            if sat is MISSING:
                sat = self._sat[key] = satisfiable(atoms, self.domains.get(path))
            if sat is False:
                return False
        on_catalogue = [(p.split(".", 1)[1], op, o) for p, atoms in by_path.items() for op, o in atoms
                        if p.startswith("classification.") and p.split(".", 1)[1] in self.CATALOGUE_FIELDS]
        if on_catalogue and self.catalogue:
            return any(all(test_value(entry.get(f, MISSING), op, o) is not False for f, op, o in on_catalogue)
                       for entry in self.catalogue)
        return True

    def disjoint(self, a: list[Conj], b: list[Conj]) -> bool:
        return all(not self.possible(x + y) for x in a for y in b)


# --------------------------------------------------------------------------------------------
# Fact paths against the incident schema, the catalogue and the decisions
# --------------------------------------------------------------------------------------------

_ANY: dict[str, Any] = {}  # a schema node that allows any path below it


class FactSchema:
    """Resolves fact paths to schema nodes: incident roots from schemas/incident.schema.json,
    ``classification``, ``offence`` and ``allegation`` as the engine builds them, decision
    outputs from the decision declarations."""

    def __init__(self, incident_schema: Mapping[str, Any], model: Model, codes: Sequence[str]):
        self.schema = incident_schema
        self.model = model
        props = incident_schema.get("properties", {})
        act = self._items(props.get("acts", _ANY))
        offence = dict(self.resolve(act).get("properties", {}).get("offence", {}) if act is not _ANY else {})
        offence_node = self.resolve(offence) if offence else {}
        self.roots: dict[str, Any] = {
            "incident": incident_schema,
            "report": props.get("report", _ANY),
            "act": act,
            "victim": self._items(props.get("victims", _ANY)),
            "act_victim": self._items(props.get("victims", _ANY)),
            "offence": {"type": "object", "additionalProperties": False, "properties": {
                **offence_node.get("properties", {}),
                "codes": {"type": "array", "items": {"type": "string"}},
                "single": {"type": "string"},
            }},
            "allegation": {"type": "object", "additionalProperties": False, "properties": {
                "act": {"type": "string"}, "victim": {"type": ["string", "null"]},
                "has_victim": {"type": "boolean"},
                "suspects": {"type": "array", "items": {"type": "string"}},
            }},
        }
        catalogue = {
            "code": {"enum": [*codes, None]}, "name": {"type": "string"}, "category": {"type": "string"},
            "group": {"type": "string"}, "victim_based": {"type": "boolean"},
            "max_sentence_months": {"type": "number"}, "counting_unit": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}, "notifiable": {"type": "boolean"},
        }
        pipeline = (model.manifest or {}).get("pipeline", {})
        cls_decision = model.decisions.get(pipeline.get("classification", ""))
        if cls_decision is not None:
            for name, out in cls_decision.data.get("outputs", {}).items():
                if name != "code":
                    catalogue[name] = _output_schema(out)
        for name, d in model.decisions.items():
            self.roots.setdefault(name, {"type": "object", "additionalProperties": False, "properties": {
                k: _output_schema(v) for k, v in d.data.get("outputs", {}).items()}})
        self.roots["classification"] = {"type": "object", "additionalProperties": False, "properties": catalogue}

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node and seen < 20:
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                return _ANY
            target: Any = self.schema
            for part in ref[2:].split("/"):
                target = target.get(part, _ANY) if isinstance(target, Mapping) else _ANY
            node, seen = target, seen + 1
        return node

    def _items(self, node: Any) -> Any:
        node = self.resolve(node)
        return self.resolve(node.get("items", _ANY)) if isinstance(node, Mapping) else _ANY

    def _branches(self, node: Any) -> list[Mapping[str, Any]]:
        node = self.resolve(node)
        if not isinstance(node, Mapping):
            return []
        out = [node]
        for key in ("anyOf", "oneOf", "allOf"):
            for b in node.get(key, []):
                out.extend(self._branches(b))
        return out

    def child(self, node: Any, name: str) -> tuple[Any, str | None]:
        """The schema of ``name`` inside ``node``; (None, reason) when it cannot exist."""
        if node is _ANY:
            return _ANY, None
        branches = self._branches(node)
        found = [b["properties"][name] for b in branches if name in b.get("properties", {})]
        if found:
            return self.resolve(found[0]), None
        if any(b.get("additionalProperties", True) is not False and "properties" not in b and b.get("type") in (None, "object") for b in branches):
            return _ANY, None
        if any(b.get("additionalProperties") not in (None, False) for b in branches):
            extra = next(b["additionalProperties"] for b in branches if b.get("additionalProperties") not in (None, False))
            return (self.resolve(extra) if isinstance(extra, Mapping) else _ANY), None
        types = {t for b in branches for t in ([b["type"]] if isinstance(b.get("type"), str) else b.get("type", []))}
        if types and "object" not in types:
            return None, f"it is a {'/'.join(sorted(types))}, which has no {name!r}"
        names = sorted({k for b in branches for k in b.get("properties", {})})
        return None, f"no {name!r} (known: {', '.join(names) or 'none'})"

    def lookup(self, path: str, item: Any = None) -> tuple[Any, str | None]:
        parts = path.split(".")
        root = parts[0]
        if root == "item":
            node = item if item is not None else _ANY
        elif root in self.roots:
            node = self.roots[root]
        else:
            return _ANY, "unknown-root"
        for i, part in enumerate(parts[1:], start=1):
            node, why = self.child(node, part)
            if node is None:
                return None, f"{'.'.join(parts[:i])} has {why}" if why and why.startswith("no ") else f"{'.'.join(parts[:i])}: {why}"
        return node, None

    def domain(self, path: str) -> list[Any] | None:
        node, why = self.lookup(path)
        if node is None or node is _ANY or why:
            return None
        for b in self._branches(node):
            if "enum" in b:
                return list(b["enum"])
            if b.get("type") == "boolean":
                return [True, False]
        return None

    def items_of(self, path: str, item: Any = None) -> tuple[Any, str | None]:
        node, why = self.lookup(path, item)
        if node is None or node is _ANY:
            return node if node is None else _ANY, why
        branches = self._branches(node)
        for b in branches:
            if b.get("type") == "array" or "items" in b:
                return self.resolve(b.get("items", _ANY)), None
        types = {t for b in branches for t in ([b["type"]] if isinstance(b.get("type"), str) else b.get("type", []))}
        if types and "array" not in types:
            return None, f"{path} is not a list"
        return _ANY, None


def _output_schema(out: Mapping[str, Any]) -> dict[str, Any]:
    if "enum" in out:
        return {"enum": [*out["enum"], *([None] if out.get("nullable") else [])]}
    kind = out.get("type")
    mapping: dict[str, dict[str, Any]] = {"boolean": {"type": "boolean"}, "list": {"type": "array", "items": {}},
               "string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
               "classification_code": {"type": "string"}, "datetime": {"type": "string"},
               "duration": {"type": "string"}}
    return dict(mapping.get(str(kind), {}))


# --------------------------------------------------------------------------------------------
# Editions data (HOCR-L041)
# --------------------------------------------------------------------------------------------


@cache
def editions_data() -> dict[str, Any]:
    """The shipped rulebook's cited documents and their editions (rules/sources/editions.yaml):
    ``{"documents": [...]}``. ``hocr rules lint`` reads those of the rulebook it lints."""
    text = (data_path("rules") / "sources" / "editions.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return {"documents": data.get("documents", [])}


_STOP = {"the", "of", "a", "an", "for", "and", "in", "to", "on"}


def _tokens(text: str) -> frozenset[str]:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("&", " and "))
    return frozenset(w for w in words if w not in _STOP)


def _title_matches(cited: str, known: str) -> bool:
    a, b = _tokens(cited), _tokens(known)
    return not a or a <= b or b <= a


_PART = re.compile(r"^\s*(?:(annex)\s+|section\s+)?([A-Z])(?:\b|(?=[.:)]))[\s.:)-]*(.*)$", re.IGNORECASE)


def _edition_parts(edition: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    return ({str(k): str(v) for k, v in edition.get("sections", {}).items()},
            {str(k): str(v) for k, v in edition.get("annexes", {}).items()},
            [str(p) for p in edition.get("parts", [])])


def section_problem(document: str, edition: str, section: str,
                    documents: Sequence[Mapping[str, Any]] | None = None) -> tuple[str | None, str | None]:
    """(problem, note) for one citation: the problem when the edition does not have the cited
    section; a note when the document or edition is not in the editions data (``documents``:
    a rulebook's ``documents`` section; by default the shipped rulebook's)."""
    known = documents if documents is not None else editions_data()["documents"]
    doc = next((d for d in known
                if any(_norm_name(document) == _norm_name(n) for n in d["names"])), None)
    if doc is None:
        return None, None
    ed = next((e for e in doc["editions"] if any(_norm_name(edition) == _norm_name(n) for n in e["names"])), None)
    editions = [ed] if ed is not None else list(doc["editions"])
    note = None if ed is not None else f"edition {edition!r} of {document!r} is not in the editions data; its sections were checked against every known edition"
    for piece in [p.strip() for p in section.split(";") if p.strip()]:
        found, expected = False, []
        m = _PART.match(piece)
        for e in editions:
            sections, annexes, parts = _edition_parts(e)
            if m and (m.group(1) or len(piece) == 1 or piece[1] in " .:)") and (
                    m.group(2).upper() in (annexes if m.group(1) else sections)):
                table = annexes if m.group(1) else sections
                title = table[m.group(2).upper()]
                if _title_matches(m.group(3), title):
                    found = True
                    break
                expected.append(f"{'Annex ' if m.group(1) else ''}{m.group(2).upper()} is {title!r}")
                continue
            if m and (m.group(1) or (len(piece) > 1 and piece[1] in " .:)")):
                continue
            titles = parts + list(sections.values()) + list(annexes.values())
            if any(_tokens(piece) and _tokens(piece) == _tokens(t) or _title_matches(piece, t) and _tokens(piece) for t in titles):
                found = True
                break
        if not found:
            which = f"the {edition} edition" if ed is not None else "any known edition"
            hint = f" ({'; '.join(sorted(set(expected)))})" if expected else ""
            return f"cites {piece!r}, which {which} of {document!r} does not have{hint}", note
    return None, note


def _norm_name(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9/]+", text.lower()))


# --------------------------------------------------------------------------------------------
# The linter
# --------------------------------------------------------------------------------------------


class Linter:
    def __init__(self, model: Model):
        self.model = model
        self.findings: list[Finding] = []
        self.notes: list[Finding] = []
        codes = sorted({c.code for c in model.classifications})
        schema = json.loads((data_path("schemas") / "incident.schema.json").read_text(encoding="utf-8"))
        self.facts = FactSchema(schema, model, codes)
        self._dnf: dict[str, list[Conj]] = {}
        self.reasoner = Reasoner(_Domains(self.facts), self._catalogue())
        pipeline = (model.manifest or {}).get("pipeline", {})
        self.pipeline: Mapping[str, Any] = pipeline if isinstance(pipeline, Mapping) else {}

    # -- reporting --

    def add(self, code: str, file: str, line: int, message: str, subject: str = "") -> None:
        severity = CHECKS[code][0]
        f = Finding(file, line, code, message, severity, subject)
        (self.notes if severity == "note" else self.findings).append(f)

    # -- helpers --

    def _catalogue(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{"code": None, "notifiable": False}]
        for c in self.model.classifications:
            d = c.data
            months: Any
            try:
                months = _sentence_months(d.get("max_sentence"))
            except (KeyError, TypeError, ValueError):
                months = MISSING
            rows.append({"code": c.code, "name": d.get("name"), "category": d.get("category"),
                         "group": d.get("group", ""), "victim_based": d.get("victim_based"),
                         "max_sentence_months": months, "counting_unit": d.get("counting_unit", ""),
                         "tags": list(d.get("tags", [])), "notifiable": True})
        return rows

    def providers(self, decision: str, output: str, values: Sequence[Any] | None) -> list[Conj] | None:
        """The conditions under which some rule gives ``output`` one of ``values``: one
        conjunction for each rule (and table row) that can; None when a rule computes the output
        from facts, so that any value may come from it."""
        out: list[Conj] = []
        for r in self.model.rules:
            if r.decision != decision:
                continue
            base = dnf(r.data.get("when"))
            options: list[tuple[Mapping[str, Any], Conj]] = []
            if "then" in r.data:
                options.append((r.data["then"], ()))
            table = r.data.get("table")
            if isinstance(table, Mapping):
                inputs = {i["name"]: _input_key(i) for i in table.get("inputs", [])}
                for row in table.get("rows", []):
                    cells: Conj = ()
                    for name, cell in row.get("when", {}).items():
                        if name in inputs:
                            cells += cell_atoms(inputs[name], cell)
                    options.append((row.get("then", {}), cells))
            for then, cells in options:
                if output not in then:
                    continue
                v = then[output]
                if values is None and v is not None:
                    out.extend(b + cells for b in base)
                    continue
                if isinstance(v, (Mapping, list)):
                    return None
                if values is not None and any(_eq(v, x) for x in values):
                    out.extend(b + cells for b in base)
        return out

    def applicability(self, r: RawRule) -> list[Conj]:
        """``rule_dnf``, with each test of another decision's output value replaced by the
        conditions of the rules that can give that value (one level deep)."""
        key = "+" + r.id
        if key in self._dnf:
            return self._dnf[key]
        out: list[Conj] = []
        for conj in self.rule_dnf(r):
            alts: list[Conj] = [conj]
            for path, op, operand in conj:
                root, _, rest = path.partition(".")
                if root not in self.model.decisions or root == r.decision or "." in rest or not rest:
                    continue
                if rest not in self.model.decisions[root].data.get("outputs", {}):
                    continue  # e.g. classification.category: from the catalogue, not from a rule
                if op == "exists" and operand is True:
                    wanted: list[Any] | None = None
                elif op in ("equals", "in") and not _is_expr(operand):
                    wanted = list(operand) if op == "in" else [operand]
                else:
                    continue
                providers = self.providers(root, rest, wanted)
                if providers is None:
                    continue
                alts = [a + p for a in alts for p in providers]
                if len(alts) > DNF_LIMIT:
                    alts = [conj]
                    break
            out.extend(alts)
        result = out if len(out) <= DNF_LIMIT else self.rule_dnf(r)
        self._dnf[key] = result
        return result

    def rule_dnf(self, r: RawRule) -> list[Conj]:
        """The rule's applicability: its `when`, and for a table the disjunction of its rows."""
        if r.id in self._dnf:
            return self._dnf[r.id]
        out = dnf(r.data.get("when"))
        table = r.data.get("table")
        if isinstance(table, Mapping):
            inputs = {i["name"]: _input_key(i) for i in table.get("inputs", [])}
            rows: list[Conj] = []
            for row in table.get("rows", []):
                conj: Conj = ()
                for name, cell in row.get("when", {}).items():
                    if name in inputs:
                        conj += cell_atoms(inputs[name], cell)
                rows.append(conj)
            combined = [a + b for a in out for b in rows]
            out = combined if len(combined) <= DNF_LIMIT else [()]
        self._dnf[r.id] = out
        return out

    # -- the checks --

    def run(self) -> None:
        self.check_ids()
        self.check_references()
        self.check_facts()
        self.check_tables()
        self.check_overrides()
        self.check_dates()
        self.check_citations()
        self.check_classifications()
        self.check_audit_groups()
        self.check_audit_headline()
        self.check_finding_kinds()

    def check_ids(self) -> None:
        seen: dict[str, RawRule] = {}
        for r in self.model.rules:
            if r.id in seen:
                first = seen[r.id]
                self.add("HOCR-L001", r.file, r.line, f"rule id {r.id!r} is used twice (first at {first.file}:{first.line})", r.id)
            else:
                seen[r.id] = r
        for d in self.model.decision_dups:
            original = self.model.decisions[d.name]
            self.add("HOCR-L001", d.file, d.line, f"decision {d.name!r} is declared twice (first at {original.file}:{original.line})", d.name)
        for r in self.model.rules:
            table = r.data.get("table")
            if not isinstance(table, Mapping):
                continue
            for kind, items in (("input", [i["name"] for i in table.get("inputs", [])]),
                                ("row id", [row["id"] for row in table.get("rows", [])])):
                dup = sorted({x for x in items if items.count(x) > 1})
                for x in dup:
                    self.add("HOCR-L001", r.file, r.line_at("table"), f"rule {r.id!r}: table {kind} {x!r} is used twice", r.id)

    def check_references(self) -> None:
        ids = self.model.rule_ids
        for r in self.model.rules:
            if r.decision is None:
                continue
            if r.decision not in self.model.decisions:
                self.add("HOCR-L003", r.file, r.line, f"rule {r.id!r} decides {r.decision!r}, which is not a declared decision", r.id)
            for target in r.data.get("overrides", []):
                if target not in ids:
                    self.add("HOCR-L002", r.file, r.line_at("overrides"), f"rule {r.id!r} overrides {target!r}, which does not exist", r.id)
                elif ids[target].decision != r.decision:
                    self.add("HOCR-L002", r.file, r.line_at("overrides"),
                             f"rule {r.id!r} overrides {target!r}, which decides {ids[target].decision!r}, not {r.decision!r}", r.id)
        for role, name in self.pipeline.items():
            if role != "principal" and isinstance(name, str) and name not in self.model.decisions:
                self.add("HOCR-L003", self.model.manifest_file, line_of(self.model.manifest_lines, ["rulebook", "pipeline", role]) or 0,
                         f"pipeline {role}: no decision named {name!r}", role)
        for d in self.model.decisions.values():
            for key in d.data.get("determined_by", []):
                if key not in d.data.get("outputs", {}):
                    self.add("HOCR-L005", d.file, d.line, f"decision {d.name!r}: determined_by names {key!r}, which is not an output", d.name)

    # fact paths, outputs, classification codes

    def check_facts(self) -> None:
        codes = self.model.codes()
        cls_decision = self.pipeline.get("classification")
        for r in self.model.rules:
            decision = self.model.decisions.get(r.decision or "")
            outputs = decision.data.get("outputs", {}) if decision else {}
            for path, where, ctx, is_list in _fact_paths(r.data):
                self._check_path(r, path, where, ctx, is_list)
            for where, node in _predicates(r.data.get("when")):
                self._check_codes_in_predicate(r, node, codes, where)
            table = r.data.get("table")
            thens: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = []
            if "then" in r.data:
                thens.append((("then",), r.data["then"]))
            if isinstance(table, Mapping):
                inputs = {i["name"]: i for i in table.get("inputs", [])}
                for j, row in enumerate(table.get("rows", [])):
                    thens.append((("table", "rows", j, "then"), row.get("then", {})))
                    for name, cell in row.get("when", {}).items():
                        if name not in inputs:
                            self.add("HOCR-L005", r.file, r.line_at("table", "rows", j), f"rule {r.id!r}, row {row['id']!r}: no table input named {name!r}", r.id)
                        elif _is_code_fact(inputs[name].get("fact", "")):
                            for value in _cell_literals(cell):
                                self._check_code(r, value, codes, r.line_at("table", "rows", j), f"row {row['id']!r}")
                for k, inp in enumerate(table.get("inputs", [])):
                    if _is_code_fact(inp.get("fact", "")):
                        for value in inp.get("domain", []):
                            self._check_code(r, value, codes, r.line_at("table", "inputs", k), f"input {inp['name']!r}")
            for where, then in thens:
                for key, value in then.items():
                    if key not in outputs:
                        if decision is not None:
                            self.add("HOCR-L005", r.file, r.line_at(*where), f"rule {r.id!r}: decision {r.decision!r} has no output {key!r}", r.id)
                        continue
                    spec = outputs[key]
                    if "enum" in spec and type(value) in _SCALARS and value not in spec["enum"] and not (value is None and spec.get("nullable")):
                        self.add("HOCR-L006", r.file, r.line_at(*where, key), f"rule {r.id!r}: output {key}={value!r} is not one of {spec['enum']}", r.id)
                    if (spec.get("type") == "classification_code" or (r.decision == cls_decision and key == "code")) and type(value) in _SCALARS and value is not None:
                        self._check_code(r, value, codes, r.line_at(*where, key), f"output {key}")

    def _item_schema(self, ctx: Any) -> Any:
        if ctx is None:
            return None
        list_path, outer = ctx
        node, _ = self.facts.items_of(list_path, self._item_schema(outer))
        return _ANY if node is None else node

    def _check_path(self, r: RawRule, path: str, where: tuple[Any, ...], ctx: Any, is_list: bool) -> None:
        item = self._item_schema(ctx)
        node, why = (self.facts.items_of(path, item) if is_list else self.facts.lookup(path, item))
        if why == "unknown-root":
            root = path.split(".")[0]
            self.add("HOCR-N001", r.file, r.line_at(*where), f"rule {r.id!r}: fact root {root!r} in {path!r} is not known to the linter; the path was not checked", r.id)
            return
        if node is None:
            self.add("HOCR-L005", r.file, r.line_at(*where), f"rule {r.id!r}: fact {path!r} does not exist: {why}", r.id)

    def _check_codes_in_predicate(self, r: RawRule, node: Mapping[str, Any], codes: Mapping[str, Any], where: tuple[Any, ...]) -> None:
        if not _is_code_fact(node.get("fact", "")):
            return
        for op in ("equals", "not_equals", "in", "not_in", "contains"):
            if op in node:
                values = node[op] if isinstance(node[op], list) else [node[op]]
                for v in values:
                    if type(v) in _SCALARS and v is not None:
                        self._check_code(r, v, codes, r.line_at(*where), f"condition on {node['fact']}")

    def _check_code(self, r: RawRule, value: Any, codes: Mapping[str, Sequence[RawClassification]], line: int, what: str) -> None:
        if not isinstance(value, str):
            self.add("HOCR-L004", r.file, line, f"rule {r.id!r}, {what}: {value!r} is not a classification code (a {type(value).__name__}; quote it)", r.id)
            return
        entries = codes.get(value)
        if not entries:
            self.add("HOCR-L004", r.file, line, f"rule {r.id!r}, {what}: classification {value!r} is not in the catalogue", r.id)
            return
        if not any(_overlaps(r.period(), _period(c.data.get("in_force"))) for c in entries):
            self.add("HOCR-L004", r.file, line, f"rule {r.id!r}, {what}: classification {value!r} is never in force while the rule is", r.id)

    # tables

    def check_tables(self) -> None:
        for r in self.model.rules:
            table = r.data.get("table")
            if isinstance(table, Mapping):
                _TableCheck(self, r, table).run()

    # overrides and pairs

    def check_overrides(self) -> None:
        by_id = self.model.rule_ids
        graph = {rid: [t for t in r.data.get("overrides", []) if t in by_id] for rid, r in by_id.items()}
        for cycle in _cycles(graph):
            first = by_id[cycle[0]]
            self.add("HOCR-L020", first.file, first.line_at("overrides"),
                     f"override cycle: {' -> '.join([*cycle, cycle[0]])}", cycle[0])
        beats = {rid: _reach(graph, rid) for rid in graph}
        for name, decision in sorted(self.model.decisions.items()):
            if decision.data.get("combine") == "all":
                continue
            members = [r for r in self.model.rules if r.decision == name and by_id.get(r.id) is r]
            for a, b in itertools.combinations(members, 2):
                if b.id in beats[a.id] or a.id in beats[b.id]:
                    continue
                pa, pb = a.period(), b.period()
                if not _overlaps(pa, pb):
                    continue
                if self.reasoner.disjoint(self.applicability(a), self.applicability(b)):
                    continue
                days = _span_text(pa, pb)
                later = b if (b.file, b.line) > (a.file, a.line) else a
                other = a if later is b else b
                self.add("HOCR-L021", later.file, later.line,
                         f"rules {other.id!r} ({other.file}:{other.line}) and {later.id!r} of decision {name!r} can both apply ({days}) "
                         "and neither overrides the other; add an override or make their conditions exclusive", later.id)

    # dates

    def check_dates(self) -> None:
        for r in self.model.rules:
            p = r.period()
            if p is not None and p[1] < p[0]:
                self.add("HOCR-L032", r.file, r.line_at("in_force"), f"rule {r.id!r} is in force to {p[1]}, before it starts ({p[0]})", r.id)
        for c in self.model.classifications:
            p = _period(c.data.get("in_force"))
            if p is not None and p[1] < p[0]:
                self.add("HOCR-L032", c.file, c.line, f"classification {c.code!r} is in force to {p[1]}, before it starts ({p[0]})", c.code)
        # Editions of one rule: rules of one decision whose conditions (and table inputs) are the
        # same, so that only their dates and conclusions differ.
        families: dict[tuple[str, str], list[RawRule]] = {}
        for r in self.model.rules:
            if r.decision is None or r.period() is None:
                continue
            table = r.data.get("table")
            key = json.dumps([r.data.get("when"), [i.get("fact") for i in table.get("inputs", [])] if isinstance(table, Mapping) else None], sort_keys=True)
            families.setdefault((r.decision, key), []).append(r)
        by_id = self.model.rule_ids
        graph = {rid: [t for t in r.data.get("overrides", []) if t in by_id] for rid, r in by_id.items()}
        beats = {rid: _reach(graph, rid) for rid in graph}
        for family in families.values():
            # A rule that another of the family overrides is the general rule of an exception,
            # not an edition of it.
            members = [m for m in family if not any(o is not m and m.id in beats.get(o.id, ()) for o in family)]
            if len(members) > 1:
                self._sequence([(m.period(), m.file, m.line_at("in_force"), f"rule {m.id!r}") for m in members], "editions of one rule")
        for code, entries in sorted(self.model.codes().items()):
            if len(entries) > 1:
                self._sequence([(_period(c.data.get("in_force")), c.file, c.line, f"classification {code!r} ({c.file}:{c.line})") for c in entries],
                               f"entries of classification {code!r}")
        # Every decision that must have a value has a rule in force on every day.
        starts = [p[0] for r in self.model.rules if (p := r.period())]
        if not starts:
            return
        first_day = min(starts)
        for name, d in sorted(self.model.decisions.items()):
            if d.data.get("if_no_rule_applies") != "undetermined":
                continue
            spans = sorted(p for r in self.model.rules if r.decision == name and (p := r.period()) and p[0] <= p[1])
            day = first_day
            for start, end in spans:
                if start > day:
                    self.add("HOCR-L031", d.file, d.line, f"decision {name!r} has no rule in force from {day} to {start - dt.timedelta(days=1)}", name)
                if end >= day:
                    day = end + dt.timedelta(days=1) if end < dt.date.max else end
            if day < dt.date.max and spans:
                self.add("HOCR-L031", d.file, d.line, f"decision {name!r} has no rule in force from {day} on", name)
            if not spans:
                self.add("HOCR-L031", d.file, d.line, f"decision {name!r} has no rule at all", name)

    def _sequence(self, items: list[tuple[tuple[dt.date, dt.date] | None, str, int, str]], what: str) -> None:
        dated = sorted(((p, f, ln, label) for p, f, ln, label in items if p is not None and p[0] <= p[1]), key=lambda x: (x[0], x[1], x[2]))
        for (pa, _fa, _la, la), (pb, fb, lb, lb_label) in itertools.pairwise(dated):
            if pb[0] <= pa[1]:
                self.add("HOCR-L030", fb, lb, f"{what}: {lb_label} (from {pb[0]}) overlaps {la} (to {_end(pa[1])})", lb_label)
            elif pa[1] < dt.date.max and pb[0] > pa[1] + dt.timedelta(days=1):
                self.add("HOCR-L031", fb, lb, f"{what}: {lb_label} starts on {pb[0]}, but {la} ends on {pa[1]}: no edition is in force from {pa[1] + dt.timedelta(days=1)} to {pb[0] - dt.timedelta(days=1)}", lb_label)

    # citations

    def check_citations(self) -> None:
        for r in self.model.rules:
            self._citation(r.data.get("source"), r.file, r.line_at("source"), f"rule {r.id!r}", r.id)
            table = r.data.get("table")
            if isinstance(table, Mapping):
                for j, row in enumerate(table.get("rows", [])):
                    if "source" in row:
                        self._citation(row["source"], r.file, r.line_at("table", "rows", j), f"rule {r.id!r}, row {row['id']!r}", r.id)
        for c in self.model.classifications:
            self._citation(c.data.get("source"), c.file, c.line, f"classification {c.code!r}", c.code)
        principal = self.pipeline.get("principal")
        if isinstance(principal, Mapping):
            self._citation(principal.get("source"), self.model.manifest_file,
                           line_of(self.model.manifest_lines, ["rulebook", "pipeline", "principal"]) or 0, "pipeline.principal", "pipeline.principal")

    def _citation(self, source: Any, file: str, line: int, what: str, subject: str) -> None:
        if not source:
            self.add("HOCR-L040", file, line, f"{what} has no citation (no 'source', on it or in the file's defaults)", subject)
            return
        for s in source if isinstance(source, list) else [source]:
            if not isinstance(s, Mapping):
                continue
            for key in ("document", "section"):
                if str(s.get(key, "")).strip().lower() in _PLACEHOLDERS:
                    self.add("HOCR-L040", file, line, f"{what} cites no real {key} ({s.get(key)!r})", subject)
                    return
            # The linted rulebook's editions data; one with none is checked against the shipped one's.
            problem, note = section_problem(str(s["document"]), str(s.get("edition", "")), str(s["section"]),
                                            self.model.documents or None)
            if problem:
                self.add("HOCR-L041", file, line, f"{what} {problem}", subject)
            elif note:
                self.add("HOCR-N001", file, line, f"{what}: {note}", subject)

    # classifications

    def check_classifications(self) -> None:
        name = self.pipeline.get("classification")
        rules = [r for r in self.model.rules if r.decision == name]
        for c in self.model.classifications:
            period = _period(c.data.get("in_force"))
            if period is None or period[1] < period[0]:
                continue
            reached = False
            for r in rules:
                if not _overlaps(period, r.period()) or not any(self.reasoner.possible(x) for x in self.applicability(r)):
                    continue
                thens = [r.data["then"]] if "then" in r.data else [row.get("then", {}) for row in r.data.get("table", {}).get("rows", [])]
                for then in thens:
                    v = then.get("code")
                    if v == c.code:
                        reached = True
                    elif isinstance(v, Mapping) and "fact" in v:
                        if v["fact"] == "offence.single":
                            reached = reached or bool(c.data.get("offences"))
                        else:
                            reached = True  # the act names it, or a fact the linter cannot follow
                    elif isinstance(v, Mapping):
                        reached = True
                if reached:
                    break
            if not reached:
                self.add("HOCR-L050", c.file, c.line,
                         f"classification {c.code!r} ({c.data.get('name', '')}) can never be given: no rule of decision {name!r} in force "
                         f"from {period[0]} to {_end(period[1])} can conclude it", c.code)


    # the audit section (rules/audit/): what its groups and kinds name must exist

    def check_audit_groups(self) -> None:
        """Each report group matches something the catalogue has: a category, ONS group or tag
        of some classification, or a classification code (the audit compares them casefolded)."""
        if self.model.audit is None:
            return
        rel, section, lines = self.model.audit
        known: dict[str, set[str]] = {"category": set(), "ons": set(), "tag": set()}
        for c in self.model.classifications:
            known["category"].add(str(c.data.get("category", "")).casefold())
            known["ons"].add(str(c.data.get("group", "")).casefold())
            known["tag"].update(str(t).casefold() for t in c.data.get("tags", []))
        known["not_category"] = known["category"]
        codes = {c.code.casefold() for c in self.model.classifications}
        for i, g in enumerate(section.get("report_groups", [])):
            line = line_of(lines, ["audit", "report_groups", i]) or 0
            for value in g.get("values", []):
                if g["match"] == "code" and value.casefold() not in codes:
                    self.add("HOCR-L004", rel, line, f"report group {g['label']!r}: classification {value!r} is not in the catalogue", g["label"])
                elif g["match"] in known and value.casefold() not in known[g["match"]]:
                    what = {"tag": "tag", "ons": "ONS offence group"}.get(g["match"], "category")
                    self.add("HOCR-L005", rel, line, f"report group {g['label']!r}: no classification of the catalogue has the {what} {value!r}", g["label"])

    def check_audit_headline(self) -> None:
        """Report groups, if there are any, mark exactly one headline: the group --fail-under and
        a bare --annual-recorded N judge. With none those options are refused; with two the
        rulebook does not load (each further one is reported where the loader reports it)."""
        rel, section, lines = self.model.audit or ("", {}, {})
        groups = section.get("report_groups", [])
        marked = [i for i, g in enumerate(groups) if g.get("headline") is True]
        if groups and not marked:
            self.add("HOCR-L007", rel, line_of(lines, ["audit", "report_groups"]) or 0,
                     "no report group is the headline (headline: true): --fail-under and a bare --annual-recorded N would be refused")
        for i in marked[1:]:
            label, first = groups[i]["label"], groups[marked[0]]["label"]
            self.add("HOCR-L007", rel, line_of(lines, ["audit", "report_groups", i]) or 0,
                     f"report group {label!r} is a second headline (the first is {first!r})", label)

    def check_finding_kinds(self) -> None:
        """Each finding kind names rules that exist, are findings of the pipeline and set their
        ``discrepancy`` to it; and every rule that sets a ``discrepancy`` has a kind for it (else
        the audit would pass its finding over)."""
        rel, section, lines = self.model.audit or ("", {}, {})
        kinds = {k["kind"] for k in section.get("finding_kinds", [])}
        findings = set(self.pipeline.get("findings", []))
        rules = self.model.rule_ids
        for i, k in enumerate(section.get("finding_kinds", [])):
            line = line_of(lines, ["audit", "finding_kinds", i]) or 0
            for rid in k["findings"]:
                r = rules.get(rid)
                if r is None:
                    self.add("HOCR-L002", rel, line, f"finding kind {k['kind']!r} names rule {rid!r}, which does not exist", k["kind"])
                elif r.decision not in findings:
                    self.add("HOCR-L003", rel, line, f"finding kind {k['kind']!r} names rule {rid!r}, which decides {r.decision!r}, not one of the pipeline's findings", k["kind"])
                elif r.data.get("then", {}).get("discrepancy") != k["kind"]:
                    self.add("HOCR-L006", rel, line, f"finding kind {k['kind']!r} names rule {rid!r}, whose discrepancy is {r.data.get('then', {}).get('discrepancy')!r}", k["kind"])
        for r in self.model.rules:
            given = r.data.get("then", {}).get("discrepancy") if isinstance(r.data.get("then"), Mapping) else None
            if given is not None and given not in kinds:
                self.add("HOCR-L006", r.file, r.line_at("then", "discrepancy"),
                         f"rule {r.id!r}: discrepancy {given!r} is no finding kind of the audit section (rules/audit/): the audit would pass it over", r.id)


_PLACEHOLDERS = {"", "-", "?", "n/a", "na", "none", "unknown", "tbd", "todo", "tba"}


def _end(day: dt.date) -> str:
    return "open end" if day == dt.date.max else str(day)


def _span_text(a: tuple[dt.date, dt.date] | None, b: tuple[dt.date, dt.date] | None) -> str:
    if a is None or b is None:
        return "dates unknown"
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return f"both in force from {start} to {_end(end)}"


class _Domains(dict[str, Sequence[Any] | None]):
    """Fact path -> the values it can take (from the schemas), computed on demand."""

    def __init__(self, facts: FactSchema):
        super().__init__()
        self._facts = facts

    def get(self, key: str, default: Any = None) -> Sequence[Any] | None:
        if key not in self:
            self[key] = self._facts.domain(key)
        return self[key]


def _input_key(inp: Mapping[str, Any]) -> str:
    """A table input's fact path, or for a computed input a key standing for its expression."""
    if "fact" in inp:
        return str(inp["fact"])
    return "value:" + json.dumps(inp.get("value"), sort_keys=True)


def _is_code_fact(path: str) -> bool:
    return path in ("classification.code", "act.classification", "offence.single", "offence.codes")


def _cell_literals(cell: Any) -> list[Any]:
    if cell == "-":
        return []
    if isinstance(cell, list):
        return list(cell)
    if isinstance(cell, Mapping):
        out: list[Any] = []
        for op, v in cell.items():
            if op in ("equals", "not_equals") and type(v) in _SCALARS and v is not None:
                out.append(v)
            elif op in ("in", "not_in"):
                out.extend(v)
        return out
    return [cell] if cell is not None else []


def _predicates(node: Any, where: tuple[Any, ...] = ("when",)) -> Iterator[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if "fact" in node and len(node) == 2:
            yield where, node
            return
        for key, value in node.items():
            if isinstance(value, list):
                for i, v in enumerate(value):
                    yield from _predicates(v, (*where, key, i))
            elif isinstance(value, Mapping):
                yield from _predicates(value, (*where, key))


def _fact_paths(data: Mapping[str, Any]) -> Iterator[tuple[str, tuple[Any, ...], Any, bool]]:
    """Every fact path a rule reads: (path, where in the rule, the list context for ``item``,
    whether the path must be a list). The context is None, or (list path, outer context)."""
    yield from _walk_facts(data.get("when"), ("when",), None)
    yield from _walk_facts(data.get("then"), ("then",), None)
    table = data.get("table")
    if isinstance(table, Mapping):
        for k, inp in enumerate(table.get("inputs", [])):
            if "fact" in inp:
                yield inp["fact"], ("table", "inputs", k), None, False
            else:
                yield from _walk_facts(inp.get("value"), ("table", "inputs", k), None)
        for j, row in enumerate(table.get("rows", [])):
            yield from _walk_facts(row.get("when"), ("table", "rows", j, "when"), None)
            yield from _walk_facts(row.get("then"), ("table", "rows", j, "then"), None)


def _walk_facts(node: Any, where: tuple[Any, ...], ctx: Any) -> Iterator[tuple[str, tuple[Any, ...], Any, bool]]:
    if isinstance(node, Mapping):
        quant = "some" if "some" in node else "every" if "every" in node else None
        if quant and isinstance(node[quant], str):
            yield node[quant], where, ctx, True
            yield from _walk_facts(node.get("where"), (*where, "where"), (node[quant], ctx))
            return
        for key, value in node.items():
            if key in ("fact", "count") and isinstance(value, str):
                yield value, where, ctx, key == "count"
            elif isinstance(value, (Mapping, list)):
                yield from _walk_facts(value, (*where, key), ctx)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_facts(v, (*where, i), ctx)


def _cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The strongly connected components with a cycle, each as a list starting at its least id."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _reach(graph: Mapping[str, Sequence[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(start, ()))
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(graph.get(v, ()))
    return seen


# --------------------------------------------------------------------------------------------
# Decision tables
# --------------------------------------------------------------------------------------------

ENUMERATION_LIMIT = 20_000


class _TableCheck:
    def __init__(self, linter: Linter, rule: RawRule, table: Mapping[str, Any]):
        self.l = linter
        self.r = rule
        self.policy = str(table.get("hit_policy"))
        self.inputs = [i for i in table.get("inputs", []) if isinstance(i, Mapping)]
        self.names = [str(i["name"]) for i in self.inputs]
        self.paths = {str(i["name"]): _input_key(i) for i in self.inputs}
        self.declared = {str(i["name"]): list(i["domain"]) for i in self.inputs if "domain" in i}
        self.rows = [row for row in table.get("rows", []) if isinstance(row, Mapping)]
        prio = table.get("priority")
        if self.policy == "priority" and isinstance(prio, Mapping):
            order = list(prio.get("order", []))

            def rank(j: int) -> tuple[int, int]:
                v = self.rows[j].get("then", {}).get(prio.get("output"))
                return (order.index(v) if v in order else len(order), j)

            self.order = sorted(range(len(self.rows)), key=rank)
        else:
            self.order = list(range(len(self.rows)))

    def line(self, j: int) -> int:
        return self.r.line_at("table", "rows", j)

    def cells(self, j: int) -> dict[str, list[tuple[str, Any]]]:
        out: dict[str, list[tuple[str, Any]]] = {n: [] for n in self.names}
        for name, cell in self.rows[j].get("when", {}).items():
            if name in out:
                out[name] = [(op, o) for _, op, o in cell_atoms(name, cell)]
        return out

    def domain(self, name: str) -> list[Any] | None:
        if name in self.declared:
            return self.declared[name]
        return self.l.facts.domain(self.paths[name])

    def values(self, name: str) -> list[Any] | None:
        """The values an input can take for the analysis: its domain and 'absent'."""
        d = self.domain(name)
        return None if d is None else [*d, MISSING]

    def run(self) -> None:
        rid = self.r.id
        cells = [self.cells(j) for j in range(len(self.rows))]
        # Cells outside the declared domain.
        for j, row in enumerate(self.rows):
            for name, atoms in cells[j].items():
                if name not in self.declared:
                    continue
                for op, o in atoms:
                    literals = list(o) if op in ("in", "not_in") and isinstance(o, tuple) else [o] if op in ("equals", "not_equals") and not _is_expr(o) else []
                    for v in literals:
                        if not any(_eq(v, d) for d in self.declared[name]):
                            self.l.add("HOCR-L014", self.r.file, self.line(j), f"rule {rid!r}, row {row['id']!r}: {name}={v!r} is not in the declared domain {self.declared[name]}", rid)
        # Rows that can never match.
        dead: set[int] = set()
        for j, row in enumerate(self.rows):
            for name, atoms in cells[j].items():
                vals = self.values(name)
                if vals is not None:
                    res = [self._cell(atoms, v) for v in vals]
                    ok: bool | None = True if any(x is True for x in res) else (None if any(x is None for x in res) else False)
                else:
                    ok = satisfiable(atoms, None)
                if ok is False:
                    dead.add(j)
                    self.l.add("HOCR-L012", self.r.file, self.line(j), f"rule {rid!r}, row {row['id']!r} can never match: its cells on {name!r} cannot all hold", rid)
                    break
        # Overlaps under the unique policy: per input, some value satisfies both rows' cells.
        if self.policy == "unique":
            for a, b in itertools.combinations(range(len(self.rows)), 2):
                if a in dead or b in dead:
                    continue
                verdicts = [self._both(cells[a][n] + cells[b][n], n) for n in self.names]
                if all(v is True for v in verdicts):
                    self.l.add("HOCR-L010", self.r.file, self.line(b),
                               f"rule {rid!r}: rows {self.rows[a]['id']!r} and {self.rows[b]['id']!r} can both match under the unique hit policy{self._witness(cells[a], cells[b])}", rid)
                elif any(v is None for v in verdicts) and not any(v is False for v in verdicts):
                    self.l.add("HOCR-N001", self.r.file, self.line(b), f"rule {rid!r}: whether rows {self.rows[a]['id']!r} and {self.rows[b]['id']!r} overlap was not analysed (a computed cell)", rid)
        # Gaps and shadowed rows need every input's domain.
        missing = [n for n in self.names if n not in self.declared]
        size = 1
        for n in self.names:
            size *= len(self.declared.get(n, [])) + 1
        if missing:
            self.l.add("HOCR-N001", self.r.file, self.r.line_at("table"),
                       f"rule {rid!r}: input(s) {', '.join(missing)} declare no domain; gaps and shadowed rows were not checked", rid)
        elif size > ENUMERATION_LIMIT:
            self.l.add("HOCR-N001", self.r.file, self.r.line_at("table"), f"rule {rid!r}: {size} input combinations; gaps and shadowed rows were not checked", rid)
        else:
            self._gaps(cells)
            if self.policy in ("first", "priority"):
                self._shadowed(cells, dead)
        if self.policy in ("first", "priority") and missing:
            self._shadowed_symbolic(cells, dead)

    def _cell(self, atoms: list[tuple[str, Any]], value: Any) -> bool | None:
        results = [test_value(value, op, o) for op, o in atoms]
        if all(r is True for r in results):
            return True
        return False if any(r is False for r in results) else None

    def _both(self, atoms: list[tuple[str, Any]], name: str) -> bool | None:
        vals = self.values(name)
        if vals is None:
            return satisfiable(atoms, None)
        res = [self._cell(atoms, v) for v in vals]
        return True if any(x is True for x in res) else (None if any(x is None for x in res) else False)

    def _witness(self, a: Mapping[str, list[tuple[str, Any]]], b: Mapping[str, list[tuple[str, Any]]]) -> str:
        parts = []
        for n in self.names:
            vals = self.values(n)
            if vals is None:
                continue
            v = next((x for x in vals if self._cell(a[n] + b[n], x) is True), None)
            if v is not None and (a[n] or b[n]):
                parts.append(f"{n}={'(absent)' if v is MISSING else json.dumps(v)}")
        return f", e.g. {', '.join(parts)}" if parts else ""

    def _matches(self, cells: Mapping[str, list[tuple[str, Any]]], combo: Mapping[str, Any]) -> bool | None:
        results = [self._cell(cells[n], combo[n]) for n in self.names]
        if all(r is True for r in results):
            return True
        return False if any(r is False for r in results) else None

    def _guard_possible(self, combo: Mapping[str, Any]) -> bool:
        """Whether the rule's `when` can hold for this combination of the input facts."""
        conjs = dnf(self.r.data.get("when"))
        by_path = {self.paths[n]: combo[n] for n in self.names}
        for conj in conjs:
            ok = True
            for path, op, operand in conj:
                if path in by_path and test_value(by_path[path], op, operand) is False:
                    ok = False
                    break
            if ok:
                return True
        return False

    def _gaps(self, cells: list[dict[str, list[tuple[str, Any]]]]) -> None:
        gaps: list[dict[str, Any]] = []
        for values in itertools.product(*(self.declared[n] for n in self.names)):
            combo = dict(zip(self.names, values, strict=True))
            if not self._guard_possible(combo):
                continue
            if not any(self._matches(c, combo) is not False for c in cells):
                gaps.append(combo)
        if gaps:
            shown = "; ".join(", ".join(f"{k}={json.dumps(v)}" for k, v in g.items()) for g in gaps[:3])
            more = f" (and {len(gaps) - 3} more)" if len(gaps) > 3 else ""
            self.l.add("HOCR-L011", self.r.file, self.r.line_at("table"),
                       f"rule {self.r.id!r}: no row covers {shown}{more}; add rows, or exclude these cases in the rule's 'when'", self.r.id)

    def _shadowed(self, cells: list[dict[str, list[tuple[str, Any]]]], dead: set[int]) -> None:
        spaces = [self.values(n) or [] for n in self.names]
        for pos, j in enumerate(self.order):
            if j in dead or pos == 0:
                continue
            earlier = [self.order[k] for k in range(pos)]
            fires = False
            unknown = False
            for values in itertools.product(*spaces):
                combo = dict(zip(self.names, values, strict=True))
                m = self._matches(cells[j], combo)
                if m is not True:
                    unknown = unknown or m is None
                    continue
                before = [self._matches(cells[i], combo) for i in earlier]
                if not any(b is True for b in before):
                    fires = True
                    break
            if not fires and not unknown:
                self.l.add("HOCR-L013", self.r.file, self.line(j),
                           f"rule {self.r.id!r}, row {self.rows[j]['id']!r} can never be chosen: an earlier row matches every case it matches", self.r.id)

    def _shadowed_symbolic(self, cells: list[dict[str, list[tuple[str, Any]]]], dead: set[int]) -> None:
        for pos, j in enumerate(self.order):
            if j in dead:
                continue
            for i in self.order[:pos]:
                if all(_subsumes(cells[i][n], cells[j][n]) for n in self.names):
                    self.l.add("HOCR-L013", self.r.file, self.line(j),
                               f"rule {self.r.id!r}, row {self.rows[j]['id']!r} can never be chosen: row {self.rows[i]['id']!r} before it matches every case it matches", self.r.id)
                    break


def _subsumes(wide: list[tuple[str, Any]], narrow: list[tuple[str, Any]]) -> bool:
    """True when every value passing ``narrow`` provably passes ``wide``."""
    if not wide:
        return True
    if not narrow:
        return False
    values: list[Any] | None = None
    for op, o in narrow:
        if op == "equals" and not _is_expr(o):
            values = [o]
        elif op == "in":
            values = list(o)
    if values is not None:
        return all(all(test_value(v, op, o) is True for op, o in wide) for v in values
                   if all(test_value(v, op2, o2) is True for op2, o2 in narrow))
    return sorted(map(str, wide)) == sorted(map(str, narrow))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def lint(root: str | Path | None = None) -> LintResult:
    """Lint the rulebook at ``root`` (default: the shipped one)."""
    base = Path(root) if root is not None else data_path("rules")
    findings: list[Finding] = []
    load_problems: list[Finding] = []
    if not base.is_dir():
        return LintResult([Finding(str(base), 0, "HOCR-L000", "no such rulebook directory")], [])
    try:
        load_rulebook(base)
    except RulebookError as exc:
        load_problems = [Finding(p.file, p.line or 0, p.code, p.message) for p in exc.problems]
    model = read_model(base, checked=not load_problems)  # a loaded rulebook passed the schema
    linter = Linter(model)
    linter.run()
    findings = linter.findings
    # A loader problem at a place where the linter already says what is wrong is not repeated.
    covered = {(f.file, f.line) for f in findings}
    findings += [p for p in load_problems if (p.file, p.line) not in covered]
    return LintResult(sorted(set(findings)), sorted(set(linter.notes)))


def render_text(result: LintResult, notes: bool = False) -> str:
    lines = [str(f) for f in result.findings]
    if notes:
        lines += [str(n) for n in result.notes]
    n = len(result.findings)
    summary = f"{n} finding{'s' if n != 1 else ''}" if n else "clean: no findings"
    if result.notes:
        summary += f"; {len(result.notes)} part{'s' if len(result.notes) != 1 else ''} not analysed" + ("" if notes else " (--notes to list them)")
    lines.append(summary)
    return "\n".join(lines) + "\n"
