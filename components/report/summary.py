"""The per-head report as data: verdict, reasons, per-head metrics, slices, plots.

Built from TFMA's own output (metrics, plots, validation result) and the
gates of the heads; rendered to HTML by render.py and written as JSON for
machines. Every value here comes from the evaluation; nothing is recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

CANDIDATE = "candidate"  # the model names of the EvalConfig (pipeline/eval_config.py)
BASELINE = "baseline"
CANDIDATE_NAMES = (CANDIDATE, "")  # TFMA leaves the model unnamed when there is no baseline
OVERALL = "overall"


def slice_name(slice_key) -> str:
    """'overall' or 'origin=JFK, carrier=B6' from a TFMA SliceKey proto."""
    parts = []
    for column in slice_key.single_slice_keys:
        kind = column.WhichOneof("kind")
        raw = getattr(column, kind) if kind else ""
        parts.append(f"{column.column}={raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw}")
    return ", ".join(parts) or OVERALL


def slice_columns(name: str) -> tuple[str, ...]:
    return () if name == OVERALL else tuple(part.split("=", 1)[0] for part in name.split(", "))


def load_metrics(evaluation_uri: str) -> dict[str, dict[tuple[str, str, str, bool], float]]:
    """slice -> (output, metric, model, is_diff) -> value, for scalar metrics."""
    import tensorflow_model_analysis as tfma

    result: dict[str, dict] = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        values = result.setdefault(slice_name(metrics.slice_key), {})
        for item in metrics.metric_keys_and_values:
            if item.value.HasField("double_value"):
                key = item.key
                values[(key.output_name, key.name, key.model_name, key.is_diff)] = item.value.double_value.value
    return result


def _candidate(values: Mapping, output: str, metric: str, diff: bool = False) -> float | None:
    for model in CANDIDATE_NAMES:
        if (output, metric, model, diff) in values:
            return values[(output, metric, model, diff)]
    return None


def _clean(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def threshold_text(head: Mapping, diff: bool) -> str:
    gate = head["gate"]
    if diff:
        direction = "fall" if gate["at_least"] is not None else "rise"
        return f"may {direction} by at most {gate['max_regression']:g} against the baseline"
    if gate["at_least"] is not None:
        return f"must be at least {gate['at_least']:g}"
    return f"must be at most {gate['at_most']:g}"


def failure_sentence(
    head: Mapping, metric: str, where: str, diff: bool, candidate: float | None, baseline: float | None
) -> str:
    """A reason a person can act on: head, metric, slice, value, baseline, allowed change."""
    value = "n/a" if candidate is None else f"{candidate:.4g}"
    if diff and baseline is not None and candidate is not None:
        change = candidate - baseline
        return (
            f"Head {head['name']}: {metric} on slice {where} changed by {change:+.4g} "
            f"(baseline {baseline:.4g}, candidate {value}); it {threshold_text(head, diff=True)}."
        )
    return f"Head {head['name']}: {metric} on slice {where} is {value}; it {threshold_text(head, diff=False)}."


def _overall_rows(head: Mapping, metrics: Mapping, failed: set) -> list[dict]:
    rows = []
    overall = metrics.get(OVERALL, {})
    names = sorted({k[1] for k in overall if k[0] == head["name"]})
    for metric in names:
        candidate = _clean(_candidate(overall, head["name"], metric))
        baseline = _clean(overall.get((head["name"], metric, BASELINE, False)))
        gated = metric == head["gate"]["key"]
        rows.append(
            {
                "metric": metric,
                "candidate": candidate,
                "baseline": baseline,
                "change": None if candidate is None or baseline is None else candidate - baseline,
                "threshold": (
                    threshold_text(head, False)
                    + (f"; {threshold_text(head, True)}" if head["gate"]["max_regression"] is not None else "")
                )
                if gated
                else "",
                "gated": gated,
                "passed": None if not gated else (OVERALL, metric) not in failed,
            }
        )
    return rows


def _slice_rows(head: Mapping, metrics: Mapping, failed: set, gated_columns: set, min_examples: int) -> list[dict]:
    key = head["gate"]["key"]
    higher_is_better = head["gate"]["at_least"] is not None
    rows = []
    for name, values in metrics.items():
        if name == OVERALL:
            continue
        candidate = _clean(_candidate(values, head["name"], key))
        if candidate is None:
            continue
        baseline = _clean(values.get((head["name"], key, BASELINE, False)))
        weighted = _clean(_candidate(values, head["name"], "weighted_example_count"))
        count = _clean(_candidate(values, head["name"], "example_count"))
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

    def badness(row: dict) -> float:
        if row["change"] is None:
            return -math.inf
        return -row["change"] if higher_is_better else row["change"]

    return sorted(rows, key=lambda r: (-badness(r), r["slice"]))


def _plots(head: Mapping, evaluation_uri: str, metrics: Mapping) -> dict[str, Any]:
    """Plot data per head, from TFMA's plots (overall slice) and slice metrics."""
    import tensorflow_model_analysis as tfma

    plots: dict[str, Any] = {}
    for plot in tfma.load_plots(evaluation_uri):
        if slice_name(plot.slice_key) != OVERALL:
            continue
        for item in plot.plot_keys_and_values:
            if item.key.output_name != head["name"] or item.key.model_name not in CANDIDATE_NAMES:
                continue
            value = item.value
            if value.HasField("calibration_histogram_buckets") and head["kind"] == "binary":
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
                    size = len(head["classes"])
                    cells = [[0.0] * size for _ in range(size)]
                    for entry in matrices[0].entries:
                        if 0 <= entry.actual_class_id < size and 0 <= entry.predicted_class_id < size:
                            cells[entry.actual_class_id][entry.predicted_class_id] = entry.num_weighted_examples
                    plots["confusion"] = {"classes": list(head["classes"]), "matrix": cells}
    if head["kind"] == "regression":
        points = []
        for name, values in metrics.items():
            predicted = _clean(_candidate(values, head["name"], "mean_prediction"))
            actual = _clean(_candidate(values, head["name"], "mean_label"))
            if predicted is not None and actual is not None:
                points.append(
                    {
                        "slice": name,
                        "predicted": predicted,
                        "actual": actual,
                        "weight": _clean(_candidate(values, head["name"], "weighted_example_count")) or 0,
                    }
                )
        plots["predicted_vs_actual"] = points
    return plots


