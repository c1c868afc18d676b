"""What a finished run decided: its artifacts from ML Metadata, per-head outcomes.

Used by the main job, the report command and the tests. The per-head verdicts
and reasons come from the report's summary (components/report/summary.py),
so the terminal, the report and the tests say the same thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from pipeline.config import PipelineConfig
from results.metadata import open_store


@dataclasses.dataclass(frozen=True)
class RunArtifacts:
    """URIs of one run's key artifacts (None where the node did not produce one)."""

    run_id: str
    model: str | None
    evaluation: str | None
    blessing: str | None
    blessed: bool
    pushed_model: str | None
    pushed: bool
    newly_pushed: bool  # False when the same model was already the newest version
    pushed_destination: str | None
    baseline_model: str | None
    report: str | None = None  # the HeadReport artifact's folder (report.html, summary.json)
    statistics: str | None = None  # StatisticsGen's output (per split)
    reused: frozenset[str] = frozenset()  # components this run took from the cache (their results are older)


@dataclasses.dataclass(frozen=True)
class HeadOutcome:
    head: str
    passed: bool
    metric: str
    value: float | None
    baseline: float | None
    reasons: tuple[str, ...]


def _int_property(artifact, name: str) -> int | None:
    if name in artifact.custom_properties:
        return artifact.custom_properties[name].int_value
    return None


def latest_run(metadata_path: str | Path, pipeline_name: str, run_id: str | None = None) -> RunArtifacts:
    """The artifacts of `run_id` (default: the newest run) of a pipeline."""
    from ml_metadata.proto import metadata_store_pb2

    from components.report.component import HeadReport

    store = open_store(metadata_path)
    runs = [ctx for ctx in store.get_contexts_by_type("pipeline_run") if run_id is None or ctx.name == run_id]
    pipeline_ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_ctx is None:
        raise LookupError(f"no run of pipeline {pipeline_name!r} in {metadata_path}")
    if not runs:
        known = sorted(ctx.name for ctx in store.get_contexts_by_type("pipeline_run"))[-5:]
        raise LookupError(f"no run {run_id!r} of pipeline {pipeline_name!r} in {metadata_path}; newest: {known}")
    in_pipeline = {e.id for e in store.get_executions_by_context(pipeline_ctx.id)}
    runs = [r for r in runs if any(e.id in in_pipeline for e in store.get_executions_by_context(r.id))]
    if not runs:
        raise LookupError(f"no run {run_id!r} of pipeline {pipeline_name!r} in {metadata_path}")
    run = max(runs, key=lambda ctx: (ctx.create_time_since_epoch, ctx.id))
    executions = store.get_executions_by_context(run.id)
    execution_types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    reused = frozenset(
        execution_types[e.type_id] for e in executions if e.last_known_state == metadata_store_pb2.Execution.CACHED
    )
    events = store.get_events_by_execution_ids([e.id for e in executions])
    outputs = {e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT}
    inputs = {e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT}
    artifacts = store.get_artifacts_by_id(sorted(outputs | inputs))
    types = {t.id: t.name for t in store.get_artifact_types()}

    def newest(type_name: str, among: set[int], having: str | None = None):
        found = [
            a
            for a in artifacts
            if types[a.type_id] == type_name and a.id in among and (having is None or having in a.custom_properties)
        ]
        return max(found, key=lambda a: a.id) if found else None

    model = newest("Model", outputs)
    report = newest(HeadReport.TYPE_NAME, outputs)
    statistics = newest("ExampleStatistics", outputs)
    # One artifact used under several input keys (the model as its own baseline)
    # gets ONE event whose path lists every key, in no fixed order.
    baseline_ids = {
        e.artifact_id
        for e in events
        if e.type == metadata_store_pb2.Event.INPUT and any(step.key == "baseline_model" for step in e.path.steps)
    }
    baseline = next((a for a in artifacts if a.id in baseline_ids), None)
    evaluation, blessing, pushed = (
        newest("ModelEvaluation", outputs),
        newest("ModelBlessing", outputs, having="blessed"),  # the HeadGate's; the Evaluator's carries no verdict
        newest("PushedModel", outputs),
    )
    return RunArtifacts(
        run_id=run.name,
        model=model.uri if model else None,
        evaluation=evaluation.uri if evaluation else None,
        blessing=blessing.uri if blessing else None,
        blessed=bool(blessing and _int_property(blessing, "blessed") == 1),
        pushed_model=pushed.uri if pushed else None,
        pushed=bool(pushed and _int_property(pushed, "pushed") == 1),
        newly_pushed=bool(
            pushed
            and _int_property(pushed, "newly_pushed") != 0
            and _int_property(pushed, "pushed")
            and "Pusher" not in reused  # a push reused from the cache wrote nothing in this run
        ),
        pushed_destination=(
            pushed.custom_properties["pushed_destination"].string_value
            if pushed and "pushed_destination" in pushed.custom_properties
            else None
        ),
        baseline_model=baseline.uri if baseline else None,
        report=report.uri if report else None,
        statistics=statistics.uri if statistics else None,
        reused=reused,
    )


def head_outcomes(config: PipelineConfig, run: RunArtifacts) -> list[HeadOutcome]:
    """Per head: passed or failed, with a sentence per failure (from the report's summary)."""
    from components.gate.component import read_decisions
    from components.report.summary import build_summary

    decisions = read_decisions(run.blessing)
    plan = config.evaluation_plan()
    summary = build_summary(plan, run.evaluation, decisions, blessed=False, pushed=None, identity={})
    outcomes = []
    for head in summary["heads"]:
        gate = (
            next(row for row in head["overall"] if row["gated"])
            if any(row["gated"] for row in head["overall"])
            else None
        )
        outcomes.append(
            HeadOutcome(
                head=head["name"],
                passed=head["passed"],
                metric=head["gate"]["key"],
                value=gate["candidate"] if gate else None,
                baseline=gate["baseline"] if gate else None,
                reasons=tuple(head["reasons"]),
            )
        )
    return outcomes


def failed_heads(outcomes: Sequence[HeadOutcome]) -> list[str]:
    return [o.head for o in outcomes if not o.passed]
