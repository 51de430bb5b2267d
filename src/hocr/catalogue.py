"""The catalogue of classifications, for people and machines: list, show and render.

Pure functions over a loaded :class:`~hocr.loader.Rulebook`. Nothing here knows any offence: the
entries, their categories, tags and dates all come from the rule files
(``rules/classifications/*/catalogue.yaml``). ``hocr rules list`` and ``hocr rules show`` print what
these functions return; ``docs/classifications.md`` is :func:`render_catalogue`.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import code_order
from .loader import LIFE_MONTHS, Classification, Rule, Rulebook, citation
from .offences import Offence

VERIFICATION_ORDER = ("verified", "secondary", "unverified")
REFERENCE_FILE = Path("classifications") / "reference-list.csv"
DATA_FILE_NAME = "classifications/notifiable-offences.yaml"


def slug(text: str) -> str:
    """A category's folder name: lower case, words joined by hyphens (``Possession of Weapons`` -> ``possession-of-weapons``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def all_entries(book: Rulebook) -> list[Classification]:
    """Every catalogue entry (every dated period of every code), by category, then code, then date."""
    cats = categories(book)
    entries = [c for classes in book.classifications.values() for c in classes]
    return sorted(entries, key=lambda c: (cats.index(c.category), code_order(c.code), c.in_force_from))


def categories(book: Rulebook) -> list[str]:
    """The categories, in the order of the rule files that hold them (the first file naming each)."""
    seen: dict[str, tuple[int, str, int]] = {}
    files = {f: i for i, f in enumerate(book.files)}
    for classes in book.classifications.values():
        for c in classes:
            key = (files.get(c.file, len(files)), c.file, c.line)
            if c.category not in seen or key < seen[c.category]:
                seen[c.category] = key
    return sorted(seen, key=lambda name: seen[name])


def resolve_category(book: Rulebook, text: str) -> str | None:
    """The category named by ``text``: its name in any letter case, or its folder slug."""
    want = text.strip().casefold()
    for name in categories(book):
        if want in (name.casefold(), slug(name)):
            return name
    return None


def entries(
    book: Rulebook,
    day: dt.date,
    *,
    category: str | None = None,
    include_all: bool = False,
) -> list[Classification]:
    """The entries in force on ``day`` (or, with ``include_all``, every period of every code)."""
    chosen = all_entries(book)
    if not include_all:
        chosen = [c for c in chosen if c.in_force(day)]
    if category is not None:
        chosen = [c for c in chosen if c.category == category]
    return chosen


def offence_text(statute: str, section: str) -> str:
    """``Theft Act 1968 s9``; a section that is not a number is written as is (``Common law murder``)."""
    return f"{statute} s{section}" if section[:1].isdigit() else f"{statute} {section}"


def period(c: Classification) -> str:
    """The dates an entry is in force, in words."""
    return f"from {c.in_force_from}" + (f" to {c.in_force_to}" if c.in_force_to else "")


def summary(c: Classification) -> dict[str, Any]:
    """One entry as a JSON object (the rows of ``hocr rules list --json``)."""
    return {
        "code": c.code,
        "name": c.name,
        "category": c.category,
        "group": c.group,
        "victim_based": c.victim_based,
        "max_sentence": c.sentence_text(),
        "max_sentence_months": c.max_sentence_months,
        "counting_unit": c.counting_unit,
        "tags": list(c.tags),
        "in_force": {"from": c.in_force_from.isoformat(), "to": c.in_force_to.isoformat() if c.in_force_to else None},
        "verification": c.verification,
    }


# --------------------------------------------------------------------------------------------
# show
# --------------------------------------------------------------------------------------------


class UnknownCode(LookupError):
    """A code the catalogue does not have; ``suggestions`` are the nearest codes it does have."""

    def __init__(self, code: str, suggestions: Sequence[str]):
        self.code = code
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"no classification {code!r} in the catalogue{hint}")


