"""Multi-worker training as a Kubeflow Training Operator TFJob (kubeflow.org/v1).

The operator starts the workers and gives each its TF_CONFIG; this module
writes the TFJob, creates it through the Kubernetes API, follows it to the
end and turns its failure into an error that names the cause (a worker's
exit code, an image that cannot be pulled). A retried launcher task finds
the job it created before (the name derives from the task's output) and
follows that one instead of starting a second.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from components.trainer_launch.settings import LaunchSettings

LOG = logging.getLogger(__name__)

GROUP, VERSION, PLURAL, KIND = "kubeflow.org", "v1", "tfjobs", "TFJob"
# Worker 0 is the chief: MultiWorkerMirroredStrategy's convention and the TFJob's default success policy.
REPLICA_TYPE = "Worker"
CONTAINER_NAME = "tensorflow"  # the container the operator gives TF_CONFIG and the port to
JOB_NAME_LABEL = "training.kubeflow.org/job-name"  # set by the operator on every pod of the job
# A pod waiting for one of these will not start by waiting longer.
STUCK_REASONS = frozenset({"ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "ErrImageNeverPull"})
NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class TFJobError(RuntimeError):
    """The TFJob failed, could not start, or ran past its deadline; the message says which and why."""


def job_name(pipeline_name: str, model_uri: str) -> str:
    """A DNS-1123 name, unique per Trainer output and the same for a retried task; short enough for the
    operator's pod names (`<name>-worker-<i>`, 63 characters at most)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", pipeline_name.lower()).strip("-")[:24].strip("-") or "pipeline"
    return f"{slug}-trainer-{hashlib.sha256(model_uri.encode()).hexdigest()[:12]}"


def pod_template(settings: LaunchSettings, command: Sequence[str]) -> dict[str, Any]:
    """Each worker's pod, built with the Kubernetes client's typed models (an unknown field cannot be written)."""
    from kubernetes import client

    limits = {"cpu": f"{settings.cpu:g}", "memory": f"{settings.memory_gb:g}Gi"}
    if settings.gpus:
        limits["nvidia.com/gpu"] = str(settings.gpus)
    env = []
    if settings.secret_env is not None:
        env = [
            client.V1EnvVar(
                name=variable,
                value_from=client.V1EnvVarSource(
                    secret_key_ref=client.V1SecretKeySelector(name=settings.secret_env.secret, key=key)
                ),
            )
            for variable, key in sorted(settings.secret_env.variables.items())
        ]
    container = client.V1Container(
        name=CONTAINER_NAME,
        image=settings.image,
        command=list(command),
        env=env or None,
        resources=client.V1ResourceRequirements(limits=limits, requests=dict(limits)),
    )
    spec = client.V1PodSpec(
        containers=[container],
        node_selector=dict(settings.node_selector) or None,
        tolerations=[
            client.V1Toleration(key=t.key, operator=t.operator, value=t.value or None, effect=t.effect or None)
            for t in settings.tolerations
        ]
        or None,
        service_account_name=settings.service_account or None,
    )
    return client.ApiClient().sanitize_for_serialization(client.V1PodTemplateSpec(spec=spec))


def tfjob_manifest(name: str, namespace: str, settings: LaunchSettings, command: Sequence[str]) -> dict[str, Any]:
    """The TFJob: `settings.workers` replicas of one pod; a worker killed by a signal (preemption, exit code
    >= 128) is restarted and resumes from its backup, a worker that fails on its own (1-127) fails the job."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "multihead-tfx"}},
        "spec": {
            "runPolicy": {
                "cleanPodPolicy": "Running",
                "backoffLimit": 3,
                "activeDeadlineSeconds": settings.timeout_s,
            },
            "tfReplicaSpecs": {
                REPLICA_TYPE: {
                    "replicas": settings.workers,
                    "restartPolicy": "ExitCode",
                    "template": pod_template(settings, command),
                }
            },
        },
    }


def current_namespace(configured: str) -> str:
    """The configured namespace, else the launching pod's own (a Kubeflow run's profile namespace)."""
    if configured:
        return configured
    try:
        with open(NAMESPACE_FILE, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return "default"


def _condition_line(condition: Mapping[str, Any]) -> str:
    parts = [condition.get("type", "?")]
    if condition.get("reason"):
        parts.append(f"({condition['reason']})")
    if condition.get("message"):
        parts.append(f": {condition['message']}")
    return " ".join(parts)


def _finished(status: Mapping[str, Any]) -> str | None:
    """ "Succeeded" or "Failed" once the job has ended, else None."""
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Succeeded", "Failed") and condition.get("status") == "True":
            return condition["type"]
    return None


def _pod_problems(pods) -> tuple[list[str], list[str]]:
    """(why a pod cannot start, how each terminated container ended) for the job's pods."""
    stuck, ended = [], []
    for pod in pods.items:
        for container in pod.status.container_statuses or []:
            waiting = container.state.waiting if container.state else None
            if waiting is not None and waiting.reason in STUCK_REASONS:
                stuck.append(f"pod {pod.metadata.name}: {waiting.reason}: {waiting.message or ''}".rstrip(": "))
            for state in (container.state, container.last_state):
                terminated = state.terminated if state else None
                if terminated is not None and terminated.exit_code:
                    ended.append(
                        f"pod {pod.metadata.name} exited with code {terminated.exit_code}"
                        + (f" ({terminated.reason})" if terminated.reason else "")
                    )
    return stuck, sorted(set(ended))


