"""TFX Trainer entry point: a thin adapter from FnArgs to the TFX-free modules."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from trainer import data, export, label_units, model, strategy, training_record, window
from trainer.preprocessing import OOV_BUCKETS, vocabulary_file
from trainer.specs import LAUNCH_KEY, ModelSpecs

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


class StartStepLog(keras.callbacks.Callback):
    """Logs the step training starts at: 0, or the step a restarted Trainer resumed from."""

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps, self.logged = total_steps, False

    def on_train_batch_begin(self, batch, logs=None):
        if not self.logged:
            self.logged = True
            how = "resumed from the last backup" if batch else "from the start"
            LOG.info("training starts at step %d of %d (%s)", batch, self.total_steps, how)


BACKUP_DIR = "backup"  # under the Trainer's model_run_dir: the same folder when a preempted task restarts


def run_fn(fn_args) -> None:
    """Trains on the train splits, validates on the eval split, exports both signatures.

    Preemption: every `trainer.checkpoint_steps` steps the weights, optimizer
    and step are backed up under model_run_dir (Keras' BackupAndRestore); a
    restarted task with the same model_run_dir (a Kubeflow pod retry) resumes
    from the last backup instead of step 0, and the backup is removed once
    training ends. An ensemble (`trainer.ensemble_members`) trains its members
    one after the other, each with its own backup: a restart trains the finished
    members again (the same seeds give the same weights) and resumes the
    interrupted one. Multi-worker: every worker trains and saves (saving takes
    part in collectives), only the chief into serving_model_dir; the others
    into a temporary folder they delete.
    """
    # First: a multi-worker strategy must exist before TensorFlow's context starts.
    choice, distribution = strategy.current_strategy()
    specs = ModelSpecs.from_dict(fn_args.custom_config)
    settings = specs.trainer
    make_deterministic(settings.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    tf_config = strategy.tf_config_from_env()
    workers = strategy.workers_in(tf_config)
    if settings.mixed_precision and choice.name != "default":
        keras.mixed_precision.set_global_policy("mixed_float16")
    batch_size = strategy.global_batch_size(settings.batch_size, distribution)
    LOG.info(
        "strategy %s (%s); global batch %d = %d per replica x %d replicas over %d worker(s)",
        choice.name,
        choice.reason,
        batch_size,
        settings.batch_size,
        distribution.num_replicas_in_sync,
        workers,
    )

    feature_spec = tf_transform_output.transformed_feature_spec()
    worker = strategy.worker_index(tf_config)
    # Each window read once, for every member: held whole, or bucketed on local disk when large.
    with (
        window.open_window(window.window_files(fn_args.train_files), feature_spec, worker, workers) as train_window,
        window.open_window(window.window_files(fn_args.eval_files), feature_spec, worker, workers) as eval_window,
    ):
        LOG.info(
            "training window: %d rows in %d bucket(s), %d of them this worker's; evaluation window: %d rows",
            train_window.rows,
            train_window.buckets,
            len(train_window.owned),
            eval_window.rows,
        )

        def dataset(source, seed: int):
            return data.window_dataset(source, specs.features, specs.heads, batch_size, seed, worker, workers)

        scaling = label_units.label_scaling(tf_transform_output, specs.heads)
        LOG.info("regression labels (mean, std) from the transform graph: %s", scaling)
        chief = strategy.is_chief(tf_config)
        if workers > 1:
            LOG.info(
                "input sharded by batch across %d workers (by bucket when the window streams); this is worker %d",
                workers,
                worker,
            )
        members = []
        for member in range(settings.ensemble_members):
            seed = model.member_seed(settings.seed, member)
            if settings.ensemble_members > 1:
                LOG.info("ensemble member %d of %d (seed %d)", member + 1, settings.ensemble_members, seed)
                make_deterministic(seed)
            backup = BACKUP_DIR if settings.ensemble_members == 1 else f"{BACKUP_DIR}/member-{member}"
            name = "multihead" if settings.ensemble_members == 1 else f"multihead_{member}"
            with distribution.scope():
                net = model.build_model(
                    specs.features, specs.heads, cardinalities(specs, tf_transform_output), settings, name
                )
            callbacks = [
                keras.callbacks.BackupAndRestore(
                    backup_dir=f"{fn_args.model_run_dir}/{backup}", save_freq=settings.checkpoint_steps
                ),
                StartStepLog(fn_args.train_steps),
            ]
            if chief and member == 0:
                callbacks.append(keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"))
            net.fit(
                dataset(train_window, seed),
                steps_per_epoch=fn_args.train_steps,
                validation_data=dataset(eval_window, seed),
                validation_steps=fn_args.eval_steps,
                callbacks=callbacks,
                verbose=2,
            )
            members.append(net)
        weights = mean_learned_weights(members)
        net = model.averaged([model.for_serving(member) for member in members], specs.heads)
        LOG.info("learned loss weight per head: %s", weights or "none (all fixed)")
        target = fn_args.serving_model_dir if chief else tempfile.mkdtemp(prefix="worker-export-")
        export.export(net, tf_transform_output, specs.heads, target, scaling)
        if chief:
            write_learned_weights(target, weights)
            settings_as_run = {k: v for k, v in fn_args.custom_config.items() if k != LAUNCH_KEY}
            record = training_record.build_record(
                settings_as_run, train_window.rows, training_record.window_digest(train_window)
            )
            training_record.write_record(target, record)
            LOG.info("exported to %s (training record %s)", target, record["id"])
        else:
            shutil.rmtree(target, ignore_errors=True)
            LOG.info("worker export discarded; the chief exports to %s", fn_args.serving_model_dir)


def mean_learned_weights(members: list) -> dict[str, float]:
    """Each head's learned loss weight, averaged over the ensemble's members."""
    learned = [model.learned_weights(member) for member in members]
    return {head: sum(w[head] for w in learned) / len(learned) for head in learned[0]}


LEARNED_WEIGHTS_FILE = "assets.extra/learned_loss_weights.json"


def write_learned_weights(serving_model_dir: str, weights: dict[str, float]) -> None:
    """Keeps the learned loss weights with the model (TF Serving ignores assets.extra), for whoever
    asks later why a head trained as it did."""
    path = f"{serving_model_dir}/{LEARNED_WEIGHTS_FILE}"
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(weights, indent=2, sort_keys=True) + "\n")
