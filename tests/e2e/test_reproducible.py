"""Reproducibility: the same inputs and seed train the same model, and the same
model evaluated twice (alone, and as its own baseline) gets the same metrics."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.gate.component import gated_slice_names, read_decisions
from components.gate.decide import decide_head
from components.gate.metrics import BASELINE, CANDIDATE, CANDIDATE_NAMES, change_key, is_change_key, load_estimates
from pipeline.pipeline import EVALUATOR_DIRECT_ARGS
from tests.e2e.executions_again import evaluate_again, transform_again
from tests.e2e.trainer_process import train, trainer_inputs, with_trainer_settings
from trainer.data import canonical_columns


def train_once(recorded: dict, work: Path, name: str) -> str:
    return train(recorded, work / name)


def test_two_trainings_from_the_same_inputs_give_the_same_model(runs, tmp_path):
    """The pipeline's own Trainer run and run_fn again here, on the same recorded inputs: the same weights."""
    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    custom = json.loads(recorded["properties"]["custom_config"])
    assert custom["trainer"]["seed"] == config.model.trainer.seed
    again = train_once(recorded, tmp_path, "again")
    weights = [
        {v.name: v.numpy() for v in tf.saved_model.load(path).variables}
        for path in (again, str(Path(artifacts.model) / "Format-Serving"))
    ]
    assert weights[0].keys() == weights[1].keys() and len(weights[0]) > 0
    for name, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[1][name], err_msg=name)


def test_a_different_seed_gives_a_different_model(runs, tmp_path):
    """The check above could fail: another seed on the same inputs moves the weights of the pipeline's model
    (trained with the recorded seed, which the test above shows a retraining reproduces)."""
    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    seed = json.loads(recorded["properties"]["custom_config"])["trainer"]["seed"]
    path = train_once(with_trainer_settings(recorded, seed=seed + 1), tmp_path, "other_seed")
    a = {v.name: v.numpy() for v in tf.saved_model.load(path).variables}
    b = {v.name: v.numpy() for v in tf.saved_model.load(str(Path(artifacts.model) / "Format-Serving")).variables}
    assert a.keys() == b.keys() and len(a) > 0
    assert any(not np.array_equal(a[name], b[name]) for name in a)


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
    compared = 0
    for values in load_estimates(evaluated_as_own_baseline).values():
        for head in config.model.heads:
            key = (head.name, change_key(head.gate_key), CANDIDATE, False)
            if key not in values:
                continue
            change, metric = values[key], values[(head.name, head.gate_key, CANDIDATE, False)].value
            if math.isnan(metric):  # an AUC on a slice with one class: no value, so no change either
                assert math.isnan(change.value), (head.name, metric)
                continue
            assert change.value == 0.0, (head.name, change.value)
            if change.standard_error is None:  # undefined, only where too few rows leave no spread to estimate
                assert too_few_for_a_spread(values, head), (head.name, values)
                continue
            assert change.standard_error == 0.0, (head.name, change.standard_error)
            compared += 1
    assert compared > 20


def too_few_for_a_spread(values: dict, head) -> bool:
    """Fewer than 2 labelled rows; for AUC (DeLong's variance), fewer than 2 of either class."""
    count = values[(head.name, "weighted_example_count", CANDIDATE, False)].value
    if head.gate.metric != "AUC":
        return count < 2
    positives = round(values[(head.name, "mean_label", CANDIDATE, False)].value * count)
    return min(positives, count - positives) < 2


RELATIVE = 1e-6  # float32 outputs that moved by rounding; the gate's intervals are about 1e-3 wide


def close(again: float | None, first: float | None) -> bool:
    """Equal to RELATIVE (both NaN or both None count as equal)."""
    if again is None or first is None:
        return again is first
    if math.isnan(first):
        return math.isnan(again)
    return math.isclose(again, first, rel_tol=RELATIVE, abs_tol=RELATIVE * 1e-3)


def decisions_on(estimates, recorded: dict, config) -> dict[str, tuple[bool, list[str]]]:
    """The gate's decision on `estimates`, with the naive scores the recorded decision used: per head,
    whether it passed and the slices that failed."""
    plan = config.evaluation_plan()
    gated = gated_slice_names(estimates, plan.gated_slices)
    decided = {}
    for head, record in zip(plan.heads, recorded["heads"], strict=True):
        naive = {row["slice"]: row["naive"] for row in record["rows"]}
        decision = decide_head(head, estimates, naive, record["naive"], gated, plan.min_slice_examples, plan.confidence)
        decided[head.name] = (decision.passed, [row.slice for row in decision.rows if row.failures])
    return decided


