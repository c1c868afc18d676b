"""Upload, schedule and run against a stand-in of kfp.Client.

The Kubeflow API server is the one true external boundary here, so the client
is replaced by a recorder (FakeClient below); everything else is real: the
package is the JSON `compile_pipeline` writes.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import yaml

from orchestration.kubeflow import compile_pipeline
from orchestration.kubeflow_submit import SubmitError, main, validate_cron
from pipeline.config import REPO_ROOT, load_config


class FakeClient:
    """Records the calls the submit command makes to kfp.Client."""

    def __init__(self, existing_pipeline_id: str | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.existing = existing_pipeline_id

    def _record(self, call, **kwargs):
        self.calls.append((call, kwargs))

    def get_pipeline_id(self, name):
        self._record("get_pipeline_id", name=name)
        return self.existing

    def upload_pipeline(self, pipeline_package_path, pipeline_name, description):
        spec, platform = yaml.safe_load_all(Path(pipeline_package_path).read_text())
        self._record("upload_pipeline", spec=spec, platform=platform, pipeline_name=pipeline_name)
        return types.SimpleNamespace(pipeline_id="pipeline-1")

    def upload_pipeline_version(self, pipeline_package_path, pipeline_version_name, pipeline_id):
        spec, platform = yaml.safe_load_all(Path(pipeline_package_path).read_text())
        self._record(
            "upload_pipeline_version", spec=spec, platform=platform, name=pipeline_version_name, pipeline_id=pipeline_id
        )
        return types.SimpleNamespace(pipeline_version_id="version-1")

    def create_experiment(self, name):
        self._record("create_experiment", name=name)
        return types.SimpleNamespace(experiment_id="experiment-1")

    def create_recurring_run(self, **kwargs):
        self._record("create_recurring_run", **kwargs)
        return "recurring-run-1"

    def run_pipeline(self, **kwargs):
        self._record("run_pipeline", **kwargs)
        return "run-1"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    output = tmp_path_factory.mktemp("kfp") / "flights.json"
    return compile_pipeline(load_config(REPO_ROOT / "configs" / "flights.yaml"), output)


def test_schedule_uploads_the_spec_and_creates_a_recurring_run(package):
    client = FakeClient()
    code = main(["--package", str(package), "--version", "abc123", "schedule", "--cron", "0 0 3 * * *"], client=client)
    assert code == 0
    names = [name for name, _ in client.calls]
    assert names == [
        "get_pipeline_id",
        "upload_pipeline",
        "upload_pipeline_version",
        "create_experiment",
        "create_recurring_run",
    ]
    uploaded = dict(client.calls)["upload_pipeline"]
    assert uploaded["pipeline_name"] == "flights"
    assert uploaded["spec"]["pipelineInfo"]["name"] == "flights"  # the PipelineSpec, not the job wrapper
    assert uploaded["spec"]["schemaVersion"] == "2.1.0"  # what a package with a platform spec needs
    # The second document: the Kubernetes platform spec, keyed by executor.
    assert set(uploaded["platform"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]) == {"Trainer_executor"}
    recurring = dict(client.calls)["create_recurring_run"]
    assert recurring["cron_expression"] == "0 0 3 * * *"
    assert recurring["pipeline_id"] == "pipeline-1" and recurring["version_id"] == "version-1"
    assert recurring["max_concurrency"] == 1
    # No window parameter: the compiled default, empty, so every trigger resolves the newest spans.
    assert recurring["params"] == {}
    assert json.loads(package.read_text())["runtimeConfig"]["parameterValues"] == {"window": ""}


def test_explicit_spans_and_window_size_mismatch(package, capsys):
    client = FakeClient()

    def run(*spans: str) -> int:
        args = ["--package", str(package), "--version", "v", "run", "--train-spans", *spans[:-1], "--eval-span"]
        return main([*args, spans[-1]], client=client)

    assert run("1", "2", "3") == 2
    assert "trains on 3 spans; got 2" in capsys.readouterr().err
    assert client.calls == []
    assert run("1", "2", "3", "4") == 0
    assert json.loads(dict(client.calls)["run_pipeline"]["params"]["window"]) == {
        "train_spans": [1, 2, 3],
        "eval_span": 4,
    }
    assert run("1", "2", "3", "2") == 2
    assert "an evaluation span not among them" in capsys.readouterr().err


@pytest.mark.parametrize("cron", ["0 3 * * *", "every day", "0 0 3 * * * *"])
def test_bad_cron_is_rejected(cron):
    with pytest.raises(SubmitError, match="six fields"):
        validate_cron(cron)


def test_missing_package_says_to_compile(tmp_path, capsys):
    assert main(["--package", str(tmp_path / "none.json"), "--version", "v", "run"], client=FakeClient()) == 2
    assert "run `make compile` first" in capsys.readouterr().err


def test_the_stand_in_matches_the_real_kfp_client():
    """Every call the submit command makes exists on kfp.Client with these keyword names."""
    import inspect

    import kfp

    for name, method in inspect.getmembers(FakeClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        real = inspect.signature(getattr(kfp.Client, name)).parameters
        ours = [p for p in inspect.signature(method).parameters if p != "self" and p != "kwargs"]
        assert set(ours) <= set(real), (name, ours)
    for keyword in (
        "experiment_id",
        "job_name",
        "cron_expression",
        "pipeline_id",
        "version_id",
        "params",
        "max_concurrency",
        "enabled",
    ):
        assert keyword in inspect.signature(kfp.Client.create_recurring_run).parameters
    for keyword in ("experiment_id", "job_name", "pipeline_id", "version_id", "params"):
        assert keyword in inspect.signature(kfp.Client.run_pipeline).parameters
