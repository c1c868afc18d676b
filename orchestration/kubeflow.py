"""Compile the pipeline for Kubeflow Pipelines v2, from the same config file.

    python -m orchestration.kubeflow --config configs/flights.yaml --out out/kubeflow/flights.yaml

Writes two packages of the same pipeline: `<name>.yaml`, the PipelineSpec
(schema 2.1.0) with the Kubernetes PlatformSpec as its second document, which
the open-source KFP API server, `kfp pipeline create` and the UI upload take;
and `<name>.vertex.json`, the PipelineJob (pipelineSpec + runtimeConfig) that
Vertex AI Pipelines takes. Every task runs the image's entry point
(orchestration/kfp_entrypoint.py), which takes the ExecutorInput the
open-source driver really sends.

The config's `kubeflow:` section says where the pipeline runs: the pipeline
root on object storage (gs://, s3:// or a stock install's minio://), the data
root, serving directory and decision records on gs:// or a volume every task
mounts (TensorFlow opens no s3:// or minio://), the CPU image for every
component and the GPU image for the Trainer, Beam arguments for a distributed
runner, and the Trainer's resources. Only the Trainer gets a ResourceSpec
(CPU, memory, accelerator); LocalDagRunner never sees it.

The spans are resolved when each run starts: the first task, SpanWindow
(components/span_window.py), lists the span folders under the data root and
feeds ExampleGen the newest span for evaluation and the `data.train_window`
spans before it for training, so a recurring run created once trains on the
newest data at every trigger. The `window` run parameter (empty by default;
JSON {"train_spans": [...], "eval_span": n}, set by `kubeflow_submit run
--train-spans ... --eval-span ...`) pins a window instead. A config with
fixed spans compiles them in as the parameter's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from components.trainer_launch.settings import LaunchSettings, SecretEnv, Toleration
from console.run_log import command_output
from orchestration.kfp_package import PLATFORM_SPEC_KEY, VERTEX_SUFFIX, write_packages
from orchestration.platform_spec import kubernetes_platform_spec
from pipeline.config import DEFAULT_CONFIG, REPO_ROOT, ConfigError, PipelineConfig, load_config

IMAGE_WORKDIR = "/pipeline"  # where the Dockerfile copies the repository
# The taint GPU node pools carry on GKE, AKS and with NVIDIA's GPU operator.
GPU_TOLERATIONS = (Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),)
WINDOW_PARAMETER = "window"
TRAINER_ID = "Trainer"
TFX_ENTRYPOINT = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
IMAGE_ENTRYPOINT = ["python", "-m", "orchestration.kfp_entrypoint"]  # TFX's, taking the real driver's input


@dataclasses.dataclass(frozen=True)
class TrainerResources:
    cpu: float
    memory_gb: float
    accelerator: str
    accelerator_count: int
    workers: int = 1  # > 1: the Trainer task launches a TFJob of this many workers, each with these resources
    node_selector: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = GPU_TOLERATIONS


@dataclasses.dataclass(frozen=True)
class Volume:
    claim: str
    mount_path: str


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    pipeline_root: str
    data_root: str
    serving_dir: str
    image: str
    gpu_image: str
    beam_args: tuple[str, ...]
    trainer: TrainerResources
    storage_secret: SecretEnv | None = None  # object-storage credentials for every task, by secret name
    history_dir: str | None = None  # the gate's decision records; None: the pipeline config's default
    volume: Volume | None = None  # a PersistentVolumeClaim every task mounts
    launch_backend: str = "tfjob"  # how a multi-worker Trainer starts its workers ("local": processes in its pod)


def parse_kubeflow(config: PipelineConfig) -> KubeflowSettings:
    """The `kubeflow:` section (validated with the rest of the config on load) as the compiler's settings."""
    section = config.kubeflow
    if section is None:
        raise ConfigError(
            config.source,
            "kubeflow",
            None,
            "add a kubeflow: section (pipeline_root, data_root, serving_dir, image, gpu_image, "
            "beam_args, trainer) to compile for Kubeflow; see configs/flights.yaml",
        )
    trainer, secret = section.trainer, section.storage_secret
    tolerations = trainer.tolerations
    return KubeflowSettings(
        pipeline_root=section.pipeline_root,
        data_root=section.data_root,
        serving_dir=section.serving_dir,
        image=section.image,
        gpu_image=section.gpu_image or section.image,
        beam_args=tuple(section.beam_args),
        trainer=TrainerResources(
            cpu=float(trainer.cpu),
            memory_gb=float(trainer.memory_gb),
            accelerator=trainer.accelerator,
            accelerator_count=trainer.accelerator_count,
            workers=trainer.workers,
            node_selector=dict(trainer.node_selector),
            tolerations=GPU_TOLERATIONS
            if tolerations is None
            else tuple(Toleration(**t.model_dump(exclude_none=True)) for t in tolerations),
        ),
        storage_secret=None if secret is None else SecretEnv(secret=secret.name, variables=dict(secret.env)),
        history_dir=section.history_dir,
        volume=None if section.volume is None else Volume(section.volume.claim, section.volume.mount_path),
    )


