"""The multi-worker launcher: the TFJob it writes, and how it follows one through the Kubernetes API.

The Kubernetes API server is the true external boundary here (no cluster is
reachable): a small HTTP server plays it, and the real `kubernetes` client
talks to it over HTTP. The local backend's workers run for real in
tests/e2e/test_trainer_resilience.py.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.trainer_launch import tfjob
from components.trainer_launch.executor import split_launch_settings
from components.trainer_launch.settings import LaunchSettings, SecretEnv, Toleration
from trainer.specs import LAUNCH_KEY

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "kubernetes" / "tfjob_v1_openapi_schema.json"
SETTINGS = LaunchSettings(
    workers=3,
    job_prefix="flights",
    image="registry.example/multihead-tfx-gpu:1",
    cpu=8,
    memory_gb=32,
    gpus=1,
    node_selector={"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
    tolerations=(Toleration(key="nvidia.com/gpu"),),
    secret_env=SecretEnv("bucket-credentials", {"AWS_ACCESS_KEY_ID": "access_key_id"}),
    service_account="pipeline-runner",
)
COMMAND = ["python", "-m", "tfx.scripts.run_executor", "--executor_class_path=x.Executor"]


def unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Every key of `value` that the OpenAPI schema does not declare (what the API server would drop)."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string"):
        return []
    found = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                found += unknown_fields(item, properties[key], f"{path}.{key}")
            elif isinstance(additional, dict):
                found += unknown_fields(item, additional, f"{path}.{key}")
            elif properties is not None or additional is False:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


def test_the_manifest_has_no_field_the_tfjob_schema_does_not_declare():
    manifest = tfjob.tfjob_manifest("flights-trainer-abc", "ml", SETTINGS, COMMAND)
    schema = json.loads(SCHEMA.read_text())
    assert unknown_fields(manifest, schema) == []
    # The walk does find a misspelt field, at any depth.
    manifest["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    manifest["spec"]["runPolicy"]["backofLimit"] = 1
    assert unknown_fields(manifest, schema) == [
        ".spec.runPolicy.backofLimit",
        ".spec.tfReplicaSpecs.Worker.template.spec.containers[0].imagePullPolicyy",
    ]


def test_the_pod_template_round_trips_through_the_typed_kubernetes_model_unchanged():
    from kubernetes import client

    api = client.ApiClient()
    template = tfjob.tfjob_manifest("flights-trainer-abc", "ml", SETTINGS, COMMAND)["spec"]["tfReplicaSpecs"]["Worker"][
        "template"
    ]
    typed = api._ApiClient__deserialize(json.loads(json.dumps(template)), "V1PodTemplateSpec")
    assert api.sanitize_for_serialization(typed) == template


def test_the_manifest_says_what_each_worker_gets():
    manifest = tfjob.tfjob_manifest("flights-trainer-abc", "ml", SETTINGS, COMMAND)
    assert manifest["apiVersion"] == "kubeflow.org/v1" and manifest["kind"] == "TFJob"
    workers = manifest["spec"]["tfReplicaSpecs"]["Worker"]
    assert workers["replicas"] == 3
    assert workers["restartPolicy"] == "ExitCode"  # preempted (>= 128): restarted; an error (1-127): fails the job
    pod = workers["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "tensorflow"  # the container the operator gives TF_CONFIG
    assert container["command"] == COMMAND
    assert container["resources"]["limits"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert pod["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert pod["serviceAccountName"] == "pipeline-runner"
    # The secret by name and key only.
    assert container["env"] == [
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"key": "access_key_id", "name": "bucket-credentials"}},
        }
    ]


def test_job_names_are_valid_stable_and_leave_room_for_pod_names():
    uri = "gs://bucket/root/flights/run-1/Trainer_123/model"
    name = tfjob.job_name("Flights_Delays pipeline with a very long name", uri)
    assert name == tfjob.job_name("Flights_Delays pipeline with a very long name", uri)  # a retried task
    assert name != tfjob.job_name("Flights_Delays pipeline with a very long name", uri + "2")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert len(f"{name}-worker-99") <= 63


def test_the_launch_settings_are_taken_out_before_run_fn_reads_the_config():
    properties = {"custom_config": json.dumps({"heads": [], LAUNCH_KEY: SETTINGS.to_dict()}), "train_args": "{}"}
    launch, rest = split_launch_settings(properties)
    assert launch == SETTINGS
    assert json.loads(rest["custom_config"]) == {"heads": []}
    assert rest["train_args"] == "{}"
    assert split_launch_settings({"custom_config": "{}"})[0].workers == 1  # no launch key: one worker


class FakeKubernetesApi:
    """The Kubernetes API server, scripted: the TFJob's status and its pods at each successive read."""

    def __init__(self, statuses: list[dict], pods: list[list[dict]] | None = None, exists: bool = False):
        self.statuses, self.pods, self.exists = statuses, pods or [], exists
        self.requests: list[tuple[str, str]] = []
        self.created: dict | None = None
        self.reads = 0

    def handle(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        self.requests.append((method, path.split("?")[0]))
        jobs = "/apis/kubeflow.org/v1/namespaces/ml/tfjobs"
        if method == "POST" and path == jobs:
            if self.exists:
                return 409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"}
            self.created = body
            return 201, body
        if method == "GET" and path.startswith(jobs + "/"):
            status = self.statuses[min(self.reads, len(self.statuses) - 1)]
            self.reads += 1
            return 200, {**(self.created or {}), "status": status}
        if method == "DELETE" and path.startswith(jobs + "/"):
            return 200, {"kind": "Status", "status": "Success"}
        if method == "GET" and path.startswith("/api/v1/namespaces/ml/pods"):
            assert "labelSelector=training.kubeflow.org%2Fjob-name%3D" in path
            items = self.pods[min(self.reads - 1, len(self.pods) - 1)] if self.pods else []
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return 404, {"kind": "Status", "code": 404}


@pytest.fixture
def serve():
    servers = []

    def start(api: FakeKubernetesApi) -> tfjob.TFJobBackend:
        from kubernetes import client

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                code, payload = api.handle(method, self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def do_DELETE(self):
                self._answer("DELETE")

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        configuration = client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")
        api_client = client.ApiClient(configuration)
        return tfjob.TFJobBackend(client.CustomObjectsApi(api_client), client.CoreV1Api(api_client), sleep=no_wait)

    yield start
    for server in servers:
        server.shutdown()


def no_wait(_seconds: float) -> None:
    pass


def condition(kind: str, reason: str = "", message: str = "") -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message}


def pod(name: str, waiting: str | None = None, exit_code: int | None = None, reason: str = "") -> dict:
    state: dict = {"running": {}}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": "Back-off pulling image"}}
    if exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "reason": reason}}
    return {
        "metadata": {"name": name},
        "status": {
            "containerStatuses": [
                {"name": "tensorflow", "image": "i", "imageID": "", "ready": False, "restartCount": 0, "state": state}
            ]
        },
    }


