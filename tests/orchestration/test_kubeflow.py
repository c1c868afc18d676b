"""The Kubeflow v2 compile: golden file, structure, the two packages, and rejected sections."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from orchestration.kfp_package import VERTEX_SUFFIX, read_package
from orchestration.kubeflow import compile_pipeline, parse_kubeflow
from pipeline.config import REPO_ROOT, ConfigError, load_config, parse_config

FLIGHTS = REPO_ROOT / "configs" / "flights.yaml"
GOLDEN = REPO_ROOT / "tests" / "golden" / "flights_kubeflow.json"
VOLATILE = "<volatile>"


def normalize(package: dict) -> dict:
    """Blanks what changes without the pipeline changing: the SDK version."""
    package = copy.deepcopy(package)
    package["pipelineSpec"]["sdkVersion"] = VOLATILE
    return package


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    return compile_pipeline(load_config(FLIGHTS), tmp_path_factory.mktemp("kfp") / "flights.yaml")


@pytest.fixture(scope="module")
def compiled(written) -> dict:
    """The KFP package as read back: {"pipelineSpec": ..., "platformSpec": ...}."""
    return read_package(written)


def test_compiled_json_matches_the_golden_file(compiled):
    """Regenerate after an intended change: MHP_UPDATE_GOLDEN=1 make test (then review the diff)."""
    if os.environ.get("MHP_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(normalize(compiled), indent=2, sort_keys=True) + "\n")
        pytest.fail(f"{GOLDEN} regenerated: review its diff, then run the tests again without MHP_UPDATE_GOLDEN")
    assert normalize(compiled) == json.loads(GOLDEN.read_text())


def test_the_kfp_package_is_a_pipeline_spec_and_the_vertex_job_sits_beside_it(written, compiled):
    """The KFP API server takes a top-level PipelineSpec (the platform spec as a second document); Vertex AI
    takes the PipelineJob, whose runtimeConfig carries the pipeline root and the window."""
    documents = list(yaml.safe_load_all(written.read_text()))
    assert len(documents) == 2 and {"pipelineInfo", "root", "deploymentSpec"} <= set(documents[0])
    assert "runtimeConfig" not in documents[0] and documents[1] == compiled["platformSpec"]
    job = json.loads(written.with_suffix(VERTEX_SUFFIX).read_text())
    assert job["pipelineSpec"] == documents[0] and "platformSpec" not in job
    assert job["runtimeConfig"] == {
        "gcsOutputDirectory": "gs://example-ml-bucket/tfx/flights/pipeline_root",
        "parameterValues": {"window": ""},
    }
    assert documents[0]["defaultPipelineRoot"] == job["runtimeConfig"]["gcsOutputDirectory"]


def test_pipeline_spec_parses_strictly_into_kfp_protobuf(compiled):
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(compiled["pipelineSpec"], spec, ignore_unknown_fields=False)
    assert spec.pipeline_info.name == "flights"


def tasks(compiled) -> dict:
    return compiled["pipelineSpec"]["root"]["dag"]["tasks"]


def test_task_graph_gates_the_pusher_on_the_head_gate(compiled):
    graph = tasks(compiled)
    pusher = graph["Pusher"]["inputs"]["artifacts"]
    assert pusher["model_blessing"]["taskOutputArtifact"] == {
        "producerTask": "HeadGate",
        "outputArtifactKey": "blessing",
    }
    assert pusher["model"]["taskOutputArtifact"]["producerTask"] == "Trainer"
    evaluator = graph["Evaluator"]["inputs"]["artifacts"]
    # The open-source KFP v2 backend runs no resolver executors: the baseline is the served model.
    assert evaluator["baseline_model"]["taskOutputArtifact"]["producerTask"] == "served_baseline"
    # Its output is whatever serves when the run starts: a cached one would keep the first run's baseline.
    assert graph["served_baseline"]["cachingOptions"] == {"enableCache": False}
    assert all("resolver" not in e for e in executors(compiled).values())
    assert executors(compiled)["Evaluator_executor"]["container"]["args"][1] == (
        "components.evaluator.EvaluatorExecutor"
    )
    assert "ExampleGate" in graph["Transform"]["dependentTasks"]  # nothing trains on data that failed validation


def executors(compiled) -> dict:
    return compiled["pipelineSpec"]["deploymentSpec"]["executors"]


def test_the_report_is_typed_for_the_kubeflow_ui(compiled):
    """The KFP UI renders `system.HTML` and `system.Markdown` outputs in the Visualizations tab."""
    component = compiled["pipelineSpec"]["components"][tasks(compiled)["PerHeadReport"]["componentRef"]["name"]]
    titles = {
        name: yaml.safe_load(spec["artifactType"]["instanceSchema"])["title"]
        for name, spec in component["outputDefinitions"]["artifacts"].items()
    }
    assert titles == {
        "report": "components.HeadReport",
        "report_html": "system.HTML",
        "report_markdown": "system.Markdown",
    }


def test_only_the_trainer_asks_for_an_accelerator_and_runs_on_the_gpu_image(compiled):
    settings = parse_kubeflow(load_config(FLIGHTS))
    containers = {
        name.removesuffix("_executor"): e["container"] for name, e in executors(compiled).items() if "container" in e
    }
    assert "Trainer" in containers and len(containers) == 13  # every task runs a container
    for name, container in containers.items():
        if name == "Trainer":
            assert container["image"] == settings.gpu_image
            assert container["resources"]["accelerator"] == {"type": "NVIDIA_TESLA_T4", "count": "1"}
            assert container["resources"]["cpuLimit"] == 8.0 and container["resources"]["memoryLimit"] == 32.0
        else:
            assert container["image"] == settings.image, name
            assert "resources" not in container, name


def test_spans_are_resolved_by_the_first_task_of_every_run(compiled):
    """A recurring run created once must train on the newest spans at every trigger (contracts/spans.py)."""
    assert compiled["pipelineSpec"]["schemaVersion"] == "2.1.0"  # what the open-source KFP v2 driver fills
    graph = tasks(compiled)
    window = graph["SpanWindow"]
    assert window["cachingOptions"] == {"enableCache": False}  # its output depends on the folders present
    constants = {
        k: v["runtimeValue"]["constant"] for k, v in window["inputs"]["parameters"].items() if "runtimeValue" in v
    }
    assert constants == {
        "data_root": "gs://example-ml-bucket/data/flights",
        "span_dir": "span-{span}",
        "train_window": 3.0,
    }
    assert window["inputs"]["parameters"]["window"] == {"componentInputParameter": "window"}
    # Optional with its default, empty: the newest spans; the API server reads no runtimeConfig.
    window_parameter = {"parameterType": "STRING", "defaultValue": "", "isOptional": True}
    assert compiled["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]["window"] == window_parameter
    for reader in ("ImportExampleGen", "ExampleGate", "PerHeadReport"):
        source = graph[reader]["inputs"]["parameters"]["input_config" if reader != "PerHeadReport" else "spans"]
        # by task name: TFX writes "SpanWindow_task", which the KFP driver cannot find
        assert source == {"taskOutputParameter": {"producerTask": "SpanWindow", "outputParameterKey": "input_config"}}
        assert "SpanWindow" in graph[reader]["dependentTasks"]


def test_no_local_path_and_no_credential_in_the_file(compiled):
    text = json.dumps(compiled)
    for local in {str(REPO_ROOT), str(Path.home()), "/tmp/", "file://"}:
        assert local not in text, local
    assert "/pipeline/schemas/flights/schema.pbtxt" in text  # the schema, as the image holds it
    for secret in (r"AKIA[0-9A-Z]{16}", r"-----BEGIN", r"private_key", r"password", r"ya29\.", r"token"):
        assert not re.search(secret, text, re.IGNORECASE), secret


def test_the_trainer_pod_goes_to_gpu_nodes_through_the_kubernetes_platform_spec(compiled):
    from kfp.kubernetes import kubernetes_executor_config_pb2

    platform = pipeline_spec_pb2.PlatformSpec()
    json_format.ParseDict(compiled["platformSpec"], platform, ignore_unknown_fields=False)
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    assert list(executors) == ["Trainer_executor"]  # the shipped config names no storage secret
    trainer = kubernetes_executor_config_pb2.KubernetesExecutorConfig()
    json_format.ParseDict(json_format.MessageToDict(executors["Trainer_executor"]), trainer)
    assert dict(trainer.node_selector.labels) == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert [(t.key, t.operator, t.effect) for t in trainer.tolerations] == [("nvidia.com/gpu", "Exists", "NoSchedule")]


def compile_with(raw: dict, tmp_path: Path) -> dict:
    return read_package(compile_pipeline(parse_config(raw, str(FLIGHTS)), tmp_path / "variant.yaml"))


def test_beam_stages_on_the_cluster_name_the_image_when_the_section_names_no_dependency(raw, tmp_path):
    """With the local runner in the pods and no dependency flag, the image is the Beam stages' dependency: no
    path of the compiling machine (the local runs' setup.py) in the package, and TFX stages no copy of itself."""
    raw["kubeflow"]["beam_args"] = ["--direct_num_workers=1"]
    compiled = compile_with(raw, tmp_path)
    text = json.dumps(compiled)
    assert str(REPO_ROOT) not in text and "setup_file" not in text
    image = raw["kubeflow"]["image"]
    assert text.count(f"--sdk_container_image={image}") >= 4  # ImportExampleGen, StatisticsGen, Transform, Evaluator


def test_the_storage_secret_reaches_every_task_by_name_only(raw, tmp_path):
    raw["kubeflow"]["storage_secret"] = {
        "name": "bucket-credentials",
        "env": {"AWS_ACCESS_KEY_ID": "access_key_id", "AWS_SECRET_ACCESS_KEY": "secret_access_key"},
    }
    job = compile_with(raw, tmp_path)
    executors = job["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(job["pipelineSpec"]["deploymentSpec"]["executors"])  # every task
    for config in executors.values():
        assert config["secretAsEnv"] == [
            {
                "secretName": "bucket-credentials",
                "keyToEnv": [
                    {"secretKey": "access_key_id", "envVar": "AWS_ACCESS_KEY_ID"},
                    {"secretKey": "secret_access_key", "envVar": "AWS_SECRET_ACCESS_KEY"},
                ],
            }
        ]


def test_on_a_stock_kubeflows_minio_what_tasks_open_by_path_lives_on_a_volume_every_task_mounts(raw, tmp_path):
    """TensorFlow cannot open minio://: the artifacts go through the launcher's paths, the data root, the
    serving directory and the gate's decision records through a PersistentVolumeClaim."""
    raw["kubeflow"].update(
        pipeline_root="minio://mlpipeline/v2/artifacts",
        data_root="/mnt/ml/data/flights",
        serving_dir="/mnt/ml/serving/flights",
        history_dir="/mnt/ml/gate_decisions/flights",
        volume={"claim": "ml-data", "mount_path": "/mnt/ml"},
    )
    job = compile_with(raw, tmp_path)
    executors = job["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(job["pipelineSpec"]["deploymentSpec"]["executors"])  # every task
    for config in executors.values():
        (mount,) = config["pvcMount"]
        assert mount["mountPath"] == "/mnt/ml" and mount["constant"] == "ml-data"
        assert mount["pvcNameParameter"] == {"runtimeValue": {"constant": "ml-data"}}
    gate = tasks(job)["HeadGate"]["inputs"]["parameters"]
    assert gate["history_dir"]["runtimeValue"]["constant"] == "/mnt/ml/gate_decisions/flights"
    assert job["pipelineSpec"]["defaultPipelineRoot"].startswith("minio://mlpipeline/v2/artifacts")


def test_with_a_gcs_root_the_decision_records_default_under_it(compiled):
    gate = tasks(compiled)["HeadGate"]["inputs"]["parameters"]
    expected = "gs://example-ml-bucket/tfx/flights/pipeline_root/gate_decisions"  # as before the volume option
    assert gate["history_dir"]["runtimeValue"]["constant"] == expected


def test_a_multi_worker_trainer_task_launches_a_tfjob_from_a_cpu_pod(raw, tmp_path):
    from components.trainer_launch.settings import LaunchSettings
    from trainer.specs import LAUNCH_KEY

    raw["kubeflow"]["trainer"]["workers"] = 4
    job = compile_with(raw, tmp_path)
    settings = parse_kubeflow(parse_config(raw, str(FLIGHTS)))
    container = job["pipelineSpec"]["deploymentSpec"]["executors"]["Trainer_executor"]["container"]
    assert container["image"] == settings.image  # the launcher needs no GPU image
    assert container["resources"] == {"cpuLimit": 1.0, "memoryLimit": 2.0}  # and no GPU node
    assert "Trainer_executor" not in job["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"].get(
        "executors", {}
    )
    custom = json.loads(tasks(job)["Trainer"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"])
    launch = LaunchSettings.from_dict(custom[LAUNCH_KEY])
    assert (launch.workers, launch.backend, launch.image, launch.gpus) == (4, "tfjob", settings.gpu_image, 1)
    assert launch.node_selector == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert [t.key for t in launch.tolerations] == ["nvidia.com/gpu"]
    assert (launch.cpu, launch.memory_gb, launch.job_prefix) == (8.0, 32.0, "flights")


def test_local_pipeline_carries_no_platform_config():
    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(load_config(FLIGHTS).with_data(train_spans=(9, 10, 11), eval_span=12))
    assert all(getattr(component, "platform_config", None) is None for component in pipeline.components)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(FLIGHTS.read_text())


@pytest.mark.parametrize(
    ("change", "field", "fix"),
    [
        (lambda k: k.pop("image"), "kubeflow.image", "this field is required"),
        (lambda k: k.update(pipeline_root="/data/pipelines"), "kubeflow.pipeline_root", "gs://, s3:// or minio://"),
        (lambda k: k.update(data_root="out/data/flights"), "kubeflow.data_root", "under kubeflow.volume.mount_path"),
        (lambda k: k.update(serving_dir="s3://models/flights"), "kubeflow.serving_dir", "not s3:// or minio://"),
        (
            lambda k: k.update(pipeline_root="minio://mlpipeline/v2/artifacts"),
            "kubeflow.history_dir",
            "the pipeline root minio://mlpipeline/v2/artifacts is not gs://",
        ),
        (
            lambda k: k["trainer"].update(accelerator="NVIDIA_GTX_1080"),
            "kubeflow.trainer.accelerator",
            "use one of NVIDIA_TESLA_T4",
        ),
        (
            lambda k: k["trainer"].update(accelerator_count=0),
            "kubeflow.trainer.accelerator_count",
            "must be > 0: a positive number",
        ),
        (lambda k: k.update(beam_args=["runner=DataflowRunner"]), "kubeflow.beam_args[0]", "--flag=value"),
        (lambda k: k["trainer"].update(workers=0), "kubeflow.trainer.workers", "positive"),
        (
            lambda k: k["trainer"].update(tolerations=[{"key": "gpu", "efect": "NoSchedule"}]),
            "kubeflow.trainer.tolerations[0].efect",
            "did you mean 'effect'?",
        ),
        (
            lambda k: k["trainer"].update(node_selector={"pool": 4}),
            "kubeflow.trainer.node_selector.pool",
            "expected str",
        ),
        (
            lambda k: k.update(storage_secret={"name": "creds", "env": {"AWS_ACCESS_KEY_ID": "key"}, "value": "x"}),
            "kubeflow.storage_secret.value",
            "unknown setting; known here: name, env",
        ),
    ],
)
def test_bad_kubeflow_section_is_rejected(raw, change, field, fix):
    change(raw["kubeflow"])
    with pytest.raises(ConfigError) as error:
        parse_kubeflow(parse_config(raw, "flights.yaml"))
    assert error.value.field == field
    assert fix in str(error.value)


def test_a_bad_image_or_secret_is_rejected_on_load(raw):
    """The section is checked when the config loads, not first when compiling."""
    raw["kubeflow"]["image"] = "europe-docker.pkg.dev/x/multihead tfx:0.1"
    with pytest.raises(ConfigError, match=r"kubeflow\.image: .* -- the image of every task .*no spaces"):
        parse_config(raw, "flights.yaml")
    raw["kubeflow"]["image"] = "multihead-tfx:0.1"
    raw["kubeflow"]["storage_secret"] = {"name": "creds", "env": {}}
    with pytest.raises(ConfigError, match=r"kubeflow\.storage_secret\.env: \{\} -- .*ENVIRONMENT_VARIABLE"):
        parse_config(raw, "flights.yaml")
    raw["kubeflow"]["storage_secret"] = {"name": "creds", "env": {"AWS_ACCESS_KEY_ID": "key"}}
    raw["kubeflow"]["trainer"]["tolerations"] = [{"key": "gpu", "operator": "Equal", "value": "t4"}]
    settings = parse_kubeflow(parse_config(raw, "flights.yaml"))
    assert settings.storage_secret.variables == {"AWS_ACCESS_KEY_ID": "key"}
    assert [(t.key, t.operator, t.value, t.effect) for t in settings.trainer.tolerations] == [
        ("gpu", "Equal", "t4", "NoSchedule")
    ]


def test_missing_kubeflow_section_is_rejected(raw):
    raw.pop("kubeflow")
    with pytest.raises(ConfigError, match="add a kubeflow: section"):
        parse_kubeflow(parse_config(raw, "flights.yaml"))


def test_on_the_direct_runner_the_evaluator_always_runs_beam_in_one_process():
    """The shipped config runs every Beam stage in one process; a config asking for multi_processing
    gets it everywhere but in the Evaluator, which gains nothing from it (pipeline/pipeline.py); a
    distributed runner is left as configured."""
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    from pipeline.pipeline import create_pipeline

    def running_modes(config) -> dict[str, str]:
        return {
            c.id: PipelineOptions(c.executor_spec.beam_pipeline_args).view_as(DirectOptions).direct_running_mode
            for c in create_pipeline(config).components
            if hasattr(c.executor_spec, "beam_pipeline_args")
        }

    config = load_config(FLIGHTS).with_data(train_spans=(9, 10, 11), eval_span=12)
    shipped = running_modes(config)
    assert set(shipped.values()) == {"in_memory"} and {"Transform", "Evaluator"} <= shipped.keys(), shipped
    asked = dataclasses.replace(config, beam_args=("--direct_running_mode=multi_processing",))
    modes = running_modes(asked)
    assert modes.pop("Evaluator") == "in_memory"
    assert set(modes.values()) == {"multi_processing"} and "Transform" in modes, modes
    dataflow = dataclasses.replace(config, beam_args=("--runner=DataflowRunner", "--project=p"))
    components = {c.id: c for c in create_pipeline(dataflow).components}
    assert components["Evaluator"].executor_spec.beam_pipeline_args == list(dataflow.beam_args)


def test_no_beam_stage_tries_to_download_a_runner():
    """Beam's DirectRunner first fetches its Prism runner from GitHub; every Beam stage of the shipped
    config names the runner it falls back to instead, and Beam builds that runner from the arguments."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipeline.pipeline import create_pipeline, pipeline_beam_args

    config = load_config(FLIGHTS).with_data(train_spans=(9, 10, 11), eval_span=12)
    beam_components = [c for c in create_pipeline(config).components if hasattr(c.executor_spec, "beam_pipeline_args")]
    assert len(beam_components) >= 4
    for component in beam_components:
        args = component.executor_spec.beam_pipeline_args
        assert [a for a in args if a.startswith("--runner=")] == ["--runner=FnApiRunner"], (component.id, args)
        assert isinstance(beam.Pipeline(options=PipelineOptions(args)).runner, FnApiRunner), component.id
    assert pipeline_beam_args(["--runner=DirectRunner", "--direct_num_workers=1"]) == [
        "--runner=FnApiRunner",
        "--direct_num_workers=1",
        f"--setup_file={REPO_ROOT / 'setup.py'}",
    ]
    assert pipeline_beam_args(["--runner=DataflowRunner"]) == ["--runner=DataflowRunner"]
