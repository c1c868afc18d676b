"""The local ML Metadata store: opening it, and tidying what a killed run left behind.

A run killed mid-component (SIGKILL, a closed laptop, a lost node) leaves that
component's execution RUNNING in ML Metadata forever: nothing else will ever
finish it. The local runner calls `cancel_abandoned` once its run is over, so
the history, the outcome reader and the report see the killed execution as
CANCELED (with why and by which run) instead of a run still in progress.
Runs of one pipeline on one store are one at a time (the local runner), so
after a run no execution of that pipeline can legitimately still be running.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

ABANDONED_NOTE = "abandoned_by"  # custom property on a cancelled execution: the run that found it
RUN_CONTEXT = "pipeline_run"  # TFX's context type of one run


@dataclasses.dataclass(frozen=True)
class Push:
    """A model that a Pusher execution put into serving, as ML Metadata recorded it."""

    destination: str  # the version folder it wrote
    run: str | None  # the run whose Pusher pushed it
    blessing_id: int | None  # the ModelBlessing it pushed on
    blessing_uri: str | None


def open_store(metadata_path: str | Path, *, writable: bool = False):
    """The SQLite-backed store; read-only unless asked."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    connection.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
        if writable
        else metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    )
    return metadata_store.MetadataStore(connection)


def running_executions(metadata_path: str | Path, pipeline_name: str) -> list:
    """Executions of the pipeline that ML Metadata says are still running (none without a store)."""
    from ml_metadata.proto import metadata_store_pb2

    if not Path(metadata_path).exists():
        return []
    store = open_store(metadata_path)
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if context is None:
        return []
    return [
        e
        for e in store.get_executions_by_context(context.id)
        if e.last_known_state == metadata_store_pb2.Execution.RUNNING
    ]


def pushes(store, pipeline_name: str | None = None) -> list[Push]:
    """Every push the store records (of one pipeline when named): the serving list and the report's history
    both read pushes here. A cached rerun's Pusher only points at the earlier push, so each push is the
    PushedModel's first producer's, once."""
    from ml_metadata.proto import metadata_store_pb2

    ours = None
    if pipeline_name is not None:
        pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
        if pipeline is None:
            return []
        ours = {e.id for e in store.get_executions_by_context(pipeline.id)}
    run_type = store.get_context_type(RUN_CONTEXT)
    found = []
    for pushed in store.get_artifacts_by_type("PushedModel"):
        destination = pushed.custom_properties.get("pushed_destination")
        if destination is None or not destination.string_value:
            continue  # not pushed (a blocked run's Pusher still writes its output)
        events = store.get_events_by_artifact_ids([pushed.id])
        producer = min((e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT), default=None)
        if producer is None or (ours is not None and producer not in ours):
            continue
        blessing_ids = [
            e.artifact_id
            for e in store.get_events_by_execution_ids([producer])
            if e.type == metadata_store_pb2.Event.INPUT and any(s.key == "model_blessing" for s in e.path.steps)
        ]
        blessing = store.get_artifacts_by_id(blessing_ids[:1])[0] if blessing_ids else None
        runs = [c.name for c in store.get_contexts_by_execution(producer) if run_type and c.type_id == run_type.id]
        found.append(
            Push(
                destination=destination.string_value,
                run=runs[0] if runs else None,
                blessing_id=blessing.id if blessing else None,
                blessing_uri=blessing.uri if blessing else None,
            )
        )
    return found


def cancel_abandoned(metadata_path: str | Path, pipeline_name: str, by_run: str) -> list[int]:
    """Marks the pipeline's still-RUNNING executions CANCELED, noting `by_run`; returns their ids."""
    from ml_metadata.proto import metadata_store_pb2

    stale = running_executions(metadata_path, pipeline_name)
    if not stale:
        return []
    for execution in stale:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
        execution.custom_properties[ABANDONED_NOTE].string_value = by_run
    open_store(metadata_path, writable=True).put_executions(stale)
    return [e.id for e in stale]
