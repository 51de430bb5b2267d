"""Explanation: a decision as text for people; the decision explained step by step, in the order
a crime registrar reasons; the trace as a readable story; and what would change the result.

``explanation(book, decision, trace)`` walks the decision in seven steps (``STEPS``): the report
and who made it, the victim's confirmation and any evidence to the contrary, where it happened
and who records it, the classification, the count, the deadline, and what was presumed. Each
step gives the facts its rules read and the rules that decided it, with their citations and
verification. Only rules that applied are named; the others stay in the trace
(``render_trace``). ``render_explanation`` is its text (docs/explain.md).

"What would change this" gives each presumed fact's other answers; then, given the incident,
the ways to the other recording outcome that ``hocr.whynot`` finds and confirms by deciding
again; without the incident, read from the trace only, the rules that did not apply but would
have given a different result, with the test that stopped each.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .incident import LONDON, Incident
from .loader import Rulebook

MARK = {"applied": "+", "not_applied": "-", "unknown": "?", "overridden": "^"}
FORMAT = "hocr.explanation.v1"
STEPS: tuple[tuple[str, str], ...] = (
    ("report", "Is there a report of a crime in law, and who reported it?"),
    ("confirmation", "The victim's confirmation, and any credible evidence to the contrary"),
    ("location", "Where it happened, and who records it"),
    ("classification", "Which classification, and why"),
    ("counting", "How many crimes, and what absorbed what"),
    ("deadline", "By when, and whether that was met"),
    ("presumptions", "Presumptions used, and what is provisional"),
)
# A recording rule is told in the location step when it reads where the act happened or who else
# deals with it, and in the report step when it reads whether the act is a crime in law at all
# (incident-schema fields and decision outputs, not offence knowledge).
_LOCATION_FACTS = ("act.location.", "report.received_by_force", "act.other_authority", "act.school")
_CRIME_IN_LAW_FACTS = ("classification.not_crime",)


def _when(text: str | None) -> str:
    if not text:
        return "-"
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        return text
    return value.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def _victim(entry: Mapping[str, Any]) -> str:
    return f"victim {entry['victim']}" if entry.get("victim") else "no identified victim"


def _answer_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "given" if value else "none"
    if isinstance(value, Mapping):
        return "given"
    return "not given" if value is None else str(value)


# --------------------------------------------------------------------------------------------
# The decision as text (hocr check)
# --------------------------------------------------------------------------------------------


def render_text(decision: Mapping[str, Any], explain: bool = False, book: Rulebook | None = None,
                show_trace: bool = False, incident: Mapping[str, Any] | Incident | None = None) -> str:
    """The decision for people. With ``explain`` (given the rulebook and a traced decision), the
    step-by-step explanation instead (``render_explanation``); with ``show_trace``, the trace
    follows."""
    if explain and book is not None and "trace" in decision:
        text = render_explanation(explanation(book, decision, decision["trace"], incident))
    else:
        text = "\n".join(decision_lines(decision)) + "\n"
    if show_trace and "trace" in decision:
        text += "\n" + "\n".join(render_trace(decision["trace"])) + "\n"
    return text


def decision_lines(decision: Mapping[str, Any]) -> list[str]:
    """The decision, section by section (the text of ``hocr check``)."""
    rb = decision["rulebook"]
    lines = [f"Incident {decision['incident']}: {decision['status'].upper()}",
             f"  rules in force on {decision['as_of']}; {rb['edition']} ({rb['hash'][:19]})", "", decision["summary"]]
    for section in (_crime_section, _absorbed_section, _not_recorded_section, _undetermined_section,
                    _presumed_section, _deadline_section, _findings_section, _force_record_section,
                    _conflict_section, _warning_section, _unverified_section):
        part = section(decision)
        if part:
            lines += [""] + part
    return lines


def _because(rules: Iterable[Mapping[str, Any]]) -> list[str]:
    out = []
    for r in rules:
        out.append(f"      because {r['id']}: {r['title']} [{r['verification']}]")
        out.append(f"              {r['citation']}")
    return out


def _crime_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision["crimes"]:
        return []
    lines = ["Crimes to record"]
    for c in decision["crimes"]:
        cls = c["classification"]
        who = f"victim {c['victim']} ({c['victim_kind']})" if c["victim"] else c["victim_kind"]
        suspects = ", ".join(c["suspects"]) or "none identified"
        lines.append(f"  {c['id']}  {cls['code']} {cls['name']} [{cls['category']}]")
        lines.append(f"      {who}; acts {', '.join(c['acts'])}; suspects {suspects}")
        lines += _because(c["rules"]) + _flag_lines(c) + _provisional(c)
    return lines


def _flag_lines(crime: Mapping[str, Any]) -> list[str]:
    """The crime's Home Office crime flags, each with the rules that give it."""
    if "flags" not in crime:
        return []
    if not crime["flags"]:
        return ["      flags: none on the facts given"]
    out = []
    for f in crime["flags"]:
        out.append(f"      flag {f['flag']}" + (f" ({f['strand']})" if f.get("strand") else ""))
        out.extend("  " + line for line in _because(f["rules"]))
    return out


def _provisional(crime: Mapping[str, Any]) -> list[str]:
    """A provisional crime's re-classification questions: '(field): (answer) gives (code)'."""
    if not crime.get("provisional"):
        return []
    out = ["      PROVISIONAL classification: re-classify when known"]
    for r in crime["reclassify_if"]:
        cls = r["classification"]
        out.append(f"        {r['field']} ({r['entity']}): {_answer_text(r['answer'])} gives {cls['code']} {cls['name']}")
    return out


def _absorbed_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision["absorbed"]:
        return []
    lines = ["Counted within another crime"]
    for a in decision["absorbed"]:
        code = a["classification"]["code"] if a["classification"] else "-"
        lines.append(f"  act {a['act']} ({code}, {_victim(a)}) -> {a['into']}: {a['why']}")
    return lines


