"""The Evaluator and the Trainer at 1x, 8x and 32x today's rows: wall time and peak memory.

    python -m bench.scale [--config configs/flights.yaml] [--scales 1 8 32] [--stages evaluator trainer]
                          [--compare-with GIT_REF]

Synthetic windows, made from the newest run of the pipeline (run `make run`
twice first, so that there is a candidate and a baseline model): `scale` copies
of every row, copy 0 the row itself and each other copy with its float
features multiplied by (1 + 0.01 z), z drawn per value from a seed of (scale,
copy); labels, weights and integer (categorical) features are kept.

- Evaluator: the evaluation span's raw rows, scaled; TFMA with the pipeline's
  own EvalConfig, the two newest models as candidate and baseline, on Beam's
  DirectRunner in this process (as the pipeline's Evaluator runs).
- Evaluator floor: the same, with only TFMA's example count per slice: what
  reading, both models' predictions and slicing cost without the heads' metrics
  (and so without their frozen heap, components/gate/frozen_heap.py: the
  floor's growth is TFMA's finished extracts waiting for a full collection).
- Trainer: Transform's output for the window (every training split and the
  evaluation split), scaled; `run_fn` as TFX's Trainer calls it, with the
  settings of the newest Trainer that trained on the config's window.

Each measurement is a fresh process: its wall time from start to exit and
its peak resident memory (ru_maxrss), one after another, nothing else running.
`--compare-with REF` also runs that commit's code (a git worktree, made
beforehand with `git worktree add --detach out/bench/scale/tree-REF REF`) on
the same data, side by side. Goals: time at most linear in the rows (32x
rows in at most 32x the time); peak memory at 32x at most 1.5 times 1x's for
the Evaluator and 2 times for the Trainer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.config import DEFAULT_CONFIG

ROOT = Path("out/bench/scale")
STAGES = ("evaluator", "evaluator-floor", "trainer")  # evaluator-floor: TFMA reading and predicting only
NOISE = 0.01  # relative size of the perturbation of float features
REPO = Path(__file__).resolve().parent.parent


def perturbed_copies(records: list[bytes], keep: set[str], scale: int, shard: int):
    """`scale` copies of the serialized tf.Examples, each but the first with its float features (other
    than `keep`) perturbed: yields (copy, serialized rows of that copy)."""
    import tensorflow as tf

    examples = [tf.train.Example.FromString(record) for record in records]
    yield 0, records
    for copy in range(1, scale):
        rng = np.random.default_rng([scale, copy, shard])
        rows = []
        for example in examples:
            changed = tf.train.Example()
            changed.CopyFrom(example)
            for name, feature in changed.features.feature.items():
                if name in keep or not feature.float_list.value:
                    continue
                values = np.asarray(feature.float_list.value, dtype=np.float64)
                noise = 1 + NOISE * rng.standard_normal(len(values))
                feature.float_list.value[:] = (values * noise).astype(np.float32).tolist()
            rows.append(changed.SerializeToString())
        yield copy, rows


def write_scaled(source_files: list[Path], target: Path, keep: set[str], scale: int) -> int:
    """Every source file's rows, `scale` copies, one gzipped file per source file and copy; rows written."""
    import tensorflow as tf

    target.mkdir(parents=True, exist_ok=True)
    written = 0
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for shard, source in enumerate(source_files):
        records = list(tf.data.TFRecordDataset(str(source), compression_type="GZIP").as_numpy_iterator())
        for copy, rows in perturbed_copies(records, keep, scale, shard):
            with tf.io.TFRecordWriter(str(target / f"part-{shard:03d}-{copy:03d}.gz"), options) as writer:
                for row in rows:
                    writer.write(row)
            written += len(rows)
    return written


def prepare(config, scale: int) -> dict:
    """The scaled evaluation span and Transform output (written once per scale), and what they came from."""
    from bench.evaluator_profile import newest_models
    from tests.e2e.trainer_process import trainer_inputs

    folder = ROOT / f"x{scale}"
    recorded = trainer_inputs(config.metadata_path, newest=True, training_splits=config.data.window_size)
    examples = Path(recorded["inputs"]["examples"]["uri"])
    span = Path(config.data.root) / config.data.span_dir.format(span=config.data.eval_span)
    heads = config.model.heads
    raw_keep = {head.label for head in heads}
    transformed_keep = {key for head in heads for key in (head.training_label_key, head.weight_key)}
    done = folder / "prepared.json"
    if done.exists():
        return json.loads(done.read_text())
    started = time.monotonic()
    rows = {"evaluation span": write_scaled(sorted(span.glob("*")), folder / "eval-span", raw_keep, scale)}
    for split in sorted(examples.glob("Split-*")):
        rows[split.name] = write_scaled(
            sorted(split.glob("*")), folder / "transformed" / split.name, transformed_keep, scale
        )
    prepared = {
        "scale": scale,
        "rows": rows,
        "models": newest_models(config, 2),
        "recorded": recorded,
        "examples": str((folder / "transformed").resolve()),
        "eval_span": str((folder / "eval-span").resolve()),
        "seconds": round(time.monotonic() - started, 1),
    }
    done.write_text(json.dumps(prepared, indent=1))
    return prepared


