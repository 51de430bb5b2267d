"""The classification catalogue: the shipped entries against the reference list and the law's dates,
the listing and showing functions (hocr.catalogue) on a small rulebook of their own, the
`hocr rules list` / `hocr rules show` commands, and docs/classifications.md kept current."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hocr import catalogue
from hocr.loader import Rulebook, RulebookError, data_path, load_rulebook

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "rules" / catalogue.REFERENCE_FILE
D = dt.date.fromisoformat

CATEGORIES = [
    "Violence against the Person", "Sexual Offences", "Robbery", "Burglary", "Vehicle Offences", "Theft",
    "Arson and Criminal Damage", "Drug Offences", "Possession of Weapons", "Public Order Offences",
    "Miscellaneous Crimes against Society", "Fraud",
]
STATE_CATEGORIES = {"Drug Offences", "Possession of Weapons", "Public Order Offences", "Miscellaneous Crimes against Society"}


def hocr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hocr", *args], capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------------------------
# The shipped catalogue
# --------------------------------------------------------------------------------------------


def test_every_code_of_the_reference_list_is_in_the_catalogue_under_its_category(book: Rulebook) -> None:
    reference = catalogue.read_reference(REFERENCE)
    assert len(reference) == 180
    for row in reference:
        assert row.code in book.classifications, row.code
        assert row.category in {c.category for c in book.classifications[row.code]}, row.code
    assert set(book.classifications) == {r.code for r in reference}


def test_categories_are_the_twelve_and_each_file_holds_its_own(book: Rulebook) -> None:
    assert sorted(catalogue.categories(book)) == sorted(CATEGORIES)
    for entry in catalogue.all_entries(book):
        assert entry.file == f"classifications/{catalogue.slug(entry.category)}/catalogue.yaml", entry.code


# 9A's offences (Public Order Act 1986 s4, s4A, s4B) are marked victim based on the April 2026 list;
# the class is victim based from the day s5 (marked state based) left it.
VICTIM_BASED_IN_STATE_CATEGORIES = {("9A", dt.date(2023, 5, 31))}


def test_crimes_against_the_state_have_no_victim(book: Rulebook) -> None:
    for entry in catalogue.all_entries(book):
        if entry.category in STATE_CATEGORIES:
            expected = (entry.code, entry.in_force_from) in VICTIM_BASED_IN_STATE_CATEGORIES
            assert entry.victim_based is expected, entry.code


def test_9a_is_victim_based_only_once_s5_has_left_it(book: Rulebook) -> None:
    before = book.classification("9A", dt.date(2023, 5, 30))
    after = book.classification("9A", dt.date(2023, 5, 31))
    assert before is not None and after is not None
    assert before.victim_based is False and after.victim_based is True
    assert any(section == "5" for _, section in before.offences)
    assert not any(section == "5" for _, section in after.offences)


def test_dated_entries_of_one_code_abut_with_no_gap(book: Rulebook) -> None:
    for code, entries in book.classifications.items():
        for earlier, later in zip(entries, entries[1:], strict=False):
            assert earlier.in_force_to is not None, code
            assert later.in_force_from == earlier.in_force_to + dt.timedelta(days=1), code


@pytest.mark.parametrize("code", [
    "1", "4/1", "2", "3B", "5D", "8N", "8P", "8S", "104", "105A", "105B", "8L", "8M", "8Q", "8R", "8U", "11A", "36",
    "13", "106", "19C", "19D", "19E", "19F", "19G", "19H", "17A", "17B", "20A", "20B", "21", "22A", "22B", "88E",
    "34A", "34B", "28I", "28J", "28K", "28L", "28M", "28N", "28O", "28P", "29B", "29C", "30C", "30D", "31A", "37/2", "45", "48", "126", "39", "44",
    "46", "35", "40", "41", "42", "43", "47", "49", "54", "56A", "56B", "58A", "58B", "58C", "58D", "58J", "92A",
    "92C", "92D", "92E", "10A", "10B", "10C", "10D", "81", "9A", "9B", "62A", "66", "8T", "19J", "19K",
    "NFIB5A", "NFIB9", "NFIB10", "NFIB11", "NFIB18", "NFIB19", "NFIB90",
])
def test_codes_the_rules_rely_on_are_in_force_today(book: Rulebook, code: str) -> None:
    assert book.classification(code, dt.date.today()) is not None


def test_tags_that_rules_test_as_groups(book: Rulebook) -> None:
    today = dt.date.today()
    tagged = {tag: {c for c in book.classifications if (e := book.classification(c, today)) and tag in e.tags}
              for tag in ("rape", "homicide", "burglary", "course_of_conduct", "possession")}
    assert tagged["rape"] == {"19C", "19D", "19E", "19F", "19G", "19H", "19J", "19K"}
    assert tagged["homicide"] == {"1", "4/1", "4/2", "4/10"}
    assert tagged["burglary"] == {"28I", "28J", "28K", "28L", "28M", "28N", "28O", "28P", "29B", "29C", "30C", "30D", "31A"}
    assert tagged["course_of_conduct"] == {"8L", "8M", "8Q", "8U"}
    assert tagged["possession"] == {"10A", "10B", "10C", "10D", "92D", "92E"}
    for entry in catalogue.all_entries(book):
        assert ("sexual" in entry.tags) == (entry.category == "Sexual Offences"), entry.code


@pytest.mark.parametrize(("code", "day", "months"), [
    ("8L", "2017-04-02", 60), ("8L", "2017-04-03", 120),          # PHA s4: 5 -> 10 years (PCA 2017 s175)
    ("8Q", "2017-04-02", 60), ("8Q", "2017-04-03", 120),          # PHA s4A
    ("8M", "2017-04-02", 84), ("8M", "2017-04-03", 168),
    ("4/4", "2022-06-27", 168), ("4/4", "2022-06-28", 100_000),   # life from 28 June 2022
    ("11A", "2022-06-27", 120), ("11A", "2022-06-28", 168),
    ("104", "2018-11-12", 6), ("104", "2018-11-13", 12), ("104", "2022-06-27", 12), ("104", "2022-06-28", 24),
    ("4/9", "2015-04-12", 24), ("4/9", "2015-04-13", 120),
    ("92E", "2009-01-25", 24), ("92E", "2009-01-26", 60),          # cannabis back to Class B
])
def test_maximum_sentences_change_on_the_day_the_law_did(book: Rulebook, code: str, day: str, months: float) -> None:
    entry = book.classification(code, D(day))
    assert entry is not None and entry.max_sentence_months == months


@pytest.mark.parametrize(("old", "new", "first_day"), [
    ("28A", "28E", "2017-04-01"), ("28B", "28F", "2017-04-01"), ("29", "29A", "2017-04-01"), ("30A", "30C", "2017-04-01"),
    ("31", "31A", "2017-04-01"),
    # April 2023: residential burglary split into a home and an unconnected building (the Home Office list).
    ("28E", "28I", "2023-04-01"), ("28F", "28J", "2023-04-01"), ("28G", "28K", "2023-04-01"), ("28H", "28L", "2023-04-01"),
    ("29A", "29B", "2023-04-01"),
])
def test_burglary_schemes_change_on_the_day(book: Rulebook, old: str, new: str, first_day: str) -> None:
    day = D(first_day)
    before = day - dt.timedelta(days=1)
    assert book.classification(old, before) is not None
    assert book.classification(old, day) is None
    assert book.classification(new, before) is None
    assert book.classification(new, day) is not None


@pytest.mark.parametrize(("code", "first_day"), [("8T", "2020-04-01"), ("8U", "2020-04-01"), ("8Q", "2014-04-01"),
                                                 ("19J", "2019-04-01"), ("28M", "2023-04-01"), ("29C", "2023-04-01")])
def test_classes_begin_on_the_day_the_list_gives(book: Rulebook, code: str, first_day: str) -> None:
    day = D(first_day)
    assert book.classification(code, day - dt.timedelta(days=1)) is None
    assert book.classification(code, day) is not None


def test_assault_codes_across_the_2008_2012_and_2017_changes(book: Rulebook) -> None:
    assert book.codes_for_offence("Offences Against the Person Act 1861", "47", D("2012-03-31")) == ("8G",)
    assert book.codes_for_offence("Offences Against the Person Act 1861", "47", D("2012-04-01")) == ("8N",)
    assert book.codes_for_offence("Offences Against the Person Act 1861", "47", D("2017-03-31")) == ("8N",)
    assert book.codes_for_offence("Offences Against the Person Act 1861", "47", D("2017-04-01")) == ("8N", "8S")
    assert book.codes_for_offence("Offences Against the Person Act 1861", "47", D("2008-03-31")) == ("8A",)
    assert book.classification("8F", D("2024-01-01")) is None
    assert book.classification("104", D("2017-03-31")).name == "Assault on a constable"  # type: ignore[union-attr]
    assert book.classification("104", D("2017-04-01")).name == "Assault without injury on a constable"  # type: ignore[union-attr]


def test_an_offence_in_law_finds_its_classes(book: Rulebook) -> None:
    # The list puts common assault under 104 as well (on a constable, AEWA 2018).
    assert book.codes_for_offence("Criminal Justice Act 1988", "39", D("2024-01-01")) == ("104", "105A")
    assert book.codes_for_offence("Theft Act 1968", "10", D("2024-01-01")) == ("29B", "29C", "31A")
    assert book.codes_for_offence("Theft Act 1968", "10", D("2023-03-31")) == ("29A", "31A")
    assert book.codes_for_offence("Theft Act 1968", "10", D("2016-01-01")) == ("29", "31")
    assert book.codes_for_offence("Dogs Act 1871", "2", D("2024-01-01")) == ()


def test_every_entry_cites_a_source_and_states_its_doubt(book: Rulebook) -> None:
    for entry in catalogue.all_entries(book):
        assert entry.sources and all(s.get("evidence") for s in entry.sources), entry.code
        assert entry.notes, entry.code
        if entry.verification == "unverified":
            continue
        if entry.verification == "verified":
            # Only the Home Office list itself verifies an entry (the HOCR pages were not read).
            assert any(s.get("document") == "Home Office notifiable offences list" for s in entry.sources), entry.code
            continue
        assert entry.verification == "secondary", entry.code


# --------------------------------------------------------------------------------------------
# The functions, on a small rulebook of their own
# --------------------------------------------------------------------------------------------

CATALOGUE = """\
defaults:
  category: Cat One
  source: {document: D, edition: E, section: S, evidence: seen}
  verification: secondary
