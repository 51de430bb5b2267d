"""Loading: read the rule files safely, check them against the schema, compile the rulebook once.

* YAML is read with a safe loader that rejects duplicate keys and aliases (so alias bombs are
  harmless) and keeps dates as text (the schema checks them).
* Every file is validated against ``schemas/rule.schema.json``; every problem names the file, the
  line and what was expected. A rulebook with any problem does not load.
* The rules are compiled into immutable closures and indexes that every evaluation reuses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import best_match

from .conditions import (
    Cond,
    Expr,
    PathResolver,
    RuleCompileError,
    always,
    compile_condition,
    compile_expr,
    value_key,
)
from .offences import (
    WEEKS_PER_MONTH,
    Offence,
    OffenceList,
    attach_list,
    hand_written,
    offence_key,
    read_list,
)
from .tables import Table, compile_table

_VERSION = "0.1.0"
SCOPES = ("incident", "act", "allegation", "recorded_crime")
# Fact roots each scope offers besides the decisions visible there.
SCOPE_ROOTS: Mapping[str, tuple[str, ...]] = {
    "incident": ("incident", "report"),
    # `act_victim`: the act's victim when it has exactly one (classifications that depend on the
    # victim's age, sex or role read it); absent otherwise.
    "act": ("incident", "report", "act", "act_victim", "offence", "classification"),
    "allegation": ("incident", "report", "act", "act_victim", "offence", "classification", "victim", "allegation"),
    # One crime as the force recorded it (incident.force_record.crimes[i]): `recorded` is the
    # entry, `recorded_class` the catalogue entry of its classification, `decided` what the
    # rulebook decided for what it covers, `act` and `victim` the first act and the victim it
    # covers, `classification` the catalogue entry of the decided crime.
    "recorded_crime": ("incident", "report", "recorded", "recorded_class", "decided", "act", "victim", "classification"),
}
# The decisions each scope can read, besides its own: the scopes it sits inside.
VISIBLE_SCOPES: Mapping[str, tuple[str, ...]] = {
    "incident": ("incident",),
    "act": ("incident", "act"),
    "allegation": ("incident", "act", "allegation"),
    "recorded_crime": ("incident", "recorded_crime"),
}


def data_path(name: str) -> Path:
    """Where the shipped rules/, schemas/ or examples/ live: inside the installed package, or,
    for a source checkout or editable install, at the top of the repository."""
    packaged = resources.files("hocr") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / name


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class RulebookError(Exception):
    """The rulebook could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))


# --------------------------------------------------------------------------------------------
# Safe YAML with line numbers
# --------------------------------------------------------------------------------------------


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLoader(_Base):  # type: ignore[misc]
    """A safe loader (libyaml where available) without implicit timestamps: dates stay text."""


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

Lines = dict[tuple[Any, ...], int]


class YamlError(ValueError):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line


def load_yaml(text: str) -> tuple[Any, Lines]:
    """Parse one YAML document; return the data and a map from each path to its line (1-based)."""
    if "*" in text:  # libyaml hands back aliased scalars as copies: look for aliases first
        loader = _SafeLoader(text)
        loader._hocr_text = text
        line = _alias_line(loader)
        loader.dispose()
        if line is not None:
            raise YamlError(line, "aliases (*name) are not allowed in rule files")
    loader = _SafeLoader(text)
    loader._hocr_text = text
    try:
        node = loader.get_single_node()
        lines: Lines = {}
        data = _construct(loader, node, (), lines, set()) if node is not None else None
        return data, lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(line, f"{exc.problem or exc.context}") from exc
    finally:
        loader.dispose()


