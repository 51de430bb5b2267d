"""What changed between two dates (hocr.rulediff, issue 14): the April/May 2023 changes are
listed, a span without change is empty, a reversed range is refused, the JSON fits its schema,
the text names every change, and the worked cases fall on the right side of each change."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hocr import rulediff
from hocr.incident import LONDON, InvalidIncident, check_incident
from hocr.library import WorkedCase, cases_by_rule, load_library
from hocr.loader import Rulebook, load_rulebook

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "changes.md"
D = dt.date
YEAR_2023 = (D(2023, 1, 1), D(2023, 12, 31))


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((REPO / "schemas" / "rulediff.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _entries(result: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for group in result["groups"]:
        yield from group["changes"]


def _by_id(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in _entries(result) if e["kind"] != "offence"}


def _section_of(result: Mapping[str, Any], entry_id: str) -> str:
    return next(g["section"] for g in result["groups"] for e in g["changes"] if e["id"] == entry_id)


@pytest.fixture(scope="module")
def year_2023(book: Rulebook) -> dict[str, Any]:
    return rulediff.diff(book, *YEAR_2023)


@pytest.fixture(scope="module")
def year_2023_cases(book: Rulebook) -> dict[str, Any]:
    return rulediff.diff(book, *YEAR_2023, cases=True)


# --------------------------------------------------------------------------------------------
# The April/May 2023 changes (issue 14, done when)
# --------------------------------------------------------------------------------------------


def test_2023_burglary_classes(year_2023: dict[str, Any]) -> None:
    found = _by_id(year_2023)
    for code in ("28I", "28J", "28K", "28L", "28M", "28N", "28O", "28P", "29B", "29C"):
        assert (found[code]["change"], found[code]["kind"], found[code]["date"]) == ("started", "classification", "2023-04-01")
        assert _section_of(year_2023, code) == "classifications/burglary"
    for code in ("28E", "28F", "28G", "28H", "29A"):
        assert (found[code]["change"], found[code]["date"], found[code]["in_force"]["to"]) == ("ended", "2023-04-01", "2023-03-31")
    scheme = found["burglary.elements.home-scheme"]
    assert scheme["change"] == "changed"
    assert [b["id"] for b in scheme["before"]] == ["burglary.elements.residential-scheme"]


def test_2023_principal_crime_rule(year_2023: dict[str, Any]) -> None:
    principal = _by_id(year_2023)["f.2023.principal-offence"]
    assert (principal["change"], principal["kind"], principal["date"]) == ("changed", "counting rule", "2023-05-31")
    assert {b["id"] for b in principal["before"]} == {"f.2018.stalking-harassment-in-addition", "f.2018.ccb-in-addition"}
    assert all(b["in_force"]["to"] == "2023-05-30" for b in principal["before"])
    assert _section_of(year_2023, "f.2023.principal-offence") == "general/section-f"
    group = next(g for g in year_2023["groups"] if g["section"] == "general/section-f")
    assert group["title"] == "F The Principal Crime Rule"


def _section_f_title(rules: Path) -> str:
    result = rulediff.diff(load_rulebook(rules), *YEAR_2023)
    return str(next(g["title"] for g in result["groups"] if g["section"] == "general/section-f"))


def test_folders_are_named_by_the_compared_rulebooks_own_documents(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(REPO / "rules", root)
    editions = root / "sources" / "editions.yaml"
    text = editions.read_text()
    at = text.rindex("          F: The Principal Crime Rule\n")  # the latest edition's section F
    editions.write_text(text[:at] + "          F: The Rule of the Principal Crime\n" + text[at:].split("\n", 1)[1])
    assert _section_f_title(root) == "F The Rule of the Principal Crime"
    # A rulebook with no documents section is named by the shipped editions data.
    editions.unlink()
    assert load_rulebook(root).documents == ()
    assert _section_f_title(root) == "F The Principal Crime Rule"


def test_2023_new_exceptions(year_2023: dict[str, Any]) -> None:
    found = _by_id(year_2023)
    for rule_id in ("a.2023.resolved-disturbance", "a.2023.non-threatening-communication"):
        assert (found[rule_id]["change"], found[rule_id]["date"], found[rule_id]["decision"]) == ("started", "2023-05-31", "recording")
        assert _section_of(year_2023, rule_id) == "general/section-a"


def test_2023_cancellation_authority(year_2023: dict[str, Any]) -> None:
    found = _by_id(year_2023)
    for rule_id in ("c.authority.2023.serious", "c.authority.2023.other"):
        assert found[rule_id]["change"] == "changed"
        assert [b["id"] for b in found[rule_id]["before"]] == ["c.authority.fcr-or-ddm"]
        assert _section_of(year_2023, rule_id) == "general/section-c"


def test_2023_victim_based_9a_and_the_presumption_split(year_2023: dict[str, Any]) -> None:
    found = _by_id(year_2023)
    assert {"field": "victim_based", "before": False, "after": True} in found["9A"]["differences"]
    presumption = found["ncrs.presume.not-aggravated"]
    assert (presumption["change"], presumption["kind"]) == ("changed", "presumption")
    assert [b["id"] for b in presumption["before"]] == ["ncrs.presume.not-aggravated-to-2023"]


def test_entries_cite_the_rulebook(book: Rulebook, year_2023: dict[str, Any]) -> None:
    for entry in _entries(year_2023):
        if entry["kind"] in ("rule", "counting rule", "flag rule"):
            rule = book.rules[entry["id"]]
            assert (entry["citation"], entry["file"], entry["title"]) == (rule.citation, rule.file, rule.title)
            assert entry["in_force"]["from"] == rule.in_force_from.isoformat()
        assert entry["citation"] and entry["verification"] in ("verified", "secondary", "unverified")


def test_counts_add_up(year_2023: dict[str, Any]) -> None:
    entries = list(_entries(year_2023))
    counts = year_2023["counts"]
    assert counts["total"] == len(entries) == sum(counts[k] for k in rulediff.CHANGES)
    assert sum(counts["by_kind"].values()) == len(entries)
    assert all(g["count"] == len(g["changes"]) for g in year_2023["groups"])


# --------------------------------------------------------------------------------------------
# What counts as a change
# --------------------------------------------------------------------------------------------


def _boundaries(book: Rulebook) -> set[D]:
    """Every day something in the rulebook starts, or first stops, being in force."""
    days: set[D] = set()
    spans: list[tuple[D | None, D | None]] = [(r.in_force_from, r.in_force_to) for r in book.rules.values()]
    spans += [(p.in_force_from, p.in_force_to) for p in book.presumptions]
    for entries in book.classifications.values():
        for c in entries:
            spans.append((c.in_force_from, c.in_force_to))
            spans += [(o.in_force_from, o.in_force_to) for o in c.offence_entries]
    for start, last in spans:
        days |= {d for d in (start, last + dt.timedelta(days=1) if last else None) if d}
    return days


def test_a_span_with_no_change_is_empty(book: Rulebook) -> None:
    days = sorted(d for d in _boundaries(book) if d.year >= 2010)
    quiet = next((a, b) for a, b in zip(days, days[1:], strict=False) if (b - a).days > 30)
    start, end = quiet[0], quiet[1] - dt.timedelta(days=1)  # nothing starts or stops after start, up to end
    for span in ((start, end), (start, start)):
        result = rulediff.diff(book, *span)
        assert result["groups"] == [] and result["counts"]["total"] == 0
        assert "No rule, classification, presumption or offence started, ended or changed" in rulediff.render_text(result)
    assert rulediff.diff(book, start, quiet[1])["counts"]["total"] > 0  # one day more and there is a change


def test_every_rule_that_starts_or_ends_in_the_span_is_listed(book: Rulebook) -> None:
    start, end = D(2017, 1, 1), D(2021, 12, 31)
    result = rulediff.diff(book, start, end)
    named = {e["id"] for e in _entries(result)} | {b["id"] for e in _entries(result) for b in e.get("before", [])}
    for rule in [*book.rules.values(), *book.presumptions]:
        moved = start < rule.in_force_from <= end or (rule.in_force_to is not None and start <= rule.in_force_to < end)
        assert (rule.id in named) == moved, rule.id


def test_something_in_force_only_between_the_dates_is_interim(book: Rulebook) -> None:
    start, end = D(2012, 1, 1), D(2013, 12, 31)
    short = [r for r in book.rules.values() if r.in_force_to and start < r.in_force_from and r.in_force_to < end]
    assert short, "the rulebook has a rule in force only in 2012-2013"
    found = _by_id(rulediff.diff(book, start, end))
    for rule in short:
        assert found[rule.id]["change"] in ("interim", "changed")


def test_rules_named_alike_pair_and_the_rest_start(year_2023: dict[str, Any]) -> None:
    found = _by_id(year_2023)
    renamed = found["burglary.check.business-class-residential-building-2023"]
    assert [b["id"] for b in renamed["before"]] == ["burglary.check.business-class-residential-building"]
    # New checks for the new split replace nothing, although they hand over on the same day in the same file.
    for new in ("burglary.check.home-class-unconnected-building", "burglary.check.unconnected-class-home"):
        assert found[new]["change"] == "started" and "before" not in found[new]


def test_rules_pair_with_the_most_alike(book: Rulebook) -> None:
    found = _by_id(rulediff.diff(book, D(2012, 1, 1), D(2012, 12, 31)))
    assert [b["id"] for b in found["vap.homicide"]["before"]] == ["vap.homicide-2008"]
    assert [b["id"] for b in found["vap.homicide-attempt"]["before"]] == ["vap.homicide-attempt-2008"]


def test_a_new_maximum_is_a_changed_classification(book: Rulebook) -> None:
    found = _by_id(rulediff.diff(book, D(2018, 1, 1), D(2018, 12, 31)))
    assert found["104"]["date"] == "2018-11-13"
    assert {"field": "max_sentence", "before": "6 months", "after": "12 months"} in found["104"]["differences"]


def test_an_offence_that_starts_under_a_class_is_listed(book: Rulebook, year_2023: dict[str, Any]) -> None:
    offences = [e for e in _entries(year_2023) if e["kind"] == "offence" and e["change"] == "started"]
    assert offences
    assert book.offence_list is not None
    rows = {row["row"]: row for row in book.offence_list.rows}
    for entry in offences:
        day = D.fromisoformat(entry["date"])
        assert YEAR_2023[0] < day <= YEAR_2023[1]
        named = rows[entry["list_row"]]["names"][0]
        assert entry["classification"] in book.codes_for_offence(named["statute"], named["section"], day)
        assert rows[entry["list_row"]]["commenced"] == entry["date"]  # the row's own start (others may name the same section)


# --------------------------------------------------------------------------------------------
# Bad ranges
# --------------------------------------------------------------------------------------------


def test_a_reversed_range_is_an_error(book: Rulebook) -> None:
    with pytest.raises(rulediff.DiffRangeError, match="2023-12-31 is after the to date 2023-01-01"):
        rulediff.diff(book, D(2023, 12, 31), D(2023, 1, 1))


def test_a_range_before_the_rulebook_is_an_error(book: Rulebook) -> None:
    with pytest.raises(rulediff.DiffRangeError, match=f"before the rulebook starts \\({book.starts}\\)"):
        rulediff.diff(book, D(1999, 1, 1), D(2023, 1, 1))


@pytest.mark.parametrize("text", ["2023-02-30", "yesterday", "", "2023/01/01"])
def test_a_bad_date_names_the_option(text: str) -> None:
    with pytest.raises(rulediff.DiffRangeError, match="^--from: .* is not a date: give it as YYYY-MM-DD$"):
        rulediff.parse_day(text, "--from")
    assert rulediff.parse_day(" 2023-05-31 ", "--to") == D(2023, 5, 31)


# --------------------------------------------------------------------------------------------
# JSON and text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("span", [YEAR_2023, (D(2018, 1, 1), D(2018, 12, 31)), (D(2020, 1, 1), D(2020, 12, 31)),
                                  (D(2002, 4, 1), D(2026, 12, 1)), (D(2024, 2, 1), D(2024, 2, 1))])
def test_the_json_fits_its_schema(book: Rulebook, span: tuple[D, D]) -> None:
    result = rulediff.diff(book, *span)
    errors = list(_validator().iter_errors(json.loads(json.dumps(result))))
    assert not errors, errors[0].message


def test_the_json_with_cases_fits_its_schema(year_2023_cases: dict[str, Any]) -> None:
    assert year_2023_cases["with_cases"] is True
    errors = list(_validator().iter_errors(json.loads(json.dumps(year_2023_cases))))
    assert not errors, errors[0].message


def _block(text: str, heading: str) -> str:
    """The lines of one change in the text: its heading line and the indented lines under it."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if heading in line)
    end = next((j for j in range(at + 1, len(lines)) if not lines[j].startswith("      ")), len(lines))
    return "\n".join(lines[at:end])


