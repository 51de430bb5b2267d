"""The command line, as a user runs it: exit codes, JSON output, and bad input of every kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def hocr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hocr", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_decided_exit_0_and_text() -> None:
    r = hocr("check", str(EXAMPLES / "victim-report-recorded.json"))
    assert r.returncode == 0, r.stderr
    assert "Record 1 crime: 44 Theft or unauthorised taking of a pedal cycle" in r.stdout
    assert "ncrs.victim-account" in r.stdout
    assert "Traceback" not in r.stderr


def test_check_json_from_stdin() -> None:
    text = (EXAMPLES / "recorded-late.json").read_text()
    r = hocr("check", "-", "--json", stdin=text)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["crime_count"] == 1
    assert d["deadline"]["met"] is False
    assert "trace" not in d


def test_check_json_with_trace() -> None:
    r = hocr("check", str(EXAMPLES / "victim-report-recorded.json"), "--json", "--trace")
    d = json.loads(r.stdout)
    decisions = {(n["scope"], n["decision"]) for n in d["trace"]}
    assert ("act A1, victim V1", "recording") in decisions
    recording = next(n for n in d["trace"] if n["decision"] == "recording")
    assert recording["rule"] == "ncrs.victim-account"
    assert all("citation" in r for r in recording["rules"])


def test_explain_says_what_would_change() -> None:
    r = hocr("check", str(EXAMPLES / "third-party-not-confirmed.json"), "--explain")
    assert r.returncode == 0
    assert "What would change this" in r.stdout
    assert "/victims/0/confirms_crime = yes (now no): ncrs.victim-confirms would give:" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("   [act A1")  # it ends with the changes
    assert "exists" not in r.stdout  # no table that did not apply is listed (that is --trace)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_explain_fits_on_a_screen_for_every_example(example: str) -> None:
    r = hocr("check", str(EXAMPLES / example), "--explain")
    assert r.returncode in (0, 3), r.stderr
    lines = r.stdout.rstrip("\n").splitlines()
    assert len(lines) <= 40, f"{example}: {len(lines)} lines"
    assert "What would change this" in r.stdout


def test_explain_with_json_puts_the_explanation_in_the_decision() -> None:
    r = hocr("check", str(EXAMPLES / "third-party-not-confirmed.json"), "--explain", "--json")
    d = json.loads(r.stdout)
    assert d["explanation"]["format"] == "hocr.explanation.v1" and "trace" not in d
    assert [s["key"] for s in d["explanation"]["steps"]][:2] == ["report", "confirmation"]
    both = json.loads(hocr("check", str(EXAMPLES / "third-party-not-confirmed.json"), "--explain", "--trace", "--json").stdout)
    assert "trace" in both and "explanation" in both


def test_why_not_names_the_blocking_fact() -> None:
    r = hocr("check", str(EXAMPLES / "third-party-not-confirmed.json"), "--why-not", "record")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Why not record?")
    assert "if /victims/0/confirms_crime yes (now no):" in r.stdout and "ncrs.victim-confirms would apply" in r.stdout
    j = json.loads(hocr("check", str(EXAMPLES / "third-party-not-confirmed.json"), "--why-not", "record", "--json").stdout)
    assert j["why_not"]["target"] == "record"


def test_why_not_an_unknown_code_is_invalid_input() -> None:
    r = hocr("check", str(EXAMPLES / "victim-report-recorded.json"), "--why-not", "ZZZ")
    assert r.returncode == 2 and "--why-not" in r.stderr and r.stdout == ""


def test_rules_diff_lists_the_2023_changes_as_text_and_json() -> None:
    r = hocr("rules", "diff", "--from", "2023-01-01", "--to", "2023-12-31")
    assert r.returncode == 0, r.stderr
    for expected in ("28I", "f.2023.principal-offence", "a.2023.non-threatening-communication",
                     "a.2023.resolved-disturbance", "c.authority.2023.serious"):
        assert expected in r.stdout
    j = json.loads(hocr("rules", "diff", "--from", "2023-01-01", "--to", "2023-12-31", "--format", "json").stdout)
    assert j["format"] == "hocr.rulediff.v1" and j["counts"]


@pytest.mark.parametrize("args", [("--from", "2024-01-01", "--to", "2023-01-01"), ("--from", "yesterday", "--to", "2023-01-01"),
                                  ("--from", "2023-01-01", "--to", "2023-12-31", "--format", "xml")])
def test_rules_diff_refuses_a_bad_range_with_exit_2(args: tuple[str, ...]) -> None:
    r = hocr("rules", "diff", *args)
    assert r.returncode == 2 and r.stderr.startswith("hocr: ") and r.stdout == ""


def test_undetermined_exit_3_lists_facts(tmp_path: Path) -> None:
    data = json.loads((EXAMPLES / "third-party-not-confirmed.json").read_text())
    del data["victims"][0]["confirms_crime"]
    del data["victims"][0]["vulnerable"]
    f = tmp_path / "i.json"
    f.write_text(json.dumps(data))
    r = hocr("check", str(f))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "/victims/0/confirms_crime" in r.stdout
    assert "/victims/0/vulnerable" in r.stdout
    assert "Has the victim" in r.stdout


def test_as_of_changes_rules(tmp_path: Path) -> None:
    r = hocr("check", str(EXAMPLES / "recorded-late.json"), "--json", "--as-of", "2014-06-01")
    d = json.loads(r.stdout)
    assert d["as_of"] == "2014-06-01"
    assert d["deadline"]["limit_hours"] == 72
    assert d["deadline"]["met"] is True


def test_bad_as_of() -> None:
    r = hocr("check", str(EXAMPLES / "recorded-late.json"), "--as-of", "yesterday")
    assert r.returncode == 2
    assert "--as-of 'yesterday' is not a date" in r.stderr


def test_missing_file() -> None:
    r = hocr("check", "no-such-file.json")
    assert r.returncode == 2
    assert "cannot read no-such-file.json" in r.stderr
    assert "Traceback" not in r.stderr


def test_invalid_json() -> None:
    r = hocr("check", "-", stdin='{"id": "x", ')
    assert r.returncode == 2
    assert "not valid JSON" in r.stderr and "line 1" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("mutate", "pointer", "words"),
    [
        (lambda d: d["victims"][0].update(age="thirty"), "/victims/0/age", "expected an integer, not"),
        (lambda d: d["acts"][0].update(colour="red"), "/acts/0", "'colour' was unexpected"),
        (lambda d: d["report"].pop("received_at"), "/report", "'received_at' is a required property"),
        (lambda d: d["report"]["reporter"].update(type="neighbour"), "/report/reporter/type", "is not one of"),
        (lambda d: d["acts"][0].update(classification="XYZ"), "/acts/0/classification", "unknown classification 'XYZ'"),
        (lambda d: d["acts"][0].update(classification="8R"), "/acts/0/classification", "not in force on 2014"),
        (lambda d: d["report"].update(received_at="04/03/2024 08:10"), "/report/received_at", "not a date and time"),
        (lambda d: d["report"].update(received_at="2024-02-30T08:10"), "/report/received_at", "out of range"),
        (lambda d: d["report"].update(received_at="2024-03-31T01:30"), "/report/received_at", "does not exist in UK local time"),
        (lambda d: d["acts"][0].update(victims=["V9"]), "/acts/0/victims/0", "no victim with id 'V9'"),
    ],
)
def test_schema_and_input_errors(tmp_path: Path, mutate, pointer: str, words: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads((EXAMPLES / "victim-report-recorded.json").read_text())
    if "2014" in words:
        data["report"]["received_at"] = "2014-03-04T08:10"
    mutate(data)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    r = hocr("check", str(f))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    line = next((ln for ln in r.stderr.splitlines() if f"{pointer}:" in ln), None)
    assert line is not None, r.stderr
    assert words in line, line
    assert str(f) in line


def test_rules_validate_ok() -> None:
    r = hocr("rules", "validate")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: ") and "sha256:" in r.stdout


def test_rules_validate_timings_lists_every_stage() -> None:
    from hocr.loader import STAGES

    r = hocr("rules", "validate", "--timings")
    assert r.returncode == 0, r.stderr
    first, head, *stages = r.stdout.splitlines()
    assert first.startswith("ok: ")
    assert head.startswith("stages (the rule files read")
    names = [line.rsplit(None, 2)[0].strip() for line in stages]
    assert names[0] in ("read", "cache") and names[-1] == "total"
    assert [n for n in names if n in {s for s, _, _ in STAGES}] == [s for s, _, on_hit in STAGES
                                                                     if on_hit or names[0] == "read"]
    assert all(line.endswith(" ms") for line in stages)
    assert "ok: " in hocr("rules", "validate").stdout and "stages" not in hocr("rules", "validate").stdout


def test_rules_validate_broken_rulebook(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(REPO / "rules", tmp_path / "rules")
    bad = tmp_path / "rules" / "ncrs" / "reporter.yaml"
    bad.write_text(bad.read_text().replace("  - id: ncrs.reporter.victim\n", "  - id: ncrs.reporter.victim\n    colour: red\n", 1))
    r = hocr("rules", "validate", "--rules", str(tmp_path / "rules"))
    assert r.returncode == 4
    assert "ncrs/reporter.yaml:" in r.stderr and "'colour' was unexpected" in r.stderr
    r2 = hocr("check", str(EXAMPLES / "victim-report-recorded.json"), "--rules", str(tmp_path / "rules"))
    assert r2.returncode == 4


def test_schema_command() -> None:
    r = hocr("schema", "decision")
    assert r.returncode == 0
    assert json.loads(r.stdout)["$id"] == "urn:hocr:schema:decision:1"
    assert hocr("schema", "nope").returncode == 2


def test_conflict_between_rules_exits_4(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(REPO / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "ncrs" / "clash.yaml").write_text(
        "defaults:\n"
        "  decision: recording\n"
        "  source: {document: test, edition: test, section: test}\n"
        "  in_force: {from: '2002-04-01'}\n"
        "  verification: unverified\n"
        "rules:\n"
        "  - id: test.clash\n"
        "    title: A rule that clashes with the victim's-account rule\n"
        "    summary: Applies to the same reports with no override between them.\n"
        "    when: {fact: reporter_role.role, equals: victim}\n"
        "    then: {outcome: not_recorded, reason: clash, refer_to: null}\n"
    )
    r = hocr("check", str(EXAMPLES / "victim-report-recorded.json"), "--rules", str(tmp_path / "rules"))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "Conflicts in the rulebook" in r.stdout
    assert "ncrs.victim-account, test.clash" in r.stdout


def test_as_of_before_the_rulebook_starts() -> None:
    r = hocr("check", str(EXAMPLES / "victim-report-recorded.json"), "--as-of", "1999-01-01")
    assert r.returncode == 2
    assert "no rules are in force on 1999-01-01: the rulebook starts on 2002-04-01" in r.stderr


# `hocr check` without typer (hocr.cli_base) and through typer (hocr.cli) give the same result.


def typer_hocr(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from hocr.cli import main; sys.argv[0] = 'hocr'; main()", *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("args", [
    ["victim-report-recorded.json"],
    ["victim-report-recorded.json", "--json"],
    ["--json", "victim-report-recorded.json", "--as-of", "2024-05-01"],
    ["victim-report-recorded.json", "--as-of=2024-05-01", "--no-presume"],
    ["victim-report-recorded.json", "--explain"],
    ["victim-report-recorded.json", "--trace", "--json"],
    ["victim-report-recorded.json", "--as-of", "2024-02-30"],
    ["no-such-file.json"],
])
def test_check_without_typer_is_check_through_typer(args: list[str]) -> None:
    from hocr.cli_base import quick_check_args

    args = [str(EXAMPLES / a) if a.endswith(".json") else a for a in args]
    assert quick_check_args(["check", *args]) is not None  # this command line takes the quick path
    quick, full = hocr("check", *args), typer_hocr("check", *args)
    assert (quick.returncode, quick.stdout, quick.stderr) == (full.returncode, full.stdout, full.stderr)


def test_check_of_an_invalid_incident_without_typer_is_check_through_typer() -> None:
    text = (EXAMPLES / "victim-report-recorded.json").read_text().replace('"acts"', '"actz"', 1)
    quick, full = hocr("check", "-", stdin=text), typer_hocr("check", "-", stdin=text)
    assert quick.returncode == 2
    assert (quick.returncode, quick.stdout, quick.stderr) == (full.returncode, full.stdout, full.stderr)


@pytest.mark.parametrize("argv", [
    [], ["check"], ["check", "--help"], ["check", "-h"], ["check", "a.json", "b.json"], ["check", "a.json", "--colour"],
    ["check", "a.json", "--as-of"], ["check", "a.json", "--as-of", "2024-01-01", "--as-of", "2024-01-02"],
    ["check", "--", "a.json"], ["check", "a.json", "--rules="], ["check", "a\x1b[31m.json"], ["audit", "a.jsonl"],
    ["check", "a.json", "--json=yes"],
])
def test_anything_but_a_plain_check_goes_to_typer(argv: list[str]) -> None:
    from hocr.cli_base import quick_check_args

    assert quick_check_args(argv) is None


def test_a_plain_check_is_read_as_typer_reads_it() -> None:
    from hocr.cli_base import quick_check_args

    assert quick_check_args(["check", "-", "--rules", "r", "--trace", "--as-of=2024-01-01"]) == {
        "file": "-", "rules": Path("r"), "trace": True, "as_of": "2024-01-01"}


def test_a_warm_check_imports_neither_typer_nor_jsonschema_nor_yaml() -> None:
    # The quick start (issue 13): with the rulebook cached, a valid incident needs none of them.
    example = str(EXAMPLES / "victim-report-recorded.json")
    assert hocr("check", example).returncode == 0  # the cache is warm now
    probe = ("import sys, runpy; sys.argv = ['hocr', 'check', sys.argv[1]]\n"
             "try:\n    runpy.run_module('hocr', run_name='__main__')\n"
             "except SystemExit as exc:\n    code = exc.code\n"
             "heavy = sorted(m for m in ('typer', 'click', 'jsonschema', 'yaml') if m in sys.modules)\n"
             "sys.stderr.write(f'{code} {heavy}')\n")
    r = subprocess.run([sys.executable, "-c", probe, example], capture_output=True, text=True, timeout=60)
    assert r.stderr.endswith("0 []"), r.stderr
    # An invalid incident is worded by jsonschema, still without typer.
    bad = (EXAMPLES / "victim-report-recorded.json").read_text().replace('"acts"', '"actz"', 1)
    r = subprocess.run([sys.executable, "-c", probe, "-"], input=bad, capture_output=True, text=True, timeout=60)
    assert r.stderr.endswith("2 ['jsonschema']"), r.stderr


def test_rules_compile_writes_the_generated_source_for_review(tmp_path: Path) -> None:
    r = hocr("rules", "compile", "--out", str(tmp_path / "gen"))
    assert r.returncode == 0, r.stderr
    (written,) = (tmp_path / "gen").glob("*.py")
    source = written.read_text(encoding="utf-8")
    compile(source, str(written), "exec")  # it is Python
    assert "# ncrs.victim-account ncrs/" in source and "from hocr.runtime import" in source
