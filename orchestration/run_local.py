"""The main job: run the pipeline with LocalDagRunner and say what happened.

    python -m orchestration.run_local [--config configs/flights.yaml] [--train-spans 10 11 --eval-span 12]

Prepares the embedded flights spans on first use, resolves the window from
the span folders present (the newest span is evaluated, the config's
`data.train_window` spans before it are trained on; a new span folder is
picked up by the next run), runs the pipeline (cached steps are reused),
then prints per head pass or fail and why, whether the model was pushed,
and where the model and the evaluation are.

The terminal shows the run's own lines: one per component as it starts and
ends, with its duration and its time in the last run that executed it
(orchestration/progress.py, from ML Metadata). TensorFlow's C++ messages, Beam's
workers and the libraries' warnings go to a log file per run under
`<output_root>/logs/` (out/pipelines/<name>/logs/ when the output root is on
object storage), whose path is printed first and last
(console/run_log.py); a failure prints its one-line cause and the log path.

Exit status (orchestration/exit_codes.py): 0 pushed, 3 blocked by the gate,
2 bad config, command line or data (a missing span, an anomaly, an
unreadable file), 1 any other failure.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

from console.run_log import Terminal, is_known_noise, is_project_record, log_file_for, terminal_and_log
from contracts import storage
from contracts.spans import SpanError, Window, check_not_empty, list_spans, resolve_window, span_folder, spans_present
from orchestration.exit_codes import ExitCode
from orchestration.run_lock import exclusive_run
from pipeline.config import DEFAULT_CONFIG, ConfigError, PipelineConfig, load_config


class _ProgressFilter(logging.Filter):
    """Errors, unexpected warnings, and of TFX's INFO lines 'Component X is running/finished'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or is_project_record(record):
            return True  # errors, and this project's own progress (e.g. spans being written)
        if record.levelno >= logging.WARNING:
            return not is_known_noise(record)
        return str(record.msg).startswith("Component %s is")


