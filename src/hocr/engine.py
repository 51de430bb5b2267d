"""The evaluation pipeline: one incident, one rulebook, one as-of date -> one decision.

``evaluate`` is a pure function. It reads the compiled rulebook (never the files), keeps all of
its state in local variables, and sorts acts and victims by id before it looks at them, so its
result does not depend on the order of the incident's lists and it is safe to call from several
threads at once.

The steps, each driven by the rulebook's declared decisions (the pipeline itself knows nothing
about any offence):

1. incident-scope decisions (for example the recording deadline);
2. for each act, act-scope decisions, the first being its classification, resolved in the
   classification catalogue in force on the as-of date;
3. for each allegation (an act against one victim, or against no identified victim), the
   allegation-scope decisions: whether to record it, what is recorded instead, how it is counted;
4. the recorded allegations are grouped by their counting key; each group is one crime, whose
   classification is the group's principal (the pipeline's ``principal.order_by``); the other
   allegations of the group are absorbed by it.

Within a decision the rules follow default logic: a rule that applies is set aside when a rule
that overrides it also applies; two applicable rules with no override between them are a
conflict; an unknown rule that could change the result makes the decision undetermined, listing
the facts it needs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from . import codegen, reads
from . import incident as _incident
from .conditions import (
    MISSING,
    NO_MISSING,
    UNDETERMINED,
    Missing,
    RuleRuntimeError,
    Scope,
    Tracer,
    Truth,
    Unknown,
    is_absent,
    value_key,
)
from .incident import LONDON, Incident, InputProblem, InvalidIncident, check_incident, question_for
from .loader import RECORDING_ROLES, Decision, Rule, Rulebook, as_sources, citation
from .offences import offence_key
from .presumptions import Applied, presume_answer, with_answer
from .presumptions import presume as presume_facts
from .provisional import UNCHANGED, Unchanged, add_presumptions
from .tables import Row, TableConflict

DECISION_FORMAT = "hocr.decision.v1"


class EvaluationError(RuntimeError):
    """A rule failed at run time: a fault in the rulebook, not in the incident."""


@dataclass(slots=True)
class Outcome:
    """One decision's result on one scope. Never changed once returned: the compiled backend
    shares one per decision for "no rule applies" (see _Prepared)."""

    decision: Decision
    state: str  # value | absent | undetermined | conflict
    value: Any = None
    rule: Rule | None = None
    rows: tuple[Row, ...] = ()
    missing: Missing = NO_MISSING
    blocking: tuple[str, ...] = ()  # unknown rules that kept the decision open
    conflict: tuple[str, ...] = ()
    trace: dict[str, Any] | None = None
    # combine: all - each contributing rule with its conclusion and matched rows.
    contributions: tuple[tuple[Rule, Any, tuple[Row, ...]], ...] = ()

    def as_root(self) -> Any:
        if self.state == "value":
            return self.value
        if self.state == "absent":
            return MISSING
        return Unknown(self.missing)


def _outputs(then: Mapping[str, Any], scope: Scope, rec: Tracer | None) -> tuple[dict[str, Any], Missing]:
    """A rule's conclusion, and the facts missing to compute it (none when it can be)."""
    value: dict[str, Any] = {}
    missing: Missing = NO_MISSING
    for name, expr in then.items():
        v, m = expr(scope, rec)
        if is_absent(v):
            missing = missing | m
        value[name] = v
    return value, missing


def _eval_rule(rule: Rule, scope: Scope, tracer: Tracer | None) -> tuple[bool | None, Missing, Any, tuple[Row, ...], list[tuple[str, bool | None]]]:
    tv, missing = rule.cond(scope, tracer)
    rows: tuple[Row, ...] = ()
    row_log: list[tuple[str, bool | None]] = []
    if tv is False:
        return False, NO_MISSING, None, rows, row_log
    if rule.table is not None:
        result, row_log = rule.table.evaluate(scope, tracer)
        if result.truth is False:
            return False, NO_MISSING, None, rows, row_log
        if tv is None:
            # Ask first for what the rule's own condition needs: the table's facts matter only
            # once the condition holds (a robbery table's questions are not asked until the act
            # is known to be a robbery).
            return None, missing, None, rows, row_log
        if result.truth is None:
            return None, result.missing, None, rows, row_log
        rows = result.rows
        outputs = [row.then for row in rows]
    else:
        if tv is None:
            return None, missing, None, rows, row_log
        outputs = [rule.then]
    values = []
    out_missing: Missing = NO_MISSING
    for then in outputs:
        value, m = _outputs(then, scope, tracer)
        out_missing = out_missing | m
        values.append(value)
    if out_missing:
        return None, out_missing, None, rows, row_log
    if rule.table is not None and rule.table.hit_policy == "collect":
        return True, NO_MISSING, values, rows, row_log
    return True, NO_MISSING, values[0], rows, row_log


def _could_change(rule: Rule, value: Any, keys: Sequence[str]) -> bool:
    if not isinstance(value, Mapping):
        return True
    possible = [row.raw_then for row in rule.table.rows] if rule.table is not None else [rule.raw_then]
    for then in possible:
        for key in keys:
            if key not in then:
                continue
            if isinstance(then[key], (dict, list)) or then[key] != value.get(key):
                return True
    return False


def _candidates(decision: Decision, day: dt.date, scope: Scope) -> Sequence[Rule]:
    """The rules in force that could apply. A rule whose presence guard is definitely absent,
    or whose value guard is known and is none of its values, cannot apply (its condition is
    false), so it is not evaluated at all. Guard facts are read once per scope, and the rules
    picked are kept for each combination of guard readings (:func:`_picked`)."""
    return _picked(decision, day, scope)[1]


def _picked(decision: Decision, day: dt.date, scope: Scope) -> tuple[Decision, tuple[Rule, ...], dict[int, frozenset[str]]]:
    """The candidates of ``decision`` on ``scope``, kept by its guard readings, with the fields
    they could read (filled by :func:`_log_reads`, by analysis). Holding the decision keeps its
    id from being reused while kept."""
    groups, position = decision.index(day)
    key = (id(decision), day, _guard_readings(groups, scope))
    kept = _PICKED.get(key)
    if kept is None:
        if len(_PICKED) > 20_000:  # bounded: a rulebook has few decisions and guard values
            _PICKED.clear()
        kept = _PICKED[key] = (decision, _pick(groups, position, key[2]), {})
    return kept


_PICKED: dict[tuple[int, dt.date, tuple[Any, ...]], tuple[Decision, tuple[Rule, ...], dict[int, frozenset[str]]]] = {}


def _guard_readings(groups: Sequence[Any], scope: Scope) -> tuple[Any, ...]:
    """What the guards read on ``scope``, in order: for each group with a presence guard whether
    the fact is present, then (unless absent) the value key of each of its value guards' facts."""
    memo = scope.memo
    readings: list[Any] = []
    for group in groups:
        if group.presence is not None:
            path, get = group.presence
            present = memo.get(("present", path))
            if present is None:
                present = memo[("present", path)] = get(scope, None)[0] is not MISSING
            readings.append(present)
            if not present:
                continue
        for path, get, _, _ in group.guarded:
            key = memo.get(("value", path), _UNREAD)
            if key is _UNREAD:
                value, _ = get(scope, None)
                key = memo[("value", path)] = None if is_absent(value) else value_key(value)
            readings.append(key)
    return tuple(readings)


def _pick(groups: Sequence[Any], position: Mapping[str, int], readings: tuple[Any, ...]) -> tuple[Rule, ...]:
    """The rules the guard readings (:func:`_guard_readings`) leave, in the decision's order."""
    picked: list[Rule] = []
    read = iter(readings)
    for group in groups:
        if group.presence is not None and not next(read):
            continue
        picked.extend(group.unguarded)
        for _, _, by_value, every in group.guarded:
            key = next(read)
            picked.extend(every if key is None else by_value.get(key, ()))
    if len(groups) > 1 or (groups and groups[0].guarded):
        picked.sort(key=lambda r: position[r.id])
    return tuple(picked)


_UNREAD = object()


Applicable = dict[str, tuple[Rule, Any, tuple[Row, ...]]]
Open = dict[str, tuple[Rule, Missing]]


def decide(decision: Decision, day: dt.date, scope: Scope, traced: bool, label: str) -> Outcome:
    """Apply one decision's rules in force on ``day`` to one scope (default logic): the
    interpreter, the reference for every backend."""
    log = scope.roots.get(reads.TOUCHED)
    if log is not None:
        _log_reads(decision, day, scope, log)
    found = _interpret_rules(decision, day, scope, traced, label)
    if isinstance(found, Outcome):
        return found
    applicable, unknown, entries = found
    return _resolve(decision, label, applicable, unknown, entries if traced else None)


def _log_reads(decision: Decision, day: dt.date, scope: Scope, log: reads.ReadLog) -> None:
    """Log the presumed facts this decision can read on this scope (``hocr.reads``): those its
    guards read and those of its candidate rules. (A traced pass evaluates every rule in force,
    but only a candidate can apply: the others' reads cannot change the outcome.)"""
    analysis = log.analysis
    _, rules, fields = _picked(decision, day, scope)
    found = fields.get(id(analysis))
    if found is None:
        found = fields[id(analysis)] = analysis.of_guards(decision.index(day)[0]).union(
            *(analysis.of_rule(rule) for rule in rules))
    log |= found


