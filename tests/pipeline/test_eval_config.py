"""The TFMA EvalConfig built from the head specs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from pipeline.config import load_config
from pipeline.eval_config import BASELINE, CANDIDATE, build_eval_config, head_metrics_spec

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


def test_one_metrics_spec_per_head_computed_by_the_heads_own_metric_without_thresholds_or_resampling():
    """One HeadMetrics per head computes what the head lists and its gate metric's change; TFMA decides
    nothing (its validator would ignore the intervals) and resamples nothing."""
    config = load_config(FLIGHTS)
    eval_config = build_eval_config(config)
    assert [list(s.output_names) for s in eval_config.metrics_specs] == [[h.name] for h in config.model.heads]
    for head, spec in zip(config.model.heads, eval_config.metrics_specs, strict=True):
        (metric,) = spec.metrics  # every metric the shipped heads list is computed by the head's own metric
        assert (metric.class_name, metric.module) == ("HeadMetrics", "components.gate.head_metrics")
        settings = json.loads(metric.config)
        assert settings == {
            "kind": head.kind,
            "metrics": list(head.metrics),
            "gate_metric": head.gate.metric,
            "classes": len(head.classes),
        }
        assert not metric.per_slice_thresholds and not metric.HasField("threshold")
    assert not eval_config.options.compute_confidence_intervals.value


def test_a_metric_the_head_metric_does_not_compute_stays_tfmas():
    config = load_config(FLIGHTS)
    late = next(h for h in config.model.heads if h.name == "late")
    spec = head_metrics_spec(dataclasses.replace(late, metrics=(*late.metrics, "AUCPrecisionRecall")))
    assert [m.class_name for m in spec.metrics] == ["HeadMetrics", "AUCPrecisionRecall"]
    assert json.loads(spec.metrics[0].config)["metrics"] == list(late.metrics)


def test_slicing_specs_follow_the_config():
    config = load_config(FLIGHTS)
    specs = [list(s.feature_keys) for s in build_eval_config(config).slicing_specs]
    assert specs == [[], ["origin"], ["carrier"], ["origin", "carrier"]]
