"""The per-head report as data: verdict, reasons, per-head metrics, slices, plots.

Built from TFMA's own output (metrics, plots), the HeadGate's decisions and the
gates of the heads; rendered to HTML by render.py and written as JSON for
machines. Every value here comes from the evaluation; nothing is recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from components.gate.metrics import (
    BASELINE,
    CANDIDATE_NAMES,
    OVERALL,
    is_change_key,
    load_estimates,
    slice_columns,
    slice_name,
)
from contracts.evaluation_plan import EvaluationPlan
from trainer.specs import HeadSpec

HEADINGS = {"pushed": "Pushed: every head passed", "blocked": "Blocked: not pushed", "blessed": "Blessed"}
TOP_MOVERS = 5  # features shown next to a head that regressed
ALL_PASSED = "Every head passed its gate on the overall slice and on every gated slice."


def headline(summary: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The verdict's heading and the lines under it: one wording for the HTML, the Markdown and the
    terminal. Blocked: the serving check's reasons, then one line per failed head; the full list of
    reasons is each head's (and summary["reasons"])."""
    heading = HEADINGS.get(summary["verdict"], summary["verdict"])
    if summary["blessed"]:
        return heading, list(summary["reasons"]) or [ALL_PASSED]
    serving_check = summary.get("canary") or {}
    lines = list(serving_check.get("reasons", []))
    lines += [failed_head_line(head) for head in summary["heads"] if not head["passed"]]
    return heading, lines or list(summary["reasons"])


def failed_head_line(head: Mapping[str, Any]) -> str:
    """One line for a head that failed: its gate metric overall (with the change and its interval where
    there is a baseline), and how many gated slices failed, the worst named."""
    from components.report import formats

    overall = overall_gate_row(head)
    metric = head["gate"]["key"]
    parts = [f"{head['name']}: {metric}"]
    if overall is not None:
        places = formats.row_decimals(overall)
        parts.append(formats.metric(overall["candidate"], decimals=places))
        if overall.get("change") is not None:
            change = f"change {formats.signed(overall['change'], places)}"
            if overall.get("interval"):
                change += f" [{formats.interval(overall['interval'], places)}]"
            parts.append(f"({change})")
        if overall.get("failures"):
            parts.append("fails overall;")
    gated = [row for row in head["gate_rows"] if row["slice"] != OVERALL and not row.get("too_small")]
    failed = [row for row in gated if row.get("failures")]
    if failed:
        worst = max(failed, key=lambda row: (badness(row, head["higher_is_better"]), row["slice"]))
        worst_text = worst["slice"]
        if worst.get("change") is not None:
            worst_text += f" ({formats.signed(worst['change'], formats.row_decimals(worst))})"
        parts.append(f"{len(failed)} of {len(gated)} gated slices failed, the worst {worst_text}")
    elif gated:
        parts.append(f"0 of {len(gated)} gated slices failed")
    return " ".join(parts)