def _construct(loader: Any, node: Any, path: tuple[Any, ...], lines: Lines, seen: set[int]) -> Any:
    # An alias makes the parser hand back the same node twice: refuse it before expanding
    # anything, so an alias bomb costs nothing.
    if id(node) in seen:
        raise YamlError(_alias_line(loader), "aliases (*name) are not allowed in rule files")
    seen.add(id(node))
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                raise YamlError(key_node.start_mark.line + 1, f"keys must be text, not {key!r}")
            if key in out:
                raise YamlError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _construct(loader, value_node, (*path, key), lines, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, n, (*path, i), lines, seen) for i, n in enumerate(node.value)]
    return loader.construct_object(node)


def _alias_line(loader: Any) -> int | None:
    """The line of the first alias in the document (libyaml reports the anchor's line instead)."""
    stream = getattr(loader, "_hocr_text", None)
    if stream is None:
        return None
    try:
        for event in yaml.parse(stream, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                return int(mark.line) + 1 if mark is not None else None
    except yaml.YAMLError:
        return None
    return None


def line_of(lines: Lines, path: Sequence[Any]) -> int | None:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


# --------------------------------------------------------------------------------------------
# Compiled model
# --------------------------------------------------------------------------------------------

Sources = tuple[Mapping[str, Any], ...]


def citation(sources: Sources) -> str:
    """A citation in one line: document, edition, section, paragraph or page."""
    parts = []
    for s in sources:
        bits = [s["document"], s["edition"], s["section"]]
        if s.get("paragraph"):
            bits.append(f"para {s['paragraph']}")
        if s.get("page"):
            bits.append(f"p. {s['page']}")
        parts.append(", ".join(bits))
    return "; ".join(parts)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    summary: str
    sources: Sources
    in_force_from: dt.date
    in_force_to: dt.date | None
    verification: str
    decision: str
    cond: Cond
    then: Mapping[str, Expr]
    raw_then: Mapping[str, Any]
    table: Table | None
    overrides: tuple[str, ...]
    defeaters: frozenset[str]
    file: str
    line: int
    notes: str
    citation: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    # A guard: a fact the rule's condition requires to equal one of some constants (a top-level
    # `equals` / `in` predicate, or one conjunct of a top-level `all`). When that fact is known
    # and is none of them, the rule cannot apply and untraced evaluation does not look at it.
    guard: tuple[str, Expr, frozenset[Any]] | None = field(default=None, repr=False, compare=False)
    # A presence guard: a fact the condition requires to be given (`exists: true`, a top-level
    # predicate or conjunct). When it is definitely absent from the incident the rule cannot apply.
    presence: tuple[str, Expr] | None = field(default=None, repr=False, compare=False)

    def in_force(self, day: dt.date) -> bool:
        return self.in_force_from <= day and (self.in_force_to is None or day <= self.in_force_to)

    def ref(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "citation": self.citation,
            "verification": self.verification,
        }


@dataclass(frozen=True)
class RuleGroup:
    """Rules sharing a presence guard (or none), with their value-guard index."""

    presence: tuple[str, Expr] | None
    unguarded: tuple[Rule, ...]
    guarded: tuple[tuple[str, Expr, Mapping[Any, tuple[Rule, ...]], tuple[Rule, ...]], ...]


@dataclass(frozen=True, eq=False)
class Decision:
    name: str
    scope: str
    title: str
    summary: str
    outputs: Mapping[str, Mapping[str, Any]]
    if_no_rule_applies: str
    determined_by: tuple[str, ...]
    combine: str  # "one": default logic, one rule decides; "all": every applicable rule's conclusion is kept
    rules: tuple[Rule, ...]
    depends: frozenset[str]
    file: str
    line: int

    @cache  # noqa: B019 - decisions live as long as their rulebook
    def rules_in_force(self, day: dt.date) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.in_force(day))

    @cache  # noqa: B019 - decisions live as long as their rulebook
    def index(self, day: dt.date) -> tuple[tuple[RuleGroup, ...], Mapping[str, int]]:
        """The rules in force on ``day``, grouped by presence guard (None first) and, within a
        group, indexed by value guard; and each rule's position (see Rule.guard)."""
        rules = self.rules_in_force(day)
        by_presence: dict[str | None, tuple[tuple[str, Expr] | None, list[Rule]]] = {}
        for r in rules:
            key = r.presence[0] if r.presence else None
            by_presence.setdefault(key, (r.presence, []))[1].append(r)
        groups = []
        for presence, members in by_presence.values():
            unguarded: list[Rule] = []
            by_path: dict[str, tuple[Expr, dict[Any, list[Rule]], list[Rule]]] = {}
            for r in members:
                if r.guard is None:
                    unguarded.append(r)
                    continue
                path, get, keys = r.guard
                entry = by_path.setdefault(path, (get, {}, []))
                entry[2].append(r)
                for k in keys:
                    entry[1].setdefault(k, []).append(r)
            groups.append(RuleGroup(presence, tuple(unguarded), tuple(
                (path, get, {k: tuple(v) for k, v in values.items()}, tuple(every))
                for path, (get, values, every) in by_path.items())))
        return tuple(groups), {r.id: i for i, r in enumerate(rules)}