def show_progress() -> None:
    """For the commands that run several pipelines (calibrate, benchmarks): TFX's 'Component X is
    running/finished' lines with a timestamp, on stderr, without the known noise."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    handler.addFilter(_ProgressFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def ensure_flights_data(config: PipelineConfig, out: TextIO | None = None) -> None:
    """Writes the missing flights spans of a config with `data.prepare: flights` (all 12 months on first use).

    Only missing span folders are written: a span folder that is there, whatever it holds, is never replaced.
    Only under a local data root: spans on object storage are copied there by their owner.
    """
    if storage.is_uri(config.data.root):
        return  # resolve_spans says what is missing
    root = Path(config.data.root)
    if config.data.resolved:
        spans = [*config.data.train_spans, config.data.eval_span]
        missing = [s for s in spans if not (root / span_folder(config.data.span_dir, s)).is_dir()]
    else:
        missing = [] if root.is_dir() and spans_present(os.listdir(root), config.data.span_dir) else ["any"]
    if not missing or config.data.prepare != "flights":
        return  # resolve_spans says what is missing and what to do
    from converters import flights

    months = None if missing == ["any"] else [s for s in missing if 1 <= s <= 12]
    if months == []:
        return
    print(f"Preparing the flights spans under {config.data.root} (first run only) ...", file=out, flush=True)
    flights.convert(root, months=months)


def resolve_spans(config: PipelineConfig, out: TextIO | None = None) -> PipelineConfig:
    """The config with this run's window: its fixed spans, checked, or the newest span present and the
    `train_window` before it (contracts/spans.py); says which on stdout."""
    data = config.data
    fixed = Window(train=data.train_spans, evaluate=data.eval_span) if data.resolved else None
    window = resolve_window(list_spans(data.root, data.span_dir), data.window_size, fixed, where=data.root)
    check_not_empty(data.root, data.span_dir, window)
    how = "fixed in the config" if fixed else f"the newest span under {data.root} and the {data.window_size} before it"
    print(f"Spans: {window.describe()} ({how})", file=out, flush=True)
    return config.with_data(train_spans=window.train, eval_span=window.evaluate)


def tidy_abandoned(config: PipelineConfig) -> None:
    """Marks CANCELED what an interrupted or killed run left RUNNING in ML Metadata, and says so."""
    from results import metadata, outcome

    if not metadata.running_executions(config.metadata_path, config.name):
        return
    try:
        by_run = outcome.latest_run(config.metadata_path, config.name).run_id
    except LookupError:
        by_run = "a later local run"
    cancelled = metadata.cancel_abandoned(config.metadata_path, config.name, by_run)
    logging.getLogger("orchestration.run_local").warning(
        "ML Metadata: %d execution(s) left RUNNING by an interrupted or killed run marked CANCELED (ids %s)",
        len(cancelled),
        ", ".join(map(str, cancelled)),
    )


def run_pipeline(config: PipelineConfig, progress: TextIO | None = None):
    """Runs the pipeline with LocalDagRunner; returns the run's artifacts and seconds taken.

    One run at a time per output root: another run holding it raises
    RunLockedError naming that run (orchestration/run_lock.py). With `progress`, a
    line per component start and end goes there as the run goes
    (orchestration/progress.py). Whether it finishes or fails, executions that an
    earlier killed run left RUNNING in ML Metadata are then marked CANCELED
    (results/metadata.py): safe, as no other run can be using the store.
    """
    from tfx import v1 as tfx

    from orchestration.progress import ProgressWatcher
    from pipeline.pipeline import create_pipeline
    from results import outcome

    Path(config.local_root).mkdir(parents=True, exist_ok=True)  # the pipeline root: TFX makes it, local or not
    started = time.monotonic()
    watcher = ProgressWatcher(config.metadata_path, config.name, progress) if progress else contextlib.nullcontext()
    with exclusive_run(config.local_root):
        try:
            with watcher:
                tfx.orchestration.LocalDagRunner().run(
                    create_pipeline(
                        config,
                        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                            str(config.metadata_path)
                        ),
                    )
                )
        finally:
            tidy_abandoned(config)
        return outcome.latest_run(config.metadata_path, config.name), time.monotonic() - started


def exit_code(run_artifacts) -> ExitCode:
    """A finished run's status for scripts: PUSHED when its model is served, BLOCKED when the gate
    refused it, FAILED when it was blessed and still not pushed."""
    if run_artifacts.pushed:
        return ExitCode.PUSHED
    return ExitCode.FAILED if run_artifacts.blessed else ExitCode.BLOCKED


def failure_code(error: BaseException) -> ExitCode:
    """BAD_INPUT for data the pipeline refused (an anomaly, an unreadable span file), else FAILED."""
    from components.example_gate import DataAnomalyError
    from components.import_examples import SpanFileError

    return ExitCode.BAD_INPUT if isinstance(error, DataAnomalyError | SpanFileError) else ExitCode.FAILED


def run(config: PipelineConfig, terminal: Terminal) -> ExitCode:
    """Runs the pipeline and prints the verdict; the exit code says which (orchestration/exit_codes.py)."""
    import json

    from components.report.component import HTML_FILE, JSON_FILE
    from components.report.render import text_summary
    from orchestration.serving import rolled_back_location

    out = terminal.out
    run_artifacts, elapsed = run_pipeline(config, progress=out)
    print(f"\nPipeline {config.name} finished in {elapsed:.0f} s (run {run_artifacts.run_id}).", file=out)
    if run_artifacts.report:
        summary = json.loads(storage.read_text(storage.join(run_artifacts.report, JSON_FILE)))
        print("\n".join(text_summary(summary)), file=out)
    if "HeadGate" in run_artifacts.reused:
        print(
            "  (nothing new to judge: the same model, examples and baseline as an earlier run,"
            " whose verdict and report were reused from the cache)",
            file=out,
        )
    if run_artifacts.pushed and not run_artifacts.newly_pushed:
        print("  (the same model was already the newest pushed version: nothing new written)", file=out)
    withdrawn = rolled_back_location(run_artifacts.pushed_destination) if run_artifacts.pushed else None
    if withdrawn:
        print(
            f"  (that version was rolled back since: it is in {withdrawn}, not served; `make serving` lists", file=out
        )
        print("   what is served. New data, or a changed config, trains a new candidate)", file=out)
    print(f"  model:       {run_artifacts.model}", file=out)
    print(f"  evaluation:  {run_artifacts.evaluation}", file=out)
    print(f"  pushed to:   {run_artifacts.pushed_destination if run_artifacts.pushed else 'not pushed'}", file=out)
    if run_artifacts.report:
        print(f"  report:      {storage.join(run_artifacts.report, HTML_FILE)}", file=out)
    print(f"  log:         {terminal.log_path}", file=out)
    code = exit_code(run_artifacts)
    if code == ExitCode.FAILED:
        print("error: the gate blessed the model but the Pusher did not push it; see the log", file=terminal.err)
    return code


def command_line_overrides(args: argparse.Namespace) -> dict:
    """The config settings the flags change; load_config validates them like the file's."""
    overrides: dict = {}
    if args.train_spans or args.eval_span is not None:  # a fixed window replaces the rolling one
        overrides.setdefault("data", {}).update(
            train_window=None, train_spans=list(args.train_spans or []) or None, eval_span=args.eval_span
        )
    if args.output_root:
        overrides["output_root"] = str(args.output_root.resolve())
    return overrides


def load_for_command(path: Path, overrides: dict | None = None) -> PipelineConfig | None:
    """The validated config with this run's spans resolved and in place, or None after printing why (exit code 2)."""
    try:
        return prepare_window(load_config(path, overrides))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def prepare_window(
    config: PipelineConfig, out: TextIO | None = None, err: TextIO | None = None
) -> PipelineConfig | None:
    """The config with its spans written if they are the embedded data, and its window resolved;
    None after printing why not."""
    try:
        ensure_flights_data(config, out)
        return resolve_spans(config, out)
    except (FileNotFoundError, SpanError) as error:
        print(f"error: {error}", file=err or sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--train-spans", type=int, nargs="+", help="train on these spans (with --eval-span)")
    parser.add_argument("--eval-span", type=int, help="evaluate on this span instead of the newest")
    parser.add_argument("--output-root", type=Path, help="override output_root")
    args = parser.parse_args(argv)
    if bool(args.train_spans) != (args.eval_span is not None):
        parser.error("give both --train-spans and --eval-span (a fixed window), or neither (the newest spans)")
    try:
        config = load_config(args.config, command_line_overrides(args))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    log_path = log_file_for(config.local_root, config.name)
    print(f"Log of this run (library and TensorFlow output): {log_path}", flush=True)
    with terminal_and_log(log_path) as terminal:
        config = prepare_window(config, terminal.out, terminal.err)
        if config is None:
            return ExitCode.BAD_INPUT
        try:
            return run(config, terminal)
        except Exception as err:
            traceback.print_exc()  # descriptor 2 is the log file for the run
            print(f"\nerror: the run failed: {type(err).__name__}: {err}", file=terminal.err)
            print(f"  the full traceback is in {log_path}", file=terminal.err)
            return failure_code(err)


if __name__ == "__main__":
    sys.exit(main())
