"""`make kfp-check`: the compiled Kubeflow pipeline, executed task by task in the built image, as the
open-source Kubeflow Pipelines v2 backend would run it on a stock install (MinIO as the artifact store).

    python3 -m container.kfp_check [--root out/kfp-check] [--image localhost/multihead-tfx:local]

A test of our compiled output, not an orchestrator. It takes the package
`make compile` writes (the PipelineSpec; no runtimeConfig: the run's
parameters and pipeline root come from the run request, as the API server
passes them, backend/src/v2/driver/root_dag.go:97-133) and, for each task in
dependency order, plays the three parts of the backend, each field cited
from kubeflow/pipelines at 7b70c7b:

- the driver builds the ExecutorInput (`executor_input`): parameters from
  constants, the run's parameters and upstream outputs; input artifacts as
  ML Metadata returns them, with an empty type and metadata converted;
  output URIs `<root>/<pipeline>/<run id>/<task>/<uuid>/<output>`; the
  `executor-logs` output; output parameter files under /tmp/kfp/outputs;
- the launcher downloads every input artifact from the S3 store to its local
  path (`/minio/<bucket>/<key>`) in the task's own folder (its pod), runs the
  task's command with the input filled in, collects the output parameters and
  uploads every output artifact from its local path;
- ML Metadata stores each output's metadata through its conversions.

The S3 store is moto's S3 server on 127.0.0.1 (MinIO does not install from the
registries this machine reaches), spoken to with plain HTTP here. Tasks run
with podman, no network: they never see the store, only the launcher's
paths, and what they open by path (the data root, the serving folder, the
gate's decision records) is under `--root`, bound at the same path as a
volume would be.

Two runs of the flights fixture (a one-span training window) with no
`window` parameter:
  1. first: the data root holds spans 1 and 2; the SpanWindow task must
     resolve train on span 1, evaluate on span 2: no baseline, pushed;
  2. next window: spans 3 and 4 arrive (3: span 2's rows with every
     `delay_band` label wrong, container/kfp_prepare.py; 4: the fixture's
     span 3); SpanWindow must resolve train on span 3, evaluate on span 4;
     the first model, now serving, must be the baseline of every gated head,
     and the run must be blocked, that head named, nothing pushed;
and in every run the report's HTML and Markdown at the URIs of its
`system.HTML` and `system.Markdown` outputs (what the Kubeflow UI renders),
the gate's `system.Metrics` with the verdict, and no directory marker (a
zero-byte key ending in "/") in the store.

What it does not do (README, "Kubeflow"): no cluster, API server, Argo or
ML Metadata service (a task starts once the tasks it needs are done, as Argo
starts them); no caching; resource requests (the Trainer's GPU) are not
enforced.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, ClassVar

from components.report.identity import artifact_location
from container.image import DEFAULT_TAG, ImageError, ensure_podman, podman_env
from contracts.launcher_paths import launcher_local_path
from trainer.code_version import CODE_VERSION_VARIABLE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO_ROOT / "out" / "kfp-check"
EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
SPEC_FILE = "pipeline.json"  # both written under --root by container/kfp_prepare.py
FACTS_FILE = "check.json"
# A stock install's default pipeline root (backend/src/v2/config/env.go:38), given by each run here.
PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"
EXECUTOR_LOGS = "executor-logs"  # driver/driver.go:747-760
OUTPUT_PARAMETERS_DIR = "/tmp/kfp/outputs"  # driver/driver.go:788
S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class CheckError(Exception):
    """The compiled pipeline failed the check; the message names the task and the cause."""


@dataclasses.dataclass
class Run:
    name: str
    adds_spans: tuple[str, ...]  # span folders moved from the staging folder into the data root first
    expected_splits: dict[str, str]  # what SpanWindow must resolve: split name -> pattern
    parameters_requested: dict[str, Any] = dataclasses.field(default_factory=dict)  # the run request's
    run_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    artifacts: dict[tuple[str, str], list[dict]] = dataclasses.field(default_factory=dict)  # as ML Metadata holds
    parameters: dict[tuple[str, str], Any] = dataclasses.field(default_factory=dict)


def log(message: str) -> None:
    print(f"[kfp-check] {message}", file=sys.stderr, flush=True)


def splits(train: list[int], evaluate: int) -> dict[str, str]:
    return {**{f"train_{i}": f"span-{span}/*" for i, span in enumerate(train, 1)}, "eval": f"span-{evaluate}/*"}


class S3Store:
    """The launcher's side of the artifact store: path-style S3 over plain HTTP. moto checks no signature
    (only that a request names a key, else it treats it as anonymous), so a request is not signed here."""

    HEADERS: ClassVar[dict[str, str]] = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=kfp-check/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "Content-Type": "application/octet-stream",  # urllib's default (a form) would be parsed away
    }

    def __init__(self, endpoint: str):
        self.endpoint = endpoint.rstrip("/")

    def _request(self, method: str, path: str, data: bytes | None = None, query: str = "") -> bytes:
        url = f"{self.endpoint}/{urllib.parse.quote(path)}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, data=data, method=method, headers=self.HEADERS)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            raise CheckError(f"S3 {method} {path}: HTTP {err.code} {err.read()[:300]!r}") from None

    def create_bucket(self, bucket: str) -> None:
        self._request("PUT", bucket)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._request("PUT", f"{bucket}/{key}", data)

    def get(self, bucket: str, key: str) -> bytes:
        return self._request("GET", f"{bucket}/{key}")

    def keys(self, bucket: str, prefix: str = "") -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix`."""
        found, token = [], None
        while True:
            query = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
            tree = ElementTree.fromstring(self._request("GET", bucket, query=urllib.parse.urlencode(query)))
            for item in tree.iter(f"{S3_NAMESPACE}Contents"):
                found.append((item.findtext(f"{S3_NAMESPACE}Key"), int(item.findtext(f"{S3_NAMESPACE}Size") or 0)))
            token = tree.findtext(f"{S3_NAMESPACE}NextContinuationToken")
            if not token:
                return found


