"""Reading a run's artifacts back from ML Metadata (a real SQLite store, written here)."""

from __future__ import annotations

import pytest

from results.outcome import latest_run


def _record_run(path, input_keys: list[str]) -> None:
    """One run whose Evaluator-like execution takes ONE model artifact under `input_keys`,
    recorded as TFX does: one event, one path entry per key, in the given order."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    connection = pb.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)
    store = metadata_store.MetadataStore(connection)
    context_types = {}
    for name in ("pipeline", "pipeline_run"):
        context_type = pb.ContextType(name=name)
        context_types[name] = store.put_context_type(context_type)
    pipeline_ctx, run_ctx = (
        pb.Context(type_id=context_types["pipeline"], name="demo"),
        pb.Context(type_id=context_types["pipeline_run"], name="run-1"),
    )
    contexts = [pipeline_ctx, run_ctx]
    for context, context_id in zip(contexts, store.put_contexts(contexts), strict=True):
        context.id = context_id
    model_type = store.put_artifact_type(pb.ArtifactType(name="Model"))
    (model_id,) = store.put_artifacts([pb.Artifact(type_id=model_type, uri="/models/1")])
    execution_type = store.put_execution_type(pb.ExecutionType(name="Evaluator"))
    event = pb.Event(artifact_id=model_id, type=pb.Event.INPUT)
    for key in input_keys:
        event.path.steps.add().key = key
        event.path.steps.add().index = 0
    store.put_execution(
        pb.Execution(type_id=execution_type),
        [(pb.Artifact(id=model_id, type_id=model_type, uri="/models/1"), event)],
        contexts,
    )


@pytest.mark.parametrize("keys", [["model", "baseline_model"], ["baseline_model", "model"]])
def test_the_model_as_its_own_baseline_is_found_whatever_the_key_order(tmp_path, keys):
    path = tmp_path / "metadata.sqlite"
    _record_run(path, keys)
    assert latest_run(path, "demo").baseline_model == "/models/1"


def test_no_baseline_input_means_no_baseline(tmp_path):
    path = tmp_path / "metadata.sqlite"
    _record_run(path, ["model"])
    assert latest_run(path, "demo").baseline_model is None
