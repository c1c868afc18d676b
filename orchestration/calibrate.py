"""calibrate: how much does each head's gate metric move from seed to seed alone?

    python -m orchestration.calibrate [--config configs/flights.yaml] [--seeds 5] [--write-yaml gates.yaml]

Trains the config's window K times with seeds seed, seed+1, ... under
`<output_root>/calibrate` (its own pipeline root and serving folder: nothing
is pushed where the main job serves; ExampleGen, StatisticsGen and Transform
run once and are cached for the other seeds), evaluates each on the
evaluation span, and prints per head and gated slice the spread of the gate
metric and suggested allowances: 2 * sqrt(2) standard deviations, so that
the difference of two seed-only retrains stays inside them about 95% of the
time even before the gate's interval is taken into account; `max_regression`
from the overall slice, `slice_max_regression` from the noisiest gated slice.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from pathlib import Path

from components.gate.metrics import OVERALL
from pipeline.config import DEFAULT_CONFIG, PipelineConfig

SPREAD_TO_ALLOWANCE = 2 * math.sqrt(2)


def seeded(config: PipelineConfig, seed: int) -> PipelineConfig:
    trainer = dataclasses.replace(config.model.trainer, seed=seed)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, trainer=trainer))


def gate_values(config: PipelineConfig, evaluation_uri: str) -> dict[tuple[str, str], float]:
    """(head, slice) -> the candidate's gate metric, for the overall and gated slices."""
    from components.gate.component import gated_slice_names
    from components.gate.metrics import candidate, load_estimates

    metrics = load_estimates(evaluation_uri)
    gated = gated_slice_names(metrics, [s.features for s in config.slices if s.gated])
    values = {}
    for head in config.model.heads:
        key = head.gate_key
        for where in [OVERALL, *gated]:
            found = candidate(metrics.get(where, {}), head.name, key)
            if found is not None:
                values[(head.name, where)] = found.value
    return values


def calibrate(config: PipelineConfig, seeds: int, first_seed: int | None = None) -> dict[tuple[str, str], list[float]]:
    """Gate metric per (head, slice) over `seeds` trainings, seeds first_seed (default: the config's), +1, ..."""
    from orchestration.run_local import run_pipeline

    root = Path(config.output_root) / "calibrate"
    config = dataclasses.replace(config.with_output_root(root), serving_root=str(root / "serving"))
    spread: dict[tuple[str, str], list[float]] = {}
    for i in range(seeds):
        seed = (config.model.trainer.seed if first_seed is None else first_seed) + i
        print(f"[calibrate] seed {seed} ({i + 1} of {seeds}) ...", flush=True)
        artifacts, elapsed = run_pipeline(seeded(config, seed))
        for key, value in gate_values(config, artifacts.evaluation).items():
            spread.setdefault(key, []).append(value)
        print(f"[calibrate] seed {seed} done in {elapsed:.0f} s", flush=True)
    return spread


def suggestions(spread: dict[tuple[str, str], list[float]]) -> dict[str, dict[str, float]]:
    """Head -> suggested allowances: `max_regression` from the overall slice's spread,
    `slice_max_regression` from its noisiest gated slice (fewer examples, more noise).

    Only (head, slice) pairs with at least 2 seeds count.
    """
    result: dict[str, dict[str, float]] = {}
    for (head, where), values in spread.items():
        if len(values) < 2:
            continue
        allowance = SPREAD_TO_ALLOWANCE * statistics.stdev(values)
        setting = "max_regression" if where == OVERALL else "slice_max_regression"
        found = result.setdefault(head, {})
        found[setting] = max(found.get(setting, 0.0), allowance)
    return result


def table(spread: dict[tuple[str, str], list[float]]) -> list[str]:
    lines = [f"{'head':<16}{'slice':<24}{'mean':>10}{'std':>10}{'min':>10}{'max':>10}{'2.83 std':>10}"]
    for (head, where), values in sorted(spread.items()):
        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        lines.append(
            f"{head:<16}{where:<24}{statistics.fmean(values):>10.4f}{std:>10.4f}{min(values):>10.4f}"
            f"{max(values):>10.4f}{SPREAD_TO_ALLOWANCE * std:>10.4f}"
        )
    return lines


def yaml_snippet(suggested: dict[str, dict[str, float]], seeds: int) -> str:
    lines = [f"# gate allowances suggested by `calibrate` over {seeds} seeds (2.83 x the seed-to-seed std)"]
    for head, settings in sorted(suggested.items()):
        fields = ", ".join(f"{name}: {value:.4g}" for name, value in sorted(settings.items()))
        lines.append(f"{head}: {{{fields}}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seeds", type=int, default=5, help="how many trainings (K, at least 2)")
    parser.add_argument("--first-seed", type=int, help="seed of the first training (default: the config's)")
    parser.add_argument("--write-yaml", type=Path, help="also write the suggestions as a YAML snippet here")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        print("error: --seeds: a spread needs at least 2 trainings", file=sys.stderr)
        return 2
    from orchestration.run_local import load_for_command, show_progress

    show_progress()
    config = load_for_command(args.config)
    if config is None:
        return 2
    spread = calibrate(config, args.seeds, args.first_seed)
    print("\n".join(table(spread)))
    suggested = suggestions(spread)
    snippet = yaml_snippet(suggested, args.seeds)
    print(snippet, end="")
    if args.write_yaml:
        args.write_yaml.write_text(snippet)
        print(f"written to {args.write_yaml}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
