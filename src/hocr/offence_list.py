"""The Home Office notifiable offences list: read it, clean it, write it as catalogue data, compare.

``hocr rules import-offences FILE`` reads the list as published (the ``.ods`` spreadsheet, sheet
``Notifiable_Offences_``) or as a CSV of that sheet, normalises its messy cells (saying what it
changed), writes the rulebook's generated data file ``classifications/notifiable-offences.yaml``
and prints what the new list changes against the rulebook: classes added or gone, offences
moved, maxima, modes and victim/state markings changed.

Nothing here knows an offence: the codes, offences and dates are the list's. This module only
knows the list's columns and the shapes of its cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path("classifications") / "notifiable-offences.yaml"
SHEET = "Notifiable_Offences_"
DOCUMENT = "Home Office notifiable offences list"

# The list's columns (CSV header or the sheet's first row) and the name each has here.
COLUMNS: Mapping[str, str] = {
    "Class": "category",
    "Sub class": "subclass",
    "Offence category": "class",
    "Offence": "offence",
    "Act": "act",
    "Section": "section",
    "Home Office code": "number",
    "Mode": "mode",
    "Max Sentence": "max_sentence",
    "Victim or State Based": "victim",
    "Current": "current",
    "Year added/amended/deleted": "year",
    "Commencement date": "commenced",
    "Cessation date": "ceased",
    "Comment": "comment",
}
REQUIRED = ("Offence category", "Offence", "Act", "Section", "Home Office code", "Mode", "Max Sentence",
            "Victim or State Based")
MODES = {"I": "indictable only", "E": "either way", "S": "summary only"}
VICTIM = ("V", "S", "S/V")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


class ListError(ValueError):
    """The file is not a list this reader understands; each problem names the row and column."""

    def __init__(self, path: Path, problems: Sequence[str]):
        self.path = path
        self.problems = tuple(problems)
        super().__init__(f"{path.name}: " + "; ".join(self.problems[:5]) + (" ..." if len(self.problems) > 5 else ""))


@dataclass(frozen=True)
class Fix:
    """One change the reader made to a cell, so that it can be said."""

    row: int
    column: str
    before: str
    after: str
    kind: str


@dataclass(frozen=True)
class ListRow:
    """One offence row of the list, cleaned."""

    row: int                      # the row in the file (the header is row 1)
    category: str                 # the list's Class column (e.g. "Violence Against The Person")
    code: str | None              # the classification code, None when the row names no single one
    class_name: str               # the classification's name as the list gives it
    offence: str
    act: str
    section: str
    names: tuple[tuple[str, str], ...]  # (statute, section) pairs an incident can name it by
    number: str                   # the Home Office offence code, e.g. 005/01
    mode: str                     # I, E or S
    max_sentence: Any             # life, fine, {years|months|weeks: n}, or None when the list gives '?'
    victim: str                   # V, S or S/V
    year: str                     # 'Year added/amended/deleted' as given (Apr-23, 2015)
    commenced: str | None         # ISO date
    comment: str
    note: str = ""                # why the row cannot be named or placed, when it cannot

    def identity(self) -> tuple[str, str, str, str]:
        """What makes a row the same offence in two editions (its class aside)."""
        return (self.number, _fold(self.offence), _fold(self.act), _fold(self.section))


@dataclass
class ParsedList:
    path: Path
    rows: list[ListRow]
    fixes: list[Fix] = field(default_factory=list)

    def codes(self) -> dict[str, str]:
        """Each classification code on the list and its name (the first spelling seen)."""
        out: dict[str, str] = {}
        for r in self.rows:
            if r.code is not None:
                out.setdefault(r.code, r.class_name)
        return out


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


# --------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------


def read_cells(path: Path) -> list[list[str]]:
    """The sheet's rows as text cells: a CSV as it is, an ``.ods`` (or ``.xlsx``) through
    python-calamine, sheet ``Notifiable_Offences_`` when present, else the first sheet."""
    suffix = path.suffix.casefold()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return [list(r) for r in csv.reader(f)]
    if suffix in (".ods", ".xlsx", ".xls"):
        return _spreadsheet_cells(path)
    raise ListError(path, [f"unknown file type {path.suffix!r}: expected .ods, .xlsx or .csv"])


def _spreadsheet_cells(path: Path) -> list[list[str]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # the reader raises its own error types for broken files
        raise ListError(path, [f"not a readable spreadsheet ({type(exc).__name__})"]) from None
    names = list(book.sheet_names)
    if not names:
        raise ListError(path, ["the spreadsheet has no sheets"])
    sheet = book.get_sheet_by_name(SHEET if SHEET in names else names[0])
    return [[_cell_text(v) for v in row] for row in sheet.to_python(skip_empty_area=False)]


def _cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def parse(path: Path) -> ParsedList:
    """Read and clean the list at ``path``. Raises :class:`ListError` naming every bad cell."""
    cells = read_cells(path)
    if not cells:
        raise ListError(path, ["the file is empty"])
    header = [h.strip() for h in cells[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ListError(path, [f"row 1: missing column {', '.join(repr(m) for m in missing)} "
                               f"(expected the columns of sheet {SHEET}: {', '.join(COLUMNS)})"])
    index = {COLUMNS[h]: i for i, h in enumerate(header) if h in COLUMNS}
    parsed = ParsedList(path, [])
    problems: list[str] = []
    for n, raw in enumerate(cells[1:], start=2):
        if not any(c.strip() for c in raw):
            continue
        cell = {name: (raw[i] if i < len(raw) else "") for name, i in index.items()}
        try:
            parsed.rows.append(_row(n, cell, parsed.fixes))
        except _CellError as exc:
            problems.append(f"row {n}, column {exc.column!r}: {exc.message}")
    if problems:
        raise ListError(path, problems)
    if not parsed.rows:
        raise ListError(path, ["no offence rows after the header"])
    return parsed


class _CellError(ValueError):
    def __init__(self, column: str, message: str):
        self.column = column
        self.message = message
        super().__init__(message)


_HEADER_OF = {v: k for k, v in COLUMNS.items()}


def _clean(n: int, column: str, text: str, fixes: list[Fix]) -> str:
    """The cell with its spaces trimmed and runs of spaces or line breaks made one space."""
    out = re.sub(r"\s+", " ", text).strip()
    if out != text:
        kind = "line break removed" if "\n" in text else "spaces trimmed"
        fixes.append(Fix(n, _HEADER_OF[column], text, out, kind))
    return out


def _row(n: int, cell: Mapping[str, str], fixes: list[Fix]) -> ListRow:
    raw_act = cell.get("act", "")
    text = {k: _clean(n, k, v, fixes) for k, v in cell.items() if k != "act"}
    act = _clean(n, "act", raw_act, fixes)
    code, class_name, note = _class_of(n, text["class"], fixes)
    number = text["number"]
    if not re.fullmatch(r"\d{3}/\d{2}", number):
        raise _CellError("Home Office code", f"{number!r} is not an offence number like 005/01")
    mode = _upper(n, "mode", text["mode"], fixes)
    if mode not in MODES:
        raise _CellError("Mode", f"{text['mode']!r} is not I, E or S")
    victim = _upper(n, "victim", text["victim"], fixes)
    if victim not in VICTIM:
        raise _CellError("Victim or State Based", f"{text['victim']!r} is not V, S or S/V")
    names, name_note = offence_names(raw_act, text["section"], text["offence"])
    return ListRow(
        row=n, category=text.get("category", ""), code=code, class_name=class_name, offence=text["offence"],
        act=act, section=text["section"], names=names, number=number, mode=mode,
        max_sentence=_sentence(n, text["max_sentence"], fixes), victim=victim, year=text.get("year", ""),
        commenced=_date(n, text.get("commenced", ""), fixes), comment=text.get("comment", ""),
        note="; ".join(x for x in (note, name_note) if x),
    )


def _upper(n: int, column: str, text: str, fixes: list[Fix]) -> str:
    out = text.upper()
    if out != text:
        fixes.append(Fix(n, _HEADER_OF[column], text, out, "letter case"))
    return out


def _class_of(n: int, text: str, fixes: list[Fix]) -> tuple[str | None, str, str]:
    """The code and name of 'Offence category' (``8N Assault with injury``, ``NFIB 90 Other ...``)."""
    m = re.match(r"^(NFIB)\s*(\w+)\s+(.*)$", text) or re.match(r"^(\d+[A-Z]?(?:/\d+)?)()\s+(.*)$", text)
    if m is None:
        why = f"the list names no single classification ({text!r})" if text else "the list gives no classification"
        return None, text, why
    code = (m.group(1) + m.group(2)).upper()
    written = text.split(" ", 1)[0] if not m.group(2) else text[: m.end(2)]
    if code != written:
        fixes.append(Fix(n, "Offence category", written, code, "code spacing"))
    return code, m.group(3).strip(), ""


def _sentence(n: int, text: str, fixes: list[Fix]) -> Any:
    t = text.casefold()
    if t == "life":
        return "life"
    if t == "fine":
        return "fine"
    if t == "?":
        fixes.append(Fix(n, "Max Sentence", text, "unknown", "unknown maximum"))
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|months?|weeks?|years?)?", t)
    if m is None:
        raise _CellError("Max Sentence", f"{text!r} is not a maximum (expected years, Nm, N weeks, life, fine or ?)")
    value = float(m.group(1))
    number: float | int = int(value) if value.is_integer() else value
    unit = (m.group(2) or "years")[0]
    return {{"y": "years", "m": "months", "w": "weeks"}[unit]: number}


def _date(n: int, text: str, fixes: list[Fix]) -> str | None:
    if not text:
        return None
    if text.casefold() in ("tbc", "n/a", "-", "?"):
        fixes.append(Fix(n, "Commencement date", text, "unknown", "date not given"))
        return None
    for fmt in ("%Y-%m-%d", "%A, %B %d, %Y", "%d-%b-%y", "%d %B %Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise _CellError("Commencement date", f"{text!r} is not a date")


def year_month(text: str) -> dt.date | None:
    """The first day of a 'Year added' cell (``Apr-23`` -> 2023-04-01); None for a bare year or nothing."""
    m = re.fullmatch(r"([A-Za-z]{3})-(\d{2})", text.strip())
    if m is None or m.group(1).casefold() not in _MONTHS:
        return None
    return dt.date(2000 + int(m.group(2)), _MONTHS[m.group(1).casefold()], 1)


# --------------------------------------------------------------------------------------------
# Act and section -> the (statute, section) names an incident can use
# --------------------------------------------------------------------------------------------

_AMENDING_TAIL = re.compile(r"\b(?:as (?:added|amended|inserted|substituted|extended)|inserted by|amended by|added by)\b", re.I)
_ANOTHER_ACT = re.compile(r"\b(?!(?:Secs?|SS?|Sch)\b)[A-Z][\w’'(),&\- ]*? (?:Act|Order|Regulations|Rules) \d{4}\b")
_ACT_HEAD = re.compile(r"^(.*?(?:\b\d{4}\b|Common Law|Various))(.*)$", re.I)


def offence_names(act_cell: str, section_cell: str, offence: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """The (statute, section) pairs a row can be named by, and why there are none when there are none.

    The Act cell may hold several acts (separated by line breaks or long runs of spaces), some
    with their own sections; the Section cell belongs to the last act without one. A common-law
    offence is named by its description on the list (``Common law`` + ``Murder of persons ...``)."""
    pieces = [p.strip() for p in re.split(r"\s{3,}|\n", act_cell) if p.strip()]
    # A piece that names no act ("as amended") belongs to the act before it; it is not an act.
    parts = [p for i, p in enumerate(pieces) if i == 0 or _ACT_HEAD.match(p)]
    heads = [_ACT_HEAD.match(p) for p in parts]
    owns = [m.group(2).strip() if m and re.search(r"\d", m.group(2)) else "" for m in heads]
    last = max((i for i in range(len(parts)) if not _is_common_law(parts[i]) and not owns[i]), default=None)
    names: list[tuple[str, str]] = []
    for i, part in enumerate(parts):
        m = heads[i]
        statute = statute_name(m.group(1) if m else part)
        own = owns[i]
        if _is_common_law(statute):
            names.append(("Common law", re.sub(r"\s+", " ", offence).strip()))
            continue
        if statute.casefold() == "various":
            continue
        for s in sections_of(own if own else (section_cell if i == last else "")):
            names.append((statute, s))
    unique = tuple(dict.fromkeys(names))
    why = "" if unique else "the list gives no section an incident could name it by"
    return unique, why


def statute_name(text: str) -> str:
    """An act's name as incidents write it: one space between words, ``and`` for ``&``
    (``Crime & Disorder Act 1998`` -> ``Crime and Disorder Act 1998``)."""
    return re.sub(r"\s+", " ", text.replace("&", " and ")).strip()


def _is_common_law(text: str) -> bool:
    return text.strip().casefold().startswith("common law")


def sections_of(cell: str) -> tuple[str, ...]:
    """The section numbers a Section cell gives (``Sec 52. 53 & 55`` -> 52, 53, 55; ``Sec 75(A) (1)`` -> 75A)."""
    text = re.sub(r"\s+", " ", cell).strip()
    if not text or text.casefold().startswith("except"):
        return ()
    head = _AMENDING_TAIL.split(text, maxsplit=1)[0]
    head = _ANOTHER_ACT.split(head, maxsplit=1)[0]
    found = _numbers(head)
    if not found:
        # "as inserted by Sch.1 ... S.251O": the section is the one the amending act inserted.
        found = [m.group(1) for m in re.finditer(r"\bS\.?\s?(\d+[A-Z]{0,2})\b", text)]
    return tuple(dict.fromkeys(found))


def _numbers(text: str) -> list[str]:
    t = re.sub(r"(\d)\s*\(([A-Z])\)", r"\1\2", text)   # 75(A) -> 75A
    t = re.sub(r"\b(\d+) ([A-Z]{1,3})(?=\b|\()", r"\1\2", t)   # 139 AA -> 139AA, 3 A(1) -> 3A
    t = re.sub(r"\b(\d+)([a-z])\b", lambda m: m.group(1) + m.group(2).upper(), t)  # 19b -> 19B
    while re.search(r"\([^()]*\)", t):
        t = re.sub(r"\([^()]*\)", " ", t)              # subsections and paragraphs
    t = re.sub(r"\b(?:Sch|Schedule|para|paras|Part|Pt)\.?\s*\d+\w*", " ", t, flags=re.I)
    out: list[str] = []
    for m in re.finditer(r"(?<![\d/])(\d+[A-Z]{0,3})(?:\s*(?:-|to)\s*(\d+)(?![\dA-Z]))?(?![\w/])", t):
        start, end = m.group(1), m.group(2)
        if end and start.isdigit() and 0 < int(end) - int(start) <= 30:
            out += [str(k) for k in range(int(start), int(end) + 1)]
        else:
            out += [start] + ([end] if end else [])
    return out


# --------------------------------------------------------------------------------------------
# The generated data file
# --------------------------------------------------------------------------------------------


def edition_of(path: Path) -> str:
    """``April 2026`` from a file named like ``...-april-2026.csv``; empty when the name gives none."""
    m = re.search(r"(january|february|march|april|may|june|july|august|september|october|november|december)[-_ ]?(\d{4})",
                  path.name, re.I)
    return f"{m.group(1).title()} {m.group(2)}" if m else ""


def as_of(edition: str) -> dt.date:
    """The first day of the edition's month (``April 2026`` -> 2026-04-01)."""
    return dt.datetime.strptime(edition, "%B %Y").date()