def build_summary(
    report_config: Mapping[str, Any],
    evaluation_uri: str,
    *,
    blessed: bool,
    pushed: bool | None,
    identity: Mapping[str, Any],
) -> dict[str, Any]:
    """The whole report as JSON-ready data.

    `report_config`: {"heads": [HeadSpec dicts + gate key], "gated_slices": [[columns]],
    "min_slice_examples": n}, as `report_config_of` writes it.
    """
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    metrics = load_metrics(evaluation_uri)
    heads = {head["name"]: head for head in report_config["heads"]}
    gated_columns = {tuple(columns) for columns in report_config["gated_slices"]}
    failed: dict[str, set] = {name: set() for name in heads}
    reasons: dict[str, list[str]] = {name: [] for name in heads}
    for per_slice in validation.metric_validations_per_slice:
        where = slice_name(per_slice.slice_key)
        values = metrics.get(where, {})
        for failure in per_slice.failures:
            key = failure.metric_key
            head = heads.get(key.output_name)
            if head is None:
                continue
            failed[head["name"]].add((where, key.name))
            reasons[head["name"]].append(
                failure_sentence(
                    head,
                    key.name,
                    where,
                    key.is_diff,
                    _clean(_candidate(values, key.output_name, key.name)),
                    _clean(values.get((key.output_name, key.name, BASELINE, False))),
                )
            )
    general = [  # missing_slices holds SlicingSpecs that matched no example
        f"Slicing by {', '.join(missing.feature_keys) or 'nothing'} matched no evaluation data."
        for missing in validation.missing_slices
    ]
    head_sections = []
    for name, head in heads.items():
        head_sections.append(
            {
                "name": name,
                "kind": head["kind"],
                "label": head["label"],
                "classes": list(head.get("classes", [])),
                "gate": head["gate"],
                "passed": not reasons[name] and not general,
                "reasons": reasons[name],
                "overall": _overall_rows(head, metrics, failed[name]),
                "slices": _slice_rows(head, metrics, failed[name], gated_columns, report_config["min_slice_examples"]),
                "plots": _plots(head, evaluation_uri, metrics),
            }
        )
    all_reasons = [r for section in head_sections for r in section["reasons"]] + general
    verdict = ("blessed" if blessed else "blocked") if pushed is None else ("pushed" if pushed else "blocked")
    return {
        "verdict": verdict,
        "blessed": bool(blessed),
        "pushed": pushed,
        "validation_ok": bool(validation.validation_ok),
        "reasons": all_reasons,
        "heads": head_sections,
        "identity": dict(identity),
    }


def report_config_of(
    heads: Sequence[Any], gated_slices: Sequence[Sequence[str]], min_slice_examples: int, metric_key
) -> dict[str, Any]:
    """The report's view of the config (plain JSON, for a component parameter)."""
    import dataclasses

    out = []
    for head in heads:
        data = dataclasses.asdict(head)
        data["gate"]["key"] = metric_key(head.kind, head.gate.metric)
        out.append(data)
    return {
        "heads": out,
        "gated_slices": [list(s) for s in gated_slices],
        "min_slice_examples": min_slice_examples,
    }
