"""Loading: read the rule files safely, check them against the schema, compile the rulebook once.

* YAML is read with a safe loader that rejects duplicate keys and aliases (so alias bombs are
  harmless) and keeps dates as text (the schema checks them).
* Every file is validated against ``schemas/rule.schema.json``; every problem names the file, the
  line and what was expected. A rulebook with any problem does not load.
* The rules are compiled into immutable closures and indexes that every evaluation reuses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, NamedTuple, cast

from . import cache as _disk_cache
from . import jsonio
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
    Catalogue,
    Offence,
    OffenceList,
    hand_written,
    offence_key,
    read_list,
    unattached,
)
from .presumptions import (
    UNSAFE_CODE,
    Presumption,
    answers_for,
    compile_presumption,
    unsafe_presumptions,
)
from .reads import fact_paths
from .tables import Table, compile_table

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
    here = Path(__file__).resolve().parent  # what importlib.resources.files("hocr") gives, unimported
    packaged = here / "_data" / name
    if packaged.is_dir():
        return packaged
    return here.parents[1] / name


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str
    code: str = "HOCR-L000"  # the lint code it is reported under (hocr rules lint)

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


@cache
def _safe_loader() -> Any:
    """A safe loader class (libyaml where available) without implicit timestamps: dates stay
    text. Built on first use, so that PyYAML is imported only when rule files are read."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: Any = type("_SafeLoader", (base,), {"__doc__": _safe_loader.__doc__})
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return loader


Lines = dict[tuple[Any, ...], int]


class YamlError(ValueError):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line


# Where an alias can start: a '*' at the start of a line, or after a space or a flow indicator,
# followed by a character an anchor's name can have. Text without one has no alias; text with
# one (a '*' in prose) is looked at by the parser.
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[\]{},:?-])\*[^\s\[\]{},]", re.MULTILINE)


def load_yaml(text: str) -> tuple[Any, Lines]:
    """Parse one YAML document; return the data and a map from each path to its line (1-based)."""
    import yaml

    if "*" in text and _MAYBE_ALIAS.search(text):  # libyaml copies aliased scalars: look first
        line = _alias_line(text)
        if line is not None:
            raise YamlError(line, "aliases (*name) are not allowed in rule files")
    loader = _safe_loader()(text)
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


MAX_FILE_BYTES = 1024 * 1024  # one rule file (the largest shipped, the generated offence list, is about 660 KB)
MAX_RULEBOOK_BYTES = 16 * 1024 * 1024  # every rule file together
MAX_FILES = 2_000
MAX_YAML_DEPTH = 64  # mappings and lists inside each other


_PLAIN_TAGS = {"mapping": "tag:yaml.org,2002:map", "sequence": "tag:yaml.org,2002:seq"}  # by node.id
_TEXT_TAG = "tag:yaml.org,2002:str"  # most scalars: always allowed, and the value is the node's text


def _check_node(loader: Any, node: Any, path: tuple[Any, ...]) -> None:
    """Refuse what plain YAML data does not need: explicit tags (``!!python/...``, ``!!binary``,
    ``!!set``, custom ``!tags``) on any node, and nesting beyond MAX_YAML_DEPTH."""
    if len(path) > MAX_YAML_DEPTH:
        raise YamlError(node.start_mark.line + 1, f"nested more than {MAX_YAML_DEPTH} levels deep")
    if node.tag == _TEXT_TAG:
        return
    line = node.start_mark.line + 1
    if node.id == "scalar":  # PyYAML's node kinds: scalar, sequence, mapping
        plain = node.style is None or node.style == ""
        implied = loader.resolve(type(node), node.value, (plain, not plain))
        allowed = {implied, "tag:yaml.org,2002:str"}
    else:
        allowed = {_PLAIN_TAGS[node.id]}
    if node.tag not in allowed:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise YamlError(line, f"the tag {tag[:60]} is not allowed in rule files: write plain YAML (text, "
                              "numbers, true/false, lists and mappings) without tags")


def _construct(loader: Any, node: Any, path: tuple[Any, ...], lines: Lines, seen: set[int]) -> Any:
    # An alias makes the parser hand back the same node twice: refuse it before expanding
    # anything, so an alias bomb costs nothing.
    if id(node) in seen:
        raise YamlError(_alias_line(loader._hocr_text), "aliases (*name) are not allowed in rule files")
    seen.add(id(node))
    _check_node(loader, node, path)
    lines[path] = node.start_mark.line + 1
    if node.id == "mapping":
        return _construct_mapping(loader, node, path, lines, seen)
    if node.id == "sequence":
        shallow = len(path) < MAX_YAML_DEPTH
        return [_text_value(n, (*path, i), lines, seen) if shallow and _is_text_node(n, seen)
                else _construct(loader, n, (*path, i), lines, seen) for i, n in enumerate(node.value)]
    if node.tag == _TEXT_TAG:
        return node.value
    value = loader.construct_object(node)
    if isinstance(value, float) and not math.isfinite(value):
        raise YamlError(node.start_mark.line + 1, "not a finite number (.inf and .nan are not allowed)")
    return value


