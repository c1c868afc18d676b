"""The TFMA EvalConfig, built from the head specs and the slices.

One MetricsSpec per head (`output_names=[head]`), labels and per-head weights
read from the model's `transform_features` signature (so a missing label is
weighted out of its head only), a value threshold on every head (change
thresholds are dropped on a first run, so a value threshold must always be
there for anything to be blessed) and a change threshold where the head allows
a bounded regression. Thresholds apply to the overall slice and to gated
slices; the other slices are computed and reported but never block.
"""

from __future__ import annotations

from collections.abc import Sequence

from tensorflow_model_analysis.proto import config_pb2

from components.report.summary import BASELINE, CANDIDATE
from pipeline.config import PipelineConfig, SliceSpec
from trainer.specs import SERVING_SIGNATURE, TRANSFORM_SIGNATURE, HeadSpec


def slicing_specs(slices: Sequence[SliceSpec]) -> list[config_pb2.SlicingSpec]:
    """The overall slice, then one spec per configured slicing."""
    return [config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=list(s.features)) for s in slices]


def metric_threshold(head: HeadSpec) -> config_pb2.MetricThreshold:
    gate = head.gate
    threshold = config_pb2.MetricThreshold()
    if gate.at_least is not None:
        threshold.value_threshold.lower_bound.value = gate.at_least
    else:
        threshold.value_threshold.upper_bound.value = gate.at_most
    if gate.max_regression is not None:
        change = threshold.change_threshold
        if gate.higher_is_better:
            change.direction = config_pb2.MetricDirection.HIGHER_IS_BETTER
            change.absolute.value = -gate.max_regression  # passes when diff >= -max
        else:
            change.direction = config_pb2.MetricDirection.LOWER_IS_BETTER
            change.absolute.value = gate.max_regression  # passes when diff <= max
    return threshold


def head_metrics_spec(head: HeadSpec, slices: Sequence[SliceSpec]) -> config_pb2.MetricsSpec:
    spec = config_pb2.MetricsSpec(output_names=[head.name])
    spec.metrics.add(class_name="ExampleCount")
    spec.metrics.add(class_name="WeightedExampleCount")
    for class_name in head.metrics:
        metric = spec.metrics.add(class_name=class_name)
        if class_name == head.gate.metric:
            metric.per_slice_thresholds.add(
                slicing_specs=slicing_specs([s for s in slices if s.gated]), threshold=metric_threshold(head)
            )
    return spec


def build_eval_config(config: PipelineConfig) -> config_pb2.EvalConfig:
    """The Evaluator's config: candidate vs. baseline, per head, per slice."""
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

    return config_pb2.EvalConfig(
        model_specs=[model_spec(CANDIDATE, False), model_spec(BASELINE, True)],
        slicing_specs=slicing_specs(config.slices),
        metrics_specs=[head_metrics_spec(head, config.slices) for head in heads],
    )