def _not_recorded_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision["not_recorded"]:
        return []
    lines = ["Not recorded as a crime"]
    for n in decision["not_recorded"]:
        code = f"{n['classification']['code']} " if n.get("classification") else ""
        lines.append(f"  act {n['act']} ({code}{_victim(n)}): {n['reason']}")
        if n.get("record_as"):
            lines.append(f"      record as: {n['record_as']['record']}")
        if n.get("refer_to"):
            lines.append(f"      refer to: {n['refer_to']}")
        lines += _because(n["rules"])
    return lines


def _undetermined_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision["undetermined"]:
        return []
    lines = ["Undetermined: facts needed"]
    for u in decision["undetermined"]:
        lines.append(f"  act {u['act']}, {_victim(u)} ({u['decision']}; open rules: {', '.join(u['open_rules'])})")
        if u.get("record_as"):
            lines.append(f"    meanwhile record as: {u['record_as']['record']} ({u['record_as'].get('because', '')})")
        for f in u["facts_needed"]:
            question = f" {f['question']}" if f["question"] else ""
            lines.append(f"    - {f['pointer']} ({f['entity']}):{question}")
    return lines


def _presumed_section(decision: Mapping[str, Any]) -> list[str]:
    """The presumptions the decision rests on, each with what the other answers would give."""
    presumptions = decision.get("presumptions", [])
    if not presumptions:
        return []
    out = ["Presumed (the report does not say)"]
    for p in presumptions:
        out.append(f"  {p['field']} ({p['entity']}) = {_answer_text(p['value'])}: {p['id']} [{p['verification']}]")
        out.append(f"      {p['citation']}")
        for alt in p["alternatives"]:
            out.append(f"      if {_answer_text(alt['value'])}: {alt['summary']}")
    return out


def _deadline_lines(d: Mapping[str, Any]) -> list[str]:
    if d.get("due"):
        limit = f"{d['limit_hours']:g} hours" if "limit_hours" in d else "the limit"
        lines = [f"Deadline: record by {_when(d['due'])} ({limit} after the report at {_when(d['received_at'])})"]
    else:
        lines = ["Deadline: undetermined"]
    if d.get("recorded_at"):
        verdict = {True: "in time", False: "LATE", None: "timeliness undetermined"}[d.get("met")]
        lines.append(f"  recorded {_when(d['recorded_at'])}, {d.get('hours_to_record')} hours after the report: {verdict}")
    return lines


def _deadline_section(decision: Mapping[str, Any]) -> list[str]:
    d = decision.get("deadline")
    return _deadline_lines(d) if d else []


def _findings_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision.get("findings"):
        return []
    lines = ["Findings about the input"]
    for f in decision["findings"]:
        lines.append(f"  {_finding_text(f)}")
        lines += _because(f["rules"])
    return lines


def _finding_text(f: Mapping[str, Any]) -> str:
    where = f"act {f['act']}" + (f", victim {f['victim']}" if f.get("victim") else "") if f.get("act") else "incident"
    suggested = f" (the facts point to {f['suggested']})" if f.get("suggested") else ""
    return f"{where}: {f.get('message', f.get('finding', ''))}{suggested}"


def _force_record_section(decision: Mapping[str, Any]) -> list[str]:
    record = decision.get("force_record")
    if not record:
        return []
    lines = ["The force's record"]
    for rc in record["crimes"]:
        lines.append(_record_match_text(rc))
        for v in rc["verdicts"]:
            lines.append("      " + _verdict_text(v))
            if v["state"] == "value":
                lines.extend("  " + x for x in _because(v.get("rules", [])))
    if record["decided_crimes_not_in_record"]:
        lines.append(f"  not in the force's record: {', '.join(record['decided_crimes_not_in_record'])}")
    return lines


def _record_match_text(rc: Mapping[str, Any]) -> str:
    m = rc["match"]
    target = f" {m['crime']}" if m["crime"] else ""
    return f"  {rc['ref']} ({rc['classification']}): {m['status'].replace('_', ' ')}{target}"


def _verdict_text(v: Mapping[str, Any]) -> str:
    """One verdict on a crime of the force's record, in one line."""
    if v["state"] == "value":
        detail = v.get("verdict", "") + (f" to {v['to']}" if v.get("to") else "")
        reason = f": {v['reason']}" if v.get("reason") else ""
        return f"{v['decision']}: {detail}{reason}"
    if v["state"] == "undetermined":
        needed = ", ".join(f["pointer"] for f in v.get("facts_needed", [])) or "no rule applies"
        return f"{v['decision']}: undetermined (facts needed: {needed})"
    return f"{v['decision']}: conflict between {', '.join(v.get('rules_in_conflict', []))}"


def _conflict_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision["conflicts"]:
        return []
    return ["Conflicts in the rulebook (report them to the rulebook's maintainers)"] + [
        f"  {c['scope']}, {c['decision']}: {', '.join(c['rules'])} all apply with no override between them"
        for c in decision["conflicts"]]


def _warning_section(decision: Mapping[str, Any]) -> list[str]:
    return ["Warnings"] + [f"  {w}" for w in decision["warnings"]] if decision["warnings"] else []


def _unverified_section(decision: Mapping[str, Any]) -> list[str]:
    if not decision["unverified_rules"]:
        return []
    return ["Relies on rules not yet verified against the rulebook text: " + ", ".join(decision["unverified_rules"])]


# --------------------------------------------------------------------------------------------
# The trace as text (hocr check --trace)
# --------------------------------------------------------------------------------------------