def test_the_text_names_every_change(year_2023_cases: dict[str, Any]) -> None:
    text = rulediff.render_text(year_2023_cases)
    assert text.startswith("What changed in the rules between 1 January 2023 and 31 December 2023\n")
    assert f"{year_2023_cases['counts']['total']} changes: " in text
    for group in year_2023_cases["groups"]:
        assert f"\n{group['title']} ({group['section']}): {group['count']} change" in text
        for entry in group["changes"]:
            under = f" (under {entry['classification']})" if entry["kind"] == "offence" else ""
            block = _block(text, f" {entry['kind']} {entry['id']}{under}: {entry['title']} [{entry['verification']}]")
            assert D.fromisoformat(entry["date"]).strftime("%B %Y") in block.splitlines()[0]
            for old in entry.get("before", []):
                assert f"replaces {old['id']}: " in block
            for side in ("before", "after"):
                assert f"cases {side}: " in block
                for case in entry["cases"][side]["cases"]:
                    assert case["id"] in block


def test_the_text_dates_and_cites(year_2023: dict[str, Any]) -> None:
    text = rulediff.render_text(year_2023)
    assert "+ 31 May 2023: started rule a.2023.resolved-disturbance" in text
    assert "- 1 April 2023: ended (last in force 31 March 2023) classification 28E" in text
    assert "~ 31 May 2023: changed counting rule f.2023.principal-offence" in text
    assert _by_id(year_2023)["a.2023.non-threatening-communication"]["citation"] in text


