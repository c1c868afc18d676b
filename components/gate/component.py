"""HeadGate: the TFX component that blesses (or not) the candidate, head by head.

TFMA's own validator compares point values only (it ignores the intervals it
computes), so the Evaluator carries no thresholds here: it computes every
head's metrics, the candidate-minus-baseline differences and their standard
errors, and this component decides (components/gate/decide.py), adds the
naive predictor's lift (components/gate/naive.py), runs the serving canary
in a fresh process (components/gate/canary.py), and writes the one
ModelBlessing that the Pusher and the latest-blessed-model resolver read, with
the same properties as the Evaluator's, plus `gate.json` with every decision,
and the verdict with each head's gate metric and change as a `system.Metrics`
artifact, which the Kubeflow Pipelines UI shows beside the run.
"""

import datetime
import json  # no `from __future__ import annotations`: TFX reads the type hints
import os
from collections.abc import Sequence

import numpy as np
from tfx import v1 as tfx
from tfx.components.evaluator import constants
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact
from tfx.utils import path_utils

from components.gate import canary, decide, naive
from components.gate.decision_records import decision_record, write_record
from components.gate.metrics import OVERALL, MetricTable, load_estimates, slice_columns
from components.served_baseline import has_model
from contracts.evaluation_plan import EvaluationPlan
from contracts.spans import EVAL_SPLIT, split_folders
from trainer import training_record

DECISIONS_FILE = "gate.json"
CHANGE_SUFFIX = ".change"  # a head's gate metric's change against the baseline, in the metrics artifact


class GateMetrics(Artifact):
    """The verdict (`blessed` 1 or 0) and each head's gate metric on the overall slice, and its change."""

    # The type the KFP UI shows as scalar metrics. TFX's container entrypoint imports it by that name:
    # the image's module `system` answers it (Dockerfile).
    TYPE_NAME = "system.Metrics"


def record_metrics(metrics: Artifact, blessed: bool, decisions: Sequence[decide.HeadDecision]) -> None:
    """`blessed`, then `<head>.<metric>` and `<head>.<metric>.change` on the overall slice, where known."""
    metrics.set_int_custom_property("blessed", int(blessed))
    for decision in decisions:
        overall = next((row for row in decision.rows if row.slice == OVERALL), None)
        name = f"{decision.head}.{decision.metric}"
        if overall is not None and overall.candidate is not None:
            metrics.set_float_custom_property(name, float(overall.candidate))
        if overall is not None and overall.change is not None:
            metrics.set_float_custom_property(name + CHANGE_SUFFIX, float(overall.change))


def read_decisions(blessing_uri: str) -> dict:
    """The gate's decisions in a ModelBlessing folder (local or object storage): what every reader of a
    run's verdict reads. FileNotFoundError when there are none (a gate that did not finish)."""
    path = os.path.join(blessing_uri, DECISIONS_FILE)
    if not fileio.exists(path):
        raise FileNotFoundError(f"no {DECISIONS_FILE} in {blessing_uri}: the gate did not finish there")
    with fileio.open(path) as handle:
        return json.load(handle)


def gated_slice_names(metrics: MetricTable, gated_columns: Sequence[Sequence[str]]) -> list[str]:
    """The slices of the evaluation that belong to a gated slicing, sorted."""
    wanted = {tuple(columns) for columns in gated_columns}
    return sorted(name for name in metrics if name != OVERALL and slice_columns(name) in wanted)


def naive_scores(examples, plan: EvaluationPlan) -> dict[str, tuple[dict[str, float | None], str]]:
    """Per head: the naive predictor's gate metric per gated slice, and what it predicts."""
    splits = artifact_utils.decode_split_names(examples.split_names)
    labels = [head.label for head in plan.heads]
    slice_columns = sorted({c for columns in plan.gated_slices for c in columns})
    train = [naive.read_columns(artifact_utils.get_split_uri([examples], s), labels) for s in splits if s != EVAL_SPLIT]
    evaluation = naive.read_columns(artifact_utils.get_split_uri([examples], EVAL_SPLIT), labels + slice_columns)
    rows = len(evaluation[labels[0]]) if labels else 0
    masks = naive.slice_masks(evaluation, plan.gated_slices, rows)
    result = {}
    for head in plan.heads:
        classes = list(head.classes)
        fitted = [naive.label_array(part[head.label], classes) for part in train]
        train_labels = [values[present] for values, present in fitted]
        predictor = naive.fit(head.kind, head.gate.metric, np.concatenate(train_labels), classes)
        values, present = naive.label_array(evaluation[head.label], classes)
        metric = head.gate.metric
        scores = {where: naive.score(predictor, metric, values[mask & present]) for where, mask in masks.items()}
        result[head.name] = (scores, predictor.description)
    return result


