"""Test helpers for span folders of gzipped TFRecords: one way to read, write and rewrite them.

The fixture spans (tests/fixtures/) are what the converters write: folders of
`*.gz` TFRecord files of serialized tf.Examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import tensorflow as tf


def span_files(span_dir: Path) -> list[str]:
    """The span's TFRecord files, in name order (the order ImportExampleGen reads them)."""
    return sorted(str(path) for path in Path(span_dir).glob("*.gz"))


def span_records(span_dir: Path, limit: int | None = None) -> list[bytes]:
    """The serialized tf.Examples of a span, file by file, the first `limit` of them."""
    records = tf.data.TFRecordDataset(span_files(span_dir), compression_type="GZIP")
    return [record.numpy() for record in (records.take(limit) if limit is not None else records)]


def span_examples(span_dir: Path, limit: int | None = None) -> list[tf.train.Example]:
    """A span's rows as tf.Examples."""
    return [tf.train.Example.FromString(record) for record in span_records(span_dir, limit)]


def write_records(path: Path, records: Iterable[bytes | tf.train.Example]) -> None:
    """A TFRecord file, gzipped when its name ends in .gz."""
    with tf.io.TFRecordWriter(str(path), options="GZIP" if str(path).endswith(".gz") else None) as writer:
        for record in records:
            writer.write(record if isinstance(record, bytes) else record.SerializeToString())


def rewrite_span(source: Path, target: Path, change: Callable[[int, tf.train.Example], None]) -> None:
    """Copies a span file by file, calling change(row index within its file, example) on every row."""
    target.mkdir(parents=True)
    for path in span_files(source):
        examples = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path, "GZIP")]
        for i, example in enumerate(examples):
            change(i, example)
        write_records(target / Path(path).name, examples)


def set_value(feature: tf.train.Feature, value) -> None:
    """Replaces a tf.train.Feature's values with one value of the list kind its Python type calls for."""
    feature.Clear()
    if isinstance(value, bytes):
        feature.bytes_list.value.append(value)
    elif isinstance(value, int):
        feature.int64_list.value.append(value)
    else:
        feature.float_list.value.append(value)
