"""Each head's gate metric over every earlier evaluation of the pipeline, from ML Metadata.

A reader cannot tell a one-off dip from a trend from one run. Every HeadGate
execution that completed is one evaluation: its blessing holds gate.json (the
candidate's and the baseline's gate metric per head, on the overall slice),
its input model is the candidate, and a Pusher execution that took the
blessing says whether the model was pushed. Runs that were blocked are there
(not pushed); a killed run's unfinished HeadGate is not (it decided nothing);
a cached run adds nothing (it reused an earlier evaluation, which is listed
once).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from components.gate.component import read_decisions
from components.gate.metrics import OVERALL
from results.metadata import RUN_CONTEXT, open_store, pushes

HEAD_GATE = "HeadGate"


def _type_names(store) -> dict[int, str]:
    return {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}


def _read_decisions(uri: str) -> dict | None:
    try:
        return read_decisions(uri)
    except FileNotFoundError:
        return None


def evaluations(store, pipeline_name: str) -> list[dict[str, Any]]:
    """Every completed HeadGate execution of the pipeline, oldest first: run, models, verdict and push."""
    from ml_metadata.proto import metadata_store_pb2

    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return []
    names = _type_names(store)
    executions = store.get_executions_by_context(pipeline.id)
    gates = [
        e
        for e in executions
        if names.get(e.type_id) == HEAD_GATE and e.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    events = store.get_events_by_execution_ids([e.id for e in gates])
    by_execution: dict[int, list] = {}
    for event in events:
        by_execution.setdefault(event.execution_id, []).append(event)
    artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({e.artifact_id for e in events}))}

    def keyed(execution_id: int, kind: int, key: str) -> list:
        return [
            artifacts[e.artifact_id]
            for e in by_execution.get(execution_id, [])
            if e.type == kind and any(step.key == key for step in e.path.steps) and e.artifact_id in artifacts
        ]

    pushed_blessings = {push.blessing_id for push in pushes(store, pipeline_name)}
    run_type = store.get_context_type(RUN_CONTEXT)
    runs = {
        gate.id: next((c.name for c in store.get_contexts_by_execution(gate.id) if c.type_id == run_type.id), "")
        for gate in gates
    }
    found = []
    for gate in sorted(gates, key=lambda e: (e.create_time_since_epoch, e.id)):
        blessing = next(iter(keyed(gate.id, metadata_store_pb2.Event.OUTPUT, "blessing")), None)
        model = next(iter(keyed(gate.id, metadata_store_pb2.Event.INPUT, "model")), None)
        baseline = next(iter(keyed(gate.id, metadata_store_pb2.Event.INPUT, "baseline_model")), None)
        decisions = _read_decisions(blessing.uri) if blessing is not None else None
        if decisions is None:
            continue
        found.append(
            {
                "run": runs[gate.id],
                "evaluated_at": gate.create_time_since_epoch,
                "model": model.id if model is not None else None,
                "baseline_model": baseline.id if baseline is not None else None,
                "blessed": bool(decisions.get("blessed")),
                "pushed": blessing.id in pushed_blessings,
                "decisions": decisions,
            }
        )
    return found


def head_history(runs: Sequence[dict[str, Any]], heads: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Per head: one point per evaluation (run, gate metric of candidate and baseline, passed, pushed)."""
    history: dict[str, list[dict[str, Any]]] = {head: [] for head in heads}
    for run in runs:
        for decision in run["decisions"].get("heads", []):
            if decision["head"] not in history:
                continue  # a head that this config no longer has
            overall = next((row for row in decision["rows"] if row["slice"] == OVERALL), None)
            history[decision["head"]].append(
                {
                    "run": run["run"],
                    "evaluated_at": run["evaluated_at"],
                    "model": run["model"],
                    "baseline_model": run["baseline_model"],
                    "metric": decision["metric"],
                    "candidate": None if overall is None else overall["candidate"],
                    "baseline": None if overall is None else overall["baseline"],
                    "passed": decision["passed"],
                    "pushed": run["pushed"],
                }
            )
    return history


def read_history(metadata_path: str, pipeline_name: str, heads: Sequence[str]) -> dict[str, list[dict]] | None:
    """The history from the SQLite store at `metadata_path`; None without one (e.g. on Kubeflow)."""
    if not metadata_path or not os.path.exists(metadata_path):
        return None
    return head_history(evaluations(open_store(metadata_path), pipeline_name), heads)