def split_uri(uri: str) -> tuple[str, str]:
    """minio://bucket/key -> (bucket, key)."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def start_s3_server(root: Path) -> tuple[subprocess.Popen, str]:
    """moto's S3 server on a free port of 127.0.0.1, in the project's runtime; returns (process, endpoint)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["python3", "-m", "tooling.runtime", "exec", "--", "python", "-m", "moto.server"]
    log_file = open(root / "s3-server.log", "w", encoding="utf-8")  # noqa: SIM115 (open while the server runs)
    server = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, f"http://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    raise CheckError(f"moto's S3 server did not start; see {root / 's3-server.log'}")


def stop(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def task_needs(tasks: dict[str, dict]) -> dict[str, set[str]]:
    """Each task's upstream tasks: those it names, and those whose outputs it reads."""
    needs = {}
    for name, task in tasks.items():
        inputs = task.get("inputs", {})
        producers = {
            source[kind]["producerTask"]
            for kind, sources in (
                ("taskOutputArtifact", inputs.get("artifacts", {})),
                ("taskOutputParameter", inputs.get("parameters", {})),
            )
            for source in sources.values()
            if kind in source
        }
        needs[name] = set(task.get("dependentTasks", [])) | producers
    return needs


def dependency_order(tasks: dict[str, dict]) -> list[str]:
    """Task names, each after every task it depends on (ties by name, so the order is stable)."""
    needs = task_needs(tasks)
    order: list[str] = []
    while needs:
        ready = sorted(name for name, waiting in needs.items() if not waiting - set(order))
        if not ready:
            raise CheckError(f"the DAG has a cycle among {sorted(needs)}")
        order += ready
        for name in ready:
            del needs[name]
    return order


def run_parameters(spec: dict, requested: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters as the API server accepts them: a parameter neither given, optional nor with a
    default refuses the run (backend/src/apiserver/template/v2_template.go:475-481); an optional one left
    out stays out (driver/resolve.go:194-199), for the launcher to default."""
    values = {}
    for name, definition in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        if name in requested:
            values[name] = requested[name]
        elif not definition.get("isOptional") and "defaultValue" not in definition:
            raise CheckError(
                f"the API server refuses the run: parameter {name} is not optional, yet has neither default "
                "value nor user provided value"
            )
    return values


def parameter_values(task: dict, component: dict, pipeline_parameters: dict[str, Any], run: Run) -> dict[str, Any]:
    """Constants, the run's parameters, and upstream tasks' output parameters looked up by the producer's
    task name (driver/resolve.go: "producer task, %v, not in tasks"); then the component's defaults for what
    is left out, as the launcher adds them (component/launcher_v2.go:1310, addDefaultParams)."""
    values = {}
    for name, source in task.get("inputs", {}).get("parameters", {}).items():
        if "runtimeValue" in source:
            values[name] = source["runtimeValue"]["constant"]
        elif "componentInputParameter" in source:
            if source["componentInputParameter"] in pipeline_parameters:
                values[name] = pipeline_parameters[source["componentInputParameter"]]
        elif "taskOutputParameter" in source:
            producer = source["taskOutputParameter"]
            key = (producer["producerTask"], producer["outputParameterKey"])
            if key not in run.parameters:
                raise CheckError(f"parameter {name}: producer task, {key[0]}, not in tasks (or no output {key[1]!r})")
            values[name] = run.parameters[key]
        else:
            raise CheckError(f"parameter {name}: source {sorted(source)} is not handled by this check")
    for name, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
        if name not in values and "defaultValue" in definition:
            values[name] = definition["defaultValue"]
    return values


def to_mlmd_value(value: Any, where: str) -> dict:
    """StructValueToMLMDValue (backend/src/v2/metadata/converter.go:138-171): bools as ints, lists and
    structs wrapped, and no null ("unknown/unsupported value type": the launcher fails the task)."""
    if isinstance(value, bool):
        return {"int": int(value)}
    if isinstance(value, str):
        return {"string": value}
    if isinstance(value, (int, float)):
        return {"double": float(value)}
    if isinstance(value, list):
        return {"struct": {"list": value}}
    if isinstance(value, dict):
        return {"struct": {"struct": value}}
    raise CheckError(f"{where}: metadata value {value!r}: the launcher cannot record it in ML Metadata")


def to_runtime_metadata(value: dict) -> Any:
    """toRuntimeArtifact (converter.go:181-226): ints and doubles as numbers, structs as they are."""
    kind, stored = next(iter(value.items()))
    return float(stored) if kind in ("int", "double") else stored


def executor_input(task_name: str, task: dict, component: dict, run: Run, pipeline_name: str, parameters: dict) -> dict:
    """What the v2 driver hands the task (backend/src/v2/driver/driver.go:733-799, provisionOutputs)."""
    inputs: dict[str, Any] = {
        "parameterValues": parameter_values(task, component, parameters, run),
        "artifacts": {},
    }
    for name, source in task.get("inputs", {}).get("artifacts", {}).items():
        producer = source["taskOutputArtifact"]
        stored = run.artifacts[(producer["producerTask"], producer["outputArtifactKey"])]
        inputs["artifacts"][name] = {
            "artifacts": [
                {
                    "name": artifact["id"],  # the ML Metadata id (converter.go:187)
                    "uri": artifact["uri"],
                    # ML Metadata stores no schema: the type comes back empty (metadata/client.go:1144, 253-258)
                    "type": {"instanceSchema": ""},
                    "metadata": {k: to_runtime_metadata(v) for k, v in artifact["custom_properties"].items()},
                }
                for artifact in stored
            ]
        }
    # <root>/<pipeline>/<run id> (metadata/client.go:420), then /<task>/<uuid salt> (driver.go:766)
    task_root = f"{PIPELINE_ROOT}/{pipeline_name}/{run.run_id}/{task_name}/{uuid.uuid4()}"
    declared = dict(component.get("outputDefinitions", {}).get("artifacts", {}))
    declared[EXECUTOR_LOGS] = {"artifactType": {"schemaTitle": "system.Artifact"}}  # publish logs on (default)
    outputs: dict[str, Any] = {"artifacts": {}, "parameters": {}}
    for name, spec in declared.items():
        artifact = {"name": name, "uri": f"{task_root}/{name}", "type": spec["artifactType"]}  # driver.go:769-779
        outputs["artifacts"][name] = {"artifacts": [artifact]}
    for name in component.get("outputDefinitions", {}).get("parameters", {}):
        outputs["parameters"][name] = {"outputFile": f"{OUTPUT_PARAMETERS_DIR}/{name}"}
    outputs["outputFile"] = f"{launcher_local_path(task_root)}/output_metadata.json"  # driver.go:794-796
    return {"inputs": inputs, "outputs": outputs}


def container_argv(container: dict, invocation: dict, image: str, root: Path, pod: Path) -> list[str]:
    arguments = [*container.get("command", []), *container.get("args", [])]
    text = json.dumps(invocation)
    resolved = [text if a == EXECUTOR_INPUT_PLACEHOLDER else a for a in arguments]
    left = [a for a in resolved if a != text and "{{$" in a]
    if left:
        raise CheckError(f"placeholders this check does not fill: {left}")
    mounts = [f"{root}:{root}", f"{pod / 'minio'}:/minio", f"{pod / 'outputs'}:{OUTPUT_PARAMETERS_DIR}"]
    volumes = [part for mount in mounts for part in ("--volume", mount)]
    return ["podman", "run", "--rm", "--network=none", *volumes, image, *resolved]


def in_pod(pod: Path, local_path: str) -> Path:
    """Where a path of the task's container is on this machine."""
    if local_path.startswith("/minio/"):
        return pod / local_path.lstrip("/")
    if local_path.startswith(OUTPUT_PARAMETERS_DIR + "/"):
        return pod / "outputs" / local_path[len(OUTPUT_PARAMETERS_DIR) + 1 :]
    raise CheckError(f"{local_path} is no path of the launcher's")


def download(store: S3Store, invocation: dict, pod: Path) -> None:
    """Every input artifact to its local path (launcher_v2.go:927-1004, objectstore.DownloadBlob): each
    object under the URI's key, nothing else (an empty folder is not an object: it does not come back)."""
    for listed in invocation["inputs"]["artifacts"].values():
        for artifact in listed["artifacts"]:
            local = launcher_local_path(artifact["uri"])
            if local is None:
                continue  # "not a recognized storage URI": not downloaded (launcher_v2.go:956-960)
            bucket, key = split_uri(artifact["uri"])
            for found, _ in store.keys(bucket, key):
                if found == key or found.startswith(key.rstrip("/") + "/"):
                    target = in_pod(pod, local) / os.path.relpath(found, key) if found != key else in_pod(pod, local)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(store.get(bucket, found))


def upload(store: S3Store, local: Path, uri: str) -> None:
    """objectstore.UploadBlob: a file, or each file under a folder; a missing path uploads nothing."""
    bucket, key = split_uri(uri)
    if local.is_file():
        store.put(bucket, key, local.read_bytes())
    elif local.is_dir():
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            store.put(bucket, f"{key}/{path.relative_to(local).as_posix()}", path.read_bytes())


def launch(store: S3Store, invocation: dict, argv: list[str], pod: Path, where: str) -> dict:
    """The launcher's part (launcher_v2.go:405-482): download, prepare folders, run, collect, upload;
    returns {output name: the artifacts as ML Metadata records them} and the output parameters."""
    download(store, invocation, pod)
    for listed in invocation["outputs"]["artifacts"].values():  # prepareOutputFolders (launcher_v2.go:1280)
        for artifact in listed["artifacts"]:
            in_pod(pod, launcher_local_path(artifact["uri"])).parent.mkdir(parents=True, exist_ok=True)
    (pod / "outputs").mkdir(parents=True, exist_ok=True)
    logs = in_pod(pod, launcher_local_path(invocation["outputs"]["artifacts"][EXECUTOR_LOGS]["artifacts"][0]["uri"]))
    with open(logs, "w", encoding="utf-8") as handle:  # getLogWriter: the task's output into executor-logs
        code = subprocess.run(argv, env=podman_env(), stdout=handle, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(logs.read_text(errors="replace").splitlines()[-25:])
        raise CheckError(f"{where}: exit {code}; the end of {logs}:\n{tail}")
    output_file = in_pod(pod, invocation["outputs"]["outputFile"])
    executor_output = json.loads(output_file.read_text()) if output_file.exists() else {}
    parameters = dict(executor_output.get("parameterValues", {}))
    for name, parameter in invocation["outputs"]["parameters"].items():  # collectOutputParameters (:484-515)
        if name not in parameters:
            path = in_pod(pod, parameter["outputFile"])
            if not path.is_file():
                raise CheckError(f"{where}: failed to read output parameter name={name!r} path={path}")
            parameters[name] = path.read_text()
    recorded = {}
    for name, listed in invocation["outputs"]["artifacts"].items():  # uploadOutputArtifacts (:778-856)
        artifacts = []
        for provisioned in listed["artifacts"]:
            artifact = dict(provisioned)
            written = executor_output.get("artifacts", {}).get(name, {}).get("artifacts", [])
            if name != EXECUTOR_LOGS and written:  # mergeRuntimeArtifacts (:1188-1206)
                artifact["uri"] = written[0].get("uri") or artifact["uri"]
                artifact["metadata"] = {**artifact.get("metadata", {}), **written[0].get("metadata", {})}
            local = launcher_local_path(artifact["uri"])
            if local is None:
                raise CheckError(
                    f"{where}: output {name} came back with URI {artifact['uri']!r}, which the launcher cannot upload "
                    "(not a recognized storage URI): the next task would not find it"
                )
            upload(store, in_pod(pod, local), artifact["uri"])
            properties = {
                k: to_mlmd_value(v, f"{where}, output {name}") for k, v in artifact.get("metadata", {}).items()
            }
            artifacts.append({"uri": artifact["uri"], "custom_properties": properties})
        recorded[name] = artifacts
    return {"artifacts": recorded, "parameters": parameters}


def execute(spec: dict, run: Run, image: str, root: Path, store: S3Store, next_id: int) -> int:
    """Every task of the run, each started once the tasks it needs are done, as Argo starts a DAG's tasks:
    tasks that need nothing of each other run at the same time (the first three here)."""
    executors = spec["deploymentSpec"]["executors"]
    tasks = spec["root"]["dag"]["tasks"]
    parameters = run_parameters(spec, run.parameters_requested)
    order, needs = dependency_order(tasks), task_needs(tasks)  # the first raises on a cycle
    done: set[str] = set()
    running: dict[concurrent.futures.Future, tuple[str, float]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        while len(done) < len(tasks):
            started = {name for name, _ in running.values()}
            for task_name in [n for n in order if n not in done and n not in started and needs[n] <= done]:
                task = tasks[task_name]
                component = spec["components"][task["componentRef"]["name"]]
                executor = executors[component["executorLabel"]]
                if "container" not in executor:
                    kind = next(iter(executor))
                    raise CheckError(
                        f"task {task_name}: a {kind!r} executor; this check runs container executors only, and "
                        "the open-source Kubeflow Pipelines v2 backend does not run resolvers ('resolver "
                        "executors not implemented', backend/src/v2/compiler/argocompiler/dag.go)"
                    )
                invocation = executor_input(task_name, task, component, run, spec["pipelineInfo"]["name"], parameters)
                pod = root / "pods" / run.name / task_name
                argv = container_argv(executor["container"], invocation, image, root, pod)
                future = pool.submit(launch, store, invocation, argv, pod, f"run {run.name}, task {task_name}")
                running[future] = (task_name, time.monotonic())
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: running[f][0]):
                task_name, started_at = running.pop(future)
                result = future.result()  # a failed task raises here; the others running finish first
                for name, artifacts in result["artifacts"].items():
                    for artifact in artifacts:
                        artifact["id"] = str(next_id)
                        next_id += 1
                    run.artifacts[(task_name, name)] = artifacts
                for name, value in result["parameters"].items():
                    run.parameters[(task_name, name)] = value
                done.add(task_name)
                log(f"run {run.name}: {task_name} done in {time.monotonic() - started_at:.0f} s")
    return next_id


def metadata_of(run: Run, task: str, output: str) -> dict:
    return {k: to_runtime_metadata(v) for k, v in run.artifacts[(task, output)][0]["custom_properties"].items()}


def read_object(store: S3Store, uri: str, relative: str = "") -> bytes | None:
    bucket, key = split_uri(uri)
    key = f"{key}/{relative}" if relative else key
    try:
        return store.get(bucket, key)
    except CheckError:
        return None


def gate_decisions(store: S3Store, run: Run, facts: dict) -> dict:
    blessing = run.artifacts[("HeadGate", "blessing")][0]["uri"]
    text = read_object(store, blessing, facts["decisions_file"])
    if text is None:
        raise CheckError(f"run {run.name}: no {facts['decisions_file']} under {blessing}")
    return json.loads(text)


def image_code_version(image: str) -> str | None:
    """The commit `make image` built the image from (its MHP_CODE_VERSION); None when not set."""
    shown = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .Config.Env}}", image],
        env=podman_env(),
        capture_output=True,
        text=True,
    )
    variables = dict(item.split("=", 1) for item in json.loads(shown.stdout or "[]") if "=" in item)
    return variables.get(CODE_VERSION_VARIABLE) or None