def in_image(path: Path) -> str:
    """The path a repository file has inside the container image."""
    return f"{IMAGE_WORKDIR}/{Path(path).resolve().relative_to(REPO_ROOT).as_posix()}"


def kubeflow_pipeline_config(config: PipelineConfig, settings: KubeflowSettings) -> PipelineConfig:
    """The same pipeline config, its paths and Beam args moved to the cluster. Where the Beam args name no
    dependency, the image is named (`--sdk_container_image`): every task's Beam stages run in it, TFX then
    stages no copy of itself, and no path of the compiling machine (its setup.py) goes into the package."""
    from pipeline.pipeline import names_dependency

    beam_args = tuple(settings.beam_args)
    if not names_dependency(beam_args):
        beam_args = (*beam_args, f"--sdk_container_image={settings.image}")
    return dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, root=settings.data_root),
        schema_path=in_image(config.schema_path),
        output_root=settings.pipeline_root,
        serving_root=settings.serving_dir,
        history_root=settings.history_dir,
        beam_args=beam_args,
    )


def trainer_resource_spec(resources: TrainerResources):
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
        cpu_limit=resources.cpu, memory_limit=resources.memory_gb
    )
    if resources.accelerator and resources.accelerator_count:
        spec.accelerator.type = resources.accelerator
        spec.accelerator.count = resources.accelerator_count
    return spec


def local_check_settings(config: PipelineConfig, root: Path, image: str, pipeline_root: str) -> KubeflowSettings:
    """Settings for `make kfp-check`: the compiled pipeline run on this machine, artifacts under
    `pipeline_root` (a stock install's MinIO), what tasks open by path in folders under `root` (bound into the
    containers at the same path, as a volume would be), the config's own data and Beam arguments, one image."""
    root = root.resolve()
    return KubeflowSettings(
        pipeline_root=pipeline_root,
        data_root=str(Path(config.data.root).resolve()),
        serving_dir=str(root / "serving"),
        history_dir=str(root / "gate_decisions"),
        volume=Volume("kfp-check", str(root)),
        image=image,
        gpu_image=image,
        beam_args=tuple(config.beam_args),
        trainer=TrainerResources(cpu=2, memory_gb=8, accelerator="NVIDIA_TESLA_T4", accelerator_count=1),
    )


def build_kubeflow_pipeline(config: PipelineConfig, settings: KubeflowSettings | None = None):
    """The pipeline as KFP sees it; returns (tfx Pipeline, settings)."""
    from tfx import v1 as tfx

    from contracts.spans import Window
    from pipeline.pipeline import create_pipeline

    settings = settings or parse_kubeflow(config)
    remote = kubeflow_pipeline_config(config, settings)
    fixed = Window(remote.data.train_spans, remote.data.eval_span).to_json() if remote.data.resolved else ""
    window = tfx.dsl.experimental.RuntimeParameter(name=WINDOW_PARAMETER, ptype=str, default=fixed)
    pipeline = create_pipeline(
        remote,
        window_parameter=window,
        baseline_from_serving=True,
        trainer_launch=trainer_launch_settings(config, settings),
    )
    for component in pipeline.components:
        if component.id == TRAINER_ID:
            component.with_platform_config(trainer_resource_spec(trainer_task_resources(settings.trainer)))
    return pipeline, settings


def trainer_launch_settings(config: PipelineConfig, settings: KubeflowSettings) -> LaunchSettings:
    """What the Trainer task launches when `trainer.workers` > 1: a TFJob of that many workers, each with
    the Trainer's resources, GPU image, node selector and tolerations."""
    trainer = settings.trainer
    gpus = trainer.accelerator_count if trainer.accelerator else 0
    return LaunchSettings(
        workers=trainer.workers,
        backend=settings.launch_backend,
        job_prefix=config.name,
        image=settings.gpu_image,
        cpu=trainer.cpu,
        memory_gb=trainer.memory_gb,
        gpus=gpus,
        node_selector=dict(trainer.node_selector),
        tolerations=trainer.tolerations,
        secret_env=settings.storage_secret,
    )


# What the Trainer task itself asks for when it only launches and follows a TFJob.
LAUNCHER_RESOURCES = {"cpu": 1.0, "memory_gb": 2.0}


def trainer_task_resources(trainer: TrainerResources) -> TrainerResources:
    """The Trainer task's own resources: the training resources with one worker; with several, the
    workers get them and the task is a small launcher on a CPU node."""
    if trainer.workers <= 1:
        return trainer
    return dataclasses.replace(trainer, accelerator="", accelerator_count=0, **LAUNCHER_RESOURCES)


