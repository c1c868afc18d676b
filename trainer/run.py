"""TFX Trainer entry point: a thin adapter from FnArgs to the TFX-free modules."""

from __future__ import annotations

import json
import logging

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from trainer import data, export, label_units, model, strategy
from trainer.preprocessing import OOV_BUCKETS, vocabulary_file
from trainer.specs import ModelSpecs

LOG = logging.getLogger(__name__)


def cardinalities(specs: ModelSpecs, tf_transform_output) -> dict[str, int]:
    """Number of ids each non-numeric input can take (embedding table sizes)."""
    sizes = {}
    for feature in specs.features:
        if feature.kind == "categorical":
            vocab = tf_transform_output.vocabulary_size_by_name(vocabulary_file(feature.name))
            sizes[feature.name] = vocab + OOV_BUCKETS
        elif feature.kind in ("bucketized", "cross"):
            sizes[feature.name] = feature.buckets
    return sizes


def make_deterministic(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow and makes TensorFlow's ops deterministic:
    training twice on the same inputs gives the same weights (on CPU; on GPU
    too, for the ops this model uses, at some cost in speed)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def run_fn(fn_args) -> None:
    """Trains on the train splits, validates on the eval split, exports both signatures."""
    specs = ModelSpecs.from_dict(fn_args.custom_config)
    settings = specs.trainer
    make_deterministic(settings.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    choice, distribution = strategy.current_strategy()
    if settings.mixed_precision and choice.name != "default":
        keras.mixed_precision.set_global_policy("mixed_float16")
    batch_size = strategy.global_batch_size(settings.batch_size, distribution)
    LOG.info("strategy %s (%s); global batch %d", choice.name, choice.reason, batch_size)

    schema = tf_transform_output.transformed_metadata.schema

    def dataset(files):
        return data.make_dataset(
            files, fn_args.data_accessor, schema, specs.features, specs.heads, batch_size, settings.seed
        )

    train, evaluation = dataset(fn_args.train_files), dataset(fn_args.eval_files)
    scaling = label_units.label_scaling(tf_transform_output, specs.heads)
    LOG.info("regression labels (mean, std) from the transform graph: %s", scaling)
    with distribution.scope():
        net = model.build_model(specs.features, specs.heads, cardinalities(specs, tf_transform_output), settings)
    net.fit(
        train,
        steps_per_epoch=fn_args.train_steps,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        callbacks=[keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")],
        verbose=2,
    )
    weights = model.learned_weights(net)
    LOG.info("learned loss weight per head: %s", weights or "none (all fixed)")
    export.export(net, tf_transform_output, specs.heads, fn_args.serving_model_dir, scaling)
    write_learned_weights(fn_args.serving_model_dir, weights)
    LOG.info("exported to %s", fn_args.serving_model_dir)


LEARNED_WEIGHTS_FILE = "assets.extra/learned_loss_weights.json"


def write_learned_weights(serving_model_dir: str, weights: dict[str, float]) -> None:
    """Keeps the learned loss weights with the model (TF Serving ignores assets.extra), for whoever
    asks later why a head trained as it did."""
    path = f"{serving_model_dir}/{LEARNED_WEIGHTS_FILE}"
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(weights, indent=2, sort_keys=True) + "\n")