def _fault(rule: Rule, label: str, exc: Exception) -> EvaluationError:
    return EvaluationError(f"rule {rule.id} ({rule.file}:{rule.line}) failed on {label}: {exc}")


def _interpret_rules(decision: Decision, day: dt.date, scope: Scope, traced: bool,
                     label: str) -> tuple[Applicable, Open, list[dict[str, Any]]] | Outcome:
    """Each rule that could apply, evaluated: those that apply, those whose facts are unknown and
    (traced) the trace entry of every rule in force; or the conflict of a unique table."""
    if traced:
        return _interpret_traced(decision, day, scope, label)
    applicable: Applicable = {}
    unknown: Open = {}
    for rule in _candidates(decision, day, scope):
        if rule.table is None:
            # The hot path: a plain rule. Most rules fail on their first condition.
            try:
                tv, missing = rule.cond(scope, None)
                if tv is False:
                    continue
                if tv is None:
                    unknown[rule.id] = (rule, missing)
                    continue
                value, missing = _outputs(rule.then, scope, None)
            except (RuleRuntimeError, TypeError) as exc:
                raise _fault(rule, label, exc) from exc
            if missing:
                unknown[rule.id] = (rule, missing)
            else:
                applicable[rule.id] = (rule, value, ())
            continue
        try:
            tv, missing, value, rows, _ = _eval_or_fault(rule, scope, None, label)
        except TableConflict as exc:
            return _table_conflict(decision, rule, label, exc, traced=False)
        _file(applicable, unknown, rule, tv, missing, value, rows)
    return applicable, unknown, []


def _interpret_traced(decision: Decision, day: dt.date, scope: Scope,
                      label: str) -> tuple[Applicable, Open, list[dict[str, Any]]] | Outcome:
    """:func:`_interpret_rules`, traced: every rule in force is evaluated, each with its trace
    entry. One tracer serves them all, so a predicate that several rules test is evaluated once
    and its leaves replayed (``conditions.Tracer``), as copies of their JSON (``_JsonTracer``)."""
    applicable: Applicable = {}
    unknown: Open = {}
    entries: list[dict[str, Any]] = []
    tracer = _JsonTracer()
    for rule in decision.rules_in_force(day):
        tracer.leaves = []
        if rule.table is None:
            tv, missing, value = _plain_rule(rule, scope, tracer, label)
            rows: tuple[Row, ...] = ()
            row_log: list[tuple[str, bool | None]] = []
        else:
            try:
                tv, missing, value, rows, row_log = _eval_or_fault(rule, scope, tracer, label)
            except TableConflict as exc:
                return _table_conflict(decision, rule, label, exc, traced=True)
        _file(applicable, unknown, rule, tv, missing, value, rows)
        entries.append(_trace_entry(rule, tv, missing, value, rows, row_log, tracer.leaves))
    return applicable, unknown, entries


def _plain_rule(rule: Rule, scope: Scope, tracer: Tracer, label: str) -> tuple[bool | None, Missing, Any]:
    """:func:`_eval_rule` of a rule with no table (the most common), traced: its result, the
    facts missing when unknown, its conclusion when it applies."""
    try:
        tv, missing = rule.cond(scope, tracer)
        if tv is False:
            return False, NO_MISSING, None
        if tv is None:
            return None, missing, None
        value, missing = _outputs(rule.then, scope, tracer)
    except (RuleRuntimeError, TypeError) as exc:
        raise _fault(rule, label, exc) from exc
    return (None, missing, None) if missing else (True, NO_MISSING, value)


def _eval_or_fault(rule: Rule, scope: Scope, tracer: Tracer | None,
                   label: str) -> tuple[bool | None, Missing, Any, tuple[Row, ...], list[tuple[str, bool | None]]]:
    try:
        return _eval_rule(rule, scope, tracer)
    except (RuleRuntimeError, TypeError) as exc:
        raise _fault(rule, label, exc) from exc


def _file(applicable: Applicable, unknown: Open, rule: Rule, tv: bool | None, missing: Missing, value: Any,
          rows: tuple[Row, ...]) -> None:
    """File one rule's result: it applies, or its facts are unknown (a rule that does not apply
    is not filed)."""
    if tv is True:
        applicable[rule.id] = (rule, value, rows)
    elif tv is None:
        unknown[rule.id] = (rule, missing)


def _table_conflict(decision: Decision, rule: Rule, label: str, exc: TableConflict, traced: bool) -> Outcome:
    return Outcome(decision, "conflict", conflict=(rule.id,), rule=rule,
                   trace={"decision": decision.name, "scope": label, "state": "conflict",
                          "detail": f"table {rule.id}: {exc}"} if traced else None)


_RESULT = {True: "applied", False: "not_applied", None: "unknown"}
_ROW_RESULT = {True: "match", False: "no_match", None: "unknown"}


def _trace_entry(rule: Rule, tv: bool | None, missing: Missing, value: Any, rows: tuple[Row, ...],
                 row_log: list[tuple[str, bool | None]], facts: list[dict[str, Any]]) -> dict[str, Any]:
    """What the trace says of one rule: its result, the facts it read, its table's rows."""
    entry: dict[str, Any] = {
        "rule": rule.id,
        "title": rule.title,
        "citation": rule.citation,
        "verification": rule.verification,
        "result": _RESULT[tv],
        "facts": facts,
    }
    if rule.overrides:
        entry["overrides"] = list(rule.overrides)
    if row_log:
        entry["rows"] = [{"row": rid, "result": _ROW_RESULT[t]} for rid, t in row_log]
    if tv is None:
        entry["facts_needed"] = sorted(missing)
    if tv is True:
        entry["value"] = _jsonable(value)
        if rows:
            entry["matched_rows"] = [r.id for r in rows]
    return entry


def _resolve(decision: Decision, label: str, applicable: Applicable, unknown: Open,
             entries: list[dict[str, Any]] | None) -> Outcome:
    """Default logic over the rules evaluated: a rule that applies is set aside by an applicable
    rule that overrides it; two winners are a conflict; an open rule that could change the
    result keeps the decision undetermined. ``entries`` (traced only) is the trace to finish."""
    ids = applicable.keys()
    winners = [rid for rid, (r, _, _) in applicable.items() if not (r.defeaters & ids)]
    if entries is not None and len(winners) < len(applicable):
        for entry in entries:
            if entry["result"] == "applied" and entry["rule"] not in winners:
                entry["result"] = "overridden"
                entry["overridden_by"] = sorted(applicable[entry["rule"]][0].defeaters & ids)
    outcome = _outcome(decision, applicable, unknown, winners)
    if entries is not None:
        outcome.trace = _decision_trace(decision, label, outcome, entries)
    return outcome


def _outcome(decision: Decision, applicable: Applicable, unknown: Open, winners: list[str]) -> Outcome:
    if decision.combine == "all":
        # Findings accumulate: every applicable rule not overridden contributes; rules whose
        # facts are unknown contribute nothing (listed in the trace as unknown).
        if not winners:
            return Outcome(decision, "absent")
        found = tuple(sorted(winners))
        return Outcome(decision, "value", value=[applicable[w][1] for w in found],
                       contributions=tuple((applicable[w][0], applicable[w][1], applicable[w][2]) for w in found))
    if len(winners) > 1:
        return Outcome(decision, "conflict", conflict=tuple(sorted(winners)))
    ids = applicable.keys()
    open_rules = [(r, m) for r, m in unknown.values() if not (r.defeaters & ids)]
    if len(winners) == 1 and open_rules:
        _, w_value, _ = applicable[winners[0]]
        # An open rule that could only conclude what the winner concludes, in every output that
        # settles the decision, cannot change it.
        open_rules = [(r, m) for r, m in open_rules if _could_change(r, w_value, decision.determined_by)]
    if open_rules:
        needed: Missing = NO_MISSING
        for _, m in open_rules:
            needed = needed | m
        return Outcome(decision, "undetermined", missing=needed, blocking=tuple(sorted(r.id for r, _ in open_rules)))
    if winners:
        rule, value, rows = applicable[winners[0]]
        return Outcome(decision, "value", value=value, rule=rule, rows=rows)
    if decision.if_no_rule_applies == "absent":
        return Outcome(decision, "absent")
    return Outcome(decision, "undetermined", blocking=("(no rule applies)",))


def _decision_trace(decision: Decision, label: str, outcome: Outcome, entries: list[dict[str, Any]]) -> dict[str, Any]:
    trace = {
        "decision": decision.name,
        "scope": label,
        "state": outcome.state,
        "rule": outcome.rule.id if outcome.rule else None,
        "value": _jsonable(outcome.value),
        "facts_needed": sorted(outcome.missing),
        "rules": entries,
    }
    if outcome.conflict:
        trace["conflict"] = list(outcome.conflict)
    return trace


