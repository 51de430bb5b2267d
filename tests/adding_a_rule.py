"""The walk-through of docs/adding-a-rule.md, run step by step, so that the outputs the page shows
are checked (tests/doc_outputs.py runs ``python tests/adding_a_rule.py STEP`` for each marked block).

The page's own blocks are what is run: its hypothetical rule file, its incident, the override it
adds, the contrary evidence it adds and its first worked case. Each step copies the shipped
rules to a temporary folder, adds to it what the page has added by then, writes the page's
incident there and runs ``hocr`` in that folder with ``--rules`` (the page's editable install
reads the checkout's rules; this leaves the checkout alone). Nothing of the page is added to the
shipped rulebook.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "adding-a-rule.md"
FENCED = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FIRST_OVERRIDES = "    overrides: [ncrs.third-party.not-traced]\n"  # as the page first writes the rule


def page_block(lang: str, starts: str) -> str:
    """The one fenced block of the page in ``lang`` whose text starts with ``starts``."""
    found = [text for kind, text in FENCED.findall(PAGE.read_text(encoding="utf-8"))
             if kind == lang and text.startswith(starts)]
    if len(found) != 1:
        raise SystemExit(f"{PAGE.name}: expected one {lang} block starting {starts!r}, found {len(found)}")
    return found[0]


def rule_file(second_override: bool) -> str:
    """The page's rule file; with the second override as section 5 adds it."""
    text = page_block("yaml", "file: >")
    if FIRST_OVERRIDES not in text:
        raise SystemExit(f"{PAGE.name}: the rule file no longer has {FIRST_OVERRIDES.strip()!r}")
    return text.replace(FIRST_OVERRIDES, page_block("yaml", "    overrides: [") if second_override else FIRST_OVERRIDES)


def incident(contrary_evidence: bool) -> dict[str, Any]:
    """The page's incident; with the contrary evidence section 5 adds to its act."""
    inc: dict[str, Any] = json.loads(page_block("json", "{\n  \"schema_version\""))
    if contrary_evidence:
        inc["acts"][0].update(json.loads("{" + page_block("json", "\"contrary_evidence\"") + "}"))
    return inc


def add_credible_evidence_override(rules: Path) -> None:
    """Add our rule to the overrides of ncrs.credible-evidence-to-contrary in the copied ``rules``
    as the page's block shows it: its last line (our id) after the line before it, which must be
    the last override the shipped rule lists (so that the page shows where the id goes)."""
    lines = page_block("yaml", "    overrides:\n      - ncrs.victim-account").rstrip("\n").splitlines()
    ours, before = lines[-1], lines[-2]
    path = rules / "ncrs" / "recording-standard.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("id: ncrs.credible-evidence-to-contrary")
    at = text.index(before + "\n", start) + len(before) + 1
    if text[at:].startswith("      - "):
        raise SystemExit(f"{PAGE.name}: {before.strip()!r} is not the last override of ncrs.credible-evidence-to-contrary")
    path.write_text(text[:at] + ours + "\n" + text[at:], encoding="utf-8")


def hocr_in_copy(args: list[str], second_override: bool, contrary_evidence: bool = False,
                 credible_override: bool = False) -> None:
    """Run ``hocr ARGS`` in a folder holding a copy of the rules with the page's rule file and the
    page's incident (as inc-centre.json, or inc-centre-ce.json with contrary evidence); with
    ``credible_override``, credible evidence to the contrary overriding our rule, as section 5 adds."""
    with tempfile.TemporaryDirectory(prefix="hocr-adding-a-rule-") as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(REPO / "rules", rules)
        (rules / "hypothetical").mkdir()
        (rules / "hypothetical" / "reporting-centre.yaml").write_text(rule_file(second_override), encoding="utf-8")
        if credible_override:
            add_credible_evidence_override(rules)
        name = "inc-centre-ce.json" if contrary_evidence else "inc-centre.json"
        (Path(tmp) / name).write_text(json.dumps(incident(contrary_evidence), indent=2), encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "hocr", *args, "--rules", str(rules)], cwd=tmp,
                              capture_output=True, text=True, check=False)
        sys.stdout.write(done.stdout)


def first_case_without_the_rule() -> None:
    """What the page's first worked case says on the shipped rulebook, which lacks the rule."""
    from hocr.cases import CaseFailure, run_case
    from hocr.loader import load_rulebook, load_yaml

    cases, _ = load_yaml(page_block("yaml", "# HYPOTHETICAL - boundary cases"))  # as the case reader reads them
    case = cases["cases"][0]
    try:
        run_case(load_rulebook(REPO / "rules"), case, REPO)
    except CaseFailure as failure:
        print(failure)
        return
    print("the case passes without the rule")


STEPS: dict[str, Callable[[], None]] = {
    "validate": lambda: hocr_in_copy(["rules", "validate"], second_override=False),
    "first-check": lambda: hocr_in_copy(["check", "inc-centre.json"], second_override=False),
    "second-check": lambda: hocr_in_copy(["check", "inc-centre.json"], second_override=True),
    "contrary-evidence": lambda: hocr_in_copy(["check", "inc-centre-ce.json"], second_override=True, contrary_evidence=True),
    "contrary-evidence-overrides": lambda: hocr_in_copy(["check", "inc-centre-ce.json"], second_override=True,
                                                        contrary_evidence=True, credible_override=True),
    "first-case-without-the-rule": first_case_without_the_rule,
}


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in STEPS:
        raise SystemExit(f"usage: python tests/adding_a_rule.py {{{','.join(STEPS)}}}")
    STEPS[sys.argv[1]]()
