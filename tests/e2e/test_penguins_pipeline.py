"""Genericity: a second data set through the same code, with only a config and a schema."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import tensorflow as tf

from orchestration.run_local import resolve_spans, run_pipeline
from pipeline.config import load_config
from results import outcome
from trainer.run import LEARNED_WEIGHTS_FILE

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "penguins.yaml"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The penguins pipeline's first run on a fresh root: (config, artifacts)."""
    config = resolve_spans(load_config(CONFIG).with_output_root(tmp_path_factory.mktemp("penguins") / "out"))
    assert (config.data.train_spans, config.data.eval_span) == ((2007, 2008), 2009)  # the newest year evaluated
    artifacts, _ = run_pipeline(config)
    return config, artifacts


def test_penguins_train_evaluate_and_push(first_run):
    config, artifacts = first_run
    assert {h.kind for h in config.model.heads} == {"multiclass", "binary", "regression"}
    outcomes = outcome.head_outcomes(config, artifacts)
    assert outcome.failed_heads(outcomes) == [], outcomes
    assert artifacts.pushed
    by_head = {o.head: o for o in outcomes}
    assert by_head["species"].value >= 0.8
    assert by_head["sex"].value >= 0.7
    assert by_head["body_mass"].value <= 600.0
    # No loss_weight in the config: every head's weight was learned, and the
    # pushed model carries them.
    assert all(head.loss_weight is None for head in config.model.heads)
    learned = json.loads((Path(artifacts.pushed_destination) / LEARNED_WEIGHTS_FILE).read_text())
    assert set(learned) == {"species", "sex", "body_mass"}
    assert all(math.isfinite(w) and w > 0 and w != 1.0 for w in learned.values()), learned

    gentoo = tf.train.Example()
    for name, value in {
        "island": b"Biscoe",
        "bill_length_mm": 47.5,
        "bill_depth_mm": 15.0,
        "flipper_length_mm": 217.0,
    }.items():
        if isinstance(value, bytes):
            gentoo.features.feature[name].bytes_list.value.append(value)
        else:
            gentoo.features.feature[name].float_list.value.append(value)
    served = tf.saved_model.load(artifacts.pushed_destination).signatures["serving_default"](
        examples=tf.constant([gentoo.SerializeToString()])
    )
    # flipper_length_mm feeds two features (`column:`): the request carries it once, serving transforms it twice.
    assert [f.name for f in config.model.features if f.raw_keys == ("flipper_length_mm",)] == [
        "flipper_length_mm",
        "flipper_length_band",
    ]
    signatures = tf.saved_model.load(artifacts.pushed_destination).signatures
    labelled = tf.train.Example.FromString(gentoo.SerializeToString())
    labelled.features.feature["species"].bytes_list.value.append(b"Gentoo")  # the one required label
    transformed = signatures["transform_features"](examples=tf.constant([labelled.SerializeToString()]))
    assert 0 <= int(tf.reshape(transformed["flipper_length_band_xf"], [-1])[0]) < 4
    assert float(tf.reshape(transformed["flipper_length_mm_xf"], [-1])[0]) > 0  # 217 mm: above the mean
    assert served["species"].shape == (1, 3)
    assert int(tf.argmax(served["species"][0])) == config.model.heads[0].classes.index("Gentoo")
    assert 3500 < float(served["body_mass"][0, 0]) < 6500


def test_a_retrain_with_another_seed_on_unchanged_data_is_not_blocked(first_run):
    """The change rule against seed noise: the second model differs from the first only by
    its seed, is gated against it (every head's change has an interval) and still pushed.
    Runs after the test above, on the same pipeline root."""
    from components.gate.component import DECISIONS_FILE
    from orchestration.calibrate import seeded

    config, first = first_run
    assert first.blessed
    retrain = seeded(config, config.model.trainer.seed + 1)
    second, _ = run_pipeline(retrain)
    assert second.model != first.model and second.baseline_model == first.model
    decisions = json.loads((Path(second.blessing) / DECISIONS_FILE).read_text())
    rows = [head["rows"][0] for head in decisions["heads"]]
    for overall in rows:
        assert overall["baseline"] is not None and overall["interval"] is not None, overall
    assert any(overall["change"] != 0 for overall in rows)  # another model, not the first against itself
    assert outcome.failed_heads(outcome.head_outcomes(retrain, second)) == []
    assert second.blessed and second.pushed and second.newly_pushed
    # Only the Trainer's settings changed: Transform (and everything before it) came from the cache.
    from bench.pipeline_stages import component_times

    executed, cached = component_times(Path(retrain.output_root))
    assert "Transform" in cached and "Trainer" in executed, (executed, cached)
