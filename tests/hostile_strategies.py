"""Hostile inputs: the incident schema's bad neighbours, for the fuzz suite (tests/test_fuzz.py),
the hostile tests (tests/test_hostile.py) and the deep run (bench/fuzz_deep.py).

* :data:`HOSTILE_LINES`: one JSONL line for each kind of input that once cost a record (times near
  year 1 and 9999, JSON nested 1,000 deep, a 5,000-digit integer, a lone surrogate copied into the
  decision, NaN, a number too large for a float, 10,000 acts, text that is not UTF-8, ...).
* :func:`hostile_incidents`: a valid generated incident with one value somewhere replaced by a
  hostile one (a JSON value of the wrong type or shape, extreme times, surrogates, huge numbers,
  deep nesting), or the JSON text cut or spliced.
* :func:`outcome_of`: what the pipeline of ``hocr check`` does with an input, as one word; it
  raises AssertionError when an exception escapes or an output is not valid UTF-8.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from strategies import incidents

from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.explain import render_text
from hocr.incident import InvalidIncident, check_incident, parse_json
from hocr.loader import Rulebook

REPO = Path(__file__).resolve().parent.parent

# The fuzz profiles: "hostile-ci" (derandomised, so CI sees the same inputs every run) and
# "hostile-deep" (bench/fuzz_deep.py: 100,000 inputs, random).
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("hostile-ci", derandomize=True, max_examples=300, deadline=None, database=None,
                          suppress_health_check=_QUIET)
settings.register_profile("hostile-deep", max_examples=100_000, deadline=None, database=None,
                          suppress_health_check=_QUIET)
BASE: dict[str, Any] = {
    "id": "H-1",
    "report": {"received_at": "2024-03-04T08:10", "received_by_force": "Kent Police", "reporter": {"type": "victim"}},
    "victims": [{"id": "V1", "kind": "person", "age": 34}],
    "acts": [{"id": "A1", "classification": "44", "victims": ["V1"], "contrary_evidence": [],
              "location": {"force": "Kent Police", "in_england_and_wales": True}}],
    "force_record": {"crimes": []},
}


def _with(change: Callable[[dict[str, Any]], None]) -> str:
    d = copy.deepcopy(BASE)
    change(d)
    return json.dumps(d, ensure_ascii=True)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        node: Any = d
        parts = path.split("/")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        last = parts[-1]
        node[int(last) if last.isdigit() else last] = value
    return change


def _many_acts(d: dict[str, Any]) -> None:
    d["acts"] = [{**d["acts"][0], "id": f"A{i}"} for i in range(10_000)]


# Each a line of JSONL text (str) or raw bytes (not UTF-8): every one must end as "invalid".
HOSTILE_LINES: dict[str, str | bytes] = {
    "received year 1 with an offset": _with(_set("report/received_at", "0001-01-01T00:00+05:00")),
    "received year 9999": _with(_set("report/received_at", "9999-12-31T23:59")),
    "received year 9999 with an offset": _with(_set("report/received_at", "9999-12-31T23:59-05:00")),
    "occurred year 1 with an offset": _with(_set("acts/0/occurred_at", "0001-01-01T00:00+05:00")),
    "recorded year 9999": _with(_set("recorded_at", "9999-12-31T23:59-05:00")),
    "date of birth year 1": _with(_set("victims/0/date_of_birth", "0001-01-01")),
    "nested 1,000 deep": json.dumps(BASE)[:-1] + ', "notes": ' + "[" * 1000 + "]" * 1000 + "}",
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "5,000-digit integer": _with(_set("victims/0/age", 0)).replace('"age": 0', '"age": ' + "9" * 5000),
    "lone surrogate in the id": _with(_set("id", "H-1")).replace('"H-1"', '"H\\ud800"'),
    "lone surrogate in a description": _with(_set("acts/0/description", "x")).replace('"x"', '"\\udc00"'),
    "lone surrogate as a key": _with(_set("acts/0/description", "x")).replace('"description"', '"\\ud83d"'),
    "NaN": _with(_set("victims/0/age", 0)).replace('"age": 0', '"age": NaN'),
    "Infinity": _with(_set("victims/0/age", 0)).replace('"age": 0', '"age": -Infinity'),
    "1e400": _with(_set("victims/0/age", 0)).replace('"age": 0', '"age": 1e400'),
    "a 100,000-character text": _with(_set("acts/0/description", "x" * 100_000)),
    "10,000 acts": _with(_many_acts),
    "not UTF-8": b'{"id": "H-1", "notes": "\xff\xfe"}',
    "a JSON array": "[1, 2, 3]",
    "a JSON string": '"incident"',
    "an empty object": "{}",
    "null": "null",
    "truncated": json.dumps(BASE)[:40],
    "a byte-order mark": "\ufeff" + json.dumps(BASE),
}

# Hostile values to put anywhere in an incident.
_EXTREME_TIMES = ["0001-01-01T00:00+05:00", "0001-01-01T00:00", "9999-12-31T23:59-05:00", "9999-12-31T23:59",
                  "0001-01-01", "9999-12-31", "2024-02-30", "2024-13-01T00:00", "2024-03-31T01:30",
                  "2024-10-27T01:30", "1799-12-31", "3000-01-01T00:00Z"]
def _huge() -> int:
    return 10**5000  # built when drawn: its repr would exceed Python's digit limit


_TEXT = st.text(st.characters(codec=None, categories=["Cs", "L", "N", "P", "Zs", "Cc"]), max_size=12)
_SCALARS = st.one_of(
    st.none(), st.booleans(), _TEXT, st.sampled_from(_EXTREME_TIMES),
    st.integers(), st.integers(min_value=10**15, max_value=10**40), st.builds(_huge),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", " ", "V1", "A1", "44", "8N"]),
)
HOSTILE_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=8,
)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found.append((*at, key))
        found.extend(_paths(child, (*at, key)))
    return found


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> None:
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _mutate(draw: Any, data: Any) -> Any:
    """One to three hostile changes somewhere in ``data``: a hostile value, deep nesting, a part
    removed, or one object put in two places (a shared object, or a cycle when it is put inside
    itself: library input only)."""
    paths = _paths(data)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["value", "value", "deep", "drop", "share"]))
        path = draw(st.sampled_from(paths))
        try:
            if how == "value":
                _replace(data, path, draw(HOSTILE_VALUES))
            elif how == "deep":
                _replace(data, path, _deep(draw(st.sampled_from([30, 500, 2000]))))
            elif how == "drop":
                parent = data
                for key in path[:-1]:
                    parent = parent[key]
                del parent[path[-1]]
            else:
                node = data
                for key in draw(st.sampled_from(paths)):
                    node = node[key]
                _replace(data, path, node)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed that place
    return data


def _splice(draw: Any, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    cut = draw(st.integers(0, 20))
    insert = draw(st.sampled_from(["", "[", "]", "{", "}", ",", '"', "\\", "\\ud800", "NaN", "9" * 5000, "1e999",
                                   '"0001-01-01T00:00+05:00"', "\x00", "\ufeff"]))
    return text[:at] + insert + text[at + cut:]


def _line(name: str) -> str | bytes:
    return HOSTILE_LINES[name]


@cache
def worked_incidents() -> tuple[str, ...]:
    """The incident of every worked case (tests/cases) and example, as JSON text: realistic
    incidents of every shape the rulebook knows, quick to draw from."""
    found = [json.dumps(case_incident(case, path.parent), default=str)
             for path in sorted((REPO / "tests" / "cases").rglob("*.yaml")) for case in load_case_file(path)]
    found += [path.read_text(encoding="utf-8") for path in sorted((REPO / "examples").glob("*.json"))]
    return tuple(found)


def hostile_incidents(book: Rulebook, generated: bool = True) -> st.SearchStrategy[Any]:
    """Library input (Python data) or JSON text, each a near miss of a valid incident: a worked
    case's incident or (with ``generated``) one generated from the schema (slower to draw)."""
    pool = st.sampled_from(worked_incidents()).map(json.loads)
    valid = st.one_of(pool, incidents(book, max_acts=2, max_victims=2)) if generated else pool

    @st.composite
    def mutated(draw: Any) -> Any:
        return _mutate(draw, draw(valid))

    @st.composite
    def spliced(draw: Any) -> str:
        return _splice(draw, json.dumps(draw(valid)))

    return st.one_of(mutated(), spliced(), st.sampled_from(sorted(HOSTILE_LINES)).map(_line))


