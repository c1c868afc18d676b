"""The Evaluator's bounded per-slice state against the exact computation on every row (paired_stats):
ratio metrics and their paired standard errors to float rounding, AUC within its stated quantization
bound, DeLong's standard error within a fraction of a percent, an identical baseline to exactly zero,
and a state whose size has a ceiling that does not depend on the rows."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from components.gate import auc_bins, paired_stats
from components.gate.head_sums import BLOCK_ROWS, HeadSums, RowsReader, SumsLayout, SumsReader, reader


def binary(rng: np.random.Generator, n: int, positive_rate: float = 0.2):
    """A binary label and two correlated models' probabilities (as two seeds of one model would be)."""
    labels = (rng.random(n) < positive_rate).astype(float)
    shared = rng.standard_normal(n)
    logit = math.log(positive_rate / (1 - positive_rate))

    def model(strength: float, noise: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(logit + strength * labels + 0.8 * shared + noise * rng.standard_normal(n))))

    return labels, model(0.9, 0.5), model(0.85, 0.55)


def folded(layout: SumsLayout, rows: np.ndarray) -> SumsReader:
    accumulator = HeadSums()
    for start in range(0, len(rows), BLOCK_ROWS):
        accumulator.pending = [tuple(row) for row in rows[start : start + BLOCK_ROWS].tolist()]
        layout.fold(accumulator)
    found = reader(layout, accumulator)
    assert isinstance(found, SumsReader)
    return found


def stacked(weights, labels, *predictions) -> np.ndarray:
    n = len(labels)
    return np.column_stack([weights, labels, *(p.reshape(n, -1) for p in predictions)])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("positive_rate", [0.2, 0.02])
def test_auc_is_within_its_stated_bound_and_delongs_error_within_half_a_percent(seed, positive_rate):
    rng = np.random.default_rng(seed)
    n = 30_000
    labels, candidate, baseline = binary(rng, n, positive_rate)
    weights = np.ones(n)
    layout = SumsLayout("binary", ["AUC"], "AUC", 0, 2, [(0, 1)])
    found = folded(layout, stacked(weights, labels, candidate, baseline))
    for model, scores in enumerate((candidate, baseline)):
        exact = paired_stats.auc(labels, scores, weights)
        bound = auc_bins.quantization_bound(
            layout.fine_counts(found._sums, model, True), layout.fine_counts(found._sums, model, False)
        )
        assert abs(found.value("AUC", model) - exact) <= bound < 1e-4
    exact_change = paired_stats.paired_auc_change(labels, candidate, baseline, weights)
    change = found.change(0)
    assert change.standard_error == pytest.approx(exact_change.standard_error, rel=0.005)
    assert change.degrees_of_freedom == exact_change.degrees_of_freedom


def test_the_binned_auc_has_known_answers():
    layout = SumsLayout("binary", ["AUC"], None, 0, 1, [])
    labels = np.array([0.0, 0.0, 1.0, 1.0] * 2000)
    separated = folded(layout, stacked(np.ones(8000), labels, np.array([0.1, 0.2, 0.8, 0.9] * 2000)))
    assert separated.value("AUC", 0) == 1.0
    tied = folded(layout, stacked(np.ones(8000), labels, np.full(8000, 0.3)))
    assert tied.value("AUC", 0) == 0.5
    reversed_scores = folded(layout, stacked(np.ones(8000), labels, np.array([0.9, 0.8, 0.2, 0.1] * 2000)))
    assert reversed_scores.value("AUC", 0) == 0.0
    positives_only = folded(layout, stacked(np.ones(8000), np.ones(8000), np.full(8000, 0.3)))
    assert math.isnan(positives_only.value("AUC", 0))


@pytest.mark.parametrize("gate", ["AUC", "BinaryCrossentropy"])
def test_a_candidate_identical_to_its_baseline_changes_by_exactly_zero_with_zero_error(gate):
    labels, candidate, _ = binary(np.random.default_rng(4), 20_000)
    layout = SumsLayout("binary", ["AUC", "BinaryCrossentropy"], gate, 0, 2, [(0, 1)])
    change = folded(layout, stacked(np.ones(20_000), labels, candidate, candidate)).change(0)
    assert (change.value, change.standard_error) == (0.0, 0.0)


RATIO_CASES = {
    "MeanAbsoluteError": "regression",
    "RootMeanSquaredError": "regression",
    "BinaryCrossentropy": "binary",
    "Precision": "binary",
    "SparseCategoricalCrossentropy": "multiclass",
    "SparseCategoricalAccuracy": "multiclass",
}


