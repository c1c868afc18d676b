"""The Evaluator's executor: TFX's, with intervals that are the same in every run and computed only where used.

1. On Kubeflow the baseline comes from ServedBaseline, whose output is empty
   before anything was pushed; an empty model is no baseline (a first run).
2. TFMA 0.52 computes a jackknife standard error for every value its
   metrics produce, including the private intermediates that it drops from
   the output afterwards (names starting with one underscore, e.g. AUC's
   `_binary_confusion_matrices_10000`: 10,000 thresholds whose jackknife
   arithmetic is element by element in Python). Profiled on the fixture,
   that arithmetic was two thirds of the Evaluator's time. TFMA's own hook
   for metrics without intervals, the `skip_ci_metric_keys` set, is extended
   to those private keys while the executor builds its Beam graph. Every
   public metric, its interval and every diff are computed exactly as before
   (tests/e2e/test_reproducible.py compares the two evaluations).
3. TFMA puts each example in one of 20 jackknife buckets with a random
   generator seeded anew in every run, so the same model on the same
   examples got a different standard error each time it was evaluated, and
   the gate's decision near its allowance could flip between two identical
   runs. The bucket is a hash of the example's labels and the candidate's
   predictions instead (`jackknife_bucket`): the same in every run, on any
   number of workers, with or without a baseline.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.evaluators import jackknife
from tensorflow_model_analysis.metrics import metric_specs
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs

from components.gate.metrics import BASELINE, CANDIDATE
from components.served_baseline import has_model

DEFAULT_COMBINER_INPUT = "_default_combiner_input"  # TFMA's per-example labels, predictions and weights


def is_private_metric(metric_key) -> bool:
    """TFMA's rule for the intermediates it removes from its output
    (evaluators/metrics_plots_and_validations_evaluator.py, `_is_private_metrics`)."""
    return metric_key.name.startswith("_") and not metric_key.name.startswith("__")


class SkipIntervalKeys(frozenset):
    """TFMA's set of metric keys without a confidence interval, plus every private intermediate."""

    def __contains__(self, metric_key) -> bool:
        return is_private_metric(metric_key) or frozenset.__contains__(self, metric_key)

    def __bool__(self) -> bool:  # TFMA tests the set's truth before asking it
        return True


def _feed(digest, value) -> None:
    """Adds a nested dict / list / array value to the digest, in a fixed order."""
    if isinstance(value, Mapping):
        for key in sorted(value, key=str):
            digest.update(str(key).encode())
            _feed(digest, value[key])
    elif isinstance(value, np.ndarray):
        digest.update(value.dtype.str.encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, list | tuple):
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())


def candidates_part(value):
    """A value keyed by model (candidate and baseline) as the candidate alone sees it: TFMA keys labels
    and predictions by model only when there is a baseline, and an example must fall in the same
    bucket whether or not the candidate is compared with one."""
    if isinstance(value, Mapping) and set(value) == {CANDIDATE, BASELINE}:
        return value[CANDIDATE]
    return value


def jackknife_bucket(element, num_buckets: int) -> int:
    """The bucket of one (slice, example) element: a hash of the example's labels and predictions.

    The same example falls in the same bucket in every slice, in every run, on any number of
    workers, with or without a baseline; buckets stay as balanced as a random draw's.
    """
    _, extracts = element
    digest = hashlib.blake2b(digest_size=8)
    inputs = extracts.get(DEFAULT_COMBINER_INPUT)
    if inputs:
        for example in inputs:
            _feed(digest, candidates_part(example.get("labels")))
            _feed(digest, candidates_part(example.get("predictions")))
    else:
        _feed(digest, extracts)
    return int.from_bytes(digest.digest(), "little") % num_buckets


class _BeamWithKeyedPartition:
    """`apache_beam` as TFMA's jackknife module sees it, except that Partition uses jackknife_bucket."""

    def __getattr__(self, name: str):
        return getattr(beam, name)

    @staticmethod
    def Partition(_random_fn, num_partitions: int):  # noqa: N802 (Beam's name)
        return beam.Partition(jackknife_bucket, num_partitions)


@contextlib.contextmanager
def _replaced(owner, name: str, value) -> Iterator[None]:
    """`owner.name` is `value` for the block, and what it was afterwards."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def keyed_jackknife_buckets() -> contextlib.AbstractContextManager[None]:
    """While the Beam graph is built, TFMA's jackknife partitions examples by jackknife_bucket."""
    return _replaced(jackknife, "beam", _BeamWithKeyedPartition())


def no_intervals_for_private_metrics() -> contextlib.AbstractContextManager[None]:
    """While the Beam graph is built, TFMA's skip set also holds the private intermediates."""
    original = metric_specs.metric_keys_to_skip_for_confidence_intervals

    def skip_with_private(metrics_specs, eval_config):
        return SkipIntervalKeys(original(metrics_specs, eval_config=eval_config))

    return _replaced(metric_specs, "metric_keys_to_skip_for_confidence_intervals", skip_with_private)


@contextlib.contextmanager
def fast_reproducible_intervals() -> Iterator[None]:
    """Both changes, for one evaluation."""
    with keyed_jackknife_buckets(), no_intervals_for_private_metrics():
        yield


class EvaluatorExecutor(tfx_evaluator.Executor):
    """TFX's Evaluator, with the two changes above."""

    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict) -> None:  # noqa: N802 (TFX's name)
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = [model for model in input_dict.get(key) or [] if has_model(model)]
        with fast_reproducible_intervals():
            super().Do({**input_dict, key: baselines}, output_dict, exec_properties)
