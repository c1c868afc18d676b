"""The TFMA EvalConfig, built from the head specs and the slices.

One MetricsSpec per head (`output_names=[head]`), labels and per-head weights
read from the model's `transform_features` signature (so a missing label is
weighted out of its head only). No thresholds: TFMA's validator compares
point values and ignores intervals, so the decision is the HeadGate's
(components/gate/). Each head's metrics, for both models, on the overall
slice and every configured slice, and the gate metric's paired change with
its analytic standard error come from one custom metric per head
(components/gate/head_metrics.py), in TFMA's single pass; a metric class it
does not compute stays TFMA's own. No resampling: TFMA's confidence intervals
stay off.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tensorflow_model_analysis.proto import config_pb2

from components.gate import head_metrics
from components.gate.metrics import BASELINE, CANDIDATE
from pipeline.config import PipelineConfig, SliceSpec
from trainer.specs import SERVING_SIGNATURE, TRANSFORM_SIGNATURE, HeadSpec


def slicing_specs(slices: Sequence[SliceSpec]) -> list[config_pb2.SlicingSpec]:
    """The overall slice, then one spec per configured slicing."""
    return [config_pb2.SlicingSpec()] + [config_pb2.SlicingSpec(feature_keys=list(s.features)) for s in slices]


def head_metrics_spec(head: HeadSpec) -> config_pb2.MetricsSpec:
    """The head's metric (counts, every metric it computes, the gate's change), then TFMA's for the rest."""
    spec = config_pb2.MetricsSpec(output_names=[head.name])
    computed = [name for name in head.metrics if head_metrics.computes(name)]
    spec.metrics.add(
        class_name=head_metrics.HeadMetrics.__name__,
        module=head_metrics.__name__,
        config=json.dumps(
            {
                "kind": head.kind,
                "metrics": computed,
                "gate_metric": head.gate.metric if head.gate else None,
                "classes": len(head.classes),
            },
            sort_keys=True,
        ),
    )
    for class_name in head.metrics:
        if class_name in computed:
            continue
        spec.metrics.add(class_name=class_name)
    return spec


def build_eval_config(config: PipelineConfig) -> config_pb2.EvalConfig:
    """The Evaluator's config: candidate vs. baseline, per head, per slice, the gate's changes with standard errors."""
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
        metrics_specs=[head_metrics_spec(head) for head in heads],
    )
