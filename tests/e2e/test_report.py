"""The per-head report on real evaluation outputs of the fixture pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.gate.component import DECISIONS_FILE
from components.report.component import HTML_FILE, JSON_FILE
from tests.e2e.fixture_runs import CORRUPTED_HEAD

pytestmark = pytest.mark.e2e


def report_of(run) -> tuple[dict, str]:
    _, artifacts, _, _ = run
    assert artifacts.report, "the PerHeadReport component wrote no artifact"
    folder = Path(artifacts.report)
    return json.loads((folder / JSON_FILE).read_text()), (folder / HTML_FILE).read_text()


def test_blocked_run_names_the_regressed_head_and_slice_and_no_other(runs):
    summary, page = report_of(runs["corrupted"])
    _, artifacts, _, _ = runs["corrupted"]
    decisions = json.loads((Path(artifacts.blessing) / DECISIONS_FILE).read_text())
    assert summary["verdict"] == "blocked" and summary["pushed"] is False and not summary["blessed"]
    assert decisions["blessed"] is False and decisions["evaluation"] == artifacts.evaluation
    failures = [f for head in decisions["heads"] for row in head["rows"] for f in row["failures"]]
    assert summary["reasons"] == failures and failures  # one sentence per failure, nothing invented
    for reason in summary["reasons"]:
        assert reason.startswith(f"Head {CORRUPTED_HEAD}: sparse_categorical_accuracy on slice ")
    assert any("on slice overall is" in reason and "must be at least 0.45" in reason for reason in summary["reasons"])
    heads = {h["name"]: h for h in summary["heads"]}
    assert [name for name, h in heads.items() if not h["passed"]] == [CORRUPTED_HEAD]
    gate_row = next(r for r in heads[CORRUPTED_HEAD]["overall"] if r["gated"])
    assert gate_row["passed"] is False and gate_row["baseline"] is not None
    # The worst slice comes first, and gated origin slices carry a verdict.
    slices = heads[CORRUPTED_HEAD]["slices"]
    changes = [r["change"] for r in slices if r["change"] is not None]
    assert changes == sorted(changes)
    assert {r["slice"].split("=")[0] for r in slices if r["gated"]} == {"origin"}
    assert 'id="verdict"' in page and "Blocked" in page
    for name in heads:
        assert f'id="head-{name}"' in page


def test_pushed_run_says_so_with_every_head_passing(runs):
    summary, page = report_of(runs["first"])
    assert summary["verdict"] == "pushed" and summary["reasons"] == []
    assert all(h["passed"] for h in summary["heads"])
    assert "Pushed: every head passed" in page
    kinds = {h["name"]: set(h["plots"]) for h in summary["heads"]}
    assert "calibration" in kinds["late"]
    assert "confusion" in kinds["delay_band"]
    assert "predicted_vs_actual" in kinds["arrival_delay"]
    assert summary["identity"]["baseline model"].startswith("none")


def test_small_slices_are_marked(runs):
    config, _, _, _ = runs["clean"]
    summary, page = report_of(runs["clean"])
    rows = [r for h in summary["heads"] for r in h["slices"]]
    assert any(r["too_small"] for r in rows)
    for row in rows:
        weight = row["weighted_examples"] if row["weighted_examples"] is not None else row["examples"]
        assert row["too_small"] == (weight < config.min_slice_examples)
    assert "too small to trust" in page


def test_report_command_renders_the_latest_run(runs, tmp_path, capsys):
    from pipeline import report

    config, artifacts, _, _ = runs["rerun"]
    config_file = tmp_path / "config.yaml"
    import yaml

    raw = yaml.safe_load(Path(config.source).read_text())
    raw["output_root"] = config.output_root
    config_file.write_text(yaml.safe_dump(raw))
    assert report.main(["--config", str(config_file), "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "Verdict: PUSHED" in printed
    written = json.loads((tmp_path / "r" / JSON_FILE).read_text())
    assert written["identity"]["run"] == artifacts.run_id
    assert (tmp_path / "r" / HTML_FILE).read_text().startswith("<!DOCTYPE html>")
    # Outside any run: from the gate's folder alone (its gate.json names the evaluation).
    assert report.main(["--config", str(config_file), "--gate", artifacts.blessing, "--out", str(tmp_path / "g")]) == 0
    assert "Verdict: BLESSED" in capsys.readouterr().out


def ui_artifact(run, output: str) -> str:
    """A value artifact of the same PerHeadReport execution (TFX: <component>/<output>/<execution>/value)."""
    _, artifacts, _, _ = run
    report = Path(artifacts.report)
    return (report.parents[1] / output / report.name / "value").read_text()


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row, with the renderer's backslash escapes removed."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("| "):
            rows.append([re.sub(r"\\(.)", r"\1", cell.strip()) for cell in line.strip("|").split(" | ")])
    return rows


def test_the_kubeflow_ui_artifacts_carry_the_report_and_its_first_screen(runs):
    _, page = report_of(runs["corrupted"])
    assert ui_artifact(runs["corrupted"], "report_html") == page
    markdown = ui_artifact(runs["corrupted"], "report_markdown")
    assert markdown.startswith("# Blocked: not pushed\n")
    assert "## Failing slices" in markdown
    per_head, failing = markdown.split("## Failing slices", 1)
    head_rows = [cells for cells in table_rows(per_head) if cells[0] == CORRUPTED_HEAD]
    assert len(head_rows) == 1 and head_rows[0][-1] == "**FAIL**"
    assert {cells[0] for cells in table_rows(failing)} == {"head", CORRUPTED_HEAD}
    pushed = ui_artifact(runs["first"], "report_markdown")
    assert pushed.startswith("# Pushed: every head passed\n") and "Failing slices" not in pushed
