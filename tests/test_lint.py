"""`hocr rules lint`: each check provoked on a small rulebook written for the test, and kept quiet
where the rules are in fact consistent (no false alarms on provably exclusive conditions)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hocr.lint import CHECKS, Finding, Linter, lint, read_model, section_problem

GR = "Home Office Counting Rules for Recorded Crime: General Rules"

MANIFEST = f"""
rulebook:
  name: lint test
  edition: test
  pipeline:
    classification: classification
    recording: recording
    count_key: count_key
    principal:
      summary: most serious first
      order_by: [{{field: max_sentence_months, direction: desc}}]
      source: {{document: "{GR}", edition: April 2022, section: F Principal Crime Rule}}
      verification: unverified
decisions:
  - name: classification
    scope: act
    title: classification
    outputs: {{code: {{type: classification_code, nullable: true}}}}
    if_no_rule_applies: undetermined
  - name: recording
    scope: allegation
    title: recording
    outputs: {{outcome: {{enum: [record, not_recorded]}}, reason: {{type: string}}}}
    determined_by: [outcome]
    if_no_rule_applies: undetermined
  - name: count_key
    scope: allegation
    title: count
    outputs: {{key: {{type: list}}}}
    if_no_rule_applies: undetermined
"""

CATALOGUE = f"""
defaults:
  source: {{document: "{GR}", edition: April 2022, section: B Classification and Re-classification}}
  in_force: {{from: "2002-04-01"}}
  verification: unverified
  category: Test
classifications:
  - {{code: 8N, name: Assault with injury, victim_based: true, max_sentence: {{years: 5}}}}
  - {{code: 105A, name: Assault without injury, victim_based: true, max_sentence: {{months: 6}}}}
  - {{code: 92A, name: Drug trafficking, victim_based: false, max_sentence: life}}
"""

BASE = f"""
defaults:
  source: {{document: "{GR}", edition: April 2022, section: National Crime Recording Standard}}
  in_force: {{from: "2002-04-01"}}
  verification: unverified
rules:
  - id: t.named
    decision: classification
    title: named
    summary: named
    when: {{fact: act.classification, exists: true}}
    then: {{code: {{fact: act.classification}}}}
  - id: t.victim
    decision: recording
    title: victim
    summary: victim
    when:
      all:
        - {{fact: classification.victim_based, equals: true}}
        - {{fact: report.reporter.type, equals: victim}}
    then: {{outcome: record, reason: victim}}
  - id: t.other
    decision: recording
    title: other
    summary: other
    when:
      all:
        - {{fact: classification.victim_based, equals: true}}
        - {{fact: report.reporter.type, not_equals: victim}}
    then: {{outcome: not_recorded, reason: other}}
  - id: t.state
    decision: recording
    title: state
    summary: state
    when: {{fact: classification.victim_based, equals: false}}
    then: {{outcome: record, reason: state}}
  - id: t.key
    decision: count_key
    title: key
    summary: key
    then: {{key: {{list: [{{fact: allegation.victim}}]}}}}