classifications:
  - {code: 10B, name: Ten B, victim_based: true, max_sentence: {years: 2}, in_force: {from: "2000-01-01"}, tags: [grp]}
  - {code: 9A, name: Nine A old, victim_based: true, max_sentence: {months: 6}, in_force: {from: "2000-01-01", to: "2009-12-31"}}
  - {code: 9A, name: Nine A, victim_based: true, max_sentence: life, in_force: {from: "2010-01-01"},
     offences: [{statute: Some Act 2000, section: "4"}, {statute: Common law, section: mischief}]}
  - {code: "100", name: One hundred, victim_based: false, max_sentence: fine, in_force: {from: "2000-01-01", to: "2004-12-31"},
     verification: unverified, category: Cat Two}
"""
COUNTING = """\
defaults:
  decision: count_key
  source: {document: D, edition: E, section: S}
  in_force: {from: "2000-01-01"}
  verification: unverified
rules:
  - id: t.by-code
    title: By code
    summary: A test rule.
    when: {fact: classification.code, equals: 9A}
    then: {key: nine}
  - id: t.by-tag
    title: By tag
    summary: A test rule.
    when: {fact: classification.tags, contains: grp}
    then: {key: grp}
  - id: t.by-category
    title: By category
    summary: A test rule.
    in_force: {from: "2000-01-01", to: "2000-12-31"}
    when: {fact: classification.category, equals: Cat One}
    then: {key: cat}
  - id: t.tag-word-only
    title: The word grp in a fact that is not the tags
    summary: A test rule.
    when: {fact: incident.id, equals: grp}
    then: {key: other}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Rulebook:
    base = tmp_path_factory.mktemp("cat") / "rules"
    (base / "classifications" / "x").mkdir(parents=True)
    shutil.copy(data_path("rules") / "rulebook.yaml", base / "rulebook.yaml")
    (base / "classifications" / "x" / "catalogue.yaml").write_text(CATALOGUE)
    (base / "counting.yaml").write_text(COUNTING)
    (base / "classifications" / "reference-list.csv").write_text(
        "# a comment\ncode,category,status\n9A,Cat One,current\n10B,Cat One,current\n100,Cat Two,historic\n7Z,Cat Two,current\n")
    return load_rulebook(base)


