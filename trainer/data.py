"""The Trainer's input pipeline over transformed examples.

The order rows are trained in is a function of the window's rows and the seed
only. ExampleGen and Transform write rows into shards in an order set by
Beam's running mode, the number of shards and the order of the spans; reading
those files in order through a bounded shuffle buffer let the layout steer
training (another mode, another model). So every row of the window is read
and parsed (the order of files, of rows in them and of a row's serialized
features does not matter), sorted by value into one canonical order, and each
pass over the window is a fresh seeded permutation of all of it: every pass
draws uniformly from the whole window, early spans and late spans alike.

The window is read once for the whole Trainer (every ensemble member, the
training and the validation passes draw from the same columns). Memory: the
window's parsed columns are held once, on the host (4 or 8 bytes per column and
row: about 0.1 KB a row for flights; bench/trainer_input.py --memory measures
it), plus 8 bytes a row for the permutation. A window too large for the
Trainer's memory needs the order made where the rows are written instead (a
seeded hash of each row as the shard and sort key, in Beam), not a buffer here.

Yields (features, labels, weights), each a dict: features keyed by transformed
name, labels and per-head weights keyed by head name, so Keras applies each
head's weight to that head's loss only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from trainer.specs import FeatureSpec, HeadSpec

READ_BATCH = 4096  # records per read step while loading the window


def split_batch(
    batch: dict[str, tf.Tensor], features: Sequence[FeatureSpec], heads: Sequence[HeadSpec]
) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """Turns one batch of transformed columns into Keras' (x, y, sample_weight)."""
    x = {feature.transformed: batch[feature.transformed] for feature in features}
    y = {head.name: batch[head.training_label_key] for head in heads}
    weights = {head.name: batch[head.weight_key] for head in heads}
    return x, y, weights


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
    compressed = {name.endswith(".gz") for name in files}
    if len(compressed) > 1:
        raise ValueError(f"the window mixes gzipped and plain TFRecord files: {files}")
    spec = dict(feature_spec)
    reader = tf.data.TFRecordDataset(
        files, compression_type="GZIP" if compressed.pop() else "", num_parallel_reads=tf.data.AUTOTUNE
    )
    chunks = list(reader.batch(READ_BATCH).map(lambda rows: tf.io.parse_example(rows, spec)).as_numpy_iterator())
    if not chunks:
        raise ValueError(f"the training files hold no rows: {files}")
    columns = {name: np.concatenate([chunk[name] for chunk in chunks]) for name in sorted(spec)}
    keys = [part for name in sorted(columns) for part in sort_keys(columns[name])]
    order = np.lexsort(keys[::-1])  # the first column in name order is the primary key
    return {name: values[order] for name, values in columns.items()}


def sort_keys(values: np.ndarray) -> list[np.ndarray]:
    """One integer key per element of a row: floats by their bits (so -0.0, 0.0 and NaNs are told
    apart and no two different rows tie), strings by their rank."""
    flat = values.reshape(len(values), -1)
    if flat.dtype == object:
        return [np.unique(part, return_inverse=True)[1] for part in flat.T]
    if flat.dtype.kind == "f":
        flat = flat.view(np.int32 if flat.dtype.itemsize == 4 else np.int64)
    return list(flat.T)


def seeded_batches(
    columns: Mapping[str, np.ndarray],
    batch_size: int,
    seed: int,
    num_epochs: int | None = None,
    worker: int = 0,
    workers: int = 1,
) -> tf.data.Dataset:
    """Batches of rows, each pass over the window a new permutation drawn from `seed` (repeated
    forever when `num_epochs` is None).

    The columns are made tensors on the host (`/CPU:0`): a GPU Trainer keeps the window in host
    memory and copies only each batch. With several workers, every worker draws the same
    permutation of row numbers and gathers only its own batches (batch i goes to worker i mod
    `workers`), so together they train on the order one worker would.
    """
    if not 0 <= worker < workers:
        raise ValueError(f"worker {worker} is not one of {workers} workers")
    rows = len(next(iter(columns.values())))
    with tf.device("/CPU:0"):
        tensors = {name: tf.constant(values) for name, values in columns.items()}
        order = tf.data.Dataset.range(rows).shuffle(rows, seed=seed, reshuffle_each_iteration=True)
        batches = order.repeat(num_epochs).batch(batch_size)
        if workers > 1:
            batches = batches.shard(workers, worker)
        return batches.map(lambda index: {name: tf.gather(tensor, index) for name, tensor in tensors.items()})


def make_dataset(
    columns: Mapping[str, np.ndarray],
    features: Sequence[FeatureSpec],
    heads: Sequence[HeadSpec],
    batch_size: int,
    seed: int,
    num_epochs: int | None = None,
    worker: int = 0,
    workers: int = 1,
) -> tf.data.Dataset:
    """Batched (x, y, w) of a window read once (`canonical_columns`) in its seeded order, this
    worker's share of it."""
    batches = seeded_batches(columns, batch_size, seed, num_epochs, worker, workers)
    if workers > 1:
        # Sharded above, by batch: tf.distribute must not shard it again.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        batches = batches.with_options(options)
    return batches.map(lambda batch: split_batch(batch, features, heads), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )
