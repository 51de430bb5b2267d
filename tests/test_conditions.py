"""Unit tests of the condition language (hocr.conditions): three-valued logic, operators,
quantifiers, expressions and compile errors."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hocr.conditions import (
    MISSING,
    NO_MISSING,
    UNDETERMINED,
    PathResolver,
    RuleCompileError,
    RuleRuntimeError,
    Scope,
    Tracer,
    Unknown,
    compile_condition,
    compile_expr,
    is_absent,
    parse_duration,
)

PATHS = PathResolver(["incident", "act", "victim", "derived"])
POINTERS = {"incident": "", "act": "/acts/0", "victim": "/victims/1", "derived": "/acts/0/classification"}

T = {"value": 1, "equals": 1}
F = {"value": 1, "equals": 2}
U1 = {"fact": "act.first_unknown", "equals": 1}
U2 = {"fact": "act.second_unknown", "equals": 1}
P1 = "/acts/0/first_unknown"
P2 = "/acts/0/second_unknown"


def scope(**roots: Any) -> Scope:
    base: dict[str, Any] = {"incident": {}, "act": {}, "victim": {}}
    base.update(roots)
    return Scope(base, dict(POINTERS))


def cond(node: dict[str, Any], sc: Scope | None = None, tracer: Tracer | None = None) -> Any:
    return compile_condition(node, PATHS)(sc or scope(), tracer)


def expr(node: Any, sc: Scope | None = None) -> Any:
    return compile_expr(node, PATHS)(sc or scope(), None)


# ------------------------------------------------------------------------------------------
# Kleene logic
# ------------------------------------------------------------------------------------------


def test_literal_true_false_and_unknown_leaves() -> None:
    assert cond(T) == (True, NO_MISSING)
    assert cond(F) == (False, NO_MISSING)
    assert cond(U1) == (None, frozenset({P1}))


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([T, T], (True, frozenset())),
        ([T, F], (False, frozenset())),
        ([F, U1], (False, frozenset())),
        ([U1, F], (False, frozenset())),  # false wins even after an unknown
        ([T, U1], (None, frozenset({P1}))),
        ([U1, T, U2], (None, frozenset({P1}))),  # only the first open part is asked (issue 11)
        ([U1, U2, F], (False, frozenset())),
    ],
)
def test_all_is_kleene_conjunction(parts: list[dict[str, Any]], expected: Any) -> None:
    assert cond({"all": parts}) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([F, F], (False, frozenset())),
        ([F, T], (True, frozenset())),
        ([U1, T], (True, frozenset())),  # true wins even after an unknown
        ([T, U1], (True, frozenset())),
        ([F, U1], (None, frozenset({P1}))),
        ([U1, F, U2], (None, frozenset({P1}))),  # only the first open part is asked (issue 11)
    ],
)
def test_any_is_kleene_disjunction(parts: list[dict[str, Any]], expected: Any) -> None:
    assert cond({"any": parts}) == expected


def test_not_swaps_true_and_false_and_keeps_unknown() -> None:
    assert cond({"not": T}) == (False, NO_MISSING)
    assert cond({"not": F}) == (True, NO_MISSING)
    assert cond({"not": U1}) == (None, frozenset({P1}))
    assert cond({"not": {"not": U2}}) == (None, frozenset({P2}))


def test_nested_logic_asks_for_the_first_open_branch() -> None:
    node = {"any": [{"all": [T, U1]}, {"not": U2}, F]}
    assert cond(node) == (None, frozenset({P1}))
    # Once the facts are given, the result is decided and nothing is missing.
    sc = scope(act={"first_unknown": 1, "second_unknown": 5})
    assert cond(node, sc) == (True, NO_MISSING)


def test_the_tracer_gets_a_leaf_per_predicate() -> None:
    tracer = Tracer()
    sc = scope(act={"kind": "theft"})
    cond({"all": [{"fact": "act.kind", "equals": "theft"}, U1]}, sc, tracer)
    assert tracer.leaves == [
        ("act.kind", "equals", "theft", "theft", True),
        ("act.first_unknown", "equals", 1, MISSING, None),
    ]


# ------------------------------------------------------------------------------------------
# Operators on present, absent and undetermined values
# ------------------------------------------------------------------------------------------

OPERATOR_CASES = [
    ("equals", "theft", "theft", True),
    ("equals", "theft", "robbery", False),
    ("equals", ["a", "b"], {"list": ["a", "b"]}, True),  # lists compare as tuples
    ("equals", ["a", "b"], {"list": ["b", "a"]}, False),
    ("not_equals", "theft", "robbery", True),
    ("not_equals", "theft", "theft", False),
    ("in", "b", ["a", "b"], True),
    ("in", "c", ["a", "b"], False),
    ("not_in", "c", ["a", "b"], True),
    ("not_in", "a", ["a", "b"], False),
    ("lt", 17, 18, True),
    ("lt", 18, 18, False),
    ("le", 18, 18, True),
    ("le", 19, 18, False),
    ("gt", 19, 18, True),
    ("gt", 18, 18, False),
    ("ge", 18, 18, True),
    ("ge", 17, 18, False),
    ("contains", ["V1", "V2"], "V2", True),
    ("contains", ["V1", "V2"], "V3", False),
    ("contains", "head teacher", "teacher", True),
    ("exists", "anything", True, True),
    ("exists", None, True, True),  # a JSON null is present
    ("exists", "anything", False, False),
]


@pytest.mark.parametrize(("op", "value", "operand", "expected"), OPERATOR_CASES)
def test_operator_on_present_value(op: str, value: Any, operand: Any, expected: bool) -> None:
    sc = scope(act={"x": value})
    assert cond({"fact": "act.x", op: operand}, sc) == (expected, NO_MISSING)


NON_EXISTS = [(op, operand) for op, _, operand, _ in OPERATOR_CASES if op != "exists"]


@pytest.mark.parametrize(("op", "operand"), NON_EXISTS)
def test_operator_on_absent_value_is_unknown_with_pointer(op: str, operand: Any) -> None:
    assert cond({"fact": "act.x", op: operand}) == (None, frozenset({"/acts/0/x"}))


@pytest.mark.parametrize(("op", "operand"), NON_EXISTS)
def test_operator_on_undetermined_root_is_unknown_with_its_missing(op: str, operand: Any) -> None:
    need = frozenset({"/acts/0/elements/kind", "/victims/1/age"})
    sc = scope(derived=Unknown(need))
    assert cond({"fact": "derived.x", op: operand}, sc) == (None, need)


@pytest.mark.parametrize(("op", "operand"), NON_EXISTS)
def test_operator_on_undetermined_nested_value(op: str, operand: Any) -> None:
    need = frozenset({"/victims/1/vulnerable"})
    sc = scope(act={"derived": {"x": Unknown(need)}})
    assert cond({"fact": "act.derived.x", op: operand}, sc) == (None, need)


def test_missing_root_points_at_the_root() -> None:
    sc = scope(victim=MISSING)
    assert cond({"fact": "victim.age", "gt": 17}, sc) == (None, frozenset({"/victims/1"}))


def test_missing_fact_points_at_the_fact_itself() -> None:
    sc = scope(act={"location": {}})
    node = {"fact": "act.location.setting", "equals": "school"}
    assert cond(node, sc) == (None, frozenset({"/acts/0/location/setting"}))
    # Also when the object holding it is missing: the question is about the fact.
    node = {"fact": "act.school.serious", "equals": True}
    assert cond(node, sc) == (None, frozenset({"/acts/0/school/serious"}))


def test_exists_on_absent_and_undetermined_values() -> None:
    assert cond({"fact": "act.x", "exists": True}) == (False, NO_MISSING)
    assert cond({"fact": "act.x", "exists": False}) == (True, NO_MISSING)
    need = frozenset({"/acts/0/elements"})
    sc = scope(derived=Unknown(need))
    # An undetermined derived value is not known to be absent.
    assert cond({"fact": "derived.code", "exists": True}, sc) == (None, need)
    assert cond({"fact": "derived.code", "exists": False}, sc) == (None, need)


def test_absent_right_operand_is_unknown_with_both_pointers() -> None:
    sc = scope(act={"a": 3})
    assert cond({"fact": "act.a", "lt": {"fact": "act.b"}}, sc) == (None, frozenset({"/acts/0/b"}))
    assert cond({"fact": "act.c", "lt": {"fact": "act.b"}}, sc) == (
        None,
        frozenset({"/acts/0/b", "/acts/0/c"}),
    )
    sc = scope(act={"a": 3, "b": 4})
    assert cond({"fact": "act.a", "lt": {"fact": "act.b"}}, sc) == (True, NO_MISSING)


def test_value_left_side() -> None:
    sc = scope(act={"victims": ["V1", "V2"]})
    assert cond({"value": {"count": "act.victims"}, "gt": 1}, sc) == (True, NO_MISSING)
    assert cond({"value": {"count": "act.suspects"}, "gt": 1}, sc) == (
        None,
        frozenset({"/acts/0/suspects"}),
    )


def test_comparing_incomparable_values_is_a_runtime_error() -> None:
    sc = scope(act={"a": "text"})
    with pytest.raises(RuleRuntimeError):
        cond({"fact": "act.a", "lt": 5}, sc)


def test_reading_a_key_of_a_non_mapping_is_a_runtime_error() -> None:
    sc = scope(act={"a": "text"})
    with pytest.raises(RuleRuntimeError, match="act.a.b"):
        cond({"fact": "act.a.b", "equals": 1}, sc)


def test_equals_does_not_take_booleans_for_numbers() -> None:
    sc = scope(act={"attempt": False, "count": 1})
    assert cond({"fact": "act.attempt", "equals": 0}, sc) == (False, NO_MISSING)
    assert cond({"fact": "act.count", "equals": True}, sc) == (False, NO_MISSING)
    assert cond({"fact": "act.count", "not_equals": True}, sc) == (True, NO_MISSING)
    assert cond({"fact": "act.attempt", "equals": False}, sc) == (True, NO_MISSING)


def test_in_does_not_take_booleans_for_numbers() -> None:
    sc = scope(act={"attempt": False, "count": 1})
    assert cond({"fact": "act.count", "in": [True]}, sc) == (False, NO_MISSING)
    assert cond({"fact": "act.attempt", "in": [0, 2]}, sc) == (False, NO_MISSING)
    assert cond({"fact": "act.attempt", "not_in": [0, 2]}, sc) == (True, NO_MISSING)


def test_missing_pointer_with_a_repeated_key_name() -> None:
    sc = scope(act={"x": {}})
    assert cond({"fact": "act.x.x", "exists": True}, sc) == (False, NO_MISSING)
    assert cond({"fact": "act.x.x", "equals": 1}, sc) == (None, frozenset({"/acts/0/x/x"}))


# ------------------------------------------------------------------------------------------
# Quantifiers
# ------------------------------------------------------------------------------------------

VERIFIABLE = {"fact": "item.kind", "equals": "verifiable_fact"}
BASE = "/acts/0/contrary_evidence"


def evidence(*kinds: str | None) -> Scope:
    return scope(act={"contrary_evidence": [{} if k is None else {"kind": k} for k in kinds]})


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("opinion", "verifiable_fact"), (True, frozenset())),
        (("opinion", "suspicion"), (False, frozenset())),
        ((), (False, frozenset())),
        (("opinion", None), (None, frozenset({f"{BASE}/1/kind"}))),
        ((None, "verifiable_fact"), (True, frozenset())),
        ((None, "opinion", None), (None, frozenset({f"{BASE}/0/kind", f"{BASE}/2/kind"}))),
    ],
)
def test_some(kinds: tuple[str | None, ...], expected: Any) -> None:
    node = {"some": "act.contrary_evidence", "where": VERIFIABLE}
    assert cond(node, evidence(*kinds)) == expected


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("verifiable_fact", "verifiable_fact"), (True, frozenset())),
        (("verifiable_fact", "opinion"), (False, frozenset())),
        ((), (True, frozenset())),
        (("verifiable_fact", None), (None, frozenset({f"{BASE}/1/kind"}))),
        ((None, "opinion"), (False, frozenset())),
    ],
)
def test_every(kinds: tuple[str | None, ...], expected: Any) -> None:
    node = {"every": "act.contrary_evidence", "where": VERIFIABLE}
    assert cond(node, evidence(*kinds)) == expected


@pytest.mark.parametrize("quantifier", ["some", "every"])
def test_quantifier_over_absent_list_is_unknown(quantifier: str) -> None:
    node = {quantifier: "act.contrary_evidence", "where": VERIFIABLE}
    assert cond(node) == (None, frozenset({BASE}))


@pytest.mark.parametrize("quantifier", ["some", "every"])
def test_quantifier_over_undetermined_list(quantifier: str) -> None:
    need = frozenset({"/acts/0/elements"})
    node = {quantifier: "derived.items", "where": {"fact": "item", "equals": 1}}
    assert cond(node, scope(derived=Unknown(need))) == (None, need)


def test_nested_quantifiers_give_item_pointers_of_the_inner_list() -> None:
    acts = [
        {"contrary_evidence": [{"immediately_available": False}]},
        {"contrary_evidence": [{"kind": "opinion"}, {"immediately_available": True}]},
    ]
    sc = scope(incident={"acts": acts})
    node = {
        "some": "incident.acts",
        "where": {
            "some": "item.contrary_evidence",
            "where": {"fact": "item.immediately_available", "equals": True},
        },
    }
    assert cond(node, sc) == (True, NO_MISSING)
    acts[1]["contrary_evidence"][1]["immediately_available"] = False
    assert cond(node, sc) == (None, frozenset({"/acts/1/contrary_evidence/0/immediately_available"}))


def test_quantifier_items_over_plain_values() -> None:
    sc = scope(act={"victims": ["V1", "V2"]})
    node = {"some": "act.victims", "where": {"fact": "item", "equals": "V2"}}
    assert cond(node, sc) == (True, NO_MISSING)
    node = {"every": "act.victims", "where": {"fact": "item", "equals": "V2"}}
    assert cond(node, sc) == (False, NO_MISSING)


# ------------------------------------------------------------------------------------------
# Expressions
# ------------------------------------------------------------------------------------------

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")


def test_literals_and_literal_lists() -> None:
    assert expr("x") == ("x", NO_MISSING)
    assert expr(None) == (None, NO_MISSING)
    assert expr(["a", "b"]) == (("a", "b"), NO_MISSING)


def test_add_and_sub() -> None:
    t0 = dt.datetime(2024, 3, 4, 8, 10, tzinfo=UTC)
    sc = scope(act={"t": t0, "u": t0 + dt.timedelta(hours=30), "n": 2})
    assert expr({"add": [{"fact": "act.t"}, {"duration": "PT24H"}]}, sc) == (
        dt.datetime(2024, 3, 5, 8, 10, tzinfo=UTC),
        NO_MISSING,
    )
    assert expr({"add": [1, {"fact": "act.n"}, 3]}, sc) == (6, NO_MISSING)
    assert expr({"sub": [{"fact": "act.u"}, {"fact": "act.t"}]}, sc) == (
        dt.timedelta(hours=30),
        NO_MISSING,
    )
    assert expr({"sub": [10, {"fact": "act.n"}]}, sc) == (8, NO_MISSING)


def test_arithmetic_with_absent_or_undetermined_parts() -> None:
    need = frozenset({"/report/received_at"})
    sc = scope(derived=Unknown(need))
    node = {"add": [{"fact": "act.t"}, {"fact": "derived.due"}, {"duration": "P1D"}]}
    assert expr(node, sc) == (UNDETERMINED, need | {"/acts/0/t"})
    assert expr({"sub": [{"fact": "act.t"}, 1]}) == (UNDETERMINED, frozenset({"/acts/0/t"}))


def test_arithmetic_type_error_is_a_runtime_error() -> None:
    with pytest.raises(RuleRuntimeError, match="add"):
        expr({"add": ["x", 1]})


def test_latest() -> None:
    a = dt.datetime(2024, 1, 1, 9, tzinfo=UTC)
    b = dt.datetime(2024, 1, 2, 9, tzinfo=UTC)
    sc = scope(act={"a": a, "b": b})
    assert expr({"latest": [{"fact": "act.a"}, {"fact": "act.b"}]}, sc) == (b, NO_MISSING)
    assert expr({"latest": [{"fact": "act.b"}, {"fact": "act.a"}]}, sc) == (b, NO_MISSING)
    assert expr({"latest": [{"fact": "act.a"}, {"fact": "act.c"}]}, sc) == (
        UNDETERMINED,
        frozenset({"/acts/0/c"}),
    )


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (dt.date(2000, 5, 10), dt.date(2018, 5, 10), 18),  # on the 18th birthday
        (dt.date(2000, 5, 10), dt.date(2018, 5, 9), 17),  # the day before
        (dt.date(2000, 5, 10), dt.date(2000, 5, 10), 0),
        (dt.date(2000, 12, 31), dt.date(2001, 1, 1), 0),
        (dt.date(2000, 5, 10), dt.datetime(2018, 5, 10, 0, 1, tzinfo=LONDON), 18),
        (dt.date(2000, 5, 10), dt.datetime(2018, 5, 9, 23, 59, tzinfo=LONDON), 17),
        (dt.date(2000, 1, 10), dt.datetime(2018, 1, 9, 23, 59, tzinfo=UTC), 17),
        # 29 February birthdays: the birthday in a common year is reached on 1 March.
        (dt.date(2004, 2, 29), dt.date(2022, 2, 28), 17),
        (dt.date(2004, 2, 29), dt.date(2022, 3, 1), 18),
        (dt.date(2004, 2, 29), dt.date(2024, 2, 28), 19),
        (dt.date(2004, 2, 29), dt.date(2024, 2, 29), 20),
    ],
)
def test_years_between(born: dt.date, on: dt.date, age: int) -> None:
    sc = scope(victim={"date_of_birth": born}, act={"occurred_at": on})
    node = {"years_between": [{"fact": "victim.date_of_birth"}, {"fact": "act.occurred_at"}]}
    value, missing = expr(node, sc)
    assert (value, missing) == (age, NO_MISSING)
    assert type(value) is int


def test_years_between_uses_the_uk_date_of_a_utc_time() -> None:
    # 2018-05-09T23:30Z is 2018-05-10T00:30 in London: the 18th birthday has begun.
    sc = scope(victim={"date_of_birth": dt.date(2000, 5, 10)},
               act={"occurred_at": dt.datetime(2018, 5, 9, 23, 30, tzinfo=UTC)})
    node = {"years_between": [{"fact": "victim.date_of_birth"}, {"fact": "act.occurred_at"}]}
    assert expr(node, sc) == (18, NO_MISSING)


def test_years_between_in_a_condition_and_with_missing_birth_date() -> None:
    sc = scope(act={"occurred_at": dt.date(2018, 5, 10)}, victim={"date_of_birth": dt.date(2000, 5, 10)})
    node = {
        "value": {"years_between": [{"fact": "victim.date_of_birth"}, {"fact": "act.occurred_at"}]},
        "lt": 18,
    }
    assert cond(node, sc) == (False, NO_MISSING)
    sc = scope(act={"occurred_at": dt.date(2018, 5, 10)})
    assert cond(node, sc) == (None, frozenset({"/victims/1/date_of_birth"}))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("P1D", dt.timedelta(days=1)),
        ("PT24H", dt.timedelta(hours=24)),
        ("PT72H", dt.timedelta(days=3)),
        ("PT90M", dt.timedelta(minutes=90)),
        ("P1DT2H30M", dt.timedelta(days=1, hours=2, minutes=30)),
        ("PT0M", dt.timedelta(0)),
        ("-P1D", dt.timedelta(days=-1)),
        ("-PT1H30M", dt.timedelta(hours=-1, minutes=-30)),
    ],
)
def test_parse_duration_valid(text: str, value: dt.timedelta) -> None:
    assert parse_duration(text) == value
    assert expr({"duration": text}) == (value, NO_MISSING)


@pytest.mark.parametrize(
    "text",
    ["", "P", "-P", "PT", "-PT", "1D", "P1H", "PT1D", "P1W", "P1Y", "P1.5D", "p1d", "P1D ", "PT-1H"],
)
def test_parse_duration_invalid(text: str) -> None:
    with pytest.raises(RuleCompileError, match="duration"):
        parse_duration(text)
    with pytest.raises(RuleCompileError):
        compile_expr({"duration": text}, PATHS)


def test_parse_duration_rejects_empty_time_part() -> None:
    with pytest.raises(RuleCompileError):
        parse_duration("P1DT")


def test_count() -> None:
    sc = scope(act={"victims": ["V1", "V2", "V3"], "suspects": []})
    assert expr({"count": "act.victims"}, sc) == (3, NO_MISSING)
    assert expr({"count": "act.suspects"}, sc) == (0, NO_MISSING)
    assert expr({"count": "act.witnesses"}, sc) == (MISSING, frozenset({"/acts/0/witnesses"}))
    need = frozenset({"/x"})
    assert expr({"count": "derived.items"}, scope(derived=Unknown(need))) == (UNDETERMINED, need)


def test_list() -> None:
    sc = scope(act={"id": "A1", "victims": ["V1"]}, victim={"id": "V1"})
    node = {"list": [{"fact": "act.id"}, {"fact": "victim.id"}, "const", {"fact": "act.victims"}]}
    assert expr(node, sc) == (("A1", "V1", "const", ("V1",)), NO_MISSING)
    assert expr({"list": []}, sc) == ((), NO_MISSING)
    node = {"list": [{"fact": "act.id"}, {"fact": "victim.name"}]}
    assert expr(node, sc) == (UNDETERMINED, frozenset({"/victims/1/name"}))
    # A list expression compares equal to a list fact with the same items.
    sc = scope(act={"key": ["A1", "V1"], "id": "A1"}, victim={"id": "V1"})
    node = {"fact": "act.key", "equals": {"list": [{"fact": "act.id"}, {"fact": "victim.id"}]}}
    assert cond(node, sc) == (True, NO_MISSING)


# ------------------------------------------------------------------------------------------
# Compile errors
# ------------------------------------------------------------------------------------------


def test_unknown_root_is_a_compile_error() -> None:
    with pytest.raises(RuleCompileError, match="unknown fact root 'report'"):
        compile_condition({"fact": "report.channel", "equals": "online"}, PATHS)
    with pytest.raises(RuleCompileError, match="unknown fact root"):
        compile_expr({"add": [{"fact": "nowhere.t"}, 1]}, PATHS)
    with pytest.raises(RuleCompileError, match="unknown fact root"):
        compile_condition({"some": "nowhere.list", "where": T}, PATHS)
    # 'item' is a root only inside a quantifier.
    with pytest.raises(RuleCompileError, match="unknown fact root 'item'"):
        compile_condition({"fact": "item.kind", "equals": "x"}, PATHS)


def test_unknown_operator_is_a_compile_error() -> None:
    with pytest.raises(RuleCompileError, match="unknown operator 'matches'"):
        compile_condition({"fact": "act.kind", "matches": "th.*"}, PATHS)
    with pytest.raises(RuleCompileError, match="unknown expression operator 'mul'"):
        compile_expr({"mul": [1, 2]}, PATHS)


def test_malformed_predicates_are_compile_errors() -> None:
    with pytest.raises(RuleCompileError, match="exactly one operator"):
        compile_condition({"fact": "act.kind", "equals": "a", "not_equals": "b"}, PATHS)
    with pytest.raises(RuleCompileError, match="'fact' or 'value'"):
        compile_condition({"equals": "a"}, PATHS)
    with pytest.raises(RuleCompileError, match="not an expression"):
        compile_expr({"fact": "act.a", "extra": 1}, PATHS)


def test_first_known_takes_the_first_known_operand() -> None:
    node = {"first_known": [{"fact": "victim.age"},
                            {"years_between": [{"fact": "victim.date_of_birth"}, {"fact": "act.occurred_at"}]}]}
    stated = scope(victim={"age": 15, "date_of_birth": dt.date(2000, 1, 1)}, act={"occurred_at": dt.date(2020, 1, 1)})
    assert expr(node, stated) == (15, NO_MISSING)
    derived = scope(victim={"date_of_birth": dt.date(2000, 1, 1)}, act={"occurred_at": dt.date(2013, 1, 1)})
    assert expr(node, derived) == (13, NO_MISSING)
    value, missing = expr(node, scope(victim={}, act={"occurred_at": dt.date(2013, 1, 1)}))
    assert is_absent(value)
    assert {p.rsplit("/", 1)[1] for p in missing} == {"age", "date_of_birth"}


def test_known_is_definite_where_exists_is_not() -> None:
    open_decision = scope(derived=Unknown(frozenset({"/victims/0/confirms_crime"})))
    assert cond({"fact": "derived.outcome", "known": False}, open_decision) == (True, NO_MISSING)
    assert cond({"fact": "derived.outcome", "known": True}, open_decision) == (False, NO_MISSING)
    tv, missing = cond({"fact": "derived.outcome", "exists": False}, open_decision)
    assert tv is None and missing == {"/victims/0/confirms_crime"}
    decided = scope(derived={"outcome": "record"})
    assert cond({"fact": "derived.outcome", "known": True}, decided) == (True, NO_MISSING)
    assert cond({"fact": "victim.age", "known": False}, scope(victim={})) == (True, NO_MISSING)


def test_rule_format_lists_exactly_the_operators_of_the_table() -> None:
    """docs/rule-format.md's operator table names each operator of hocr.ops once, and no other."""
    import re
    from pathlib import Path

    from hocr.ops import OPERATORS

    text = (Path(__file__).parent.parent / "docs" / "rule-format.md").read_text(encoding="utf-8")
    lines = text[text.index("| operator | operand |"):].splitlines()[2:]
    rows = lines[:next(i for i, line in enumerate(lines) if not line.startswith("|"))]
    named = [name for line in rows for name in re.findall(r"`(\w+)`", line.split("|")[1])]
    assert sorted(named) == sorted(OPERATORS), named


def test_the_two_key_getter_is_the_general_one() -> None:
    # conditions._two_key_getter (most paths: act.elements.kind) against conditions._getter on
    # every kind of value a root can hold, missing facts and failures included.
    import types

    from hocr.conditions import _getter, _two_key_getter

    unknown = Unknown(frozenset(("/acts/0/classification",)))
    leaves = [MISSING, UNDETERMINED, unknown, None, 0, "x", [1], {"b": 1}, {"b": unknown}, {}]
    values = [*leaves, *({"a": leaf} for leaf in leaves), types.MappingProxyType({"a": {"b": 2}})]
    fast, general = _two_key_getter("act.a.b", "act", ("a", "b")), _getter("act.a.b", "act", ("a", "b"))

    def outcome(get: Any, sc: Scope) -> Any:
        try:
            return ("value", get(sc, None))
        except RuleRuntimeError as exc:
            return ("raises", str(exc))

    for value in [*values, "absent"]:
        sc = Scope({} if value == "absent" else {"act": value}, {"act": "/acts/0"})
        assert outcome(fast, sc) == outcome(general, sc), value
