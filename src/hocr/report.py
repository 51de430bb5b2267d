"""Rendering an audit summary (``hocr.audit.v1``): a table for the terminal, and a self-contained
HTML report for people (inline CSS and SVG; no script, no network)."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .audit import (
    CSV_COLUMNS,
    ENDINGS,
    LINE_KINDS,
    BatchResult,
    GroupSpec,
    Wants,
    neutralise,
    run_audit,
)
from .idledger import Duplicate

__all__ = ["AuditOptions", "OutputError", "audit_to_files", "neutralise", "render_html", "render_table"]


def pct(p: float | None, digits: int = 1) -> str:
    return "-" if p is None else f"{100 * p:.{digits}f}%"


def interval_text(acc: Mapping[str, Any] | None) -> str:
    """'± 1.88 pts' (normal approximation) or '65.8-81.4% Wilson'."""
    if not acc:
        return "-"
    if acc["interval"] == "wald":
        w = acc["wald"]
        return f"± {100 * w['half_width']:.2f} pts ({100 * w['low']:.1f}-{100 * w['high']:.1f}%)"
    w = acc["wilson"]
    return f"{100 * w['low']:.1f}-{100 * w['high']:.1f}% Wilson"


def share_text(s: Mapping[str, Any]) -> str:
    """'83.3% of 6'; for cancellations and outcomes, also how many no rule could judge."""
    text = "-" if not s.get("n") else f"{pct(s['p'])} of {s['n']:,}"
    if s.get("not_judged"):
        text += f" ({s['not_judged']:,} not judged)" if s.get("n") else f"{s['not_judged']:,} not judged"
        text = text.removeprefix("-")
    return text


def unrecorded_text(u: Mapping[str, Any] | None) -> str:
    if not u:
        return "-"
    return f"{u['published_as']} ({u['estimate']:,.0f})"


def lines_text(lines: Mapping[str, int]) -> str:
    parts = " + ".join(f"{lines[k]:,} {LINE_KINDS[k][0]}" for k in LINE_KINDS)
    return f"{lines['read']:,} read = {parts}"


def ended_text(summary: Mapping[str, Any]) -> str:
    """How the lines ended, and the duplicate ids: 'Ended: 10 read = 7 decided + ...'."""
    ended = summary.get("ended") or {}
    parts = " + ".join(f"{ended.get(k, 0):,} {k}" for k in ENDINGS)
    dup = (summary.get("duplicate_ids") or {}).get("lines", 0)
    return f"Ended: {ended.get('read', 0):,} read = {parts}; {dup:,} line(s) repeat an earlier incident id"


def render_table(summary: Mapping[str, Any], source: str) -> str:
    """The summary as plain text for a terminal."""
    out = [f"hocr audit: {source}"]
    if summary.get("rulebook"):
        rb = summary["rulebook"]
        out.append(f"  rulebook: {rb['edition']} ({rb['hash'][:19]}…)")
    out.append(f"Lines: {lines_text(summary['lines'])}")
    out.append(ended_text(summary))
    inc = summary["incidents"]
    out.append(
        f"Incidents: {inc['evaluated']:,} evaluated: {inc['correct']:,} correct, "
        f"{inc['with_discrepancies']:,} with discrepancies, "
        f"{inc['with_undetermined']:,} with allegations the rules could not decide "
        f"({summary['undetermined']:,} allegations or records: facts needed)"
    )
    out.append("")
    head = ("group", "should", "recorded", "accuracy", "95% interval", "not recorded a year",
            "in time", "classified right", "cancellations valid", "outcomes valid")
    rows = [head]
    for g in summary["groups"]:
        acc = g["recording_accuracy"]
        rows.append((
            g["label"], f"{g['should_be_recorded']:,}", f"{g['recorded']:,}",
            pct(acc["p"]) if acc else "-", interval_text(acc), unrecorded_text(g["unrecorded_per_year"]),
            share_text(g["timeliness"]), share_text(g["classification_accuracy"]),
            share_text(g["cancellation_accuracy"]), share_text(g["outcome_accuracy"]),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append("Discrepancies")
    for k, label, _definition in kinds_of(summary):
        out.append(f"  {label:<32} {summary['discrepancies'][k]:>8,}")
    errors = summary["lines"]["read"] - summary["lines"]["evaluated"] - summary["lines"]["blank"]
    if errors:
        out.append("")
        out.append(f"{errors:,} line(s) could not be audited (each is listed on standard error with its line number).")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1d1d1f;margin:2em auto;max-width:70em;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
.meta{color:#555}.headline{display:flex;flex-wrap:wrap;gap:1em;margin:1.2em 0}
.card{border:1px solid #ccc;border-radius:6px;padding:.8em 1.2em;min-width:12em}
.card .big{font-size:2em;font-weight:600}.card .sub{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
td.text{text-align:left}code{font-size:.9em}.note{color:#555;font-size:.9em}
svg text{font:12px system-ui,Arial,sans-serif}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def accuracy_chart(groups: Sequence[Mapping[str, Any]]) -> str:
    """Horizontal bars: recording accuracy by group, with its 95% interval as a whisker."""
    label_w, plot_w, row_h, top = 230, 420, 30, 24
    shown = [g for g in groups if g["recording_accuracy"]]
    height = top + row_h * max(1, len(shown)) + 24
    width = label_w + plot_w + 130
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="Recording accuracy by group, with 95% intervals">']
    for tick in range(0, 101, 20):
        x = label_w + plot_w * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 20}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" fill="#555">{tick}%</text>')
    for i, g in enumerate(shown):
        acc = g["recording_accuracy"]
        y = top + i * row_h
        w = acc[acc["interval"]]
        x0 = label_w
        xp = label_w + plot_w * acc["p"]
        xl, xh = label_w + plot_w * w["low"], label_w + plot_w * w["high"]
        mid = y + row_h / 2
        parts.append(f'<text x="{label_w - 8}" y="{mid + 4:.1f}" text-anchor="end">{_e(g["label"])}</text>')
        parts.append(f'<rect x="{x0}" y="{y + 6}" width="{xp - x0:.1f}" height="{row_h - 12}" fill="#4a7fb5"/>')
        parts.append(f'<line x1="{xl:.1f}" y1="{mid:.1f}" x2="{xh:.1f}" y2="{mid:.1f}" stroke="#111" stroke-width="1.5"/>'
                     f'<line x1="{xl:.1f}" y1="{mid - 6:.1f}" x2="{xl:.1f}" y2="{mid + 6:.1f}" stroke="#111" stroke-width="1.5"/>'
                     f'<line x1="{xh:.1f}" y1="{mid - 6:.1f}" x2="{xh:.1f}" y2="{mid + 6:.1f}" stroke="#111" stroke-width="1.5"/>')
        parts.append(f'<text x="{label_w + plot_w + 8}" y="{mid + 4:.1f}">{pct(acc["p"])} '
                     f'<tspan fill="#555">(n={acc["n"]:,})</tspan></text>')
    parts.append("</svg>")
    return "".join(parts)


def kinds_of(summary: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The summary's kinds of discrepancy, in order: (kind, label, definition). They are the
    audited rulebook's (its audit section's finding kinds beside the audit's own), as the summary
    records them."""
    return [(k, v["label"], v["definition"]) for k, v in summary["discrepancy_kinds"].items()]