def decide_compiled(prog: codegen.Program, decision: Decision, day: dt.date, scope: Scope, label: str) -> Outcome:
    """The same decision as :func:`decide` (untraced), with the rules' conditions and the guard
    dispatch run as generated code (``hocr.codegen``). The facts an undetermined decision needs
    are asked of the interpreter for its blocking rules only (:func:`_with_facts_needed`); a
    conflict, or any failure, is decided by the interpreter instead: it is the reference, and
    raises what it raises."""
    passed: list[int] = []
    open_: list[int] = []
    tables: list[tuple[int, bool | None]] = []
    try:
        prog.dispatch(decision.name, day)(scope.roots, passed, open_, tables)
        outcome = _compiled_outcome(prog, decision, scope.roots, passed, open_, tables)
    except Exception:  # noqa: BLE001 - any failure at all: the interpreter decides (see docstring)
        return decide(decision, day, scope, False, label)
    if outcome.state == "conflict":
        return decide(decision, day, scope, False, label)
    if outcome.state == "undetermined" and outcome.blocking != _NO_RULE:
        return _with_facts_needed(decision, day, scope, label, outcome)
    return outcome


_NO_RULE = ("(no rule applies)",)


@dataclass(frozen=True)
class _Prepared:
    """What decide_compiled needs of a decision that no incident changes, built once: the
    outcome when no rule applies (shared: an Outcome is never changed once returned), and the
    decision's rules by id."""

    nothing: Outcome
    rules: Mapping[str, Rule]


def _prepared(decision: Decision) -> _Prepared:
    """The decision's :class:`_Prepared`, built the first time and kept on the decision (which
    lives as long as its rulebook)."""
    found: _Prepared | None = decision.__dict__.get("_hocr_prepared")
    if found is None:
        absent = decision.combine == "all" or decision.if_no_rule_applies == "absent"
        nothing = Outcome(decision, "absent") if absent else Outcome(decision, "undetermined", blocking=_NO_RULE)
        found = decision.__dict__["_hocr_prepared"] = _Prepared(nothing, {r.id: r for r in decision.rules})
    return found


def _compiled_outcome(prog: codegen.Program, decision: Decision, roots: dict[str, Any], passed: list[int],
                      open_: list[int], tables: list[tuple[int, bool | None]]) -> Outcome:
    """What :func:`_resolve` gives on the rules the generated dispatch sorted (an undetermined
    one without its missing facts), going straight to it in the common shapes: no rule, one
    rule that concludes, only open rules. Open rules never change a combine: all decision."""
    if not tables and len(passed) < 2:
        if not passed and (not open_ or decision.combine == "all"):
            return _prepared(decision).nothing
        if passed and (not open_ or decision.combine == "all"):
            value = prog.thens[passed[0]](roots)
            if value is not None:
                rule = prog.rules[passed[0]]
                if decision.combine == "all":
                    return Outcome(decision, "value", value=[value], contributions=((rule, value, ()),))
                return Outcome(decision, "value", value=value, rule=rule)
        elif not passed:
            # Only open rules, none overridden by an applicable one: all of them block.
            return Outcome(decision, "undetermined", blocking=tuple(sorted({prog.rules[n].id for n in open_})))
    applicable, unknown = _compiled_results(prog, roots, passed, open_, tables)
    return _resolve(decision, "", applicable, unknown, None)


def _with_facts_needed(decision: Decision, day: dt.date, scope: Scope, label: str, outcome: Outcome) -> Outcome:
    """An undetermined compiled outcome (new, not shared) given the facts it needs: those its
    blocking rules miss, as the interpreter works them out (generated code computes truth only).
    The interpreter's other rules could add nothing: the missing facts of an undetermined outcome
    are its blocking rules'. If the interpreter does not find a blocking rule unknown, or fails,
    it decides the whole decision."""
    rules = _prepared(decision).rules
    needed: Missing = NO_MISSING
    try:
        for rid in outcome.blocking:
            missing = _unknown_rule_missing(rules[rid], scope)
            if missing is None:
                return decide(decision, day, scope, False, label)
            needed = needed | missing
    except Exception:  # noqa: BLE001 - as in decide_compiled: the interpreter decides and raises
        return decide(decision, day, scope, False, label)
    outcome.missing = needed
    return outcome


def _unknown_rule_missing(rule: Rule, scope: Scope) -> Missing | None:
    """The facts a rule the compiled code found unknown misses, as the interpreter works them
    out (:func:`_eval_rule`); None if the interpreter does not find it unknown."""
    if rule.table is not None:
        tv, missing = rule.cond(scope, None)
        if tv is None:
            # _eval_rule's answer for a table rule whose own condition is unknown and whose table
            # is not false (the compiled table said so, or the rule would not be unknown): the
            # condition's facts, without evaluating the table again.
            return missing
    tv, missing, _, _, _ = _eval_rule(rule, scope, None)
    return missing if tv is None else None


def _compiled_results(prog: codegen.Program, roots: dict[str, Any], passed: list[int], open_: list[int],
                      tables: list[tuple[int, bool | None]]) -> tuple[Applicable, Open]:
    """The rules the generated dispatch sorted, with their conclusions (generated too). An
    unknown rule's missing facts are not known here: the outcome is only used when it does not
    need them (see decide_compiled)."""
    rules = prog.rules
    applicable: Applicable = {}
    unknown: Open = {}
    for n in passed:
        rule = rules[n]
        value = prog.thens[n](roots)
        if value is None:
            unknown[rule.id] = (rule, NO_MISSING)
        else:
            applicable[rule.id] = (rule, value, ())
    for n in open_:
        unknown[rules[n].id] = (rules[n], NO_MISSING)
    for n, cond in tables:
        rule = rules[n]
        tv, value, picked = prog.tables[n](roots, cond)
        if tv is True:
            applicable[rule.id] = (rule, value, tuple(rule.table.rows[i] for i in picked))  # type: ignore[union-attr]
        elif tv is None:
            unknown[rule.id] = (rule, NO_MISSING)
    return applicable, unknown


# --------------------------------------------------------------------------------------------


@dataclass
class Allegation:
    act: Mapping[str, Any]
    act_pointer: str
    victim_id: str | None
    victim: Mapping[str, Any] | None
    classification: Any
    act_outcomes: dict[str, Outcome]
    outcomes: dict[str, Outcome]


def evaluate(
    book: Rulebook,
    incident: Mapping[str, Any] | Incident,
    as_of: dt.date | None = None,
    trace: bool = False,
    presume: bool = True,
    backend: str | None = None,
) -> dict[str, Any]:
    """Evaluate one incident under the rules in force on ``as_of`` (default: the report date).

    Facts the incident does not give are filled by the rulebook's presumptions (unless
    ``presume`` is false); the decision lists those that mattered and marks crimes whose
    classification rests on them as provisional.

    ``backend`` is "compiled" (generated code, ``hocr.codegen``), "interpreted" (the reference)
    or None: compiled when untraced, interpreted when traced (the trace is the interpreter's; the
    other answers to presumed facts are then decided compiled). The decision is the same,
    byte for byte, whichever decides it.

    Raises :class:`InvalidIncident` for bad input and :class:`EvaluationError` for a rulebook
    fault; otherwise returns a decision conforming to ``schemas/decision.schema.json``."""
    inc = incident if isinstance(incident, Incident) else check_incident(incident)
    received: dt.datetime = inc.facts["report"]["received_at"]
    day = as_of or received.astimezone(LONDON).date()
    if day < book.starts:
        raise InvalidIncident([InputProblem(
            "/report/received_at" if as_of is None else "",
            f"no rules are in force on {day}: the rulebook starts on {book.starts} (the NCRS)",
        )])
    _check_codes(book, inc.facts, day)
    main = _decider(book, backend, trace)
    if not presume:
        return _decide_incident(book, inc, day, main, trace)
    filled, applied = presume_facts(book.presumptions, inc.facts, day)
    # The pass on the presumed facts records what each decision read and decided: another
    # answer to a fact none of them read is not decided again, and a pass for another answer
    # decides again only the decisions that read what it changes (hocr.reads).
    record = reads.PassRecord(reads.analysis(book), _recording_names(book)) if applied and not _ALWAYS_REDECIDE else None
    others = _alternative_decider(book, inc, filled, day, _decider(book, backend if backend is not None or not trace else "compiled", False),
                                  record)
    return _decide_incident(book, replace(inc, facts=filled), day, main, trace, record=record,
                            complete=lambda decision: add_presumptions(book, inc, day, decision, applied, others,
                                                                       _could_matter(record)))


def _could_matter(record: reads.PassRecord | None) -> Callable[[Applied], bool] | None:
    """Whether another answer to a presumed fact could change the pass ``record`` describes."""
    if record is None:
        return None
    return lambda a: record.could_matter(a.presumption.fact)


# Tests set this to decide every other answer again, in full (presumed afresh, every decision
# made), to show that skipping, reusing and filling only the answered object change nothing.
_ALWAYS_REDECIDE = False


# How one decision is made on one scope: (decision, day, scope, label) -> outcome.
Decide = Callable[[Decision, dt.date, Scope, str], Outcome]
BACKENDS = ("compiled", "interpreted")


def _decider(book: Rulebook, backend: str | None, trace: bool) -> Decide:
    if backend is None:
        backend = "interpreted" if trace else "compiled"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} or None, not {backend!r}")
    if backend == "interpreted":
        return lambda d, day, scope, label: decide(d, day, scope, trace, label)
    if trace:
        raise ValueError("a traced evaluation is interpreted (the trace is the interpreter's): use backend None or 'interpreted'")
    prog = codegen.program(book)
    return lambda d, day, scope, label: decide_compiled(prog, d, day, scope, label)


