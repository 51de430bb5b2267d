"""Benchmark: the cost per incident of checking and deciding, over every worked-case incident.

Run:  python bench/bench_mix.py [--rounds 7] [--tiny] [--json OUT]

The mix is every incident of the worked cases (tests/cases, read with hocr.cases) and of
examples/*.json, each once (duplicates dropped), with the case's as-of date. In one process and
one run, each round times, over the whole mix:

- the orjson parse of the incidents' JSON bytes: the floor, and the anchor every figure is a
  ratio to;
- ``check_incident``; ``evaluate`` untraced (the default backend); ``evaluate`` traced;
- the interpreter being replaced (``evaluate(..., backend="interpreted")``; while evaluate has no
  backends, the current evaluate is the interpreter and the row says so);
- end to end from JSON bytes: parse, check, evaluate, serialise the decision;
- GoRules zen-engine evaluating hocr's assault classification table (bench/zen_table.py) on the
  facts of every assault allegation of the mix, beside hocr deciding those same incidents.

Rounds are interleaved (round 1 of every measure, then round 2...) so that other work on the
machine falls on all of them alike; min / median / max are over rounds. Memory: the tracemalloc
peak of 1,000 calls, keeping or dropping their results, beside the anchor's. Figures are
measurements, not assertions (no test times anything).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import math
import resource
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from benchlib import REPO, Spread, machine, spread_cells, table, write_json

import hocr
from hocr.cases import case_incident, load_case_file
from hocr.engine import evaluate
from hocr.incident import LONDON, Incident, InvalidIncident, check_incident

MIN_SAMPLE_S = 0.05  # a round of a measure repeats its pass until it takes at least this long
TINY_MIX = 12
MEMORY_CALLS = 1000  # calls per memory measurement (tracemalloc makes each call several times slower)
TINY_MEMORY_CALLS = 50


@dataclass(frozen=True)
class Item:
    """One incident of the mix: its JSON bytes, as parsed, as checked, and its as-of date."""

    name: str
    data: bytes
    raw: Any
    checked: Incident
    as_of: dt.date | None


# ------------------------------------------------------------------ the mix


def worked_incidents() -> list[tuple[str, Any, dt.date | None]]:
    """Every worked case's incident (not the cases of bad input) and every example."""
    found = []
    for path in sorted((REPO / "tests" / "cases").rglob("*.yaml")):
        for case in load_case_file(path):
            if "error" in case.get("expect", {}):
                continue
            as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
            found.append((f"{path.relative_to(REPO)}: {case.get('name', '?')}", case_incident(case, path.parent), as_of))
    for path in sorted((REPO / "examples").glob("*.json")):
        found.append((str(path.relative_to(REPO)), json.loads(path.read_text(encoding="utf-8")), None))
    return found


def build_mix(book: Any, tiny: bool) -> tuple[list[Item], dict[str, int]]:
    """The mix, each incident once; counts of what was read, dropped as a duplicate or rejected."""
    found = worked_incidents()
    counts = {"read": len(found), "duplicates": 0, "rejected": 0}
    unique: dict[tuple[bytes, dt.date | None], str] = {}
    for name, raw, as_of in found:
        key = (orjson.dumps(raw), as_of)
        if key in unique:
            counts["duplicates"] += 1
        else:
            unique[key] = name
    keys = list(unique)
    if tiny:
        keys = _tiny(keys)
    items: list[Item] = []
    for data, as_of in keys:
        try:
            checked = check_incident(orjson.loads(data))
            evaluate(book, checked, as_of=as_of)
        except InvalidIncident:
            counts["rejected"] += 1  # e.g. an as-of date before the rulebook starts
            continue
        items.append(Item(unique[(data, as_of)], data, orjson.loads(data), checked, as_of))
    return items, counts


