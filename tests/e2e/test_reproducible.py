"""Reproducibility: the same inputs and seed train the same model, and the same
model evaluated twice (alone, and as its own baseline) gets the same metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.gate.metrics import BASELINE, CANDIDATE, CANDIDATE_NAMES, change_key, is_change_key, load_estimates
from pipeline.pipeline import EVALUATOR_DIRECT_ARGS
from tests.e2e.evaluator_process import evaluate_again
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


@pytest.fixture(scope="module")
def evaluated_as_own_baseline(runs, tmp_path_factory) -> str:
    """`clean`'s Evaluator run again by the pipeline's executor, its model as candidate AND baseline."""
    config, clean, _, _ = runs["clean"]
    return evaluate_again(config.metadata_path, clean.evaluation, tmp_path_factory.mktemp("own"), own_baseline=True)


def test_the_same_model_evaluated_twice_gets_the_same_metrics(runs, evaluated_as_own_baseline):
    """`clean` evaluated its model as the candidate (against the first model); here the same model is
    evaluated again on the same examples, as candidate and as its own baseline."""
    _, clean, _, _ = runs["clean"]
    alone = load_estimates(clean.evaluation)
    twice = load_estimates(evaluated_as_own_baseline)
    compared = 0
    for where, values in alone.items():
        for (output, metric, model, is_diff), estimate in values.items():
            if model not in CANDIDATE_NAMES or is_diff or is_change_key(metric):
                continue
            for model_name in (CANDIDATE, BASELINE):  # NaN: an AUC on a slice with one class, the same both times
                again = twice[where][(output, metric, model_name, False)].value
                assert repr(again) == repr(estimate.value), (where, output, metric, model_name)
            compared += 1
    assert compared > 100


def test_a_model_against_itself_changes_by_exactly_zero_with_no_spread(runs, evaluated_as_own_baseline):
    """A known answer for the paired change on real TFMA output: the same predictions on the same
    examples differ by 0, and so do their per-example influences."""
    config, _, _, _ = runs["clean"]
    changes = [
        values[(head.name, change_key(head.gate_key), CANDIDATE, False)]
        for values in load_estimates(evaluated_as_own_baseline).values()
        for head in config.model.heads
        if (head.name, change_key(head.gate_key), CANDIDATE, False) in values
    ]
    assert len(changes) > 20
    for change in changes:
        assert change.value == 0.0 or math.isnan(change.value)
        assert change.standard_error in (0.0, None)


@pytest.mark.parametrize("beam_args", [EVALUATOR_DIRECT_ARGS, ("--direct_running_mode=in_memory",)], ids=str)
def test_the_same_evaluation_run_again_gets_the_same_changes_and_standard_errors(runs, tmp_path, beam_args):
    """The interval the gate decides with is the same every time the same models meet the same
    examples, bit for bit, whatever the DirectRunner's mode: each slice's rows are put in one order
    before anything is summed (components/gate/paired_stats.py), and the model gives a row the same
    outputs in any batch the mode's bundles make (trainer/layers.py)."""
    config, clean, _, _ = runs["clean"]
    first = load_estimates(clean.evaluation)
    again = load_estimates(
        evaluate_again(config.metadata_path, clean.evaluation, tmp_path, own_baseline=False, beam_args=beam_args)
    )
    assert again.keys() == first.keys()
    with_interval = 0
    for where, values in first.items():
        assert again[where].keys() == values.keys(), where
        for key, estimate in values.items():
            assert repr(again[where][key]) == repr(estimate), (where, key)
            with_interval += estimate.standard_error is not None
    assert with_interval > 20
