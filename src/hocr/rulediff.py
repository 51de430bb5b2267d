"""What changed in the rulebook between two dates (``hocr rules diff``), for trainers.

Every dated thing in the rulebook is an *item*: a rule (a flag rule or a counting rule when it
decides the pipeline's flags or counting key), a classification's catalogue entry, an offence
under a classification (a row of the Home Office list, or an offence its file names) and a
presumption. Each is in force on a span of days. Between ``start`` and ``end`` an item

* *started* when its first day falls after ``start`` and no later than ``end``;
* *ended* when its first day out of force (the day after its last) falls in that window;
* is *interim* when both happen (in force only between the two dates);
* *changed* when one version ends and another of the same thing starts the next day: a
  classification code's next entry, a presumption's next version on the same fact, an
  offence's next row, or a rule replaced by another of the same purpose (see :func:`_pairs`).

The result (format ``hocr.rulediff.v1``, schemas/rulediff.schema.json, docs/changes.md) groups
the changes by the folder of the rulebook they sit in (its section); :func:`render_text` gives
the slide. The rule files carry every date, code and name: nothing here knows any offence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .incident import LONDON, InvalidIncident, check_incident
from .library import WorkedCase, cases_by_rule, load_library
from .lint import editions_data
from .loader import Classification, DocumentEdition, Rulebook, citation, cited_documents
from .offences import Offence, offence_key

FORMAT = "hocr.rulediff.v1"
CASES_PER_SIDE = 3  # the worked cases quoted on each side of a change (the count says how many exist)
_ONE_DAY = dt.timedelta(days=1)
_WEAKEST_FIRST = ("unverified", "secondary", "verified")


class DiffRangeError(ValueError):
    """The two dates cannot be compared (a bad date, the wrong order, before the rulebook)."""


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def parse_day(text: str, name: str = "date") -> dt.date:
    """A date given as YYYY-MM-DD (``name`` says which one in the message, e.g. ``--from``)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise DiffRangeError(f"{name}: {str(text)[:40]!r} is not a date: give it as YYYY-MM-DD") from None


def check_range(book: Rulebook, start: dt.date, end: dt.date) -> None:
    """Refuse a range that reads backwards or starts before the rulebook does: a later ``start``
    is an error (not swapped), so a reversed range is never silently read the other way."""
    if start > end:
        raise DiffRangeError(f"the from date {start} is after the to date {end}: give the earlier date first")
    if start < book.starts:
        raise DiffRangeError(f"the from date {start} is before the rulebook starts ({book.starts}): "
                             "nothing is encoded before that day")


# --------------------------------------------------------------------------------------------
# Items: every dated thing of the rulebook, with what "changed" compares
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # identity: each call builds its items once
class Item:
    kind: str  # rule | flag rule | counting rule | classification | offence | presumption
    id: str
    title: str
    section: str  # the rulebook folder it sits in (general/section-f, classifications/burglary...)
    starts: dt.date
    ends: dt.date | None  # its last day in force
    citation: str
    verification: str
    file: str
    line: int | None
    version_of: tuple[Any, ...]  # versions of one thing share this (see the module docstring)
    content: Mapping[str, Any] = field(default_factory=dict)  # what "changed" compares
    extra: Mapping[str, Any] = field(default_factory=dict)  # kind-specific facts for the JSON
    names: tuple[str, ...] = ()  # ids worked cases may name or rely on (cases=True)
    codes: tuple[str, ...] = ()  # classification codes whose worked cases show it
    offences: tuple[tuple[str, str], ...] = ()  # the offences (statute, section) whose worked cases show it
    own_start: bool = True  # False when the start is its classification entry's (reported there)
    own_end: bool = True

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "in_force": _span(self.starts, self.ends),
                "citation": self.citation, "verification": self.verification, "file": self.file}


def _span(starts: dt.date, ends: dt.date | None) -> dict[str, str | None]:
    return {"from": starts.isoformat(), "to": ends.isoformat() if ends else None}


def _folder(file: str) -> str:
    return str(PurePosixPath(file).parent)


def items(book: Rulebook) -> list[Item]:
    """Every dated item of the rulebook."""
    return [*_rule_items(book), *_classification_items(book), *_offence_items(book), *_presumption_items(book)]