def _tiny(keys: list[tuple[bytes, dt.date | None]]) -> list[tuple[bytes, dt.date | None]]:
    """A few incidents spread over the mix, one of them an assault (so zen has work)."""
    picked = keys[:: max(1, len(keys) // TINY_MIX)][:TINY_MIX]
    assault = next((k for k in keys if b'"kind":"assault"' in k[0] and k[1] is None), None)
    return picked + [assault] if assault and assault not in picked else picked


# ------------------------------------------------------------------ what evaluate offers


def has_backends() -> bool:
    return "backend" in inspect.signature(evaluate).parameters


def json_path() -> tuple[Callable[[bytes], Any], Callable[[Any], bytes], str]:
    """hocr's own reading and writing of JSON: hocr.jsonio where it exists, else what the CLI does."""
    try:
        from hocr import jsonio
    except ImportError:
        from hocr.incident import parse_json

        return (lambda b: parse_json(b.decode("utf-8")),
                lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8"),
                "hocr.incident.parse_json + json.dumps (no hocr.jsonio yet)")
    return jsonio.loads, jsonio.dumps, "hocr.jsonio.loads + hocr.jsonio.dumps"


def interpreter(book: Any) -> tuple[Callable[[Item], Any], str]:
    if has_backends():
        return (lambda it: evaluate(book, it.checked, as_of=it.as_of, backend="interpreted"),
                'evaluate(..., backend="interpreted")')
    return (lambda it: evaluate(book, it.checked, as_of=it.as_of),
            "the current evaluate (no compiled backend yet: it is the interpreter)")


def identical_backends(book: Any, items: Sequence[Item]) -> int | None:
    """How many of the mix's decisions are byte-identical between the backends (None: no backends)."""
    if not has_backends():
        return None
    same = 0
    for it in items:
        a = evaluate(book, it.checked, as_of=it.as_of, backend="compiled")
        b = evaluate(book, it.checked, as_of=it.as_of, backend="interpreted")
        same += json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return same


# ------------------------------------------------------------------ the measures


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    one: Callable[[Any], Any]  # one call on one element of `over`
    over: Sequence[Any]
    unit: str = "incident"


def hocr_measures(book: Any, items: Sequence[Item]) -> list[Measure]:
    loads, dumps, _ = json_path()
    interpreted, _ = interpreter(book)
    return [
        Measure("parse", "orjson parse (floor, anchor)", lambda it: orjson.loads(it.data), items),
        Measure("check", "check_incident", lambda it: check_incident(it.raw), items),
        Measure("evaluate", "evaluate untraced", lambda it: evaluate(book, it.checked, as_of=it.as_of), items),
        Measure("traced", "evaluate traced", lambda it: evaluate(book, it.checked, as_of=it.as_of, trace=True), items),
        Measure("interpreted", "interpreter (being replaced)", interpreted, items),
        Measure("end_to_end", "end to end from JSON bytes",
                lambda it: dumps(evaluate(book, check_incident(loads(it.data)), as_of=it.as_of)), items),
    ]


def one_pass(m: Measure) -> None:
    fn = m.one
    for x in m.over:
        fn(x)


def repeats_for(m: Measure) -> int:
    """Passes per round so that a round takes at least MIN_SAMPLE_S (after one warm-up pass)."""
    one_pass(m)
    t0 = time.perf_counter()
    one_pass(m)
    took = time.perf_counter() - t0
    return max(1, math.ceil(MIN_SAMPLE_S / took)) if took > 0 else 1000


def run_rounds(measures: Sequence[Measure], rounds: int) -> tuple[dict[str, Spread], dict[str, Spread]]:
    """Microseconds per call of each measure over interleaved rounds: the CPU time of this
    process (which the other work on a shared machine does not inflate), and the wall time."""
    reps = {m.key: repeats_for(m) for m in measures}
    cpu: dict[str, list[float]] = {m.key: [] for m in measures}
    wall: dict[str, list[float]] = {m.key: [] for m in measures}
    for _ in range(rounds):
        for m in measures:
            gc.collect()
            calls = reps[m.key] * len(m.over)
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(reps[m.key]):
                one_pass(m)
            wall[m.key].append((time.perf_counter() - t0) * 1e6 / calls)
            cpu[m.key].append((time.process_time() - c0) * 1e6 / calls)
    return {k: Spread.of(v) for k, v in cpu.items()}, {k: Spread.of(v) for k, v in wall.items()}


def memory(m: Measure, calls: int) -> dict[str, int]:
    """The tracemalloc peak (bytes) of ``calls`` calls, keeping every result, and dropping each."""
    inputs = [m.over[i % len(m.over)] for i in range(calls)]
    fn = m.one
    out = {}
    for mode in ("kept", "dropped"):
        gc.collect()
        tracemalloc.start()
        kept = []
        for x in inputs:
            result = fn(x)
            if mode == "kept":
                kept.append(result)
        out[mode] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del kept, result
    return out


# ------------------------------------------------------------------ zen-engine


def zen_setup(book: Any, items: Sequence[Item]) -> dict[str, Any] | None:
    """The zen decision, the assault contexts of the mix, and the incidents they come from;
    None when zen-engine is not installed (pip install -e '.[bench]')."""
    try:
        import zen
    except ImportError:
        return None
    import zen_table

    from hocr.presumptions import presume

    rule = zen_table.find_rule(REPO / "rules")
    start = zen_table.in_force_from(rule)
    content = zen.ZenDecisionContent(json.dumps(zen_table.jdm(rule)))
    engine = zen.ZenEngine({"loader": lambda key: content})  # the documented precompiled loader
    decision = engine.create_decision(content)
    allegations, incidents = [], []
    for it in items:
        day = it.as_of or it.checked.facts["report"]["received_at"].astimezone(LONDON).date()
        if day < start:
            continue  # an earlier edition's assault table decides these
        filled, _ = presume(book.presumptions, it.checked.facts, day)
        found = zen_table.contexts(rule, filled)
        if found:
            incidents.append(it)
            allegations += [(it, act, victim, ctx) for act, victim, ctx in found]
    return {"engine": engine, "decision": decision, "allegations": allegations, "incidents": incidents,
            "rule": rule["id"], "decision_name": rule["decision"], "version": _version("zen-engine")}


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def zen_measures(book: Any, z: dict[str, Any]) -> list[Measure]:
    engine, decision = z["engine"], z["decision"]
    contexts = [a[3] for a in z["allegations"]]
    as_text = [json.dumps(c) for c in contexts]
    return [
        Measure("zen_engine", "zen: engine.evaluate (precompiled loader), dict", lambda c: engine.evaluate("t", c), contexts, "evaluation"),
        Measure("zen_engine_text", "zen: engine.evaluate (precompiled loader), JSON text", lambda c: engine.evaluate("t", c), as_text, "evaluation"),
        Measure("zen_decision", "zen: decision.evaluate (create_decision once), dict", decision.evaluate, contexts, "evaluation"),
        Measure("hocr_assaults", "hocr evaluate untraced, the same incidents",
                lambda it: evaluate(book, it.checked, as_of=it.as_of), z["incidents"]),
    ]


def zen_agreement(book: Any, z: dict[str, Any]) -> tuple[int, int, int]:
    """Of the allegations whose act hocr's trace shows classed by the same rule (for that victim,
    or for an act with one victim), how many zen classed alike: (agreed, compared, and of the
    others how many zen matched no row for)."""
    victims_of = {(id(it), act): 0 for it, act, _, _ in z["allegations"]}
    for it, act, _, _ in z["allegations"]:
        victims_of[id(it), act] += 1
    agreed = compared = no_row = 0
    for it, act, victim, ctx in z["allegations"]:
        code = z["engine"].evaluate("t", ctx)["result"].get("code")
        trace = evaluate(book, it.checked, as_of=it.as_of, trace=True)["trace"]
        codes = [e["value"]["code"] for e in trace
                 if e.get("decision") == z["decision_name"] and e.get("rule") == z["rule"]
                 and e.get("state") == "value" and _scope_is(e.get("scope"), act, victim, victims_of[id(it), act] == 1)]
        if len(codes) == 1:
            compared += 1
            agreed += code == codes[0]
        else:
            no_row += code is None
    return agreed, compared, no_row


def _scope_is(scope: Any, act: str, victim: str, only_victim: bool) -> bool:
    """Whether a trace scope ("act A1", "act A1 victim V1"...) is this allegation's."""
    words = str(scope).split()
    return words[:2] == ["act", act] and (victim in words[2:] or (only_victim and len(words) == 2))


# ------------------------------------------------------------------ the report


def run(rounds: int, tiny: bool) -> dict[str, Any]:
    book = hocr.load_rulebook()
    items, counts = build_mix(book, tiny)
    measures = hocr_measures(book, items)
    z = zen_setup(book, items)
    if z and z["allegations"]:
        measures += zen_measures(book, z)
    timings, wall = run_rounds(measures, rounds)
    mem_keys = ("parse", "check", "evaluate", "traced", "end_to_end")
    calls = TINY_MEMORY_CALLS if tiny else MEMORY_CALLS
    mem = {m.key: memory(m, calls) for m in measures if m.key in mem_keys}
    result: dict[str, Any] = {
        "machine": machine(), "rounds": rounds, "tiny": tiny, "mix": {**counts, "measured": len(items)},
        "labels": {m.key: m.label for m in measures}, "units": {m.key: m.unit for m in measures},
        "timings": timings, "wall": wall, "memory": mem, "memory_calls": calls, "json_path": json_path()[2], "interpreter": interpreter(book)[1],
        "backends": has_backends(), "identical": identical_backends(book, items),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    if z is not None:
        agreed, compared, no_row = zen_agreement(book, z)
        result["zen"] = {"version": z["version"], "rule": z["rule"], "allegations": len(z["allegations"]),
                         "incidents": len(z["incidents"]), "agreed": agreed, "compared": compared, "no_row": no_row}
    return result


def render(result: dict[str, Any]) -> str:
    t, anchor, wall = result["timings"], result["timings"]["parse"], result["wall"]
    rows = [[result["labels"][k], *spread_cells(s), f"{s.ratio_to(anchor):.1f}x", f"{wall[k].median:.1f}",
             result["units"][k]] for k, s in t.items()]
    out = [f"mix: {result['mix']['measured']} incidents ({result['mix']['read']} read, "
           f"{result['mix']['duplicates']} duplicates, {result['mix']['rejected']} rejected); "
           f"{result['rounds']} rounds; Python {result['machine']['python']}; {result['machine']['cpu']}, "
           f"{result['machine']['cores']} cores, load {result['machine']['load_average']}",
           table(["µs per call (CPU)", "min", "median", "max", "× parse", "wall median", "per"], rows)]
    if "interpreted" in t and "evaluate" in t:
        out.append(f"interpreter / evaluate untraced: {t['interpreted'].median / t['evaluate'].median:.2f}x; "
                   f"traced / untraced: {t['traced'].median / t['evaluate'].median:.2f}x")
    out.append(f"interpreter row: {result['interpreter']}; end to end uses {result['json_path']}")
    if result["identical"] is not None:
        out.append(f"compiled and interpreted decisions byte-identical on {result['identical']} of {result['mix']['measured']}")
    out.append(render_memory(result))
    out.append(render_zen(result))
    return "\n".join(out)


def render_memory(result: dict[str, Any]) -> str:
    mem, anchor = result["memory"], result["memory"]["parse"]
    rows = [[result["labels"][k], f"{m['kept'] / 1024:.0f}", f"{m['kept'] / anchor['kept']:.1f}x",
             f"{m['dropped'] / 1024:.0f}"] for k, m in mem.items()]
    return (f"memory, tracemalloc peak of {result['memory_calls']:,} calls (KiB):\n"
            + table(["", "results kept", "× parse", "results dropped"], rows)
            + f"\nprocess peak RSS {result['maxrss_kb'] / 1024:.0f} MiB")


def render_zen(result: dict[str, Any]) -> str:
    z = result.get("zen")
    if z is None:
        return "zen-engine: not installed (pip install -e '.[bench]'): no comparison"
    return (f"zen-engine {z['version']}: table {z['rule']} on {z['allegations']} assault allegations of "
            f"{z['incidents']} incidents; zen's class equals the one that table gave in hocr's trace on "
            f"{z['agreed']} of the {z['compared']} allegations where the trace shows it; on the other "
            f"{z['allegations'] - z['compared']}, zen matched no row on {z['no_row']} (hocr: the table undetermined, "
            "e.g. no intent presumed for an act whose class is named)")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, help="timed rounds of every measure (default 5; 2 with --tiny)")
    ap.add_argument("--tiny", action="store_true", help=f"{TINY_MIX} incidents of the mix (a smoke run)")
    ap.add_argument("--json", help="also write the figures to this file (for run_all.py)")
    args = ap.parse_args(argv)
    result = run(args.rounds or (2 if args.tiny else 5), args.tiny)
    print(render(result))
    write_json(args.json, result)


if __name__ == "__main__":
    main()