def check_runs(runs: dict[str, Run], facts: dict, store: S3Store, code_version: str | None) -> list[str]:
    """The expectations of the module docstring; returns the failures as sentences."""
    failures = []
    model = runs["first"].artifacts[("Trainer", "model")][0]["uri"]
    record = read_object(store, model, facts["training_record_file"])
    commit = json.loads(record)["code"]["commit"] if record else None
    if code_version is None or commit != code_version:
        failures.append(
            f"run first: the training record says the code is {commit!r}; the image was built from "
            f"{code_version!r} (its {CODE_VERSION_VARIABLE}; `make image` sets it)"
        )
    first, second = runs["first"], runs["next-window"]
    for run in runs.values():  # the window each run resolved when it started, from the folders present
        resolved = json.loads(run.parameters.get(("SpanWindow", "input_config"), '{"splits": []}'))
        got = {split["name"]: split["pattern"] for split in resolved["splits"]}
        if got != run.expected_splits:
            failures.append(f"run {run.name}: SpanWindow resolved {got}, expected {run.expected_splits}")
    pushed_first = metadata_of(first, "Pusher", "pushed_model")
    if pushed_first.get("pushed") != 1:
        failures.append("run first: the model was not pushed")
    baseline = metadata_of(second, "served_baseline", "model").get("served_version")
    if not baseline or baseline != pushed_first.get("pushed_destination"):
        failures.append(
            f"run next-window: the baseline {baseline!r} is not the version the first run pushed "
            f"({pushed_first.get('pushed_destination')!r})"
        )
    decided = gate_decisions(store, second, facts)
    rows = [row for head in decided["heads"] for row in head["rows"] if not row["too_small"]]
    if not rows or any(row["baseline"] is None for row in rows):
        failures.append("run next-window: the gate has no baseline value for every head and gated slice")
    failed = [head["head"] for head in decided["heads"] if not head["passed"]]
    if decided["blessed"] or facts["corrupted_head"] not in failed:
        failures.append(
            f"run next-window: expected blocked on {facts['corrupted_head']}; "
            f"blessed={decided['blessed']}, failed={failed}"
        )
    if metadata_of(second, "Pusher", "pushed_model").get("pushed") == 1:
        failures.append("run next-window: the Pusher pushed a blocked model")
    # The report's history comes from the gate's decision records (no ML Metadata): the second run's report
    # lists the first run's decision, then its own.
    summary = read_object(store, second.artifacts[("PerHeadReport", "report")][0]["uri"], facts["report_summary_file"])
    gates = [artifact_location(run.artifacts[("HeadGate", "blessing")][0]["uri"]) for run in (first, second)]
    for head in json.loads(summary)["heads"] if summary else [{"name": "?"}]:
        listed = [point["blessing"] for point in head.get("history") or []]
        if listed != gates:
            failures.append(f"run next-window: {head['name']}'s history lists {listed}, expected both runs' {gates}")
    for run, verdict in ((first, 1), (second, 0)):
        for output, start in (("report_html", b"<!DOCTYPE html>"), ("report_markdown", b"# ")):
            uri = run.artifacts[("PerHeadReport", output)][0]["uri"]
            text = read_object(store, uri)
            if text is None or not text.startswith(start):
                failures.append(f"run {run.name}: {output} is not an object starting {start!r} at {uri}")
        # The runs list's view: the verdict, every head's gate metric, and its change where there is a baseline.
        metrics = metadata_of(run, "HeadGate", "metrics")
        changes = [key + facts["gate_metric_suffix"] for key in facts["gate_metrics"]] if run is second else []
        missing = [key for key in ["blessed", *facts["gate_metrics"], *changes] if key not in metrics]
        if missing or metrics["blessed"] != verdict:
            failures.append(f"run {run.name}: the gate's system.Metrics {metrics} lack {missing} or verdict {verdict}")
    return failures


