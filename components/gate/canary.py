"""The canary: the candidate answers raw examples as a model server would, before it may be pushed.

The gate's metrics come from TFMA, which calls the model inside its own Beam
pipeline. A model that a server cannot load, or whose serving signature
needs a label, returns NaN or the wrong shape for a head, or is too slow,
could pass them. So the HeadGate also runs this check in a fresh Python
process (nothing the Trainer or TFMA loaded is reused): load the SavedModel,
strip every head's label from a sample of raw evaluation examples, call the
serving signature, and check each head's output: present, finite, one row
per example, the head's width (1 for regression and binary, one column per
class for multiclass), and the batch's time within a budget.

    python -m components.gate.canary MODEL_DIR SPLIT_DIR HEADS_JSON
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from trainer.specs import HeadSpec

SAMPLE = 256  # raw evaluation examples, one batch
BUDGET_MS = 2000.0  # for that batch on a 2-core machine, after one warm-up call (flights measured: 3.1 ms)
SIGNATURE = "serving_default"


def check(model_dir: str, split_dir: str, heads: Sequence[HeadSpec]) -> dict[str, Any]:
    """Runs in the fresh process: the canary's findings as JSON-ready data."""
    import numpy as np
    import tensorflow as tf

    from contracts import storage

    labels = {head.label for head in heads}
    batch = []
    for path in storage.glob(storage.join(split_dir, "*")):  # a local path or object storage
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP").take(SAMPLE - len(batch)):
            example = tf.train.Example.FromString(record.numpy())
            for label in labels:
                if label in example.features.feature:
                    del example.features.feature[label]
            batch.append(example.SerializeToString())
        if len(batch) >= SAMPLE:
            break
    if not batch:
        return {"passed": False, "examples": 0, "reasons": [f"the canary found no evaluation example in {split_dir}"]}
    signature = tf.saved_model.load(model_dir).signatures[SIGNATURE]
    inputs = tf.constant(batch)
    signature(examples=inputs)  # warm-up: tracing and first-call allocation are not what a server pays per request
    started = time.perf_counter()
    outputs = signature(examples=inputs)
    batch_ms = (time.perf_counter() - started) * 1000
    reasons = []
    for head in heads:
        name, width = head.name, head.output_units
        if name not in outputs:
            reasons.append(f"serving canary: the serving signature has no output for head {name}")
            continue
        values = outputs[name].numpy()
        if values.shape != (len(batch), width):
            reasons.append(
                f"serving canary: head {name} answered shape {list(values.shape)} for {len(batch)} examples; "
                f"expected [{len(batch)}, {width}]"
            )
        bad = int(np.size(values) - np.isfinite(values).sum())
        if bad:
            reasons.append(f"serving canary: head {name} answered {bad} non-finite value(s) (NaN or infinity)")
    if batch_ms > BUDGET_MS:
        reasons.append(
            f"serving canary: {len(batch)} examples took {batch_ms:.0f} ms; the budget is {BUDGET_MS:.0f} ms"
        )
    return {"passed": not reasons, "examples": len(batch), "batch_ms": round(batch_ms, 1), "reasons": reasons}


TIMEOUT_S = 600


def start_canary(model_dir: str, split_dir: str, heads: Sequence[HeadSpec]) -> subprocess.Popen:
    """The canary started in a fresh process; the caller does other work meanwhile (its imports and the
    model's loading take most of its time) and then calls `canary_result`."""
    specs = json.dumps([dataclasses.asdict(head) for head in heads])
    command = [sys.executable, "-m", __name__, model_dir, split_dir, specs]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def canary_result(process: subprocess.Popen) -> dict[str, Any]:
    """The started canary's findings; a crash, a timeout or a model that does not load is a failed
    canary, not an error."""
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"passed": False, "examples": 0, "reasons": [f"serving canary: no answer in {TIMEOUT_S} s"]}
    if process.returncode == 0 and stdout.strip():
        return json.loads(stdout.strip().splitlines()[-1])
    last = (stderr.strip().splitlines() or ["no output"])[-1]
    return {"passed": False, "examples": 0, "reasons": [f"serving canary: the model did not answer ({last})"]}


def run_canary(model_dir: str, split_dir: str, heads: Sequence[HeadSpec]) -> dict[str, Any]:
    """The canary in a fresh process, waited for."""
    return canary_result(start_canary(model_dir, split_dir, heads))


def main(argv: Sequence[str]) -> int:
    model_dir, split_dir, heads = argv
    print(json.dumps(check(model_dir, split_dir, [HeadSpec.from_dict(head) for head in json.loads(heads)])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
