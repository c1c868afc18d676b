"""Bring your own data, end to end: a CSV -> a drafted schema and config (TFDV's inference) -> span
folders -> a first run of the real pipeline that validates, trains, gates and pushes."""

from __future__ import annotations

import pytest
import yaml

from converters import csv_spans, draft_schema
from orchestration.exit_codes import ExitCode
from orchestration.run_local import exit_code, resolve_spans, run_pipeline
from pipeline.config import load_config

pytestmark = pytest.mark.e2e

LABELS = ["species", "sex", "body_mass_g"]


def test_a_csv_becomes_a_first_pushed_run_with_a_drafted_schema_and_config(tmp_path):
    csv = csv_spans.packaged_csv("palmerpenguins", "penguins.csv")
    schema, config_file, data = tmp_path / "schema.pbtxt", tmp_path / "mine.yaml", tmp_path / "data"
    assert draft_schema.main([
        "--csv", str(csv), "--name", "mine", *(f"--label={label}" for label in LABELS),
        "--span-column", "year", "--schema-out", str(schema), "--config-out", str(config_file),
        "--data-root", str(data),
    ]) == 0  # fmt: skip
    drafted = yaml.safe_load(config_file.read_text())
    assert [(h["name"], h["kind"]) for h in drafted["heads"]] == [
        ("species", "multiclass"),
        ("sex", "binary"),
        ("body_mass_g", "regression"),
    ]
    assert drafted["heads"][0]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]  # from the inferred domain
    assert "year" not in {f["name"] for f in drafted["features"]}  # the span column says when, not what
    assert 'not_in_environment: "SERVING"' in schema.read_text()
    assert (
        csv_spans.main(["--csv", str(csv), "--schema", str(schema), "--span-column", "year", "--out", str(data)]) == 0
    )
    assert sorted(p.name for p in data.iterdir()) == ["span-2007", "span-2008", "span-2009"]

    raw = yaml.safe_load(config_file.read_text())
    raw["output_root"] = str(tmp_path / "out")
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = resolve_spans(load_config(config_file))
    assert (config.data.train_spans, config.data.eval_span) == ((2007, 2008), 2009)
    artifacts, _ = run_pipeline(config)
    assert artifacts.blessed and artifacts.pushed
    assert exit_code(artifacts) == ExitCode.PUSHED
