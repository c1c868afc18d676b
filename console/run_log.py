"""The run's log file: everything libraries print goes there, the terminal keeps what a person reads.

TensorFlow's C++ start-up lines (oneDNN, CUDA stubs, absl), Beam's worker
processes, Keras' progress bars and the libraries' warnings are written to
file descriptors 1 and 2 from C++, from Python and from child processes.
Redirecting the descriptors themselves (not just `sys.stdout`) is the only
way to catch all of them: for the length of the run both point at the log
file, and the local runner writes its progress and verdict to `Terminal`,
which holds the original descriptors. Python log records at WARNING and
above that are not known noise still reach the terminal, so errors are never
hidden; the full record of the run, tracebacks included, is in the log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

# Warnings that every healthy run prints (library deprecations, Beam worker
# chatter, ML Metadata query fallbacks, tf.Transform's tracing notice); kept
# in the log, out of the terminal.
KNOWN_NOISE = (
    "Worker: severity: WARN",
    "ArtifactQuery.property_predicate is not supported",
    "Fallback to non-ZetaSQL",
    "Examples artifact does not have payload_format",
    "Tables initialized inside a tf.function",
    "is deprecated and will be removed",
    "SavedModel saved prior to TF 2.5",
    "No semi_persistent_directory",
    "Discarding unparseable args",
    "cache key varies on repeated tracing",
    "`custom_executor_spec` is deprecated",
    "is slow compared to the batch time",
)
# This project's own loggers (module names): their progress (e.g. spans being written) always shows.
PROJECT_LOGGERS = ("pipeline", "orchestration", "converters", "results")


@dataclasses.dataclass(frozen=True)
class Terminal:
    """Where the person running the command reads: the original stdout and stderr."""

    out: TextIO
    err: TextIO
    log_path: Path


def is_project_record(record: logging.LogRecord) -> bool:
    return any(record.name == name or record.name.startswith(name + ".") for name in PROJECT_LOGGERS)


def is_known_noise(record: logging.LogRecord) -> bool:
    return any(noise in str(record.msg) or noise in record.getMessage() for noise in KNOWN_NOISE)


class TerminalFilter(logging.Filter):
    """Library warnings and errors that are not known noise (the project's records have their own handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if is_project_record(record):
            return False
        if record.levelno >= logging.ERROR:
            return True
        if record.levelno >= logging.WARNING:
            return not is_known_noise(record)
        return False


class TerminalFormatter(logging.Formatter):
    """One line per record: a record's traceback stays in the log, the terminal says where it is."""

    def format(self, record: logging.LogRecord) -> str:
        had_traceback = bool(record.exc_info or record.stack_info)
        line = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(line) + (" (traceback in the log)" if had_traceback else "")


COMMAND_LOG_ROOT = Path(__file__).resolve().parent.parent / "out"  # short commands log under out/logs/


def log_file_for(output_root: str | Path, name: str) -> Path:
    """`<output_root>/logs/<name>-YYYYmmdd-HHMMSS.log`: one file per run, kept."""
    return Path(output_root) / "logs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def _handler(
    stream: TextIO, fmt: str, level: int, log_filter: logging.Filter | None = None, formatter=logging.Formatter
) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt, datefmt="%H:%M:%S"))
    handler.setLevel(level)
    if log_filter is not None:
        handler.addFilter(log_filter)
    return handler


@contextlib.contextmanager
def terminal_and_log(log_path: Path) -> Iterator[Terminal]:
    """For the block: descriptors 1 and 2 (and every child process's) write to `log_path`; Python logging
    writes INFO and up to the log and, filtered, to the terminal. Everything is restored on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = Terminal(
        out=os.fdopen(os.dup(saved_out), "w", buffering=1),
        err=os.fdopen(os.dup(saved_err), "w", buffering=1),
        log_path=log_path,
    )
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 (closed in the finally below)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    projects = [logging.getLogger(name) for name in PROJECT_LOGGERS]
    # The project's loggers have their own terminal handler: libraries that reset the root's handlers
    # mid-run must not silence it.
    project_handler = _handler(terminal.err, "%(asctime)s  %(message)s", logging.INFO)
    for project in projects:
        project.addHandler(project_handler)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    root.handlers[:] = [
        _handler(log, "%(asctime)s %(levelname)s %(name)s: %(message)s", logging.INFO),
        _handler(
            terminal.err,
            "%(asctime)s  %(levelname)s: %(message)s",
            logging.WARNING,
            TerminalFilter(),
            TerminalFormatter,
        ),
    ]
    root.setLevel(logging.INFO)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err):
            os.close(fd)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for project in projects:
            project.removeHandler(project_handler)
        log.close()
        terminal.out.close()
        terminal.err.close()


@contextlib.contextmanager
def command_output(command: str, log_root: Path = COMMAND_LOG_ROOT) -> Iterator[Terminal]:
    """For a short command (a converter, a listing, a compile): what libraries write to the descriptors
    (TensorFlow's C++ start-up lines, absl) goes to `<log_root>/logs/<command>-<time>.log`, and the command's
    own `print`s (sys.stdout and sys.stderr) to the terminal. Import TensorFlow-heavy modules inside the block.
    A caller that already captures sys.stdout or sys.stderr in Python (a test's capsys, redirect_stdout) keeps
    the command's prints."""
    out, err = sys.stdout, sys.stderr
    keep_out, keep_err = not _writes_to_descriptor(out, 1), not _writes_to_descriptor(err, 2)
    with (
        terminal_and_log(log_file_for(log_root, command)) as terminal,
        contextlib.redirect_stdout(out if keep_out else terminal.out),
        contextlib.redirect_stderr(err if keep_err else terminal.err),
    ):
        yield terminal


def _writes_to_descriptor(stream: TextIO, descriptor: int) -> bool:
    """True for the process's own stream on `descriptor`, which the log takes over for the block."""
    try:
        return stream.fileno() == descriptor
    except (AttributeError, OSError, ValueError):  # an in-memory stream has no descriptor
        return False
