"""The TFMA EvalConfig, built from the head specs and the slices.

One MetricsSpec per head (`output_names=[head]`), labels and per-head weights
read from the model's `transform_features` signature (so a missing label is
weighted out of its head only). No thresholds: TFMA's validator compares
point values and ignores intervals, so the decision is the HeadGate's
(components/gate/). TFMA computes what it needs: every head's metrics on the
overall slice and every configured slice, the candidate-minus-baseline
differences on the same examples, and a jackknife standard error for each.
"""

from __future__ import annotations

from collections.abc import Sequence

from tensorflow_model_analysis.proto import config_pb2

from components.gate import exact_metrics
from components.gate.metrics import BASELINE, CANDIDATE
from pipeline.config import PipelineConfig, SliceSpec
from trainer.specs import SERVING_SIGNATURE, TRANSFORM_SIGNATURE, HeadSpec


def slicing_specs(slices: Sequence[SliceSpec]) -> list[config_pb2.SlicingSpec]:
    """The overall slice, then one spec per configured slicing."""
    return [config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=list(s.features)) for s in slices]


def head_metrics_spec(head: HeadSpec) -> config_pb2.MetricsSpec:
    spec = config_pb2.MetricsSpec(output_names=[head.name])
    spec.metrics.add(class_name="ExampleCount")
    spec.metrics.add(class_name="WeightedExampleCount")
    for class_name in head.metrics:
        if class_name in exact_metrics.REPLACEMENTS:  # TFMA's own miscounts on some merges
            spec.metrics.add(class_name=exact_metrics.REPLACEMENTS[class_name], module=exact_metrics.__name__)
        else:
            spec.metrics.add(class_name=class_name)
    return spec


def build_eval_config(config: PipelineConfig) -> config_pb2.EvalConfig:
    """The Evaluator's config: candidate vs. baseline, per head, per slice, with standard errors."""
    heads = config.model.heads

    def model_spec(name: str, is_baseline: bool) -> config_pb2.ModelSpec:
        return config_pb2.ModelSpec(
            name=name,
            is_baseline=is_baseline,
            signature_name=SERVING_SIGNATURE,
            preprocessing_function_names=[TRANSFORM_SIGNATURE],
            label_keys={head.name: head.label_key for head in heads},
            example_weight_keys={head.name: head.weight_key for head in heads},
        )

    options = config_pb2.Options()
    options.compute_confidence_intervals.value = True
    options.confidence_intervals.method = config_pb2.ConfidenceIntervalOptions.JACKKNIFE
    return config_pb2.EvalConfig(
        model_specs=[model_spec(CANDIDATE, False), model_spec(BASELINE, True)],
        slicing_specs=slicing_specs(config.slices),
        metrics_specs=[head_metrics_spec(head) for head in heads],
        options=options,
    )