def _rule_kind(book: Rulebook, decision: str) -> str:
    if decision in book.pipeline.get("flags", ()):
        return "flag rule"
    return "counting rule" if decision == book.pipeline.get("count_key") else "rule"


def _rule_items(book: Rulebook) -> Iterator[Item]:
    for r in book.rules.values():
        yield Item(kind=_rule_kind(book, r.decision), id=r.id, title=r.title, section=_folder(r.file),
                   starts=r.in_force_from, ends=r.in_force_to, citation=r.citation,
                   verification=r.verification, file=r.file, line=r.line,
                   version_of=("rule", r.decision, r.file),
                   content={"title": r.title, "then": r.raw_then, "verification": r.verification,
                            "citation": r.citation},
                   extra={"decision": r.decision}, names=(r.id,))


def _classification_items(book: Rulebook) -> Iterator[Item]:
    for code, entries in book.classifications.items():
        for c in entries:
            yield Item(kind="classification", id=code, title=c.name, section=_folder(c.file),
                       starts=c.in_force_from, ends=c.in_force_to, citation=citation(c.sources),
                       verification=c.verification, file=c.file, line=c.line,
                       version_of=("classification", code), content=_classification_content(c),
                       extra={"category": c.category}, codes=(code,))


def _classification_content(c: Classification) -> dict[str, Any]:
    return {
        "name": c.name,
        "category": c.category,
        "group": c.group,
        "victim_based": c.victim_based,
        "max_sentence": c.sentence_text(),
        "counting_unit": c.counting_unit,
        "offences": sorted({_offence_name(statute, section) for statute, section in c.offences}),
        "verification": c.verification,
        "citation": citation(c.sources),
    }


def _offence_items(book: Rulebook) -> Iterator[Item]:
    """The offences with dates of their own inside their entry's span (the others start and
    end with their entry, which reports them). A list row named by several statutes and sections
    is one item."""
    list_citation = citation((book.offence_list.source(),)) if book.offence_list else ""
    for code, entries in book.classifications.items():
        for c in entries:
            rows: dict[Any, list[Offence]] = {}
            for o in c.offence_entries:
                if _own_start(c, o) or _own_end(c, o):
                    rows.setdefault(("row", o.row) if o.row is not None else ("named", o.key()), []).append(o)
            for named in rows.values():
                yield _offence_item(code, c, named, list_citation)


def _own_start(c: Classification, o: Offence) -> bool:
    return o.in_force_from is not None and o.in_force_from > c.in_force_from


def _own_end(c: Classification, o: Offence) -> bool:
    return o.in_force_to is not None and (c.in_force_to is None or o.in_force_to < c.in_force_to)


def _offence_item(code: str, c: Classification, named: Sequence[Offence], list_citation: str) -> Item:
    o = named[0]
    names = [_offence_name(n.statute, n.section) for n in named]
    own_start, own_end = _own_start(c, o), _own_end(c, o)
    return Item(
        kind="offence", id=o.number or names[0], title=o.description or names[0], section=_folder(c.file),
        starts=o.in_force_from if own_start and o.in_force_from else c.in_force_from,
        ends=o.in_force_to if own_end else c.in_force_to,
        citation=list_citation if o.row is not None else citation(c.sources), verification=c.verification,
        file=c.file, line=c.line, version_of=("offence", o.number, tuple(n.key() for n in named)),
        content={"classification": code, "description": o.description, "number": o.number, "mode": o.mode,
                 "victim": o.victim, "max_sentence_months": o.max_months},
        extra={"classification": code, "offences": names, "list_row": o.row},
        codes=(code,), offences=tuple(n.key() for n in named), own_start=own_start, own_end=own_end)


def _offence_name(statute: str, section: str) -> str:
    return f"{statute} s{section}" if section[:1].isdigit() else f"{statute} {section}"


def _presumption_items(book: Rulebook) -> Iterator[Item]:
    for p in book.presumptions:
        yield Item(kind="presumption", id=p.id, title=p.title, section=_folder(p.file),
                   starts=p.in_force_from, ends=p.in_force_to, citation=p.citation,
                   verification=p.verification, file=p.file, line=p.line,
                   version_of=("presumption", p.fact),
                   content={"title": p.title, "fact": p.fact, "value": p.value, "when": p.raw.get("when"),
                            "verification": p.verification, "citation": p.citation},
                   extra={"fact": p.fact}, names=(p.id,))