def _alternative_decider(book: Rulebook, inc: Incident, filled: Mapping[str, Any], day: dt.date, decide_one: Decide,
                         record: reads.PassRecord | None) -> Any:
    """Decide the incident again with one presumed fact stated otherwise (the other presumptions
    still filling what stays unsaid: ``filled`` is what they filled on the incident), reusing what
    ``record`` shows that answer cannot change."""

    def decide_with(pointer: str, value: Any) -> dict[str, Any] | Unchanged | None:
        if _ALWAYS_REDECIDE:  # in full: the answered incident presumed afresh, as the reference
            answered = replace(inc, facts=presume_facts(book.presumptions, with_answer(inc.facts, pointer, value), day)[0])
        else:
            answered = replace(inc, facts=presume_answer(book.presumptions, inc.facts, filled, pointer, value, day))
        reuse = None if record is None else _Reuse(record, record.analysis.changed_by(record.field_of(pointer)))
        try:
            done = _run_pass(book, answered, day, decide_one, False, reuse=reuse, recording_only=True)
            if reuse is not None and not done.run.changed:
                return UNCHANGED  # every decision as on the presumed facts: the same decision
            return _assemble(book, answered, day, done.incident_outcomes, done.allegations, None)
        except EvaluationError:
            return None  # a fault of the rulebook on that answer only: reported as a warning

    return decide_with


class _Reuse:
    """What a pass for another answer may take from the pass on the presumed facts: the outcome
    of a decision that read none of ``fields`` (what the answer can change)."""

    def __init__(self, record: reads.PassRecord, fields: frozenset[str]):
        self.record = record
        self.fields = fields
        # The scopes where some decision this pass makes (``record.redecided``; None: all) read a
        # changed field (all of them, if the engine's own reads can change): elsewhere a scope
        # whose enclosing scopes changed nothing is taken whole.
        made = record.redecided
        everywhere = not fields.isdisjoint(record.analysis.always)
        self.stale_scopes = None if everywhere else {label for (label, name), read in record.reads.items()
                                                     if (made is None or name in made) and not fields.isdisjoint(read)}

    def whole_scope(self, label: str) -> bool:
        """Whether every decision on ``label`` is reused, its enclosing scopes changing nothing."""
        return self.stale_scopes is not None and label not in self.stale_scopes

    def outcome(self, d: Decision, label: str, redecided: set[str]) -> Outcome | None:
        """The first pass's outcome of ``d`` on the scope ``label``, if this pass would decide the
        same: ``d`` read none of the changed fields and depends on no decision decided again
        (``redecided``: those of this scope and the scopes around it)."""
        key = (label, d.name)
        prior: Outcome | None = self.record.outcomes.get(key)
        if prior is None or not self.fields.isdisjoint(self.record.reads[key]) or not d.depends.isdisjoint(redecided):
            return None
        return prior

    def same_as_before(self, d: Decision, label: str, outcome: Outcome) -> Outcome | None:
        """The first pass's outcome of ``d`` on ``label`` if ``outcome``, decided again, is the
        same (:func:`_same_outcome`): the decisions that depend on ``d`` may then be reused."""
        prior: Outcome | None = self.record.outcomes.get((label, d.name))
        return prior if prior is not None and _same_outcome(prior, outcome) else None


def _same_outcome(a: Outcome, b: Outcome) -> bool:
    """Whether two outcomes of one decision decide the same, strictly (1 is not True): the same
    state, rule, rows, conflict, open rules, missing facts and values. Their traces may differ."""
    return (a.state == b.state and a.rule is b.rule and a.rows == b.rows and a.missing == b.missing
            and a.blocking == b.blocking and a.conflict == b.conflict
            and _same_value(a.value, b.value) and len(a.contributions) == len(b.contributions)
            and all(x[0] is y[0] and x[2] == y[2] and _same_value(x[1], y[1])
                    for x, y in zip(a.contributions, b.contributions, strict=True)))


def _same_value(x: Any, y: Any) -> bool:
    """Equality that also asks for the same types and, in mappings, the same key order: a
    value a later rule may test strictly (``equals: true`` is not met by 1) or the decision may
    print."""
    if x is y:
        return True
    if type(x) is not type(y):
        return False
    if type(x) is dict:
        return len(x) == len(y) and all(kx == ky and _same_value(vx, vy)
                                        for (kx, vx), (ky, vy) in zip(x.items(), y.items(), strict=True))
    if type(x) is list or type(x) is tuple:
        return len(x) == len(y) and all(map(_same_value, x, y))
    return bool(x == y)


class _Recording(NamedTuple):
    """``book.order`` with only the decisions of the pipeline's recording roles
    (``loader.RECORDING_ROLES``: all that is read of a pass for another answer to a presumed fact;
    findings, flags and verdicts are not among them) and those they depend on; and their names."""

    order: Mapping[str, tuple[Decision, ...]]
    names: frozenset[str]


def _recording(book: Rulebook) -> _Recording:
    """The rulebook's :class:`_Recording`, derived once and kept beside the rulebook."""
    found: _Recording | None = book.__dict__.get("_hocr_recording")
    if found is None:
        wanted = {book.pipeline[r] for r in RECORDING_ROLES if book.pipeline.get(r)}
        pending = list(wanted)
        while pending:
            for dep in book.decisions[pending.pop()].depends:
                if dep not in wanted:
                    wanted.add(dep)
                    pending.append(dep)
        order = {scope: tuple(d for d in decisions if d.name in wanted) for scope, decisions in book.order.items()}
        names = frozenset(d.name for decisions in order.values() for d in decisions)
        found = book.__dict__["_hocr_recording"] = _Recording(order, names)
    return found


def _recording_order(book: Rulebook) -> Mapping[str, tuple[Decision, ...]]:
    return _recording(book).order


def _recording_names(book: Rulebook) -> frozenset[str]:
    return _recording(book).names


class _Run:
    """One pass of the pipeline over an incident's facts: runs each scope's decisions in order,
    giving each decision's outcome to the decisions after it (and the classification's entry to
    the rules of the act), and keeps the trace when traced. With ``record`` it records what each
    decision read and decided; with ``reuse`` it takes what it can from such a record. With
    ``recording_only`` it makes only the decisions that say what is recorded
    (:func:`_recording_order`)."""

    def __init__(self, book: Rulebook, day: dt.date, decide_one: Decide, trace: bool,
                 record: reads.PassRecord | None = None, reuse: _Reuse | None = None,
                 recording_only: bool = False):
        self.book = book
        self.order = _recording_order(book) if recording_only else book.order
        self.day = day
        self.decide_one = decide_one
        self.classification = book.pipeline["classification"]
        self.trace: list[dict[str, Any]] | None = [] if trace else None
        self.record = record
        self.reuse = reuse
        # The decisions decided again that decided otherwise than the first pass, by scope label;
        # a scope inherits its parent's. ``changed``: whether any did, in any scope.
        self.redecided: dict[str, frozenset[str]] = {}
        self.changed = False

    def decide(self, d: Decision, scope: Scope, label: str, redecided: set[str]) -> Outcome:
        if self.reuse is not None:
            return self.decide_again(d, scope, label, redecided, self.reuse)
        record = self.record
        if record is None:
            return self.decide_one(d, self.day, scope, label)
        record.log.clear()
        outcome = record.outcomes[(label, d.name)] = self.decide_one(d, self.day, scope, label)
        record.reads[(label, d.name)] = frozenset(record.log)
        return outcome

    def decide_again(self, d: Decision, scope: Scope, label: str, redecided: set[str], reuse: _Reuse) -> Outcome:
        """A pass for another answer: the first pass's outcome where the answer cannot change it;
        otherwise decided again, and counted as changed (so that what depends on it is decided
        again too) only if it decides otherwise than before."""
        prior = reuse.outcome(d, label, redecided)
        if prior is not None:
            return prior
        outcome = self.decide_one(d, self.day, scope, label)
        same = reuse.same_as_before(d, label, outcome)
        if same is not None:
            return same
        redecided.add(d.name)
        self.changed = True
        return outcome

    def run(self, scope_kind: str, scope: Scope, label: str, parent: str | None = None) -> dict[str, Outcome]:
        redecided = set(self.redecided.get(parent, ())) if parent is not None else set()
        if self.reuse is not None and not redecided and self.reuse.whole_scope(label):
            whole = self.reused_scope(scope_kind, scope, label)
            if whole is not None:
                return whole
        into: dict[str, Outcome] = {}
        for d in self.order[scope_kind]:
            outcome = self.decide(d, scope, label, redecided)
            into[d.name] = outcome
            scope.roots[d.name] = outcome.as_root()
            if d.name == self.classification:
                scope.roots["classification"] = _classification_root(self.book, outcome, self.day, scope.roots.get("act"))
            if outcome.trace is not None and self.trace is not None:
                self.trace.append(outcome.trace)
        if self.record is not None and self.classification in into:
            self.record.classification_roots[label] = scope.roots["classification"]
        self.redecided[label] = frozenset(redecided)
        return into

    def reused_scope(self, scope_kind: str, scope: Scope, label: str) -> dict[str, Outcome] | None:
        """Every outcome of the scope ``label`` as the first pass decided it (and its
        classification's entry, built from the same outcome and act), or None if that pass has
        no such scope."""
        assert self.reuse is not None
        record = self.reuse.record
        into: dict[str, Outcome] = {}
        try:
            for d in self.order[scope_kind]:
                outcome = into[d.name] = record.outcomes[(label, d.name)]
                scope.roots[d.name] = outcome.as_root()
            if self.classification in into:
                scope.roots["classification"] = record.classification_roots[label]
        except KeyError:
            return None
        self.redecided[label] = frozenset()
        return into

    def act_scope(self, base: Scope, index: int, act: Mapping[str, Any],
                  victims: Mapping[str, tuple[int, Any]]) -> Scope:
        act_pointer = f"/acts/{index}"
        scope = base.child("act", act, act_pointer)
        scope.pointers["classification"] = f"{act_pointer}/classification"
        own = act.get("victims", [])
        if len(own) == 1:
            scope.roots["act_victim"] = victims[own[0]][1]
            scope.pointers["act_victim"] = f"/victims/{victims[own[0]][0]}"
        else:
            # No single victim: a rule reading the victim's facts at act level cannot apply; the
            # act must name its one victim (an act against several victims of different ages or
            # sexes is described as one act per victim).
            scope.roots["act_victim"] = MISSING
            scope.pointers["act_victim"] = f"{act_pointer}/victims"
        if "offence" in act:
            # The catalogue's answer to "which classifications cover this offence?": the one
            # code when there is exactly one, otherwise undetermined until the act is classified.
            codes = _codes_for_offence(self.book, act["offence"]["statute"], act["offence"]["section"], self.day)
            single: Any = codes[0] if len(codes) == 1 else Unknown(frozenset((f"{act_pointer}/classification",)))
            scope.roots["offence"] = {**act["offence"], "codes": list(codes), "single": single}
            scope.pointers["offence"] = f"{act_pointer}/offence"
        return scope

    def allegations(self, base: Scope, facts: Mapping[str, Any]) -> list[Allegation]:
        """Each act's decisions, then each of its allegations' (one per victim, or one with no
        identified victim), acts in order of id."""
        victims = {v["id"]: (i, v) for i, v in enumerate(facts.get("victims", []))}
        out: list[Allegation] = []
        for index, act in sorted(enumerate(facts["acts"]), key=lambda p: p[1]["id"]):
            act_pointer = f"/acts/{index}"
            act_scope = self.act_scope(base, index, act, victims)
            act_label = f"act {act['id']}"
            act_outcomes = self.run("act", act_scope, act_label, "incident")
            for vid in sorted(act.get("victims", [])) or [None]:
                if vid is None:
                    scope = act_scope.child("victim", MISSING, f"{act_pointer}/victims")
                    victim = None
                else:
                    vindex, victim = victims[vid]
                    scope = act_scope.child("victim", victim, f"/victims/{vindex}")
                scope = scope.child(
                    "allegation",
                    {"act": act["id"], "victim": vid, "has_victim": vid is not None,
                     "suspects": sorted(act.get("suspects", []))},
                    act_pointer,
                )
                label = f"act {act['id']}, " + (f"victim {vid}" if vid else "no identified victim")
                outcomes = self.run("allegation", scope, label, act_label)
                out.append(Allegation(act, act_pointer, vid, victim, scope.roots.get("classification"), act_outcomes, outcomes))
        return out


