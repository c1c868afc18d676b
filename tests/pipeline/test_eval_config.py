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


def test_one_metrics_spec_per_head_without_thresholds_and_with_standard_errors():
    """TFMA computes; the HeadGate decides (TFMA's validator would ignore the intervals)."""
    config = load_config(FLIGHTS)
    eval_config = build_eval_config(config)
    assert [list(s.output_names) for s in eval_config.metrics_specs] == [[h.name] for h in config.model.heads]
    delay = eval_config.metrics_specs[0]
    names = [m.class_name for m in delay.metrics]
    assert names == [
        "ExampleCount",
        "WeightedExampleCount",
        "ExactMeanAbsoluteError",
        "ExactMeanSquaredError",
        "MeanPrediction",
        "MeanLabel",
    ]
    assert {m.module for m in delay.metrics if m.class_name.startswith("Exact")} == {"components.gate.exact_metrics"}
    for spec in eval_config.metrics_specs:
        assert not any(m.per_slice_thresholds or m.HasField("threshold") for m in spec.metrics)
    assert eval_config.options.compute_confidence_intervals.value
    assert eval_config.options.confidence_intervals.method == config_pb2.ConfidenceIntervalOptions.JACKKNIFE


def test_slicing_specs_follow_the_config():
    config = load_config(FLIGHTS)
    specs = [list(s.feature_keys) for s in build_eval_config(config).slicing_specs]
    assert specs == [[], ["origin"], ["carrier"], ["origin", "carrier"]]
