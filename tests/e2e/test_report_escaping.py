"""Values from data are shown as text in the report, never run as markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.gate.decide import decide_head
from components.gate.metrics import load_estimates
from components.report.render import render_html
from components.report.summary import build_summary
from pipeline.config import SliceSpec
from pipeline.eval_config import build_eval_config
from tests.helpers import span_examples, write_records

pytestmark = pytest.mark.e2e

HOSTILE = '<script>document.title="pwned"</script>'


def test_a_slice_value_with_a_script_tag_is_escaped(runs, flights_fixture_dir, tmp_path):
    import dataclasses

    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import config_pb2

    config, artifacts, _, _ = runs["clean"]
    config = dataclasses.replace(config, slices=(SliceSpec(features=("dest",), gated=False),))
    eval_config = build_eval_config(config)
    del eval_config.model_specs[1:]  # the candidate alone
    eval_config.model_specs[0].name = ""
    eval_config.options.compute_confidence_intervals.value = False  # this run is about rendering

    data = tmp_path / "hostile.tfrecord"
    examples = span_examples(flights_fixture_dir / "span-3")
    for example in examples[::3]:
        example.features.feature["dest"].bytes_list.value[:] = [HOSTILE.encode()]
    write_records(data, examples)
    model = tfma.default_eval_shared_model(
        eval_saved_model_path=str(Path(artifacts.model) / "Format-Serving"), eval_config=eval_config
    )
    output = tmp_path / "evaluation"
    tfma.run_model_analysis(
        eval_shared_model=model,
        eval_config=eval_config,
        data_location=str(data),
        output_path=str(output),
        file_format="tfrecords",
    )
    assert isinstance(eval_config, config_pb2.EvalConfig)

    plan = config.evaluation_plan()
    metrics = load_estimates(str(output))
    decisions = {
        "heads": [
            decide_head(
                head, metrics, {}, "not scored here", [], config.min_slice_examples, config.confidence
            ).to_dict()
            for head in plan.heads
        ]
    }
    summary = build_summary(
        plan,
        str(output),
        decisions,
        blessed=True,
        pushed=False,
        identity={"pipeline": config.name},
    )
    slice_names = [row["slice"] for head in summary["heads"] for row in head["slices"]]
    assert f"dest={HOSTILE}" in slice_names  # the value really reached the report
    page = render_html(summary, config.min_slice_examples)
    assert HOSTILE not in page
    assert "<script" not in page.lower()
    assert "dest=&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page  # shown as text