def decide_all(plan: EvaluationPlan, evaluation_uri: str, examples) -> list[decide.HeadDecision]:
    metrics = load_estimates(evaluation_uri)
    gated = gated_slice_names(metrics, plan.gated_slices)
    scores = naive_scores(examples, plan)
    return [
        decide.decide_head(
            head,
            metrics,
            scores[head.name][0],
            scores[head.name][1],
            gated,
            plan.min_slice_examples,
            plan.confidence,
        )
        for head in plan.heads
    ]


@component
def HeadGate(  # noqa: N802 (a component class name)
    evaluation: InputArtifact[tfx.types.standard_artifacts.ModelEvaluation],
    model: InputArtifact[tfx.types.standard_artifacts.Model],
    examples: InputArtifact[tfx.types.standard_artifacts.Examples],
    blessing: OutputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    metrics: OutputArtifact[GateMetrics],
    gate_config: Parameter[str],
    # Where each decision is recorded for the reports' history (under the pipeline root); empty: nowhere.
    history_dir: Parameter[str] = "",
    # ExampleGen's input config as JSON (the run's spans), kept in the decision record.
    spans: Parameter[str] = "",
    # Optional input (a first run has no baseline): TFX's form is a None default, no Optional[].
    baseline_model: InputArtifact[tfx.types.standard_artifacts.Model] = None,
) -> None:
    """Blesses the candidate when every head passes every rule (see module docstring)."""
    plan = EvaluationPlan.from_json(gate_config)
    started = canary.start_canary(  # in its own process, while this one decides
        path_utils.serving_model_path(model.uri),
        artifact_utils.get_split_uri([examples], EVAL_SPLIT),
        plan.heads,
    )
    try:
        decisions = decide_all(plan, evaluation.uri, examples)
    except BaseException:
        started.kill()
        raise
    serving_check = canary.canary_result(started)
    blessed = all(d.passed for d in decisions) and serving_check["passed"]
    gate_file = {
        "blessed": blessed,
        "confidence": plan.confidence,
        "evaluation": evaluation.uri,
        "heads": [d.to_dict() for d in decisions],
        "canary": serving_check,
    }
    # fileio: a Kubeflow pipeline root is usually on object storage.
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, DECISIONS_FILE), "w") as handle:
        handle.write(json.dumps(gate_file, indent=2, sort_keys=True))
    # The properties TFX's Evaluator writes: the resolver and the Pusher read them.
    blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    if has_model(baseline_model):  # an empty ServedBaseline output: no baseline (Kubeflow's first run)
        blessing.set_string_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline_model.uri)
        blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline_model.id)
    marker = constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME
    with fileio.open(os.path.join(blessing.uri, marker), "w"):
        pass
    blessing.set_int_custom_property(
        constants.ARTIFACT_PROPERTY_BLESSED_KEY, constants.BLESSED_VALUE if blessed else constants.NOT_BLESSED_VALUE
    )
    record_metrics(metrics, blessed, decisions)
    if history_dir:
        baseline_uri = baseline_model.uri if has_model(baseline_model) else None
        now = datetime.datetime.now(datetime.UTC)
        trained = training_record.read_record(path_utils.serving_model_path(model.uri))
        record = decision_record(
            gate_file,
            model.uri,
            baseline_uri,
            blessing.uri,
            now,
            window=split_folders(spans),
            training_id=trained["id"] if trained else None,
        )
        write_record(history_dir, record)
