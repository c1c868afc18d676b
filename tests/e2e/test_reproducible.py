"""Reproducibility: the same inputs and seed train the same model, and the same
model evaluated twice (alone, and as its own baseline) gets the same metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.gate.metrics import BASELINE, CANDIDATE, CANDIDATE_NAMES, load_estimates
from tests.e2e.evaluator_process import evaluate_as_own_baseline
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
    return evaluate_as_own_baseline(config.metadata_path, clean.evaluation, tmp_path_factory.mktemp("again"))


def test_the_same_model_evaluated_twice_gets_the_same_metrics(runs, evaluated_as_own_baseline):
    """`clean` evaluated its model as the candidate (against the first model); here the same model is
    evaluated again on the same examples, as candidate and as its own baseline."""
    _, clean, _, _ = runs["clean"]
    alone = load_estimates(clean.evaluation)
    twice = load_estimates(evaluated_as_own_baseline)
    compared = 0
    for where, values in alone.items():
        for (output, metric, model, is_diff), estimate in values.items():
            if model not in CANDIDATE_NAMES or is_diff or metric.endswith("example_count"):
                continue
            assert twice[where][(output, metric, CANDIDATE, False)].value == estimate.value, (where, output, metric)
            assert twice[where][(output, metric, BASELINE, False)].value == estimate.value, (where, output, metric)
            compared += 1
    assert compared > 20


def test_the_same_model_evaluated_twice_gets_the_same_standard_errors(runs, evaluated_as_own_baseline):
    """The jackknife buckets are a hash of each example (components/evaluator.py): the interval the gate decides
    with is the same every time the same model meets the same examples, whatever the baseline."""
    _, clean, _, _ = runs["clean"]
    alone, twice = load_estimates(clean.evaluation), load_estimates(evaluated_as_own_baseline)
    compared = 0
    for where, values in alone.items():
        for (output, metric, model, is_diff), estimate in values.items():
            if model not in CANDIDATE_NAMES or is_diff or estimate.standard_error is None:
                continue
            again = twice[where][(output, metric, CANDIDATE, False)]
            assert again.standard_error == estimate.standard_error, (where, output, metric)
            compared += 1
    assert compared > 20


def test_the_evaluators_interval_changes_drop_no_output(runs, tmp_path):
    """components/evaluator.py: skipping TFMA's private intermediates changes no metric, interval or
    diff, and the hashed jackknife buckets leave no large slice without its interval."""
    import tensorflow_model_analysis as tfma
    from apache_beam.options.pipeline_options import PipelineOptions

    from components.evaluator import fast_reproducible_intervals, keyed_jackknife_buckets
    from pipeline.eval_config import build_eval_config
    from pipeline.spans import span_folder

    config, clean, _, _ = runs["clean"]
    eval_config = build_eval_config(config)
    del eval_config.model_specs[1:]  # the candidate alone covers every metric kind
    model = tfma.default_eval_shared_model(
        eval_saved_model_path=str(Path(clean.model) / "Format-Serving"), eval_config=eval_config
    )
    examples = Path(config.data.root) / span_folder(config.data.span_dir, config.data.eval_span) / "*"

    def evaluate(name: str, beam_args: list[str]) -> dict:
        out = tmp_path / name
        tfma.run_model_analysis(
            eval_shared_model=model,
            eval_config=eval_config,
            data_location=str(examples),
            file_format="tfrecords",
            output_path=str(out),
            pipeline_options=PipelineOptions(beam_args),
        )
        return {
            (m.slice_key.SerializeToString(deterministic=True), kv.key.name, kv.key.output_name): kv
            for m in tfma.load_metrics(str(out))
            for kv in m.metric_keys_and_values
        }

    one_worker = ["--direct_running_mode=in_memory"]
    with keyed_jackknife_buckets():
        every_interval = evaluate("all_intervals", one_worker)
    with fast_reproducible_intervals():
        used_intervals = evaluate("used_intervals", one_worker)

    assert used_intervals.keys() == every_interval.keys() and len(used_intervals) > 100
    for key, value in every_interval.items():
        assert used_intervals[key] == value, key
    # TFMA drops a slice's intervals when a delete-one sample has no example, i.e. when every example
    # of the slice is in one bucket: the fixture's one-flight airlines, never a larger slice unless
    # the buckets collapse.
    without = {key[0] for key in used_intervals if key[1] == "__ERROR__"}
    examples = {}
    for (where, name, _), kv in used_intervals.items():
        if name == "example_count":
            examples[where] = max(examples.get(where, 0), kv.value.double_value.value)
    large = {where for where, count in examples.items() if count >= 20}
    assert large and not large & without, (large, without)
    with_interval = [key for key, kv in used_intervals.items() if kv.confidence_interval.HasField("standard_error")]
    assert len(with_interval) > 50
