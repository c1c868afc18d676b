"""A dense layer whose inference gives every row the same bits in any batch.

On some CPUs TensorFlow's matrix multiply accumulates each output in an order
that depends on the batch size (`tf.matmul` of 2 rows differed in the last bits
from the same rows inside 64, for every row, on the machines of 2026-11; an
AMX-class Xeon gave the same bits: bench/matmul_batch_invariance.py), so the
same model on the same examples got other float32 outputs, and other metrics,
when TFMA or a client batched them otherwise. In inference this layer
multiplies and sums over the input axis explicitly: each output is one
reduction over that row alone, the same for a batch of 1 or of 1,000 (checked
by tests/trainer/test_model.py and the end-to-end serving test). The
activation is computed on rows padded to 16 values: CPU kernels run sigmoid and
exp over packets of 8 or 16 values and the leftover values of a tensor through
another code path (a 1-row batch of a sigmoid head is all leftover), so every
value must sit in a full packet whatever the batch size. Training keeps the
fast matrix multiply; the weights and the function are the same, the results
equal to float32 rounding.
"""

from __future__ import annotations

import functools

import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="multihead")
class BatchInvariantDense(keras.layers.Dense):
    """`keras.layers.Dense`, with a batch-size-independent product when not training (2-d inputs)."""

    def call(self, inputs, training=None):
        if training or inputs.shape.rank != 2:
            return super().call(inputs)
        # In float32 even under mixed precision: a float16 sum over the inputs would lose digits.
        inputs = tf.cast(inputs, tf.float32)
        kernel = tf.cast(self.kernel, tf.float32)
        outputs = tf.reduce_sum(inputs[:, :, None] * kernel[None, :, :], axis=1)
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, tf.float32)
        if self.activation is not None and self.activation is not keras.activations.linear:
            outputs = padded_activation(self.activation, outputs)
        return tf.cast(outputs, self.compute_dtype)


PACKET = 16  # the widest CPU vector of float32 values (AVX-512); a multiple of the narrower ones


def padded_activation(activation, outputs: tf.Tensor) -> tf.Tensor:
    """`activation` over the last axis padded to a multiple of PACKET values, then cut back."""
    if activation is keras.activations.softmax:
        return row_softmax(outputs)
    return on_full_packets(activation, outputs, fill=0.0)


def on_full_packets(function, values: tf.Tensor, fill: float) -> tf.Tensor:
    """An element-wise `function` of 2-d `values` whose rows are padded with `fill` to a multiple of
    PACKET values, so every value goes through the vector code path; the padding is cut off again."""
    width = values.shape[-1]
    missing = -width % PACKET
    if not missing:
        return function(values)
    padding = tf.fill(tf.stack([tf.shape(values)[0], missing]), tf.constant(fill, values.dtype))
    return function(tf.concat([values, padding], axis=-1))[:, :width]


def column_by_column(operation, values: tf.Tensor) -> tf.Tensor:
    """`operation` folded over the last axis one column at a time: element-wise ops, one order for
    every row (TF's row reductions take another path for a 1-row batch)."""
    return functools.reduce(operation, tf.unstack(values, axis=-1))


def row_softmax(logits: tf.Tensor) -> tf.Tensor:
    """Softmax over the last axis with the row's max and sum taken column by column, and exp on full
    packets (padding with the most negative float, whose exp is 0)."""
    shifted = logits - column_by_column(tf.maximum, logits)[:, None]
    exponentials = on_full_packets(tf.exp, shifted, fill=logits.dtype.min)
    return exponentials / column_by_column(tf.add, exponentials)[:, None]
