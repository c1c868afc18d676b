"""A head added to the config since the blessed model was trained: the baseline has no output for it, so it
is judged on its thresholds and lift only, the other heads against the baseline, and the report says so."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from components.gate.component import DECISIONS_FILE
from components.report.component import HTML_FILE, JSON_FILE
from orchestration.exit_codes import ExitCode
from orchestration.run_local import exit_code, resolve_spans, run_pipeline
from pipeline.config import load_config
from tests.e2e.fixture_runs import CONFIG

pytestmark = pytest.mark.e2e

NEW_HEAD = "cancelled"


def test_a_new_head_is_judged_without_a_baseline_and_the_others_with_it(tmp_path):
    config = resolve_spans(load_config(CONFIG).with_output_root(tmp_path / "out"))
    without = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, heads=tuple(h for h in config.model.heads if h.name != NEW_HEAD)),
    )
    first, _ = run_pipeline(without)
    assert first.pushed, "the model without the new head is the baseline"

    second, _ = run_pipeline(config)
    assert second.baseline_model == first.model
    assert exit_code(second) in (ExitCode.PUSHED, ExitCode.BLOCKED)  # the run decided; it did not fail
    decisions = json.loads((Path(second.blessing) / DECISIONS_FILE).read_text())
    overall = {
        head["head"]: next(row for row in head["rows"] if row["slice"] == "overall") for head in decisions["heads"]
    }
    assert set(overall) == {head.name for head in config.model.heads}
    assert overall[NEW_HEAD]["candidate"] is not None
    assert overall[NEW_HEAD]["baseline"] is None and overall[NEW_HEAD]["change"] is None
    assert overall[NEW_HEAD]["lift"] is not None  # the naive predictor still judges it
    for name, row in overall.items():
        if name != NEW_HEAD:
            assert row["baseline"] is not None and row["interval"] is not None, name
    summary = json.loads((Path(second.report) / JSON_FILE).read_text())
    assert summary["new_heads"] == [NEW_HEAD]
    page = (Path(second.report) / HTML_FILE).read_text()
    assert f"New head {NEW_HEAD}: the baseline model has no output for it" in page
    assert f'id="new-head-{NEW_HEAD}"' in page
    setting = next(c for c in summary["changes"]["settings"] if c["setting"].startswith(f"heads[{NEW_HEAD}]"))
    assert setting["baseline"] is None  # and what changed names the head's settings as new
