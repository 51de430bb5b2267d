"""The worked cases as a library: what the training page lists, what ``hocr rules diff --cases``
quotes, and which rules each case exercises.

A worked case is one entry of a case file (``tests/cases/**/*.yaml``; the format is described
in :mod:`hocr.cases`). A source checkout reads them from ``tests/cases``; an installed hocr reads
the copy packaged as ``hocr/_data/cases`` (pyproject.toml force-includes it), so trainers have
the cases wherever hocr is installed.

Each case gets a stable id, ``<file without .yaml>#<n>`` (n counts from 1 in the file), which
survives edits elsewhere in the library. Its section is the folder it sits in
(``general/section-b``, ``classifications``...) and its category the file's name.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from .engine import evaluate
from .incident import InvalidIncident
from .loader import Rulebook, data_path, load_yaml


class LibraryError(ValueError):
    """A case file that cannot be read (its path and what was expected; never its content)."""


@dataclass(frozen=True, eq=False)  # identity: a library is loaded once and cached
class WorkedCase:
    id: str
    name: str
    section: str
    category: str
    file: str
    source: str
    as_of: dt.date | None
    incident: Mapping[str, Any]
    expect: Mapping[str, Any]

    @property
    def scenario(self) -> str:
        """The case in words: its name, then what each act's description says."""
        described = [str(act["elements"]["description"]) for act in self.incident.get("acts", [])
                     if isinstance(act, Mapping) and isinstance(act.get("elements"), Mapping)
                     and act["elements"].get("description")]
        return " ".join([self.name.rstrip(".") + "."] + described)


def cases_root() -> Path:
    """The folder of case files: packaged with an installed hocr, else the checkout's tests/cases."""
    packaged = resources.files("hocr") / "_data" / "cases"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "tests" / "cases"


def load_library(root: Path | None = None) -> tuple[WorkedCase, ...]:
    """Every worked case under ``root`` (default :func:`cases_root`), in file then case order."""
    return _load(root or cases_root())


@cache
def _load(root: Path) -> tuple[WorkedCase, ...]:
    return tuple(case for path in sorted(root.rglob("*.yaml")) for case in _read_file(root, path))


def _read_file(root: Path, path: Path) -> Iterator[WorkedCase]:
    rel = PurePosixPath(path.relative_to(root).as_posix())
    try:
        data, _ = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LibraryError(f"{rel}: not a readable case file ({type(exc).__name__})") from None
    entries = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise LibraryError(f"{rel}: a case file needs a top-level 'cases' list")
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise LibraryError(f"{rel}: case {n} needs a 'name'")
        yield _worked_case(path, rel, n, entry)


def _worked_case(path: Path, rel: PurePosixPath, n: int, entry: Mapping[str, Any]) -> WorkedCase:
    as_of = entry.get("as_of")
    return WorkedCase(
        id=f"{rel.with_suffix('')}#{n}",
        name=entry["name"],
        section=str(rel.parent) if str(rel.parent) != "." else "",
        category=rel.stem,
        file=str(rel),
        source=str(entry.get("source", "")),
        as_of=as_of if isinstance(as_of, dt.date) else (dt.date.fromisoformat(as_of) if as_of else None),
        incident=_incident(path, rel, n, entry),
        expect=entry.get("expect") or {},
    )


def _incident(path: Path, rel: PurePosixPath, n: int, entry: Mapping[str, Any]) -> Mapping[str, Any]:
    if "incident" in entry:
        incident = entry["incident"]
        return incident if isinstance(incident, Mapping) else {}
    name = entry.get("incident_file")
    if not isinstance(name, str):
        raise LibraryError(f"{rel}: case {n} needs 'incident' or 'incident_file'")
    target = path.parent / name
    if not target.is_file() and PurePosixPath(name).parent.name == "examples":
        # Installed: the examples sit in hocr/_data/examples, not three folders up.
        target = data_path("examples") / PurePosixPath(name).name
    try:
        loaded = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise LibraryError(f"{rel}: case {n}: incident_file {name} cannot be read as JSON") from None
    return loaded if isinstance(loaded, Mapping) else {}


def find_case(case_id: str, cases: Sequence[WorkedCase] | None = None) -> WorkedCase | None:
    """The case with this id, or None."""
    return next((c for c in (cases if cases is not None else load_library()) if c.id == case_id), None)


def decide_case(book: Rulebook, case: WorkedCase, trace: bool = False) -> dict[str, Any] | None:
    """The rules' decision for the case as the library states it; None for a case whose incident
    is deliberately invalid (the cases of bad input)."""
    try:
        return evaluate(book, case.incident, as_of=case.as_of, trace=trace)
    except InvalidIncident:
        return None


def rules_relied_on(decision: Mapping[str, Any]) -> set[str]:
    """The id of every rule and presumption a decision cites, wherever in it the reference sits,
    and, when the decision carries its trace, every rule the trace shows applied (the
    classification tables the decision cites only through general.b.from-elements)."""
    found: set[str] = set()
    stack: list[Any] = [decision]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if isinstance(node.get("id"), str) and "citation" in node:
                found.add(node["id"])
            if isinstance(node.get("rule"), str) and node.get("result") == "applied":
                found.add(node["rule"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    for presumption in decision.get("presumptions", []):
        if isinstance(presumption, Mapping) and isinstance(presumption.get("id"), str):
            found.add(presumption["id"])
    return found


def cases_by_rule(book: Rulebook, cases: Sequence[WorkedCase] | None = None) -> dict[str, tuple[str, ...]]:
    """For each rule id, the ids of the worked cases whose decisions rely on it (in library order)."""
    chosen = tuple(cases) if cases is not None else load_library()
    key = (book.hash, tuple(c.id for c in chosen))
    if key not in _BY_RULE:
        _BY_RULE[key] = _index_by_rule(book, chosen)
    return _BY_RULE[key]


# Deciding every case, traced, takes a few seconds: done once per rulebook and set of cases.
_BY_RULE: dict[tuple[str, tuple[str, ...]], dict[str, tuple[str, ...]]] = {}


def _index_by_rule(book: Rulebook, cases: Sequence[WorkedCase]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for case in cases:
        decision = decide_case(book, case, trace=True)
        for rule_id in sorted(rules_relied_on(decision) if decision else ()):
            index.setdefault(rule_id, []).append(case.id)
    return {rule_id: tuple(ids) for rule_id, ids in sorted(index.items())}
