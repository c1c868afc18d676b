"""The image's entry point under the ExecutorInput the open-source KFP v2 driver really sends.

The pieces on hand-made inputs shaped as the driver's (field by field, as
container/kfp_check.py builds them), then TFX's real entry point run through
ours on a real component (SpanWindow) in this process. The whole pipeline
under that input, in the image with a MinIO-style store, is `make kfp-check`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration import kfp_entrypoint
from pipeline.config import REPO_ROOT

FLIGHTS_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "flights"

MODEL_TYPE = {"instanceSchema": "title: tfx.Model\ntype: object\n"}


def driver_input(uri: str, metadata: dict | None = None) -> dict:
    return {
        "inputs": {
            "artifacts": {
                "model": {
                    "artifacts": [{"name": "7", "uri": uri, "type": {"instanceSchema": ""}, "metadata": metadata or {}}]
                }
            }
        },
        "outputs": {
            "artifacts": {
                "blessing": {"artifacts": [{"name": "blessing", "uri": uri + "-out", "type": MODEL_TYPE}]},
                "executor-logs": {
                    "artifacts": [
                        {"name": "executor-logs", "uri": uri + "-logs", "type": {"schemaTitle": "system.Artifact"}}
                    ]
                },
            },
            "outputFile": "/tmp/out.json",
        },
    }


def test_an_input_without_a_type_gets_the_type_its_component_declares():
    invocation = driver_input("/local/model")
    kfp_entrypoint.mend_invocation(invocation, {"artifacts": {"model": {"artifactType": MODEL_TYPE}}})
    assert invocation["inputs"]["artifacts"]["model"]["artifacts"][0]["type"] == MODEL_TYPE
    with pytest.raises(ValueError, match="'model' has no type"):
        kfp_entrypoint.mend_invocation(driver_input("/local/model"), {"artifacts": {}})


def test_the_launchers_executor_logs_output_is_left_to_the_launcher():
    invocation = driver_input("/local/model")
    kfp_entrypoint.mend_invocation(invocation, {"artifacts": {"model": {"artifactType": MODEL_TYPE}}})
    assert set(invocation["outputs"]["artifacts"]) == {"blessing"}


def test_metadata_comes_back_as_its_producer_wrote_it():
    wrapped = {"served_version": "/s/1", "pushed": 1.0, "splits": {"list": ["a", "b"]}, "spec": {"struct": {"k": 1}}}
    assert kfp_entrypoint.unwrap_metadata(wrapped) == {
        "served_version": "/s/1",
        "pushed": 1.0,
        "splits": ["a", "b"],
        "spec": {"k": 1},
    }


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("minio://mlpipeline/v2/artifacts/p/r/Trainer/u/model", "/minio/mlpipeline/v2/artifacts/p/r/Trainer/u/model"),
        ("s3://bucket/k", "/s3/bucket/k"),
        ("gs://bucket/k", "/gcs/bucket/k"),
    ],
)
def test_artifacts_on_object_storage_are_worked_on_at_the_launchers_paths_and_recorded_by_uri(uri, local):
    invocation = driver_input(uri, {"span": 1.0})
    remote_of = kfp_entrypoint.mend_invocation(invocation, {"artifacts": {"model": {"artifactType": MODEL_TYPE}}})
    assert invocation["inputs"]["artifacts"]["model"]["artifacts"][0]["uri"] == local
    assert invocation["outputs"]["artifacts"]["blessing"]["artifacts"][0]["uri"] == local + "-out"
    written = {"artifacts": {"blessing": {"artifacts": [{"uri": local + "-out", "metadata": {"a": None, "b": 1.0}}]}}}
    recorded = kfp_entrypoint.mend_executor_output(written, remote_of)
    # The launcher uploads from, and ML Metadata records, the URI; a null it could not record is dropped.
    assert recorded["artifacts"]["blessing"]["artifacts"][0] == {"uri": uri + "-out", "metadata": {"b": 1.0}}


def test_a_local_path_is_left_as_it_is():
    invocation = driver_input("/data/model")
    assert kfp_entrypoint.mend_invocation(invocation, {"artifacts": {"model": {"artifactType": MODEL_TYPE}}}) == {}
    assert invocation["inputs"]["artifacts"]["model"]["artifacts"][0]["uri"] == "/data/model"


def test_tfx_runs_a_real_component_under_the_drivers_input(tmp_path):
    """SpanWindow through TFX's own entry point: its output parameter in the executor output and in the file
    the launcher reads, the driver's `executor-logs` output not passed to TFX, no parameter left out."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    task_root = tmp_path / "SpanWindow" / "uuid"
    parameter_file = tmp_path / "kfp-outputs" / "input_config"
    invocation = {
        "inputs": {
            "parameterValues": {
                "data_root": str(FLIGHTS_FIXTURE),
                "span_dir": "span-{span}",
                "train_window": 1.0,  # numbers come as doubles
            }
        },
        "outputs": {
            "artifacts": {
                "input_config": {
                    "artifacts": [
                        {
                            "name": "input_config",
                            "uri": str(task_root / "input_config"),
                            "type": {"schemaTitle": "tfx.String"},
                        }
                    ]
                },
                "executor-logs": {
                    "artifacts": [
                        {
                            "name": "executor-logs",
                            "uri": str(task_root / "logs"),
                            "type": {"schemaTitle": "system.Artifact"},
                        }
                    ]
                },
            },
            "parameters": {"input_config": {"outputFile": str(parameter_file)}},
            "outputFile": str(task_root / "output_metadata.json"),
        },
    }
    inputs_spec = {
        "parameters": {
            "data_root": {"parameterType": "STRING"},
            "span_dir": {"parameterType": "STRING"},
            "train_window": {"parameterType": "NUMBER_INTEGER"},
            "window": {"parameterType": "STRING", "defaultValue": "", "isOptional": True},
        }
    }
    argv = [
        "entrypoint",
        "--executor_class_path",
        "components.span_window.SpanWindow_Executor",
        "--json_serialized_invocation_args",
        json.dumps(invocation),
        "--json_serialized_inputs_spec_args",
        json.dumps(inputs_spec),
    ]
    kfp_entrypoint.run(kubeflow_v2_run_executor._parse_flags(argv))
    written = json.loads((task_root / "output_metadata.json").read_text())
    resolved = json.loads(written["parameterValues"]["input_config"])
    assert [split["pattern"] for split in resolved["splits"]] == ["span-2/*", "span-3/*"]  # the newest span, one before
    assert parameter_file.read_text() == written["parameterValues"]["input_config"]
    assert set(written["artifacts"]) == {"input_config"}


def test_the_compiled_tasks_run_this_entry_point(tmp_path):
    from orchestration.kubeflow import IMAGE_ENTRYPOINT

    golden = json.loads((Path(__file__).parents[1] / "golden" / "flights_kubeflow.json").read_text())
    executors = golden["pipelineSpec"]["deploymentSpec"]["executors"]
    assert {tuple(e["container"]["command"]) for e in executors.values()} == {tuple(IMAGE_ENTRYPOINT)}


def test_without_it_tfx_fails_on_the_drivers_empty_input_type():
    """The premise (tensorflow/tfx#7768): TFX 1.21's own entry point cannot read the type the driver sends."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

    empty = pipeline_spec_pb2.ArtifactTypeSchema(instance_schema="")
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
        kubeflow_v2_entrypoint_utils._retrieve_class_path(empty)
