"""The per-head report as one self-contained HTML file (and a text summary).

No script, no external stylesheet, font or image: plots are inline SVG, so
the file opens offline and makes no request. Every string that comes from
data or config (head, slice, class names, paths) goes through `esc`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from components.report.summary import headline

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{margin-top:2.2rem;border-bottom:2px solid #d0d7de;padding-bottom:.3rem}
.verdict{padding:1rem 1.2rem;border-radius:8px;margin:1rem 0}.pushed{background:#dafbe1;border:1px solid #2da44e}
.blocked{background:#ffebe9;border:1px solid #cf222e}.blessed{background:#ddf4ff;border:1px solid #0969da}
table{border-collapse:collapse;margin:.6rem 0;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:700}.small{color:#9a6700}
.muted{color:#57606a}.plots{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{color:#57606a;font-size:.9rem}
code{background:#f6f8fa;padding:0 .2rem;border-radius:3px;word-break:break-all}
"""
MAX_SLICE_ROWS = 40
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # the page may load nothing


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def status(passed: bool | None) -> str:
    if passed is None:
        return '<span class="muted">not gated</span>'
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def bar_chart(rows: Sequence[Mapping], metric: str, width: int = 520) -> str:
    """Metric per slice: a bar for the candidate, a black tick for the baseline."""
    rows = [r for r in rows if r["candidate"] is not None][:20]
    if not rows:
        return ""
    values = [r["candidate"] for r in rows] + [r["baseline"] for r in rows if r["baseline"] is not None]
    high = max(max(values), 1e-9)
    label_w, bar_w, row_h = 170, width - 230, 18
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(rows) + 24}" '
        f'role="img" aria-label="{esc(metric)} per slice">'
    ]
    for i, row in enumerate(rows):
        y = 4 + i * row_h
        length = max(0.0, row["candidate"] / high * bar_w)
        color = "#cf222e" if row["passed"] is False else ("#d4a72c" if row["too_small"] else "#0969da")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" font-size="11">{esc(row["slice"][:28])}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row_h - 6}" fill="{color}"/>')
        if row["baseline"] is not None:
            bx = label_w + max(0.0, row["baseline"] / high * bar_w)
            parts.append(
                f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{y}" y2="{y + row_h - 2}" stroke="#000" stroke-width="2"/>'
            )
        parts.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 12}" font-size="10">{fmt(row["candidate"])}</text>')
    parts.append("</svg>")
    return (
        f"<figure>{''.join(parts)}<figcaption>{esc(metric)} per slice (bar: candidate, black tick: "
        "baseline; amber: too few examples to trust)</figcaption></figure>"
    )


def scatter(points: Sequence[Mapping], title: str, x_label: str, y_label: str, size: int = 300) -> str:
    """Points on a square plot with the diagonal (perfect agreement) drawn."""
    if not points:
        return ""
    xs = [p["predicted"] for p in points]
    ys = [p["actual"] for p in points]
    low, high = min(xs + ys), max(xs + ys)
    span = (high - low) or 1.0
    pad = 30

    def sx(v: float) -> float:
        return pad + (v - low) / span * (size - 2 * pad)

    def sy(v: float) -> float:
        return size - pad - (v - low) / span * (size - 2 * pad)

    heaviest = max(p.get("weight", 1) or 1 for p in points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" aria-label="{esc(title)}">',
        f'<line x1="{sx(low):.1f}" y1="{sy(low):.1f}" x2="{sx(high):.1f}" y2="{sy(high):.1f}" '
        'stroke="#8c959f" stroke-dasharray="4"/>',
        f'<text x="{size / 2}" y="{size - 6}" text-anchor="middle" font-size="11">{esc(x_label)}</text>',
        f'<text x="10" y="{size / 2}" font-size="11" transform="rotate(-90 10 {size / 2})" '
        f'text-anchor="middle">{esc(y_label)}</text>',
    ]
    for p in points:
        radius = 2 + 6 * math.sqrt((p.get("weight", 1) or 1) / heaviest)
        tip = esc(p.get("slice", f"{p['predicted']:.3g}"))
        parts.append(
            f'<circle cx="{sx(p["predicted"]):.1f}" cy="{sy(p["actual"]):.1f}" r="{radius:.1f}" '
            f'fill="#0969da" fill-opacity=".55"><title>{tip}</title></circle>'
        )
    parts.append(
        f'<text x="{pad}" y="14" font-size="10">{fmt(high)}</text>'
        f'<text x="{pad}" y="{size - pad + 12}" font-size="10">{fmt(low)}</text>'
    )
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{esc(title)}</figcaption></figure>"