# --------------------------------------------------------------------------------------------
# Changes: what started, ended or changed in the window
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    change: str  # started | ended | interim | changed
    item: Item  # for "changed", the version in force after
    date: dt.date  # the first day the change applies
    before: tuple[Item, ...] = ()  # for "changed", the versions it replaces

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for i in (*self.before, self.item) for n in i.names))


def _starts_within(item: Item, start: dt.date, end: dt.date) -> bool:
    return item.own_start and start < item.starts <= end


def _ends_within(item: Item, start: dt.date, end: dt.date) -> bool:
    return item.own_end and item.ends is not None and start <= item.ends < end


def changes(book: Rulebook, start: dt.date, end: dt.date) -> list[Change]:
    """Every change between ``start`` and ``end`` (see the module docstring)."""
    everything = items(book)
    started = [i for i in everything if _starts_within(i, start, end)]
    ended = [i for i in everything if _ends_within(i, start, end)]
    found, replaced, continued = _versions(started, ended)
    fresh = {i for i in started if i not in continued}
    for item in (i for i in started if i in fresh):  # in rulebook order
        found.append(Change("interim" if _ends_within(item, start, end) else "started", item, item.starts))
    for item in ended:
        if item not in replaced and item not in fresh:
            assert item.ends is not None
            found.append(Change("ended", item, item.ends + _ONE_DAY))
    return found


def _versions(started: Sequence[Item], ended: Sequence[Item]) -> tuple[list[Change], set[Item], set[Item]]:
    """The started items that are a new version of ended ones: the same thing, starting the day
    after the other's last day. Returns the changes (new versions that differ), the versions
    replaced, and every started item that continues an ended one (changed or not: a version
    that differs in nothing compared is neither a start nor an end)."""
    handovers: dict[tuple[Any, ...], tuple[list[Item], list[Item]]] = {}
    for old in ended:
        assert old.ends is not None
        handovers.setdefault((old.version_of, old.ends + _ONE_DAY), ([], []))[0].append(old)
    for new in started:
        if (new.version_of, new.starts) in handovers:
            handovers[(new.version_of, new.starts)][1].append(new)
    found: list[Change] = []
    replaced: set[Item] = set()
    continued: set[Item] = set()
    for olds, news in handovers.values():
        for new, previous in _pairs(olds, news):
            replaced.update(previous)
            continued.add(new)
            if any(o.content != new.content for o in previous):
                found.append(Change("changed", new, new.starts, previous))
    return found, replaced, continued


_YEAR = re.compile(r"(?:^|[.-])(?:19|20)\d\d(?=$|[.-])")


def _stem(rule_id: str) -> str:
    """A rule id without its year parts (f.2018.ccb-in-addition -> f.ccb-in-addition)."""
    return _YEAR.sub("", rule_id)


def _likeness(a: Item, b: Item) -> int:
    """How alike two rule ids are, with their year parts taken out: 2 equal, 1 one begins the
    other at a "." or "-" (vap.controlling-or-coercive-behaviour-within-harassment and
    vap.controlling-or-coercive-behaviour), 0 neither."""
    x, y = _stem(a.id), _stem(b.id)
    if x == y:
        return 2
    return int(any(long.startswith(short + sep) for long, short in ((x, y), (y, x)) for sep in ".-"))


def _pairs(olds: Sequence[Item], news: Sequence[Item]) -> Iterator[tuple[Item, tuple[Item, ...]]]:
    """Each new version with the old ones it replaces, among the versions of one thing handing
    over on one day. A code, a fact or an offence is one thing whatever its versions are called.
    Rules are one thing when they decide the same decision in the same file; where some of them
    are named alike (:func:`_likeness`), each pairs with the ones most alike to it, both ways
    (vap.homicide-2008 with vap.homicide, not with vap.homicide-attempt), and the rest pair with
    the rest."""
    if not olds or not news:
        return
    if olds[0].version_of[0] != "rule":
        for new in news:
            yield new, tuple(olds)
        return
    score = {(id(o), id(n)): _likeness(o, n) for o in olds for n in news}
    best_old = {id(o): max(score[id(o), id(n)] for n in news) for o in olds}
    best_new = {id(n): max(score[id(o), id(n)] for o in olds) for n in news}
    unnamed_olds = tuple(o for o in olds if not best_old[id(o)])
    for new in news:
        if not best_new[id(new)]:
            previous = unnamed_olds
        else:
            previous = tuple(o for o in olds
                             if score[id(o), id(new)] == best_new[id(new)] == best_old[id(o)])
        if previous:
            yield new, previous


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------


