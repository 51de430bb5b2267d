"""Count the work an untraced evaluation does over the mix: the figures of docs/engine.md's
"Where the time goes". Counts, not times, so no load on the machine changes them.

Run:  python bench/bench_work.py [--tiny] [--json FILE]

Every incident of bench_mix.py's mix is evaluated once (default backend, untraced) with the
engine's pass, reuse and decision functions wrapped to count their calls, and the generated
rule functions wrapped to count the conditions evaluated. The wrappers call what they wrap and
change nothing, which the script checks: every decision equals one made without them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_mix import build_mix
from benchlib import machine, table

import hocr
from hocr import codegen, engine

# (label in the table, counter key), in the order engine.md shows them.
ROWS = (
    ("passes of the pipeline: the one on the presumed facts, and one for each other answer decided", "passes"),
    ("other answers decided (the rest are ruled out by what the first pass read)", "answers"),
    ("of those, found unchanged (every decision as before) and so never assembled", "unchanged"),
    ("scopes of those passes taken whole from the first pass", "whole_scopes"),
    ("decisions of those passes looked at one by one", "looked_at"),
    ("of those, made again", "made_again"),
    ("decisions made by generated code, all passes", "compiled_decisions"),
    ("rule conditions evaluated by generated code", "conditions"),
)


def _counting(counts: Counter[str], key: str, fn: Callable[..., Any],
              counted: Callable[[Any], bool] = lambda _: True) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if counted(result):
            counts[key] += 1
        return result
    return wrapper


@contextmanager
def counted(book: Any, counts: Counter[str]) -> Iterator[None]:
    """Within the block, the engine's work is counted into ``counts``; restored after it."""
    saved = {name: getattr(engine, name) for name in ("_run_pass", "decide_compiled", "_alternative_decider")}
    run_saved = {name: getattr(engine._Run, name) for name in ("reused_scope", "decide_again")}
    prog = codegen.program(book)
    functions = [prog.load(f"r{n}") for n in range(len(prog.functions))]
    engine._run_pass = _counting(counts, "passes", saved["_run_pass"])
    engine.decide_compiled = _counting(counts, "compiled_decisions", saved["decide_compiled"])

    def alternative_decider(*args: Any, **kwargs: Any) -> Any:
        decide_with = saved["_alternative_decider"](*args, **kwargs)
        counting = _counting(counts, "answers", decide_with)
        return _counting(counts, "unchanged", counting, lambda r: r is engine.UNCHANGED)

    engine._alternative_decider = alternative_decider
    engine._Run.reused_scope = _counting(counts, "whole_scopes", run_saved["reused_scope"],
                                         lambda r: r is not None)

    def decide_again(self: Any, d: Any, scope: Any, label: str, redecided: set[str], reuse: Any) -> Any:
        counts["looked_at"] += 1
        if reuse.outcome(d, label, redecided) is None:
            counts["made_again"] += 1
        return run_saved["decide_again"](self, d, scope, label, redecided, reuse)

    engine._Run.decide_again = decide_again
    prog.functions[:] = [_counting(counts, "conditions", fn) for fn in functions]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(engine, name, fn)
        for name, fn in run_saved.items():
            setattr(engine._Run, name, fn)
        prog.functions[:] = functions


def count_work(tiny: bool) -> tuple[int, Counter[str]]:
    """The number of incidents of the mix and the work counted over them."""
    book = hocr.load_rulebook()
    items, _ = build_mix(book, tiny)
    plain = [engine.evaluate(book, it.checked, as_of=it.as_of) for it in items]
    counts: Counter[str] = Counter()
    with counted(book, counts):
        seen = [engine.evaluate(book, it.checked, as_of=it.as_of) for it in items]
    if seen != plain:
        raise SystemExit("counting changed a decision: the wrappers are wrong")
    return len(items), counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="a few incidents (a smoke run)")
    ap.add_argument("--json", type=Path, help="also write the counts per incident here")
    args = ap.parse_args()
    n, counts = count_work(args.tiny)
    per = {key: counts[key] / n for _, key in ROWS}
    m = machine()
    print(f"work of evaluate, untraced, over the mix: {n} incidents; hocr from {Path(hocr.__file__).parent}; "
          f"Python {m['python']}")
    print(table(["per incident", "count"], [[label, f"{per[key]:.2f}"] for label, key in ROWS]))
    if args.json:
        args.json.write_text(json.dumps({"incidents": n, "per_incident": per}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
