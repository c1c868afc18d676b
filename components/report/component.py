"""PerHeadReport: a TFX component that writes the report after every evaluation.

Runs on every run, blessed or not, after the Pusher (so the verdict is what
really happened), and writes `report.html` (self-contained, opens offline) and
`summary.json` into its HeadReport artifact. On Kubeflow Pipelines the same
report also goes out as a `system.HTML` artifact and its first screen as a
`system.Markdown` artifact: the two types the KFP UI renders in a run's
Visualizations tab.
"""

import json  # no `from __future__ import annotations`: TFX reads the type hints

from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact
from tfx.utils import io_utils, path_utils

from components.gate.component import read_decisions
from components.gate.decision_records import read_records
from components.report.changes import what_changed
from components.report.drift import data_changes, window_splits
from components.report.history import head_history
from components.report.identity import artifact_location, report_identity
from components.report.markdown import render_markdown
from components.report.render import render_html
from components.report.summary import build_summary
from components.served_baseline import has_model
from contracts import storage
from contracts.evaluation_plan import EvaluationPlan
from contracts.spans import split_folders
from trainer.training_record import read_record

HTML_FILE = "report.html"
JSON_FILE = "summary.json"


class HeadReport(Artifact):
    """The per-head report of one evaluation: report.html and summary.json."""

    # KFP v2 wants "<namespace>.<Name>", and TFX's container entrypoint imports that title as a class
    # path: `components` answers it (components/__init__.py), or a Kubeflow task fails to load the type.
    TYPE_NAME = "components.HeadReport"


# The KFP UI renders an artifact by its type name, and only these two (a file at the artifact's URI,
# so they are value artifacts). TFX's container entrypoint imports them by that name: the image
# installs a module `system` that answers it (Dockerfile).
class ReportHtml(standard_artifacts.String):
    """The report as one HTML file, for the Kubeflow Pipelines UI."""

    TYPE_NAME = "system.HTML"


class ReportMarkdown(standard_artifacts.String):
    """The report's first screen in Markdown, for the Kubeflow Pipelines UI."""

    TYPE_NAME = "system.Markdown"


def recorded_window(records: list[dict], model_uri: str, training: dict | None) -> dict[str, str] | None:
    """The spans a model was trained on, from the gate's record of the run that trained it: the record of
    that model artifact, or (a model taken from the serving directory) of its training record's id."""
    for record in reversed(records):
        same_model = record.get("model") == model_uri
        same_training = training is not None and record.get("training_id") == training.get("id")
        if (same_model or same_training) and record.get("window"):
            return record["window"]
    return None


def named_by_span(data: dict, folders: dict[str, str]) -> dict:
    """The drift summary with its splits named as the span folders they read (span-11, not train_3)."""
    if not folders:
        return data

    def rename(split: str) -> str:
        return folders.get(split, split)

    named = {**data, "train_split": rename(data["train_split"]), "eval_split": rename(data["eval_split"])}
    named["labels"] = [
        {**label, "rates": {rename(split): rate for split, rate in label["rates"].items()}} for label in data["labels"]
    ]
    return named


def write_report(summary: dict, directory: str, min_examples: int) -> tuple[str, str]:
    """Writes both files; returns their paths."""
    html_path, json_path = storage.join(directory, HTML_FILE), storage.join(directory, JSON_FILE)
    storage.write_text(html_path, render_html(summary, min_examples))
    storage.write_text(json_path, json.dumps(summary, indent=2, sort_keys=True))
    return html_path, json_path


@component
def PerHeadReport(  # noqa: N802 (a component class name)
    evaluation: InputArtifact[tfx.types.standard_artifacts.ModelEvaluation],
    blessing: InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    model: InputArtifact[tfx.types.standard_artifacts.Model],
    pushed_model: InputArtifact[tfx.types.standard_artifacts.PushedModel],
    statistics: InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    schema: InputArtifact[tfx.types.standard_artifacts.Schema],
    report: OutputArtifact[HeadReport],
    report_html: OutputArtifact[ReportHtml],
    report_markdown: OutputArtifact[ReportMarkdown],
    report_config: Parameter[str],
    pipeline_name: Parameter[str],
    spans: Parameter[str] = "",
    # The gate's decision records (under the pipeline root), for each head's history.
    history_dir: Parameter[str] = "",
    # Optional input (a first run has no baseline): TFX's form is a None default, no Optional[].
    baseline_model: InputArtifact[tfx.types.standard_artifacts.Model] = None,
) -> None:
    """Writes the report of this run's evaluation (see module docstring)."""
    plan = EvaluationPlan.from_json(report_config)
    pushed = pushed_model.get_int_custom_property("pushed") == 1
    spans_text = ", ".join(f"{s['name']}: {s['pattern']}" for s in json.loads(spans)["splits"]) if spans else ""
    identity = report_identity(
        pipeline_name,
        model=model.uri,
        baseline_model=baseline_model.uri if has_model(baseline_model) else None,
        evaluation=evaluation.uri,
        pushed_destination=(
            pushed_model.mlmd_artifact.custom_properties["pushed_destination"].string_value if pushed else None
        ),
        extra={"data spans": spans_text},
    )
    identity["blessing"] = artifact_location(blessing.uri)
    identity["report"] = artifact_location(report.uri)
    decisions = read_decisions(blessing.uri)
    folders = split_folders(spans)
    records = read_records(history_dir) if history_dir else []
    changes = None
    if has_model(baseline_model):
        baseline_record = read_record(path_utils.serving_model_path(baseline_model.uri))
        changes = what_changed(
            read_record(path_utils.serving_model_path(model.uri)),
            baseline_record,
            folders,
            recorded_window(records, baseline_model.uri, baseline_record),
        )
    summary = build_summary(
        plan,
        evaluation.uri,
        decisions,
        blessed=blessing.get_int_custom_property("blessed") == 1,
        pushed=pushed,
        identity=identity,
        history=head_history(records, [head.name for head in plan.heads]) if history_dir else None,
        data=named_by_span(
            data_changes(
                statistics.uri,
                io_utils.get_only_uri_in_dir(schema.uri),
                window_splits(statistics.uri),
                plan.inputs,
                plan.heads,
            ),
            folders,
        ),
        changes=changes,
    )
    html_path, _ = write_report(summary, report.uri, plan.min_slice_examples)
    storage.write_text(report_html.uri, storage.read_text(html_path))
    storage.write_text(report_markdown.uri, render_markdown(summary, artifact_location(report.uri) + "/" + HTML_FILE))
