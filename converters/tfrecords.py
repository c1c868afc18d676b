"""Rows -> serialized tf.Examples -> gzipped TFRecord span folders.

Shared by the converters: a missing value (None, NaN) is left out of its
Example, maps are serialized with sorted keys (so the same rows give the same
bytes every run), rows are dealt round-robin over the shards, and a span is
written aside and renamed into place, so a killed conversion never leaves a
half-written span where the pipeline would read it.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

SHARD_FILE = "part-{index:05d}-of-{count:05d}.tfrecord.gz"


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def to_example(row: Mapping[str, object], ints: Sequence[str], floats: Sequence[str], strings: Sequence[str]) -> bytes:
    """One row as a serialized tf.Example with one value per present column."""
    import tensorflow as tf

    feature = {}
    for name in strings:
        if not is_missing(row[name]):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(row[name]).encode()]))
    for name in ints:
        if not is_missing(row[name]):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row[name])]))
    for name in floats:
        if not is_missing(row[name]):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(row[name])]))
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)  # sorted map keys: same bytes every run


def write_span(records: Iterable[bytes], span_dir: Path, shards: int) -> list[Path]:
    """Writes serialized records as `shards` gzipped files, atomically per span."""
    import tensorflow as tf

    if shards < 1:
        raise ValueError(f"--shards must be at least 1, got {shards}")
    partial = span_dir.parent / f".partial-{span_dir.name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    names = [SHARD_FILE.format(index=k, count=shards) for k in range(shards)]
    writers = [tf.io.TFRecordWriter(str(partial / name), options="GZIP") for name in names]
    try:
        for position, record in enumerate(records):
            writers[position % shards].write(record)
    finally:
        for writer in writers:
            writer.close()
    shutil.rmtree(span_dir, ignore_errors=True)
    partial.rename(span_dir)
    return [span_dir / name for name in names]