class TFJobBackend:
    """Creates a TFJob and follows it to its end through the Kubernetes API."""

    def __init__(self, custom_api, core_api, sleep: Callable[[float], None] = time.sleep, clock=time.monotonic):
        self.custom_api, self.core_api, self.sleep, self.clock = custom_api, core_api, sleep, clock

    @classmethod
    def in_cluster(cls) -> TFJobBackend:
        """Clients with the pod's service account (in a cluster) or the local kubeconfig."""
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        return cls(client.CustomObjectsApi(), client.CoreV1Api())

    def create(self, manifest: Mapping[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        name, namespace = manifest["metadata"]["name"], manifest["metadata"]["namespace"]
        try:
            self.custom_api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, dict(manifest))
            LOG.info(
                "TFJob %s/%s created: %d workers",
                namespace,
                name,
                manifest["spec"]["tfReplicaSpecs"][REPLICA_TYPE]["replicas"],
            )
        except ApiException as err:
            if err.status != 409:
                raise TFJobError(
                    f"could not create TFJob {namespace}/{name}: {err.status} {err.reason}: {err.body}"
                ) from err
            LOG.info("TFJob %s/%s exists (this task ran before and was restarted): following it", namespace, name)

    def delete(self, name: str, namespace: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.custom_api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as err:
            LOG.warning("could not delete TFJob %s/%s: %s %s", namespace, name, err.status, err.reason)

    def run(self, manifest: Mapping[str, Any], poll_s: float, timeout_s: float) -> None:
        """Creates the job and returns when it succeeded; raises TFJobError with the cause otherwise."""
        name, namespace = manifest["metadata"]["name"], manifest["metadata"]["namespace"]
        self.create(manifest)
        deadline, seen = self.clock() + timeout_s, set()
        while True:
            job = self.custom_api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            status = job.get("status") or {}
            for condition in status.get("conditions") or []:
                line = _condition_line(condition)
                if line not in seen:
                    seen.add(line)
                    LOG.info("TFJob %s: %s", name, line)
            replicas = (status.get("replicaStatuses") or {}).get(REPLICA_TYPE)
            if replicas and f"replicas {replicas}" not in seen:
                seen.add(f"replicas {replicas}")
                LOG.info(
                    "TFJob %s workers: %s",
                    name,
                    ", ".join(f"{k} {v}" for k, v in sorted(replicas.items()) if k != "selector"),
                )
            ended = _finished(status)
            pods = self.core_api.list_namespaced_pod(namespace, label_selector=f"{JOB_NAME_LABEL}={name}")
            stuck, exits = _pod_problems(pods)
            if ended == "Succeeded":
                return
            if ended == "Failed":
                failed = next(c for c in status["conditions"] if c.get("type") == "Failed")
                raise TFJobError(
                    f"TFJob {namespace}/{name} failed: {_condition_line(failed)}" + "".join(f"; {e}" for e in exits)
                )
            if stuck:
                self.delete(name, namespace)
                raise TFJobError(f"TFJob {namespace}/{name} cannot start: " + "; ".join(stuck))
            if self.clock() > deadline:
                self.delete(name, namespace)
                raise TFJobError(f"TFJob {namespace}/{name} did not finish within {timeout_s:.0f} s; deleted")
            self.sleep(poll_s)