def confusion(plot: Mapping) -> str:
    classes, matrix = plot["classes"], plot["matrix"]
    top = max((v for row in matrix for v in row), default=0) or 1
    cells = ["<table style='width:auto'><tr><th>actual \\ predicted</th>"]
    cells += [f"<th>{esc(c)}</th>" for c in classes] + ["</tr>"]
    for name, row in zip(classes, matrix, strict=True):
        cells.append(f"<tr><th>{esc(name)}</th>")
        for value in row:
            shade = int(255 - 150 * value / top)
            cells.append(f'<td style="background:rgb({shade},{shade},255)">{value:.0f}</td>')
        cells.append("</tr>")
    cells.append("</table>")
    return "<figure>" + "".join(cells) + "<figcaption>Confusion matrix (weighted examples)</figcaption></figure>"


def interval_text(interval) -> str:
    return "" if not interval else f"{interval[0]:+.4g} to {interval[1]:+.4g}"


def gate_table(head: Mapping, min_examples: int) -> str:
    """The gate's view: each gated slice with its change, the change's interval and the lift over naive."""
    out = [
        f"<h3>Gate on {esc(head['gate']['key'])}</h3>"
        f"<p class='muted'>Naive predictor: {esc(head['naive'])}.</p>"
        "<table><tr><th>slice</th><th>examples</th><th>candidate</th><th>baseline</th><th>change</th>"
        "<th>interval of the change</th><th>naive</th><th>lift</th><th>result</th></tr>"
    ]
    for row in head["gate_rows"]:
        small = f' <span class="small">too small to gate (&lt; {min_examples})</span>' if row["too_small"] else ""
        lift = "" if row["lift"] is None else f"{row['lift']:+.1%}"
        result = "" if row["too_small"] else status(row["passed"])
        out.append(
            f"<tr><td>{esc(row['slice'])}{small}</td><td>{row['examples']:,.0f}</td><td>{fmt(row['candidate'])}</td>"
            f"<td>{fmt(row['baseline'])}</td><td>{fmt(row['change'], True)}</td>"
            f"<td>{esc(interval_text(row['interval']))}</td><td>{fmt(row['naive'])}</td><td>{esc(lift)}</td>"
            f"<td>{result}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def head_section(head: Mapping, min_examples: int) -> str:
    out = [
        f'<section class="head" id="head-{esc(head["name"])}">',
        f'<h2>{esc(head["name"])} <small class="muted">({esc(head["kind"])}, label {esc(head["label"])})</small> '
        f"— {status(head['passed'])}</h2>",
    ]
    if head["reasons"]:
        out.append("<ul>" + "".join(f'<li class="fail">{esc(r)}</li>' for r in head["reasons"]) + "</ul>")
    out.append(gate_table(head, min_examples))
    out.append(
        "<h3>Overall</h3><table><tr><th>metric</th><th>candidate</th><th>baseline</th><th>change</th>"
        "<th>threshold</th><th>result</th></tr>"
    )
    for row in head["overall"]:
        out.append(
            f"<tr><td>{esc(row['metric'])}</td><td>{fmt(row['candidate'])}</td><td>{fmt(row['baseline'])}</td>"
            f"<td>{fmt(row['change'], True)}</td><td>{esc(row['threshold'])}</td><td>{status(row['passed'])}</td></tr>"
        )
    out.append("</table>")
    metric = head["gate"]["key"]
    rows = head["slices"]
    out.append(f"<h3>Slices, worst change in {esc(metric)} first</h3>")
    if rows:
        out.append(
            "<table><tr><th>slice</th><th>examples</th><th>candidate</th><th>baseline</th><th>change</th>"
            "<th>result</th></tr>"
        )
        for row in rows[:MAX_SLICE_ROWS]:
            small = f' <span class="small">too small to trust (&lt; {min_examples})</span>' if row["too_small"] else ""
            out.append(
                f"<tr><td>{esc(row['slice'])}{small}</td><td>{row['examples']}</td><td>{fmt(row['candidate'])}</td>"
                f"<td>{fmt(row['baseline'])}</td><td>{fmt(row['change'], True)}</td>"
                f"<td>{status(row['passed'])}</td></tr>"
            )
        out.append("</table>")
        if len(rows) > MAX_SLICE_ROWS:
            out.append(f'<p class="muted">{len(rows) - MAX_SLICE_ROWS} more slices in the JSON summary.</p>')
    else:
        out.append('<p class="muted">No slices were computed.</p>')
    plots = head["plots"]
    figures = [bar_chart(rows, metric)]
    if "calibration" in plots:
        figures.append(
            scatter(
                plots["calibration"],
                "Calibration: mean predicted vs. observed rate per bucket",
                "predicted",
                "observed",
            )
        )
    if "confusion" in plots:
        figures.append(confusion(plots["confusion"]))
    if "predicted_vs_actual" in plots:
        figures.append(
            scatter(
                plots["predicted_vs_actual"],
                "Mean predicted vs. mean actual, per slice",
                "predicted",
                "actual",
            )
        )
    out.append('<div class="plots">' + "".join(f for f in figures if f) + "</div></section>")
    return "".join(out)


def render_html(summary: Mapping[str, Any], min_examples: int) -> str:
    verdict = summary["verdict"]
    heading, reasons = headline(summary)
    identity = summary["identity"]
    head_rows = "".join(
        f'<tr><td><a href="#head-{esc(h["name"])}">{esc(h["name"])}</a></td><td>{esc(h["kind"])}</td>'
        f"<td>{status(h['passed'])}</td></tr>"
        for h in summary["heads"]
    )
    ident_rows = "".join(f"<tr><td>{esc(k)}</td><td><code>{esc(v)}</code></td></tr>" for k, v in identity.items())
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        f"<title>{esc(identity.get('pipeline', ''))} — {esc(verdict)}</title><style>{CSS}</style></head><body>"
        f"<p class='muted'>Per-head evaluation report</p><h1>{esc(identity.get('pipeline', 'pipeline'))}</h1>"
        f'<div class="verdict {esc(verdict)}" id="verdict"><strong>{esc(heading)}</strong><ul>'
        + "".join(f"<li>{esc(r)}</li>" for r in reasons)
        + f"</ul></div><table style='width:auto'><tr><th>head</th><th>kind</th><th>result</th></tr>{head_rows}</table>"
        + "".join(head_section(h, min_examples) for h in summary["heads"])
        + f"<h2>Run</h2><table>{ident_rows}</table>"
        "<p class='muted'>Open the same evaluation in TFMA's notebook views with "
        "<code>tfma.load_eval_result(evaluation)</code> (see the README).</p></body></html>"
    )


def text_summary(summary: Mapping[str, Any]) -> list[str]:
    """A few lines for the terminal."""
    lines = [f"Verdict: {summary['verdict'].upper()}"]
    serving_check = summary.get("canary")
    if serving_check and not serving_check["passed"]:
        lines += [f"  FAIL  {reason}" for reason in serving_check["reasons"]]
    for head in summary["heads"]:
        gate = next((r for r in head["gate_rows"] if r["slice"] == "overall"), None)
        value = "" if gate is None else f" {head['gate']['key']} {fmt(gate['candidate'])}"
        if gate is not None and gate["baseline"] is not None:
            value += f" (baseline {fmt(gate['baseline'])}, change {fmt(gate['change'], True)}"
            value += f", interval {interval_text(gate['interval'])})" if gate["interval"] else ")"
        if gate is not None and gate["lift"] is not None:
            value += f", lift over naive {gate['lift']:+.1%}"
        lines.append(f"  {'PASS' if head['passed'] else 'FAIL'}  {head['name']:<16}{value}")
        lines += [f"        - {reason}" for reason in head["reasons"]]
    return lines
