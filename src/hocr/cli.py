"""The command line as a typer application: one function a command. ``hocr check`` with plain
options is run without it (:mod:`hocr.cli_base`, the entry point, which also has the exit codes
and the helpers every command shares).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_base import Exit, as_json_text, err, internal_error, load, parse_as_of, run_check
from .explain import render_rulebook
from .loader import data_path

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The Home Office crime-recording rules (NCRS and HOCR) as code.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
rules_app = typer.Typer(no_args_is_help=True, help="Work with the rulebook.")
app.add_typer(rules_app, name="rules")

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Use the rulebook in this folder instead of the shipped one.", show_default=False),
]


@app.command()
def check(
    file: Annotated[str, typer.Argument(help="The incident (JSON), or '-' for standard input.", metavar="FILE")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON (schemas/decision.schema.json).")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Apply the rules in force on this date (YYYY-MM-DD) instead of the report date.", show_default=False)] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Explain the decision step by step as a registrar reasons (with --json: the explanation in the JSON), ending with what would change it.")] = False,
    trace: Annotated[bool, typer.Option("--trace", help="Include the trace: every rule considered, with its citation and the facts it read (text or JSON).")] = False,
    no_presume: Annotated[bool, typer.Option("--no-presume", help="Decide on the stated facts only: apply no presumption (docs/rule-format.md section 16).")] = False,
    why_not: Annotated[str | None, typer.Option("--why-not", help="Say what blocks this classification code, or 'record' or 'not recorded': the fact that would have to differ and the rule that would then apply.", metavar="CODE", show_default=False)] = None,
    rules: RulesOption = None,
) -> None:
    """Decide whether, what and by when to record for one incident."""
    run_check(file, as_json=as_json, as_of=as_of, explain=explain, trace=trace, no_presume=no_presume, rules=rules,
              why_not=why_not)


@rules_app.command("validate")
def rules_validate(
    timings: Annotated[bool, typer.Option("--timings", help="Also print how long each stage of loading took.")] = False,
    rules: RulesOption = None,
) -> None:
    """Load and check every rule file against the schema and each other."""
    book = load(rules)
    n_class = sum(len(v) for v in book.classifications.values())
    typer.echo(
        f"ok: {len(book.files)} files, {len(book.decisions)} decisions, {len(book.rules)} rules, "
        f"{n_class} classifications; {book.edition}; {book.hash}"
    )
    if timings:
        typer.echo(_render_timings(book.timings), nl=False)


def _render_timings(timings: tuple[tuple[str, float], ...]) -> str:
    """One line a stage of loading, in milliseconds, and the total."""
    width = max((len(name) for name, _ in timings), default=5)
    lines = [f"  {name:<{width}}  {1000 * seconds:8.1f} ms" for name, seconds in timings]
    lines.append(f"  {'total':<{width}}  {1000 * sum(s for _, s in timings):8.1f} ms")
    cached = any(name == "cache" for name, _ in timings)
    head = "stages (the rule files read from the cache):" if cached else "stages (the rule files read and checked):"
    return "\n".join([head, *lines]) + "\n"


@rules_app.command("render")
def rules_render(
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.", show_default=False)] = None,
    rules: RulesOption = None,
) -> None:
    """Render the whole rulebook for people, as Markdown (docs/rulebook.md)."""
    text = render_rulebook(load(rules))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@rules_app.command("lint")
def rules_lint(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as a JSON list.")] = False,
    notes: Annotated[bool, typer.Option("--notes", help="Also list the parts that could not be analysed (HOCR-N001).")] = False,
    rules: RulesOption = None,
) -> None:
    """Check the rulebook for contradictions, gaps, dead rules and bad references (exit 5 on findings)."""
    from .lint import EXIT_FINDINGS, lint, render_text

    result = lint(rules)
    if as_json:
        shown = result.findings + (result.notes if notes else [])
        typer.echo(as_json_text([f.as_json() for f in shown]))
    else:
        typer.echo(render_text(result, notes=notes), nl=False)
    raise typer.Exit(0 if result.clean else EXIT_FINDINGS)


@app.command()
def audit(
    file: Annotated[str, typer.Argument(help="Incidents with the force's record, one JSON object a line (JSONL), or '-' for standard input.", metavar="INCIDENTS.jsonl")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (format hocr.audit.v1) instead of a table.")] = False,
    annual_recorded: Annotated[list[str] | None, typer.Option("--annual-recorded", help="The force's recorded crime for the year: N (for the rulebook's headline group; shipped: all crime excluding fraud) or GROUP=N; repeatable.", metavar="[GROUP=]N", show_default=False)] = None,
    group: Annotated[list[str] | None, typer.Option("--group", help="Also report this group: [LABEL=]FIELD:VALUE[,VALUE] with FIELD category, ons, tag or code; repeatable.", metavar="SPEC", show_default=False)] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every discrepancy, with its explanation and the rules cited, to this CSV file.", show_default=False)] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report to this file.", show_default=False)] = None,
    errors_out: Annotated[Path | None, typer.Option("--errors", help="Write every line that could not be audited (JSONL: line, kind, problems) to this file.", show_default=False)] = None,
    results_out: Annotated[Path | None, typer.Option("--results", help="Write one result per input line (JSONL) to this file.", show_default=False)] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Evaluate in this many processes.")] = 1,
    wilson_below: Annotated[int, typer.Option("--wilson-below", min=0, help="Show the Wilson interval for groups with fewer crimes than this (the normal approximation otherwise).")] = 200,
    fail_under: Annotated[float | None, typer.Option("--fail-under", help="Exit with 5 when recording accuracy of the rulebook's headline group (shipped: all crime excluding fraud) is below this percentage.", show_default=False)] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Show a progress bar (default: when standard error is a terminal).", show_default=False)] = None,
    rules: RulesOption = None,
) -> None:
    """Audit a force's crime recording: every incident's record checked against the rules."""
    from .audit import (
        EXIT_BELOW,
        NO_HEADLINE,
        groups_with,
        headline_label,
        parse_annual,
        parse_group,
    )
    from .report import AuditOptions, OutputError, audit_to_files, render_table

    book = load(rules)
    headline = headline_label(book)  # the group --fail-under and a bare --annual-recorded N judge
    try:
        # The report groups of the rulebook audited against (--rules), then the user's.
        specs = groups_with([parse_group(g) for g in group or []], book)
        annual = parse_annual(annual_recorded or [], specs, headline)
        if fail_under is not None and headline is None:
            raise ValueError(f"--fail-under judges the headline group, and {NO_HEADLINE}")
    except ValueError as exc:
        err(f"hocr: {exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    try:
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        err(f"hocr: cannot read {file}: {exc.strerror or exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    source = "<stdin>" if file == "-" else file
    try:
        summary = audit_to_files(AuditOptions(
            source=source, stream=stream, rules=str(rules) if rules else None, groups=specs, annual=annual,
            workers=workers, wilson_below=wilson_below, csv_path=csv_out, html_path=html_out,
            errors_path=errors_out, results_path=results_out,
            progress=sys.stderr.isatty() if progress is None else progress,
        ), book.info())
    except OSError as exc:
        err(f"hocr: {getattr(exc, 'filename', None) or source}: {exc.strerror or exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    except OutputError as exc:
        err(f"hocr: {exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    typer.echo(as_json_text(summary) if as_json else render_table(summary, source), nl=as_json)
    head = next((g for g in summary["groups"] if g["label"] == headline), None)
    acc = head["recording_accuracy"] if head is not None else None
    if fail_under is not None and acc is not None and 100 * acc["p"] < fail_under:
        err(f"hocr: recording accuracy {100 * acc['p']:.1f}% is below --fail-under {fail_under:g}%")
        raise typer.Exit(EXIT_BELOW)


@rules_app.command("diff")
def rules_diff(
    start: Annotated[str, typer.Option("--from", help="The earlier date (YYYY-MM-DD).", metavar="DATE", show_default=False)],
    end: Annotated[str, typer.Option("--to", help="The later date (YYYY-MM-DD).", metavar="DATE", show_default=False)],
    cases: Annotated[bool, typer.Option("--cases", help="Also list worked cases on each side of each change.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json (schemas/rulediff.schema.json).", metavar="FORMAT")] = "text",
    rules: RulesOption = None,
) -> None:
    """List every rule, classification, presumption and counting rule that started, ended or
    changed between two dates, with citations (docs/changes.md)."""
    from .rulediff import DiffRangeError, check_range, diff, parse_day, render_text

    if fmt not in ("text", "json"):
        err(f"hocr: --format {fmt!r} is not text or json")
        raise typer.Exit(Exit.INVALID_INPUT)
    book = load(rules)
    try:
        first, last = parse_day(start, "--from"), parse_day(end, "--to")
        check_range(book, first, last)
    except DiffRangeError as exc:
        err(f"hocr: {exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    result = diff(book, first, last, cases=cases)
    typer.echo(as_json_text(result) if fmt == "json" else render_text(result), nl=fmt == "json")


@rules_app.command("compile")
def rules_compile(
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write the generated Python into.", metavar="DIR", show_default=False)],
    rules: RulesOption = None,
) -> None:
    """Write the Python the rulebook compiles to, for review (docs/engine.md)."""
    from .codegen import write_sources

    book = load(rules)
    try:
        written = write_sources(book, out_dir)
    except OSError as exc:
        err(f"hocr: cannot write to {out_dir}: {exc.strerror or exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    for path in written:
        typer.echo(f"wrote {path}")


@rules_app.command("list")
def rules_list(
    category: Annotated[str | None, typer.Option("--category", help="Only this category: its name (any letter case) or its folder name, e.g. burglary.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as a JSON list.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="List the classifications in force on this date (YYYY-MM-DD; default today).", show_default=False)] = None,
    include_all: Annotated[bool, typer.Option("--all", help="Include codes no longer (or not yet) in force, with every dated entry.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the whole catalogue as Markdown with coverage (docs/classifications.md).")] = False,
    rules: RulesOption = None,
) -> None:
    """List the classifications of the catalogue."""
    from . import catalogue

    day = parse_as_of(as_of) or dt.date.today()
    book = load(rules)
    if markdown:
        ref = book.root / catalogue.REFERENCE_FILE
        typer.echo(catalogue.render_catalogue(book, catalogue.read_reference(ref) if ref.exists() else None), nl=False)
        return
    name = None
    if category is not None:
        name = catalogue.resolve_category(book, category)
        if name is None:
            err(f"hocr: no category {category!r}; choose one of: " + "; ".join(
                f"{c} ({catalogue.slug(c)})" for c in catalogue.categories(book)))
            raise typer.Exit(Exit.INVALID_INPUT)
    rows = catalogue.entries(book, day, category=name, include_all=include_all)
    if as_json:
        typer.echo(as_json_text([catalogue.summary(c) for c in rows]))
    else:
        typer.echo(catalogue.render_list(rows, include_all=include_all), nl=False)


@rules_app.command("show")
def rules_show(
    code: Annotated[str, typer.Argument(help="The classification code, e.g. 8N, 105A, 4/1.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Show the entry in force on this date (YYYY-MM-DD; default today).", show_default=False)] = None,
    rules: RulesOption = None,
) -> None:
    """Show one classification: its entry, dated values, offences, counting rules and sources."""
    from . import catalogue

    day = parse_as_of(as_of) or dt.date.today()
    book = load(rules)
    try:
        info = catalogue.show(book, code, day)
    except catalogue.UnknownCode as exc:
        err(f"hocr: {exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    typer.echo(as_json_text(info) if as_json else catalogue.render_show(info), nl=False)


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


def _limit(name: str, help_text: str) -> Any:
    """A limit's option, its default read from the service's configuration."""
    from .service.config import ServiceConfig

    return _opt(f"{help_text} (default {getattr(ServiceConfig, name)}).")


@rules_app.command("import-offences")
def rules_import_offences(
    file: Annotated[Path, typer.Argument(help="The Home Office notifiable offences list: the .ods spreadsheet as published, or a CSV of its sheet.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the catalogue data file here.", show_default=False)] = None,
    write: Annotated[bool, typer.Option("--write", help="Write the data file into the rulebook (classifications/notifiable-offences.yaml).")] = False,
    edition: Annotated[str | None, typer.Option("--edition", help="The edition, e.g. 'April 2026' (default: from the file name).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    rules: RulesOption = None,
) -> None:
    """Read a new edition of the notifiable offences list and show what it changes (writes only with --out or --write)."""
    from . import offence_list

    book = load(rules)
    try:
        result = offence_list.run_import(book, file, edition=edition, out=out, write=write)
    except (offence_list.ListError, OSError) as exc:
        problems = exc.problems if isinstance(exc, offence_list.ListError) else (f"cannot read: {exc.strerror}",)
        err(f"hocr: {file}: not a notifiable offences list this command can read ({len(problems)} problem{'s' if len(problems) != 1 else ''}):")
        for p in problems[:50]:
            err(f"  {p}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    typer.echo(as_json_text(result.as_json()) if as_json else offence_list.render_import(result), nl=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (keep it local unless the network is trusted).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (uvicorn's own worker model).")] = 1,
    rules: RulesOption = None,
    decision_log: Annotated[Path | None, _opt("Append a JSON line for every decision to this file (personal data masked).")] = None,
    max_body: Annotated[int | None, _limit("max_body", "Largest body of one incident, in bytes")] = None,
    max_batch_body: Annotated[int | None, _limit("max_batch_body", "Largest batch body, in bytes")] = None,
    max_batch_items: Annotated[int | None, _limit("max_batch_items", "Most incidents in one batch")] = None,
    max_depth: Annotated[int | None, _limit("max_depth", "Deepest JSON nesting")] = None,
    max_acts: Annotated[int | None, _limit("max_acts", "Most acts in one incident")] = None,
    max_victims: Annotated[int | None, _limit("max_victims", "Most victims in one incident")] = None,
    eval_timeout: Annotated[float | None, _limit("eval_timeout", "Seconds one evaluation may take before a 503")] = None,
    eval_threads: Annotated[int | None, _limit("eval_threads", "Threads evaluating, per worker")] = None,
    max_in_flight: Annotated[int | None, _limit("max_in_flight", "Requests handled at once, per worker, before a 503")] = None,
    read_timeout: Annotated[float | None, _limit("read_timeout", "Seconds to wait for the next part of a body before a 408")] = None,
    header_timeout: Annotated[float | None, _limit("header_timeout", "Seconds from a request's first byte to the end of its headers before a 408")] = None,
    access_log: Annotated[bool, typer.Option(help="Log method, route, status and time of each request to standard error.")] = True,
) -> None:
    """Serve decisions over HTTP (Starlette on uvicorn): POST an incident to /v1/check; the API is
    described at /docs and /openapi.json. Every limit can also be set as HOCR_SERVICE_<NAME>."""
    from .service import config_from_env
    from .service import serve as run_service

    load(rules)  # a rulebook that does not load is exit 4, before anything listens
    try:
        config = config_from_env(
            rules=str(rules.resolve()) if rules else None,
            decision_log=str(decision_log.resolve()) if decision_log else None,
            max_body=max_body, max_batch_body=max_batch_body, max_batch_items=max_batch_items,
            max_depth=max_depth, max_acts=max_acts, max_victims=max_victims, eval_timeout=eval_timeout,
            eval_threads=eval_threads, max_in_flight=max_in_flight, read_timeout=read_timeout,
            header_timeout=header_timeout,
        )
    except ValueError as exc:
        err(f"hocr: {exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    try:
        run_service(config, host, port, workers, access_log)
    except OSError as exc:  # the port is taken, the log cannot be opened
        err(f"hocr: cannot serve: {exc.strerror or exc}")
        raise typer.Exit(Exit.INVALID_INPUT) from None


@app.command()
def schema(
    name: Annotated[str, typer.Argument(help="incident, decision, rule or rulediff")],
) -> None:
    """Print one of the JSON Schemas."""
    files = {"incident": "incident.schema.json", "decision": "decision.schema.json", "rule": "rule.schema.json",
             "rulediff": "rulediff.schema.json"}
    if name not in files:
        err(f"hocr: no schema {name!r} (choose incident, decision, rule or rulediff)")
        raise typer.Exit(Exit.INVALID_INPUT)
    typer.echo((data_path("schemas") / files[name]).read_text(), nl=False)


def main() -> None:
    """Every command through typer (:func:`hocr.cli_base.main` is the ``hocr`` command)."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line, no traceback for the user
        internal_error(exc)
