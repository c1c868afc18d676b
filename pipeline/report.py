"""Render the per-head report of any finished run, and print its text summary.

    python -m pipeline.report [--config configs/flights.yaml] [--run-id RUN | --gate URI] [--out DIR]

Default: the newest run of the config's pipeline. The files land in
`<output_root>/reports/<run id>/` (report.html, summary.json) unless --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from components.gate.component import DECISIONS_FILE
from components.report.component import write_report
from components.report.drift import data_changes, window_splits
from components.report.history import read_history
from components.report.identity import report_identity
from components.report.render import text_summary
from components.report.summary import build_summary
from pipeline.config import REPO_ROOT, ConfigError, load_config
from pipeline.outcome import latest_run, report_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "flights.yaml")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run-id", help="a pipeline run id (see ML Metadata; default: the newest)")
    which.add_argument("--gate", help="a HeadGate blessing folder (holds gate.json), outside any run")
    parser.add_argument("--out", type=Path, help="folder for report.html and summary.json")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
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
        decisions = json.loads((Path(gate_folder) / DECISIONS_FILE).read_text())
    except (ConfigError, LookupError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if blessed is None:
        blessed = decisions["blessed"]
    view = report_config(config)
    heads = [head["name"] for head in view["heads"]]
    summary = build_summary(
        view,
        decisions["evaluation"],
        decisions,
        blessed=blessed,
        pushed=pushed,
        identity=identity,
        history=read_history(str(config.metadata_path), config.name, heads),
        data=(
            data_changes(statistics, str(config.schema_path), window_splits(statistics), view["inputs"], view["heads"])
            if statistics
            else None
        ),
    )
    out = args.out or Path(config.output_root) / "reports" / run_id.replace(":", "-")
    html_path, json_path = write_report(summary, str(out), config.min_slice_examples)
    print("\n".join(text_summary(summary)))
    print(f"report: {html_path}\nsummary: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