def _fact_text(f: Mapping[str, Any]) -> str:
    if f["op"] == "input":
        actual = f["actual"] if f["known"] else "unknown"
        return f"{f['fact']} = {actual!r} (table input {f.get('input')})"
    if f["op"] in ("some", "every"):
        verdict = {True: "yes", False: "no", None: "unknown"}[f.get("result")]
        return f"{f['op']} item of {f['fact']} ({f['actual']} item(s)) passes? {verdict}"
    actual = repr(f["actual"]) if f["known"] else "unknown"
    verdict = {True: "yes", False: "no", None: "unknown"}[f.get("result")]
    return f"{f['fact']} {f['op']} {f.get('expected')!r}? {verdict} (is {actual})"


def render_trace(trace: Sequence[Mapping[str, Any]]) -> list[str]:
    """The trace: for each decision, each rule considered, with the facts it read."""
    lines = ["Trace (+ applied, ^ overridden, - did not apply, ? unknown)"]
    for node in trace:
        value = node.get("value")
        lines.append(f"  [{node['scope']}] {node['decision']}: {node['state']}" + (f" -> {value}" if value is not None else ""))
        for r in node.get("rules", []):
            extra = ""
            if r.get("overridden_by"):
                extra = f" (overridden by {', '.join(r['overridden_by'])})"
            if r.get("matched_rows"):
                extra += f" rows {', '.join(r['matched_rows'])}"
            lines.append(f"    {MARK[r['result']]} {r['rule']}: {r['title']}{extra}")
            lines.append(f"        {r['citation']} [{r['verification']}]")
            for f in r["facts"]:
                lines.append(f"        . {_fact_text(f)}")
    return lines


# --------------------------------------------------------------------------------------------
# Where a fact of the rules is in the incident
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Locator:
    """Turns a fact as the rules name it (``victim.confirms_crime``), read in a trace scope
    (``act A1, victim V1``), into a JSON pointer into the incident (``/victims/0/confirms_crime``).
    Without the incident, acts and victims cannot be placed: their facts keep the rules' name."""

    acts: Mapping[str, int] = field(default_factory=dict)
    victims: Mapping[str, int] = field(default_factory=dict)
    act_victims: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, incident: Mapping[str, Any] | Incident | None) -> Locator:
        raw = incident.raw if isinstance(incident, Incident) else incident
        if not isinstance(raw, Mapping):
            return cls()
        acts = [a for a in raw.get("acts", []) if isinstance(a, Mapping)]
        return cls(
            acts={str(a.get("id")): i for i, a in enumerate(acts)},
            victims={str(v.get("id")): i for i, v in enumerate(raw.get("victims", [])) if isinstance(v, Mapping)},
            act_victims={str(a.get("id")): str(a["victims"][0]) for a in acts if len(a.get("victims", [])) == 1},
        )

    def pointer(self, scope: str, fact: str) -> str | None:
        """The JSON pointer of ``fact`` read in ``scope``, or None when it is not a fact of the
        incident (a decision's output, the classification's catalogue entry) or cannot be placed."""
        root, _, rest = fact.partition(".")
        act, victim = scope_ids(scope)
        tail = "/" + rest.replace(".", "/") if rest else ""
        if root == "report":
            return "/report" + tail
        if root == "incident":
            return tail or None
        if root == "act" and act is not None and act in self.acts:
            return f"/acts/{self.acts[act]}{tail}"
        if root == "act_victim" and act is not None:
            victim = self.act_victims.get(act)
            root = "victim"
        if root == "victim" and victim is not None and victim in self.victims:
            return f"/victims/{self.victims[victim]}{tail}"
        return None

    def name(self, scope: str, fact: str) -> str:
        """The pointer where there is one, else the fact as the rules name it."""
        return self.pointer(scope, fact) or fact


def scope_ids(scope: str) -> tuple[str | None, str | None]:
    """The act and victim ids of a trace scope (``act A1, victim V1``; docs/decision.md)."""
    act = victim = None
    for part in scope.split(", "):
        kind, _, ident = part.partition(" ")
        if kind == "act":
            act = ident
        elif kind == "victim":
            victim = ident
    return act, victim


# --------------------------------------------------------------------------------------------
# The explanation: the decision in the registrar's order (hocr check --explain)
# --------------------------------------------------------------------------------------------


@dataclass
class _Step:
    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # pointer -> value, in the order read
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> rule reference

    def rule(self, ref: Mapping[str, Any]) -> str:
        rid = str(ref.get("id", ref.get("rule")))
        self.rules.setdefault(rid, {"id": rid, "title": ref["title"], "citation": ref["citation"],
                                    "verification": ref["verification"]})
        return rid

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "lines": self.lines,
                "facts": [{"pointer": p, "value": v} for p, v in self.facts.items()],
                "rules": list(self.rules.values())}


@dataclass
class _Context:
    book: Rulebook
    decision: Mapping[str, Any]
    locate: Locator
    steps: dict[str, _Step]
    step_of: Mapping[str, str]
    recording_step: dict[str, str] = field(default_factory=dict)  # scope -> step of its recording rule
    placed: set[str] = field(default_factory=set)  # acts whose location has been told


def explanation(book: Rulebook, decision: Mapping[str, Any], trace: Sequence[Mapping[str, Any]] | None,
                incident: Mapping[str, Any] | Incident | None = None) -> dict[str, Any]:
    """The decision explained in the order a registrar reasons (``STEPS``), each step with the
    facts its rules read and the rules that applied; and what would change it.

    ``trace`` is the decision's trace (``evaluate(..., trace=True)``); without it the steps come
    from the rules the decision names, without the facts they read. ``incident`` places the facts
    as JSON pointers; without it, facts of acts and victims keep the rules' names."""
    ctx = _Context(book, decision, Locator.of(incident), {k: _Step(k, t) for k, t in STEPS}, _step_of_decision(book))
    if trace is not None:
        for node in trace:
            _explain_node(ctx, node)
    else:
        _steps_from_decision(ctx)
    _counting_step(ctx)
    _deadline_step(ctx)
    _presumption_step(ctx)
    return {
        "format": FORMAT,
        "incident": decision["incident"],
        "status": decision["status"],
        "as_of": decision["as_of"],
        "edition": decision["rulebook"]["edition"],
        "summary": decision["summary"],
        "steps": [s.as_json() for s in ctx.steps.values() if s.lines],
        "would_change": would_change(book, decision, trace, ctx.locate, incident),
        "notes": _notes(decision),
    }


