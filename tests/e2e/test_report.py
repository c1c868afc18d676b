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
        # Every number of the row with the decimals its interval's width needs (two significant digits).
        places = formats.row_decimals(overall)
        assert overall["interval"] and places == formats.decimals_for(overall["interval"])
        assert f"<td>{formats.metric(overall['candidate'], decimals=places)}</td>" in row
        assert f"<td>{formats.metric(overall['baseline'], decimals=places)}</td>" in row
        assert f"<td>{formats.signed(overall['change'], places)}</td>" in row
        low, high = (f"{bound:+,.{places}f}" for bound in overall["interval"])
        assert f"<td>{low} to {high}</td>" in row
        width = overall["interval"][1] - overall["interval"][0]
        assert 10 <= round(width * 10**places) < 100  # the width shows two significant digits
        assert ("FAIL" in row) == (not head["passed"])
    assert not re.search(r"\de[+-]\d", page)  # no scientific notation anywhere (counts were 2.702e+04)
    assert formats.count(27020.0) == "27,020" and formats.metric(0.7) == "0.7000"


def test_a_blocked_first_screen_has_one_line_per_failed_head_and_every_reason_under_it(runs):
    summary, page = report_of(runs["corrupted"])
    box = page[page.index('id="verdict"') : page.index('id="heads"')]
    lines = re.findall(r"<li>([^<]*)</li>", box.split("<details>")[0])
    failed = [h for h in summary["heads"] if not h["passed"]]
    assert [line.split(":")[0] for line in lines] == [h["name"] for h in failed] == [CORRUPTED_HEAD]
    (line,) = lines
    head = failed[0]
    overall = next(r for r in head["gate_rows"] if r["slice"] == "overall")
    places = formats.row_decimals(overall)
    assert line.startswith(
        f"{CORRUPTED_HEAD}: {head['gate']['key']} {formats.metric(overall['candidate'], decimals=places)}"
    )
    gated = [r for r in head["gate_rows"] if r["slice"] != "overall" and not r["too_small"]]
    failing = [r for r in gated if r["failures"]]
    assert f"{len(failing)} of {len(gated)} gated slices failed, the worst " in line
    details = box[box.index("<details>") :]
    assert f"All {len(summary['reasons'])} reasons" in details
    assert all(formats_reason in details for formats_reason in map(html_escaped, summary["reasons"]))


def html_escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
    )


def test_a_retrain_on_new_data_with_the_same_settings_says_only_the_data_changed(runs):
    """`clean` trained on span 2 with the settings and code of `first` (trained on span 1): the report
    says only the data changed, names the window by span folder, and names the data's splits as spans."""
    summary, page = report_of(runs["clean"])
    changes = summary["changes"]
    assert changes["known"] and changes["settings"] == [] and not changes["code_changed"]
    assert changes["window"] == {"baseline": ["span-1"], "candidate": ["span-2"]}
    assert changes["only_data"] and changes["rows_changed"]
    assert "Only the data changed: the same training settings and code." in page
    assert "Training window: span-1 -&gt; span-2" in page
    assert summary["data"]["train_split"] == "span-2" and summary["data"]["eval_split"] == "span-3"
    first_screen = page[: page.index("<section")]
    assert 'id="changes"' in first_screen  # on the first screen, before the heads' sections
    assert report_of(runs["first"])[0]["changes"] is None  # no baseline, nothing to compare


def test_a_retrain_with_other_trainer_settings_shows_those_settings_as_changed(runs, tmp_path):
    """The pipeline's Trainer run again on `first`'s inputs with fewer steps and another learning rate
    (tests/e2e/trainer_process.py): its model's training record against the pipeline model's names
    exactly those settings, old -> new, and says nothing else changed."""
    from components.report.changes import sentences, what_changed
    from tests.e2e.trainer_process import train, trainer_inputs, with_trainer_settings
    from trainer.training_record import read_record

    config, artifacts, _, _ = runs["first"]
    recorded = trainer_inputs(config.metadata_path)
    steps = config.model.trainer.train_steps // 2
    rate = config.model.trainer.learning_rate / 4
    retrained = train(with_trainer_settings(recorded, train_steps=steps, learning_rate=rate), tmp_path / "other")
    baseline = read_record(str(Path(artifacts.model) / "Format-Serving"))
    candidate = read_record(retrained)
    assert baseline and candidate and baseline["data"] == candidate["data"]  # the same rows
    window = {"train_1": "span-1", "eval": "span-2"}
    changes = what_changed(candidate, baseline, window, window)
    assert changes["settings"] == [
        {"setting": "trainer.learning_rate", "baseline": config.model.trainer.learning_rate, "candidate": rate},
        {"setting": "trainer.train_steps", "baseline": config.model.trainer.train_steps, "candidate": steps},
    ]
    assert not changes["only_data"] and not changes["window_changed"] and not changes["rows_changed"]
    assert sentences(changes) == [
        f"Setting trainer.learning_rate: {config.model.trainer.learning_rate} -> {rate}",
        f"Setting trainer.train_steps: {config.model.trainer.train_steps} -> {steps}",
    ]


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
    # Named as the span folders the splits read (trained on spans 1 and 2, evaluated on span 3).
    assert data["eval_split"] == "span-3" and data["train_split"] == "span-2"
    assert set(next(iter(data["labels"]))["rates"]) == {"span-1", "span-2", "span-3"}
    inputs = {key for feature in config.model.features for key in feature.raw_keys}
    assert {row["feature"] for row in data["features"]} == inputs
    distances = [row["distance"] for row in data["features"]]
    assert distances == sorted(distances, reverse=True) and all(0 <= d <= 1 for d in distances)
    band = next(label for label in data["labels"] if label["head"] == CORRUPTED_HEAD)
    assert band["rates"]["span-3"]["shares"][VERY_LATE] > 0.95  # every labelled row of the span: "very late"
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
