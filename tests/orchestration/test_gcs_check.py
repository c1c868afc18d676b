"""`make gcs-check`'s own logic (the check itself runs in `.ci/run`): its config, and the local-write audit."""

from __future__ import annotations

from pathlib import Path

from orchestration import gcs_check
from pipeline.config import REPO_ROOT, load_config


def test_every_location_of_the_checked_config_is_on_the_bucket(tmp_path):
    written = tmp_path / "c.yaml"
    written.write_text(gcs_check.config_text())
    config = load_config(written)
    bucket = f"gs://{gcs_check.BUCKET}/"
    for location in (config.data.root, config.pipeline_root, config.serving_dir, config.history_dir):
        assert location.startswith(bucket), location
    assert not config.metadata_path.startswith("gs://")  # ML Metadata's SQLite file stays local
    assert {head.gate.max_regression for head in config.model.heads} == {1000.0}


def test_a_file_written_beside_the_metadata_store_is_named_and_the_store_is_not(tmp_path):
    local_root = REPO_ROOT / "out" / "pipelines" / gcs_check.NAME
    before = {"README.md": (1, 1)}
    after = {
        "README.md": (1, 1),
        str((local_root / "metadata.sqlite").relative_to(REPO_ROOT)): (10, 2),
        str((local_root / "logs" / "run.log").relative_to(REPO_ROOT)): (10, 2),
        "out/logs/serving-list-20261205-230046.log": (10, 2),  # a short command's own log
        "out/kfp-check/pods/first/Trainer/log": (10, 2),  # the checks .ci/run runs beside it
        "out/portable-check/services/job_service.log": (10, 2),
        "out/kfp-check-other/x": (1, 2),  # not one of them
        "gs:/mhp-gcs-check/pipelines/x/gate.json": (5, 3),  # what open("gs://...", "w") leaves
    }
    assert gcs_check.local_writes(before, after, local_root) == [
        "gs:/mhp-gcs-check/pipelines/x/gate.json",
        "out/kfp-check-other/x",
    ]
    changed = {**before, "README.md": (2, 4)}
    assert gcs_check.local_writes(before, changed, Path(local_root)) == ["README.md"]


def test_the_snapshot_sees_new_and_changed_files_but_not_caches(tmp_path):
    (tmp_path / "a").write_text("1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_text("x")
    assert set(gcs_check.snapshot(tmp_path)) == {"a"}