def row_record(r: ListRow) -> dict[str, Any]:
    """One row as the data file holds it."""
    out: dict[str, Any] = {
        "row": r.row, "code": r.code, "class": r.class_name, "offence": r.offence, "act": r.act, "section": r.section,
        "names": [{"statute": s, "section": n} for s, n in r.names], "number": r.number, "mode": r.mode,
        "max_sentence": r.max_sentence, "victim": r.victim,
    }
    for key, value in (("year", r.year), ("commenced", r.commenced), ("comment", r.comment), ("note", r.note)):
        if value:
            out[key] = value
    return out


def render_data(parsed: ParsedList, edition: str, evidence: str) -> str:
    """The text of ``classifications/notifiable-offences.yaml`` for a parsed list."""
    doc = {
        "file": (f"GENERATED by `hocr rules import-offences` from the {DOCUMENT}, {edition}: every offence row, cleaned. "
                 "Do not edit by hand: import the next edition instead (docs/rule-format.md, section 12)."),
        "offence_list": {
            "document": DOCUMENT, "edition": edition, "section": f"sheet {SHEET}", "evidence": evidence,
            "as_of": as_of(edition).isoformat(),
            "offences": [row_record(r) for r in parsed.rows],
        },
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


# --------------------------------------------------------------------------------------------
# What a new edition changes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str          # class added, class gone, offence added, offence gone, offence moved, maximum, mode, victim/state, name
    code: str
    text: str
    rows: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code, "text": self.text, "rows": list(self.rows)}


