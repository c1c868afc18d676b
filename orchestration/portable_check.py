"""`make portable-check`: the fixture pipeline's Beam stages through Beam's portable Job API.

    python -m orchestration.portable_check [--root out/portable-check]

Runs the fixture pipeline (train on spans 1-2, evaluate on 3) twice from
nothing: once on the DirectRunner, as `make run` does, and once with every
Beam stage (ImportExampleGen, StatisticsGen, Transform, Evaluator) submitted
to a Beam job service, whose workers come from an EXTERNAL worker pool: the
two services a Flink or Spark deployment on Kubernetes runs (the job server,
and the Python worker pool beside each task manager), here as Beam's own
Python processes on 127.0.0.1 (no Java). Passes when both runs reach the
same verdict with the same metrics for every head and slice.

`--sdk_container_image` names the pipeline's image, as the Kubeflow config
does: TFX then stages no `tfx_ephemeral` source package for each Beam job (the
EXTERNAL workers already have this environment; they ignore the image).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.config import REPO_ROOT, PipelineConfig, load_config

FIXTURE_CONFIG = REPO_ROOT / "tests" / "e2e" / "flights_fixture.yaml"
FIXTURE_DATA = REPO_ROOT / "tests" / "fixtures" / "flights"
DEFAULT_ROOT = REPO_ROOT / "out" / "portable-check"
IMAGE = "localhost/multihead-tfx:local"
# Metrics computed by other Beam bundles may differ in the last bits of a float sum.
RELATIVE_TOLERANCE = 1e-6


class CheckError(RuntimeError):
    """The check could not run, or the two runs disagree."""


def log(message: str) -> None:
    print(f"[portable-check] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, name: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckError(f"the {name} exited with code {process.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise CheckError(f"the {name} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


@contextlib.contextmanager
def beam_services(logs: Path) -> Iterator[tuple[int, int]]:
    """A Beam job service and an EXTERNAL worker pool on 127.0.0.1; yields (job port, worker pool port)."""
    job_port, pool_port = free_port(), free_port()
    commands = {
        "job service": [
            sys.executable,
            "-m",
            "apache_beam.runners.portability.local_job_service_main",
            f"--port={job_port}",
        ],
        "worker pool": [
            sys.executable,
            "-m",
            "apache_beam.runners.worker.worker_pool_main",
            f"--service_port={pool_port}",
        ],
    }
    processes = []
    logs.mkdir(parents=True, exist_ok=True)
    try:
        for (name, command), port in zip(commands.items(), (job_port, pool_port), strict=True):
            handle = open(logs / f"{name.replace(' ', '_')}.log", "w")  # noqa: SIM115 (closed below)
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
            processes.append((process, handle))
            wait_for_port(port, process, name)
            log(f"{name} on 127.0.0.1:{port} (pid {process.pid}); log {handle.name}")
        yield job_port, pool_port
    finally:
        for process, handle in processes:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            handle.close()


def portable_beam_args(job_port: int, pool_port: int) -> tuple[str, ...]:
    return (
        "--runner=PortableRunner",
        f"--job_endpoint=localhost:{job_port}",
        "--environment_type=EXTERNAL",
        f"--environment_config=localhost:{pool_port}",
        f"--sdk_container_image={IMAGE}",
    )


def fixture_config(root: Path, beam_args: tuple[str, ...]) -> PipelineConfig:
    config = load_config(FIXTURE_CONFIG).with_output_root(root)
    config = config.with_data(root=FIXTURE_DATA, train_spans=(1, 2), eval_span=3)
    return dataclasses.replace(config, beam_args=beam_args)


def run_once(config: PipelineConfig, name: str) -> dict:
    """Runs the pipeline; returns the gate's decisions (verdict and every head's metrics per slice)."""
    from components.gate.component import read_decisions
    from orchestration.run_local import run_pipeline

    log(f"{name}: Beam arguments {' '.join(config.beam_args)}")
    artifacts, seconds = run_pipeline(config)
    log(f"{name}: pipeline done in {seconds:.0f} s")
    return read_decisions(artifacts.blessing)


def metric_rows(decisions: dict) -> dict[tuple[str, str], float | None]:
    return {(head["head"], row["slice"]): row["candidate"] for head in decisions["heads"] for row in head["rows"]}


def compare(direct: dict, portable: dict) -> list[str]:
    """The differences between the two runs' decisions, as sentences (none: the same)."""
    problems = []
    if direct["blessed"] != portable["blessed"]:
        problems.append(f"verdict: DirectRunner blessed={direct['blessed']}, portable blessed={portable['blessed']}")
    verdicts = {h["head"]: h["passed"] for h in direct["heads"]}, {h["head"]: h["passed"] for h in portable["heads"]}
    if verdicts[0] != verdicts[1]:
        problems.append(f"heads passed: DirectRunner {verdicts[0]}, portable {verdicts[1]}")
    rows = metric_rows(direct), metric_rows(portable)
    if set(rows[0]) != set(rows[1]):
        problems.append(
            f"slices differ: only direct {set(rows[0]) - set(rows[1])}, only portable {set(rows[1]) - set(rows[0])}"
        )
    for key in sorted(set(rows[0]) & set(rows[1])):
        a, b = rows[0][key], rows[1][key]
        if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE)):
            problems.append(f"{key[0]} on {key[1]}: DirectRunner {a}, portable {b}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="emptied first")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    started = time.monotonic()
    try:
        direct_config = fixture_config(root / "direct", load_config(FIXTURE_CONFIG).beam_args)
        direct = run_once(direct_config, "DirectRunner")
        with beam_services(root / "services") as (job_port, pool_port):
            portable = run_once(fixture_config(root / "portable", portable_beam_args(job_port, pool_port)), "portable")
        problems = compare(direct, portable)
    except CheckError as err:
        log(f"FAILED: {err}")
        return 1
    if problems:
        log("FAILED: the runs disagree:\n  " + "\n  ".join(problems))
        return 1
    compared = len(metric_rows(direct))
    verdict = "blessed" if direct["blessed"] else "blocked"
    log(
        f"passed: the same verdict ({verdict}) and the same {compared} head-slice metrics on the DirectRunner and "
        f"through the Job API, in {time.monotonic() - started:.0f} s; logs under {root}"
    )
    (root / "result.json").write_text(json.dumps({"direct": direct, "portable": portable}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