def _construct_mapping(loader: Any, node: Any, path: tuple[Any, ...], lines: Lines, seen: set[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shallow = len(path) < MAX_YAML_DEPTH  # so its values are within the depth limit
    for key_node, value_node in node.value:
        if key_node.tag != _TEXT_TAG:
            _check_node(loader, key_node, path)
        key = key_node.value if key_node.tag == _TEXT_TAG else loader.construct_object(key_node)
        if not isinstance(key, str):
            raise YamlError(key_node.start_mark.line + 1, f"keys must be text, not {key!r}")
        if key in out:
            raise YamlError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
        if shallow and _is_text_node(value_node, seen):
            out[key] = _text_value(value_node, (*path, key), lines, seen)
        else:
            out[key] = _construct(loader, value_node, (*path, key), lines, seen)
    return out


def _is_text_node(node: Any, seen: set[int]) -> bool:
    """A plain text scalar not seen before: most nodes, which :func:`_text_value` takes as they
    are (what :func:`_construct` would do, in fewer steps)."""
    return node.tag == _TEXT_TAG and node.id == "scalar" and id(node) not in seen


def _text_value(node: Any, path: tuple[Any, ...], lines: Lines, seen: set[int]) -> str:
    seen.add(id(node))
    lines[path] = node.start_mark.line + 1
    text: str = node.value
    return text


def _alias_line(text: str) -> int | None:
    """The line of the first alias in the document, or None when it has none. libyaml's events
    say quickly whether there is one (a ``*`` in text is common; an alias is not), but report
    the anchor's line, so the line is found by the pure-Python parser."""
    import yaml

    try:
        if not any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_safe_loader())):
            return None
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
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
    # `equals` / `in` predicate, or one conjunct of a top-level `all`: the first naming values
    # other than true and false, if any, as it leaves fewer rules; see _guards). When that fact
    # is known and is none of them, the rule cannot apply and untraced evaluation does not look
    # at it.
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
                for k in sorted(keys, key=repr):  # not set order: the generated code is the same in every process
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
class _Cited:
    """An entry of the ``audit`` section: what it says is cited, as a rule is."""

    sources: Sources
    verification: str
    citation: str


@dataclass(frozen=True)
class ReportGroup(_Cited):
    """A group of crimes that ``hocr audit`` reports figures for (an ``audit`` section's
    ``report_groups``): every crime whose classification matches."""

    label: str
    match: str  # all, category, not_category, ons, tag or code
    values: tuple[str, ...]
    headline: bool = False  # the group --fail-under, a bare --annual-recorded N and the report's headline judge


@dataclass(frozen=True)
class FindingKind(_Cited):
    """A kind of audit discrepancy that a finding of the rules stands for (an ``audit``
    section's ``finding_kinds``): the rules in ``findings`` name it as their ``discrepancy``."""

    kind: str
    label: str
    definition: str
    findings: tuple[str, ...]


@dataclass(frozen=True)
class AuditMethod:
    """How the audit reports, as the rulebook's ``audit`` section says (none: no groups and no
    kinds beyond the audit's own comparisons). Its entries keep no line of their own (a cache
    entry keeps only shallow lines): ``hocr rules lint`` reads the file for those."""

    as_of: dt.date | None = None
    groups: tuple[ReportGroup, ...] = ()
    kinds: tuple[FindingKind, ...] = ()
    file: str = ""

    @property
    def headline(self) -> ReportGroup | None:
        """The group marked ``headline: true`` (the loader refuses two), or None."""
        return next((g for g in self.groups if g.headline), None)


@dataclass(frozen=True)
class DocumentEdition:
    """An edition of a cited document (a ``documents`` section, docs/rule-format.md section 18):
    the names it is cited by, its lettered sections and annexes (letter: title) and its parts
    without a letter."""

    names: tuple[str, ...]
    sections: Mapping[str, str] = field(default_factory=dict)
    annexes: Mapping[str, str] = field(default_factory=dict)
    parts: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class CitedDocument:
    """A document the rules cite: the names it is cited by and its editions, oldest first."""

    names: tuple[str, ...]
    editions: tuple[DocumentEdition, ...]


def cited_documents(raw: Iterable[Mapping[str, Any]]) -> tuple[CitedDocument, ...]:
    """The entries of ``documents`` sections (schema-checked) as CitedDocuments, in order."""
    return tuple(CitedDocument(tuple(map(str, d["names"])), tuple(_edition(e) for e in d["editions"])) for d in raw)


def _edition(e: Mapping[str, Any]) -> DocumentEdition:
    return DocumentEdition(names=tuple(map(str, e["names"])),
                           sections={str(k): str(v) for k, v in e.get("sections", {}).items()},
                           annexes={str(k): str(v) for k, v in e.get("annexes", {}).items()},
                           parts=tuple(map(str, e.get("parts", ()))), notes=str(e.get("notes", "")))


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
    # What the rulebook takes missing facts to be (hocr.presumptions), in order of id.
    presumptions: tuple[Presumption, ...] = ()
    offence_list: OffenceList | None = None
    audit: AuditMethod = AuditMethod()  # the report groups and finding kinds of hocr audit
    documents: tuple[CitedDocument, ...] = ()  # the cited documents' editions (no rule reads them)
    # How long each stage of loading took, in seconds ("cache" or "read" first: see STAGES).
    timings: tuple[tuple[str, float], ...] = field(default=(), repr=False, compare=False)

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
def _rule_schema() -> dict[str, Any]:
    schema: dict[str, Any] = jsonio.loads((data_path("schemas") / "rule.schema.json").read_bytes())
    return schema


@cache
def _rule_schema_validator() -> Any:
    """The reference validator (jsonschema): it words every problem."""
    import jsonschema

    schema = _rule_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@cache
