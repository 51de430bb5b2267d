"""The rulebook compiled to Python source, once, as fastjsonschema compiles a schema.

``generate(book)`` writes one module. For each rule, a function computing the truth of its
condition (``True``, ``False``, ``None`` for unknown) with plain branches and direct fact reads;
for each decision and each span of days on which the same rules are in force, a dispatch
function that tests the guards (see ``loader.Rule.guard``) as branches and calls only the rules
that could apply, sorting them into applicable, unknown and table rules. The module imports only
``hocr.runtime``; every rule's function carries ``# <rule id> <file>:<line>``.

What the generated code does not do is left to the interpreter, which stays the reference
(``hocr.engine`` calls it): the facts a rule is missing, tables, outputs, traces. Anything the
generator has no code for raises ``runtime.Fallback`` and the decision is interpreted instead.
See docs/engine.md.
"""

from __future__ import annotations

import atexit
import datetime as dt
import marshal
import math
import threading
import types
import weakref
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cache, reads
from .loader import Decision, Rule, Rulebook
from .ops import SCALARS
from .tables import compile_cell

if TYPE_CHECKING:
    from .presumptions import Presumption

# Bump when the generated code changes meaning or shape: it is part of the cache key.
# 3: reads of presumed facts logged (runtime.touch); 4: guards read once per call; 5: get1, get2;
# 6: presumptions' conditions generated here too (PresumptionWriter), a junction of one part
# written as that part, exists and known with no comparison to a boolean
CODEGEN_VERSION = "6"

RUNTIME_IMPORT = ("from hocr.runtime import MISSING, UNDETERMINED, Fallback, combine, compare, contains, count, "
                  "date, duration, equals, first_known, ge, get, guard_key, gt, is_in, le, lt, not_equals, not_in, "
                  "get1, get2, row, table_rows, touch, UNREAD, Unknown")
_COMBINED = ("add", "sub", "latest", "years_between", "list")
_ORDER = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TESTS = {"equals": "equals", "not_equals": "not_equals", "in": "is_in", "not_in": "not_in", "lt": "lt",
          "le": "le", "gt": "gt", "ge": "ge", "contains": "contains"}


class Unsupported(Exception):
    """A part of a rule the generator writes no code for (the rule then raises Fallback)."""


@dataclass(frozen=True)
class Span:
    """The days from ``start`` (None: the beginning) on which the same rules of a decision are
    in force, and the name of its dispatch function."""

    decision: str
    start: dt.date | None
    end: dt.date | None
    function: str


def rule_order(book: Rulebook) -> tuple[Rule, ...]:
    """The rules in the order the generated module numbers them (by id)."""
    return tuple(book.rules[k] for k in sorted(book.rules))


def spans(decision: Decision) -> list[tuple[dt.date | None, dt.date | None]]:
    """The spans of days over which the set of the decision's rules in force is constant."""
    cuts = sorted({r.in_force_from for r in decision.rules} |
                  {r.in_force_to + dt.timedelta(days=1) for r in decision.rules if r.in_force_to is not None})
    starts: list[dt.date | None] = [None, *cuts]
    ends: list[dt.date | None] = [c - dt.timedelta(days=1) for c in cuts] + [None]
    return list(zip(starts, ends, strict=True))