"""


def book(tmp_path: Path, extra: str = "", base: str = BASE, catalogue: str = CATALOGUE, manifest: str = MANIFEST) -> Path:
    root = tmp_path / "rules"
    root.mkdir(exist_ok=True)
    (root / "rulebook.yaml").write_text(manifest)
    (root / "catalogue.yaml").write_text(catalogue)
    (root / "base.yaml").write_text(base)
    if extra:
        (root / "extra.yaml").write_text(textwrap.dedent(extra))
    return root


def codes(root: Path) -> list[str]:
    return [f.code for f in lint(root).findings]


def found(root: Path, code: str) -> list[Finding]:
    return [f for f in lint(root).findings if f.code == code]


def rule(rid: str, decision: str, when: str | None = None, then: str = "{outcome: record, reason: x}",
         extra: str = "", in_force: str = '{from: "2002-04-01"}', source: str | None = None) -> str:
    src = source if source is not None else f'{{document: "{GR}", edition: April 2022, section: A Whether and When to Record}}'
    lines = [f"  - id: {rid}", f"    decision: {decision}", "    title: t", "    summary: s",
             "    verification: unverified", f"    in_force: {in_force}"]
    if src:
        lines.append(f"    source: {src}")
    if when:
        lines.append(f"    when: {when}")
    if then:
        lines.append(f"    then: {then}")
    if extra:
        lines.append(textwrap.indent(textwrap.dedent(extra).strip("\n"), "    "))
    return "\n".join(lines) + "\n"


def rules_file(*rules: str) -> str:
    return "rules:\n" + "".join(rules)


def test_the_base_rulebook_is_clean(tmp_path: Path) -> None:
    result = lint(book(tmp_path))
    assert result.findings == [], "\n".join(map(str, result.findings))


def test_every_check_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "consistency.md").read_text()
    for code in CHECKS:
        assert code in doc, code


# ---- ids and references -------------------------------------------------------------------


def test_duplicate_rule_id(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.victim", "recording", "{fact: act.points_to_prove, equals: true}")))
    (f,) = found(root, "HOCR-L001")
    assert f.file == "extra.yaml" and f.line == 2 and "first at base.yaml:" in f.message


def test_duplicate_table_row_id(tmp_path: Path) -> None:
    table = """
    table:
      hit_policy: first
      inputs: [{name: p, fact: act.points_to_prove, domain: [true, false]}]
      rows:
        - {id: r, when: {p: true}, then: {outcome: record, reason: a}}
        - {id: r, when: {p: false}, then: {outcome: record, reason: b}}
    """
    root = book(tmp_path, rules_file(rule("t.table", "recording", "{fact: classification.victim_based, equals: true}", "", table)))
    assert any("row id 'r'" in f.message for f in found(root, "HOCR-L001"))


def test_override_of_a_missing_rule(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "recording", "{fact: act.points_to_prove, equals: true}", extra="overrides: [t.nowhere]")))
    assert any("'t.nowhere', which does not exist" in f.message for f in found(root, "HOCR-L002"))


def test_override_of_another_decisions_rule(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "recording", "{fact: act.points_to_prove, equals: true}", extra="overrides: [t.key, t.victim, t.other, t.state]")))
    assert any("'t.key', which decides 'count_key'" in f.message for f in found(root, "HOCR-L002"))


def test_unknown_decision(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "recordin", "{fact: act.points_to_prove, equals: true}")))
    assert any("'recordin'" in f.message for f in found(root, "HOCR-L003"))


@pytest.mark.parametrize("condition, expected", [
    ("{fact: classification.code, equals: 8X}", "'8X' is not in the catalogue"),
    ("{fact: act.classification, in: [8N, 99Z]}", "'99Z' is not in the catalogue"),
    ("{fact: classification.code, equals: 44}", "44 is not a classification code"),
])
def test_unknown_classification_code(tmp_path: Path, condition: str, expected: str) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "recording", condition, extra="overrides: [t.victim, t.other, t.state]")))
    assert any(expected in f.message for f in found(root, "HOCR-L004")), lint(root).findings


def test_classification_not_in_force_while_the_rule_is(tmp_path: Path) -> None:
    cat = CATALOGUE + '  - {code: 8Z, name: Old, victim_based: true, max_sentence: {years: 1}, in_force: {from: "2002-04-01", to: "2005-03-31"}}\n'
    root = book(tmp_path, rules_file(rule("t.x", "classification", "{fact: act.points_to_prove, equals: true}", "{code: 8Z}",
                                          in_force='{from: "2010-04-01"}', extra="overrides: [t.named]")), catalogue=cat)
    assert any("never in force while the rule is" in f.message for f in found(root, "HOCR-L004"))


@pytest.mark.parametrize("path, why", [
    ("victim.confirms_crimes", "victim has no 'confirms_crimes'"),
    ("report.reporter.kind", "report.reporter has no 'kind'"),
    ("classification.severity", "classification has no 'severity'"),
    ("recording.because", "recording has no 'because'"),
    ("act.id.x", "act.id: it is a string"),
])
def test_unknown_fact(tmp_path: Path, path: str, why: str) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "count_key", f"{{fact: {path}, equals: true}}", "{key: x}", extra="overrides: [t.key]")))
    messages = [f.message for f in found(root, "HOCR-L005")]
    assert any(why in m for m in messages), messages


def test_unknown_fact_inside_some_is_checked_against_the_list_items(tmp_path: Path) -> None:
    cond = "{some: act.contrary_evidence, where: {fact: item.knd, equals: verifiable_fact}}"
    root = book(tmp_path, rules_file(rule("t.x", "count_key", cond, "{key: x}", extra="overrides: [t.key]")))
    assert any("'item.knd'" in f.message for f in found(root, "HOCR-L005"))
    good = cond.replace("knd", "kind")
    root = book(tmp_path, rules_file(rule("t.x", "count_key", good, "{key: x}", extra="overrides: [t.key]")))
    assert not found(root, "HOCR-L005")


def test_output_not_in_enum(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "recording", "{fact: act.points_to_prove, equals: true}", "{outcome: recorded, reason: x}",
                                          extra="overrides: [t.victim, t.other, t.state]")))
    assert found(root, "HOCR-L006")


# ---- tables -------------------------------------------------------------------------------


def table_rule(policy: str, rows: str, inputs: str | None = None, when: str = "{fact: classification.victim_based, equals: true}") -> str:
    inputs = inputs or "[{name: role, fact: report.reporter.type, domain: [victim, third_party, police]}, {name: p, fact: act.points_to_prove, domain: [true, false]}]"
    extra = f"table:\n  hit_policy: {policy}\n  inputs: {inputs}\n  rows:\n" + textwrap.indent(textwrap.dedent(rows).strip("\n"), "    ")
    return rules_file(rule("t.table", "recording", when, "", extra + "\noverrides: [t.victim, t.other]"))


COMPLETE = """
- {id: victim, when: {role: victim, p: "-"}, then: {outcome: record, reason: a}}
- {id: tp-yes, when: {role: [third_party, police], p: true}, then: {outcome: record, reason: b}}
- {id: tp-no, when: {role: [third_party, police], p: false}, then: {outcome: not_recorded, reason: c}}
"""


@pytest.mark.parametrize("policy", ["unique", "first"])
def test_a_complete_table_is_clean(tmp_path: Path, policy: str) -> None:
    root = book(tmp_path, table_rule(policy, COMPLETE))
    assert not lint(root).findings, lint(root).findings


def test_overlapping_rows_under_unique(tmp_path: Path) -> None:
    rows = COMPLETE.replace("p: true}", 'p: "-"}')
    root = book(tmp_path, table_rule("unique", rows))
    (f,) = found(root, "HOCR-L010")
    assert "'tp-yes' and 'tp-no'" in f.message and "p=false" in f.message
    # The same rows under the first policy are not an overlap, but the third row is shadowed.
    root = book(tmp_path, table_rule("first", rows))
    assert not found(root, "HOCR-L010")
    assert [f.message for f in found(root, "HOCR-L013")] == [
        "rule 't.table', row 'tp-no' can never be chosen: an earlier row matches every case it matches"]


def test_overlap_without_domains_by_ranges(tmp_path: Path) -> None:
    inputs = "[{name: age, fact: victim.age}]"
    rows = """
    - {id: child, when: {age: {lt: 13}}, then: {outcome: record, reason: a}}
    - {id: young, when: {age: {ge: 13, lt: 16}}, then: {outcome: record, reason: b}}
    - {id: adult, when: {age: {ge: 15}}, then: {outcome: record, reason: c}}
    """
    root = book(tmp_path, table_rule("unique", rows, inputs))
    assert [("young" in f.message and "adult" in f.message) for f in found(root, "HOCR-L010")] == [True]
    fixed = rows.replace("{ge: 15}", "{ge: 16}")
    assert not found(book(tmp_path, table_rule("unique", fixed, inputs)), "HOCR-L010")


def test_gap_over_the_declared_domains(tmp_path: Path) -> None:
    rows = "\n".join(COMPLETE.strip().splitlines()[:2])
    root = book(tmp_path, table_rule("unique", rows))
    (f,) = found(root, "HOCR-L011")
    assert 'role="third_party", p=false' in f.message and 'role="police", p=false' in f.message


def test_a_gap_the_rules_when_excludes_is_not_a_gap(tmp_path: Path) -> None:
    rows = "\n".join(COMPLETE.strip().splitlines()[:2])
    guard = "{all: [{fact: classification.victim_based, equals: true}, {any: [{fact: report.reporter.type, equals: victim}, {fact: act.points_to_prove, equals: true}]}]}"
    root = book(tmp_path, table_rule("unique", rows, when=guard))
    assert not found(root, "HOCR-L011")


def test_dead_row_and_value_outside_the_domain(tmp_path: Path) -> None:
    rows = COMPLETE + '- {id: ghost, when: {role: victm, p: "-"}, then: {outcome: record, reason: d}}\n'
    root = book(tmp_path, table_rule("first", rows))
    assert [f.code for f in lint(root).findings if "ghost" in f.message] == ["HOCR-L012", "HOCR-L014"]


def test_dead_row_by_contradictory_bounds(tmp_path: Path) -> None:
    rows = """
    - {id: never, when: {age: {ge: 16, lt: 13}}, then: {outcome: record, reason: a}}
    - {id: any, when: {age: "-"}, then: {outcome: record, reason: b}}
    """
    root = book(tmp_path, table_rule("first", rows, "[{name: age, fact: victim.age}]"))
    assert ["never" in f.message for f in found(root, "HOCR-L012")] == [True]


def test_shadowed_row_without_domains(tmp_path: Path) -> None:
    rows = """
    - {id: teen, when: {age: {ge: 13}}, then: {outcome: record, reason: a}}
    - {id: fifteen, when: {age: 15}, then: {outcome: record, reason: b}}
    - {id: child, when: {age: {lt: 13}}, then: {outcome: record, reason: c}}
    """
    root = book(tmp_path, table_rule("first", rows, "[{name: age, fact: victim.age}]"))
    assert ["'fifteen'" in f.message for f in found(root, "HOCR-L013")] == [True]


def test_a_table_without_domains_is_noted_not_passed(tmp_path: Path) -> None:
    rows = "- {id: a, when: {age: {lt: 13}}, then: {outcome: record, reason: a}}"
    result = lint(book(tmp_path, table_rule("unique", rows, "[{name: age, fact: victim.age}]")))
    assert any(n.code == "HOCR-N001" and "declare no domain" in n.message for n in result.notes)


# ---- overrides and pairs ------------------------------------------------------------------


def test_override_cycle(tmp_path: Path) -> None:
    extra = rules_file(
        rule("t.a", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: a}", extra="overrides: [t.b, t.key]"),
        rule("t.b", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: b}", extra="overrides: [t.a, t.key]"),
    )
    (f,) = found(book(tmp_path, extra), "HOCR-L020")
    assert "t.a -> t.b -> t.a" in f.message


def test_two_rules_that_can_both_apply(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.x", "recording", "{fact: act.points_to_prove, equals: true}")))
    pairs = {f.message.split(" of decision")[0] for f in found(root, "HOCR-L021")}
    assert pairs == {f"rules 't.{o}' (base.yaml:{n}) and 't.x'" for o, n in (("victim", 13), ("other", 22), ("state", 31))}


@pytest.mark.parametrize("a, b", [
    ("{fact: victim.traceable, equals: true}", "{fact: victim.traceable, equals: false}"),
    ("{fact: act.other_authority, exists: true}", "{fact: act.other_authority, exists: false}"),
    ("{fact: act.other_authority.has_primacy, equals: true}", "{fact: act.other_authority, exists: false}"),
    ("{fact: report.channel, in: [online, other]}", "{fact: report.channel, in: [emergency_call]}"),
    ("{fact: report.channel, in: [online, other]}", "{not: {fact: report.channel, in: [online, other]}}"),
    ("{fact: victim.age, lt: 13}", "{fact: victim.age, ge: 16}"),
    ("{fact: incident.recorded_at, le: {fact: report.received_at}}", "{fact: incident.recorded_at, gt: {fact: report.received_at}}"),
    ("{fact: classification.code, equals: 8N}", "{fact: classification.victim_based, equals: false}"),
    ("{fact: recording.reason, equals: state}", "{fact: classification.victim_based, equals: true}"),
    ("{any: [{fact: victim.traceable, equals: true}, {fact: victim.age, lt: 10}]}",
     "{all: [{fact: victim.traceable, equals: false}, {fact: victim.age, gt: 12}]}"),
])
def test_provably_exclusive_rules_are_not_a_pair(tmp_path: Path, a: str, b: str) -> None:
    extra = rules_file(
        rule("t.a", "count_key", a, "{key: a}", extra="overrides: [t.key]"),
        rule("t.b", "count_key", b, "{key: b}", extra="overrides: [t.key]"),
    )
    assert not found(book(tmp_path, extra), "HOCR-L021")
    # ...and the same pair without the exclusive part is reported.
    extra = rules_file(
        rule("t.a", "count_key", a, "{key: a}", extra="overrides: [t.key]"),
        rule("t.b", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: b}", extra="overrides: [t.key]"),
    )
    assert found(book(tmp_path, extra), "HOCR-L021")


def test_rules_not_in_force_together_are_not_a_pair(tmp_path: Path) -> None:
    extra = rules_file(
        rule("t.a", "count_key", None, "{key: a}", extra="overrides: [t.key]", in_force='{from: "2002-04-01", to: "2015-03-31"}'),
        rule("t.b", "count_key", None, "{key: b}", extra="overrides: [t.key]", in_force='{from: "2015-04-01"}'),
    )
    assert not lint(book(tmp_path, extra)).findings


def test_a_decision_that_combines_all_rules_is_exempt(tmp_path: Path) -> None:
    manifest = MANIFEST + "  - {name: flags, scope: act, title: flags, outputs: {flag: {type: string}}, if_no_rule_applies: absent}\n"
    extra = rules_file(rule("t.f1", "flags", None, "{flag: a}"), rule("t.f2", "flags", None, "{flag: b}"))
    assert found(book(tmp_path, extra, manifest=manifest), "HOCR-L021")
    # The loader may not know 'combine' yet: set it on the parsed model and lint that.
    linter = Linter(read_model(book(tmp_path, extra, manifest=manifest)))
    linter.model.decisions["flags"].data["combine"] = "all"
    linter.run()
    assert not [f for f in linter.findings if f.code == "HOCR-L021"]


# ---- dates --------------------------------------------------------------------------------


def editions(first_to: str, second_from: str) -> str:
    return rules_file(
        rule("t.old", "count_key", None, "{key: old}", extra="overrides: [t.key]", in_force=f'{{from: "2002-04-01", to: "{first_to}"}}'),
        rule("t.new", "count_key", None, "{key: new}", extra="overrides: [t.key]", in_force=f'{{from: "{second_from}"}}'),
    )


def test_editions_of_one_rule_that_overlap(tmp_path: Path) -> None:
    (f,) = found(book(tmp_path, editions("2015-04-01", "2015-04-01")), "HOCR-L030")
    assert "rule 't.new' (from 2015-04-01) overlaps rule 't.old' (to 2015-04-01)" in f.message


def test_editions_of_one_rule_with_a_gap(tmp_path: Path) -> None:
    (f,) = found(book(tmp_path, editions("2015-03-30", "2015-04-01")), "HOCR-L031")
    assert "from 2015-03-31 to 2015-03-31" in f.message


def test_a_decision_with_no_rule_in_force_on_some_days(tmp_path: Path) -> None:
    base = BASE.replace("""  - id: t.key
    decision: count_key""", """  - id: t.key
    in_force: {from: "2010-01-01"}
    decision: count_key""")
    (f,) = found(book(tmp_path, base=base), "HOCR-L031")
    assert f.message == "decision 'count_key' has no rule in force from 2002-04-01 to 2009-12-31"


def test_classification_entries_that_overlap_or_leave_a_gap(tmp_path: Path) -> None:
    cat = CATALOGUE + (
        '  - {code: 8Z, name: Old, victim_based: true, max_sentence: {years: 1}, in_force: {from: "2002-04-01", to: "2005-03-31"}}\n'
        '  - {code: 8Z, name: New, victim_based: true, max_sentence: {years: 2}, in_force: {from: "2006-04-01"}}\n')
    assert found(book(tmp_path, catalogue=cat), "HOCR-L031")


def test_a_period_that_ends_before_it_starts(tmp_path: Path) -> None:
    extra = rules_file(rule("t.x", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: x}",
                            extra="overrides: [t.key]", in_force='{from: "2015-04-01", to: "2015-03-31"}'))
    assert found(book(tmp_path, extra), "HOCR-L032")


# ---- citations ----------------------------------------------------------------------------


def test_a_rule_without_a_citation(tmp_path: Path) -> None:
    extra = rules_file(rule("t.x", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: x}", extra="overrides: [t.key]", source=""))
    (f,) = found(book(tmp_path, extra), "HOCR-L040")
    assert "rule 't.x' has no citation" in f.message


def test_a_placeholder_section_is_no_citation(tmp_path: Path) -> None:
    src = f'{{document: "{GR}", edition: April 2022, section: TBD}}'
    extra = rules_file(rule("t.x", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: x}", extra="overrides: [t.key]", source=src))
    assert found(book(tmp_path, extra), "HOCR-L040")


@pytest.mark.parametrize("edition, section, ok", [
    ("April 2022", "C Removing Recorded Crimes", True),
    ("April 2022", "C No Crimes", False),
    ("April 2010", "C No Crimes", True),
    ("April 2010", "H Recorded Crime Outcomes", False),
    ("April 2022", "Annex C Principal Crime Look Up Table", True),
    ("April 2010", "Annex F Principal Crime Look Up Table", True),
    ("April 2022", "Annex F Principal Crime Look Up Table", False),
    ("April 2022", "Annex D Evidence Based Crime Recording", False),
    ("April 2010", "Annex D Evidence Based Crime Recording", True),
    ("April 2003", "G Location of Crimes", False),
    ("April 2022", "K Something Else", False),
    ("April 2022", "National Crime Recording Standard", True),
    ("April 2010", "National Crime Recording Standard", True),
    ("April 2022", "F Principal Crime Rule; Annex C Principal Crime Look Up Table", True),
    ("April 2022", "F Principal Crime Rule; Annex F Principal Crime Look Up Table", False),
    ("April 2021", "E The Finished Incident Rule", True),
])
def test_sections_by_edition(edition: str, section: str, ok: bool) -> None:
    problem, _ = section_problem(GR, edition, section)
    assert (problem is None) == ok, problem


def test_a_citation_of_a_section_the_edition_does_not_have(tmp_path: Path) -> None:
    src = f'{{document: "{GR}", edition: April 2018, section: H Detections}}'
    extra = rules_file(rule("t.x", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: x}", extra="overrides: [t.key]", source=src))
    (f,) = found(book(tmp_path, extra), "HOCR-L041")
    assert "H is 'Recorded Crime Outcomes'" in f.message


def test_the_editions_data_is_the_linted_rulebooks_own(tmp_path: Path) -> None:
    # The same citation, checked against this rulebook's documents section (in which the April
    # 2018 edition has a section H called Detections) instead of the shipped one.
    src = f'{{document: "{GR}", edition: April 2018, section: H Detections}}'
    documents = textwrap.dedent(f"""\
        documents:
          - names: ["{GR}"]
            editions:
              - names: [April 2018]
                sections: {{A: Whether and When to Record, H: Detections}}
        """)
    extra = rules_file(rule("t.x", "count_key", "{fact: act.points_to_prove, equals: true}", "{key: x}", extra="overrides: [t.key]", source=src))
    root = book(tmp_path, extra)
    (root / "documents.yaml").write_text(documents)

    def on_the_rule() -> list[Finding]:  # (the base rules cite editions this section leaves out)
        return [f for f in found(root, "HOCR-L041") if f.subject == "t.x"]

    assert on_the_rule() == []
    (root / "documents.yaml").write_text(documents.replace("H: Detections", "H: Recorded Crime Outcomes"))
    (f,) = on_the_rule()
    assert "H is 'Recorded Crime Outcomes'" in f.message


def test_unknown_documents_and_editions_are_noted(tmp_path: Path) -> None:
    assert section_problem("HMICFRS glossary", "current", "anything") == (None, None)
    problem, note = section_problem(GR, "April 2014", "A Whether and When to Record")
    assert problem is None and note is not None
    problem, _ = section_problem(GR, "April 2014", "K Nothing")
    assert problem is not None


# ---- classifications ----------------------------------------------------------------------


def test_a_classification_no_rule_can_give(tmp_path: Path) -> None:
    base = BASE.replace("when: {fact: act.classification, exists: true}\n    then: {code: {fact: act.classification}}",
                        "when: {fact: act.classification, exists: true}\n    then: {code: 8N}")
    messages = [f.message for f in found(book(tmp_path, base=base), "HOCR-L050")]
    assert len(messages) == 2 and any("'105A'" in m for m in messages) and any("'92A'" in m for m in messages)


def test_a_classification_in_force_before_any_rule(tmp_path: Path) -> None:
    cat = CATALOGUE + '  - {code: 1A, name: Ancient, victim_based: true, max_sentence: life, in_force: {from: "1990-01-01", to: "1995-12-31"}}\n'
    (f,) = found(book(tmp_path, catalogue=cat), "HOCR-L050")
    assert "'1A'" in f.message


# ---- presumptions -----------------------------------------------------------------------


PRESUMPTION = f"""
defaults:
  source: {{document: "{GR}", edition: April 2022, section: National Crime Recording Standard}}
  in_force: {{from: "2002-04-01"}}
  verification: unverified
