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
import logging
import math
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from console.run_log import terminal_and_log
from pipeline.config import REPO_ROOT, PipelineConfig, load_config

FIXTURE_CONFIG = REPO_ROOT / "tests" / "e2e" / "flights_fixture.yaml"
FIXTURE_DATA = REPO_ROOT / "tests" / "fixtures" / "flights"
DEFAULT_ROOT = REPO_ROOT / "out" / "portable-check"
IMAGE = "localhost/multihead-tfx:local"
# Metrics computed by other Beam bundles may differ in the last bits of a float sum.
RELATIVE_TOLERANCE = 1e-6
ABSOLUTE_TOLERANCE = 1e-9  # for values at zero


class CheckError(RuntimeError):
    """The check could not run, or the two runs disagree."""


LOG = logging.getLogger("orchestration.portable_check")  # not __main__: the project loggers reach the terminal


def log(message: str) -> None:
    """To the terminal (the project's loggers reach it) and to the check's log file."""
    LOG.info("[portable-check] %s", message)


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


def run_once(config: PipelineConfig, name: str, progress: TextIO) -> dict:
    """Runs the pipeline; returns the gate's decisions (verdict, each head's gate metric per slice)."""
    from components.gate.component import read_decisions
    from orchestration.run_local import run_pipeline

    log(f"{name}: Beam arguments {' '.join(config.beam_args)}")
    artifacts, seconds = run_pipeline(config, progress=progress)
    log(f"{name}: pipeline done in {seconds:.0f} s")
    return read_decisions(artifacts.blessing)


def evaluation_metrics(decisions: dict) -> dict[tuple, float]:
    """Every scalar metric TFMA wrote for the run (each slice, head, metric, model, and difference), and
    its standard error, keyed for comparison."""
    from components.gate.metrics import load_estimates

    values = {}
    for where, metrics in load_estimates(decisions["evaluation"]).items():
        for (output, metric, model, is_diff), estimate in metrics.items():
            key = (where, output, metric, "diff" if is_diff else model)
            values[(*key, "value")] = estimate.value
            if estimate.standard_error is not None:
                values[(*key, "standard error")] = estimate.standard_error
    return values


def compare(direct: dict, portable: dict, metrics: tuple[dict, dict]) -> list[str]:
    """The differences between the two runs (decisions, then `evaluation_metrics` of each), as sentences;
    none when they agree."""
    problems = []
    if direct["blessed"] != portable["blessed"]:
        problems.append(f"verdict: DirectRunner blessed={direct['blessed']}, portable blessed={portable['blessed']}")
    verdicts = {h["head"]: h["passed"] for h in direct["heads"]}, {h["head"]: h["passed"] for h in portable["heads"]}
    if verdicts[0] != verdicts[1]:
        problems.append(f"heads passed: DirectRunner {verdicts[0]}, portable {verdicts[1]}")
    if set(metrics[0]) != set(metrics[1]):
        only = sorted(set(metrics[0]) ^ set(metrics[1]))[:5]
        problems.append(f"the evaluations hold other metrics or slices, e.g. {only}")
    for key in sorted(set(metrics[0]) & set(metrics[1])):
        a, b = metrics[0][key], metrics[1][key]
        if math.isnan(a) and math.isnan(b):  # undefined on both (an AUC of a slice with one class)
            continue
        if not math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE):
            problems.append(f"{' / '.join(map(str, key))}: DirectRunner {a!r}, portable {b!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="emptied first")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    log_path = root / "portable-check.log"
    print(f"Log of this check (library, TensorFlow and Beam output): {log_path}", flush=True)
    with terminal_and_log(log_path) as terminal:
        return check(root, terminal.out)


def check(root: Path, progress: TextIO) -> int:
    started = time.monotonic()
    try:
        direct_config = fixture_config(root / "direct", load_config(FIXTURE_CONFIG).beam_args)
        direct = run_once(direct_config, "DirectRunner", progress)
        with beam_services(root / "services") as (job_port, pool_port):
            portable_config = fixture_config(root / "portable", portable_beam_args(job_port, pool_port))
            portable = run_once(portable_config, "portable", progress)
        metrics = evaluation_metrics(direct), evaluation_metrics(portable)
        problems = compare(direct, portable, metrics)
    except CheckError as err:
        log(f"FAILED: {err}")
        return 1
    if problems:
        log("FAILED: the runs disagree:\n  " + "\n  ".join(problems))
        return 1
    exact = sum(metrics[0][key] == value or math.isnan(value) for key, value in metrics[1].items())
    verdict = "blessed" if direct["blessed"] else "blocked"
    log(
        f"passed: the same verdict ({verdict}, every head alike) and the same {len(metrics[0])} evaluation values "
        f"(metrics and standard errors of every head and slice; {exact} equal to the last bit) on the DirectRunner "
        f"and through the Job API, in {time.monotonic() - started:.0f} s; logs under {root}"
    )
    (root / "result.json").write_text(json.dumps({"direct": direct, "portable": portable}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
