"""Upload, schedule and run through kfp's own client, against a stand-in KFP API server on 127.0.0.1.

The Kubeflow API server is the one true external boundary here, so it is
replaced (tests/orchestration/kfp_api_stand_in.py: in-memory, answering with
kfp-server-api's models); everything else is real: kfp.Client and its REST
client, and the YAML package `compile_pipeline` writes.
"""

from __future__ import annotations

import json

import kfp
import pytest

from orchestration.kubeflow import compile_pipeline
from orchestration.kubeflow_submit import SubmitError, main, validate_cron
from pipeline.config import REPO_ROOT, load_config
from tests.orchestration.kfp_api_stand_in import StandInServer

COMPILED_ROOT = "gs://example-ml-bucket/tfx/flights/pipeline_root"  # configs/flights.yaml's, as compiled


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    output = tmp_path_factory.mktemp("kfp") / "flights.yaml"
    return compile_pipeline(load_config(REPO_ROOT / "configs" / "flights.yaml"), output)


@pytest.fixture
def server():
    with StandInServer() as stand_in:
        yield stand_in


def submit(server, package, *args: str, options: tuple[str, ...] = ()) -> int:
    client = kfp.Client(host=server.host)
    return main(["--package", str(package), *options, *args], client=client)


def test_the_server_takes_the_yaml_package_and_refuses_the_vertex_job(server, package, tmp_path):
    client = kfp.Client(host=server.host)
    uploaded = client.upload_pipeline(str(package), pipeline_name="flights")
    (documents,) = server.state.specs.values()
    assert documents[0]["pipelineInfo"]["name"] == "flights" and documents[0]["schemaVersion"] == "2.1.0"
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {"Trainer_executor"}  # the platform spec, as the second document
    assert uploaded.pipeline_id in server.state.pipelines
    # The PipelineJob beside it is Vertex's; the KFP server answers it as the real one does.
    as_yaml = tmp_path / "job.yaml"  # kfp's client takes .yaml/.yml/.zip/.tar.gz names only
    as_yaml.write_text(package.with_suffix(".vertex.json").read_text())
    with pytest.raises(kfp_server_api_error(), match="unknown template format"):
        client.upload_pipeline(str(as_yaml), pipeline_name="flights-job")


def kfp_server_api_error() -> type[Exception]:
    from kfp_server_api.exceptions import ApiException

    return ApiException


def test_schedule_creates_one_recurring_run_that_does_not_catch_up(server, package, capsys):
    options = ("--namespace", "team-ml", "--service-account", "pipeline-runner")
    assert submit(server, package, "--version", "abc123", "schedule", "--cron", "0 0 3 * * *", options=options) == 0
    (recurring,) = server.state.recurring_runs.values()
    assert recurring.trigger.cron_schedule.cron == "0 0 3 * * *"
    assert (recurring.no_catchup, recurring.max_concurrency, recurring.mode) == (True, "1", "ENABLE")
    assert recurring.service_account == "pipeline-runner"
    # The API server never reads a compiled runtimeConfig: the root and the window go with the request.
    assert recurring.runtime_config.pipeline_root == COMPILED_ROOT
    assert recurring.runtime_config.parameters == {"window": ""}  # every trigger resolves the newest spans
    (experiment,) = server.state.experiments.values()
    assert experiment.namespace == "team-ml"
    assert server.state.versions[recurring.pipeline_version_reference.pipeline_version_id].display_name == "abc123"
    assert f"schedule: recurring run {recurring.recurring_run_id}" in capsys.readouterr().out


def test_a_new_schedule_replaces_the_one_before(server, package, capsys):
    assert submit(server, package, "--version", "v1", "schedule", "--cron", "0 0 3 * * *") == 0
    (first,) = server.state.recurring_runs
    assert submit(server, package, "--version", "v2", "schedule", "--cron", "0 0 4 * * *") == 0
    (second,) = server.state.recurring_runs.values()  # one schedule writes the serving directory, not two
    assert second.recurring_run_id != first and second.trigger.cron_schedule.cron == "0 0 4 * * *"
    assert len(server.state.pipelines) == 1 and len(server.state.versions) == 3  # first upload + v1 + v2
    assert f"replaced recurring run {first} (deleted)" in capsys.readouterr().out


def test_a_run_takes_its_pipeline_root_and_pinned_window(server, package, capsys):
    root = "minio://mlpipeline/v2/artifacts"
    args = ("--version", "v", "run", "--train-spans", "1", "2", "3", "--eval-span", "4")
    assert submit(server, package, *args, options=("--pipeline-root", root)) == 0
    (run,) = server.state.runs.values()
    assert run.runtime_config.pipeline_root == root
    assert json.loads(run.runtime_config.parameters["window"]) == {"train_spans": [1, 2, 3], "eval_span": 4}


def test_the_server_refuses_a_run_without_the_window_when_the_spec_has_no_default(server, package, tmp_path):
    """What an uncompiled default did before: the window parameter required and the run refused."""
    import yaml

    spec, platform = yaml.safe_load_all(package.read_text())
    del spec["root"]["inputDefinitions"]["parameters"]["window"]["defaultValue"]
    del spec["root"]["inputDefinitions"]["parameters"]["window"]["isOptional"]
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump_all([spec, platform]))
    client = kfp.Client(host=server.host)
    pipeline = client.upload_pipeline(str(bare), pipeline_name="bare")
    version_id = next(iter(server.state.versions))
    experiment = client.create_experiment(name="e")
    with pytest.raises(kfp_server_api_error(), match="parameter window is not optional"):
        client.run_pipeline(experiment.experiment_id, "r", pipeline_id=pipeline.pipeline_id, version_id=version_id)
    compiled = yaml.safe_load_all(package.read_text()).__next__()
    assert compiled["root"]["inputDefinitions"]["parameters"]["window"] == {
        "parameterType": "STRING",
        "defaultValue": "",
        "isOptional": True,
    }


def test_explicit_spans_and_window_size_mismatch(server, package, capsys):
    args = ("--version", "v", "run", "--train-spans", "1", "2", "--eval-span", "3")
    assert submit(server, package, *args) == 2
    assert "trains on 3 spans; got 2" in capsys.readouterr().err
    assert not server.state.pipelines  # refused before anything was uploaded
    args = ("--version", "v", "run", "--train-spans", "1", "2", "3", "--eval-span", "2")
    assert submit(server, package, *args) == 2
    assert "an evaluation span not among them" in capsys.readouterr().err


@pytest.mark.parametrize("cron", ["0 3 * * *", "every day", "0 0 3 * * * *"])
def test_bad_cron_is_rejected(cron):
    with pytest.raises(SubmitError, match="six fields"):
        validate_cron(cron)


def test_missing_package_says_to_compile(tmp_path, capsys):
    assert main(["--package", str(tmp_path / "none.yaml"), "--version", "v", "run"]) == 2
    assert "run `make compile` first" in capsys.readouterr().err


def test_the_vertex_job_is_named_as_not_the_kfp_package(package, capsys):
    assert main(["--package", str(package.with_suffix(".vertex.json")), "--version", "v", "run"]) == 2
    assert "KFP takes the .yaml" in capsys.readouterr().err
