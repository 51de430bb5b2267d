"""The operators of the condition language: one table, read by every part that gives them meaning.

The interpreter (``hocr.conditions``), the code generator (``hocr.codegen``, whose generated code
calls these functions through ``hocr.runtime``), lint and the documentation test all take an
operator's meaning from here, so it is written once.

A *comparison* tests a known left value against a known operand (the caller has already made a
test of an unknown fact unknown). A *presence* operator (``exists``, ``known``) tests whether the
left value is known at all, and is the one kind of test that is definite on a missing fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SCALARS: tuple[type, ...] = (str, int, float, bool, type(None))


def norm(value: Any) -> Any:
    """Make values comparable: lists become tuples (element by element)."""
    if isinstance(value, list):
        return tuple(norm(v) for v in value)
    return value


def equals(a: Any, b: Any) -> bool:
    """Equality as rules mean it: ``true`` is not ``1`` (but 1 equals 1.0); lists compare
    element by element, whether list or tuple."""
    if type(a) in SCALARS and type(b) in SCALARS:
        if (type(a) is bool) != (type(b) is bool):
            return False
        return bool(a == b)
    return bool(norm(a) == norm(b))


def not_equals(a: Any, b: Any) -> bool:
    return not equals(a, b)


def is_in(a: Any, b: Any) -> bool:
    return any(equals(a, x) for x in b)


def not_in(a: Any, b: Any) -> bool:
    return not is_in(a, b)


def lt(a: Any, b: Any) -> bool:
    return bool(a < b)


def le(a: Any, b: Any) -> bool:
    return bool(a <= b)


def gt(a: Any, b: Any) -> bool:
    return bool(a > b)


def ge(a: Any, b: Any) -> bool:
    return bool(a >= b)


def contains(a: Any, b: Any) -> bool:
    """Text contains a substring; a list contains an element equal to the operand."""
    if isinstance(a, str):
        return b in a
    return any(equals(x, b) for x in a)


@dataclass(frozen=True)
class Operator:
    name: str
    kind: str  # "comparison" (known left value against an operand) | "presence"
    test: Callable[[Any, Any], bool] | None  # comparisons only
    in_cells: bool  # may be used in a decision-table cell
    meaning: str  # one line, for readers of lint messages and the docs test


OPERATORS: Mapping[str, Operator] = {op.name: op for op in (
    Operator("equals", "comparison", equals, True, "equals the operand (true is not 1)"),
    Operator("not_equals", "comparison", not_equals, True, "does not equal the operand"),
    Operator("in", "comparison", is_in, True, "is one of the listed values"),
    Operator("not_in", "comparison", not_in, True, "is none of the listed values"),
    Operator("lt", "comparison", lt, True, "is less than the operand"),
    Operator("le", "comparison", le, True, "is at most the operand"),
    Operator("gt", "comparison", gt, True, "is greater than the operand"),
    Operator("ge", "comparison", ge, True, "is at least the operand"),
    Operator("contains", "comparison", contains, True, "(text or a list) contains the operand"),
    Operator("exists", "presence", None, True, "is given in the incident (true) or not (false)"),
    Operator("known", "presence", None, False, "is known (true) or not (false), never unknown"),
)}

COMPARISONS: Mapping[str, Callable[[Any, Any], bool]] = {
    name: op.test for name, op in OPERATORS.items() if op.test is not None
}
