"""The command outputs the docs show are the commands' real outputs.

A block in README.md or docs/*.md is checked when the line before its opening fence (blank lines
aside) is a marker naming the command::

    <!-- output: hocr check examples/recorded-late.json --json -->

The command is run from the repository's root (``hocr`` as ``python -m hocr``, ``python`` as the
Python running this), and the block must
equal its standard output, with the rulebook's hash written ``sha256:…`` (it changes with every
rule edit). In the block, a line that is only ``…`` or ``...`` stands for any run of lines, so an
excerpt (the head of a long output, or a part of it) is checked too. A first line ``$ COMMAND``
echoes the command and is not output.

Run ``python tests/doc_outputs.py --write`` to rewrite every block that has no ``…`` from the
commands' outputs (an excerpt is edited by hand); ``tests/test_doc_outputs.py`` checks them all.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- output: (?P<command>.+?) -->\s*$")
FENCE = re.compile(r"^(`{3,})")
GAP = frozenset(("…", "..."))
HASH = re.compile(r"sha256:[0-9a-f]{6,64}…?")  # a full hash, or a short one already ending in …


@dataclass(frozen=True)
class Block:
    """One marked block: where it is, the command it shows and its lines (fences excluded)."""

    path: Path
    line: int  # of the first line inside the fence, counting from 1
    command: str
    lines: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def shown(self) -> tuple[str, ...]:
        """The lines the block shows as output (without an echoed ``$ command``)."""
        if self.lines and self.lines[0].startswith("$ "):
            return self.lines[1:]
        return self.lines

    @property
    def is_excerpt(self) -> bool:
        return any(line.strip() in GAP for line in self.shown)


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> Iterator[Block]:
    """Every marked block of one file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        i += 1
        if marker is None:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        fence = FENCE.match(lines[i]) if i < len(lines) else None
        if fence is None:
            raise ValueError(f"{path.relative_to(REPO)}:{i}: an output marker must be followed by a fenced block")
        start = i + 1
        end = next((j for j in range(start, len(lines)) if lines[j].startswith(fence.group(1))), None)
        if end is None:
            raise ValueError(f"{path.relative_to(REPO)}:{i + 1}: the fenced block is never closed")
        yield Block(path, start + 1, marker.group("command"), tuple(lines[start:end]))
        i = end + 1


def all_blocks() -> list[Block]:
    return [b for path in doc_files() for b in blocks(path)]


def output_of(command: str) -> list[str]:
    """The command's standard output, as the docs print it (the rulebook's hash elided)."""
    argv = shlex.split(command)
    if argv[0] == "hocr":
        argv = [sys.executable, "-m", "hocr", *argv[1:]]
    elif argv[0] == "python":  # a script of the repository (tests/adding_a_rule.py), run by this Python
        argv = [sys.executable, *argv[1:]]
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, check=False, timeout=120)
    return HASH.sub("sha256:…", done.stdout).rstrip("\n").splitlines()


def matches(shown: Sequence[str], output: Sequence[str]) -> bool:
    """Whether the output is the block's lines, each ``…`` line standing for any run of lines
    (none included). Trailing spaces are ignored."""
    want = [line.rstrip() for line in shown]
    got = [line.rstrip() for line in output]
    # The runs of lines between gaps, in order; each is found at the first place it fits (the
    # leftmost fit leaves the most room for the runs after it).
    runs: list[list[str]] = [[]]
    for line in want:
        if line.strip() in GAP:
            runs.append([])
        else:
            runs[-1].append(line)
    first, *middle = runs
    last = middle.pop() if middle else None
    if got[:len(first)] != first:
        return False
    if last is None:
        return len(got) == len(first)
    at = len(first)
    for run in middle:
        at = next((k for k in range(at, len(got) - len(run) + 1) if got[k:k + len(run)] == run), -1)
        if at < 0:
            return False
        at += len(run)
    return len(got) - at >= len(last) and (not last or got[len(got) - len(last):] == last)


def rewrite(path: Path) -> int:
    """Rewrite the file's whole (not excerpted) blocks from their commands; how many changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = 0
    for b in reversed(list(blocks(path))):
        if b.is_excerpt:
            continue
        echo = [b.lines[0]] if b.lines and b.lines[0].startswith("$ ") else []
        new = echo + output_of(b.command)
        if tuple(new) != b.lines:
            lines[b.line - 1:b.line - 1 + len(b.lines)] = new
            changed += 1
    if changed:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite whole blocks from the commands' outputs")
    args = parser.parse_args(argv)
    if args.write:
        for path in doc_files():
            n = rewrite(path)
            if n:
                print(f"{path.relative_to(REPO)}: {n} block(s) rewritten")
    stale = [b.where for b in all_blocks() if not matches(b.shown, output_of(b.command))]
    for where in stale:
        print(f"{where}: does not match its command's output")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
