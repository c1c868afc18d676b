"""The inputs of `make kfp-check`, made inside the project's runtime (it needs TFX and TensorFlow).

    python -m container.kfp_prepare --root out/kfp-check --image localhost/multihead-tfx:local

Writes under `--root`: `data/` (the flights fixture's spans 1 and 2),
`staging/` (span-3, a copy of span 2 with every `delay_band` label moved to
another class, and span-4, the fixture's span 3: kfp_check moves them into
`data/` between runs, as new spans arrive), `pipeline.yaml`, the fixture
pipeline with a one-span rolling window (`data.train_window: 1`) compiled
for Kubeflow Pipelines v2 as `make compile` compiles it (a stock install's
MinIO as the pipeline root; the data root, serving folder and decision
records under `--root`, which stands in for the volume every task mounts;
the image for every task), `pipeline.json`, the same package as JSON for the
harness, and `check.json`, the names container/kfp_check.py (stdlib only,
on the host) needs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from container.kfp_check import FACTS_FILE, PIPELINE_ROOT, SPEC_FILE
from pipeline.config import REPO_ROOT, load_config

FIXTURE_CONFIG = REPO_ROOT / "tests" / "e2e" / "flights_fixture.yaml"
FIXTURE_DATA = REPO_ROOT / "tests" / "fixtures" / "flights"
CORRUPTED_HEAD = "delay_band"
CORRUPTED_SPAN = 3  # span 2's rows, CORRUPTED_HEAD's labels all wrong: the next run trains on it


def prepare(root: Path, image: str) -> Path:
    """Data and compiled spec under `root`; returns the spec's path."""
    from tfx.utils.path_constants import SERVING_MODEL_DIR

    from components.gate.component import CHANGE_SUFFIX, DECISIONS_FILE
    from components.report.component import JSON_FILE as REPORT_SUMMARY_FILE
    from converters.corrupt import corrupt_span
    from orchestration.kfp_package import read_package
    from orchestration.kubeflow import compile_pipeline, local_check_settings
    from trainer.training_record import RECORD_FILE

    root = root.resolve()
    data, staging = root / "data", root / "staging"
    for folder in (data, staging):
        if folder.exists():
            shutil.rmtree(folder)
    for span in (1, 2):
        shutil.copytree(FIXTURE_DATA / f"span-{span}", data / f"span-{span}")
    shutil.copytree(FIXTURE_DATA / "span-3", staging / "span-4")
    config = load_config(FIXTURE_CONFIG).with_data(root=data, train_spans=(), eval_span=None, train_window=1)
    head = next(h for h in config.model.heads if h.name == CORRUPTED_HEAD)
    corrupted = staging / f"span-{CORRUPTED_SPAN}"
    corrupt_span(data / "span-2", corrupted, head.label, head.kind, len(head.classes), 1.0, 0)
    facts = {
        "corrupted_head": CORRUPTED_HEAD,
        "corrupted_span": CORRUPTED_SPAN,
        "decisions_file": DECISIONS_FILE,
        "gate_metric_suffix": CHANGE_SUFFIX,
        "gate_metrics": [f"{h.name}.{h.gate_key}" for h in config.evaluation_plan().heads],
        "report_summary_file": REPORT_SUMMARY_FILE,
        "training_record_file": f"{SERVING_MODEL_DIR}/{RECORD_FILE}",  # under the model URI
        "data": data.name,
        "staging": staging.name,
    }
    (root / FACTS_FILE).write_text(json.dumps(facts, indent=2) + "\n")
    package = compile_pipeline(config, root / "pipeline.yaml", local_check_settings(config, root, image, PIPELINE_ROOT))
    (root / SPEC_FILE).write_text(json.dumps(read_package(package), indent=2) + "\n")
    return package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--image", required=True)
    args = parser.parse_args(argv)
    print(f"[kfp-check] compiled {prepare(args.root, args.image)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
