"""Benchmark: `hocr audit` on generated files, with 1 and 2 workers: wall time, µs per line, peak
resident memory, and whether the summaries of 1 and 2 workers are identical.

Run:  python bench/bench_audit.py              # 10,000 lines, 3 rounds each (a few minutes)
      python bench/bench_audit.py --full       # also 1,000,000 lines (one round each: long)
      python bench/bench_audit.py --large N    # or a large file of N lines
      python bench/bench_audit.py --memo ...   # the engine memoised: the audit's own cost alone
      python bench/bench_audit.py --full --workers 2 --rounds 1   # the target's run alone

The lines are generated from the worked cases (tests/cases/**.yaml) and the examples
(examples/*.json), each given a force record made from the rules' own decision (so most lines are
correct) and perturbed on a share of lines (a crime dropped, a classification changed, a crime
recorded late, a second record of one crime), plus the shipped audit sample (every kind of
discrepancy). Lines are repeated with fresh ids to the size asked for.

Each audit runs in a fresh process through the command's own code path (report.audit_to_files,
with a CSV of discrepancies and a results file written), so that its peak memory (ru_maxrss: the
parent's, and the largest worker's) is its own. The audit's own cost per line (reading, comparing,
counting, writing) is measured apart from the engine's (check_incident and evaluate on the same
lines, in one process). Figures are per-line costs measured on this machine in one run; they are
not assertions (speed is never tested by timed tests).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "audit-sample.jsonl"
ID_MARK = "\u0000ID\u0000"


def _incidents() -> Iterator[dict[str, Any]]:
    """Every worked-case incident that is valid, and every example incident."""
    from hocr.cases import case_incident, load_case_file

    for path in sorted((REPO / "tests" / "cases").rglob("*.yaml")):
        for case in load_case_file(path):
            if "error" in case.get("expect", {}) or "as_of" in case:
                continue
            yield copy.deepcopy(case_incident(case, path.parent))
    for path in sorted((REPO / "examples").glob("*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


def _later(text: str, hours: int) -> str:
    return (dt.datetime.fromisoformat(text) + dt.timedelta(hours=hours)).isoformat()


def _force_record(decision: dict[str, Any], received: str, n: int) -> dict[str, Any]:
    """The force's record as the rules would make it, perturbed on some lines."""
    crimes = [{"ref": f"R{n}-{k}", "classification": c["classification"]["code"], "acts": c["acts"],
               **({"victim": c["victim"]} if c.get("victim") else {}), "recorded_at": _later(received, 1)}
              for k, c in enumerate(decision["crimes"])]
    if crimes and n % 5 == 1:
        crimes.pop(0)  # a crime not recorded
    elif crimes and n % 5 == 2:
        crimes[0]["classification"] = "44" if crimes[0]["classification"] != "44" else "49"
    elif crimes and n % 5 == 3:
        crimes[0]["recorded_at"] = _later(received, 60)  # late
    elif crimes and n % 7 == 4:
        crimes.append({**crimes[0], "ref": crimes[0]["ref"] + "b"})  # one crime recorded twice
    return {"crimes": crimes}


def templates() -> list[str]:
    """One JSON line per generated incident, with ID_MARK where its id goes."""
    from hocr.audit import audit_line, report_groups
    from hocr.engine import evaluate
    from hocr.loader import load_rulebook

    book = load_rulebook()
    groups = report_groups(book)
    out = [x for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip()]
    for n, inc in enumerate(_incidents()):
        inc.pop("force_record", None)
        try:
            decision = evaluate(book, inc)
            inc["force_record"] = _force_record(decision, inc["report"]["received_at"], n)
        except Exception:  # noqa: BLE001 - a case the generator cannot turn into an audit line
            continue
        line = json.dumps(inc, ensure_ascii=False)
        if audit_line(book, 1, line, groups).kind == "evaluated":
            out.append(line)
    return [json.dumps({**json.loads(x), "id": ID_MARK}, ensure_ascii=False) for x in out]