def _fast_rule_validator() -> Callable[[Any], bool] | None:
    """A compiled validator (jsonschema-rs) that says quickly that a rule file is valid; whenever
    it objects, or is not installed, the reference validator decides and words the problems."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - optional speed-up
        return None
    is_valid: Callable[[Any], bool] = jsonschema_rs.validator_for(_rule_schema()).is_valid
    return is_valid


def _schema_problems(data: Any, lines: Lines, rel: str) -> list[Problem]:
    fast = _fast_rule_validator()
    if fast is not None and fast(data):
        return []
    problems = []
    for error in sorted(_rule_schema_validator().iter_errors(data), key=lambda e: list(e.path)):
        specific = _specific(error)
        path = list(error.absolute_path)
        where = "/" + "/".join(str(p) for p in path) if path else "(top level)"
        problems.append(Problem(rel, line_of(lines, path), f"at {where}: {_shorten(specific.message)}"))
    return problems


def _shorten(message: str, most: int = 300) -> str:
    """A schema message that quotes a long value, cut to a readable length."""
    return message if len(message) <= most else message[: most - 1] + "…"


def _specific(error: Any) -> Any:
    """The most telling sub-error of a oneOf/anyOf failure: a branch of the right type."""
    from jsonschema.exceptions import best_match

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


def _cache_key(digest: str) -> str:
    """The key of the parsed and schema-checked rule files (never the source of truth): the hash
    of every rule file, the rule schema and this hocr (see hocr.cache.entry_key)."""
    schema = (data_path("schemas") / "rule.schema.json").read_bytes()
    return _disk_cache.entry_key("rules", digest, schema)


class _Entry(NamedTuple):  # not a dataclass: making one costs a millisecond of every start
    """What a cache entry holds: the parsed and checked rule files, and the fact roots each rule
    reads (found by walking every condition and table, which costs more than reading them)."""

    docs: list[tuple[str, Any, Lines]]
    roots: Mapping[str, Sequence[str]]


def _read_cache(key: str) -> _Entry | None:
    payload = _disk_cache.read("rules", key)
    if payload is None:
        return None
    try:
        raw = jsonio.loads(payload)
        docs = [(rel, data, {tuple(k): v for k, v in lines}) for rel, data, lines in raw["docs"]]
        roots = raw["roots"]
        if not isinstance(roots, dict):
            return None
        return _Entry(docs, roots)
    except (ValueError, TypeError, KeyError):
        return None


# The lines a loaded rulebook keeps: each declaration's (["rules", 3]) and each top-level key's.
# Deeper lines only ever name a problem, and a cached rulebook has none.
_KEPT_LINE_DEPTH = 2


def _write_cache(key: str, docs: list[tuple[str, Any, Lines]], roots: Mapping[str, frozenset[str]]) -> None:
    payload = {"docs": [[rel, data, [[list(k), v] for k, v in lines.items() if len(k) <= _KEPT_LINE_DEPTH]]
                        for rel, data, lines in docs],
               "roots": {rid: sorted(found) for rid, found in roots.items()}}
    _disk_cache.write("rules", key, jsonio.dumps(payload))


def _size_problems(base: Path, files: Sequence[Path]) -> list[Problem]:
    """Refuse a rulebook too big to be read quickly, before reading any of it."""
    if len(files) > MAX_FILES:
        return [Problem(str(base), None, f"{len(files):,} rule files; a rulebook may have at most {MAX_FILES:,}")]
    problems: list[Problem] = []
    total = 0
    for path in files:
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(path.relative_to(base).as_posix(), None,
                                    f"the file is {size:,} bytes; a rule file may be at most {MAX_FILE_BYTES:,} "
                                    "bytes (split it into several files)"))
    if total > MAX_RULEBOOK_BYTES and not problems:
        problems.append(Problem(str(base), None, f"the rule files come to {total:,} bytes; a rulebook may be at "
                                                 f"most {MAX_RULEBOOK_BYTES:,}"))
    return problems


def _read_rule_file(path: Path, rel: str) -> tuple[Any, Lines] | list[Problem]:
    """One rule file read, parsed and checked against the schema and its own dates; or its
    problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(rel, None, f"cannot read: {exc}")]
    try:
        data, lines = load_yaml(text)
    except YamlError as exc:
        return [Problem(rel, exc.line, f"invalid YAML: {exc}")]
    except RecursionError:
        return [Problem(rel, None, "invalid YAML: nested too deeply")]
    if data is None:
        return [Problem(rel, None, "the file is empty")]
    problems = _schema_problems(data, lines, rel) or _in_force_problems(data, lines, rel)
    return problems or (data, lines)


def _in_force_problems(data: Any, lines: Lines, rel: str, path: tuple[Any, ...] = ()) -> list[Problem]:
    """Every ``in_force`` in the file: real dates, and ``from`` no later than ``to`` (a reversed
    range would leave the rule in force on no day at all, silently)."""
    problems: list[Problem] = []
    if type(data) is list:
        for i, item in enumerate(data):
            if type(item) is dict or type(item) is list:
                problems.extend(_in_force_problems(item, lines, rel, (*path, i)))
        return problems
    if type(data) is not dict:
        return problems
    for key, value in data.items():
        if key == "in_force" and type(value) is dict:
            problems.extend(_date_range_problems(value, lines, rel, (*path, key)))
        elif type(value) is dict or type(value) is list:
            problems.extend(_in_force_problems(value, lines, rel, (*path, key)))
    return problems


def _date_range_problems(value: Mapping[str, Any], lines: Lines, rel: str, path: tuple[Any, ...]) -> list[Problem]:
    where = "/" + "/".join(str(p) for p in path)
    days: dict[str, dt.date] = {}
    problems = []
    for end in ("from", "to"):
        if isinstance(value.get(end), str):
            try:
                days[end] = _date(value[end])
            except ValueError:
                problems.append(Problem(rel, line_of(lines, [*path, end]),
                                        f"at {where}/{end}: {value[end]!r} is not a date that exists"))
    if "from" in days and "to" in days and days["from"] > days["to"]:
        problems.append(Problem(rel, line_of(lines, path),
                                f"at {where}: in force from {days['from']} to {days['to']}: the range is reversed "
                                "(from must be on or before to)"))
    return problems


