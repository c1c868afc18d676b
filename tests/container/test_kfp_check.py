"""The `make kfp-check` harness's own logic, on the golden compiled package (no image, no podman).

The harness itself runs in `make kfp-check`; these tests keep its pieces
honest where they can be checked without a container: the task order, the
ExecutorInput it builds for every task of the real compiled pipeline as the
KFP driver does, ML Metadata's conversions, the launcher's transfers against
an S3 server (moto's, on 127.0.0.1: object storage is an external boundary),
and the verdicts it draws from the two runs.
"""

from __future__ import annotations

import json
import re
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
    "gate_metric_suffix": ".change",
    "gate_metrics": ["late.auc"],
    "training_record_file": "Format-Serving/assets.extra/training_record.json",
}
IMAGE_COMMIT = "v1-3-gabcdef012345"  # the MHP_CODE_VERSION of the image the runs used
ROOT = kfp_check.PIPELINE_ROOT


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(GOLDEN.read_text())["pipelineSpec"]


@pytest.fixture(scope="module")
def store():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = kfp_check.S3Store(f"http://{host}:{port}")
    s3.create_bucket("mlpipeline")
    yield s3
    server.stop()


def test_every_task_comes_after_the_tasks_it_reads_from(spec):
    tasks = spec["root"]["dag"]["tasks"]
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


def test_tasks_that_need_nothing_of_each_other_run_at_once_and_a_task_waits_for_its_upstream(monkeypatch, tmp_path):
    """As Argo runs a DAG. `launch` (the podman run) is replaced: a barrier that a and b must reach together
    (run one after the other, they would time out), and c must start after both returned."""
    import threading

    component = {"executorLabel": "exec", "outputDefinitions": {"parameters": {"out": {}}}}
    spec = {
        "pipelineInfo": {"name": "p"},
        "root": {"dag": {"tasks": {n: {"componentRef": {"name": "c"}} for n in "ab"}}},
        "components": {"c": component},
        "deploymentSpec": {"executors": {"exec": {"container": {"image": "i", "command": ["run", "{{$}}"]}}}},
    }
    spec["root"]["dag"]["tasks"]["c"] = {"componentRef": {"name": "c"}, "dependentTasks": ["a", "b"]}
    together, returned = threading.Barrier(2, timeout=30), []

    def launch(store, invocation, argv, pod, where):
        name = where.rsplit(" ", 1)[-1]
        if name in "ab":
            together.wait()
        else:
            assert sorted(returned) == ["a", "b"], returned
        returned.append(name)
        return {"artifacts": {}, "parameters": {"out": name}}

    monkeypatch.setattr(kfp_check, "launch", launch)
    run = kfp_check.Run("first", (), {})
    kfp_check.execute(spec, run, "image", tmp_path, store=None, next_id=1)
    assert returned[-1] == "c" and run.parameters[("c", "out")] == "c"


