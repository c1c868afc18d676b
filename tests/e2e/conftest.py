"""The fixture pipeline's sequence of runs, shared by the end-to-end and report tests.

One pipeline root, as a scheduler would use it:
  1. first run (no baseline);
  2. a new evaluation span where ONE head's labels are corrupted;
  3. clean data, a longer training window;
  4. the same again with no new data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline import outcome
from pipeline.config import load_config
from pipeline.run_local import run_pipeline
from tests.e2e.fixture_runs import CONFIG, VERY_LATE, corrupt_labels, snapshot


@pytest.fixture(scope="session")
def runs(tmp_path_factory, flights_fixture_dir):
    """The four runs; each entry: (config, artifacts, outcomes, serving snapshot)."""
    work = tmp_path_factory.mktemp("flights_e2e")
    corrupted_root = work / "data_corrupted"
    for span in (1, 2):
        shutil.copytree(flights_fixture_dir / f"span-{span}", corrupted_root / f"span-{span}")
    corrupt_labels(flights_fixture_dir / "span-3", corrupted_root / "span-3", "delay_band", VERY_LATE)

    base = load_config(CONFIG).with_output_root(work / "out")
    plan = {
        "first": base.with_data(train_spans=(1,), eval_span=2),
        "corrupted": base.with_data(root=corrupted_root, train_spans=(1, 2), eval_span=3),
        "clean": base.with_data(train_spans=(1, 2), eval_span=3),
        "rerun": base.with_data(train_spans=(1, 2), eval_span=3),
    }
    results = {}
    for name, config in plan.items():
        artifacts, _ = run_pipeline(config)
        outcomes = outcome.head_outcomes(config, artifacts)
        results[name] = (config, artifacts, outcomes, snapshot(Path(config.serving_dir)))
    return results
