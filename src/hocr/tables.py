"""Decision tables with explicit hit policies (unique, first, priority, collect).

A table reads its inputs once, tests each row's cells against them and combines the matching
rows by the table's hit policy. Unknown inputs make the cells that test them unknown; a table's
result is unknown only when an unknown row could change it:

* ``unique``  at most one row may match; two matches are a conflict (an overlap in the table).
* ``first``   the first matching row in order wins; an unknown row before it makes the result unknown.
* ``priority`` the matching row whose output ranks highest in ``priority.order`` wins.
* ``collect`` every matching row; the result is the list of their outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .conditions import (
    NO_MISSING,
    Expr,
    Missing,
    PathResolver,
    Recorder,
    RuleCompileError,
    Scope,
    Truth,
    compile_expr,
    compile_test,
)

CellTest = Callable[[Any, Missing, Scope, Recorder], tuple[Truth, Missing, Any]]


class TableConflict(Exception):
    """Two rows of a unique table matched the same facts."""

    def __init__(self, rows: Sequence[str]):
        super().__init__(f"rows {', '.join(rows)} all match under the unique hit policy")
        self.rows = tuple(rows)


@dataclass(frozen=True)
class Row:
    id: str
    index: int
    cells: tuple[tuple[int, str, Any, CellTest], ...]  # (input index, op, operand, test)
    then: Mapping[str, Expr]
    raw_then: Mapping[str, Any]
    summary: str
    sources: tuple[Mapping[str, Any], ...]
    verification: str | None


@dataclass(frozen=True)
class TableResult:
    truth: Truth
    missing: Missing
    rows: tuple[Row, ...]  # the rows that decided the result (one, or several for collect)


def compile_cell(cell: Any) -> list[tuple[str, Any]]:
    """A cell as (operator, operand) pairs: literal -> equals, list -> in, '-' -> no test."""
    if cell == "-":
        return []
    if isinstance(cell, list):
        return [("in", cell)]
    if isinstance(cell, dict):
        return list(cell.items())
    return [("equals", cell)]


@dataclass(frozen=True)
class Table:
    hit_policy: str
    inputs: tuple[tuple[str, str, Expr], ...]  # (name, fact path, getter)
    domains: Mapping[str, tuple[Any, ...]]
    rows: tuple[Row, ...]
    priority_output: str | None
    priority_order: tuple[Any, ...]

    def evaluate(self, scope: Scope, tracer: Recorder) -> tuple[TableResult, list[tuple[str, Truth]]]:
        values = []
        for name, path, get in self.inputs:
            v, m = get(scope, tracer)
            values.append((v, m))
            if tracer is not None:
                tracer.leaf(path, "input", name, v, None)
        matched: list[Row] = []
        unknown: list[tuple[Row, Missing]] = []
        row_log: list[tuple[str, Truth]] = []
        for row in self.rows:
            tv: Truth = True
            missing: Missing = NO_MISSING
            for idx, _op, _operand, test in row.cells:
                value, miss = values[idx]
                t, m, _ = test(value, miss, scope, None)
                if t is False:
                    tv = False
                    break
                if t is None:
                    tv = None
                    missing = missing | m
            row_log.append((row.id, tv))
            if tv is True:
                matched.append(row)
                if self.hit_policy == "first":
                    break
            elif tv is None:
                unknown.append((row, missing))
        return self._combine(matched, unknown), row_log

    def _rank(self, row: Row) -> int:
        value = row.raw_then.get(self.priority_output or "")
        try:
            return self.priority_order.index(value)
        except ValueError:
            return len(self.priority_order)

    def _combine(self, matched: list[Row], unknown: list[tuple[Row, Missing]]) -> TableResult:
        def unknown_result(rows: Sequence[tuple[Row, Missing]]) -> TableResult:
            missing: Missing = NO_MISSING
            for _, m in rows:
                missing = missing | m
            return TableResult(None, missing, ())

        policy = self.hit_policy
        if policy == "unique":
            if len(matched) > 1:
                raise TableConflict([r.id for r in matched])
            if matched:
                return TableResult(True, NO_MISSING, (matched[0],))
            return unknown_result(unknown) if unknown else TableResult(False, NO_MISSING, ())
        if policy == "first":
            if matched:
                first = matched[0]
                before = [(r, m) for r, m in unknown if r.index < first.index]
                if before:
                    return unknown_result(before)
                return TableResult(True, NO_MISSING, (first,))
            return unknown_result(unknown) if unknown else TableResult(False, NO_MISSING, ())
        if policy == "priority":
            if matched:
                best = min(matched, key=lambda r: (self._rank(r), r.index))
                best_key = (self._rank(best), best.index)
                higher = [(r, m) for r, m in unknown if (self._rank(r), r.index) < best_key]
                if higher:
                    return unknown_result(higher)
                return TableResult(True, NO_MISSING, (best,))
            return unknown_result(unknown) if unknown else TableResult(False, NO_MISSING, ())
        # collect
        if unknown:
            return unknown_result(unknown)
        if matched:
            return TableResult(True, NO_MISSING, tuple(matched))
        return TableResult(False, NO_MISSING, ())


def compile_table(
    spec: Mapping[str, Any],
    paths: PathResolver,
    rule_id: str,
    default_sources: tuple[Mapping[str, Any], ...],
    as_sources: Callable[[Any], tuple[Mapping[str, Any], ...]],
) -> Table:
    inputs = []
    index: dict[str, int] = {}
    domains: dict[str, tuple[Any, ...]] = {}
    for i, inp in enumerate(spec["inputs"]):
        name = inp["name"]
        if name in index:
            raise RuleCompileError(f"table {rule_id}: input {name!r} declared twice")
        index[name] = i
        if "fact" in inp:
            inputs.append((name, inp["fact"], paths.compile(inp["fact"])))
        else:
            # A computed input, for example an age from a date of birth: `value` is an expression.
            inputs.append((name, f"({name})", compile_expr(inp["value"], paths)))
        if "domain" in inp:
            domains[name] = tuple(inp["domain"])
    rows = []
    seen: set[str] = set()
    for n, raw in enumerate(spec["rows"]):
        if raw["id"] in seen:
            raise RuleCompileError(f"table {rule_id}: row id {raw['id']!r} used twice")
        seen.add(raw["id"])
        cells = []
        for name, cell in raw["when"].items():
            if name not in index:
                raise RuleCompileError(
                    f"table {rule_id}, row {raw['id']}: no input named {name!r} "
                    f"(inputs: {', '.join(index)})"
                )
            for op, operand in compile_cell(cell):
                cells.append((index[name], op, operand, compile_test(op, operand, paths, frozenset())))
        then = {k: compile_expr(v, paths) for k, v in raw["then"].items()}
        rows.append(
            Row(
                id=raw["id"],
                index=n,
                cells=tuple(cells),
                then=then,
                raw_then=raw["then"],
                summary=raw.get("summary", ""),
                sources=as_sources(raw["source"]) if "source" in raw else default_sources,
                verification=raw.get("verification"),
            )
        )
    policy = spec["hit_policy"]
    prio = spec.get("priority")
    if policy == "priority" and not prio:
        raise RuleCompileError(f"table {rule_id}: the priority hit policy needs 'priority'")
    return Table(
        hit_policy=policy,
        inputs=tuple(inputs),
        domains=domains,
        rows=tuple(rows),
        priority_output=prio["output"] if prio else None,
        priority_order=tuple(prio["order"]) if prio else (),
    )
