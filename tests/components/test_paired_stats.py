"""The paired change's standard error against known answers: the closed form of a paired mean, DeLong's
formulas computed the textbook way, sklearn's AUC, and the spread of the change over simulated data sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from components.gate import paired_stats


def test_a_paired_mean_loss_has_the_textbook_standard_error():
    rng = np.random.default_rng(1)
    labels = rng.normal(20, 30, 500)
    candidate, baseline = labels + rng.normal(0, 9, 500), labels + rng.normal(1, 10, 500)
    change = paired_stats.paired_change("MeanAbsoluteError", labels, candidate, baseline, np.ones(500))
    differences = np.abs(labels - candidate) - np.abs(labels - baseline)
    assert change.value == pytest.approx(differences.mean(), rel=1e-12)
    assert change.standard_error == pytest.approx(differences.std(ddof=1) / math.sqrt(500), rel=1e-12)
    assert change.degrees_of_freedom == 499


def test_integer_weights_weigh_the_value_as_repeated_rows_would_and_zero_weights_leave_rows_out():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 300).astype(float)
    candidate, baseline = rng.dirichlet(np.ones(4), 300), rng.dirichlet(np.ones(4), 300)
    weights = rng.integers(0, 3, 300).astype(float)
    repeats = weights.astype(int)
    weighted = paired_stats.paired_change("SparseCategoricalCrossentropy", labels, candidate, baseline, weights)
    repeated = paired_stats.paired_change(
        "SparseCategoricalCrossentropy",
        np.repeat(labels, repeats),
        np.repeat(candidate, repeats, axis=0),
        np.repeat(baseline, repeats, axis=0),
        np.ones(repeats.sum()),
    )
    assert weighted.value == pytest.approx(repeated.value, rel=1e-12)
    kept = weights > 0
    dropped = paired_stats.paired_change(
        "SparseCategoricalCrossentropy", labels[kept], candidate[kept], baseline[kept], weights[kept]
    )
    assert (weighted.value, weighted.standard_error) == pytest.approx((dropped.value, dropped.standard_error))


def reference_delong(labels, candidate, baseline):
    """DeLong, DeLong and Clarke-Pearson (1988), as written: the kernel matrix of each model, the
    placement values, their covariance matrices S10 and S01, and the variance of the difference."""
    positive = labels == 1

    def kernel(scores):
        x, y = scores[positive][:, None], scores[~positive][None, :]
        return (x > y) + 0.5 * (x == y)

    psi = [kernel(candidate), kernel(baseline)]
    aucs = np.array([p.mean() for p in psi])
    v10 = np.array([p.mean(axis=1) for p in psi])
    v01 = np.array([p.mean(axis=0) for p in psi])
    s = np.cov(v10) / positive.sum() + np.cov(v01) / (~positive).sum()
    contrast = np.array([1.0, -1.0])
    return aucs, math.sqrt(contrast @ s @ contrast)


def test_delong_matches_the_textbook_formulas_and_sklearn_with_ties():
    rng = np.random.default_rng(3)
    labels = (rng.random(400) < 0.2).astype(float)
    candidate = np.round(labels * 0.6 + rng.random(400), 1)  # rounded: many ties, within and across classes
    baseline = np.round(labels * 0.3 + rng.random(400), 1)
    (auc_c, auc_b), standard_error = reference_delong(labels, candidate, baseline)
    change = paired_stats.paired_change("AUC", labels, candidate, baseline, np.ones(400))
    assert change.value == pytest.approx(auc_c - auc_b, abs=1e-12)
    assert change.standard_error == pytest.approx(standard_error, rel=1e-9)
    assert paired_stats.value("AUC", labels, candidate, np.ones(400)) == pytest.approx(
        roc_auc_score(labels, candidate), abs=1e-12
    )
    weights = rng.integers(0, 4, 400).astype(float)
    assert paired_stats.auc(labels, candidate, weights) == pytest.approx(
        roc_auc_score(labels, candidate, sample_weight=weights), abs=1e-12
    )


@pytest.mark.parametrize("metric", ["AUC", "MeanAbsoluteError", "BinaryCrossentropy", "RootMeanSquaredError"])
def test_the_standard_error_is_the_spread_of_the_change_over_new_data_sets(metric):
    """Two fixed models scored on 400 fresh data sets from one distribution: the standard deviation of
    the change across them is what the standard error estimates from any one of them."""
    rng = np.random.default_rng(4)
    changes, errors = [], []
    for _ in range(400):
        signal = rng.normal(0, 1, 600)
        labels = (signal + rng.normal(0, 1.5, 600) > 1.2).astype(float)
        if metric in ("MeanAbsoluteError", "RootMeanSquaredError"):
            labels = signal * 10 + rng.normal(0, 5, 600)
        candidate = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.8, 600))))
        baseline = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.2, 600))))
        if metric in ("MeanAbsoluteError", "RootMeanSquaredError"):
            candidate, baseline = signal * 10 + rng.normal(0, 4, 600), signal * 9 + rng.normal(0, 6, 600)
        change = paired_stats.paired_change(metric, labels, candidate, baseline, np.ones(600))
        changes.append(change.value)
        errors.append(change.standard_error)
    spread, estimated = float(np.std(changes, ddof=1)), float(np.mean(errors))
    # 400 replicates: the spread itself is known to about 1/sqrt(2 * 399) = 3.5%; allow three of those.
    assert estimated == pytest.approx(spread, rel=0.11)


def test_canonical_order_makes_any_shuffle_give_the_same_bits():
    rng = np.random.default_rng(5)
    rows = np.column_stack([np.ones(1000), (rng.random(1000) < 0.3).astype(float), rng.random(1000), rng.random(1000)])
    results = set()
    for _ in range(5):
        shuffled = paired_stats.canonical(rows[rng.permutation(len(rows))])
        change = paired_stats.paired_change("AUC", shuffled[:, 1], shuffled[:, 2], shuffled[:, 3], shuffled[:, 0])
        mean = paired_stats.paired_change(
            "BinaryCrossentropy", shuffled[:, 1], shuffled[:, 2], shuffled[:, 3], shuffled[:, 0]
        )
        results.add((change.value, change.standard_error, mean.value, mean.standard_error))
    assert len(results) == 1


def test_one_class_only_has_no_auc_and_no_interval():
    labels = np.zeros(50)
    scores = np.linspace(0, 1, 50)
    assert math.isnan(paired_stats.auc(labels, scores, np.ones(50)))
    change = paired_stats.paired_change("AUC", labels, scores, scores[::-1], np.ones(50))
    assert math.isnan(change.value) and math.isnan(change.standard_error)


def test_calibration_buckets_hold_every_weight_once_and_the_confusion_matrix_every_example():
    rng = np.random.default_rng(6)
    predictions = np.append(rng.random(200), [0.0, 1.0])  # both edges land inside the range
    labels = (rng.random(202) < predictions).astype(float)
    weights = rng.integers(0, 3, 202).astype(float)
    buckets = paired_stats.calibration_buckets(labels, predictions, weights, 20)
    assert len(buckets) == 20
    assert sum(b[2] for b in buckets) == pytest.approx(weights.sum())
    assert sum(b[4] for b in buckets) == pytest.approx((weights * labels).sum())
    classes = rng.integers(0, 3, 202).astype(float)
    matrix = paired_stats.confusion_matrix(classes, rng.dirichlet(np.ones(3), 202), weights, 3)
    assert matrix.sum() == pytest.approx(weights.sum())
    assert matrix[1].sum() == pytest.approx(weights[classes == 1].sum())


def scenario(metric: str, rng: np.random.Generator, n: int):
    """Labels and two models' predictions for `metric`: a binary label and probabilities, or a number."""
    signal = rng.normal(0, 1, n)
    if metric in ("MeanAbsoluteError", "RootMeanSquaredError"):
        labels = signal * 10 + rng.normal(0, 5, n)
        return labels, signal * 10 + rng.normal(0, 4, n), signal * 9 + rng.normal(0, 6, n)
    labels = (signal + rng.normal(0, 1.5, n) > 1.2).astype(float)
    candidate = 1 / (1 + np.exp(-(signal + rng.normal(0, 0.8, n))))
    baseline = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.2, n))))
    return labels, candidate, baseline


