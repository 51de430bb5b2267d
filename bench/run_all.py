"""Run every benchmark and write docs/performance.md: the figures, the machine, the Python, the
date, and issue 13's targets beside the measured medians (met or not met).

Run:  python bench/run_all.py            # the mix, the start-up, the presumptions and the short audit; writes the doc
      python bench/run_all.py --full-audit   # the audit at its own default size (slower)
      python bench/run_all.py --tiny --out /tmp/perf.md   # a smoke run (never into docs/)

Each benchmark runs in its own process (so memory and imports are its own) and hands its figures
back as JSON; bench_presume.py and bench_audit.py print text, which is kept as printed (and,
for the audit, read for the targets where its lines say them).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import REPO, machine

BENCH = Path(__file__).resolve().parent
SHORT_AUDIT = ["--lines", "20000", "--small", "2000"]  # the older bench_audit.py's options
TINY_AUDIT = ["--lines", "400", "--small", "100"]
DOC = REPO / "docs" / "performance.md"


def run_json_bench(script: str, args: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run one benchmark that writes JSON; its printed table and its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        done = subprocess.run([sys.executable, str(BENCH / script), *args, "--json", str(out)],
                              capture_output=True, text=True, check=True)
        return done.stdout, json.loads(out.read_text(encoding="utf-8"))


def audit_args(tiny: bool, full: bool) -> list[str]:
    """The audit bench's arguments for a tiny, short (the default) or full run, for either of its
    two forms: files sized by --small and --full (rounds on 10,000 lines by default), or the older
    --lines and --small."""
    help_text = subprocess.run([sys.executable, str(BENCH / "bench_audit.py"), "--help"],
                               capture_output=True, text=True, check=False).stdout
    if "--full" in help_text:
        return ["--full"] if full else ["--small", "200", "--rounds", "1"] if tiny else []
    return [] if full else TINY_AUDIT if tiny else SHORT_AUDIT


def run_text_bench(script: str, args: Sequence[str]) -> str:
    """Run one benchmark that prints text; what it printed, or why it failed (the document says
    so, and the other benchmarks' figures are still written)."""
    done = subprocess.run([sys.executable, str(BENCH / script), *args],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        return f"{script} {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-2000:]}"
    return done.stdout


# ------------------------------------------------------------------ the targets


@dataclass(frozen=True)
class Target:
    what: str
    limit: str
    measured: str
    met: bool | None  # None: not measured here
    caveat: str = ""  # how the measure falls short of the target's own conditions

    def verdict(self) -> str:
        if self.met is None:
            return self.caveat or "not measured"
        text = "met" if self.met else "not met"
        return f"{text} ({self.caveat})" if self.caveat else text


def _median(result: dict[str, Any], key: str, kind: str = "timings") -> float | None:
    spread = result[kind].get(key)
    return None if spread is None else float(spread["median"])


def _at_most(what: str, value: float | None, limit: float, unit: str, limit_text: str = "",
             beside: float | None = None, beside_label: str = "") -> Target:
    """A target met when the value is at most the limit; ``beside`` is shown, not judged."""
    if value is None:
        return Target(what, limit_text or f"≤ {limit:g} {unit}", "—", None)
    shown = f"{value:,.1f} {unit}" + (f" ({beside_label} {beside:,.1f})" if beside is not None else "")
    return Target(what, limit_text or f"≤ {limit:g} {unit}", shown, value <= limit)


def mix_targets(mix: dict[str, Any]) -> list[Target]:
    """Judged on the CPU-time medians (the machine is shared: wall time waits for the CPU);
    the wall medians are shown beside them."""
    def per_incident(what: str, key: str, limit: float) -> Target:
        return _at_most(f"{what}, CPU per incident of the mix", _median(mix, key), limit, "µs",
                        beside=_median(mix, key, "wall"), beside_label="wall")

    untraced, traced = _median(mix, "evaluate"), _median(mix, "traced")
    ratio = traced / untraced if traced and untraced else None
    return [
        per_incident("evaluate untraced", "evaluate", 20),
        _at_most("evaluate traced / untraced (CPU medians)", ratio, 3, "×", "≤ 3× untraced"),
        per_incident("check_incident", "check", 25),
        per_incident("end to end from JSON bytes", "end_to_end", 60),
    ]


def startup_targets(startup: dict[str, Any]) -> list[Target]:
    """Judged on wall time, as the issue states them; the child's CPU time is shown beside."""
    def wall(what: str, key: str, limit: float, limit_text: str = "") -> Target:
        return _at_most(what, _median(startup, key), limit, "ms", limit_text,
                        beside=_median(startup, key, "cpu"), beside_label="CPU")

    floor = _median(startup, "floor")
    return [
        wall("`hocr check` from a warm cache, wall", "warm", 150),
        wall("`hocr check` from an empty cache, wall", "empty", 1000, "≤ 1 s"),
        Target("`python -c pass`, wall", "—", f"{floor:,.1f} ms" if floor else "—", None, "the floor (no target)"),
    ]


AUDIT_1M = "`hocr audit` of 1,000,000 lines, `--workers 2`"
AUDIT_MEMORY = "audit peak memory, 1,000,000 lines within 10% of 10,000"
AUDIT_SAME = "audit summary with 2 workers identical to 1 worker"


def audit_targets(text: str) -> list[Target]:
    """Read the audit's figures from its printed lines; where a line is not found, say so."""
    if "worker(s):" in text:
        return _audit_targets(text)
    return _old_audit_targets(text)


def _audit_targets(text: str) -> list[Target]:
    """bench_audit.py printing per file size "N lines, 2 worker(s): ... wall ...; X µs per line"."""
    runs = re.findall(r"^([\d,]+) lines, 2 worker\(s\): \d+ round\(s\)\n  wall [^;]+; ([\d.]+) .*\n"
                      r"  CPU per line: parent ([\d.]+).*?, workers ([\d.]+)", text, re.M)
    out = []
    if runs:
        size, per_line, parent, workers = max(runs, key=lambda r: int(r[0].replace(",", "")))
        lines = int(size.replace(",", ""))
        seconds = float(per_line)  # µs per line × 1,000,000 lines = seconds
        caveat = "" if lines >= 1_000_000 else f"extrapolated from {lines:,} lines"
        out.append(Target(AUDIT_1M, "≤ 60 s", f"{seconds:,.0f} s{_cpu_bound(parent, workers)}", seconds <= 60, caveat))
    else:
        out.append(Target(AUDIT_1M, "≤ 60 s", "see the audit output", None))
    memory = re.search(r"peak memory \(parent\), 2 worker\(s\): ([\d,]+) lines / ([\d,]+) lines = ([\d.]+)", text)
    if memory:
        ratio = float(memory.group(3))
        caveat = "" if memory.group(1, 2) == ("1,000,000", "10,000") else f"{memory.group(1)} against {memory.group(2)} lines"
        out.append(Target(AUDIT_MEMORY, "≤ 1.10", f"{ratio:.3f}", ratio <= 1.10, caveat))
    else:
        out.append(Target(AUDIT_MEMORY, "≤ 1.10", "no large file in this run (`--full-audit`)", None))
    same = re.findall(r"summaries of 1 and 2 workers identical: (yes|NO)", text)
    out.append(Target(AUDIT_SAME, "identical", ", ".join(same) or "—", all(s == "yes" for s in same) if same else None))
    return out


def _cpu_bound(parent_us: str, workers_us: str) -> str:
    """What the CPU per line would take for 1,000,000 lines on two otherwise idle cores."""
    seconds = max(float(parent_us), (float(parent_us) + float(workers_us)) / 2)
    return f" (CPU per line: {seconds:,.0f} s on two idle cores)"


def _old_audit_targets(text: str) -> list[Target]:
    """The older bench_audit.py: "2 workers: N incidents/s", "(ratio R for Kx the lines)"."""
    rate = re.search(r"^(\d+) workers:\s+([\d,]+) incidents/s", text, re.M)
    cpu = re.search(r"CPU (\d+) µs per incident in the workers \+ (\d+) µs in the parent", text)
    files = re.search(r"files: ([\d,]+) lines .* and ([\d,]+) lines", text)
    big, small = (int(files.group(i).replace(",", "")) for i in (1, 2)) if files else (0, 0)
    memory = re.search(r"\(ratio ([\d.]+) for (\d+)x the lines\)", text)
    out = []
    if rate and rate.group(1) == "2":
        seconds = 1e6 / float(rate.group(2).replace(",", ""))
        caveat = "" if big >= 1_000_000 else f"extrapolated from {big:,} lines"
        bound = _cpu_bound(cpu.group(2), cpu.group(1)) if cpu else ""
        out.append(Target(AUDIT_1M, "≤ 60 s", f"{seconds:,.0f} s{bound}", seconds <= 60, caveat))
    else:
        out.append(Target(AUDIT_1M, "≤ 60 s", "see the audit output", None))
    if memory:
        ratio = float(memory.group(1))
        caveat = "" if (big, small) == (1_000_000, 10_000) else f"one core, {big:,} against {small:,} lines"
        out.append(Target(AUDIT_MEMORY, "≤ 1.10", f"{ratio:.2f}", ratio <= 1.10, caveat))
    else:
        out.append(Target(AUDIT_MEMORY, "≤ 1.10", "see the audit output", None))
    out.append(Target(AUDIT_SAME, "identical", "not compared by this bench_audit.py", None))
    return out


# ------------------------------------------------------------------ the document


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{git('rev-parse', '--short', 'HEAD')} on branch {git('rev-parse', '--abbrev-ref', 'HEAD')}{dirty}"


def targets_table(targets: Sequence[Target]) -> str:
    rows = ["| target (issue 13, medians) | limit | measured | |", "|---|---|---|---|"]
    rows += [f"| {t.what} | {t.limit} | {t.measured} | {t.verdict()} |" for t in targets]
    return "\n".join(rows)


def _fence(text: str) -> str:
    return "```\n" + text.rstrip() + "\n```"


def document(mix: tuple[str, dict[str, Any]], startup: tuple[str, dict[str, Any]], presume: str,
             audit: tuple[str, list[str]], command: str) -> str:
    m = machine()
    targets = mix_targets(mix[1]) + startup_targets(startup[1]) + audit_targets(audit[0])
    parts = [
        HEADER.format(command=command),
        "## Where and when\n",
        f"- Machine: {m['cpu']}, {m['cores']} cores (shared with other work: load average "
        f"{mix[1]['machine']['load_average']} at the start of the mix run, {m['load_average']} at the end)",
        f"- Python {m['python']} ({m['implementation']}), {m['platform']}",
        f"- Date: {m['date']}; code measured: {_commit()}",
        f"- Mix: {mix[1]['mix']['measured']} incidents, {mix[1]['rounds']} rounds; start-up: "
        f"{startup[1]['rounds']} warm runs, {startup[1]['cold_rounds']} from an empty cache; "
        f"audit: `bench_audit.py {' '.join(audit[1]) or '(its defaults)'}`",
        "",
        "## Targets\n",
        targets_table(targets),
        "",
        "## The mix (`bench/bench_mix.py`)\n",
        _fence(mix[0]),
        "",
        "## Start-up (`bench/bench_startup.py`)\n",
        _fence(startup[0]),
        "",
        "## Presumptions (`bench/bench_presume.py`)\n",
        _fence(presume),
        "",
        "## The audit (`bench/bench_audit.py`)\n",
        _fence(audit[0]),
        "",
        ZEN_NOTES,
        METHOD_NOTES,
    ]
    return "\n".join(parts).rstrip() + "\n"


HEADER = """# Performance

Figures from one run of `{command}` (issue 13: "Fast enough for every record of a year"). They are
measurements on the machine below at one moment, not guarantees: the machine is shared, so read
the min beside the median, and compare ratios (to the orjson parse, to `python -c pass`) more than
absolute times. No test asserts a time. To measure again, run `python bench/run_all.py`: it
rewrites this file.
"""

ZEN_NOTES = """## The zen-engine comparison: what is and is not equivalent

GoRules zen-engine (`pip install -e '.[bench]'`) evaluates one of hocr's classification tables,
`vap.assault` (assault by intent, injury, racial or religious aggravation and the victim's role),
translated into a JDM decision table by `bench/zen_table.py`.

Equivalent:

- The table: its rows, their order, every cell and every output are translated mechanically
  from the rule file (`rules/classifications/violence-against-the-person/from-elements.yaml`),
  not retyped; hocr's `first` hit policy is JDM's `first`.
- The facts: for every assault allegation (an act whose `elements.kind` is `assault`, once per
  victim of it) of the mix's incidents decided under this edition of the table (on or after its
  in-force date), the four inputs are read from the incident's facts after hocr's presumptions
  filled them (`hocr.presumptions.presume`), so both engines see the same values.
- The answers are checked: the mix output says on how many allegations zen's class equals the
  class this table gave that act in hocr's trace (for that victim, or for an act with one
  victim). Where hocr's table is undetermined (an act whose class is named gets no presumed
  intent, so its intent is unknown) zen matches no row; those allegations are timed too.
- zen runs in its fastest documented Python use: the engine and the decision created once, the
  decision content precompiled (`ZenDecisionContent`, served by a loader), trace off. Three uses
  are timed; each is a row. On this machine `engine.evaluate` with the precompiled loader is far
  faster than `decision.evaluate` on a decision from `create_decision`; we did not look into why.

Not equivalent (zen does much less):

- zen looks up one table for one allegation. hocr's `evaluate` decides the whole incident: the
  presumptions, whether each allegation is recorded, its classification among every offence
  group's rules (of which this table is one), counting, the recording deadline, flags, findings
  against a force's record, the rule references and citations of the decision, the provisional
  mark and the answers that would re-classify (each a further decision). The zen figure is a floor
  for a table engine doing one lookup, not the cost of an equivalent decision.
- zen is handed the four facts ready in a flat mapping; reading them from the incident and
  filling presumptions is not timed for zen.
- A missing input: zen matches no row and returns an empty result; hocr says the decision is
  undetermined and names the facts it needs. With the facts filled this does not arise in the mix.
- The rule's own condition (an assault, or an attempted killing with neither intent) is applied
  by the benchmark when it picks the allegations, not by the zen table.
- Memory: zen's allocations are Rust's and tracemalloc does not see them, so no memory row is
  given for zen.
"""

METHOD_NOTES = """## How the figures are taken

- The mix is every incident of the worked cases (`tests/cases`, read with `hocr.cases`) and of
  `examples/*.json`, each once, with its case's as-of date; µs per incident is a pass over the
  whole mix divided by its size. Rounds are interleaved so that other work on the machine falls
  on every measure alike; each round repeats its pass until it takes at least 50 ms.
- In-process costs (the mix) are judged on CPU time (`time.process_time`): the machine is
  shared by several people's work, and wall time includes waiting for a core. The wall medians
  are shown beside them. Start-up is judged on wall time, as the issue states it, with the
  child's CPU time beside it. Heavy load inflates CPU time too (caches, hyper-threads), so even
  the CPU figures are upper bounds of what an idle machine gives.
- "× parse" is the measure's median over the orjson parse's median (the anchor, the least any
  path from JSON bytes can cost). The interpreter row is `evaluate(..., backend="interpreted")`
  where evaluate has backends, else today's evaluate (which is the interpreter).
- Memory is the tracemalloc peak over 1,000 calls cycling through the mix, keeping the results
  (what 1,000 decisions hold) and dropping each (the working memory of one call), beside the
  orjson parse's; tracemalloc slows the calls, so memory is measured apart from time.
- Start-up runs are new processes (`python -m hocr check`, no shell); "empty cache" is a fresh
  `HOCR_CACHE_DIR` for each run. Python's bytecode is written once, by a first untimed run, to
  a private `PYTHONPYCACHEPREFIX` (a temporary folder) and read from it by every timed run
  (warm and empty cache alike), as an installed hocr reads the .pyc files pip wrote, whatever
  the environment says; the row "warm cache, no bytecode" runs with no bytecode at all, so it
  shows what compiling every module from source adds (as a checkout run with
  `PYTHONDONTWRITEBYTECODE` does).
- The presumptions are timed by bench_presume.py over the same mix: `presume` (all incidents,
  then those where nothing or something is presumed), `with_answer` for each other answer of a
  presumed fact, and `presume` again on its result, in µs of CPU per call.
- The audit figures are bench_audit.py's own (owned with the audit work); run_all.py runs it
  in its short mode unless `--full-audit` is given, so the million-line figure is extrapolated
  from its throughput.
"""


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="a smoke run of every bench (not for the doc)")
    ap.add_argument("--full-audit", action="store_true", help="run bench_audit.py at its own default size")
    ap.add_argument("--rounds", type=int, help="rounds of the mix and warm start-up runs")
    ap.add_argument("--out", type=Path, help=f"where to write the document (default {DOC.relative_to(REPO)}; "
                    "with --tiny, nowhere unless given)")
    args = ap.parse_args(argv)
    tiny = ["--tiny"] if args.tiny else []
    rounds = ["--rounds", str(args.rounds)] if args.rounds else []
    mix = run_json_bench("bench_mix.py", [*tiny, *rounds])
    print(mix[0])
    startup = run_json_bench("bench_startup.py", [*tiny, *rounds])
    print(startup[0])
    presume = run_text_bench("bench_presume.py", [*tiny, *rounds])
    print(presume)
    a_args = audit_args(args.tiny, args.full_audit)
    audit = (run_text_bench("bench_audit.py", a_args), a_args)
    print(audit[0])
    command = "python bench/run_all.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    text = document(mix, startup, presume, audit, command)
    out = args.out or (None if args.tiny else DOC)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    print(targets_table(mix_targets(mix[1]) + startup_targets(startup[1]) + audit_targets(audit[0])))


if __name__ == "__main__":
    main()
