"""The Trainer's input pipeline over transformed examples.

Yields (features, labels, weights), each a dict: features keyed by transformed
name, labels and per-head weights keyed by head name, so Keras applies each
head's weight to that head's loss only.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from trainer.specs import FeatureSpec, HeadSpec


def split_batch(
    batch: dict[str, tf.Tensor], features: Sequence[FeatureSpec], heads: Sequence[HeadSpec]
) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """Turns one batch of transformed columns into Keras' (x, y, sample_weight)."""
    x = {feature.transformed: batch[feature.transformed] for feature in features}
    y = {head.name: batch[head.training_label_key] for head in heads}
    weights = {head.name: batch[head.weight_key] for head in heads}
    return x, y, weights


def dataset_options(batch_size: int, seed: int, num_epochs: int | None = None):
    """TFXIO options for training: parallel reads and parses, in a fixed order and
    a seeded shuffle, so the same seed and inputs give the same batches (and the
    same model); measured by bench/trainer_input.py."""
    from tfx_bsl.public import tfxio

    return tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size,
        num_epochs=num_epochs,
        reader_num_threads=tf.data.AUTOTUNE,
        parser_num_threads=tf.data.AUTOTUNE,
        sloppy_ordering=False,
        shuffle_seed=seed,
    )


def make_dataset(
    file_pattern: list[str],
    data_accessor,
    schema,
    features: Sequence[FeatureSpec],
    heads: Sequence[HeadSpec],
    batch_size: int,
    seed: int,
) -> tf.data.Dataset:
    """Batched, repeated (x, y, w) from TFX's TFXIO dataset factory."""
    dataset = data_accessor.tf_dataset_factory(file_pattern, dataset_options(batch_size, seed), schema)
    return dataset.map(lambda batch: split_batch(batch, features, heads), num_parallel_calls=tf.data.AUTOTUNE)