@pytest.mark.parametrize("beam_args", [EVALUATOR_DIRECT_ARGS, ("--direct_running_mode=in_memory",)], ids=str)
def test_the_same_evaluation_run_again_gets_the_same_changes_standard_errors_and_decisions(runs, tmp_path, beam_args):
    """The interval the gate decides with is the same, to float32 rounding, every time the same models
    meet the same examples, whatever the DirectRunner's mode: each slice's rows are put in one order
    before anything is summed (components/gate/paired_stats.py), and a row's outputs move only by the
    rounding of another batch size. Every value and standard error within 1e-6 relative; the gate
    decides the same on both."""
    config, clean, _, _ = runs["clean"]
    first = load_estimates(clean.evaluation)
    again = load_estimates(
        evaluate_again(config.metadata_path, clean.evaluation, tmp_path, own_baseline=False, beam_args=beam_args)
    )
    assert again.keys() == first.keys()
    with_interval, largest = 0, 0.0
    for where, values in first.items():
        assert again[where].keys() == values.keys(), where
        for key, estimate in values.items():
            other = again[where][key]
            assert close(other.value, estimate.value), (where, key, other.value, estimate.value)
            assert close(other.standard_error, estimate.standard_error), (where, key)
            assert other.degrees_of_freedom == estimate.degrees_of_freedom, (where, key)
            if estimate.value and math.isfinite(estimate.value):
                largest = max(largest, abs(other.value - estimate.value) / abs(estimate.value))
            with_interval += estimate.standard_error is not None
    assert with_interval > 20
    print(f"largest relative difference between the two evaluations: {largest:.2g}")
    recorded = read_decisions(clean.blessing)
    assert decisions_on(again, recorded, config) == decisions_on(first, recorded, config)
    assert [head["passed"] for head in recorded["heads"]] == [
        passed for passed, _ in decisions_on(first, recorded, config).values()
    ]


def serving_weights(path: str) -> dict[str, np.ndarray]:
    return {v.name: v.numpy() for v in tf.saved_model.load(path).variables}


def assert_same_weights(trained: str, reference: str) -> None:
    a, b = serving_weights(trained), serving_weights(reference)
    assert a.keys() == b.keys() and len(a) > 0
    for name, value in a.items():
        np.testing.assert_array_equal(value, b[name], err_msg=name)


def in_another_layout(recorded: dict, out: Path) -> dict:
    """The recorded Trainer inputs with the training rows written as no Beam mode writes them: in
    reverse order, dealt into two splits listed in reverse order, three plain (not gzipped) files
    each. The evaluation split is kept (it never changes the weights)."""
    examples = recorded["inputs"]["examples"]
    train_args = json.loads(recorded["properties"]["train_args"])
    files = [f for split in train_args["splits"] for f in sorted(Path(examples["uri"]).glob(f"Split-{split}/*"))]
    rows = [row for f in files for row in tf.data.TFRecordDataset(str(f), compression_type="GZIP").as_numpy_iterator()]
    rows.reverse()
    eval_splits = [s for s in json.loads(examples["split_names"]) if s not in train_args["splits"]]
    for split in eval_splits:
        shutil.copytree(Path(examples["uri"]) / f"Split-{split}", out / f"Split-{split}")
    new_splits = ["layout_b", "layout_a"]
    for half, split in enumerate(new_splits):
        (out / f"Split-{split}").mkdir(parents=True)
        part = rows[half::2]
        for shard in range(3):
            with tf.io.TFRecordWriter(str(out / f"Split-{split}" / f"rows-{shard}")) as writer:
                for row in part[shard::3]:
                    writer.write(row)
    properties = dict(recorded["properties"], train_args=json.dumps({**train_args, "splits": new_splits[::-1]}))
    inputs = dict(recorded["inputs"], examples={"uri": str(out), "split_names": json.dumps(new_splits + eval_splits)})
    return {"inputs": inputs, "properties": properties}


def test_the_same_rows_in_another_layout_train_the_same_model(runs, tmp_path):
    """The training order is a function of the window's rows and the seed (trainer/data.py): how the
    rows were sharded, ordered, compressed and split does not reach the weights."""
    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    rewritten = in_another_layout(recorded, tmp_path / "examples")
    assert_same_weights(train_once(rewritten, tmp_path, "other_layout"), str(Path(artifacts.model) / "Format-Serving"))


@pytest.fixture(scope="module")
def transformed_in_multi_processing(runs, tmp_path_factory) -> dict:
    """`first`'s Transform run again in the DirectRunner's multi_processing mode, on two workers."""
    config, _, _, _ = runs["first"]
    return transform_again(
        config.metadata_path,
        trainer_inputs(config.metadata_path)["inputs"]["transform_graph"]["uri"],
        tmp_path_factory.mktemp("transform_mp"),
        ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    )


def test_transform_in_another_beam_mode_writes_the_same_rows_and_the_trainer_the_same_model(
    runs, transformed_in_multi_processing, tmp_path
):
    """Beam's mode changes how Transform's rows are sharded and how its analyzers' partial results are
    combined. The vocabularies, means, variances and quantiles come out the same here, so the rows do,
    and with trainer/data.py's order so does the model."""
    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    train_args = json.loads(recorded["properties"]["train_args"])
    (examples,) = transformed_in_multi_processing["transformed_examples"]
    (graph,) = transformed_in_multi_processing["transform_graph"]

    feature_spec = tft.TFTransformOutput(graph.uri).transformed_feature_spec()

    def rows(uri: str) -> dict[str, np.ndarray]:
        return canonical_columns([f"{uri}/Split-{split}/*" for split in train_args["splits"]], feature_spec)

    mine, pipelines = rows(examples.uri), rows(recorded["inputs"]["examples"]["uri"])
    assert mine.keys() == pipelines.keys()
    for name, values in mine.items():
        np.testing.assert_array_equal(values, pipelines[name], err_msg=name)
    moved = {
        **recorded,
        "inputs": {
            **recorded["inputs"],
            "examples": {"uri": examples.uri, "split_names": recorded["inputs"]["examples"]["split_names"]},
            "transform_graph": {"uri": graph.uri, "split_names": None},
        },
    }
    assert_same_weights(train_once(moved, tmp_path, "multi_processing"), str(Path(artifacts.model) / "Format-Serving"))