def diff(book: Rulebook, start: dt.date, end: dt.date, cases: bool = False) -> dict[str, Any]:
    """What started, ended or changed between ``start`` and ``end`` (format ``hocr.rulediff.v1``),
    grouped by section; with ``cases``, the worked cases on each side of each change."""
    check_range(book, start, end)
    found = sorted(changes(book, start, end), key=lambda c: (_section_order(c.item.section), c.date, _KIND_ORDER[c.item.kind], c.item.id))
    attach = _case_finder(book) if cases else None
    groups: dict[str, list[dict[str, Any]]] = {}
    for change in found:
        entry = _entry(change)
        if attach is not None:
            entry["cases"] = attach(change)
        groups.setdefault(change.item.section, []).append(entry)
    titles = _section_titles(book)
    return {
        "format": FORMAT,
        "rulebook": book.info(),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "with_cases": cases,
        "counts": _counts(found),
        "groups": [{"section": s, "title": titles.get(s, s), "count": len(e), "changes": e} for s, e in groups.items()],
    }


# The rulebook's own order: the recording standard, the General Rules' sections then annexes, the
# classifications, the flags; any other folder after them, by name.
_FOLDER_ORDER = ("ncrs", "general/section-", "general/annex-", "general/", "classifications/", "flags")


def _section_order(folder: str) -> tuple[int, str]:
    rank = next((i for i, prefix in enumerate(_FOLDER_ORDER) if folder.startswith(prefix)), len(_FOLDER_ORDER))
    return rank, folder


_KIND_ORDER = {"rule": 0, "counting rule": 1, "flag rule": 2, "presumption": 3, "classification": 4, "offence": 5}
KINDS = tuple(_KIND_ORDER)
CHANGES = ("started", "ended", "changed", "interim")


def _counts(found: Sequence[Change]) -> dict[str, Any]:
    by_change = Counter(c.change for c in found)
    by_kind = Counter(c.item.kind for c in found)
    return {"total": len(found), **{k: by_change.get(k, 0) for k in CHANGES},
            "by_kind": {k: by_kind[k] for k in KINDS if by_kind.get(k)}}


def _entry(change: Change) -> dict[str, Any]:
    item = change.item
    entry: dict[str, Any] = {
        "change": change.change,
        "kind": item.kind,
        "id": item.id,
        "title": item.title,
        "date": change.date.isoformat(),
        "in_force": _span(item.starts, item.ends),
        "citation": item.citation,
        "verification": _weakest([item, *change.before]),
        "file": item.file,
        "line": item.line,
        **item.extra,
    }
    if change.change == "changed":
        entry["before"] = [old.ref() for old in change.before]
        entry["differences"] = _differences(change.before, item)
    return entry


def _weakest(versions: Iterable[Item]) -> str:
    """The least sure verification of the versions a change compares (an honest single badge)."""
    found = {v.verification for v in versions}
    return next((v for v in _WEAKEST_FIRST if v in found), next(iter(found)))


def _differences(before: Sequence[Item], after: Item) -> list[dict[str, Any]]:
    """What differs between the version replaced and the new one, field by field (only where it
    replaces one version: several replaced at once are listed in ``before`` instead)."""
    if len(before) != 1:
        return []
    old = before[0].content
    out: list[dict[str, Any]] = []
    for key, value in after.content.items():
        if key == "offences" and old.get(key) != value:
            out.append({"field": key, "before": _gone(old.get(key), value), "after": _gone(value, old.get(key))})
        elif old.get(key) != value:
            out.append({"field": key, "before": old.get(key), "after": value})
    return out


def _gone(mine: Any, other: Any) -> list[Any]:
    """The entries of ``mine`` that ``other`` lacks (an offence list's difference, not all of it)."""
    return [x for x in (mine or []) if x not in (other or [])]


