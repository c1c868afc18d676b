"""The naive predictor of each head, fitted on the training window and scored on the evaluation span.

"A simpler model is not better" (the ML Test Score): a head must beat the
constant prediction a person could make without a model. The constant is the
training window's median (MAE) or mean (other regression metrics), its base
rate (binary) or its class prior (multiclass). Scoring a constant needs only
the labels, so this reads the label and slice columns of the raw examples
(a few seconds per 100k rows) and computes the gate metric exactly, with the
same masking as TFMA (rows whose label is missing do not count).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from components.gate.metrics import OVERALL
from contracts import storage

_EPSILON = 1e-7  # Keras' clipping of probabilities in cross-entropies


@dataclasses.dataclass(frozen=True)
class NaivePredictor:
    """A constant prediction: a number (regression, binary) or a class distribution."""

    kind: str
    value: tuple[float, ...]  # (c,) for regression and binary; the prior per class for multiclass
    description: str


def fit(kind: str, metric: str, labels: np.ndarray, classes: Sequence[str] = ()) -> NaivePredictor:
    """The constant that a head of `kind` scored by `metric` would predict, from training labels."""
    if labels.size == 0:
        raise ValueError("no training labels to fit the naive predictor on")
    if kind == "regression":
        if metric == "MeanAbsoluteError":
            value = float(np.median(labels))
            return NaivePredictor(kind, (value,), f"the training median, {value:.4g}")
        value = float(np.mean(labels))
        return NaivePredictor(kind, (value,), f"the training mean, {value:.4g}")
    if kind == "binary":
        value = float(np.mean(labels))
        return NaivePredictor(kind, (value,), f"the training base rate, {value:.4g}")
    counts = np.bincount(labels.astype(np.int64), minlength=len(classes))[: len(classes)]
    prior = counts / counts.sum()
    top = int(np.argmax(prior))
    return NaivePredictor(
        kind,
        tuple(float(p) for p in prior),
        f"the training class prior (most frequent: {classes[top]}, {prior[top]:.4g})",
    )


def score(predictor: NaivePredictor, metric: str, labels: np.ndarray) -> float | None:
    """The gate metric of the constant prediction on `labels`; None when undefined (no rows)."""
    if labels.size == 0:
        return None
    if predictor.kind == "regression":
        errors = labels.astype(np.float64) - predictor.value[0]
        if metric == "MeanAbsoluteError":
            return float(np.mean(np.abs(errors)))
        if metric == "MeanSquaredError":
            return float(np.mean(errors**2))
        if metric == "RootMeanSquaredError":
            return float(math.sqrt(np.mean(errors**2)))
    elif predictor.kind == "binary":
        p = predictor.value[0]
        y = labels.astype(np.float64)
        positive = p > 0.5
        if metric == "AUC":
            return 0.5  # a constant ranks every pair as a tie
        if metric == "AUCPrecisionRecall":
            return float(np.mean(y))  # precision is the prevalence at every recall
        if metric == "BinaryAccuracy":
            return float(np.mean(y == float(positive)))
        if metric == "Precision":
            return float(np.mean(y)) if positive else 0.0
        if metric == "Recall":
            return (1.0 if y.sum() > 0 else 0.0) if positive else 0.0
        if metric == "BinaryCrossentropy":
            q = min(max(p, _EPSILON), 1 - _EPSILON)
            return float(-np.mean(y * math.log(q) + (1 - y) * math.log(1 - q)))
    elif predictor.kind == "multiclass":
        prior = np.asarray(predictor.value)
        y = labels.astype(np.int64)
        if metric == "SparseCategoricalAccuracy":
            return float(np.mean(y == int(np.argmax(prior))))
        if metric == "SparseCategoricalCrossentropy":
            return float(-np.mean(np.log(np.clip(prior[y], _EPSILON, 1.0))))
    raise ValueError(f"no naive score for metric {metric!r} of a {predictor.kind} head")


READ_BATCH = 8192  # records parsed per call

_KIND_DTYPES = {"bytes_list": "string", "float_list": "float32", "int64_list": "int64"}


def column_dtypes(files: Sequence[str], columns: Sequence[str]) -> dict[str, str | None]:
    """Each column's tf.Example value type (string, float32, int64), from the first record that has it;
    None for a column no record has."""
    import tensorflow as tf

    found: dict[str, str | None] = dict.fromkeys(columns)
    for path in files:
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator():
            features = tf.train.Example.FromString(record).features.feature
            for name in [c for c in columns if found[c] is None and c in features]:
                kind = features[name].WhichOneof("kind")
                found[name] = _KIND_DTYPES[kind] if kind else None
            if all(found.values()):
                return found
    return found


def read_columns(split_uri: str, columns: Sequence[str]) -> dict[str, list[list]]:
    """Each column of every example in a split folder (gzipped TFRecords), as lists of values, in file
    order. Parsed by TensorFlow in batches (a row by row parse in Python took most of the gate's time)."""
    import tensorflow as tf

    files = storage.glob(storage.join(split_uri, "*"))  # a local path or object storage
    dtypes = column_dtypes(files, columns)
    spec = {name: tf.io.RaggedFeature(tf.dtypes.as_dtype(dtype)) for name, dtype in dtypes.items() if dtype}
    values: dict[str, list[list]] = {name: [] for name in columns}
    for path in files:
        for batch in tf.data.TFRecordDataset(path, compression_type="GZIP").batch(READ_BATCH):
            parsed = tf.io.parse_example(batch, spec) if spec else {}
            rows = int(batch.shape[0])
            for name in columns:
                values[name].extend(parsed[name].to_list() if name in parsed else [[] for _ in range(rows)])
    return values


def label_array(raw: Sequence[list], classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(label values, present mask) from one column; string classes become their index."""
    index = {name: i for i, name in enumerate(classes)}
    labels = np.zeros(len(raw), dtype=np.float64)
    present = np.zeros(len(raw), dtype=bool)
    for row, values in enumerate(raw):
        if not values:
            continue
        value = values[0]
        if isinstance(value, bytes):
            value = index.get(value.decode("utf-8", "replace"))
            if value is None:
                continue
        if isinstance(value, float) and math.isnan(value):
            continue
        labels[row], present[row] = float(value), True
    return labels, present


def slice_masks(raw: Mapping[str, Sequence[list]], gated: Sequence[Sequence[str]], rows: int) -> dict[str, np.ndarray]:
    """'overall' and every value combination of the gated slicings, named as TFMA names them."""
    masks = {OVERALL: np.ones(rows, dtype=bool)}
    for columns in gated:
        keys = [tuple(_text(raw[c][row][0]) if raw[c][row] else None for c in columns) for row in range(rows)]
        combos = sorted({k for k in keys if None not in k})
        number = {combo: i for i, combo in enumerate(combos)}
        index = np.array([number.get(k, -1) for k in keys], dtype=np.int64)
        for i, combo in enumerate(combos):
            name = ", ".join(f"{c}={v}" for c, v in zip(columns, combo, strict=True))
            masks[name] = index == i
    return masks


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
