"""The exact mean-error metrics: the same key and value as TFMA's, a merge that
counts each part once, and sums that do not depend on the order of the parts."""

from __future__ import annotations

import functools
import math
import operator
import random

import numpy as np
import pytest
from tensorflow_model_analysis.metrics import mean_regression_error, metric_types

from components.gate.exact_metrics import ExactMeanAbsoluteError, ExactMeanSquaredError, ExactSum


def combiner_of(metric):
    (computation,) = metric().computations(example_weighted=True)
    return computation


def parts(combiner, *pairs):
    accumulators = []
    for error, weight in pairs:
        accumulator = combiner.create_accumulator()
        accumulator.errors.add(error)
        accumulator.weights.add(weight)
        accumulators.append(accumulator)
    return accumulators


@pytest.mark.parametrize("metric", [ExactMeanAbsoluteError, ExactMeanSquaredError])
def test_merging_a_list_counts_every_accumulator_once(metric):
    computation = combiner_of(metric)
    merged = computation.combiner.merge_accumulators(parts(computation.combiner, (10.0, 2.0), (30.0, 2.0)))
    (value,) = computation.combiner.extract_output(merged).values()
    assert value == 40.0 / 4.0
    (key,) = computation.keys
    assert key.name == metric().name in ("mean_absolute_error", "mean_squared_error")


def test_tfmas_own_combiner_double_counts_the_first_of_a_list():
    """Why the replacement exists; when TFMA fixes it this fails, and the replacement can go."""
    (computation,) = mean_regression_error.MeanAbsoluteError().computations(example_weighted=True)
    accumulators = []
    for error, weight in ((10.0, 2.0), (30.0, 2.0)):
        accumulator = mean_regression_error._MeanRegressionErrorAccumulator()
        accumulator.total_regression_error, accumulator.total_example_weights = error, weight
        accumulators.append(accumulator)
    merged = computation.combiner.merge_accumulators(accumulators)
    (value,) = computation.combiner.extract_output(merged).values()
    assert value == pytest.approx(50.0 / 6.0)


def test_an_exact_sum_is_the_same_in_any_order_where_a_float_sum_is_not():
    rng = random.Random(7)
    values = [rng.uniform(0, 200) * 10 ** rng.randint(-6, 6) for _ in range(2000)]
    exact, naive = set(), set()
    for _ in range(20):
        rng.shuffle(values)
        total = ExactSum()
        for value in values:
            total.add(value)
        exact.add(total.value())
        naive.add(functools.reduce(operator.add, values))  # sum() compensates since 3.12
    assert exact == {math.fsum(values)}
    assert len(naive) > 1  # so the check above could fail


def test_an_exact_sum_merged_from_parts_equals_the_whole():
    rng = random.Random(3)
    values = [rng.gauss(30, 40) for _ in range(3000)]
    pieces = [ExactSum() for _ in range(7)]
    for value in values:
        rng.choice(pieces).add(value)
    merged = pieces[0]
    for piece in pieces[1:]:
        merged.merge(piece)
    assert merged.value() == math.fsum(values)


@pytest.mark.parametrize(("metric", "error"), [(ExactMeanAbsoluteError, np.abs), (ExactMeanSquaredError, np.square)])
def test_examples_give_tfmas_weighted_mean_error(metric, error):
    rng = np.random.default_rng(0)
    labels, predictions = rng.normal(20, 30, 50), rng.normal(20, 30, 50)
    weights = rng.integers(0, 2, 50).astype(float)  # a head's missing labels weigh 0
    computation = combiner_of(metric)
    combiner = computation.combiner
    accumulator = combiner.create_accumulator()
    for label, prediction, weight in zip(labels, predictions, weights, strict=True):
        inputs = metric_types.StandardMetricInputs(
            labels=np.array([label]), predictions=np.array([prediction]), example_weights=np.array([weight])
        )
        accumulator = combiner.add_input(accumulator, inputs)
    (value,) = combiner.extract_output(accumulator).values()
    expected = math.fsum(error(labels - predictions) * weights) / weights.sum()
    assert value == pytest.approx(expected, rel=1e-12)
