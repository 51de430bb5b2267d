"""The worked cases as a library (hocr.library): every case file reads, ids are stable and unique,
the examples resolve when installed, and the rule index points at cases that really rely on the rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hocr import library
from hocr.loader import Rulebook


def test_every_case_is_in_the_library_once() -> None:
    cases = library.load_library()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))
    files = sorted(library.cases_root().rglob("*.yaml"))
    assert {c.file for c in cases} == {p.relative_to(library.cases_root()).as_posix() for p in files}
    assert all(c.incident for c in cases)


def test_sections_and_categories_follow_the_folders() -> None:
    case = library.find_case("general/section-b/classification-check#1")
    assert case is not None
    assert (case.section, case.category) == ("general/section-b", "classification-check")
    assert case.scenario.startswith(case.name.rstrip(".") + ".")
    assert "handed in" in case.scenario  # the act's description follows the name


def test_an_example_resolves_from_an_installed_layout(tmp_path: Path) -> None:
    # Installed, the case files sit in hocr/_data/cases and the examples in hocr/_data/examples,
    # so an incident_file of ../../../examples/x.json no longer points at a file: copied away
    # from the checkout, the case files find the examples where hocr keeps them.
    root = tmp_path / "deep" / "cases"
    shutil.copytree(library.cases_root() / "examples", root / "examples")
    assert not (root / "examples" / "../../../examples").exists()
    cases = library.load_library(root)
    assert any(c.incident.get("id") == "EX-001" for c in cases)


def test_an_unreadable_case_file_names_the_file_only(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("cases: {name: secret-person}\n", encoding="utf-8")
    with pytest.raises(library.LibraryError) as err:
        library.load_library(tmp_path)
    assert "bad.yaml" in str(err.value) and "secret-person" not in str(err.value)


def test_the_rule_index_points_at_cases_that_rely_on_the_rule(book: Rulebook) -> None:
    index = library.cases_by_rule(book)
    assert "ncrs.victim-account" in index
    cases = {c.id: c for c in library.load_library()}
    for rule_id in ("burglary.elements.home-scheme", "a.fraud-report-fraud"):
        case = cases[index[rule_id][0]]
        decision = library.decide_case(book, case, trace=True)
        assert decision is not None and rule_id in library.rules_relied_on(decision)
