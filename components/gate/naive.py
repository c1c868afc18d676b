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


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a split: each row's first value (undefined where `present` is False) and whether
    the row has one. Labels and slice keys are single values; only the first is read."""

    values: np.ndarray  # float32, int64, or object (bytes)
    present: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.present)


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


def _first_values(ragged, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first value of a parsed ragged column, and whether it has one (no Python per row)."""
    lengths = ragged.row_lengths().numpy()
    starts = ragged.row_starts().numpy()
    flat = ragged.flat_values.numpy()
    present = lengths > 0
    values = np.zeros(rows, dtype=flat.dtype) if flat.dtype != object else np.full(rows, b"", dtype=object)
    values[present] = flat[starts[present]]
    return values, present


def read_columns(split_uri: str, columns: Sequence[str]) -> dict[str, Column]:
    """Each column of every example in a split folder (gzipped TFRecords), in file order. Parsed by
    TensorFlow in batches and kept as arrays: a row by row parse in Python took most of the gate's time."""
    import tensorflow as tf

    files = storage.glob(storage.join(split_uri, "*"))  # a local path or object storage
    dtypes = column_dtypes(files, columns)
    spec = {name: tf.io.RaggedFeature(tf.dtypes.as_dtype(dtype)) for name, dtype in dtypes.items() if dtype}
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in columns}
    for path in files:
        for batch in tf.data.TFRecordDataset(path, compression_type="GZIP").batch(READ_BATCH):
            parsed = tf.io.parse_example(batch, spec) if spec else {}
            rows = int(batch.shape[0])
            for name in columns:
                if name in parsed:
                    parts[name].append(_first_values(parsed[name], rows))
                else:
                    parts[name].append((np.zeros(rows), np.zeros(rows, dtype=bool)))
    result = {}
    for name, pieces in parts.items():
        if not pieces:
            result[name] = Column(np.zeros(0), np.zeros(0, dtype=bool))
            continue
        values = [v for v, _ in pieces]
        if any(v.dtype == object for v in values):  # a string column, with all-missing batches among it
            values = [v if v.dtype == object else np.full(len(v), b"", dtype=object) for v in values]
        result[name] = Column(np.concatenate(values), np.concatenate([p for _, p in pieces]))
    return result


def label_array(column: Column, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(label values, present mask) from one column; string classes become their index, an unknown
    class or a NaN is a missing label."""
    present = column.present.copy()
    labels = np.zeros(len(column), dtype=np.float64)
    if column.values.dtype == object:
        index = {name: i for i, name in enumerate(classes)}
        uniques, inverse = np.unique(column.values[present], return_inverse=True)
        codes = np.array([index.get(_text(u), -1) for u in uniques], dtype=np.int64)[inverse]
        known = codes >= 0
        rows = np.flatnonzero(present)
        labels[rows[known]] = codes[known]
        present[rows[~known]] = False
        return labels, present
    labels[present] = column.values[present].astype(np.float64)
    present &= ~np.isnan(labels)
    labels[~present] = 0.0
    return labels, present


def slice_masks(raw: Mapping[str, Column], gated: Sequence[Sequence[str]], rows: int) -> dict[str, np.ndarray]:
    """'overall' and every value combination of the gated slicings, named as TFMA names them."""
    masks = {OVERALL: np.ones(rows, dtype=bool)}
    for columns in gated:
        has_all = np.ones(rows, dtype=bool)
        texts, codes = [], []
        for name in columns:
            column = raw[name]
            has_all &= column.present
            uniques, inverse = np.unique(column.values[column.present], return_inverse=True)
            code = np.full(rows, -1, dtype=np.int64)
            code[column.present] = inverse
            texts.append([_text(u) for u in uniques.tolist()])
            codes.append(code)
        keys = np.stack(codes, axis=1)[has_all] if codes else np.zeros((0, 0), dtype=np.int64)
        combos, inverse = np.unique(keys, axis=0, return_inverse=True) if len(keys) else (keys, keys)
        named = sorted(
            (tuple(texts[c][code] for c, code in enumerate(combo)), i) for i, combo in enumerate(combos.tolist())
        )
        index = np.full(rows, -1, dtype=np.int64)
        index[has_all] = np.asarray(inverse).reshape(-1)
        for combo, i in named:
            name = ", ".join(f"{c}={v}" for c, v in zip(columns, combo, strict=True))
            masks[name] = index == i
    return masks


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
