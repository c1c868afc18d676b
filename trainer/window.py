"""The training window in buckets of bounded size, by a hash of each row's content.

A window that fits one bucket (`BUCKET_ROWS`, about 13 MB of flights columns)
is held whole, in the canonical order of trainer/data.py, as before. A larger
one is read once, as a stream: each row goes to bucket `hash(row) mod B`
(B = rows / BUCKET_ROWS, rounded up), written to a local folder in segments,
`FLUSH_ROWS` rows at a time; then each bucket's segments are joined into one
file in canonical order. Training holds one bucket at a time: read back and
permuted by the seed.

The hash is of the row's values (floats by their bits, strings by their
bytes), so which rows share a bucket, and so the training order, depends on the
rows and the seed only, not on how the files were sharded, ordered, compressed
or serialized. Each bucket is a pseudo-random sample of the whole window, so a
pass still draws from every span early and late.

With several workers each worker owns the buckets `b mod workers == worker`:
it keeps only those rows from the stream and trains on them, so no worker
holds or reads back another worker's part.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import shutil
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

BUCKET_ROWS = 1 << 17  # rows held at once while training on a large window
FLUSH_ROWS = 1 << 16  # rows buffered from the stream before they are written to their buckets
READ_BATCH = 4096  # records per read step while loading the window


@dataclasses.dataclass
class Window:
    """A window's rows: in memory (one bucket) or in bucket files under `folder`."""

    rows: int
    buckets: int
    owned: tuple[int, ...]  # the buckets this worker trains on
    whole: dict[str, np.ndarray] | None = None  # the one bucket, when the window fits one
    folder: Path | None = None
    stream_digest: str = ""  # a bucketed window's rows, whatever their order (every row, all workers')

    def bucket(self, index: int) -> dict[str, np.ndarray]:
        """One bucket's rows in canonical order (sorted by every column's values)."""
        if self.whole is not None:
            return self.whole
        path = self.folder / f"bucket-{index:05d}.npz"
        return dict(np.load(path, allow_pickle=True)) if path.exists() else {}

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        """Removes the bucket files."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def row_hashes(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """A 64-bit hash of each row's values (FNV-1a over each column's bits, then splitmix64's mixer)."""
    hashes = np.full(len(next(iter(columns.values()))), 0xCBF29CE484222325, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in sorted(columns):
            flat = columns[name].reshape(len(hashes), -1)
            if flat.dtype == object:
                flat = np.array([[zlib.crc32(bytes(v)) for v in row] for row in flat], dtype=np.uint64)
            elif flat.dtype.kind == "f":
                flat = flat.view(np.uint32 if flat.dtype.itemsize == 4 else np.uint64)
            for part in flat.astype(np.uint64).T:
                hashes = (hashes ^ part) * np.uint64(0x100000001B3)
        hashes ^= hashes >> np.uint64(30)
        hashes *= np.uint64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> np.uint64(27)
        hashes *= np.uint64(0x94D049BB133111EB)
        hashes ^= hashes >> np.uint64(31)
    return hashes


def window_files(file_patterns: Sequence[str]) -> list[str]:
    """Every file the patterns match, sorted (TFX's split patterns end in `*`)."""
    files = sorted({name for pattern in file_patterns for name in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"no training files match {list(file_patterns)}")
    return files


def canonical_columns(
    file_patterns: Sequence[str], feature_spec: Mapping[str, tf.io.FixedLenFeature]
) -> dict[str, np.ndarray]:
    """Every row of the window, parsed into one array per column and sorted by its values (all
    columns, in name order): the same arrays however the rows were sharded, ordered, compressed
    (TFRecord files, gzipped when named `.gz`) or serialized (a tf.Example's features may be
    written in any order, and Transform's are)."""
    files = window_files(file_patterns)
    spec = dict(feature_spec)
    chunks = list(
        _reader(files).batch(READ_BATCH).map(lambda rows: tf.io.parse_example(rows, spec)).as_numpy_iterator()
    )
    if not chunks:
        raise ValueError(f"the training files hold no rows: {files}")
    return canonical_order({name: np.concatenate([chunk[name] for chunk in chunks]) for name in sorted(spec)})


def canonical_order(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows sorted by their values, all columns in name order (the first is the primary key)."""
    keys = [part for name in sorted(columns) for part in sort_keys(columns[name])]
    order = np.lexsort(keys[::-1])
    return {name: columns[name][order] for name in sorted(columns)}


def sort_keys(values: np.ndarray) -> list[np.ndarray]:
    """One integer key per element of a row: floats by their bits (so -0.0, 0.0 and NaNs are told
    apart and no two different rows tie), strings by their rank."""
    flat = values.reshape(len(values), -1)
    if flat.dtype == object:
        return [np.unique(part, return_inverse=True)[1] for part in flat.T]
    if flat.dtype.kind == "f":
        flat = flat.view(np.int32 if flat.dtype.itemsize == 4 else np.int64)
    return list(flat.T)


def _reader(files: Sequence[str]) -> tf.data.TFRecordDataset:
    compressed = {name.endswith(".gz") for name in files}
    if len(compressed) > 1:
        raise ValueError(f"the window mixes gzipped and plain TFRecord files: {list(files)}")
    return tf.data.TFRecordDataset(
        list(files), compression_type="GZIP" if compressed.pop() else "", num_parallel_reads=tf.data.AUTOTUNE
    )


def open_window(
    files: Sequence[str],
    feature_spec: Mapping[str, tf.io.FixedLenFeature],
    worker: int = 0,
    workers: int = 1,
    bucket_rows: int = BUCKET_ROWS,
) -> Window:
    """The window of `files` (`window_files`), held whole or bucketed on local disk."""
    rows = int(_reader(files).reduce(np.int64(0), lambda count, _: count + 1))
    if rows == 0:
        raise ValueError(f"the training files hold no rows: {list(files)}")
    buckets = math.ceil(rows / bucket_rows)
    if buckets == 1:
        return Window(rows, 1, (0,), whole=canonical_columns(files, feature_spec))
    buckets = max(buckets, workers)  # every worker owns at least one bucket
    folder = Path(tempfile.mkdtemp(prefix="training-window-"))
    window = Window(rows, buckets, tuple(b for b in range(buckets) if b % workers == worker), folder=folder)
    spec = dict(feature_spec)
    buffered: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    held, segment = 0, 0
    total, mixed = np.uint64(0), np.uint64(0)
    try:
        for chunk in _reader(files).batch(READ_BATCH).map(lambda r: tf.io.parse_example(r, spec)).as_numpy_iterator():
            hashes = row_hashes(chunk)
            with np.errstate(over="ignore"):
                total += np.sum(hashes, dtype=np.uint64)
            mixed ^= np.bitwise_xor.reduce(hashes)
            bucket = (hashes % np.uint64(buckets)).astype(np.int64)
            mine = bucket % workers == worker
            buffered.append((bucket[mine], {name: values[mine] for name, values in chunk.items()}))
            held += int(mine.sum())
            if held >= FLUSH_ROWS:
                _flush(folder, buffered, segment)
                buffered, held, segment = [], 0, segment + 1
        _flush(folder, buffered, segment)
        for index in window.owned:
            _sort_bucket(folder, index)
    except BaseException:
        window.close()
        raise
    window.stream_digest = hashlib.sha256(f"{rows}:{int(total)}:{int(mixed)}".encode()).hexdigest()[:16]
    return window


def _sort_bucket(folder: Path, index: int) -> None:
    """Joins a bucket's segments into one file in canonical order (sorted once, read every pass)."""
    segments = sorted(folder.glob(f"bucket-{index:05d}-*.npz"))
    parts = [dict(np.load(segment, allow_pickle=True)) for segment in segments]
    if not parts:
        return
    columns = canonical_order({name: np.concatenate([part[name] for part in parts]) for name in parts[0]})
    np.savez(folder / f"bucket-{index:05d}.npz", **columns)
    for segment in segments:
        segment.unlink()


def _flush(folder: Path, buffered: list[tuple[np.ndarray, dict[str, np.ndarray]]], segment: int) -> None:
    """Writes the buffered rows, one file per bucket that has some."""
    if not buffered:
        return
    bucket = np.concatenate([b for b, _ in buffered])
    columns = {name: np.concatenate([c[name] for _, c in buffered]) for name in buffered[0][1]}
    for index in np.unique(bucket).tolist():
        rows = bucket == index
        np.savez(folder / f"bucket-{index:05d}-{segment:05d}.npz", **{n: v[rows] for n, v in columns.items()})
