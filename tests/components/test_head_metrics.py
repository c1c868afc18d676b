"""The per-head TFMA metric: its keys, a merge that counts every part once in any order, no change
without a baseline, rows weighted 0 left out, and the preprocessor reading TFMA's extracts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2

from components.gate import head_metrics, head_sums
from components.gate.metrics import BASELINE, CANDIDATE, change_key

BINARY = {"kind": "binary", "metrics": ["AUC", "MeanPrediction", "CalibrationPlot"], "gate_metric": "AUC"}


FIRST_RUN = ""  # TFMA's name for the one model of an evaluation without a baseline


def eval_config(with_baseline: bool) -> config_pb2.EvalConfig:
    if not with_baseline:
        return config_pb2.EvalConfig(model_specs=[config_pb2.ModelSpec(name=FIRST_RUN)])
    return config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(name=CANDIDATE), config_pb2.ModelSpec(name=BASELINE, is_baseline=True)]
    )


def computation(with_baseline: bool = True, **settings):
    models = [CANDIDATE, BASELINE] if with_baseline else [FIRST_RUN]
    (found,) = head_metrics.HeadMetrics(**(settings or BINARY)).computations(
        eval_config=eval_config(with_baseline), model_names=models, output_names=["late"], example_weighted=True
    )
    return found


def rows(count: int, seed: int = 0, zero_weights: int = 0) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(count) < 0.3).astype(float)
    weights = np.ones(count)
    weights[:zero_weights] = 0.0
    candidate = np.clip(labels * 0.3 + rng.random(count) * 0.7, 0, 1)
    baseline = np.clip(labels * 0.2 + rng.random(count) * 0.8, 0, 1)
    return list(zip(weights, labels, candidate, baseline, strict=True))


def combine(combiner, parts, as_list: bool = True):
    accumulators = []
    for part in parts:
        accumulator = combiner.create_accumulator()
        for row in part:
            accumulator = combiner.add_input(accumulator, row)
        accumulators.append(combiner.compact(accumulator) if len(accumulators) % 2 else accumulator)
    merged = combiner.merge_accumulators(accumulators if as_list else iter(accumulators))
    return combiner.extract_output(merged)


def scalar(output, name, model=CANDIDATE):
    return output[metric_types.MetricKey(name=name, model_name=model, output_name="late", example_weighted=True)]


def assert_same_bits_for_any_split(combiner, data, whole, rng: np.random.Generator) -> None:
    """Seven shuffled parts, merged from a list and from an iterator, give `whole` bit for bit."""
    for as_list in (True, False):
        order = rng.permutation(len(data))
        parts = [[data[i] for i in chunk] for chunk in np.array_split(order, 7)]
        split = combine(combiner, parts, as_list=as_list)
        assert split.keys() == whole.keys()
        for key, value in whole.items():
            if isinstance(value, metrics_for_slice_pb2.CalibrationHistogramBuckets):
                assert split[key] == value
            else:
                assert repr(split[key]) == repr(value), key  # bit for bit, the first part counted once


def test_the_same_rows_give_the_same_bits_however_they_are_split_and_merged():
    found = computation()
    data = rows(900)
    assert_same_bits_for_any_split(found.combiner, data, combine(found.combiner, [data]), np.random.default_rng(9))


def test_a_slice_folded_into_sums_gives_the_same_bits_however_it_is_split_and_merged(monkeypatch):
    """With blocks of 64 rows, 900 rows are folded into sums at points that depend on the split; the sums
    are exact, so the bits do not. Unequal weights: a block's rounded sum would differ."""
    monkeypatch.setattr(head_metrics, "BLOCK_ROWS", 64)
    rng = np.random.default_rng(11)
    data = [(float(rng.uniform(0.2, 3.0)), *row[1:]) for row in rows(900)]
    found = computation()
    whole = combine(found.combiner, [data])
    assert scalar(whole, "weighted_example_count") == pytest.approx(sum(row[0] for row in data), rel=1e-15)
    assert_same_bits_for_any_split(found.combiner, data, whole, rng)


