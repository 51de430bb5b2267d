"""``hocr audit``: a force's crime-recording accuracy, computed the way inspectors compute it.

Each line of a JSONL file is one incident together with what the force did with it
(``force_record``: the crimes it recorded, each with classification, recording time,
cancellation and outcome, and any other records it made). Every line is evaluated by the
rulebook (:func:`hocr.engine.evaluate`) and the rulebook's decision is compared with the force's
record. The comparison gives, for each crime that should have been recorded, whether a record
exists, whether its classification is right and whether it was recorded in time; for each
crime the force recorded, whether it should have been, and the verdicts of the rules on its
cancellation and outcome. Each difference is a :class:`Discrepancy` that cites the rules.

The statistics follow HMICFRS's crime data integrity arithmetic (see docs/audit.md):

* recording accuracy ``p = x / n`` (crimes recorded / crimes that should have been), with the
  normal-approximation (Wald) 95% interval ``p ± 1.96·sqrt(p(1-p)/n)`` that inspectors publish,
  and the Wilson score interval for small groups;
* the estimated number of crimes not recorded a year, ``U = R(1-p)/p``, from the force's
  annual recorded crime ``R``;
* timeliness, classification accuracy, cancellation and outcome accuracy.

Memory does not grow with the file: lines are streamed in batches, only counters (and a bounded
number of examples and errors) are kept, and the incident ids for the duplicate check go to a
bounded, sealed ledger that spills sorted runs to disk (:mod:`hocr.idledger`). With ``workers >
1`` batches are evaluated in worker processes, each with the rulebook compiled once; a worker
sends back the batch's partial :class:`Summary` (counts, never rates) and its outputs already
rendered, and the parent merges and writes them in input order, so the results are the same.
Summaries of parts of a file merge exactly into the summary of the whole (:meth:`Summary.merge`).
The comparison holds no offence knowledge: what it compares comes from the decision, and a
record kept instead of a crime (an N100 for a rape) from a finding of the rules, whose kind of
discrepancy (label and definition) the rulebook's ``audit`` section gives; the groups reported
on (all crime excluding fraud, violence against the person...) are that section's too, and so is
the headline group that --fail-under judges (rules/audit/report-groups.yaml: :func:`report_groups`,
:func:`headline_label`, :func:`discrepancy_kinds`). No line, however hostile, ends the audit:
each is accounted for (LINE_KINDS, ENDINGS).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import multiprocessing
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import IO, Any, NamedTuple

from .engine import EvaluationError, evaluate
from .idledger import Duplicate, IdLedger, Keys, process_keys, use_keys
from .incident import LONDON, InvalidIncident, check_incident, looks_like_id, parse_json, parse_time
from .loader import Classification, ReportGroup, Rulebook, load_rulebook

AUDIT_FORMAT = "hocr.audit.v1"
EXIT_BELOW = 5  # `hocr audit --fail-under`: the audit ran and accuracy is below the threshold
Z95 = 1.96  # the two-sided 95% normal quantile, as inspectors round it

# The kinds of discrepancy the comparison itself finds, in the order they are reported: (label,
# definition). The rulebook's finding kinds (a record kept instead of a crime) are each a way of
# not recording a crime, so they are reported right after "not_recorded" (discrepancy_kinds).
OWN_KINDS: dict[str, tuple[str, str]] = {
    "not_recorded": (
        "crime not recorded",
        "the rules record a crime and the force recorded none for it",
    ),
    "recorded_not_crime": (
        "recorded, should not have been",
        "the force recorded a crime for an allegation the rules do not record as a crime",
    ),
    "wrong_classification": (
        "wrong classification",
        "the force recorded the crime under a different classification from the rules'",
    ),
    "wrong_count": (
        "wrong number of crimes",
        "the force recorded more crime records than the rules count for what they cover",
    ),
    "late": (
        "recorded late",
        "the crime was recorded after the time limit the deadline rules give",
    ),
    "flag_missing": (
        "crime flag missing",
        "the rules give the crime a Home Office crime flag (domestic abuse, hate crime strand, online...) that "
        "the force's record does not carry",
    ),
    "flag_not_derived": (
        "crime flag not derived",
        "the force's record carries a crime flag that the rules do not give on the facts stated",
    ),
    "invalid_cancellation": (
        "invalid cancellation",
        "the force cancelled (or transferred) the crime and the rules find the cancellation invalid",
    ),
    "outcome_conditions_not_met": (
        "outcome conditions not met",
        "the force assigned an outcome whose conditions the rules find are not met",
    ),
}

# How each input line ended up: every line read is exactly one of these. (short label, meaning)
LINE_KINDS: dict[str, tuple[str, str]] = {
    "evaluated": ("evaluated", "evaluated and compared with the force's record"),
    "blank": ("blank", "blank: nothing to audit"),
    "invalid_json": ("invalid JSON", "not valid JSON, or not UTF-8 text"),
    "invalid_incident": ("invalid incident", "not a valid incident for the audit: schema, times, references, "
                         "classification codes, or no force record"),
    "rulebook_error": ("rulebook error", "a rule failed on it, or two rules conflict on it"),
    "internal_error": ("internal error", "hocr itself failed on it (a bug: please report it); the audit went on"),
}
# How each line ended, in four words (and blank): every line read is exactly one of these.
ENDINGS: dict[str, str] = {
    "decided": "evaluated: every allegation decided",
    "undetermined": "evaluated: some allegation needs more facts",
    "invalid": "not a valid incident for the audit (invalid JSON, too long, not UTF-8, schema, limits, ...)",
    "error": "a rulebook error or an internal error",
    "blank": "blank",
}
MAX_LINE_BYTES = 8 * 1024 * 1024  # one line (one incident); a longer line is reported, not read


class AuditError(RuntimeError):
    """The audit cannot go on (the file cannot be read, or the engine gives no force record)."""


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------

GROUP_FIELDS = ("all", "category", "not_category", "ons", "tag", "code")


@dataclass(frozen=True)
class GroupSpec:
    """A set of classifications to report on: every crime whose classification matches."""

    label: str
    field: str  # one of GROUP_FIELDS
    values: frozenset[str] = frozenset()
    headline: bool = False  # the rulebook's headline group (ReportGroup.headline); a user's group never is

    def definition(self) -> str:
        vals = ", ".join(sorted(self.values))
        return {
            "all": "every crime",
            "category": f"HOCR category {vals}",
            "not_category": f"every HOCR category except {vals}",
            "ons": f"ONS offence group {vals}",
            "tag": f"classifications tagged {vals}",
            "code": f"classifications {vals}",
        }[self.field]

    def contains(self, code: str | None, entry: Classification | None) -> bool:
        if self.field == "all":
            return True
        if self.field == "code":
            return code is not None and code.casefold() in self.values
        if entry is None:
            return False
        if self.field == "category":
            return entry.category.casefold() in self.values
        if self.field == "not_category":
            return entry.category.casefold() not in self.values
        if self.field == "ons":
            return entry.group.casefold() in self.values
        return any(t.casefold() in self.values for t in entry.tags)


def _spec(label: str, fieldname: str, *values: str) -> GroupSpec:
    return GroupSpec(label, fieldname, frozenset(v.casefold() for v in values))


# Why --fail-under or a bare --annual-recorded N cannot be used with a rulebook: the group they
# judge is the rulebook's headline group (headline_label), and it marks none.
NO_HEADLINE = "no report group of the rulebook is the headline (headline: true in its audit section)"


def report_groups(book: Rulebook) -> tuple[GroupSpec, ...]:
    """The groups the rulebook's audit section reports on (HMICFRS crime data integrity: all
    crime excluding fraud, violence against the person, sexual offences, rape), in its order."""
    return tuple(_group_spec(g) for g in book.audit.groups)


def _group_spec(g: ReportGroup) -> GroupSpec:
    return replace(_spec(g.label, g.match, *g.values), headline=g.headline)


def headline_label(book: Rulebook) -> str | None:
    """The label of the rulebook's headline group (shipped: all crime excluding fraud, the
    inspectors' headline figure), which --fail-under, a bare --annual-recorded N and the HTML
    report's cards judge; None when its audit section marks none."""
    head = book.audit.headline
    return head.label if head is not None else None


