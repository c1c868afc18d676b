"""The inputs of `make kfp-check`, made inside the project's runtime (it needs TFX and TensorFlow).

    python -m container.kfp_prepare --root out/kfp-check --image localhost/multihead-tfx:local

Writes under `--root`: `data/` (the flights fixture's spans, plus span-102, a
copy of span 2 with every `delay_band` training label moved to another
class), `pipeline.json`, the fixture pipeline compiled for Kubeflow
Pipelines v2 with that data root, a pipeline root and serving folder under
`--root`, and the image for every task, and `check.json`, the names
container/kfp_check.py (stdlib only, on the host) needs from this project.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from container.kfp_check import FACTS_FILE, SPEC_FILE
from pipeline.config import REPO_ROOT, load_config

FIXTURE_CONFIG = REPO_ROOT / "tests" / "e2e" / "flights_fixture.yaml"
FIXTURE_DATA = REPO_ROOT / "tests" / "fixtures" / "flights"
CORRUPTED_HEAD = "delay_band"
CORRUPTED_SPAN = 102  # span 2's rows, CORRUPTED_HEAD's labels all wrong


def prepare(root: Path, image: str) -> Path:
    """Data and compiled spec under `root`; returns the spec's path."""
    from components.gate.component import DECISIONS_FILE
    from pipeline.data.corrupt import corrupt_span
    from pipeline.kubeflow import compile_pipeline, local_check_settings

    root = root.resolve()
    data = root / "data"
    if data.exists():
        shutil.rmtree(data)
    for span in (1, 2, 3):
        shutil.copytree(FIXTURE_DATA / f"span-{span}", data / f"span-{span}")
    config = load_config(FIXTURE_CONFIG).with_data(root=data)
    head = next(h for h in config.model.heads if h.name == CORRUPTED_HEAD)
    corrupt_span(data / "span-2", data / f"span-{CORRUPTED_SPAN}", head.label, head.kind, len(head.classes), 1.0, 0)
    facts = {"corrupted_head": CORRUPTED_HEAD, "corrupted_span": CORRUPTED_SPAN, "decisions_file": DECISIONS_FILE}
    (root / FACTS_FILE).write_text(json.dumps(facts, indent=2) + "\n")
    return compile_pipeline(config, root / SPEC_FILE, local_check_settings(config, root, image))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--image", required=True)
    args = parser.parse_args(argv)
    print(f"[kfp-check] compiled {prepare(args.root, args.image)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