def _compile(base: Path, files: Sequence[Path], digest: str) -> Rulebook:
    """Read the rule files (or their checked form from the cache), then run every stage of
    :data:`STAGES`. A cache entry exists only for a rulebook that loaded without problems, with
    this hocr, so a hit skips the stages that only look for problems the entry rules out."""
    # Loading makes some hundred thousand objects that live as long as the rulebook: the cyclic
    # collector would only walk them again and again meanwhile (a tenth of a warm load).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _compile_stages(base, files, digest)
    finally:
        if collecting:
            gc.enable()


def _compile_stages(base: Path, files: Sequence[Path], digest: str) -> Rulebook:
    clock = _Clock()
    key = _cache_key(digest)
    entry = _read_cache(key)
    hit = entry is not None
    docs = entry.docs if entry is not None else _read_files(base, files)
    clock.lap("cache" if hit else "read")
    build = _Assembly(base, docs, digest, [p.relative_to(base).as_posix() for p in files], trusted=hit,
                      cached_roots=entry.roots if entry is not None else {})
    for name, stage, needed_on_hit in STAGES:
        if needed_on_hit or not hit:
            stage(build)
            clock.lap(name)
    if not hit:
        _write_cache(key, docs, build.roots_of)
        clock.lap("write cache")
    assert build.book is not None  # the "book" stage made it, or raised
    return dataclasses.replace(build.book, timings=tuple(clock.laps))