def discrepancy_kinds(book: Rulebook) -> dict[str, tuple[str, str]]:
    """Every kind of discrepancy, in report order, with (label, definition): the comparison's own,
    and after "not_recorded" the rulebook's finding kinds (a record kept instead of a crime)."""
    found = _KINDS_OF.get(id(book))
    if found is not None and found[0] is book:
        return found[1]
    first, *rest = OWN_KINDS.items()
    kinds = dict([first, *((k.kind, (k.label, k.definition)) for k in book.audit.kinds), *rest])
    if len(_KINDS_OF) >= 16:
        _KINDS_OF.clear()
    _KINDS_OF[id(book)] = (book, kinds)  # the book is kept, so its id is never reused under it
    return kinds


_KINDS_OF: dict[int, tuple[Rulebook, dict[str, tuple[str, str]]]] = {}


def parse_group(text: str) -> GroupSpec:
    """A user group: ``[LABEL=]FIELD:VALUE[,VALUE...]`` with FIELD one of category, ons, tag, code.

    ``category:Robbery``; ``ons:violence with injury``; ``tag:rape``; ``code:8N,105A``;
    ``Assaults=code:8N,105A``."""
    label, _, spec = text.rpartition("=") if "=" in text.split(":", 1)[0] else ("", "", text)
    fieldname, sep, rest = spec.partition(":")
    fieldname = fieldname.strip().casefold()
    values = [v.strip() for v in rest.split(",") if v.strip()]
    if not sep or fieldname not in ("category", "ons", "tag", "code") or not values:
        raise ValueError(
            f"group {text!r}: expected [LABEL=]FIELD:VALUE[,VALUE...] with FIELD one of "
            "category, ons, tag, code (for example category:Robbery or Assaults=code:8N,105A)"
        )
    return _spec(label.strip() or spec.strip(), fieldname, *values)


def groups_with(extra: Sequence[GroupSpec], book: Rulebook | None = None) -> tuple[GroupSpec, ...]:
    """The rulebook's report groups (default: the shipped rulebook's), then ``extra``."""
    builtin = report_groups(book if book is not None else load_rulebook())
    labels = {g.label for g in builtin}
    out = list(builtin)
    for g in extra:
        if g.label in labels:
            raise ValueError(f"group label {g.label!r} is used twice")
        labels.add(g.label)
        out.append(g)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def wald_interval(x: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """The normal-approximation (Wald) interval for x successes in n: (half-width, low, high),
    low and high clipped to [0, 1]. Inspectors publish p ± the half-width."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = x / n
    half = z * math.sqrt(p * (1 - p) / n)
    return half, max(0.0, p - half), min(1.0, p + half)


def wilson_interval(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) for x successes in n."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = x / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def unrecorded_per_year(annual_recorded: float, p: float) -> float | None:
    """Crimes not recorded a year, U = R(1-p)/p: the force recorded R, a share p of the R/p it
    should have. None when p is 0 (no estimate is possible)."""
    if p <= 0:
        return None
    return annual_recorded * (1 - p) / p


def published_as(u: float) -> str:
    """As inspectors publish it: 'over' the estimate rounded down to the nearest hundred."""
    if u < 100:
        return f"about {round(u):,}"
    return f"over {int(u // 100) * 100:,}"


def rate(x: int, n: int, wilson_below: int) -> dict[str, Any] | None:
    """A proportion with both intervals; ``interval`` says which one to show (Wilson when n is
    below ``wilson_below``)."""
    if n <= 0:
        return None
    p = x / n
    half, lo, hi = wald_interval(x, n)
    wlo, whi = wilson_interval(x, n)
    return {
        "x": x,
        "n": n,
        "p": p,
        "wald": {"half_width": half, "low": lo, "high": hi},
        "wilson": {"low": wlo, "high": whi},
        "interval": "wilson" if n < wilson_below else "wald",
    }


def share(x: int, n: int) -> dict[str, Any]:
    return {"x": x, "n": n, "p": x / n if n else None}


# --------------------------------------------------------------------------------------------
# Comparison of the rulebook's decision with the force's record
# --------------------------------------------------------------------------------------------


@dataclass
class Discrepancy:
    """One difference between the rules' decision and what the force did."""

    kind: str
    label: str  # the kind's label (discrepancy_kinds)
    line: int
    incident: str
    crime: str | None  # the decided crime (C1...), when there is one
    ref: str | None  # the force's crime reference, when there is one
    acts: tuple[str, ...]
    victim: str | None
    classification: str | None  # the classification the rules give (or the force's, if none)
    expected: str
    found: str
    explanation: str
    rules: tuple[Mapping[str, Any], ...]
    groups: tuple[int, ...] = ()  # indexes of the groups it counts in (by its classification)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "line": self.line,
            "incident": self.incident,
            "crime": self.crime,
            "ref": self.ref,
            "acts": list(self.acts),
            "victim": self.victim,
            "classification": self.classification,
            "expected": self.expected,
            "found": self.found,
            "explanation": self.explanation,
            "rules": [dict(r) for r in self.rules],
        }


CSV_COLUMNS = ("line", "incident", "kind", "label", "crime", "ref", "acts", "victim",
               "classification", "expected", "found", "explanation", "rule_ids", "citations")


def csv_row(d: Discrepancy) -> list[str]:
    return [
        str(d.line), d.incident, d.kind, d.label, d.crime or "", d.ref or "",
        " ".join(d.acts), d.victim or "", d.classification or "", d.expected, d.found,
        d.explanation,
        " ".join(str(r["id"]) for r in d.rules),
        " | ".join(f"{r['id']} [{r.get('verification', '?')}]: {r.get('citation', '')}" for r in d.rules),
    ]


@dataclass
class CrimeTally:
    """One crime the rules record (a crime that should have been recorded)."""

    groups: tuple[int, ...]  # indexes of the groups it belongs to
    recorded: bool
    classified_ok: bool | None = None  # None: not recorded
    timely: bool | None = None  # None: not recorded, or no recording time / deadline


@dataclass
class Judgement:
    """A rule's verdict on a cancellation or an outcome of one recorded crime."""

    groups: tuple[int, ...]
    valid: bool | None  # None: undetermined / conflict / no verdict given


@dataclass
class LineResult:
    """What one input line gave: an error, or the comparison for one incident."""

    line: int
    kind: str  # a key of LINE_KINDS
    incident: str | None = None
    problems: tuple[str, ...] = ()
    crimes: list[CrimeTally] = field(default_factory=list)
    over_recorded: list[tuple[int, ...]] = field(default_factory=list)
    cancellations: list[Judgement] = field(default_factory=list)
    outcomes: list[Judgement] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    undetermined: int = 0  # allegations and crime records the rules could not judge
    status: str | None = None  # the decision's status, for an evaluated line

    @property
    def ending(self) -> str:
        """How the line ended: a key of ENDINGS."""
        if self.kind == "evaluated":
            return "undetermined" if self.status == "undetermined" else "decided"
        if self.kind == "blank":
            return "blank"
        return "invalid" if self.kind in ("invalid_json", "invalid_incident") else "error"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "result": self.kind, "ended": self.ending, "incident": self.incident}
        if self.kind != "evaluated":
            out["problems"] = list(self.problems)
            return out
        out["should_be_recorded"] = len(self.crimes)
        out["recorded"] = sum(1 for c in self.crimes if c.recorded)
        out["undetermined"] = self.undetermined
        out["correct"] = not self.discrepancies
        out["discrepancies"] = [{"kind": d.kind, "crime": d.crime, "ref": d.ref, "explanation": d.explanation}
                                for d in self.discrepancies]
        return out


