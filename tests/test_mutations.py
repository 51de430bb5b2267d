"""The consistency checks can fail: break a copy of the shipped rulebook in one way and assert
that lint (or a property) catches exactly that break.

Each test copies rules/ into a temporary folder, lints the copy, applies one mutation, lints
again and asserts that a finding of the expected code appears that was not there before. The
targets are found in the copy (the first table, the first rule with an end date...), so the
tests keep working as the rulebook grows.
"""

from __future__ import annotations

import copy
import functools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import strategies as S
import yaml
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from hocr.engine import evaluate
from hocr.lint import lint
from hocr.loader import RulebookError, load_rulebook

REPO = Path(__file__).resolve().parent.parent
# Search without shrinking: the tests need one incident that shows the break, not the smallest.
FIND = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                phases=(Phase.generate,), suppress_health_check=list(HealthCheck))


@pytest.fixture
def rb(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(REPO / "rules", root)
    return root


def files(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for p in sorted(root.rglob("*.yaml")):
        data = yaml.safe_load(p.read_text())
        if isinstance(data, dict):
            yield p, data


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@functools.cache
def _baseline() -> frozenset[tuple[str, str]]:
    """The findings on the unmutated rulebook, linted once for all the tests (each copy starts
    identical to it; messages name files relative to the rulebook folder)."""
    return frozenset((f.code, f.message) for f in lint(REPO / "rules").findings)


def new_findings(root: Path, mutate: Callable[[Path], None]) -> dict[str, list[str]]:
    before = _baseline()
    mutate(root)
    out: dict[str, list[str]] = {}
    for f in lint(root).findings:
        if (f.code, f.message) not in before:
            out.setdefault(f.code, []).append(f.message)
    return out


def first_rule(root: Path, where: Callable[[dict[str, Any], dict[str, Any]], bool]) -> tuple[Path, dict[str, Any], int]:
    for path, data in files(root):
        for i, r in enumerate(data.get("rules", [])):
            if where(r, data):
                return path, data, i
    pytest.fail("no rule in the rulebook fits this mutation")


def tables(root: Path) -> Iterator[tuple[Path, dict[str, Any], int]]:
    for path, data in files(root):
        for i, r in enumerate(data.get("rules", [])):
            if "table" in r:
                yield path, data, i


# ---- lint ---------------------------------------------------------------------------------


def test_duplicating_an_id_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = first_rule(root, lambda r, d: True)
        other = next(p for p, d in files(root) if p != path and "rules" in d)
        target = yaml.safe_load(other.read_text())
        target["rules"].append(copy.deepcopy({**data.get("defaults", {}), **data["rules"][i]}))
        write(other, target)

    assert "HOCR-L001" in new_findings(rb, mutate)


def test_deleting_a_table_row_is_caught(rb: Path) -> None:
    """Some row of a table with declared domains covers a case no other row does."""
    candidates = [(p, d, i) for p, d, i in tables(rb)
                  if all("domain" in inp for inp in d["rules"][i]["table"]["inputs"]) and len(d["rules"][i]["table"]["rows"]) > 1]
    assert candidates, "no table with declared domains to mutate"
    caught = []
    for path, _data, i in candidates[:3]:
        original = path.read_text()
        for j in range(len(yaml.safe_load(original)["rules"][i]["table"]["rows"])):
            def mutate(root: Path, path: Path = path, i: int = i, j: int = j) -> None:
                data = yaml.safe_load(path.read_text())
                del data["rules"][i]["table"]["rows"][j]
                write(path, data)

            caught.append("HOCR-L011" in new_findings(rb, mutate))
            path.write_text(original)
            if caught[-1]:
                return
    assert any(caught)


def test_making_two_rows_overlap_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = next((p, d, i) for p, d, i in tables(root) if len(d["rules"][i]["table"]["rows"]) > 1)
        table = data["rules"][i]["table"]
        table["hit_policy"] = "unique"
        table["rows"][1]["when"] = copy.deepcopy(table["rows"][0]["when"])
        write(path, data)

    assert "HOCR-L010" in new_findings(rb, mutate)


def test_a_row_made_unreachable_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = next((p, d, i) for p, d, i in tables(root))
        table = data["rules"][i]["table"]
        table["hit_policy"] = "first"
        table["rows"].append({**copy.deepcopy(table["rows"][0]), "id": "copy-of-first"})
        write(path, data)

    assert "HOCR-L013" in new_findings(rb, mutate)


def _edition_with_successor(root: Path) -> tuple[Path, dict[str, Any], int]:
    """A rule with an end date, followed the next day by a rule of the same decision and the same
    conditions (its next edition)."""
    import datetime as dt

    merged = [(p, d, i, {**d.get("defaults", {}), **r}) for p, d in files(root) for i, r in enumerate(d.get("rules", []))]
    for p, d, i, r in merged:
        end = r.get("in_force", {}).get("to")
        if not end:
            continue
        nxt = (dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat()
        if any(o is not r and o.get("decision") == r.get("decision") and o.get("when") == r.get("when")
               and o.get("in_force", {}).get("from") == nxt for _, _, _, o in merged):
            return p, d, i
    pytest.fail("no rule with a next edition to mutate")


def test_breaking_a_date_range_is_caught(rb: Path) -> None:
    path, data, i = _edition_with_successor(rb)
    rule = {**data.get("defaults", {}), **data["rules"][i]}
    end = rule["in_force"]["to"]
    original = path.read_text()

    def later(root: Path) -> None:
        data["rules"][i]["in_force"] = {**rule["in_force"], "to": f"{int(end[:4]) + 1}{end[4:]}"}
        write(path, data)

    assert "HOCR-L030" in new_findings(rb, later)
    path.write_text(original)

    def earlier(root: Path) -> None:
        data["rules"][i]["in_force"] = {**rule["in_force"], "to": f"{int(end[:4]) - 1}{end[4:]}"}
        write(path, data)

    assert "HOCR-L031" in new_findings(rb, earlier)


def test_dropping_a_citation_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = first_rule(root, lambda r, d: "source" in r and "source" not in d.get("defaults", {}))
        del data["rules"][i]["source"]
        write(path, data)

    assert "HOCR-L040" in new_findings(rb, mutate)


def test_citing_a_section_the_edition_lacks_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = first_rule(root, lambda r, d: True)
        data["rules"][i]["source"] = {"document": "Home Office Counting Rules for Recorded Crime: General Rules",
                                      "edition": "April 2022", "section": "C No Crimes"}
        write(path, data)

    assert "HOCR-L041" in new_findings(rb, mutate)


def test_misspelling_a_fact_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = first_rule(root, lambda r, d: "when" in r and "fact: victim." in yaml.safe_dump(r["when"]))
        text = yaml.safe_dump(data["rules"][i]["when"])
        data["rules"][i]["when"] = yaml.safe_load(text.replace("fact: victim.", "fact: victim.misspelt_", 1))
        write(path, data)

    assert "HOCR-L005" in new_findings(rb, mutate)


def test_an_override_cycle_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = first_rule(root, lambda r, d: bool(r.get("overrides")))
        victim_id = data["rules"][i]["overrides"][0]
        for p, d in files(root):
            for r in d.get("rules", []):
                if r["id"] == victim_id:
                    r["overrides"] = [*r.get("overrides", []), data["rules"][i]["id"]]
                    write(p, d)
                    return

    assert "HOCR-L020" in new_findings(rb, mutate)


def test_removing_the_overrides_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        for p, d in files(root):
            for r in d.get("rules", []):
                r.pop("overrides", None)
            write(p, d)

    assert "HOCR-L021" in new_findings(rb, mutate)


def test_a_classification_no_rule_can_give_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        (root / "zz-test-catalogue.yaml").write_text(yaml.safe_dump({"classifications": [{
            "code": "99Z", "name": "A code in force before any rule", "category": "Test", "victim_based": True,
            "max_sentence": {"years": 1}, "in_force": {"from": "1990-01-01", "to": "1995-12-31"},
            "verification": "unverified",
            "source": {"document": "test", "edition": "n/a", "section": "test"}}]}))

    assert "HOCR-L050" in new_findings(rb, mutate)


def test_an_unknown_classification_code_is_caught(rb: Path) -> None:
    def mutate(root: Path) -> None:
        path, data, i = first_rule(root, lambda r, d: "when" in r)
        data["rules"][i]["when"] = {"all": [data["rules"][i]["when"], {"fact": "classification.code", "equals": "99Q"}]}
        write(path, data)

    assert "HOCR-L004" in new_findings(rb, mutate)


# ---- properties ---------------------------------------------------------------------------


def _book(root: Path) -> Any:
    try:
        return load_rulebook(root)
    except RulebookError as exc:
        pytest.skip(f"the shipped rulebook does not load at the moment: {exc.problems[0]}")


def _one_victim_several_acts(book: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A victim's own report of several acts by the same suspect: one counting group."""
    import datetime as dt

    day = dt.date(2024, 7, 15)
    codes = [c for c in S.codes_in_force(book, day) if book.classification(c, day).victim_based]

    def incident(chosen: list[str]) -> dict[str, Any]:
        return {"id": "P", "report": {"received_at": "2024-07-15T14:45", "received_by_force": "Kent Police",
                                      "reporter": {"type": "victim"}},
                "victims": [{"id": "V1", "kind": "person", "confirms_crime": True}],
                "suspects": [{"id": "S1"}],
                "acts": [{"id": f"A{i + 1}", "classification": c, "victims": ["V1"], "suspects": ["S1"],
                          "location": {"force": "Kent Police", "in_england_and_wales": True},
                          "contrary_evidence": [], "points_to_prove": True} for i, c in enumerate(chosen)]}

    return st.lists(st.sampled_from(codes), min_size=2, max_size=3, unique=True).map(incident)


def test_reversing_the_principal_order_fails_the_principal_property(rb: Path) -> None:
    data = yaml.safe_load((rb / "rulebook.yaml").read_text())
    for spec in data["rulebook"]["pipeline"]["principal"]["order_by"]:
        spec["direction"] = "asc" if spec["direction"] == "desc" else "desc"
    write(rb / "rulebook.yaml", data)
    book = _book(rb)

    def violates(incident: dict[str, Any]) -> bool:
        try:
            S.check_principal(_book(REPO / "rules"), evaluate(book, incident))
        except AssertionError:
            return True
        return False

    try:
        find(_one_victim_several_acts(book), violates, settings=FIND)
    except NoSuchExample:
        pytest.fail("no incident showed the reversed principal order")


def test_removing_the_overrides_fails_the_one_outcome_property(rb: Path) -> None:
    # The recording standard's exceptions: without their overrides, common reports meet two
    # recording rules at once.
    for p, d in files(rb):
        if p.parent.name == "ncrs" and any("overrides" in r for r in d.get("rules", [])):
            for r in d["rules"]:
                r.pop("overrides", None)
            write(p, d)
    book = _book(rb)

    def violates(incident: dict[str, Any]) -> bool:
        try:
            S.check_one_outcome(evaluate(book, incident), incident)
        except AssertionError:
            return True
        return False

    try:
        find(S.incidents(book), violates, settings=FIND)
    except NoSuchExample:
        pytest.fail("no incident showed the conflict")


# --------------------------------------------------------------------------------------------
# Presumptions: one that could stop a crime from being recorded is refused (HOCR-L060)
# --------------------------------------------------------------------------------------------

UNSAFE_PRESUMPTIONS = [
    # Silence taken as "the victim does not confirm": a third-party report would not be recorded.
    {"id": "mutant.presume.not-confirmed", "fact": "victim.confirms_crime", "value": False},
    # Silence taken as contrary evidence: the credible-evidence rule would stop the record.
    {"id": "mutant.presume.contrary-evidence", "fact": "act.contrary_evidence",
     "value": [{"kind": "verifiable_fact", "immediately_available": True}], "alternatives": [[]]},
    # Silence taken as "not vulnerable": one row of a recording rule (record without confirmation)
    # is ruled out, though the rule's other row still could apply.
    {"id": "mutant.presume.not-vulnerable", "fact": "victim.vulnerable", "value": False},
    # Silence about the conduct taken as "no offence": no classification, so no crime.
    {"id": "mutant.presume.no-offence", "fact": "act.elements.kind", "value": "no_offence"},
]


@pytest.mark.parametrize("mutant", UNSAFE_PRESUMPTIONS, ids=lambda m: m["id"])
def test_a_presumption_that_could_remove_a_crime_is_refused(rb: Path, mutant: dict[str, Any]) -> None:
    def add(root: Path) -> None:
        presumption = {"title": "A mutant presumption", "summary": "Takes silence the wrong way.", **mutant}
        write(root / "ncrs" / "mutant-presumptions.yaml", {
            "defaults": {"in_force": {"from": "2002-04-01"}, "verification": "unverified",
                         "source": {"document": "Home Office Counting Rules for Recorded Crime: General Rules",
                                    "edition": "April 2022", "section": "National Crime Recording Standard"}},
            "presumptions": [presumption],
        })

    found = new_findings(rb, add)
    assert "HOCR-L060" in found, found
    assert any(mutant["id"] in m for m in found["HOCR-L060"])
    with pytest.raises(RulebookError, match=mutant["id"]):
        load_rulebook(rb)


def test_the_shipped_presumptions_are_accepted_and_a_safe_mutant_too(rb: Path) -> None:
    # The control: a presumption that only changes a classification (not a record) loads.
    write(rb / "ncrs" / "mutant-presumptions.yaml", {
        "defaults": {"in_force": {"from": "2002-04-01"}, "verification": "unverified",
                     "source": {"document": "Home Office Counting Rules for Recorded Crime: General Rules",
                                "edition": "April 2022", "section": "B Classification and Re-classification"}},
        "presumptions": [{"id": "mutant.presume.not-armed", "title": "No weapon mentioned", "summary": "Not armed.",
                          "fact": "act.elements.armed", "value": False}],
    })
    assert {p.id for p in load_rulebook(rb).presumptions} >= {"mutant.presume.not-armed", "vap.presume.no-intent-stated"}
