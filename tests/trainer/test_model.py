"""The model builder: output names and shapes, per-head masking of the loss."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainer.export import in_label_units
from trainer.model import averaged, build_model, for_serving, member_seed
from trainer.specs import FeatureSpec, Gate, HeadSpec, TrainerSettings

FEATURES = (FeatureSpec("distance", "numeric"), FeatureSpec("carrier", "categorical"))
HEADS = (
    HeadSpec("delay", "arr_delay", "regression", ("MeanAbsoluteError",), Gate("MeanAbsoluteError", at_most=9)),
    HeadSpec("late", "late", "binary", ("AUC",), Gate("AUC", at_least=0.5)),
    HeadSpec(
        "band",
        "band",
        "multiclass",
        ("SparseCategoricalAccuracy",),
        Gate("SparseCategoricalAccuracy", at_least=0.1),
        classes=("a", "b", "c", "d"),
    ),
)
SETTINGS = TrainerSettings(hidden_units=(8,), tower_units=(4,), embedding_dim=3)


def make_model():
    tf.keras.utils.set_random_seed(7)
    return build_model(FEATURES, HEADS, {"carrier": 5}, SETTINGS)


def batch(n=6):
    return {
        "distance_xf": tf.linspace(-1.0, 1.0, n),
        "carrier_xf": tf.constant([i % 5 for i in range(n)], tf.int64),
    }


LABELS_32 = {
    "delay": tf.linspace(-2.0, 2.0, 32)[:, None],
    "late": tf.constant([[float(i % 2)] for i in range(32)]),
    "band": tf.constant([i % 4 for i in range(32)], tf.int64),
}


def test_one_named_output_per_head_with_its_shape():
    model = make_model()
    outputs = model(batch(6))
    assert sorted(outputs) == sorted(h.name for h in HEADS)
    assert sorted(model.output_names) == sorted(h.name for h in HEADS)
    assert outputs["delay"].shape == (6, 1)
    assert outputs["late"].shape == (6, 1)
    assert outputs["band"].shape == (6, 4)
    np.testing.assert_allclose(outputs["band"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert ((outputs["late"].numpy() > 0) & (outputs["late"].numpy() < 1)).all()


def test_serving_turns_a_regression_head_back_into_label_units():
    standardized = tf.constant([[-1.0], [0.0], [2.0]])
    delay = in_label_units(HEADS[0], standardized, {"delay": (1000.0, 50.0)}).numpy()
    np.testing.assert_allclose(delay, [[950.0], [1000.0], [1100.0]])
    probabilities = tf.constant([[0.2]])
    assert in_label_units(HEADS[1], probabilities, {"delay": (1000.0, 50.0)}) is probabilities


def head_gradients(model, x, y, w, head):
    tower = [v for v in model.trainable_variables if v.name.startswith((f"{head}_", f"{head}/"))]
    with tf.GradientTape() as tape:
        predictions = model(x, training=True)
        loss = model.compiled_loss(y, predictions, sample_weight=w, regularization_losses=[])
    return [g.numpy() for g in tape.gradient(loss, tower)]


def test_a_masked_label_contributes_exactly_zero_gradient_to_its_head():
    model = make_model()
    x = batch(4)
    y = {
        "delay": tf.constant([[3.0], [1.0], [-2.0], [0.5]]),
        "late": tf.constant([[1.0], [0.0], [1.0], [0.0]]),
        "band": tf.constant([0, 1, 2, 3], tf.int64),
    }
    w = {"delay": tf.constant([1.0, 0.0, 1.0, 1.0]), "late": tf.ones(4), "band": tf.ones(4)}
    changed = dict(y, delay=tf.constant([[3.0], [999.0], [-2.0], [0.5]]))  # only the masked row differs
    before = head_gradients(model, x, y, w, "delay")
    after = head_gradients(model, x, changed, w, "delay")
    assert before and any(np.abs(g).sum() > 0 for g in before)  # the head does learn from other rows
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    # Unmasked, the same change moves the gradient: the check above can fail.
    unmasked = dict(w, delay=tf.ones(4))
    moved = head_gradients(model, x, changed, unmasked, "delay")
    assert any(
        not np.array_equal(a, b) for a, b in zip(head_gradients(model, x, y, unmasked, "delay"), moved, strict=True)
    )


def test_masking_one_head_leaves_the_other_heads_gradients_alone():
    model = make_model()
    x = batch(4)
    y = {
        "delay": tf.ones((4, 1)),
        "late": tf.constant([[1.0], [0.0], [1.0], [0.0]]),
        "band": tf.constant([0, 1, 2, 3], tf.int64),
    }
    full = {"delay": tf.ones(4), "late": tf.ones(4), "band": tf.ones(4)}
    masked_delay = dict(full, delay=tf.constant([1.0, 0.0, 1.0, 1.0]))
    late_full, late_masked = (
        head_gradients(model, x, y, full, "late"),
        head_gradients(model, x, y, masked_delay, "late"),
    )
    assert late_full and any(np.abs(g).sum() > 0 for g in late_full)  # the late tower has gradients to compare
    for a, b in zip(
        late_full,
        late_masked,
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_inference_gives_a_row_the_same_outputs_alone_or_in_any_batch_to_float32_rounding():
    """TFMA and clients batch rows as they please: a row's outputs move by float32 rounding only (the
    matrix multiply may sum in another order for another batch size), and training=True is the same
    function."""
    model = make_model()
    rows = batch(96)
    whole = {name: value.numpy() for name, value in model(rows, training=False).items()}
    for size in (1, 2, 3, 7, 64):
        for start in range(0, 96 - size + 1, size):
            part = model({k: v[start : start + size] for k, v in rows.items()}, training=False)
            for name, value in part.items():
                np.testing.assert_allclose(
                    value.numpy(), whole[name][start : start + size], rtol=1e-6, atol=1e-7, err_msg=name
                )
    trained = model(rows, training=True)
    for name, value in trained.items():
        np.testing.assert_allclose(value.numpy(), whole[name], rtol=1e-6, atol=1e-7)


def test_the_model_is_made_of_keras_own_layers_only():
    """A served model loads wherever tf_keras does: no layer class of this project in it."""
    model = for_serving(make_model())
    for layer in model.layers:
        assert type(layer).__module__.startswith("tf_keras."), (layer.name, type(layer))


def test_an_ensemble_serves_the_mean_of_its_members_in_one_model(tmp_path):
    """trainer.ensemble_members: one model whose heads average the members' outputs, saved as one
    SavedModel that holds the members' weights and nothing of their training."""
    members = []
    for member in range(3):
        tf.keras.utils.set_random_seed(member_seed(7, member))
        trained = build_model(FEATURES, HEADS, {"carrier": 5}, SETTINGS, name=f"multihead_{member}")
        trained.fit(batch(32), LABELS_32, epochs=1, batch_size=8, verbose=0)  # the optimizer gets its slots
        assert len(trained.optimizer.variables) > 1
        members.append(for_serving(trained))
        for layer in members[-1].layers:
            for a, b in zip(layer.get_weights(), trained.get_layer(layer.name).get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
    ensemble = averaged(members, HEADS)
    assert averaged(members[:1], HEADS) is members[0]
    rows = batch(32)
    outputs = ensemble(rows, training=False)
    each = [member(rows, training=False) for member in members]
    for head in HEADS:
        expected = np.mean([out[head.name].numpy() for out in each], axis=0)
        np.testing.assert_allclose(outputs[head.name].numpy(), expected, rtol=1e-6, atol=1e-7)
        assert not np.allclose(each[0][head.name].numpy(), each[1][head.name].numpy())  # members differ
    np.testing.assert_allclose(outputs["band"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    for size in (1, 5):
        part = ensemble({k: v[:size] for k, v in rows.items()}, training=False)
        for head in HEADS:
            np.testing.assert_allclose(part[head.name].numpy(), outputs[head.name].numpy()[:size], rtol=1e-6, atol=1e-7)
    tf.saved_model.save(ensemble, str(tmp_path / "ensemble"))
    loaded = tf.saved_model.load(str(tmp_path / "ensemble"))
    network = sum(len(layer.weights) for layer in members[0].layers)
    assert len(loaded.variables) == 3 * network  # no optimizer slots, no loss weights
    assert not [v.name for v in loaded.variables if "log_variance" in v.name or "Adam" in v.name]
