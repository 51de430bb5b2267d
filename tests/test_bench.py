"""Smoke tests of bench/: each benchmark runs in its tiny mode and prints its table, and run_all
writes a performance document. Nothing here times anything or asserts a speed."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


def run_bench(*args: str, tmp: Path) -> str:
    env = {**os.environ, "HOCR_CACHE_DIR": str(tmp / "cache")}
    done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def bench_module(name: str) -> Any:
    """A module of bench/ (a folder of scripts, not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_every_bench_runs_tiny_and_the_document_is_written(tmp_path: Path) -> None:
    """One tiny run of every bench through run_all.py (one test, so that the run happens once
    whichever pytest-xdist worker takes it)."""
    pytest.importorskip("orjson")  # the mix's anchor (the bench extra); zen-engine is optional
    out = tmp_path / "performance.md"
    printed = run_bench(str(BENCH / "run_all.py"), "--tiny", "--out", str(out), tmp=tmp_path)
    for label in ("orjson parse (floor, anchor)", "check_incident", "evaluate untraced", "evaluate traced",
                  "interpreter (being replaced)", "end to end from JSON bytes", "results kept",
                  "python -c pass (floor)", "hocr check, warm cache", "hocr check, empty cache"):
        assert label in printed
    assert "exit codes [0]" in printed
    doc = out.read_text(encoding="utf-8")
    assert doc.startswith("# Performance")
    assert "- Machine: " in doc and "- Python " in doc and "- Date: " in doc
    section = doc.split("## Targets", 1)[1].split("\n## ", 1)[0]
    targets = [line for line in section.splitlines() if line.startswith("| ")][1:]  # after the header
    assert len(targets) >= 6
    verdicts = [line.rstrip(" |").rsplit("| ", 1)[1] for line in targets]
    assert all(v.startswith(("met", "not met", "not measured", "the floor")) for v in verdicts), verdicts
    assert "## The zen-engine comparison" in doc


def test_work_counts_add_up(tmp_path: Path) -> None:
    """bench_work.py (the counts of docs/engine.md): one pass on the presumed facts and one per
    other answer decided; no more unchanged answers than answers; no more decisions made again
    than looked at."""
    pytest.importorskip("orjson")  # the mix reads its incidents with it
    out = tmp_path / "work.json"
    printed = run_bench(str(BENCH / "bench_work.py"), "--tiny", "--json", str(out), tmp=tmp_path)
    assert "rule conditions evaluated by generated code" in printed
    per = json.loads(out.read_text(encoding="utf-8"))["per_incident"]
    assert per["passes"] == pytest.approx(1 + per["answers"])
    assert 0 <= per["unchanged"] <= per["answers"]
    assert 0 <= per["made_again"] <= per["looked_at"]
    assert per["compiled_decisions"] > 0 and per["conditions"] > 0


def test_zen_table_is_the_rule_file_translated() -> None:
    zen_table = bench_module("zen_table")
    rule = zen_table.find_rule(REPO / "rules")
    graph = zen_table.jdm(rule)
    table = graph["nodes"][1]["content"]
    assert [r["_id"] for r in table["rules"]] == [r["id"] for r in rule["table"]["rows"]]
    assert [json.loads(r["out-code"]) for r in table["rules"]] == [r["then"]["code"] for r in rule["table"]["rows"]]
    assert table["hitPolicy"] == "first"


def test_zen_engine_classes_like_the_table() -> None:
    """Where zen-engine is installed, its answer on two known fact sets is the table's row."""
    zen = pytest.importorskip("zen")
    zen_table = bench_module("zen_table")
    rule = zen_table.find_rule(REPO / "rules")
    decision = zen.ZenEngine().create_decision(json.dumps(zen_table.jdm(rule)))
    injured = decision.evaluate({"intent": "none", "injury": "minor", "aggravated": False, "role": "none"})
    assert injured["result"] == {"code": "8N", "row": "injury"}
    constable = decision.evaluate({"intent": "none", "injury": "none", "aggravated": False, "role": "constable"})
    assert constable["result"] == {"code": "104", "row": "no-injury-constable"}
