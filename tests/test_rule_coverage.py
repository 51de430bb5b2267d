"""The coverage gate: every rule is exercised, and every table row matches, in at least one worked
case, unless tests/rule_coverage_exceptions.yaml lists it with a reason.

A rule is exercised in a case when its traced result is ``applied`` or ``overridden``, or when it
is ``unknown`` in a decision left undetermined (it is what keeps the decision open: the rules
that ask for a classification the rulebook does not encode do exactly that). A row matches when
its table's trace says ``match``."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.incident import InvalidIncident
from hocr.loader import load_rulebook

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
EXCEPTIONS = yaml.safe_load((REPO / "tests" / "rule_coverage_exceptions.yaml").read_text(encoding="utf-8"))


@cache
def exercised() -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    rules: set[str] = set()
    rows: set[tuple[str, str]] = set()
    for path in sorted((REPO / "tests" / "cases").rglob("*.yaml")):
        for case in load_case_file(path):
            as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
            try:
                decision = evaluate(BOOK, case_incident(case, path.parent), as_of=as_of, trace=True)
            except InvalidIncident:
                continue
            for step in decision["trace"]:
                for entry in step.get("rules", []):
                    _note(step, entry, rules, rows)
    return frozenset(rules), frozenset(rows)


def _note(step: dict[str, Any], entry: dict[str, Any], rules: set[str], rows: set[tuple[str, str]]) -> None:
    result = entry.get("result")
    if result in ("applied", "overridden") or (result == "unknown" and step.get("state") == "undetermined"):
        rules.add(entry["rule"])
    for row in entry.get("rows", []):
        if row["result"] == "match":
            rows.add((entry["rule"], row["row"]))


def listed_rules() -> dict[str, str]:
    return {e["rule"]: e["reason"] for e in EXCEPTIONS["rules"]}


def listed_rows() -> dict[tuple[str, str], str]:
    return {(e["rule"], row): e["reason"] for e in EXCEPTIONS["rows"] for row in e["rows"]}


def test_every_rule_is_exercised_by_a_worked_case_or_listed_with_a_reason() -> None:
    rules, _ = exercised()
    missing = sorted(set(BOOK.rules) - rules - set(listed_rules()))
    assert not missing, f"{len(missing)} rule(s) no worked case exercises (add a case, or list them): {missing}"


def test_every_table_row_matches_in_a_worked_case_or_is_listed_with_a_reason() -> None:
    _, rows = exercised()
    every = {(r.id, row.id) for r in BOOK.rules.values() if r.table is not None for row in r.table.rows}
    missing = sorted(every - rows - set(listed_rows()))
    assert not missing, f"{len(missing)} row(s) no worked case matches (add a case, or list them): {missing}"


def test_the_exceptions_are_real_still_needed_and_give_a_reason() -> None:
    rules, rows = exercised()
    every_row = {(r.id, row.id) for r in BOOK.rules.values() if r.table is not None for row in r.table.rows}
    for rule, reason in listed_rules().items():
        assert rule in BOOK.rules and rule not in rules, f"{rule}: no such rule, or a case now exercises it"
        assert len(reason) > 20, rule
    for pair, reason in listed_rows().items():
        assert pair in every_row and pair not in rows, f"{pair}: no such row, or a case now matches it"
        assert len(reason) > 20, pair
