"""One run per output root (orchestration/run_lock.py), with real processes and the kernel's lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.run_lock import LOCK_FILE, RunLockedError, exclusive_run
from pipeline.config import REPO_ROOT

HOLD = """
import sys, time
from orchestration.run_lock import exclusive_run
with exclusive_run(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def hold_in_another_process(root: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_refuses_naming_the_first_and_a_killed_run_leaves_no_lock(tmp_path):
    first = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(RunLockedError) as refused, exclusive_run(tmp_path):
            pass
        message = str(refused.value)
        assert f"another run is using {tmp_path} (process {first.pid} on " in message
        assert "-c" in message and "--output-root" in message  # its command, and what to do
    finally:
        os.kill(first.pid, signal.SIGKILL)  # as a lost machine or `kill -9` would end it
        first.wait()
    with exclusive_run(tmp_path):  # no stale lock (it never waits: it would have raised)
        assert f'"pid": {os.getpid()}' in (tmp_path / LOCK_FILE).read_text()


def test_the_lock_is_released_when_the_run_ends_or_fails(tmp_path):
    with pytest.raises(ValueError), exclusive_run(tmp_path):
        raise ValueError("the run failed")
    with exclusive_run(tmp_path):
        pass
