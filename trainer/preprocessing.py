"""tf.Transform preprocessing, built from the feature and head specs.

The same graph runs in Transform (analysis over the training spans), in the
Trainer's input pipeline and inside the exported serving signature, so serving
sees exactly the training-time preprocessing.

Missing values: an optional raw feature arrives as a SparseTensor. Numeric
features are imputed with their training mean; categorical ones with ''
(which the vocabulary maps to its own id). A head's label is filled with 0
and paired with a weight of 0 where it was missing, which masks that head
only, for that row, in training and in evaluation. A regression label is
also written standardized (`<head>__label_z`): the head learns and computes its
loss in standard units, so a loss means the same on every data set.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from trainer.specs import FeatureSpec, HeadSpec, ModelSpecs

OOV_BUCKETS = 1


def vocabulary_file(feature_name: str) -> str:
    """Vocabulary asset name of a categorical feature (read back by the trainer)."""
    return f"vocab_{feature_name}"


def dense_and_presence(value: tf.Tensor | tf.SparseTensor, default: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """A rank-1 dense tensor with `default` where missing, and a 0/1 presence mask."""
    if not isinstance(value, tf.SparseTensor):
        dense = tf.reshape(value, [-1])
        return dense, tf.ones_like(dense, dtype=tf.float32)
    batch = value.dense_shape[0]
    shaped = tf.SparseTensor(value.indices, value.values, [batch, 1])
    dense = tf.squeeze(tf.sparse.to_dense(shaped, default_value=default), axis=1)
    ones = tf.SparseTensor(value.indices, tf.ones_like(value.values, dtype=tf.float32), [batch, 1])
    present = tf.squeeze(tf.sparse.to_dense(ones, default_value=0.0), axis=1)
    return dense, present


def analyzed_mean(values: tf.Tensor) -> tf.Tensor:
    """The training window's mean of `values`, accumulated in float64 and rounded to float32.

    Why: in float32, how Beam groups the partial sums (its running mode, its bundles) moved a
    z-score by up to 1.2e-5 (pressure, values near 1,000), and so the transformed rows and the
    model moved with the mode. In float64 the grouping changes the result by about 1e-16 of it;
    rounded to float32 it is the same in every mode unless it falls within that of a rounding
    boundary (odds about 1e-9 per statistic; tests/e2e/test_reproducible.py).
    """
    return tf.cast(tft.mean(tf.cast(values, tf.float64)), tf.float32)


def analyzed_std(values: tf.Tensor) -> tf.Tensor:
    """The training window's standard deviation of `values`, as `analyzed_mean` computes the mean."""
    return tf.cast(tf.sqrt(tft.var(tf.cast(values, tf.float64))), tf.float32)


def z_score(values: tf.Tensor, mean: tf.Tensor, std: tf.Tensor) -> tf.Tensor:
    return (values - mean) / tf.where(std > 1e-6, std, 1.0)


def _as_string(value: tf.Tensor) -> tf.Tensor:
    return value if value.dtype == tf.string else tf.strings.as_string(value)


def _categorical_values(raw: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    dense, _ = dense_and_presence(raw, "" if raw.dtype == tf.string else -1)
    return _as_string(dense)


def transform_feature(spec: FeatureSpec, inputs: dict[str, Any]) -> tf.Tensor:
    """One transformed input: a z-score (float) or an integer id."""
    if spec.kind == "numeric":
        raw = inputs[spec.raw_key]
        if isinstance(raw, tf.SparseTensor):
            raw = tf.SparseTensor(raw.indices, tf.cast(raw.values, tf.float32), raw.dense_shape)
            mean = analyzed_mean(raw.values)
        else:
            raw = tf.cast(raw, tf.float32)
            mean = analyzed_mean(raw)
        dense, present = dense_and_presence(raw, 0.0)
        imputed = tf.where(present > 0, dense, mean)
        return z_score(imputed, mean, analyzed_std(imputed))
    if spec.kind == "categorical":
        return tft.compute_and_apply_vocabulary(
            _categorical_values(inputs[spec.raw_key]),
            num_oov_buckets=OOV_BUCKETS,
            vocab_filename=vocabulary_file(spec.name),
        )
    if spec.kind == "bucketized":
        dense, _ = dense_and_presence(inputs[spec.raw_key], 0)
        return tft.bucketize(tf.cast(dense, tf.float32), num_buckets=spec.buckets)
    if spec.kind == "cross":
        parts = [_categorical_values(inputs[name]) for name in spec.of]
        return tf.strings.to_hash_bucket_fast(tf.strings.join(parts, separator="|"), spec.buckets)
    raise ValueError(f"feature {spec.name!r}: unknown kind {spec.kind!r}")


def transform_label(spec: HeadSpec, inputs: dict[str, Any]) -> tuple[tf.Tensor, tf.Tensor]:
    """The head's label (missing -> 0) and weight (missing -> 0)."""
    raw = inputs[spec.label]
    if raw.dtype == tf.string:  # class names: map to their index in `classes`
        dense, present = dense_and_presence(raw, "")
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(spec.classes)), tf.range(len(spec.classes), dtype=tf.int64)
            ),
            default_value=-1,
        )
        index = table.lookup(dense)
        present = present * tf.cast(index >= 0, tf.float32)
        label = tf.maximum(index, 0)
    else:
        label, present = dense_and_presence(raw, 0)
    if spec.kind == "multiclass":
        return tf.cast(label, tf.int64), present
    return tf.cast(label, tf.float32), present


def standardize_label(label: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    """(label - mean) / std with the mean and variance of the present labels over the
    whole training window (tf.Transform analyzers, the same on every worker and in every
    Beam mode); 0 where the label is missing."""
    present = tf.boolean_mask(label, weight > 0)
    return tf.where(weight > 0, z_score(label, analyzed_mean(present), analyzed_std(present)), 0.0)


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Transform's entry point; `custom_config` is `ModelSpecs.transform_dict()`."""
    specs = ModelSpecs.from_dict(custom_config)
    outputs = {feature.transformed: transform_feature(feature, inputs) for feature in specs.features}
    for head in specs.heads:
        label, weight = transform_label(head, inputs)
        outputs[head.label_key] = label
        outputs[head.weight_key] = weight
        if head.kind == "regression":
            outputs[head.standardized_label_key] = standardize_label(label, weight)
    return outputs