def _step_of_decision(book: Rulebook) -> dict[str, str]:
    """Which step tells each decision: the classification with what it rests on, its checks and
    flags; what the recording decision reads besides the classification (who reported it); the
    counting and the deadline. Recording rules are placed one by one (``_recording_step``)."""
    p = book.pipeline
    # Findings and flags are told with the classification, but not what they read besides it: a
    # finding on the force's record reads the recording decision and who reported it.
    told_with = [n for n in [*p.get("findings", []), *p.get("flags", [])] if n in book.decisions]
    classification = _with_dependencies(book, [p["classification"]]) | set(told_with)
    out = {name: "classification" for name in classification}
    for name in _with_dependencies(book, [p["recording"]]) - classification:
        out[name] = "report"
    out[p["recording"]] = out[p["not_recorded_as"]] = "recording"
    out[p["count_key"]] = "counting"
    out[p["deadline"]] = out[p["timeliness"]] = "deadline"
    return out


def _with_dependencies(book: Rulebook, names: Iterable[str]) -> set[str]:
    out: set[str] = set()
    todo = [n for n in names if n in book.decisions]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += [d for d in book.decisions[name].depends if d in book.decisions]
    return out


def _explain_node(ctx: _Context, node: Mapping[str, Any]) -> None:
    key = ctx.step_of.get(node["decision"])
    if key is None or node["state"] == "absent":
        return
    if node["state"] != "value":
        step = ctx.steps["confirmation" if key == "recording" else key]
        needed = ", ".join(node.get("facts_needed", [])) or "no rule applies"
        step.lines.append(f"[{node['scope']}] {_decision_words(node['decision'])}: {node['state']} (needs {needed})")
        return
    for r in (r for r in node["rules"] if r["result"] == "applied"):
        if key == "recording":
            _recording_rule(ctx, node, r)
        elif key == "classification":
            _classification_rule(ctx, node, r)
        elif key in ("report", "counting"):
            step = ctx.steps[key]
            step.rule(r)
            facts = _read(ctx, step, node["scope"], r, skip_catalogue=True)
            if key == "report":
                step.lines.append(f"[{node['scope']}] {_decision_words(node['decision'])} {_value_words(node['value'])}"
                                  f"{_facts_words(facts)}: {r['rule']}")
        elif key == "deadline":
            _read(ctx, ctx.steps[key], node["scope"], r, skip_catalogue=True)


def _decision_words(name: str) -> str:
    return name.replace("_", " ")


def _value_words(value: Any) -> str:
    """A decision's value in a few words: its outputs that say something."""
    if isinstance(value, list):
        return "; ".join(_value_words(v) for v in value)
    if not isinstance(value, Mapping):
        return str(value)
    return ", ".join(str(v) for v in value.values() if v not in (None, [], {}, "")) or "none"


def _facts_words(facts: Sequence[tuple[str, Any]]) -> str:
    return f" ({'; '.join(f'{p} = {_answer_text(v)}' for p, v in facts)})" if facts else ""


def _read(ctx: _Context, step: _Step, scope: str, rule: Mapping[str, Any], skip_catalogue: bool) -> list[tuple[str, Any]]:
    """The known facts a rule read, as (pointer, value), added to the step. An element of a list
    (``item.kind``) is placed under its list; the classification's catalogue entry is left out
    where the classification step tells it."""
    out: list[tuple[str, Any]] = []
    items: list[Mapping[str, Any]] = []
    for f in rule["facts"]:
        root = f["fact"].split(".")[0]
        if root == "item":
            items.append(f)
            continue
        if f["op"] in ("some", "every"):
            base = ctx.locate.name(scope, f["fact"])
            out += [(f"{base}/*/{i['fact'].split('.', 1)[1].replace('.', '/')}", i["actual"]) for i in items if i["known"]]
            items = []
            continue
        if not f["known"] or root == "value" or (skip_catalogue and root == "classification"):
            continue
        out.append((ctx.locate.name(scope, f["fact"]), f["actual"]))
    read: dict[str, Any] = {}
    for p, v in out:
        read.setdefault(p, v)
        step.facts.setdefault(p, v)
    return list(read.items())


def _recording_rule(ctx: _Context, node: Mapping[str, Any], r: Mapping[str, Any]) -> None:
    """A recording (or record-instead) rule that applied, in the step its facts belong to."""
    scope = node["scope"]
    if node["decision"] == ctx.book.pipeline["recording"]:
        key = _recording_step(r)
        ctx.recording_step[scope] = key
        if key != "location":
            _place(ctx, node)
    else:
        key = ctx.recording_step.get(scope, "confirmation")
    step = ctx.steps[key]
    step.rule(r)
    facts = _read(ctx, step, scope, r, skip_catalogue=key != "report")
    step.lines.append(f"[{scope}] {_recording_words(node['decision'], ctx.book, node['value'])}{_facts_words(facts)}: {r['rule']}")


def _recording_step(r: Mapping[str, Any]) -> str:
    names = [f["fact"] for f in r["facts"]]
    value = r.get("value")
    if (isinstance(value, Mapping) and value.get("refer_to")) or any(n.startswith(_LOCATION_FACTS) for n in names):
        return "location"
    if any(n.startswith(_CRIME_IN_LAW_FACTS) for n in names):
        return "report"
    return "confirmation"