def overall_gate_row(head: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A head's gate decision on the overall slice (None when the gate decided nothing for the head)."""
    return next((row for row in head["gate_rows"] if row["slice"] == OVERALL), None)


def load_metrics(evaluation_uri: str) -> dict[str, dict[tuple[str, str, str, bool], float]]:
    """slice -> (output, metric, model, is_diff) -> value, for scalar metrics."""
    return {
        where: {key: estimate.value for key, estimate in values.items()}
        for where, values in load_estimates(evaluation_uri).items()
    }


def _candidate(values: Mapping, output: str, metric: str, diff: bool = False) -> float | None:
    for model in CANDIDATE_NAMES:
        if (output, metric, model, diff) in values:
            return values[(output, metric, model, diff)]
    return None


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def threshold_text(head: HeadSpec, diff: bool) -> str:
    gate = head.gate
    if diff:
        direction = "fall" if gate.higher_is_better else "rise"
        on_slices = gate.slice_max_regression
        slices = "" if on_slices is None else f", by {on_slices:g} on a gated slice"
        return (
            f"may {direction} by at most {gate.max_regression:g} against the baseline{slices} "
            "(blocks only when the whole interval of the change is beyond that)"
        )
    if gate.at_least is not None:
        return f"must be at least {gate.at_least:g}"
    return f"must be at most {gate.at_most:g}"


def badness(row: Mapping, higher_is_better: bool, by_change: bool = True) -> float:
    """How bad a slice looks, larger is worse: its change against the baseline (a row without one last), or,
    with no baseline at all (`by_change` False), its value."""
    value = row["change"] if by_change else row["candidate"]
    if value is None:
        return -math.inf
    return -value if higher_is_better else value


def _overall_rows(head: HeadSpec, metrics: Mapping, failed: set) -> list[dict]:
    rows = []
    overall = metrics.get(OVERALL, {})
    names = sorted({k[1] for k in overall if k[0] == head.name and not is_change_key(k[1])})  # changes: gate rows
    for metric in names:
        candidate = _clean(_candidate(overall, head.name, metric))
        baseline = _clean(overall.get((head.name, metric, BASELINE, False)))
        gated = metric == head.gate_key
        rows.append(
            {
                "metric": metric,
                "candidate": candidate,
                "baseline": baseline,
                "change": None if candidate is None or baseline is None else candidate - baseline,
                "threshold": (
                    threshold_text(head, False)
                    + (f"; {threshold_text(head, True)}" if head.gate.max_regression is not None else "")
                )
                if gated
                else "",
                "gated": gated,
                "passed": None if not gated else (OVERALL, metric) not in failed,
            }
        )
    return rows


def _slice_rows(head: HeadSpec, metrics: Mapping, failed: set, gated_columns: set, min_examples: int) -> list[dict]:
    key = head.gate_key
    higher_is_better = head.gate.higher_is_better
    rows = []
    for name, values in metrics.items():
        if name == OVERALL:
            continue
        candidate = _clean(_candidate(values, head.name, key))
        if candidate is None:
            continue
        baseline = _clean(values.get((head.name, key, BASELINE, False)))
        weighted = _clean(_candidate(values, head.name, "weighted_example_count"))
        count = _clean(_candidate(values, head.name, "example_count"))
        change = None if baseline is None else candidate - baseline
        gated = slice_columns(name) in gated_columns
        rows.append(
            {
                "slice": name,
                "examples": int(count or 0),
                "weighted_examples": weighted,
                "candidate": candidate,
                "baseline": baseline,
                "change": change,
                "gated": gated,
                "passed": None if not gated else (name, key) not in failed,
                "too_small": (weighted if weighted is not None else count or 0) < min_examples,
            }
        )

    by_change = any(row["change"] is not None for row in rows)
    return sorted(rows, key=lambda r: (not r["gated"], -badness(r, higher_is_better, by_change=by_change), r["slice"]))


def _plots(head: HeadSpec, evaluation_uri: str, metrics: Mapping) -> dict[str, Any]:
    """Plot data per head, from TFMA's plots (overall slice) and slice metrics."""
    import tensorflow_model_analysis as tfma

    plots: dict[str, Any] = {}
    for plot in tfma.load_plots(evaluation_uri):
        if slice_name(plot.slice_key) != OVERALL:
            continue
        for item in plot.plot_keys_and_values:
            if item.key.output_name != head.name or item.key.model_name not in CANDIDATE_NAMES:
                continue
            value = item.value
            if value.HasField("calibration_histogram_buckets") and head.kind == "binary":
                points = []
                for bucket in value.calibration_histogram_buckets.buckets:
                    weight = bucket.num_weighted_examples.value
                    if weight > 0:
                        points.append(
                            {
                                "predicted": bucket.total_weighted_refined_prediction.value / weight,
                                "actual": bucket.total_weighted_label.value / weight,
                                "weight": weight,
                            }
                        )
                plots["calibration"] = points
            if value.HasField("multi_class_confusion_matrix_at_thresholds"):
                matrices = value.multi_class_confusion_matrix_at_thresholds.matrices
                if matrices:
                    size = len(head.classes)
                    cells = [[0.0] * size for _ in range(size)]
                    for entry in matrices[0].entries:
                        if 0 <= entry.actual_class_id < size and 0 <= entry.predicted_class_id < size:
                            cells[entry.actual_class_id][entry.predicted_class_id] = entry.num_weighted_examples
                    plots["confusion"] = {"classes": list(head.classes), "matrix": cells}
    if head.kind == "regression":
        points = []
        for name, values in metrics.items():
            predicted = _clean(_candidate(values, head.name, "mean_prediction"))
            actual = _clean(_candidate(values, head.name, "mean_label"))
            if predicted is not None and actual is not None:
                points.append(
                    {
                        "slice": name,
                        "predicted": predicted,
                        "actual": actual,
                        "weight": _clean(_candidate(values, head.name, "weighted_example_count")) or 0,
                    }
                )
        plots["predicted_vs_actual"] = points
    return plots


def build_summary(
    plan: EvaluationPlan,
    evaluation_uri: str,
    decisions: Mapping[str, Any],
    *,
    blessed: bool,
    pushed: bool | None,
    identity: Mapping[str, Any],
    history: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole report as JSON-ready data.

    `plan`: the heads with their gates, the gated slicings and thresholds (contracts/evaluation_plan.py).
    `decisions`: the HeadGate's gate.json (per head: passed, reasons, gated rows).
    `history`: per head, the gate metric of every evaluation of the pipeline (history.py); None where no
    ML Metadata store is at hand (the report then says so).
    `data`: what changed in the data (drift.py), None where the statistics are not at hand.
    `changes`: what changed between the baseline and the candidate (changes.py), None without a baseline.
    """
    metrics = load_metrics(evaluation_uri)
    gated_columns = set(plan.gated_slices)
    decided = {d["head"]: d for d in decisions["heads"]}
    head_sections = []
    for head in plan.heads:
        name = head.name
        decision = decided[name]
        failed = {(row["slice"], head.gate_key) for row in decision["rows"] if not row["passed"]}
        head_sections.append(
            {
                "name": name,
                "kind": head.kind,
                "label": head.label,
                "classes": list(head.classes),
                "gate": EvaluationPlan.head_dict(head)["gate"],
                "higher_is_better": head.gate.higher_is_better,
                "passed": decision["passed"],
                "reasons": decision["reasons"],
                "naive": decision["naive"],
                "gate_rows": decision["rows"],
                "overall": _overall_rows(head, metrics, failed),
                "slices": _slice_rows(head, metrics, failed, gated_columns, plan.min_slice_examples),
                "plots": _plots(head, evaluation_uri, metrics),
                "history": None if history is None else list(history.get(name, [])),
                "top_movers": [] if data is None or decision["passed"] else list(data["features"][:TOP_MOVERS]),
            }
        )
    # A head added since the baseline was trained: a baseline for the others, none for it (components/evaluator.py).
    compared = any(row["baseline"] is not None for section in head_sections for row in section["overall"])
    new_heads = [
        section["name"]
        for section in head_sections
        if compared and all(row["baseline"] is None for row in section["overall"])
    ]
    serving_check = decisions.get("canary")  # absent in gate.json written before the canary existed
    all_reasons = [
        *(serving_check or {}).get("reasons", []),
        *(r for section in head_sections for r in section["reasons"]),
    ]
    verdict = ("blessed" if blessed else "blocked") if pushed is None else ("pushed" if pushed else "blocked")
    return {
        "verdict": verdict,
        "blessed": bool(blessed),
        "pushed": pushed,
        "confidence": decisions.get("confidence"),
        "reasons": all_reasons,
        "canary": serving_check,
        "heads": head_sections,
        "identity": dict(identity),
        "data": None if data is None else dict(data),
        "changes": None if changes is None else dict(changes),
        "new_heads": new_heads,
    }


def new_head_sentence(summary: Mapping[str, Any]) -> list[str]:
    """What the report says of heads the baseline lacks (empty when there are none)."""
    heads = summary.get("new_heads") or []
    if not heads:
        return []
    names = ", ".join(heads)
    return [
        f"New head{'s' if len(heads) > 1 else ''} {names}: the baseline model has no output for "
        f"{'them' if len(heads) > 1 else 'it'}, so {'they are' if len(heads) > 1 else 'it is'} judged on "
        "the gate's thresholds and lift over the naive predictor only; the other heads against the baseline."
    ]