def outcome_of(book: Rulebook, given: Any) -> str:
    """Run ``hocr check``'s pipeline on one input (JSON text, bytes or Python data): parse, check,
    evaluate (traced), write the decision as JSON and as text. Returns "invalid" or the decision's
    status; AssertionError when anything else escapes or an output is not valid UTF-8."""
    try:
        try:
            if isinstance(given, bytes):
                given = given.decode("utf-8")
            data = parse_json(given) if isinstance(given, str) else given
            decision = evaluate(book, check_incident(data), trace=True)
        except UnicodeDecodeError:
            return "invalid"  # the CLI and the audit refuse text that is not UTF-8 before parsing
        except InvalidIncident as exc:
            assert exc.problems, "an InvalidIncident with no problem"
            for p in exc.problems:
                str(p).encode("utf-8")  # raises for a message that is not valid UTF-8
            return "invalid"
        json.dumps(decision, ensure_ascii=False).encode("utf-8")
        render_text(decision, explain=True, book=book).encode("utf-8")
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"unexpected {type(exc).__name__}: {exc}") from exc
    status = str(decision["status"])
    assert status in ("decided", "undetermined", "conflict"), status
    return status


def as_audit_line(value: Any) -> str | None:
    """A drawn input as one line of an audit file (None: bytes that are not UTF-8, which the
    audit's reader would report before any line is parsed)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        return value.replace("\n", " ")
    try:
        return json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        return "{"  # not writable as JSON (a cycle, say): the audit only ever reads text
