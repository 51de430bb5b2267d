"""Unit tests of rulebook loading (hocr.loader): safe YAML, schema problems with file and line,
compile-time checks, caching and hashing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from hocr.loader import (
    STAGES,
    DocumentEdition,
    Problem,
    Rulebook,
    RulebookError,
    YamlError,
    _cache_key,
    _compile,
    _read_cache,
    content_hash,
    data_path,
    load_rulebook,
    load_yaml,
    rule_files,
)

SHIPPED = data_path("rules")

HEADER = """\
defaults:
  decision: recording
  source: {document: D, edition: E, section: S}
  in_force: {from: "2000-01-01"}
  verification: unverified
rules:
"""


def rule(rid: str, extra: str = "", then: str = "{outcome: record, reason: x}") -> str:
    return (
        f"  - id: {rid}\n"
        f"    title: Rule {rid}\n"
        f"    summary: A test rule.\n"
        f"    when: {{fact: incident.x, equals: 1}}\n"
        f"    then: {then}\n"
        f"{extra}"
    )


def line_no(text: str, marker: str, nth: int = 1) -> int:
    """The 1-based line of the nth line containing marker."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if marker in line]
    return hits[nth - 1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "rules"
    base.mkdir()
    shutil.copy(SHIPPED / "rulebook.yaml", base / "rulebook.yaml")
    return base


def problems(base: Path) -> list[Problem]:
    with pytest.raises(RulebookError) as info:
        load_rulebook(base)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return list(info.value.problems)


def only_problem(base: Path) -> Problem:
    found = problems(base)
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------------------------------
# The base case
# ------------------------------------------------------------------------------------------


def test_manifest_alone_loads(root: Path) -> None:
    book = load_rulebook(root)
    assert book.rules == {}
    manifest = yaml.safe_load((root / "rulebook.yaml").read_text())
    declared = {d["name"]: d["scope"] for d in manifest["decisions"]}
    assert set(book.decisions) == set(declared)
    assert {"classification", "recording", "count_key"} <= set(declared)
    # With no rules there are no dependencies: each scope's decisions in name order.
    for scope in ("incident", "act", "allegation", "recorded_crime"):
        assert [d.name for d in book.order[scope]] == sorted(n for n, s in declared.items() if s == scope)


def test_small_rule_file_loads(root: Path) -> None:
    text = HEADER + rule("a") + rule("b", "    overrides: [a]\n")
    (root / "sub").mkdir()
    (root / "sub" / "r.yaml").write_text(text)
    book = load_rulebook(root)
    assert set(book.rules) == {"a", "b"}
    a = book.rules["a"]
    assert (a.file, a.line) == ("sub/r.yaml", line_no(text, "id: a"))
    assert a.defeaters == frozenset({"b"})
    assert book.rules["b"].defeaters == frozenset()
    assert a.citation == "D, E, S"
    assert [r.id for r in book.decisions["recording"].rules] == ["a", "b"]


# ------------------------------------------------------------------------------------------
# YAML problems
# ------------------------------------------------------------------------------------------


def test_invalid_yaml_names_file_and_line(root: Path) -> None:
    text = HEADER + rule("a") + "    notes: one: two\n" + rule("b")
    (root / "bad.yaml").write_text(text)
    p = only_problem(root)
    assert p.file == "bad.yaml"
    assert p.line == line_no(text, "notes: one: two")
    assert p.message.startswith("invalid YAML")


def test_duplicate_key_names_its_line(root: Path) -> None:
    text = HEADER + rule("a") + "    title: Again\n"
    (root / "dup.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("dup.yaml", line_no(text, "title: Again"))
    assert "duplicate key 'title'" in p.message


def test_alias_to_a_collection_is_rejected(root: Path) -> None:
    text = HEADER + rule("a", "    notes: x\n    in_force: &when {from: '2001-01-01'}\n")
    text += rule("b", "    in_force: *when\n")
    (root / "alias.yaml").write_text(text)
    p = only_problem(root)
    assert p.file == "alias.yaml"
    assert "aliases" in p.message


def test_alias_is_reported_at_the_alias_line(root: Path) -> None:
    text = HEADER + rule("a", "    notes: x\n    in_force: &when {from: '2001-01-01'}\n")
    text += rule("b", "    in_force: *when\n")
    (root / "alias.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("alias.yaml", line_no(text, "*when"))


def test_alias_to_a_scalar_is_rejected(root: Path) -> None:
    text = HEADER + rule("a", "    notes: &n Some notes.\n") + rule("b", "    notes: *n\n")
    (root / "alias.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("alias.yaml", line_no(text, "*n"))
    assert "aliases" in p.message


def test_alias_bomb_is_rejected_at_the_first_alias(root: Path) -> None:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        levels.append(f"a{i}: &a{i} [{refs}]")
    text = "\n".join(levels) + "\n"  # fully expanded: 9**10 strings
    with pytest.raises(YamlError, match="aliases"):
        load_yaml(text)
    (root / "bomb.yaml").write_text(text)
    p = only_problem(root)  # refused at the first alias, before any expansion
    assert p.file == "bomb.yaml"
    assert p.line in (1, 2)
    assert "aliases" in p.message


def test_load_yaml_keeps_dates_as_text_and_records_lines() -> None:
    data, lines = load_yaml("a:\n  b: 2024-01-01\n  c:\n    - x\n    - {d: 1}\n")
    assert data == {"a": {"b": "2024-01-01", "c": ["x", {"d": 1}]}}
    assert lines[()] == 1
    assert lines[("a", "b")] == 2
    assert lines[("a", "c", 1)] == 5
    assert lines[("a", "c", 1, "d")] == 5


def test_non_text_keys_are_rejected() -> None:
    with pytest.raises(YamlError, match="keys must be text") as info:
        load_yaml("a: 1\n2: b\n")
    assert info.value.line == 2


def test_empty_file_is_a_problem(root: Path) -> None:
    (root / "empty.yaml").write_text("# nothing here\n")
    p = only_problem(root)
    assert (p.file, p.line) == ("empty.yaml", None)
    assert "empty" in p.message


def test_missing_directory(tmp_path: Path) -> None:
    p = only_problem(tmp_path / "nowhere")
    assert "no such rulebook directory" in p.message


# ------------------------------------------------------------------------------------------
# Schema problems
# ------------------------------------------------------------------------------------------


def test_unknown_key_in_rule_closed_schema(root: Path) -> None:
    text = HEADER + rule("a") + rule("b", "    bogus: 1\n")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert p.file == "r.yaml"
    assert p.line == line_no(text, "id: b")  # the line of the rule object at /rules/1
    assert "/rules/1" in p.message
    assert "'bogus'" in p.message


def test_unknown_top_level_key(root: Path) -> None:
    text = "rulez: []\n" + HEADER + rule("a")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", 1)
    assert "'rulez'" in p.message


def test_rule_without_any_source_names_its_line(root: Path) -> None:
    header = HEADER.replace("  source: {document: D, edition: E, section: S}\n", "")
    text = header + rule("a") + rule("b")
    (root / "nosource.yaml").write_text(text)
    found = problems(root)
    assert [(p.file, p.line) for p in found] == [
        ("nosource.yaml", line_no(text, "id: a")),
        ("nosource.yaml", line_no(text, "id: b")),
    ]
    assert "rule 'a' has no 'source'" in found[0].message


def test_rule_source_from_defaults_or_own(root: Path) -> None:
    header = HEADER.replace("  source: {document: D, edition: E, section: S}\n", "")
    own = "    source: {document: Own, edition: E2, section: S2, paragraph: '3'}\n"
    (root / "r.yaml").write_text(header + rule("a", own))
    assert load_rulebook(root).rules["a"].citation == "Own, E2, S2, para 3"


def test_source_without_section_names_the_source_line(root: Path) -> None:
    text = HEADER + rule("a", "    source: {document: D, edition: E}\n")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "source: {document: D, edition: E}"))
    assert "/rules/0/source" in p.message


def test_source_without_section_says_what_is_missing(root: Path) -> None:
    (root / "r.yaml").write_text(HEADER + rule("a", "    source: {document: D, edition: E}\n"))
    assert "'section' is a required property" in only_problem(root).message


def test_table_rule_without_source_is_a_problem(root: Path) -> None:
    header = HEADER.replace("  source: {document: D, edition: E, section: S}\n", "")
    text = header + (
        "  - id: t\n"
        "    title: T\n"
        "    summary: S\n"
        "    table:\n"
        "      hit_policy: first\n"
        "      inputs: [{name: x, fact: incident.x}]\n"
        "      rows:\n"
        "        - {id: r1, when: {x: 1}, then: {outcome: record}}\n"
    )
    (root / "t.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("t.yaml", line_no(text, "id: t"))
    assert "no 'source'" in p.message


def test_bad_verification_value(root: Path) -> None:
    text = HEADER + rule("a", "    verification: probably\n")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "verification: probably"))
    assert "'probably'" in p.message


# ------------------------------------------------------------------------------------------
# Compile problems
# ------------------------------------------------------------------------------------------


def test_wrong_output_name(root: Path) -> None:
    text = HEADER + rule("a") + rule("b", then="{outcome: record, result: yes}")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: b"))
    assert "decision 'recording' has no output 'result'" in p.message


def test_enum_output_value_not_allowed(root: Path) -> None:
    text = HEADER + rule("a", then="{outcome: maybe}")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: a"))
    assert "outcome='maybe'" in p.message
    assert "record" in p.message


def test_enum_output_value_in_table_row(root: Path) -> None:
    text = HEADER + (
        "  - id: t\n"
        "    title: T\n"
        "    summary: S\n"
        "    table:\n"
        "      hit_policy: first\n"
        "      inputs: [{name: x, fact: incident.x}]\n"
        "      rows:\n"
        "        - {id: r1, when: {x: 1}, then: {outcome: record}}\n"
        "        - {id: r2, when: {x: 2}, then: {outcome: perhaps}}\n"
    )
    (root / "t.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("t.yaml", line_no(text, "id: t"))
    assert "outcome='perhaps'" in p.message


def test_override_of_missing_rule(root: Path) -> None:
    text = HEADER + rule("a") + rule("b", "    overrides: [a, zzz]\n")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: b"))
    assert "overrides 'zzz', which does not exist" in p.message


def test_override_cycle(root: Path) -> None:
    text = (HEADER + rule("a", "    overrides: [c]\n") + rule("b", "    overrides: [a]\n")
            + rule("c", "    overrides: [b]\n") + rule("d", "    overrides: [a]\n"))
    (root / "r.yaml").write_text(text)
    found = problems(root)
    assert [(p.file, p.line) for p in found] == [
        ("r.yaml", line_no(text, "id: a")),
        ("r.yaml", line_no(text, "id: b")),
        ("r.yaml", line_no(text, "id: c")),
    ]
    assert all("override cycle" in p.message for p in found)


def test_self_override(root: Path) -> None:
    text = HEADER + rule("a") + rule("b", "    overrides: [b]\n")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: b"))
    assert "rule 'b' overrides itself" in p.message


def test_override_across_decisions(root: Path) -> None:
    other = HEADER.replace("decision: recording", "decision: timeliness")
    (root / "a.yaml").write_text(HEADER + rule("a"))
    text = other + rule("t", "    overrides: [a]\n", then="{met: true}")
    (root / "b.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("b.yaml", line_no(text, "id: t"))
    assert "which decides 'recording', not 'timeliness'" in p.message


def test_duplicate_rule_id_across_files(root: Path) -> None:
    first = HEADER + rule("x") + rule("a")
    second = HEADER + rule("b") + rule("a")
    (root / "one.yaml").write_text(first)
    (root / "two.yaml").write_text(second)
    p = only_problem(root)
    assert (p.file, p.line) == ("two.yaml", line_no(second, "id: a"))
    assert f"duplicate rule id 'a' (first at one.yaml:{line_no(first, 'id: a')})" in p.message


def test_unknown_fact_root(root: Path) -> None:
    text = HEADER + rule("a") + rule("b").replace("incident.x", "suspect.age")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: b"))
    assert "unknown fact root 'suspect'" in p.message


def test_fact_root_of_a_narrower_scope_is_unknown(root: Path) -> None:
    # A deadline (incident scope) cannot read an allegation-scope decision or the victim.
    other = HEADER.replace("decision: recording", "decision: timeliness")
    text = other + rule("t", then="{met: true}").replace("incident.x", "recording.outcome")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: t"))
    assert "unknown fact root 'recording'" in p.message


def test_rule_for_unknown_decision(root: Path) -> None:
    text = HEADER + rule("a", "    decision: recordng\n")
    (root / "r.yaml").write_text(text)
    p = only_problem(root)
    assert (p.file, p.line) == ("r.yaml", line_no(text, "id: a"))
    assert "no decision named 'recordng'" in p.message


def test_every_problem_of_every_file_is_listed(root: Path) -> None:
    (root / "a.yaml").write_text(HEADER + rule("a", "    overrides: [nope]\n"))
    (root / "b.yaml").write_text(HEADER + rule("b", then="{outcome: maybe}"))
    found = problems(root)
    assert sorted(p.file for p in found) == ["a.yaml", "b.yaml"]


DECISIONS = """\
decisions:
  - name: d1
    scope: incident
    title: D1
    outputs: {v: {type: string}}
    if_no_rule_applies: absent
  - name: d2
    scope: incident
    title: D2
    outputs: {v: {type: string}}
    if_no_rule_applies: absent
"""


def cycle_text(first_reads: str, second_reads: str) -> str:
    return DECISIONS + HEADER.replace("decision: recording", "decision: d1") + (
        "  - id: one\n"
        "    title: T\n"
        "    summary: S\n"
        f"    when: {{fact: {first_reads}.v, exists: true}}\n"
        "    then: {v: x}\n"
        "  - id: two\n"
        "    title: T\n"
        "    summary: S\n"
        "    decision: d2\n"
        f"    when: {{fact: {second_reads}.v, exists: true}}\n"
        "    then: {v: x}\n"
    )


def test_decision_order_follows_dependencies(root: Path) -> None:
    (root / "d.yaml").write_text(cycle_text("d2", "incident"))
    book = load_rulebook(root)
    assert book.decisions["d1"].depends == frozenset({"d2"})
    names = [d.name for d in book.order["incident"]]
    assert names.index("d2") < names.index("d1")


def test_decision_dependency_cycle(root: Path) -> None:
    (root / "d.yaml").write_text(cycle_text("d2", "d1"))
    p = only_problem(root)
    assert "cycle" in p.message
    assert "d1, d2" in p.message


def test_decision_dependency_cycle_names_file_and_line(root: Path) -> None:
    text = cycle_text("d2", "d1")
    (root / "d.yaml").write_text(text)
    p = only_problem(root)
    assert p.file == "d.yaml"
    assert p.line in (line_no(text, "name: d1"), line_no(text, "name: d2"))


def test_decision_reading_its_own_output_is_a_cycle(root: Path) -> None:
    (root / "d.yaml").write_text(cycle_text("d1", "incident"))
    p = only_problem(root)
    assert "cycle" in p.message


# ------------------------------------------------------------------------------------------
# The shipped rulebook, caching and the content hash
# ------------------------------------------------------------------------------------------


def test_shipped_rulebook_loads_and_is_cached() -> None:
    book = load_rulebook()
    assert book is load_rulebook()
    assert book is load_rulebook(SHIPPED)
    assert book.hash.startswith("sha256:") and len(book.hash) == len("sha256:") + 64
    assert "rulebook.yaml" in book.files
    assert "ncrs.victim-account" in book.rules
    assert book.pipeline["recording"] == "recording"
    assert book.classification("44", __import__("datetime").date(2024, 1, 1)) is not None
    assert book.info() == {"name": book.name, "edition": book.edition, "hash": book.hash}


def test_hash_changes_when_a_file_changes(tmp_path: Path) -> None:
    base = tmp_path / "rules"
    shutil.copytree(SHIPPED, base)
    first = load_rulebook(base)
    assert first.hash == load_rulebook(SHIPPED).hash  # same content, same hash
    assert first is load_rulebook(base)
    target = base / "ncrs" / "recording-standard.yaml"
    original = target.read_text()
    target.write_text(original + "\n# a comment\n")
    second = load_rulebook(base)
    assert second.hash != first.hash
    assert second is not first
    target.write_text(original)
    assert load_rulebook(base) is first
    # A renamed file changes the hash too: the paths are part of it.
    target.rename(base / "ncrs" / "recording-standard-renamed.yaml")
    assert load_rulebook(base).hash != first.hash


# ------------------------------------------------------------------------------------------
# The loader as named stages, and what a cache hit skips
# ------------------------------------------------------------------------------------------


def _fresh_load(base: Path) -> Rulebook:
    """A load that bypasses the in-process cache (the disk cache is used as usual)."""
    files = rule_files(base)
    return _compile(base, files, content_hash(base, files))


def test_every_stage_is_timed_and_a_cache_hit_skips_only_the_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HOCR_NO_CACHE", raising=False)
    names = [name for name, _, _ in STAGES]
    cold = _fresh_load(SHIPPED)
    assert [n for n, _ in cold.timings] == ["read", *names, "write cache"]
    warm = _fresh_load(SHIPPED)
    skipped = [name for name, _, on_hit in STAGES if not on_hit]
    # Both only look for problems, which an entry rules out (the catalogue's rows are attached
    # when a code is first read, on a hit as on a miss).
    assert skipped == ["catalogue", "presumption safety"]
    assert [n for n, _ in warm.timings] == ["cache", *(n for n in names if n not in skipped)]
    assert all(seconds >= 0 for _, seconds in cold.timings + warm.timings)
    # The rulebook read from the cache is the rulebook read from the files.
    assert warm.hash == cold.hash and warm.files == cold.files and warm.pipeline == cold.pipeline
    assert warm.classifications == cold.classifications
    assert warm.audit == cold.audit and warm.audit.groups
    assert [(p.id, p.file, p.line) for p in warm.presumptions] == [(p.id, p.file, p.line) for p in cold.presumptions]
    for rid, r in cold.rules.items():
        w = warm.rules[rid]
        assert (w.file, w.line, w.raw, w.defeaters, w.citation) == (r.file, r.line, r.raw, r.defeaters, r.citation)
    assert {n: [r.id for r in d.rules] for n, d in warm.decisions.items()} == {n: [r.id for r in d.rules] for n, d in cold.decisions.items()}
    assert {n: d.depends for n, d in warm.decisions.items()} == {n: d.depends for n, d in cold.decisions.items()}
    assert {s: [d.name for d in ds] for s, ds in warm.order.items()} == {s: [d.name for d in ds] for s, ds in cold.order.items()}


def test_a_cache_entry_keeps_only_the_lines_a_loaded_rulebook_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HOCR_NO_CACHE", raising=False)
    _fresh_load(SHIPPED)
    files = rule_files(SHIPPED)
    entry = _read_cache(_cache_key(content_hash(SHIPPED, files)))
    assert entry is not None and len(entry.docs) == len(files)
    docs = entry.docs
    assert all(len(path) <= 2 for _, _, lines in docs for path in lines)
    assert any(path[:1] == ("rules",) and len(path) == 2 for _, _, lines in docs for path in lines)


def test_no_function_of_the_loader_incident_or_cli_is_over_80_lines() -> None:
    import ast

    long = []
    for name in ("loader.py", "incident.py", "cli.py", "cache.py", "jsonio.py"):
        path = Path(__file__).resolve().parents[1] / "src" / "hocr" / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_function = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            if is_function and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{name}:{node.lineno} {node.name}")
    assert not long


def test_a_rulebook_read_from_the_cache_decides_every_worked_case_as_one_read_from_the_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read from the cache, conditions are compiled when first evaluated (loader._CompileOnFirstUse).
    import datetime as dt
    import json

    from hocr.cases import case_incident, load_case_file
    from hocr.engine import evaluate
    from hocr.incident import InvalidIncident

    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HOCR_NO_CACHE", raising=False)
    cold = _fresh_load(SHIPPED)
    warm = _fresh_load(SHIPPED)
    assert warm.timings[0][0] == "cache"
    compared = 0
    for path in sorted((Path(__file__).parent / "cases").rglob("*.yaml")):
        for case in load_case_file(path):
            as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
            found = []
            for book in (warm, cold):
                try:
                    found.append(json.dumps(evaluate(book, case_incident(case, path.parent), as_of=as_of), sort_keys=True, default=str))
                except InvalidIncident as exc:
                    found.append(str(exc))
            assert found[0] == found[1], case["name"]
            compared += 1
    assert compared > 1000


def test_the_catalogue_attaches_each_row_of_the_list_to_the_entry_in_force_on_its_date() -> None:
    # hocr.offences.Catalogue attaches a code's rows when the code is first read.
    book = load_rulebook()
    held = book.offence_list
    assert held is not None
    rows = [row for row in held.rows if row.get("code") is not None and row.get("names")]  # names: its offences
    assert rows and len(book.classifications) == len(list(book.classifications))
    for row in rows:
        entries = book.classifications[row["code"]]
        assert entries is book.classifications[row["code"]]  # made once
        assert [c.in_force_from for c in entries] == sorted(c.in_force_from for c in entries)
        on_date = [c for c in entries if c.in_force(held.as_of)]
        assert len(on_date) == 1
        assert row["row"] in {o.row for o in on_date[0].offence_entries}
        assert not any(o.row == row["row"] for c in entries if c is not on_date[0] for o in c.offence_entries)


def test_an_entry_of_another_shape_is_ignored_and_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hash-valid but not {docs, roots} (a bug, or the list of files an older hocr wrote): the
    # rule files are read again and the entry rewritten.
    from hocr import cache as disk_cache
    from hocr import jsonio

    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HOCR_NO_CACHE", raising=False)
    files = rule_files(SHIPPED)
    key = _cache_key(content_hash(SHIPPED, files))
    for odd in ([], {"docs": []}, {"docs": [], "roots": []}):
        disk_cache.write("rules", key, jsonio.dumps(odd))
        assert _read_cache(key) is None
        assert _fresh_load(SHIPPED).timings[0][0] == "read"
        entry = _read_cache(key)
        assert entry is not None and len(entry.docs) == len(files)


# ------------------------------------------------------------------------------------------
# The audit section (rules/audit/)
# ------------------------------------------------------------------------------------------

AUDIT = """\
audit:
  as_of: "2026-12-02"
  report_groups:
    - {label: everything, match: all, source: {document: D, edition: E, section: S}, verification: unverified}
    - label: robbery
      match: category
      values: [Robbery]
      source: {document: D, edition: E, section: S2}
      verification: secondary
  finding_kinds:
    - kind: kept_as_note
      label: kept as a note
      definition: the force kept a note instead
      findings: [t.note]
      source: {document: D, edition: E, section: S3}
      verification: unverified
"""


def test_the_shipped_audit_section_is_read_into_the_rulebook() -> None:
    method = load_rulebook().audit
    assert method.file == "audit/report-groups.yaml" and method.as_of is not None
    assert [(g.label, g.match, g.values) for g in method.groups] == [
        ("all crimes", "all", ()), ("all crime excluding fraud", "not_category", ("Fraud",)),
        ("violence against the person", "category", ("Violence against the Person",)),
        ("sexual offences", "category", ("Sexual Offences",)), ("rape", "tag", ("rape",))]
    (kind,) = method.kinds
    assert (kind.kind, kind.findings) == ("rape_left_as_n100", ("n100.kept-for-recorded-rape",))
    assert all(x.citation and x.verification for x in (*method.groups, kind))
    assert "HMICFRS" in method.groups[1].citation


def test_an_audit_section_is_read_with_its_lines_and_citations(root: Path) -> None:
    (root / "audit.yaml").write_text(AUDIT)
    method = load_rulebook(root).audit
    assert [(g.label, g.match, g.values, g.verification) for g in method.groups] == [
        ("everything", "all", (), "unverified"), ("robbery", "category", ("Robbery",), "secondary")]
    assert method.groups[1].citation == "D, E, S2" and method.file == "audit.yaml"
    (kind,) = method.kinds
    assert (kind.kind, kind.label, kind.findings) == ("kept_as_note", "kept as a note", ("t.note",))


def test_a_rulebook_without_an_audit_section_has_no_groups_or_kinds(root: Path) -> None:
    method = load_rulebook(root).audit
    assert (method.groups, method.kinds, method.file) == ((), (), "")


def test_a_second_audit_section_or_a_label_used_twice_is_a_problem(root: Path) -> None:
    (root / "audit.yaml").write_text(AUDIT)
    (root / "more.yaml").write_text(AUDIT)
    p = only_problem(root)
    assert p.file == "more.yaml" and "a second audit section (the first is in audit.yaml)" in p.message
    (root / "more.yaml").unlink()
    (root / "audit.yaml").write_text(AUDIT.replace("label: robbery", "label: Everything"))
    assert "report group label 'everything' is used twice" in only_problem(root).message


def test_the_documents_sections_are_read_together_in_the_order_of_files(root: Path) -> None:
    (general,) = load_rulebook().documents
    assert "Crime Recording General Rules" in general.names and general.editions[0].names == ("April 2003", "2003")
    assert general.editions[-1].sections["F"] == "The Principal Crime Rule" and general.editions[-1].annexes["B"]
    assert load_rulebook(root).documents == ()
    for name, doc in (("b.yaml", "B"), ("a.yaml", "A")):
        (root / name).write_text(f"documents:\n  - names: [{doc}]\n    editions:\n      - names: ['1']\n"
                                 "        sections: {F: Eff}\n        notes: n\n")
    documents = load_rulebook(root).documents
    assert [d.names for d in documents] == [("A",), ("B",)]
    assert documents[0].editions == (DocumentEdition(names=("1",), sections={"F": "Eff"}, notes="n"),)


def test_the_headline_group_is_the_one_marked_and_two_are_refused(root: Path) -> None:
    assert load_rulebook().audit.headline == load_rulebook().audit.groups[1]  # all crime excluding fraud
    (root / "audit.yaml").write_text(AUDIT)
    assert load_rulebook(root).audit.headline is None
    (root / "audit.yaml").write_text(AUDIT.replace("      values: [Robbery]\n", "      values: [Robbery]\n      headline: true\n"))
    assert load_rulebook(root).audit.headline == load_rulebook(root).audit.groups[1]
    (root / "audit.yaml").write_text(AUDIT.replace("match: all,", "match: all, headline: true,")
                                     .replace("      values: [Robbery]\n", "      values: [Robbery]\n      headline: true\n"))
    p = only_problem(root)
    assert (p.file, p.line) == ("audit.yaml", 5)
    assert p.message == "report group 'robbery' is a second headline (the first is 'everything')"


@pytest.mark.parametrize(("old", "new", "says"), [
    ("match: all,", "match: all, values: [x],", "should not be valid"),
    ("match: all,", "match: all, headline: yes please,", "is not of type 'boolean'"),  # 'all' takes no values
    ("      values: [Robbery]\n", "", "'values' is a required property"),
    ("match: category", "match: offence", "is not one of"),
    ("findings: [t.note]", "findings: []", "should be non-empty"),
])
def test_the_schema_refuses_a_malformed_audit_section(root: Path, old: str, new: str, says: str) -> None:
    assert old in AUDIT
    (root / "audit.yaml").write_text(AUDIT.replace(old, new))
    p = only_problem(root)
    assert p.file == "audit.yaml" and says in p.message, p.message


def test_conditions_and_tables_compiled_on_first_use_are_compiled_one_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read from the cache, a rule's condition and table are compiled when first used, and
    # conditions share predicates through their resolver's table, numbered by their place in it.
    # Two threads compiling at once could number two predicates alike (in the service's pool, a
    # crime classified on another predicate's truth): compilations must never overlap.
    import contextlib
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from hocr import loader
    from hocr.conditions import Scope

    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HOCR_NO_CACHE", raising=False)
    _fresh_load(SHIPPED)
    warm = _fresh_load(SHIPPED)
    assert warm.timings[0][0] == "cache"
    active, most = [0], [0]
    guard = threading.Lock()

    def overlapping(real: Any) -> Any:
        def compile_now(*args: Any, **kwargs: Any) -> Any:
            with guard:
                active[0] += 1
                most[0] = max(most[0], active[0])
            time.sleep(0.001)  # long enough for every other thread to arrive
            try:
                return real(*args, **kwargs)
            finally:
                with guard:
                    active[0] -= 1
        return compile_now

    monkeypatch.setattr(loader, "compile_condition", overlapping(loader.compile_condition))
    monkeypatch.setattr(loader, "compile_table", overlapping(loader.compile_table))
    rules = [r for d in warm.decisions.values() for r in d.rules][:60]
    assert any(isinstance(r.cond, loader._CompileOnFirstUse) for r in rules)

    def first_use(rule: Any) -> None:
        with contextlib.suppress(Exception):  # an empty scope may not be readable: compiling is what counts
            rule.cond(Scope({}, {}), None)
        if rule.table is not None:
            _ = rule.table.rows

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(first_use, rules * 2))
    assert most[0] == 1
