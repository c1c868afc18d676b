"""The per-head report as one self-contained HTML file (and a text summary).

The page is `templates/report.html.j2`, rendered by Jinja2 with autoescaping
on, so every string from data or config (head, slice, class names, paths) is
escaped by default. No script, no external stylesheet, font or image: plots
are inline SVG drawn by the template from the geometry computed here, so the
file opens offline and makes no request (the Content-Security-Policy says so
to the browser too).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from components.gate.metrics import OVERALL
from components.report import formats
from components.report.changes import sentences
from components.report.summary import badness, headline, new_head_sentence, overall_gate_row

MAX_SLICE_ROWS = 40
BAR_CHART_ROWS = 20
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # the page may load nothing
FAILED_COLOUR, SMALL_COLOUR, BAR_COLOUR = "#cf222e", "#d4a72c", "#0969da"


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("components.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(
        metric=formats.metric,
        signed=formats.signed,
        count=formats.count,
        interval=formats.interval,
        lift=formats.lift,
        percent=formats.percent,
        share=formats.share,
        decimals=formats.row_decimals,
    )
    return environment


def bar_chart(rows: Sequence[Mapping], metric: str, width: int = 520) -> dict[str, Any] | None:
    """Geometry of a bar per slice (candidate) with a tick for the baseline, for the template."""
    rows = [r for r in rows if r["candidate"] is not None][:BAR_CHART_ROWS]
    if not rows:
        return None
    values = [r["candidate"] for r in rows] + [r["baseline"] for r in rows if r["baseline"] is not None]
    high = max(max(values), 1e-9)
    label_x, bar_x, row_height = 164, 170, 18
    bar_width = width - 230
    bars = []
    for i, row in enumerate(rows):
        colour = FAILED_COLOUR if row["passed"] is False else (SMALL_COLOUR if row["too_small"] else BAR_COLOUR)
        bars.append(
            {
                "y": 4 + i * row_height,
                "label": row["slice"][:28],
                "length": max(0.0, row["candidate"] / high * bar_width),
                "baseline_x": None if row["baseline"] is None else bar_x + max(0.0, row["baseline"] / high * bar_width),
                "value": row["candidate"],
                "colour": colour,
            }
        )
    return {
        "metric": metric,
        "width": width,
        "height": row_height * len(rows) + 24,
        "label_x": label_x,
        "bar_x": bar_x,
        "bars": bars,
    }


def scatter(points: Sequence[Mapping], title: str, x_label: str, y_label: str, size: int = 300) -> dict | None:
    """Geometry of points on a square plot with the diagonal (perfect agreement), for the template."""
    if not points:
        return None
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
    return {
        "title": title,
        "x_label": x_label,
        "y_label": y_label,
        "size": size,
        "low": low,
        "high": high,
        "diagonal": [round(sx(low), 1), round(sy(low), 1), round(sx(high), 1), round(sy(high), 1)],
        "points": [
            {
                "x": sx(p["predicted"]),
                "y": sy(p["actual"]),
                "r": 2 + 6 * math.sqrt((p.get("weight", 1) or 1) / heaviest),
                "tip": p.get("slice", formats.metric(p["predicted"])),
            }
            for p in points
        ],
    }


PUSHED_COLOUR, PASSED_COLOUR = "#1a7f37", "#57606a"
HISTORY_TABLE_ROWS = 12


def history_plot(points: Sequence[Mapping], width: int = 560, height: int = 170) -> dict[str, Any] | None:
    """Geometry of a head's gate metric over its evaluations, oldest left; pushed green, blocked red."""
    points = [p for p in points if p["candidate"] is not None]
    if not points:
        return None
    values = [p["candidate"] for p in points]
    low, high = min(values), max(values)
    span = (high - low) or max(abs(high), 1.0) * 0.1
    left, right, top, bottom = 64, 16, 14, 28
    step = (width - left - right) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return top + (high - value) / span * (height - top - bottom)

    marks = []
    for i, point in enumerate(points):
        colour = PUSHED_COLOUR if point["pushed"] else (FAILED_COLOUR if not point["passed"] else PASSED_COLOUR)
        state = "pushed" if point["pushed"] else ("blocked" if not point["passed"] else "passed, not pushed")
        marks.append(
            {
                "x": left + i * step if len(points) > 1 else (left + width - right) / 2,
                "y": y(point["candidate"]),
                "colour": colour,
                "filled": bool(point["pushed"]),
                "tip": f"{point['run']}: {formats.metric(point['candidate'])} ({state})",
                "label": str(i + 1),
            }
        )
    return {
        "width": width,
        "height": height,
        "path": " ".join(f"{m['x']:.1f},{m['y']:.1f}" for m in marks),
        "marks": marks,
        "high": high,
        "low": low,
        "high_y": y(high),
        "low_y": y(low),
        "left": left,
        "axis_y": height - 8,
    }


