"""Explanation: a decision as text for people, the trace as a readable story, and what would
change the result.

"What would change this" is read from the trace: for each decision, the rules that did not apply
but would have given a different result, with the facts that stopped them (the conditions that
came out false or unknown). Nothing is re-evaluated.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from .incident import LONDON
from .loader import Rulebook

MARK = {"applied": "+", "not_applied": "-", "unknown": "?", "overridden": "^"}


def _when(text: str | None) -> str:
    if not text:
        return "-"
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        return text
    return value.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def _victim(entry: Mapping[str, Any]) -> str:
    return f"victim {entry['victim']}" if entry.get("victim") else "no identified victim"


def _because(rules: list[Mapping[str, Any]]) -> list[str]:
    out = []
    for r in rules:
        out.append(f"      because {r['id']}: {r['title']} [{r['verification']}]")
        out.append(f"              {r['citation']}")
    return out


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


def render_text(decision: Mapping[str, Any], explain: bool = False, book: Rulebook | None = None) -> str:
    lines: list[str] = []
    rb = decision["rulebook"]
    lines.append(f"Incident {decision['incident']}: {decision['status'].upper()}")
    lines.append(f"  rules in force on {decision['as_of']}; {rb['edition']} ({rb['hash'][:19]})")
    lines.append("")
    lines.append(decision["summary"])
    if decision["crimes"]:
        lines.append("")
        lines.append("Crimes to record")
        for c in decision["crimes"]:
            cls = c["classification"]
            who = f"victim {c['victim']} ({c['victim_kind']})" if c["victim"] else c["victim_kind"]
            suspects = ", ".join(c["suspects"]) or "none identified"
            lines.append(f"  {c['id']}  {cls['code']} {cls['name']} [{cls['category']}]")
            lines.append(f"      {who}; acts {', '.join(c['acts'])}; suspects {suspects}")
            lines.extend(_because(c["rules"]))
            lines.extend(_flag_lines(c))
            lines.extend(_provisional(c))
    if decision["absorbed"]:
        lines.append("")
        lines.append("Counted within another crime")
        for a in decision["absorbed"]:
            code = a["classification"]["code"] if a["classification"] else "-"
            lines.append(f"  act {a['act']} ({code}, {_victim(a)}) -> {a['into']}: {a['why']}")
    if decision["not_recorded"]:
        lines.append("")
        lines.append("Not recorded as a crime")
        for n in decision["not_recorded"]:
            code = f"{n['classification']['code']} " if n.get("classification") else ""
            lines.append(f"  act {n['act']} ({code}{_victim(n)}): {n['reason']}")
            if n.get("record_as"):
                lines.append(f"      record as: {n['record_as']['record']}")
            if n.get("refer_to"):
                lines.append(f"      refer to: {n['refer_to']}")
            lines.extend(_because(n["rules"]))
    if decision["undetermined"]:
        lines.append("")
        lines.append("Undetermined: facts needed")
        for u in decision["undetermined"]:
            lines.append(f"  act {u['act']}, {_victim(u)} ({u['decision']}; open rules: {', '.join(u['open_rules'])})")
            if u.get("record_as"):
                lines.append(f"    meanwhile record as: {u['record_as']['record']} ({u['record_as'].get('because', '')})")
            for f in u["facts_needed"]:
                question = f" {f['question']}" if f["question"] else ""
                lines.append(f"    - {f['pointer']} ({f['entity']}):{question}")
    lines.extend(_presumed(decision.get("presumptions", [])))
    d = decision.get("deadline")
    if d:
        lines.append("")
        if d.get("due"):
            limit = f"{d['limit_hours']:g} hours" if "limit_hours" in d else "the limit"
            lines.append(f"Deadline: record by {_when(d['due'])} ({limit} after the report at {_when(d['received_at'])})")
        else:
            lines.append("Deadline: undetermined")
        if d.get("recorded_at"):
            verdict = {True: "in time", False: "LATE", None: "timeliness undetermined"}[d.get("met")]
            lines.append(f"  recorded {_when(d['recorded_at'])}, {d.get('hours_to_record')} hours after the report: {verdict}")
    if decision.get("findings"):
        lines.append("")
        lines.append("Findings about the input")
        for f in decision["findings"]:
            where = f"act {f['act']}" + (f", victim {f['victim']}" if f.get("victim") else "") if f.get("act") else "incident"
            suggested = f" (the facts point to {f['suggested']})" if f.get("suggested") else ""
            lines.append(f"  {where}: {f.get('message', f.get('finding', ''))}{suggested}")
            lines.extend(_because(f["rules"]))
    record = decision.get("force_record")
    if record:
        lines.append("")
        lines.append("The force's record")
        for rc in record["crimes"]:
            m = rc["match"]
            target = f" {m['crime']}" if m["crime"] else ""
            lines.append(f"  {rc['ref']} ({rc['classification']}): {m['status'].replace('_', ' ')}{target}")
            for v in rc["verdicts"]:
                if v["state"] == "value":
                    detail = v.get("verdict", "")
                    if v.get("to"):
                        detail += f" to {v['to']}"
                    reason = f": {v['reason']}" if v.get("reason") else ""
                    lines.append(f"      {v['decision']}: {detail}{reason}")
                    lines.extend("  " + x for x in _because(v.get("rules", [])))
                elif v["state"] == "undetermined":
                    needed = ", ".join(f["pointer"] for f in v.get("facts_needed", [])) or "no rule applies"
                    lines.append(f"      {v['decision']}: undetermined (facts needed: {needed})")
                else:
                    lines.append(f"      {v['decision']}: conflict between {', '.join(v.get('rules_in_conflict', []))}")
        if record["decided_crimes_not_in_record"]:
            lines.append(f"  not in the force's record: {', '.join(record['decided_crimes_not_in_record'])}")
    if decision["conflicts"]:
        lines.append("")
        lines.append("Conflicts in the rulebook (report them to the rulebook's maintainers)")
        for c in decision["conflicts"]:
            lines.append(f"  {c['scope']}, {c['decision']}: {', '.join(c['rules'])} all apply with no override between them")
    if decision["warnings"]:
        lines.append("")
        lines.append("Warnings")
        lines.extend(f"  {w}" for w in decision["warnings"])
    if decision["unverified_rules"]:
        lines.append("")
        lines.append("Relies on rules not yet verified against the rulebook text: " + ", ".join(decision["unverified_rules"]))
    if explain and "trace" in decision:
        lines.append("")
        lines.extend(render_trace(decision["trace"]))
        changes = presumption_changes(decision) + what_would_change(decision, book)
        if changes:
            lines.append("")
            lines.append("What would change this")
            lines.extend(f"  {c}" for c in changes)
    return "\n".join(lines) + "\n"


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


def render_trace(trace: list[Mapping[str, Any]]) -> list[str]:
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


def _answer_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "given" if value else "none"
    return str(value)


def _provisional(crime: Mapping[str, Any]) -> list[str]:
    """A provisional crime's re-classification questions: '(field): (answer) gives (code)'."""
    if not crime.get("provisional"):
        return []
    out = ["      PROVISIONAL classification: re-classify when known"]
    for r in crime["reclassify_if"]:
        cls = r["classification"]
        out.append(f"        {r['field']} ({r['entity']}): {_answer_text(r['answer'])} gives {cls['code']} {cls['name']}")
    return out


