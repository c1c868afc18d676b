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
"""

from __future__ import annotations

from collections.abc import Iterable

from tensorflow_model_analysis.metrics import mean_regression_error, metric_types, metric_util


class _MergeEachOnce:
    """Mixed into TFMA's combiners: visits each accumulator once, list or iterator."""

    def merge_accumulators(self, accumulators: Iterable):
        iterator = iter(accumulators)
        result = next(iterator)
        for accumulator in iterator:
            result.merge(accumulator)
        return result


class _MeanAbsoluteErrorCombiner(_MergeEachOnce, mean_regression_error._MeanAbsoluteErrorCombiner):
    pass


class _MeanSquaredErrorCombiner(_MergeEachOnce, mean_regression_error._MeanSquaredErrorCombiner):
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
