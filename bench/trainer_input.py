"""Trainer input efficiency: the Trainer's TFXIO pipeline vs. a hand-tuned tf.data.

    python -m bench.trainer_input [--config configs/flights.yaml] [--batch 256] [--repeats 3]

Reads the transformed training examples of the newest run of the pipeline
(run `make run` first) both ways, alternating, and reports examples/s of each
and their ratio (target >= 0.9: the input must not starve the model). Both iterate only: no
training step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
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


def tfxio_dataset(files: list[str], schema, specs, batch: int, tuned: bool = True) -> tf.data.Dataset:
    """What the Trainer iterates: TFXIO with trainer.data's options (or TFXIO's
    defaults, for comparison), then the split into (x, y, w)."""
    from tfx_bsl.public import tfxio

    source = tfxio.TFExampleRecord(file_pattern=files, schema=schema)
    options = (
        data.dataset_options(batch, seed=0, num_epochs=1)
        if tuned
        else tfxio.TensorFlowDatasetOptions(batch_size=batch, num_epochs=1)
    )
    dataset = source.TensorFlowDataset(options)
    return dataset.map(lambda b: data.split_batch(b, specs.features, specs.heads), num_parallel_calls=tf.data.AUTOTUNE)


def hand_tuned_dataset(files: list[str], feature_spec: dict, batch: int) -> tf.data.Dataset:
    """Parallel interleave over the gzipped shards, batch before parse, prefetch."""
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


def examples_per_second(dataset: tf.data.Dataset, key_of) -> tuple[float, int]:
    count, start = 0, time.perf_counter()
    for element in dataset:
        count += int(tf.shape(key_of(element))[0])
    return count / (time.perf_counter() - start), count


def main(argv: list[str] | None = None) -> int:
    import tensorflow_transform as tft

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output-root", type=Path, help="read that run's outputs instead of the config's")
    args = parser.parse_args(argv)
    config = load_config(args.config, {"output_root": str(args.output_root.resolve())} if args.output_root else None)
    specs = config.model
    examples_uri = newest_artifact(config, "Examples")  # Transform's output is the newest Examples
    graph = tft.TFTransformOutput(newest_artifact(config, "TransformGraph"))
    files = sorted(str(p) for p in Path(examples_uri).glob("Split-train_*/*.gz"))
    if not files:
        raise SystemExit(f"no transformed training files under {examples_uri}")
    schema = graph.transformed_metadata.schema
    feature_spec = graph.transformed_feature_spec()
    first_feature = specs.features[0].transformed
    tfxio_rates, tuned_rates, default_rates = [], [], []
    for _ in range(args.repeats):  # alternate, so drift hits all alike
        rate, n = examples_per_second(tfxio_dataset(files, schema, specs, args.batch), lambda e: e[0][first_feature])
        tfxio_rates.append(rate)
        rate, _ = examples_per_second(
            tfxio_dataset(files, schema, specs, args.batch, tuned=False), lambda e: e[0][first_feature]
        )
        default_rates.append(rate)
        rate, m = examples_per_second(hand_tuned_dataset(files, feature_spec, args.batch), lambda e: e[first_feature])
        tuned_rates.append(rate)
        assert n == m, (n, m)
    tfxio_rate, tuned_rate = statistics.median(tfxio_rates), statistics.median(tuned_rates)
    default_rate = statistics.median(default_rates)
    print(f"files: {len(files)} shards, {n} examples, batch {args.batch}, {args.repeats} alternating repeats")

    def runs(rates: list[float]) -> str:
        return ", ".join(f"{rate:,.0f}" for rate in rates)

    print(f"trainer input (TFXIO + split): {tfxio_rate:,.0f} examples/s (runs: {runs(tfxio_rates)})")
    print(f"TFXIO default options + split: {default_rate:,.0f} examples/s (runs: {runs(default_rates)})")
    print(f"hand-tuned tf.data:            {tuned_rate:,.0f} examples/s (runs: {runs(tuned_rates)})")
    print(
        f"ratio trainer/hand-tuned: {tfxio_rate / tuned_rate:.2f} (target >= 0.9); "
        f"TFXIO defaults/hand-tuned: {default_rate / tuned_rate:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