def confusion(plot: Mapping) -> dict[str, Any]:
    """Each cell's weighted count with its shade (darker: more examples)."""
    top = max((v for row in plot["matrix"] for v in row), default=0) or 1
    rows = [
        (name, [(value, int(255 - 150 * value / top)) for value in row])
        for name, row in zip(plot["classes"], plot["matrix"], strict=True)
    ]
    return {"classes": plot["classes"], "rows": rows}


def head_view(head: Mapping[str, Any]) -> dict[str, Any]:
    """A head's summary with what the template shows: the overall gate row first, plots as geometry."""
    higher_is_better = head["higher_is_better"]
    overall_gate = overall_gate_row(head)
    gate_rows = sorted(
        (row for row in head["gate_rows"] if row["slice"] != OVERALL),
        key=lambda row: (-badness(row, higher_is_better), row["slice"]),
    )
    plots = head["plots"]
    scatters = []
    if "calibration" in plots:
        scatters.append(
            scatter(
                plots["calibration"],
                "Calibration: mean predicted vs. observed rate per bucket",
                "predicted",
                "observed",
            )
        )
    if "predicted_vs_actual" in plots:
        scatters.append(
            scatter(plots["predicted_vs_actual"], "Mean predicted vs. mean actual, per slice", "predicted", "actual")
        )
    return {
        **head,
        "overall_gate": overall_gate,
        "gate_rows": ([overall_gate] if overall_gate else []) + gate_rows,
        "threshold": next((row["threshold"] for row in head["overall"] if row["gated"]), ""),
        "has_baseline": any(row["baseline"] is not None for row in head["slices"]),
        "bar_chart": bar_chart(head["slices"], head["gate"]["key"]),
        "scatters": [s for s in scatters if s],
        "confusion": confusion(plots["confusion"]) if "confusion" in plots else None,
        "history_plot": history_plot(head["history"]) if head.get("history") else None,
        "history_rows": list(reversed(head.get("history") or []))[:HISTORY_TABLE_ROWS],
    }


def render_html(summary: Mapping[str, Any], min_examples: int) -> str:
    """The report page: first screen (verdict, reasons, one row per head), then a section per head."""
    heading, lines = headline(summary)
    identity = summary["identity"]
    changes = summary.get("changes")
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            pipeline=identity.get("pipeline", "pipeline"),
            verdict=summary["verdict"],
            heading=heading,
            lines=lines,
            all_reasons=list(summary["reasons"]),
            changes=changes,
            change_lines=(sentences(changes) if changes else []) + new_head_sentence(summary),
            confidence=summary.get("confidence"),
            heads=[head_view(head) for head in summary["heads"]],
            identity=identity,
            min_examples=min_examples,
            max_slice_rows=MAX_SLICE_ROWS,
            data=summary.get("data"),
            new_heads=summary.get("new_heads") or [],
            csp=CSP,
        )
    )


def render_comparison(comparison: Mapping[str, Any], first_name: str, second_name: str) -> str:
    """Two runs side by side (compare.py's data)."""
    keys = list(dict.fromkeys([*comparison["first"]["identity"], *comparison["second"]["identity"]]))
    return (
        _environment()
        .get_template("compare.html.j2")
        .render(comparison=comparison, first_name=first_name, second_name=second_name, keys=keys, csp=CSP)
    )


def text_summary(summary: Mapping[str, Any]) -> list[str]:
    """A few lines for the terminal: the verdict, one line per head, then what changed."""
    lines = [f"Verdict: {summary['verdict'].upper()}"]
    serving_check = summary.get("canary")
    if serving_check and not serving_check["passed"]:
        lines += [f"  FAIL  {reason}" for reason in serving_check["reasons"]]
    for head in summary["heads"]:
        gate = overall_gate_row(head)
        places = formats.row_decimals(gate)
        value = "" if gate is None else f" {head['gate']['key']} {formats.metric(gate['candidate'], decimals=places)}"
        if gate is not None and gate["baseline"] is not None:
            value += f" (baseline {formats.metric(gate['baseline'], decimals=places)}"
            value += f", change {formats.signed(gate['change'], places)}"
            value += f", interval {formats.interval(gate['interval'], places)})" if gate["interval"] else ")"
        if gate is not None and gate["lift"] is not None:
            value += f", lift over naive {formats.lift(gate['lift'])}"
        lines.append(f"  {'PASS' if head['passed'] else 'FAIL'}  {head['name']:<16}{value}")
        lines += [f"        - {reason}" for reason in head["reasons"]]
    if summary.get("changes"):
        lines.append("What changed since the baseline:")
        lines += [f"  {line}" for line in sentences(summary["changes"]) + new_head_sentence(summary)]
    return lines
