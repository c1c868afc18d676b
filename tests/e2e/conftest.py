"""The fixture pipeline's sequence of runs, shared by the end-to-end and report tests.

One pipeline root, as a scheduler would use it:
  1. first run (no baseline): a one-span rolling window over a data root
     holding spans 1 and 2 resolves to train on 1, evaluate on 2;
  2. a new evaluation span where ONE head's labels are corrupted (fixed
     spans 1, 2 -> 3 on another data root);
  3. span 3 arrives in the first data root: the same config and command
     resolve to train on 2, evaluate on 3; first started as `make run` would
     start it (the command line, in a process of its own) and killed with
     SIGKILL once its Evaluator is running, then run to the end;
  4. the same again with no new data (served from the cache to the end).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.run_local import resolve_spans, run_pipeline
from pipeline.config import REPO_ROOT, load_config
from results import outcome
from results.metadata import open_store, running_executions
from tests.e2e.fixture_runs import (
    CONFIG,
    FAKE_TOKEN,
    FAKE_TOKEN_VARIABLE,
    VERY_LATE,
    corrupt_labels,
    rolling_config_file,
    snapshot,
)


def running(config, component: str) -> bool:
    """True once ML Metadata shows an execution of `component` RUNNING (False while the store is busy)."""
    if not Path(config.metadata_path).exists():
        return False
    try:
        types = {t.id: t.name.rsplit(".", 1)[-1] for t in open_store(config.metadata_path).get_execution_types()}
        return any(types[e.type_id] == component for e in running_executions(config.metadata_path, config.name))
    except Exception:  # the writer holds the database mid-transaction: ask again
        return False


def kill_when_running(config_file: Path, config, component: str, log: Path) -> set[int]:
    """Starts the run with the command line, SIGKILLs it once `component` runs; returns the ids left RUNNING."""
    command = [sys.executable, "-m", "orchestration.run_local", "--config", str(config_file)]
    with open(log, "w") as handle:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 600
        while process.poll() is None and time.monotonic() < deadline and not running(config, component):
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)  # the run and any worker it started, as a lost machine would
        process.wait()
    return {e.id for e in running_executions(config.metadata_path, config.name)}


@pytest.fixture(scope="session")
def runs(tmp_path_factory, flights_fixture_dir):
    """The four runs; each entry: (config, artifacts, outcomes, serving snapshot); and under "killed",
    the ids of the executions the killed attempt at the clean run left RUNNING."""
    os.environ[FAKE_TOKEN_VARIABLE] = FAKE_TOKEN  # the killed attempt, a child process, inherits it too
    work = tmp_path_factory.mktemp("flights_e2e")
    corrupted_root = work / "data_corrupted"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", corrupted_root / f"span-{span}")
    corrupt_labels(flights_fixture_dir / "span-3", corrupted_root / "span-3", "delay_band", VERY_LATE)

    data = work / "data"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", data / f"span-{span}")
    base = load_config(CONFIG).with_output_root(work / "out")
    # The rolling-window runs come from a config file, as a user would write it.
    rolling_file = rolling_config_file(work, data, Path(base.output_root))
    rolling = load_config(rolling_file)
    plan = {
        "first": rolling,
        "corrupted": base.with_data(root=corrupted_root, train_spans=(1, 2), eval_span=3),
        "clean": rolling,
        "rerun": rolling,
    }
    results = {}
    for name, unresolved in plan.items():
        if name == "clean":  # a new span arrives; nothing else changes
            shutil.copytree(flights_fixture_dir / "span-3", data / "span-3")
        config = resolve_spans(unresolved)
        if name == "clean":
            results["killed"] = kill_when_running(rolling_file, config, "Evaluator", work / "killed.log")
        artifacts, _ = run_pipeline(config)
        outcomes = outcome.head_outcomes(config, artifacts)
        results[name] = (config, artifacts, outcomes, snapshot(Path(config.serving_dir)))
    results["killed log"] = work / "killed.log"
    yield results
    del os.environ[FAKE_TOKEN_VARIABLE]
