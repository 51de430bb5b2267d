"""Unit tests of incident checking (hocr.incident): schema problems with JSON pointers,
references between ids, and Europe/London time handling."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from hocr.incident import (
    LONDON,
    InputProblem,
    InvalidIncident,
    check_incident,
    parse_json,
    parse_time,
    pointer,
    question_for,
)

BASE: dict[str, Any] = {
    "schema_version": "1",
    "id": "T-1",
    "report": {
        "received_at": "2024-03-04T08:10",
        "channel": "non_emergency_call",
        "reporter": {"type": "victim"},
    },
    "victims": [{"id": "V1", "kind": "person", "age": 34}, {"id": "V2", "kind": "household"}],
    "suspects": [{"id": "S1", "named": True}],
    "acts": [
        {"id": "A1", "classification": "44", "occurred_at": "2024-03-03T23:00",
         "victims": ["V1"], "suspects": ["S1"]},
        {"id": "A2", "classification": "44", "occurred_at": "2024-03-03", "victims": ["V2"]},
    ],
}


def incident(change: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if change is not None:
        change(data)
    return data


def problems_of(data: Any) -> list[InputProblem]:
    with pytest.raises(InvalidIncident) as info:
        check_incident(data)
    return list(info.value.problems)


def only(data: Any) -> InputProblem:
    found = problems_of(data)
    assert len(found) == 1, found
    return found[0]


def test_valid_incident() -> None:
    inc = check_incident(incident())
    assert inc.id == "T-1"
    assert inc.warnings == []
    # The raw data is kept as given; the facts have real times.
    assert inc.raw["report"]["received_at"] == "2024-03-04T08:10"
    assert inc.facts["report"]["received_at"] == dt.datetime(2024, 3, 4, 8, 10, tzinfo=LONDON)
    assert inc.facts["report"]["received_at"].utcoffset() is not None  # always aware
    assert inc.facts["acts"][1]["occurred_at"] == dt.date(2024, 3, 3)
    assert BASE["report"]["received_at"] == "2024-03-04T08:10"


# ------------------------------------------------------------------------------------------
# Schema problems with JSON pointers
# ------------------------------------------------------------------------------------------


def test_wrong_type() -> None:
    p = only(incident(lambda d: d["victims"][0].update(age="thirty")))
    assert p.pointer == "/victims/0/age"
    assert p.message == "expected an integer, not a string"
    assert "thirty" not in p.message  # values are never repeated: they can be personal data


def test_unknown_key_in_nested_object() -> None:
    p = only(incident(lambda d: d["victims"][1].update(colour="blue")))
    assert p.pointer == "/victims/1"
    assert "'colour' was unexpected" in p.message


def test_unknown_top_level_key() -> None:
    p = only(incident(lambda d: d.update(extra=1)))
    assert p.pointer == ""
    assert str(p).startswith("/: ")
    assert "'extra' was unexpected" in p.message


def test_missing_required() -> None:
    p = only(incident(lambda d: d["report"].pop("reporter")))
    assert (p.pointer, p.message) == ("/report", "'reporter' is a required property")
    p = only(incident(lambda d: d.pop("acts")))
    assert (p.pointer, p.message) == ("", "'acts' is a required property")


def test_bad_enum() -> None:
    p = only(incident(lambda d: d["report"]["reporter"].update(type="alien")))
    assert p.pointer == "/report/reporter/type"
    assert "is not one of" in p.message and "alien" not in p.message
    assert "'third_party'" in p.message


def test_bad_date_pattern() -> None:
    p = only(incident(lambda d: d["victims"][0].update(date_of_birth="10/05/2000")))
    assert p.pointer == "/victims/0/date_of_birth"
    assert p.message == "not a date (expected YYYY-MM-DD)"


def test_bad_datetime_pattern() -> None:
    p = only(incident(lambda d: d["report"].update(received_at="04/03/2024 08:10")))
    assert p.pointer == "/report/received_at"
    assert p.message.startswith("not a date and time (expected YYYY-MM-DDTHH:MM")


def test_date_that_does_not_exist() -> None:
    p = only(incident(lambda d: d["report"].update(received_at="2023-02-29T10:00")))
    assert p.pointer == "/report/received_at"


def test_several_problems_are_all_reported_in_pointer_order() -> None:
    def change(d: dict[str, Any]) -> None:
        d["victims"][1]["kind"] = "alien"
        d["acts"][0]["attempt"] = "yes"

    found = problems_of(incident(change))
    assert [p.pointer for p in found] == ["/acts/0/attempt", "/victims/1/kind"]


def test_problems_render_with_pointer() -> None:
    with pytest.raises(InvalidIncident) as info:
        check_incident(incident(lambda d: d["victims"][0].update(age=-1)), source="x.json")
    assert info.value.source == "x.json"
    assert str(info.value).startswith("/victims/0/age: ")


def test_parse_json_error() -> None:
    with pytest.raises(InvalidIncident) as info:
        parse_json('{"id": ', source="in.json")
    (p,) = info.value.problems
    assert p.pointer == ""
    assert "not valid JSON" in p.message and "line 1" in p.message
    assert parse_json('{"a": 1}') == {"a": 1}


def test_pointer_escapes() -> None:
    assert pointer(["acts", 0, "a/b", "c~d"]) == "/acts/0/a~1b/c~0d"
    assert pointer([]) == ""


def test_question_for_pointer() -> None:
    assert question_for("/victims/3/age").startswith("How old was the victim")
    assert question_for("/report/received_at") == "When was the report first received by the police?"
    assert question_for("/acts/0/nonsense") == ""


# ------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------


def test_act_victim_not_in_victims() -> None:
    p = only(incident(lambda d: d["acts"][1]["victims"].append("V9")))
    assert p.pointer == "/acts/1/victims/1"
    assert "no victim with id 'V9'" in p.message
    assert "V1, V2" in p.message


def test_act_suspect_not_in_suspects() -> None:
    p = only(incident(lambda d: d["acts"][0].update(suspects=["S2"])))
    assert p.pointer == "/acts/0/suspects/0"
    assert "no suspect with id 'S2'" in p.message


def test_reporter_for_victims_not_in_victims() -> None:
    p = only(incident(lambda d: d["report"]["reporter"].update(for_victims=["V1", "VX"])))
    assert p.pointer == "/report/reporter/for_victims/1"
    assert "'VX'" in p.message


def test_duplicate_ids() -> None:
    def change(d: dict[str, Any]) -> None:
        d["victims"].append({"id": "V1", "kind": "person"})
        d["acts"].append({"id": "A1", "classification": "44"})

    found = problems_of(incident(change))
    assert {(p.pointer, p.message) for p in found} == {
        ("/victims/2/id", "id 'V1' is used twice in victims"),
        ("/acts/2/id", "id 'A1' is used twice in acts"),
    }


# ------------------------------------------------------------------------------------------
# Times
# ------------------------------------------------------------------------------------------


def received(text: str) -> Any:
    inc = check_incident(incident(lambda d: d["report"].update(received_at=text)))
    return inc.facts["report"]["received_at"], inc.warnings


def london(value: dt.datetime) -> str:
    return value.astimezone(LONDON).isoformat()


def test_naive_winter_time_is_gmt() -> None:
    value, warnings = received("2024-01-15T10:00")
    assert london(value) == "2024-01-15T10:00:00+00:00"
    assert value.astimezone(dt.UTC) == dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)
    assert warnings == []


def test_naive_summer_time_is_bst() -> None:
    value, warnings = received("2024-07-15T10:00")
    assert london(value) == "2024-07-15T10:00:00+01:00"
    assert value.astimezone(dt.UTC) == dt.datetime(2024, 7, 15, 9, 0, tzinfo=dt.UTC)
    assert warnings == []


def test_naive_time_with_space_and_seconds() -> None:
    value, _ = received("2024-07-15 10:00:30")
    assert value.astimezone(dt.UTC) == dt.datetime(2024, 7, 15, 9, 0, 30, tzinfo=dt.UTC)


def test_non_existent_local_time_is_an_error_naming_its_pointer() -> None:
    p = only(incident(lambda d: d["report"].update(received_at="2024-03-31T01:30")))
    assert p.pointer == "/report/received_at"
    assert p.message.startswith("this time does not exist in UK local time")


def test_non_existent_local_time_in_a_list_item() -> None:
    p = only(incident(lambda d: d["acts"][1].update(occurred_at="2024-03-31T01:59")))
    assert p.pointer == "/acts/1/occurred_at"


def test_times_just_around_the_spring_gap_exist() -> None:
    before, _ = received("2024-03-31T00:59")
    after, _ = received("2024-03-31T02:00")
    assert london(before) == "2024-03-31T00:59:00+00:00"
    assert london(after) == "2024-03-31T02:00:00+01:00"
    assert after - before == dt.timedelta(minutes=1)


def test_ambiguous_local_time_is_the_first_with_a_warning() -> None:
    value, warnings = received("2024-10-27T01:30")
    assert london(value) == "2024-10-27T01:30:00+01:00"  # the first 01:30 is still BST
    assert value.astimezone(dt.UTC) == dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC)
    assert len(warnings) == 1
    assert warnings[0].startswith("/report/received_at: '2024-10-27T01:30' happened twice")


def test_ambiguous_time_in_a_list_item_warns_with_its_pointer() -> None:
    inc = check_incident(incident(lambda d: d["acts"][0].update(occurred_at="2024-10-27T01:00")))
    assert len(inc.warnings) == 1
    assert inc.warnings[0].startswith("/acts/0/occurred_at: ")


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-07-15T10:00Z", dt.datetime(2024, 7, 15, 10, 0)),
        ("2024-07-15T10:00+00:00", dt.datetime(2024, 7, 15, 10, 0)),
        ("2024-01-15T10:00+01:00", dt.datetime(2024, 1, 15, 9, 0)),
        ("2024-07-15T10:00-0500", dt.datetime(2024, 7, 15, 15, 0)),
        # With an offset a time in the spring gap or the autumn overlap is exact.
        ("2024-03-31T01:30+00:00", dt.datetime(2024, 3, 31, 1, 30)),
        ("2024-10-27T01:30+00:00", dt.datetime(2024, 10, 27, 1, 30)),
    ],
)
def test_offsets_are_respected(text: str, utc: dt.datetime) -> None:
    value, warnings = received(text)
    assert value.astimezone(dt.UTC) == utc.replace(tzinfo=dt.UTC)
    assert warnings == []


def test_parse_time_kinds() -> None:
    assert parse_time("2024-03-03", "date") == (dt.date(2024, 3, 3), None)
    assert parse_time("2024-03-03", "either") == (dt.date(2024, 3, 3), None)
    value, warning = parse_time("2024-03-03T10:00", "either")
    assert isinstance(value, dt.datetime)
    assert london(value) == "2024-03-03T10:00:00+00:00" and warning is None
    value, warning = parse_time("2024-06-03T10:00", "datetime")
    assert isinstance(value, dt.datetime)
    assert london(value) == "2024-06-03T10:00:00+01:00" and warning is None
    with pytest.raises(ValueError, match="does not exist"):
        parse_time("2025-03-30T01:15", "datetime")


def test_arithmetic_across_the_clock_change_is_in_real_hours() -> None:
    def change(d: dict[str, Any]) -> None:
        d["report"]["received_at"] = "2024-03-30T12:00"
        d["recorded_at"] = "2024-03-31T12:00"

    facts = check_incident(incident(change)).facts
    received_at, recorded_at = facts["report"]["received_at"], facts["recorded_at"]
    assert recorded_at - received_at == dt.timedelta(hours=23)
    assert london(received_at + dt.timedelta(hours=24)) == "2024-03-31T13:00:00+01:00"
    # ... and across the autumn change 24 real hours end an hour earlier by the clock.
    facts = check_incident(incident(lambda d: d["report"].update(received_at="2024-10-26T12:00"))).facts
    assert london(facts["report"]["received_at"] + dt.timedelta(hours=24)) == "2024-10-27T11:00:00+00:00"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["victims"][0].update(age=True),
        lambda d: d["victims"][0].update(age=131),
        lambda d: d["acts"][0].update(victims=["V1", "V1"]),
        lambda d: d["acts"][0].pop("classification"),
        lambda d: d["report"]["reporter"].update(type="victim", for_victims="V1"),
        lambda d: d.update(schema_version="2"),
    ],
)
def test_fast_and_reference_validation_agree(change: Callable[[dict[str, Any]], Any]) -> None:
    data = incident(change)
    found = []
    for fast in (True, False):
        with pytest.raises(InvalidIncident) as info:
            check_incident(data, fast=fast)
        found.append([str(p) for p in info.value.problems])
    assert found[0] == found[1]
    assert found[0]


def test_report_references_are_checked() -> None:
    def two_reports(d: dict[str, Any]) -> None:
        d["further_reports"] = [{"id": "R2", "received_at": "2024-03-20T10:00", "reporter": {"type": "victim"}}]
        d["acts"][1]["report"] = "R2"

    check_incident(incident(two_reports))  # R1 is the first report's default id

    def unknown_report(d: dict[str, Any]) -> None:
        two_reports(d)
        d["acts"][0]["report"] = "R7"

    p = only(incident(unknown_report))
    assert p.pointer == "/acts/0/report" and "R7" in p.message and "R1, R2" in p.message

    def reused_id(d: dict[str, Any]) -> None:
        two_reports(d)
        d["further_reports"][0]["id"] = "R1"
        del d["acts"][1]["report"]

    assert only(incident(reused_id)).pointer == "/further_reports/0/id"

    def no_id(d: dict[str, Any]) -> None:
        two_reports(d)
        del d["further_reports"][0]["id"]

    assert only(incident(no_id)).pointer == "/further_reports/0"


def test_force_record_references_are_checked() -> None:
    def record(d: dict[str, Any]) -> None:
        d["force_record"] = {"crimes": [{"ref": "CR1", "classification": "44", "acts": ["A1", "A9"], "victim": "V9"}]}

    found = sorted(p.pointer for p in problems_of(incident(record)))
    assert found == ["/force_record/crimes/0/acts/1", "/force_record/crimes/0/victim"]


def _london_both_ways(local: dt.datetime) -> tuple[Any, Any]:
    """UK local time read by the fast path and by the zone's own rules: a value and a warning,
    or the error."""
    from hocr import incident

    found = []
    for read in (incident._london, incident._london_exactly):
        try:
            found.append(read(local, local.isoformat()))
        except incident.TimeError as exc:
            found.append(("error", str(exc)))
    return found[0], found[1]


@pytest.mark.parametrize("year", [1972, 1996, 2023, 2024, 2025, 2038, 2999])
def test_fast_and_exact_uk_times_agree_every_10_minutes_around_each_change(year: int) -> None:
    from hocr import incident

    seen = {"error": 0, "warning": 0}
    for month in (3, 10):
        start = dt.datetime(year, month, 14)
        for step in range(18 * 24 * 6):  # eighteen days of 10-minute steps from the 14th
            local = start + dt.timedelta(minutes=10 * step, seconds=step % 60)
            fast, exact = _london_both_ways(local)
            assert fast == exact, local
            if exact[0] == "error":
                seen["error"] += 1
            elif exact[1]:
                seen["warning"] += 1
    assert seen["error"] and seen["warning"]  # the sweep met the skipped and the repeated hour
    assert incident._hour_offset(year, 7, 1, 12) == dt.timedelta(hours=1)


def test_fast_uk_times_fall_back_to_the_exact_rules_before_1972() -> None:

    for local in (dt.datetime(1800, 1, 1, 0, 0), dt.datetime(1847, 12, 1, 0, 0), dt.datetime(1941, 5, 4, 1, 30),
                  dt.datetime(1968, 10, 27, 3, 0), dt.datetime(1971, 12, 31, 23, 59)):
        fast, exact = _london_both_ways(local)
        assert fast == exact, local
    assert parse_time("1847-11-30T12:00", "datetime")[0].utcoffset() == dt.timedelta(0)
