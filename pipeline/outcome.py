"""What a finished run decided, per head: read from ML Metadata and TFMA's output.

Used by the main job's summary, the report and the tests. A head passed when
no validation failure names its output; each failure becomes a sentence with
the metric, the slice, the value, the threshold and (for a change threshold)
the baseline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.config import PipelineConfig, metric_key
from pipeline.eval_config import BASELINE, CANDIDATE


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


@dataclasses.dataclass(frozen=True)
class HeadOutcome:
    head: str
    passed: bool
    metric: str
    value: float | None
    baseline: float | None
    reasons: tuple[str, ...]


def _store(metadata_path: str | Path):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def _int_property(artifact, name: str) -> int | None:
    if name in artifact.custom_properties:
        return artifact.custom_properties[name].int_value
    return None


def latest_run(metadata_path: str | Path, pipeline_name: str, run_id: str | None = None) -> RunArtifacts:
    """The artifacts of `run_id` (default: the newest run) of a pipeline."""
    from ml_metadata.proto import metadata_store_pb2

    store = _store(metadata_path)
    runs = [ctx for ctx in store.get_contexts_by_type("pipeline_run") if run_id is None or ctx.name == run_id]
    pipeline_ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_ctx is None or not runs:
        raise LookupError(f"no run of pipeline {pipeline_name!r} in {metadata_path}")
    in_pipeline = {e.id for e in store.get_executions_by_context(pipeline_ctx.id)}
    runs = [r for r in runs if any(e.id in in_pipeline for e in store.get_executions_by_context(r.id))]
    if not runs:
        raise LookupError(f"no run {run_id!r} of pipeline {pipeline_name!r} in {metadata_path}")
    run = max(runs, key=lambda ctx: (ctx.create_time_since_epoch, ctx.id))
    executions = store.get_executions_by_context(run.id)
    events = store.get_events_by_execution_ids([e.id for e in executions])
    outputs = {e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT}
    inputs = {e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT}
    artifacts = store.get_artifacts_by_id(sorted(outputs | inputs))
    types = {t.id: t.name for t in store.get_artifact_types()}

    def newest(type_name: str, among: set[int]):
        found = [a for a in artifacts if types[a.type_id] == type_name and a.id in among]
        return max(found, key=lambda a: a.id) if found else None

    model = newest("Model", outputs)
    baseline_ids = {
        e.artifact_id
        for e in events
        if e.type == metadata_store_pb2.Event.INPUT
        and e.path.steps
        and e.path.steps[0].key == "baseline_model"
    }
    baseline = next((a for a in artifacts if a.id in baseline_ids), None)
    evaluation, blessing, pushed = (
        newest("ModelEvaluation", outputs),
        newest("ModelBlessing", outputs),
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
            pushed and _int_property(pushed, "newly_pushed") != 0 and _int_property(pushed, "pushed")
        ),
        pushed_destination=(
            pushed.custom_properties["pushed_destination"].string_value
            if pushed and "pushed_destination" in pushed.custom_properties
            else None
        ),
        baseline_model=baseline.uri if baseline else None,
    )


def slice_name(slice_key) -> str:
    """'overall' or 'origin=JFK, carrier=B6' from a TFMA SliceKey proto."""
    parts = []
    for column in slice_key.single_slice_keys:
        value = column.WhichOneof("kind")
        raw = getattr(column, value) if value else ""
        parts.append(f"{column.column}={raw.decode() if isinstance(raw, bytes) else raw}")
    return ", ".join(parts) or "overall"


def _threshold_text(threshold, higher_is_better: bool) -> str:
    if threshold.HasField("value_threshold"):
        bound = threshold.value_threshold
        if bound.HasField("lower_bound"):
            return f"must be at least {bound.lower_bound.value:g}"
        return f"must be at most {bound.upper_bound.value:g}"
    allowed = abs(threshold.change_threshold.absolute.value)
    direction = "fall" if higher_is_better else "rise"
    return f"may {direction} by at most {allowed:g} against the baseline"


def overall_metrics(evaluation_uri: str) -> dict[tuple[str, str, str, bool], float]:
    """(output, metric key, model, is_diff) -> value on the overall slice."""
    import tensorflow_model_analysis as tfma

    values = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for item in metrics.metric_keys_and_values:
            if item.value.HasField("double_value"):
                key = item.key
                values[(key.output_name, key.name, key.model_name, key.is_diff)] = (
                    item.value.double_value.value
                )
    return values


def head_outcomes(config: PipelineConfig, evaluation_uri: str) -> list[HeadOutcome]:
    """Per head: passed or failed, with a sentence per failure."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    metrics = overall_metrics(evaluation_uri)
    failures: dict[str, list[str]] = {}
    for per_slice in validation.metric_validations_per_slice:
        where = slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            key = failure.metric_key
            head = next(h for h in config.model.heads if h.name == key.output_name)
            what = "change in " if key.is_diff else ""
            baseline = (
                metrics.get((key.output_name, key.name, BASELINE, False)) if where == "overall" else None
            )
            value = failure.metric_value.double_value.value
            sentence = (
                f"{head.name}: {what}{key.name} on slice {where} is {value:.4g}; "
                f"it {_threshold_text(failure.metric_threshold, head.gate.higher_is_better)}"
            )
            if baseline is not None and key.is_diff:
                sentence += f" (baseline {baseline:.4g})"
            failures.setdefault(head.name, []).append(sentence)
    for missing in validation.missing_slices:
        failures.setdefault("*", []).append(f"slice {missing} is missing from the evaluation data")
    outcomes = []
    for head in config.model.heads:
        key = metric_key(head.kind, head.gate.metric)
        outcomes.append(
            HeadOutcome(
                head=head.name,
                passed=head.name not in failures and "*" not in failures,
                metric=key,
                # A first run has no baseline, and TFMA then reports the candidate unnamed.
                value=metrics.get(
                    (head.name, key, CANDIDATE, False), metrics.get((head.name, key, "", False))
                ),
                baseline=metrics.get((head.name, key, BASELINE, False)),
                reasons=tuple(failures.get(head.name, []) + failures.get("*", [])),
            )
        )
    return outcomes


def summary_lines(outcomes: Iterable[HeadOutcome], run: RunArtifacts) -> list[str]:
    """The terminal summary printed at the end of the main job."""
    if run.pushed:
        verdict = "PUSHED" if run.newly_pushed else "already serving (identical to the newest pushed version)"
    else:
        verdict = "NOT pushed: blocked by the evaluation" if not run.blessed else "NOT pushed"
    lines = [f"Run {run.run_id}: model {verdict}"]
    for outcome in outcomes:
        value = "n/a" if outcome.value is None else f"{outcome.value:.4g}"
        baseline = "" if outcome.baseline is None else f", baseline {outcome.baseline:.4g}"
        lines.append(
            f"  {'PASS' if outcome.passed else 'FAIL'}  {outcome.head:<16} {outcome.metric} {value}{baseline}"
        )
        lines += [f"        - {reason}" for reason in outcome.reasons]
    return lines


def failed_heads(outcomes: Sequence[HeadOutcome]) -> list[str]:
    return [o.head for o in outcomes if not o.passed]
