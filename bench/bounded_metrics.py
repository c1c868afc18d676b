"""How far the Evaluator's bounded per-slice state is from the exact computation on every row.

    python -m bench.bounded_metrics [--config configs/flights.yaml]

Takes the two newest models of the config's pipeline (run `make run` twice, or
once after a first run: the newest is the candidate, the one before it the
baseline), serves both on the evaluation span's rows, and computes each head's
metrics on the overall slice and on every value of every configured slicing
twice: exactly from all rows (components/gate/paired_stats.py, today's
reference) and from the sums the Evaluator keeps (components/gate/head_sums.py,
folded a block at a time as the combiner does). Prints, per head, the largest
difference of each kind over all slices (slices with fewer rows than the
config's `min_slice_examples` apart, as the gate does not trust them), and the
largest AUC quantization bound. Goals: every AUC within 1e-4, every standard
error within 2%.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from components.gate.head_sums import BLOCK_ROWS
from pipeline.config import DEFAULT_CONFIG


def _slice_metrics(layout, rows: np.ndarray, block: int, fold_all: bool):
    """The slice's metrics as the Evaluator's combiner gets them: rows added, a full block folded, and
    the reader chosen as `extract_output` does (`fold_all`: folded whatever the slice's size)."""
    from components.gate.head_sums import HeadSums, reader

    accumulator = HeadSums()
    for row in rows.tolist():
        accumulator.pending.append(tuple(row))
        if accumulator.held() >= block:
            layout.fold(accumulator)
    return reader(layout, accumulator, 1 if fold_all else block)


def compare(config, block: int, fold_all: bool) -> str:
    from bench.evaluator_profile import newest_models
    from bench.gate_sensitivity import predict, read_records
    from components.gate import auc_bins, naive, paired_stats
    from components.gate.head_sums import SumsLayout, SumsReader
    from orchestration.run_local import resolve_spans

    config = resolve_spans(config)
    candidate_dir, baseline_dir = newest_models(config, 2)
    span_dir = Path(config.data.root) / config.data.span_dir.format(span=config.data.eval_span)
    heads = config.model.heads
    slicings = [s.features for s in config.slices]
    columns = naive.read_columns(str(span_dir), sorted({h.label for h in heads} | {c for g in slicings for c in g}))
    count = len(next(iter(columns.values())))
    masks = naive.slice_masks(columns, slicings, count)
    records = read_records(span_dir)
    candidate, baseline = predict(candidate_dir, records, heads), predict(baseline_dir, records, heads)
    lines = [
        f"Span {config.data.eval_span} ({count:,} rows), candidate {candidate_dir}, baseline {baseline_dir}; "
        f"{len(masks)} slices (overall and each value of {len(slicings)} slicings); rows folded {block} at a time; "
        + (
            "every slice folded."
            if fold_all
            else f"slices under {block} rows exact from their rows, as in the Evaluator."
        ),
        "",
        "| head | gate metric | slices (rows >= min; folded) | largest AUC difference | largest AUC bound | "
        "largest ratio-metric relative difference | largest SE relative difference (slice, rows) |",
        "|---|---|---|---|---|---|---|",
    ]
    for head in heads:
        labels, present = naive.label_array(columns[head.label], head.classes)
        metrics = [m for m in head.metrics if m in paired_stats.SUPPORTED]
        layout = SumsLayout(head.kind, metrics, head.gate.metric, len(head.classes), 2, [(0, 1)])
        worst_auc = worst_bound = worst_ratio = 0.0
        worst_se = (0.0, "", 0)
        counted = folded = 0
        for where, mask in masks.items():
            weights = (present & mask).astype(np.float64)
            n = int(weights.sum())
            if n < config.min_slice_examples:
                continue
            counted += 1
            keep = weights != 0
            c, b = candidate[head.name][keep].astype(np.float64), baseline[head.name][keep].astype(np.float64)
            y, w = labels[keep], weights[keep]
            rows = np.column_stack([w, y, c.reshape(n, -1), b.reshape(n, -1)])
            found = _slice_metrics(layout, rows, block, fold_all)
            is_folded = isinstance(found, SumsReader)
            folded += is_folded
            for metric in metrics:
                for model, predictions in enumerate((c, b)):
                    exact = paired_stats.value(metric, y, predictions, w)
                    if metric == "AUC":
                        worst_auc = max(worst_auc, abs(found.value(metric, model) - exact))
                        if is_folded:
                            sums = found._sums
                            bound = auc_bins.quantization_bound(
                                layout.fine_counts(sums, model, True), layout.fine_counts(sums, model, False)
                            )
                            worst_bound = max(worst_bound, bound)
                    else:
                        worst_ratio = max(
                            worst_ratio, abs(found.value(metric, model) - exact) / max(abs(exact), 1e-300)
                        )
            exact_change = paired_stats.paired_change(head.gate.metric, y, c, b, w)
            change = found.change(0)
            if exact_change.standard_error > 0 and math.isfinite(exact_change.standard_error):
                relative = abs(change.standard_error / exact_change.standard_error - 1)
                if relative >= worst_se[0]:
                    worst_se = (relative, where, n)
        lines.append(
            f"| {head.name} | {head.gate.metric} | {counted}; {folded} | {worst_auc:.2e} | {worst_bound:.2e} | "
            f"{worst_ratio:.1e} | {100 * worst_se[0]:.3f}% ({worst_se[1]}, {worst_se[2]:,}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--block", type=int, default=BLOCK_ROWS, help="rows folded at a time (the combiner's block)")
    parser.add_argument("--fold-all", action="store_true", help="fold every slice, small ones too (the worst case)")
    args = parser.parse_args(argv)
    from orchestration.run_local import load_for_command

    config = load_for_command(args.config)
    if config is None:
        return 2
    print(compare(config, args.block, args.fold_all), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