def test_entries_in_force_and_all(small: Rulebook) -> None:
    day = D("2024-01-01")
    assert [(c.code, c.name) for c in catalogue.entries(small, day)] == [("9A", "Nine A"), ("10B", "Ten B")]
    every = catalogue.entries(small, day, include_all=True)
    assert [(c.code, c.in_force_from.year) for c in every] == [("9A", 2000), ("9A", 2010), ("10B", 2000), ("100", 2000)]
    assert [c.code for c in catalogue.entries(small, D("2003-01-01"), category="Cat Two")] == ["100"]
    assert catalogue.entries(small, day, category="Cat Two") == []


@pytest.mark.parametrize(("text", "name"), [("cat one", "Cat One"), ("CAT-TWO", "Cat Two"), ("cat-one", "Cat One"), ("cat", None)])
def test_category_by_name_or_folder_slug(small: Rulebook, text: str, name: str | None) -> None:
    assert catalogue.resolve_category(small, text) == name


def test_show_gives_the_entry_of_the_date_and_every_period(small: Rulebook) -> None:
    info = catalogue.show(small, "9a", D("2009-12-31"))
    assert (info["code"], info["name"], info["max_sentence"], info["in_force_on_date"]) == ("9A", "Nine A old", "6 months", True)
    assert [p["in_force"] for p in info["periods"]] == [{"from": "2000-01-01", "to": "2009-12-31"}, {"from": "2010-01-01", "to": None}]
    later = catalogue.show(small, "9A", D("2010-01-01"))
    assert (later["name"], later["max_sentence"]) == ("Nine A", "life")
    assert later["offences"] == [{"statute": "Some Act 2000", "section": "4"}, {"statute": "Common law", "section": "mischief"}]
    gone = catalogue.show(small, "100", D("2005-01-01"))
    assert gone["in_force_on_date"] is False and gone["name"] == "One hundred"
    assert "NOT in force" in catalogue.render_show(gone)


