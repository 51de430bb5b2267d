"""Incidents: parse, check against ``schemas/incident.schema.json``, and normalise.

Every problem is reported with the JSON pointer of the field and what was expected. Times
without a UTC offset are UK local time (Europe/London): a local time that does not exist (the
hour skipped when the clocks go forward) is an error; one that happens twice (when the clocks go
back) is read as the first of the two, and a warning says so. All arithmetic is then done on
absolute times, so 24 hours across a clock change is 24 real hours.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from . import jsonio
from .loader import data_path

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class InputProblem:
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class InvalidIncident(ValueError):
    """The incident cannot be evaluated; ``problems`` lists each problem with its JSON pointer."""

    def __init__(self, problems: Sequence[InputProblem], source: str = ""):
        self.problems = tuple(problems)
        self.source = source
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Incident:
    """A checked incident: the original data plus a normalised copy with real date-times."""

    raw: Mapping[str, Any]
    facts: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.raw["id"])


# --------------------------------------------------------------------------------------------
# Limits: what any incident must be before anything else looks at it (docs/hardening.md)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Bounds on an incident's size and shape. A real incident has a handful of acts; these are
    far above that and keep the worst case to well under a second (docs/hardening.md)."""

    max_depth: int = 24  # containers inside containers (the schema needs 7)
    max_nodes: int = 100_000  # values in all (shared objects count each time they appear)
    max_items: int = 1_000  # items in any one list
    max_string: int = 10_000  # characters in any one text
    max_acts: int = 200
    max_victims: int = 200
    max_suspects: int = 200
    max_allegations: int = 2_000  # act-victim pairs (an act without victims counts once)
    max_number: int = 10**15  # the largest magnitude of a number
    max_json_chars: int = 5_000_000  # the JSON text of one incident


LIMITS = Limits()
YEARS = (1800, 2999)  # dates and times outside these years are refused (docs/hardening.md)
_TOO_MANY_PROBLEMS = 20

_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null"}


_ID_SHAPE = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")


def looks_like_id(value: Any) -> bool:
    """Whether a value is shaped like an id or a code (letters, digits and _ . : / -, at most 64):
    the only values messages and audit outputs repeat. A value of another shape can be personal
    data typed into the wrong field, or text that cannot be written."""
    return isinstance(value, str) and _ID_SHAPE.fullmatch(value) is not None


def quoted(value: Any) -> str:
    """A value for an error message: quoted when it looks like an id or a code, otherwise only
    "(the value given)"."""
    return repr(value) if looks_like_id(value) else "(the value given)"


def _kind_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), f"a Python {type(value).__name__}, not a JSON value")


def _is_text(value: str) -> bool:
    """Whether a string can be written as UTF-8 (a lone surrogate cannot)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Walk:
    """One pass over the incident as a tree: depth, size, types, text and numbers."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.nodes = 0
        self.problems: list[InputProblem] = []
        self.ancestors: set[int] = set()

    def problem(self, path: list[Any], message: str) -> None:
        if len(self.problems) < _TOO_MANY_PROBLEMS:
            self.problems.append(InputProblem(pointer(path), message))

    def visit(self, value: Any, path: list[Any]) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            if self.nodes == self.limits.max_nodes + 1:
                self.problem([], f"the incident has more than {self.limits.max_nodes:,} values")
            return
        if isinstance(value, (dict, list)):
            self.container(value, path)
        elif isinstance(value, str):
            if len(value) > self.limits.max_string:
                self.problem(path, f"text longer than {self.limits.max_string:,} characters")
            elif not _is_text(value):
                self.problem(path, "text that is not valid Unicode (a lone surrogate): it cannot be written as UTF-8")
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, (int, float)):
            self.number(value, path)
        elif isinstance(value, HugeNumber):
            self.problem(path, f"a number larger than {self.limits.max_number:.0e} in magnitude")
        else:
            self.problem(path, _kind_name(value))

    def number(self, value: int | float, path: list[Any]) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, "not a finite number")
        elif abs(value) > self.limits.max_number:
            self.problem(path, f"a number larger than {self.limits.max_number:.0e} in magnitude")

    def container(self, value: dict[Any, Any] | list[Any], path: list[Any]) -> None:
        if id(value) in self.ancestors:
            self.problem(path, "the object contains itself (a cycle)")
            return
        if len(path) >= self.limits.max_depth:
            self.problem(path, f"nested more than {self.limits.max_depth} levels deep")
            return
        if not (isinstance(value, dict) or type(value) is list):
            self.problem(path, _kind_name(value))
            return
        self.ancestors.add(id(value))
        try:
            if isinstance(value, list):
                if len(value) > self.limits.max_items:
                    self.problem(path, f"more than {self.limits.max_items:,} items")
                    return
                for i, item in enumerate(value):
                    self.visit(item, [*path, i])
                return
            for key, item in value.items():
                if not isinstance(key, str):
                    self.problem(path, f"a property name that is {_kind_name(key)}, not text")
                elif len(key) > 200 or not _is_text(key):
                    self.problem(path, "a property name that is too long or not valid Unicode")
                else:
                    self.visit(item, [*path, key])
        finally:
            self.ancestors.discard(id(value))