@pytest.mark.parametrize("metric", sorted(paired_stats.SUPPORTED - {"MeanLabel"}))
def test_every_metric_reads_weights_as_sampling_weights(metric):
    """One meaning for every metric: scaling all weights by a constant moves no value and no standard
    error (as frequency counts, uniform weight 2 would shrink the error by sqrt 2), and a row of weight 3
    is not three rows."""
    rng = np.random.default_rng(5)
    labels, candidate, baseline = scenario(metric, rng, 500)
    if metric.startswith("SparseCategorical"):
        labels = rng.integers(0, 3, 500).astype(float)
        candidate, baseline = rng.dirichlet(np.ones(3), 500), rng.dirichlet(np.ones(3), 500)
    weights = rng.uniform(0.2, 3.0, 500)
    once = paired_stats.paired_change(metric, labels, candidate, baseline, weights)
    assert math.isfinite(once.standard_error) and once.standard_error > 0
    for factor in (2.0, 0.01):
        scaled = paired_stats.paired_change(metric, labels, candidate, baseline, weights * factor)
        assert scaled.value == pytest.approx(once.value, rel=1e-9, abs=1e-15)
        assert scaled.standard_error == pytest.approx(once.standard_error, rel=1e-9)
    assert once.degrees_of_freedom == (499 if metric != "AUC" else min(int(labels.sum()), int((1 - labels).sum())) - 1)
    unit = paired_stats.paired_change(metric, labels, candidate, baseline, np.ones(500))
    repeats = np.full(500, 3)
    tripled = paired_stats.paired_change(
        metric,
        np.repeat(labels, repeats),
        np.repeat(candidate, repeats, axis=0),
        np.repeat(baseline, repeats, axis=0),
        np.ones(1500),
    )
    assert tripled.standard_error < unit.standard_error / 1.5  # three times the rows: about 1/sqrt(3)
    assert paired_stats.paired_change(
        metric, labels, candidate, baseline, np.full(500, 3.0)
    ).standard_error == pytest.approx(unit.standard_error, rel=1e-9)


@pytest.mark.parametrize("metric", ["AUC", "MeanAbsoluteError", "BinaryCrossentropy", "RootMeanSquaredError"])
def test_with_unequal_weights_the_standard_error_is_still_the_spread_over_new_data_sets(metric):
    """As above, over 400 fresh data sets, each row with a random weight between 0.2 and 3 (an
    importance weight): the weighted change's spread is what its standard error estimates."""
    rng = np.random.default_rng(6)
    changes, errors = [], []
    for _ in range(400):
        labels, candidate, baseline = scenario(metric, rng, 600)
        weights = rng.uniform(0.2, 3.0, 600)
        change = paired_stats.paired_change(metric, labels, candidate, baseline, weights)
        changes.append(change.value)
        errors.append(change.standard_error)
    spread, estimated = float(np.std(changes, ddof=1)), float(np.mean(errors))
    assert estimated == pytest.approx(spread, rel=0.11)  # as above: three times the spread's own 3.5%
