"""Where the Evaluator's time goes: TFMA under cProfile with the pipeline's own EvalConfig.

    python -m bench.evaluator_profile [--config configs/flights.yaml] [--whole-span] [--top 40]

Runs `tfma.run_model_analysis` in this process (Beam in_memory, one worker, as
the pipeline's Evaluator runs on the DirectRunner) on the newest run's model
(run `make run` first) and the first file of its evaluation span (or all of it),
candidate only (add `--with-baseline` for the newest model before it as the
baseline, as a retrain is evaluated), and prints the functions with the most cumulative time, then the share of each
group that bounds it (groups may nest). cProfile slows Python about twofold:
the shares are what it is for, not the seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import pstats
import sys
import tempfile
import time
from pathlib import Path

from contracts.spans import span_folder
from pipeline.config import DEFAULT_CONFIG, load_config

# Function groups that bound the Evaluator: (label, file suffix, function).
GROUPS = (
    ("model inference (both models' serving and transform signatures)", "model_util.py", "_batch_reducible_process"),
    ("TFMA unbatching the extracts, per example", "util.py", "split_extracts"),
    ("per-example rows, once per example and head (the heads' preprocessors)", "head_metrics.py", "process"),
    ("slice fan-out and combiners' add_input", "metrics_plots_and_validations_evaluator.py", "add_input"),
    ("each slice's metrics from its rows", "head_metrics.py", "evaluate"),
    ("Beam element encoding (pickle)", "~", "<built-in method _pickle.dumps>"),
    ("Beam graph to runner API", "pipeline.py", "to_runner_api"),
)


def newest_models(config, count: int) -> list[str]:
    """The serving folders of the config's newest `count` models, newest first."""
    from results.metadata import open_store

    models = sorted(open_store(config.metadata_path).get_artifacts_by_type("Model"), key=lambda a: -a.id)
    if len(models) < count:
        raise SystemExit(f"fewer than {count} Model(s) in {config.metadata_path}: run `make run` first")
    return [str(Path(model.uri) / "Format-Serving") for model in models[:count]]


def group_shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Cumulative seconds of each group's function (the largest entry when several match)."""
    total = stats.total_tt
    shares = []
    for label, file_suffix, function in GROUPS:
        seconds = max(
            (
                entry[3]
                for (file, _, name), entry in stats.stats.items()
                if file.endswith(file_suffix) and name == function
            ),
            default=0.0,
        )
        shares.append((label, seconds / total if total else 0.0))
    return shares


def main(argv: list[str] | None = None) -> int:
    import tensorflow_model_analysis as tfma
    from apache_beam.options.pipeline_options import PipelineOptions

    from orchestration.run_local import resolve_spans
    from pipeline.eval_config import build_eval_config
    from pipeline.pipeline import EVALUATOR_DIRECT_ARGS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--output-root", help="the pipeline's output root (default: the config's)")
    parser.add_argument("--whole-span", action="store_true", help="every file of the span, not only the first")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--with-baseline", action="store_true", help="the model before the newest as the baseline")
    args = parser.parse_args(argv)
    config = resolve_spans(load_config(args.config, {"output_root": args.output_root} if args.output_root else None))
    folder = Path(config.data.root) / span_folder(config.data.span_dir, config.data.eval_span)
    files = sorted(glob.glob(str(folder / "*")))
    if not files:
        raise SystemExit(f"no files in {folder}: run `make run` first")
    location = str(folder / "*") if args.whole_span else files[0]
    eval_config = build_eval_config(config)
    if not args.with_baseline:
        del eval_config.model_specs[1:]  # the candidate alone
    paths = newest_models(config, len(eval_config.model_specs))
    models = [
        tfma.default_eval_shared_model(eval_saved_model_path=path, eval_config=eval_config, model_name=spec.name)
        for path, spec in zip(paths, eval_config.model_specs, strict=True)
    ]
    profile = cProfile.Profile()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        profile.enable()
        tfma.run_model_analysis(
            eval_shared_model=models if len(models) > 1 else models[0],
            eval_config=eval_config,
            data_location=location,
            file_format="tfrecords",
            output_path=out,
            pipeline_options=PipelineOptions(list(EVALUATOR_DIRECT_ARGS)),
        )
        profile.disable()
    print(f"TFMA on {location}: {time.monotonic() - started:.1f} s under cProfile")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    for label, share in group_shares(stats):
        print(f"{share:6.1%}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
