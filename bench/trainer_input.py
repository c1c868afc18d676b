"""Trainer input: speed against a hand-tuned tf.data, and peak memory at 1x and 4x the window.

    python -m bench.trainer_input [--config configs/flights.yaml] [--batch 256] [--repeats 3]
    python -m bench.trainer_input --memory [--scales 1 4]

Reads the transformed training examples of the newest run of the pipeline (run
`make run` first). Speed: the Trainer's input (trainer.data: the whole window
in its seeded order, one pass) and a hand-tuned file-order tf.data, alternating;
examples/s of each and their ratio (the input must not starve the model).
Memory: for each scale, a fresh process builds the Trainer's input over the
window's files linked `scale` times under other names (so `scale` times the
rows, of the same size) and iterates one pass; its peak RSS and the peak before the input was
built (TensorFlow imported), side by side.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from pipeline.config import DEFAULT_CONFIG, load_config
from results.metadata import open_store
from trainer import data


def newest_artifact(config, type_name: str) -> str:
    store = open_store(config.metadata_path)
    artifacts = store.get_artifacts_by_type(type_name)
    if not artifacts:
        raise SystemExit(f"no {type_name} in {config.metadata_path}: run `make run` first")
    return max(artifacts, key=lambda a: a.id).uri


def hand_tuned_dataset(files: list[str], feature_spec: dict, batch: int) -> tf.data.Dataset:
    """Parallel interleave over the gzipped shards, batch before parse, prefetch: file order, no shuffle."""
    return (
        tf.data.Dataset.from_tensor_slices(files)
        .interleave(
            lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
            cycle_length=tf.data.AUTOTUNE,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        .batch(batch)
        .map(lambda records: tf.io.parse_example(records, feature_spec), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def examples_per_second(make_dataset, key_of) -> tuple[float, int]:
    """Rate from building the dataset (the Trainer's reads the window here) to the end of one pass."""
    count, start = 0, time.perf_counter()
    for element in make_dataset():
        count += int(tf.shape(key_of(element))[0])
    return count / (time.perf_counter() - start), count


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_pass_memory(files: list[str], graph_uri: str, config_path: str, batch: int) -> dict:
    """In this process: RSS before the input exists, then the peak over one pass of the Trainer's input."""
    import tensorflow_transform as tft

    specs = load_config(Path(config_path)).model
    feature_spec = tft.TFTransformOutput(graph_uri).transformed_feature_spec()
    before = peak_rss_mib()
    rows = 0
    columns = data.canonical_columns(files, feature_spec)
    for x, _, _ in data.seeded_batches(columns, batch, seed=0, num_epochs=1).map(
        lambda b: data.split_batch(b, specs.features, specs.heads)
    ):
        rows += int(tf.shape(next(iter(x.values())))[0])
    window_mib = sum(values.nbytes for values in columns.values()) / 2**20
    return {"rows": rows, "window_mib": window_mib, "rss_before_mib": before, "peak_rss_mib": peak_rss_mib()}


def memory(files: list[str], graph_uri: str, config_path: Path, batch: int, scales: list[int]) -> None:
    print("scale | rows | parsed window | RSS before the input | peak RSS | peak - before")
    links = Path(tempfile.mkdtemp(prefix="trainer-input-"))
    for scale in scales:
        copies = []  # the window's files `scale` times, under other names (the input reads each file once)
        for copy in range(scale):
            for path in map(Path, files):
                link = links / f"copy{copy}-{path.parent.name}-{path.name}"
                if not link.exists():
                    link.symlink_to(path)
                copies.append(str(link))
        spec = json.dumps({"files": copies, "graph": graph_uri, "config": str(config_path), "batch": batch})
        done = subprocess.run(
            [sys.executable, "-m", "bench.trainer_input", "--one-pass", spec],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{scale}x | {result['rows']:,} | {result['window_mib']:.0f} MiB | {result['rss_before_mib']:.0f} MiB"
            f" | {result['peak_rss_mib']:.0f} MiB | {result['peak_rss_mib'] - result['rss_before_mib']:.0f} MiB"
        )


def main(argv: list[str] | None = None) -> int:
    import tensorflow_transform as tft

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output-root", type=Path, help="read that run's outputs instead of the config's")
    parser.add_argument("--memory", action="store_true", help="peak memory at --scales instead of speed")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--one-pass", help=argparse.SUPPRESS)  # the child process of --memory
    args = parser.parse_args(argv)
    if args.one_pass:
        spec = json.loads(args.one_pass)
        print(json.dumps(one_pass_memory(spec["files"], spec["graph"], spec["config"], spec["batch"])))
        return 0
    config = load_config(args.config, {"output_root": str(args.output_root.resolve())} if args.output_root else None)
    specs = config.model
    examples_uri = newest_artifact(config, "Examples")  # Transform's output is the newest Examples
    graph_uri = newest_artifact(config, "TransformGraph")
    files = sorted(str(p) for p in Path(examples_uri).glob("Split-train_*/*.gz"))
    if not files:
        raise SystemExit(f"no transformed training files under {examples_uri}")
    if args.memory:
        memory(files, graph_uri, args.config, args.batch, args.scales)
        return 0
    feature_spec = tft.TFTransformOutput(graph_uri).transformed_feature_spec()
    first_feature = specs.features[0].transformed
    trainer_rates, tuned_rates = [], []
    for _ in range(args.repeats):  # alternate, so drift hits both alike
        rate, n = examples_per_second(
            lambda: data.make_dataset(
                data.canonical_columns(files, feature_spec), specs.features, specs.heads, args.batch, 0, num_epochs=1
            ),
            lambda e: e[0][first_feature],
        )
        trainer_rates.append(rate)
        rate, m = examples_per_second(
            lambda: hand_tuned_dataset(files, feature_spec, args.batch), lambda e: e[first_feature]
        )
        tuned_rates.append(rate)
        assert n == m, (n, m)
    trainer_rate, tuned_rate = statistics.median(trainer_rates), statistics.median(tuned_rates)
    print(f"files: {len(files)} shards, {n} examples, batch {args.batch}, {args.repeats} alternating repeats")

    def runs(rates: list[float]) -> str:
        return ", ".join(f"{rate:,.0f}" for rate in rates)

    print(f"trainer input (whole window, seeded order): {trainer_rate:,.0f} examples/s (runs: {runs(trainer_rates)})")
    print(f"hand-tuned tf.data (file order):            {tuned_rate:,.0f} examples/s (runs: {runs(tuned_rates)})")
    print(f"ratio trainer/hand-tuned: {trainer_rate / tuned_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
