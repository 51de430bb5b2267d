"""Re-translate worked cases so that their incidents state only what their scenarios state.

The mechanical part of issue 11: in every case of tests/cases/**, a fact equal to the value a
presumption gives (or a suspect said to be a stranger) is dropped when the case's own words
(name, scenario, source, and for the shared cases the scenario and facts of
/work/shared/cases/general.yaml) do not mention it. The case is then run again; a case that no
longer passes keeps its facts and is listed for a person to read (its expectation may need to
change: for example a crime now recorded as provisional).

    python tests/retranslate_cases.py [--write] [FILE ...]

Edits are made on the text, line by line within each case, so comments and layout stay.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from hocr.cases import CaseFailure, run_case
from hocr.loader import load_rulebook

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared" / "cases" / "general.yaml"  # ../shared beside the checkout

# (what to drop, as a regular expression on a line, and the words that mean the case states it)
DROPS: list[tuple[str, re.Pattern[str], re.Pattern[str]]] = [
    ("contrary_evidence", re.compile(r"^[ \t]*contrary_evidence: \[\][ \t]*\n", re.M),
     re.compile(r"contrar|credible|cctv|footage|verif|evidence", re.I)),
    ("aggravated", re.compile(r",? ?racially_or_religiously_aggravated: false"),
     re.compile(r"aggravat|racial|racist|religio|hostil|hate", re.I)),
    ("intent", re.compile(r",? ?\bintent: none"),
     re.compile(r"intent|meant|meaning to|deliberat|serious harm|gbh|s ?18\b", re.I)),
    ("role", re.compile(r",? ?\brole: none"),
     re.compile(r"constable|officer|emergency|paramedic|firefight|nurse|role|member of the public", re.I)),
    ("stranger", re.compile(r",? ?relationship_to_victim: stranger"),
     re.compile(r"stranger|relationship|partner|acquaint|known to", re.I)),
    ("attempt", re.compile(r"^[ \t]*attempt: false[ \t]*\n", re.M),
     re.compile(r"attempt|tried|trying|complet", re.I)),
    ("from_person", re.compile(r",? ?\bfrom_person: false"),
     re.compile(r"person|pocket|snatch|carried|worn", re.I)),
    ("by_employee", re.compile(r",? ?\bby_employee: false"),
     re.compile(r"employ|staff|worker", re.I)),
    ("from_shop", re.compile(r",? ?\bfrom_shop: false"),
     re.compile(r"shop|store|retail|stall|supermarket", re.I)),
    ("armed", re.compile(r",? ?\barmed: false"),
     re.compile(r"armed|weapon|knife|gun|firearm|aggravated", re.I)),
    ("outbuilding", re.compile(r",? ?\boutbuilding: false"),
     re.compile(r"outbuilding|shed|garage|outhouse|connect|annex", re.I)),
    ("distraction", re.compile(r",? ?\bdistraction: false"),
     re.compile(r"distraction|trick|pretend|bogus|false statement|posing", re.I)),
]


def _shared_text() -> dict[str, str]:
    if not SHARED.exists():
        return {}
    return {c["id"]: json.dumps({k: c.get(k) for k in ("scenario", "facts", "expected")}, default=str)
            for c in yaml.safe_load(SHARED.read_text(encoding="utf-8")) if isinstance(c, dict) and "id" in c}


def case_words(case: dict[str, Any], shared: dict[str, str]) -> str:
    words = " ".join(str(case.get(k, "")) for k in ("name", "scenario", "source"))
    for gen in re.findall(r"GEN-\d+", words):
        words += " " + shared.get(gen, "")
    return words


def _blocks(text: str) -> list[tuple[int, int]]:
    """The line ranges of the cases of a case file (each starts at its '- name:' line)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"^\s*- name:", line)]
    return [(s, starts[k + 1] if k + 1 < len(starts) else len(lines)) for k, s in enumerate(starts)]


def _drop(block: str, words: str) -> tuple[str, list[str]]:
    dropped = []
    for label, pattern, stated in DROPS:
        if stated.search(words):
            continue
        out = _tidy(pattern.sub("", block))
        if out != block:
            dropped.append(label)
            block = out
    return block, dropped


def _tidy(text: str) -> str:
    """Mend a flow mapping whose first key, or a key starting a continued line, was dropped."""
    text = text.replace("{, ", "{")
    text = re.sub(r",(\s+), ", r",\1", text)
    return re.sub(r",(\s+)\}", "}", text)


def retranslate(path: Path, book: Any, shared: dict[str, str], write: bool) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    cases = yaml.safe_load(text)["cases"]
    blocks = _blocks(text)
    if len(blocks) != len(cases):
        return [f"{path}: {len(blocks)} '- name:' lines for {len(cases)} cases; not changed"]
    out_lines: list[str] = lines[: blocks[0][0]] if blocks else lines
    report = []
    for case, (start, end) in zip(cases, blocks, strict=True):
        block = "".join(lines[start:end])
        new, dropped = _drop(block, case_words(case, shared))
        if dropped:
            try:
                candidate = yaml.safe_load(new)[0] if new.lstrip().startswith("- ") else None
                run_case(book, candidate if candidate is not None else case, path.parent)
            except (CaseFailure, Exception) as exc:  # keep the facts: a person must read this case
                report.append(f"{path.relative_to(HERE)}: {case['name']}: kept ({', '.join(dropped)}): {str(exc).splitlines()[0]}")
                new = block
            else:
                report.append(f"{path.relative_to(HERE)}: {case['name']}: dropped {', '.join(dropped)}")
        out_lines.append(new)
    if write:
        path.write_text("".join(out_lines), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the files (default: only report)")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    book = load_rulebook(HERE.parent / "rules")
    shared = _shared_text()
    files = args.files or sorted((HERE / "cases").rglob("*.yaml"))
    for f in files:
        for line in retranslate(f.resolve(), book, shared, args.write):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
