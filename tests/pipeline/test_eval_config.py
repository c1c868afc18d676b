"""The TFMA EvalConfig built from the head specs."""

from __future__ import annotations

from pathlib import Path

from tensorflow_model_analysis.proto import config_pb2

from pipeline.config import load_config
from pipeline.eval_config import BASELINE, CANDIDATE, build_eval_config

FLIGHTS = Path(__file__).resolve().parents[2] / "configs" / "flights.yaml"


def test_model_specs_read_masked_labels_and_weights_per_head():
    config = load_config(FLIGHTS)
    eval_config = build_eval_config(config)
    assert [(m.name, m.is_baseline) for m in eval_config.model_specs] == [
        (CANDIDATE, False),
        (BASELINE, True),
    ]
    for spec in eval_config.model_specs:
        assert spec.signature_name == "serving_default"
        assert list(spec.preprocessing_function_names) == ["transform_features"]
        assert dict(spec.label_keys) == {h.name: h.label_key for h in config.model.heads}
        assert dict(spec.example_weight_keys) == {h.name: h.weight_key for h in config.model.heads}


def test_one_metrics_spec_per_head_with_value_and_change_thresholds():
    config = load_config(FLIGHTS)
    eval_config = build_eval_config(config)
    assert [list(s.output_names) for s in eval_config.metrics_specs] == [[h.name] for h in config.model.heads]
    delay = eval_config.metrics_specs[0]
    names = [m.class_name for m in delay.metrics]
    assert names == [
        "ExampleCount",
        "WeightedExampleCount",
        "MeanAbsoluteError",
        "MeanSquaredError",
        "MeanPrediction",
        "MeanLabel",
    ]
    gated = [m for m in delay.metrics if m.per_slice_thresholds]
    assert [m.class_name for m in gated] == ["MeanAbsoluteError"]
    (per_slice,) = gated[0].per_slice_thresholds
    assert [list(s.feature_keys) for s in per_slice.slicing_specs] == [[], ["origin"]]
    threshold = per_slice.threshold
    assert threshold.value_threshold.upper_bound.value == 45.0
    assert threshold.change_threshold.direction == config_pb2.MetricDirection.LOWER_IS_BETTER
    assert threshold.change_threshold.absolute.value == 2.0

    late = eval_config.metrics_specs[1]
    (auc,) = [m for m in late.metrics if m.per_slice_thresholds]
    threshold = auc.per_slice_thresholds[0].threshold
    assert auc.class_name == "AUC"
    assert threshold.value_threshold.lower_bound.value == 0.6
    assert threshold.change_threshold.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER
    assert threshold.change_threshold.absolute.value == -0.02


def test_slicing_specs_follow_the_config():
    config = load_config(FLIGHTS)
    specs = [list(s.feature_keys) for s in build_eval_config(config).slicing_specs]
    assert specs == [[], ["origin"], ["carrier"], ["origin", "carrier"]]
