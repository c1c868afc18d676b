"""The Kubernetes platform spec of the compiled pipeline: where the Trainer's pods go and which secret
gives every task its object-storage credentials.

TFX compiles no platform config (`with_platform_config` takes only a
ResourceSpec), so it is written here, with kfp-kubernetes' own
KubernetesExecutorConfig message, keyed by executor as KFP's compiler keys
it. KFP reads it as the second YAML document of an uploaded package
(orchestration/kfp_package.py writes that package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration.kubeflow import KubeflowSettings

TRAINER_ID = "Trainer"


def executor_label(pipeline_spec: dict, task: str) -> str:
    """The executor a task runs (`exec-trainer`), through its component."""
    component = pipeline_spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    return pipeline_spec["components"][component]["executorLabel"]


def kubernetes_platform_spec(pipeline_spec: dict, settings: KubeflowSettings) -> dict[str, Any]:
    """`{"platforms": {"kubernetes": {"deploymentSpec": {"executors": {label: config}}}}}`: the GPU node
    selector and tolerations on the Trainer (when it trains in its own pod; a multi-worker Trainer's
    workers carry them in their TFJob), the storage secret as environment variables and the volume (where
    paths TensorFlow opens live beside an S3 store) on every task."""
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2

    executors: dict[str, Any] = {}
    for task in sorted(pipeline_spec["root"]["dag"]["tasks"]):
        config = k8s.KubernetesExecutorConfig()
        if task == TRAINER_ID and settings.trainer.workers <= 1:
            config.node_selector.labels.update(settings.trainer.node_selector)
            for toleration in settings.trainer.tolerations:
                config.tolerations.append(
                    k8s.Toleration(
                        key=toleration.key,
                        operator=toleration.operator,
                        value=toleration.value,
                        effect=toleration.effect,
                    )
                )
        if settings.storage_secret is not None:
            config.secret_as_env.append(
                k8s.SecretAsEnv(
                    secret_name=settings.storage_secret.secret,
                    key_to_env=[
                        k8s.SecretAsEnv.SecretKeyToEnvMap(secret_key=key, env_var=variable)
                        for variable, key in sorted(settings.storage_secret.variables.items())
                    ],
                )
            )
        if settings.volume is not None:
            # As kfp.kubernetes.mount_pvc writes it: the claim as a constant parameter (and the older field).
            mount = k8s.PvcMount(constant=settings.volume.claim, mount_path=settings.volume.mount_path)
            mount.pvc_name_parameter.runtime_value.constant.string_value = settings.volume.claim
            config.pvc_mount.append(mount)
        if config.ByteSize():
            executors[executor_label(pipeline_spec, task)] = json_format.MessageToDict(config)
    spec = pipeline_spec_pb2.PlatformSpec()
    json_format.ParseDict({"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}, spec)
    return json_format.MessageToDict(spec)