def sentence_words(s: Any) -> str:
    if s is None:
        return "unknown"
    if isinstance(s, str):
        return s
    (unit, n), = s.items()
    return f"{n:g} {unit}"


def compare(old: Iterable[Mapping[str, Any]], new: ParsedList, class_codes: Iterable[str]) -> list[Change]:
    """What ``new`` changes against the rows the rulebook holds (``old``, as the data file has
    them) and the codes its catalogue has in force on the new edition's date (``class_codes``)."""
    changes = _class_changes(old, new, set(class_codes))
    before: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for o in old:
        before.setdefault(_identity(o), []).append(o)
    after: dict[tuple[str, ...], list[ListRow]] = {}
    for r in new.rows:
        after.setdefault(r.identity(), []).append(r)
    for key in sorted(set(before) | set(after)):
        changes += _offence_changes(key, before.get(key, []), after.get(key, []))
    return changes


def _identity(o: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (o["number"], _fold(o["offence"]), _fold(o["act"]), _fold(o["section"]))


def _class_changes(old: Iterable[Mapping[str, Any]], new: ParsedList, catalogue: set[str]) -> list[Change]:
    was: dict[str, str] = {}
    for o in old:
        if o["code"]:
            was.setdefault(o["code"], o["class"])
    now = new.codes()
    out = [Change("class added", c, f"{c} {now[c]}: on the list, not in force in the catalogue")
           for c in sorted(set(now) - (set(was) | catalogue))]
    out += [Change("class added", c, f"{c} {now[c]}: new on the list (the catalogue has an entry)")
            for c in sorted((set(now) - set(was)) & catalogue)]
    out += [Change("class gone", c, f"{c} {was[c]}: no longer on the list") for c in sorted(set(was) - set(now))]
    out += [Change("name", c, f"{c}: {was[c]!r} -> {now[c]!r}") for c in sorted(set(was) & set(now))
            if _fold(was[c]) != _fold(now[c])]
    return out


def _offence_changes(key: tuple[str, ...], old: Sequence[Mapping[str, Any]], new: Sequence[ListRow]) -> list[Change]:
    label = f"{key[0]} {new[0].offence if new else old[0]['offence']}"
    old_codes = sorted({o["code"] or "-" for o in old})
    new_codes = sorted({r.code or "-" for r in new})
    rows = tuple(r.row for r in new)
    if not old:
        return [Change("offence added", c, f"{label}: added under {c}", rows) for c in new_codes]
    if not new:
        return [Change("offence gone", c, f"{label}: no longer under {c}", tuple(o["row"] for o in old)) for c in old_codes]
    out: list[Change] = []
    if old_codes != new_codes:
        out.append(Change("offence moved", ",".join(new_codes),
                          f"{label}: under {', '.join(old_codes)} -> under {', '.join(new_codes)}", rows))
    by_code = {o["code"] or "-": o for o in old}
    for r in new:
        o = by_code.get(r.code or "-")
        if o is None:
            continue
        for kind, was, now in (("maximum", sentence_words(o["max_sentence"]), sentence_words(r.max_sentence)),
                               ("mode", o["mode"], r.mode), ("victim/state", o["victim"], r.victim)):
            if was != now:
                out.append(Change(kind, r.code or "-", f"{label} ({r.code}): {kind} {was} -> {now}", (r.row,)))
    return out


def fix_summary(fixes: Sequence[Fix]) -> list[dict[str, Any]]:
    """The reader's changes grouped by kind: how many cells, and a few examples with their rows."""
    groups: dict[str, list[Fix]] = {}
    for f in fixes:
        groups.setdefault(f.kind, []).append(f)
    return [{"kind": kind, "cells": len(fs),
             "examples": [{"row": f.row, "column": f.column, "before": f.before, "after": f.after} for f in fs[:3]]}
            for kind, fs in sorted(groups.items())]


def shared_numbers(parsed: ParsedList) -> list[dict[str, Any]]:
    """Offence numbers the list repeats under several classes (OAPA 1861 s18 under 5D, 8S and 8T)."""
    codes: dict[str, set[str]] = {}
    for r in parsed.rows:
        if r.code:
            codes.setdefault(r.number, set()).add(r.code)
    return [{"number": n, "codes": sorted(cs)} for n, cs in sorted(codes.items()) if len(cs) > 1]


# --------------------------------------------------------------------------------------------
# The import, as `hocr rules import-offences` runs it
# --------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    parsed: ParsedList
    edition: str
    changes: list[Change]
    written: Path | None
    data: str

    def as_json(self) -> dict[str, Any]:
        p = self.parsed
        return {
            "file": p.path.name, "edition": self.edition, "rows": len(p.rows), "classes": len(p.codes()),
            "normalised": fix_summary(p.fixes),
            "shared_numbers": shared_numbers(p),
            "unplaced": [{"row": r.row, "number": r.number, "note": r.note} for r in p.rows if r.note],
            "changes": [c.as_json() for c in self.changes],
            "written": str(self.written) if self.written else None,
        }


def run_import(book: Any, path: Path, *, edition: str | None = None, evidence: str | None = None,
               out: Path | None = None, write: bool = False) -> ImportResult:
    """Read the list at ``path``, compare it with ``book`` and (with ``out`` or ``write``) write the
    data file. Raises :class:`ListError` for a file that cannot be read as the list."""
    parsed = parse(path)
    edition = edition or edition_of(path)
    if not edition:
        raise ListError(path, ["the file name gives no edition (like april-2026): give --edition 'April 2026'"])
    try:
        day = as_of(edition)
    except ValueError:
        raise ListError(path, [f"--edition {edition!r} is not a month and year like 'April 2026'"]) from None
    held = book.offence_list
    if evidence is None:
        evidence = held.evidence if held is not None and held.edition == edition else f"read from {path.name} by hocr rules import-offences"
    old = held.rows if held is not None else ()
    codes = [code for code, entries in book.classifications.items() if any(c.in_force(day) for c in entries)]
    changes = compare(old, parsed, codes)
    data = render_data(parsed, edition, evidence)
    target = out if out is not None else (book.root / DATA_FILE if write else None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data, encoding="utf-8")
    return ImportResult(parsed, edition, changes, target, data)


def render_import(result: ImportResult) -> str:
    """The import's report in words."""
    p = result.parsed
    lines = [f"{DOCUMENT}, {result.edition}: {p.path.name}, {len(p.rows)} offence rows in {len(p.codes())} classifications", ""]
    lines.append("Normalised cells:" if p.fixes else "Normalised cells: none")
    for g in fix_summary(p.fixes):
        ex = "; ".join(f"row {e['row']} {e['column']}: {e['before']!r} -> {e['after']!r}" for e in g["examples"][:2])
        lines.append(f"  {g['kind']}: {g['cells']} cell{'s' if g['cells'] != 1 else ''} (e.g. {ex})")
    shared = shared_numbers(p)
    if shared:
        lines.append(f"Offence numbers under several classes: {len(shared)} (e.g. "
                     + "; ".join(f"{s['number']} under {', '.join(s['codes'])}" for s in shared[:3]) + ")")
    unplaced = [r for r in p.rows if r.note]
    if unplaced:
        lines.append(f"Rows that cannot be named by act and section, or have no single class: {len(unplaced)} "
                     f"(e.g. row {unplaced[0].row} {unplaced[0].number}: {unplaced[0].note})")
    lines.append("")
    if not result.changes:
        lines.append("No changes against the rulebook.")
    else:
        lines.append(f"Changes against the rulebook ({len(result.changes)}):")
        for c in result.changes:
            where = f" [row {', '.join(map(str, c.rows))}]" if c.rows else ""
            lines.append(f"  {c.kind}: {c.text}{where}")
    if result.written is not None:
        lines += ["", f"Wrote {result.written}"]
    return "\n".join(lines) + "\n"