presumptions:
  - id: t.presume
    title: t
    summary: s
    fact: FACT
    value: VALUE
"""


def test_a_presumption_that_could_withhold_a_record(tmp_path: Path) -> None:
    withhold = rule("t.not-confirmed", "recording", "{fact: victim.confirms_crime, equals: false}",
                    "{outcome: not_recorded, reason: not-confirmed}", extra="overrides: [t.victim, t.other]")
    root = book(tmp_path, rules_file(withhold))
    (root / "presume.yaml").write_text(PRESUMPTION.replace("FACT", "victim.confirms_crime").replace("VALUE", "false"))
    (f,) = found(root, "HOCR-L060")
    assert "t.presume" in f.message and "t.not-confirmed" in f.message and f.file == "presume.yaml"


def test_a_presumption_that_only_records_is_quiet(tmp_path: Path) -> None:
    withhold = rule("t.not-confirmed", "recording", "{fact: victim.confirms_crime, equals: false}",
                    "{outcome: not_recorded, reason: not-confirmed}", extra="overrides: [t.victim, t.other]")
    root = book(tmp_path, rules_file(withhold))
    (root / "presume.yaml").write_text(PRESUMPTION.replace("FACT", "victim.confirms_crime").replace("VALUE", "true"))
    assert found(root, "HOCR-L060") == []


# ---- the command --------------------------------------------------------------------------


def hocr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hocr", *args], capture_output=True, text=True, timeout=120)


def test_cli_clean_exit_0(tmp_path: Path) -> None:
    r = hocr("rules", "lint", "--rules", str(book(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "clean: no findings"


def test_cli_findings_exit_5_text_and_json(tmp_path: Path) -> None:
    root = book(tmp_path, rules_file(rule("t.victim", "recording", "{fact: act.points_to_prove, equals: true}")))
    r = hocr("rules", "lint", "--rules", str(root))
    assert r.returncode == 5
    assert "extra.yaml:2: HOCR-L001 [error] rule id 't.victim' is used twice" in r.stdout
    r = hocr("rules", "lint", "--rules", str(root), "--json")
    assert r.returncode == 5
    items = json.loads(r.stdout)
    assert {"file", "line", "code", "severity", "message", "subject"} <= set(items[0])
    assert any(i["code"] == "HOCR-L001" and i["file"] == "extra.yaml" and i["line"] == 2 for i in items)
    # A rulebook that does not load is linted all the same; the loader's problems are findings.
    assert any(i["code"] == "HOCR-L000" for i in items) or any(i["code"] == "HOCR-L001" for i in items)


# ---- the audit section (rules/audit/): what its groups and kinds name -----------------------

KEPT_MANIFEST = MANIFEST.replace("    count_key: count_key\n", "    count_key: count_key\n    findings: [kept]\n") + """
  - name: kept
    scope: allegation
    combine: all
    title: kept instead
    outputs: {finding: {enum: [kept_instead_of_crime]}, discrepancy: {enum: [left_as_note, other]}}
    if_no_rule_applies: absent
