"""TFMA's mean-error metrics with a combiner merge that counts every accumulator once.

TFMA 0.52's MeanAbsoluteError and MeanSquaredError merge accumulators with
`result = next(iter(accumulators)); for a in accumulators: result.merge(a)`.
When Beam hands the merge a list (it may, depending on bundling), the loop
starts again at the first accumulator and counts it twice; with an iterator
it does not. So the same model on the same examples got a different MAE from
run to run (26.84, 26.82, 27.12 on the flights data) and the change gate
compared numbers that were not reproducible. These classes compute exactly the
same metric (same key: `mean_absolute_error`, `mean_squared_error`) with a
merge that visits each accumulator once; the EvalConfig names them by module.

Their sums are also exact (Shewchuk's partials, as in `math.fsum`), so the
result does not depend on the order in which Beam adds and merges: the same
per-example errors give the same metric, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from tensorflow_model_analysis.metrics import mean_regression_error, metric_types, metric_util


class ExactSum:
    """A float sum kept exactly as non-overlapping partials, so any order gives the same value."""

    __slots__ = ("partials",)

    def __init__(self) -> None:
        self.partials: list[float] = []

    def add(self, value: float) -> None:
        """Shewchuk's two-sum step (the algorithm behind `math.fsum`)."""
        kept = 0
        for partial in self.partials:
            if abs(value) < abs(partial):
                value, partial = partial, value
            high = value + partial
            low = partial - (high - value)
            if low:
                self.partials[kept] = low
                kept += 1
            value = high
        self.partials[kept:] = [value]

    def merge(self, other: ExactSum) -> None:
        for partial in other.partials:
            self.add(partial)

    def value(self) -> float:
        return math.fsum(self.partials)


class _ExactAccumulator:
    """TFMA's mean-error state (weighted error sum, weight sum), summed exactly."""

    __slots__ = ("errors", "weights")

    def __init__(self) -> None:
        self.errors = ExactSum()
        self.weights = ExactSum()

    def merge(self, other: _ExactAccumulator) -> None:
        self.errors.merge(other.errors)
        self.weights.merge(other.weights)


class _ExactSumsCombining:
    """Mixed into TFMA's combiners: the same per-example error and weight, exact sums,
    and a merge that visits each accumulator once, list or iterator."""

    def create_accumulator(self) -> _ExactAccumulator:
        return _ExactAccumulator()

    def add_input(self, accumulator: _ExactAccumulator, element) -> _ExactAccumulator:
        key = self._metric_key
        for label, prediction, example_weight in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=key.model_name,
            output_name=key.output_name,
            aggregation_type=self._aggregation_type,
            class_weights=self._class_weights,
            example_weighted=self._example_weighted,
            sub_key=key.sub_key,
        ):
            error = self._regression_error(label, prediction)
            if not np.isnan(error):
                weight = metric_util.safe_to_scalar(example_weight)
                accumulator.errors.add(error * weight)
                accumulator.weights.add(weight)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_ExactAccumulator]) -> _ExactAccumulator:
        iterator = iter(accumulators)
        result = next(iterator)
        for accumulator in iterator:
            result.merge(accumulator)
        return result

    def extract_output(self, accumulator: _ExactAccumulator) -> metric_types.MetricsDict:
        weights = accumulator.weights.value()
        return {self._metric_key: accumulator.errors.value() / weights if weights != 0.0 else float("nan")}


class _MeanAbsoluteErrorCombiner(_ExactSumsCombining, mean_regression_error._MeanAbsoluteErrorCombiner):
    pass


class _MeanSquaredErrorCombiner(_ExactSumsCombining, mean_regression_error._MeanSquaredErrorCombiner):
    pass


def _exact(computations_fn, combiner_class):
    """TFMA's computations with the combiner swapped for the exact one (same state, same output)."""

    # TFMA passes only the arguments it finds in this signature (getfullargspec),
    # so it repeats the wrapped function's parameters.
    def computations(
        name=None,
        eval_config=None,
        model_name=None,
        output_name=None,
        example_weighted=False,
        sub_key=None,
        aggregation_type=None,
        class_weights=None,
        preprocessors=None,
    ):
        result = computations_fn(
            name,
            eval_config,
            model_name,
            output_name,
            example_weighted,
            sub_key,
            aggregation_type,
            class_weights,
            preprocessors,
        )
        for computation in result:
            if isinstance(computation.combiner, mean_regression_error._MeanRegressionErrorCombiner):
                computation.combiner.__class__ = combiner_class
        return result

    return computations


_mae_computations = _exact(mean_regression_error._mean_absolute_error_computations, _MeanAbsoluteErrorCombiner)
_mse_computations = _exact(mean_regression_error._mean_squared_error_computations, _MeanSquaredErrorCombiner)


class ExactMeanAbsoluteError(metric_types.Metric):
    """TFMA's MeanAbsoluteError (key `mean_absolute_error`), merged exactly."""

    def __init__(self, name: str = mean_regression_error.MEAN_ABSOLUTE_ERROR_NAME):
        super().__init__(metric_util.merge_per_key_computations(_mae_computations), name=name)


class ExactMeanSquaredError(metric_types.Metric):
    """TFMA's MeanSquaredError (key `mean_squared_error`), merged exactly."""

    def __init__(self, name: str = mean_regression_error.MEAN_SQUARED_ERROR_NAME):
        super().__init__(metric_util.merge_per_key_computations(_mse_computations), name=name)


# The config's metric class -> the class the EvalConfig asks TFMA for.
REPLACEMENTS = {
    "MeanAbsoluteError": ExactMeanAbsoluteError.__name__,
    "MeanSquaredError": ExactMeanSquaredError.__name__,
}
