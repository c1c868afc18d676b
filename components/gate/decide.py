"""The per-head decision: value floor, noise-aware change, and lift over the naive predictor.

Pure: it takes the Evaluator's metrics (point values, and the gate metric's
paired change with its analytic standard error, components/gate/head_metrics.py) and the naive
predictor's scores, and returns per head whether it passes and why. The rules:

- value: on the overall slice and every gated slice, the candidate's gate
  metric must be at least `at_least` (or at most `at_most`);
- change: against the baseline, the candidate-minus-baseline difference has a
  confidence interval (the standard error of the paired difference, a
  t-quantile at `confidence`); the head fails only when the WHOLE interval is
  worse than `-max_regression` (`slice_max_regression` on gated slices), i.e.
  when the regression is larger than allowed at that confidence, so
  seed-to-seed noise does not block a push;
- lift: on the overall slice, the model must beat the naive predictor by at
  least `min_lift` (relative to the naive score; None: reported, not gated).

Slices with fewer than `min_slice_examples` weighted examples never gate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from components.gate.metrics import BASELINE, OVERALL, MetricTable, candidate, change_key
from trainer.specs import HeadSpec

# TFMA computes in float32, the naive score in float64: equal scores may differ by ~1e-7.
LIFT_TOLERANCE = 1e-6


def t_quantile(confidence: float, degrees_of_freedom: int | None) -> float:
    """Two-sided quantile of Student's t (normal when the degrees of freedom are unknown)."""
    from scipy import stats

    q = (1 + confidence) / 2
    return float(stats.t.ppf(q, degrees_of_freedom) if degrees_of_freedom else stats.norm.ppf(q))


@dataclasses.dataclass
class SliceRow:
    """One slice of one head: the gate metric, its change, the naive score and each rule's outcome."""

    slice: str
    examples: float
    candidate: float | None
    baseline: float | None = None
    change: float | None = None
    interval: tuple[float, float] | None = None
    naive: float | None = None
    lift: float | None = None
    too_small: bool = False
    failures: list[str] = dataclasses.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclasses.dataclass
class HeadDecision:
    head: str
    metric: str  # the TFMA key of the gate metric
    passed: bool
    reasons: list[str]
    rows: list[SliceRow]
    naive: str  # what the naive predictor predicts, in words

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"rows": [dataclasses.asdict(r) | {"passed": r.passed} for r in self.rows]}


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def relative_lift(model: float, naive: float, higher_is_better: bool) -> float:
    """How much better than the naive score, as a fraction of it (positive is better)."""
    gain = model - naive if higher_is_better else naive - model
    return gain / abs(naive) if naive else (math.inf if gain > 0 else 0.0)


def decide_head(
    head: HeadSpec,
    metrics: MetricTable,
    naive_scores: Mapping[str, float | None],
    naive_description: str,
    gated_slices: list[str],
    min_slice_examples: int,
    confidence: float,
) -> HeadDecision:
    """The decision for one head (its spec, with its gate)."""
    name, key = head.name, head.gate_key
    higher = head.gate.higher_is_better
    rows = []
    for where in [OVERALL, *gated_slices]:
        values = metrics.get(where, {})
        value = candidate(values, name, key)
        weighted = candidate(values, name, "weighted_example_count")
        count = weighted.value if weighted is not None else 0.0
        row = SliceRow(slice=where, examples=count, candidate=value.value if value else None)
        row.too_small = where != OVERALL and count < min_slice_examples
        base = values.get((name, key, BASELINE, False))
        if base is not None and not math.isnan(base.value):
            row.baseline = base.value
        diff = candidate(values, name, change_key(key))
        if diff is not None:
            row.change = diff.value
            if diff.standard_error is not None:
                half = t_quantile(confidence, diff.degrees_of_freedom) * diff.standard_error
                row.interval = (diff.value - half, diff.value + half)
        naive = naive_scores.get(where)
        if naive is not None and row.candidate is not None:
            row.naive, row.lift = naive, relative_lift(row.candidate, naive, higher)
        if not row.too_small:
            row.failures = _check(head, row, where, confidence, with_lift=where == OVERALL, naive=naive_description)
        rows.append(row)
    reasons = [failure for row in rows for failure in row.failures]
    return HeadDecision(name, key, not reasons, reasons, rows, naive_description)


def _check(head: HeadSpec, row: SliceRow, where: str, confidence: float, *, with_lift: bool, naive: str) -> list[str]:
    gate, name, key = head.gate, head.name, head.gate_key
    higher = gate.higher_is_better
    failures = []
    if row.candidate is None:
        return [f"Head {name}: {key} on slice {where} was not computed, so the head cannot be judged."]
    if gate.at_least is not None and row.candidate < gate.at_least:
        failures.append(
            f"Head {name}: {key} on slice {where} is {_fmt(row.candidate)}; it must be at least {gate.at_least:g}."
        )
    if gate.at_most is not None and row.candidate > gate.at_most:
        failures.append(
            f"Head {name}: {key} on slice {where} is {_fmt(row.candidate)}; it must be at most {gate.at_most:g}."
        )
    allowed = gate.allowed_regression(overall=where == OVERALL)
    if allowed is not None and row.change is not None:
        worse = "fall" if higher else "rise"
        if row.interval is not None:
            low, high = row.interval
            blocked = high < -allowed if higher else low > allowed
            evidence = f"{confidence:.0%} interval {low:+.4g} to {high:+.4g}"
            rule = f"it may {worse} by at most {allowed:g}, and the whole interval is beyond that"
        else:
            blocked = row.change < -allowed if higher else row.change > allowed
            evidence = "no interval: no standard error was computed for this metric"
            rule = f"it may {worse} by at most {allowed:g}"
        if blocked:
            failures.append(
                f"Head {name}: {key} on slice {where} changed by {row.change:+.4g} ({evidence}; "
                f"baseline {_fmt(row.baseline)}, candidate {_fmt(row.candidate)}); {rule}."
            )
    min_lift = gate.min_lift
    if with_lift and min_lift is not None and row.lift is not None and row.lift < min_lift - LIFT_TOLERANCE:
        failures.append(
            f"Head {name}: {key} on slice {where} is {_fmt(row.candidate)}, against {_fmt(row.naive)} for the naive "
            f"predictor ({naive}): a lift of {row.lift:+.2%}; the model must beat it by at least {min_lift:.0%}."
        )
    return failures
