"""SavedModel export with two signatures, the transform graph inside.

`serving_default`: serialized raw tf.Examples (no labels) in, one output per
head out, keyed by head name (TFMA and clients read these keys).
`transform_features`: serialized raw tf.Examples (with labels) in, every
transformed column out; TFMA calls it to read the masked labels and weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf
import tf_keras as keras

from trainer.specs import SERVING_SIGNATURE, TRANSFORM_SIGNATURE, HeadSpec


def serving_feature_spec(raw_feature_spec: dict, label_keys: Sequence[str]) -> dict:
    """The raw feature spec without labels: what a serving request carries."""
    return {name: spec for name, spec in raw_feature_spec.items() if name not in set(label_keys)}


def make_signatures(
    model: keras.Model,
    tf_transform_output,
    heads: Sequence[HeadSpec],
    label_scaling: Mapping[str, tuple[float, float]],
) -> dict:
    """Concrete functions for both signatures, tracking the TFT layer on the model.

    `label_scaling`: regression head -> (mean, std); its standardized output is
    returned in label units.
    """
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    serving_spec = serving_feature_spec(raw_spec, [head.label for head in heads])
    input_names = list(model.input.keys()) if isinstance(model.input, dict) else model.input_names

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        parsed = tf.io.parse_example(serialized, serving_spec)
        transformed = model.tft_layer(parsed)
        outputs = model({name: transformed[name] for name in input_names}, training=False)
        return {head.name: in_label_units(head, outputs[head.name], label_scaling) for head in heads}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform(serialized):
        parsed = tf.io.parse_example(serialized, raw_spec)
        return model.tft_layer(parsed)

    return {
        SERVING_SIGNATURE: serve.get_concrete_function(),
        TRANSFORM_SIGNATURE: transform.get_concrete_function(),
    }


def in_label_units(head: HeadSpec, output: tf.Tensor, label_scaling: Mapping[str, tuple[float, float]]) -> tf.Tensor:
    if head.kind != "regression":
        return output
    mean, std = label_scaling[head.name]
    return output * tf.constant(std, tf.float32) + tf.constant(mean, tf.float32)


def export(
    model: keras.Model,
    tf_transform_output,
    heads: Sequence[HeadSpec],
    directory: str,
    label_scaling: Mapping[str, tuple[float, float]],
) -> None:
    signatures = make_signatures(model, tf_transform_output, heads, label_scaling)
    tf.saved_model.save(model, directory, signatures=signatures)
