"""What each head's gate catches: the smallest injected regression it blocks at least 4 times in 5.

    python -m bench.gate_sensitivity [--config configs/flights.yaml] [--root out/pipelines/flights/calibrate]
                                     --baseline-seed 42 --candidate-seeds 53 54 55 56 57

Reads the models that `make calibrate` trained (their seeds from ML Metadata)
and the evaluation span's raw rows. Each candidate is a seed retrain of the
same window, the realistic "nothing changed" model; a regression is injected
into ONE head's predictions at a time, of strength e, with noise fixed per row
(drawn from the candidate's seed):

- regression head: prediction + e x sd(label) x z;
- binary head: logit(p) + e x z;
- multiclass head: log p_k + e x z_k for each class, renormalized;

z standard normal. Each perturbed candidate meets the baseline in the gate's
own code (components/gate/paired_stats.py for the change and its standard
error, components/gate/decide.py for the rule) on the overall slice and every
gated slice, as the HeadGate would. e = 0 is the out-of-sample seed retrain
itself: a block there is a false block. Prints, per head, the share of
candidates blocked at each strength with the mean change of the gate metric,
and the smallest change blocked at least 4 times in 5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.config import DEFAULT_CONFIG, PipelineConfig
from trainer.specs import HeadSpec

STRENGTHS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.4, 2.0)
CAUGHT = 0.8  # blocked at least 4 times in 5


def models_by_seed(metadata_path: str) -> dict[int, str]:
    """Seed -> serving model folder of every completed Trainer run in a pipeline root's ML Metadata."""
    from ml_metadata.proto import metadata_store_pb2

    from results.metadata import open_store

    store = open_store(metadata_path)
    types = {t.id: t.name for t in store.get_execution_types()}
    found = {}
    for execution in store.get_executions():
        if not types[execution.type_id].endswith("Trainer"):
            continue
        if execution.last_known_state != metadata_store_pb2.Execution.COMPLETE:
            continue
        seed = json.loads(execution.custom_properties["custom_config"].string_value)["trainer"]["seed"]
        for event in store.get_events_by_execution_ids([execution.id]):
            if event.type == metadata_store_pb2.Event.OUTPUT and event.path.steps[0].key == "model":
                (model,) = store.get_artifacts_by_id([event.artifact_id])
                found[seed] = f"{model.uri}/Format-Serving"
    return found


def read_records(span_dir: Path) -> list[bytes]:
    """The span's serialized rows in naive.read_columns' order (sorted files, each read through)."""
    import tensorflow as tf

    return [
        record
        for path in sorted(span_dir.glob("*"))
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP").as_numpy_iterator()
    ]


def predict(model_dir: str, records: list[bytes], heads: Sequence[HeadSpec]) -> dict[str, np.ndarray]:
    """Each head's served prediction (label units, probability, class probabilities) for every row."""
    import tensorflow as tf

    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    outputs: dict[str, list] = {head.name: [] for head in heads}
    for start in range(0, len(records), 4096):
        batch = serve(examples=tf.constant(records[start : start + 4096]))
        for head in heads:
            outputs[head.name].append(batch[head.name].numpy())
    return {
        head.name: (lambda v: v if head.kind == "multiclass" else v.reshape(-1))(np.concatenate(outputs[head.name]))
        for head in heads
    }


def perturbed(head: HeadSpec, predictions: np.ndarray, strength: float, noise: np.ndarray, label_sd: float):
    if strength == 0:
        return predictions
    if head.kind == "regression":
        return predictions + strength * label_sd * noise[:, 0]
    if head.kind == "binary":
        p = np.clip(predictions.astype(np.float64), 1e-7, 1 - 1e-7)
        return 1 / (1 + np.exp(-(np.log(p / (1 - p)) + strength * noise[:, 0])))
    logits = np.log(np.clip(predictions.astype(np.float64), 1e-7, 1)) + strength * noise[:, : predictions.shape[1]]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def decision(config: PipelineConfig, head: HeadSpec, labels, weights, candidate, baseline, masks):
    """The HeadGate's decision for one head, from the gate's own statistics and rule (no lift rule: the
    naive predictor does not change with the candidate)."""
    from components.gate import decide, paired_stats
    from components.gate.metrics import BASELINE, CANDIDATE, OVERALL, Estimate, change_key

    key, metric = head.gate_key, head.gate.metric
    table = {}
    for where, mask in masks.items():
        w = weights * mask
        if w.sum() == 0:
            continue
        change = paired_stats.paired_change(metric, labels, candidate, baseline, w)
        table[where] = {
            (head.name, key, CANDIDATE, False): Estimate(paired_stats.value(metric, labels, candidate, w)),
            (head.name, key, BASELINE, False): Estimate(paired_stats.value(metric, labels, baseline, w)),
            (head.name, change_key(key), CANDIDATE, False): Estimate(
                change.value, change.standard_error, change.degrees_of_freedom
            ),
            (head.name, "weighted_example_count", CANDIDATE, False): Estimate(float(w.sum())),
        }
    gated = [where for where in table if where != OVERALL]
    made = decide.decide_head(head, table, {}, "not used", gated, config.min_slice_examples, config.confidence)
    return made, table[OVERALL][(head.name, change_key(key), CANDIDATE, False)].value