class _Pass(NamedTuple):
    """What one pass decided: on the incident (``base``, its scope), then on each allegation."""

    run: _Run
    base: Scope
    incident_outcomes: dict[str, Outcome]
    allegations: list[Allegation]


def _run_pass(book: Rulebook, inc: Incident, day: dt.date, decide_one: Decide, trace: bool,
              record: reads.PassRecord | None = None, reuse: _Reuse | None = None,
              recording_only: bool = False) -> _Pass:
    """One pass over the incident's facts: the incident's decisions, then each act's and each
    allegation's (see :class:`_Run` for ``record``, ``reuse`` and ``recording_only``)."""
    facts = inc.facts
    base = Scope({"incident": facts, "report": facts["report"]}, {"incident": "", "report": "/report"})
    if record is not None:
        base.roots[reads.TOUCHED] = record.log
    run = _Run(book, day, decide_one, trace, record, reuse, recording_only)
    incident_outcomes = run.run("incident", base, "incident")
    return _Pass(run, base, incident_outcomes, run.allegations(base, facts))


def _decide_incident(book: Rulebook, inc: Incident, day: dt.date, decide_one: Decide, trace: bool,
                     complete: Callable[[dict[str, Any]], Any] | None = None,
                     record: reads.PassRecord | None = None) -> dict[str, Any]:
    """The decision on the incident's facts as they stand (presumed facts already filled), with
    its findings and flags. ``complete`` adds to the decision (its presumptions) before the
    force's record, if any, is judged against it. ``record``, when given, is filled with what
    each decision read and decided (``hocr.reads``) before ``complete`` is called. (A pass for
    another answer to a presumed fact is :func:`_run_pass` and :func:`_assemble` only: what it
    records is all that is read of it.)"""
    run, base, incident_outcomes, allegations = _run_pass(book, inc, day, decide_one, trace, record)
    decision = _assemble(book, inc, day, incident_outcomes, allegations, run.trace)
    decision["findings"] = _findings(book, incident_outcomes, allegations)
    _attach_flags(book, decision, allegations)
    decision["unverified_rules"] = sorted(set(decision["unverified_rules"]) | {
        r["id"] for f in decision["findings"] for r in f["rules"] if r["verification"] != "verified"})
    if complete is not None:
        complete(decision)
    if "force_record" in inc.facts:
        _add_force_record(book, inc, day, decision, base, run)
    return decision


def _add_force_record(book: Rulebook, inc: Incident, day: dt.date, decision: dict[str, Any], base: Scope, run: _Run) -> None:
    """The verdicts on the force's record of the incident, with their rules and conflicts."""
    decision["force_record"] = _judge_force_record(book, inc, day, decision, base,
                                                   lambda scope, label: run.run("recorded_crime", scope, label))
    decision["unverified_rules"] = sorted(set(decision["unverified_rules"]) | {
        r["id"] for c in decision["force_record"]["crimes"] for v in c["verdicts"] for r in v.get("rules", [])
        if r["verification"] != "verified"})
    for rc in decision["force_record"]["crimes"]:
        for v in rc["verdicts"]:
            if v["state"] == "conflict":
                decision["conflicts"].append({"scope": f"recorded crime {rc['ref']}", "decision": v["decision"],
                                              "rules": v["rules_in_conflict"]})
    if decision["conflicts"]:
        decision["status"] = "conflict"
        decision["summary"] = summary_line(decision)


def _findings(book: Rulebook, incident_outcomes: Mapping[str, Outcome], allegations: Sequence[Allegation]) -> list[dict[str, Any]]:
    """The conclusions of the pipeline's finding decisions (combine: all), each with its rule."""
    names = book.pipeline.get("findings", [])
    if not names:
        return []
    out: list[dict[str, Any]] = []

    def add(outcomes: Mapping[str, Outcome], where: dict[str, Any]) -> None:
        for name in names:
            o = outcomes.get(name)
            if o is None or o.state != "value":
                continue
            pairs = o.contributions or ((o.rule, o.value, o.rows),)
            for rule, value, rows in pairs:
                ref = rule.ref() if rule is not None else None
                if ref is not None and rows:
                    ref["rows"] = [r.id for r in rows]
                out.append({**where, "decision": name, **{k: _jsonable(v) for k, v in value.items()},
                            "rules": [ref] if ref else []})

    add(incident_outcomes, {"act": None, "victim": None})
    seen: set[str] = set()
    for a in allegations:
        if a.act["id"] not in seen:
            seen.add(a.act["id"])
            add(a.act_outcomes, {"act": a.act["id"], "victim": None})
        add(a.outcomes, {"act": a.act["id"], "victim": a.victim_id})
    return out


def _attach_flags(book: Rulebook, decision: dict[str, Any], allegations: Sequence[Allegation]) -> None:
    """Give each recorded crime the crime flags (pipeline ``flags``) of the allegations it covers:
    one entry per flag and strand, with every rule that gives it."""
    names = book.pipeline.get("flags", [])
    if not names:
        return
    by_pair = {(a.act["id"], a.victim_id): a for a in allegations}
    relied: set[str] = set()
    for crime in decision["crimes"]:
        found: dict[tuple[Any, Any], dict[str, Any]] = {}
        for c in crime["covers"]:
            outcomes = by_pair[(c["act"], c["victim"])].outcomes
            for name in names:
                o = outcomes.get(name)
                for rule, value, _rows in (o.contributions if o is not None and o.state == "value" else ()):
                    entry = found.setdefault((value.get("flag"), value.get("strand")),
                                             {"flag": value.get("flag"), "strand": value.get("strand"), "rules": []})
                    if all(r["id"] != rule.id for r in entry["rules"]):
                        entry["rules"].append(rule.ref())
                    if rule.verification != "verified":
                        relied.add(rule.id)
        crime["flags"] = sorted(found.values(), key=lambda f: (str(f["flag"]), str(f["strand"] or "")))
    decision["unverified_rules"] = sorted(set(decision["unverified_rules"]) | relied)


