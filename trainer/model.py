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
    # Regression heads learn standardized labels, so the delta is in standard deviations.
    "huber": lambda head: keras.losses.Huber(delta=head.huber_delta),
    "mse": lambda head: keras.losses.MeanSquaredError(),
    "mae": lambda head: keras.losses.MeanAbsoluteError(),
    "binary_crossentropy": lambda head: keras.losses.BinaryCrossentropy(),
    # Down-weights the easy rows (gamma 2, Lin et al. 2017): for a rare label such as cancellations.
    "binary_focal_crossentropy": lambda head: keras.losses.BinaryFocalCrossentropy(gamma=2.0),
    "sparse_categorical_crossentropy": lambda head: keras.losses.SparseCategoricalCrossentropy(),
}
# Bounds on a learned log-variance: weights between e^-8 and e^8 (~3e-4 to ~3e3),
# so a head whose loss reaches zero cannot drive its weight to infinity.
MAX_LOG_VARIANCE = 8.0
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


class HeadLossWeights(keras.layers.Layer):
    """Learned loss weights, one per head: homoscedastic uncertainty weighting.

    Kendall, Gal and Cipolla (CVPR 2018): each head h has a learned
    log-variance s_h, and its loss L_h enters the total as exp(-s_h) * L_h + s_h.
    At the optimum exp(-s_h) = 1 / L_h, so every head contributes on the same
    scale whatever its units or loss, without hand-set weights. The layer only
    holds the variables; `weighted` wraps each head's loss with them.
    """

    def __init__(self, head_names: Sequence[str], **kwargs):
        super().__init__(name="head_loss_weights", **kwargs)
        self.log_variances = {
            name: self.add_weight(name=f"{name}_log_variance", shape=(), initializer="zeros", trainable=True)
            for name in head_names
        }
        self.built = True  # no inputs: the weights above are all it has

    def weight(self, head: str) -> tf.Tensor:
        """The current weight exp(-s) of `head`'s loss, always positive and finite."""
        return tf.exp(-self.bounded(head))

    def bounded(self, head: str) -> tf.Tensor:
        return tf.clip_by_value(self.log_variances[head], -MAX_LOG_VARIANCE, MAX_LOG_VARIANCE)

    def weighted(self, head: str, loss: keras.losses.Loss) -> keras.losses.Loss:
        return _UncertaintyWeightedLoss(loss, self, head)


class _UncertaintyWeightedLoss(keras.losses.Loss):
    """exp(-s) * loss + s per example; Keras then applies the head's mask and averages."""

    def __init__(self, loss: keras.losses.Loss, weights: HeadLossWeights, head: str):
        super().__init__(reduction=loss.reduction, name=f"{head}_uncertainty_weighted")
        self.loss, self.weights, self.head = loss, weights, head

    def call(self, y_true, y_pred):
        s = self.weights.bounded(self.head)
        return tf.exp(-s) * self.loss.call(y_true, y_pred) + s


def head_losses(heads: Sequence[HeadSpec], weights: HeadLossWeights | None) -> dict[str, keras.losses.Loss]:
    """Each head's loss: with its fixed `loss_weight` as set, else with a learned weight."""
    losses = {}
    for head in heads:
        loss = _LOSSES[head.default_loss](head)
        losses[head.name] = loss if head.loss_weight is not None else weights.weighted(head.name, loss)
    return losses


def learned_weights(model: keras.Model) -> dict[str, float]:
    """The learned loss weight of each head that has one (for logs and reports)."""
    weights = getattr(model, "head_loss_weights", None)
    if weights is None:
        return {}
    return {name: float(weights.weight(name).numpy()) for name in weights.log_variances}


def build_model(
    features: Sequence[FeatureSpec],
    heads: Sequence[HeadSpec],
    cardinalities: Mapping[str, int],
    settings: TrainerSettings,
    name: str = "multihead",
) -> keras.Model:
    """Compiled model with one named output per head and per-head losses and weights.

    A head's loss weight is learned (HeadLossWeights) unless its `loss_weight`
    fixes it.

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
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    learned = [head.name for head in heads if head.loss_weight is None]
    weights = None
    if learned:
        weights = HeadLossWeights(learned)
        model.head_loss_weights = weights  # tracked: trained and checkpointed with the model
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=settings.learning_rate,
            # fit() swaps the averaged weights in when training ends, so they are the ones exported.
            use_ema=settings.ema_momentum > 0,
            ema_momentum=settings.ema_momentum or 0.99,
        ),
        loss=head_losses(heads, weights),
        loss_weights={head.name: 1.0 if head.loss_weight is None else head.loss_weight for head in heads},
        weighted_metrics={head.name: _TRAINING_METRICS[head.kind]() for head in heads},
    )
    return model


ENSEMBLE_SEED_STRIDE = 1000  # member k trains with seed + k * stride: no member repeats another seed's model


def member_seed(seed: int, member: int) -> int:
    return seed + member * ENSEMBLE_SEED_STRIDE


def averaged(members: Sequence[keras.Model], heads: Sequence[HeadSpec]) -> keras.Model:
    """One model whose every head outputs the mean of the members' outputs (one member: itself).

    A regression head's mean in standard units is the mean in label units once the serving
    signature scales it.
    """
    if len(members) == 1:
        return members[0]
    first = members[0]
    inputs = {name: keras.Input(shape=t.shape[1:], dtype=t.dtype, name=name) for name, t in first.input.items()}
    outputs = [member(inputs) for member in members]
    heads_out = {
        head.name: keras.layers.Average(name=head.name, dtype="float32")([out[head.name] for out in outputs])
        for head in heads
    }
    return keras.Model(inputs=inputs, outputs=heads_out, name="ensemble")


def for_serving(trained: keras.Model) -> keras.Model:
    """The trained member's network alone, as a new functional model over the same layers (and so the
    same weights): no optimizer (slot variables, EMA copies) and no loss weights ride along into the
    SavedModel."""
    return keras.Model(inputs=trained.input, outputs=trained.output, name=trained.name)
