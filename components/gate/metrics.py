"""TFMA's metrics as the gate and the report read them: slice names, model names, values with errors."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

OVERALL = "overall"
CANDIDATE = "candidate"  # the model names of the EvalConfig (pipeline/eval_config.py)
BASELINE = "baseline"
CANDIDATE_NAMES = (CANDIDATE, "")  # TFMA leaves the model unnamed when there is no baseline
CHANGE_SUFFIX = "_paired_change"


def change_key(metric_key: str) -> str:
    """The key of a gate metric's candidate-minus-baseline change with its standard error
    (components/gate/head_metrics.py). Not TFMA's `is_diff` key of the same name: TFMA overwrites
    those with its own point differences."""
    return metric_key + CHANGE_SUFFIX


def is_change_key(name: str) -> bool:
    return name.endswith(CHANGE_SUFFIX)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A metric's value on the evaluation span, and for a change its analytic standard error."""

    value: float
    standard_error: float | None = None
    degrees_of_freedom: int | None = None


MetricTable = Mapping[str, Mapping[tuple[str, str, str, bool], Estimate]]


def load_estimates(evaluation_uri: str) -> dict[str, dict[tuple[str, str, str, bool], Estimate]]:
    """slice -> (output, metric, model, is_diff) -> Estimate, for TFMA's scalar metrics."""
    import tensorflow_model_analysis as tfma

    result: dict[str, dict] = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        values = result.setdefault(slice_name(metrics.slice_key), {})
        for item in metrics.metric_keys_and_values:
            if not item.value.HasField("double_value"):
                continue
            key = item.key
            interval = item.confidence_interval if item.HasField("confidence_interval") else None
            se = interval.standard_error.double_value.value if interval is not None else None
            df = interval.degrees_of_freedom.value if interval is not None else None
            values[(key.output_name, key.name, key.model_name, key.is_diff)] = Estimate(
                value=item.value.double_value.value,
                standard_error=None if se is None or math.isnan(se) else se,
                degrees_of_freedom=df or None,
            )
    return result


def slice_name(slice_key) -> str:
    """'overall' or 'origin=JFK, carrier=B6' from a TFMA SliceKey proto."""
    parts = []
    for column in slice_key.single_slice_keys:
        kind = column.WhichOneof("kind")
        raw = getattr(column, kind) if kind else ""
        parts.append(f"{column.column}={raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw}")
    return ", ".join(parts) or OVERALL


def slice_columns(name: str) -> tuple[str, ...]:
    """The feature names of a slice name ('origin=JFK, carrier=B6' -> ('origin', 'carrier'))."""
    return () if name == OVERALL else tuple(part.split("=", 1)[0] for part in name.split(", "))


def candidate(values: Mapping, output: str, metric: str, diff: bool = False) -> Estimate | None:
    for model in CANDIDATE_NAMES:
        found = values.get((output, metric, model, diff))
        if found is not None and not math.isnan(found.value):
            return found
    return None