def check_limits(data: Any, limits: Limits = LIMITS) -> None:
    """Check that ``data`` is a JSON value an incident can be, within ``limits``: nested at most
    ``max_depth`` deep, no cycles, only JSON types (text that is valid Unicode, finite numbers
    of bounded size), bounded lists and texts, and at most so many acts, victims, suspects and
    allegations. Raises :class:`InvalidIncident` naming each field that is over; never raises
    anything else, whatever ``data`` is. Cheap (one pass); :func:`check_incident` calls it first,
    and a service can call it on parsed JSON before anything else."""
    walk = _Walk(limits)
    walk.visit(data, [])
    if not walk.problems and isinstance(data, dict):
        _count_problems(data, limits, walk)
    if walk.problems:
        raise InvalidIncident(walk.problems)


def _count_problems(data: Mapping[str, Any], limits: Limits, walk: _Walk) -> None:
    for kind, most in (("acts", limits.max_acts), ("victims", limits.max_victims), ("suspects", limits.max_suspects)):
        items = data.get(kind)
        if isinstance(items, list) and len(items) > most:
            walk.problem([kind], f"more than {most:,} {kind} (the limit for one incident)")
    acts = data.get("acts")
    if isinstance(acts, list):
        pairs = sum(max(1, len(a["victims"])) if isinstance(a, dict) and isinstance(a.get("victims"), list) else 1
                    for a in acts)
        if pairs > limits.max_allegations:
            walk.problem(["acts"], f"more than {limits.max_allegations:,} allegations (act and victim pairs)")


def _tree_copy(value: Any) -> Any:
    """A copy of checked JSON data as a tree: an object that appears twice is copied twice, so
    normalising one place never changes another."""
    if isinstance(value, dict):
        return {k: _tree_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree_copy(v) for v in value]
    return value


class _Unusual(Exception):
    """The fast pass met something it leaves to the exact walk (:class:`_Walk`), which either
    finds a problem and words it, or accepts it (a dict subclass, say)."""


class _FastCopy:
    """The limits of :func:`check_limits` checked while copying the tree, in one pass with no
    paths built. It accepts only what the exact walk accepts (plain dicts and lists, text that
    is valid Unicode, finite bounded numbers, within every limit) and gives up on anything else;
    a cycle gives up at the depth limit."""

    __slots__ = ("limits", "nodes")

    def __init__(self, limits: Limits):
        self.limits = limits
        self.nodes = 1

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            if len(value) > self.limits.max_string or not (value.isascii() or _is_text(value)):
                raise _Unusual
            return value
        if kind is dict:
            return self.mapping(value, depth)
        if kind is list:
            return self.sequence(value, depth)
        if kind is bool or value is None:
            return value
        if kind is int or kind is float:
            if not (-self.limits.max_number <= value <= self.limits.max_number):  # NaN fails too
                raise _Unusual
            return value
        raise _Unusual

    def mapping(self, value: dict[Any, Any], depth: int) -> dict[str, Any]:
        self.count(len(value), depth)
        out = {}
        most = self.limits.max_string
        for key, item in value.items():
            if type(key) is not str or len(key) > 200 or not (key.isascii() or _is_text(key)):
                raise _Unusual
            # Text is most of an incident: checked here, saving a call for each.
            if type(item) is str and len(item) <= most and item.isascii():
                out[key] = item
            else:
                out[key] = self.value(item, depth + 1)
        return out

    def sequence(self, value: list[Any], depth: int) -> list[Any]:
        if len(value) > self.limits.max_items:
            raise _Unusual
        self.count(len(value), depth)
        return [self.value(item, depth + 1) for item in value]

    def count(self, items: int, depth: int) -> None:
        self.nodes += items
        if depth >= self.limits.max_depth or self.nodes > self.limits.max_nodes:
            raise _Unusual