def directory_markers(store: S3Store) -> list[str]:
    """Zero-byte keys ending in "/": what breaks the launcher's next download (kubeflow/pipelines#13476)."""
    bucket, _ = split_uri(PIPELINE_ROOT)
    return [key for key, size in store.keys(bucket) if key.endswith("/") and size == 0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="emptied first")
    parser.add_argument("--image", default=DEFAULT_TAG, help="built by `make image`")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    server = None
    try:
        ensure_podman()
        if subprocess.run(["podman", "image", "exists", args.image], env=podman_env()).returncode != 0:
            raise CheckError(f"no image {args.image}; build it with `make image`")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        prepare = ["python3", "-m", "tooling.runtime", "exec", "--", "python", "-m", "container.kfp_prepare"]
        if subprocess.run([*prepare, "--root", str(root), "--image", args.image], cwd=REPO_ROOT).returncode != 0:
            raise CheckError("could not compile the pipeline or write the check's data (see above)")
        spec = json.loads((root / SPEC_FILE).read_text())["pipelineSpec"]
        facts = json.loads((root / FACTS_FILE).read_text())
        log(f"pipeline spec schema {spec['schemaVersion']}, {len(spec['root']['dag']['tasks'])} tasks")
        server, endpoint = start_s3_server(root)
        store = S3Store(endpoint)
        store.create_bucket(split_uri(PIPELINE_ROOT)[0])
        log(f"artifact store: moto's S3 server at {endpoint}; pipeline root {PIPELINE_ROOT}")
        corrupted = facts["corrupted_span"]
        runs = {
            "first": Run("first", (), splits([1], 2)),
            "next-window": Run("next-window", (f"span-{corrupted}", "span-4"), splits([corrupted], 4)),
        }
        next_id = 1
        started = time.monotonic()
        for run in runs.values():
            for folder in run.adds_spans:  # a new span arrives; the compiled spec stays as it is
                shutil.move(root / facts["staging"] / folder, root / facts["data"] / folder)
                log(f"run {run.name}: {folder} added to the data root")
            next_id = execute(spec, run, args.image, root, store, next_id)
            decided = gate_decisions(store, run, facts)
            failed = [h["head"] for h in decided["heads"] if not h["passed"]]
            pushed = metadata_of(run, "Pusher", "pushed_model").get("pushed") == 1
            log(f"run {run.name}: {'PUSHED' if pushed else 'NOT PUSHED'}; heads failed: {', '.join(failed) or 'none'}")
        failures = check_runs(runs, facts, store, image_code_version(args.image))
        failures += [f"a directory marker in the store: {key}" for key in directory_markers(store)]
    except (CheckError, ImageError) as err:
        log(f"FAILED: {err}")
        return 1
    finally:
        if server is not None:
            stop(server)
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        return 1
    log(f"passed: 2 runs of the compiled pipeline in {time.monotonic() - started:.0f} s; tasks' logs under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
