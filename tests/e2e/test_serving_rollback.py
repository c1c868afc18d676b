"""Rollback on the fixture runs' real store and serving directory (a copy: the other tests keep theirs)."""

from __future__ import annotations

import shutil

import pytest

from orchestration import serving
from results.metadata import open_store

pytestmark = pytest.mark.e2e  # runs the fixture pipeline's sequence of runs


def test_rollback_serves_the_previous_model_and_the_next_baseline_skips_the_withdrawn_one(runs, tmp_path):
    from tfx.types import artifact_utils

    from components.previous_blessed_model import MODEL, PreviousBlessedModelStrategy

    config, _, _, _ = runs["rerun"]
    _, first, _, _ = runs["first"]
    _, clean, _, _ = runs["clean"]
    copy = config.with_output_root(tmp_path / "out")
    shutil.copytree(config.serving_dir, copy.serving_dir)
    shutil.copy(config.metadata_path, copy.metadata_path)

    listed = serving.list_versions(copy)
    assert [v.state for v in listed] == ["serving", "previous"]
    assert listed[0].run == clean.run_id and listed[1].run == first.run_id  # from ML Metadata
    assert listed[0].gate and "delay_band" in listed[0].gate

    _, now_serving = serving.rollback(copy)
    assert str(now_serving) == first.pushed_destination.replace(config.serving_dir, copy.serving_dir)
    assert [v.state for v in serving.list_versions(copy)] == ["rolled back", "serving"]

    # The next run's baseline, resolved from this store as the pipeline's resolver does: the first model.
    store = open_store(copy.metadata_path)
    types = {t.name: t for t in store.get_artifact_types()}

    def artifacts(type_name: str) -> list:
        return [
            artifact_utils.deserialize_artifact(types[type_name], a) for a in store.get_artifacts_by_type(type_name)
        ]

    resolved = PreviousBlessedModelStrategy().resolve_artifacts(
        store, {"model": artifacts("Model"), "model_blessing": artifacts("ModelBlessing"), "candidate": []}
    )
    assert [m.uri for m in resolved[MODEL]] == [first.model]