def make_file(path: Path, lines: int, lines_of: Sequence[str]) -> None:
    mark = json.dumps(ID_MARK)
    with path.open("w", encoding="utf-8") as f:
        for n in range(lines):
            f.write(lines_of[n % len(lines_of)].replace(mark, f'"B-{n}"') + "\n")


def memoise_engine(book: Any, path: str) -> None:
    """Replace the audit's check_incident and evaluate by look-ups, made before the clock starts:
    each line of the file is checked and evaluated once, its answers kept under the line's id
    (every generated line has its own), so what is measured is the audit's own cost (reading,
    parsing, comparing, counting, writing) and a dict look-up. Holding every decision costs
    memory: peak memory with --memo is not the audit's."""
    from hocr import audit
    from hocr.jsonio import loads

    check, evaluate = audit.check_incident, audit.evaluate
    memo: dict[str, tuple[Any, Any]] = {}
    with open(path, "rb") as f:
        for raw in f:
            data = loads(raw)
            try:
                inc = check(data)
                memo[data["id"]] = (inc, evaluate(book, inc))
            except Exception:  # noqa: BLE001, S112 - a line the audit reports as bad: it meets the real engine
                continue
    last: list[Any] = [None]

    def checked(data: Any) -> Any:
        found = memo.get(data.get("id")) if isinstance(data, dict) else None
        if found is None:
            last[0] = None
            return check(data)
        last[0] = found
        return found[0]

    audit.check_incident = checked  # type: ignore[assignment]
    audit.evaluate = lambda b, inc: last[0][1] if last[0] is not None else evaluate(b, inc)  # type: ignore[assignment]
    import gc

    gc.collect()
    gc.freeze()  # the memo is not the audit's: keep the collector from walking it on every pass


def inner(path: str, workers: int, memo: bool) -> None:
    """Run one audit in this process, as `hocr audit FILE --csv --results --workers N` does, and
    print its figures as JSON."""
    from hocr.loader import load_rulebook
    from hocr.report import AuditOptions, audit_to_files

    book = load_rulebook()  # compiled (or read from the disk cache) before the clock starts
    if memo:
        memoise_engine(book, path)  # before the workers are forked: they inherit it
    with tempfile.TemporaryDirectory() as tmp, open(path, "rb") as stream:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = audit_to_files(AuditOptions(source=path, stream=stream, workers=workers,
                                              csv_path=Path(tmp) / "d.csv", results_path=Path(tmp) / "r.jsonl",
                                              err=open(os.devnull, "w")), book.info())  # noqa: SIM115
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ.get("HOCR_BENCH_SUMMARY_DIR", tmp_dir()) + f"/summary-{workers}.json", "w") as f:
        json.dump(summary, f, sort_keys=True, indent=1)
    print(json.dumps({
        "lines": summary["lines"]["read"],
        "wall_s": wall,
        "parent_cpu_s": cpu,
        "workers_cpu_s": kids.ru_utime + kids.ru_stime,
        "maxrss_kb": peak_kb(),
        "children_maxrss_kb": kids.ru_maxrss,
        "summary_sha256": hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest(),
    }))


