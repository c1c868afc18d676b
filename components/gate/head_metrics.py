"""One TFMA metric per head: every metric the head lists, for each model, and the gate metric's paired
change with its analytic standard error, from one pass over the examples.

Why not TFMA's own metrics with its jackknife: the jackknife recomputed every
metric for 20 delete-one samples of every slice (most of the Evaluator's
minutes), TFMA's AUC is a 10,000-threshold approximation, and each of TFMA's
combiners extracts its inputs again for every slice (about 20 microseconds per
example, slice, metric and model). Here a `Preprocessor` reads each example's
label, weight and both models' predictions once, before the fan-out to slices;
each slice's combiner only collects those rows; and `extract_output` computes
every value from the slice's rows in canonical order (paired_stats.py), so the
result is the same bit for bit however Beam split and merged the rows.

Output keys are TFMA's (`auc`, `mean_absolute_error`, `example_count`, ...)
under each model's name, so TFMA adds the point differences as usual; the
change with its interval is `change_key(gate key)` under the candidate's name,
a `ValueWithTDistribution` that TFMA's writer stores with its standard error
and degrees of freedom. A first run (no baseline model) has no change. Plots
(calibration, confusion matrix) are TFMA's plot protos, at the precision the
report draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.constants import EXAMPLE_WEIGHTS_KEY, LABELS_KEY, PREDICTIONS_KEY
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tensorflow_model_analysis.utils import model_util

from components.gate import paired_stats
from components.gate.metrics import change_key
from trainer.specs import METRIC_KEYS, PLOTS

EXAMPLE_COUNT = "example_count"
WEIGHTED_EXAMPLE_COUNT = "weighted_example_count"
CALIBRATION_BUCKETS = 20  # the report's calibration scatter: one point per 0.05 of predicted probability
NAME = "head_metrics"

# The config's metric classes this metric computes; any other stays TFMA's own (eval_config.py).
COMPUTED = paired_stats.SUPPORTED | PLOTS


def computes(class_name: str) -> bool:
    return class_name in COMPUTED


class _Rows:
    """A slice's rows (weight, label, each model's prediction), collected as tuples, compacted to arrays."""

    __slots__ = ("arrays", "count", "pending")

    def __init__(self) -> None:
        self.count = 0  # every example of the slice, weighted 0 or not (TFMA's example_count)
        self.pending: list[tuple[float, ...]] = []
        self.arrays: list[np.ndarray] = []

    def compact(self) -> _Rows:
        if self.pending:
            self.arrays.append(np.asarray(self.pending, dtype=np.float64))
            self.pending = []
        return self

    def merge(self, other: _Rows) -> None:
        self.count += other.count
        self.pending.extend(other.pending)
        self.arrays.extend(other.arrays)

    def matrix(self, width: int) -> np.ndarray:
        self.compact()
        stacked = np.concatenate(self.arrays) if self.arrays else np.zeros((0, width))
        return paired_stats.canonical(stacked)


def _by_model_and_output(value, model_name: str, output_name: str):
    """TFMA's extracts hold labels, predictions and weights keyed by model (when there are several) and
    then by output: the array for one model and output, or None where the layout is another."""
    if isinstance(value, Mapping) and model_name in value and isinstance(value[model_name], Mapping):
        value = value[model_name]
    if isinstance(value, Mapping):
        value = value.get(output_name)
    return value if isinstance(value, np.ndarray) else None


class HeadRowsPreprocessor(metric_types.Preprocessor):
    """Once per example, before the slices: (weight, label, each model's prediction...) for one head.

    Label and weight are the first model's (the candidate's `transform_features`; every model reads the
    same raw example). The arrays are read straight from the extracts; any other layout (a label
    vocabulary, predictions under a key) goes through TFMA's own `to_label_prediction_example_weight`,
    which is exact for every layout and costs about 25 microseconds a call (the Evaluator's largest
    cost on flights when used for every example, head and model).
    """

    def __init__(self, eval_config, model_names: Sequence[str], output_name: str, example_weighted: bool):
        super().__init__(name=f"{NAME}_rows_{output_name}")
        self._eval_config = eval_config
        self._example_weighted = example_weighted
        self._model_names = list(model_names)
        self._output_name = output_name

    def process(self, extracts: types.Extracts) -> Iterator[tuple[float, ...]]:
        row = self._direct(extracts)
        yield row if row is not None else self._through_tfma(extracts)

    def _direct(self, extracts: types.Extracts) -> tuple[float, ...] | None:
        first, output = self._model_names[0], self._output_name
        label = _by_model_and_output(extracts.get(LABELS_KEY), first, output)
        weight = _by_model_and_output(extracts.get(EXAMPLE_WEIGHTS_KEY), first, output)
        predictions = [_by_model_and_output(extracts.get(PREDICTIONS_KEY), name, output) for name in self._model_names]
        if label is None or label.size != 1 or any(p is None for p in predictions):
            return None
        if self._example_weighted and (weight is None or weight.size != 1):
            return None
        row = [float(weight.flat[0]) if self._example_weighted else 1.0, float(label.flat[0])]
        for prediction in predictions:
            row.extend(prediction.ravel().astype(np.float64).tolist())
        return tuple(row)

    def _through_tfma(self, extracts: types.Extracts) -> tuple[float, ...]:
        inputs = metric_types.StandardMetricInputs(extracts)
        row: list[float] = []
        for index, model_name in enumerate(self._model_names):
            ((label, prediction, weight),) = metric_util.to_label_prediction_example_weight(
                inputs,
                eval_config=self._eval_config,
                model_name=model_name,
                output_name=self._output_name,
                example_weighted=self._example_weighted,
                flatten=False,
                allow_none=True,
            )
            if index == 0:
                row.append(float(np.ravel(weight)[0]) if weight is not None else 1.0)
                row.append(float(np.ravel(label)[0]) if label is not None else np.nan)
            row.extend(np.ravel(prediction).astype(np.float64).tolist())
        return tuple(row)


class _HeadCombiner(beam.CombineFn):
    def __init__(self, head: _HeadPlan):
        self._head = head

    def create_accumulator(self) -> _Rows:
        return _Rows()

    def add_input(self, accumulator: _Rows, element: tuple[float, ...]) -> _Rows:
        accumulator.count += 1
        if element[0] != 0.0:  # a weight of 0: the head's label is missing
            accumulator.pending.append(element)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_Rows]) -> _Rows:
        iterator = iter(accumulators)  # each accumulator once, whether Beam passes a list or an iterator
        result = next(iterator)
        for accumulator in iterator:
            result.merge(accumulator)
        return result

    def compact(self, accumulator: _Rows) -> _Rows:
        return accumulator.compact()

    def extract_output(self, accumulator: _Rows) -> metric_types.MetricsDict:
        return self._head.evaluate(accumulator.count, accumulator.matrix(self._head.width))


class _HeadPlan:
    """What to compute for one head: its metrics per model, the change of its gate metric, its plots."""

    def __init__(
        self,
        output_name: str,
        kind: str,
        metrics: Sequence[str],
        gate_metric: str | None,
        classes: int,
        model_names: Sequence[str],
        baseline_name: str | None,
    ):
        self.output_name = output_name
        self.kind = kind
        self.metrics = [m for m in metrics if computes(m)]
        self.gate_metric = gate_metric if gate_metric in paired_stats.SUPPORTED else None
        self.classes = classes
        self.model_names = list(model_names)
        self.baseline_name = baseline_name
        self.prediction_width = classes if kind == "multiclass" else 1
        self.width = 2 + self.prediction_width * len(self.model_names)

    def key(self, name: str, model_name: str, **kwargs) -> metric_types.MetricKey:
        return metric_types.MetricKey(
            name=name, model_name=model_name, output_name=self.output_name, example_weighted=True, **kwargs
        )

    def predictions(self, rows: np.ndarray, index: int) -> np.ndarray:
        start = 2 + index * self.prediction_width
        block = rows[:, start : start + self.prediction_width]
        return block if self.kind == "multiclass" else block[:, 0]

    def evaluate(self, count: int, rows: np.ndarray) -> metric_types.MetricsDict:
        weights, labels = rows[:, 0], rows[:, 1]
        result: dict = {}
        for index, model_name in enumerate(self.model_names):
            predictions = self.predictions(rows, index)
            result[metric_types.MetricKey(EXAMPLE_COUNT, model_name=model_name, output_name=self.output_name)] = float(
                count
            )
            result[self.key(WEIGHTED_EXAMPLE_COUNT, model_name)] = paired_stats.weighted_sum(weights)
            for metric in self.metrics:
                name = METRIC_KEYS[self.kind][metric]
                if metric == "CalibrationPlot":
                    result[self.plot_key(name, model_name)] = self.calibration(labels, predictions, weights)
                elif metric == "MultiClassConfusionMatrixPlot":
                    result[self.plot_key(name, model_name)] = self.confusion(labels, predictions, weights)
                else:
                    result[self.key(name, model_name)] = paired_stats.value(metric, labels, predictions, weights)
        candidates = [m for m in self.model_names if m != self.baseline_name]
        if self.gate_metric and self.baseline_name in self.model_names and len(rows):
            baseline = self.predictions(rows, self.model_names.index(self.baseline_name))
            gate_key = METRIC_KEYS[self.kind][self.gate_metric]
            for model_name in candidates:
                candidate = self.predictions(rows, self.model_names.index(model_name))
                change = paired_stats.paired_change(self.gate_metric, labels, candidate, baseline, weights)
                result[self.key(change_key(gate_key), model_name)] = types.ValueWithTDistribution(
                    sample_mean=change.value,
                    sample_standard_deviation=change.standard_error,
                    sample_degrees_of_freedom=change.degrees_of_freedom,
                    unsampled_value=change.value,
                )
        return result

    def plot_key(self, name: str, model_name: str) -> metric_types.PlotKey:
        return metric_types.PlotKey(name=name, model_name=model_name, output_name=self.output_name)

    @staticmethod
    def calibration(labels, predictions, weights) -> metrics_for_slice_pb2.CalibrationHistogramBuckets:
        plot = metrics_for_slice_pb2.CalibrationHistogramBuckets()
        for low, high, weight, predicted, actual in paired_stats.calibration_buckets(
            labels, predictions, weights, CALIBRATION_BUCKETS
        ):
            bucket = plot.buckets.add()
            bucket.lower_threshold_inclusive = low
            bucket.upper_threshold_exclusive = high
            bucket.num_weighted_examples.value = weight
            bucket.total_weighted_refined_prediction.value = predicted
            bucket.total_weighted_label.value = actual
        return plot

    def confusion(self, labels, probabilities, weights) -> metrics_for_slice_pb2.MultiClassConfusionMatrixAtThresholds:
        plot = metrics_for_slice_pb2.MultiClassConfusionMatrixAtThresholds()
        matrix = plot.matrices.add(threshold=0.0)  # predicted class: the most probable one
        counts = paired_stats.confusion_matrix(labels, probabilities, weights, self.classes)
        for actual in range(self.classes):
            for predicted in range(self.classes):
                matrix.entries.add(
                    actual_class_id=actual,
                    predicted_class_id=predicted,
                    num_weighted_examples=counts[actual, predicted],
                )
        return plot


def _computations(
    name: str = NAME,
    eval_config=None,
    model_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    kind: str = "",
    metrics: Sequence[str] = (),
    gate_metric: str | None = None,
    classes: int = 0,
    example_weighted: bool = True,
) -> metric_types.MetricComputations:
    """One computation per output (the head's MetricsSpec names one), over every model."""
    baseline = model_util.get_baseline_model_spec(eval_config) if eval_config else None
    model_names = list(model_names or [""])
    baseline_name = baseline.name if baseline and baseline.name in model_names else None
    computations = []
    for output_name in output_names or [""]:
        head = _HeadPlan(output_name, kind, metrics, gate_metric, classes, model_names, baseline_name)
        keys = [head.key(name, model_name) for model_name in model_names]
        computations.append(
            metric_types.MetricComputation(
                keys=keys,
                preprocessors=[HeadRowsPreprocessor(eval_config, model_names, output_name, example_weighted)],
                combiner=_HeadCombiner(head),
            )
        )
    return computations


class HeadMetrics(metric_types.Metric):
    """The head's metrics (`metrics`: the config's class names) for each model, and the change of
    `gate_metric` against the baseline with its standard error; `classes`: a multiclass head's count."""

    def __init__(
        self,
        name: str = NAME,
        kind: str = "",
        metrics: Sequence[str] = (),
        gate_metric: str | None = None,
        classes: int = 0,
    ):
        super().__init__(
            _computations, name=name, kind=kind, metrics=list(metrics), gate_metric=gate_metric, classes=classes
        )