def _section_titles(book: Rulebook) -> dict[str, str]:
    """A title for each rulebook folder: a lettered section or annex as the latest edition of the
    General Rules names it, a classification folder by its category, any other folder by the
    section its rules cite most."""
    categories: dict[str, Counter[str]] = {}
    for entries in book.classifications.values():
        for c in entries:
            categories.setdefault(_folder(c.file), Counter())[c.category] += 1
    cited: dict[str, Counter[str]] = {}
    for r in book.rules.values():
        for s in r.sources:
            cited.setdefault(_folder(r.file), Counter())[str(s.get("section", ""))] += 1
    titles = {folder: counts.most_common(1)[0][0] for folder, counts in {**cited, **categories}.items()}
    latest = _latest_edition(book)
    for folder in titles:
        lettered = _lettered_title(folder, latest)
        if lettered:
            titles[folder] = lettered
    return titles


def _lettered_title(folder: str, names: DocumentEdition) -> str | None:
    """general/section-f -> "F The Principal Crime Rule"; general/annex-b -> "Annex B ..."."""
    match = re.fullmatch(r"(?:.*/)?(section|annex)-([a-z])", folder)
    if not match:
        return None
    letter = match.group(2).upper()
    if match.group(1) == "section":
        return f"{letter} {names.sections[letter]}" if letter in names.sections else None
    return f"Annex {letter} {names.annexes[letter]}" if letter in names.annexes else None


def _latest_edition(book: Rulebook) -> DocumentEdition:
    """The latest edition of the first document the compared rulebook's ``documents`` section
    lists (the shipped one: the General Rules). A rulebook with no such section is named by the
    shipped editions data, as ``hocr rules lint`` checks it."""
    documents = book.documents or cited_documents(editions_data()["documents"])
    return documents[0].editions[-1] if documents else DocumentEdition(names=())


# --------------------------------------------------------------------------------------------
# Worked cases on each side of a change
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Quoted:
    case: WorkedCase
    day: dt.date
    boundary: bool  # the case names one of the change's ids in its source


def _case_finder(book: Rulebook) -> Callable[[Change], dict[str, Any]]:
    """For a change, the worked cases on each side: those whose decisions rely on any of its
    rules or presumptions (hocr.library.cases_by_rule), that name one of them in their source,
    or, for a classification or offence, that expect that classification or name that offence."""
    library = load_library()
    by_id = {c.id: c for c in library}
    relied = cases_by_rule(book, library)
    days = _CaseDays()

    def attach(change: Change) -> dict[str, Any]:
        ids = set(change.names)
        found: dict[str, bool] = {cid: False for name in ids for cid in relied.get(name, ())}
        for case in library:
            if _names_any(case.source, ids):
                found[case.id] = True
            elif case.id not in found and _shows(case, change):
                found[case.id] = False
        quoted = [_Quoted(by_id[cid], day, boundary) for cid, boundary in found.items()
                  if (day := days.of(by_id[cid])) is not None]
        return {"before": _side([q for q in quoted if q.day < change.date], change.date),
                "after": _side([q for q in quoted if q.day >= change.date], change.date)}

    return attach


def _names_any(text: str, ids: Iterable[str]) -> bool:
    return any(i in text and re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w-]|\.\w)", text) for i in ids)


def _shows(case: WorkedCase, change: Change) -> bool:
    """A case that expects one of the change's classifications, or whose act names its offence."""
    codes = {code for i in (*change.before, change.item) for code in i.codes}
    offences = {o for i in (*change.before, change.item) for o in i.offences}
    if offences:
        return any(_act_offence(act) in offences for act in case.incident.get("acts", []) or [])
    if codes:
        return any(isinstance(c, Mapping) and c.get("classification") in codes
                   for c in case.expect.get("crimes", []) or [])
    return False


def _act_offence(act: Any) -> tuple[str, str] | None:
    offence = act.get("offence") if isinstance(act, Mapping) else None
    if isinstance(offence, Mapping) and isinstance(offence.get("statute"), str) and isinstance(offence.get("section"), str):
        return offence_key(offence["statute"], offence["section"])
    return None


class _CaseDays:
    """The day each case is decided on: its as_of, else its report's date in London (as the
    engine takes it); None for a case whose incident is deliberately invalid."""

    def __init__(self) -> None:
        self._days: dict[str, dt.date | None] = {}

    def of(self, case: WorkedCase) -> dt.date | None:
        if case.id not in self._days:
            self._days[case.id] = case.as_of or self._report_day(case)
        return self._days[case.id]

    @staticmethod
    def _report_day(case: WorkedCase) -> dt.date | None:
        try:
            received: dt.datetime = check_incident(case.incident).facts["report"]["received_at"]
        except InvalidIncident:
            return None
        return received.astimezone(LONDON).date()


