"""Does this machine's tf.matmul give a row the same bits alone as inside a batch?

    python -m bench.matmul_batch_invariance

Why trainer/layers.py's BatchInvariantDense exists: on some CPUs TensorFlow's
matrix multiply accumulates each output in an order that depends on the batch
size, so a model scores the same row differently as TFMA or a client batches
it. Whether it does is a property of the CPU and its kernels, not of this
project, so it is measured here, not asserted by a test; the project's own
promise (a row gets the same bits in any batch) is tested on every machine
(tests/trainer/test_model.py). Prints, per shape and batch size, how many
batches differ from the same rows inside the 64-row batch.
"""

from __future__ import annotations

import platform

import numpy as np

SHAPES = ((40, 16), (64, 32), (128, 64), (256, 128))  # (inputs, outputs) of a dense layer
BATCH_SIZES = (1, 2, 3, 7, 16, 32)
ROWS = 64


def differing_batches(inputs: int, outputs: int, size: int, seed: int = 0) -> tuple[int, int]:
    """(batches of `size` rows whose product differs from the same rows of the whole, batches)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, inputs)).astype(np.float32)
    w = rng.normal(size=(inputs, outputs)).astype(np.float32)
    whole = tf.matmul(x, w).numpy()
    starts = range(0, ROWS - size + 1, size)
    differ = sum(not np.array_equal(tf.matmul(x[i : i + size], w).numpy(), whole[i : i + size]) for i in starts)
    return differ, len(starts)


def main() -> int:
    flags = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            line = next(line for line in cpuinfo if line.startswith("flags"))
        flags = " ".join(sorted(flag for flag in line.split() if flag.startswith(("avx512f", "amx", "avx2"))))
    except (OSError, StopIteration):
        pass
    print(f"machine: {platform.processor() or platform.machine()} {flags}")
    any_differ = False
    for inputs, outputs in SHAPES:
        cells = []
        for size in BATCH_SIZES:
            differ, total = differing_batches(inputs, outputs, size)
            any_differ |= differ > 0
            cells.append(f"{size} rows: {differ}/{total}")
        print(f"{inputs:>4} x {outputs:<4} " + ", ".join(cells))
    print("tf.matmul is " + ("NOT batch-invariant here" if any_differ else "batch-invariant here at these shapes"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