def peak_kb() -> int:
    """This process's own peak resident memory (VmHWM). Not ru_maxrss: a process started by
    fork and exec keeps the peak of the process that forked it (here, the one that made the file)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def tmp_dir() -> str:
    return tempfile.gettempdir()


def engine_cost(path: Path, most: int = 3000) -> float:
    """CPU µs per line of check_incident + evaluate alone, on the first lines of the file."""
    from hocr.engine import evaluate
    from hocr.incident import check_incident
    from hocr.loader import load_rulebook

    book = load_rulebook()
    with path.open(encoding="utf-8") as f:  # only the first lines: the file may be large
        data = [json.loads(line) for _, line in zip(range(most), f, strict=False)]
    t0 = time.process_time()
    for d in data:
        evaluate(book, check_incident(d))
    return 1e6 * (time.process_time() - t0) / len(data)


def measure(path: Path, workers: int, memo: bool) -> dict[str, Any]:
    env = {**os.environ, "HOCR_BENCH_SUMMARY_DIR": str(path.parent)}
    r = subprocess.run([sys.executable, __file__, "--inner", str(path), str(workers), str(int(memo))],
                       capture_output=True, text=True, check=True, env=env)
    result: dict[str, Any] = json.loads(r.stdout)
    return result


def spread(values: Sequence[float], fmt: str) -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return (f"{format(statistics.median(values), fmt)} (min {format(min(values), fmt)}, "
            f"max {format(max(values), fmt)})")


def report(label: str, runs: Sequence[dict[str, Any]]) -> None:
    lines = runs[0]["lines"]
    print(f"{label}: {len(runs)} round(s)")
    print(f"  wall {spread([r['wall_s'] for r in runs], '.2f')} s; "
          f"{spread([1e6 * r['wall_s'] / lines for r in runs], '.0f')} µs per line")
    print(f"  CPU per line: parent {spread([1e6 * r['parent_cpu_s'] / lines for r in runs], '.0f')} µs, "
          f"workers {spread([1e6 * r['workers_cpu_s'] / lines for r in runs], '.0f')} µs")
    print(f"  peak memory: parent {spread([r['maxrss_kb'] / 1024 for r in runs], '.1f')} MB, "
          f"largest worker {spread([r['children_maxrss_kb'] / 1024 for r in runs], '.1f')} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=10_000, help="lines in the small file (default 10,000)")
    ap.add_argument("--large", type=int, default=0, help="lines in a large file (default none)")
    ap.add_argument("--full", action="store_true", help="the large file has 1,000,000 lines")
    ap.add_argument("--rounds", type=int, default=3, help="rounds on the small file (default 3)")
    ap.add_argument("--memo", action="store_true",
                    help="memoise the engine (each distinct incident checked and evaluated once): the audit's own cost")
    ap.add_argument("--workers", default="1,2",
                    help="worker counts to run, comma-separated (default 1,2; --full --workers 2 for the target alone)")
    ap.add_argument("--inner", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args.inner[0], int(args.inner[1]), args.inner[2] == "1")
        return
    large = 1_000_000 if args.full else args.large
    counts = [int(w) for w in args.workers.split(",")]
    lines_of = templates()
    with tempfile.TemporaryDirectory() as tmp:
        sizes = [(args.small, args.rounds)] + ([(large, 1)] if large else [])
        print(("engine memoised (--memo): the figures are the audit's own cost\n" if args.memo else "")
              + f"{len(lines_of)} distinct generated lines; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} at the start (other work on the machine slows every figure); "
              f"Python {sys.version.split()[0]}")
        peaks: dict[tuple[int, int], float] = {}
        for size, rounds in sizes:
            path = Path(tmp) / f"{size}.jsonl"
            make_file(path, size, lines_of)
            engine = engine_cost(path)
            print(f"\n{size:,} lines ({path.stat().st_size / 1e6:.1f} MB); engine alone "
                  f"(check_incident + evaluate): {engine:.0f} µs per line")
            hashes = set()
            for workers in counts:
                runs = [measure(path, workers, args.memo) for _ in range(rounds)]
                report(f"{size:,} lines, {workers} worker(s)", runs)
                if workers == 1:
                    own = statistics.median(1e6 * r["parent_cpu_s"] / r["lines"] for r in runs)
                    print(f"  the audit's own CPU per line (the engine's answers looked up): {own:.0f} µs" if args.memo
                          else f"  the audit's own CPU per line (all CPU less the engine's): {own - engine:.0f} µs")
                hashes |= {r["summary_sha256"] for r in runs}
                peaks[size, workers] = statistics.median(r["maxrss_kb"] for r in runs)
            print(f"  summaries of {' and '.join(map(str, counts))} workers identical: "
                  f"{'yes' if len(hashes) == 1 else 'NO'}")
            if len(hashes) > 1 and len(counts) > 1:
                one, two = (json.loads((path.parent / f"summary-{w}.json").read_text()) for w in counts[:2])
                print("  differing keys: " + ", ".join(k for k in one if one[k] != two.get(k)))
        if large:
            for workers in counts:
                ratio = peaks[large, workers] / peaks[args.small, workers]
                print(f"peak memory (parent), {workers} worker(s): {large:,} lines / {args.small:,} lines = {ratio:.3f}")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