def find_code(book: Rulebook, code: str) -> str:
    """The catalogue's spelling of ``code`` (matched without regard to letter case or a ``.`` for ``/``)."""
    want = code.strip().upper().replace(".", "/")
    if want in book.classifications:
        return want
    raise UnknownCode(code, suggest(book, want))


def suggest(book: Rulebook, code: str, limit: int = 5) -> list[str]:
    """Codes near ``code``: spelling neighbours first, then codes sharing its leading number."""
    codes = sorted(book.classifications, key=code_order)
    near = difflib.get_close_matches(code, codes, n=limit, cutoff=0.5)
    number = re.match(r"\d+", code)
    if number:
        near += [c for c in codes if re.match(rf"{number.group()}(?!\d)", c) and c not in near]
    return near[:limit]


@dataclass(frozen=True)
class RuleMention:
    """A rule whose conditions, table or conclusion name a classification (by code, tag or category)."""

    rule: Rule
    via: tuple[str, ...]  # what it names: "code 8N", "tag burglary", "category Burglary"


def _scalars(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield str(k)
            yield from _scalars(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _scalars(v)
    elif node is not None and not isinstance(node, bool):
        yield str(node)


def mentions(book: Rulebook, code: str) -> list[RuleMention]:
    """The rules that name ``code``, one of its tags (tested as ``classification.tags``) or its category
    (tested as ``classification.category``), found by reading each rule's ``when``, ``table`` and
    ``then`` as written. Ordered by decision (pipeline order), then rule id."""
    tags: set[str] = set()
    cats: set[str] = set()
    for c in book.classifications.get(code, ()):
        tags.update(c.tags)
        cats.add(c.category)
    found = []
    for rule in book.rules.values():
        words = [w for part in ("when", "table", "then") for w in _scalars(rule.raw.get(part))]
        present = set(words)
        via = []
        if code in present:
            via.append(f"code {code}")
        if "classification.tags" in present:
            via += [f"tag {t}" for t in sorted(tags & present)]
        if "classification.category" in present:
            via += [f"category {c}" for c in sorted(cats & present)]
        if via:
            found.append(RuleMention(rule, tuple(via)))
    order = {d.name: i for i, ds in enumerate(book.order.values()) for d in ds}
    return sorted(found, key=lambda m: (order.get(m.rule.decision, len(order)), m.rule.id))


def show(book: Rulebook, code: str, day: dt.date) -> dict[str, Any]:
    """Everything the catalogue and the rules say about one code (``hocr rules show CODE --json``).

    ``current`` is the entry in force on ``day`` (``None`` if the code is not in force then);
    ``periods`` lists every dated entry of the code. Raises :class:`UnknownCode`.
    """
    code = find_code(book, code)
    periods = book.classifications[code]
    current = book.classification(code, day)
    shown = current or periods[-1]
    counting = book.pipeline.get("count_key")
    rules = mentions(book, code)

    def ref(m: RuleMention) -> dict[str, Any]:
        r = m.rule
        return {
            "id": r.id, "decision": r.decision, "title": r.title, "names": list(m.via),
            "in_force": {"from": r.in_force_from.isoformat(), "to": r.in_force_to.isoformat() if r.in_force_to else None},
            "in_force_on_date": r.in_force(day), "citation": r.citation, "verification": r.verification,
            "file": f"{r.file}:{r.line}",
        }

    return {
        "code": code,
        "as_of": day.isoformat(),
        "in_force_on_date": current is not None,
        "name": shown.name,
        "category": shown.category,
        "group": shown.group,
        "victim_based": shown.victim_based,
        "max_sentence": shown.sentence_text(),
        "max_sentence_months": shown.max_sentence_months,
        "counting_unit": shown.counting_unit,
        "tags": list(shown.tags),
        "offences": [_offence(shown, o) for o in shown.offence_entries],
        "verification": shown.verification,
        "citation": citation(shown.sources),
        "sources": [dict(s) for s in shown.sources],
        "notes": shown.notes,
        "file": f"{shown.file}:{shown.line}",
        "periods": [
            {**summary(c), "file": f"{c.file}:{c.line}"} for c in periods
        ],
        "counting_rules": [ref(m) for m in rules if m.rule.decision == counting],
        "other_rules": [ref(m) for m in rules if m.rule.decision != counting],
    }


def render_show(info: Mapping[str, Any]) -> str:
    """``hocr rules show`` as text."""
    state = "in force" if info["in_force_on_date"] else "NOT in force"
    out = [
        f"{info['code']}  {info['name']}",
        f"  category:       {info['category']}" + (f" (ONS group: {info['group']})" if info["group"] else ""),
        f"  kind:           {'crime with a victim' if info['victim_based'] else 'crime against the state (no victim)'}",
        f"  max sentence:   {info['max_sentence']} (as of {info['as_of']}; {state} on that date)",
        f"  counting unit:  {info['counting_unit'] or '-'}",
    ]
    if info["tags"]:
        out.append(f"  tags:           {', '.join(info['tags'])}")
    out.append(f"  verification:   {info['verification']}")
    out += ["", "In force:"]
    for p in info["periods"]:
        to = p["in_force"]["to"]
        span = f"from {p['in_force']['from']}" + (f" to {to}" if to else "")
        out.append(f"  {span}: {p['name']}; max {p['max_sentence']}; {p['verification']} ({p['file']})")
    out += ["", "Offences covered:"]
    out += [_offence_line(o) for o in info["offences"]] or ["  (none listed)"]
    for title, key in (("Counting rules naming it", "counting_rules"), ("Other rules naming it", "other_rules")):
        out += ["", f"{title}:"]
        if not info[key]:
            out.append("  (none: the general rules for its kind apply)" if key == "counting_rules" else "  (none)")
        for r in info[key]:
            note = "" if r["in_force_on_date"] else " [not in force on that date]"
            out.append(f"  {r['id']} ({r['decision']}; {', '.join(r['names'])}; {r['verification']}){note}: {r['title']}")
    out += ["", "Sources:"]
    for s in info["sources"]:
        out.append(f"  {citation((s,))}")
        if s.get("url"):
            out.append(f"    {s['url']}")
        if s.get("evidence"):
            out.append(f"    evidence: {s['evidence']}")
    if info["notes"]:
        out += ["", "Notes:", f"  {info['notes']}"]
    return "\n".join(out) + "\n"


def render_list(rows: Sequence[Classification], *, include_all: bool = False) -> str:
    """``hocr rules list`` as text: one line per entry, under a heading per category."""
    if not rows:
        return "(no classifications)\n"
    width = max(len(c.code) for c in rows)
    out: list[str] = []
    current = None
    for c in rows:
        if c.category != current:
            current = c.category
            n = sum(1 for r in rows if r.category == current)
            out += ([""] if out else []) + [f"{current} ({n})"]
        dates = f"  [{period(c)}]" if include_all or c.in_force_to else ""
        out.append(f"  {c.code:<{width}}  {c.name}  (max {c.sentence_text()}; {c.verification}){dates}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# docs/classifications.md
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceRow:
    """One row of the reference list: a code, its category, and whether the list has it as current."""

    code: str
    category: str
    status: str  # current, historic (superseded) or legacy (kept for outcomes only)


def read_reference(path: Path) -> list[ReferenceRow]:
    """The reference list (``code,category,status`` rows; ``#`` lines are comments)."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    return [ReferenceRow(r[0].strip(), r[1].strip(), r[2].strip() if len(r) > 2 else "current")
            for r in rows[1:] if r and r[0].strip()]


def _status(rows: Sequence[Classification]) -> str:
    """A code's verification: the least sure of its dated entries."""
    return max((c.verification for c in rows), key=VERIFICATION_ORDER.index)


def render_catalogue(book: Rulebook, reference: Sequence[ReferenceRow] | None = None) -> str:
    """The whole catalogue as Markdown (docs/classifications.md), with coverage against ``reference``.

    The page does not depend on the date it is rendered: a code is *open* when one of its entries
    has no end date, *closed* when every entry has one.
    """
    rows = all_entries(book)
    cats = categories(book)
    by_code: dict[str, list[Classification]] = {}
    for c in rows:
        by_code.setdefault(c.code, []).append(c)
    out = _catalogue_intro()
    out += _coverage_table(rows, cats, by_code, reference)
    if reference is not None:
        out += _reference_notes(by_code, reference)
    out += list_section(book)
    for cat in cats:
        out += _category_section(cat, rows, by_code)
    return "\n".join(out).rstrip() + "\n"


def _catalogue_intro() -> list[str]:
    return [
        "# The classification catalogue",
        "",
        "Generated from `rules/classifications/*/catalogue.yaml` by `hocr rules list --markdown`;",
        "do not edit by hand (a test checks that this file is current).",
        "",
        "Each classification's **verification** says how sure we are of its entry (code, name, category, maximum",
        "sentence, dates): **verified** = checked against a Home Office text (the notifiable offences list for the entries",
        "in force on its date: see *Against the Home Office list* below); **secondary** = seen in a",
        "secondary source (a third-party copy of an edition, ONS lists, sentencing sources); **unverified** = our best",
        "understanding, not yet checked. A code with several rows has several dated entries (for example a",
        "maximum sentence that changed in law); its status in the coverage table is the least sure of them.",
        "*Open* codes have an entry with no end date; *closed* codes are old codes whose every entry has ended.",
        "",
        "## Coverage",
        "",
    ]


def _coverage_table(rows: Sequence[Classification], cats: Sequence[str], by_code: Mapping[str, list[Classification]],
                    reference: Sequence[ReferenceRow] | None) -> list[str]:
    """The coverage table: codes by category and verification, against the reference list if given."""
    out: list[str] = []
    head = "| category | codes | open | closed | verified | secondary | unverified |"
    if reference is not None:
        head += " reference list (current / old) | missing from the catalogue |"
        out += [
            "Counted against the reference list `rules/classifications/reference-list.csv` (the project's research",
            "list of classifications; *current* there means in the current category lists, *old* superseded or kept",
            "for outcomes only).",
            "",
        ]
    out += [head, "|" + "---|" * (head.count("|") - 1)]
    totals = [0] * 10
    for cat in [*cats, *sorted({r.category for r in reference or ()} - set(cats))]:
        codes = sorted({c.code for c in rows if c.category == cat}, key=code_order)
        closed = sum(1 for code in codes if all(e.in_force_to for e in by_code[code] if e.category == cat))
        status = [_status([e for e in by_code[code] if e.category == cat]) for code in codes]
        counts = [len(codes), len(codes) - closed, closed] + [status.count(v) for v in VERIFICATION_ORDER]
        cells = [cat, *map(str, counts)]
        refs = [r for r in reference or () if r.category == cat]
        current = sum(1 for r in refs if r.status == "current")
        missing = sorted((r.code for r in refs if r.code not in by_code), key=code_order)
        if reference is not None:
            cells += [f"{len(refs)} ({current} / {len(refs) - current})", ", ".join(missing) or "-"]
        totals = [a + b for a, b in zip(totals, [*counts, len(refs), current, len(missing), 0], strict=True)]
        out.append("| " + " | ".join(cells) + " |")
    # a code may sit in two categories over time (its entries say which): count each code once
    closed_all = sum(1 for es in by_code.values() if all(e.in_force_to for e in es))
    status_all = [_status(es) for es in by_code.values()]
    totals[:6] = [len(by_code), len(by_code) - closed_all, closed_all, *(status_all.count(v) for v in VERIFICATION_ORDER)]
    cells = ["**all** (each code once)", *(f"**{n}**" for n in totals[:6])]
    if reference is not None:
        cells += [f"**{totals[6]}** ({totals[7]} / {totals[6] - totals[7]})", f"**{totals[8]}**"]
    out.append("| " + " | ".join(cells) + " |")
    return out


def _reference_notes(by_code: Mapping[str, list[Classification]], reference: Sequence[ReferenceRow]) -> list[str]:
    """Where the catalogue and the reference list differ."""
    listed = {r.code for r in reference}
    extra = sorted(set(by_code) - listed, key=code_order)
    stale = sorted((r.code for r in reference if r.status == "current" and r.code in by_code
                    and all(e.in_force_to for e in by_code[r.code])), key=code_order)
    still = sorted((r.code for r in reference if r.status != "current" and r.code in by_code
                    and not all(e.in_force_to for e in by_code[r.code])), key=code_order)
    twice = sorted((code for code, es in by_code.items() if len({e.category for e in es}) > 1), key=code_order)
    return [
        "",
        f"- Codes in the catalogue but not in the reference list: {', '.join(extra) or 'none'}.",
        f"- Codes current in the reference list but closed in the catalogue: {', '.join(stale) or 'none'}.",
        f"- Codes old in the reference list but open in the catalogue (see their notes): {', '.join(still) or 'none'}.",
        f"- Codes that changed category over time (counted under each): {', '.join(twice) or 'none'}.",
    ]


def _category_section(cat: str, rows: Sequence[Classification], by_code: Mapping[str, list[Classification]]) -> list[str]:
    """One category: its entries, then the offences each code covers."""
    out = ["", f"## {cat}", "",
           "| code | name | ONS group | victim | max sentence | counting unit | in force | verification |",
           "|---|---|---|---|---|---|---|---|"]
    for c in rows:
        if c.category == cat:
            cells = [f"**{c.code}**", c.name, c.group or "-", "yes" if c.victim_based else "no (state)",
                     c.sentence_text(), c.counting_unit or "-", period(c), c.verification]
            out.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    out += ["", "Offences covered (statute and section; our mapping unless the entry's notes say otherwise; with its own",
            "dates where an offence joined or left the class; then the number of rows the Home Office list gives it):", ""]
    seen: set[str] = set()
    for c in rows:
        if c.category == cat and c.code not in seen:
            seen.add(c.code)
            out.append(f"- **{c.code}**: {_cell(_offences_cell([e for e in by_code[c.code] if e.category == cat]))}")
    return out


def _offences_cell(entries: Sequence[Classification]) -> str:
    """A code's own offences (each once, with its dates if narrower) and the count of the list's rows."""
    own = dict.fromkeys(
        offence_text(o.statute, o.section) + (f" ({period_words(o.in_force_from, o.in_force_to)})" if o.in_force_from or o.in_force_to else "")
        for e in entries for o in e.offence_entries if o.row is None)
    rows = len({o.row for e in entries for o in e.offence_entries if o.row is not None})
    text = "; ".join(own) or "(none of our own)"
    return text + (f"; and {rows} row{'s' if rows != 1 else ''} of the Home Office list naming an act and section" if rows else "")


def period_words(start: dt.date | None, end: dt.date | None) -> str:
    return " ".join(x for x in (f"from {start}" if start else "", f"to {end}" if end else "") if x)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _offence(entry: Classification, o: Offence) -> dict[str, Any]:
    """One offence of an entry as ``show`` gives it: the list's number, mode, own maximum and V/S
    where it comes from the Home Office list; its own dates where they are narrower than the entry's."""
    out: dict[str, Any] = {"statute": o.statute, "section": o.section}
    for key, value in (("description", o.description), ("number", o.number), ("mode", o.mode), ("victim", o.victim)):
        if value:
            out[key] = value
    months = o.max_months if o.max_months is not None else entry.offence_maxima.get(o.key())
    if months is not None:
        out["max_sentence_months"] = months
    if o.in_force_from or o.in_force_to:
        out["in_force"] = {"from": o.in_force_from.isoformat() if o.in_force_from else None,
                           "to": o.in_force_to.isoformat() if o.in_force_to else None}
    if o.row is not None:
        out["list_row"] = o.row
    if o.not_on_list:
        out["not_on_list"] = o.not_on_list
    return out


def _offence_line(o: Mapping[str, Any]) -> str:
    """``  005/01 Offences against the Person Act 1861 s18: Wounding with intent (I, V; maximum life)``."""
    head = f"  {o['number']} " if "number" in o else "  "
    text = head + offence_text(o["statute"], o["section"]) + (f": {o['description']}" if o.get("description") else "")
    marks = [m for m in (o.get("mode"), o.get("victim")) if m]
    if "max_sentence_months" in o:
        marks.append(f"maximum {_months_text(o['max_sentence_months'])}")
    if o.get("in_force"):
        span = o["in_force"]
        marks.append(" ".join(x for x in (f"from {span['from']}" if span["from"] else "", f"to {span['to']}" if span["to"] else "") if x))
    return text + (f" ({'; '.join(marks)})" if marks else "")


def _months_text(months: float) -> str:
    if months >= LIFE_MONTHS:
        return "life"
    if months % 12 == 0:
        return f"{months / 12:g} years"
    return f"{months:g} months"


# --------------------------------------------------------------------------------------------
# The catalogue against the Home Office list it holds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListDifference:
    """One way the catalogue differs from the Home Office list, and the reason the rulebook records."""

    kind: str      # class not on the list, offence not on the list, name, maximum, victim/state, row not placed
    code: str
    text: str
    reason: str    # empty when the rulebook records none (the comparison test fails on it)


def list_differences(book: Rulebook) -> list[ListDifference]:
    """Every difference between the catalogue entries in force on the list's date and the list's
    rows, each with the reason the rulebook data records for it (a dated end, a stated choice,
    or the importer's note on a row it could not place)."""
    held = book.offence_list
    if held is None:
        return []
    rows_by_code: dict[str, list[Mapping[str, Any]]] = {}
    out: list[ListDifference] = []
    for row in held.rows:
        if row["code"] is None or not row["names"]:
            out.append(ListDifference("row not placed", row["code"] or "-", f"row {row['row']} {row['number']} {row['offence']}",
                                      row.get("note", "")))
        if row["code"] is not None:
            rows_by_code.setdefault(row["code"], []).append(row)
    for code in sorted(book.classifications, key=code_order):
        entry = book.classification(code, held.as_of)
        if entry is None:
            continue
        rows = rows_by_code.get(code)
        if rows is None:
            out.append(ListDifference("class not on the list", code, f"{code} {entry.name}", entry.list_differences))
            continue
        out += _entry_differences(entry, rows, held.as_of)
    return out


def _entry_differences(entry: Classification, rows: Sequence[Mapping[str, Any]], day: dt.date) -> list[ListDifference]:
    out: list[ListDifference] = []
    listed = {o.key() for o in entry.offence_entries if o.row is not None}
    for o in entry.offence_entries:
        if o.row is None and o.in_force(day) and o.key() not in listed:
            out.append(ListDifference("offence not on the list", entry.code, f"{entry.code}: {offence_text(o.statute, o.section)}",
                                      o.not_on_list))
    name = rows[0]["class"]
    if _fold(name) != _fold(entry.name):
        out.append(ListDifference("name", entry.code, f"{entry.code}: {entry.name!r}, the list {name!r}", entry.list_differences))
    maxima = [m for r in rows if r["max_sentence"] is not None for m in [_months(r["max_sentence"])]]
    if maxima and max(maxima) != entry.max_sentence_months:
        out.append(ListDifference("maximum", entry.code, f"{entry.code}: {entry.sentence_text()}, the list's highest "
                                  f"{_sentence_words(max(rows, key=lambda r: _months(r['max_sentence']) if r['max_sentence'] is not None else -1)['max_sentence'])}",
                                  entry.list_differences))
    marks = {r["victim"] for r in rows}
    fits = ("V" in marks or "S/V" in marks) if entry.victim_based else ("S" in marks or "S/V" in marks)
    if not fits:
        out.append(ListDifference("victim/state", entry.code, f"{entry.code}: {'victim' if entry.victim_based else 'state'} based, "
                                  f"the list {'/'.join(sorted(marks))}", entry.list_differences))
    return out


def _fold(text: str) -> str:
    """A name for comparing with the list's: letter case, punctuation and articles do not count
    (``Theft or unauthorised taking of a pedal cycle`` is the list's ``... of Pedal Cycle``)."""
    words = re.sub(r"[^a-z0-9]+", " ", text.casefold()).split()
    return " ".join(w for w in words if w not in ("a", "an", "the"))


def _months(sentence: Any) -> float:
    from .loader import _sentence_months
    return _sentence_months(sentence)


def _sentence_words(sentence: Any) -> str:
    from .offence_list import sentence_words
    return sentence_words(sentence)


DIFFERENCE_WORDS = {
    "class not on the list": "entries in force that the list does not have (each kept with a stated reason)",
    "offence not on the list": "offences an entry holds that the list does not put under its code (a name the list lacks, or a stated choice)",
    "name": "names that differ from the list's (a stated choice)",
    "maximum": "class maxima other than the highest of the list's offences (a stated choice: each offence keeps its own maximum)",
    "victim/state": "victim or state markings that differ from the list's (a stated choice)",
    "row not placed": "list rows an incident cannot name by act and section, or that name no single class (the importer's note)",
}


def list_section(book: Rulebook) -> list[str]:
    """The catalogue against the Home Office list the rulebook holds, with counts (docs/classifications.md)."""
    held = book.offence_list
    if held is None:
        return []
    on_date = [c for es in book.classifications.values() for c in es if c.in_force(held.as_of)]
    listed = {r["code"] for r in held.rows if r["code"]}
    verified = [c for c in on_date if c.code in listed and c.verification == "verified"]
    ended = [c for es in book.classifications.values() for c in es
             if c.in_force_to is not None and c.in_force_to < held.as_of and c.code not in listed]
    others = [c for es in book.classifications.values() for c in es if not c.in_force(held.as_of)]
    named = sum(1 for r in held.rows if r["code"] and r["names"])
    differences = list_differences(book)
    out = [
        "", "## Against the Home Office list", "",
        f"The rulebook holds the {held.document}, {held.edition} ({held.section}): {len(held.rows)} offence rows in",
        f"{len(listed)} classifications, in `rules/{DATA_FILE_NAME}` (written by `hocr rules import-offences`). Each row",
        f"is an offence of the entry of its code in force on {held.as_of}; {named} rows can be named by act and section.",
        "",
        f"- **Verified by the list**: {len(verified)} of the {len(on_date)} entries in force on {held.as_of} (every code on the list).",
        f"- **Not on the list**: {sum(1 for c in on_date if c.code not in listed)} entries in force then (kept with a stated reason,",
        "  below); codes that left before then carry a dated end.",
        f"- **Not checked by the list**: the {len(others)} entries of other periods ({len(ended)} of them codes the list no",
        "  longer has); they keep their own sources and verification.",
        "",
        "Every difference between the catalogue and the list has a reason recorded in the rule files (a test fails on one",
        "that has none):",
        "",
        "| difference | count |",
        "|---|---|",
    ]
    counts: dict[str, int] = {}
    for d in differences:
        counts[d.kind] = counts.get(d.kind, 0) + 1
    out += [f"| {DIFFERENCE_WORDS[kind]} | {n} |" for kind, n in sorted(counts.items(), key=lambda kv: list(DIFFERENCE_WORDS).index(kv[0]))]
    return out