def test_show_finds_the_counting_rules_naming_the_code_its_tags_or_its_category(small: Rulebook) -> None:
    nine = catalogue.show(small, "9A", D("2024-01-01"))
    assert [(r["id"], r["names"]) for r in nine["counting_rules"]] == [
        ("t.by-category", ["category Cat One"]), ("t.by-code", ["code 9A"])]
    assert nine["counting_rules"][0]["in_force_on_date"] is False
    ten = catalogue.show(small, "10B", D("2024-01-01"))
    assert [(r["id"], r["names"]) for r in ten["counting_rules"]] == [
        ("t.by-category", ["category Cat One"]), ("t.by-tag", ["tag grp"])]
    assert catalogue.show(small, "100", D("2003-01-01"))["counting_rules"] == []
    text = catalogue.render_show(ten)
    assert "t.by-tag (count_key; tag grp; unverified): By tag" in text
    assert "[not in force on that date]" in text


def test_unknown_code_suggests_near_codes(small: Rulebook) -> None:
    with pytest.raises(catalogue.UnknownCode) as info:
        catalogue.show(small, "9B", D("2024-01-01"))
    assert info.value.suggestions[0] == "9A"
    assert "did you mean 9A" in str(info.value)
    with pytest.raises(catalogue.UnknownCode) as none:
        catalogue.find_code(small, "XYZ")
    assert none.value.suggestions == ()


def test_render_list_marks_dates_only_when_asked_or_ended(small: Rulebook) -> None:
    text = catalogue.render_list(catalogue.entries(small, D("2024-01-01"), include_all=True), include_all=True)
    assert text.splitlines()[0] == "Cat One (3)"
    assert "  9A   Nine A old  (max 6 months; secondary)  [from 2000-01-01 to 2009-12-31]" in text
    assert "\nCat Two (1)\n" in text
    assert catalogue.render_list([]) == "(no classifications)\n"


def test_render_catalogue_counts_against_the_reference(small: Rulebook) -> None:
    ref = catalogue.read_reference(small.root / catalogue.REFERENCE_FILE)
    assert [r.status for r in ref] == ["current", "current", "historic", "current"]
    text = catalogue.render_catalogue(small, ref)
    assert "| Cat One | 2 | 2 | 0 | 0 | 2 | 0 | 2 (2 / 0) | - |" in text
    assert "| Cat Two | 1 | 0 | 1 | 0 | 0 | 1 | 2 (1 / 1) | 7Z |" in text
    assert "| **all** (each code once) | **3** | **2** | **1** | **0** | **2** | **1** | **4** (3 / 1) | **1** |" in text
    assert "- **9A**: Some Act 2000 s4; Common law mischief" in text
    assert "reference list" not in catalogue.render_catalogue(small)


# --------------------------------------------------------------------------------------------
# The command line and the generated page
# --------------------------------------------------------------------------------------------


