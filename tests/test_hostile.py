"""Bad input never costs a record: the library, `hocr check`, the rulebook validator, `hocr audit`
and the on-disk cache, each given the inputs that once crashed them (issue 12)."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hostile_strategies import BASE, HOSTILE_LINES

from hocr import cache
from hocr.audit import ENDINGS, run_audit
from hocr.engine import evaluate
from hocr.incident import LIMITS, InvalidIncident, check_incident, check_limits, parse_json
from hocr.loader import RulebookError, load_rulebook, load_yaml
from hocr.report import neutralise

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook()


def hocr(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "hocr", *args], input=stdin, capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})})


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidIncident) as info:
        evaluate(BOOK, data)
    for p in info.value.problems:
        str(p).encode("utf-8")
    return [(p.pointer, p.message) for p in info.value.problems]


def base(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


# ------------------------------------------------------------------------------------------
# The library: InvalidIncident naming the field, never anything else
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0001-01-01T00:00+05:00", "9999-12-31T23:59", "9999-12-31T23:59-05:00", "1799-12-31T23:59Z"])
def test_times_near_year_1_or_9999_are_invalid_naming_the_field(text: str) -> None:
    for pointer, put in (("/report/received_at", lambda d: d["report"].update(received_at=text)),
                         ("/acts/0/occurred_at", lambda d: d["acts"][0].update(occurred_at=text)),
                         ("/recorded_at", lambda d: d.update(recorded_at=text))):
        d = base()
        put(d)
        assert problems(d) == [(pointer, "the year is outside 1800-2999, the years hocr accepts")]


def test_a_date_of_birth_in_year_1_is_invalid() -> None:
    d = base()
    d["victims"][0]["date_of_birth"] = "0001-01-01"
    assert problems(d) == [("/victims/0/date_of_birth", "the year is outside 1800-2999, the years hocr accepts")]


def test_json_nested_1000_deep_is_invalid() -> None:
    with pytest.raises(InvalidIncident) as info:
        parse_json(str(HOSTILE_LINES["nested 1,000 deep"]))
    assert "nested too deeply" in str(info.value)
    deep: Any = []
    for _ in range(900):  # parses, but is refused before the schema validator recurses into it
        deep = [deep]
    assert problems(base(notes=deep)) == [("/notes" + "/0" * 23, "nested more than 24 levels deep")]


def test_a_5000_digit_integer_is_invalid_naming_its_field() -> None:
    text = json.dumps(BASE).replace('"age": 34', '"age": ' + "9" * 5000)
    assert problems(parse_json(text)) == [("/victims/0/age", "a number larger than 1e+15 in magnitude")]
    d = base()
    d["victims"][0]["age"] = 10**5000
    assert problems(d) == [("/victims/0/age", "a number larger than 1e+15 in magnitude")]


@pytest.mark.parametrize("where", ["id", "description", "key"])
def test_a_lone_surrogate_is_invalid_so_outputs_stay_utf8(where: str) -> None:
    d = base()
    if where == "id":
        d["id"] = "H\ud800"
    elif where == "description":
        d["acts"][0]["description"] = "taken \udc00"
    else:
        d["acts"][0]["\ud83d"] = 1
    found = problems(d)
    assert found and all("lone surrogate" in m or "not valid Unicode" in m for _, m in found), found


def test_nan_and_infinity_are_invalid() -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(InvalidIncident, match="not a JSON number"):
            parse_json(json.dumps(BASE).replace('"age": 34', f'"age": {literal}'))
    assert problems(parse_json(json.dumps(BASE).replace('"age": 34', '"age": 1e400'))) == [
        ("/victims/0/age", "not a finite number")]


def test_the_same_object_used_twice_is_read_as_two_copies() -> None:
    d = base()
    second = {**d["acts"][0], "id": "A2"}
    second["location"] = d["acts"][0]["location"]  # shared
    d["acts"].append(second)
    d["report"]["reporter"] = d["report"]["reporter"]
    shared_time = base()
    shared_time["acts"].append(shared_time["acts"][0])  # the same act twice: its id twice
    assert problems(shared_time) == [("/acts/1/id", "id 'A1' is used twice in acts")]
    decision = evaluate(BOOK, d)
    assert decision == evaluate(BOOK, copy.deepcopy(d))
    assert d["acts"][0]["location"] is d["acts"][1]["location"]  # the input is not changed


def test_cycles_are_invalid() -> None:
    d = base()
    d["acts"][0]["contrary_evidence"].append(d["acts"][0])
    assert problems(d) == [("/acts/0/contrary_evidence/0", "the object contains itself (a cycle)")]
    d = base()
    d["notes"] = [d]
    assert problems(d) == [("/notes/0", "the object contains itself (a cycle)")]


@pytest.mark.parametrize("value, kind", [({1, 2}, "set"), ((1, 2), "tuple"), (b"x", "bytes"),
                                         (dt.date(2024, 1, 1), "date"), (object(), "object")])
def test_values_that_are_not_json_are_invalid(value: Any, kind: str) -> None:
    d = base()
    d["acts"][0]["description"] = value
    assert problems(d) == [("/acts/0/description", f"a Python {kind}, not a JSON value")]


def test_keys_that_are_not_text_are_invalid() -> None:
    d = base()
    d["acts"][0][3] = "x"
    assert problems(d) == [("/acts/0", "a property name that is an integer, not text")]


def test_size_bounds_are_documented_and_quick() -> None:
    d = base()
    d["acts"] = [{**BASE["acts"][0], "id": f"A{i}"} for i in range(10_000)]
    found = problems(d)  # refused before anything reads the 10,000 acts (its cost: bench/)
    assert ("/acts", "more than 1,000 items") in found
    d["acts"] = d["acts"][: LIMITS.max_acts + 1]
    assert problems(d) == [("/acts", f"more than {LIMITS.max_acts} acts (the limit for one incident)")]
    d = base()
    d["victims"] = [{"id": f"V{i}", "kind": "person"} for i in range(60)]
    d["acts"] = [{**BASE["acts"][0], "id": f"A{i}", "victims": [f"V{j}" for j in range(60)]} for i in range(40)]
    assert problems(d) == [("/acts", "more than 2,000 allegations (act and victim pairs)")]
    d = base()
    d["acts"][0]["description"] = "x" * (LIMITS.max_string + 1)
    assert problems(d) == [("/acts/0/description", "text longer than 10,000 characters")]


def test_an_incident_at_the_limits_is_decided() -> None:
    d = base()
    d["victims"] = [{"id": f"V{i}", "kind": "person", "age": 30} for i in range(10)]
    d["acts"] = [{**BASE["acts"][0], "id": f"A{i}", "victims": [f"V{j}" for j in range(10)]} for i in range(LIMITS.max_acts)]
    check_limits(d)
    decision = evaluate(BOOK, d)  # its cost is measured in bench/, not here
    assert decision["status"] in ("decided", "undetermined")


def test_check_limits_is_the_public_first_check() -> None:
    check_limits(BASE)
    with pytest.raises(InvalidIncident):
        check_limits({"a": [[[[[]]]]]}, LIMITS.__class__(max_depth=3))
    with pytest.raises(InvalidIncident):
        check_incident({"id": float("nan")})
    with pytest.raises(InvalidIncident) as info:  # a service can give its own limits
        check_incident(BASE, limits=LIMITS.__class__(max_acts=0))
    assert [p.pointer for p in info.value.problems] == ["/acts"]


# ------------------------------------------------------------------------------------------
# `hocr check`: exit 2 naming the field, valid UTF-8, never an internal error
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, pointer", [
    ("received year 9999 with an offset", "/report/received_at"),
    ("nested 1,000 deep", "/"),
    ("5,000-digit integer", "/victims/0/age"),
    ("lone surrogate in the id", "/id"),
    ("10,000 acts", "/acts"),
    ("not UTF-8", None),
])
def test_check_exits_2_naming_the_field(name: str, pointer: str | None) -> None:
    line = HOSTILE_LINES[name]
    r = hocr("check", "-", "--json", stdin=line if isinstance(line, bytes) else line.encode())
    err = r.stderr.decode("utf-8")  # raises if not UTF-8
    r.stdout.decode("utf-8")
    assert r.returncode == 2, err
    assert "internal error" not in err and "Traceback" not in err
    assert (pointer is None and "not UTF-8 text" in err) or f": {pointer}:" in err, err


def test_check_refuses_a_file_over_the_limit_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(LIMITS.max_json_chars + 10)
    r = hocr("check", str(big))
    assert r.returncode == 2
    assert b"longer than 5,000,000 bytes" in r.stderr


# ------------------------------------------------------------------------------------------
# The rulebook validator
# ------------------------------------------------------------------------------------------


@pytest.fixture()
def rules_copy(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(REPO / "rules", root)
    return root


def _load_problems(root: Path) -> list[str]:
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("text, line", [
    ("a: !!python/object:os.system {x: 1}\n", 1),
    ("a:\n  b: !!python/object/apply:os.system\n  - echo\n", 2),
    ("a: !!python/tuple [1, 2]\n", 1),
    ("a: !!binary aGVsbG8=\n", 1),
    ("a: !!set {x, y}\n", 1),
    ("a: !local {x: 1}\n", 1),
    ("a: !!timestamp 2024-01-01\n", 1),
    ("? !!python/tuple [a, b]\n: 1\n", 1),
])
def test_yaml_tags_are_refused_on_mappings_sequences_and_scalars(text: str, line: int) -> None:
    from hocr.loader import YamlError

    with pytest.raises(YamlError) as info:
        load_yaml(text)
    assert info.value.line == line
    assert "is not allowed in rule files" in str(info.value)
    assert load_yaml("a: !!str 1\n")[0] == {"a": "1"}  # harmless: the value is text either way


def test_non_finite_numbers_and_deep_nesting_are_refused() -> None:
    from hocr.loader import YamlError

    for text in ("a: .inf\n", "a: -.inf\n", "a: .nan\n"):
        with pytest.raises(YamlError, match="not a finite number"):
            load_yaml(text)
    with pytest.raises(YamlError, match="nested more than 64 levels deep|exceeded maximum nesting depth"):
        load_yaml("a: " + "[" * 100 + "]" * 100 + "\n")


def test_a_python_tag_in_a_rule_file_fails_validate(rules_copy: Path) -> None:
    f = rules_copy / "general" / "section-h" / "outcomes.yaml"
    f.write_text(f.read_text().replace("defaults:\n", "defaults: !!python/object:os.system\n", 1))
    (msg,) = _load_problems(rules_copy)
    assert msg.startswith("general/section-h/outcomes.yaml:") and "!!python/object:os.system is not allowed" in msg
    f.write_text(f.read_text().replace("defaults: !!python/object:os.system\n", "defaults:\n").replace(
        "rules:\n", "rules: !!python/object/apply:os.system\n", 1))
    (msg,) = _load_problems(rules_copy)
    assert "!!python/object/apply:os.system is not allowed" in msg


def test_a_reversed_date_range_fails_validate(rules_copy: Path) -> None:
    f = rules_copy / "general" / "section-h" / "outcomes.yaml"
    f.write_text(f.read_text().replace("    from: '2013-04-01'\n", "    from: '2013-04-01'\n    to: '2012-01-01'\n", 1))
    r = hocr("rules", "validate", "--rules", str(rules_copy), env={"HOCR_NO_CACHE": "1"})
    assert r.returncode == 4
    assert b"in force from 2013-04-01 to 2012-01-01: the range is reversed" in r.stderr


def test_a_date_that_does_not_exist_fails_validate(rules_copy: Path) -> None:
    f = rules_copy / "general" / "section-h" / "outcomes.yaml"
    f.write_text(f.read_text().replace("    from: '2013-04-01'\n", "    from: '2013-02-30'\n", 1))
    (msg,) = _load_problems(rules_copy)
    assert "'2013-02-30' is not a date that exists" in msg


def test_a_2mb_rule_file_is_refused_on_its_size(rules_copy: Path) -> None:
    big = rules_copy / "big.yaml"
    big.write_text("rules:\n" + "".join(f"- id: x{i}\n  title: {'t' * 40}\n" for i in range(40_000)))
    assert big.stat().st_size > 2_000_000
    (msg,) = _load_problems(rules_copy)  # refused on its size, before it is parsed
    assert msg.startswith("big.yaml: the file is ") and "a rule file may be at most 1,048,576 bytes" in msg


# ------------------------------------------------------------------------------------------
# `hocr audit`: every line accounted for
# ------------------------------------------------------------------------------------------


def _batch() -> bytes:
    """A valid line, each hostile line, a blank line, a duplicate id and a valid line again."""
    good = json.dumps(BASE).encode()
    lines = [good]
    for line in HOSTILE_LINES.values():
        lines.append(line if isinstance(line, bytes) else line.encode())
    lines += [b"", good, json.dumps({**BASE, "id": "H-2"}).encode()]
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hostile_batch_gives_its_full_summary(tmp_path: Path, workers: int) -> None:
    data = tmp_path / "batch.jsonl"
    data.write_bytes(_batch())
    errors = tmp_path / "errors.jsonl"
    r = hocr("audit", str(data), "--json", "--workers", str(workers), "--errors", str(errors))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.decode("utf-8"))
    total = len(HOSTILE_LINES) + 4
    assert summary["lines"]["read"] == total
    assert summary["ended"] == {"read": total, "decided": 3, "undetermined": 0, "invalid": len(HOSTILE_LINES),
                                "error": 0, "blank": 1}
    assert sum(summary["ended"][k] for k in ENDINGS) == total
    assert summary["duplicate_ids"] == {"lines": 1, "listed": [{"line": total - 1, "incident": "H-1", "first_line": 1}]}
    err = r.stderr.decode("utf-8")
    for n in range(2, 2 + len(HOSTILE_LINES)):
        assert f"batch.jsonl:{n}" in err
    kinds = [json.loads(x)["kind"] for x in errors.read_text(encoding="utf-8").splitlines()]
    assert kinds.count("duplicate_id") == 1 and len(kinds) == len(HOSTILE_LINES) + 1


def test_a_line_over_the_limit_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    import io

    from hocr.audit import read_lines

    stream = io.BytesIO(b"x" * 1000 + b"\n" + json.dumps(BASE).encode() + b"\n")
    got = list(read_lines(stream, max_bytes=600))
    assert [n for n, _, _ in got] == [1, 2]
    assert got[0][1] == "the line is longer than 600 bytes"
    assert json.loads(str(got[1][1]))["id"] == "H-1"


def test_a_bug_on_one_line_is_that_lines_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from hocr import audit

    def broken(*args: Any) -> Any:
        raise KeyError("secret text from the incident")

    monkeypatch.setattr(audit, "compare", broken)
    summary = run_audit(io.BytesIO(json.dumps(BASE).encode() + b"\n"))
    assert summary.ended["error"] == 1 and summary.lines["internal_error"] == 1
    assert summary.errors[0]["problems"] == ["internal error: KeyError (please report this line to hocr's maintainers)"]


def test_csv_cells_that_could_run_as_formulas_are_neutralised(tmp_path: Path) -> None:
    assert [neutralise(c) for c in ("=1+1", "+44", "-2", "@SUM(A1)", "\tx", "ok", "")] == [
        "'=1+1", "'+44", "'-2", "'@SUM(A1)", "'\tx", "ok", ""]
    d = {**BASE, "id": "-H1", "force_record": {"crimes": [{"ref": "=HYPERLINK(1)", "classification": "44",
                                                            "recorded_at": "2024-03-04T09:00"}]}}
    d["acts"] = [{**BASE["acts"][0], "classification": "49"}]
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(d) + "\n")
    out = tmp_path / "d.csv"
    r = hocr("audit", str(data), "--csv", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert len(rows) > 1
    for row in rows[1:]:
        assert all(not cell or cell[0] not in "=+-@" for cell in row), row


@pytest.mark.parametrize("option", ["--csv", "--html", "--errors", "--results"])
def test_an_unwritable_output_is_refused_before_the_audit_starts(tmp_path: Path, option: str) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(BASE) + "\n")
    results = tmp_path / "results.jsonl"
    for bad in (tmp_path / "no-such-folder" / "x", tmp_path, data):
        args = ["audit", str(data), option, str(bad)] + (["--results", str(results)] if option != "--results" else [])
        r = hocr(*args)
        assert r.returncode == 2, (bad, r.stderr)
        assert b"hocr: " in r.stderr and b"internal error" not in r.stderr
        assert not results.exists()  # refused before any output was opened
    assert data.read_text() == json.dumps(BASE) + "\n"  # the input is never overwritten


def test_one_output_path_given_twice_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(BASE) + "\n")
    r = hocr("audit", str(data), "--csv", str(tmp_path / "x"), "--errors", str(tmp_path / "x"))
    assert r.returncode == 2 and b"give each output its own path" in r.stderr


def test_a_read_only_output_file_is_refused_before_the_audit(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write any file")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(BASE) + "\n")
    locked = tmp_path / "report.html"
    locked.write_text("")
    locked.chmod(0o444)
    r = hocr("audit", str(data), "--html", str(locked))
    assert r.returncode == 2


# ------------------------------------------------------------------------------------------
# The cache: derived data only, trusted only when it is safe
# ------------------------------------------------------------------------------------------


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HOCR_CACHE_DIR", str(folder))
    monkeypatch.delenv("HOCR_NO_CACHE", raising=False)
    cache._warn_once.cache_clear()
    return folder


def test_the_cache_is_owner_only_and_round_trips(cache_dir: Path) -> None:
    key = cache.entry_key("test", "input")
    cache.write("test", key, b"payload")
    assert cache.read("test", key) == b"payload"
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    (entry,) = cache_dir.glob("test-*.bin")
    assert entry.stat().st_mode & 0o777 == 0o600
    assert cache.read("test", cache.entry_key("test", "other input")) is None


def test_a_tampered_entry_is_not_used(cache_dir: Path) -> None:
    key = cache.entry_key("test", "input")
    cache.write("test", key, b"payload")
    (entry,) = cache_dir.glob("test-*.bin")
    entry.write_bytes(entry.read_bytes().replace(b"payload", b"evil!!!"))
    assert cache.read("test", key) is None


def test_a_group_writable_folder_or_entry_is_not_used(cache_dir: Path) -> None:
    key = cache.entry_key("test", "input")
    cache.write("test", key, b"payload")
    (entry,) = cache_dir.glob("test-*.bin")
    entry.chmod(0o666)
    assert cache.read("test", key) is None
    entry.chmod(0o600)
    cache_dir.chmod(0o777)
    assert cache.read("test", key) is None
    cache.write("test", key, b"other")  # nor written to
    cache_dir.chmod(0o700)
    assert cache.read("test", key) == b"payload"


def test_an_entry_owned_by_another_user_or_a_link_is_not_used(cache_dir: Path) -> None:
    key = cache.entry_key("test", "input")
    cache.write("test", key, b"payload")
    (entry,) = cache_dir.glob("test-*.bin")
    link = cache_dir / "elsewhere.bin"
    entry.rename(link)
    entry.symlink_to(link)
    assert cache.read("test", key) is None
    entry.unlink()
    link.rename(entry)
    if os.geteuid() == 0:
        os.chown(entry, 65534, 65534)
        assert cache.read("test", key) is None


def test_the_key_covers_this_hocr(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache.entry_key("test", "input")
    monkeypatch.setattr(cache, "package_fingerprint", lambda: "another hocr")
    assert cache.entry_key("test", "input") != key


def test_the_rulebook_cache_uses_the_safe_cache(cache_dir: Path) -> None:
    # The incident validator (jsonschema-rs) is built in milliseconds and is no longer cached.
    r = hocr("check", str(REPO / "examples" / "victim-report-recorded.json"), env={"HOCR_CACHE_DIR": str(cache_dir)})
    assert r.returncode == 0, r.stderr
    names = sorted(p.name.split("-")[0] for p in cache_dir.iterdir())
    assert names == ["rules"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in cache_dir.iterdir())
    cache_dir.chmod(0o775)
    r = hocr("check", str(REPO / "examples" / "victim-report-recorded.json"), env={"HOCR_CACHE_DIR": str(cache_dir)})
    assert r.returncode == 0
    assert b"not using the cache folder" in r.stderr and b"writable by group or others" in r.stderr


def test_a_schema_message_quoting_a_long_value_is_shortened(rules_copy: Path) -> None:
    (rules_copy / "long.yaml").write_text("rules:\n- id: " + "X" * 100_000 + "\n")
    found = _load_problems(rules_copy)
    assert found and all(len(m) < 400 for m in found)
