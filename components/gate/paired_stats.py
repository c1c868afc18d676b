"""A head's metrics on one slice, and the paired change's standard error, without resampling.

Pure numpy over the slice's examples (one row each: label, weight, each model's
prediction). Every metric is either a ratio of weighted sums (mean errors and
losses, accuracy, precision, recall; RMSE is the root of one) or the weighted
Mann-Whitney AUC. The candidate and the baseline are scored on the same
examples, so their difference has a small variance; it is estimated from each
example's influence on the metric (its linearization), the analytic
counterpart of the jackknife:

- a ratio R = sum(w a) / sum(w b): influence (a_i - R b_i) / mean_w(b); the
  change's variance is that of the weighted mean of the paired influences
  (`weighted_mean_variance`), which for unit weights and a mean loss is the
  textbook var(d)/n of the per-example differences d;
- AUC: DeLong, DeLong and Clarke-Pearson (1988): the placement values of each
  positive and negative, paired across the two models; the variance is the
  same weighted mean's, over the positives plus over the negatives.

Weights have one meaning for every metric: sampling (importance) weights. A
row is one observation, its weight says how much it counts in the metric, and
the spread comes from the n rows with a non-zero weight: multiplying every
weight by a constant changes no value and no standard error, and a row of
weight 2 is not two rows. With 0/1 weights (a head's missing label) this is
exactly the unweighted formulas on the rows whose weight is 1; rows with
weight 0 are left out. Callers pass rows in
a canonical order (`canonical`), so a result never depends on how the rows were
split or merged: the same rows give the same bits.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

EPSILON = 1e-7  # Keras' clipping of probabilities in its cross-entropies
THRESHOLD = 0.5  # the decision threshold of the binary metrics (TFMA's and Keras' default)


@dataclasses.dataclass(frozen=True)
class Change:
    """The candidate-minus-baseline change of a metric, with its standard error."""

    value: float
    standard_error: float
    degrees_of_freedom: int


def canonical(rows: np.ndarray) -> np.ndarray:
    """The rows sorted by every column (first column most significant): one order for any merge order."""
    if len(rows) == 0:
        return rows
    return rows[np.lexsort(rows.T[::-1])]


# --- ratios of weighted sums: numerator and denominator per example -----------------------------


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p, EPSILON, 1 - EPSILON)


def _binary_accuracy(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    return ((predictions > THRESHOLD) == (labels > THRESHOLD)).astype(float)


def _binary_crossentropy(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    p = _clip(predictions)
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def _categorical_accuracy(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    return (np.argmax(probabilities, axis=1) == labels.astype(int)).astype(float)


def _categorical_crossentropy(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    p = probabilities / np.sum(probabilities, axis=1, keepdims=True)
    return -np.log(_clip(p[np.arange(len(labels)), labels.astype(int)]))


def _mean_of(per_example):
    """A mean over examples: numerator `per_example(labels, predictions)`, denominator 1."""
    return lambda labels, predictions: (per_example(labels, predictions), np.ones(len(labels)))


def _positive(values: np.ndarray) -> np.ndarray:
    return (values > THRESHOLD).astype(float)


# Per metric class, the numerator a and denominator b of each example: metric = sum(w a) / sum(w b).
# `predictions` is 1-d (a value or a probability) or 2-d (class probabilities, multiclass).
RATIO_TERMS = {
    "MeanAbsoluteError": _mean_of(lambda y, p: np.abs(y - p)),
    "MeanSquaredError": _mean_of(lambda y, p: (y - p) ** 2),
    "RootMeanSquaredError": _mean_of(lambda y, p: (y - p) ** 2),  # the root is taken of the ratio
    "MeanPrediction": _mean_of(lambda y, p: p),
    "MeanLabel": _mean_of(lambda y, p: y),
    "BinaryAccuracy": _mean_of(_binary_accuracy),
    "BinaryCrossentropy": _mean_of(_binary_crossentropy),
    "Precision": lambda y, p: (_positive(p) * _positive(y), _positive(p)),
    "Recall": lambda y, p: (_positive(y) * _positive(p), _positive(y)),
    "SparseCategoricalAccuracy": _mean_of(_categorical_accuracy),
    "SparseCategoricalCrossentropy": _mean_of(_categorical_crossentropy),
}
RATIO_METRICS = frozenset(RATIO_TERMS)
SUPPORTED = RATIO_METRICS | {"AUC"}


def weighted_sum(values: np.ndarray) -> float:
    """Exactly rounded (math.fsum): the same value for the same multiset of terms."""
    return math.fsum(values.tolist())


def ratio_value_and_influence(
    metric: str, labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """The metric and each example's influence on it (its first-order contribution, mean zero)."""
    a, b = RATIO_TERMS[metric](labels, predictions)
    total_weight = weighted_sum(weights)
    denominator = weighted_sum(weights * b)
    if denominator == 0.0:
        return math.nan, np.zeros(len(labels))
    value = weighted_sum(weights * a) / denominator
    influence = (a - value * b) / (denominator / total_weight)
    if metric == "RootMeanSquaredError":
        root = math.sqrt(value)
        return root, influence / (2 * root) if root > 0 else np.zeros(len(labels))
    return value, influence


