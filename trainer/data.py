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
training and the validation passes draw from the same rows). A window of up
to `window.BUCKET_ROWS` rows is held whole, on the host (4 or 8 bytes per
column and row: about 0.1 KB a row for flights), plus 8 bytes a row for the
permutation. A larger one streams: its rows are bucketed on local disk by a
hash of their values and trained on one bucket at a time (trainer/window.py,
`bucketed_batches`), so memory stays bounded however many rows the window has.

Yields (features, labels, weights), each a dict: features keyed by transformed
name, labels and per-head weights keyed by head name, so Keras applies each
head's weight to that head's loss only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from trainer.specs import FeatureSpec, HeadSpec
from trainer.window import Window
from trainer.window import canonical_columns as canonical_columns  # the window held whole; read in window.py


def split_batch(
    batch: dict[str, tf.Tensor], features: Sequence[FeatureSpec], heads: Sequence[HeadSpec]
) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """Turns one batch of transformed columns into Keras' (x, y, sample_weight)."""
    x = {feature.transformed: batch[feature.transformed] for feature in features}
    y = {head.name: batch[head.training_label_key] for head in heads}
    weights = {head.name: batch[head.weight_key] for head in heads}
    return x, y, weights


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


def bucketed_batches(window: Window, batch_size: int, seed: int) -> tf.data.Dataset:
    """Batches of a bucketed window (trainer/window.py), repeated forever: each pass visits this
    worker's buckets in an order drawn from (seed, pass), each bucket's rows (in canonical order)
    permuted by (seed, pass, bucket); a batch may span two buckets. One bucket is held at a time."""

    def rows():
        carry: dict[str, np.ndarray] = {}
        epoch = 0
        while True:
            for bucket in np.random.default_rng([seed, epoch]).permutation(window.owned).tolist():
                columns = window.bucket(bucket)
                if not columns:
                    continue
                order = np.random.default_rng([seed, epoch, bucket]).permutation(len(next(iter(columns.values()))))
                columns = {name: values[order] for name, values in columns.items()}
                if carry:
                    columns = {name: np.concatenate([carry[name], columns[name]]) for name in columns}
                count = len(next(iter(columns.values())))
                full = count - count % batch_size
                for start in range(0, full, batch_size):
                    yield {name: values[start : start + batch_size] for name, values in columns.items()}
                carry = {name: values[full:] for name, values in columns.items()}
            epoch += 1

    first = window.bucket(window.owned[0])
    signature = {
        name: tf.TensorSpec((None, *values.shape[1:]), tf.dtypes.as_dtype(values.dtype))
        for name, values in first.items()
    }
    del first
    return tf.data.Dataset.from_generator(rows, output_signature=signature)


def window_dataset(
    window: Window,
    features: Sequence[FeatureSpec],
    heads: Sequence[HeadSpec],
    batch_size: int,
    seed: int,
    worker: int = 0,
    workers: int = 1,
) -> tf.data.Dataset:
    """Batched (x, y, w) of a window, repeated forever: a window held whole as `make_dataset` orders
    it; a bucketed one as `bucketed_batches` does, from this worker's buckets only."""
    if window.whole is not None:
        return make_dataset(window.whole, features, heads, batch_size, seed, None, worker, workers)
    batches = bucketed_batches(window, batch_size, seed)
    if workers > 1:
        options = tf.data.Options()  # each worker reads its own buckets: tf.distribute must not shard
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        batches = batches.with_options(options)
    return batches.map(lambda batch: split_batch(batch, features, heads), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


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
