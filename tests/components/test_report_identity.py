"""A report's identity block names places under the pipeline root, never a path of the machine."""

from __future__ import annotations

from components.report.identity import artifact_location, report_identity, shareable_location


def test_a_local_artifact_is_named_under_the_pipeline_root():
    assert artifact_location("/home/ana/work/out/pipeline_root/Trainer/model/19") == "<pipeline root>/Trainer/model/19"
    assert artifact_location("/home/ana/work/out/pipeline_root/Trainer/model/19/") == "<pipeline root>/Trainer/model/19"


def test_a_shared_uri_is_kept_whole():
    uri = "gs://bucket/root/flights/123/Trainer_abc/model"
    assert artifact_location(uri) == uri
    assert shareable_location("s3://b/serving/7", "<serving dir>", 1) == "s3://b/serving/7"


def test_the_identity_block_holds_no_local_prefix():
    identity = report_identity(
        "flights",
        model="/srv/x/pipeline_root/Trainer/model/19",
        baseline_model=None,
        evaluation="/srv/x/pipeline_root/Evaluator/evaluation/21",
        pushed_destination="/srv/x/serving/1795918542",
        extra={"run": "2026-11-29T03:00:00"},
    )
    assert identity == {
        "pipeline": "flights",
        "run": "2026-11-29T03:00:00",
        "model": "<pipeline root>/Trainer/model/19",
        "baseline model": "none (first blessed model)",
        "evaluation (tfma.load_eval_result)": "<pipeline root>/Evaluator/evaluation/21",
        "pushed to": "<serving dir>/1795918542",
    }
    assert not any("/srv/x" in value for value in identity.values())