"""

AUDIT = f"""
audit:
  as_of: "2026-12-02"
  report_groups:
    - {{label: all, match: all, headline: true, source: {{document: "{GR}", edition: April 2022, section: B}}, verification: unverified}}
    - {{label: tested, match: MATCH, values: [VALUE], source: {{document: "{GR}", edition: April 2022, section: B}}, verification: unverified}}
  finding_kinds:
    - kind: left_as_note
      label: left as a note
      definition: kept a note instead
      findings: [FINDING]
      source: {{document: "{GR}", edition: April 2022, section: B}}
      verification: unverified
"""

KEPT_RULE = rule("t.kept", "kept", "{fact: recording.outcome, equals: record}",
                 "{finding: kept_instead_of_crime, discrepancy: left_as_note}")


def audit_book(tmp_path: Path, match: str = "category", value: str = "Test", finding: str = "t.kept",
               rules: str = KEPT_RULE) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    root = book(tmp_path, rules_file(rules), manifest=KEPT_MANIFEST)
    (root / "audit.yaml").write_text(AUDIT.replace("MATCH", match).replace("VALUE", value).replace("FINDING", finding))
    return root


def test_an_audit_section_naming_what_exists_is_clean(tmp_path: Path) -> None:
    for match, value in (("category", "test"), ("not_category", "Test"), ("code", "8n")):
        assert lint(audit_book(tmp_path, match, value)).findings == [], (match, value)


@pytest.mark.parametrize(("match", "value", "code", "says"), [
    ("category", "Robbery", "HOCR-L005", "no classification of the catalogue has the category 'Robbery'"),
    ("not_category", "Fraud", "HOCR-L005", "the category 'Fraud'"),
    ("tag", "rape", "HOCR-L005", "the tag 'rape'"),
    ("ons", "violence with injury", "HOCR-L005", "the ONS offence group 'violence with injury'"),
    ("code", "999Z", "HOCR-L004", "classification '999Z' is not in the catalogue"),
])
def test_a_report_group_naming_what_the_catalogue_lacks(tmp_path: Path, match: str, value: str, code: str, says: str) -> None:
    (f,) = found(audit_book(tmp_path, match, value), code)
    assert f.file == "audit.yaml" and f.line == 6 and says in f.message and "report group 'tested'" in f.message


def test_a_finding_kind_naming_a_missing_or_wrong_rule(tmp_path: Path) -> None:
    (f,) = found(audit_book(tmp_path, finding="t.nothing"), "HOCR-L002")
    assert f.file == "audit.yaml" and f.line == 8 and "names rule 't.nothing', which does not exist" in f.message
    (f,) = found(audit_book(tmp_path / "b", finding="t.victim"), "HOCR-L003")
    assert "decides 'recording', not one of the pipeline's findings" in f.message
    other = KEPT_RULE.replace("discrepancy: left_as_note", "discrepancy: other")
    got = sorted(f.message for f in found(audit_book(tmp_path / "c", rules=other), "HOCR-L006"))
    assert got == ["finding kind 'left_as_note' names rule 't.kept', whose discrepancy is 'other'",
                   "rule 't.kept': discrepancy 'other' is no finding kind of the audit section (rules/audit/): "
                   "the audit would pass it over"]


def test_report_groups_mark_exactly_one_headline(tmp_path: Path) -> None:
    # None: --fail-under and a bare --annual-recorded N would be refused (the rulebook loads).
    root = audit_book(tmp_path / "none")
    (root / "audit.yaml").write_text((root / "audit.yaml").read_text().replace(" headline: true,", ""))
    (f,) = found(root, "HOCR-L007")
    assert (f.file, f.line) == ("audit.yaml", 5) and "no report group is the headline" in f.message
    assert [x.code for x in lint(root).findings] == ["HOCR-L007"]
    # Two: the loader refuses the rulebook, at the line lint reports, so it is said once.
    root = audit_book(tmp_path / "two", "category", "test")
    (root / "audit.yaml").write_text((root / "audit.yaml").read_text().replace("match: category,", "match: category, headline: true,"))
    (f,) = lint(root).findings
    assert (f.code, f.file, f.line) == ("HOCR-L007", "audit.yaml", 6)
    assert f.message == "report group 'tested' is a second headline (the first is 'all')"
    # No groups at all: nothing to mark.
    root = audit_book(tmp_path / "empty")
    text = (root / "audit.yaml").read_text()
    (root / "audit.yaml").write_text(text[:text.index("  report_groups:")] + "  report_groups: []\n" + text[text.index("  finding_kinds:"):])
    assert lint(root).findings == []


def test_the_shipped_audit_section_is_clean_and_a_broken_copy_is_not(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parent.parent / "rules", root)
    assert not [f for f in lint(root).findings if f.file.startswith("audit/")]
    path = root / "audit" / "report-groups.yaml"
    path.write_text(path.read_text().replace("values: [Sexual Offences]", "values: [Sexual offences against adults]"))
    (f,) = [f for f in lint(root).findings if f.file.startswith("audit/")]
    assert f.code == "HOCR-L005" and "Sexual offences against adults" in f.message