def test_each_task_gets_the_input_the_driver_builds(spec, tmp_path):
    """Empty input types, ML Metadata ids as names, the driver's URI layout, `executor-logs`, output parameter
    files, the output file under the launcher's path, and no placeholder left in the command."""
    tasks = spec["root"]["dag"]["tasks"]
    run = kfp_check.Run("first", (), kfp_check.splits([1], 2))
    parameters = kfp_check.run_parameters(spec, {})  # a run request without `window`
    assert parameters == {}
    layout = re.compile(rf"^{re.escape(ROOT)}/flights/{run.run_id}/(?P<task>[^/]+)/[0-9a-f-]{{36}}/(?P<name>[^/]+)$")
    next_id = 1
    for name in kfp_check.dependency_order(tasks):
        component = spec["components"][tasks[name]["componentRef"]["name"]]
        invocation = kfp_check.executor_input(name, tasks[name], component, run, "flights", parameters)
        declared = component.get("inputDefinitions", {}).get("artifacts", {})
        assert set(invocation["inputs"]["artifacts"]) <= set(declared), name
        for inputs in invocation["inputs"]["artifacts"].values():
            for artifact in inputs["artifacts"]:
                assert artifact["type"] == {"instanceSchema": ""} and artifact["name"].isdigit(), name
        outputs = set(component.get("outputDefinitions", {}).get("artifacts", {}))
        assert set(invocation["outputs"]["artifacts"]) == outputs | {"executor-logs"}, name
        for output, listed in invocation["outputs"]["artifacts"].items():
            match = layout.match(listed["artifacts"][0]["uri"])
            assert match and match["task"] == name and match["name"] == output, listed
        assert invocation["outputs"]["outputFile"].startswith(f"/minio/mlpipeline/v2/artifacts/flights/{run.run_id}/")
        for output, parameter in invocation["outputs"]["parameters"].items():
            assert parameter == {"outputFile": f"/tmp/kfp/outputs/{output}"}
        if name == "SpanWindow":  # left out of the request: the component's default, as the launcher adds it
            assert invocation["inputs"]["parameterValues"]["window"] == ""
        executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
        argv = kfp_check.container_argv(executor["container"], invocation, "image:tag", tmp_path, tmp_path / "pod")
        assert json.dumps(invocation) in argv, name
        for output, listed in invocation["outputs"]["artifacts"].items():
            run.artifacts[(name, output)] = [
                {"id": str(next_id), "uri": listed["artifacts"][0]["uri"], "custom_properties": {}}
            ]
            next_id += 1
        for output in invocation["outputs"]["parameters"]:
            run.parameters[(name, output)] = "{}"  # what the task would have written
    assert run.parameters == {("SpanWindow", "input_config"): "{}"}


def test_the_api_server_refuses_a_run_that_leaves_out_a_required_parameter(spec):
    bare = json.loads(json.dumps(spec))
    bare["root"]["inputDefinitions"]["parameters"]["window"] = {"parameterType": "STRING"}
    with pytest.raises(kfp_check.CheckError, match="parameter window is not optional"):
        kfp_check.run_parameters(bare, {})
    assert kfp_check.run_parameters(bare, {"window": ""}) == {"window": ""}


def test_metadata_goes_through_ml_metadatas_conversions():
    stored = {k: kfp_check.to_mlmd_value(v, "t") for k, v in {"b": True, "n": 3, "l": [1], "s": {"k": "v"}}.items()}
    back = {k: kfp_check.to_runtime_metadata(v) for k, v in stored.items()}
    assert back == {"b": 1.0, "n": 3.0, "l": {"list": [1]}, "s": {"struct": {"k": "v"}}}
    with pytest.raises(kfp_check.CheckError, match="cannot record it in ML Metadata"):
        kfp_check.to_mlmd_value(None, "task X, output y")


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
    assert kfp_check.parameter_values(by_name, {}, {}, run) == {"input_config": "{}"}
    suffixed = json.loads(json.dumps(by_name).replace('"SpanWindow"', '"SpanWindow_task"'))
    with pytest.raises(kfp_check.CheckError, match="producer task, SpanWindow_task, not in tasks"):
        kfp_check.parameter_values(suffixed, {}, {}, run)


def test_a_placeholder_the_harness_cannot_fill_stops_it():
    container = {"command": ["python"], "args": ["{{$.inputs.parameters['x']}}"]}
    with pytest.raises(kfp_check.CheckError, match="placeholders"):
        kfp_check.container_argv(container, {"inputs": {}, "outputs": {}}, "image", Path("/tmp"), Path("/tmp/p"))


