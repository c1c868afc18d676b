"""What writing tf.Transform's analyzer cache costs: Transform on a finished run's inputs, with and without.

    python -m bench.transform_cache --root out/bench/stages/mode-in_memory [--repeats 2]

Runs the root's recorded Transform execution again with TFX's executor
(tests/e2e/executions_again.py: the same inputs and properties, in this
process, in_memory), alternately with its `updated_analyzer_cache` output (TFX
then writes the cache) and without it (`disable_analyzer_cache=True`, what
pipeline/pipeline.py ships), and prints each wall time and the median ratio.
The cache could only pay off if a later run's splits had the same file
patterns; each run's ExampleGen writes new ones, so it is never read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
CACHE_OUTPUT = "updated_analyzer_cache"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="a pipeline output root with a finished run")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    from tests.e2e.executions_again import transform_again
    from tests.e2e.trainer_process import trainer_inputs

    metadata = str(args.root / "metadata.sqlite")
    graph = trainer_inputs(metadata)["inputs"]["transform_graph"]["uri"]
    times: dict[str, list[float]] = {"writes the cache": [], "no cache": []}
    for _ in range(args.repeats):  # alternate, so drift hits both alike
        for label, without in (("writes the cache", ()), ("no cache", (CACHE_OUTPUT,))):
            with tempfile.TemporaryDirectory(prefix="transform-cache-") as out:
                start = time.perf_counter()
                outputs = transform_again(metadata, graph, Path(out), BEAM_ARGS, without)
                times[label].append(time.perf_counter() - start)
                assert (CACHE_OUTPUT in outputs) == (not without), sorted(outputs)
    for label, values in times.items():
        runs = ", ".join(f"{value:.1f}" for value in values)
        print(f"Transform, {label}: median {statistics.median(values):.1f} s (runs: {runs})")
    ratio = statistics.median(times["no cache"]) / statistics.median(times["writes the cache"])
    print(f"ratio no cache / writes the cache: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
