"""Benchmark: the wall time of `hocr check` on one example, from a warm and from an empty cache,
beside `python -c pass` (the floor: starting Python at all).

Run:  python bench/bench_startup.py [--rounds 10] [--cold-rounds 5] [--tiny] [--json OUT]

Every run is a new process (subprocess, no shell), started the way the CLI is run in the
checkout: `python -m hocr check examples/victim-report-recorded.json`. "Warm" runs share one
HOCR_CACHE_DIR filled by a first, untimed run; "empty" runs each get a fresh, empty
HOCR_CACHE_DIR. `import hocr.cli` is timed too, to show what importing costs before any work.
Figures are measurements, not assertions.

Bytecode: an installed hocr has .pyc files (pip compiles them), but a checkout run with
PYTHONDONTWRITEBYTECODE set (as the development environment does) compiles every module from
source on every run. So that the figures are what users get, every child runs with bytecode
written to and read from a private PYTHONPYCACHEPREFIX (a temporary folder, filled by the first,
untimed run), whatever the environment says; the output says so. One more row, "warm cache, no
bytecode", shows what compiling the modules from source costs on top, so that no cost is hidden.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib import REPO, Spread, machine, spread_cells, table, write_json

EXAMPLE = REPO / "examples" / "victim-report-recorded.json"
CHECK = [sys.executable, "-m", "hocr", "check", str(EXAMPLE)]


def child_env(cache_dir: Path, pycache: Path | None) -> dict[str, str]:
    """The child's environment: hocr's cache in ``cache_dir``; Python's bytecode in ``pycache``
    (written there and read back), or, when None, never written (every module compiled from
    source, as PYTHONDONTWRITEBYTECODE does)."""
    env = {**os.environ, "HOCR_CACHE_DIR": str(cache_dir)}
    env.pop("HOCR_NO_CACHE", None)
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def wall_ms(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float, int]:
    """One run's wall time and CPU time (user + system, of the child) in milliseconds, and its
    exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
    wall = (time.perf_counter() - t0) * 1e3
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3
    return wall, cpu, done.returncode


def rounds_of(cmd: Sequence[str], rounds: int, cache_dir: Path | None, codes: set[int],
              pycache: Path | None) -> tuple[Spread, Spread]:
    """``rounds`` runs, in ``cache_dir``, or each in a fresh empty cache directory when None, with
    bytecode in ``pycache`` (see :func:`child_env`): their wall times and CPU times."""
    walls, cpus = [], []
    for _ in range(rounds):
        if cache_dir is None:
            with tempfile.TemporaryDirectory(prefix="hocr-bench-cache-") as fresh:
                wall, cpu, rc = wall_ms(cmd, child_env(Path(fresh), pycache))
        else:
            wall, cpu, rc = wall_ms(cmd, child_env(cache_dir, pycache))
        walls.append(wall)
        cpus.append(cpu)
        codes.add(rc)
    return Spread.of(walls), Spread.of(cpus)


def run(rounds: int, cold_rounds: int) -> dict[str, Any]:
    codes: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="hocr-bench-warm-") as warm, \
            tempfile.TemporaryDirectory(prefix="hocr-bench-pyc-") as pyc:
        warm_dir, pycache = Path(warm), Path(pyc)
        # Fills hocr's cache and the bytecode of every module the runs below import; not timed.
        _, _, first = wall_ms(CHECK, child_env(warm_dir, pycache))
        wall_ms([sys.executable, "-c", "import hocr.cli"], child_env(warm_dir, pycache))
        both = {
            "floor": rounds_of([sys.executable, "-c", "pass"], rounds, warm_dir, set(), pycache),
            "import": rounds_of([sys.executable, "-c", "import hocr.cli"], rounds, warm_dir, set(), pycache),
            "warm": rounds_of(CHECK, rounds, warm_dir, codes, pycache),
            "warm_source": rounds_of(CHECK, rounds, warm_dir, codes, None),
            "empty": rounds_of(CHECK, cold_rounds, None, codes, pycache),
        }
    return {"machine": machine(), "rounds": rounds, "cold_rounds": cold_rounds, "bytecode": BYTECODE,
            "timings": {k: wall for k, (wall, _) in both.items()}, "cpu": {k: cpu for k, (_, cpu) in both.items()},
            "exit_codes": sorted(codes | {first}), "example": str(EXAMPLE.relative_to(REPO))}


BYTECODE = ("every module's bytecode written once to a private PYTHONPYCACHEPREFIX and read from it, "
            "as an installed hocr reads its .pyc files; the row \"warm cache, no bytecode\" compiles "
            "every module from source, as a checkout run with PYTHONDONTWRITEBYTECODE does")


LABELS = {
    "floor": "python -c pass (floor)",
    "import": "python -c 'import hocr.cli'",
    "warm": "hocr check, warm cache",
    "warm_source": "hocr check, warm cache, no bytecode",
    "empty": "hocr check, empty cache",
}


def render(result: dict[str, Any]) -> str:
    t, cpu = result["timings"], result["cpu"]
    rows = [[LABELS[k], *spread_cells(s), f"{s.ratio_to(t['floor']):.1f}x", f"{cpu[k].median:.1f}", str(s.rounds)]
            for k, s in t.items()]
    return (f"`python -m hocr check {result['example']}`, wall time (ms); exit codes {result['exit_codes']}; "
            f"Python {result['machine']['python']}, load {result['machine']['load_average']}\n"
            f"bytecode: {result['bytecode']}\n"
            + table(["ms (wall)", "min", "median", "max", "× floor", "CPU median", "rounds"], rows))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="runs of each warm measure")
    ap.add_argument("--cold-rounds", type=int, default=5, help="runs from an empty cache")
    ap.add_argument("--tiny", action="store_true", help="two warm runs and one cold (a smoke run)")
    ap.add_argument("--json", help="also write the figures to this file (for run_all.py)")
    args = ap.parse_args(argv)
    rounds, cold = (2, 1) if args.tiny else (args.rounds, args.cold_rounds)
    result = run(rounds, cold)
    print(render(result))
    write_json(args.json, result)


if __name__ == "__main__":
    main()