def _presumed(presumptions: list[Mapping[str, Any]]) -> list[str]:
    """The presumptions the decision rests on, each with what the other answers would give."""
    if not presumptions:
        return []
    out = ["", "Presumed (the report does not say)"]
    for p in presumptions:
        out.append(f"  {p['field']} ({p['entity']}) = {_answer_text(p['value'])}: {p['id']} [{p['verification']}]")
        out.append(f"      {p['citation']}")
        for alt in p["alternatives"]:
            out.append(f"      if {_answer_text(alt['value'])}: {alt['summary']}")
    return out


def presumption_changes(decision: Mapping[str, Any]) -> list[str]:
    """'What would change this' for presumed facts: each other answer and what it would give
    (from the decision's presumptions, which were decided again with that answer)."""
    return [f"[{p['entity']}] {p['field']} = {_answer_text(alt['value'])} instead of the presumed "
            f"{_answer_text(p['value'])} ({p['id']}) would give: {alt['summary']}"
            for p in decision.get("presumptions", []) for alt in p["alternatives"]]


def what_would_change(decision: Mapping[str, Any], book: Rulebook | None) -> list[str]:
    """For each decision taken, the rules that would have given another result, and the facts
    (false or unknown conditions) that kept each of them from applying. For a decision left
    open, the rules waiting on missing facts and what each would conclude.

    Conditions on the act's classification are not offered as changes: a different
    classification is a different act, not a different fact about this one."""
    if book is None or "trace" not in decision:
        return []
    out: list[str] = []
    wanted = {book.pipeline.get(role) for role in ("recording", "count_key", "timeliness")}
    for node in decision["trace"]:
        d = book.decisions.get(node["decision"])
        if d is None or d.name not in wanted or node["state"] not in ("value", "undetermined"):
            continue
        chosen = node.get("value") or {}
        keys = d.determined_by
        for r in node.get("rules", []):
            rule = book.rules.get(r["rule"])
            if rule is None or rule.table is not None:
                continue
            then = rule.raw_then
            conclusion = ", ".join(f"{k}={then[k]}" for k in keys if k in then and not isinstance(then[k], dict))
            if not conclusion:
                continue
            if node["state"] == "undetermined":
                if r["result"] == "unknown":
                    needs = ", ".join(r.get("facts_needed", [])) or "facts not given"
                    out.append(f"[{node['scope']}] {r['rule']} would give {conclusion} once known: {needs}")
                continue
            if r["result"] not in ("not_applied", "unknown"):
                continue
            if all(then.get(k) == chosen.get(k) for k in keys if k in then and not isinstance(then.get(k), dict)):
                continue
            blockers = [f for f in r["facts"] if f.get("result") is not True and f["op"] != "input"]
            if not blockers or any(f["fact"].startswith("classification.") for f in blockers):
                continue
            out.append(f"[{node['scope']}] {r['rule']} would give {conclusion} if {'; '.join(_needed(f) for f in blockers)}")
    return out


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
