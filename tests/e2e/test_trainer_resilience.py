"""The Trainer as a cluster runs it: killed and restarted (preemption), and launched on two workers.

Each test trains the fixture in processes of its own, on the inputs the first
fixture run's Trainer had (tests/e2e/trainer_process.py).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import REPO_ROOT
from tests.e2e.trainer_process import input_artifacts, trainer_inputs, with_trainer_settings
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
    """A two-member ensemble killed once its second member has backed up: the restarted task trains the first
    member again (its backup went when it finished; its seed gives it the same weights) and resumes the second
    from its last backup, then exports the two averaged as one model."""
    config, _, _, _ = runs["first"]
    steps, every = 400, 50
    recorded = with_trainer_settings(
        trainer_inputs(config.metadata_path), train_steps=steps, checkpoint_steps=every, ensemble_members=2
    )
    work = tmp_path / "task"  # the same folder when the restarted task runs again, as on Kubeflow
    command = trainer_command(recorded, tmp_path, work)
    backup = work / "logs" / BACKUP_DIR
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        second = backup / "member-1"
        wait_for(lambda: any(p.name == "checkpoint" for p in second.rglob("checkpoint")), process, timeout=300)
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = (tmp_path / "killed.log").read_text()
    assert "ensemble member 2 of 2" in killed
    assert killed.count(f"training starts at step 0 of {steps} (from the start)") == 2
    assert not (work / "serving" / "saved_model.pb").exists(), "killed after the export: nothing was tested"

    restarted = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    starts = re.findall(rf"training starts at step (\d+) of {steps} \((.*?)\)", restarted.stdout)
    assert len(starts) == 2, restarted.stdout[-3000:]
    assert starts[0] == ("0", "from the start")  # the finished member again
    assert starts[1][1] == "resumed from the last backup" and 0 < int(starts[1][0]) < steps
    assert not [p for p in backup.rglob("*") if p.is_file()]  # the backups are removed once training ended
    assert (work / "serving" / "saved_model.pb").is_file()
    serves(work / "serving", flights_fixture_dir)


def launcher_artifacts(recorded: dict, work: Path) -> tuple[dict, dict]:
    """The Trainer task's input and output artifacts: the recorded inputs, outputs under `work`."""
    from tfx.types import standard_artifacts

    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = str(work / "model"), str(work / "model_run")
    return input_artifacts(recorded), {"model": [model], "model_run": [model_run]}


def test_the_launcher_trains_on_two_workers_and_only_the_chief_exports(runs, tmp_path, flights_fixture_dir, caplog):
    """The Trainer's executor as a multi-worker Trainer task runs it: it writes the worker command (the one
    a TFJob's pods run), starts two workers with TF_CONFIG on 127.0.0.1, and checks the chief's export."""
    from components.trainer_launch.executor import Executor
    from components.trainer_launch.settings import LaunchSettings
    from trainer.specs import LAUNCH_KEY

    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    properties = dict(recorded["properties"])
    custom = json.loads(properties["custom_config"])
    custom[LAUNCH_KEY] = LaunchSettings(workers=2, backend="local", timeout_s=600).to_dict()
    properties["custom_config"] = json.dumps(custom)
    inputs, outputs = launcher_artifacts(recorded, tmp_path / "task")
    with caplog.at_level("INFO"):
        Executor().Do(inputs, outputs, properties)
    logs = [
        "\n".join(r.getMessage() for r in caplog.records if r.getMessage().startswith(f"[worker {index}] "))
        for index in range(2)
    ]
    for log in logs:
        assert "strategy multi_worker_mirrored" in log and "over 2 worker(s)" in log
        assert "input sharded by batch across 2 workers" in log
    constants = [
        re.search(r"regression labels \(mean, std\) from the transform graph: (.*)", log).group(1) for log in logs
    ]
    assert constants[0] == constants[1]  # every worker builds the same constants into its graph
    assert "exported to" in logs[0] and "worker export discarded" in logs[1]
    assert "worker done; the chief exports the model" in logs[1]  # the non-chief skips TFX's serving-dir check
    assert "2 workers trained the model; the chief exported it" in caplog.text
    # One model in the serving directory, laid out as the pipeline's own single-worker export.
    serving = tmp_path / "task" / "model" / "Format-Serving"
    assert listing(serving) == listing(Path(artifacts.model) / "Format-Serving")
    serves(serving, flights_fixture_dir)


def test_a_failing_worker_fails_the_launcher_with_its_exit_code_and_last_lines(tmp_path):
    from components.trainer_launch.local import WorkerError, run_workers

    # Worker 0 waits (as for a collective that never comes); worker 1 fails: the launcher must not wait.
    crash = (
        "import json, os, sys, time; i = json.loads(os.environ['TF_CONFIG'])['task']['index']; "
        "print('step', i, flush=True); time.sleep(300 if i == 0 else 0); sys.exit(3)"
    )
    # A launcher that waited for worker 0 would end in its 60 s timeout, with another message.
    with pytest.raises(WorkerError, match=r"worker 1 of 2 exited with code 3; its last lines:\nstep 1"):
        run_workers([sys.executable, "-c", crash], workers=2, timeout_s=60)
