"""The condition language: structured conditions and expressions compiled to closures.

Conditions are three-valued. A fact that the incident does not give is *unknown*, never false:
``all`` is false if any part is false, unknown if any part is unknown, else true; ``any`` the
dual; ``not`` swaps true and false and keeps unknown. Every compiled node returns the truth value
(``True``, ``False`` or ``None`` for unknown) together with the set of missing facts that made it
unknown, so a decision that cannot be made can say exactly which facts it needs.

Nothing here evaluates strings: a rule file is data, compiled once into Python closures. Each
closure is called with a scope and a :class:`Tracer` (None when the evaluation is not traced).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from . import ops
from .ops import SCALARS as _SCALARS
from .ops import equals as _equals
from .ops import norm as _norm

Truth = bool | None
Missing = frozenset[str]
NO_MISSING: Missing = frozenset()


class _MissingValue:
    """The value of a fact the incident does not give."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _MissingValue()


class _UndeterminedValue:
    """The value of a derived fact (a decision's output) that could not be determined."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDETERMINED"


UNDETERMINED: Any = _UndeterminedValue()


def is_absent(value: Any) -> bool:
    return value is MISSING or value is UNDETERMINED


class RuleCompileError(ValueError):
    """A rule that is well-formed by the schema but cannot be compiled (unknown fact root...)."""


class RuleRuntimeError(RuntimeError):
    """A rule that compiled but failed on a value (for example comparing a date with a number)."""


@dataclass(frozen=True)
class Unknown:
    """A derived value (a decision's output) that could not be determined."""

    missing: Missing


@dataclass
class Scope:
    """The facts visible to a rule: named roots, each with the JSON pointer it came from."""

    roots: dict[str, Any]
    pointers: dict[str, str]
    # Results already worked out in this scope (untraced evaluation only): shared predicates by
    # their number, guard facts by their getter.
    memo: dict[Any, Any] = field(default_factory=dict)

    def child(self, name: str, value: Any, pointer: str) -> Scope:
        roots = dict(self.roots)
        roots[name] = value
        pointers = dict(self.pointers)
        pointers[name] = pointer
        return Scope(roots, pointers)


# A leaf record for the trace: (left side, operator, operand, actual value, truth).
Leaf = tuple[str, str, Any, Any, Truth]


class Tracer:
    """What one rule's evaluation read, for the trace: each leaf (a fact and the test made of it,
    a table's input, a quantifier's verdict) in the order evaluated. Every compiled condition and
    expression takes the tracer as its second argument: a Tracer when the evaluation is traced,
    None when it is not (the hot path, which then records nothing and may keep results for the
    scope, see ``shared``).

    ``memo`` keeps, for the rules of one decision on one scope, each shared predicate's result
    with the leaves it recorded (see ``shared``): the next rule testing the same predicate gets
    the same leaves (:meth:`replay`) without evaluating it again. So a tracer serves one scope,
    and one decision (a scope gains each decision's outputs as a pass goes): use a new one for
    another. A subclass may record each leaf
    in another form (the engine records its JSON), as long as :meth:`replay` gives each rule
    leaves of its own."""

    __slots__ = ("leaves", "memo")

    def __init__(self, memo: dict[int, tuple[tuple[Truth, Missing], tuple[Any, ...]]] | None = None) -> None:
        self.leaves: list[Any] = []
        self.memo = memo if memo is not None else {}

    def leaf(self, left: str, op: str, operand: Any, actual: Any, truth: Truth) -> None:
        self.leaves.append((left, op, operand, actual, truth))

    def replay(self, leaves: tuple[Any, ...]) -> None:
        """Record again leaves recorded for an earlier rule (leaf tuples are never changed)."""
        self.leaves.extend(leaves)


Recorder = Tracer | None
Expr = Callable[[Scope, Recorder], tuple[Any, Missing]]
Cond = Callable[[Scope, Recorder], tuple[Truth, Missing]]

_LONDON = ZoneInfo("Europe/London")
_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def parse_duration(text: str) -> dt.timedelta:
    m = _DURATION.match(text)
    if not m or text in ("P", "-P", "PT", "-PT") or text.endswith("T"):
        raise RuleCompileError(f"not an ISO 8601 duration (PnDTnHnM): {text!r}")
    sign = -1 if m.group(1) else 1
    days, hours, minutes = (int(g) if g else 0 for g in m.groups()[1:])
    return sign * dt.timedelta(days=days, hours=hours, minutes=minutes)


class PathResolver:
    """Compiles a dotted fact path against the roots a scope offers."""

    def __init__(self, roots: Sequence[str], shared: dict[str, tuple[int, Any]] | None = None):
        self.roots = frozenset(roots)
        # Identical predicates across rules compile to one memoised closure (see compile_condition).
        self.shared: dict[str, tuple[int, Any]] = shared if shared is not None else {}

    def compile(self, path: str, extra_roots: frozenset[str] = frozenset()) -> Expr:
        parts = path.split(".")
        root, rest = parts[0], tuple(parts[1:])
        if root not in self.roots and root not in extra_roots:
            raise RuleCompileError(
                f"unknown fact root {root!r} in {path!r}; expected one of "
                f"{', '.join(sorted(self.roots | extra_roots))}"
            )

        getter = _two_key_getter(path, root, rest) if len(rest) in (1, 2) else _getter(path, root, rest)
        getter.path = path  # type: ignore[attr-defined]
        return getter


def _getter(path: str, root: str, rest: tuple[str, ...]) -> Expr:
    """The value at ``rest`` under the scope's root ``root``, with the facts it needs when missing."""

    def get(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
        value = scope.roots.get(root, MISSING)
        if value is MISSING:
            return MISSING, frozenset((scope.pointers.get(root, "") or "/",))
        if type(value) is Unknown:
            return UNDETERMINED, value.missing
        for key in rest:
            if type(value) is dict or isinstance(value, Mapping):
                value = value.get(key, MISSING)
                if value is MISSING:
                    return MISSING, _pointer(scope, root, rest)
                if type(value) is Unknown:
                    return UNDETERMINED, value.missing
            else:
                raise RuleRuntimeError(f"fact path {path!r}: cannot read {key!r} of {value!r}")
        return value, NO_MISSING

    return get


def _two_key_getter(path: str, root: str, rest: tuple[str, ...]) -> Expr:
    """:func:`_getter` for a path of one or two keys (``act.classification``,
    ``act.elements.kind``: the most common), written out for plain dicts; anything else is read
    by the general getter."""
    first, second = rest if len(rest) == 2 else (rest[0], None)
    general = _getter(path, root, rest)

    def get(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
        value = scope.roots.get(root, MISSING)
        if type(value) is dict:
            found = value.get(first, MISSING)
            if second is not None:
                if type(found) is not dict:
                    return general(scope, tracer)
                found = found.get(second, MISSING)
            if found is MISSING:
                return MISSING, _pointer(scope, root, rest)
            if type(found) is Unknown:
                return UNDETERMINED, found.missing
            return found, NO_MISSING
        return general(scope, tracer)

    return get


_POINTERS: dict[tuple[str, tuple[str, ...]], Missing] = {}


def _pointer(scope: Scope, root: str, rest: tuple[str, ...]) -> Missing:
    """The JSON pointer of the fact a path asks for (built only when it is missing): the whole
    path, so that the question asked is about the fact itself, not the object that holds it.
    Built once per (root pointer, path) and kept: evaluation asks for the same few again and again."""
    base = scope.pointers.get(root, "")
    key = (base, rest)
    hit = _POINTERS.get(key)
    if hit is None:
        if len(_POINTERS) > 50_000:  # bounded: pointers differ only by act and victim index
            _POINTERS.clear()
        hit = _POINTERS[key] = frozenset((base + "".join(f"/{p}" for p in rest),))
    return hit


def compile_expr(node: Any, paths: PathResolver, bound: frozenset[str] = frozenset()) -> Expr:
    """Compile an expression node (literal, fact, duration, add, sub, latest, years_between...)."""
    if node is None or isinstance(node, (str, int, float, bool)):
        const = node

        def literal(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
            return const, NO_MISSING

        literal.path = repr(node)  # type: ignore[attr-defined]
        return literal
    if isinstance(node, list):
        items = tuple(node)

        def lit_list(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
            return items, NO_MISSING

        return lit_list
    if not isinstance(node, dict) or len(node) != 1:
        raise RuleCompileError(f"not an expression: {node!r}")
    (op, arg), = node.items()
    if op == "fact":
        return paths.compile(arg, bound)
    if op == "duration":
        value = parse_duration(arg)

        def duration(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
            return value, NO_MISSING

        duration.path = arg  # type: ignore[attr-defined]
        return duration
    if op == "count":
        inner = paths.compile(arg, bound)

        def count(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
            v, miss = inner(scope, tracer)
            if is_absent(v):
                return v, miss
            return len(v), NO_MISSING

        return count
    if op == "first_known":
        # The first operand whose value is known (for example a victim's stated age, else the
        # age worked out from the date of birth). Unknown only when every operand is unknown.
        options = tuple(compile_expr(a, paths, bound) for a in arg)

        def first_known(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
            missing: set[str] = set()
            for p in options:
                v, m = p(scope, tracer)
                if not is_absent(v):
                    return v, NO_MISSING
                missing |= m
            return UNDETERMINED, frozenset(missing)

        return first_known
    if op in ("add", "sub", "latest", "years_between", "list"):
        parts = tuple(compile_expr(a, paths, bound) for a in arg)
        fn = _COMBINERS[op]

        def combine(scope: Scope, tracer: Recorder) -> tuple[Any, Missing]:
            values = []
            missing: set[str] = set()
            for p in parts:
                v, m = p(scope, tracer)
                if is_absent(v):
                    missing |= m
                values.append(v)
            if missing:
                return UNDETERMINED, frozenset(missing)
            try:
                return fn(values), NO_MISSING
            except TypeError as exc:
                raise RuleRuntimeError(f"{op}: cannot combine {values!r}: {exc}") from exc

        return combine
    raise RuleCompileError(f"unknown expression operator {op!r}")


def _add(values: list[Any]) -> Any:
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _local_date(value: Any) -> Any:
    """The calendar date of a time as the UK sees it (times are held in UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_LONDON)
        return value.date()
    return value


def _years_between(values: list[Any]) -> int:
    start, end = (_local_date(v) for v in values)
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return int(years)


_COMBINERS: dict[str, Callable[[list[Any]], Any]] = {
    "add": _add,
    "sub": lambda v: v[0] - v[1],
    "latest": max,
    "years_between": _years_between,
    "list": lambda v: tuple(_norm(x) for x in v),
}


def value_key(v: Any) -> Any:
    """A hashable key such that two scalars have equal keys exactly when `equals` holds between
    them (true is not 1; 1 equals 1.0); None for a value that is not a scalar."""
    t = type(v)
    if t is bool:
        return ("b", v)
    if t is int or t is float:
        return ("n", v)
    if t is str:
        return ("s", v)
    if v is None:
        return ("z", None)
    return None


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    return ops.COMPARISONS[op]


OPERATORS = tuple(ops.OPERATORS)


def compile_test(op: str, operand: Any, paths: PathResolver, bound: frozenset[str]) -> Callable[
    [Any, Missing, Scope, Recorder], tuple[Truth, Missing, Any]
]:
    """Compile `<op>: operand` into a test of an already-resolved left value."""
    if op == "exists":
        want = bool(operand)

        def exists(
            value: Any, miss: Missing, scope: Scope, tracer: Recorder
        ) -> tuple[Truth, Missing, Any]:
            # A derived value that is undetermined is not known to be absent.
            if value is UNDETERMINED:
                return None, miss, want
            return (value is not MISSING) == want, NO_MISSING, want

        return exists
    if op == "known":
        # Whether the value is known at all: unlike `exists`, an undetermined decision output is
        # definitely "not known" (for example: the recording decision is still open).
        want_known = bool(operand)

        def known(value: Any, miss: Missing, scope: Scope, tracer: Recorder) -> tuple[Truth, Missing, Any]:
            return (not is_absent(value)) == want_known, NO_MISSING, want_known

        return known
    if op not in OPERATORS:
        raise RuleCompileError(f"unknown operator {op!r}")
    if op in ("in", "not_in"):
        right_expr = compile_expr(list(operand), paths, bound)
    else:
        right_expr = compile_expr(operand, paths, bound)
    fn = _cmp(op)

    def test(value: Any, miss: Missing, scope: Scope, tracer: Recorder) -> tuple[Truth, Missing, Any]:
        right, rmiss = right_expr(scope, tracer)
        if is_absent(value) or is_absent(right):
            return None, miss | rmiss, right
        try:
            return bool(fn(value, right)), NO_MISSING, right
        except TypeError as exc:
            raise RuleRuntimeError(f"{op}: cannot compare {value!r} with {right!r}") from exc

    return test


def _junction(parts: tuple[Cond, ...], decisive: bool) -> Cond:
    """``all`` (decisive=False) or ``any`` (decisive=True) in Kleene logic: the decisive value
    of any part settles it; otherwise it is unknown if any part is, else the other value.

    An unknown junction asks only for what its first unknown part needs: until that part is
    known, the later parts may not matter at all (a former partner's conduct is asked about only
    once the act is known to be harassment)."""

    def junction(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
        missing: Missing | None = None
        for p in parts:
            tv, m = p(scope, tracer)
            if tv is decisive:
                return decisive, NO_MISSING
            if tv is None and missing is None:
                missing = m
        return (None, missing) if missing is not None else (not decisive, NO_MISSING)

    return junction


def compile_condition(
    node: Mapping[str, Any], paths: PathResolver, bound: frozenset[str] = frozenset()
) -> Cond:
    """Compile a condition tree (all / any / not / some / every / predicate)."""
    for key, decisive in (("all", False), ("any", True)):
        if key in node:
            return _junction(tuple(compile_condition(c, paths, bound) for c in node[key]), decisive)
    if "not" in node:
        inner = compile_condition(node["not"], paths, bound)

        def not_(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
            tv, m = inner(scope, tracer)
            return (None, m) if tv is None else (not tv, NO_MISSING)

        return not_
    if "some" in node or "every" in node:
        quantifier = "some" if "some" in node else "every"
        list_path = node[quantifier]
        get_list = paths.compile(list_path, bound)
        where = compile_condition(node["where"], paths, bound | {"item"})
        want_any = quantifier == "some"

        def quant(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
            items, miss = get_list(scope, tracer)
            if is_absent(items):
                if tracer is not None:
                    tracer.leaf(list_path, quantifier, None, MISSING, None)
                return None, miss
            base = _pointer_of(get_list, scope)
            missing: Missing = NO_MISSING
            unknown = False
            for i, item in enumerate(items):
                tv, m = where(scope.child("item", item, f"{base}/{i}"), tracer)
                if tv is want_any:
                    if tracer is not None:
                        tracer.leaf(list_path, quantifier, f"item {i}", len(items), want_any)
                    return want_any, NO_MISSING
                if tv is None:
                    unknown = True
                    missing = missing | m
            result: Truth = None if unknown else (not want_any)
            if tracer is not None:
                tracer.leaf(list_path, quantifier, f"{len(items)} item(s)", len(items), result)
            return result, (missing if unknown else NO_MISSING)

        return quant
    return _shared_predicate(node, paths, bound)


def _shared_predicate(node: Mapping[str, Any], paths: PathResolver, bound: frozenset[str]) -> Cond:
    """A predicate: exactly one left side (fact or value) and one operator. Many rules test the
    same facts (the classification, who reported); each distinct predicate is compiled once and
    its result kept for the scope, so a decision of twenty rules reads each fact once. The scope
    a predicate sees only grows while it is evaluated (decisions add their outputs in dependency
    order), so a kept result never goes stale. Traced evaluation keeps results only for one
    decision (the tracer's memo), with the leaves they recorded, so that every rule still
    records the facts it read. A predicate under a quantifier sees a new item each time: it is
    never kept."""
    key = json.dumps([node, sorted(bound)], sort_keys=True, default=str)
    if key in paths.shared:
        return paths.shared[key][1]  # type: ignore[no-any-return]
    inner = _compile_predicate(node, paths, bound)
    ident = len(paths.shared)
    if "item" in bound:
        paths.shared[key] = (ident, inner)
        return inner

    def shared(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
        if tracer is not None:
            kept = tracer.memo.get(ident)
            if kept is None:
                leaves = tracer.leaves
                start = len(leaves)
                result = inner(scope, tracer)
                tracer.memo[ident] = (result, tuple(leaves[start:]))
                return result
            tracer.replay(kept[1])
            return kept[0]
        memo = scope.memo
        hit = memo.get(ident)
        if hit is None:
            hit = memo[ident] = inner(scope, tracer)
        return hit

    paths.shared[key] = (ident, shared)
    return shared


def _compile_predicate(node: Mapping[str, Any], paths: PathResolver, bound: frozenset[str]) -> Cond:
    if "fact" in node:
        left_label = node["fact"]
        left = paths.compile(left_label, bound)
    elif "value" in node:
        left_label = "value"
        left = compile_expr(node["value"], paths, bound)
    else:
        raise RuleCompileError(f"a predicate needs 'fact' or 'value': {dict(node)!r}")
    ops = [k for k in node if k not in ("fact", "value")]
    if len(ops) != 1:
        raise RuleCompileError(f"a predicate needs exactly one operator: {dict(node)!r}")
    op = ops[0]
    operand_repr = node[op]
    if op not in OPERATORS:
        raise RuleCompileError(f"unknown operator {op!r}")
    fast = _constant_test(op, operand_repr)
    if fast is not None:
        # The common case, a fact against a constant: one closure, no operand evaluation.
        def constant_predicate(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
            value, miss = left(scope, tracer)
            if value is MISSING or value is UNDETERMINED:
                tv: Truth = None
            else:
                try:
                    tv = fast(value)
                except TypeError as exc:
                    raise RuleRuntimeError(f"{op}: cannot compare {value!r} with {operand_repr!r}") from exc
                miss = NO_MISSING
            if tracer is not None:
                tracer.leaf(left_label, op, operand_repr, value, tv)
            return tv, miss

        return constant_predicate
    test = compile_test(op, node[op], paths, bound)

    def predicate(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
        value, miss = left(scope, tracer)
        tv, m, right = test(value, miss, scope, tracer)
        if tracer is not None:
            tracer.leaf(left_label, op, operand_repr if is_absent(right) else right, value, tv)
        return tv, m

    return predicate


def _constant_test(op: str, operand: Any) -> Callable[[Any], bool] | None:
    """A specialised test for a constant scalar (or list of scalars) operand, or None."""
    if op in ("in", "not_in") and isinstance(operand, list) and all(type(x) in _SCALARS for x in operand):
        member = _member_of(tuple(operand))
        if op == "in":
            return member
        return lambda v: not member(v)
    if type(operand) not in _SCALARS or op in ("exists", "known", "in", "not_in"):
        return None
    const = operand
    if op == "equals":
        if type(const) is bool:
            return lambda v: v is const
        return lambda v: type(v) is not bool and v == const if type(v) in _SCALARS else _equals(v, const)
    if op == "not_equals":
        if type(const) is bool:
            return lambda v: v is not const
        return lambda v: not (type(v) is not bool and v == const) if type(v) in _SCALARS else not _equals(v, const)
    if op == "contains":
        return lambda v: ops.contains(v, const)
    compare = _cmp(op)
    return lambda v: bool(compare(v, const))


def _member_of(values: tuple[Any, ...]) -> Callable[[Any], bool]:
    """Whether a value equals one of ``values`` (scalars): a set lookup by :func:`value_key` for a
    scalar value, which gives what testing each with `equals` gives (NaN, equal to nothing, is
    left to the test)."""
    if any(x != x for x in values):
        return lambda v: any(_equals(v, x) for x in values)
    keys = frozenset(value_key(x) for x in values)

    def member(v: Any) -> bool:
        kind = type(v)
        if kind is str or kind is bool or kind is int or v is None or (kind is float and v == v):
            return value_key(v) in keys
        return any(_equals(v, x) for x in values)

    return member


def _pointer_of(getter: Expr, scope: Scope) -> str:
    """The JSON pointer of the list a quantifier walks (root pointer plus the path's tail)."""
    path: str = getattr(getter, "path", "")
    parts = path.split(".")
    base = scope.pointers.get(parts[0], "")
    return base + "".join(f"/{p}" for p in parts[1:])


def always(scope: Scope, tracer: Recorder) -> tuple[Truth, Missing]:
    return True, NO_MISSING
