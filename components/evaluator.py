"""The Evaluator's executor: TFX's, where an empty baseline is no baseline and a new head has none.

On Kubeflow the baseline comes from ServedBaseline, whose output is empty
before anything was pushed; an empty model is no baseline (a first run), so it
is dropped before TFX's executor builds the EvalConfig's model specs.

A head added to the config since the baseline was trained has no output in
the baseline (nor a label in its transform graph): its metrics are computed
for the candidate alone (its MetricsSpec names only the candidate), and the
baseline's model spec reads no label for it. The gate then judges that head
on its thresholds and lift only, and the other heads against the baseline as
always. Every metric and every interval come from the EvalConfig
(pipeline/eval_config.py): no resampling, nothing of TFMA's internals patched.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs
from tfx.utils import path_utils

from components.served_baseline import has_model
from trainer.specs import SERVING_SIGNATURE

LOG = logging.getLogger(__name__)


def serving_outputs(model_uri: str) -> set[str]:
    """The output names of a model's serving signature, read from its saved_model.pb (nothing loaded)."""
    from tensorflow.python.tools import saved_model_utils

    meta_graph = saved_model_utils.get_meta_graph_def(path_utils.serving_model_path(model_uri), "serve")
    return set(meta_graph.signature_def[SERVING_SIGNATURE].outputs)


def without_baseline_for(eval_config_json: str, heads: Collection[str]) -> str:
    """The EvalConfig (JSON) with `heads` computed for the candidate alone: their MetricsSpecs name only
    the candidate, and the baseline's model spec reads no label or weight for them."""
    from tensorflow_model_analysis.proto import config_pb2
    from tfx.utils import proto_utils

    config = config_pb2.EvalConfig()
    proto_utils.json_to_proto(eval_config_json, config)
    candidates = [spec.name for spec in config.model_specs if not spec.is_baseline]
    for spec in config.model_specs:
        if spec.is_baseline:
            for head in heads:
                spec.label_keys.pop(head, None)
                spec.example_weight_keys.pop(head, None)
    for metrics in config.metrics_specs:
        if metrics.output_names and set(metrics.output_names) <= set(heads):
            metrics.model_names[:] = candidates
    return proto_utils.proto_to_json(config)


class EvaluatorExecutor(tfx_evaluator.Executor):
    """TFX's Evaluator, with an empty baseline dropped and new heads judged without one."""

    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict) -> None:  # noqa: N802 (TFX's name)
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = [model for model in input_dict.get(key) or [] if has_model(model)]
        config_key = standard_component_specs.EVAL_CONFIG_KEY
        if baselines and exec_properties.get(config_key):
            candidate_heads = serving_outputs(input_dict[standard_component_specs.MODEL_KEY][0].uri)
            new_heads = candidate_heads - serving_outputs(baselines[0].uri)
            if new_heads:
                LOG.info("heads without a baseline output, evaluated for the candidate alone: %s", sorted(new_heads))
                exec_properties = {
                    **exec_properties,
                    config_key: without_baseline_for(exec_properties[config_key], new_heads),
                }
        super().Do({**input_dict, key: baselines}, output_dict, exec_properties)