class _InvertedImageWarning(logging.Filter):
    """Drops TFX's "DEFAULT_IMAGE_PATH_KEY is not found in default_image", which its
    check (pipeline_builder._check_default_image) logs exactly when the key IS there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "DEFAULT_IMAGE_PATH_KEY is not found" not in record.getMessage()


def name_producer_tasks_by_their_task_names(tasks: dict[str, dict]) -> None:
    """Points each task-output parameter at its producer's task name.

    TFX 1.21's v2 step builder writes `producerTask: "<id>_task"` for a dynamic
    execution property, but tasks are keyed "<id>"; the open-source KFP driver
    looks the producer up by task name and fails the run with "producer task,
    <id>_task, not in tasks" (backend/src/v2/driver/resolve.go).
    """
    for task in tasks.values():
        for source in task.get("inputs", {}).get("parameters", {}).values():
            output = source.get("taskOutputParameter")
            if output and output["producerTask"] not in tasks and output["producerTask"].removesuffix("_task") in tasks:
                output["producerTask"] = output["producerTask"].removesuffix("_task")


def compile_job(config: PipelineConfig, settings: KubeflowSettings | None = None) -> dict:
    """The compiled pipeline as a PipelineJob dict (pipelineSpec, runtimeConfig) plus its platformSpec."""
    import tempfile

    from tfx import v1 as tfx
    from tfx.orchestration.kubeflow.v2 import pipeline_builder

    from components.served_baseline import COMPONENT_ID as SERVED_BASELINE_ID
    from components.span_window import COMPONENT_ID as SPAN_WINDOW_ID

    pipeline, settings = build_kubeflow_pipeline(config, settings)
    with tempfile.TemporaryDirectory() as scratch:
        runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
                default_image={
                    pipeline_builder.DEFAULT_IMAGE_PATH_KEY: settings.image,
                    # A multi-worker Trainer task only launches the TFJob; its workers run the GPU image.
                    TRAINER_ID: settings.gpu_image if settings.trainer.workers <= 1 else settings.image,
                },
                # Schema 2.1: the open-source KFP v2 driver fills only ExecutorInput.inputs.parameterValues
                # (backend/src/v2/driver/resolve.go); with 2.0.0 TFX's entrypoint reads the deprecated
                # inputs.parameters and every component would run without its execution properties.
                use_pipeline_spec_2_1=True,
            ),
            output_dir=scratch,
            output_filename="job.json",
        )
        window = next(p for p in pipeline.components if p.id == SPAN_WINDOW_ID).exec_properties[WINDOW_PARAMETER]
        absl_logger, inverted_warning = logging.getLogger("absl"), _InvertedImageWarning()
        absl_logger.addFilter(inverted_warning)
        try:
            runner.run(pipeline, parameter_values={WINDOW_PARAMETER: window.default}, write_out=True)
        finally:
            absl_logger.removeFilter(inverted_warning)
        job = json.loads((Path(scratch) / "job.json").read_text())
    spec = job["pipelineSpec"]
    name_producer_tasks_by_their_task_names(spec["root"]["dag"]["tasks"])
    # Their outputs depend on folders (the spans present, the version serving), not on the tasks'
    # inputs: a cached SpanWindow would hand every later run the first run's spans, a cached
    # ServedBaseline the first run's baseline (none).
    for task in (SPAN_WINDOW_ID, SERVED_BASELINE_ID):
        spec["root"]["dag"]["tasks"][task]["cachingOptions"] = {"enableCache": False}
    give_the_window_its_default(spec, window.default)
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor.get("container", {})
        if container.get("command") == TFX_ENTRYPOINT:
            container["command"] = list(IMAGE_ENTRYPOINT)
    spec["defaultPipelineRoot"] = job["runtimeConfig"]["gcsOutputDirectory"]
    job[PLATFORM_SPEC_KEY] = kubernetes_platform_spec(spec, settings)
    return job


def give_the_window_its_default(spec: dict, default: str) -> None:
    """`window` optional with its default, in the pipeline's inputs and SpanWindow's: the KFP API server
    refuses a run that omits a parameter with neither (backend/src/apiserver/template/v2_template.go:475-481);
    TFX compiles the default into the runtimeConfig only, which the API server never reads."""
    from components.span_window import COMPONENT_ID as SPAN_WINDOW_ID

    component = spec["root"]["dag"]["tasks"][SPAN_WINDOW_ID]["componentRef"]["name"]
    for definitions in (spec["root"]["inputDefinitions"], spec["components"][component]["inputDefinitions"]):
        definitions["parameters"][WINDOW_PARAMETER].update({"defaultValue": default, "isOptional": True})


def compile_pipeline(config: PipelineConfig, output: Path, settings: KubeflowSettings | None = None) -> Path:
    """Writes the KFP package `output` (.yaml) and the Vertex PipelineJob beside it; returns `output`."""
    return write_packages(compile_job(config, settings), output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--out", type=Path, default=None, help=f"default: out/kubeflow/<name>.yaml (and <name>{VERTEX_SUFFIX})"
    )
    args = parser.parse_args(argv)
    with command_output("compile"):
        return _compile(args)


def _compile(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        output = (args.out or REPO_ROOT / "out" / "kubeflow" / f"{config.name}.yaml").resolve()
        compile_pipeline(config, output)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"compiled {config.name} for Kubeflow Pipelines v2: {output} (upload this one to KFP)")
    print(f"  and for Vertex AI Pipelines: {output.with_suffix(VERTEX_SUFFIX)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