def test_cli_show_8n() -> None:
    r = hocr("rules", "show", "8N")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("8N  Assault with injury\n")
    for part in ("Violence against the Person", "max sentence:   5 years", "Offences Against the Person Act 1861 s47",
                 "verification:", "Sources:", "Counting rules naming it:"):
        assert part in r.stdout


def test_cli_show_json_as_of_and_unknown_code() -> None:
    r = hocr("rules", "show", "8L", "--json", "--as-of", "2017-04-02")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["max_sentence"], len(info["periods"])) == ("5 years", 2)
    bad = hocr("rules", "show", "8Z")
    assert bad.returncode == 2
    assert "no classification '8Z'" in bad.stderr and "did you mean" in bad.stderr
    assert hocr("rules", "show", "8N", "--as-of", "tomorrow").returncode == 2


def test_cli_list_burglary_and_json() -> None:
    r = hocr("rules", "list", "--category", "burglary")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Burglary (13)"
    assert [line.split()[0] for line in lines[1:]] == [
        "28I", "28J", "28K", "28L", "28M", "28N", "28O", "28P", "29B", "29C", "30C", "30D", "31A"]
    old = hocr("rules", "list", "--category", "Burglary", "--as-of", "2016-06-01", "--json")
    assert [row["code"] for row in json.loads(old.stdout)] == ["28A", "28B", "28C", "28D", "29", "30A", "30B", "31"]
    every = json.loads(hocr("rules", "list", "--all", "--json").stdout)
    assert len({row["code"] for row in every}) == 180
    bad = hocr("rules", "list", "--category", "cars")
    assert bad.returncode == 2 and "vehicle-offences" in bad.stderr


def test_docs_classifications_is_current(book: Rulebook) -> None:
    committed = (REPO / "docs" / "classifications.md").read_text(encoding="utf-8")
    assert committed == catalogue.render_catalogue(book, catalogue.read_reference(REFERENCE)), (
        "docs/classifications.md is out of date: run `hocr rules list --markdown > docs/classifications.md`"
    )


# --------------------------------------------------------------------------------------------
# The catalogue against the Home Office notifiable offences list (April 2026)
# --------------------------------------------------------------------------------------------


def test_every_difference_from_the_list_has_a_recorded_reason(book: Rulebook) -> None:
    """Row by row and class by class: an offence or class the catalogue holds that the list does not
    (in force on the list's date), a name, maximum or victim marking that differs, and a list row that
    cannot be placed, each carries its reason in the rulebook data. Zero unexplained differences."""
    differences = catalogue.list_differences(book)
    unexplained = [(d.kind, d.text) for d in differences if not d.reason]
    assert not unexplained, unexplained
    assert {d.kind for d in differences} <= {"row not placed", "offence not on the list", "class not on the list", "name",
                                             "maximum", "victim/state"}


def test_every_row_of_the_list_is_under_the_entry_in_force_on_its_date(book: Rulebook) -> None:
    held = book.offence_list
    assert held is not None and (held.edition, held.as_of) == ("April 2026", D("2026-04-01"))
    placed = 0
    for row in held.rows:
        if row["code"] is None:
            continue
        entry = book.classification(row["code"], held.as_of)
        assert entry is not None, row["row"]
        assert any(o.row == row["row"] for o in entry.offence_entries) or not row["names"], row["row"]
        placed += 1
    assert placed == len(held.rows) - 2  # rows 366 ('Various sub classes') and 372 (no class) name none


def test_a_difference_without_a_reason_fails_the_comparison(tmp_path: Path) -> None:
    base = tmp_path / "rb"
    shutil.copytree(REPO / "rules", base)
    fraud = base / "classifications" / "fraud" / "catalogue.yaml"
    fraud.write_text(_drop_key(fraud.read_text(encoding="utf-8"), "NFIB5A"), encoding="utf-8")
    book = load_rulebook(base)
    assert [d.text for d in catalogue.list_differences(book) if not d.reason] == [
        "NFIB5A Fraud by False Representation: Cheque, Plastic Card and Online Bank Accounts (not PSP)"]


def _drop_key(text: str, code: str) -> str:
    """The catalogue text with the `list_differences` line of ``code``'s entry removed."""
    blocks = text.split("\n- code: ")
    for i, b in enumerate(blocks):
        if b.startswith((f"'{code}'\n", f"{code}\n")):
            lines = b.split("\n")
            blocks[i] = "\n".join(line for line in lines if not line.startswith("  list_differences:"))
    return "\n- code: ".join(blocks)