def evaluate(config_path: Path, prepared: dict, floor: bool = False) -> None:
    """TFMA as the pipeline's Evaluator runs it, candidate and baseline, on the scaled span; `floor`:
    the same reading, both models' predictions and slicing, but only TFMA's example count per slice
    (what TFMA and Beam cost without the heads' metrics)."""
    import tempfile

    import tensorflow_model_analysis as tfma
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import load_config
    from pipeline.eval_config import build_eval_config
    from pipeline.pipeline import EVALUATOR_DIRECT_ARGS

    eval_config = build_eval_config(load_config(config_path))  # the heads and slices; no data is read
    if floor:
        del eval_config.metrics_specs[:]
        eval_config.metrics_specs.add().metrics.add(class_name="ExampleCount")
    models = [
        tfma.default_eval_shared_model(eval_saved_model_path=path, eval_config=eval_config, model_name=spec.name)
        for path, spec in zip(prepared["models"], eval_config.model_specs, strict=True)
    ]
    with tempfile.TemporaryDirectory() as out:
        tfma.run_model_analysis(
            eval_shared_model=models,
            eval_config=eval_config,
            data_location=str(Path(prepared["eval_span"]) / "*"),
            file_format="tfrecords",
            output_path=out,
            pipeline_options=PipelineOptions(list(EVALUATOR_DIRECT_ARGS)),
        )


def train(prepared: dict) -> None:
    """run_fn on the scaled Transform output with the recorded Trainer settings."""
    import tempfile

    from tests.e2e.trainer_process import train as run_trainer

    recorded = prepared["recorded"]
    recorded["inputs"]["examples"]["uri"] = prepared["examples"]
    with tempfile.TemporaryDirectory() as work:
        run_trainer(recorded, Path(work))


def measure(stage: str, prepared_path: Path, config_path: Path, tree: Path = REPO) -> dict:
    """One stage in a fresh process running `tree`'s code (this script, the rest imported from `tree`):
    wall seconds of the process, seconds of the stage itself (imports and TensorFlow's start left out),
    and the process's peak resident memory."""
    script = Path(__file__).resolve()
    command = [sys.executable, str(script), "--run", stage, str(prepared_path.resolve()), str(config_path.resolve())]
    started = time.monotonic()
    finished = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)}
    )
    seconds = time.monotonic() - started
    if finished.returncode != 0:
        raise SystemExit(f"{stage} failed in {tree}:\n{finished.stdout[-3000:]}\n{finished.stderr[-5000:]}")
    reported = json.loads(finished.stdout.strip().splitlines()[-1])
    return {"process_seconds": round(seconds, 1), **reported}


def worktree(ref: str) -> Path:
    """A checkout of `ref` beside this one (reused when it is there)."""
    path = ROOT / f"tree-{ref}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=REPO, check=True)
    return path.resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--compare-with", help="a git ref whose stages run on the same data, side by side")
    parser.add_argument("--run", nargs=3, metavar=("STAGE", "PREPARED", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        stage, prepared_path, config_path = args.run
        prepared = json.loads(Path(prepared_path).read_text())
        started = time.monotonic()
        if stage == "trainer":
            train(prepared)
        else:
            evaluate(Path(config_path), prepared, floor=stage == "evaluator-floor")
        stage_seconds = round(time.monotonic() - started, 1)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        print(json.dumps({"stage_seconds": stage_seconds, "peak_mib": round(peak / 1024)}))
        return 0
    from orchestration.run_local import load_for_command, resolve_spans

    config = load_for_command(args.config)
    if config is None:
        return 2
    config = resolve_spans(config)
    other = worktree(args.compare_with) if args.compare_with else None
    results = []
    for scale in args.scales:
        prepared = prepare(config, scale)
        prepared_path = ROOT / f"x{scale}" / "prepared.json"
        print(f"x{scale}: {prepared['rows']} (written in {prepared['seconds']} s)", flush=True)
        for stage in args.stages:
            found = measure(stage, prepared_path, args.config)
            results.append({"scale": scale, "stage": stage, "code": "this", **found})
            print(f"  {stage}: {found}", flush=True)
            if other and stage != "evaluator-floor":
                found = measure(stage, prepared_path, args.config, other)
                results.append({"scale": scale, "stage": stage, "code": args.compare_with, **found})
                print(f"  {stage} at {args.compare_with}: {found}", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