def _crime_text(c: Mapping[str, Any]) -> str:
    cls = c.get("classification") or {}
    who = f"victim {c['victim']}" if c.get("victim") else str(c.get("victim_kind", "no identified victim"))
    return f"{cls.get('code')} {cls.get('name')} ({who}; acts {', '.join(c.get('acts', []))})"


def _rule_ids(rules: Iterable[Mapping[str, Any]]) -> str:
    return ", ".join(str(r["id"]) for r in rules) or "no rule cited"


def _dedupe(rules: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    seen: set[str] = set()
    out = []
    for r in rules:
        if r["id"] not in seen:
            seen.add(r["id"])
            out.append(r)
    return tuple(out)


def _time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    value, _ = parse_time(text, "datetime")
    return value if isinstance(value, dt.datetime) else None


def _hours(a: dt.datetime, b: dt.datetime) -> str:
    return f"{(b - a).total_seconds() / 3600:.1f}"


def _align(recorded: Sequence[Mapping[str, Any]], judged: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The decision's entry for each crime record, in the order of the incident's records.

    The decision may list the records in another order (by recording time); they are paired by
    reference and classification, records with the same pair in order of recording time."""
    if len(judged) != len(recorded):
        raise AuditError(f"the decision judges {len(judged)} force crime records, the incident has {len(recorded)}")
    keys = [(str(r["ref"]), str(r["classification"])) for r in recorded]
    if len(set(keys)) == len(keys):  # each pair once (the usual case): no order to settle
        by_key = {(str(m["ref"]), str(m["classification"])): m for m in judged}
        for key in keys:
            if key not in by_key:
                raise AuditError(f"the decision does not judge crime record {key[0]} ({key[1]})")
        return [by_key[k] for k in keys]
    queues: dict[tuple[str, str], deque[Mapping[str, Any]]] = {}
    for m in judged:
        queues.setdefault((str(m["ref"]), str(m["classification"])), deque()).append(m)

    def when(i: int) -> float:
        t = _time(recorded[i].get("recorded_at"))
        return t.timestamp() if t is not None else math.inf

    out: dict[int, Mapping[str, Any]] = {}
    for i in sorted(range(len(recorded)), key=when):
        key = (str(recorded[i]["ref"]), str(recorded[i]["classification"]))
        queue = queues.get(key)
        if not queue:
            raise AuditError(f"the decision does not judge crime record {key[0]} ({key[1]})")
        out[i] = queue.popleft()
    return [out[i] for i in range(len(recorded))]


def _verdict(judged: Mapping[str, Any], part: str) -> tuple[bool | None, list[Mapping[str, Any]]]:
    """The rules' verdict on a record's cancellation or outcome: (valid, the invalid verdicts).
    None when no rule judged it, or a rule could not (facts missing)."""
    verdicts = [v for v in judged.get("verdicts", []) if v.get("decision") == part]
    values = [v for v in verdicts if v.get("state") == "value"]
    if not values or len(values) != len(verdicts):
        return None, []
    invalid = [v for v in values if v.get("verdict") == "invalid"]
    if invalid:
        return False, invalid
    if any(v.get("verdict") == "valid" for v in values):
        return True, []
    return None, []


def _flag_text(key: tuple[Any, Any]) -> str:
    flag, strand = key
    return f"{flag} ({strand})" if strand else str(flag)


def _flag_rules(book: Rulebook, day: dt.date, key: tuple[Any, Any]) -> tuple[Mapping[str, Any], ...]:
    """The rules in force that could give this flag: what a flag the rules do not derive is
    measured against."""
    refs = []
    for name in book.pipeline.get("flags", []):
        for rule in book.decisions[name].rules_in_force(day):
            then = rule.raw_then
            if then.get("flag") == key[0] and then.get("strand") == key[1]:
                refs.append(rule.ref())
    return tuple(refs)


def _flag_discrepancies(book: Rulebook, day: dt.date, rec: Mapping[str, Any],
                        crime: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A record's crime flags against the flags the rules derive for its crime. Only a record
    that carries ``flags`` (even ``[]``) is compared: an export without them says nothing."""
    given = rec.get("flags")
    if not isinstance(given, list) or "flags" not in crime:
        return []
    derived = {(f["flag"], f.get("strand")): f for f in crime["flags"]}
    recorded = {(f.get("flag"), f.get("strand")) for f in given if isinstance(f, Mapping)}
    ref = str(rec["ref"])
    out: list[dict[str, Any]] = []
    for key in sorted(set(derived) - recorded, key=str):
        rules = tuple(derived[key]["rules"])
        out.append({"kind": "flag_missing", "expected": f"flag {_flag_text(key)}",
                    "found": "flags: " + (", ".join(_flag_text(k) for k in sorted(recorded, key=str)) or "none"),
                    "explanation": f"Crime {ref}: the rules flag it {_flag_text(key)} and the force's record does "
                                   f"not; rules: {_rule_ids(rules)}.",
                    "rules": rules})
    for key in sorted(recorded - set(derived), key=str):
        rules = _flag_rules(book, day, key)
        out.append({"kind": "flag_not_derived", "expected": f"no flag {_flag_text(key)} on the facts stated",
                    "found": f"flag {_flag_text(key)}",
                    "explanation": f"Crime {ref}: the force flagged it {_flag_text(key)}; on the facts stated no "
                                   f"rule gives that flag; rules that would: {_rule_ids(rules)}.",
                    "rules": rules})
    return out


def _current(rec: Mapping[str, Any]) -> str:
    """The classification a force record has now: reclassified, or as first recorded."""
    return str(rec.get("reclassified_to") or rec["classification"])


class _Membership:
    """The groups each classification counts in, on each day, worked out once per rulebook and
    set of groups (every line asks the same few questions)."""

    def __init__(self, book: Rulebook, groups: Sequence[GroupSpec]) -> None:
        self.book, self.source, self.groups = book, groups, tuple(groups)  # source: kept alive (see the key)
        self.known: dict[tuple[str | None, dt.date], tuple[int, ...]] = {}

    def of(self, code: str | None, day: dt.date) -> tuple[int, ...]:
        found = self.known.get((code, day))
        if found is None:
            entry = self.book.classification(code, day) if code else None
            found = self.known[code, day] = tuple(i for i, g in enumerate(self.groups) if g.contains(code, entry))
        return found


_MEMBERSHIPS: dict[tuple[int, int], _Membership] = {}


def _membership(book: Rulebook, groups: Sequence[GroupSpec]) -> _Membership:
    # Keyed by identity; the entry holds the book and groups, so an id is never reused under it.
    m = _MEMBERSHIPS.get((id(book), id(groups)))
    if m is None:
        if len(_MEMBERSHIPS) >= 16:
            _MEMBERSHIPS.clear()
        m = _MEMBERSHIPS[id(book), id(groups)] = _Membership(book, groups)
    return m


@dataclass(frozen=True)
class _Crime:
    """One crime the rules record, as the comparison reads it."""

    cid: str
    raw: Mapping[str, Any]
    code: str | None
    name: Any
    acts: tuple[str, ...]
    victim: str | None
    rules: tuple[Mapping[str, Any], ...]
    groups: tuple[int, ...]

    @property
    def what(self) -> str:
        return _crime_text(self.raw)

    def where(self) -> dict[str, Any]:
        """The fields every discrepancy about this crime carries."""
        return {"crime": self.cid, "acts": self.acts, "victim": self.victim, "classification": self.code}


class _Comparison:
    """The comparison of one incident's decision with the force's record of it: one method per
    kind of discrepancy (see :func:`compare`)."""

    def __init__(self, book: Rulebook, raw: Mapping[str, Any], decision: Mapping[str, Any],
                 groups: Sequence[GroupSpec], line: int) -> None:
        self.book = book
        self.kinds = discrepancy_kinds(book)
        self.raw = raw
        self.decision = decision
        self.groups = groups
        self.line = line
        self.incident = str(decision["incident"])
        self.day = dt.date.fromisoformat(str(decision["as_of"]))
        self.result = LineResult(line=line, kind="evaluated", incident=self.incident)
        force = raw.get("force_record") or {}
        self.recorded: list[Mapping[str, Any]] = list(force.get("crimes", []))
        judged = decision.get("force_record")
        if not isinstance(judged, Mapping):
            raise AuditError("the decision has no force_record section: this engine does not match force records")
        self.matches = _align(self.recorded, list(judged.get("crimes", [])))
        self.crimes = {str(c["id"]): c for c in decision.get("crimes", [])}
        self.by_crime: dict[str, list[int]] = {cid: [] for cid in self.crimes}
        self.crime_of: dict[int, str] = {}
        # A record whose cancellation the rules find valid has left the count: it is neither an
        # extra crime nor a crime recorded that should not have been (the force put it right).
        self.cancelled = [isinstance(rec.get("cancellation"), Mapping) and _verdict(m, "cancellation")[0] is True
                          for rec, m in zip(self.recorded, self.matches, strict=True)]

    def member(self, code: str | None) -> tuple[int, ...]:
        """The indexes of the groups a classification counts in."""
        return _membership(self.book, self.groups).of(code, self.day)

    def add(self, kind: str, **kw: Any) -> None:
        self.result.discrepancies.append(Discrepancy(kind=kind, label=self.kinds[kind][0], line=self.line,
                                                     incident=self.incident, groups=self.member(kw["classification"]),
                                                     **kw))

    def run(self) -> LineResult:
        self.result.undetermined = len(self.decision.get("undetermined", []))
        for i in range(len(self.recorded)):
            self.force_record(i)
        for cid, crime in self.crimes.items():
            self.decided_crime(self.crime(cid, crime))
        for i in range(len(self.recorded)):
            self.verdicts(i)
        return self.result

    def crime(self, cid: str, crime: Mapping[str, Any]) -> _Crime:
        cls = crime.get("classification") or {}
        code: str | None = cls.get("code")
        return _Crime(cid, crime, code, cls.get("name"), tuple(crime.get("acts", [])), crime.get("victim"),
                      tuple(crime.get("rules", [])), self.member(code))

    # 1. Each crime record the force made: whom it matches, and records the rules do not make.

    def force_record(self, i: int) -> None:
        rec, match = self.recorded[i], self.matches[i].get("match") or {}
        status, cid = match.get("status"), match.get("crime")
        if cid in self.by_crime and status in ("recorded", "absorbed"):
            self.by_crime[cid].append(i)
            self.crime_of[i] = cid
        elif status == "undetermined":
            self.result.undetermined += 1
        elif not self.cancelled[i]:
            self.result.over_recorded.append(self.member(_current(rec)))
            if status == "not_recorded" or not self.crimes:
                self.recorded_not_crime(rec)
            else:
                self.extra_crime(rec)

    def _record_where(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        return {"crime": None, "ref": str(rec["ref"]), "acts": tuple(rec.get("acts") or ()),
                "victim": rec.get("victim"), "classification": _current(rec)}

    def recorded_not_crime(self, rec: Mapping[str, Any]) -> None:
        """A record of allegations the rules do not record as crimes, with the rules' reasons."""
        where = self._record_where(rec)
        acts, victim, ref, code = where["acts"], where["victim"], where["ref"], where["classification"]
        why = [n for n in self.decision.get("not_recorded", [])
               if (not acts or n["act"] in acts) and (victim is None or n["victim"] == victim)]
        reasons = "; ".join(_not_recorded_text(n) for n in why) or "the rules record no crime for it"
        rules = _dedupe(r for n in why for r in n.get("rules", []))
        self.add("recorded_not_crime", **where, expected="no crime recorded", found=f"crime {ref} recorded as {code}",
                 explanation=f"The force recorded crime {ref} ({code}) but the rules do not record a crime for it "
                             f"({reasons}); rules: {_rule_ids(rules)}.",
                 rules=rules)

    def extra_crime(self, rec: Mapping[str, Any]) -> None:
        """A record that matches none of the crimes the rules count for the incident."""
        where = self._record_where(rec)
        ref, code, crimes = where["ref"], where["classification"], self.crimes.values()
        rules = _dedupe(r for c in crimes for r in c.get("rules", []))
        self.add("wrong_count", **where,
                 expected=f"{len(crimes)} crime(s): " + "; ".join(_crime_text(c) for c in crimes),
                 found=f"crime {ref} ({code}) matches none of them",
                 explanation=f"The force recorded crime {ref} ({code}), which matches none of the {len(crimes)} "
                             f"crime(s) the rules count for this incident; counting rules: {_rule_ids(rules)}.",
                 rules=rules)

    # 2. Each crime the rules record: was it recorded, correctly classified, in time, once?

    def decided_crime(self, c: _Crime) -> None:
        recs = self.by_crime[c.cid]
        if not recs:
            self.result.crimes.append(CrimeTally(c.groups, recorded=False))
            self.unrecorded(c)
            return
        standing = [i for i in recs if not self.cancelled[i]] or recs
        primary = self.standing_record(c, standing)
        classified_ok = self.classification(c, primary)
        timely = self.timeliness(c, self.recorded[primary])
        if len(standing) > 1:
            self.count(c, standing)
        for kw in _flag_discrepancies(self.book, self.day, self.recorded[primary], c.raw):
            self.add(**c.where(), ref=str(self.recorded[primary]["ref"]), **kw)
        self.result.crimes.append(CrimeTally(c.groups, recorded=True, classified_ok=classified_ok, timely=timely))

    def acceptable(self, c: _Crime) -> set[str | None]:
        """The classifications a crime is rightly recorded under: its own, and, for a provisional
        crime (classified on presumed facts), any that an answer to a presumed fact would give
        (the force may know that fact)."""
        return {c.code} | {r["classification"]["code"] for r in c.raw.get("reclassify_if", [])}

    def standing_record(self, c: _Crime, standing: Sequence[int]) -> int:
        """The record that stands for the crime: one under its classification if any, else one
        under an acceptable classification, else the first."""
        current = [_current(self.recorded[i]) for i in standing]
        if c.code in current:
            return standing[current.index(c.code)]
        acceptable = self.acceptable(c)
        return next((i for i, code in zip(standing, current, strict=True) if code in acceptable), standing[0])

    def unrecorded(self, c: _Crime) -> None:
        """A crime with no record: not recorded, or left as a record that, by a finding of the
        rules, stands only for a report not recorded as a crime."""
        kept = self.kept_instead(c)
        if kept is not None:
            rules = _dedupe(c.rules + tuple(kept["rules"]))
            record = str(kept.get("record"))
            self.add(str(kept["discrepancy"]), **c.where(), ref=None, expected=f"crime recorded: {c.what}",
                     found=f"left as an {record} record",
                     explanation=f"The rules record {c.cid}, {c.what}, as a crime; the force recorded no crime for "
                                 f"it and kept {record} instead ({kept.get('message')}); rules: {_rule_ids(rules)}.",
                     rules=rules)
            return
        self.add("not_recorded", **c.where(), ref=None, expected=f"crime recorded: {c.what}", found="no crime recorded",
                 explanation=f"The rules record {c.cid}, {c.what}; the force recorded no crime for it; "
                             f"rules: {_rule_ids(c.rules)}.",
                 rules=c.rules)

    def kept_instead(self, c: _Crime) -> Mapping[str, Any] | None:
        """The rules' finding, if any, that the force kept for this crime a record meant for a
        report not recorded as a crime: it names the record and the kind of discrepancy (one of the
        rulebook's finding kinds)."""
        return next((f for f in self.decision.get("findings", [])
                     if f.get("discrepancy") in self.kinds and f.get("discrepancy") not in OWN_KINDS
                     and f.get("act") in c.acts and f.get("victim") == c.victim), None)

    def classification(self, c: _Crime, primary: int) -> bool:
        """Whether the standing record is rightly classified; a discrepancy when it is not."""
        rec = self.recorded[primary]
        ref, found_code = str(rec["ref"]), _current(rec)
        verdicts = [v for v in self.matches[primary].get("verdicts", []) if v.get("decision") == "reclassification"]
        pending = [v for v in verdicts if v.get("state") == "value" and v.get("verdict") == "reclassify"
                   and v.get("to") != found_code]
        if found_code in self.acceptable(c) and not pending:
            return True
        vrules = tuple(r for v in pending for r in v.get("rules", []))
        also = (f" The reclassification rules say: reclassify to {', '.join(str(v.get('to')) for v in pending)}"
                f" ({_rule_ids(vrules)})." if pending else "")
        first = str(rec["classification"])
        history = f" (first recorded as {first}, reclassified to {found_code})" if first != found_code else ""
        self.add("wrong_classification", **c.where(), ref=ref,
                 expected=f"{c.code} {c.name}", found=f"{found_code}{history}",
                 explanation=f"The force recorded {ref} as {found_code}{history}; the rules classify {c.cid} as "
                             f"{c.code} {c.name}; classification rule: {_rule_ids(c.rules[:1])}.{also}",
                 rules=_dedupe(c.rules + vrules))
        return False

    def timeliness(self, c: _Crime, rec: Mapping[str, Any]) -> bool | None:
        """Whether the record was made by the deadline (None: not known); a discrepancy if late."""
        deadline = self.decision.get("deadline") or {}
        due = _time(deadline.get("due"))
        when = _time(rec.get("recorded_at")) or _time(self.raw.get("recorded_at"))
        if when is None or due is None:
            return None
        if when <= due:
            return True
        received = _time(deadline.get("received_at"))
        since = f", {_hours(received, when)} hours after the report" if received is not None else ""
        limit = deadline.get("limit_hours")
        within = f" ({limit:g} hours)" if isinstance(limit, (int, float)) else ""
        rules = tuple(deadline.get("rules", []))
        at = when.astimezone(LONDON).isoformat()
        ref = str(rec["ref"])
        self.add("late", **c.where(), ref=ref, expected=f"recorded by {deadline.get('due')}",
                 found=f"recorded {at}{since}",
                 explanation=f"Crime {ref} ({c.what}) was recorded at {at}{since}; the rules "
                             f"required it by {deadline.get('due')}{within}; rules: {_rule_ids(rules)}.",
                 rules=rules)
        return False

    def count(self, c: _Crime, standing: Sequence[int]) -> None:
        """Several standing records for what the rules count as one crime."""
        refs = [str(self.recorded[i]["ref"]) for i in standing]
        absorbed = [a for a in self.decision.get("absorbed", []) if a.get("into") == c.cid]
        rules = _dedupe(list(c.rules) + [r for a in absorbed for r in a.get("rules", [])])
        self.add("wrong_count", **c.where(), ref=", ".join(refs),
                 expected=f"1 crime: {c.what}", found=f"{len(refs)} crimes: {', '.join(refs)}",
                 explanation=f"The force recorded {len(refs)} crimes ({', '.join(refs)}) for what the rules count "
                             f"as one, {c.cid} {c.what}; counting rules: {_rule_ids(rules)}.",
                 rules=rules)

    # 3. Verdicts on what the force did with each record: cancellation and outcome.

    def verdicts(self, i: int) -> None:
        rec = self.recorded[i]
        cid = self.crime_of.get(i)
        crime = self.crimes.get(cid) if cid else None
        code = (crime.get("classification") or {}).get("code") if crime else _current(rec)
        where = {"crime": cid, "ref": str(rec["ref"]), "classification": code,
                 "acts": tuple(rec.get("acts") or (crime or {}).get("acts", ())),
                 "victim": rec.get("victim") or (crime or {}).get("victim")}
        for part, kind, bucket in (("cancellation", "invalid_cancellation", self.result.cancellations),
                                   ("outcome", "outcome_conditions_not_met", self.result.outcomes)):
            given = rec.get(part)
            if not isinstance(given, Mapping):
                continue
            valid, invalid = _verdict(self.matches[i], part)
            bucket.append(Judgement(self.member(code), valid))
            for v in invalid:
                self.invalid(kind, part, given, v, where)

    def invalid(self, kind: str, part: str, given: Mapping[str, Any], v: Mapping[str, Any],
                where: Mapping[str, Any]) -> None:
        """A cancellation or outcome a rule finds invalid."""
        rules = tuple(v.get("rules", []))
        label = given.get("ground") if part == "cancellation" else f"outcome {given.get('type')}"
        self.add(kind, **where,
                 expected=f"a {part} whose conditions are met" if part == "outcome" else "no cancellation (or a valid one)",
                 found=f"{part} {label}",
                 explanation=f"Crime {where['ref']}: the force's {part} ({label}) is invalid: "
                             f"{v.get('reason', 'its conditions are not met')}; rules: {_rule_ids(rules)}.",
                 rules=rules)


def _not_recorded_text(n: Mapping[str, Any]) -> str:
    """Why the rules do not record an allegation, and what stays on record instead."""
    who = " / " + n["victim"] if n.get("victim") else ""
    instead = f", record as {n['record_as']['record']}" if isinstance(n.get("record_as"), Mapping) else ""
    return f"act {n['act']}{who}: {n.get('reason')}{instead}"


def compare(
    book: Rulebook,
    raw: Mapping[str, Any],
    decision: Mapping[str, Any],
    groups: Sequence[GroupSpec],
    line: int = 0,
) -> LineResult:
    """Compare the rules' decision for one incident with the force's record of it.

    ``raw`` is the incident as read (with ``force_record``); ``decision`` is what
    :func:`hocr.engine.evaluate` gave for it, with its ``force_record`` section (each recorded
    crime matched to a decided crime, and the verdicts on its cancellation and outcome)."""
    return _Comparison(book, raw, decision, groups, line).run()


# --------------------------------------------------------------------------------------------
# One line, and the workers
# --------------------------------------------------------------------------------------------


class Unreadable(str):
    """A line that could not be read as text: the reason stands in for its text."""


def audit_line(book: Rulebook, line: int, text: str | None, groups: Sequence[GroupSpec]) -> LineResult:
    """Evaluate and compare one JSONL line (None or :class:`Unreadable`: a line that could not be
    read as text); never raises: a bad line, and even a bug hocr hits on a line, is that line's
    result, and the audit goes on."""
    if text is None or isinstance(text, Unreadable):
        return LineResult(line=line, kind="invalid_json", problems=(f"/: {text or 'not UTF-8 text'}",))
    if not text.strip():
        return LineResult(line=line, kind="blank")
    try:
        data = parse_json(text)
    except InvalidIncident as exc:
        return LineResult(line=line, kind="invalid_json", problems=tuple(str(p) for p in exc.problems))
    incident_id = safe_id(data)
    try:
        return _evaluate_line(book, line, data, incident_id, groups)
    except Exception as exc:  # a bug: recorded on its line, with no text from the incident
        return LineResult(line=line, kind="internal_error", incident=incident_id, problems=(
            f"internal error: {type(exc).__name__} (please report this line to hocr's maintainers)",))


def safe_id(data: Any) -> str | None:
    """The incident's id, when it is a well-formed id (anything else may be personal data, or
    text that cannot be written: it is never repeated)."""
    value = data.get("id") if isinstance(data, dict) else None
    return value if looks_like_id(value) else None


def _evaluate_line(book: Rulebook, line: int, data: Any, incident_id: str | None,
                   groups: Sequence[GroupSpec]) -> LineResult:
    try:
        inc = check_incident(data)
        force = data.get("force_record")
        if not isinstance(force, Mapping) or "crimes" not in force:
            where = "/force_record" if force is None else "/force_record/crimes"
            return LineResult(line=line, kind="invalid_incident", incident=incident_id, problems=(
                f"{where}: missing: the audit needs what the force recorded (give \"crimes\": [] when it recorded none)",))
        decision = evaluate(book, inc)
    except InvalidIncident as exc:
        return LineResult(line=line, kind="invalid_incident", incident=incident_id,
                          problems=tuple(str(p) for p in exc.problems))
    except EvaluationError as exc:
        return LineResult(line=line, kind="rulebook_error", incident=incident_id, problems=(str(exc),))
    if decision["status"] == "conflict":
        return LineResult(line=line, kind="rulebook_error", incident=incident_id, problems=tuple(
            f"{c['scope']}, {c['decision']}: rules {', '.join(c['rules'])} all apply with no override between them"
            for c in decision["conflicts"]))
    try:
        result = compare(book, data, decision, groups, line)
    except AuditError as exc:
        return LineResult(line=line, kind="rulebook_error", incident=incident_id, problems=(f"audit: {exc}",))
    result.status = str(decision["status"])
    # The incident's id as the outputs show it: only when it is shaped like an id (see safe_id).
    result.incident = incident_id
    for d in result.discrepancies:
        d.incident = incident_id or ""
    return result


# --------------------------------------------------------------------------------------------
# Batches: what a worker does with a batch of lines, and what it sends back
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wants:
    """What a batch's result carries besides its summary: the outputs that were asked for."""

    csv: bool = False  # the discrepancies as CSV rows
    results: bool = False  # one JSON line per input line
    lines: bool = False  # the LineResult objects themselves (for library callers)


@dataclass
class BatchResult:
    """A batch of lines, evaluated: its partial summary (counts) and its outputs already written
    out as text, in input order, so that the parent only adds and writes."""

    summary: Summary
    messages: list[str] = field(default_factory=list)  # bad lines: "LINE (incident ID): kind: problems"
    errors: str = ""  # bad lines as JSON Lines (--errors)
    csv: str = ""  # discrepancies as CSV rows, without the header (--csv)
    results: str = ""  # one JSON object per line (--results)
    lines: list[LineResult] = field(default_factory=list)


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula: text beginning with =, +, -, @ (or a
    tab or carriage return) gets a leading apostrophe, as OWASP advises."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


# What the csv module's default (excel) dialect quotes, with minimal quoting: a field holding a
# comma, a double quote, or a line end.
_CSV_QUOTED = re.compile('[,"\r\n]')


def csv_line(cells: Iterable[str]) -> str:
    """One row of cells, neutralised, as ``csv.writer`` writes it (a test checks they agree):
    the writer looks at every character in C, twice, which made it most of the audit's own cost."""
    out = []
    for cell in cells:
        cell = neutralise(cell)
        out.append('"' + cell.replace('"', '""') + '"' if _CSV_QUOTED.search(cell) else cell)
    return ",".join(out) + "\r\n"


def bad_line_message(r: LineResult) -> str:
    """The message for a line that could not be audited, after ``FILE:`` (no input text in it)."""
    who = f" (incident {r.incident})" if r.incident else ""
    return f"{r.line}{who}: {LINE_KINDS[r.kind][0]}: " + "; ".join(r.problems)


class Block(NamedTuple):
    """A batch of input lines as read: their bytes, each line ending with a newline, numbered
    from ``first_line``. It travels to a worker as one bytes object (cheaper to send than a list
    of decoded lines); the worker decodes each line. A line over ``max_bytes`` is not kept: an
    empty line stands in for it and its number is in ``overlong``."""

    first_line: int
    data: bytes
    overlong: tuple[int, ...] = ()
    max_bytes: int = MAX_LINE_BYTES


def block_lines(block: Block) -> Iterator[tuple[int, str | None]]:
    """(line number, text) for each line of a block; the text is an :class:`Unreadable` reason
    for a line that is not UTF-8 or was too long (as :func:`read_lines` gives them)."""
    overlong = set(block.overlong)
    n = block.first_line
    for raw in block.data.split(b"\n")[:-1]:
        if n in overlong:
            yield n, Unreadable(f"the line is longer than {block.max_bytes:,} bytes")
        else:
            try:
                yield n, raw.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                yield n, Unreadable("not UTF-8 text")
        n += 1


def _line_encoder() -> Callable[[Any], list[str]]:
    """The encoder json.dumps(value, ensure_ascii=False) builds on every call, built once: json's
    own C encoder where it has one (the one-shot path of JSONEncoder.encode), else the object."""
    from json import encoder

    plain = json.JSONEncoder(ensure_ascii=False)
    make = getattr(encoder, "c_make_encoder", None)
    if make is not None:
        try:  # markers None: no check for a value that contains itself (output lines never do)
            c_encode = make(None, plain.default, encoder.encode_basestring, None, ": ", ", ", False, False, True)
            return lambda value: c_encode(value, 0)
        except TypeError:  # pragma: no cover - a Python whose C encoder takes other arguments
            pass
    return lambda value: [plain.encode(value)]  # pragma: no cover - json without its C accelerator


_ENCODE_LINE = _line_encoder()


def json_line(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)`` and a newline: one line of --results or --errors."""
    return "".join(_ENCODE_LINE(value)) + "\n"


def audit_batch(book: Rulebook, block: Block, groups: tuple[GroupSpec, ...], wants: Wants) -> BatchResult:
    """Evaluate a batch of lines: their summary, and the outputs asked for, rendered."""
    # The batch's ids stay in memory (a batch is small) so that they can travel to the parent.
    out = BatchResult(Summary(groups, labels=discrepancy_kinds(book),
                              ids=IdLedger(buffer_records=block.data.count(b"\n") + 1)))
    errors: list[str] = []
    results: list[str] = []
    rows: list[str] = []
    for n, text in block_lines(block):
        r = audit_line(book, n, text, groups)
        out.summary.add(r)
        if r.kind not in ("evaluated", "blank"):
            out.messages.append(bad_line_message(r))
            errors.append(json_line({"line": r.line, "kind": r.kind, "incident": r.incident,
                                     "problems": list(r.problems)}))
        if wants.csv and r.discrepancies:
            rows.extend(csv_line(csv_row(d)) for d in r.discrepancies)
        if wants.results:
            results.append(json_line(r.as_dict()))
        if wants.lines:
            out.lines.append(r)
    out.errors, out.csv, out.results = "".join(errors), "".join(rows), "".join(results)
    return out


_STATE: dict[str, Any] = {}


def _init_worker(rules: str | None, groups: tuple[GroupSpec, ...], wants: Wants, keys: Keys) -> None:
    use_keys(keys)  # the parent's: the ids this worker seals compare with every other worker's
    _STATE.update(book=load_rulebook(rules), groups=groups, wants=wants)


def _work(block: Block) -> BatchResult:
    return audit_batch(_STATE["book"], block, _STATE["groups"], _STATE["wants"])


def _raw_lines(stream: IO[bytes], max_bytes: int, first_line: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, bytes, bytes read so far) for each line, numbered from ``first_line``; None
    for a line longer than ``max_bytes`` (the rest of it is skipped without being kept, so
    memory stays bounded)."""
    pos = 0
    n = first_line - 1
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        n += 1
        pos += len(raw)
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            pos += _skip_rest(stream, max_bytes)
            yield n, None, pos
        else:
            yield n, raw, pos


def read_lines(stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES,
               first_line: int = 1) -> Iterator[tuple[int, str | None, int]]:
    """(line number, text, bytes read so far) for each line, numbered from ``first_line``; the
    text is an :class:`Unreadable` reason for a line that is not UTF-8 or is longer than
    ``max_bytes`` (the rest of such a line is skipped without being kept, so memory stays bounded)."""
    for n, raw, pos in _raw_lines(stream, max_bytes, first_line):
        if raw is None:
            yield n, Unreadable(f"the line is longer than {max_bytes:,} bytes"), pos
            continue
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n"), pos
        except UnicodeDecodeError:
            yield n, Unreadable("not UTF-8 text"), pos


def _skip_rest(stream: IO[bytes], size: int) -> int:
    skipped = 0
    while True:
        part = stream.readline(size)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped


def read_blocks(stream: IO[bytes], size: int, progress: Callable[[int], None] | None = None,
                max_bytes: int = MAX_LINE_BYTES, first_line: int = 1) -> Iterator[Block]:
    """The lines of a JSONL stream in blocks of ``size`` lines, undecoded; ``progress`` is
    called after each line with the bytes read so far."""
    parts: list[bytes] = []
    overlong: list[int] = []
    start = first_line
    for n, raw, pos in _raw_lines(stream, max_bytes, first_line):
        if raw is None:
            overlong.append(n)
        parts.append(b"\n" if raw is None else raw if raw.endswith(b"\n") else raw + b"\n")
        if progress is not None:
            progress(pos)
        if len(parts) >= size:
            yield Block(start, b"".join(parts), tuple(overlong), max_bytes)
            parts, overlong, start = [], [], n + 1
    if parts:
        yield Block(start, b"".join(parts), tuple(overlong), max_bytes)


def batches(
    stream: IO[bytes],
    rules: str | None = None,
    groups: Sequence[GroupSpec] | None = None,
    workers: int = 1,
    chunk_size: int = 256,
    progress: Callable[[int], None] | None = None,
    wants: Wants = Wants(),
    first_line: int = 1,
) -> Iterator[BatchResult]:
    """A :class:`BatchResult` for every ``chunk_size`` lines of a JSONL stream, in input order
    (``groups``: by default the rulebook's report groups).

    With ``workers > 1`` the batches are evaluated in that many processes (the rulebook compiled
    once in each), at most ``4 * workers`` batches in flight, so memory stays bounded."""
    book = load_rulebook(rules)  # with workers, this fails here, in the parent, if it does not load
    groups = report_groups(book) if groups is None else tuple(groups)
    blocks = read_blocks(stream, chunk_size, progress, first_line=first_line)
    if workers <= 1:
        for block in blocks:
            yield audit_batch(book, block, groups, wants)
        return
    with multiprocessing.Pool(workers, initializer=_init_worker,
                              initargs=(rules, groups, wants, process_keys())) as pool:
        pending: deque[Any] = deque()
        for block in blocks:
            pending.append(pool.apply_async(_work, (block,)))
            while len(pending) >= 4 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


# --------------------------------------------------------------------------------------------
# The summary: counters only, and partial summaries merge exactly
# --------------------------------------------------------------------------------------------


@dataclass
class GroupTally:
    should: int = 0  # crimes that should have been recorded
    recorded: int = 0  # of those, recorded (a crime record exists)
    accurate: int = 0  # of those, recorded under the right classification
    timed: int = 0  # recorded crimes whose recording time and deadline are known
    timely: int = 0  # of those, recorded in time
    over_recorded: int = 0  # crime records the rules do not make (not a crime, or matching none)
    cancellations: int = 0
    cancellations_judged: int = 0
    cancellations_valid: int = 0
    outcomes: int = 0
    outcomes_judged: int = 0
    outcomes_valid: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def merge(self, other: GroupTally) -> None:
        for name in _TALLY_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        _add_counts(self.kinds, other.kinds)

    def add_crime(self, c: CrimeTally) -> None:
        self.should += 1
        if c.recorded:
            self.recorded += 1
            self.accurate += bool(c.classified_ok)
            if c.timely is not None:
                self.timed += 1
                self.timely += c.timely

    def add_cancellation(self, j: Judgement) -> None:
        self.cancellations += 1
        if j.valid is not None:
            self.cancellations_judged += 1
            self.cancellations_valid += j.valid

    def add_outcome(self, j: Judgement) -> None:
        self.outcomes += 1
        if j.valid is not None:
            self.outcomes_judged += 1
            self.outcomes_valid += j.valid


_TALLY_COUNTS = tuple(f.name for f in fields(GroupTally) if f.name != "kinds")


def _add_counts(into: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def _first_by_line(a: list[dict[str, Any]], b: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` entries of two lists, each in line order, by line (one line's entries
    are all in one list and keep their order)."""
    both = a + b if not a or not b or a[-1]["line"] <= b[0]["line"] else sorted(a + b, key=lambda e: e["line"])
    return both[:limit]


@dataclass
class Summary:
    """Counters over every line (never rates: those are computed only in :meth:`as_json`), with a
    bounded list of errors and examples and the incident ids' ledger (for duplicates).

    Summaries of parts of a file merge exactly (:meth:`merge`): the audit of a file split in two,
    merged, is the audit of the whole, whatever engine or process audited each part."""

    groups: tuple[GroupSpec, ...]
    max_errors: int = 1000
    max_examples: int = 3
    # Every kind of discrepancy, in report order, with (label, definition): the rulebook's
    # (discrepancy_kinds; by default the shipped rulebook's).
    labels: dict[str, tuple[str, str]] = field(default_factory=lambda: discrepancy_kinds(load_rulebook()))
    lines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LINE_KINDS, 0))
    incidents_correct: int = 0
    incidents_with_discrepancies: int = 0
    incidents_with_undetermined: int = 0
    undetermined: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # every kind of labels, counted
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_not_listed: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tallies: list[GroupTally] = field(default_factory=list)
    ended: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDINGS, 0))
    # The incident id of each evaluated line (sealed, spilled to disk when many; see idledger);
    # read once, at the end, into the duplicates.
    ids: IdLedger = field(default_factory=IdLedger)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    duplicate_lines: int = 0
    finished: bool = False

    def __post_init__(self) -> None:
        if not self.kinds:
            self.kinds = dict.fromkeys(self.labels, 0)
        if not self.tallies:
            self.tallies = [GroupTally() for _ in self.groups]

    @property
    def read(self) -> int:
        return sum(self.lines.values())

    def add(self, r: LineResult) -> None:
        """Count one line's result."""
        self.lines[r.kind] += 1
        self.ended[r.ending] += 1
        if r.kind == "evaluated":
            self._add_evaluated(r)
        elif r.kind != "blank":
            if len(self.errors) < self.max_errors:
                self.errors.append({"line": r.line, "kind": r.kind, "incident": r.incident, "problems": list(r.problems)})
            else:
                self.errors_not_listed += 1

    def _add_evaluated(self, r: LineResult) -> None:
        if r.incident is not None:
            self.ids.add(r.incident, r.line)
        if r.discrepancies:
            self.incidents_with_discrepancies += 1
        elif r.crimes or r.over_recorded or r.cancellations or r.outcomes or not r.undetermined:
            self.incidents_correct += 1
        if r.undetermined:
            self.incidents_with_undetermined += 1
            self.undetermined += r.undetermined
        t = self.tallies
        for c in r.crimes:
            for g in c.groups:
                t[g].add_crime(c)
        for groups in r.over_recorded:
            for g in groups:
                t[g].over_recorded += 1
        for j in r.cancellations:
            for g in j.groups:
                t[g].add_cancellation(j)
        for j in r.outcomes:
            for g in j.groups:
                t[g].add_outcome(j)
        for d in r.discrepancies:
            self._add_discrepancy(d)

    def _add_discrepancy(self, d: Discrepancy) -> None:
        self.kinds[d.kind] += 1
        for g in d.groups:
            self.tallies[g].kinds[d.kind] = self.tallies[g].kinds.get(d.kind, 0) + 1
        examples = self.examples.setdefault(d.kind, [])
        if len(examples) < self.max_examples:
            examples.append(d.as_dict())

    def merge(self, other: Summary) -> Summary:
        """Add another part's summary into this one (in place; returns this summary). ``other``
        must count other lines, with the same groups; its ids move into this summary's ledger."""
        if other.groups != self.groups:
            raise ValueError("summaries of different groups cannot be merged")
        if other.labels != self.labels:
            raise ValueError("summaries of different kinds of discrepancy (rulebooks) cannot be merged")
        if self.finished or other.finished:
            raise ValueError("a summary whose duplicates were already read cannot be merged")
        for name in ("lines", "kinds", "ended"):
            _add_counts(getattr(self, name), getattr(other, name))
        for name in ("incidents_correct", "incidents_with_discrepancies", "incidents_with_undetermined",
                     "undetermined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in zip(self.tallies, other.tallies, strict=True):
            mine.merge(theirs)
        listed = _first_by_line(self.errors, other.errors, self.max_errors)
        self.errors_not_listed += other.errors_not_listed + len(self.errors) + len(other.errors) - len(listed)
        self.errors = listed
        for kind, items in other.examples.items():
            self.examples[kind] = _first_by_line(self.examples.get(kind, []), items, self.max_examples)
        self.ids.absorb(other.ids)
        return self

    def finish(self, on_duplicate: Callable[[Duplicate], None] | None = None) -> None:
        """Read the ledger, once: count and list (the first ``max_errors``, by line) the lines that
        repeat an earlier line's incident id, each passed to ``on_duplicate``."""
        if self.finished:
            return
        self.finished = True
        listed: list[Duplicate] = []
        for dup in self.ids.duplicates():
            self.duplicate_lines += 1
            if on_duplicate is not None:
                on_duplicate(dup)
            listed.append(dup)
            if len(listed) >= 2 * self.max_errors:
                listed = sorted(listed, key=lambda d: d.line)[:self.max_errors]
        self.duplicates = [{"line": d.line, "incident": d.incident, "first_line": d.first_line}
                           for d in sorted(listed, key=lambda d: d.line)[:self.max_errors]]

    def as_json(self, annual: Mapping[str, float], wilson_below: int) -> dict[str, Any]:
        """The summary as reported (format hocr.audit.v1): rates and intervals are computed here."""
        self.finish()
        return {
            "format": AUDIT_FORMAT,
            "lines": {"read": self.read, **self.lines},
            "ended": {"read": self.read, **self.ended},
            "duplicate_ids": {"lines": self.duplicate_lines, "listed": self.duplicates},
            "incidents": {
                "evaluated": self.lines["evaluated"],
                "correct": self.incidents_correct,
                "with_discrepancies": self.incidents_with_discrepancies,
                "with_undetermined": self.incidents_with_undetermined,
            },
            "undetermined": self.undetermined,
            "groups": [group_json(spec, t, annual.get(spec.label), wilson_below, self.labels)
                       for spec, t in zip(self.groups, self.tallies, strict=True)],
            "discrepancies": {k: self.kinds[k] for k in self.labels},
            "discrepancy_kinds": {k: {"label": v[0], "definition": v[1]} for k, v in self.labels.items()},
            "examples": {k: self.examples.get(k, []) for k in self.labels if self.examples.get(k)},
            "errors": self.errors,
            "errors_not_listed": self.errors_not_listed,
        }


def group_json(spec: GroupSpec, t: GroupTally, annual: float | None, wilson_below: int,
               kinds: Mapping[str, Any]) -> dict[str, Any]:
    """One group's figures, from its counts (``kinds``: every kind of discrepancy, in order)."""
    acc = rate(t.recorded, t.should, wilson_below)
    return {
        "label": spec.label,
        "definition": spec.definition(),
        "headline": spec.headline,
        "should_be_recorded": t.should,
        "recorded": t.recorded,
        "not_recorded": t.should - t.recorded,
        "recording_accuracy": acc,
        "accurately_recorded": rate(t.accurate, t.should, wilson_below),
        "annual_recorded": annual,
        "unrecorded_per_year": None if annual is None or acc is None else unrecorded_json(annual, acc),
        "timeliness": share(t.timely, t.timed),
        "classification_accuracy": share(t.accurate, t.recorded),
        "cancellation_accuracy": {**share(t.cancellations_valid, t.cancellations_judged),
                                  "cancellations": t.cancellations,
                                  "not_judged": t.cancellations - t.cancellations_judged},
        "outcome_accuracy": {**share(t.outcomes_valid, t.outcomes_judged),
                             "outcomes": t.outcomes, "not_judged": t.outcomes - t.outcomes_judged},
        "extra_records": t.over_recorded,
        "discrepancies": {k: t.kinds.get(k, 0) for k in kinds},
    }


def unrecorded_json(big_r: float, acc: Mapping[str, Any]) -> dict[str, Any] | None:
    """Crimes not recorded a year, at the estimate and at both ends of the interval shown."""
    u = unrecorded_per_year(big_r, acc["p"])
    if u is None:
        return None
    bounds = acc[acc["interval"]]
    return {
        "estimate": u,
        "published_as": published_as(u),
        "low": unrecorded_per_year(big_r, bounds["high"]),
        "high": unrecorded_per_year(big_r, bounds["low"]),
        "implied_total": big_r / acc["p"],
    }


def run_audit(
    stream: IO[bytes],
    *,
    rules: str | None = None,
    groups: Sequence[GroupSpec] | None = None,
    workers: int = 1,
    chunk_size: int = 256,
    progress: Callable[[int], None] | None = None,
    on_line: Callable[[LineResult], None] | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
    wants: Wants = Wants(),
    first_line: int = 1,
) -> Summary:
    """Audit every line of a JSONL stream (its lines numbered from ``first_line``, to audit a
    part of a file). ``on_batch`` sees each batch's outputs as they come, in input order (to
    write them out at once); ``on_line`` each line's result (slower: the results travel from the
    workers). The returned :class:`Summary` keeps counters; its duplicates are read by
    :meth:`Summary.finish` (or :meth:`Summary.as_json`). ``groups``: by default the rulebook's
    report groups (:func:`report_groups`)."""
    book = load_rulebook(rules)
    groups = report_groups(book) if groups is None else tuple(groups)
    summary = Summary(groups, labels=discrepancy_kinds(book))
    if on_line is not None:
        wants = replace(wants, lines=True)
    for batch in batches(stream, rules, groups, workers, chunk_size, progress, wants, first_line):
        summary.merge(batch.summary)
        if on_batch is not None:
            on_batch(batch)
        if on_line is not None:
            for r in batch.lines:
                on_line(r)
    return summary


def parse_annual(values: Sequence[str], groups: Sequence[GroupSpec], headline: str | None) -> dict[str, float]:
    """``--annual-recorded`` values: ``N`` (for the ``headline`` group, as inspectors use it:
    :func:`headline_label`) or ``GROUP=N`` for a group by its label."""
    labels = {g.label.casefold(): g.label for g in groups}
    out: dict[str, float] = {}
    for text in values:
        label, _, number = text.rpartition("=")
        if not label and headline is None:
            raise ValueError(f"--annual-recorded {text!r}: a bare number is for the headline group, and {NO_HEADLINE}; "
                             "give GROUP=N")
        name = labels.get((label.strip() if label else headline or "").casefold())
        if name is None:
            raise ValueError(f"--annual-recorded {text!r}: no group {label.strip()!r} (groups: {', '.join(g.label for g in groups)})")
        try:
            value = float(number.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"--annual-recorded {text!r}: {number!r} is not a number") from None
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"--annual-recorded {text!r}: must be a number of crimes, 0 or more")
        out[name] = value
    return out
