"""Multi-worker training as processes on this machine, each with the TF_CONFIG a TFJob would give it.

The same worker command as the TFJob's pods: the tests run it to check the
launcher end to end without a cluster, and one machine with several GPUs can
use it too. Each worker's output is forwarded to the launcher's log with the
worker's index in front; when a worker fails the others are stopped and the
error names the worker, its exit code and its last lines.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Sequence

LOG = logging.getLogger(__name__)
TAIL_LINES = 30


class WorkerError(RuntimeError):
    """A worker process exited with a non-zero code."""


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (bound and released together, so distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(workers: int) -> list[dict]:
    """One TF_CONFIG per worker, as the TFJob operator writes them (replica type `worker`, worker 0 first)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(workers)]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": index}} for index in range(workers)]


def _forward(index: int, stream, tail: deque) -> None:
    for line in stream:
        line = line.rstrip("\n")
        tail.append(line)
        LOG.info("[worker %d] %s", index, line)


def run_workers(command: Sequence[str], workers: int, timeout_s: float, cwd: str | None = None) -> None:
    """Runs `workers` copies of `command` and returns when all succeeded; raises WorkerError otherwise."""
    processes, threads, tails = [], [], []
    for index, tf_config in enumerate(tf_configs(workers)):
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        tail: deque = deque(maxlen=TAIL_LINES)
        thread = threading.Thread(target=_forward, args=(index, process.stdout, tail), daemon=True)
        thread.start()
        processes.append(process)
        threads.append(thread)
        tails.append(tail)
    LOG.info("started %d workers on 127.0.0.1 (pids %s)", workers, ", ".join(str(p.pid) for p in processes))
    try:
        failed = _wait_all(processes, timeout_s)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for thread in threads:
            thread.join(timeout=10)
    if failed is not None:
        index, code = failed
        raise WorkerError(
            f"worker {index} of {workers} exited with code {code}; its last lines:\n" + "\n".join(tails[index])
        )


def _wait_all(processes: list[subprocess.Popen], timeout_s: float) -> tuple[int, int | str] | None:
    """Waits for every process; the first (index, exit code) that failed, or None when all exited with 0."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        codes = [p.poll() for p in processes]
        for index, code in enumerate(codes):
            if code not in (None, 0):
                return index, code
        if all(code == 0 for code in codes):
            return None
        if time.monotonic() > deadline:
            return next(i for i, c in enumerate(codes) if c is None), f"none (still running after {timeout_s:.0f} s)"
        time.sleep(0.5)
