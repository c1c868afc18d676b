"""Runs a recorded Evaluator execution again with the pipeline's executor (its candidate as its
baseline, or with its recorded baseline).

A rerun of the pipeline with no new data is served from the cache to the end
(components/previous_blessed_model.py), so a second evaluation of the same model
comes from here: the same executor, inputs and properties ML Metadata recorded,
on real TFMA and Beam, in this process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from components.evaluator import EvaluatorExecutor
from pipeline.pipeline import EVALUATOR_DIRECT_ARGS
from results.metadata import open_store


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
    from ml_metadata.proto import metadata_store_pb2
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import artifact_utils, standard_artifacts

    store = open_store(metadata_path)
    evaluations = [a.id for a in store.get_artifacts_by_uri(evaluation_uri)]
    outputs = [e for e in store.get_events_by_artifact_ids(evaluations) if e.type == metadata_store_pb2.Event.OUTPUT]
    # The execution that computed it (a cached one only points at it).
    (execution,) = [
        e
        for e in store.get_executions_by_id(sorted({event.execution_id for event in outputs}))
        if e.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    producer = execution.id
    artifact_types = {t.id: t for t in store.get_artifact_types()}
    input_dict: dict[str, list] = {}
    for event in store.get_events_by_execution_ids([producer]):
        if event.type != metadata_store_pb2.Event.INPUT:
            continue
        (stored,) = store.get_artifacts_by_id([event.artifact_id])
        artifact = artifact_utils.deserialize_artifact(artifact_types[stored.type_id], stored)
        for step in event.path.steps:
            if step.HasField("key"):
                input_dict.setdefault(step.key, []).append(artifact)
    if own_baseline:
        input_dict["baseline_model"] = list(input_dict["model"])

    properties = {}
    for name, value in execution.custom_properties.items():
        kind = value.WhichOneof("value")
        if kind in ("string_value", "int_value"):
            properties[name] = getattr(value, kind)
    output_dict = {
        "evaluation": [standard_artifacts.ModelEvaluation()],
        "blessing": [standard_artifacts.ModelBlessing()],
    }
    for key, (artifact,) in output_dict.items():
        artifact.uri = str(out / key)
        Path(artifact.uri).mkdir(parents=True)
    context = BaseBeamExecutor.Context(beam_pipeline_args=list(beam_args), tmp_dir=str(out / "tmp"))
    EvaluatorExecutor(context).Do(input_dict, output_dict, properties)
    return output_dict["evaluation"][0].uri
