"""Stops the run when ExampleValidator found anomalies in any span.

ExampleValidator only reports: it writes the anomalies and the run goes on.
This gate reads them for every split (one split per span) and fails with a
message naming the span, the feature and the problem, so nothing downstream
(Transform, Trainer, Pusher) runs on bad data.
"""

import json
import os  # no `from __future__ import annotations`: TFX reads the type hints

from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils

ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomalyError(RuntimeError):
    """The input data broke the schema; the message lists every problem found."""


def split_patterns(input_config_json: str) -> dict[str, str]:
    """Split name -> file pattern, from ExampleGen's Input proto as JSON."""
    if not input_config_json:
        return {}
    return {split["name"]: split["pattern"] for split in json.loads(input_config_json).get("splits", [])}


def describe_anomalies(anomalies_by_split: dict, patterns: dict[str, str] | None = None) -> list[str]:
    """One line per (span, feature, anomaly), in split order."""
    patterns = patterns or {}
    lines = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        where = f"{patterns[split]} (split {split})" if split in patterns else f"split {split}"
        if anomalies.data_missing:  # TFDV's verdict on zero examples; ExampleValidator lets it pass
            lines.append(f"{where}: whole span: no examples: the span folder holds no records")
        for feature, info in sorted(anomalies.anomaly_info.items()):
            for reason in info.reason or [info]:
                lines.append(f"{where}: feature '{feature}': {reason.short_description}: {reason.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            for reason in anomalies.dataset_anomaly_info.reason:
                lines.append(f"{where}: whole span: {reason.short_description}: {reason.description}")
    return lines


def read_anomalies(artifact) -> dict:
    from tensorflow_data_validation.utils import anomalies_util

    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
        result[split] = anomalies_util.load_anomalies_binary(path)
    return result


def check_anomalies(artifact, input_config_json: str = "") -> None:
    """Raises DataAnomalyError listing every anomaly; returns when there are none."""
    lines = describe_anomalies(read_anomalies(artifact), split_patterns(input_config_json))
    if lines:
        raise DataAnomalyError(
            "the input data does not match the schema, so the run stops before training:\n  "
            + "\n  ".join(lines)
            + "\nFix the data, or, if the change is intended, update the curated schema."
        )


@component
def ExampleGate(  # noqa: N802 (a component class name)
    anomalies: InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    input_config: Parameter[str] = "",
) -> None:
    """TFX component: fails the run on any anomaly (see module docstring).

    `input_config` is ExampleGen's Input proto as JSON, to name each split's span folder.
    """
    check_anomalies(anomalies, input_config)