@pytest.mark.parametrize("metric", sorted(RATIO_CASES))
def test_ratio_metrics_and_their_paired_errors_match_the_exact_rows_with_unequal_weights(metric):
    rng = np.random.default_rng(5)
    n, kind = 25_000, RATIO_CASES[metric]
    weights = rng.uniform(0.2, 3.0, n) * (rng.random(n) > 0.1)
    if kind == "regression":
        labels = rng.normal(20, 30, n)
        candidate, baseline = labels + rng.normal(0, 9, n), labels + rng.normal(1, 10, n)
    elif kind == "binary":
        labels, candidate, baseline = binary(rng, n)
    else:
        labels = rng.integers(0, 3, n).astype(float)
        candidate, baseline = rng.dirichlet(np.ones(3), n), rng.dirichlet(np.ones(3), n)
    classes = 3 if kind == "multiclass" else 0
    layout = SumsLayout(kind, [metric], metric, classes, 2, [(0, 1)])
    keep = weights != 0
    found = folded(layout, stacked(weights, labels, candidate, baseline)[keep])
    for model, predictions in enumerate((candidate, baseline)):
        assert found.value(metric, model) == pytest.approx(
            paired_stats.value(metric, labels, predictions, weights), rel=1e-13
        )
    exact = paired_stats.paired_change(metric, labels, candidate, baseline, weights)
    change = found.change(0)
    assert change.value == pytest.approx(exact.value, rel=1e-12, abs=1e-15)
    assert change.standard_error == pytest.approx(exact.standard_error, rel=1e-9)
    assert change.degrees_of_freedom == exact.degrees_of_freedom
    assert found.weight() == pytest.approx(weights.sum(), rel=1e-15)


def test_calibration_and_confusion_counts_match_the_exact_rows():
    rng = np.random.default_rng(6)
    n = 9_000
    labels, candidate, baseline = binary(rng, n)
    layout = SumsLayout("binary", ["CalibrationPlot"], None, 0, 2, [])
    rows = stacked(np.ones(n), labels, candidate, baseline)
    assert folded(layout, rows).calibration(1) == RowsReader(layout, rows).calibration(1)
    classes = rng.integers(0, 3, n).astype(float)
    probabilities = rng.dirichlet(np.ones(3), n)
    layout = SumsLayout("multiclass", ["MultiClassConfusionMatrixPlot"], None, 3, 1, [])
    rows = stacked(np.ones(n), classes, probabilities)
    np.testing.assert_array_equal(
        folded(layout, rows).confusion(0), paired_stats.confusion_matrix(classes, probabilities, np.ones(n), 3)
    )


def test_a_slice_under_one_block_is_computed_from_its_rows_exactly():
    labels, candidate, baseline = binary(np.random.default_rng(7), 500)
    layout = SumsLayout("binary", ["AUC"], "AUC", 0, 2, [(0, 1)])
    accumulator = HeadSums()
    accumulator.pending = [tuple(row) for row in stacked(np.ones(500), labels, candidate, baseline).tolist()]
    found = reader(layout, accumulator)
    assert isinstance(found, RowsReader)
    assert found.change(0) == paired_stats.paired_auc_change(labels, candidate, baseline, np.ones(500))


def test_the_state_has_a_ceiling_that_does_not_depend_on_the_rows():
    """Every key a binary head with an AUC gate can use: fine bins per model and class, the joint coarse
    cells' moments per class, and a fixed number of others; a block of rows at most is held as rows."""
    layout = SumsLayout("binary", ["AUC", "BinaryCrossentropy", "CalibrationPlot"], "AUC", 0, 2, [(0, 1)])
    ceiling = 2 * 2 * auc_bins.FINE_BINS + 2 * auc_bins.COARSE_BINS**2 * auc_bins.CELL_MOMENTS + 500
    rng = np.random.default_rng(8)
    accumulator = HeadSums()
    sizes = []
    for _ in range(8):  # 8 x 50,000 rows, each batch from the same population
        labels, candidate, baseline = binary(rng, 50_000)
        for start in range(0, 50_000, BLOCK_ROWS):
            accumulator.pending = [
                tuple(row)
                for row in stacked(np.ones(50_000), labels, candidate, baseline)[start : start + BLOCK_ROWS].tolist()
            ]
            layout.fold(accumulator)
        sizes.append(len(pickle.dumps(accumulator)))
        assert len(accumulator.sums) <= ceiling
    # the state grows ever more slowly as bins fill: the last 200,000 rows added less than the first 50,000
    assert sizes[-1] - sizes[3] < sizes[0]
    assert sizes[-1] < 400_000 * 4 * 8 / 4  # a quarter of the rows it summarizes, as float64
