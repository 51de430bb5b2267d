"""The one place the service and the training page get a decision's explanation and a why-not.

The explanation's shape is ``hocr.explanation.v1`` (docs/coordination: steps in the order a
registrar reasons, each with its lines, the facts it used and the rules that decided it, then
what would change the result). ``hocr.explain.explanation`` and ``hocr.whynot.why_not`` give it
when they exist; until then :func:`_adapted` builds the same shape from the trace and from what
``hocr.explain`` offers today (``presumption_changes``, ``what_would_change``). Swapping the
adapter for the real function touches this module only.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import explain
from ..loader import Rulebook

FORMAT = "hocr.explanation.v1"
# The steps in the order a registrar reasons, each with its title.
STEPS = (
    ("report", "Is there a report of a crime, and who reported it"),
    ("confirmation", "The victim's confirmation and any credible evidence to the contrary"),
    ("location", "Where it happened and who records it"),
    ("classification", "Which classification"),
    ("counting", "How many crimes"),
    ("deadline", "By when"),
    ("presumptions", "Presumed, and what is provisional"),
)
# Which step each decision of the rulebook belongs to.
STEP_OF_DECISION = {
    "reporter_role": "report", "recording": "confirmation", "record_instead": "confirmation",
    "elements_classification": "classification", "classification": "classification",
    "classification_check": "classification", "count_key": "counting",
    "deadline": "deadline", "timeliness": "deadline", "(presumptions)": "presumptions",
}
# A recording rule from these folders decides by place or by authority: the location step.
LOCATION_FOLDERS = ("general/section-g/", "general/annex-a/", "general/section-i/")


def explanation(book: Rulebook, incident: Mapping[str, Any], decision: Mapping[str, Any],
                trace: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The explanation of ``decision`` (evaluated with its ``trace``) of ``incident``."""
    real = _optional("hocr.explain", "explanation")
    if real is not None:
        result: dict[str, Any] = real(book, decision, trace)
        return result
    return _adapted(book, incident, decision, trace)


def why_not(book: Rulebook, incident: Any, target: str,
            as_of: dt.date | None = None) -> dict[str, Any] | None:
    """What blocks ``target`` (a classification code, "record" or "not recorded"); None when this
    build has no ``hocr.whynot``."""
    real = _optional("hocr.whynot", "why_not")
    if real is None:
        return None
    result: dict[str, Any] = real(book, incident, target, as_of)
    return result


def why_not_text(book: Rulebook, incident: Any, target: str, as_of: dt.date | None = None) -> str | None:
    """The why-not as ``hocr.whynot.render_text`` words it; None without ``hocr.whynot``."""
    render = _optional("hocr.whynot", "render_text")
    result = why_not(book, incident, target, as_of) if render is not None else None
    return None if result is None or render is None else str(render(result))


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if callable(found) else None


# ---------------------------------------------------------------------------------------------
# the adapter: the explanation's shape from the trace
# ---------------------------------------------------------------------------------------------


def _adapted(book: Rulebook, incident: Mapping[str, Any], decision: Mapping[str, Any],
             trace: list[Mapping[str, Any]]) -> dict[str, Any]:
    pointers = _Pointers(incident)
    steps: dict[str, dict[str, Any]] = {}
    for node in trace:
        for rule in node.get("rules", []):
            if rule.get("result") != "applied":
                continue
            key = _step_key(book, node["decision"], rule["rule"])
            if key is None:
                continue
            step = steps.setdefault(key, {"facts": {}, "rules": {}})
            step["rules"].setdefault(rule["rule"], {k: rule[k] for k in ("title", "citation", "verification")})
            for fact in rule.get("facts", []):
                pointer = pointers.of(node["scope"], fact["fact"])
                if pointer is not None and fact.get("known"):
                    step["facts"].setdefault(pointer, fact.get("actual"))
            if key == "presumptions" and isinstance(rule.get("value"), Mapping):
                step["facts"].update(rule["value"])  # the presumed facts, by pointer
    lines = _lines(incident, decision)
    out = []
    for key, title in STEPS:
        found = steps.get(key)
        if found is None and (key == "report" or not lines.get(key)):
            continue
        found = found or {"facts": {}, "rules": {}}
        out.append({
            "key": key, "title": title, "lines": lines.get(key, []),
            "facts": [{"pointer": p, "value": v} for p, v in found["facts"].items()],
            "rules": [{"id": rid, **r} for rid, r in found["rules"].items()],
        })
    return {"format": FORMAT, "steps": out, "would_change": _would_change(book, decision, trace)}


def _step_key(book: Rulebook, decision: str, rule_id: str) -> str | None:
    key = STEP_OF_DECISION.get(decision)
    rule = book.rules.get(rule_id)
    if key == "confirmation" and rule is not None and rule.file.startswith(LOCATION_FOLDERS):
        return "location"
    return key


