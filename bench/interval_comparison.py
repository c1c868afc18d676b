"""The gate's analytic standard error against TFMA's jackknife, side by side on one evaluation.

    python -m bench.interval_comparison [--config configs/flights.yaml]

Takes the newest evaluation of the config's pipeline that had a baseline (run
`make run` twice, the second with another seed, first), reads the analytic
standard error of each head's gate-metric change on the overall slice and each
gated slice (components/gate/head_metrics.py), then evaluates the same two
models on the same span with TFMA's jackknife (20 delete-one samples, TFMA's
random buckets, the overall slice and the gated slicings only), twice: over
the head metric's own value of the gate metric (the same definition: only the
error estimate differs) and over TFMA's own metric class (AUC on 10,000
thresholds; MeanAbsoluteError with TFMA 0.52's merge that counts the first of
a list of partial results twice). Prints the three per head and slice, with
the ratios, as a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from contracts.spans import span_folder
from pipeline.config import DEFAULT_CONFIG, load_config


def evaluations_with_baseline(config) -> list:
    """The config's Evaluator outputs whose producing execution had a baseline, newest first."""
    from ml_metadata.proto import metadata_store_pb2

    from results.metadata import open_store

    store = open_store(config.metadata_path)
    found = []
    for evaluation in sorted(store.get_artifacts_by_type("ModelEvaluation"), key=lambda a: -a.id):
        events = store.get_events_by_artifact_ids([evaluation.id])
        producers = [e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
        inputs = {}
        for event in store.get_events_by_execution_ids(producers):
            if event.type == metadata_store_pb2.Event.INPUT:
                key = next(step.key for step in event.path.steps if step.HasField("key"))
                inputs.setdefault(key, []).append(event.artifact_id)
        if inputs.get("baseline_model"):
            (model,) = store.get_artifacts_by_id(inputs["model"][:1])
            (baseline,) = store.get_artifacts_by_id(inputs["baseline_model"][:1])
            found.append((evaluation.uri, model.uri, baseline.uri))
    return found


def jackknife_errors(config, model_uri: str, baseline_uri: str, out: str, *, exact: bool) -> dict:
    """slice -> head -> (change, standard error) from TFMA's jackknife over TFMA's own gate metric, or
    (`exact`) over the head metric's own value of it (the same definition as the analytic one)."""
    import tensorflow_model_analysis as tfma
    from apache_beam.options.pipeline_options import PipelineOptions
    from tensorflow_model_analysis.proto import config_pb2

    from components.gate import head_metrics
    from components.gate.metrics import CANDIDATE, load_estimates
    from pipeline.eval_config import build_eval_config, slicing_specs
    from pipeline.pipeline import EVALUATOR_DIRECT_ARGS

    eval_config = build_eval_config(config)
    del eval_config.metrics_specs[:]
    for head in config.model.heads:
        spec = eval_config.metrics_specs.add(output_names=[head.name])
        if exact:  # no change key: TFMA's automatic difference of the two models' values is resampled
            settings = {
                "kind": head.kind,
                "metrics": [head.gate.metric],
                "gate_metric": None,
                "classes": len(head.classes),
            }
            spec.metrics.add(class_name="HeadMetrics", module=head_metrics.__name__, config=json.dumps(settings))
        else:
            spec.metrics.add(class_name=head.gate.metric)
    del eval_config.slicing_specs[:]
    eval_config.slicing_specs.extend(slicing_specs([s for s in config.slices if s.gated]))
    eval_config.options.compute_confidence_intervals.value = True
    eval_config.options.confidence_intervals.method = config_pb2.ConfidenceIntervalOptions.JACKKNIFE
    models = [
        tfma.default_eval_shared_model(
            eval_saved_model_path=str(Path(uri) / "Format-Serving"), eval_config=eval_config, model_name=spec.name
        )
        for uri, spec in zip((model_uri, baseline_uri), eval_config.model_specs, strict=True)
    ]
    data = Path(config.data.root) / span_folder(config.data.span_dir, config.data.eval_span) / "*"
    tfma.run_model_analysis(
        eval_shared_model=models,
        eval_config=eval_config,
        data_location=str(data),
        file_format="tfrecords",
        output_path=out,
        pipeline_options=PipelineOptions(list(EVALUATOR_DIRECT_ARGS)),
    )
    result: dict = {}
    for where, values in load_estimates(out).items():
        for head in config.model.heads:
            found = values.get((head.name, head.gate_key, CANDIDATE, True))
            if found is not None:
                result.setdefault(where, {})[head.name] = (found.value, found.standard_error)
    return result


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def main(argv: list[str] | None = None) -> int:
    from components.gate.component import gated_slice_names
    from components.gate.metrics import OVERALL, candidate, change_key, load_estimates
    from orchestration.run_local import resolve_spans

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    config = resolve_spans(load_config(args.config))
    found = evaluations_with_baseline(config)
    if not found:
        raise SystemExit(f"no evaluation with a baseline in {config.metadata_path}: run `make run` twice")
    evaluation, model, baseline = found[0]
    analytic = load_estimates(evaluation)
    jackknives, seconds = [], []
    for exact in (True, False):
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as out:
            jackknives.append(jackknife_errors(config, model, baseline, out, exact=exact))
        seconds.append(time.monotonic() - started)
    gated = gated_slice_names(analytic, [s.features for s in config.slices if s.gated])
    print(
        f"\nEvaluation {evaluation} (candidate {model}, baseline {baseline}); TFMA's jackknife took "
        f"{seconds[0]:.0f} s over the exact metric, {seconds[1]:.0f} s over TFMA's own.\n"
    )
    print(
        "| head | slice | change | SE analytic | SE jackknife, same metric | ratio | "
        "change, TFMA's metric | SE jackknife, TFMA's metric | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for head in config.model.heads:
        for where in [OVERALL, *gated]:
            mine = candidate(analytic.get(where, {}), head.name, change_key(head.gate_key))
            same, theirs = (j.get(where, {}).get(head.name) for j in jackknives)
            if mine is None or same is None or theirs is None:
                continue
            print(
                f"| {head.name} | {where} | {mine.value:+.5f} | {mine.standard_error:.5f} | {same[1]:.5f} "
                f"| {ratio(mine.standard_error, same[1])} | {theirs[0]:+.5f} | {theirs[1]:.5f} "
                f"| {ratio(mine.standard_error, theirs[1])} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
