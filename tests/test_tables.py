"""Unit tests of decision tables (hocr.tables): hit policies, unknown rows and cell forms."""

from __future__ import annotations

from typing import Any

import pytest

from hocr.conditions import NO_MISSING, PathResolver, RuleCompileError, Scope
from hocr.tables import Table, TableConflict, compile_cell, compile_table

PATHS = PathResolver(["act", "victim"])
SOURCE = {"document": "D", "edition": "E", "section": "S"}


def as_sources(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def table(policy: str, rows: list[dict[str, Any]], priority: dict[str, Any] | None = None) -> Table:
    spec: dict[str, Any] = {
        "hit_policy": policy,
        "inputs": [
            {"name": "role", "fact": "act.role"},
            {"name": "vulnerable", "fact": "victim.vulnerable"},
            {"name": "age", "fact": "victim.age"},
        ],
        "rows": rows,
    }
    if priority is not None:
        spec["priority"] = priority
    return compile_table(spec, PATHS, "test.table", (SOURCE,), as_sources)


def run(t: Table, act: dict[str, Any] | None = None, victim: dict[str, Any] | None = None) -> Any:
    sc = Scope({"act": act or {}, "victim": victim or {}}, {"act": "/acts/0", "victim": "/victims/0"})
    result, log = t.evaluate(sc, None)
    return result.truth, result.missing, [r.id for r in result.rows], log


def row(rid: str, when: dict[str, Any], **then: Any) -> dict[str, Any]:
    return {"id": rid, "when": when, "then": then or {"outcome": rid}}


VULN = "/victims/0/vulnerable"
AGE = "/victims/0/age"
ROLE = "/acts/0/role"

# ------------------------------------------------------------------------------------------
# unique
# ------------------------------------------------------------------------------------------

UNIQUE_ROWS = [
    row("prof", {"role": "professional_third_party"}),
    row("third-vuln", {"role": "third_party", "vulnerable": True}),
    row("third-not-vuln", {"role": "third_party", "vulnerable": False}),
]


def test_unique_single_match() -> None:
    t = table("unique", UNIQUE_ROWS)
    truth, missing, rows, _ = run(t, {"role": "third_party"}, {"vulnerable": False})
    assert (truth, missing, rows) == (True, NO_MISSING, ["third-not-vuln"])


def test_unique_no_match() -> None:
    t = table("unique", UNIQUE_ROWS)
    assert run(t, {"role": "police"}, {"vulnerable": True})[:3] == (False, NO_MISSING, [])


def test_unique_unknown_rows_without_match_are_unknown() -> None:
    t = table("unique", UNIQUE_ROWS)
    truth, missing, rows, log = run(t, {"role": "third_party"})
    assert (truth, missing, rows) == (None, frozenset({VULN}), [])
    assert log == [("prof", False), ("third-vuln", None), ("third-not-vuln", None)]


def test_unique_match_with_other_row_unknown_is_decided() -> None:
    # The rows of a unique table do not overlap, so an unknown row cannot also match.
    t = table("unique", [row("prof", {"role": "professional_third_party"}),
                         row("vuln", {"role": "third_party", "vulnerable": True})])
    assert run(t, {"role": "professional_third_party"})[:3] == (True, NO_MISSING, ["prof"])


def test_unique_overlap_raises_table_conflict() -> None:
    t = table("unique", [row("a", {"role": "third_party"}), row("b", {"vulnerable": True}),
                         row("c", {"age": 30})])
    with pytest.raises(TableConflict) as info:
        run(t, {"role": "third_party"}, {"vulnerable": True, "age": 30})
    assert info.value.rows == ("a", "b", "c")
    assert "a, b, c" in str(info.value)


# ------------------------------------------------------------------------------------------
# first
# ------------------------------------------------------------------------------------------

FIRST_ROWS = [
    row("vuln", {"vulnerable": True}),
    row("third", {"role": "third_party"}),
    row("any", {}),
]


def test_first_takes_the_first_match_and_stops() -> None:
    t = table("first", FIRST_ROWS)
    truth, missing, rows, log = run(t, {"role": "third_party"}, {"vulnerable": False})
    assert (truth, missing, rows) == (True, NO_MISSING, ["third"])
    assert log == [("vuln", False), ("third", True)]


def test_first_unknown_row_before_the_match_is_unknown() -> None:
    t = table("first", FIRST_ROWS)
    truth, missing, rows, _ = run(t, {"role": "third_party"})
    assert (truth, missing, rows) == (None, frozenset({VULN}), [])


def test_first_unknown_row_after_the_match_is_decided() -> None:
    t = table("first", [row("third", {"role": "third_party"}), row("vuln", {"vulnerable": True})])
    truth, missing, rows, _ = run(t, {"role": "third_party"})
    assert (truth, missing, rows) == (True, NO_MISSING, ["third"])


def test_first_no_match_and_only_unknown() -> None:
    t = table("first", [row("vuln", {"vulnerable": True}), row("police", {"role": "police"})])
    assert run(t, {"role": "third_party"}, {"vulnerable": False})[:3] == (False, NO_MISSING, [])
    assert run(t, {"role": "third_party"})[:3] == (None, frozenset({VULN}), [])


# ------------------------------------------------------------------------------------------
# priority
# ------------------------------------------------------------------------------------------

PRIORITY = {"output": "outcome", "order": ["not_recorded", "record"]}


def prow(rid: str, when: dict[str, Any], outcome: str) -> dict[str, Any]:
    return {"id": rid, "when": when, "then": {"outcome": outcome, "reason": rid}}


def test_priority_highest_ranked_match_wins_regardless_of_row_order() -> None:
    t = table("priority", [prow("rec", {"role": "third_party"}, "record"),
                           prow("not", {"vulnerable": False}, "not_recorded")], PRIORITY)
    truth, missing, rows, log = run(t, {"role": "third_party"}, {"vulnerable": False})
    assert (truth, missing, rows) == (True, NO_MISSING, ["not"])
    assert log == [("rec", True), ("not", True)]  # priority looks at every row


def test_priority_equal_rank_goes_to_the_earlier_row() -> None:
    t = table("priority", [prow("first", {"role": "third_party"}, "record"),
                           prow("second", {"vulnerable": False}, "record")], PRIORITY)
    assert run(t, {"role": "third_party"}, {"vulnerable": False})[:3] == (True, NO_MISSING, ["first"])


def test_priority_unknown_higher_ranked_row_is_unknown() -> None:
    t = table("priority", [prow("rec", {"role": "third_party"}, "record"),
                           prow("not", {"vulnerable": False}, "not_recorded")], PRIORITY)
    assert run(t, {"role": "third_party"})[:3] == (None, frozenset({VULN}), [])


def test_priority_unknown_lower_ranked_row_is_decided() -> None:
    t = table("priority", [prow("rec", {"vulnerable": True}, "record"),
                           prow("not", {"role": "third_party"}, "not_recorded")], PRIORITY)
    assert run(t, {"role": "third_party"})[:3] == (True, NO_MISSING, ["not"])


def test_priority_no_match() -> None:
    t = table("priority", [prow("rec", {"vulnerable": True}, "record")], PRIORITY)
    assert run(t, {}, {"vulnerable": False})[:3] == (False, NO_MISSING, [])
    assert run(t)[:3] == (None, frozenset({VULN}), [])


def test_priority_output_value_not_in_order_ranks_last() -> None:
    t = table("priority", [prow("odd", {"role": "third_party"}, "something_else"),
                           prow("rec", {"role": "third_party"}, "record")], PRIORITY)
    assert run(t, {"role": "third_party"})[:3] == (True, NO_MISSING, ["rec"])


def test_priority_unknown_equal_rank_earlier_row_is_unknown() -> None:
    t = table("priority", [prow("earlier", {"vulnerable": True}, "record"),
                           prow("later", {"role": "third_party"}, "record")], PRIORITY)
    # With vulnerable=True the result is row 'earlier' (reason 'earlier'):
    assert run(t, {"role": "third_party"}, {"vulnerable": True})[2] == ["earlier"]
    # so with vulnerable unknown the table cannot yet say which row decides.
    assert run(t, {"role": "third_party"})[:3] == (None, frozenset({VULN}), [])


def test_priority_table_needs_priority_spec() -> None:
    with pytest.raises(RuleCompileError, match="priority"):
        table("priority", [prow("rec", {}, "record")])


# ------------------------------------------------------------------------------------------
# collect
# ------------------------------------------------------------------------------------------


def test_collect_returns_every_match_in_row_order() -> None:
    t = table("collect", [row("a", {"role": "third_party"}), row("b", {"vulnerable": True}),
                          row("c", {"age": 5}), row("d", {})])
    truth, missing, rows, _ = run(t, {"role": "third_party"}, {"vulnerable": True, "age": 40})
    assert (truth, missing, rows) == (True, NO_MISSING, ["a", "b", "d"])


def test_collect_no_match() -> None:
    t = table("collect", [row("a", {"role": "third_party"})])
    assert run(t, {"role": "police"})[:3] == (False, NO_MISSING, [])


def test_collect_any_unknown_row_makes_it_unknown() -> None:
    t = table("collect", [row("a", {"role": "third_party"}), row("b", {"vulnerable": True}),
                          row("c", {"age": 5})])
    truth, missing, rows, _ = run(t, {"role": "third_party"})
    assert (truth, missing, rows) == (None, frozenset({VULN, AGE}), [])


# ------------------------------------------------------------------------------------------
# cells
# ------------------------------------------------------------------------------------------


def test_compile_cell_forms() -> None:
    assert compile_cell("-") == []
    assert compile_cell(["a", "b"]) == [("in", ["a", "b"])]
    assert compile_cell({"ge": 18, "lt": 65}) == [("ge", 18), ("lt", 65)]
    assert compile_cell("x") == [("equals", "x")]
    assert compile_cell(None) == [("equals", None)]


def test_dash_cell_matches_any_value_even_unknown() -> None:
    t = table("unique", [row("r", {"role": "third_party", "vulnerable": "-"})])
    assert run(t, {"role": "third_party"})[:3] == (True, NO_MISSING, ["r"])
    assert run(t, {"role": "third_party"}, {"vulnerable": True})[:3] == (True, NO_MISSING, ["r"])


def test_list_cell_is_membership() -> None:
    t = table("unique", [row("r", {"role": ["third_party", "professional_third_party"]})])
    assert run(t, {"role": "professional_third_party"})[0] is True
    assert run(t, {"role": "police"})[0] is False
    assert run(t)[:2] == (None, frozenset({ROLE}))


def test_operator_object_cells() -> None:
    t = table("first", [
        row("child", {"age": {"lt": 18}}),
        row("adult", {"age": {"ge": 18, "lt": 65}}),
        row("older", {"age": {"ge": 65}}),
    ])
    assert run(t, {}, {"age": 17})[2] == ["child"]
    assert run(t, {}, {"age": 18})[2] == ["adult"]
    assert run(t, {}, {"age": 64})[2] == ["adult"]
    assert run(t, {}, {"age": 65})[2] == ["older"]
    assert run(t)[:3] == (None, frozenset({AGE}), [])


def test_operator_object_cells_not_in_and_exists() -> None:
    t = table("first", [row("nobody", {"role": {"exists": False}}),
                        row("other", {"role": {"not_in": ["victim", "police"]}})])
    assert run(t, {"role": "third_party"})[2] == ["other"]
    assert run(t, {"role": "police"})[:3] == (False, NO_MISSING, [])
    assert run(t, {})[:3] == (True, NO_MISSING, ["nobody"])
    # In the other order the unknown not_in row comes first and keeps the table open.
    t = table("first", [row("other", {"role": {"not_in": ["victim", "police"]}}),
                        row("nobody", {"role": {"exists": False}})])
    assert run(t, {})[:3] == (None, frozenset({ROLE}), [])


def test_row_outputs_and_sources() -> None:
    t = table("first", [
        {"id": "a", "when": {"role": "x"}, "then": {"outcome": "record"}},
        {"id": "b", "when": {"role": "-"}, "then": {"outcome": "not_recorded"},
         "source": [SOURCE, SOURCE], "verification": "verified", "summary": "fallback"},
    ])
    a, b = t.rows
    assert (a.index, b.index) == (0, 1)
    assert a.sources == (SOURCE,) and a.verification is None
    assert b.sources == (SOURCE, SOURCE) and b.verification == "verified"
    assert b.summary == "fallback"
    assert b.raw_then == {"outcome": "not_recorded"}


def test_compile_errors() -> None:
    with pytest.raises(RuleCompileError, match="no input named 'colour'"):
        table("first", [row("a", {"colour": "red"})])
    with pytest.raises(RuleCompileError, match="used twice"):
        table("first", [row("a", {}), row("a", {})])
    spec = {"hit_policy": "first", "inputs": [{"name": "x", "fact": "act.x"},
                                              {"name": "x", "fact": "act.y"}],
            "rows": [row("a", {})]}
    with pytest.raises(RuleCompileError, match="declared twice"):
        compile_table(spec, PATHS, "t", (), as_sources)
    spec = {"hit_policy": "first", "inputs": [{"name": "x", "fact": "nowhere.x"}], "rows": [row("a", {})]}
    with pytest.raises(RuleCompileError, match="unknown fact root"):
        compile_table(spec, PATHS, "t", (), as_sources)


def test_a_computed_input_is_an_expression() -> None:
    spec: dict[str, Any] = {
        "hit_policy": "unique",
        "inputs": [{"name": "age", "value": {"first_known": [{"fact": "victim.age"}, {"fact": "act.age_told"}]}}],
        "rows": [row("child", {"age": {"lt": 13}}), row("older", {"age": {"ge": 13}})],
    }
    t = compile_table(spec, PATHS, "test.computed", (SOURCE,), as_sources)
    assert run(t, victim={"age": 12})[2] == ["child"]
    assert run(t, act={"age_told": 13})[2] == ["older"]
    truth, missing, rows, _ = run(t)
    assert truth is None and rows == []
    assert missing == {AGE, "/acts/0/age_told"}