class _Pointers:
    """JSON pointers into the incident for the trace's fact names, in the scope they were read."""

    def __init__(self, incident: Mapping[str, Any]):
        self.acts = _indexes(incident.get("acts"))
        self.victims = _indexes(incident.get("victims"))

    def of(self, scope: str, fact: str) -> str | None:
        root, _, rest = fact.partition(".")
        path = rest.replace(".", "/")
        ids = dict(part.strip().split(" ", 1) for part in scope.split(",") if " " in part.strip())
        if root == "incident":
            return f"/{path}"
        if root == "report":
            return f"/report/{path}"
        if root == "act" and ids.get("act") in self.acts:
            return f"/acts/{self.acts[ids['act']]}/{path}"
        if root == "victim" and ids.get("victim") in self.victims:
            return f"/victims/{self.victims[ids['victim']]}/{path}"
        return None  # a derived fact (the classification's, the reporter's role): in the lines


def _indexes(items: Any) -> dict[str, int]:
    if not isinstance(items, list):
        return {}
    return {str(x["id"]): i for i, x in enumerate(items) if isinstance(x, Mapping) and "id" in x}


def _lines(incident: Mapping[str, Any], decision: Mapping[str, Any]) -> dict[str, list[str]]:
    """What each step concluded, in words, from the decision (the report's from the incident)."""
    out: dict[str, list[str]] = {"report": list(_report_lines(incident))}
    for key, make in _LINE_MAKERS:
        made = list(make(decision))
        if made:
            out[key] = made
    return out


def _report_lines(incident: Mapping[str, Any]) -> Iterator[str]:
    report = incident.get("report")
    if not isinstance(report, Mapping):
        return
    reporter = report.get("reporter")
    reporter = reporter if isinstance(reporter, Mapping) else {}
    how = f" ({report['channel'].replace('_', ' ')})" if isinstance(report.get("channel"), str) else ""
    yield f"Reported by: {str(reporter.get('type', 'not said')).replace('_', ' ')}{how}, received {report.get('received_at')}"


def _confirmation_lines(decision: Mapping[str, Any]) -> Iterator[str]:
    for c in decision.get("crimes", []):
        yield f"{c['id']}: recorded ({', '.join(c['acts'])}, {c['victim'] or 'no identified victim'})"
    for n in decision.get("not_recorded", []):
        instead = f"; record as {n['record_as']['record']}" if n.get("record_as") else ""
        yield f"Act {n['act']}: not recorded ({n['reason']}){instead}"
    for u in decision.get("undetermined", []):
        needed = ", ".join(f["pointer"] for f in u.get("facts_needed", []))
        yield f"Act {u['act']}: undetermined, needs {needed}"


def _classification_lines(decision: Mapping[str, Any]) -> Iterator[str]:
    for entry in [*decision.get("crimes", []), *decision.get("not_recorded", [])]:
        cls = entry.get("classification")
        if cls:
            yield f"{entry.get('id') or 'Act ' + entry['act']}: {cls['code']} {cls['name']}"


def _counting_lines(decision: Mapping[str, Any]) -> Iterator[str]:
    yield f"{decision['crime_count']} crime(s) to record"
    for a in decision.get("absorbed", []):
        yield f"Act {a['act']} counted within {a['into']}: {a['why']}"


def _deadline_lines(decision: Mapping[str, Any]) -> Iterator[str]:
    d = decision.get("deadline") or {}
    if d.get("due"):
        yield f"Record by {d['due']}"
    if d.get("met") is not None:
        yield "Recorded in time" if d["met"] else "Recorded late"


def _presumption_lines(decision: Mapping[str, Any]) -> Iterator[str]:
    for p in decision.get("presumptions", []):
        yield f"{p['entity']}: {p['field']} presumed {answer_text(p['value'])}"
    for c in decision.get("crimes", []):
        if c.get("provisional"):
            yield f"{c['id']}: provisional classification"


_LINE_MAKERS: tuple[tuple[str, Callable[[Mapping[str, Any]], Iterator[str]]], ...] = (
    ("confirmation", _confirmation_lines),
    ("classification", _classification_lines), ("counting", _counting_lines),
    ("deadline", _deadline_lines), ("presumptions", _presumption_lines),
)


def answer_text(value: Any) -> str:
    """A fact's value in words: yes or no, not given, the text, or its JSON."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not given"
    if isinstance(value, list) and not value:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)


def _would_change(book: Rulebook, decision: Mapping[str, Any], trace: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each presumed fact's other answers, with what they give; then each rule that would have
    given another result, as ``hocr.explain.what_would_change`` words it (its pointer is the
    whole incident: the text names the facts)."""
    out = [{"pointer": p["pointer"], "answer": alt["value"], "effect": alt["summary"]}
           for p in decision.get("presumptions", []) for alt in p["alternatives"]]
    out += [{"pointer": "", "answer": None, "effect": text}
            for text in explain.what_would_change({**decision, "trace": trace}, book)]
    return out
