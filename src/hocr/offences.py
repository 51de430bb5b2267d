"""The offences in law a catalogue entry covers: those its own file names and, for the entries in
force on a Home Office list's date, every row of that list (``classifications/notifiable-offences.yaml``,
written by ``hocr rules import-offences``).

The loader calls :func:`hand_written` for each catalogue entry, :func:`unattached` to find rows
it cannot attach, and makes the rulebook's :class:`Catalogue`, which attaches the rows of a code
when it is first read; the engine asks :meth:`hocr.loader.Rulebook.codes_for_offence`, which
reads what these give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import Classification

WEEKS_PER_MONTH = 52 / 12


def offence_key(statute: str, section: str) -> tuple[str, str]:
    """How an offence is matched: letter case, runs of spaces and ``&`` for ``and`` do not count."""
    def fold(text: str) -> str:
        return " ".join(text.replace("&", " and ").split()).casefold()
    return (fold(statute), fold(section))


@dataclass(frozen=True)
class Offence:
    """One offence in law under one catalogue entry."""

    statute: str
    section: str
    description: str = ""
    max_months: float | None = None   # its own maximum, when known
    number: str = ""                  # the Home Office offence code (005/01), from the list
    mode: str = ""                    # I, E or S, from the list
    victim: str = ""                  # V, S or S/V, from the list
    in_force_from: dt.date | None = None
    in_force_to: dt.date | None = None
    row: int | None = None            # the list's row, for offences that come from it
    not_on_list: str = ""             # a hand-written offence's stated reason for differing from the list

    def key(self) -> tuple[str, str]:
        return offence_key(self.statute, self.section)

    def in_force(self, day: dt.date) -> bool:
        return (self.in_force_from is None or self.in_force_from <= day) and (self.in_force_to is None or day <= self.in_force_to)


@dataclass(frozen=True)
class OffenceList:
    """The Home Office list the rulebook holds: its citation, its date and its rows as written."""

    document: str
    edition: str
    section: str
    evidence: str
    as_of: dt.date
    rows: tuple[Mapping[str, Any], ...]
    file: str

    def source(self) -> dict[str, str]:
        return {"document": self.document, "edition": self.edition, "section": self.section, "evidence": self.evidence}


def hand_written(raw: Sequence[Mapping[str, Any]], months: Any) -> tuple[Offence, ...]:
    """A catalogue entry's own ``offences`` (``months`` turns a ``max_sentence`` into months)."""
    out = []
    for o in raw:
        span = o.get("in_force", {})
        out.append(Offence(
            statute=o["statute"], section=o["section"], description=o.get("description", ""),
            max_months=months(o["max_sentence"]) if "max_sentence" in o else None,
            in_force_from=_day(span.get("from")), in_force_to=_day(span.get("to")),
            not_on_list=o.get("not_on_list", ""),
        ))
    return tuple(out)


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def read_list(rel: str, data: Mapping[str, Any]) -> OffenceList:
    block = data["offence_list"]
    return OffenceList(document=block["document"], edition=block["edition"], section=block["section"],
                       evidence=block["evidence"], as_of=dt.date.fromisoformat(block["as_of"]),
                       rows=tuple(block["offences"]), file=rel)


def listed(row: Mapping[str, Any], months: Any) -> list[Offence]:
    """A list row as the offences it can be named by (one per statute and section)."""
    maximum = months(row["max_sentence"]) if row.get("max_sentence") is not None else None
    return [Offence(statute=n["statute"], section=n["section"], description=row["offence"], max_months=maximum,
                    number=row["number"], mode=row["mode"], victim=row["victim"],
                    in_force_from=_day(row.get("commenced")), row=row["row"])
            for n in row.get("names", ())]


def unattached(classifications: Mapping[str, Sequence[Classification]], offence_list: OffenceList) -> list[tuple[int, str]]:
    """(row, problem) pairs for the list's rows whose code has no catalogue entry in force on the
    list's date (such a row cannot be attached), in the list's order."""
    problems: list[tuple[int, str]] = []
    for row in offence_list.rows:
        code = row.get("code")
        if code is not None and _entry_on_list_date(classifications.get(code, ()), offence_list) is None:
            problems.append((row["row"], f"list row {row['row']}: classification {code!r} has no catalogue entry in force on {offence_list.as_of}"))
    return problems


def _entry_on_list_date(entries: Sequence[Classification], offence_list: OffenceList) -> int | None:
    return next((i for i, c in enumerate(entries) if c.in_force(offence_list.as_of)), None)


class Catalogue(Mapping[str, "tuple[Classification, ...]"]):
    """The catalogue by code: each code's entries in order of start, with the Home Office list's
    rows attached to the entry in force on the list's date (and that entry given each row's
    maximum for the offence: Annex C ranks offences, so where several rows of one entry share a
    statute and section, the highest maximum).

    A code's entries are made, and its rows attached, when the code is first asked for: making
    the offences of every row of the list was a quarter of a warm load, and checking one
    incident reads a few codes. Each code's tuple is made once (two threads asking at once keep
    the same one), so the mapping reads as an immutable one; iterating it gives the codes in the
    order they were declared."""

    def __init__(self, codes: Sequence[str], declared: Callable[[str], Sequence[Classification]],
                 offence_list: OffenceList | None, months: Callable[[Any], float]):
        self._codes = dict.fromkeys(codes)  # in the order declared
        self._declared = declared  # a code's entries as its files declare them
        self._list = offence_list
        self._months = months
        self._rows: dict[str, list[Mapping[str, Any]]] = {}
        for row in offence_list.rows if offence_list is not None else ():
            code = row.get("code")
            if code is not None:
                self._rows.setdefault(code, []).append(row)
        self._made: dict[str, tuple[Classification, ...]] = {}

    def __getitem__(self, code: str) -> tuple[Classification, ...]:
        made = self._made.get(code)
        if made is None:
            if code not in self._codes:
                raise KeyError(code)
            made = self._made.setdefault(code, self._make(self._declared(code), self._rows.get(code, ())))
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def _make(self, declared: Sequence[Classification], rows: Sequence[Mapping[str, Any]]) -> tuple[Classification, ...]:
        entries = list(declared)
        at = _entry_on_list_date(entries, self._list) if rows and self._list is not None else None
        if at is not None:
            entries[at] = _with_rows(entries[at], [o for row in rows for o in listed(row, self._months)])
        return tuple(sorted(entries, key=lambda c: c.in_force_from))


def _with_rows(entry: Classification, offences: Sequence[Offence]) -> Classification:
    """``entry`` with the list's offences added, and their maxima where they rank the offence."""
    maxima = dict(entry.offence_maxima)
    for o in offences:
        if o.max_months is not None:
            key = o.key()
            maxima[key] = max(maxima.get(key, 0.0), o.max_months)
    return replace(entry, offence_entries=entry.offence_entries + tuple(offences), offence_maxima=maxima)
