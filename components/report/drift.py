"""What changed in the data between the training window and the evaluation span.

Read from StatisticsGen's output, no new pass over the data: TFDV's own drift
comparators (L-infinity distance for categorical features, Jensen-Shannon
divergence for numeric ones) on every model input, comparing the evaluation
span with the newest training span (the month before it, for flights: what
changed since the data the model saw last), and each head's label base rate
in every span of the window. A regressed head is shown next to the features
that moved most.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from contracts.spans import EVAL_SPLIT
from trainer.specs import HeadSpec

STATS_FILE = "FeatureStats.pb"  # StatisticsGen's file in each Split-<name> folder
L_INFINITY, JENSEN_SHANNON = "L-infinity", "Jensen-Shannon"


def _is_categorical(feature) -> bool:
    from tensorflow_metadata.proto.v0 import schema_pb2

    return (
        feature.type == schema_pb2.BYTES
        or feature.HasField("domain")
        or (feature.HasField("int_domain") and feature.int_domain.is_categorical)
    )


def feature_distances(train, evaluation, schema, inputs: Sequence[str]) -> list[dict[str, Any]]:
    """Each input's distance between two splits' statistics, largest first (TFDV's drift comparators)."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    compared = schema_pb2.Schema()
    compared.CopyFrom(schema)
    measure = {}
    for feature in compared.feature:
        if feature.name not in inputs:
            continue
        if _is_categorical(feature):
            feature.drift_comparator.infinity_norm.threshold = 1.0  # a threshold makes TFDV measure it
            measure[feature.name] = L_INFINITY
        else:
            feature.drift_comparator.jensen_shannon_divergence.threshold = 1.0
            measure[feature.name] = JENSEN_SHANNON
    anomalies = tfdv.validate_statistics(evaluation, compared, previous_statistics=train)
    found = []
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        if name in measure and info.drift_measurements:
            found.append({"feature": name, "measure": measure[name], "distance": info.drift_measurements[0].value})
    return sorted(found, key=lambda row: (-row["distance"], row["feature"]))


def _feature(statistics, name: str):
    return next((f for f in statistics.datasets[0].features if ".".join(f.path.step) == name), None)


def label_rates(statistics, head: HeadSpec) -> dict[str, Any] | None:
    """A head's label in one split: the share of positives, the mean, or each class's share."""
    feature = _feature(statistics, head.label)
    if feature is None or not feature.HasField("num_stats"):
        return None
    stats = feature.num_stats
    present = stats.common_stats.num_non_missing
    if head.kind != "multiclass":
        return {"labelled": int(present), "mean": stats.mean}
    histogram = next((h for h in stats.histograms if h.type == h.STANDARD), None)
    counts = [0.0] * len(head.classes)
    for bucket in histogram.buckets if histogram else []:
        for index in range(len(counts)):  # buckets are equal-width over [min, max]: a class is an integer
            if bucket.low_value <= index < bucket.high_value or (index == bucket.high_value == stats.max):
                counts[index] += bucket.sample_count
    total = sum(counts) or 1.0
    return {"labelled": int(present), "shares": [count / total for count in counts]}


def window_splits(statistics_uri: str) -> list[str]:
    """The splits of a StatisticsGen artifact in time order: train_1 .. train_k (oldest first), then the
    evaluation split (contracts/spans.py names them)."""
    from tfx.dsl.io import fileio

    names = [name.rstrip("/").removeprefix("Split-") for name in fileio.listdir(statistics_uri)]
    trains = sorted((n for n in names if n != EVAL_SPLIT), key=lambda n: int(n.rsplit("_", 1)[-1]))
    return [*trains, EVAL_SPLIT]


def load_split(statistics_uri: str, split: str):
    """One split's DatasetFeatureStatisticsList from a StatisticsGen artifact folder."""
    import tensorflow_data_validation as tfdv

    return tfdv.load_stats_binary(os.path.join(statistics_uri, f"Split-{split}", STATS_FILE))


def data_changes(
    statistics_uri: str,
    schema_path: str,
    splits: Sequence[str],
    inputs: Sequence[str],
    heads: Sequence[HeadSpec],
) -> dict[str, Any]:
    """Input drift (newest training split against the evaluation split, the last of `splits`) and the
    labels' rates in every split, for summary.json."""
    import tensorflow_data_validation as tfdv

    schema = tfdv.load_schema_text(schema_path)
    statistics = {split: load_split(statistics_uri, split) for split in splits}
    train, evaluation = splits[-2], splits[-1]
    return {
        "train_split": train,
        "eval_split": evaluation,
        "features": feature_distances(statistics[train], statistics[evaluation], schema, inputs),
        "labels": [
            {
                "head": head.name,
                "label": head.label,
                "kind": head.kind,
                "classes": list(head.classes),
                "rates": {split: label_rates(statistics[split], head) for split in splits},
            }
            for head in heads
        ],
    }
