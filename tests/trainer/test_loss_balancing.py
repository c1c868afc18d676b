"""Loss balancing without hand-tuning: standardized regression labels and learned head weights.

Real tf.Transform analyzers (on Beam's direct runner) and real Keras training
on a few hundred synthetic rows.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from trainer.model import build_model, learned_weights
from trainer.preprocessing import preprocessing_fn
from trainer.specs import FeatureSpec, HeadSpec, ModelSpecs, TrainerSettings

FEATURES = (FeatureSpec("distance", "numeric"), FeatureSpec("carrier", "categorical"))
HEADS = (
    HeadSpec("delay", "arr_delay", "regression", (), None, loss="huber"),
    HeadSpec("late", "late", "binary", (), None),
    HeadSpec("band", "band", "multiclass", (), None, classes=("on_time", "late", "very_late")),
)
SPECS = ModelSpecs(FEATURES, HEADS, TrainerSettings(hidden_units=(16,), tower_units=(8,), embedding_dim=3))
METADATA = tft.DatasetMetadata.from_feature_spec(
    {
        "distance": tf.io.FixedLenFeature([], tf.float32),
        "carrier": tf.io.FixedLenFeature([], tf.string),
        "arr_delay": tf.io.VarLenFeature(tf.float32),
        "late": tf.io.FixedLenFeature([], tf.int64),
        "band": tf.io.FixedLenFeature([], tf.string),
    }
)
ROWS, STEPS, BATCH = 512, 120, 64


def raw_rows(delay_scale: float) -> list[dict]:
    """Flights-like rows; the delay label is in minutes times `delay_scale`, the others do not change."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(ROWS):
        distance = float(rng.uniform(100, 2000))
        delay = 10 + 0.02 * distance + float(rng.normal(0, 30))
        band = "on_time" if delay < 15 else "late" if delay < 60 else "very_late"
        rows.append(
            {
                "distance": distance,
                "carrier": ["AA", "UA", "DL"][i % 3],
                "arr_delay": [delay * delay_scale] if i % 7 else [],  # some rows have no delay label
                "late": int(delay >= 15),
                "band": band,
            }
        )
    return rows


def transformed(rows: list[dict], tmp_path) -> list[dict]:
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (data, _), _ = (rows, METADATA) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, SPECS.training_dict()), output_record_batches=False
        )
    return data


def columns(data: list[dict]) -> dict[str, np.ndarray]:
    return {key: np.asarray([row[key] for row in data]) for key in data[0]}


def train(
    data: dict[str, np.ndarray],
    heads=HEADS,
    regression_label: str = "delay__label_z",
    settings: TrainerSettings = SPECS.trainer,
    steps: int = STEPS,
):
    """Trains the model on transformed columns, always with the same seed."""
    tf.keras.utils.set_random_seed(11)
    features = {"distance_xf": data["distance_xf"].astype(np.float32), "carrier_xf": data["carrier_xf"]}
    labels = {
        "delay": data[regression_label].astype(np.float32)[:, None],
        "late": data["late__label"].astype(np.float32)[:, None],
        "band": data["band__label"],
    }
    weights = {head.name: data[head.weight_key].astype(np.float32) for head in heads}
    dataset = tf.data.Dataset.from_tensor_slices((features, labels, weights)).batch(BATCH).repeat()
    model = build_model(FEATURES, heads, {"carrier": 4}, settings)
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return model, model.predict(features, batch_size=ROWS, verbose=0)


def test_scaling_a_regression_label_by_1000_leaves_the_other_heads_training_unchanged(tmp_path):
    minutes = columns(transformed(raw_rows(1.0), tmp_path / "a"))
    millis = columns(transformed(raw_rows(1000.0), tmp_path / "b"))
    present = minutes["delay__weight"] > 0
    assert 0 < present.sum() < ROWS
    np.testing.assert_allclose(millis["delay__label"][present], 1000 * minutes["delay__label"][present], rtol=1e-5)
    np.testing.assert_allclose(millis["delay__label_z"], minutes["delay__label_z"], atol=1e-5)
    z = minutes["delay__label_z"][present]
    assert abs(z.mean()) < 1e-4 and abs(z.std() - 1) < 1e-3

    _, in_minutes = train(minutes)
    _, in_millis = train(millis)
    for head in ("late", "band"):
        np.testing.assert_allclose(in_millis[head], in_minutes[head], atol=1e-3, err_msg=head)
    # Trained on the label in its own units instead, the same change does move
    # the other heads: the check above can fail.
    _, raw_minutes = train(minutes, regression_label="delay__label")
    _, raw_millis = train(millis, regression_label="delay__label")
    assert np.abs(raw_millis["late"] - raw_minutes["late"]).max() > 1e-2


def test_each_head_learns_the_weight_that_puts_its_loss_on_a_common_scale(tmp_path):
    """At the optimum of exp(-s) * L + s, the weight exp(-s) is 1 / L (L averaged
    over the rows that have the label): every head then weighs the same."""
    import tf_keras as keras

    data = columns(transformed(raw_rows(1.0), tmp_path))
    data["delay__label_z"] = np.random.default_rng(0).normal(size=ROWS)  # a regression head with nothing to learn
    fast = dataclasses.replace(SPECS.trainer, learning_rate=0.05)  # so that the weights converge in a test
    model, predictions = train(data, settings=fast, steps=600)
    weights = learned_weights(model)
    assert set(weights) == {"delay", "late", "band"}
    losses = {
        "delay": keras.losses.Huber(delta=1.0, reduction="none")(data["delay__label_z"][:, None], predictions["delay"]),
        "late": keras.losses.BinaryCrossentropy(reduction="none")(
            data["late__label"][:, None].astype(np.float32), predictions["late"]
        ),
        "band": keras.losses.SparseCategoricalCrossentropy(reduction="none")(data["band__label"], predictions["band"]),
    }
    for head, weight in weights.items():
        assert math.isfinite(weight) and weight > 0, (head, weight)
        labelled = data[f"{head}__weight"] > 0
        mean_loss = float(np.mean(np.asarray(losses[head])[labelled]))
        assert weight == pytest.approx(1 / mean_loss, rel=0.1), (head, weight, mean_loss)
    # The heads' losses differ (pure noise against learnable labels), so do the weights.
    assert max(weights.values()) > 1.5 * min(weights.values())


def test_a_fixed_loss_weight_overrides_the_learned_one():
    heads = (HEADS[0], HeadSpec("late", "late", "binary", (), None, loss_weight=2.5), HEADS[2])
    model = build_model(FEATURES, heads, {"carrier": 4}, SPECS.trainer)
    assert set(learned_weights(model)) == {"delay", "band"}
    assert model.compiled_loss._loss_weights["late"] == pytest.approx(2.5)
    all_fixed = tuple(dataclasses.replace(head, loss_weight=1.0) for head in HEADS)
    fixed = build_model(FEATURES, all_fixed, {"carrier": 4}, SPECS.trainer)
    assert learned_weights(fixed) == {}
    assert not [v for v in fixed.trainable_variables if "log_variance" in v.name]
