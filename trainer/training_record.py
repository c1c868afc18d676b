"""What trained a model, kept with the model: its settings, the code and the rows it learned from.

The first question about a blocked candidate is what changed since the
baseline. The run that trains a model knows its answer's half, so the Trainer
writes it next to the SavedModel (`assets.extra/`, which TF Serving ignores
and the Pusher copies with the model): the Trainer's configuration as the run
recorded it (custom_config: the features, the heads' losses, the trainer
settings), the code version, and a digest of the training rows. A model taken
from ML Metadata or from the serving directory carries it alike, locally and
on Kubeflow. The training window's span names are recorded by the gate
(components/gate/decision_records.py), which sees the run's spans.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from trainer.code_version import commit as code_commit
from trainer.window import Window

RECORD_FILE = "assets.extra/training_record.json"
FORMAT = 1
PACKAGE = "multihead-tfx"


def code_version() -> dict[str, str | None]:
    """The package's version (when installed) and the code's commit (trainer/code_version.py), or None."""
    try:
        package = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        package = None
    return {"package": package, "commit": code_commit()}


def rows_digest(columns: Mapping[str, np.ndarray]) -> str:
    """A digest of the window's rows in their canonical order (trainer/data.py): the same rows give the
    same digest however they were written."""
    digest = hashlib.sha256()
    for name in sorted(columns):
        values = np.ascontiguousarray(columns[name])
        digest.update(name.encode())
        digest.update(str(values.dtype).encode())
        digest.update(values.tobytes() if values.dtype != object else b"\0".join(map(bytes, values.ravel())))
    return digest.hexdigest()[:16]


def window_digest(window: Window) -> str:
    """`rows_digest` of a window held whole; a bucketed one's digest of its rows' hashes, summed as
    they streamed by (trainer/window.py): either way the rows, not their layout."""
    return rows_digest(window.whole) if window.whole is not None else window.stream_digest


def build_record(settings: Mapping[str, Any], train_rows: int, train_digest: str) -> dict[str, Any]:
    """The record of one training; its id is a digest of everything else in it."""
    record = {
        "format": FORMAT,
        "settings": dict(settings),
        "code": code_version(),
        "data": {"train_rows": int(train_rows), "train_digest": train_digest},
    }
    record["id"] = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    return record


def write_record(serving_model_dir: str, record: Mapping[str, Any]) -> None:
    import tensorflow as tf

    path = f"{serving_model_dir}/{RECORD_FILE}"
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_record(serving_model_dir: str) -> dict[str, Any] | None:
    """The record beside a SavedModel (a Trainer's Format-Serving folder or a pushed version); None for a
    model trained before records were kept."""
    import tensorflow as tf

    path = f"{serving_model_dir.rstrip('/')}/{RECORD_FILE}"
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)