def _checked_copy(data: Any, limits: Limits) -> Any:
    """A tree copy of ``data`` once it is within ``limits`` (:func:`check_limits`); raises
    :class:`InvalidIncident` otherwise. The common case takes the fast pass alone."""
    copier = _FastCopy(limits)
    try:
        facts = copier.value(data, 0)
    except (_Unusual, RecursionError):
        check_limits(data, limits)
        return _tree_copy(data)
    # No count can be over when there are fewer values than the lowest of the limits counted
    # (acts, victims and suspects are values, and so is every act-victim pair's victim).
    fewest = min(limits.max_acts, limits.max_victims, limits.max_suspects, limits.max_allegations)
    if isinstance(facts, dict) and copier.nodes > fewest:
        walk = _Walk(limits)
        _count_problems(facts, limits, walk)
        if walk.problems:
            raise InvalidIncident(walk.problems)
    return facts


@cache
def incident_schema() -> dict[str, Any]:
    schema: dict[str, Any] = jsonio.loads((data_path("schemas") / "incident.schema.json").read_bytes())
    return schema


@cache
def _validator() -> Any:
    """The reference validator (jsonschema): it decides whenever the fast one objects, and words
    every error."""
    import jsonschema

    schema = incident_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


@cache
def _fast_validator() -> Callable[[Any], bool] | None:
    """A compiled validator for the common case of a valid incident (jsonschema-rs, about a
    hundred times faster than the reference validator; built in about 2 ms, so nothing is
    cached). It only ever says "valid": whenever it objects, or is not installed, the reference
    validator (jsonschema) decides and words the errors, so a difference between the two can
    only cost time (tests/test_incident.py checks that they agree)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - optional speed-up
        return None
    validator = jsonschema_rs.validator_for(incident_schema())
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


def pointer(path: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def value_at(raw: Any, pointer_text: str, missing: Any = None) -> Any:
    """The value the incident's JSON holds at ``pointer_text`` (the plain pointers of facts:
    keys and list indexes), or ``missing`` where it holds none."""
    node = raw
    for part in [p for p in pointer_text.split("/") if p]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return missing
    return node


def _no_constant(name: str) -> Any:
    raise _JsonLimit(f"{name} is not a JSON number")


class _JsonLimit(ValueError):
    pass


class HugeNumber:
    """An integer in JSON text too long to be converted (kept so that :func:`check_limits` can
    name its field)."""

    def __repr__(self) -> str:
        return "<a number with too many digits>"


def _json_int(digits: str) -> int | HugeNumber:
    return int(digits) if len(digits) <= 40 else HugeNumber()


_FEW_CONTAINERS = 500  # far below the nesting the standard library refuses (about 1,000)


def parse_json(text: str, source: str = "<input>", limits: Limits = LIMITS) -> Any:
    """Parse JSON text; every failure is :class:`InvalidIncident` (too long, nested too deeply,
    NaN or Infinity, an integer with too many digits, or not JSON at all)."""
    def refuse(message: str) -> InvalidIncident:
        return InvalidIncident([InputProblem("", message)], source)

    if len(text) > limits.max_json_chars:
        raise refuse(f"the JSON text is longer than {limits.max_json_chars:,} characters")
    if jsonio.FAST and text.count("[") + text.count("{") < _FEW_CONTAINERS:
        # orjson reads the common case; what it refuses (NaN, an integer too long for a double)
        # the standard library reads again, to refuse it in its own words. Text with many
        # containers goes to the standard library alone, which refuses deep nesting (orjson
        # reads up to 1,024 levels).
        try:
            return jsonio.fast_loads(text)
        except ValueError:
            pass
    try:
        return json.loads(text, parse_constant=_no_constant, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise refuse(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except _JsonLimit as exc:
        raise refuse(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise refuse(f"nested too deeply (more than {limits.max_depth} levels)") from None
    except ValueError:  # pragma: no cover - integers are converted by _json_int
        raise refuse("a number has too many digits") from None


def _schema_problems(data: Any) -> list[InputProblem]:
    from jsonschema.exceptions import best_match

    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        specific = best_match(error.context) if error.context else error
        path = list(specific.absolute_path) if error.context else list(error.absolute_path)
        if error.validator == "anyOf" and _all_time_patterns(error):
            message = "not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
        else:
            message = schema_message(specific)
        problems.append(InputProblem(pointer(path), message))
    return problems


def _all_time_patterns(error: Any) -> bool:
    patterns = [e for e in error.context if e.validator == "pattern"]
    return bool(patterns) and all(str(e.schema.get("pattern", "")).startswith("^[0-9]{4}") for e in patterns)


_SAFE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_TYPE_NAMES = {"string": "text", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "object": "an object", "array": "an array", "null": "null"}


def schema_message(error: Any) -> str:
    """What a schema error means, in words that never repeat the value given: a value can be
    personal data (a name typed into the wrong field), so only the field and what was expected
    are said. Property names are repeated only when they look like property names."""
    kind, want, schema = error.validator, error.validator_value, error.schema
    if kind == "type":
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in ([want] if isinstance(want, str) else want))
        return f"expected {wanted}, not {_kind_name(error.instance)}"
    if kind == "enum":
        return f"the value given is not one of {want}"
    if kind == "const":
        return f"the value given is not {want!r}"
    if kind == "pattern":
        return _pattern_message(str(want))
    if kind == "additionalProperties":
        allowed = set(schema.get("properties", {})) if isinstance(schema, Mapping) else set()
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, Mapping) else []
        named = [k for k in extra if isinstance(k, str) and _SAFE_NAME.fullmatch(k)]
        shown = ", ".join(repr(k) for k in named) + (" and others" if len(named) < len(extra) and named else "")
        verb = "were" if len(extra) > 1 else "was"
        return f"Additional properties are not allowed ({shown or 'a property'} {verb} unexpected)"
    bounds = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
              "exclusiveMaximum": "less than"}
    if kind in bounds:
        return f"must be {bounds[kind]} {want}"
    sizes = {"minLength": ("at least", "character"), "maxLength": ("at most", "character"),
             "minItems": ("at least", "item"), "maxItems": ("at most", "item")}
    if kind in sizes:
        how, unit = sizes[kind]
        return f"must have {how} {want} {unit}{'s' if want != 1 else ''}"
    if kind == "uniqueItems":
        return "the items must all be different"
    if kind == "required":
        return str(error.message)  # names the missing property, from the schema
    return f"not valid here (the schema's {kind!r} check)"


def _pattern_message(pattern: str) -> str:
    if pattern.startswith("^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]"):
        return "not a date and time (expected YYYY-MM-DDTHH:MM, optionally with seconds and a UTC offset)"
    if pattern == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$":
        return "not a date (expected YYYY-MM-DD)"
    if pattern == "^[A-Za-z0-9_.:/-]+$":
        return "not an id (letters, digits and _ . : / - only)"
    return f"does not have the expected form ({pattern})"


_TIME_KINDS = {"#/$defs/datetime": "datetime", "#/$defs/date": "date", "#/$defs/date_or_datetime": "either"}


@cache
def time_fields() -> tuple[tuple[tuple[str, ...], str], ...]:
    """Paths (with '*' for array items) of every date or date-time field in the incident schema."""
    schema = incident_schema()
    kinds = _TIME_KINDS
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(node: Mapping[str, Any], path: tuple[str, ...], depth: int) -> None:
        if depth > 12:
            return
        ref = node.get("$ref")
        if ref in kinds:
            found.append((path, kinds[ref]))
            return
        if ref:
            walk(schema["$defs"][ref.split("/")[-1]], path, depth + 1)
            return
        for name, sub in node.get("properties", {}).items():
            walk(sub, (*path, name), depth + 1)
        if "items" in node:
            walk(node["items"], (*path, "*"), depth + 1)

    walk(schema, (), 0)
    return tuple(found)


class TimeError(ValueError):
    """A date or time that cannot be used; the message never repeats the value."""


def parse_time(text: str, kind: str) -> tuple[dt.date | dt.datetime, str | None]:
    """Parse a date or date-time; naive times are Europe/London. Returns (value, warning).

    Raises :class:`TimeError` (a ValueError) for a date or time that does not exist, or one
    outside the years in ``YEARS``."""
    if kind in ("date", "either") and len(text) == 10:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise TimeError("not a date that exists: the day or month is out of range (expected YYYY-MM-DD)") from None
        _check_year(day.year)
        return day, None
    try:
        value = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise TimeError("not a date and time that exists: a part of it is out of range (expected "
                        "YYYY-MM-DDTHH:MM, optionally with seconds and a UTC offset)") from None
    _check_year(value.year)
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC), None
    return _london(value, text)


def _check_year(year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise TimeError(f"the year is outside {YEARS[0]}-{YEARS[1]}, the years hocr accepts")


def _london(value: dt.datetime, text: str) -> tuple[dt.datetime, str | None]:
    """A naive time read as UK local time, held in UTC (so that adding hours adds real hours:
    aware arithmetic in one zone is wall-clock arithmetic in Python). The fast path knows the
    offset of each regular hour; every other hour takes :func:`_london_exactly`."""
    if value.year >= _WHOLE_HOUR_CHANGES:
        offset = _hour_offset(value.year, value.month, value.day, value.hour)
        if offset is not None:
            return (value - offset).replace(tzinfo=dt.UTC), None
    return _london_exactly(value, text)


# From 1972 every change of UK clock time is of a whole hour at the start of an hour (before
# 1847 the zone is local mean time, offsets of minutes and seconds), so an hour whose first and
# last instants are regular, with one offset, is regular throughout.
_WHOLE_HOUR_CHANGES = 1972


@lru_cache(maxsize=8192)
def _hour_offset(year: int, month: int, day: int, hour: int) -> dt.timedelta | None:
    """The UK offset from UTC through one local hour, or None when the hour is not regular
    (a time in it is skipped, happens twice, or the offset changes)."""
    start = dt.datetime(year, month, day, hour)
    offsets = set()
    for local in (start, start.replace(minute=59, second=59, microsecond=999_999)):
        try:
            utc, warning = _london_exactly(local, "")
        except TimeError:
            return None
        if warning is not None:
            return None
        offsets.add(local - utc.replace(tzinfo=None))
    return offsets.pop() if len(offsets) == 1 else None


def _london_exactly(value: dt.datetime, text: str) -> tuple[dt.datetime, str | None]:
    """:func:`_london` by the zone's own rules: a skipped time is an error, a repeated one is
    read as the first and a warning says so."""
    first = value.replace(tzinfo=LONDON, fold=0)
    second = value.replace(tzinfo=LONDON, fold=1)
    round_trip = first.astimezone(dt.UTC).astimezone(LONDON).replace(tzinfo=None)
    if round_trip != value:
        raise TimeError(
            "this time does not exist in UK local time (the clocks went forward then); "
            "give a UTC offset or a time that exists"
        )
    if first.utcoffset() != second.utcoffset():
        return first.astimezone(dt.UTC), (
            f"{text!r} happened twice in UK local time (the clocks went back); "
            f"read as the first, {first.isoformat()}"
        )
    return first.astimezone(dt.UTC), None


TimePlan = dict[str, "TimePlan | tuple[int, str]"]


@cache
def _time_plan() -> TimePlan:
    """:func:`time_fields` as a tree to walk: each key leads to the plan below it, or, for a time
    field, to (its position in time_fields, its kind); '*' stands for every item of a list."""
    plan: TimePlan = {}
    for i, (path, kind) in enumerate(time_fields()):
        node = plan
        for part in path[:-1]:
            below = node.setdefault(part, {})
            assert isinstance(below, dict)  # a time field is never also a container
            node = below
        node[path[-1]] = (i, kind)
    return plan


class _Times:
    """Every date and time of a checked copy parsed in place, in one walk of the time fields
    present; problems and warnings come out in the order of :func:`time_fields`, then of the
    items, as the exact reading gives them."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, InputProblem]] = []
        self.warnings: list[tuple[int, str]] = []

    def walk(self, node: Any, plan: TimePlan, at: tuple[Any, ...]) -> None:
        for key, below in plan.items():
            if key == "*":
                if type(node) is list:
                    for i in range(len(node)):
                        self.step(node, i, below, (*at, i))
            elif type(node) is dict and key in node:
                self.step(node, key, below, (*at, key))

    def step(self, container: Any, key: Any, below: TimePlan | tuple[int, str], at: tuple[Any, ...]) -> None:
        if isinstance(below, dict):
            self.walk(container[key], below, at)
            return
        field_index, kind = below
        try:
            value, warning = parse_time(container[key], kind)
        except TimeError as exc:
            self.problems.append((field_index, InputProblem(pointer(at), str(exc))))
            return
        container[key] = value
        if warning:
            self.warnings.append((field_index, f"{pointer(at)}: {warning}"))

    def in_order(self) -> tuple[list[InputProblem], list[str]]:
        first = operator.itemgetter(0)  # a stable sort keeps the items' order within a field
        return ([p for _, p in sorted(self.problems, key=first)],
                [w for _, w in sorted(self.warnings, key=first)])