def _recording_words(decision: str, book: Rulebook, value: Any) -> str:
    if not isinstance(value, Mapping):
        return str(value)
    if decision == book.pipeline["recording"]:
        text = "record" if value.get("outcome") == "record" else "not recorded"
        text += f" ({value['reason']})" if value.get("reason") else ""
        return text + (f", referred to {value['refer_to']}" if value.get("refer_to") else "")
    return f"record as {_value_words(value)}"


def _place(ctx: _Context, node: Mapping[str, Any]) -> None:
    """Where the act happened, when no location rule decided the recording: the location facts
    the recording rules read (none of them applying), told once per act."""
    act, _ = scope_ids(node["scope"])
    if act is None or act in ctx.placed:
        return
    facts: dict[str, Any] = {}
    for r in node["rules"]:
        for f in r["facts"]:
            if f["known"] and f["fact"].startswith(_LOCATION_FACTS):
                facts.setdefault(ctx.locate.name(node["scope"], f["fact"]), f["actual"])
    if not facts:
        return
    ctx.placed.add(act)
    step = ctx.steps["location"]
    step.facts.update(facts)
    step.lines.append(f"[act {act}] no location rule applies: the force that received the report records it"
                      f"{_facts_words(list(facts.items()))}")


def _classification_rule(ctx: _Context, node: Mapping[str, Any], r: Mapping[str, Any]) -> None:
    step = ctx.steps["classification"]
    step.rule(r)
    scope, name = node["scope"], node["decision"]
    p = ctx.book.pipeline
    if name in p.get("flags", []) or name in p.get("findings", []):
        _read(ctx, step, scope, r, skip_catalogue=True)
        step.lines.append(f"[{scope}] {_decision_words(name)}: {_value_words(r.get('value'))}: {r['rule']}")
        return
    facts = _decisive_facts(ctx, scope, r)
    for ptr, v in facts:
        step.facts.setdefault(ptr, v)
    rows = f" row {', '.join(r['matched_rows'])}" if r.get("matched_rows") else ""
    step.lines.append(f"[{scope}] {_decision_words(name)} {_class_words(ctx, r.get('value'))}"
                      f"{_facts_words(facts)}: {r['rule']}{rows}")


def _class_words(ctx: _Context, value: Any) -> str:
    if not isinstance(value, Mapping):
        return str(value)
    code = value.get("code")
    if code is None:
        return f"none ({value.get('not_crime') or 'no classification'})"
    entry = ctx.book.classification(str(code), dt.date.fromisoformat(ctx.decision["as_of"]))
    return f"{code} {entry.name}" if entry else str(code)