def test_the_launcher_downloads_what_it_uploaded_and_no_empty_folder(store, tmp_path):
    folder = tmp_path / "out" / "minio" / "mlpipeline" / "v2" / "artifacts" / "p" / "r" / "T" / "u" / "model"
    (folder / "Format-Serving" / "variables").mkdir(parents=True)
    (folder / "Format-Serving" / "saved_model.pb").write_bytes(b"graph")
    (folder / "empty").mkdir()
    uri = f"{ROOT}/p/r/T/u/model"
    kfp_check.upload(store, folder, uri)
    kfp_check.upload(store, folder.parent / "missing", f"{ROOT}/p/r/T/u/missing")  # nothing written: no object
    kfp_check.upload(store, _file(tmp_path / "report.html", b"<!DOCTYPE html>"), f"{ROOT}/p/r/T/u/report_html")
    pod = tmp_path / "pod"
    invocation = {
        "inputs": {
            "artifacts": {
                "model": {"artifacts": [{"uri": uri}]},
                "html": {"artifacts": [{"uri": f"{ROOT}/p/r/T/u/report_html"}]},
                "none": {"artifacts": [{"uri": f"{ROOT}/p/r/T/u/missing"}]},
            }
        }
    }
    kfp_check.download(store, invocation, pod)
    local = pod / "minio" / "mlpipeline" / "v2" / "artifacts" / "p" / "r" / "T" / "u"
    assert (local / "model" / "Format-Serving" / "saved_model.pb").read_bytes() == b"graph"
    assert not (local / "model" / "empty").exists() and not (local / "model" / "Format-Serving" / "variables").exists()
    assert (local / "report_html").read_bytes() == b"<!DOCTYPE html>"
    assert not (local / "missing").exists()
    assert kfp_check.directory_markers(store) == []
    store.put("mlpipeline", "v2/artifacts/p/r/T/u/model/Format-Serving/", b"")  # what TF's GCS client writes
    assert kfp_check.directory_markers(store) == ["v2/artifacts/p/r/T/u/model/Format-Serving/"]


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def artifact(properties: dict, uri: str) -> list[dict]:
    return [
        {
            "id": "1",
            "uri": uri,
            "custom_properties": {k: kfp_check.to_mlmd_value(v, "t") for k, v in properties.items()},
        }
    ]


def runs_with(store, prefix: str, *, baseline: str, corrupted_failed: list[str], corrupted_pushed: int) -> dict:
    """Two runs' records as the harness keeps them, their objects in the store under `prefix`."""
    runs = {}
    for name, failed in (("first", []), ("next-window", corrupted_failed)):
        base = f"{ROOT}/{prefix}/{name}"
        heads = [{"head": head, "passed": head not in failed, "rows": []} for head in ("late", "delay_band")]
        for head in heads:
            head["rows"] = [{"too_small": False, "baseline": None if name == "first" else 0.5}]
        put(store, f"{base}/HeadGate/blessing/{FACTS['decisions_file']}", {"blessed": not failed, "heads": heads})
        window = {"first": ([1], 2), "next-window": ([3], 4)}[name]
        run = kfp_check.Run(name, (), kfp_check.splits(*window))
        resolved = [{"name": n, "pattern": p} for n, p in kfp_check.splits(*window).items()]
        run.parameters[("SpanWindow", "input_config")] = json.dumps({"splits": resolved})
        run.artifacts[("HeadGate", "blessing")] = artifact({}, f"{base}/HeadGate/blessing")
        metrics = {"blessed": not failed, "late.auc": 0.6, **({"late.auc.change": 0.01} if name != "first" else {})}
        run.artifacts[("HeadGate", "metrics")] = artifact(metrics, f"{base}/HeadGate/metrics")
        pushed = corrupted_pushed if name == "next-window" else 1
        run.artifacts[("Pusher", "pushed_model")] = artifact(
            {"pushed": pushed, "pushed_destination": f"/s/{name}"}, f"{base}/Pusher/pushed_model"
        )
        run.artifacts[("served_baseline", "model")] = artifact({"served_version": baseline}, f"{base}/sb/model")
        for output, text in (("report_html", b"<!DOCTYPE html>\n<html>"), ("report_markdown", b"# Pushed\n")):
            bucket, key = kfp_check.split_uri(f"{base}/PerHeadReport/{output}")
            store.put(bucket, key, text)
            run.artifacts[("PerHeadReport", output)] = artifact({}, f"{base}/PerHeadReport/{output}")
        earlier = ("first", "next-window")[: len(runs) + 1]
        history = [{"blessing": artifact_location(f"{ROOT}/{prefix}/{r}/HeadGate/blessing")} for r in earlier]
        summary = {"heads": [{"name": head["head"], "history": history} for head in heads]}
        put(store, f"{base}/PerHeadReport/report/{FACTS['report_summary_file']}", summary)
        run.artifacts[("PerHeadReport", "report")] = artifact({}, f"{base}/PerHeadReport/report")
        put(store, f"{base}/Trainer/model/{FACTS['training_record_file']}", {"code": {"commit": IMAGE_COMMIT}})
        run.artifacts[("Trainer", "model")] = artifact({}, f"{base}/Trainer/model")
        runs[name] = run
    return runs


