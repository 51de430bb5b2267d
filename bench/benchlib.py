"""What the benchmarks share: repeated rounds with min / median / max, ratios to an anchor, the
machine the figures were taken on, and a plain-text table.

Figures are measurements on one machine at one moment, never assertions: no test times anything.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Spread:
    """One measure over repeated rounds, in one unit (microseconds or milliseconds)."""

    low: float
    median: float
    high: float
    rounds: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        return cls(min(samples), statistics.median(samples), max(samples), len(samples))

    def ratio_to(self, anchor: Spread) -> float:
        """This measure's median as a multiple of the anchor's median."""
        return self.median / anchor.median if anchor.median else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where and when the figures were taken (docs/performance.md prints this beside them)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned first column, right-aligned figures, as plain text."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(r[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def spread_cells(s: Spread, digits: int = 1) -> list[str]:
    return [f"{s.low:.{digits}f}", f"{s.median:.{digits}f}", f"{s.high:.{digits}f}"]


def write_json(path: str | None, result: dict[str, Any]) -> None:
    """Write a bench's figures for run_all.py (Spreads become plain dicts)."""
    if path:
        Path(path).write_text(json.dumps(result, default=_plain, indent=1), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, Spread):
        return asdict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