def kinds_chart(counts: Mapping[str, int], kinds: Sequence[tuple[str, str, str]]) -> str:
    """Horizontal bars: the number of discrepancies of each kind."""
    label_w, plot_w, row_h, top = 230, 420, 26, 8
    biggest = max(counts.values(), default=0) or 1
    height = top + row_h * len(kinds) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 90}" height="{height}" role="img" '
             f'aria-label="Discrepancies by kind">']
    for i, (k, label, _) in enumerate(kinds):
        y = top + i * row_h
        n = counts.get(k, 0)
        w = plot_w * n / biggest
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{_e(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="#c0504d"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">{n:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _lines_html(summary: Mapping[str, Any]) -> list[str]:
    """The report's line accounting: every kind of line, how the lines ended, the duplicate ids
    and the lines that could not be audited."""
    lines = summary["lines"]
    o: list[str] = []
    o.append("<h2>Every line accounted for</h2>")
    o.append("<table><tr><th>Lines</th><th>Count</th></tr>")
    o.append(f"<tr><td>read</td><td>{lines['read']:,}</td></tr>")
    for k, (label, meaning) in LINE_KINDS.items():
        o.append(f"<tr><td>{_e(label)}: <span class=\"note\">{_e(meaning)}</span></td><td>{lines[k]:,}</td></tr>")
    o.append("</table>")
    o.append(f"<p class=\"note\">{_e(ended_text(summary))}.</p>")
    for dup in (summary.get("duplicate_ids") or {}).get("listed", []):
        o.append(f"<p class=\"note\">Line {dup['line']}: incident <code>{_e(dup['incident'])}</code> "
                 f"repeats the id of line {dup['first_line']}.</p>")
    if summary["errors"]:
        o.append("<table><tr><th>Line</th><th>Incident</th><th>Why it could not be audited</th></tr>")
        for e in summary["errors"]:
            o.append(f"<tr><td>{e['line']}</td><td class=\"text\">{_e(e['incident'] or '')}</td>"
                     f"<td class=\"text\">{_e(LINE_KINDS[e['kind']][0])}: {_e('; '.join(e['problems']))}</td></tr>")
        o.append("</table>")
        if summary["errors_not_listed"]:
            o.append(f"<p class=\"note\">{summary['errors_not_listed']:,} more not listed here (see the errors file).</p>")
    return o


def render_html(summary: Mapping[str, Any], source: str, headline: str | None = None) -> str:
    """A self-contained HTML report for a chief officer: headline figures (of the group labelled
    ``headline``; None: the group the summary marks as the rulebook's headline, else the first),
    charts, tables, the discrepancies explained with examples, the lines that could not be
    audited, and the method."""
    rb = summary.get("rulebook") or {}
    o: list[str] = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Crime-recording audit: {_e(source)}</title><style>{CSS}</style></head><body>",
        "<h1>Crime-recording audit</h1>",
        f"<p class=\"meta\">File <code>{_e(source)}</code>; every incident checked against "
        f"{_e(rb.get('edition', 'the rulebook'))} (<code>{_e(str(rb.get('hash', ''))[:19])}…</code>) by hocr.</p>",
    ]
    o.extend(_headline_html(summary, headline))
    o.extend(_groups_html(summary["groups"]))
    o.extend(_kinds_html(summary))
    o.extend(_lines_html(summary))
    o.extend(_method_html(summary))
    o.append("</body></html>\n")
    return "\n".join(o)


def _head_group(groups: Sequence[Mapping[str, Any]], label: str | None) -> Mapping[str, Any]:
    """The group labelled ``label``; with None, the one the summary marks headline; else the first."""
    for g in groups:
        if g["label"] == label if label is not None else g.get("headline"):
            return g
    return groups[0] if groups else {}


def _headline_html(summary: Mapping[str, Any], headline: str | None) -> list[str]:
    """The cards: recording accuracy with its interval, crimes not recorded a year, discrepancies."""
    groups = summary["groups"]
    # (A rulebook with no audit section, and no --group, reports no group: no accuracy card.)
    head = _head_group(groups, headline)
    acc = head.get("recording_accuracy")
    o = ["<div class=\"headline\">"]
    if acc:
        o.append(f"<div class=\"card\"><div class=\"sub\">Recording accuracy, {_e(head['label'])}</div>"
                 f"<div class=\"big\">{pct(acc['p'])}</div><div class=\"sub\">95% interval {_e(interval_text(acc))}<br>"
                 f"{head['recorded']:,} of {head['should_be_recorded']:,} crimes that should have been recorded</div></div>")
    u = head.get("unrecorded_per_year")
    if u:
        o.append(f"<div class=\"card\"><div class=\"sub\">Estimated crimes not recorded a year</div>"
                 f"<div class=\"big\">{_e(u['published_as'])}</div><div class=\"sub\">U = R(1-p)/p = {u['estimate']:,.0f}, "
                 f"with R = {head['annual_recorded']:,.0f} recorded a year</div></div>")
    total = sum(summary["discrepancies"].values())
    o.append(f"<div class=\"card\"><div class=\"sub\">Discrepancies found</div><div class=\"big\">{total:,}</div>"
             f"<div class=\"sub\">in {summary['incidents']['with_discrepancies']:,} of "
             f"{summary['incidents']['evaluated']:,} incidents</div></div></div>")
    return o


def _groups_html(groups: Sequence[Mapping[str, Any]]) -> list[str]:
    """Recording accuracy by group: the chart, and the table of every figure."""
    if not groups:
        return ["<h2>Recording accuracy by group</h2>",
                "<p class=\"note\">No groups to report: the rulebook audited with has no audit section, and no "
                "group was given (<code>--group</code>).</p>"]
    o = ["<h2>Recording accuracy by group</h2>",
         "<p class=\"note\">Bars: the share of crimes that should have been recorded that were. "
         "Whiskers: the 95% interval (normal approximation, as inspectors publish; Wilson for small groups). "
         "Accurately recorded: recorded under the right classification (the measure inspectors give for rape).</p>",
         accuracy_chart(groups),
         "<table><tr><th>Group</th><th>Should be recorded</th><th>Recorded</th><th>Accuracy</th>"
         "<th>95% interval</th><th>Annual recorded</th><th>Not recorded a year</th><th>In time</th>"
         "<th>Classified right</th><th>Accurately recorded</th><th>Cancellations valid</th><th>Outcomes valid</th>"
         "<th>Records the rules do not make</th></tr>"]
    for g in groups:
        a = g["recording_accuracy"]
        o.append(
            f"<tr><td>{_e(g['label'])}<br><span class=\"note\">{_e(g['definition'])}</span></td>"
            f"<td>{g['should_be_recorded']:,}</td><td>{g['recorded']:,}</td><td>{pct(a['p']) if a else '-'}</td>"
            f"<td>{_e(interval_text(a))}</td>"
            f"<td>{'-' if g['annual_recorded'] is None else format(g['annual_recorded'], ',.0f')}</td>"
            f"<td>{_e(unrecorded_text(g['unrecorded_per_year']))}</td>"
            f"<td>{_e(share_text(g['timeliness']))}</td><td>{_e(share_text(g['classification_accuracy']))}</td>"
            f"<td>{_e(pct(g['accurately_recorded']['p']) if g['accurately_recorded'] else '-')}</td>"
            f"<td>{_e(share_text(g['cancellation_accuracy']))}</td><td>{_e(share_text(g['outcome_accuracy']))}</td>"
            f"<td>{g['extra_records']:,}</td></tr>")
    o.append("</table>")
    return o


def _kinds_html(summary: Mapping[str, Any]) -> list[str]:
    """Discrepancies by kind (chart and table with their meaning), and examples citing the rules."""
    kinds = kinds_of(summary)
    labels = {k: label for k, label, _ in kinds}
    o = ["<h2>Discrepancies by kind</h2>", kinds_chart(summary["discrepancies"], kinds),
         "<table><tr><th>Kind</th><th>Count</th><th>Meaning</th></tr>"]
    for k, label, definition in kinds:
        o.append(f"<tr><td>{_e(label)}</td><td>{summary['discrepancies'][k]:,}</td><td class=\"text\">{_e(definition)}</td></tr>")
    o.append("</table>")
    examples = summary.get("examples", {})
    if examples:
        o.append("<h2>Examples, with the rules cited</h2>")
        for k, items in examples.items():
            o.append(f"<h3>{_e(labels.get(k, k))}</h3><ul>")
            for d in items:
                cites = "; ".join(f"{r['id']} [{r.get('verification', '?')}]: {r.get('citation', '')}" for r in d["rules"])
                o.append(f"<li>Line {d['line']}, incident <code>{_e(d['incident'])}</code>: {_e(d['explanation'])}"
                         f"<br><span class=\"note\">{_e(cites)}</span></li>")
            o.append("</ul>")
    return o


def _method_html(summary: Mapping[str, Any]) -> list[str]:
    return ["<h2>Method</h2><ul class=\"note\">"
            "<li>Each incident is decided by the rulebook (NCRS and the Home Office Crime Recording Rules as encoded by hocr) "
            "and compared with what the force recorded.</li>"
            "<li>Recording accuracy p = crimes recorded / crimes that should have been recorded. A crime counts as recorded "
            "when the force made a crime record for it, whatever its classification or later cancellation; "
            "classification, timeliness and cancellations are measured separately.</li>"
            "<li>95% interval: p ± 1.96·√(p(1−p)/n) (normal approximation, as inspectors publish it); "
            "the Wilson score interval for small groups.</li>"
            "<li>Crimes not recorded a year: U = R(1−p)/p, where R is the force's recorded crime for the year "
            "(excluding fraud for the all-crime figure); published as 'over' U rounded down to the hundred.</li>"
            "<li>Many encoded rules are not yet verified against the Home Office text; each discrepancy cites its rules with "
            "their verification status. An allegation the rules could not decide (facts missing) is left out of the figures "
            f"and counted ({summary['undetermined']:,} here).</li></ul>"]


# --------------------------------------------------------------------------------------------
# Running an audit from the command line: progress, files written as the lines come
# --------------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on standard error (only used when it is a terminal). Called once
    for each line read, with the bytes read so far."""

    def __init__(self, total: int | None, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self.lines = 0
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, pos: int) -> None:
        self.lines += 1
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = self.lines / max(now - self.started, 1e-9)
        if self.total:
            frac = min(1.0, pos / self.total)
            bar = "#" * int(30 * frac)
            self.stream.write(f"\r[{bar:<30}] {100 * frac:5.1f}%  {self.lines:,} lines  {rate:,.0f} lines/s ")
        else:
            self.stream.write(f"\r{self.lines:,} lines  {rate:,.0f} lines/s ")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\r" + " " * 60 + "\r")
        self.stream.flush()


@dataclass
class AuditOptions:
    source: str
    stream: IO[bytes]
    rules: str | None = None
    groups: Sequence[GroupSpec] | None = None  # None: the audited rulebook's report groups
    annual: Mapping[str, float] = field(default_factory=dict)
    workers: int = 1
    wilson_below: int = 200
    csv_path: Path | None = None
    html_path: Path | None = None
    errors_path: Path | None = None
    results_path: Path | None = None
    progress: bool = False
    err: IO[str] = sys.stderr


class OutputError(ValueError):
    """An output path that would lose the audit or its input."""


def check_outputs(opts: AuditOptions) -> None:
    """Refuse, before any line is read, output paths that would lose the audit or its input: the
    input file itself, one path given twice, a folder, or a missing folder. (Opening each file for
    writing, in :func:`audit_to_files`, then refuses an unwritable one.) Raises OutputError."""
    given = [(name, path) for name, path in (("--csv", opts.csv_path), ("--html", opts.html_path),
                                              ("--errors", opts.errors_path), ("--results", opts.results_path))
             if path is not None]
    seen: dict[str, str] = {}
    source = os.path.realpath(opts.source) if opts.source not in ("-", "<stdin>") else None
    for name, path in given:
        real = os.path.realpath(path)
        if real == source:
            raise OutputError(f"{name} {path}: is the input file; choose another path")
        if real in seen:
            raise OutputError(f"{name} {path}: the same file as {seen[real]}; give each output its own path")
        seen[real] = name
        if path.is_dir():
            raise OutputError(f"{name} {path}: is a folder; give a file path")
        if not path.parent.is_dir():
            raise OutputError(f"{name} {path}: the folder {path.parent} does not exist")


class _Outputs:
    """The files an audit writes as batches come; all opened before the first line is read."""

    def __init__(self, opts: AuditOptions, stack: ExitStack):
        def open_text(path: Path | None, **kw: Any) -> IO[str] | None:
            return stack.enter_context(path.open("w", encoding="utf-8", **kw)) if path is not None else None

        self.opts = opts
        self.csv = open_text(opts.csv_path, newline="")
        if self.csv is not None:
            csv.writer(self.csv).writerow(CSV_COLUMNS)
        self.errors = open_text(opts.errors_path)
        self.results = open_text(opts.results_path)
        self.html = open_text(opts.html_path)
        self.bar = _progress_bar(opts)

    def wants(self) -> Wants:
        return Wants(csv=self.csv is not None, results=self.results is not None)

    def batch(self, b: BatchResult) -> None:
        """Write a batch's outputs (already rendered by the worker that evaluated it)."""
        for message in b.messages:
            self._say(f"hocr: {self.opts.source}:{message}\n")
        for out, text in ((self.errors, b.errors), (self.csv, b.csv), (self.results, b.results)):
            if out is not None and text:
                out.write(text)

    def duplicate(self, d: Duplicate) -> None:
        """A line repeating an earlier line's incident id (found once every line is read)."""
        self._say(f"hocr: {self.opts.source}:{d.line} (incident {d.incident}): duplicate incident id "
                  f"(first on line {d.first_line})\n")
        if self.errors is not None:
            self.errors.write(json.dumps({"line": d.line, "kind": "duplicate_id", "incident": d.incident,
                                          "first_line": d.first_line}) + "\n")

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.done()
        self.opts.err.write(text)


def _progress_bar(opts: AuditOptions) -> Progress | None:
    if not opts.progress:
        return None
    try:
        total: int | None = os.fstat(opts.stream.fileno()).st_size or None
    except (OSError, ValueError, io.UnsupportedOperation):
        total = None
    return Progress(total, opts.err)


def audit_to_files(opts: AuditOptions, book_info: Mapping[str, str]) -> dict[str, Any]:
    """Run the audit, writing each discrepancy (CSV), bad line (standard error and the errors
    file) and line result as its batch comes; then the lines repeating an incident id, and the
    HTML report. Every output is checked and opened
    before the first line is read (OutputError or OSError). Returns the JSON summary."""
    check_outputs(opts)
    with ExitStack() as stack:
        outputs = _Outputs(opts, stack)
        summary = run_audit(opts.stream, rules=opts.rules, groups=opts.groups, workers=opts.workers,
                            progress=outputs.bar, on_batch=outputs.batch, wants=outputs.wants())
        if outputs.bar is not None:
            outputs.bar.done()
        summary.finish(on_duplicate=outputs.duplicate)
        out = summary.as_json(opts.annual, opts.wilson_below)
        out = {"format": out.pop("format"), "file": opts.source, "rulebook": dict(book_info), **out}
        if outputs.html is not None:
            outputs.html.write(render_html(out, opts.source))  # led by the group the summary marks headline
    return out
