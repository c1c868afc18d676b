"""The Evaluator's executor: TFX's, where an empty baseline is no baseline.

On Kubeflow the baseline comes from ServedBaseline, whose output is empty
before anything was pushed; an empty model is no baseline (a first run), so it
is dropped before TFX's executor builds the EvalConfig's model specs. Every
metric and every interval come from the EvalConfig (pipeline/eval_config.py):
no resampling, nothing of TFMA's internals patched.
"""

from __future__ import annotations

from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs

from components.served_baseline import has_model


class EvaluatorExecutor(tfx_evaluator.Executor):
    """TFX's Evaluator, with an empty baseline dropped."""

    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict) -> None:  # noqa: N802 (TFX's name)
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = [model for model in input_dict.get(key) or [] if has_model(model)]
        super().Do({**input_dict, key: baselines}, output_dict, exec_properties)
