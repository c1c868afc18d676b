"""One run at a time per output root: a second run refuses, naming the first.

Two runs on the same pipeline root would write the same ML Metadata store
and serving directory at once. The lock is the kernel's `flock` on
`<output_root>/run.lock`, so it goes away with its process, however that
process ends (a SIGKILLed run leaves no stale lock); the file itself keeps
who holds it (process id, host, start time, command), for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "run.lock"


class RunLockedError(RuntimeError):
    """Another run holds the output root; the message names it."""


def describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"process {holder['pid']} on {holder['host']}, started {holder['started']}: {holder['command']}"
    except (ValueError, KeyError, TypeError):
        return "a process that did not say who it is"


@contextlib.contextmanager
def exclusive_run(output_root: str | Path) -> Iterator[None]:
    """Holds the output root's run lock for the block; raises RunLockedError at once if another run has it."""
    root = Path(output_root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    handle = open(path, "a+")  # noqa: SIM115 (held for the block, closed below)
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise RunLockedError(
                f"another run is using {root} ({describe_holder(handle.read())}). "
                "Wait for it to finish, stop it, or give this run another output root (--output-root)"
            ) from None
        handle.seek(0)
        handle.truncate()
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        }
        handle.write(json.dumps(holder))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