# --------------------------------------------------------------------------------------------
# Worked cases on each side
# --------------------------------------------------------------------------------------------


def test_cases_fall_on_their_side_of_the_change(year_2023_cases: dict[str, Any]) -> None:
    for entry in _entries(year_2023_cases):
        for side in ("before", "after"):
            quoted = entry["cases"][side]
            assert len(quoted["cases"]) == min(quoted["count"], rulediff.CASES_PER_SIDE)
            assert all((c["date"] < entry["date"]) == (side == "before") for c in quoted["cases"]), (entry["id"], side)


def _decided_on(case: WorkedCase) -> D | None:
    """The day the engine decides the case on (None for a deliberately invalid incident)."""
    if case.as_of is not None:
        return case.as_of
    try:
        received: dt.datetime = check_incident(case.incident).facts["report"]["received_at"]
    except InvalidIncident:
        return None
    return received.astimezone(LONDON).date()


def test_a_case_on_each_side_where_the_library_has_one(book: Rulebook, year_2023_cases: dict[str, Any]) -> None:
    relied = cases_by_rule(book)
    library = {c.id: c for c in load_library()}
    checked = 0
    for entry in _entries(year_2023_cases):
        for rule_id in [entry["id"], *(b["id"] for b in entry.get("before", []))]:
            for case_id in relied.get(rule_id, ()) if entry["kind"] != "offence" else ():
                day = _decided_on(library[case_id])
                assert day is not None
                side = "before" if day.isoformat() < entry["date"] else "after"
                assert entry["cases"][side]["count"] > 0, (entry["id"], side, case_id)
                checked += 1
    assert checked > 100


