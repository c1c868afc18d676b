"""The exact mean-error metrics: the same key as TFMA's, and a merge that counts each part once."""

from __future__ import annotations

import pytest
from tensorflow_model_analysis.metrics import mean_regression_error

from components.gate.exact_metrics import ExactMeanAbsoluteError, ExactMeanSquaredError


def parts(*pairs):
    accumulators = []
    for error, weight in pairs:
        accumulator = mean_regression_error._MeanRegressionErrorAccumulator()
        accumulator.total_regression_error, accumulator.total_example_weights = error, weight
        accumulators.append(accumulator)
    return accumulators


@pytest.mark.parametrize("metric", [ExactMeanAbsoluteError, ExactMeanSquaredError])
def test_merging_a_list_counts_every_accumulator_once(metric):
    (computation,) = metric().computations(example_weighted=True)
    merged = computation.combiner.merge_accumulators(parts((10.0, 2.0), (30.0, 2.0)))
    (value,) = computation.combiner.extract_output(merged).values()
    assert value == pytest.approx(40.0 / 4.0)
    (key,) = computation.keys
    assert key.name == metric().name in ("mean_absolute_error", "mean_squared_error")


def test_tfmas_own_combiner_double_counts_the_first_of_a_list():
    """Why the replacement exists; when TFMA fixes it this fails, and the replacement can go."""
    (computation,) = mean_regression_error.MeanAbsoluteError().computations(example_weighted=True)
    merged = computation.combiner.merge_accumulators(parts((10.0, 2.0), (30.0, 2.0)))
    (value,) = computation.combiner.extract_output(merged).values()
    assert value == pytest.approx(50.0 / 6.0)
