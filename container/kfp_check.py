"""`make kfp-check`: the compiled Kubeflow pipeline, executed task by task in the built image.

    python3 -m container.kfp_check [--root out/kfp-check] [--image localhost/multihead-tfx:local]

A test of our compiled output, not an orchestrator. For each run it walks the
compiled spec's DAG in dependency order and, for each task, builds the
ExecutorInput the open-source Kubeflow Pipelines v2 driver builds
(kubeflow/pipelines backend/src/v2/driver: `inputs.parameterValues` from
constants and pipeline parameters, input artifacts with their type, URI and
the metadata their producer wrote, output artifacts under
`<pipeline root>/<run>/<task>/<output>`, the `outputFile` beside them), then
runs the task's own command and arguments in the image with podman (no
network; the check's folder bound at the same path) and reads back the
ExecutorOutput the task wrote, as the launcher does. Any executor that is
not a container (a resolver, which the open-source backend does not run, or
an importer) stops the check and names the task.

Two runs of the flights fixture (a one-span training window) in one
pipeline root, compiled once, with no run parameter:
  1. first: the data root holds spans 1 and 2; the SpanWindow task must
     resolve train on span 1, evaluate on span 2: no baseline, pushed;
  2. next window: spans 3 and 4 arrive (3: span 2's rows with every
     `delay_band` label wrong, container/kfp_prepare.py; 4: the fixture's
     span 3); with the same compiled spec SpanWindow must resolve train on
     span 3, evaluate on span 4; the first model, now serving, must be the
     baseline of every gated head, and the run must be blocked, that head
     named, nothing pushed;
and in every run the report's HTML and Markdown, as files at the URIs of its
`system.HTML` and `system.Markdown` outputs (what the Kubeflow UI renders).

What it does not do (README, "Kubeflow"): no cluster, API server or Argo; no
object storage (a local folder stands in for the pipeline root); no caching;
tasks run one at a time; resource requests (the Trainer's GPU) are not
enforced; the ML Metadata a cluster keeps is stood in for by the artifact
records this harness passes along.

Stdlib only: it runs on the host, where podman is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from components.report.identity import artifact_location
from container.image import DEFAULT_TAG, ImageError, ensure_podman, podman_env

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO_ROOT / "out" / "kfp-check"
EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
SPEC_FILE = "pipeline.json"  # both written under --root by container/kfp_prepare.py
FACTS_FILE = "check.json"


class CheckError(Exception):
    """The compiled pipeline failed the check; the message names the task and the cause."""


@dataclasses.dataclass
class Run:
    name: str
    adds_spans: tuple[str, ...]  # span folders moved from the staging folder into the data root first
    expected_splits: dict[str, str]  # what SpanWindow must resolve: split name -> pattern
    artifacts: dict[tuple[str, str], list[dict]] = dataclasses.field(default_factory=dict)
    parameters: dict[tuple[str, str], Any] = dataclasses.field(default_factory=dict)


def log(message: str) -> None:
    print(f"[kfp-check] {message}", file=sys.stderr, flush=True)


def splits(train: list[int], evaluate: int) -> dict[str, str]:
    return {**{f"train_{i}": f"span-{span}/*" for i, span in enumerate(train, 1)}, "eval": f"span-{evaluate}/*"}


def dependency_order(tasks: dict[str, dict]) -> list[str]:
    """Task names, each after every task it depends on (ties by name, so the order is stable)."""
    needs = {}
    for name, task in tasks.items():
        producers = {
            source["taskOutputArtifact"]["producerTask"]
            for source in task.get("inputs", {}).get("artifacts", {}).values()
            if "taskOutputArtifact" in source
        }
        needs[name] = set(task.get("dependentTasks", [])) | producers
    order: list[str] = []
    while needs:
        ready = sorted(name for name, waiting in needs.items() if not waiting - set(order))
        if not ready:
            raise CheckError(f"the DAG has a cycle among {sorted(needs)}")
        order += ready
        for name in ready:
            del needs[name]
    return order


def parameter_values(task: dict, pipeline_parameters: dict[str, Any], run: Run) -> dict[str, Any]:
    """Constants, pipeline parameters, and upstream tasks' output parameters looked up by the producer's
    task name, as the v2 driver does (backend/src/v2/driver/resolve.go: "producer task, %v, not in tasks")."""
    values = {}
    for name, source in task.get("inputs", {}).get("parameters", {}).items():
        if "runtimeValue" in source:
            values[name] = source["runtimeValue"]["constant"]
        elif "componentInputParameter" in source:
            values[name] = pipeline_parameters[source["componentInputParameter"]]
        elif "taskOutputParameter" in source:
            producer = source["taskOutputParameter"]
            key = (producer["producerTask"], producer["outputParameterKey"])
            if key not in run.parameters:
                raise CheckError(f"parameter {name}: producer task, {key[0]}, not in tasks (or no output {key[1]!r})")
            values[name] = run.parameters[key]
        else:
            raise CheckError(f"parameter {name}: source {sorted(source)} is not handled by this check")
    return values


def executor_input(
    task_name: str, task: dict, component: dict, run: Run, pipeline_root: Path, parameters: dict
) -> dict:
    """What the v2 driver hands the task (backend/src/v2/driver/driver.go, provisionOutputs)."""
    inputs: dict[str, Any] = {"parameterValues": parameter_values(task, parameters, run), "artifacts": {}}
    for name, source in task.get("inputs", {}).get("artifacts", {}).items():
        producer = source["taskOutputArtifact"]
        produced = run.artifacts[(producer["producerTask"], producer["outputArtifactKey"])]
        inputs["artifacts"][name] = {"artifacts": produced}
    task_root = pipeline_root / run.name / task_name
    outputs: dict[str, Any] = {"artifacts": {}, "outputFile": str(task_root / "output_metadata.json")}
    for name, spec in component.get("outputDefinitions", {}).get("artifacts", {}).items():
        artifact = {"name": name, "uri": str(task_root / name), "type": spec["artifactType"], "metadata": {}}
        outputs["artifacts"][name] = {"artifacts": [artifact]}
    for name in component.get("outputDefinitions", {}).get("parameters", {}):
        outputs.setdefault("parameters", {})[name] = {"outputFile": str(task_root / "parameters" / name)}
    return {"inputs": inputs, "outputs": outputs}


def container_argv(container: dict, invocation: dict, image: str, root: Path) -> list[str]:
    arguments = [*container.get("command", []), *container.get("args", [])]
    text = json.dumps(invocation)
    resolved = [text if a == EXECUTOR_INPUT_PLACEHOLDER else a for a in arguments]
    left = [a for a in resolved if a != text and "{{$" in a]
    if left:
        raise CheckError(f"placeholders this check does not fill: {left}")
    return ["podman", "run", "--rm", "--network=none", "--volume", f"{root}:{root}", image, *resolved]


def published(invocation: dict, executor_output: dict, next_id: int) -> tuple[dict[str, list[dict]], int]:
    """Output artifacts as the launcher publishes them: provisioned URI and type, the executor's metadata,
    and an id (as ML Metadata would give) in the name."""
    result = {}
    for name, provisioned in invocation["outputs"]["artifacts"].items():
        written = executor_output.get("artifacts", {}).get(name, {}).get("artifacts", [])
        artifacts = []
        for i, artifact in enumerate(provisioned["artifacts"]):
            metadata = written[i].get("metadata", {}) if i < len(written) else {}
            artifacts.append({**artifact, "name": str(next_id), "metadata": metadata})
            next_id += 1
        result[name] = artifacts
    return result, next_id


def execute(spec: dict, run: Run, image: str, root: Path, next_id: int) -> int:
    pipeline = spec["pipelineSpec"]
    executors = pipeline["deploymentSpec"]["executors"]
    tasks = pipeline["root"]["dag"]["tasks"]
    pipeline_root = Path(spec["runtimeConfig"]["gcsOutputDirectory"])
    parameters = spec["runtimeConfig"].get("parameterValues", {})  # as compiled: `window` empty, the newest spans
    for task_name in dependency_order(tasks):
        task = tasks[task_name]
        component = pipeline["components"][task["componentRef"]["name"]]
        executor = executors[component["executorLabel"]]
        if "container" not in executor:
            kind = next(iter(executor))
            raise CheckError(
                f"task {task_name}: a {kind!r} executor; this check runs container executors only, and the "
                "open-source Kubeflow Pipelines v2 backend does not run resolvers ('resolver executors not "
                "implemented', backend/src/v2/compiler/argocompiler/dag.go)"
            )
        invocation = executor_input(task_name, task, component, run, pipeline_root, parameters)
        task_root = pipeline_root / run.name / task_name
        task_root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        argv = container_argv(executor["container"], invocation, image, root)
        with open(task_root / "task.log", "w", encoding="utf-8") as handle:
            code = subprocess.run(argv, env=podman_env(), stdout=handle, stderr=subprocess.STDOUT).returncode
        if code != 0:
            tail = "\n".join((task_root / "task.log").read_text(errors="replace").splitlines()[-25:])
            raise CheckError(f"run {run.name}, task {task_name}: exit {code}; the end of {task_root}/task.log:\n{tail}")
        output_file = Path(invocation["outputs"]["outputFile"])
        executor_output = json.loads(output_file.read_text()) if output_file.exists() else {}
        outputs, next_id = published(invocation, executor_output, next_id)
        for name, artifacts in outputs.items():
            run.artifacts[(task_name, name)] = artifacts
        for name, value in executor_output.get("parameterValues", {}).items():
            run.parameters[(task_name, name)] = value
        log(f"run {run.name}: {task_name} done in {time.monotonic() - started:.0f} s")
    return next_id


def metadata_of(run: Run, task: str, output: str) -> dict:
    return run.artifacts[(task, output)][0]["metadata"]


def gate_decisions(run: Run, facts: dict) -> dict:
    from_gate = run.artifacts[("HeadGate", "blessing")][0]
    return json.loads((Path(from_gate["uri"]) / facts["decisions_file"]).read_text())


def check_runs(runs: dict[str, Run], facts: dict) -> list[str]:
    """The expectations of the module docstring; returns the failures as sentences."""
    failures = []
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
    rows = [row for head in gate_decisions(second, facts)["heads"] for row in head["rows"] if not row["too_small"]]
    if not rows or any(row["baseline"] is None for row in rows):
        failures.append("run next-window: the gate has no baseline value for every head and gated slice")
    decided = gate_decisions(second, facts)
    failed = [head["head"] for head in decided["heads"] if not head["passed"]]
    if decided["blessed"] or facts["corrupted_head"] not in failed:
        failures.append(
            f"run next-window: expected blocked on {facts['corrupted_head']}; "
            f"blessed={decided['blessed']}, failed={failed}"
        )
    if metadata_of(second, "Pusher", "pushed_model").get("pushed") == 1:
        failures.append("run next-window: the Pusher pushed a blocked model")
    # The report's history comes from the gate's decision records under the pipeline root (no ML Metadata):
    # the second run's report lists the first run's decision, then its own.
    summary_path = Path(second.artifacts[("PerHeadReport", "report")][0]["uri"]) / facts["report_summary_file"]
    gates = [artifact_location(run.artifacts[("HeadGate", "blessing")][0]["uri"]) for run in (first, second)]
    for head in json.loads(summary_path.read_text())["heads"] if summary_path.is_file() else [{"name": "?"}]:
        listed = [point["blessing"] for point in head.get("history") or []]
        if listed != gates:
            failures.append(f"run next-window: {head['name']}'s history lists {listed}, expected both runs' {gates}")
    for run in runs.values():  # a file at the artifact's URI is what the KFP UI renders
        for output, start in (("report_html", "<!DOCTYPE html>"), ("report_markdown", "# ")):
            path = Path(run.artifacts[("PerHeadReport", output)][0]["uri"])
            if not path.is_file() or not path.read_text(errors="replace").startswith(start):
                failures.append(f"run {run.name}: {output} is not a file starting {start!r} at {path}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="emptied first")
    parser.add_argument("--image", default=DEFAULT_TAG, help="built by `make image`")
    args = parser.parse_args(argv)
    root = args.root.resolve()
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
        spec = json.loads((root / SPEC_FILE).read_text())
        facts = json.loads((root / FACTS_FILE).read_text())
        tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
        log(f"pipeline spec schema {spec['pipelineSpec']['schemaVersion']}, {len(tasks)} tasks")
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
            next_id = execute(spec, run, args.image, root, next_id)
            decided = gate_decisions(run, facts)
            failed = [h["head"] for h in decided["heads"] if not h["passed"]]
            pushed = metadata_of(run, "Pusher", "pushed_model").get("pushed") == 1
            log(f"run {run.name}: {'PUSHED' if pushed else 'NOT PUSHED'}; heads failed: {', '.join(failed) or 'none'}")
        failures = check_runs(runs, facts)
    except (CheckError, ImageError) as err:
        log(f"FAILED: {err}")
        return 1
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        return 1
    log(f"passed: 2 runs of the compiled pipeline in {time.monotonic() - started:.0f} s; tasks' logs under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