_MATCH_ORDER = ("recorded", "absorbed", "undetermined", "not_recorded")


def _pair_status(decision: Mapping[str, Any]) -> dict[tuple[str, str | None], tuple[str, str | None]]:
    """What the rulebook decided for each (act, victim) pair: recorded as crime C, absorbed into
    crime C, not recorded, or undetermined."""
    status: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    absorbed = {(e["act"], e["victim"]): e["into"] for e in decision["absorbed"]}
    for crime in decision["crimes"]:
        for c in crime["covers"]:
            pair = (c["act"], c["victim"])
            status[pair] = ("absorbed", crime["id"]) if pair in absorbed else ("recorded", crime["id"])
    for e in decision["not_recorded"]:
        status[(e["act"], e["victim"])] = ("not_recorded", None)
    for e in decision["undetermined"]:
        status[(e["act"], e["victim"])] = ("undetermined", None)
    return status


def _match(rc: Mapping[str, Any], facts: Mapping[str, Any], decision: Mapping[str, Any],
           status: Mapping[tuple[str, str | None], tuple[str, str | None]]) -> tuple[str, str | None, list[str]]:
    """Match one crime of the force's record to what the rulebook decided: (status, crime id,
    the acts it covers). Generic: by the acts and victim it names, else by victim and
    classification, else the only crime decided."""
    acts_by_id = {a["id"]: a for a in facts["acts"]}
    victim = rc.get("victim")
    if rc.get("acts"):
        found: list[tuple[str, str | None]] = []
        for act_id in rc["acts"]:
            act = acts_by_id.get(act_id, {})
            victims = [victim] if victim is not None else (sorted(act.get("victims", [])) or [None])
            for v in victims:
                if (act_id, v) in status:
                    found.append(status[(act_id, v)])
        for kind in _MATCH_ORDER:
            hits = sorted(c or "" for k, c in found if k == kind)
            if hits:
                return kind, hits[0] or None, list(rc["acts"])
        return "unmatched", None, list(rc["acts"])
    crimes = [c for c in decision["crimes"] if victim is None or c["victim"] == victim]
    codes = {rc["classification"], rc.get("reclassified_to")}
    same = [c for c in crimes if c["classification"] and c["classification"]["code"] in codes]
    pick = same if len(same) == 1 else crimes
    if len(pick) == 1:
        return "recorded", pick[0]["id"], list(pick[0]["acts"])
    if not crimes:
        for kind, entries in (("undetermined", decision["undetermined"]), ("not_recorded", decision["not_recorded"])):
            mine = [e for e in entries if victim is None or e["victim"] == victim]
            if mine:
                return kind, None, sorted({e["act"] for e in mine})
    return "unmatched", None, []


