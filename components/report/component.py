"""PerHeadReport: a TFX component that writes the report after every evaluation.

Runs on every run, blessed or not, after the Pusher (so the verdict is what
really happened), and writes `report.html` (self-contained, opens offline) and
`summary.json` into its HeadReport artifact.
"""

import json  # no `from __future__ import annotations`: TFX reads the type hints
import os

from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.artifact import Artifact

from components.gate.component import DECISIONS_FILE
from components.report.render import render_html
from components.report.summary import build_summary
from components.served_baseline import has_model

HTML_FILE = "report.html"
JSON_FILE = "summary.json"


class HeadReport(Artifact):
    """The per-head report of one evaluation: report.html and summary.json."""

    # KFP v2 wants "<namespace>.<Name>", and TFX's container entrypoint imports that title as a class
    # path: `components` answers it (components/__init__.py), or a Kubeflow task fails to load the type.
    TYPE_NAME = "components.HeadReport"


def write_report(summary: dict, directory: str, min_examples: int) -> tuple[str, str]:
    """Writes both files; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    html_path, json_path = os.path.join(directory, HTML_FILE), os.path.join(directory, JSON_FILE)
    with open(html_path, "w", encoding="utf-8") as handle:
        handle.write(render_html(summary, min_examples))
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    return html_path, json_path


@component
def PerHeadReport(  # noqa: N802 (a component class name)
    evaluation: InputArtifact[tfx.types.standard_artifacts.ModelEvaluation],
    blessing: InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    model: InputArtifact[tfx.types.standard_artifacts.Model],
    pushed_model: InputArtifact[tfx.types.standard_artifacts.PushedModel],
    report: OutputArtifact[HeadReport],
    report_config: Parameter[str],
    pipeline_name: Parameter[str],
    spans: Parameter[str] = "",
    # Optional input (a first run has no baseline): TFX's form is a None default, no Optional[].
    baseline_model: InputArtifact[tfx.types.standard_artifacts.Model] = None,
) -> None:
    """Writes the report of this run's evaluation (see module docstring)."""
    config = json.loads(report_config)
    pushed = pushed_model.get_int_custom_property("pushed") == 1
    identity = {
        "pipeline": pipeline_name,
        "model": model.uri,
        "baseline model": baseline_model.uri if has_model(baseline_model) else "none (first blessed model)",
        "data spans": ", ".join(f"{s['name']}: {s['pattern']}" for s in json.loads(spans)["splits"]) if spans else "",
        "evaluation (tfma.load_eval_result)": evaluation.uri,
        "blessing": blessing.uri,
        "pushed to": (
            pushed_model.mlmd_artifact.custom_properties["pushed_destination"].string_value if pushed else "not pushed"
        ),
        "report": report.uri,
    }
    with open(os.path.join(blessing.uri, DECISIONS_FILE), encoding="utf-8") as handle:
        decisions = json.load(handle)
    summary = build_summary(
        config,
        evaluation.uri,
        decisions,
        blessed=blessing.get_int_custom_property("blessed") == 1,
        pushed=pushed,
        identity=identity,
    )
    write_report(summary, report.uri, config["min_slice_examples"])