@pytest.mark.parametrize(("code", "name"), [
    ("28I", "Residential Burglary of a Home"), ("8T", "Assault with Injury on an Emergency Worker (other than a constable)"),
    ("62A", "Violent disorder"), ("81", "Other Firearms, Knives and Offensive Weapon Offences"),
])
def test_cli_show_the_april_2026_classes(code: str, name: str) -> None:
    r = hocr("rules", "show", code, "--json", "--as-of", "2026-06-01")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["code"], info["name"], info["verification"]) == (code, name, "verified")
    assert any(o.get("number") for o in info["offences"])  # the list's rows, with their offence numbers


def test_cli_list_shows_the_april_2026_classes_as_current() -> None:
    rows = json.loads(hocr("rules", "list", "--json", "--as-of", "2026-06-01").stdout)
    codes = {r["code"] for r in rows}
    assert {"28I", "28P", "29B", "29C", "8T", "19J", "19K", "62A", "81", "NFIB90"} <= codes
    assert not {"28E", "28F", "28G", "28H", "29A", "72"} & codes


@pytest.mark.parametrize(("statute", "section", "day", "codes"), [
    # stalking in 8L until 8Q began (April 2014); controlling or coercive behaviour in 8L until 8U (April 2020)
    ("Protection from Harassment Act 1997", "4A", "2014-03-31", ("8L",)), ("Protection from Harassment Act 1997", "4A", "2014-04-01", ("8Q",)),
    ("Serious Crime Act 2015", "76", "2015-12-28", ()), ("Serious Crime Act 2015", "76", "2015-12-29", ("8L",)),
    ("Serious Crime Act 2015", "76", "2020-03-31", ("8L",)), ("Serious Crime Act 2015", "76", "2020-04-01", ("8U",)),
    # serious injury by careless driving: 5E from commencement, 4/8 from April 2023
    ("Road Traffic Act 1988", "2C", "2022-06-27", ()), ("Road Traffic Act 1988", "2C", "2022-06-28", ("5E",)),
    ("Road Traffic Act 1988", "2C", "2023-03-31", ("5E",)), ("Road Traffic Act 1988", "2C", "2023-04-01", ("4/8",)),
    # Public Order Act s5 left the list (our best date: with the 2023 review, public-order.elements-2023); non-fatal strangulation joined 8S and 8T on 1 April 2025
    ("Public Order Act 1986", "5", "2023-05-30", ("9A",)), ("Public Order Act 1986", "5", "2023-05-31", ()),
    ("Serious Crime Act 2015", "75A", "2025-03-31", ("8N",)), ("Serious Crime Act 2015", "75A", "2025-04-01", ("8N", "8S", "8T")),
    # the list's spelling of an act is matched as ours (Crime & Disorder Act 1998)
    ("Crime and Disorder Act 1998", "32", "2024-06-01", ("8M",)), ("Crime & Disorder Act 1998", "32", "2024-06-01", ("8M",)),
])
def test_offences_join_and_leave_classes_on_their_own_dates(book: Rulebook, statute: str, section: str, day: str,
                                                            codes: tuple[str, ...]) -> None:
    assert book.codes_for_offence(statute, section, D(day)) == codes


def test_an_offence_ranks_by_its_own_maximum_from_the_list(book: Rulebook) -> None:
    entry = book.classification("8R", D("2024-06-01"))
    assert entry is not None
    assert entry.offence_maxima[("online safety act 2023", "179")] == pytest.approx(51 * 12 / 52)  # 51 weeks
    assert entry.offence_maxima[("online safety act 2023", "181")] == 60
    assert entry.max_sentence_months == 24 and entry.list_differences  # the class ranks by MCA 1988 s1, and says why


def test_a_list_row_whose_class_is_not_in_force_on_the_lists_date_does_not_load(tmp_path: Path) -> None:
    base = tmp_path / "rb"
    shutil.copytree(REPO / "rules", base)
    data = base / "classifications" / "notifiable-offences.yaml"
    data.write_text(data.read_text(encoding="utf-8").replace("    code: 3B\n", "    code: 28E\n", 1), encoding="utf-8")
    with pytest.raises(RulebookError) as exc:
        load_rulebook(base)
    assert "list row 7: classification '28E' has no catalogue entry in force on 2026-04-01" in str(exc.value.problems[0])
