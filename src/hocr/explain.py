"""Explanation: a decision as text for people, the trace as a readable story, and what would
change the result.

"What would change this" is read from the trace: for each decision, the rules that did not apply
but would have given a different result, with the facts that stopped them (the conditions that
came out false or unknown). Nothing is re-evaluated.
"""

from __future__ import annotations

import datetime as dt
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
            for r in c["rules"]:
                lines.append(f"      because {r['id']}: {r['title']} [{r['verification']}]")
                lines.append(f"              {r['citation']}")
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
            for r in n["rules"]:
                lines.append(f"      because {r['id']}: {r['title']} [{r['verification']}]")
                lines.append(f"              {r['citation']}")
    if decision["undetermined"]:
        lines.append("")
        lines.append("Undetermined: facts needed")
        for u in decision["undetermined"]:
            lines.append(f"  act {u['act']}, {_victim(u)} ({u['decision']}; open rules: {', '.join(u['open_rules'])})")
            for f in u["facts_needed"]:
                question = f" {f['question']}" if f["question"] else ""
                lines.append(f"    - {f['pointer']} ({f['entity']}):{question}")
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
        changes = what_would_change(decision, book)
        if changes:
            lines.append("")
            lines.append("What would change this")
            lines.extend(f"  {c}" for c in changes)
    return "\n".join(lines) + "\n"


def _fact_text(f: Mapping[str, Any]) -> str:
    if f["op"] == "input":
        actual = f["actual"] if f["known"] else "unknown"
        return f"{f['fact']} = {actual!r} (table input {f.get('input')})"
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


def what_would_change(decision: Mapping[str, Any], book: Rulebook | None) -> list[str]:
    """For each decision taken, the rules that would have given another result, and the facts
    (false or unknown conditions) that kept each of them from applying."""
    if book is None or "trace" not in decision:
        return []
    out: list[str] = []
    for node in decision["trace"]:
        if node["state"] != "value" or node["decision"] not in ("recording", "count_key", "classification", "timeliness"):
            continue
        chosen = node.get("value") or {}
        d = book.decisions.get(node["decision"])
        keys = d.determined_by if d else ()
        for r in node.get("rules", []):
            if r["result"] not in ("not_applied", "unknown"):
                continue
            rule = book.rules.get(r["rule"])
            if rule is None or rule.table is not None:
                continue
            then = rule.raw_then
            if all(then.get(k) == chosen.get(k) for k in keys if k in then and not isinstance(then.get(k), dict)):
                continue
            blockers = [f for f in r["facts"] if f.get("result") is not True and f["op"] != "input"]
            if not blockers:
                continue
            wanted = "; ".join(_needed(f) for f in blockers)
            result = ", ".join(f"{k}={then[k]}" for k in keys if k in then)
            out.append(f"[{node['scope']}] {r['rule']} would give {result} if {wanted}")
    return out


def _needed(f: Mapping[str, Any]) -> str:
    op = {"equals": "were", "not_equals": "were not", "in": "were one of", "not_in": "were not one of",
          "lt": "were below", "le": "were at most", "gt": "were above", "ge": "were at least",
          "contains": "included", "exists": "existed" if f.get("expected") else "were absent"}.get(f["op"], f["op"])
    if f["op"] == "exists":
        return f"{f['fact']} {op}"
    now = repr(f["actual"]) if f["known"] else "unknown"
    return f"{f['fact']} {op} {f.get('expected')!r} (now {now})"