def _decisive_facts(ctx: _Context, scope: str, r: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The facts that decided a classification rule: its condition's facts, and for a table the
    inputs that the matched rows test (an input a row leaves open, '-', decided nothing)."""
    rule = ctx.book.rules.get(r["rule"])
    tested: set[str] | None = None
    if rule is not None and rule.table is not None and r.get("matched_rows"):
        spec = rule.raw["table"]
        names = {row_input for row in spec["rows"] if row["id"] in r["matched_rows"]
                 for row_input, cell in row["when"].items() if cell != "-"}
        tested = {i["fact"] for i in spec["inputs"] if i["name"] in names and "fact" in i}
    out = []
    for f in r["facts"]:
        if not f["known"] or f["fact"].split(".")[0] in ("item", "value") or f["op"] in ("some", "every"):
            continue
        if f["op"] == "input" and tested is not None and f["fact"] not in tested:
            continue
        if f["op"] == "exists" and isinstance(f["actual"], Mapping):
            continue  # an object that exists: its fields tell more
        out.append((ctx.locate.name(scope, f["fact"]), f["actual"]))
    return out


def _steps_from_decision(ctx: _Context) -> None:
    """Without a trace: the rules the decision names, each in its decision's step."""
    entries = [*ctx.decision["crimes"], *ctx.decision["not_recorded"]]
    for e in entries:
        where = f"act {', '.join(e['acts'])}" if "acts" in e else f"act {e['act']}"
        for ref in e["rules"]:
            rule = ctx.book.rules.get(ref["id"])
            key = ctx.step_of.get(rule.decision, "") if rule is not None else ""
            key = "confirmation" if key == "recording" else key
            if key in ("report", "confirmation", "location", "classification"):
                ctx.steps[key].rule(ref)
                ctx.steps[key].lines.append(f"[{where}] {ref['title']}: {ref['id']}")


def _counting_step(ctx: _Context) -> None:
    d, step = ctx.decision, ctx.steps["counting"]
    if not d["crimes"] and not d["absorbed"]:
        return
    step.lines.insert(0, f"{d['crime_count']} crime{'s' if d['crime_count'] != 1 else ''} to record")
    counted = {ctx.book.pipeline["count_key"]}
    for c in d["crimes"]:
        cls = c["classification"]
        rules = [step.rule(r) for r in c["rules"] if getattr(ctx.book.rules.get(r["id"]), "decision", None) in counted]
        step.lines.append(f"{c['id']}: {cls['code']} {cls['name']}, {_victim(c)}, acts {', '.join(c['acts'])}"
                          + (f": {', '.join(rules)}" if rules else ""))
    for a in d["absorbed"]:
        code = a["classification"]["code"] if a["classification"] else "-"
        rules = [step.rule(r) for r in a["rules"]]
        step.lines.append(f"act {a['act']} ({code}, {_victim(a)}) counted within {a['into']}: {a['why']}: {', '.join(rules)}")


def _deadline_step(ctx: _Context) -> None:
    d = ctx.decision.get("deadline")
    if not d:
        return
    step = ctx.steps["deadline"]
    texts = [line.strip() for line in _deadline_lines(d)]
    for text, ref in zip(texts, d.get("rules", []), strict=False):  # the deadline rule, then the timeliness rule
        step.lines.append(f"{text}: {step.rule(ref)}")
    step.lines += texts[len(step.lines):]
    for ref in d.get("rules", []):
        step.rule(ref)
    step.facts.setdefault("/report/received_at", d["received_at"])
    if d.get("recorded_at"):
        step.facts.setdefault("/recorded_at", d["recorded_at"])


def _presumption_step(ctx: _Context) -> None:
    step = ctx.steps["presumptions"]
    for p in ctx.decision.get("presumptions", []):
        step.rule(p)
        step.facts.setdefault(p["pointer"], p["value"])
        step.lines.append(f"[{p['entity']}] {p['field']} presumed {_answer_text(p['value'])}: {p['id']}")
    for c in ctx.decision["crimes"]:
        if c.get("provisional"):
            gives = "; ".join(f"{r['field']} {_answer_text(r['answer'])} gives {r['classification']['code']}" for r in c["reclassify_if"])
            step.lines.append(f"{c['id']} {c['classification']['code']} is provisional: {gives}")


def _notes(decision: Mapping[str, Any]) -> list[str]:
    """What the steps do not tell: the force's record, conflicts, warnings (each rule's
    verification is told where it is named)."""
    out: list[str] = []
    record = decision.get("force_record")
    if record:
        for rc in record["crimes"]:
            verdicts = "; ".join(_verdict_text(v) + "".join(f" ({r['id']})" for r in v.get("rules", []) if v["state"] == "value")
                                 for v in rc["verdicts"])
            out.append(_record_match_text(rc).strip() + (f": {verdicts}" if verdicts else ""))
        if record["decided_crimes_not_in_record"]:
            out.append(f"not in the force's record: {', '.join(record['decided_crimes_not_in_record'])}")
    out += [line.strip() for line in _conflict_section(decision)]
    return out + [f"warning: {w}" for w in decision["warnings"]]


def render_explanation(expl: Mapping[str, Any]) -> str:
    """The explanation as text: the steps in order, each rule with its verification and
    citation, then the notes, and last what would change it."""
    lines = [f"Incident {expl['incident']}: {str(expl['status']).upper()} under the rules in force on "
             f"{expl['as_of']} ({expl['edition']})", str(expl["summary"])]
    for n, step in enumerate(expl["steps"], 1):
        lines.append(f"{n}. {step['title']}")
        lines += _step_text(step)
    lines += list(expl.get("notes", []))
    lines.append("What would change this")
    lines += [f"   {change_text(c)}" for c in expl["would_change"]] or ["   nothing the rules name"]
    return "\n".join(lines) + "\n"


def _step_text(step: Mapping[str, Any]) -> list[str]:
    """A step's lines; a line that ends with the rule that decided it (``...: rule.id`` or
    ``...: rule.id row r``) is followed, on the same line, by that rule's verification and
    citation; the step's other rules come after its lines."""
    rules = {r["id"]: r for r in step["rules"]}
    told: set[str] = set()
    out = []
    for line in step["lines"]:
        named = _named_rule(line, rules)
        if named is not None and named not in told:
            told.add(named)
            line += f" [{rules[named]['verification']}] {rules[named]['citation']}"
        out.append(f"   {line}")
    return out + [f"   - {r['id']} [{r['verification']}]: {r['citation']}" for r in step["rules"] if r["id"] not in told]


def _named_rule(line: str, rules: Mapping[str, Any]) -> str | None:
    tail = line.rsplit(": ", 1)[-1]
    rid = tail.split(" row ", 1)[0]
    return rid if rid in rules else None


def change_text(change: Mapping[str, Any]) -> str:
    """One change, in one line."""
    if change.get("kind") == "presumption":
        return f"[{change['scope']}] {change['condition']} would give: {change['effect']}"
    if change.get("kind") == "confirmed":
        return f"[{change['scope']}] {change['condition']}: {change['rule']} would give: {change['effect']}"
    return f"[{change['scope']}] {change['effect']} {change['condition']}"


# --------------------------------------------------------------------------------------------
# What would change this (read from the trace)
# --------------------------------------------------------------------------------------------


def would_change(book: Rulebook, decision: Mapping[str, Any], trace: Sequence[Mapping[str, Any]] | None,
                 locate: Locator | None = None, incident: Mapping[str, Any] | Incident | None = None) -> list[dict[str, Any]]:
    """Each presumed fact's other answers and what each gives; then, with the incident, the
    confirmed ways to the other recording outcome (``hocr.whynot``); without it, from the trace,
    the rules that would have given another result and the test that stopped each."""
    presumed = presumption_changes(decision)
    if incident is None:
        return presumed + rule_changes(book, trace or [], locate or Locator())
    return presumed + outcome_changes(book, decision, incident, {c["pointer"] for c in presumed})


def outcome_changes(book: Rulebook, decision: Mapping[str, Any], incident: Mapping[str, Any] | Incident,
                    presumed: set[str]) -> list[dict[str, Any]]:
    """For each allegation, the ways to the other recording outcome, each decided again: the
    first fact to change (and any others with it), the rule that would then decide, and the
    decision. A way that only changes a presumed fact is told with the presumptions."""
    from .whynot import why_not  # late: whynot reads this module's Locator

    as_of = dt.date.fromisoformat(decision["as_of"])
    out = []
    for target in ("record", "not recorded"):
        for entry in why_not(book, incident, target, as_of)["entries"]:
            for way in entry["ways"]:
                changes = way["changes"]
                if entry["holds"] or {c["pointer"] for c in changes} <= presumed:
                    continue
                first = changes[0]
                condition = "; ".join(f"{c['pointer']} = {_answer_text(c['answer'])} (now {_answer_text(c['now'])})" for c in changes)
                out.append({"pointer": first["pointer"], "answer": first["answer"], "changes": changes, "kind": "confirmed",
                            "scope": entry["scope"], "rule": way["rule"]["id"] if way["rule"] else None,
                            "condition": condition, "effect": way["decision"]})
    return out


def presumption_changes(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For presumed facts: each other answer and what it would give (the decision's presumptions
    were decided again with that answer)."""
    return [{"pointer": p["pointer"], "answer": alt["value"], "effect": alt["summary"], "kind": "presumption",
             "scope": p["entity"], "rule": p["id"],
             "condition": f"{p['field']} = {_answer_text(alt['value'])} instead of the presumed {_answer_text(p['value'])} ({p['id']})"}
            for p in decision.get("presumptions", []) for alt in p["alternatives"]]


def rule_changes(book: Rulebook, trace: Sequence[Mapping[str, Any]], locate: Locator) -> list[dict[str, Any]]:
    """For each decision taken, the rules that would have given another result, and the facts
    (false or unknown conditions) that kept each of them from applying. For a decision left
    open, the rules waiting on missing facts and what each would conclude.

    Conditions on the act's classification are not offered as changes: a different
    classification is a different act, not a different fact about this one."""
    out: list[dict[str, Any]] = []
    wanted = {book.pipeline.get(role) for role in ("recording", "count_key", "timeliness")}
    for node in trace:
        d = book.decisions.get(node["decision"])
        if d is None or d.name not in wanted or node["state"] not in ("value", "undetermined"):
            continue
        for r in node.get("rules", []):
            change = _rule_change(book, d.determined_by, node, r, locate)
            if change is not None:
                out.append(change)
    return out


def _rule_change(book: Rulebook, keys: Sequence[str], node: Mapping[str, Any], r: Mapping[str, Any],
                 locate: Locator) -> dict[str, Any] | None:
    rule = book.rules.get(r["rule"])
    if rule is None or rule.table is not None:
        return None
    then = rule.raw_then
    given = {k: then[k] for k in keys if k in then and not isinstance(then[k], dict)}
    if not given:
        return None
    conclusion = ", ".join(f"{k}={v}" for k, v in given.items())
    base = {"scope": node["scope"], "rule": r["rule"], "kind": "rule", "effect": f"{r['rule']} would give {conclusion}"}
    if node["state"] == "undetermined":
        if r["result"] != "unknown":
            return None
        needs = list(r.get("facts_needed", []))
        return {**base, "kind": "open", "pointer": needs[0] if needs else "", "answer": None,
                "condition": f"once known: {', '.join(needs) or 'facts not given'}"}
    chosen = node.get("value") or {}
    if r["result"] not in ("not_applied", "unknown") or all(chosen.get(k) == v for k, v in given.items()):
        return None
    blockers = [f for f in r["facts"] if f.get("result") is not True and f["op"] != "input"]
    if not blockers or any(f["fact"].startswith("classification.") for f in blockers):
        return None
    first = blockers[0]
    return {**base, "pointer": locate.name(node["scope"], first["fact"]), "answer": _asked(first),
            "condition": "if " + "; ".join(_needed(f) for f in blockers)}


def _asked(f: Mapping[str, Any]) -> Any:
    """The value a test asks for, where it names one (equals); else the test's operand."""
    if f["op"] == "exists":
        return None if not f.get("expected") else f.get("actual")
    return f.get("expected")


def _needed(f: Mapping[str, Any]) -> str:
    if f["op"] in ("some", "every"):
        which = "an item" if f["op"] == "some" else "every item"
        return f"{f['fact']} had {which} meeting the rule's test"
    return _needed_predicate(f)


def _needed_predicate(f: Mapping[str, Any]) -> str:
    op = {"equals": "were", "not_equals": "were not", "in": "were one of", "not_in": "were not one of",
          "lt": "were below", "le": "were at most", "gt": "were above", "ge": "were at least",
          "contains": "included", "exists": "existed" if f.get("expected") else "were absent",
          "known": "were known" if f.get("expected") else "were not yet known"}.get(f["op"], f["op"])
    if f["op"] in ("exists", "known"):
        return f"{f['fact']} {op}"
    now = repr(f["actual"]) if f["known"] else "unknown"
    return f"{f['fact']} {op} {f.get('expected')!r} (now {now})"

# --------------------------------------------------------------------------------------------
# The rulebook rendered for people (docs/rulebook.md)
# --------------------------------------------------------------------------------------------

_OP_WORDS = {
    "equals": "is", "not_equals": "is not", "in": "is one of", "not_in": "is none of",
    "lt": "is before / below", "le": "is at most", "gt": "is after / above", "ge": "is at least",
    "contains": "includes",
}


def _expr_text(node: Any) -> str:
    if isinstance(node, dict):
        (op, arg), = node.items()
        if op == "fact":
            return f"`{arg}`"
        if op == "duration":
            return str(arg)
        if op == "count":
            return f"the number of `{arg}`"
        if op == "list":
            return "(" + ", ".join(_expr_text(a) for a in arg) + ")"
        joiner = {"add": " + ", "sub": " - "}.get(op)
        if joiner:
            return joiner.join(_expr_text(a) for a in arg)
        return f"{op.replace('_', ' ')}(" + ", ".join(_expr_text(a) for a in arg) + ")"
    if isinstance(node, list):
        return ", ".join(_expr_text(a) for a in node)
    return "none" if node is None else f"`{node}`" if not isinstance(node, bool) else str(node).lower()


def condition_text(node: Mapping[str, Any], indent: int = 0) -> list[str]:
    """A condition as an indented bullet list in plain words."""
    pad = "  " * indent
    for key, word in (("all", "all of"), ("any", "any of")):
        if key in node:
            out = [f"{pad}- {word}:"]
            for part in node[key]:
                out += condition_text(part, indent + 1)
            return out
    if "not" in node:
        return [f"{pad}- not:"] + condition_text(node["not"], indent + 1)
    for q, word in (("some", "some item of"), ("every", "every item of")):
        if q in node:
            return [f"{pad}- {word} `{node[q]}` where:"] + condition_text(node["where"], indent + 1)
    left = f"`{node['fact']}`" if "fact" in node else _expr_text(node["value"])
    op = next(k for k in node if k not in ("fact", "value"))
    if op == "exists":
        return [f"{pad}- {left} is {'given' if node[op] else 'not given'}"]
    if op == "known":
        return [f"{pad}- {left} is {'known' if node[op] else 'not known (missing, or not yet decided)'}"]
    return [f"{pad}- {left} {_OP_WORDS[op]} {_expr_text(node[op])}"]


def _cell_text(cell: Any) -> str:
    if cell == "-":
        return "any"
    if isinstance(cell, list):
        return " or ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in cell)
    if isinstance(cell, dict):
        return "; ".join(f"{_OP_WORDS.get(k, k)} {_expr_text(v)}" for k, v in cell.items())
    return str(cell).lower() if isinstance(cell, bool) else str(cell)


def render_rulebook(book: Rulebook) -> str:
    """The whole rulebook as Markdown, file by file, in the rulebook's own layout."""
    out = [
        f"# {book.name}",
        "",
        f"Edition: {book.edition}. Content hash: `{book.hash}`.",
        "",
        "Generated by `hocr rules render` from the rule files; do not edit by hand.",
        "Verification: **verified** = checked against the rulebook text; **secondary** = seen only in",
        "a secondary source; **unverified** = our best understanding, not yet checked.",
        "",
        "## Decisions",
        "",
    ]
    for scope, decisions in book.order.items():
        for d in decisions:
            outputs = ", ".join(f"`{k}`" for k in d.outputs)
            out.append(f"- **{d.name}** ({scope}): {d.title}. Outputs {outputs}.")
    by_file: dict[str, list[Any]] = {}
    for rule in book.rules.values():
        by_file.setdefault(rule.file, []).append(rule)
    for classes in book.classifications.values():
        for c in classes:
            by_file.setdefault(c.file, []).append(c)
    for p in book.presumptions:
        by_file.setdefault(p.file, []).append(p)

    def part(file: str) -> tuple[int, str]:
        top = file.split("/")[0]
        return ({"ncrs": 0, "general": 1, "classifications": 2}.get(top, 3), file)

    for file in sorted(by_file, key=part):
        out += ["", f"## `{file}`", ""]
        items = sorted(by_file[file], key=lambda x: x.line)
        for item in items:
            if hasattr(item, "decision"):
                out += _render_rule(item)
            elif hasattr(item, "alternatives"):
                out += _render_presumption(item)
            else:
                out += _render_classification(item)
    return "\n".join(out).rstrip() + "\n"


def _span(item: Any) -> str:
    """The dates an item of the rulebook is in force, for people."""
    return f"from {item.in_force_from}" + (f" to {item.in_force_to}" if item.in_force_to else "")


def _render_rule(rule: Any) -> list[str]:
    span = _span(rule)
    out = [
        f"### {rule.title}",
        "",
        f"`{rule.id}` decides **{rule.decision}**; in force {span}; **{rule.verification}**.",
        "",
        " ".join(rule.summary.split()),
        "",
        f"Source: {rule.citation}.",
    ]
    evidence = [s["evidence"] for s in rule.sources if s.get("evidence")]
    if evidence:
        out.append(f"Evidence: {'; '.join(evidence)}.")
    if rule.overrides:
        out.append("Overrides: " + ", ".join(f"`{o}`" for o in rule.overrides) + ".")
    if rule.notes:
        out.append(f"Note: {' '.join(rule.notes.split())}")
    if "when" in rule.raw:
        out += ["", "Applies when:"] + condition_text(rule.raw["when"])
    if rule.raw_then:
        out += ["", "Then: " + ", ".join(f"{k} = {_expr_text(v)}" for k, v in rule.raw_then.items())]
    if rule.table is not None:
        spec = rule.raw["table"]
        names = [i["name"] for i in spec["inputs"]]
        outs = sorted({k for row in spec["rows"] for k in row["then"]})
        out += ["", f"Decision table, hit policy **{spec['hit_policy']}**; inputs: "
                + ", ".join(f"{i['name']} = " + (f"`{i['fact']}`" if "fact" in i else _expr_text(i["value"])) for i in spec["inputs"]), ""]
        out.append("| row | " + " | ".join(names) + " | " + " | ".join(outs) + " |")
        out.append("|---" * (1 + len(names) + len(outs)) + "|")
        for row in spec["rows"]:
            cells = [_cell_text(row["when"].get(n, "-")) for n in names]
            vals = [_expr_text(row["then"][k]).strip("`") if k in row["then"] else "" for k in outs]
            out.append(f"| {row['id']} | " + " | ".join(cells) + " | " + " | ".join(vals) + " |")
    out.append("")
    return out


def _render_presumption(p: Any) -> list[str]:
    span = _span(p)
    out = [
        f"### Presumption: {p.title}",
        "",
        f"`{p.id}` presumes `{p.fact}` = `{json.dumps(p.value)}` when the report does not say; in force {span}; **{p.verification}**.",
        "",
        " ".join(p.summary.split()),
        "",
        f"Source: {p.citation}.",
        "Other answers: " + ", ".join(f"`{json.dumps(a)}`" for a in p.alternatives) + ".",
    ]
    if p.notes:
        out.append(f"Note: {' '.join(p.notes.split())}")
    if "when" in p.raw:
        out += ["", "Applies when:"] + condition_text(p.raw["when"])
    out.append("")
    return out


def _render_classification(c: Any) -> list[str]:
    span = _span(c)
    out = [
        f"### {c.code} {c.name}",
        "",
        f"{c.category}; {'victim-based' if c.victim_based else 'against the state'}; maximum sentence "
        f"{c.sentence_text()}; in force {span}; **{c.verification}**.",
    ]
    if c.offences:
        out.append("Offences: " + "; ".join(f"{statute} s{section}" for statute, section in c.offences) + ".")
    out.append("")
    return out