class Writer:
    """Writes source line by line: ``line`` appends at the current indent, ``block`` is a header
    whose body is indented (the line writer of fastjsonschema's CodeGenerator). It writes
    conditions and expressions as the interpreter (``hocr.conditions``) evaluates them; what a
    root is, and which parameters carry the roots (``params``), is up to each kind of code:
    ``Generator`` (the rules: one mapping ``R``) and ``PresumptionWriter`` (a presumption's
    condition: the entity's object and the report).

    A function's helper functions and constants are named after its *chunk* (``prefix``), so
    chunks never clash in one namespace."""

    params = "R"  # the parameters of a condition function, before ``item``

    def __init__(self) -> None:
        self._begin("")

    def _begin(self, prefix: str) -> None:
        self.prefix = prefix
        self.functions: list[list[str]] = []
        self.constants: dict[str, str] = {}  # source -> name
        self.out: list[str] = []
        self.indent = 0
        self.helpers = 0

    # -- the line writer ---------------------------------------------------------------------

    def line(self, text: str) -> None:
        self.out.append("    " * self.indent + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.indent += 1
        yield
        self.indent -= 1

    @contextmanager
    def function(self, header: str) -> Iterator[None]:
        """A top-level function, written to its own buffer (helpers it needs are written while
        it is, and land beside it in the chunk)."""
        saved, saved_indent = self.out, self.indent
        self.out, self.indent = [], 0
        with self.block(header):
            yield
        self.functions.append(self.out)
        self.out, self.indent = saved, saved_indent

    def constant(self, source: str) -> str:
        """A chunk-level constant (built once when the chunk is loaded), by its source."""
        if source not in self.constants:
            self.constants[source] = f"{self.prefix}_k{len(self.constants)}"
        return self.constants[source]

    def chunk_text(self) -> str:
        """The chunk written since ``_begin``: its constants, then its functions."""
        lines = [f"{n} = {source}" for source, n in self.constants.items()]
        return "\n".join(lines + ["\n".join(f) + "\n" for f in self.functions])

    # -- conditions ------------------------------------------------------------------------------

    def generate_body(self, node: Mapping[str, Any]) -> None:
        """The body of a condition function: a junction as statements (early returns), anything
        else as one returned expression."""
        for key, decisive in (("all", False), ("any", True)):
            if key in node:
                self.generate_junction(node[key], decisive)
                return
        self.line(f"return {self.condition(node)}")

    def generate_junction(self, parts: Sequence[Mapping[str, Any]], decisive: bool) -> None:
        """``all: [a, b]`` (decisive False) / ``any: [a, b]`` (decisive True), in Kleene logic:
        ``t = <a>; if t is False: return False; if t is None: u = True`` ... ``return None if u
        else True``. The parts are tried in order and the first decisive one settles it."""
        if len(parts) == 1:  # a junction of one part is that part
            self.line(f"return {self.condition(parts[0])}")
            return
        self.line("u = False")
        for part in parts:
            self.line(f"t = {self.condition(part)}")
            self.line(f"if t is {decisive}: return {decisive}")
            self.line("if t is None: u = True")
        self.line(f"return None if u else {not decisive}")

    def condition(self, node: Mapping[str, Any]) -> str:
        """A condition as an expression giving its truth. Junctions and quantifiers become helper
        functions (``c<k>(R, item)``); ``not: X`` -> ``(None if (t := X) is None else not t)``."""
        if "all" in node or "any" in node:
            return self.helper(lambda: self.generate_body(node))
        if "not" in node:
            return f"(None if (t := {self.condition(node['not'])}) is None else not t)"
        if "some" in node or "every" in node:
            return self.helper(lambda: self.generate_quantifier(node))
        return self.predicate(node)

    def helper(self, write_body: Any, item: str = "item") -> str:
        """A helper function ``<chunk>_c<k>(<params>, item)`` with the body ``write_body``
        writes, and its call on the element in local ``item``."""
        self.helpers += 1
        name = f"{self.prefix}_c{self.helpers}"
        with self.function(f"def {name}({self.params}, item):"):
            write_body()
        return f"{name}({self.params}, {item})"

    def generate_quantifier(self, node: Mapping[str, Any]) -> None:
        """``some: path, where: {...}`` -> a loop over the list calling the ``where`` helper on
        each element (bound to ``item``); a missing list is unknown. ``every`` is the dual."""
        some = "some" in node
        items = self.read(node["some" if some else "every"])
        where = self.helper(lambda: self.generate_body(node["where"]), item="it")
        self.line(f"items = {items}")
        self.line("if items is MISSING or items is UNDETERMINED: return None")
        self.line("u = False")
        with self.block("for it in items:"):
            self.line(f"t = {where}")
            self.line(f"if t is {some}: return {some}")
            self.line("if t is None: u = True")
        self.line(f"return None if u else {not some}")

    # -- predicates ----------------------------------------------------------------------------

    def predicate(self, node: Mapping[str, Any]) -> str:
        """``{fact: p, <op>: operand}`` or ``{value: expr, <op>: operand}`` (see operand_test)."""
        left = self.read(node["fact"]) if "fact" in node else self.expr(node["value"])
        (op, operand), = ((k, v) for k, v in node.items() if k not in ("fact", "value"))
        return self.operand_test(left, op, operand)

    def operand_test(self, left: str, op: str, operand: Any) -> str:
        """``<left> <op> operand`` for a predicate or a table cell; the left value goes to ``v``.
        Unknown left (MISSING / UNDETERMINED) is unknown, except for ``exists`` and ``known``,
        which are definite (as ``conditions.compile_test``)."""
        if op == "exists":
            return f"(None if (v := {left}) is UNDETERMINED else v is {'not ' if operand else ''}MISSING)"
        if op == "known":
            known = f"(v := {left}) is not MISSING and v is not UNDETERMINED"
            return f"({known})" if operand else f"(not ({known}))"
        test = self.constant_test(op, operand)
        if test is not None:
            return f"(None if (v := {left}) is MISSING or v is UNDETERMINED else {test})"
        right = _literal(tuple(list(operand))) if op in ("in", "not_in") else self.expr(operand)
        return f"compare({_TESTS[op]}, {left}, {right})"

    def constant_test(self, op: str, operand: Any) -> str | None:
        """The test of ``v`` against a constant, written out as the interpreter's specialised
        tests (``conditions._constant_test``) compute it, or None when the operand is computed.
        ``equals: "105A"`` -> ``v == '105A'`` (only a text equals a text); ``equals: true`` ->
        ``v is True``; ``equals: 3`` -> ``(type(v) is not bool and v == 3)``; ``in`` a list of
        texts -> ``(type(v) is str and v in {...})``; ``lt: 13`` -> ``v < 13``."""
        if op in ("in", "not_in") and isinstance(operand, list) and all(type(x) in SCALARS for x in operand):
            if operand and all(type(x) is str for x in operand):
                test = f"(type(v) is str and v in {{{', '.join(repr(x) for x in operand)}}})"
            else:
                test = f"is_in(v, {_literal(tuple(operand))})"
            return test if op == "in" else f"not {test}"
        if type(operand) not in SCALARS or op in ("in", "not_in"):
            return None
        if op in ("equals", "not_equals"):
            if type(operand) is bool or operand is None:
                return f"v is {'not ' if op == 'not_equals' else ''}{operand!r}"
            same = f"v == {_literal(operand)}" if type(operand) is str else f"(type(v) is not bool and v == {_literal(operand)})"
            return same if op == "equals" else f"not {same}"
        if op == "contains":
            return f"contains(v, {_literal(operand)})"
        return f"v {_ORDER[op]} {_literal(operand)}"

    # -- expressions ---------------------------------------------------------------------------

    def root(self, name: str) -> str:
        """The source of a root's value (the rules' roots are in ``R``)."""
        return f"R.get({name!r}, MISSING)"

    def touched(self, path: str) -> frozenset[str]:
        """The presumed facts a read of ``path`` is logged as reading (``hocr.reads``)."""
        return frozenset()

    def read(self, path: str) -> str:
        """A fact path ``act.elements.intent`` -> ``get2(R.get('act', MISSING), 'elements', 'intent')``
        (``get1`` and ``get2`` are ``get`` for one and two keys, plain dicts first); ``item.x``
        reads the quantifier's element."""
        root, *rest = str(path).split(".")
        base = "item" if root == "item" else self.root(root)
        if len(rest) == 1:
            code = f"get1({base}, {rest[0]!r})"
        elif len(rest) == 2:
            code = f"get2({base}, {rest[0]!r}, {rest[1]!r})"
        else:
            code = f"get({base}, {_literal(tuple(rest))})"
        touched = self.touched(str(path))
        if touched:
            # A read of a presumed fact is logged (hocr.reads): an answer to it nobody read
            # need not be decided again.
            code = f"touch(R, {self.constant('frozenset((' + ''.join(f'{f!r}, ' for f in sorted(touched)) + '))')}, {code})"
        return code

    def expr(self, node: Any) -> str:
        """An expression (``conditions.compile_expr``): a literal; a list (a tuple of its items);
        ``{fact: p}``; ``{duration: PT24H}`` (a constant built at import); ``{count: p}``;
        ``{first_known: [...]}``; ``{add|sub|latest|years_between|list: [...]}``."""
        if node is None or type(node) in SCALARS:
            return _literal(node)
        if isinstance(node, list):
            return _literal(tuple(node))
        if not isinstance(node, dict) or len(node) != 1:
            raise Unsupported(f"not an expression: {node!r}")
        (op, arg), = node.items()
        if op == "fact":
            return self.read(arg)
        if op == "duration":
            return self.constant(f"duration({arg!r})")
        if op == "count":
            return f"count({self.read(arg)})"
        if op == "first_known":
            return f"first_known(({''.join(self.expr(a) + ', ' for a in arg)}))"
        if op in _COMBINED:
            return f"combine({op!r}, ({''.join(self.expr(a) + ', ' for a in arg)}))"
        raise Unsupported(f"expression operator {op!r}")


class Generator(Writer):
    """The rulebook's code. Source is written in *chunks*, each compiled on its own when first
    needed (``Program``): one per rule (``r<n>`` and its helpers) and one per decision span
    (``d_<decision>_<i>``)."""

    def __init__(self, book: Rulebook):
        self.book = book
        self.reads = reads.analysis(book)
        self.rules = rule_order(book)
        self.number = {r.id: n for n, r in enumerate(self.rules)}
        self.spans = {name: [Span(name, start, end, f"d_{_ident(name)}_{i}")
                             for i, (start, end) in enumerate(spans(book.decisions[name]))]
                      for name in sorted(book.decisions)}
        self.unsupported: list[str] = []
        # The guard reads of the dispatch function being written: how often each is made, and
        # the local bound to each made more than once (dispatch_read).
        self.dispatch_uses: Counter[str] = Counter()
        self.dispatch_locals: dict[str, str] = {}
        super().__init__()

    def touched(self, path: str) -> frozenset[str]:
        return self.reads.of_path(path)

    # -- chunks and the module -------------------------------------------------------------------

    def chunk(self, name: str) -> str:
        """The source of one chunk: ``r<n>`` (a rule) or a dispatch function's name."""
        self._begin(name)
        if name.startswith("r") and name[1:].isdigit():
            self.generate_rule(int(name[1:]), self.rules[int(name[1:])])
        else:
            decision, span = next((self.book.decisions[d], s) for d, items in self.spans.items()
                                  for s in items if s.function == name)
            self.generate_dispatch(decision, span)
        return self.chunk_text()

    def chunk_names(self) -> list[str]:
        return [f"r{n}" for n in range(len(self.rules))] + [s.function for items in self.spans.values() for s in items]

    def generate_module(self) -> str:
        """The whole module, for review: every chunk, then ``F`` (the rule functions by number)
        and ``SPANS`` (each decision's dispatch functions by first day)."""
        head = [f"# Generated by hocr.codegen {CODEGEN_VERSION} from {self.book.name} {self.book.edition} "
                f"({self.book.hash}). Do not edit: `hocr rules compile --out DIR` writes it again.",
                RUNTIME_IMPORT, ""]
        body = [self.chunk(name) for name in self.chunk_names()]
        body += ["# The presumptions' conditions (hocr.presumptions' fast pass: presumption_tests).\n",
                 *presumption_chunks(self.book.presumptions)]
        tail = [f"F = [{', '.join(f'r{n}' for n in range(len(self.rules)))}]", "SPANS = {"]
        for name, items in self.spans.items():
            tail.append(f"    {name!r}: ({''.join(f'({_literal(s.start)}, {s.function}), ' for s in items)}),")
        tail.append("}")
        return "\n".join(head + body + tail) + "\n"

    # -- rules ----------------------------------------------------------------------------------

    def generate_rule(self, n: int, rule: Rule) -> None:
        """A rule's chunk: ``r<n>`` its condition, and ``r<n>_then`` its conclusion (a plain rule)
        or ``r<n>_table`` its table. A part with no code raises Fallback when called."""
        self.guarded(f"def r{n}(R, item):  # {rule.id} {rule.file}:{rule.line}", rule,
                     lambda: self.generate_condition(rule))
        if rule.table is None:
            self.guarded(f"def r{n}_then(R):  # {rule.id}: its conclusion", rule, lambda: self.generate_then(rule.raw_then))
        else:
            self.guarded(f"def r{n}_table(R, cond):  # {rule.id}: its table", rule, lambda: self.generate_table(rule))

    def guarded(self, header: str, rule: Rule, write_body: Any) -> None:
        """A function whose body is written by ``write_body``, or raises Fallback if it cannot be."""
        keep = len(self.functions)
        with self.function(header):
            try:
                write_body()
            except Unsupported as exc:
                self.unsupported.append(f"{rule.id}: {exc}")
                del self.functions[keep:]
                self.out[1:] = []
                self.line(f"raise Fallback({rule.id!r})")

    def generate_condition(self, rule: Rule) -> None:
        """``when: {...}`` -> the body of ``def r<n>(R, item):`` returning the condition's truth,
        where R is the scope's roots. A rule with no ``when`` always holds (``return True``)."""
        when = rule.raw.get("when")
        if when is None:
            self.line("return True")
        else:
            self.generate_body(when)

    def generate_then(self, then: Mapping[str, Any]) -> None:
        """``then: {outcome: record, key: {fact: ...}}`` -> ``v = {'outcome': 'record', 'key':
        get(...)}``, returned; None when an output is unknown (the rule is then unknown). An
        all-constant conclusion is returned as it is."""
        self.line("v = {" + ", ".join(f"{k!r}: {self.expr(e)}" for k, e in then.items()) + "}")
        if any(not _constant_expr(e) for e in then.values()):
            with self.block("for x in v.values():"):
                self.line("if x is MISSING or x is UNDETERMINED: return None")
        self.line("return v")

    def generate_table(self, rule: Rule) -> None:
        """``table: {inputs, rows, hit_policy}`` -> the body of ``def r<n>_table(R, cond):``
        returning (truth, conclusion, matched row numbers), as ``engine._eval_rule`` does: each
        input read once into ``i<k>``, each row's truth (its cells in Kleene ``and``), the hit
        policy applied by ``runtime.table_rows``, then the matched rows' conclusions."""
        assert rule.table is not None
        spec = rule.raw["table"]
        names = {}
        for k, inp in enumerate(spec["inputs"]):
            names[inp["name"]] = f"i{k}"
            self.line(f"i{k} = {self.read(inp['fact']) if 'fact' in inp else self.expr(inp['value'])}")
        rows = []
        for raw in spec["rows"]:
            cells = [self.cell_test(names[name], op, operand)
                     for name, cell in raw["when"].items() for op, operand in compile_cell(cell)]
            rows.append("True" if not cells else cells[0] if len(cells) == 1 else f"row(({''.join(c + ', ' for c in cells)}))")
        self.line(f"m = ({''.join(r + ', ' for r in rows)})")
        ranks = tuple(rule.table._rank(row) for row in rule.table.rows)
        self.line(f"picked = table_rows({rule.table.hit_policy!r}, m, {self.constant(_literal(ranks))})")
        self.line("if picked is False: return False, None, ()")
        self.line("if cond is None or picked is None: return None, None, ()")
        # Each row's conclusion as a function of the roots (a constant one ignores them).
        thens = self.constant("(" + "".join(f"lambda R: {t}, " for t in self.row_thens(spec)) + ")")
        self.line(f"values = [{thens}[i](R) for i in picked]")
        if not all(_constant_expr(e) for raw in spec["rows"] for e in raw["then"].values()):
            with self.block("for v in values:"), self.block("for x in v.values():"):
                self.line("if x is MISSING or x is UNDETERMINED: return None, None, ()")
        self.line(f"return True, {'values' if rule.table.hit_policy == 'collect' else 'values[0]'}, picked")

    def row_thens(self, spec: Mapping[str, Any]) -> list[str]:
        return ["{" + ", ".join(f"{k!r}: {self.expr(e)}" for k, e in raw["then"].items()) + "}" for raw in spec["rows"]]

    def cell_test(self, value: str, op: str, operand: Any) -> str:
        """One test of a table cell on the input in local ``value`` (``tables.compile_cell``: a
        literal is ``equals``, a list ``in``, a mapping its operators): as a predicate on that
        input, unknown when the input is."""
        return self.operand_test(value, op, operand)

    # -- decisions -----------------------------------------------------------------------------

    def generate_dispatch(self, decision: Decision, span: Span) -> None:
        """One decision on one span of days: ``def d_<name>_<i>(R, A, U, T):``. For each group of
        rules sharing a presence guard, ``if get(...) is not MISSING:``; within it the unguarded
        rules one by one, then each value guard as a lookup of its key in a constant table of the
        rules it selects. Each rule called lands in A (applies), U (unknown) or T (a table rule
        whose condition is not false, with that truth: its table is evaluated next)."""
        # No rule is in force before the first span's start (the earliest rule's first day).
        groups = decision.index(span.start)[0] if span.start is not None else ()
        title = f"{decision.name}: rules in force from {span.start or 'the start'} to {span.end or 'now'}"
        self.dispatch_locals = {}
        self.dispatch_uses = Counter([f":{g.presence[0]}" for g in groups if g.presence is not None]
                                     + [f"guard_key:{path}" for g in groups for path, *_ in g.guarded])
        with self.function(f"def {span.function}(R, A, U, T):  # {title}"):
            if not groups:
                self.line("return")
            for g, group in enumerate(groups):
                if group.presence is not None:
                    self.line(f"if {self.dispatch_read(group.presence[0])} is not MISSING:  # present: {group.presence[0]}")
                    self.indent += 1
                for rule in group.unguarded:
                    self.generate_call(rule)
                for k, (path, _get, by_value, every) in enumerate(group.guarded):
                    table = self.constant("{" + ", ".join(
                        f"{key!r}: {self.rule_tuple(rules)}" for key, rules in by_value.items()) + "}")
                    every_rules = self.constant(self.rule_tuple(every))
                    self.line(f"k = {self.dispatch_read(path, 'guard_key')}  # guard {g}.{k}: {path}")
                    with self.block(f"for n, tab in ({every_rules} if k is None else {table}.get(k, ())):"):
                        self.line("t = F[n](R, MISSING)")
                        with self.block("if t is not False:"):
                            self.line("(T.append((n, t)) if tab else A.append(n) if t else U.append(n))")
                if group.presence is not None:
                    self.indent -= 1
            if self.dispatch_locals:
                self.out.insert(1, "    " + " = ".join(self.dispatch_locals.values()) + " = UNREAD")

    def dispatch_read(self, path: str, wrap: str = "") -> str:
        """A guard's read in a dispatch function, made once per call (several groups guard on the
        same fact, ``classification.code`` above all): the first use binds a local, which the
        function's first line sets to UNREAD. ``wrap`` is a function applied to the value read."""
        key = f"{wrap}:{path}"
        value = f"{wrap}({self.read(path)})" if wrap else self.read(path)
        if self.dispatch_uses[key] < 2:
            return value
        name = self.dispatch_locals.get(key)
        if name is None:
            name = self.dispatch_locals[key] = f"x{len(self.dispatch_locals)}"
        return f"({name} if {name} is not UNREAD else ({name} := {value}))"

    def rule_tuple(self, rules: Sequence[Rule]) -> str:
        """The rules a guard selects as ``((number, is a table rule), ...)``."""
        return "(" + "".join(f"({self.number[r.id]}, {r.table is not None}), " for r in rules) + ")"

    def generate_call(self, rule: Rule) -> None:
        n = self.number[rule.id]
        if rule.table is not None:
            self.line(f"t = F[{n}](R, MISSING)  # {rule.id}")
            self.line(f"if t is not False: T.append(({n}, t))")
            return
        self.line(f"t = F[{n}](R, MISSING)  # {rule.id}")
        self.line(f"if t: A.append({n})")
        self.line(f"elif t is None: U.append({n})")


def _constant_expr(node: Any) -> bool:
    """Whether an expression is a constant (a literal, a list of literals, a duration)."""
    if node is None or type(node) in SCALARS or isinstance(node, list):
        return True
    return isinstance(node, dict) and len(node) == 1 and "duration" in node


def _ident(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _literal(value: Any) -> str:
    """Python source for a YAML value: scalars, lists (as lists), tuples, mappings, dates."""
    if value is None or type(value) in (bool, int, str):
        return repr(value)
    if type(value) is float:
        if not math.isfinite(value):
            raise Unsupported(f"the number {value!r}")
        return repr(value)
    if type(value) is tuple:
        return "(" + "".join(_literal(v) + ", " for v in value) + ")"
    if type(value) is list:
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if type(value) is dict:
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if type(value) is dt.date:
        return f"date({value.year}, {value.month}, {value.day})"
    raise Unsupported(f"the value {value!r}")


def generate(book: Rulebook) -> str:
    """The source of the module compiled from ``book``."""
    return Generator(book).generate_module()


class Program:
    """The compiled rulebook, loaded chunk by chunk as evaluation first needs each one (a single
    incident compiles only the rules its guards reach). Chunks already compiled by an earlier
    process come from the cache (kind "engine", keyed by this hocr, the rulebook hash and the
    codegen version; an entry that fails the cache's checks or does not load is ignored); newly
    compiled ones are added to it when the process ends. The entry also holds the module of the
    rulebook's presumptions' conditions (``presumption_module``)."""

    def __init__(self, book: Rulebook):
        self.generator = Generator(book)
        self.rules: tuple[Rule, ...] = self.generator.rules
        self.namespace: dict[str, Any] = {}
        exec(RUNTIME_IMPORT, self.namespace)  # noqa: S102 - a fixed import line
        self.functions: list[Any] = [self._stub(n) for n in range(len(self.rules))]
        self.namespace["F"] = self.functions
        # Each rule's conclusion (plain rules) or table, set when its chunk is loaded (its
        # condition is always called first).
        self.thens: list[Any] = [None] * len(self.rules)
        self.tables: list[Any] = [None] * len(self.rules)
        self._spans = {name: tuple((s.start, s.function) for s in reversed(items))
                       for name, items in self.generator.spans.items()}
        self._by_day: dict[tuple[str, dt.date], Any] = {}
        self._key = cache.entry_key("engine", book.hash, CODEGEN_VERSION)
        self._codes: dict[str, Any] = {}
        self._saving = False
        # Chunks are generated and run one at a time: the generator writes into its own state,
        # and two threads generating at once would interleave their lines. A chunk is listed in
        # _loaded (read without the lock) only once its conclusions and tables are in place.
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}
        chunks = _cached_chunks(self._key)
        self._presumption_code: types.CodeType | None = chunks.pop(PRESUMPTIONS, None)
        for name, code in chunks.items():
            self._run(name, code)
        _PROGRAMS[id(book.presumptions)] = self

    def _run(self, name: str, code: Any) -> Any:
        exec(code, self.namespace)  # noqa: S102 - generated here, or from a trusted cache entry
        self._codes[name] = code
        fn = self.namespace[name]
        if name[1:].isdigit():
            n = int(name[1:])
            self.thens[n] = self.namespace.get(f"{name}_then")
            self.tables[n] = self.namespace.get(f"{name}_table")
            self.functions[n] = fn
        self._loaded[name] = fn
        return fn

    def load(self, name: str) -> Any:
        """The function of chunk ``name``, generated and compiled now if it is not yet (safe to
        call from several threads at once)."""
        fn = self._loaded.get(name)
        if fn is not None:
            return fn
        with self._lock:
            fn = self._loaded.get(name)
            if fn is None:
                code = compile(self.generator.chunk(name), f"<hocr rulebook {name}>", "exec")
                self._save_at_exit()
                fn = self._run(name, code)
        return fn

    def presumption_module(self) -> types.CodeType:
        """The compiled module of the rulebook's presumptions' conditions (``presumption_source``),
        compiled the first time it is needed and cached with the chunks."""
        if self._presumption_code is None:
            with self._lock:
                if self._presumption_code is None:
                    source = presumption_source(self.generator.book.presumptions)
                    self._presumption_code = compile(source, "<hocr presumptions>", "exec")
                    self._save_at_exit()
        return self._presumption_code

    def _save_at_exit(self) -> None:
        if not self._saving:
            self._saving = True
            atexit.register(self.save)

    def _stub(self, n: int) -> Any:
        def compile_rule(roots: Any, item: Any) -> Any:
            return self.load(f"r{n}")(roots, item)

        return compile_rule

    def dispatch(self, decision: str, day: dt.date) -> Any:
        """The dispatch function of ``decision`` for the rules in force on ``day``."""
        fn = self._by_day.get((decision, day))
        if fn is None:
            name = next(f for start, f in self._spans[decision] if start is None or start <= day)
            fn = self.load(name)
            if len(self._by_day) < 100_000:  # bounded: the days asked for are few in practice
                self._by_day[(decision, day)] = fn
        return fn

    def save(self) -> None:
        """Store every chunk compiled so far in the cache."""
        with self._lock:
            chunks = dict(self._codes)
        if self._presumption_code is not None:
            chunks[PRESUMPTIONS] = self._presumption_code
        cache.write("engine", self._key, marshal.dumps(chunks))


# The chunk name of the presumptions' module in a Program's cache entry (never a rule's or a
# dispatch function's name).
PRESUMPTIONS = "presumptions"
# Each rulebook's Program by the id of its presumptions (presumption_tests finds it there).
_PROGRAMS: weakref.WeakValueDictionary[int, Program] = weakref.WeakValueDictionary()


def _cached_chunks(key: str) -> dict[str, Any]:
    payload = cache.read("engine", key)
    if payload is None:
        return {}
    try:
        chunks = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return {}  # not written by this Python's marshal: compile again
    if not isinstance(chunks, dict) or not all(isinstance(k, str) and isinstance(v, types.CodeType) for k, v in chunks.items()):
        return {}
    return chunks


def program(book: Rulebook) -> Program:
    """The compiled program of ``book``, made once per rulebook object (kept beside its cached
    properties)."""
    found = book.__dict__.get("_hocr_program")
    if found is None:
        with _PROGRAM_LOCK:  # one Program per rulebook, even when threads ask at once
            found = book.__dict__.get("_hocr_program")
            if found is None:
                found = book.__dict__["_hocr_program"] = Program(book)
    return found


_PROGRAM_LOCK = threading.Lock()


def write_sources(book: Rulebook, out_dir: Path) -> list[Path]:
    """Write the generated source for review (``hocr rules compile --out DIR``): the module, one
    file (the rules' chunks, then the presumptions' conditions). Returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "hocr_rulebook_compiled.py"
    path.write_text(generate(book), encoding="utf-8")
    return [path]


# --------------------------------------------------------------------------------------------
# Presumptions' conditions (the fast pass of hocr.presumptions)
# --------------------------------------------------------------------------------------------


class PresumptionWriter(Writer):
    """A presumption's condition as ``p<n>(obj, report)``: its truth on one object of its
    entity (the root ``act``, ``victim`` or ``suspect``, read as ``obj``) and the report; for an
    ``all`` of several parts also ``p<n>_rest``, its truth once the first part holds (the fast
    pass dispatches on that part: see ``presumptions._guard``). A condition that reads any other
    root (``incident`` sees the other objects as filled so far) has no code."""

    params = "obj, report"

    def __init__(self) -> None:
        super().__init__()
        self.entity = ""

    def root(self, name: str) -> str:
        if name == self.entity:
            return "obj"
        if name == "report":
            return "report"
        raise Unsupported(f"the root {name!r} in a presumption's condition")

    def read(self, path: str) -> str:
        """As ``Writer.read``; a field of the object itself (always a plain dict: the fast pass
        hands any other object to the reference pass), or a field of a plain dict in it, is read
        with no call: ``act.classification`` -> ``(UNDETERMINED if type(x := obj.get(
        'classification', MISSING)) is Unknown else x)``; ``act.elements.kind`` reads ``kind``
        so from ``e := obj.get('elements', MISSING)`` when that is a dict, else as ``get``."""
        root, *rest = path.split(".")
        if root != self.entity or len(rest) > 2:
            return super().read(path)
        if len(rest) == 1:
            return f"(UNDETERMINED if type(x := obj.get({rest[0]!r}, MISSING)) is Unknown else x)"
        return (f"((UNDETERMINED if type(x := e.get({rest[1]!r}, MISSING)) is Unknown else x) "
                f"if type(e := obj.get({rest[0]!r}, MISSING)) is dict else get(obj, {_literal(tuple(rest))}))")

    def chunk_of(self, n: int, p: Presumption) -> str | None:
        """The chunk of presumption ``n`` (None: its condition has no code)."""
        self._begin(f"p{n}")
        self.entity = p.entity
        when = p.raw["when"]
        parts = when.get("all", ()) if isinstance(when, Mapping) else ()
        try:
            with self.function(f"def p{n}(obj, report, item=MISSING):  # {p.id} {p.file}:{p.line}"):
                self.generate_body(when)
            if len(parts) > 1:  # written out again, not called from p<n>: each is the fastest alone
                with self.function(f"def p{n}_rest(obj, report, item=MISSING):  # {p.id}, once its first part holds"):
                    self.generate_junction(parts[1:], False)
        except Unsupported:
            return None
        return self.chunk_text()


def presumption_chunks(presumptions: Sequence[Presumption]) -> list[str]:
    """The chunk of each presumption's condition (numbered in their order; one with no
    condition has none)."""
    writer = PresumptionWriter()
    out = []
    for n, p in enumerate(presumptions):
        if "when" in p.raw:
            chunk = writer.chunk_of(n, p)
            out.append(chunk if chunk is not None else f"# p{n} {p.id}: no code; the reference pass fills with it\n")
    return out


def presumption_source(presumptions: Sequence[Presumption]) -> str:
    """The module ``presumption_tests`` compiles (the rulebook's module holds the same chunks
    for review)."""
    head = f"# Generated by hocr.codegen {CODEGEN_VERSION}: presumptions' conditions. Do not edit.\n{RUNTIME_IMPORT}\n"
    return "\n".join([head, *presumption_chunks(presumptions)])


@dataclass(frozen=True)
class PresumptionTest:
    """A presumption's compiled condition: ``test(obj, report)`` its truth (None: it has no
    condition), ``rest`` its truth once the first part of its ``all`` holds (None: no such)."""

    test: Any
    rest: Any


def presumption_tests(presumptions: Sequence[Presumption]) -> list[PresumptionTest | None]:
    """The compiled condition of each presumption (None: its condition has no code). For the
    presumptions of a rulebook whose Program exists (the engine makes it before it presumes),
    the module is the Program's, cached with the rules' chunks; any other list is compiled
    here."""
    prog = _PROGRAMS.get(id(presumptions))
    if prog is not None and prog.generator.book.presumptions is presumptions:
        code = prog.presumption_module()
    else:
        code = compile(presumption_source(presumptions), "<hocr presumptions>", "exec")
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - generated here, or from a trusted cache entry
    out: list[PresumptionTest | None] = []
    for n, p in enumerate(presumptions):
        found = namespace.get(f"p{n}")
        out.append(PresumptionTest(None, None) if "when" not in p.raw else
                   None if found is None else PresumptionTest(found, namespace.get(f"p{n}_rest")))
    return out