class _Clock:
    """The time of each stage, for ``hocr rules validate --timings``."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self.last))
        self.last = now


def _read_files(base: Path, files: Sequence[Path]) -> list[tuple[str, Any, Lines]]:
    """Every rule file read, parsed and checked against the schema; RulebookError listing every
    problem of every file otherwise."""
    problems: list[Problem] = _size_problems(base, files)
    if problems:
        raise RulebookError(problems)
    docs: list[tuple[str, Any, Lines]] = []
    for path in files:
        rel = path.relative_to(base).as_posix()
        found = _read_rule_file(path, rel)
        if isinstance(found, list):
            problems.extend(found)
        else:
            docs.append((rel, *found))
    if problems:
        raise RulebookError(problems)
    return docs


Located = tuple[dict[str, Any], str, int]  # a raw declaration, its file and its line


@dataclass
class _Assembly:
    """The rulebook as the stages (:data:`STAGES`) build it, with every problem found so far.
    Each stage reads what earlier stages made and adds its own part and problems; a stage that
    ends a phase refuses the rulebook if any problem was found (:meth:`stop`)."""

    base: Path
    docs: list[tuple[str, Any, Lines]]
    digest: str
    files: list[str]
    trusted: bool = False  # read from the cache: it loaded without a problem when it was written
    cached_roots: Mapping[str, Sequence[str]] = field(default_factory=dict)  # from the entry: see _Entry
    problems: list[Problem] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    offence_list: OffenceList | None = None
    raw_decisions: dict[str, Located] = field(default_factory=dict)
    raw_rules: dict[str, Located] = field(default_factory=dict)
    classifications: dict[str, list[Classification]] = field(default_factory=dict)
    declared: dict[str, list[Declared]] = field(default_factory=dict)  # instead, when trusted: see _catalogue
    pipeline: Mapping[str, Any] = field(default_factory=dict)
    resolvers: dict[str, PathResolver] = field(default_factory=dict)
    compiled: dict[str, dict[str, Any]] = field(default_factory=dict)
    roots_of: dict[str, frozenset[str]] = field(default_factory=dict)  # the fact roots each rule reads
    defeaters: dict[str, frozenset[str]] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    order: dict[str, tuple[Decision, ...]] = field(default_factory=dict)
    book: Rulebook | None = None

    def problem(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def stop(self) -> None:
        if self.problems:
            raise RulebookError(self.problems)


# --- stage: declarations (each file's defaults merged into what it declares) ---


def _declare(build: _Assembly) -> None:
    """Collect every file's manifest, offence list, decisions, rules (with the file's defaults)
    and classifications (the catalogue), file by file."""
    for rel, data, lines in build.docs:
        _declare_manifest(build, rel, data, lines)
        defaults = data.get("defaults", {})
        _declare_decisions(build, rel, data, lines)
        _declare_rules(build, rel, data, lines, defaults)
        for i, c in enumerate(data.get("classifications", [])):
            _declare_classification(build, rel, line_of(lines, ["classifications", i]) or 0, c, defaults)


def _declare_manifest(build: _Assembly, rel: str, data: Mapping[str, Any], lines: Lines) -> None:
    if "offence_list" in data:
        if build.offence_list is not None:
            build.problem(rel, line_of(lines, ["offence_list"]), f"a second offence list (the first is in {build.offence_list.file})")
        build.offence_list = read_list(rel, data)
    if "rulebook" in data:
        if build.manifest is not None:
            build.problem(rel, line_of(lines, ["rulebook"]), "a second rulebook manifest")
        build.manifest = data["rulebook"]


def _declare_decisions(build: _Assembly, rel: str, data: Mapping[str, Any], lines: Lines) -> None:
    for i, d in enumerate(data.get("decisions", [])):
        line = line_of(lines, ["decisions", i]) or 0
        if d["name"] in build.raw_decisions:
            other = build.raw_decisions[d["name"]]
            build.problem(rel, line, f"decision {d['name']!r} is already declared at {other[1]}:{other[2]}")
        build.raw_decisions[d["name"]] = (d, rel, line)


def _declare_rules(build: _Assembly, rel: str, data: Mapping[str, Any], lines: Lines, defaults: Mapping[str, Any]) -> None:
    for i, r in enumerate(data.get("rules", [])):
        line = line_of(lines, ["rules", i]) or 0
        merged = {**{k: v for k, v in defaults.items() if k != "category"}, **r}
        for required in ("source", "in_force", "verification", "decision"):
            if required not in merged:
                build.problem(rel, line, f"rule {r['id']!r} has no {required!r} (set it on the rule or in the file's defaults)")
        if r["id"] in build.raw_rules:
            other = build.raw_rules[r["id"]]
            build.problem(rel, line, f"duplicate rule id {r['id']!r} (first at {other[1]}:{other[2]})")
        build.raw_rules[r["id"]] = (merged, rel, line)


def _declare_classification(build: _Assembly, rel: str, line: int, c: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    merged = {**defaults, **c}
    if build.trusted:  # it had none of the problems below when cached: made when its code is first read
        build.declared.setdefault(c["code"], []).append((rel, line, c, merged))
        return
    missing = [k for k in ("source", "in_force", "verification", "category") if k not in merged]
    if missing:
        build.problem(rel, line, f"classification {c['code']!r} has no {', '.join(missing)}")
        return
    entry = _classification(rel, line, c, merged)
    for earlier in build.classifications.get(entry.code, []):
        if _overlap(entry, earlier):
            build.problem(rel, line, f"classification {entry.code!r} overlaps in time with {earlier.file}:{earlier.line}")
    build.classifications.setdefault(entry.code, []).append(entry)


Declared = tuple[str, int, Mapping[str, Any], Mapping[str, Any]]  # file, line, entry, entry with its file's defaults


def _classification(rel: str, line: int, c: Mapping[str, Any], merged: Mapping[str, Any]) -> Classification:
    """A catalogue entry as declared (``merged``: with its file's defaults)."""
    return Classification(
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


def _catalogue(build: _Assembly) -> Catalogue:
    """The rulebook's classifications: the entries declared, or, read from the cache, each code's
    entries made when the code is first read (building all 200 or so was a tenth of a warm load)."""
    if not build.trusted:
        return Catalogue(list(build.classifications), build.classifications.__getitem__, build.offence_list, _sentence_months)
    declared = build.declared

    def make(code: str) -> list[Classification]:
        return [_classification(*d) for d in declared[code]]

    return Catalogue(list(declared), make, build.offence_list, _sentence_months)


# --- stage: catalogue (every row of the Home Office list has an entry to be attached to) ---


def _check_catalogue(build: _Assembly) -> None:
    """The rows are attached when the rulebook's Catalogue is first read (see _make_book); a
    row whose code has no entry in force on the list's date is a problem found here, so a
    rulebook read from the cache (which had none) skips this stage."""
    if build.offence_list is not None:
        for _, text in unattached(build.classifications, build.offence_list):
            build.problem(build.offence_list.file, None, text)


# --- stage: manifest and pipeline ---


_PIPELINE_SCOPES = (("classification", "act"), ("recording", "allegation"), ("count_key", "allegation"),
                    ("not_recorded_as", "allegation"), ("deadline", "incident"), ("timeliness", "incident"))
# The roles that name one decision each: those that say what a decision records (the lists below
# judge or flag it).
RECORDING_ROLES = tuple(role for role, _ in _PIPELINE_SCOPES)
_PIPELINE_LISTS = {"findings": ("act", "allegation", "incident"), "flags": ("allegation",),
                   "verdicts": ("recorded_crime",)}
_PIPELINE_OUTPUTS = (("classification", "code"), ("recording", "outcome"), ("count_key", "key"),
                     ("deadline", "due"), ("timeliness", "met"))


def _check_pipeline(build: _Assembly) -> None:
    """The manifest is there (else the rulebook is refused at once), and every decision its
    pipeline names exists, has the scope its role needs and the output the engine reads."""
    if build.manifest is None:
        build.problem("rulebook.yaml", None, "no rulebook manifest ('rulebook:' key) found")
        build.stop()
    assert build.manifest is not None
    build.pipeline = pipeline = build.manifest["pipeline"]
    scope_of = {name: d["scope"] for name, (d, _, _) in build.raw_decisions.items()}
    for role, scope in _PIPELINE_SCOPES:
        name = pipeline.get(role)
        if name is not None:
            _check_role(build, f"pipeline {role}", name, scope_of, (scope,))
    for role, wanted in _PIPELINE_LISTS.items():
        for name in pipeline.get(role, []):
            _check_role(build, f"pipeline {role}", name, scope_of, wanted)
    for name in pipeline.get("flags", []):
        if name in build.raw_decisions and "flag" not in build.raw_decisions[name][0]["outputs"]:
            _, rel, line = build.raw_decisions[name]
            build.problem(rel, line, f"decision {name!r} is one of the pipeline's flags and needs an output 'flag'")
    for role, output in _PIPELINE_OUTPUTS:
        name = pipeline.get(role)
        if name in build.raw_decisions and output not in build.raw_decisions[name][0]["outputs"]:
            _, rel, line = build.raw_decisions[name]
            build.problem(rel, line, f"decision {name!r} is the pipeline's {role} and needs an output {output!r}")
    build.resolvers = {s: PathResolver(list(SCOPE_ROOTS[s]) + [n for n, v in scope_of.items() if v in VISIBLE_SCOPES[s]])
                       for s in SCOPES}


def _check_role(build: _Assembly, role: str, name: str, scope_of: Mapping[str, str], wanted: tuple[str, ...]) -> None:
    if name not in build.raw_decisions:
        build.problem("rulebook.yaml", None, f"{role}: no decision named {name!r}")
    elif scope_of[name] not in wanted:
        build.problem("rulebook.yaml", None, f"{role}: decision {name!r} must have scope {' or '.join(wanted)}")


# --- stage: model (conditions, expressions and tables compiled; outputs checked) ---


def _compile_rules(build: _Assembly) -> None:
    for rid, (r, rel, line) in build.raw_rules.items():
        dname = r.get("decision")
        if dname not in build.raw_decisions:
            if "decision" in r:
                build.problem(rel, line, f"rule {rid!r}: no decision named {dname!r}")
            continue
        decl = build.raw_decisions[dname][0]
        paths = build.resolvers[decl["scope"]]
        try:
            cond, then, table = _compile_parts(build, rid, r, paths)
        except RuleCompileError as exc:
            build.problem(rel, line, f"rule {rid!r}: {exc}")
            continue
        if not build.trusted:  # an entry is written only for a rulebook with none of these problems
            _check_outputs(build, rid, r, rel, line, decl["outputs"])
        roots = build.cached_roots.get(rid) if build.trusted else None
        if roots is None:
            roots = [path.split(".", 1)[0] for path in fact_paths([r.get("when"), r.get("then"), r.get("table")])]
        build.roots_of[rid] = frozenset(roots)
        if dname in build.roots_of[rid]:
            build.problem(rel, line, f"rule {rid!r} reads the output of its own decision {dname!r} (a cycle)")
        guard, presence = _guards(r.get("when"), paths)
        build.compiled[rid] = {"cond": cond, "then": then, "table": table, "guard": guard, "presence": presence}
    for name, (d, rel, line) in build.raw_decisions.items():
        for key in d.get("determined_by", []):
            if key not in d["outputs"]:
                build.problem(rel, line, f"decision {name!r}: determined_by names {key!r}, which is not an output")


def _compile_parts(build: _Assembly, rid: str, r: Mapping[str, Any],
                   paths: PathResolver) -> tuple[Cond, dict[str, Expr], Table | None]:
    """A rule's condition, conclusion and table: compiled now, or, for a rulebook read from the
    cache (all of which compiled when the entry was written), the condition and table when
    first used. RuleCompileError for the first that does not compile."""
    if "when" not in r:
        cond: Cond = always
    elif build.trusted:
        cond = _CompileOnFirstUse(r["when"], paths)
    else:
        cond = compile_condition(r["when"], paths)
    then = {k: compile_expr(v, paths) for k, v in r.get("then", {}).items()}
    table = None
    if "table" in r:
        args = (r["table"], paths, rid, as_sources(r.get("source")), as_sources)
        # The stand-in reads as the table it compiles to (see _TableOnFirstUse).
        table = cast(Table, _TableOnFirstUse(*args)) if build.trusted else compile_table(*args)
    return cond, then, table


class _TableOnFirstUse:
    """A rule's table, compiled when it is first used (an attribute of it is read); then the rule
    holds the compiled table itself. As :class:`_CompileOnFirstUse`, only for a rulebook read
    from the cache: compiling the 80 or so tables was the larger part of the "model" stage, and
    one incident's check uses a few."""

    __slots__ = ("args", "rule", "compiled")

    def __init__(self, *args: Any):
        self.args = args
        self.rule: Rule | None = None  # set once the rule is built
        self.compiled: Table | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle probe for hooks: the stand-in has none
            raise AttributeError(name)
        compiled = self.compiled
        if compiled is None:
            with _COMPILE_LOCK:  # see _CompileOnFirstUse
                compiled = self.compiled
                if compiled is None:
                    compiled = self.compiled = compile_table(*self.args)
            if self.rule is not None:
                # The rule is immutable to its users; this only fills in what it was built without.
                object.__setattr__(self.rule, "table", compiled)
        return getattr(compiled, name)


class _CompileOnFirstUse:
    """A rule's condition, compiled when it is first evaluated; then the rule holds the compiled
    condition itself. Only for a rulebook read from the cache, whose conditions all compiled
    without a problem when the entry was written: most conditions are never evaluated in a
    short run (``hocr check`` of one incident evaluates a few dozen of some 300), and compiling
    them all is most of the "model" stage."""

    __slots__ = ("node", "paths", "rule", "compiled")

    def __init__(self, node: Mapping[str, Any], paths: PathResolver):
        self.node = node
        self.paths = paths
        self.rule: Rule | None = None  # set once the rule is built
        self.compiled: Cond | None = None

    def __call__(self, scope: Any, rec: Any) -> Any:
        compiled = self.compiled
        if compiled is None:
            # One compilation at a time: conditions share predicates through their resolver's
            # table, each numbered by its place in it (the memo key), so two threads compiling at
            # once could give two predicates one number, and one's truth would be taken for the other's.
            with _COMPILE_LOCK:
                compiled = self.compiled
                if compiled is None:
                    compiled = self.compiled = compile_condition(self.node, self.paths)
                    if self.rule is not None:
                        # The rule is immutable to its users; this only fills in what it was built without.
                        object.__setattr__(self.rule, "cond", compiled)
        return compiled(scope, rec)


_COMPILE_LOCK = threading.RLock()  # conditions and tables compiled on first use (a table's cells are conditions)


def _check_outputs(build: _Assembly, rid: str, r: Mapping[str, Any], rel: str, line: int,
                   outputs: Mapping[str, Mapping[str, Any]]) -> None:
    """Every output a rule (or each of its table's rows) sets is one its decision has, with a
    value its enum allows."""
    dname = r["decision"]
    thens = [r.get("then", {})] if "then" in r else [row["then"] for row in r["table"]["rows"]]
    for t in thens:
        for key, value in t.items():
            if key not in outputs:
                build.problem(rel, line, f"rule {rid!r}: decision {dname!r} has no output {key!r} (outputs: {', '.join(outputs)})")
            elif (
                "enum" in outputs[key]
                and not isinstance(value, dict)
                and value not in outputs[key]["enum"]
                and not (value is None and outputs[key].get("nullable"))
            ):
                build.problem(rel, line, f"rule {rid!r}: output {key}={value!r} is not one of {outputs[key]['enum']}")
    if "table" in r:
        pr = r["table"].get("priority")
        if pr and pr["output"] not in outputs:
            build.problem(rel, line, f"rule {rid!r}: priority output {pr['output']!r} is not an output of {dname!r}")


# --- stage: overrides (same decision, no cycles; defeaters are the transitive overriders) ---


def _resolve_overrides(build: _Assembly) -> None:
    raw_rules = build.raw_rules
    overriders: dict[str, set[str]] = {rid: set() for rid in raw_rules}
    for rid, (r, rel, line) in raw_rules.items():
        for target in r.get("overrides", []):
            if target == rid:
                build.problem(rel, line, f"rule {rid!r} overrides itself")
            elif target not in raw_rules:
                build.problem(rel, line, f"rule {rid!r} overrides {target!r}, which does not exist")
            elif raw_rules[target][0].get("decision") != r.get("decision"):
                build.problem(rel, line, f"rule {rid!r} overrides {target!r}, which decides {raw_rules[target][0].get('decision')!r}, not {r.get('decision')!r}")
            else:
                overriders[target].add(rid)
    for rid in raw_rules:
        seen: set[str] = set()
        stack = list(overriders[rid])
        while stack:
            o = stack.pop()
            if o not in seen:
                seen.add(o)
                stack.extend(overriders[o])
        if rid in seen:
            _, rel, line = raw_rules[rid]
            build.problem(rel, line, f"rule {rid!r} is part of an override cycle")
        build.defeaters[rid] = frozenset(seen - {rid})
    build.stop()


# --- stage: rules, decisions and their order ---


def _build_rules(build: _Assembly) -> None:
    for rid, (r, rel, line) in build.raw_rules.items():
        c = build.compiled[rid]
        inf = r["in_force"]
        sources = as_sources(r["source"])
        build.rules[rid] = Rule(
            id=rid, title=r["title"], summary=r["summary"], sources=sources,
            in_force_from=_date(inf["from"]), in_force_to=_date(inf["to"]) if "to" in inf else None,
            verification=r["verification"], decision=r["decision"],
            cond=c["cond"], then=c["then"], raw_then=r.get("then", {}), table=c["table"],
            overrides=tuple(r.get("overrides", ())), defeaters=build.defeaters[rid],
            file=rel, line=line, notes=r.get("notes", ""), citation=citation(sources), raw=r,
            guard=c["guard"], presence=c["presence"],
        )
        for part in (c["cond"], c["table"]):
            if isinstance(part, (_CompileOnFirstUse, _TableOnFirstUse)):
                part.rule = build.rules[rid]


def _build_decisions(build: _Assembly) -> None:
    """Each decision with its rules (in order of id) and the decisions it depends on."""
    by_decision: dict[str, list[Rule]] = {}
    for r in build.rules.values():
        by_decision.setdefault(r.decision, []).append(r)
    principal_class = build.pipeline["classification"]
    for name, (d, rel, line) in build.raw_decisions.items():
        mine = tuple(sorted(by_decision.get(name, ()), key=lambda r: r.id))
        deps: set[str] = set()
        for r in mine:
            for root in build.roots_of[r.id]:
                if root in build.raw_decisions and root != name:
                    deps.add(root)
                if root == "classification" and name != principal_class:
                    deps.add(principal_class)
        build.decisions[name] = Decision(
            name=name, scope=d["scope"], title=d["title"], summary=d.get("summary", ""), outputs=d["outputs"],
            if_no_rule_applies=d["if_no_rule_applies"],
            determined_by=tuple(d.get("determined_by", d["outputs"].keys())),
            combine=d.get("combine", "one"), rules=mine, depends=frozenset(deps), file=rel, line=line,
        )


def _order_decisions(build: _Assembly) -> None:
    """Within each scope, every decision after those it depends on; a cycle is refused."""
    decisions = build.decisions
    for scope in SCOPES:
        done: list[str] = []
        pending = sorted(n for n, d in decisions.items() if d.scope == scope)
        while pending:
            ready = [n for n in pending if all(dep in done or decisions[dep].scope != scope for dep in decisions[n].depends)]
            if not ready:
                first = decisions[pending[0]]
                build.problem(first.file, first.line, f"decisions depend on each other in a cycle: {', '.join(pending)}")
                break
            for n in ready:
                done.append(n)
                pending.remove(n)
        build.order[scope] = tuple(decisions[n] for n in done)
    build.stop()


def _make_book(build: _Assembly) -> None:
    assert build.manifest is not None
    build.book = Rulebook(
        name=build.manifest["name"],
        edition=build.manifest["edition"],
        description=build.manifest.get("description", ""),
        hash=build.digest,
        root=build.base,
        pipeline=build.pipeline,
        principal=build.pipeline["principal"],
        decisions=build.decisions,
        order=build.order,
        rules=build.rules,
        classifications=_catalogue(build),
        files=tuple(build.files),
        offence_list=build.offence_list,
    )


# --- stage: presumptions (compiled, then shown unable to stop a crime being recorded) ---


def _compile_presumptions(build: _Assembly) -> None:
    """Every file's ``presumptions`` compiled, with the file's defaults."""
    assert build.book is not None
    compiled: dict[str, Presumption] = {}
    for rel, data, lines in build.docs:
        defaults = data.get("defaults", {})
        for i, raw in enumerate(data.get("presumptions", [])):
            line = line_of(lines, ["presumptions", i]) or 0
            merged = {**{k: v for k, v in defaults.items() if k in ("source", "in_force", "verification")}, **raw}
            missing = [k for k in ("source", "in_force", "verification") if k not in merged]
            if missing:
                build.problem(rel, line, f"presumption {raw['id']!r} has no {', '.join(missing)} (set it on the presumption or in the file's defaults)")
                continue
            if raw["id"] in compiled or raw["id"] in build.rules:
                build.problem(rel, line, f"duplicate id {raw['id']!r}: presumption ids share the rules' name space")
                continue
            try:
                compiled[raw["id"]] = compile_presumption(merged, rel, line, answers_for, lambda src: citation(as_sources(src)), _date)
            except RuleCompileError as exc:
                build.problem(rel, line, str(exc))
    build.stop()
    build.book = dataclasses.replace(build.book, presumptions=tuple(compiled[k] for k in sorted(compiled)))


def _check_presumptions_safe(build: _Assembly) -> None:
    """Refuse the rulebook if a presumption could stop a crime from being recorded. The longest
    stage (about 150 ms): a rulebook read from the cache passed it when it was cached."""
    assert build.book is not None
    unsafe = unsafe_presumptions(build.book)
    if unsafe:
        raise RulebookError([Problem(u.presumption.file, u.presumption.line, u.message, UNSAFE_CODE) for u in unsafe])


# --- stage: audit method (the report groups and finding kinds hocr audit reads) ---


def _read_audit_method(build: _Assembly) -> None:
    """The one ``audit`` section of the rulebook, if any, as an AuditMethod. Its labels and kinds
    must be unique; what they name (categories, tags, rules) is checked by ``hocr rules lint``."""
    assert build.book is not None
    found = [(rel, data["audit"], lines) for rel, data, lines in build.docs if "audit" in data]
    for rel, _, lines in found[1:]:
        build.problem(rel, line_of(lines, ["audit"]), f"a second audit section (the first is in {found[0][0]})")
    if not found:
        return
    rel, raw, lines = found[0]
    groups = tuple(_report_group(g) for g in raw["report_groups"])
    kinds = tuple(_finding_kind(k) for k in raw["finding_kinds"])
    for what, names in (("report group label", [g.label.casefold() for g in groups]),
                        ("finding kind", [k.kind for k in kinds])):
        for name in sorted({n for n in names if names.count(n) > 1}):
            build.problem(rel, line_of(lines, ["audit"]), f"{what} {name!r} is used twice")
    _refuse_second_headline(build, rel, lines, groups)
    build.stop()
    method = AuditMethod(as_of=_date(raw["as_of"]), groups=groups, kinds=kinds, file=rel)
    build.book = dataclasses.replace(build.book, audit=method)


def _refuse_second_headline(build: _Assembly, rel: str, lines: Lines, groups: Sequence[ReportGroup]) -> None:
    """Two headline groups would leave --fail-under without one group to judge. Each further one
    is reported at its own line, where ``hocr rules lint`` reports it too (HOCR-L007)."""
    marked = [i for i, g in enumerate(groups) if g.headline]
    for i in marked[1:]:
        build.problem(rel, line_of(lines, ["audit", "report_groups", i]),
                      f"report group {groups[i].label!r} is a second headline (the first is {groups[marked[0]].label!r})")


def _report_group(g: Mapping[str, Any]) -> ReportGroup:
    return ReportGroup(label=g["label"], match=g["match"], values=tuple(g.get("values", ())),
                       headline=g.get("headline", False), **_cited(g))


def _finding_kind(k: Mapping[str, Any]) -> FindingKind:
    return FindingKind(kind=k["kind"], label=k["label"], definition=k["definition"], findings=tuple(k["findings"]),
                       **_cited(k))


def _cited(raw: Mapping[str, Any]) -> dict[str, Any]:
    sources = as_sources(raw["source"])
    return {"sources": sources, "verification": raw["verification"], "citation": citation(sources)}


# --- stage: documents (the cited documents' editions hocr rules diff names folders by) ---


def _read_documents(build: _Assembly) -> None:
    """Every ``documents`` section, read together in the order of files. No rule reads them;
    ``hocr rules lint`` reads the files itself (it also lints a rulebook that does not load)."""
    assert build.book is not None
    raw = [d for _, data, _ in build.docs for d in data.get("documents", ())]
    build.book = dataclasses.replace(build.book, documents=cited_documents(raw))


# The stages of assembly, in order: (name, stage, whether it runs on a cache hit). A stage that
# only looks for problems can be skipped on a hit: the entry was written after it passed.
STAGES: tuple[tuple[str, Callable[[_Assembly], None], bool], ...] = (
    ("declarations", _declare, True),
    ("catalogue", _check_catalogue, False),
    ("pipeline", _check_pipeline, True),
    ("model", _compile_rules, True),
    ("overrides", _resolve_overrides, True),
    ("rules", _build_rules, True),
    ("decisions", _build_decisions, True),
    ("order", _order_decisions, True),
    ("book", _make_book, True),
    ("presumptions", _compile_presumptions, True),
    ("audit method", _read_audit_method, True),
    ("documents", _read_documents, True),
    ("presumption safety", _check_presumptions_safe, False),
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
        if (guard is None or _two_way(guard[2])) and ("equals" in c or isinstance(c.get("in"), list)):
            keys = [value_key(v) for v in ([c["equals"]] if "equals" in c else c["in"])]
            if all(k is not None for k in keys) and (guard is None or not _two_way(frozenset(keys))):
                guard = path, paths.compile(path), frozenset(keys)
    return guard, presence


def _two_way(keys: frozenset[Any]) -> bool:
    """Whether a guard's keys are truth values: a fact with two values leaves half the rules
    of a decision, where one naming a classification, a category or a role leaves a few. A
    condition's first conjunct of that sharper kind is preferred as its guard."""
    return all(k[0] == "b" for k in keys)


def _overlap(a: Classification, b: Classification) -> bool:
    a_end = a.in_force_to or dt.date.max
    b_end = b.in_force_to or dt.date.max
    return a.in_force_from <= b_end and b.in_force_from <= a_end
