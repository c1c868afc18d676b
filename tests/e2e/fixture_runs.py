"""Helpers for the fixture pipeline's sequence of runs (the `runs` fixture in conftest.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import tensorflow as tf

CONFIG = Path(__file__).with_name("flights_fixture.yaml")
CORRUPTED_HEAD = "delay_band"
VERY_LATE = 2  # every row labelled "very late": a labelling bug in one head
# In the environment for the whole sequence, as a credential would be: nothing written for others may hold it.
FAKE_TOKEN_VARIABLE, FAKE_TOKEN = "MHP_EXAMPLE_API_TOKEN", "mhp-fake-token-7f3a9c"


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under `directory` with the sha256 of its bytes."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def corrupt_labels(source: Path, target: Path, label: str, value: int) -> None:
    """Copies a span, setting one label to `value` wherever it is present."""
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.gz")):
        with tf.io.TFRecordWriter(str(target / path.name), options="GZIP") as writer:
            for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
                example = tf.train.Example.FromString(record.numpy())
                if label in example.features.feature:
                    example.features.feature[label].int64_list.value[:] = [value]
                writer.write(example.SerializeToString())


def rewrite_span(source: Path, target: Path, change) -> None:
    """Copies a span's gzipped TFRecord files, calling change(row index, tf.train.Example) on every row."""
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.gz")):
        with tf.io.TFRecordWriter(str(target / path.name), options="GZIP") as writer:
            for i, record in enumerate(tf.data.TFRecordDataset(str(path), compression_type="GZIP")):
                example = tf.train.Example.FromString(record.numpy())
                change(i, example)
                writer.write(example.SerializeToString())


def set_value(feature: tf.train.Feature, value) -> None:
    """Replaces a tf.train.Feature's values with one value of the list kind its Python type calls for."""
    feature.Clear()
    if isinstance(value, bytes):
        feature.bytes_list.value.append(value)
    elif isinstance(value, int):
        feature.int64_list.value.append(value)
    else:
        feature.float_list.value.append(value)
