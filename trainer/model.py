"""The multi-head Keras model: a shared backbone and one tower per head.

Built with tf_keras (Keras 2), the Keras that tf.Transform and TFMA 0.52 use.
Inputs are the transformed features; each head's output carries the head's
name, so the serving signature, the losses and TFMA's `label_keys` all agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf
import tf_keras as keras

from trainer.specs import FeatureSpec, HeadSpec, TrainerSettings

_ACTIVATIONS = {"regression": None, "binary": "sigmoid", "multiclass": "softmax"}
_LOSSES = {
    "huber": lambda: keras.losses.Huber(delta=1.0),  # regression heads learn in standard units
    "mse": keras.losses.MeanSquaredError,
    "mae": keras.losses.MeanAbsoluteError,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
}
_TRAINING_METRICS = {
    "regression": lambda: [keras.metrics.MeanAbsoluteError(name="mae")],
    "binary": lambda: [keras.metrics.AUC(name="auc")],
    "multiclass": lambda: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
}


def build_inputs(
    features: Sequence[FeatureSpec], cardinalities: Mapping[str, int], embedding_dim: int
) -> tuple[dict[str, keras.Input], tf.Tensor]:
    """Keras inputs keyed by transformed name, and their concatenated encoding."""
    inputs, encoded = {}, []
    for feature in features:
        if feature.kind == "numeric":
            tensor = keras.Input(shape=(), dtype=tf.float32, name=feature.transformed)
            encoded.append(keras.layers.Reshape((1,), name=f"{feature.name}_column")(tensor))
        else:
            tensor = keras.Input(shape=(), dtype=tf.int64, name=feature.transformed)
            size = cardinalities[feature.name]
            dim = min(embedding_dim, size)
            embedded = keras.layers.Embedding(size, dim, name=f"{feature.name}_embedding")(tensor)
            encoded.append(embedded)
        inputs[feature.transformed] = tensor
    joined = keras.layers.Concatenate(name="features")(encoded) if len(encoded) > 1 else encoded[0]
    return inputs, joined


def build_model(
    features: Sequence[FeatureSpec],
    heads: Sequence[HeadSpec],
    cardinalities: Mapping[str, int],
    settings: TrainerSettings,
) -> keras.Model:
    """Compiled model with one named output per head and per-head losses and weights.

    A regression head predicts its label in standard units (the transformed
    `<head>__label_z`), so labels in the thousands (grams) train like labels
    near zero; the serving signature turns it back into label units
    (trainer/export.py).
    """
    inputs, x = build_inputs(features, cardinalities, settings.embedding_dim)
    for i, units in enumerate(settings.hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"backbone_{i}")(x)
    outputs = {}
    for head in heads:
        tower = x
        for i, units in enumerate(settings.tower_units):
            tower = keras.layers.Dense(units, activation="relu", name=f"{head.name}_tower_{i}")(tower)
        outputs[head.name] = keras.layers.Dense(
            head.output_units,
            activation=_ACTIVATIONS[head.kind],
            dtype="float32",  # full precision outputs under mixed precision too
            name=head.name,
        )(tower)
    model = keras.Model(inputs=inputs, outputs=outputs, name="multihead")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=settings.learning_rate),
        loss={head.name: _LOSSES[head.default_loss]() for head in heads},
        loss_weights={head.name: head.loss_weight for head in heads},
        weighted_metrics={head.name: _TRAINING_METRICS[head.kind]() for head in heads},
    )
    return model
