"""The code generator: each generated function against the interpreter on real scopes, the
operator specialisations against hocr.ops, the module's shape, the sources written for review
and the cache of compiled chunks. A failing comparison prints the generated chunk (as
fastjsonschema's tests print the generated validator)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hocr import cache, codegen, engine, runtime
from hocr.cases import case_incident, load_case_file
from hocr.conditions import MISSING, UNDETERMINED, RuleRuntimeError, Scope
from hocr.engine import Outcome, decide_compiled, evaluate
from hocr.loader import load_rulebook
from hocr.ops import COMPARISONS, norm
from hocr.tables import TableConflict

REPO = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(REPO / "rules")
PROG = codegen.program(BOOK)
NUMBER = {r.id: n for n, r in enumerate(PROG.rules)}


def _scopes() -> list[tuple[Any, dt.date, Scope]]:
    """The scopes the compiled backend decides on, over every fourth worked case."""
    seen: list[tuple[Any, dt.date, Scope]] = []
    real = engine.decide_compiled

    def record(prog: Any, decision: Any, day: dt.date, scope: Scope, label: str) -> Outcome:
        seen.append((decision, day, Scope(dict(scope.roots), dict(scope.pointers))))
        return real(prog, decision, day, scope, label)

    engine.decide_compiled = record  # type: ignore[assignment]
    try:
        for path in sorted((REPO / "tests" / "cases").rglob("*.yaml"))[::4]:
            for case in load_case_file(path):
                if "error" not in case.get("expect", {}):
                    as_of = dt.date.fromisoformat(str(case["as_of"])) if "as_of" in case else None
                    evaluate(BOOK, case_incident(case, path.parent), as_of=as_of, backend="compiled")
    finally:
        engine.decide_compiled = real  # type: ignore[assignment]
    return seen


SCOPES = _scopes()


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except (RuleRuntimeError, TypeError, TableConflict, runtime.Fallback) as exc:
        return f"raises {type(exc).__name__}"


def asserter(n: int, got: Any, want: Any, what: str) -> None:
    """Assert, printing the generated chunk of rule ``n`` when they differ."""
    if got != want:
        source = PROG.generator.chunk(f"r{n}")
        pytest.fail(f"{PROG.rules[n].id}: {what}: generated {got!r}, interpreter {want!r}\n\n{source}")


def test_every_generated_condition_agrees_with_the_interpreter_on_real_scopes() -> None:
    compared = 0
    for decision, day, scope in SCOPES:
        for rule in decision.rules_in_force(day):
            n = NUMBER[rule.id]
            want = _outcome(lambda rule=rule, s=scope: rule.cond(Scope(s.roots, s.pointers), None)[0])
            got = _outcome(lambda n=n, s=scope: PROG.load(f"r{n}")(s.roots, MISSING))
            if isinstance(want, str) and isinstance(got, str):
                continue  # both fail: the interpreter reports it
            asserter(n, got, want, f"condition on {decision.name}")
            compared += 1
    assert compared > 5000


def test_every_generated_conclusion_and_table_agrees_with_the_interpreter() -> None:
    compared = 0
    for decision, day, scope in SCOPES:
        for rule in decision.rules_in_force(day):
            n = NUMBER[rule.id]
            fresh = Scope(scope.roots, scope.pointers)
            tv = _outcome(lambda rule=rule, fresh=fresh: rule.cond(fresh, None)[0])
            if tv is False or isinstance(tv, str):
                continue
            want = _outcome(lambda rule=rule, fresh=fresh: engine._eval_rule(rule, fresh, None))
            PROG.load(f"r{n}")
            if rule.table is not None:
                got = _outcome(lambda n=n, tv=tv, s=scope: PROG.tables[n](s.roots, tv))
                if isinstance(got, str) or isinstance(want, str):
                    continue  # a conflict or a fault: the interpreter decides
                t, value, picked = got
                got = (t, value if t else None, tuple(rule.table.rows[i].id for i in picked) if t else ())
                want = (want[0], want[2] if want[0] else None, tuple(r.id for r in want[3]) if want[0] else ())
            else:
                if tv is not True:
                    continue
                value = PROG.thens[n](scope.roots)
                got = (value is not None, value)
                want = (want[0] is True, want[2] if want[0] is True else None)
            asserter(n, got, want, f"conclusion on {decision.name}")
            compared += 1
    assert compared > 500


VALUES: list[Any] = [None, True, False, 0, 1, 1.0, 2.5, 13, 16, -1, "", "a", "105A", "8N", [], ["a"], [1, True],
                     {"a": 1}, dt.date(2024, 1, 1), dt.timedelta(hours=24)]
OPERANDS: list[Any] = [None, True, False, 0, 1, 1.5, 13, "a", "105A", ["a", "b"], ["105A"], [1, "a", True], [True], []]


@pytest.mark.parametrize("op", sorted(COMPARISONS))
def test_the_written_out_tests_mean_what_the_operator_table_says(op: str) -> None:
    """Generator.constant_test's specialised tests (v == 'x', v is True, sets of texts...) give
    what hocr.ops gives, on every value, wherever the operator does not fail."""
    gen = codegen.Generator(BOOK)
    names = {name: getattr(runtime, name) for name in runtime.__all__}
    for operand, value in itertools.product(OPERANDS, VALUES):
        test = gen.constant_test(op, operand)
        if test is None:
            continue
        right = tuple(operand) if isinstance(operand, list) else operand
        try:
            want = COMPARISONS[op](value, right)
        except TypeError:
            continue
        got = eval(test, {**names, "v": value})  # noqa: S307 - our own generated expression
        assert got == want, f"{op} {operand!r} on {value!r}: {test} gave {got!r}, hocr.ops {want!r}"
        assert norm(right) == norm(operand)


def test_the_module_compiles_and_names_each_rule_with_its_file_and_line() -> None:
    source = codegen.generate(BOOK)
    namespace: dict[str, Any] = {}
    exec(compile(source, "<module>", "exec"), namespace)  # noqa: S102 - our own generated code
    assert len(namespace["F"]) == len(BOOK.rules)
    for n, rule in enumerate(PROG.rules):
        assert f"def r{n}(R, item):  # {rule.id} {rule.file}:{rule.line}\n" in source
    assert set(namespace["SPANS"]) == set(BOOK.decisions)
    gen = codegen.Generator(BOOK)
    gen.generate_module()
    assert gen.unsupported == []  # every part of the shipped rulebook has code


def test_a_part_with_no_code_falls_back_to_the_interpreter() -> None:
    gen = codegen.Generator(BOOK)
    rule = dataclasses.replace(PROG.rules[0], raw={**PROG.rules[0].raw, "when": {"fact": "act.x", "equals": [math.nan]}})
    gen.rules = (rule, *gen.rules[1:])
    source = gen.chunk("r0")
    assert "raise Fallback" in source and gen.unsupported
    namespace: dict[str, Any] = {}
    exec(codegen.RUNTIME_IMPORT + "\n" + source, namespace)  # noqa: S102 - our own generated code
    with pytest.raises(runtime.Fallback):
        namespace["r0"]({}, MISSING)


def test_a_failing_compiled_decision_is_decided_by_the_interpreter() -> None:
    decision, day, scope = SCOPES[0]
    broken = codegen.Program(BOOK)
    broken._by_day[(decision.name, day)] = lambda *args: (_ for _ in ()).throw(runtime.Fallback("test"))
    got = decide_compiled(broken, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
    want = engine.decide(decision, day, Scope(dict(scope.roots), dict(scope.pointers)), False, "x")
    assert (got.state, got.value, got.rule) == (want.state, want.value, want.rule)


def test_write_sources_writes_the_module_for_review(tmp_path: Path) -> None:
    paths = codegen.write_sources(BOOK, tmp_path / "out")
    assert [p.name for p in paths] == ["hocr_rulebook_compiled.py"]
    text = paths[0].read_text(encoding="utf-8")
    compile(text, str(paths[0]), "exec")
    assert text.startswith("# Generated by hocr.codegen") and BOOK.hash in text.splitlines()[0]
    # The presumptions' conditions as the fast pass compiles them (the same chunks, same names).
    compiled = codegen.presumption_source(BOOK.presumptions)
    for n, p in enumerate(BOOK.presumptions):
        header = f"def p{n}(obj, report, item=MISSING):  # {p.id} {p.file}:{p.line}\n"
        assert (header in text) == (header in compiled) == ("when" in p.raw)
    assert "no code" not in text  # every shipped presumption's condition has code
    assert all(chunk in text for chunk in codegen.presumption_chunks(BOOK.presumptions))


def test_the_module_written_is_the_same_whatever_the_hash_seed(tmp_path: Path) -> None:
    # Reviewers diff the generated source between versions: set order (which PYTHONHASHSEED
    # changes for strings) must not leak into it, as it did into the guards' dispatch tables.
    texts = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed, "HOCR_CACHE_DIR": str(tmp_path / "cache")}
        subprocess.run([sys.executable, "-m", "hocr", "rules", "compile", "--out", str(out)], env=env, check=True,
                       capture_output=True)
        texts.append((out / "hocr_rulebook_compiled.py").read_text(encoding="utf-8"))
    assert texts[0] == texts[1]


def test_chunks_generated_from_several_threads_at_once_are_as_generated_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The service decides in a thread pool, and a cold Program generates chunks as they are
    # first needed: without a lock, two threads generating at once interleaved their lines
    # (a rule call lost from a dispatch function, a flag or a presumption missing from the decision).
    monkeypatch.setattr(codegen, "_cached_chunks", lambda key: {})
    prog = codegen.Program(BOOK)
    monkeypatch.setattr(prog, "_save_at_exit", lambda: None)
    generated: dict[str, list[str]] = {}
    real_chunk = prog.generator.chunk

    def chunk(name: str) -> str:
        text = real_chunk(name)
        generated.setdefault(name, []).append(text)
        return text

    real_line = codegen.Generator.line

    def line(self: codegen.Generator, text: str) -> None:
        time.sleep(0)  # let another thread run between any two lines
        real_line(self, text)

    monkeypatch.setattr(prog.generator, "chunk", chunk)
    monkeypatch.setattr(codegen.Generator, "line", line)
    names = [f"r{n}" for n in range(0, len(prog.rules), 3)]
    names += [s.function for spans in prog.generator.spans.values() for s in spans]
    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(prog.load, names * 2))  # each chunk asked for by two threads
    monkeypatch.setattr(codegen.Generator, "line", real_line)
    alone = codegen.Generator(BOOK)
    assert {name: texts for name, texts in generated.items() if texts != [alone.chunk(name)]} == {}
    assert loaded == [prog.load(name) for name in names * 2]


def test_compiled_chunks_are_cached_and_a_tampered_entry_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))
    first = codegen.Program(BOOK)
    decision, day, scope = SCOPES[0]
    decide_compiled(first, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
    assert first._codes
    first.save()

    def no_compile(*args: Any) -> Any:
        raise AssertionError("compiled again although the cache holds it")

    monkeypatch.setattr(codegen, "compile", no_compile, raising=False)
    second = codegen.Program(BOOK)
    assert set(second._codes) == set(first._codes)
    got = decide_compiled(second, decision, day, Scope(dict(scope.roots), dict(scope.pointers)), "x")
    assert got.state in ("value", "absent", "undetermined", "conflict")
    monkeypatch.undo()
    monkeypatch.setenv("HOCR_CACHE_DIR", str(tmp_path / "cache"))

    entry = next((tmp_path / "cache").glob("engine-*.bin"))
    data = bytearray(entry.read_bytes())
    data[-1] ^= 1
    entry.write_bytes(bytes(data))
    assert cache.read("engine", cache.entry_key("engine", BOOK.hash, codegen.CODEGEN_VERSION)) is None
    assert codegen.Program(BOOK)._codes == {}


def test_the_compiled_default_uses_the_generated_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Untraced, with no backend named, decisions go through the generated dispatch."""
    calls: list[str] = []
    real = codegen.Program.dispatch

    def counted(self: Any, decision: str, day: dt.date) -> Any:
        calls.append(decision)
        return real(self, decision, day)

    monkeypatch.setattr(codegen.Program, "dispatch", counted)
    path = sorted((REPO / "tests" / "cases").rglob("*.yaml"))[0]
    case = load_case_file(path)[0]
    evaluate(BOOK, case_incident(case, path.parent))
    assert calls and evaluate(BOOK, case_incident(case, path.parent), trace=True)["trace"]
    assert UNDETERMINED is runtime.UNDETERMINED


def test_the_one_and_two_key_reads_are_get_itself() -> None:
    # runtime.get1 / get2 (what generated code calls for paths of one and two keys) against
    # runtime.get on every kind of value a root can hold, failures included.
    import types

    from hocr.conditions import MISSING, UNDETERMINED, Unknown

    unknown = Unknown(frozenset(("/acts/0/classification",)))
    leaves = [MISSING, UNDETERMINED, unknown, None, 0, "x", [1], {"b": 1}, {"b": unknown}, {"b": MISSING}]
    values = [*leaves, *({"a": leaf} for leaf in leaves), types.MappingProxyType({"a": {"b": 2}})]

    def outcome(fn: Any, *args: Any) -> Any:
        try:
            return ("value", fn(*args))
        except Exception as exc:  # noqa: BLE001 - the same failure is the point
            return ("raises", type(exc))

    for value in values:
        assert outcome(runtime.get1, value, "a") == outcome(runtime.get, value, ("a",)), value
        assert outcome(runtime.get2, value, "a", "b") == outcome(runtime.get, value, ("a", "b")), value