MANIFEST: Callable[[], dict] = lambda: tfjob.tfjob_manifest("flights-trainer-abc", "ml", SETTINGS, COMMAND)  # noqa: E731


def test_a_job_is_created_followed_and_returns_when_it_succeeded(serve, caplog):
    api = FakeKubernetesApi(
        [
            {"conditions": [condition("Created", "TFJobCreated")]},
            {
                "conditions": [condition("Created"), condition("Running", "TFJobRunning")],
                "replicaStatuses": {"Worker": {"active": 3}},
            },
            {"conditions": [condition("Created"), condition("Running")], "replicaStatuses": {"Worker": {"active": 3}}},
            {
                "conditions": [
                    condition("Succeeded", "TFJobSucceeded", "TFJob ml/flights-trainer-abc successfully completed.")
                ],
                "replicaStatuses": {"Worker": {"succeeded": 3}},
            },
        ]
    )
    backend = serve(api)
    with caplog.at_level("INFO"):
        backend.run(MANIFEST(), poll_s=0, timeout_s=60)
    assert api.created == MANIFEST()  # what the API server received is the manifest, unchanged
    assert api.requests[0] == ("POST", "/apis/kubeflow.org/v1/namespaces/ml/tfjobs")
    assert api.reads == 4
    log = caplog.text
    assert "TFJob ml/flights-trainer-abc created: 3 workers" in log
    assert "TFJob flights-trainer-abc: Running (TFJobRunning)" in log
    assert log.count("workers: active 3") == 1  # each change of state once
    assert "Succeeded (TFJobSucceeded)" in log


def test_a_failed_job_fails_with_its_reason_and_each_worker_exit_code(serve):
    api = FakeKubernetesApi(
        [
            {"conditions": [condition("Running")]},
            {
                "conditions": [
                    condition(
                        "Failed",
                        "TFJobFailed",
                        "TFJob ml/flights-trainer-abc has failed because 1 Worker replica(s) failed.",
                    )
                ]
            },
        ],
        pods=[
            [pod("flights-trainer-abc-worker-0")],
            [pod("flights-trainer-abc-worker-0"), pod("flights-trainer-abc-worker-1", exit_code=1, reason="Error")],
        ],
    )
    with pytest.raises(tfjob.TFJobError) as failed:
        serve(api).run(MANIFEST(), poll_s=0, timeout_s=60)
    message = str(failed.value)
    assert "TFJob ml/flights-trainer-abc failed: Failed (TFJobFailed)" in message
    assert "1 Worker replica(s) failed" in message
    assert "pod flights-trainer-abc-worker-1 exited with code 1 (Error)" in message


def test_an_image_that_cannot_be_pulled_fails_the_task_instead_of_waiting(serve):
    api = FakeKubernetesApi(
        [{"conditions": [condition("Created")]}],
        pods=[[pod("flights-trainer-abc-worker-0", waiting="ImagePullBackOff")]],
    )
    with pytest.raises(tfjob.TFJobError, match="cannot start: pod flights-trainer-abc-worker-0: ImagePullBackOff"):
        serve(api).run(MANIFEST(), poll_s=0, timeout_s=60)
    assert api.requests[-1][0] == "DELETE"  # the stuck job is not left behind


def test_a_restarted_launcher_follows_the_job_it_created_before(serve, caplog):
    api = FakeKubernetesApi([{"conditions": [condition("Succeeded")]}], exists=True)
    with caplog.at_level("INFO"):
        serve(api).run(MANIFEST(), poll_s=0, timeout_s=60)
    assert "exists (this task ran before and was restarted): following it" in caplog.text


def test_a_job_past_its_deadline_is_deleted_and_fails(serve):
    api = FakeKubernetesApi([{"conditions": [condition("Running")]}])
    backend = serve(api)
    ticks = iter(range(0, 10_000, 100))
    backend.clock = lambda: next(ticks)
    with pytest.raises(tfjob.TFJobError, match="did not finish within 250 s; deleted"):
        backend.run(MANIFEST(), poll_s=0, timeout_s=250)
    assert api.requests[-1][0] == "DELETE"
