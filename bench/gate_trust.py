"""Gate trust on the full flights data: seed noise, false blocks, and injected regressions.

    python -m bench.gate_trust [--config configs/flights.yaml] [--seeds 6] [--fraction 0.45]
                               [--gated-slices-only]

In its own output root (`<output_root>/bench-gate-trust`: nothing touches the
main job's pipeline root or serving folder):

1. trains the config's window with seeds s, s+1, ... on unchanged data, one
   pipeline run each, as a scheduler would: run 1 is the first blessed model,
   every later run is a retrain gated against the latest blessed model. The
   gate metric's spread over the seeds is the noise; every blocked retrain is
   a false block;
2. for one regression, one binary and one multiclass head, corrupts that
   head's labels in `--fraction` of the training rows (regression: shuffled
   among the corrupted rows; binary: flipped; multiclass: moved to another
   class), keeps the evaluation span clean, trains with the first seed and
   gates against the latest model blessed by step 1 (each injected run starts
   from a copy of step 1's ML Metadata, so no corrupted model becomes a
   baseline): the run must be blocked with that head named; any other head
   named is compared with its seed spread.

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
from pathlib import Path

from converters.corrupt import corrupt_span
from orchestration.calibrate import gate_values, seeded
from pipeline.config import DEFAULT_CONFIG, PipelineConfig, load_config


def run(config: PipelineConfig) -> tuple[object, dict]:
    from components.gate.component import read_decisions
    from orchestration.run_local import run_pipeline

    artifacts, elapsed = run_pipeline(config)
    print(f"[bench] run {artifacts.run_id}: blessed={artifacts.blessed} in {elapsed:.0f} s", flush=True)
    return artifacts, read_decisions(artifacts.blessing)


def had_baseline(decided: dict) -> bool:
    """A run gated against an earlier blessed model (the first run of a fresh root has none)."""
    return any(overall_change(decided, h["head"])[0] is not None for h in decided["heads"])


def overall_change(decided: dict, head: str) -> tuple[float | None, list | None]:
    row = next(h for h in decided["heads"] if h["head"] == head)["rows"][0]
    return row["change"], row["interval"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seeds", type=int, default=6, help="trainings on unchanged data (the first is the baseline)")
    parser.add_argument("--fraction", type=float, default=0.45, help="share of a head's training labels corrupted")
    parser.add_argument(
        "--first-seed",
        type=int,
        help="seed of the first training (default: the config's trainer.seed); with new seeds in a root that "
        "already has a blessed model, every run is a retrain: an out-of-sample false-block count",
    )
    parser.add_argument(
        "--heads",
        nargs="*",
        default=["arrival_delay", "late", "delay_band"],
        help="heads to corrupt one at a time (none: seed runs only)",
    )
    parser.add_argument(
        "--lift-not-gated",
        nargs="*",
        default=[],
        metavar="HEAD",
        help="heads whose naive lift is reported, not gated (min_lift: null): without a blessed first model no "
        "change rule is exercised, and a head that cannot beat its naive predictor blocks every run",
    )
    parser.add_argument(
        "--gated-slices-only",
        action="store_true",
        help="evaluate only the overall slice and the gated slicings: the same decisions, a cheaper Evaluator",
    )
    args = parser.parse_args(argv)

    from orchestration.run_local import ensure_flights_data, resolve_spans, show_progress

    show_progress()
    base = load_config(args.config)
    ensure_flights_data(base)
    base = resolve_spans(base)
    lift_reported_only = tuple(
        dataclasses.replace(h, gate=dataclasses.replace(h.gate, min_lift=None)) if h.name in args.lift_not_gated else h
        for h in base.model.heads
    )
    base = dataclasses.replace(base, model=dataclasses.replace(base.model, heads=lift_reported_only))
    if args.gated_slices_only:
        base = dataclasses.replace(base, slices=tuple(s for s in base.slices if s.gated))
    root = Path(base.output_root) / "bench-gate-trust"
    base = dataclasses.replace(base.with_output_root(root), serving_root=str(root / "serving"))
    first_seed = base.model.trainer.seed if args.first_seed is None else args.first_seed

    spread: dict[tuple[str, str], list[float]] = {}
    retrains = []
    for i in range(args.seeds):
        config = seeded(base, first_seed + i)
        artifacts, decided = run(config)
        for key, value in gate_values(config, artifacts.evaluation).items():
            spread.setdefault(key, []).append(value)
        if had_baseline(decided):
            failed = [h["head"] for h in decided["heads"] if not h["passed"]]
            retrains.append((first_seed + i, artifacts.blessed, failed, decided))

    std = {key: statistics.stdev(v) for key, v in spread.items() if len(v) > 1}
    # Every injected run starts from the ML Metadata of the seed runs, in its own output root, so
    # that a corrupted model that passes never becomes the next injected run's baseline.
    clean_metadata = root / "metadata-before-injections.sqlite"
    if not clean_metadata.exists():
        shutil.copyfile(base.metadata_path, clean_metadata)
    injected = []
    heads = {h.name: h for h in base.model.heads}
    for name in args.heads:
        head = heads[name]
        injected_root = root / f"injected-{name}-{args.fraction:g}"
        shutil.rmtree(injected_root, ignore_errors=True)
        injected_root.mkdir(parents=True)
        shutil.copyfile(clean_metadata, injected_root / "metadata.sqlite")
        data_root = root / f"data-{name}-corrupted"
        changed = 0
        for span in base.data.train_spans:
            folder = base.data.span_dir.format(span=span)
            changed += corrupt_span(
                Path(base.data.root) / folder,
                data_root / folder,
                head.label,
                head.kind,
                len(head.classes),
                args.fraction,
                seed=span,
            )
        eval_folder = base.data.span_dir.format(span=base.data.eval_span)
        if not (data_root / eval_folder).exists():
            shutil.copytree(Path(base.data.root) / eval_folder, data_root / eval_folder)
        config = seeded(base.with_data(root=str(data_root)), first_seed).with_output_root(injected_root)
        config = dataclasses.replace(config, serving_root=str(injected_root / "serving"))
        artifacts, decided = run(config)
        named = [h["head"] for h in decided["heads"] if not h["passed"]]
        others = {}
        for other in named:
            change, interval = overall_change(decided, other)
            others[other] = (change, interval, std.get((other, "overall")))
        injected.append((name, head.kind, changed, artifacts.blessed, named, others, decided))

    print("\n## Gate trust (`python -m bench.gate_trust`)\n")
    print(f"Seeds {first_seed}..{first_seed + args.seeds - 1}, unchanged data; gate metric per head and gated slice:\n")
    print("| head | slice | mean | std over seeds | min | max |")
    print("|---|---|---|---|---|---|")
    for (head, where), values in sorted(spread.items()):
        print(
            f"| {head} | {where} | {statistics.fmean(values):.4f} | {std.get((head, where), float('nan')):.4f} "
            f"| {min(values):.4f} | {max(values):.4f} |"
        )
    blocked = [r for r in retrains if not r[1]]
    print(f"\nFalse blocks: {len(blocked)} of {len(retrains)} seed-only retrains on unchanged data.")
    for seed, blessed, named, decided in retrains:
        print(f"- seed {seed}: {'passed' if blessed else 'BLOCKED on ' + ', '.join(named)}")
        for head in decided["heads"]:
            change, interval = overall_change(decided, head["head"])
            where = "" if interval is None else f" [{interval[0]:+.4f}, {interval[1]:+.4f}]"
            print(f"  - {head['head']}: overall change {change:+.4f}{where}")
        for reason in (r for h in decided["heads"] for r in h["reasons"]):
            print(f"  - reason: {reason}")
    if injected:
        print(f"\nInjected regressions ({args.fraction:.0%} of one head's training labels corrupted):\n")
    for name, kind, changed, blessed, named, others, decided in injected:
        print(
            f"- {name} ({kind}, {changed:,} labels corrupted): {'NOT blocked' if blessed else 'blocked'}; "
            f"heads named: {', '.join(named) or 'none'}"
        )
        for other, (change, interval, noise) in others.items():
            where = "" if interval is None else f", interval {interval[0]:+.4f} to {interval[1]:+.4f}"
            noise_text = "n/a" if noise is None else f"{noise:.4f}"
            print(
                f"  - {other}: overall change {change if change is None else f'{change:+.4f}'}{where}; "
                f"seed std {noise_text}"
            )
        for reason in next((h["reasons"] for h in decided["heads"] if h["head"] == name), []):
            print(f"  - reason: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
