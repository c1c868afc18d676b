"""How fast do pushed models serve? Their serving signatures side by side, on the same raw examples.

    python -m bench.serving --model NAME=SAVED_MODEL_DIR [--model ...] [--span-dir DIR]
                            [--rounds 3] [--seconds 1.0]

For each batch size (1, 64, 1024, 8192) every model is called with the same
serialized raw tf.Examples of one span (labels included: the signature parses
only what serving carries), in `--rounds` rounds that alternate the models so
that drift on a busy machine hits all alike; a round calls one model for at
least `--seconds` after a warm-up call. Reported per model: rows/s at each
batch size (the median over rounds), p50 and p99 latency of one-row calls, the
`transform_features` signature's time at 1024 rows (parsing and tf.Transform,
the part every model shares), and the number of variables the SavedModel
holds in its checkpoint. Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BATCHES = (1, 64, 1024, 8192)
LATENCY_CALLS = 1000  # one-row calls per round for the latency percentiles
DEFAULT_SPAN = Path("out/data/flights/span-12")


def raw_examples(span_dir: Path, count: int) -> list[bytes]:
    """Up to `count` serialized examples of the span's files (gzipped TFRecords), in file order."""
    import tensorflow as tf

    files = sorted(str(path) for path in span_dir.glob("*") if path.is_file())
    if not files:
        raise SystemExit(f"no TFRecord files in {span_dir}: run `make run` (it writes the spans) or pass --span-dir")
    rows = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)
    return [row.numpy() for row in rows]


def rows_per_second(call: Callable[[], object], batch: int, seconds: float) -> float:
    call()  # warm-up: tracing and the first allocation are paid once per server, not per request
    calls, started = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and calls >= 3:
            return calls * batch / elapsed


def one_row_latencies_ms(call: Callable[[], object]) -> list[float]:
    call()
    latencies = []
    for _ in range(LATENCY_CALLS):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def stored_variables(saved_model_dir: str) -> int:
    """The variables the SavedModel's checkpoint holds (an optimizer's slots included, if saved with it)."""
    import tensorflow as tf

    names = [name for name, _ in tf.train.list_variables(f"{saved_model_dir}/variables/variables")]
    return sum(not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH") for name in names)


def measure(models: dict[str, str], examples: list[bytes], rounds: int, seconds: float) -> dict[str, dict]:
    import tensorflow as tf

    loaded = {name: tf.saved_model.load(path) for name, path in models.items()}
    inputs = {batch: tf.constant((examples * (batch // len(examples) + 1))[:batch]) for batch in BATCHES}
    results = {
        name: {"rates": {b: [] for b in BATCHES}, "latencies": [], "transform": [], "variables": stored_variables(path)}
        for name, path in models.items()
    }
    for round_ in range(rounds):
        order = list(loaded) if round_ % 2 == 0 else list(loaded)[::-1]
        for name in order:
            serve = loaded[name].signatures["serving_default"]
            transform = loaded[name].signatures["transform_features"]
            for batch in BATCHES:
                rate = rows_per_second(lambda s=serve, b=batch: s(examples=inputs[b]), batch, seconds)
                results[name]["rates"][batch].append(rate)
            results[name]["latencies"] += one_row_latencies_ms(lambda s=serve: s(examples=inputs[1]))
            rate = rows_per_second(lambda t=transform: t(examples=inputs[1024]), 1024, seconds)
            results[name]["transform"].append(1024 / rate * 1000)
            print(f"round {round_ + 1}/{rounds}: {name} done", file=sys.stderr, flush=True)
    return results


def markdown(results: dict[str, dict], models: dict[str, str], rows: int) -> str:
    names = list(results)
    first = names[0]
    lines = [
        "| model | variables | " + " | ".join(f"rows/s at {b:,}" for b in BATCHES) + " | p50 / p99 ms at 1 row "
        "| transform_features ms at 1,024 |",
        "|---|---|" + "---|" * len(BATCHES) + "---|---|",
    ]
    for name in names:
        result = results[name]
        rates = {b: statistics.median(result["rates"][b]) for b in BATCHES}
        cells = []
        for batch in BATCHES:
            cell = f"{rates[batch]:,.0f}"
            if name != first:
                cell += f" ({rates[batch] / statistics.median(results[first]['rates'][batch]):.2f}x)"
            cells.append(cell)
        latency = result["latencies"]
        lines.append(
            f"| {name} | {result['variables']} | "
            + " | ".join(cells)
            + f" | {percentile(latency, 0.5):.2f} / {percentile(latency, 0.99):.2f}"
            + f" | {statistics.median(result['transform']):.1f} |"
        )
    sources = "; ".join(f"`{name}`: {path}" for name, path in models.items())
    return (
        "\n".join(lines)
        + f"\n\nMedians over rounds; ratios against `{first}`; {rows:,} distinct raw examples. Models: {sources}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR", help="a SavedModel to serve")
    parser.add_argument("--span-dir", type=Path, default=DEFAULT_SPAN, help="raw examples to serve")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="least time per model, batch size and round")
    args = parser.parse_args(argv)
    models = {}
    for given in args.model:
        name, _, path = given.partition("=")
        if not path or not (Path(path) / "saved_model.pb").exists():
            parser.error(f"--model {given!r}: expected NAME=DIR, DIR a SavedModel folder (with saved_model.pb)")
        models[name] = path
    examples = raw_examples(args.span_dir, max(BATCHES))
    results = measure(models, examples, args.rounds, args.seconds)
    print(markdown(results, models, len(examples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
