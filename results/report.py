"""Render the per-head report of any finished run, and print its text summary.

    python -m results.report [--config configs/flights.yaml] [--run-id RUN | --gate URI] [--out DIR]
    python -m results.report [--config ...] --compare RUN_A RUN_B [--out DIR]

Default: the newest run of the config's pipeline. The files land in
`<output_root>/reports/<run id>/` (report.html, summary.json) unless --out
(out/pipelines/<name>/reports/ when the output root is on object storage).
`--compare` puts two runs' reports side by side (each head, each gated slice,
the second minus the first), from the summary.json each run's report wrote,
into `<output_root>/reports/compare-<A>-<B>/compare.html`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from components.report import formats
from components.report.compare import compare_summaries
from components.report.drift import data_changes, window_splits
from components.report.identity import report_identity
from components.report.render import render_comparison, text_summary
from components.report.summary import build_summary
from console.run_log import command_output
from contracts import storage
from pipeline.config import DEFAULT_CONFIG, ConfigError, PipelineConfig, load_config
from results.outcome import latest_run

COMPARE_FILE = "compare.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run-id", help="a pipeline run id (see ML Metadata; default: the newest)")
    which.add_argument("--gate", help="a HeadGate blessing folder (holds gate.json), outside any run")
    which.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="two run ids, side by side")
    parser.add_argument("--out", type=Path, help="folder for report.html and summary.json")
    args = parser.parse_args(argv)
    with command_output("report"):
        return _report(args)


def _report(args: argparse.Namespace) -> int:
    # TensorFlow-heavy (TFX's file I/O): imported once the libraries' output goes to the command's log.
    from components.gate.component import read_decisions
    from components.report.component import write_report
    from components.report.history import read_history

    try:
        config = load_config(args.config)
        if args.compare:
            return compare(config, *args.compare, args.out)
        if args.gate:
            gate_folder, run_id, identity = args.gate, "gate", {"pipeline": config.name}
            statistics = None
            blessed = pushed = None
        else:
            run = latest_run(config.metadata_path, config.name, args.run_id)
            if not run.blessing:
                raise LookupError(f"run {run.run_id} has no gate decision (it stopped before the HeadGate)")
            gate_folder, run_id, statistics = run.blessing, run.run_id, run.statistics
            blessed, pushed = run.blessed, run.pushed
            identity = report_identity(
                config.name,
                model=run.model,
                baseline_model=run.baseline_model,
                evaluation=run.evaluation,
                pushed_destination=run.pushed_destination,
                extra={"run": run.run_id},
            )
        decisions = read_decisions(gate_folder)
    except (ConfigError, LookupError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if blessed is None:
        blessed = decisions["blessed"]
    plan = config.evaluation_plan()
    summary = build_summary(
        plan,
        decisions["evaluation"],
        decisions,
        blessed=blessed,
        pushed=pushed,
        identity=identity,
        history=read_history(config.history_dir, [head.name for head in plan.heads]),
        data=(
            data_changes(statistics, str(config.schema_path), window_splits(statistics), plan.inputs, plan.heads)
            if statistics
            else None
        ),
    )
    out = args.out or Path(config.local_root) / "reports" / run_id.replace(":", "-")
    html_path, json_path = write_report(summary, str(out), config.min_slice_examples)
    print("\n".join(text_summary(summary)))
    print(f"report: {html_path}\nsummary: {json_path}")
    return 0


def run_summary(config: PipelineConfig, run_id: str) -> dict:
    """The summary.json that a run's report wrote."""
    from components.report.component import JSON_FILE

    run = latest_run(config.metadata_path, config.name, run_id)
    if not run.report:
        raise LookupError(f"run {run_id} has no report (it stopped before the PerHeadReport)")
    return json.loads(storage.read_text(storage.join(run.report, JSON_FILE)))


def compare(config: PipelineConfig, first: str, second: str, out: Path | None) -> int:
    """Writes the side-by-side view of two runs; prints where."""
    comparison = compare_summaries(run_summary(config, first), run_summary(config, second))
    folder = out or Path(config.local_root) / "reports" / f"compare-{first}-{second}".replace(":", "-")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / COMPARE_FILE
    path.write_text(render_comparison(comparison, first, second), encoding="utf-8")
    for head in comparison["heads"]:
        overall = head["rows"][0]
        print(
            f"  {head['name']:<16}{head['metric']} {formats.metric(overall['first'])} -> "
            f"{formats.metric(overall['second'])} ({formats.signed(overall['difference'])})"
        )
    print(f"comparison: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