def paired_ratio_change(
    metric: str,
    labels: np.ndarray,
    candidate: np.ndarray,
    baseline: np.ndarray,
    weights: np.ndarray,
) -> Change:
    """Candidate minus baseline of a ratio metric on the same examples, with its standard error."""
    value_c, influence_c = ratio_value_and_influence(metric, labels, candidate, weights)
    value_b, influence_b = ratio_value_and_influence(metric, labels, baseline, weights)
    n = int(np.count_nonzero(weights))
    variance = weighted_mean_variance(influence_c - influence_b, weights, 0.0)
    return Change(value_c - value_b, math.sqrt(variance), max(n - 1, 0))


def weighted_mean_variance(values: np.ndarray, weights: np.ndarray, mean: float) -> float:
    """The variance of the weighted mean sum(w v) / sum(w) of the rows with a non-zero weight, weights
    read as sampling weights: n/(n-1) * sum(w^2 (v - mean)^2) / sum(w)^2 (the linearization of a
    ratio estimator). NaN for fewer than 2 such rows."""
    n = int(np.count_nonzero(weights))
    total = weighted_sum(weights)
    if n < 2 or total == 0.0:
        return math.nan
    return n / (n - 1) * weighted_sum((weights * (values - mean)) ** 2) / total**2


# --- AUC: weighted Mann-Whitney, and DeLong's paired variance --------------------------------------


def _placements(scores: np.ndarray, against: np.ndarray, against_weights: np.ndarray) -> np.ndarray:
    """For each score, the weighted share of `against` below it, ties counting half."""
    order = np.argsort(against, kind="stable")
    sorted_against = against[order]
    cumulative = np.concatenate([[0.0], np.cumsum(against_weights[order])])
    below = cumulative[np.searchsorted(sorted_against, scores, side="left")]
    up_to = cumulative[np.searchsorted(sorted_against, scores, side="right")]
    return (below + up_to) / 2 / cumulative[-1]


def auc_placements(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The weighted Mann-Whitney AUC and DeLong's placement values (of the positives among the
    negatives, of the negatives among the positives); None without both classes."""
    positive = labels > THRESHOLD
    w1, w0 = weights[positive], weights[~positive]
    if weighted_sum(w1) == 0.0 or weighted_sum(w0) == 0.0:
        return None
    x, y = scores[positive], scores[~positive]
    v10 = _placements(x, y, w0)  # P(negative below positive i)
    v01 = 1.0 - _placements(y, x, w1)  # P(positive above negative j)
    return weighted_sum(w1 * v10) / weighted_sum(w1), v10, v01


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    found = auc_placements(labels, scores, weights)
    return math.nan if found is None else found[0]


def paired_auc_change(labels: np.ndarray, candidate: np.ndarray, baseline: np.ndarray, weights: np.ndarray) -> Change:
    """Candidate minus baseline AUC on the same examples, with DeLong's standard error."""
    found_c = auc_placements(labels, candidate, weights)
    found_b = auc_placements(labels, baseline, weights)
    if found_c is None or found_b is None:
        return Change(math.nan, math.nan, 0)
    (auc_c, v10_c, v01_c), (auc_b, v10_b, v01_b) = found_c, found_b
    positive = labels > THRESHOLD
    w1, w0 = weights[positive], weights[~positive]
    change = auc_c - auc_b
    # The AUC is the weighted mean of the positives' placements and, equally, 1 minus the negatives':
    # DeLong's variance is the sum of the two weighted means' variances.
    variance = weighted_mean_variance(v10_c - v10_b, w1, change) + weighted_mean_variance(v01_c - v01_b, w0, change)
    # The smaller class bounds the information: its count less one, as a t-test of its placements would.
    degrees = int(min(np.count_nonzero(w1), np.count_nonzero(w0))) - 1
    return Change(change, math.sqrt(variance) if variance >= 0 else math.nan, max(degrees, 0))


def value(metric: str, labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray) -> float:
    """One model's metric on the rows."""
    if metric == "AUC":
        return auc(labels, predictions, weights)
    return ratio_value_and_influence(metric, labels, predictions, weights)[0]


def paired_change(
    metric: str, labels: np.ndarray, candidate: np.ndarray, baseline: np.ndarray, weights: np.ndarray
) -> Change:
    """The change of any supported metric, with its analytic standard error."""
    if metric == "AUC":
        return paired_auc_change(labels, candidate, baseline, weights)
    return paired_ratio_change(metric, labels, candidate, baseline, weights)


# --- plots --------------------------------------------------------------------------------------


def calibration_buckets(
    labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray, buckets: int
) -> list[tuple[float, float, float, float, float]]:
    """Equal-width buckets of the predicted probability on [0, 1]: (low, high, weight, sum w*p, sum w*y)."""
    index = np.clip((predictions * buckets).astype(int), 0, buckets - 1)
    result = []
    for bucket in range(buckets):
        inside = index == bucket
        w = weights[inside]
        result.append(
            (
                bucket / buckets,
                (bucket + 1) / buckets,
                weighted_sum(w),
                weighted_sum(w * predictions[inside]),
                weighted_sum(w * labels[inside]),
            )
        )
    return result


def confusion_matrix(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray, classes: int) -> np.ndarray:
    """Weighted counts of (actual class, predicted class = argmax)."""
    matrix = np.zeros((classes, classes))
    predicted = np.argmax(probabilities, axis=1)
    actual = labels.astype(int)
    for a in range(classes):
        for p in range(classes):
            matrix[a, p] = weighted_sum(weights[(actual == a) & (predicted == p)])
    return matrix