def normalise_times(facts: Any) -> tuple[list[InputProblem], list[str]]:
    """Parse every date and time of a schema-valid copy in place (:func:`parse_time`); return the
    problems (a time that does not exist, a year out of range) and the warnings."""
    times = _Times()
    times.walk(facts, _time_plan(), ())
    return times.in_order()


def check_incident(data: Any, source: str = "<input>", fast: bool = True, limits: Limits = LIMITS) -> Incident:
    """Check an incident against its limits (:func:`check_limits`), the schema and its own
    references; normalise its times. Raises :class:`InvalidIncident` and nothing else.

    ``fast`` lets the compiled validator accept a valid incident without the reference
    validator; set it to False to always use the reference validator."""
    try:
        facts = _checked_copy(data, limits)
    except InvalidIncident as exc:
        raise InvalidIncident(exc.problems, source) from None
    accelerator = _fast_validator() if fast else None
    problems = [] if accelerator is not None and accelerator(facts) else _schema_problems(data)
    if problems:
        raise InvalidIncident(problems, source)
    problems, warnings = normalise_times(facts)
    problems.extend(_reference_problems(facts))
    if problems:
        raise InvalidIncident(problems, source)
    return Incident(raw=data, facts=facts, warnings=warnings)


def _reference_problems(facts: Mapping[str, Any]) -> list[InputProblem]:
    problems: list[InputProblem] = []
    ids: dict[str, set[str]] = {}
    for kind in ("victims", "suspects", "acts"):
        seen: set[str] = set()
        for i, item in enumerate(facts.get(kind, [])):
            if item["id"] in seen:
                problems.append(InputProblem(f"/{kind}/{i}/id", f"id {item['id']!r} is used twice in {kind}"))
            seen.add(item["id"])
        ids[kind] = seen
    for i, act in enumerate(facts["acts"]):
        for kind in ("victims", "suspects"):
            for j, ref in enumerate(act.get(kind, [])):
                if ref not in ids[kind]:
                    known = ", ".join(sorted(ids[kind])) or "none"
                    problems.append(InputProblem(f"/acts/{i}/{kind}/{j}", f"no {kind[:-1]} with id {ref!r} (known: {known})"))
    reports = [facts["report"].get("id", "R1")]
    for i, later in enumerate(facts.get("further_reports", [])):
        if later["id"] in reports:
            problems.append(InputProblem(f"/further_reports/{i}/id", f"report id {later['id']!r} is used twice (the first report's id is {reports[0]!r})"))
        reports.append(later["id"])
    for i, act in enumerate(facts["acts"]):
        if "report" in act and act["report"] not in reports:
            problems.append(InputProblem(f"/acts/{i}/report", f"no report with id {act['report']!r} (known: {', '.join(reports)})"))
    for i, rc in enumerate(facts.get("force_record", {}).get("crimes", [])):
        if "victim" in rc and rc["victim"] not in ids["victims"]:
            problems.append(InputProblem(f"/force_record/crimes/{i}/victim", f"no victim with id {rc['victim']!r}"))
        for j, ref in enumerate(rc.get("acts", [])):
            if ref not in ids["acts"]:
                problems.append(InputProblem(f"/force_record/crimes/{i}/acts/{j}", f"no act with id {ref!r}"))
    for j, ref in enumerate(facts["report"]["reporter"].get("for_victims", [])):
        if ref not in ids["victims"]:
            problems.append(InputProblem(f"/report/reporter/for_victims/{j}", f"no victim with id {ref!r}"))
    return problems


def question_for(pointer_text: str) -> str:
    """The plain-English question the incident schema asks for a field, from its description."""
    schema = incident_schema()
    node: Mapping[str, Any] = schema
    parts = [p for p in pointer_text.split("/") if p]
    for part in parts:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        if part.isdigit() and "items" in node:
            node = node["items"]
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            return ""
    description = node.get("description", "")
    if not description and "$ref" in node:
        description = schema["$defs"][node["$ref"].split("/")[-1]].get("description", "")
    return str(description)