def test_the_gate_metrics_change_carries_its_standard_error_and_every_model_its_metrics():
    output = combine(computation().combiner, [rows(600)])
    change = scalar(output, change_key("auc"))
    assert isinstance(change, types.ValueWithTDistribution)
    assert change.unsampled_value == pytest.approx(scalar(output, "auc") - scalar(output, "auc", BASELINE))
    assert 0 < change.sample_standard_deviation < 0.1
    assert scalar(output, "weighted_example_count") == 600.0
    plot = output[metric_types.PlotKey(name="calibration_plot", model_name=CANDIDATE, output_name="late")]
    assert len(plot.buckets) == head_sums.CALIBRATION_BUCKETS


def test_without_a_baseline_there_is_no_change():
    output = combine(computation(with_baseline=False).combiner, [[row[:3] for row in rows(300)]])
    assert not any(key.name == change_key("auc") for key in output)
    assert 0.5 < scalar(output, "auc", FIRST_RUN) < 1.0


def test_rows_weighted_zero_count_as_examples_but_not_in_any_metric():
    data = rows(500, zero_weights=120)
    output = combine(computation().combiner, [data])
    kept = combine(computation().combiner, [data[120:]])
    assert output[metric_types.MetricKey("example_count", model_name=CANDIDATE, output_name="late")] == 500.0
    assert scalar(output, "weighted_example_count") == 380.0
    assert scalar(output, "auc") == scalar(kept, "auc")
    assert repr(scalar(output, change_key("auc"))) == repr(scalar(kept, change_key("auc")))


def test_an_empty_slice_gives_counts_and_no_numbers():
    output = combine(computation().combiner, [rows(20, zero_weights=20)])
    assert scalar(output, "weighted_example_count") == 0.0
    assert math.isnan(scalar(output, "auc"))


def by_model(value_of):
    return {model: {"late": np.array([value_of(model)], dtype=np.float32)} for model in (CANDIDATE, BASELINE)}


# The layouts of TFMA's extracts: two models (each with its own transform_features, as the Evaluator's
# extracts are), labels and weights shared, and one model (a first run).
LAYOUTS = {
    "two models": {
        "labels": by_model(lambda _: 1.0),
        "predictions": by_model(lambda model: 0.75 if model == CANDIDATE else 0.25),
        "example_weights": by_model(lambda _: 0.0),
    },
    "shared labels and weights": {
        "labels": {"late": np.array([1.0])},
        "predictions": by_model(lambda model: 0.75 if model == CANDIDATE else 0.25),
        "example_weights": {"late": np.array([0.0])},
    },
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_preprocessor_reads_both_models_predictions_and_the_heads_weight_as_tfma_does(layout):
    (preprocessor,) = computation().preprocessors
    extracts = LAYOUTS[layout]
    assert list(preprocessor.process(extracts)) == [(0.0, 1.0, 0.75, 0.25)]
    assert preprocessor._through_tfma(extracts) == (0.0, 1.0, 0.75, 0.25)


def test_the_preprocessor_of_a_first_run_reads_the_one_model():
    (preprocessor,) = computation(with_baseline=False).preprocessors
    extracts = {
        "labels": {"late": np.array([0.0])},
        "predictions": {"late": np.array([0.5])},
        "example_weights": {"late": np.array([1.0])},
    }
    assert list(preprocessor.process(extracts)) == [(1.0, 0.0, 0.5)] == [preprocessor._through_tfma(extracts)]


def test_a_layout_it_does_not_read_directly_goes_through_tfma():
    (preprocessor,) = computation().preprocessors
    extracts = dict(LAYOUTS["two models"])
    extracts["predictions"] = {
        model: {"late": {"probabilities": value["late"]}} for model, value in extracts["predictions"].items()
    }
    assert preprocessor._direct(extracts) is None  # not a layout it reads itself ...
    assert list(preprocessor.process(extracts)) == [(0.0, 1.0, 0.75, 0.25)]  # ... so TFMA's reader gives the row
