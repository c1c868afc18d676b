"""End to end on the fixture with real TFX components and a real MLMD store.

One sequence of runs in one pipeline root, as a scheduler would make them:
  1. first run (no baseline): every head passes its value threshold; pushed;
  2. a new evaluation span where ONE head's labels are corrupted: blocked,
     only that head named, the serving directory untouched;
  3. span 3 arrives: the same config and command train on the moved window,
     after an attempt killed with SIGKILL during its Evaluator: what the
     attempt finished comes from the cache, and the killed execution no longer
     shows as RUNNING in ML Metadata; every head holds; pushed as a new version;
  4. the same again with no new data: every component comes from the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.gate.component import DECISIONS_FILE
from components.report.component import JSON_FILE
from orchestration.exit_codes import ExitCode
from orchestration.run_local import exit_code
from results import outcome
from results.metadata import open_store
from tests.e2e.fixture_runs import CORRUPTED_HEAD
from tests.helpers import span_records
from trainer import label_units
from trainer.export import in_label_units

pytestmark = pytest.mark.e2e


def test_first_run_passes_every_head_and_pushes(runs):
    config, artifacts, outcomes, serving = runs["first"]
    assert artifacts.baseline_model is None
    assert artifacts.blessed and artifacts.pushed
    assert [o.head for o in outcomes] == [h.name for h in config.model.heads]
    for result in outcomes:
        head = next(h for h in config.model.heads if h.name == result.head)
        assert result.passed, result
        assert result.value is not None
        if head.gate.at_least is not None:
            assert result.value >= head.gate.at_least
        else:
            assert result.value <= head.gate.at_most
    assert len({path.split("/")[0] for path in serving}) == 1  # one pushed version


def test_a_script_tells_a_pushed_run_from_a_blocked_one_by_the_exit_code(runs):
    """`make run` and `mhp run` exit with exit_code(the run): 0 pushed (a cached rerun too), 3 blocked."""
    assert exit_code(runs["first"][1]) == ExitCode.PUSHED == 0
    assert exit_code(runs["corrupted"][1]) == ExitCode.BLOCKED == 3
    assert exit_code(runs["rerun"][1]) == ExitCode.PUSHED


def test_one_corrupted_head_blocks_the_push_and_names_only_that_head(runs):
    _, first, _, serving_before = runs["first"]
    config, artifacts, outcomes, serving_after = runs["corrupted"]
    assert artifacts.baseline_model == first.model
    assert not artifacts.blessed and not artifacts.pushed
    assert outcome.failed_heads(outcomes) == [CORRUPTED_HEAD]
    decisions = json.loads((Path(artifacts.blessing) / DECISIONS_FILE).read_text())
    assert not decisions["blessed"]
    assert {h["head"] for h in decisions["heads"] if not h["passed"]} == {CORRUPTED_HEAD}
    for head in decisions["heads"]:  # TFMA computed every change with its interval, on the same examples
        overall = head["rows"][0]
        assert overall["slice"] == "overall" and overall["baseline"] is not None
        low, high = overall["interval"]
        assert low <= overall["change"] <= high
    reasons = next(o for o in outcomes if o.head == CORRUPTED_HEAD).reasons
    key = next(h for h in config.model.heads if h.name == CORRUPTED_HEAD).gate_key
    assert any("slice overall" in reason and key in reason for reason in reasons)
    assert serving_after == serving_before  # byte for byte


def test_a_new_span_folder_moves_the_window_with_no_change_to_config_or_command(runs):
    """Both runs come from one unresolved config (train_window 1); only the data root changed between them."""
    first_config, first, _, _ = runs["first"]
    clean_config, clean, _, _ = runs["clean"]
    assert (first_config.data.train_spans, first_config.data.eval_span) == ((1,), 2)
    assert (clean_config.data.train_spans, clean_config.data.eval_span) == ((2,), 3)
    for artifacts, expected in (
        (first, "train_1: span-1/*, eval: span-2/*"),
        (clean, "train_1: span-2/*, eval: span-3/*"),
    ):
        summary = json.loads((Path(artifacts.report) / JSON_FILE).read_text())
        assert summary["identity"]["data spans"] == expected  # the report names the spans the run resolved
    assert clean.model != first.model  # trained on the new window, not taken from the cache


def test_a_run_where_every_head_holds_pushes_a_new_version(runs):
    _, first, _, serving_before = runs["first"]
    _, artifacts, outcomes, serving_after = runs["clean"]
    assert artifacts.baseline_model == first.model  # the blocked model never became the baseline
    assert outcome.failed_heads(outcomes) == []
    assert artifacts.blessed and artifacts.pushed and artifacts.newly_pushed
    # Before the push, the candidate answered raw examples (labels stripped) in a fresh process.
    canary = json.loads((Path(artifacts.blessing) / DECISIONS_FILE).read_text())["canary"]
    assert canary["passed"] and canary["reasons"] == [] and canary["examples"] > 100, canary
    summary = json.loads((Path(artifacts.report) / JSON_FILE).read_text())
    assert summary["canary"] == canary
    versions_before = {path.split("/")[0] for path in serving_before}
    versions_after = {path.split("/")[0] for path in serving_after}
    assert versions_before < versions_after and len(versions_after) == 2
    for path, digest in serving_before.items():  # the old version is untouched
        assert serving_after[path] == digest


def test_rerun_without_new_data_is_served_from_the_cache(runs):
    from ml_metadata.proto import metadata_store_pb2

    config, artifacts, outcomes, serving = runs["rerun"]
    _, clean, _, clean_serving = runs["clean"]
    store = open_store(config.metadata_path)
    run_ctx = store.get_context_by_type_and_name("pipeline_run", artifacts.run_id)
    types = {t.id: t.name for t in store.get_execution_types()}
    states = {
        types[e.type_id].rsplit(".", 1)[-1]: e.last_known_state for e in store.get_executions_by_context(run_ctx.id)
    }
    cached = metadata_store_pb2.Execution.CACHED
    for component in (
        "ImportExampleGen",
        "StatisticsGen",
        "ImportSchemaGen",
        "ExampleValidator",
        "ExampleGate",
        "Transform",
        "Trainer",
    ):
        assert states[component] == cached, (component, states)
    assert artifacts.model == clean.model
    # The baseline is the latest blessed model other than the candidate: the one the model was judged
    # against when it was pushed, so the Evaluator's inputs are unchanged and everything after it is
    # reused too: the same evaluation, verdict, push and report, and nothing written to serving.
    assert artifacts.baseline_model == clean.baseline_model
    for component in ("Evaluator", "HeadGate", "Pusher", "PerHeadReport"):
        assert states[component] == cached, (component, states)
    assert (artifacts.evaluation, artifacts.blessing, artifacts.report) == (
        clean.evaluation,
        clean.blessing,
        clean.report,
    )
    assert outcome.failed_heads(outcomes) == []
    assert artifacts.pushed and not artifacts.newly_pushed and "Pusher" in artifacts.reused
    assert artifacts.pushed_destination == clean.pushed_destination
    assert serving == clean_serving


def test_a_killed_attempt_leaves_nothing_running_and_its_finished_work_is_reused(runs):
    from ml_metadata.proto import metadata_store_pb2

    from results.metadata import ABANDONED_NOTE, running_executions

    config, artifacts, _, _ = runs["clean"]
    killed = runs["killed"]
    assert killed, "the kill left nothing RUNNING: nothing to tidy was tested"
    assert running_executions(config.metadata_path, config.name) == []
    store = open_store(config.metadata_path)
    types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    for execution in store.get_executions_by_id(sorted(killed)):
        assert types[execution.type_id] == "Evaluator"
        assert execution.last_known_state == metadata_store_pb2.Execution.CANCELED
        assert execution.custom_properties[ABANDONED_NOTE].string_value == artifacts.run_id
    assert {"Transform", "Trainer"} <= artifacts.reused  # finished by the killed attempt, not done twice
    assert artifacts.pushed  # the run started again finished the job


def newest_transform_output(artifacts):
    """The pipeline root's newest Transform graph (the clean run's)."""
    import tensorflow_transform as tft

    transform_graph = Path(artifacts.model).parents[2] / "Transform" / "transform_graph"
    return tft.TFTransformOutput(str(max(transform_graph.iterdir(), key=lambda p: int(p.name))))


def test_pushed_model_serves_raw_examples_like_the_trained_model(runs, flights_fixture_dir):
    config, artifacts, _, _ = runs["clean"]
    heads = config.model.heads
    raw = span_records(flights_fixture_dir / "span-3", limit=40)
    without_labels = []
    for record in raw:
        example = tf.train.Example.FromString(record)
        for head in heads:
            if head.label in example.features.feature:
                del example.features.feature[head.label]
        without_labels.append(example.SerializeToString())

    served = tf.saved_model.load(artifacts.pushed_destination).signatures["serving_default"](
        examples=tf.constant(without_labels)
    )
    assert set(served) == {head.name for head in heads}
    for head in heads:
        values = served[head.name].numpy()
        assert values.shape == (len(raw), head.output_units), head.name
        if head.kind == "binary":
            assert ((values >= 0) & (values <= 1)).all()
        if head.kind == "multiclass":
            np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=1e-5)
        if head.kind == "regression":
            assert np.isfinite(values).all()

    # The trained model on the same rows after the Transform component's graph.
    tft_output = newest_transform_output(artifacts)
    parsed = tf.io.parse_example(tf.constant(raw), tft_output.raw_feature_spec())
    transformed = tft_output.transform_raw_features(parsed)
    trained = tf.saved_model.load(str(Path(artifacts.model) / "Format-Serving"))
    inputs = {feature.transformed: transformed[feature.transformed] for feature in config.model.features}
    expected = trained(inputs, training=False)
    scaling = label_units.label_scaling(tft_output, heads)  # regression heads learn standardized labels
    for head in heads:
        np.testing.assert_allclose(
            served[head.name].numpy(),
            in_label_units(head, expected[head.name], scaling).numpy(),
            rtol=1e-5,
            atol=1e-5,
        )


def test_an_example_served_alone_gets_the_output_it_gets_in_a_batch(runs, flights_fixture_dir):
    """TFMA batches examples as Beam bundles them; a one-row batch moves outputs by float32 rounding at most.
    The rounding happens in the model's units: a regression head learns its label standardized, and its served
    value is that output times the label's standard deviation, so its tolerance is scaled by that too."""
    config, artifacts, _, _ = runs["clean"]
    scaling = label_units.label_scaling(newest_transform_output(artifacts), config.model.heads)
    raw = span_records(flights_fixture_dir / "span-3", limit=64)
    serve = tf.saved_model.load(artifacts.pushed_destination).signatures["serving_default"]
    batched = {name: value.numpy() for name, value in serve(examples=tf.constant(raw)).items()}
    for row, record in enumerate(raw):
        alone = serve(examples=tf.constant([record]))
        for name, value in alone.items():
            assert value.shape[0] == 1
            unit = scaling[name][1] if name in scaling else 1.0  # a regression head's label std
            np.testing.assert_allclose(
                value.numpy()[0], batched[name][row], rtol=1e-6, atol=1e-6 * unit, err_msg=f"{name}, row {row}"
            )
