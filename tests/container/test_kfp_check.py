"""The `make kfp-check` harness's own logic, on the golden compiled spec (no image, no podman).

The harness itself runs in `make kfp-check`; these tests keep its pieces
honest where they can be checked without a container: the task order, the
ExecutorInput it builds for every task of the real compiled pipeline, and the
verdicts it draws from the two runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.report.identity import artifact_location
from container import kfp_check

GOLDEN = Path(__file__).parents[1] / "golden" / "flights_kubeflow.json"
FACTS = {
    "corrupted_head": "delay_band",
    "corrupted_span": 3,
    "decisions_file": "gate.json",
    "report_summary_file": "summary.json",
}


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(GOLDEN.read_text())


def test_every_task_comes_after_the_tasks_it_reads_from(spec):
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    order = kfp_check.dependency_order(tasks)
    assert sorted(order) == sorted(tasks)
    for name, task in tasks.items():
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            assert order.index(source["taskOutputArtifact"]["producerTask"]) < order.index(name)
        for needed in task.get("dependentTasks", []):
            assert order.index(needed) < order.index(name)


def test_a_cycle_is_reported():
    tasks = {"a": {"dependentTasks": ["b"]}, "b": {"dependentTasks": ["a"]}}
    with pytest.raises(kfp_check.CheckError, match="cycle"):
        kfp_check.dependency_order(tasks)


def test_each_task_gets_its_inputs_outputs_and_a_command_with_no_placeholder_left(spec, tmp_path):
    pipeline = spec["pipelineSpec"]
    tasks = pipeline["root"]["dag"]["tasks"]
    run = kfp_check.Run("first", (), kfp_check.splits([1], 2))
    parameters = spec["runtimeConfig"].get("parameterValues", {})
    next_id = 1
    for name in kfp_check.dependency_order(tasks):
        component = pipeline["components"][tasks[name]["componentRef"]["name"]]
        invocation = kfp_check.executor_input(name, tasks[name], component, run, tmp_path, parameters)
        declared = component.get("inputDefinitions", {}).get("artifacts", {})
        assert set(invocation["inputs"]["artifacts"]) <= set(declared), name
        for inputs in invocation["inputs"]["artifacts"].values():
            assert inputs["artifacts"] and all(a["uri"].startswith(str(tmp_path)) for a in inputs["artifacts"])
        outputs = component.get("outputDefinitions", {}).get("artifacts", {})
        assert set(invocation["outputs"]["artifacts"]) == set(outputs), name
        executor = pipeline["deploymentSpec"]["executors"][component["executorLabel"]]
        argv = kfp_check.container_argv(executor["container"], invocation, "image:tag", tmp_path)
        assert json.dumps(invocation) in argv, name
        assert set(invocation["outputs"].get("parameters", {})) == set(
            component.get("outputDefinitions", {}).get("parameters", {})
        )
        published, next_id = kfp_check.published(invocation, {}, next_id)
        for output, artifacts in published.items():
            run.artifacts[(name, output)] = artifacts
        for output in invocation["outputs"].get("parameters", {}):
            run.parameters[(name, output)] = "{}"  # what the task would have written
    assert next_id > len(tasks)
    assert run.parameters == {("SpanWindow", "input_config"): "{}"}


def test_an_output_parameter_is_found_by_its_producers_task_name_only():
    """TFX writes producerTask "<id>_task"; the KFP driver (and this harness) find tasks by name."""
    run = kfp_check.Run("first", (), {})
    run.parameters[("SpanWindow", "input_config")] = "{}"
    by_name = {
        "inputs": {
            "parameters": {
                "input_config": {
                    "taskOutputParameter": {"producerTask": "SpanWindow", "outputParameterKey": "input_config"}
                }
            }
        }
    }
    assert kfp_check.parameter_values(by_name, {}, run) == {"input_config": "{}"}
    suffixed = json.loads(json.dumps(by_name).replace('"SpanWindow"', '"SpanWindow_task"'))
    with pytest.raises(kfp_check.CheckError, match="producer task, SpanWindow_task, not in tasks"):
        kfp_check.parameter_values(suffixed, {}, run)


def test_a_placeholder_the_harness_cannot_fill_stops_it():
    container = {"command": ["python"], "args": ["{{$.inputs.parameters['x']}}"]}
    with pytest.raises(kfp_check.CheckError, match="placeholders"):
        kfp_check.container_argv(container, {"inputs": {}, "outputs": {}}, "image", Path("/tmp"))


def artifact(metadata: dict, uri: str = "/nowhere") -> list[dict]:
    return [{"name": "1", "uri": uri, "metadata": metadata}]


def runs_with(tmp_path: Path, *, baseline: str, corrupted_failed: list[str], corrupted_pushed: int) -> dict:
    runs = {}
    for name, failed in (("first", []), ("next-window", corrupted_failed)):
        gate = tmp_path / name
        gate.mkdir()
        heads = [{"head": head, "passed": head not in failed, "rows": []} for head in ("late", "delay_band")]
        for head in heads:
            head["rows"] = [{"too_small": False, "baseline": None if name == "first" else 0.5}]
        (gate / FACTS["decisions_file"]).write_text(json.dumps({"blessed": not failed, "heads": heads}))
        window = {"first": ([1], 2), "next-window": ([3], 4)}[name]
        run = kfp_check.Run(name, (), kfp_check.splits(*window))
        resolved = [{"name": n, "pattern": p} for n, p in kfp_check.splits(*window).items()]
        run.parameters[("SpanWindow", "input_config")] = json.dumps({"splits": resolved})
        run.artifacts[("HeadGate", "blessing")] = artifact({}, str(gate))
        pushed = corrupted_pushed if name == "next-window" else 1
        run.artifacts[("Pusher", "pushed_model")] = artifact({"pushed": pushed, "pushed_destination": f"/s/{name}"})
        run.artifacts[("served_baseline", "model")] = artifact({"served_version": baseline})
        for output, text in (("report_html", "<!DOCTYPE html>\n<html>"), ("report_markdown", "# Pushed\n")):
            (gate / output).write_text(text)
            run.artifacts[("PerHeadReport", output)] = artifact({}, str(gate / output))
        earlier = ("first", "next-window")[: len(runs) + 1]
        history = [{"blessing": artifact_location(str(tmp_path / run_name))} for run_name in earlier]
        summary = {"heads": [{"name": head["head"], "history": history} for head in heads]}
        (gate / FACTS["report_summary_file"]).write_text(json.dumps(summary))
        run.artifacts[("PerHeadReport", "report")] = artifact({}, str(gate))
        runs[name] = run
    return runs


def test_the_expected_outcomes_pass(tmp_path):
    runs = runs_with(tmp_path, baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    assert kfp_check.check_runs(runs, FACTS) == []


@pytest.mark.parametrize(
    ("baseline", "failed", "pushed", "complaint"),
    [
        ("/s/other", ["delay_band"], 0, "is not the version the first run pushed"),
        ("/s/first", ["late"], 0, "expected blocked on delay_band"),
        ("/s/first", ["delay_band"], 1, "pushed a blocked model"),
    ],
)
def test_each_wrong_outcome_is_named(tmp_path, baseline, failed, pushed, complaint):
    runs = runs_with(tmp_path, baseline=baseline, corrupted_failed=failed, corrupted_pushed=pushed)
    failures = kfp_check.check_runs(runs, FACTS)
    assert any(complaint in failure for failure in failures), failures


def test_a_missing_ui_report_is_named(tmp_path):
    runs = runs_with(tmp_path, baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    (tmp_path / "next-window" / "report_html").unlink()
    failures = kfp_check.check_runs(runs, FACTS)
    assert len(failures) == 1 and "run next-window: report_html is not a file" in failures[0]


def test_a_history_without_the_first_run_is_named(tmp_path):
    runs = runs_with(tmp_path, baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    summary_file = tmp_path / "next-window" / FACTS["report_summary_file"]
    summary = json.loads(summary_file.read_text())
    summary["heads"][0]["history"] = summary["heads"][0]["history"][1:]
    summary_file.write_text(json.dumps(summary))
    failures = kfp_check.check_runs(runs, FACTS)
    assert len(failures) == 1 and "run next-window: late's history lists" in failures[0], failures


def test_a_window_resolved_wrong_is_named(tmp_path):
    runs = runs_with(tmp_path, baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    runs["next-window"].parameters[("SpanWindow", "input_config")] = json.dumps(
        {"splits": [{"name": "train_1", "pattern": "span-1/*"}, {"name": "eval", "pattern": "span-2/*"}]}
    )
    failures = kfp_check.check_runs(runs, FACTS)
    assert len(failures) == 1 and "run next-window: SpanWindow resolved" in failures[0], failures