def test_boundary_cases_come_first(year_2023_cases: dict[str, Any]) -> None:
    found = _by_id(year_2023_cases)
    disturbance = found["a.2023.resolved-disturbance"]["cases"]
    # The 30 May 2023 case names the rule in its source although it relies on the older rules.
    assert "general/section-a/changes-2023#2" in [c["id"] for c in disturbance["before"]["cases"]]
    assert "general/section-a/changes-2023#1" in [c["id"] for c in disturbance["after"]["cases"]]
    scheme = found["burglary.elements.home-scheme"]["cases"]
    assert scheme["before"]["cases"][0]["date"] == "2023-03-31"
    assert scheme["after"]["cases"][0]["date"] == "2023-04-01"


def test_a_side_with_no_case_says_so(year_2023_cases: dict[str, Any]) -> None:
    found = _by_id(year_2023_cases)
    assert found["28I"]["cases"]["before"] == {"count": 0, "cases": []}
    assert found["28I"]["cases"]["after"]["count"] > 0
    block = _block(rulediff.render_text(year_2023_cases), " classification 28I: ")
    assert "cases before: none in the library" in block


# --------------------------------------------------------------------------------------------
# docs/changes.md shows the tool's own text (regenerate: python tests/test_rulediff.py)
# --------------------------------------------------------------------------------------------

_DOC_BLOCK = re.compile(r"(<!-- rulediff (\d{4}-\d\d-\d\d) (\d{4}-\d\d-\d\d) -->\n```text\n)(.*?)(```)", re.S)


def rendered_doc(book: Rulebook, text: str) -> str:
    """The doc with each marked block replaced by the diff of its two dates."""
    def block(match: re.Match[str]) -> str:
        start, end = D.fromisoformat(match.group(2)), D.fromisoformat(match.group(3))
        return match.group(1) + rulediff.render_text(rulediff.diff(book, start, end)) + match.group(5)
    return _DOC_BLOCK.sub(block, text)


def test_the_doc_shows_the_tools_own_text(book: Rulebook) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [m.group(2) for m in _DOC_BLOCK.finditer(text)] == ["2018-01-01", "2020-01-01", "2023-03-31"]
    assert rendered_doc(book, text) == text, "docs/changes.md is out of date: run python tests/test_rulediff.py"


if __name__ == "__main__":
    from hocr.loader import load_rulebook

    DOC.write_text(rendered_doc(load_rulebook(REPO / "rules"), DOC.read_text(encoding="utf-8")), encoding="utf-8")
