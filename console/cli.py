"""`mhp`: one command line for what a user runs, each subcommand the module the Makefile calls.

    mhp run [--config configs/flights.yaml] ...    the pipeline on LocalDagRunner
    mhp compile ...                                 the Kubeflow package (PipelineSpec YAML)
    mhp submit ... run | schedule ...               upload to Kubeflow, run once or on a schedule
    mhp report ...                                  a run's per-head report, or two runs compared
    mhp serving list | rollback ...                 the pushed versions; serve the previous one again
    mhp calibrate ...                               the gate metric's spread over seeds
    mhp schema --csv FILE --name N --label L ...    draft a schema and a config from a CSV (TFDV)
    mhp spans --csv FILE ...                        a CSV into span folders of TFRecords
    mhp data ...                                    the embedded flights data as spans

`mhp SUBCOMMAND --help` shows a subcommand's options. The exit status is the
subcommand's (orchestration/exit_codes.py: 0 pushed or done, 1 failed, 2 bad
config or input, 3 blocked by the gate).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module whose main(argv) runs it, one line of help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("orchestration.run_local", "the pipeline on LocalDagRunner, ending with the verdict"),
    "compile": ("orchestration.kubeflow", "compile for Kubeflow Pipelines v2 (PipelineSpec YAML)"),
    "submit": ("orchestration.kubeflow_submit", "upload to Kubeflow; run once or on a schedule"),
    "report": ("results.report", "a run's per-head report, or two runs compared"),
    "serving": ("orchestration.serving", "list pushed versions, or roll back to the previous one"),
    "calibrate": ("orchestration.calibrate", "train the window over several seeds: the gate metric's spread"),
    "schema": ("converters.draft_schema", "draft a schema and a config from a CSV with TFDV's inference"),
    "spans": ("converters.csv_spans", "write a CSV's rows as span folders of TFRecords"),
    "data": ("converters.flights", "write the embedded flights data as monthly spans"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "usage: mhp SUBCOMMAND [options]   (mhp SUBCOMMAND --help)\n\nsubcommands:\n" + "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"error: mhp has no subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    argv_before, sys.argv = sys.argv, [f"mhp {name}", *rest]  # argparse's usage lines name the subcommand
    try:
        return int(module.main(rest) or 0)
    except SystemExit as exit_:  # argparse's --help and usage errors
        return exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.argv = argv_before  # absl and others read it later in the same process


if __name__ == "__main__":
    sys.exit(main())
