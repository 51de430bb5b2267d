"""Benchmark: rulebook load time, the cost of one evaluation, and `hocr check` end to end.

Run:  python bench/bench_engine.py [--repeat N]

Figures are per-record costs measured in one run on this machine, with their ratios; they are
not assertions (speed is never tested by timed tests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hocr
from hocr import loader
from hocr.incident import check_incident

REPO = Path(__file__).resolve().parent.parent


def per_call(fn: Any, n: int) -> float:
    """Best of five runs of n calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=2000, help="evaluations per timing run")
    args = ap.parse_args()

    def timed_loads(no_disk_cache: bool) -> list[float]:
        times = []
        for _ in range(5):
            loader._cache.clear()
            if no_disk_cache:
                os.environ["HOCR_NO_CACHE"] = "1"
            t0 = time.perf_counter()
            hocr.load_rulebook(REPO / "rules")
            times.append(time.perf_counter() - t0)
            os.environ.pop("HOCR_NO_CACHE", None)
        return times

    parsed = timed_loads(no_disk_cache=True)  # parse YAML, check the schema, compile
    loads = timed_loads(no_disk_cache=False)  # the checked files come from the disk cache
    book = hocr.load_rulebook(REPO / "rules")
    t0 = time.perf_counter()
    hocr.load_rulebook(REPO / "rules")
    cached = time.perf_counter() - t0

    rows = []
    for path in sorted((REPO / "examples").glob("*.json")):
        raw = json.loads(path.read_text())
        prepared = check_incident(raw)
        n = args.repeat
        validate = per_call(lambda raw=raw: check_incident(raw), n)
        untraced = per_call(lambda p=prepared: hocr.evaluate(book, p), n)
        traced = per_call(lambda p=prepared: hocr.evaluate(book, p, trace=True), max(n // 4, 1))
        rows.append((path.name, validate, untraced, traced))

    ends = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hocr", "check", str(REPO / "examples" / "victim-report-recorded.json")],
                       capture_output=True, check=False)
        ends.append(time.perf_counter() - t0)

    print(f"rulebook: {len(book.rules)} rules, {len(book.decisions)} decisions, "
          f"{sum(len(v) for v in book.classifications.values())} classifications")
    print(f"load: parse, check and compile {statistics.median(parsed) * 1e3:.1f} ms; "
          f"from the disk cache {statistics.median(loads) * 1e3:.1f} ms; "
          f"again in the same process (hash check only) {cached * 1e3:.2f} ms")
    print()
    print(f"{'example':40} {'validate':>10} {'evaluate':>10} {'traced':>10}  (microseconds per incident)")
    for name, v, u, t in rows:
        print(f"{name:40} {v:10.1f} {u:10.1f} {t:10.1f}")
    mean_u = statistics.mean(r[2] for r in rows)
    mean_v = statistics.mean(r[1] for r in rows)
    mean_t = statistics.mean(r[3] for r in rows)
    print()
    print(f"mean evaluate {mean_u:.1f} us ({1e6 / mean_u:,.0f} incidents/s on one core); "
          f"validate+evaluate {mean_u + mean_v:.1f} us; traced/untraced {mean_t / mean_u:.1f}x")
    print(f"`hocr check` end to end (new process, load, check, print): median {statistics.median(ends) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
