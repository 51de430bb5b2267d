"""Benchmark: `hocr audit` throughput (incidents per second) on one core and with workers, and
peak memory on a small and a large file (memory must not grow with the file).

Run:  python bench/bench_audit.py [--lines 100000] [--small 10000] [--workers 2]

The incidents are the shipped sample (examples/audit-sample.jsonl: each kind of discrepancy,
N100, cancellations, outcomes) repeated with fresh ids. Each measurement runs in a fresh process
so that its peak resident memory (ru_maxrss, with its worker processes counted separately) is
its own. Figures are per-record costs and ratios measured in one run on this machine; they are
not assertions (speed is never tested by timed tests).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "audit-sample.jsonl"


def make_file(path: Path, lines: int) -> None:
    templates = [json.loads(x) for x in SAMPLE.read_text().splitlines() if x.strip()]
    with path.open("w", encoding="utf-8") as f:
        for n in range(lines):
            inc = templates[n % len(templates)]
            inc["id"] = f"B-{n}"
            f.write(json.dumps(inc, ensure_ascii=False) + "\n")


def inner(path: str, workers: int) -> None:
    """Run one audit in this process and print its figures as JSON."""
    from hocr.audit import run_audit
    from hocr.loader import load_rulebook

    load_rulebook()  # compile (or read the disk cache) before the clock starts
    t0 = time.perf_counter()
    c0 = time.process_time()
    with open(path, "rb") as f:
        summary = run_audit(f, workers=workers)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "workers_cpu_s": kids.ru_utime + kids.ru_stime,
        "lines": summary.read,
        "evaluated": summary.lines["evaluated"],
        "wall_s": wall,
        "parent_cpu_s": cpu,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }))


def measure(path: Path, workers: int) -> dict[str, float]:
    r = subprocess.run([sys.executable, __file__, "--inner", str(path), str(workers)],
                       capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(r.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000, help="lines in the large file")
    ap.add_argument("--small", type=int, default=10_000, help="lines in the small file (memory comparison)")
    ap.add_argument("--workers", type=int, default=2, help="workers for the parallel run")
    ap.add_argument("--inner", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args.inner[0], int(args.inner[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.jsonl", Path(tmp) / "small.jsonl"
        make_file(big, args.lines)
        make_file(small, args.small)
        print(f"files: {args.lines:,} lines ({big.stat().st_size / 1e6:.1f} MB) and {args.small:,} lines; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start "
              "(other work on the machine slows the parallel run most); Python " + sys.version.split()[0])
        s1 = measure(small, 1)
        b1 = measure(big, 1)
        bw = measure(big, args.workers)
    per_line = 1e6 * b1["wall_s"] / b1["lines"]
    print(f"one core:    {b1['lines'] / b1['wall_s']:,.0f} incidents/s ({per_line:.0f} µs per incident), "
          f"{b1['wall_s']:.1f} s for {b1['lines']:,} lines; CPU {1e6 * b1['parent_cpu_s'] / b1['lines']:.0f} µs per incident")
    print(f"{args.workers} workers:   {bw['lines'] / bw['wall_s']:,.0f} incidents/s, {bw['wall_s']:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f} at the end); speed-up {b1['wall_s'] / bw['wall_s']:.2f}x; "
          f"CPU {1e6 * bw['workers_cpu_s'] / bw['lines']:.0f} µs per incident in the workers "
          f"+ {1e6 * bw['parent_cpu_s'] / bw['lines']:.0f} µs in the parent (reading, sending, counting)")
    print("  (on a machine with idle cores the speed-up approaches the workers' number less the parent's share; "
          "on a busy one wall-clock figures follow the CPU the scheduler gives, and CPU per incident is the "
          "figure to compare)")
    print(f"peak memory, one core: {s1['maxrss_kb'] / 1024:.1f} MB for {s1['lines']:,} lines, "
          f"{b1['maxrss_kb'] / 1024:.1f} MB for {b1['lines']:,} lines (ratio {b1['maxrss_kb'] / s1['maxrss_kb']:.2f} "
          f"for {b1['lines'] / s1['lines']:.0f}x the lines)")
    print(f"peak memory, {args.workers} workers: parent {bw['maxrss_kb'] / 1024:.1f} MB, "
          f"largest worker {bw['children_maxrss_kb'] / 1024:.1f} MB")


if __name__ == "__main__":
    main()
