"""Two main jobs started at once on one pipeline root: the second refuses, naming the first.

Both are the command line in processes of their own, on the fixture spans; the
first is then killed with SIGKILL, and the root is free again at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from orchestration.run_lock import LOCK_FILE, exclusive_run
from pipeline.config import REPO_ROOT
from tests.e2e.test_bad_span_files import config_file, main_job

pytestmark = pytest.mark.e2e


def test_a_second_run_on_the_same_root_refuses_and_names_the_first(tmp_path, flights_fixture_dir):
    data = tmp_path / "data"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", data / f"span-{span}")
    config = config_file(tmp_path, data)
    command = [sys.executable, "-m", "orchestration.run_local", "--config", str(config)]
    first = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    lock = tmp_path / "out" / LOCK_FILE
    try:
        deadline = time.monotonic() + 300
        while f'"pid": {first.pid}' not in (lock.read_text() if lock.exists() else ""):
            assert first.poll() is None and time.monotonic() < deadline, "the first run never took the root"
            time.sleep(0.2)
        second = main_job(config)
        terminal = second.stdout + second.stderr
        assert second.returncode == 1, terminal
        assert f"RunLockedError: another run is using {tmp_path / 'out'} (process {first.pid} on " in terminal
        assert "orchestration/run_local.py --config" in terminal and "Traceback" not in terminal
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    with exclusive_run(tmp_path / "out"):  # the killed run left no lock behind
        pass