LIFE_MONTHS = 100_000.0


@dataclass(frozen=True)
class Classification:
    code: str
    name: str
    category: str
    group: str
    victim_based: bool
    max_sentence: Any
    max_sentence_months: float
    counting_unit: str
    offences: tuple[tuple[str, str], ...]
    # Offence-level maxima where the offences a classification covers differ (Annex C ranks
    # offences): (statute, section), case-folded -> months.
    offence_maxima: Mapping[tuple[str, str], float]
    tags: tuple[str, ...]
    sources: Sources
    in_force_from: dt.date
    in_force_to: dt.date | None
    verification: str
    notes: str
    file: str
    line: int
    # Every offence the entry covers, with its own dates: its file's `offences` and, for the
    # entry in force on the Home Office list's date, the list's rows (hocr.offences).
    offence_entries: tuple[Offence, ...] = ()
    # Why the entry in force on the list's date differs from the list (a stated choice), if it does.
    list_differences: str = ""

    def in_force(self, day: dt.date) -> bool:
        return self.in_force_from <= day and (self.in_force_to is None or day <= self.in_force_to)

    def as_fact(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "category": self.category,
            "group": self.group,
            "victim_based": self.victim_based,
            "max_sentence_months": self.max_sentence_months,
            "counting_unit": self.counting_unit,
            "tags": list(self.tags),
        }

    def sentence_text(self) -> str:
        s = self.max_sentence
        if s == "life":
            return "life"
        if s == "fine":
            return "fine only"
        if "years" in s:
            return f"{s['years']:g} years"
        if "weeks" in s:
            return f"{s['weeks']:g} weeks"
        return f"{s['months']:g} months"


@dataclass(frozen=True)
class Rulebook:
    name: str
    edition: str
    description: str
    hash: str
    root: Path
    pipeline: Mapping[str, Any]
    principal: Mapping[str, Any]
    decisions: Mapping[str, Decision]
    order: Mapping[str, tuple[Decision, ...]]
    rules: Mapping[str, Rule]
    classifications: Mapping[str, tuple[Classification, ...]]
    files: tuple[str, ...]
    offence_list: OffenceList | None = None

    @cached_property
    def starts(self) -> dt.date:
        """The first day any rule is in force."""
        return min((r.in_force_from for r in self.rules.values()), default=dt.date.min)

    def codes_for_offence(self, statute: str, section: str, day: dt.date) -> tuple[str, ...]:
        """The classifications in force on ``day`` that cover an offence (statute, section)."""
        want = offence_key(statute, section)
        return tuple(sorted({
            code for code, entries in self.classifications.items()
            for c in entries
            if c.in_force(day) and any(o.key() == want and o.in_force(day) for o in c.offence_entries)
        }))

    def classification(self, code: str, day: dt.date) -> Classification | None:
        for c in self.classifications.get(code, ()):
            if c.in_force(day):
                return c
        return None

    def info(self) -> dict[str, str]:
        return {"name": self.name, "edition": self.edition, "hash": self.hash}


