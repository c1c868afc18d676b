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

from pathlib import Path

ABANDONED_NOTE = "abandoned_by"  # custom property on a cancelled execution: the run that found it


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
