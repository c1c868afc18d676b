"""The Trainer's input pipeline over transformed examples.

Yields (features, labels, weights), each a dict: features keyed by transformed
name, labels and per-head weights keyed by head name, so Keras applies each
head's weight to that head's loss only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from trainer.specs import FeatureSpec, HeadSpec


def split_batch(
    batch: dict[str, tf.Tensor], features: Sequence[FeatureSpec], heads: Sequence[HeadSpec]
) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """Turns one batch of transformed columns into Keras' (x, y, sample_weight)."""
    x = {feature.transformed: batch[feature.transformed] for feature in features}
    y = {head.name: batch[head.label_key] for head in heads}
    weights = {head.name: batch[head.weight_key] for head in heads}
    return x, y, weights


def dataset_options(batch_size: int, num_epochs: int | None = None):
    """TFXIO options for training: parallel reads and parses, order not kept
    (the input is shuffled anyway); measured by bench/trainer_input.py."""
    from tfx_bsl.public import tfxio

    return tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size,
        num_epochs=num_epochs,
        reader_num_threads=tf.data.AUTOTUNE,
        parser_num_threads=tf.data.AUTOTUNE,
        sloppy_ordering=True,
    )


def make_dataset(
    file_pattern: list[str],
    data_accessor,
    schema,
    features: Sequence[FeatureSpec],
    heads: Sequence[HeadSpec],
    batch_size: int,
) -> tf.data.Dataset:
    """Batched, repeated (x, y, w) from TFX's TFXIO dataset factory."""
    dataset = data_accessor.tf_dataset_factory(file_pattern, dataset_options(batch_size), schema)
    return dataset.map(lambda batch: split_batch(batch, features, heads), num_parallel_calls=tf.data.AUTOTUNE)


def label_scaling(
    dataset: tf.data.Dataset, heads: Sequence[HeadSpec], batches: int = 50
) -> dict[str, tuple[float, float]]:
    """Mean and std of each regression label over present rows of a few batches."""
    regression = [head for head in heads if head.kind == "regression"]
    if not regression:
        return {}
    sums = {head.name: [] for head in regression}
    for _, labels, weights in dataset.take(batches):
        for head in regression:
            present = weights[head.name].numpy() > 0
            sums[head.name].append(labels[head.name].numpy().reshape(-1)[present.reshape(-1)])
    scaling = {}
    for name, chunks in sums.items():
        values = np.concatenate(chunks) if chunks else np.zeros(0)
        mean = float(values.mean()) if values.size else 0.0
        std = float(values.std()) if values.size > 1 else 1.0
        scaling[name] = (mean, std if std > 1e-6 else 1.0)
    return scaling