def sensitivity(config: PipelineConfig, root: Path, baseline_seed: int, candidate_seeds: Sequence[int]) -> str:
    from components.gate import naive, paired_stats
    from orchestration.run_local import resolve_spans

    config = resolve_spans(config)
    models = models_by_seed(str(root / "metadata.sqlite"))
    missing = [s for s in [baseline_seed, *candidate_seeds] if s not in models]
    if missing:
        raise SystemExit(f"no model trained with seed(s) {missing} under {root} (found {sorted(models)})")
    span_dir = Path(config.data.root) / config.data.span_dir.format(span=config.data.eval_span)
    heads = config.model.heads
    gated_columns = [s.features for s in config.slices if s.gated]
    columns = naive.read_columns(
        str(span_dir), sorted({h.label for h in heads} | {c for g in gated_columns for c in g})
    )
    rows = len(next(iter(columns.values())))
    masks = naive.slice_masks(columns, gated_columns, rows)
    records = read_records(span_dir)
    assert len(records) == rows
    baseline = predict(models[baseline_seed], records, heads)
    candidates = {seed: predict(models[seed], records, heads) for seed in candidate_seeds}
    lines = [
        f"Baseline seed {baseline_seed}; candidates: seed retrains {list(candidate_seeds)}, evaluated on span "
        f"{config.data.eval_span} ({rows:,} rows); a regression injected into one head at a time.",
        "",
        "| head (gate metric) | strength e | blocked | mean change overall (min, max) | as % of the baseline |",
        "|---|---|---|---|---|",
    ]
    summary = []
    for index, head in enumerate(heads):
        labels, present = naive.label_array(columns[head.label], head.classes)
        weights = present.astype(np.float64)
        label_sd = float(np.std(labels[present]))
        base_value = paired_stats.value(head.gate.metric, labels, baseline[head.name], weights)
        caught = None
        for strength in STRENGTHS:
            blocked, changes = 0, []
            for seed in candidate_seeds:
                noise = np.random.default_rng([seed, index, 2026]).standard_normal((rows, max(1, len(head.classes))))
                made, change = decision(
                    config,
                    head,
                    labels,
                    weights,
                    perturbed(head, candidates[seed][head.name], strength, noise, label_sd),
                    baseline[head.name],
                    masks,
                )
                blocked += not made.passed
                changes.append(change)
            mean = statistics.fmean(changes)
            lines.append(
                f"| {head.name} ({head.gate.metric}) | {strength:g} | {blocked} of {len(candidate_seeds)} | "
                f"{mean:+.4f} ({min(changes):+.4f}, {max(changes):+.4f}) | {100 * mean / base_value:+.1f}% |"
            )
            if caught is None and blocked >= CAUGHT * len(candidate_seeds):
                caught = (strength, mean, 100 * mean / base_value)
        summary.append((head, base_value, caught))
    lines += ["", "| head | gate metric (baseline) | allowance (overall) | smallest change blocked 4 in 5 |"]
    lines.append("|---|---|---|---|")
    for head, base_value, caught in summary:
        found = f"{caught[1]:+.4f} ({caught[2]:+.1f}%; e = {caught[0]:g})" if caught else "none in the grid"
        lines.append(
            f"| {head.name} | {head.gate.metric} ({base_value:.4f}) | {head.gate.max_regression} "
            f"({100 * head.gate.max_regression / base_value:.1f}%) | {found} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--root", type=Path, help="the calibrate root (default: <output_root>/calibrate)")
    parser.add_argument("--baseline-seed", type=int, required=True)
    parser.add_argument("--candidate-seeds", type=int, nargs="+", required=True)
    args = parser.parse_args(argv)
    from orchestration.run_local import load_for_command

    config = load_for_command(args.config)
    if config is None:
        return 2
    root = args.root or Path(config.output_root) / "calibrate"
    print(sensitivity(config, root, args.baseline_seed, args.candidate_seeds), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
