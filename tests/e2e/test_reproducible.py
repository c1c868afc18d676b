"""Reproducibility: the same inputs and seed train the same model, and the same
model evaluated twice (alone, and as its own baseline) gets the same metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from components.gate.metrics import BASELINE, CANDIDATE, CANDIDATE_NAMES, load_estimates
from tests.e2e.trainer_process import train, trainer_inputs, with_trainer_settings


def train_once(recorded: dict, work: Path, name: str) -> str:
    return train(recorded, work / name)


def test_two_trainings_from_the_same_inputs_give_the_same_model(runs, tmp_path):
    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    custom = json.loads(recorded["properties"]["custom_config"])
    assert custom["trainer"]["seed"] == config.model.trainer.seed
    first = train_once(recorded, tmp_path, "a")
    second = train_once(recorded, tmp_path, "b")
    weights = [
        {v.name: v.numpy() for v in tf.saved_model.load(path).variables}
        for path in (first, second, str(Path(artifacts.model) / "Format-Serving"))
    ]
    assert weights[0].keys() == weights[1].keys() and len(weights[0]) > 0
    for name, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[1][name], err_msg=name)
    # The pipeline's own Trainer run, on the same inputs, got the same weights too.
    for name, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[2][name], err_msg=f"pipeline model: {name}")


def test_a_different_seed_gives_a_different_model(runs, tmp_path):
    config, _, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    seed = json.loads(recorded["properties"]["custom_config"])["trainer"]["seed"]
    path = train_once(with_trainer_settings(recorded, seed=seed + 1), tmp_path, "other_seed")
    original = train_once(trainer_inputs(config.metadata_path), tmp_path, "same_seed")
    a = {v.name: v.numpy() for v in tf.saved_model.load(path).variables}
    b = {v.name: v.numpy() for v in tf.saved_model.load(original).variables}
    assert any(not np.array_equal(a[name], b[name]) for name in a)  # the check above could fail


def test_the_same_model_evaluated_twice_gets_the_same_metrics(runs):
    """`clean` evaluated its model as the candidate; `rerun` (cached Trainer) evaluates
    the same model again, as candidate AND as its own baseline."""
    _, clean, _, _ = runs["clean"]
    _, rerun, _, _ = runs["rerun"]
    assert rerun.model == clean.model and rerun.baseline_model == clean.model
    alone = load_estimates(clean.evaluation)
    twice = load_estimates(rerun.evaluation)
    compared = 0
    for where, values in alone.items():
        for (output, metric, model, is_diff), estimate in values.items():
            if model not in CANDIDATE_NAMES or is_diff or metric.endswith("example_count"):
                continue
            assert twice[where][(output, metric, CANDIDATE, False)].value == estimate.value, (where, output, metric)
            assert twice[where][(output, metric, BASELINE, False)].value == estimate.value, (where, output, metric)
            compared += 1
    assert compared > 20
