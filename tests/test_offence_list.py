"""The Home Office notifiable offences list: the importer (hocr.offence_list, `hocr rules import-offences`)
on the shipped CSV, on altered copies, on a small .ods the test writes, and on bad files; the data
file it writes; and every row of the list reaching the engine."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hocr import offence_list as ol
from hocr.engine import evaluate
from hocr.loader import Rulebook, load_rulebook

REPO = Path(__file__).resolve().parent.parent
# The list itself lives in the project's shared reference folder, beside the repository (in CI and
# in a worktree two levels down); the tests that read it are skipped where it is not.
_PLACES = [base / "shared" / "reference" / "notifiable-offences-april-2026.csv" for base in (REPO.parent, REPO.parent.parent)]
LIST_CSV = next((p for p in _PLACES if p.exists()), _PLACES[0])
DATA = REPO / "rules" / ol.DATA_FILE

needs_list = pytest.mark.skipif(not LIST_CSV.exists(), reason="the shared copy of the Home Office list is not here")


def hocr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hocr", *args], capture_output=True, text=True, timeout=300)


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# --------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "sections"), [
    ("Sec 18", ("18",)),
    ("Sec 52. 53 & 55", ("52", "53", "55")),
    ("Sec 75(A) (1) (a) (5)", ("75A",)),
    ("Sec 139 AA as inserted by Legal Aid, Sentencing and Punishment of Offenders Act 2012", ("139AA",)),
    ("Sec 4  Criminal Law Act 1977 Sec1", ("4",)),
    ("Secs 115-117", ("115", "116", "117")),
    ("as inserted by Sch.1 Tribunals, Courts and Enforcement Act 2007 S.251P", ("251P",)),
    ("Sec 1 as added by the Road Traffic Act 1991 Sec 1 and Criminal Justice Act 1993 Sec 67", ("1",)),
    ("Sec 19b", ("19B",)),
    ("except Sec 39", ()),
    ("", ()),
])
def test_sections_are_read_from_the_messy_cells(cell: str, sections: tuple[str, ...]) -> None:
    assert ol.sections_of(cell) == sections


def test_an_act_cell_with_several_acts_gives_each_its_name() -> None:
    names, why = ol.offence_names("Common Law                 Offences against the Person Act 1861 ", "Sec 5", "Manslaughter")
    assert names == (("Common law", "Manslaughter"), ("Offences against the Person Act 1861", "5")) and why == ""
    names, _ = ol.offence_names("Explosive Substance Act 1883 Sec 2,3        Criminal Damage Act 1971 Sec 1(2) ", "", "x")
    assert names == (("Explosive Substance Act 1883", "2"), ("Explosive Substance Act 1883", "3"), ("Criminal Damage Act 1971", "1"))
    assert ol.offence_names("Crime & Disorder Act 1998 ", "Sec 32(1)(a) & (4)", "x")[0] == (("Crime and Disorder Act 1998", "32"),)
    names, why = ol.offence_names("Insolvency Act 1986", "", "Triable-either-Way offences")
    assert names == () and "no section" in why


def test_codes_maxima_and_marks_are_normalised_and_each_change_is_said() -> None:
    fixes: list[ol.Fix] = []
    assert ol._class_of(5, "NFIB 90 Other Fraud Not Covered Elsewhere ".strip(), fixes)[:2] == ("NFIB90", "Other Fraud Not Covered Elsewhere")
    assert ol._class_of(6, "4/10 Corporate Manslaughter", fixes)[:2] == ("4/10", "Corporate Manslaughter")
    code, _, why = ol._class_of(7, "Various sub classes", fixes)
    assert code is None and "no single classification" in why
    assert [ol._sentence(8, t, fixes) for t in ("Life", "fine", "14", "6m", "51 weeks", "?")] == [
        "life", "fine", {"years": 14}, {"months": 6}, {"weeks": 51}, None]
    assert ol._upper(9, "mode", "e", fixes) == "E"
    assert [(f.row, f.kind) for f in fixes] == [(5, "code spacing"), (8, "unknown maximum"), (9, "letter case")]


# --------------------------------------------------------------------------------------------
# The shipped list
# --------------------------------------------------------------------------------------------


@needs_list
def test_the_shipped_list_reads_whole() -> None:
    parsed = ol.parse(LIST_CSV)
    assert len(parsed.rows) == 1608
    assert len(parsed.codes()) == 141  # 130 force classes and 11 NFIB codes (spaced codes such as 'NFIB 90' made one)
    kinds = {f.kind for f in parsed.fixes}
    assert {"spaces trimmed", "line break removed", "code spacing", "letter case", "unknown maximum"} <= kinds
    assert {"number": "005/01", "codes": ["5D", "8S", "8T"]} in ol.shared_numbers(parsed)
    assert [r.row for r in parsed.rows if r.code is None] == [366, 372]


@needs_list
def test_the_shipped_list_on_the_shipped_rulebook_reports_no_changes() -> None:
    r = hocr("rules", "import-offences", str(LIST_CSV), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert (report["rows"], report["changes"], report["written"]) == (1608, [], None)
    text = hocr("rules", "import-offences", str(LIST_CSV))
    assert "No changes against the rulebook." in text.stdout and "code spacing: 33 cells" in text.stdout


@needs_list
def test_the_data_file_is_what_the_importer_writes(book: Rulebook) -> None:
    assert book.offence_list is not None
    again = ol.render_data(ol.parse(LIST_CSV), book.offence_list.edition, book.offence_list.evidence)
    assert DATA.read_text(encoding="utf-8") == again, "run `hocr rules import-offences LIST --write`"


@needs_list
def test_one_altered_row_is_reported_alone(tmp_path: Path) -> None:
    rows = read_rows(LIST_CSV)
    assert rows[6][6] == "003/01" and rows[6][8] == "10"  # row 7 of the sheet: threats to kill, 10 years
    rows[6][8] = "14"
    copy = write_rows(tmp_path / "copy.csv", rows)
    r = hocr("rules", "import-offences", str(copy), "--edition", "April 2026", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["changes"] == [
        {"kind": "maximum", "code": "3B", "text": "003/01 Threats to Kill (3B): maximum 10 years -> 14 years", "rows": [7]}]


@needs_list
def test_a_moved_offence_a_new_class_and_a_changed_marking(tmp_path: Path) -> None:
    rows = read_rows(LIST_CSV)
    assert rows[6][2].startswith("3B ")
    rows[6][2] = "3C Threats to kill online"          # the offence moves to a class the catalogue lacks
    rows[7][9] = "S"                                   # 3A conspiracy to murder: V -> S
    copy = write_rows(tmp_path / "copy.csv", rows)
    book = load_rulebook()
    changes = ol.run_import(book, copy, edition="April 2026").changes
    assert [(c.kind, c.code, c.rows) for c in changes] == [
        ("class added", "3C", ()), ("class gone", "3B", ()),
        ("offence moved", "3C", (7,)), ("victim/state", "3A", (8,))]


# --------------------------------------------------------------------------------------------
# A published .ods, as the test writes one
# --------------------------------------------------------------------------------------------


def write_ods(path: Path, rows: list[list[Any]], sheet: str = ol.SHEET) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name=sheet)
    for row in rows:
        tr = TableRow()
        for value in row:
            if isinstance(value, float | int):
                cell = TableCell(valuetype="float", value=value)
            else:
                cell = TableCell(valuetype="string")
            for line in str(value).split("\n"):
                cell.addElement(P(text=line))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


ODS_ROWS: list[list[Any]] = [
    list(ol.COLUMNS),
    ["Violence Against The Person", "Violence with injury ", "8S Assault with injury on a constable", "Wounding with intent",
     "Offences against the Person Act 1861 ", "Sec 18", "005/01", "I ", "Life", "V", "Y", "Apr-17", "", "", ""],
    ["Violence Against The Person", "Violence with injury ", "8T Assault with Injury on an Emergency Worker (other than a constable)",
     "Wounding with intent", "Offences against the Person Act 1861", "Sec 18", "005/01", "I", "Life", "V", "Y", "Apr-20", "", "", ""],
    ["NFIB Fraud", "", "NFIB 50 Computer Misuse Crime", "Unauthorised access", "Computer Misuse Act 1990\nas amended", "Sec 2",
     "053/34", "E", 5, "S/V", "Y", "", "Monday, April 13, 2015", "", ""],
]


def test_a_small_ods_is_read_cleaned_and_written(tmp_path: Path) -> None:
    ods = write_ods(tmp_path / "notifiable-offences-may-2027.ods", ODS_ROWS)
    parsed = ol.parse(ods)
    assert [(r.code, r.mode, r.max_sentence, r.names) for r in parsed.rows] == [
        ("8S", "I", "life", (("Offences against the Person Act 1861", "18"),)),
        ("8T", "I", "life", (("Offences against the Person Act 1861", "18"),)),
        ("NFIB50", "E", {"years": 5}, (("Computer Misuse Act 1990", "2"),)),
    ]
    assert parsed.rows[2].commenced == "2015-04-13"
    assert {(f.row, f.column, f.kind) for f in parsed.fixes} >= {(2, "Mode", "spaces trimmed"), (4, "Offence category", "code spacing"),
                                                                 (4, "Act", "line break removed")}
    out = tmp_path / "data.yaml"
    r = hocr("rules", "import-offences", str(ods), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert (report["edition"], report["rows"], report["written"]) == ("May 2027", 3, str(out))
    assert {"number": "005/01", "codes": ["8S", "8T"]} in report["shared_numbers"]
    assert any(c["kind"] == "class gone" and c["code"] == "1" for c in report["changes"])  # a 3-row list drops murder
    import yaml
    data = yaml.safe_load(out.read_text(encoding="utf-8"))["offence_list"]
    assert (data["edition"], data["as_of"], len(data["offences"])) == ("May 2027", "2027-05-01", 3)


# --------------------------------------------------------------------------------------------
# Bad files: exit 2, naming the row, the column and what was expected
# --------------------------------------------------------------------------------------------


def test_bad_files_exit_2_with_row_and_column(tmp_path: Path) -> None:
    header = list(ol.COLUMNS)
    good = ["Theft", "", "46 Shoplifting", "Shoplifting", "Theft Act 1968", "Sec 1", "046/00", "E", "7", "V", "Y", "", "", "", ""]
    bad_mode = write_rows(tmp_path / "list-april-2026.csv", [header, good, good[:7] + ["X"] + good[8:]])
    r = hocr("rules", "import-offences", str(bad_mode))
    assert r.returncode == 2
    assert "row 3, column 'Mode': 'X' is not I, E or S" in r.stderr
    bad_number = write_rows(tmp_path / "n-april-2026.csv", [header, good[:6] + ["46"] + good[7:]])
    assert "row 2, column 'Home Office code': '46' is not an offence number" in hocr("rules", "import-offences", str(bad_number)).stderr
    no_column = write_rows(tmp_path / "c-april-2026.csv", [header[:7], good[:7]])
    r = hocr("rules", "import-offences", str(no_column))
    assert r.returncode == 2 and "row 1: missing column 'Mode'" in r.stderr
    no_edition = write_rows(tmp_path / "list.csv", [header, good])
    assert "give --edition" in hocr("rules", "import-offences", str(no_edition)).stderr
    for name, content in (("x.txt", b"hello"), ("broken.ods", b"not a zip")):
        (tmp_path / name).write_bytes(content)
        r = hocr("rules", "import-offences", str(tmp_path / name))
        assert r.returncode == 2 and "not a notifiable offences list" in r.stderr, r.stderr
    assert hocr("rules", "import-offences", str(tmp_path / "missing.csv")).returncode == 2


def test_a_bad_maximum_and_a_bad_date_are_named() -> None:
    with pytest.raises(ol.ListError) as exc:
        path = Path("list-april-2026.csv")
        cells = [list(ol.COLUMNS), ["Theft", "", "46 Shoplifting", "x", "Theft Act 1968", "Sec 1", "046/00", "E", "seven", "V", "Y", "",
                                     "someday", "", ""]]
        buf = io.StringIO()
        csv.writer(buf).writerows(cells)
        _parse_text(path, buf.getvalue())
    assert exc.value.problems == ("row 2, column 'Max Sentence': 'seven' is not a maximum (expected years, Nm, N weeks, life, fine or ?)",)


def _parse_text(path: Path, text: str) -> ol.ParsedList:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / path.name
        target.write_text(text, encoding="utf-8")
        return ol.parse(target)


# --------------------------------------------------------------------------------------------
# Every row reaches the engine
# --------------------------------------------------------------------------------------------


def _incident(statute: str, section: str, day: dt.date) -> dict[str, Any]:
    return {
        "id": "ROW", "report": {"received_at": f"{day}T10:00", "received_by_force": "Thames Valley Police", "reporter": {"type": "victim"}},
        "victims": [{"id": "V1", "kind": "person"}],
        "acts": [{"id": "A1", "offence": {"statute": statute, "section": section}, "points_to_prove": True,
                  "circumstances": {"threatening": True},
                  "location": {"force": "Thames Valley Police", "in_england_and_wales": True}, "victims": ["V1"], "contrary_evidence": []}],
    }


def _outcome(decision: dict[str, Any]) -> tuple[set[str], bool]:
    """The codes the act was recorded (or absorbed, or not recorded) under, or would be on another
    answer to a presumed fact, and whether the decision asks for the class."""
    def code(entry: dict[str, Any]) -> str:
        c = entry.get("classification")
        return str(c.get("code") if isinstance(c, dict) else c)
    codes = {code(e) for part in ("crimes", "absorbed", "not_recorded") for e in decision.get(part, [])}
    # A provisional crime (the row's class rests on a fact the report did not give, such as the
    # victim being a constable) reaches the row's class through one of its answers.
    codes |= {code(r) for e in decision.get("crimes", []) for r in e.get("reclassify_if", [])}
    asks = any(u["decision"] == "classification" and [f["pointer"] for f in u["facts_needed"]] == ["/acts/0/classification"]
               for u in decision["undetermined"])
    return codes, asks


@pytest.mark.parametrize("year", [2024, 2026])
def test_every_row_named_by_act_and_section_gets_its_class_or_a_question(book: Rulebook, year: int) -> None:
    """One incident per row and name (statute, section), reported in 2024 (or when the row's offence
    commenced, if later) and in 2026: the act takes the row's classification (or a provisional one
    that an answer re-classifies to it), or the decision asks which classification it is. It is never rejected as covered by no classification."""
    assert book.offence_list is not None
    done: dict[tuple[str, str, dt.date], tuple[set[str], bool]] = {}
    failures = []
    named = 0
    for row in book.offence_list.rows:
        if row["code"] is None or not row["names"]:
            assert row.get("note"), row["row"]  # the importer says why the row cannot be named or placed
            continue
        named += 1
        start = dt.date.fromisoformat(row["commenced"]) if row.get("commenced") else dt.date(year, 1, 1)
        day = max(dt.date(year, 6, 3), start)
        for n in row["names"]:
            key = (n["statute"].casefold(), n["section"].casefold(), day)
            if key not in done:
                done[key] = _outcome(evaluate(book, _incident(n["statute"], n["section"], day)))
            codes, asks = done[key]
            if not (row["code"] in codes or asks):
                failures.append((row["row"], row["code"], n, sorted(codes)))
    assert named >= 1400 and not failures, failures[:10]  # 1,421 of the 1,608 rows can be named (April 2026)
