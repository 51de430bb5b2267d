"""The command line's entry point and the part of it that needs no typer.

``hocr check FILE`` with plain options is by far the most common command, and importing typer
and building every command's parser costs more than checking the incident. :func:`main` reads
such a command line itself and runs :func:`run_check`; anything else (another command, help, an
option it does not know, a usage error) goes to the typer application in :mod:`hocr.cli`, which
runs the same :func:`run_check` for ``check``, so the two give the same output and exit code.
A new option of ``hocr check`` is added to :mod:`hocr.cli` first; until it is also listed in
:data:`_CHECK_FLAGS` or :data:`_CHECK_VALUES`, a command line using it goes to typer.

Exit codes (also in docs/cli.md):

====  =====================================================================
0     decided: every allegation has an outcome
1     internal error (a bug in hocr: please report it)
2     invalid input: unreadable file, invalid JSON, schema violation, unknown
      classification, a time that cannot be read; or a usage error
3     undetermined: more facts are needed (the output lists them)
4     rulebook error: the rule files do not load, or two rules conflict
====  =====================================================================
"""

from __future__ import annotations

import datetime as dt
import errno
import gc
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import jsonio

if TYPE_CHECKING:
    from .loader import Rulebook

# The rest of hocr is imported in the functions that need it, after main() has decided how to
# run (see main: the quick path pauses the cyclic garbage collector first).


class Exit(IntEnum):
    DECIDED = 0
    INTERNAL = 1
    INVALID_INPUT = 2
    UNDETERMINED = 3
    RULEBOOK = 4


def err(message: str) -> None:
    """A line on standard error."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def out(text: str, nl: bool = True) -> None:
    """Text on standard output (with a newline unless ``nl`` is False)."""
    sys.stdout.write(text + "\n" if nl else text)
    sys.stdout.flush()


def as_json_text(value: Any) -> str:
    """JSON for people and programs: two spaces a level, non-ASCII text as itself."""
    return jsonio.dumps(value, indent=True).decode("utf-8")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def load(rules: Path | None) -> Rulebook:
    """The rulebook, or exit 4 listing every problem."""
    from .loader import RulebookError, load_rulebook

    try:
        return load_rulebook(rules)
    except RulebookError as exc:
        err(f"hocr: the rulebook does not load ({plural(len(exc.problems), 'problem')}):")
        for p in exc.problems:
            err(f"  {p}")
        raise SystemExit(Exit.RULEBOOK) from exc


def parse_as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err(f"hocr: --as-of {value!r} is not a date (expected YYYY-MM-DD)")
        raise SystemExit(Exit.INVALID_INPUT) from None


def read_incident(file: str, source: str) -> str:
    """The incident's text (at most LIMITS.max_json_chars bytes are read: more is refused)."""
    from .incident import LIMITS

    most = LIMITS.max_json_chars
    try:
        if file == "-":
            data = sys.stdin.buffer.read(most + 1)
        else:
            with open(file, "rb") as f:
                data = f.read(most + 1)
        if len(data) > most:
            err(f"hocr: {source} is longer than {most:,} bytes, the limit for one incident")
            raise SystemExit(Exit.INVALID_INPUT)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or ("not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc)
        err(f"hocr: cannot read {source}: {reason}")
        raise SystemExit(Exit.INVALID_INPUT) from None


def run_check(file: str, as_json: bool = False, as_of: str | None = None, explain: bool = False,
              trace: bool = False, no_presume: bool = False, rules: Path | None = None) -> None:
    """``hocr check``: decide whether, what and by when to record for one incident; ends with
    SystemExit carrying the exit code."""
    from .engine import EvaluationError, evaluate
    from .explain import render_text
    from .incident import InvalidIncident, check_incident, parse_json

    day = parse_as_of(as_of)
    source = "<stdin>" if file == "-" else file
    text = read_incident(file, source)
    book = load(rules)
    try:
        incident = check_incident(parse_json(text, source), source)
        decision = evaluate(book, incident, as_of=day, trace=trace or explain, presume=not no_presume)
    except InvalidIncident as exc:
        err(f"hocr: {source} is not a valid incident ({plural(len(exc.problems), 'problem')}):")
        for p in exc.problems:
            err(f"  {source}: {p}")
        raise SystemExit(Exit.INVALID_INPUT) from None
    except EvaluationError as exc:
        err(f"hocr: rulebook fault while evaluating {source}: {exc}")
        raise SystemExit(Exit.RULEBOOK) from None
    if as_json:
        # --explain with --json gives the trace, the machine-readable form of the explanation.
        out(as_json_text(decision))
    else:
        out(render_text(decision, explain=explain or trace, book=book), nl=False)
    status = decision["status"]
    raise SystemExit({"decided": Exit.DECIDED, "undetermined": Exit.UNDETERMINED, "conflict": Exit.RULEBOOK}[status])


# The options of `hocr check` read without typer: flags, and options that take a value.
_CHECK_FLAGS = {"--json": "as_json", "--explain": "explain", "--trace": "trace", "--no-presume": "no_presume"}
_CHECK_VALUES = {"--as-of": "as_of", "--rules": "rules"}


def quick_check_args(argv: list[str]) -> dict[str, Any] | None:
    """The arguments of a plain ``hocr check FILE [options]`` command line, as typer would give
    them to :func:`run_check`; None for anything else (help, an option not listed above, an
    option given twice, a missing or second FILE, ``--``, an escape character), which typer
    reads and words the errors of."""
    if not argv or argv[0] != "check":
        return None
    found: dict[str, Any] = {}
    rest = iter(argv[1:])
    for arg in rest:
        name, eq, value = arg.partition("=")
        if "\x1b" in arg:
            return None  # click strips terminal escapes from what it echoes: let it
        if arg in _CHECK_FLAGS:
            found[_CHECK_FLAGS[arg]] = True
        elif name in _CHECK_VALUES and _CHECK_VALUES[name] not in found:
            given = value if eq else next(rest, None)
            if not given or given.startswith("-"):
                return None
            found[_CHECK_VALUES[name]] = Path(given) if name == "--rules" else given
        elif (arg == "-" or not arg.startswith("-")) and "file" not in found:
            found["file"] = arg
        else:
            return None
    return found if "file" in found else None


def main() -> None:
    """The ``hocr`` command."""
    args = quick_check_args(sys.argv[1:])
    if args is None:
        from .cli import main as typer_main

        typer_main()
        return
    # One incident checked and the process ends: the cyclic collector would only walk the
    # rulebook's objects again and again while they are made (a fifth of the run). Reference
    # counting still frees everything else. Other commands (an audit, the service) keep it.
    gc.disable()
    try:
        run_check(**args)
    except SystemExit:
        raise
    except (KeyboardInterrupt, EOFError):  # as click says it
        err("")
        err("Aborted!")
        sys.exit(1)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            internal_error(exc)
        # The reader went away (hocr check ... | head): exit 1 quietly, as click does.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes it at exit
        sys.exit(1)
    except Exception as exc:
        internal_error(exc)


def internal_error(exc: BaseException) -> None:
    """A bug: say so in one line, no traceback for the user; exit 1."""
    err(f"hocr: internal error: {type(exc).__name__}: {exc} (please report this)")
    sys.exit(Exit.INTERNAL)