def _sentence_months(s: Any) -> float:
    if s == "life":
        return LIFE_MONTHS
    if s == "fine":
        return 0.0
    if "years" in s:
        return float(s["years"]) * 12
    if "weeks" in s:
        return float(s["weeks"]) / WEEKS_PER_MONTH
    return float(s["months"])


# --------------------------------------------------------------------------------------------
# Loading and compiling
# --------------------------------------------------------------------------------------------


@cache
def _rule_schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((data_path("schemas") / "rule.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _schema_problems(data: Any, lines: Lines, rel: str) -> list[Problem]:
    problems = []
    for error in sorted(_rule_schema_validator().iter_errors(data), key=lambda e: list(e.path)):
        specific = _specific(error)
        path = list(error.absolute_path)
        where = "/" + "/".join(str(p) for p in path) if path else "(top level)"
        problems.append(Problem(rel, line_of(lines, path), f"at {where}: {specific.message}"))
    return problems


def _specific(error: Any) -> Any:
    """The most telling sub-error of a oneOf/anyOf failure: a branch of the right type."""
    if not error.context:
        return error
    right_type = [e for e in error.context if e.validator != "type"]
    return best_match(right_type or error.context)


def rule_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if p.is_file())


def content_hash(root: Path, files: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def as_sources(value: Any) -> Sources:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _walk_roots(node: Any) -> Iterator[str]:
    """Every fact root a raw condition, expression or table refers to."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("fact", "some", "every", "count") and isinstance(value, str):
                yield value.split(".")[0]
            else:
                yield from _walk_roots(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_roots(item)


_lock = threading.Lock()
_cache: dict[tuple[str, str], Rulebook] = {}


def load_rulebook(root: str | Path | None = None) -> Rulebook:
    """Load and compile the rulebook at ``root`` (default: the shipped one), once per content.

    The compiled rulebook is cached by path and content hash, so repeated calls are cheap and a
    changed file is picked up."""
    base = Path(root) if root is not None else data_path("rules")
    if not base.is_dir():
        raise RulebookError([Problem(str(base), None, "no such rulebook directory")])
    files = rule_files(base)
    digest = content_hash(base, files)
    key = (str(base.resolve()), digest)
    with _lock:
        if key in _cache:
            return _cache[key]
    book = _compile(base, files, digest)
    with _lock:
        _cache[key] = book
    return book


def cache_root() -> Path | None:
    """hocr's cache folder ($HOCR_CACHE_DIR, else $XDG_CACHE_HOME/hocr or ~/.cache/hocr);
    None when HOCR_NO_CACHE is set. Only derived data lives there; deleting it is always safe."""
    if os.environ.get("HOCR_NO_CACHE"):
        return None
    root = os.environ.get("HOCR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "hocr"
    )
    return Path(root)


def _cache_file(digest: str) -> Path | None:
    """Where the parsed and schema-checked rule files are kept between runs (never the source of
    truth: the key is the hash of every rule file, the rule schema and this version of hocr)."""
    root = cache_root()
    if root is None:
        return None
    schema = (data_path("schemas") / "rule.schema.json").read_bytes()
    code = Path(__file__).read_bytes()  # a change to how files are read invalidates the cache
    key = hashlib.sha256(digest.encode() + b"\0" + schema + b"\0" + code + _VERSION.encode()).hexdigest()
    return root / f"rules-{key[:32]}.json"


def _read_cache(path: Path | None) -> list[tuple[str, Any, Lines]] | None:
    if path is None:
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [(rel, data, {tuple(k): v for k, v in lines}) for rel, data, lines in raw]
    except (OSError, ValueError, TypeError):
        return None


def _write_cache(path: Path | None, docs: list[tuple[str, Any, Lines]]) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Keep the cache small: the newest few rulebooks only.
        old = sorted(path.parent.glob("rules-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[7:]:
            stale.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        payload = [[rel, data, [[list(k), v] for k, v in lines.items()]] for rel, data, lines in docs]
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home is fine: the rulebook is simply parsed again next time


def _compile(base: Path, files: Sequence[Path], digest: str) -> Rulebook:
    cache = _cache_file(digest)
    cached = _read_cache(cache)
    if cached is not None:
        return _assemble(base, cached, digest, [p.relative_to(base).as_posix() for p in files])
    problems: list[Problem] = []
    docs: list[tuple[str, Any, Lines]] = []
    for path in files:
        rel = path.relative_to(base).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(rel, None, f"cannot read: {exc}"))
            continue
        try:
            data, lines = load_yaml(text)
        except YamlError as exc:
            problems.append(Problem(rel, exc.line, f"invalid YAML: {exc}"))
            continue
        if data is None:
            problems.append(Problem(rel, None, "the file is empty"))
            continue
        schema_problems = _schema_problems(data, lines, rel)
        if schema_problems:
            problems.extend(schema_problems)
            continue
        docs.append((rel, data, lines))
    if problems:
        raise RulebookError(problems)
    book = _assemble(base, docs, digest, [p.relative_to(base).as_posix() for p in files])
    _write_cache(cache, docs)
    return book


def _assemble(base: Path, docs: list[tuple[str, Any, Lines]], digest: str, files: list[str]) -> Rulebook:
    problems: list[Problem] = []
    manifest: dict[str, Any] | None = None
    raw_decisions: dict[str, tuple[dict[str, Any], str, int]] = {}
    raw_rules: dict[str, tuple[dict[str, Any], str, int]] = {}
    classifications: dict[str, list[Classification]] = {}
    offence_list: OffenceList | None = None

    for rel, data, lines in docs:
        if "offence_list" in data:
            if offence_list is not None:
                problems.append(Problem(rel, line_of(lines, ["offence_list"]), f"a second offence list (the first is in {offence_list.file})"))
            offence_list = read_list(rel, data)
        if "rulebook" in data:
            if manifest is not None:
                problems.append(Problem(rel, line_of(lines, ["rulebook"]), "a second rulebook manifest"))
            manifest = data["rulebook"]
        defaults = data.get("defaults", {})
        for i, d in enumerate(data.get("decisions", [])):
            line = line_of(lines, ["decisions", i]) or 0
            if d["name"] in raw_decisions:
                other = raw_decisions[d["name"]]
                problems.append(Problem(rel, line, f"decision {d['name']!r} is already declared at {other[1]}:{other[2]}"))
            raw_decisions[d["name"]] = (d, rel, line)
        for i, r in enumerate(data.get("rules", [])):
            line = line_of(lines, ["rules", i]) or 0
            merged = {**{k: v for k, v in defaults.items() if k != "category"}, **r}
            for required in ("source", "in_force", "verification", "decision"):
                if required not in merged:
                    problems.append(Problem(rel, line, f"rule {r['id']!r} has no {required!r} (set it on the rule or in the file's defaults)"))
            if r["id"] in raw_rules:
                other = raw_rules[r["id"]]
                problems.append(Problem(rel, line, f"duplicate rule id {r['id']!r} (first at {other[1]}:{other[2]})"))
            raw_rules[r["id"]] = (merged, rel, line)
        for i, c in enumerate(data.get("classifications", [])):
            line = line_of(lines, ["classifications", i]) or 0
            merged = {**defaults, **c}
            missing = [k for k in ("source", "in_force", "verification", "category") if k not in merged]
            if missing:
                problems.append(Problem(rel, line, f"classification {c['code']!r} has no {', '.join(missing)}"))
                continue
            entry = Classification(
                code=c["code"],
                name=c["name"],
                category=merged["category"],
                group=c.get("group", ""),
                victim_based=c["victim_based"],
                max_sentence=c["max_sentence"],
                max_sentence_months=_sentence_months(c["max_sentence"]),
                counting_unit=c.get("counting_unit", ""),
                offences=tuple((o["statute"], o["section"]) for o in c.get("offences", ())),
                offence_maxima={offence_key(o["statute"], o["section"]): _sentence_months(o["max_sentence"])
                                for o in c.get("offences", ()) if "max_sentence" in o},
                offence_entries=hand_written(c.get("offences", ()), _sentence_months),
                list_differences=c.get("list_differences", ""),
                tags=tuple(c.get("tags", ())),
                sources=as_sources(merged["source"]),
                in_force_from=_date(merged["in_force"]["from"]),
                in_force_to=_date(merged["in_force"]["to"]) if "to" in merged["in_force"] else None,
                verification=merged["verification"],
                notes=c.get("notes", ""),
                file=rel,
                line=line,
            )
            for earlier in classifications.get(entry.code, []):
                if _overlap(entry, earlier):
                    problems.append(Problem(rel, line, f"classification {entry.code!r} overlaps in time with {earlier.file}:{earlier.line}"))
            classifications.setdefault(entry.code, []).append(entry)

    if offence_list is not None:
        problems += [Problem(offence_list.file, None, text)
                     for _, text in attach_list(classifications, offence_list, _sentence_months)]
    if manifest is None:
        problems.append(Problem("rulebook.yaml", None, "no rulebook manifest ('rulebook:' key) found"))
        raise RulebookError(problems)
    pipeline = manifest["pipeline"]

    # Decisions and the scope each is visible in.
    scope_of = {name: d["scope"] for name, (d, _, _) in raw_decisions.items()}
    for role, scope in (("classification", "act"), ("recording", "allegation"), ("count_key", "allegation"),
                        ("not_recorded_as", "allegation"), ("deadline", "incident"), ("timeliness", "incident")):
        name = pipeline.get(role)
        if name is None:
            continue
        if name not in raw_decisions:
            problems.append(Problem("rulebook.yaml", None, f"pipeline {role}: no decision named {name!r}"))
        elif scope_of[name] != scope:
            problems.append(Problem("rulebook.yaml", None, f"pipeline {role}: decision {name!r} must have scope {scope!r}"))

    for role in ("findings", "verdicts"):
        wanted = {"findings": ("act", "allegation", "incident"), "verdicts": ("recorded_crime",)}[role]
        for name in pipeline.get(role, []):
            if name not in raw_decisions:
                problems.append(Problem("rulebook.yaml", None, f"pipeline {role}: no decision named {name!r}"))
            elif scope_of[name] not in wanted:
                problems.append(Problem("rulebook.yaml", None, f"pipeline {role}: decision {name!r} must have scope {' or '.join(wanted)}"))
    for role, output in (("classification", "code"), ("recording", "outcome"), ("count_key", "key"),
                         ("deadline", "due"), ("timeliness", "met")):
        name = pipeline.get(role)
        if name in raw_decisions and output not in raw_decisions[name][0]["outputs"]:
            d, rel, line = raw_decisions[name]
            problems.append(Problem(rel, line, f"decision {name!r} is the pipeline's {role} and needs an output {output!r}"))

    def visible(scope: str) -> list[str]:
        return [n for n, s in scope_of.items() if s in VISIBLE_SCOPES[scope]]

    resolvers = {s: PathResolver(list(SCOPE_ROOTS[s]) + visible(s)) for s in SCOPES}

    # Compile rules.
    compiled: dict[str, dict[str, Any]] = {}
    roots_of: dict[str, frozenset[str]] = {}  # the fact roots each rule reads
    for rid, (r, rel, line) in raw_rules.items():
        dname = r.get("decision")
        if dname not in raw_decisions:
            if "decision" in r:
                problems.append(Problem(rel, line, f"rule {rid!r}: no decision named {dname!r}"))
            continue
        decl = raw_decisions[dname][0]
        outputs = decl["outputs"]
        paths = resolvers[decl["scope"]]
        try:
            cond = compile_condition(r["when"], paths) if "when" in r else always
            then = {k: compile_expr(v, paths) for k, v in r.get("then", {}).items()}
            table = None
            if "table" in r:
                table = compile_table(r["table"], paths, rid, as_sources(r.get("source")), as_sources)
        except RuleCompileError as exc:
            problems.append(Problem(rel, line, f"rule {rid!r}: {exc}"))
            continue
        thens = [r.get("then", {})] if "then" in r else [row["then"] for row in r["table"]["rows"]]
        for t in thens:
            for key, value in t.items():
                if key not in outputs:
                    problems.append(Problem(rel, line, f"rule {rid!r}: decision {dname!r} has no output {key!r} (outputs: {', '.join(outputs)})"))
                elif (
                    "enum" in outputs[key]
                    and not isinstance(value, dict)
                    and value not in outputs[key]["enum"]
                    and not (value is None and outputs[key].get("nullable"))
                ):
                    problems.append(Problem(rel, line, f"rule {rid!r}: output {key}={value!r} is not one of {outputs[key]['enum']}"))
        if "table" in r:
            pr = r["table"].get("priority")
            if pr and pr["output"] not in outputs:
                problems.append(Problem(rel, line, f"rule {rid!r}: priority output {pr['output']!r} is not an output of {dname!r}"))
        roots_of[rid] = frozenset(_walk_roots({"w": r.get("when"), "t": r.get("then"), "x": r.get("table")}))
        if dname in roots_of[rid]:
            problems.append(Problem(rel, line, f"rule {rid!r} reads the output of its own decision {dname!r} (a cycle)"))
        guard, presence = _guards(r.get("when"), paths)
        compiled[rid] = {"cond": cond, "then": then, "table": table, "guard": guard, "presence": presence}
    for name, (d, rel, line) in raw_decisions.items():
        for key in d.get("determined_by", []):
            if key not in d["outputs"]:
                problems.append(Problem(rel, line, f"decision {name!r}: determined_by names {key!r}, which is not an output"))

    # Overrides: same decision, no cycles; defeaters are the transitive overriders.
    overriders: dict[str, set[str]] = {rid: set() for rid in raw_rules}
    for rid, (r, rel, line) in raw_rules.items():
        for target in r.get("overrides", []):
            if target == rid:
                problems.append(Problem(rel, line, f"rule {rid!r} overrides itself"))
            elif target not in raw_rules:
                problems.append(Problem(rel, line, f"rule {rid!r} overrides {target!r}, which does not exist"))
            elif raw_rules[target][0].get("decision") != r.get("decision"):
                problems.append(Problem(rel, line, f"rule {rid!r} overrides {target!r}, which decides {raw_rules[target][0].get('decision')!r}, not {r.get('decision')!r}"))
            else:
                overriders[target].add(rid)
    defeaters: dict[str, frozenset[str]] = {}
    for rid in raw_rules:
        seen: set[str] = set()
        stack = list(overriders[rid])
        while stack:
            o = stack.pop()
            if o in seen:
                continue
            seen.add(o)
            stack.extend(overriders[o])
        if rid in seen:
            r, rel, line = raw_rules[rid]
            problems.append(Problem(rel, line, f"rule {rid!r} is part of an override cycle"))
        defeaters[rid] = frozenset(seen - {rid})

    if problems:
        raise RulebookError(problems)

    rules: dict[str, Rule] = {}
    for rid, (r, rel, line) in raw_rules.items():
        c = compiled[rid]
        inf = r["in_force"]
        rules[rid] = Rule(
            id=rid,
            title=r["title"],
            summary=r["summary"],
            sources=as_sources(r["source"]),
            in_force_from=_date(inf["from"]),
            in_force_to=_date(inf["to"]) if "to" in inf else None,
            verification=r["verification"],
            decision=r["decision"],
            cond=c["cond"],
            then=c["then"],
            raw_then=r.get("then", {}),
            table=c["table"],
            overrides=tuple(r.get("overrides", ())),
            defeaters=defeaters[rid],
            file=rel,
            line=line,
            notes=r.get("notes", ""),
            citation=citation(as_sources(r["source"])),
            raw=r,
            guard=c["guard"],
            presence=c["presence"],
        )

    # Decisions with their dependencies, ordered within each scope.
    decisions: dict[str, Decision] = {}
    for name, (d, rel, line) in raw_decisions.items():
        mine = tuple(sorted((r for r in rules.values() if r.decision == name), key=lambda r: r.id))
        deps: set[str] = set()
        for r in mine:
            for root in roots_of[r.id]:
                if root in raw_decisions and root != name:
                    deps.add(root)
                if root == "classification" and name != pipeline["classification"]:
                    deps.add(pipeline["classification"])
        decisions[name] = Decision(
            name=name,
            scope=d["scope"],
            title=d["title"],
            summary=d.get("summary", ""),
            outputs=d["outputs"],
            if_no_rule_applies=d["if_no_rule_applies"],
            determined_by=tuple(d.get("determined_by", d["outputs"].keys())),
            combine=d.get("combine", "one"),
            rules=mine,
            depends=frozenset(deps),
            file=rel,
            line=line,
        )
    order: dict[str, tuple[Decision, ...]] = {}
    for scope in SCOPES:
        members = sorted(n for n, d in decisions.items() if d.scope == scope)
        done: list[str] = []
        pending = list(members)
        while pending:
            ready = [n for n in pending if all(dep in done or decisions[dep].scope != scope for dep in decisions[n].depends)]
            if not ready:
                first = decisions[pending[0]]
                problems.append(Problem(first.file, first.line, f"decisions depend on each other in a cycle: {', '.join(pending)}"))
                break
            for n in ready:
                done.append(n)
                pending.remove(n)
        order[scope] = tuple(decisions[n] for n in done)
    if problems:
        raise RulebookError(problems)

    return Rulebook(
        name=manifest["name"],
        edition=manifest["edition"],
        description=manifest.get("description", ""),
        hash=digest,
        root=base,
        pipeline=pipeline,
        principal=pipeline["principal"],
        decisions=decisions,
        order=order,
        rules=rules,
        classifications={k: tuple(sorted(v, key=lambda c: c.in_force_from)) for k, v in classifications.items()},
        files=tuple(files),
        offence_list=offence_list,
    )


def _guards(when: Any, paths: PathResolver) -> tuple[tuple[str, Expr, frozenset[Any]] | None, tuple[str, Expr] | None]:
    """The rule's value guard and presence guard, where its condition has them (see Rule.guard
    and Rule.presence): predicates on a plain fact at the top of the condition, or conjuncts of
    a top-level `all`, each of which must hold for the rule to apply."""
    guard: tuple[str, Expr, frozenset[Any]] | None = None
    presence: tuple[str, Expr] | None = None
    if not isinstance(when, Mapping):
        return guard, presence
    for c in when.get("all", []) if "all" in when else [when]:
        if not isinstance(c, Mapping) or "fact" not in c or len(c) != 2 or str(c["fact"]).startswith("item."):
            continue
        path = str(c["fact"])
        if presence is None and c.get("exists") is True:
            presence = path, paths.compile(path)
        if guard is None and ("equals" in c or isinstance(c.get("in"), list)):
            keys = [value_key(v) for v in ([c["equals"]] if "equals" in c else c["in"])]
            if all(k is not None for k in keys):
                guard = path, paths.compile(path), frozenset(keys)
    return guard, presence


def _overlap(a: Classification, b: Classification) -> bool:
    a_end = a.in_force_to or dt.date.max
    b_end = b.in_force_to or dt.date.max
    return a.in_force_from <= b_end and b.in_force_from <= a_end
