"""Benchmark: the cost of filling an incident's unstated facts (hocr.presumptions), over the mix.

Run:  python bench/bench_presume.py [--rounds 7] [--tiny]

The mix is bench_mix.py's: every worked-case incident and example, each once, with its as-of
date. For each incident, as ``evaluate`` calls them:

- ``presume`` on the checked incident's facts, on its day: over the whole mix, and apart over
  the incidents where nothing is presumed and those where something is;
- ``with_answer`` for each presumed fact (each Applied pointer) with each of its other answers;
- ``presume`` again on each of those (the re-decision's pass), so the two together are what one
  other answer costs before it is decided.

Rounds are interleaved (round 1 of every measure, then round 2...); min / median / max are over
rounds, in µs of this process's CPU per call. Figures are measurements, not assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from bench_mix import Measure, build_mix, run_rounds
from benchlib import machine, spread_cells, table

import hocr
from hocr.incident import LONDON
from hocr.presumptions import presume, with_answer


def calls(book: Any, tiny: bool) -> list[Measure]:
    """The measures: presume over the mix (all, nothing presumed, something presumed),
    with_answer for every presumed fact and other answer, and presume on its result."""
    items, _ = build_mix(book, tiny)
    ps = book.presumptions
    firsts: list[tuple[Any, dt.date]] = []
    answers: list[tuple[Any, str, Any, dt.date]] = []
    for it in items:
        facts = it.checked.facts
        day = it.as_of or facts["report"]["received_at"].astimezone(LONDON).date()
        firsts.append((facts, day))
        _, applied = presume(ps, facts, day)
        answers += [(facts, a.pointer, alt, day) for a in applied for alt in a.presumption.alternatives]
    none = [(f, d) for f, d in firsts if not presume(ps, f, d)[1]]
    some = [(f, d) for f, d in firsts if presume(ps, f, d)[1]]
    stated = [(with_answer(f, ptr, alt), d) for f, ptr, alt, d in answers]
    fill = lambda x: presume(ps, x[0], x[1])  # noqa: E731
    return [m for m in (
        Measure("all", f"presume, every incident ({len(firsts)})", fill, firsts),
        Measure("none", f"presume, nothing presumed ({len(none)})", fill, none),
        Measure("some", f"presume, something presumed ({len(some)})", fill, some),
        Measure("with_answer", f"with_answer, each other answer ({len(answers)})",
                lambda x: with_answer(x[0], x[1], x[2]), answers),
        Measure("again", f"presume on with_answer's result ({len(stated)})", fill, stated),
    ) if m.over]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, help="timed rounds of every measure (default 7; 2 with --tiny)")
    ap.add_argument("--tiny", action="store_true", help="a few incidents of the mix (a smoke run)")
    args = ap.parse_args(argv)
    book = hocr.load_rulebook()
    measures = calls(book, args.tiny)
    spreads, _ = run_rounds(measures, args.rounds or (2 if args.tiny else 7))
    m = machine()
    print(f"hocr.presumptions from {os.path.dirname(hocr.__file__)}; {len(book.presumptions)} presumptions; "
          f"Python {m['python']}; {m['cpu']}, {m['cores']} cores, load {m['load_average']}")
    print(table(["µs per call (CPU)", "min", "median", "max"],
                [[meas.label, *spread_cells(spreads[meas.key], 2)] for meas in measures]))


if __name__ == "__main__":
    main()
