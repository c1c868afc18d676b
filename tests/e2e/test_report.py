"""The per-head report on real evaluation outputs of the fixture pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.gate.component import DECISIONS_FILE
from components.report import formats
from components.report.component import HTML_FILE, JSON_FILE
from components.report.identity import artifact_location
from tests.e2e.fixture_runs import CORRUPTED_HEAD, VERY_LATE

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
    config = runs["corrupted"][0]
    head = next(h for h in config.model.heads if h.name == CORRUPTED_HEAD)  # the shipped head and gate
    for reason in summary["reasons"]:
        assert reason.startswith(f"Head {CORRUPTED_HEAD}: {head.gate_key} on slice ")
    ceiling = f"must be at most {head.gate.at_most:g}"
    assert any("on slice overall is" in reason and ceiling in reason for reason in summary["reasons"])
    heads = {h["name"]: h for h in summary["heads"]}
    assert [name for name, h in heads.items() if not h["passed"]] == [CORRUPTED_HEAD]
    gate_row = next(r for r in heads[CORRUPTED_HEAD]["overall"] if r["gated"])
    assert gate_row["passed"] is False and gate_row["baseline"] is not None
    # The gated slices come first, each group worst change first; gated origin slices carry a verdict.
    slices = heads[CORRUPTED_HEAD]["slices"]
    gated = [r for r in slices if r["gated"]]
    assert gated and slices[: len(gated)] == gated
    worst_first = not heads[CORRUPTED_HEAD]["higher_is_better"]  # a loss: the largest rise first
    for group in (gated, slices[len(gated) :]):
        changes = [r["change"] for r in group]
        assert None not in changes and changes == sorted(changes, reverse=worst_first)
    assert {r["slice"].split("=")[0] for r in gated} == {"origin"}
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
    from results import report

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


def test_the_first_screen_is_the_verdict_then_one_row_per_head_with_fixed_formats(runs):
    config, _, _, _ = runs["corrupted"]
    summary, page = report_of(runs["corrupted"])
    verdict, heads_table, first_section = page.index('id="verdict"'), page.index('id="heads"'), page.index("<section")
    assert verdict < heads_table < first_section
    table = page[heads_table : page.index("</table>", heads_table)]
    rows = re.findall(r"<tr><td><a href=\"#head-([^\"]+)\">", table)
    assert rows == [head.name for head in config.model.heads]
    for head in summary["heads"]:
        overall = next(r for r in head["gate_rows"] if r["slice"] == "overall")
        row = table[table.index(f'href="#head-{head["name"]}"') :].split("</tr>", 1)[0]
        assert f"<td>{head['gate']['key']}</td>" in row
        assert f"<td>{formats.metric(overall['candidate'])}</td>" in row and re.search(r"<td>\d+\.\d{4}</td>", row)
        assert f"<td>{formats.signed(overall['change'])}</td>" in row
        assert ("FAIL" in row) == (not head["passed"])
    assert not re.search(r"\de[+-]\d", page)  # no scientific notation anywhere (counts were 2.702e+04)
    assert formats.count(27020.0) == "27,020" and formats.metric(0.7) == "0.7000"


def test_without_a_baseline_slices_are_sorted_by_their_worst_value(runs):
    summary, _ = report_of(runs["first"])
    for head in summary["heads"]:
        higher_is_better = head["gate"]["at_least"] is not None
        slices = head["slices"]
        gated = [r for r in slices if r["gated"]]
        assert slices[: len(gated)] == gated
        for group in (gated, slices[len(gated) :]):
            values = [r["candidate"] for r in group]
            assert values == sorted(values, reverse=not higher_is_better), head["name"]


def test_history_lists_every_evaluation_blocked_pushed_and_not_the_cached_or_killed_ones(runs):
    first, corrupted, clean = (runs[name][1] for name in ("first", "corrupted", "clean"))
    summary, page = report_of(runs["clean"])
    assert runs["rerun"][1].report == clean.report  # the cached rerun reused the clean run's report
    gate_files = {
        artifact_location(run.blessing): json.loads((Path(run.blessing) / DECISIONS_FILE).read_text())
        for run in (first, corrupted, clean)
    }
    for head in summary["heads"]:
        history = head["history"]
        # Three decisions: the killed attempt of the clean run decided nothing, the cached rerun added none.
        # Read from the gate's records under the pipeline root, not from ML Metadata.
        blessings = [artifact_location(run.blessing) for run in (first, corrupted, clean)]
        assert [p["blessing"] for p in history] == blessings, head["name"]
        assert [p["pushed"] for p in history] == [True, False, True]
        assert [p["passed"] for p in history] == [True, head["name"] != CORRUPTED_HEAD, True]
        for point in history:
            decided = next(d for d in gate_files[point["blessing"]]["heads"] if d["head"] == head["name"])
            overall = next(r for r in decided["rows"] if r["slice"] == "overall")
            assert point["candidate"] == overall["candidate"] and point["baseline"] == overall["baseline"]
        assert history[0]["baseline"] is None and history[1]["baseline"] is not None
    assert page.count("over the evaluations of this pipeline") == len(summary["heads"])
    first_summary, _ = report_of(runs["first"])
    assert [len(head["history"]) for head in first_summary["heads"]] == [1] * len(first_summary["heads"])


def test_what_changed_in_the_data_shows_the_shifted_label_and_the_inputs_distances(runs):
    config, _, _, _ = runs["corrupted"]
    summary, page = report_of(runs["corrupted"])
    data = summary["data"]
    assert data["eval_split"] == "eval" and data["train_split"].startswith("train_")
    inputs = {key for feature in config.model.features for key in feature.raw_keys}
    assert {row["feature"] for row in data["features"]} == inputs
    distances = [row["distance"] for row in data["features"]]
    assert distances == sorted(distances, reverse=True) and all(0 <= d <= 1 for d in distances)
    band = next(label for label in data["labels"] if label["head"] == CORRUPTED_HEAD)
    assert band["rates"]["eval"]["shares"][VERY_LATE] > 0.95  # every labelled row of the span: "very late"
    assert band["rates"][data["train_split"]]["shares"][VERY_LATE] < 0.5
    heads = {h["name"]: h for h in summary["heads"]}
    assert heads[CORRUPTED_HEAD]["top_movers"] == data["features"][:5]  # next to the head that regressed
    assert all(h["top_movers"] == [] for h in heads.values() if h["passed"])
    assert 'id="data"' in page and "What moved most in the data" in page


def overall_gate_row(summary: dict, head: str) -> dict:
    section = next(h for h in summary["heads"] if h["name"] == head)
    return next(r for r in section["gate_rows"] if r["slice"] == "overall")


def test_compare_puts_two_runs_side_by_side(runs, tmp_path, capsys):
    import yaml

    from results import report

    config, _, _, _ = runs["rerun"]
    first, corrupted = runs["first"][1], runs["corrupted"][1]
    raw = yaml.safe_load(Path(config.source).read_text())
    raw["output_root"] = config.output_root
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    argv = ["--config", str(config_file), "--compare", first.run_id, corrupted.run_id, "--out", str(tmp_path / "c")]
    assert report.main(argv) == 0
    printed = capsys.readouterr().out
    page = (tmp_path / "c" / report.COMPARE_FILE).read_text()
    first_summary, corrupted_summary = report_of(runs["first"])[0], report_of(runs["corrupted"])[0]
    for head in config.model.heads:
        assert f'id="head-{head.name}"' in page
        a, b = overall_gate_row(first_summary, head.name), overall_gate_row(corrupted_summary, head.name)
        line = next(line for line in printed.splitlines() if line.strip().startswith(head.name))
        assert f"{formats.metric(a['candidate'])} -> {formats.metric(b['candidate'])}" in line
        assert f"({formats.signed(b['candidate'] - a['candidate'])})" in line
    assert page.count('<span class="fail">FAIL</span>') >= 1  # the corrupted head's verdict in the second run
    assert report.main(["--config", str(config_file), "--compare", "no-such-run", corrupted.run_id]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