def _side(quoted: Sequence[_Quoted], day: dt.date) -> dict[str, Any]:
    """The cases of one side: how many, and the few most telling (boundary cases first, then the
    nearest to the change)."""
    chosen = sorted(quoted, key=lambda q: (not q.boundary, abs((q.day - day).days), q.case.id))[:CASES_PER_SIDE]
    return {"count": len(quoted),
            "cases": [{"id": q.case.id, "name": q.case.name, "date": q.day.isoformat()} for q in chosen]}


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------

_MARK = {"started": "+", "ended": "-", "changed": "~", "interim": "*"}


def render_text(result: Mapping[str, Any]) -> str:
    """The diff as a trainer's slide: a heading with the counts, then each section's changes,
    dated and cited, with the worked cases on each side when the diff has them."""
    lines = _heading(result)
    for group in result["groups"]:
        lines += ["", f"{group['title']} ({group['section']}): {_plural(group['count'], 'change')}"]
        previous = ""
        for entry in group["changes"]:
            lines += _entry_lines(entry, previous)
            previous = entry["citation"]
    return "\n".join(lines) + "\n"


def _heading(result: Mapping[str, Any]) -> list[str]:
    start, end = (dt.date.fromisoformat(result[k]) for k in ("from", "to"))
    counts = result["counts"]
    head = [f"What changed in the rules between {_day(start)} and {_day(end)}",
            f"{result['rulebook']['edition']}"]
    if not counts["total"]:
        return [*head, "No rule, classification, presumption or offence started, ended or changed."]
    by_change = ", ".join(f"{counts[k]} {k}" for k in CHANGES if counts[k])
    by_kind = ", ".join(_plural(n, k) for k, n in counts["by_kind"].items())
    return [*head, f"{_plural(counts['total'], 'change')}: {by_change} ({by_kind})."]


def _entry_lines(entry: Mapping[str, Any], previous_citation: str) -> list[str]:
    what = f"{entry['kind']} {entry['id']}"
    if entry["kind"] == "offence":
        what += f" (under {entry['classification']})"
    lines = [f"  {_MARK[entry['change']]} {_day(dt.date.fromisoformat(entry['date']))}: {_verb(entry)} {what}: "
             f"{entry['title']} [{entry['verification']}]"]
    for old in entry.get("before", []):
        lines.append(f"      replaces {old['id']}: {old['title']} (in force {_when(old['in_force'])})")
    for d in entry.get("differences", []):
        if d["field"] == "when":
            lines.append("      when it applies: changed (the conditions are in the JSON and the rule file)")
        elif d["field"] != "citation":
            lines.append(f"      {d['field']}: {_value(d['before'])} -> {_value(d['after'])}")
    cited = "same source as above" if entry["citation"] == previous_citation else entry["citation"]
    lines.append(f"      {cited}")
    if "cases" in entry:
        lines += [f"      cases {side}: {_cases(entry['cases'][side])}" for side in ("before", "after")]
    return lines


def _verb(entry: Mapping[str, Any]) -> str:
    if entry["change"] == "ended":
        return f"ended (last in force {_day(dt.date.fromisoformat(entry['in_force']['to']))})"
    if entry["change"] == "interim":
        return f"in force only until {_day(dt.date.fromisoformat(entry['in_force']['to']))}"
    return str(entry["change"])


def _cases(side: Mapping[str, Any]) -> str:
    if not side["count"]:
        return "none in the library"
    shown = "; ".join(f"{c['id']} ({c['date']}) {c['name']}" for c in side["cases"])
    more = side["count"] - len(side["cases"])
    return shown + (f"; and {more} more" if more else "")


def _when(span: Mapping[str, Any]) -> str:
    return f"{span['from']} to {span['to'] or 'now'}"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or "(none)"
    if isinstance(value, Mapping):
        return "; ".join(f"{k} {_value(v)}" for k, v in value.items()) or "(none)"
    return "(none)" if value in (None, "") else str(value)


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


__all__ = ["CHANGES", "FORMAT", "KINDS", "DiffRangeError", "changes", "check_range", "diff", "items", "parse_day",
           "render_text"]
