"""The main job: run the pipeline with LocalDagRunner and say what happened.

    python -m pipeline.run_local [--config configs/flights.yaml] [--train-spans 10 11 --eval-span 12]

Prepares the embedded flights spans on first use, resolves the window from
the span folders present (the newest span is evaluated, the config's
`data.train_window` spans before it are trained on; a new span folder is
picked up by the next run), runs the pipeline (cached steps are reused),
then prints per head pass or fail and why, whether the model was pushed,
and where the model and the evaluation are.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from pipeline.config import ConfigError, PipelineConfig, load_config
from pipeline.spans import SpanError, Window, list_spans, resolve_window, span_folder, spans_present

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "flights.yaml"


# Warnings that every healthy run prints (library deprecations, Beam worker
# chatter, MLMD query fallbacks); they hide the progress lines, so they are
# dropped from the terminal. Errors always show.
_KNOWN_NOISE = (
    "Worker: severity: WARN",
    "ArtifactQuery.property_predicate is not supported",
    "Fallback to non-ZetaSQL",
    "Examples artifact does not have payload_format",
    "Tables initialized inside a tf.function",
    "is deprecated and will be removed",
    "SavedModel saved prior to TF 2.5",
    "No semi_persistent_directory",
    "Discarding unparseable args",
)


class _ProgressFilter(logging.Filter):
    """Errors, unexpected warnings, and of TFX's INFO lines 'Component X is running/finished'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or record.name.startswith("pipeline."):
            return True  # errors, and this project's own progress (e.g. spans being written)
        message = str(record.msg)
        if record.levelno >= logging.WARNING:
            return not any(noise in message or noise in record.getMessage() for noise in _KNOWN_NOISE)
        return message.startswith("Component %s is")


def show_progress() -> None:
    """One line per component start and end, with a timestamp, on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    handler.addFilter(_ProgressFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def ensure_flights_data(config: PipelineConfig) -> None:
    """Writes the flights spans when the config's are not there yet (all 12 months on first use)."""
    root = Path(config.data.root)
    if config.data.resolved:
        spans = [*config.data.train_spans, config.data.eval_span]
        missing = [s for s in spans if not (root / span_folder(config.data.span_dir, s)).is_dir()]
    else:
        missing = [] if root.is_dir() and spans_present(os.listdir(root), config.data.span_dir) else ["any"]
    if not missing:
        return
    if Path(config.schema_path).parent.name != "flights":
        raise FileNotFoundError(
            f"spans {missing} are missing under {config.data.root}; put them there "
            f"({config.data.span_dir}/ one folder per span)"
        )
    from pipeline.data import flights

    print(f"Preparing the flights spans under {config.data.root} (first run only) ...", flush=True)
    flights.convert(root)


def resolve_spans(config: PipelineConfig) -> PipelineConfig:
    """The config with this run's window: its fixed spans, checked, or the newest span present and the
    `train_window` before it (pipeline/spans.py); says which on stdout."""
    data = config.data
    fixed = Window(train=data.train_spans, evaluate=data.eval_span) if data.resolved else None
    window = resolve_window(list_spans(data.root, data.span_dir), data.window_size, fixed)
    how = "fixed in the config" if fixed else f"the newest span under {data.root} and the {data.window_size} before it"
    print(f"Spans: {window.describe()} ({how})", flush=True)
    return config.with_data(train_spans=window.train, eval_span=window.evaluate)


def tidy_abandoned(config: PipelineConfig) -> None:
    """Marks CANCELED what an interrupted or killed run left RUNNING in ML Metadata, and says so."""
    from pipeline import metadata, outcome

    if not metadata.running_executions(config.metadata_path, config.name):
        return
    try:
        by_run = outcome.latest_run(config.metadata_path, config.name).run_id
    except LookupError:
        by_run = "a later local run"
    cancelled = metadata.cancel_abandoned(config.metadata_path, config.name, by_run)
    logging.getLogger("pipeline.run_local").warning(
        "ML Metadata: %d execution(s) left RUNNING by an interrupted or killed run marked CANCELED (ids %s)",
        len(cancelled),
        ", ".join(map(str, cancelled)),
    )


def run_pipeline(config: PipelineConfig):
    """Runs the pipeline with LocalDagRunner; returns the run's artifacts and seconds taken.

    Whether it finishes or fails, executions that an earlier killed run left
    RUNNING in ML Metadata are then marked CANCELED (pipeline/metadata.py).
    """
    from tfx import v1 as tfx

    from pipeline import outcome
    from pipeline.pipeline import create_pipeline

    Path(config.output_root).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
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


def run(config: PipelineConfig) -> int:
    """Runs the pipeline and prints the verdict; 0 when it finished (pushed or rightly blocked)."""
    import json

    from components.report.component import HTML_FILE, JSON_FILE
    from components.report.render import text_summary

    run_artifacts, elapsed = run_pipeline(config)
    print(f"\nPipeline {config.name} finished in {elapsed:.0f} s (run {run_artifacts.run_id}).")
    if run_artifacts.report:
        summary = json.loads((Path(run_artifacts.report) / JSON_FILE).read_text())
        print("\n".join(text_summary(summary)))
    if run_artifacts.pushed and not run_artifacts.newly_pushed:
        print("  (the same model was already the newest pushed version: nothing new written)")
    print(f"  model:       {run_artifacts.model}")
    print(f"  evaluation:  {run_artifacts.evaluation}")
    print(f"  pushed to:   {run_artifacts.pushed_destination if run_artifacts.pushed else 'not pushed'}")
    if run_artifacts.report:
        print(f"  report:      {Path(run_artifacts.report) / HTML_FILE}")
    return 0


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
        config = load_config(path, overrides)
        ensure_flights_data(config)
        config = resolve_spans(config)
    except (ConfigError, FileNotFoundError, SpanError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--train-spans", type=int, nargs="+", help="train on these spans (with --eval-span)")
    parser.add_argument("--eval-span", type=int, help="evaluate on this span instead of the newest")
    parser.add_argument("--output-root", type=Path, help="override output_root")
    args = parser.parse_args(argv)
    if bool(args.train_spans) != (args.eval_span is not None):
        parser.error("give both --train-spans and --eval-span (a fixed window), or neither (the newest spans)")
    show_progress()
    config = load_for_command(args.config, command_line_overrides(args))
    return 2 if config is None else run(config)


if __name__ == "__main__":
    sys.exit(main())