def _judge_force_record(book: Rulebook, inc: Incident, day: dt.date, decision: Mapping[str, Any], base: Scope,
                        run_one: Any) -> dict[str, Any]:
    """Match each crime the force recorded to the rulebook's decision and give the pipeline's
    verdicts on it (re-classification, cancellation, outcome)."""
    facts = inc.facts
    record = facts["force_record"]
    status = _pair_status(decision)
    crimes_by_id = {c["id"]: c for c in decision["crimes"]}
    not_recorded = {(e["act"], e["victim"]): e for e in decision["not_recorded"]}
    act_index = {a["id"]: i for i, a in enumerate(facts["acts"])}
    victim_index = {v["id"]: i for i, v in enumerate(facts.get("victims", []))}
    verdict_names = book.pipeline.get("verdicts", [])
    entries = list(enumerate(record.get("crimes", [])))
    matches = {i: _match(rc, facts, decision, status) for i, rc in entries}
    by_crime: dict[str, list[int]] = {}
    for i, (_, crime_id, _) in matches.items():
        if crime_id is not None:
            by_crime.setdefault(crime_id, []).append(i)

    def when(i: int) -> tuple[Any, str]:
        rc = record["crimes"][i]
        at = rc.get("recorded_at")
        return (at.timestamp() if at is not None else float("inf"), str(rc["ref"]))

    out_crimes: list[dict[str, Any]] = []
    for i, rc in sorted(entries, key=lambda p: when(p[0])):
        kind, crime_id, acts = matches[i]
        crime = crimes_by_id.get(crime_id) if crime_id else None
        siblings = sorted(by_crime.get(crime_id, []), key=when) if crime_id else []
        victim_id = rc.get("victim") or (crime["victim"] if crime else None)
        decided: dict[str, Any] = {"status": kind, "crime": crime_id,
                                   "code": _decided_code(crime, rc),
                                   "other_records": [record["crimes"][j]["ref"] for j in siblings if j != i],
                                   "first_record": bool(siblings) and siblings[0] == i}
        if kind == "not_recorded":
            # The first not-recorded allegation the record covers: of its victim when it names
            # one, else of any victim of its acts.
            first = next((e for (a, v), e in sorted(not_recorded.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
                          if a in acts and (victim_id is None or v == victim_id)), None)
            if first is not None:
                decided["reason"] = first.get("reason")
                decided["record_as"] = (first.get("record_as") or {}).get("record")
        pointer = f"/force_record/crimes/{i}"
        scope = base.child("recorded", rc, pointer)
        entry = book.classification(rc["classification"], day)
        scope = scope.child("recorded_class", entry.as_fact() if entry else MISSING, f"{pointer}/classification")
        scope = scope.child("decided", decided, pointer)
        act_id = acts[0] if acts else None
        if act_id in act_index:
            scope = scope.child("act", facts["acts"][act_index[act_id]], f"/acts/{act_index[act_id]}")
        else:
            scope = scope.child("act", MISSING, f"{pointer}/acts")
        if victim_id in victim_index:
            scope = scope.child("victim", facts["victims"][victim_index[victim_id]], f"/victims/{victim_index[victim_id]}")
        else:
            scope = scope.child("victim", MISSING, f"{pointer}/victim")
        decided_entry = book.classification(decided["code"], day) if decided["code"] else None
        scope = scope.child("classification", decided_entry.as_fact() if decided_entry else MISSING, pointer)
        outcomes = run_one(scope, f"recorded crime {rc['ref']}")
        verdicts: list[dict[str, Any]] = []
        for name in verdict_names:
            o = outcomes.get(name)
            if o is None or o.state == "absent":
                continue
            v: dict[str, Any] = {"decision": name, "state": o.state}
            if o.state == "value":
                v.update({k: _jsonable(x) for k, x in o.value.items()})
                v["rules"] = _refs(o)
            elif o.state == "undetermined":
                v["facts_needed"] = _facts_needed(o.missing, facts)
                v["open_rules"] = list(o.blocking)
            else:
                v["rules_in_conflict"] = list(o.conflict)
            verdicts.append(v)
        out_crimes.append({"ref": rc["ref"], "classification": rc["classification"],
                           "match": {"crime": crime_id, "status": kind, "acts": acts}, "verdicts": verdicts})
    unmatched = [c["id"] for c in decision["crimes"] if c["id"] not in by_crime]
    return {"crimes": out_crimes, "decided_crimes_not_in_record": unmatched,
            "incident_records": [_jsonable(r) for r in record.get("incident_records", [])]}


def _decided_code(crime: Mapping[str, Any] | None, rc: Mapping[str, Any]) -> str | None:
    """The classification the rules give the crime a force record stands for. For a provisional
    crime, a record under a class that an answer to a presumed fact would give is taken as that
    answer (the force may know the fact): its class is the one decided."""
    if not crime or not crime["classification"]:
        return None
    code: str = crime["classification"]["code"]
    answers = {r["classification"]["code"] for r in crime.get("reclassify_if", [])}
    recorded = rc.get("reclassified_to") or rc["classification"]
    return str(recorded) if recorded in answers else code


def _codes_for_offence(book: Rulebook, statute: str, section: str, day: dt.date) -> tuple[str, ...]:
    """``book.codes_for_offence`` from an index of the offences built once per rulebook (the
    same answer, without reading every classification on every call)."""
    index: dict[Any, Any] | None = book.__dict__.get("_hocr_offence_index")
    if index is None:
        index = {}
        for code, entries in book.classifications.items():
            for c in entries:
                for o in c.offence_entries:
                    index.setdefault(o.key(), []).append((code, c, o))
        book.__dict__["_hocr_offence_index"] = index
    key = (offence_key(statute, section), day)
    found: tuple[str, ...] | None = index.get(key)
    if found is None:
        found = tuple(sorted({code for code, c, o in index.get(key[0], ()) if c.in_force(day) and o.in_force(day)}))
        if len(index) < 200_000:  # bounded: keyed by offence and day
            index[key] = found
    return found


def _check_codes(book: Rulebook, facts: Mapping[str, Any], day: dt.date) -> None:
    problems = []
    for i, act in enumerate(facts["acts"]):
        offence = act.get("offence")
        if offence is not None and "classification" not in act and not _codes_for_offence(book, offence["statute"], offence["section"], day):
            problems.append(InputProblem(
                f"/acts/{i}/offence",
                f"no classification in force on {day} covers the offence given (its statute and section); "
                "name the classification instead (the offences each covers are in docs/rulebook.md)",
            ))
        code = act.get("classification")
        if code is None:
            continue
        entries = book.classifications.get(code)
        if not entries:
            problems.append(InputProblem(f"/acts/{i}/classification", f"unknown classification {_incident.quoted(code)}: no such code in the rulebook (the codes are listed in docs/rulebook.md)"))
        elif book.classification(code, day) is None:
            spans = ", ".join(f"{c.in_force_from} to {c.in_force_to or 'now'}" for c in entries)
            problems.append(InputProblem(f"/acts/{i}/classification", f"classification {_incident.quoted(code)} is not in force on {day} (in force {spans})"))
    if problems:
        raise InvalidIncident(problems)


def _classification_root(book: Rulebook, outcome: Outcome, day: dt.date, act: Any = None) -> Any:
    if outcome.state != "value":
        return outcome.as_root()
    value = dict(outcome.value)
    code = value.get("code")
    if code is None:
        return {**value, "code": None, "notifiable": False}
    entry = book.classification(code, day)
    if entry is None:
        raise EvaluationError(f"rule {outcome.rule.id if outcome.rule else '?'} gave classification {code!r}, which is not in force on {day}")
    fact = {**entry.as_fact(), **value, "notifiable": True}
    offence = act.get("offence") if isinstance(act, Mapping) else None
    if offence is not None:
        # Annex C ranks offences: an act naming one of the classification's offences that has its
        # own maximum ranks by that maximum.
        months = entry.offence_maxima.get(offence_key(offence["statute"], offence["section"]))
        if months is not None:
            fact["max_sentence_months"] = months
            fact["ranked_by_offence"] = f"{offence['statute']} s{offence['section']}"
    return fact


# --------------------------------------------------------------------------------------------
# Assembling the decision
# --------------------------------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def code_order(code: str) -> tuple[Any, ...]:
    """Classification codes in their natural order: 5D before 34B, 8N before 105A, 4/1 before 4/10."""
    parts = []
    for piece in re.findall(r"\d+|\D+", code):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


def _principal_sort(book: Rulebook) -> Any:
    order = book.principal["order_by"]

    def value(a: Allegation, name: str) -> Any:
        v = a.classification.get(name)
        return code_order(v) if name == "code" else v

    def compare(a: Allegation, b: Allegation) -> int:
        for spec in order:
            x, y = value(a, spec["field"]), value(b, spec["field"])
            if x != y:
                less = x < y
                if spec["direction"] == "desc":
                    less = not less
                return -1 if less else 1
        return (a.act["id"], a.victim_id or "") < (b.act["id"], b.victim_id or "") and -1 or 1

    return functools.cmp_to_key(compare)


def _refs(*outcomes: Outcome | None) -> list[dict[str, Any]]:
    refs = []
    seen = set()
    for o in outcomes:
        if o is not None and o.rule is not None and o.rule.id not in seen:
            seen.add(o.rule.id)
            ref = o.rule.ref()
            if o.rows:
                ref["rows"] = [r.id for r in o.rows]
            refs.append(ref)
    return refs


def _class_ref(c: Any) -> dict[str, Any] | None:
    if isinstance(c, Mapping) and c.get("code"):
        return {"code": c["code"], "name": c["name"], "category": c["category"]}
    return None


def _victim_kind(a: Allegation) -> str:
    if a.victim is not None:
        return str(a.victim["kind"])
    if isinstance(a.classification, Mapping) and a.classification.get("victim_based") is False:
        return "state"
    return "unidentified"


def _facts_needed(missing: Missing, facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in sorted(missing):
        kind, idx, field, question = _pointer_parts(p)
        entity = "incident"
        if kind is not None:
            items = facts.get(kind, [])
            entity = f"{kind[:-1]} {items[idx]['id']}" if idx < len(items) else ""
        out.append({"pointer": p, "entity": entity, "field": field, "question": question})
    return out


@functools.lru_cache(maxsize=4096)
def _pointer_parts(pointer: str) -> tuple[str | None, int, str, str]:
    """What a missing fact's pointer says, whatever the incident: the list it is in (acts,
    victims, suspects; None for the incident's own facts) and the index in it, the field under
    that, and the schema's question for it. Kept per pointer: the schema's text, not a decision."""
    parts = [x for x in pointer.split("/") if x]
    if len(parts) >= 2 and parts[0] in ("acts", "victims", "suspects") and parts[1].isdigit():
        return parts[0], int(parts[1]), "/".join(parts[2:]), question_for(pointer)
    return None, 0, "/".join(parts), question_for(pointer)


def _assemble(
    book: Rulebook,
    inc: Incident,
    day: dt.date,
    incident_outcomes: Mapping[str, Outcome],
    allegations: list[Allegation],
    decision_trace: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The decision (schemas/decision.schema.json) from the outcomes of every scope."""
    sorted_out = _Sorted(book, inc.facts)
    sorted_out.add_conflicts("incident", incident_outcomes)
    seen_acts: set[str] = set()
    for a in allegations:
        if a.act["id"] not in seen_acts:
            seen_acts.add(a.act["id"])
            sorted_out.add_conflicts(f"act {a.act['id']}", a.act_outcomes)
        sorted_out.add_conflicts(f"act {a.act['id']}, victim {a.victim_id}", a.outcomes)
        sorted_out.add(a)
    crimes, absorbed = _crimes(book, sorted_out.groups)
    deadline = _deadline(book, inc, incident_outcomes, bool(crimes or sorted_out.undetermined))
    conflicts = sorted_out.conflicts
    status = "conflict" if conflicts else ("undetermined" if sorted_out.undetermined else "decided")
    decision: dict[str, Any] = {
        "format": DECISION_FORMAT,
        "incident": inc.id,
        "status": status,
        "as_of": day.isoformat(),
        "rulebook": book.info(),
        "summary": "",
        "crime_count": len(crimes),
        "crimes": crimes,
        "absorbed": absorbed,
        "not_recorded": sorted_out.not_recorded,
        "undetermined": sorted_out.undetermined,
        "deadline": deadline,
        "conflicts": conflicts,
        "warnings": list(inc.warnings),
        "unverified_rules": sorted(_unverified(crimes, sorted_out.not_recorded, deadline)),
    }
    decision["summary"] = summary_line(decision)
    if decision_trace is not None:
        decision["trace"] = decision_trace
    return decision


class _Sorted:
    """The allegations sorted by what the recording decision gave: conflicts, undetermined,
    not recorded, and the recorded ones grouped by their counting key."""

    def __init__(self, book: Rulebook, facts: Mapping[str, Any]):
        self.pipeline = book.pipeline
        self.facts = facts
        self.conflicts: list[dict[str, Any]] = []
        self.undetermined: list[dict[str, Any]] = []
        self.not_recorded: list[dict[str, Any]] = []
        self.groups: dict[Any, list[Allegation]] = {}

    def add_conflicts(self, label: str, outcomes: Mapping[str, Outcome]) -> None:
        for o in outcomes.values():
            if o.state == "conflict":
                self.conflicts.append({"scope": label, "decision": o.decision.name, "rules": list(o.conflict)})

    def add(self, a: Allegation) -> None:
        pipeline = self.pipeline
        rec = a.outcomes[pipeline["recording"]]
        where = {"act": a.act["id"], "victim": a.victim_id}
        if rec.state == "conflict":
            return  # reported under "conflicts"
        if rec.state == "undetermined":
            self.undetermined.append(self.open_entry(a, rec, where))
        elif rec.state == "absent":
            self.undetermined.append({**where, "decision": rec.decision.name, "facts_needed": [],
                                      "open_rules": ["(no rule applies)"]})
        elif rec.value.get("outcome") == "record":
            key_outcome = a.outcomes[pipeline["count_key"]]
            if key_outcome.state != "value":
                self.undetermined.append({**where, "decision": key_outcome.decision.name,
                                          "facts_needed": _facts_needed(key_outcome.missing, self.facts),
                                          "open_rules": list(key_outcome.blocking)})
            else:
                self.groups.setdefault(_freeze(key_outcome.value["key"]), []).append(a)
        else:
            self.not_recorded.append(self.not_recorded_entry(a, rec, where))

    def open_entry(self, a: Allegation, rec: Outcome, where: dict[str, Any]) -> dict[str, Any]:
        cls = a.act_outcomes.get(self.pipeline["classification"])
        first = cls if cls is not None and cls.state == "undetermined" else rec
        # Ask first for what the earliest open decision needs: an act that cannot be classified
        # needs its classification facts before anything else can be asked.
        entry: dict[str, Any] = {**where, "decision": first.decision.name,
                                 "facts_needed": _facts_needed(first.missing, self.facts),
                                 "open_rules": list(first.blocking)}
        meanwhile = self.instead(a)
        if meanwhile is not None and meanwhile.state == "value":
            # What stays on record while the recording decision is open (for example N100).
            entry["record_as"] = _jsonable(meanwhile.value)
            entry["rules"] = _refs(meanwhile)
        return entry

    def not_recorded_entry(self, a: Allegation, rec: Outcome, where: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {**where, "classification": _class_ref(a.classification),
                                 "reason": rec.value.get("reason")}
        for k, v in rec.value.items():
            if k not in ("outcome", "reason"):
                entry[k] = _jsonable(v)
        instead = self.instead(a)
        if instead is not None and instead.state == "value":
            entry["record_as"] = _jsonable(instead.value)
        entry["rules"] = _refs(rec, instead)
        return entry

    def instead(self, a: Allegation) -> Outcome | None:
        name = self.pipeline.get("not_recorded_as")
        return a.outcomes.get(name) if name else None


def _principal_ref(book: Rulebook) -> dict[str, Any]:
    """The reference of the principal-crime rule: a new dict each call (a decision's own), copied
    from the one built once per rulebook."""
    return dict(_principal(book)[0])


def _principal(book: Rulebook) -> tuple[dict[str, Any], Any]:
    """The principal-crime rule's reference and its sort key over allegations, built the first
    time and kept beside the rulebook's other cached properties (neither depends on the facts)."""
    found: tuple[dict[str, Any], Any] | None = book.__dict__.get("_hocr_principal")
    if found is None:
        principal = book.principal
        ref = {
            "id": "pipeline.principal",
            "title": "Principal crime: the most serious offence of a counted group",
            "citation": citation(as_sources(principal["source"])),
            "verification": principal["verification"],
        }
        found = book.__dict__["_hocr_principal"] = (ref, _principal_sort(book))
    return found


def _crimes(book: Rulebook, groups: Mapping[Any, list[Allegation]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each counting group as one crime, classified as its principal allegation; the others of
    the group absorbed into it."""
    pipeline = book.pipeline
    rank = _principal(book)[1]
    principal_ref = _principal_ref(book)
    crimes: list[dict[str, Any]] = []
    absorbed: list[dict[str, Any]] = []
    ordered = list(groups.items())
    if len(ordered) > 1:  # one group needs no order (nor the repr of its key)
        ordered.sort(key=lambda kv: (min(a.act["id"] for a in kv[1]), kv[1][0].victim_id or "", repr(kv[0])))
    for n, (_key, members) in enumerate(ordered, start=1):
        members = sorted(members, key=rank)
        head = members[0]
        crime_id = f"C{n}"
        crime: dict[str, Any] = {
            "id": crime_id,
            "classification": _class_ref(head.classification),
            "victim": head.victim_id,
            "victim_kind": _victim_kind(head),
            "suspects": sorted({s for m in members for s in m.act.get("suspects", [])}),
            "acts": sorted({m.act["id"] for m in members}),
            "covers": [{"act": m.act["id"], "victim": m.victim_id} for m in sorted(members, key=lambda m: (m.act["id"], m.victim_id or ""))],
            "rules": _refs(head.act_outcomes.get(pipeline["classification"]), head.outcomes[pipeline["recording"]],
                           head.outcomes[pipeline["count_key"]]),
        }
        merged = [_absorbed_entry(m, head, crime_id, pipeline, principal_ref) for m in members[1:]]
        absorbed.extend(merged)
        if any(not e["why"].startswith("same") for e in merged):
            crime["rules"].append(principal_ref)
        crimes.append(crime)
    return crimes, absorbed


def _absorbed_entry(m: Allegation, head: Allegation, crime_id: str, pipeline: Mapping[str, Any],
                    principal_ref: dict[str, Any]) -> dict[str, Any]:
    same = m.classification["code"] == head.classification["code"]
    return {"act": m.act["id"], "victim": m.victim_id, "classification": _class_ref(m.classification),
            "into": crime_id,
            "why": ("same offence in the same counting group" if same else
                    f"{head.classification['code']} ranks above {m.classification['code']} as the principal crime"),
            "rules": _refs(m.outcomes[pipeline["count_key"]]) + ([] if same else [principal_ref])}


def _unverified(crimes: list[dict[str, Any]], not_recorded: list[dict[str, Any]], deadline: Any) -> set[str]:
    refs = [r for c in crimes for r in c["rules"]] + [r for n in not_recorded for r in n["rules"]]
    if deadline:
        refs += deadline.get("rules", [])
    return {r["id"] for r in refs if r["verification"] != "verified"}


def _deadline(book: Rulebook, inc: Incident, outcomes: Mapping[str, Outcome], relevant: bool) -> dict[str, Any] | None:
    name = book.pipeline.get("deadline")
    if not name or not relevant:
        return None
    o = outcomes[name]
    facts = inc.facts
    out: dict[str, Any] = {"received_at": _jsonable(facts["report"]["received_at"])}
    if o.state != "value":
        out.update({"due": None, "state": o.state, "facts_needed": _facts_needed(o.missing, facts)})
        return out
    due = o.value["due"]
    out["due"] = _jsonable(due)
    if "limit" in o.value:
        out["limit_hours"] = o.value["limit"].total_seconds() / 3600
    recorded = facts.get("recorded_at")
    timeliness = outcomes.get(book.pipeline.get("timeliness", ""), None)
    if recorded is not None:
        out["recorded_at"] = _jsonable(recorded)
        out["hours_to_record"] = round((recorded - facts["report"]["received_at"]).total_seconds() / 3600, 2)
        if timeliness is not None and timeliness.state == "value":
            out["met"] = bool(timeliness.value["met"])
        else:
            out["met"] = None
    else:
        out["recorded_at"] = None
        out["met"] = None
    out["rules"] = _refs(o, timeliness if recorded is not None else None)
    return out


def summary_line(d: Mapping[str, Any]) -> str:
    n = d["crime_count"]
    if d["status"] == "conflict":
        return "Conflict in the rulebook: two rules apply with no override between them."
    parts = []
    if n:
        names = ", ".join(
            f"{c['classification']['code']} {c['classification']['name']} ({'victim ' + c['victim'] if c['victim'] else c['victim_kind']})"
            for c in d["crimes"]
        )
        parts.append(f"Record {n} crime{'s' if n != 1 else ''}: {names}.")
    for nr in d["not_recorded"]:
        what = nr.get("record_as", {}).get("record") if isinstance(nr.get("record_as"), dict) else None
        parts.append(f"Act {nr['act']}{' / ' + nr['victim'] if nr['victim'] else ''}: not recorded as a crime ({nr['reason']})" + (f"; record as {what}" if what else "") + ".")
    if d["undetermined"]:
        parts.append(f"{len(d['undetermined'])} allegation(s) undetermined: facts needed.")
    if d.get("deadline") and d["deadline"].get("met") is False:
        parts.append("Recorded late.")
    return " ".join(parts) or "Nothing to record."


class _JsonTracer(Tracer):
    """A tracer recording each leaf as the trace's JSON of it (``_leaf_dict``). A replayed leaf
    is a copy, so that no two rules' entries share a dict (nor a list or dict inside one)."""

    __slots__ = ("nested",)

    def __init__(self) -> None:
        super().__init__()
        # The ids of leaves holding a list or dict, whose copies copy those too. (A leaf the memo
        # does not hold may leave its id to a later one: that one is then copied in depth too,
        # which gives the same copy.)
        self.nested: set[int] = set()

    def leaf(self, left: str, op: str, operand: Any, actual: Any, truth: Truth) -> None:
        made = _leaf_dict(left, op, operand, actual, truth)
        expected, seen = type(made.get("expected")), type(made["actual"])
        if expected is list or expected is dict or seen is list or seen is dict:
            self.nested.add(id(made))
        self.leaves.append(made)

    def replay(self, leaves: tuple[Any, ...]) -> None:
        nested = self.nested
        append = self.leaves.append
        for made in leaves:
            append(_deep_copy(made) if id(made) in nested else made.copy())


def _is_container(value: Any) -> bool:
    return type(value) is list or type(value) is dict


def _deep_copy(made: dict[str, Any]) -> dict[str, Any]:
    """A copy of a leaf's JSON with new lists and dicts for its expected and actual values."""
    copy = made.copy()
    for key in ("expected", "actual"):
        if _is_container(copy.get(key)):
            copy[key] = _jsonable(copy[key])
    return copy


_TRUTH = {True: True, False: False, None: None}


def _leaf_dict(left: str, op: str, operand: Any, actual: Any, tv: Truth) -> dict[str, Any]:
    """The trace's JSON of one leaf (``conditions.Leaf``)."""
    kind = type(actual)
    # `exists` gives a definite answer about a missing fact: the absence itself is known.
    if kind is str or kind is bool or kind is int or kind is float or actual is None:
        seen, known = actual, True
    elif actual is MISSING or actual is UNDETERMINED:
        seen, known = None, op == "exists" and tv is not None
    else:
        seen, known = _jsonable(actual), True
    if op == "input":
        return {"fact": left, "op": "input", "input": operand, "actual": seen, "known": known}
    kind = type(operand)
    expected = operand if kind is str or kind is bool or kind is int or kind is float else _jsonable(operand)
    return {"fact": left, "op": op, "expected": expected, "actual": seen, "known": known, "result": _TRUTH[tv]}


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float or value is None:
        return value
    if kind is dict:
        return {str(k): _jsonable(v) for k, v in value.items()}
    if kind is list:
        return [_jsonable(v) for v in value]
    if kind is dt.datetime:
        return value.astimezone(LONDON).isoformat()
    return _jsonable_other(value)


def _jsonable_other(value: Any) -> Any:
    """:func:`_jsonable` of anything but a plain str, number, bool, None, dict or list."""
    if isinstance(value, (str, int, float, bool)):
        return value
    if is_absent(value):
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(LONDON).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return str(value)


def _duration_text(td: dt.timedelta) -> str:
    total = int(td.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    if hours or minutes or not days:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes or not hours:
            out += f"{minutes}M"
    return out
