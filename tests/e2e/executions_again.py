"""Runs a recorded Beam component execution again with the pipeline's executor, in this process.

A rerun of the pipeline with no new data is served from the cache to the end
(components/previous_blessed_model.py), so a second Evaluator or Transform run
on the same inputs comes from here: the same executor, inputs and properties ML
Metadata recorded, on real TFX, TFMA, tf.Transform and Beam, with other Beam
arguments where a test asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from components.evaluator import EvaluatorExecutor
from pipeline.pipeline import EVALUATOR_DIRECT_ARGS, pipeline_beam_args
from results.metadata import open_store


def run_again(
    metadata_path: str,
    output_uri: str,
    executor_class,
    out: Path,
    beam_args: Sequence[str],
    replace_inputs: dict[str, str] | None = None,
    without_outputs: Sequence[str] = (),
) -> dict[str, list]:
    """Re-runs the execution that wrote the artifact at `output_uri` with `executor_class` on `beam_args`,
    its outputs as new artifacts of the same types under `out/<key>` (but `without_outputs`);
    `replace_inputs` maps an input key to another input key whose artifacts it takes. Returns the
    output artifacts by key."""
    from ml_metadata.proto import metadata_store_pb2
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import artifact_utils

    store = open_store(metadata_path)
    written = [a.id for a in store.get_artifacts_by_uri(output_uri)]
    outputs = [e for e in store.get_events_by_artifact_ids(written) if e.type == metadata_store_pb2.Event.OUTPUT]
    # The execution that computed it (a cached one only points at it).
    (execution,) = [
        e
        for e in store.get_executions_by_id(sorted({event.execution_id for event in outputs}))
        if e.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    artifact_types = {t.id: t for t in store.get_artifact_types()}
    input_dict: dict[str, list] = {}
    output_dict: dict[str, list] = {}
    for event in store.get_events_by_execution_ids([execution.id]):
        (stored,) = store.get_artifacts_by_id([event.artifact_id])
        artifact = artifact_utils.deserialize_artifact(artifact_types[stored.type_id], stored)
        key = next(step.key for step in event.path.steps if step.HasField("key"))
        if event.type == metadata_store_pb2.Event.INPUT:
            input_dict.setdefault(key, []).append(artifact)
        elif event.type == metadata_store_pb2.Event.OUTPUT and key not in without_outputs:
            fresh = artifact_utils.deserialize_artifact(artifact_types[stored.type_id], stored)
            fresh.id = 0
            fresh.uri = str(out / key)
            Path(fresh.uri).mkdir(parents=True)
            output_dict.setdefault(key, []).append(fresh)
    for key, source in (replace_inputs or {}).items():
        input_dict[key] = list(input_dict[source])

    properties = {}
    for name, value in execution.custom_properties.items():
        kind = value.WhichOneof("value")
        if kind in ("string_value", "int_value"):
            properties[name] = getattr(value, kind)
    # As the pipeline gives its components their arguments: the local runner named, and its dependency.
    context = BaseBeamExecutor.Context(beam_pipeline_args=pipeline_beam_args(beam_args), tmp_dir=str(out / "tmp"))
    executor_class(context).Do(input_dict, output_dict, properties)
    return output_dict


def evaluate_again(
    metadata_path: str,
    evaluation_uri: str,
    out: Path,
    *,
    own_baseline: bool,
    beam_args: Sequence[str] = EVALUATOR_DIRECT_ARGS,
) -> str:
    """Re-runs the Evaluator execution that wrote `evaluation_uri`, with its candidate as its baseline too
    (`own_baseline`) or with the baseline it had, on `beam_args`; returns the new evaluation's folder
    (tfma.load_eval_result reads it)."""
    replace = {"baseline_model": "model"} if own_baseline else None
    outputs = run_again(metadata_path, evaluation_uri, EvaluatorExecutor, out, beam_args, replace)
    return outputs["evaluation"][0].uri


def transform_again(
    metadata_path: str,
    transform_graph_uri: str,
    out: Path,
    beam_args: Sequence[str],
    without_outputs: Sequence[str] = (),
) -> dict:
    """Re-runs the Transform execution that wrote `transform_graph_uri` on `beam_args`; returns its
    output artifacts by key (transform_graph, transformed_examples, ...)."""
    from tfx.components.transform.executor import Executor as TransformExecutor

    return run_again(metadata_path, transform_graph_uri, TransformExecutor, out, beam_args, None, without_outputs)
