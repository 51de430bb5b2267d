"""The deep fuzz run: 100,000 hostile inputs (tests/hostile_strategies.py, profile "hostile-deep")
through the pipeline of `hocr check` (parse, check, evaluate traced, write as JSON and as text).

Run (one core; about 15 minutes alone):

    python bench/fuzz_deep.py [--examples 100000] [--generated] [--audit]

It counts how every input ended (invalid, decided, undetermined, conflict), the unexpected
exceptions and the outputs that were not valid UTF-8 (the target for both: 0), and the time;
with ``--audit`` it also sends each input through ``hocr.audit.audit_line`` and counts the lines
that ended in an internal error (target 0). The inputs are worked-case incidents made hostile
(``--generated`` adds schema-generated ones, about 7 times slower to draw). Figures from a run
are recorded in docs/hardening.md. Exit code 1 when anything unexpected happened.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from hostile_strategies import as_audit_line, hostile_incidents, outcome_of  # noqa: E402
from hypothesis import given, settings  # noqa: E402

from hocr.audit import audit_line, report_groups  # noqa: E402
from hocr.loader import load_rulebook  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--generated", action="store_true", help="also draw schema-generated incidents")
    parser.add_argument("--audit", action="store_true", help="also run each input through audit_line")
    args = parser.parse_args()
    book = load_rulebook()
    groups = report_groups(book)
    endings: Counter[str] = Counter()
    unexpected: list[str] = []
    audit_errors: list[str] = []

    started = time.perf_counter()

    @settings(settings.get_profile("hostile-deep"), max_examples=args.examples)
    @given(hostile_incidents(book, generated=args.generated))
    def run(value: Any) -> None:
        try:
            endings[outcome_of(book, value)] += 1
        except AssertionError as exc:  # counted, not raised: the run goes on and reports them all
            endings["unexpected"] += 1
            if len(unexpected) < 20:
                unexpected.append(str(exc)[:300])
        if args.audit:
            result = audit_line(book, 1, as_audit_line(value), groups)
            if result.kind == "internal_error":
                audit_errors.append("; ".join(result.problems))
        done = sum(endings.values())
        if done % 10_000 == 0:
            print(f"  {done:,} inputs, {time.perf_counter() - started:,.0f} s: " + ", ".join(
                f"{k} {v:,}" for k, v in sorted(endings.items())), file=sys.stderr, flush=True)

    run()
    seconds = time.perf_counter() - started
    total = sum(endings.values())
    print(f"inputs: {total:,} in {seconds:,.0f} s ({1000 * seconds / max(total, 1):.1f} ms each), one process")
    print("ended: " + ", ".join(f"{k} {v:,}" for k, v in sorted(endings.items())))
    print(f"unexpected exceptions or outputs not valid UTF-8: {endings['unexpected']:,}")
    if args.audit:
        print(f"audit lines ending in an internal error: {len(audit_errors):,}")
    for text in unexpected + audit_errors[:20]:
        print("  " + text)
    return 1 if endings["unexpected"] or audit_errors else 0


if __name__ == "__main__":
    sys.exit(main())
