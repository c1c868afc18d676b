"""One TFMA metric per head: every metric the head lists, for each model, and the gate metric's paired
change with its analytic standard error, from one pass over the examples, in state of bounded size.

Why not TFMA's own metrics with its jackknife: the jackknife recomputed every
metric for 20 delete-one samples of every slice (most of the Evaluator's
minutes), TFMA's AUC is a 10,000-threshold approximation, and each of TFMA's
combiners extracts its inputs again for every slice (about 20 microseconds per
example, slice, metric and model). Here a `Preprocessor` reads each example's
label, weight and both models' predictions once, before the fan-out to slices;
each slice's combiner folds those rows, a block at a time, into exact sums
(head_sums.py), so a slice's state does not grow with its rows and the result
is the same bit for bit however Beam split and merged them.

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

from components.gate import frozen_heap, paired_stats
from components.gate.head_sums import BLOCK_ROWS, HeadSums, RowsReader, SumsLayout, SumsReader, reader
from components.gate.metrics import change_key
from trainer.specs import METRIC_KEYS, PLOTS

EXAMPLE_COUNT = "example_count"
WEIGHTED_EXAMPLE_COUNT = "weighted_example_count"
NAME = "head_metrics"

# The config's metric classes this metric computes; any other stays TFMA's own (eval_config.py).
COMPUTED = paired_stats.SUPPORTED | PLOTS


def computes(class_name: str) -> bool:
    return class_name in COMPUTED


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
    """In a Beam worker (`setup` called), the first row holds the frozen heap (frozen_heap.py) until
    `teardown`; called directly (tests, notebooks), it changes nothing in the process."""

    def __init__(self, head: _HeadPlan):
        self._head = head
        self._freeze_on_first_row = False
        self._holds_heap = False

    def setup(self) -> None:
        self._freeze_on_first_row = True
        self._holds_heap = False

    def teardown(self) -> None:
        if self._holds_heap:
            frozen_heap.release()
            self._holds_heap = False

    def create_accumulator(self) -> HeadSums:
        return HeadSums()

    def add_input(self, accumulator: HeadSums, element: tuple[float, ...]) -> HeadSums:
        if self._freeze_on_first_row:  # the models are loaded: rows come from their predictions
            self._freeze_on_first_row = False
            self._holds_heap = True
            frozen_heap.hold()
        accumulator.count += 1
        if element[0] != 0.0:  # a weight of 0: the head's label is missing
            accumulator.pending.append(element)
            if accumulator.held() >= BLOCK_ROWS:
                self._head.layout.fold(accumulator)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[HeadSums]) -> HeadSums:
        iterator = iter(accumulators)  # each accumulator once, whether Beam passes a list or an iterator
        result = next(iterator)
        for accumulator in iterator:
            result.merge(accumulator)
            if result.held() >= BLOCK_ROWS:
                self._head.layout.fold(result)
        return result

    def compact(self, accumulator: HeadSums) -> HeadSums:
        accumulator.compact()  # to arrays, not folded: a small slice keeps its rows
        return accumulator

    def extract_output(self, accumulator: HeadSums) -> metric_types.MetricsDict:
        return self._head.evaluate(accumulator.count, reader(self._head.layout, accumulator, BLOCK_ROWS))


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
        baseline = self.model_names.index(baseline_name) if baseline_name in self.model_names else None
        self.candidates = [i for i in range(len(self.model_names)) if i != baseline]
        pairs = [(c, baseline) for c in self.candidates] if baseline is not None else []
        self.layout = SumsLayout(
            kind, self.metrics, self.gate_metric, classes, len(self.model_names), pairs if self.gate_metric else []
        )

    def key(self, name: str, model_name: str, **kwargs) -> metric_types.MetricKey:
        return metric_types.MetricKey(
            name=name, model_name=model_name, output_name=self.output_name, example_weighted=True, **kwargs
        )

    def evaluate(self, count: int, slice_metrics: RowsReader | SumsReader) -> metric_types.MetricsDict:
        result: dict = {}
        for index, model_name in enumerate(self.model_names):
            result[metric_types.MetricKey(EXAMPLE_COUNT, model_name=model_name, output_name=self.output_name)] = float(
                count
            )
            result[self.key(WEIGHTED_EXAMPLE_COUNT, model_name)] = slice_metrics.weight()
            for metric in self.metrics:
                name = METRIC_KEYS[self.kind][metric]
                if metric == "CalibrationPlot":
                    result[self.plot_key(name, model_name)] = self.calibration(slice_metrics.calibration(index))
                elif metric == "MultiClassConfusionMatrixPlot":
                    result[self.plot_key(name, model_name)] = self.confusion(slice_metrics.confusion(index))
                else:
                    result[self.key(name, model_name)] = slice_metrics.value(metric, index)
        if slice_metrics.rows():
            gate_key = METRIC_KEYS[self.kind][self.gate_metric] if self.gate_metric else ""
            for pair, (candidate, _) in enumerate(self.layout.pairs):
                change = slice_metrics.change(pair)
                result[self.key(change_key(gate_key), self.model_names[candidate])] = types.ValueWithTDistribution(
                    sample_mean=change.value,
                    sample_standard_deviation=change.standard_error,
                    sample_degrees_of_freedom=change.degrees_of_freedom,
                    unsampled_value=change.value,
                )
        return result

    def plot_key(self, name: str, model_name: str) -> metric_types.PlotKey:
        return metric_types.PlotKey(name=name, model_name=model_name, output_name=self.output_name)

    @staticmethod
    def calibration(buckets) -> metrics_for_slice_pb2.CalibrationHistogramBuckets:
        plot = metrics_for_slice_pb2.CalibrationHistogramBuckets()
        for low, high, weight, predicted, actual in buckets:
            bucket = plot.buckets.add()
            bucket.lower_threshold_inclusive = low
            bucket.upper_threshold_exclusive = high
            bucket.num_weighted_examples.value = weight
            bucket.total_weighted_refined_prediction.value = predicted
            bucket.total_weighted_label.value = actual
        return plot

    def confusion(self, counts: np.ndarray) -> metrics_for_slice_pb2.MultiClassConfusionMatrixAtThresholds:
        plot = metrics_for_slice_pb2.MultiClassConfusionMatrixAtThresholds()
        matrix = plot.matrices.add(threshold=0.0)  # predicted class: the most probable one
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
