"""Progress of a local run, read from ML Metadata while the run goes on.

TFX's own "Component X is running" log lines depend on the root logger,
which libraries loaded mid-run reconfigure, and say nothing about how long
a step takes. ML Metadata is the record that every component writes
anyway: a watcher thread polls it (read-only, every second; ML Metadata's
SQLite writer retries on a busy database) and prints one line when each
component starts, finishes, fails or is reused from the cache, with its
duration, and while a long one runs, its elapsed time against the same
component's time in the last run that executed it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ml_metadata.proto import metadata_store_pb2

# ML Metadata's Execution.State values, from its proto.
_EXECUTION = metadata_store_pb2.Execution
RUNNING, COMPLETE, FAILED, CACHED, CANCELED = (
    _EXECUTION.RUNNING,
    _EXECUTION.COMPLETE,
    _EXECUTION.FAILED,
    _EXECUTION.CACHED,
    _EXECUTION.CANCELED,
)
_GIVE_UP_AFTER = 30  # consecutive failed polls before saying so
_FINISHED = {COMPLETE: "finished", FAILED: "FAILED", CACHED: "reused from the cache", CANCELED: "cancelled"}


def format_duration(seconds: float) -> str:
    """'7 s', '1 min 05 s', '1 h 02 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclasses.dataclass(frozen=True)
class Step:
    """One component's execution in this run, as ML Metadata holds it."""

    node: str
    state: int
    started: float  # epoch seconds
    updated: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.updated - self.started)


def node_name(store, execution_id: int, pipeline_name: str) -> str:
    """The component id of an execution (its 'node' context is '<pipeline>.<id>')."""
    for context in store.get_contexts_by_execution(execution_id):
        if context.name.startswith(pipeline_name + "."):
            return context.name[len(pipeline_name) + 1 :]
    return f"execution {execution_id}"


def previous_durations(store, pipeline_name: str, before: float) -> dict[str, float]:
    """Per component, how long its latest execution that really ran (not cached) took, before `before`."""
    durations: dict[str, float] = {}
    for context in store.get_contexts_by_type("node"):
        if not context.name.startswith(pipeline_name + "."):
            continue
        done = [
            e
            for e in store.get_executions_by_context(context.id)
            if e.last_known_state == COMPLETE and e.create_time_since_epoch / 1000 < before
        ]
        if done:
            latest = max(done, key=lambda e: e.id)
            seconds = (latest.last_update_time_since_epoch - latest.create_time_since_epoch) / 1000
            durations[context.name[len(pipeline_name) + 1 :]] = seconds
    return durations


def steps_since(store, pipeline_name: str, since: float, names: dict[int, str]) -> list[Step]:
    """This run's executions (created at or after `since`), oldest first; `names` caches node names by id."""
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return []
    steps = []
    for execution in sorted(store.get_executions_by_context(pipeline.id), key=lambda e: e.id):
        if execution.create_time_since_epoch / 1000 < since:
            continue
        if execution.id not in names:
            names[execution.id] = node_name(store, execution.id, pipeline_name)
        steps.append(
            Step(
                names[execution.id],
                execution.last_known_state,
                execution.create_time_since_epoch / 1000,
                execution.last_update_time_since_epoch / 1000,
            )
        )
    return steps


class ProgressLines:
    """Turns successive snapshots of a run's steps into the lines a person reads (pure, for tests)."""

    def __init__(self, previous: dict[str, float], heartbeat: float = 30.0) -> None:
        self.previous = previous
        self.heartbeat = heartbeat
        self._announced: dict[str, int] = {}  # node -> last state printed
        self._last_beat: dict[str, float] = {}

    def _expected(self, node: str) -> str:
        seconds = self.previous.get(node)
        return f"; last time {format_duration(seconds)}" if seconds is not None else ""

    def update(self, steps: list[Step], now: float) -> list[str]:
        lines = []
        for step in steps:
            seen = self._announced.get(step.node)
            if step.state == RUNNING and seen is None:
                lines.append(f"{_clock(step.started)}  {step.node} started{self._expected(step.node)}")
                self._announced[step.node] = RUNNING
                self._last_beat[step.node] = now
            elif step.state == RUNNING and now - self._last_beat.get(step.node, now) >= self.heartbeat:
                elapsed = format_duration(now - step.started)
                lines.append(f"{_clock(now)}  {step.node} running for {elapsed}{self._expected(step.node)}")
                self._last_beat[step.node] = now
            elif step.state in _FINISHED and seen != step.state:
                if step.state == CACHED:
                    lines.append(f"{_clock(step.updated)}  {step.node} reused from the cache")
                else:
                    verb = _FINISHED[step.state] + (" in" if step.state == COMPLETE else " after")
                    lines.append(f"{_clock(step.updated)}  {step.node} {verb} {format_duration(step.seconds)}")
                self._announced[step.node] = step.state
        return lines


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


class ProgressWatcher:
    """A daemon thread printing ProgressLines for the run that starts now; `with ProgressWatcher(...):`."""

    def __init__(
        self,
        metadata_path: str | Path,
        pipeline_name: str,
        out: TextIO,
        *,
        interval: float = 1.0,
        heartbeat: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metadata_path = Path(metadata_path)
        self.pipeline_name = pipeline_name
        self.out = out
        self.interval = interval
        self.heartbeat = heartbeat
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="progress", daemon=True)
        self._lines: ProgressLines | None = None
        self._names: dict[int, str] = {}
        self._failures = 0

    def __enter__(self) -> ProgressWatcher:
        self.started = self.clock() - 1.0  # ML Metadata's clock is in ms; keep an execution created this second
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._poll_once()  # the final states, written just before the run returned

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll_once()

    def _poll_once(self) -> None:
        from results.metadata import open_store

        if not self.metadata_path.exists():
            return
        try:
            if self._lines is None:
                self._store = open_store(self.metadata_path)
                self._lines = ProgressLines(
                    previous_durations(self._store, self.pipeline_name, self.started), self.heartbeat
                )
            steps = steps_since(self._store, self.pipeline_name, self.started, self._names)
        except Exception as err:  # a store still being created, or busy: ask again next time
            self._failures += 1
            if self._failures == _GIVE_UP_AFTER:
                print(f"(no progress lines: ML Metadata could not be read: {err})", file=self.out, flush=True)
            return
        self._failures = 0
        for line in self._lines.update(steps, self.clock()):
            print(line, file=self.out, flush=True)
