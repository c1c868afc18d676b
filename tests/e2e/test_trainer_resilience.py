"""The Trainer's run_fn as a cluster runs it: killed and restarted (preemption), and on two workers.

Each test trains the fixture through `run_fn` in processes of its own, on the
inputs the first fixture run's Trainer had (tests/e2e/trainer_process.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import REPO_ROOT
from tests.e2e.trainer_process import trainer_inputs, with_trainer_settings
from tests.helpers import span_records
from trainer.run import BACKUP_DIR

pytestmark = pytest.mark.e2e


def trainer_command(recorded: dict, tmp_path: Path, work: Path) -> list[str]:
    recorded_file = tmp_path / "recorded.json"
    recorded_file.write_text(json.dumps(recorded))
    return [sys.executable, "-m", "tests.e2e.trainer_process", str(recorded_file), str(work)]


def wait_for(condition, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the trainer ended before the condition held"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def serves(model_dir: Path, flights_fixture_dir: Path) -> dict[str, np.ndarray]:
    """Raw span-3 examples through the serving signature: every head's output, all finite."""
    records = span_records(flights_fixture_dir / "span-3", limit=16)
    outputs = tf.saved_model.load(str(model_dir)).signatures["serving_default"](examples=tf.constant(records))
    for name, value in outputs.items():
        assert value.shape[0] == 16 and np.isfinite(value.numpy()).all(), name
    return {name: value.numpy() for name, value in outputs.items()}


def test_a_killed_trainer_resumes_from_its_last_backup_and_exports_one_model(runs, tmp_path, flights_fixture_dir):
    config, _, _, _ = runs["first"]
    steps, every = 800, 50
    recorded = with_trainer_settings(trainer_inputs(config.metadata_path), train_steps=steps, checkpoint_steps=every)
    work = tmp_path / "task"  # the same folder when the restarted task runs again, as on Kubeflow
    command = trainer_command(recorded, tmp_path, work)
    backup = work / "logs" / BACKUP_DIR
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: any(p.name == "checkpoint" for p in backup.rglob("checkpoint")), process, timeout=300)
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = (tmp_path / "killed.log").read_text()
    assert f"training starts at step 0 of {steps} (from the start)" in killed
    assert not (work / "serving" / "saved_model.pb").exists(), "killed after the export: nothing was tested"

    restarted = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    resumed = re.search(rf"training starts at step (\d+) of {steps} \(resumed from the last backup\)", restarted.stdout)
    assert resumed, restarted.stdout[-3000:]
    assert 0 < int(resumed.group(1)) < steps
    assert not [p for p in backup.rglob("*") if p.is_file()]  # the backup is removed once training ended
    assert (work / "serving" / "saved_model.pb").is_file()
    serves(work / "serving", flights_fixture_dir)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_model_that_only_the_chief_exports(runs, tmp_path, flights_fixture_dir):
    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    work = tmp_path / "task"  # both workers get the same fn_args, as from TFX's Trainer
    command = trainer_command(recorded, tmp_path, work)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        log = open(tmp_path / f"worker-{index}.log", "w")  # noqa: SIM115 (closed below)
        processes.append((subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    for process, log in processes:
        try:
            process.wait(timeout=600)
        finally:
            process.kill()
            log.close()
    logs = [(tmp_path / f"worker-{index}.log").read_text() for index in range(2)]
    for index, (process, _) in enumerate(processes):
        assert process.returncode == 0, logs[index][-3000:]
    for log in logs:
        assert "strategy multi_worker_mirrored" in log and "over 2 worker(s)" in log
        assert "input sharded by batch across 2 workers" in log
    constants = [
        re.search(r"regression labels \(mean, std\) from the transform graph: (.*)", log).group(1) for log in logs
    ]
    assert constants[0] == constants[1]  # every worker builds the same constants into its graph
    assert "exported to" in logs[0] and "worker export discarded" in logs[1]
    # One model in the serving directory, laid out as the pipeline's own single-worker export.
    assert listing(work / "serving") == listing(Path(artifacts.model) / "Format-Serving")
    serves(work / "serving", flights_fixture_dir)