def put(store, uri: str, document: dict) -> None:
    bucket, key = kfp_check.split_uri(uri)
    store.put(bucket, key, json.dumps(document).encode())


def test_the_expected_outcomes_pass(store):
    runs = runs_with(store, "ok", baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    assert kfp_check.check_runs(runs, FACTS, store, IMAGE_COMMIT) == []


@pytest.mark.parametrize(
    ("baseline", "failed", "pushed", "complaint"),
    [
        ("/s/other", ["delay_band"], 0, "is not the version the first run pushed"),
        ("/s/first", ["late"], 0, "expected blocked on delay_band"),
        ("/s/first", ["delay_band"], 1, "pushed a blocked model"),
    ],
)
def test_each_wrong_outcome_is_named(store, baseline, failed, pushed, complaint):
    runs = runs_with(
        store, f"wrong-{complaint[:8]}", baseline=baseline, corrupted_failed=failed, corrupted_pushed=pushed
    )
    failures = kfp_check.check_runs(runs, FACTS, store, IMAGE_COMMIT)
    assert any(complaint in failure for failure in failures), failures


def test_a_missing_ui_report_is_named(store):
    runs = runs_with(store, "no-ui", baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    runs["next-window"].artifacts[("PerHeadReport", "report_html")] = artifact({}, f"{ROOT}/no-ui/nothing-there")
    failures = kfp_check.check_runs(runs, FACTS, store, IMAGE_COMMIT)
    assert len(failures) == 1 and "run next-window: report_html is not an object" in failures[0], failures


def test_a_gate_without_its_kfp_metrics_is_named(store):
    runs = runs_with(store, "no-metrics", baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    runs["first"].artifacts[("HeadGate", "metrics")] = artifact({"blessed": True}, f"{ROOT}/no-metrics/m")
    runs["next-window"].artifacts[("HeadGate", "metrics")] = artifact(
        {"blessed": False, "late.auc": 0.5}, f"{ROOT}/no-metrics/n"
    )
    failures = kfp_check.check_runs(runs, FACTS, store, IMAGE_COMMIT)
    assert len(failures) == 2, failures
    assert "run first: the gate's system.Metrics" in failures[0] and "lack ['late.auc']" in failures[0]
    assert "lack ['late.auc.change']" in failures[1]


def test_a_history_without_the_first_run_is_named(store):
    runs = runs_with(store, "history", baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    uri = f"{ROOT}/history/next-window/PerHeadReport/report/{FACTS['report_summary_file']}"
    summary = json.loads(kfp_check.read_object(store, uri))
    summary["heads"][0]["history"] = summary["heads"][0]["history"][1:]
    put(store, uri, summary)
    failures = kfp_check.check_runs(runs, FACTS, store, IMAGE_COMMIT)
    assert len(failures) == 1 and "run next-window: late's history lists" in failures[0], failures


def test_a_window_resolved_wrong_is_named(store):
    runs = runs_with(store, "window", baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    runs["next-window"].parameters[("SpanWindow", "input_config")] = json.dumps(
        {"splits": [{"name": "train_1", "pattern": "span-1/*"}, {"name": "eval", "pattern": "span-2/*"}]}
    )
    failures = kfp_check.check_runs(runs, FACTS, store, IMAGE_COMMIT)
    assert len(failures) == 1 and "run next-window: SpanWindow resolved" in failures[0], failures


@pytest.mark.parametrize("image_commit", ["v1-4-g0123456789ab", None])
def test_a_training_record_without_the_images_commit_is_named(store, image_commit):
    runs = runs_with(store, "commit", baseline="/s/first", corrupted_failed=["delay_band"], corrupted_pushed=0)
    failures = kfp_check.check_runs(runs, FACTS, store, image_commit)
    assert len(failures) == 1 and f"the code is {IMAGE_COMMIT!r}; the image was built from" in failures[0], failures
