"""The regression labels' training mean and std, read back from the transform graph.

Regression heads learn standardized labels (trainer/preprocessing.py), whose
mean and std tf.Transform's analyzers computed over the whole training window
and baked into the transform graph as constants. The serving signature needs
them to turn a head's output back into label units. tf.Transform has no API
to read an analyzer's value, so this transforms two probe examples with known
labels a and b: z = (x - mean) / std gives std = (b - a) / (z_b - z_a) and
mean = a - z_a * std. A first probe (0 and 1) locates the label's range and a
second (mean and mean + std) makes both z values small, where float32 is exact
to about 1e-7 of the std.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from trainer.specs import HeadSpec


def _probe_examples(raw_spec: dict, label: str, values: Sequence[float]) -> list[bytes]:
    """Serialized examples with `label` set to each value and every required feature at a neutral value."""
    examples = []
    for value in values:
        example = tf.train.Example()
        for name, spec in raw_spec.items():
            if name == label:
                continue
            if isinstance(spec, tf.io.FixedLenFeature):
                size = max(1, int(tf.TensorShape(spec.shape).num_elements() or 1))
                feature = example.features.feature[name]
                if spec.dtype == tf.string:
                    feature.bytes_list.value.extend([b""] * size)
                elif spec.dtype.is_integer:
                    feature.int64_list.value.extend([0] * size)
                else:
                    feature.float_list.value.extend([0.0] * size)
        label_spec = raw_spec[label]
        if label_spec.dtype.is_integer:
            example.features.feature[label].int64_list.value.append(round(value))
        else:
            example.features.feature[label].float_list.value.append(float(value))
        examples.append(example.SerializeToString())
    return examples


def _standardized(tf_transform_output, head: HeadSpec, values: Sequence[float]) -> list[float]:
    raw_spec = tf_transform_output.raw_feature_spec()
    parsed = tf.io.parse_example(tf.constant(_probe_examples(raw_spec, head.label, values)), raw_spec)
    transformed = tf_transform_output.transform_raw_features(parsed, drop_unused_features=True)
    return [float(v) for v in transformed[head.standardized_label_key].numpy().reshape(-1)]


def label_scaling(tf_transform_output, heads: Sequence[HeadSpec]) -> dict[str, tuple[float, float]]:
    """Regression head -> (mean, std) of its present training labels, from the transform graph."""
    scaling = {}
    for head in heads:
        if head.kind != "regression":
            continue
        integer = tf_transform_output.raw_feature_spec()[head.label].dtype.is_integer
        z0, z1 = _standardized(tf_transform_output, head, [0.0, 1.0])
        std = 1.0 / (z1 - z0)
        mean = -z0 * std
        if not integer:  # refine where both probes are near the mean (integers cannot be placed there)
            za, zb = _standardized(tf_transform_output, head, [mean, mean + std])
            std = std / (zb - za)
            mean = mean - za * std
        scaling[head.name] = (mean, std)
    return scaling
