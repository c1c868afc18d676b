"""Label corruption for checks of the gate: one head's training labels made wrong on purpose.

Used by bench/gate_trust.py (a fraction of the full data) and container/kfp_check.py
(the fixture, through the compiled Kubeflow pipeline).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def corrupt_span(source: Path, target: Path, label: str, kind: str, classes: int, fraction: float, seed: int) -> int:
    """Copies one span folder with `label` corrupted in `fraction` of the rows that have it; returns that count."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    target.mkdir(parents=True, exist_ok=True)
    changed = 0
    for path in sorted(source.glob("*.gz")):
        examples = [
            tf.train.Example.FromString(r)
            for r in tf.data.TFRecordDataset(str(path), compression_type="GZIP").as_numpy_iterator()
        ]
        rows = [e for e in examples if label in e.features.feature]
        chosen = [e for e in rows if rng.random() < fraction]
        if kind == "regression":
            values = [e.features.feature[label].float_list.value[0] for e in chosen]
            for example, value in zip(chosen, rng.permutation(values), strict=True):
                example.features.feature[label].float_list.value[:] = [float(value)]
        else:
            for example in chosen:
                feature = example.features.feature[label].int64_list
                old = feature.value[0]
                feature.value[:] = [1 - old] if kind == "binary" else [(old + int(rng.integers(1, classes))) % classes]
        changed += len(chosen)
        with tf.io.TFRecordWriter(str(target / path.name), options="GZIP") as writer:
            for example in examples:
                writer.write(example.SerializeToString())
    return changed
