"""A path or a URI: the helper every location goes through, on real local folders.

The same calls on gs:// go through TensorFlow's GCS client; `make gcs-check`
runs the pipeline with every location on an emulated bucket.
"""

from __future__ import annotations

from contracts import storage


def test_a_uri_keeps_its_scheme_where_pathlib_would_not():
    assert storage.is_uri("gs://bucket/serving") and not storage.is_uri("/srv/serving")
    assert storage.join("gs://bucket/serving", "17") == "gs://bucket/serving/17"
    assert storage.name("gs://bucket/serving/17/") == "17"
    assert storage.parent("gs://bucket/serving/17") == "gs://bucket/serving"


def test_files_are_listed_copied_and_renamed_with_saved_model_last(tmp_path, monkeypatch):
    source = tmp_path / "model"
    (source / "variables").mkdir(parents=True)
    (source / "saved_model.pb").write_bytes(b"graph")
    (source / "variables" / "variables.index").write_bytes(b"index")
    assert list(storage.files_under(str(source))) == ["saved_model.pb", "variables/variables.index"]
    copied, fileio = [], storage._fileio()
    real_copy = fileio.copy

    def copy_in_order(src, dst, overwrite=False):  # the real copy, its order noted
        copied.append(storage.name(src))
        return real_copy(src, dst, overwrite=overwrite)

    monkeypatch.setattr(fileio, "copy", copy_in_order)
    storage.copy_tree(str(source), str(tmp_path / "copy"), last=("saved_model.pb",))
    assert copied == ["variables.index", "saved_model.pb"]  # a polling server sees a complete version
    assert (tmp_path / "copy" / "variables" / "variables.index").read_bytes() == b"index"
    storage.rename(str(tmp_path / "copy"), str(tmp_path / "moved"))
    assert storage.list_names(str(tmp_path)) == ["model", "moved"]
    storage.append_line(str(tmp_path / "moved" / "log.jsonl"), "{}")
    storage.append_line(str(tmp_path / "moved" / "log.jsonl"), "{}")
    assert storage.read_text(str(tmp_path / "moved" / "log.jsonl")) == "{}\n{}\n"
    storage.remove_tree(str(tmp_path / "moved"))
    assert not storage.exists(str(tmp_path / "moved"))


def test_with_an_output_root_on_object_storage_ml_metadata_and_logs_stay_on_this_machine():
    from pipeline.config import REPO_ROOT, load_config

    config = load_config(REPO_ROOT / "configs" / "flights.yaml").with_output_root("gs://bucket/pipelines/flights")
    assert config.pipeline_root == "gs://bucket/pipelines/flights/pipeline_root"
    assert config.serving_dir == "gs://bucket/pipelines/flights/serving"
    assert config.local_root == str(REPO_ROOT / "out" / "pipelines" / "flights")
    assert config.metadata_path == str(REPO_ROOT / "out" / "pipelines" / "flights" / "metadata.sqlite")
    local = load_config(REPO_ROOT / "configs" / "flights.yaml").with_output_root("/tmp/x")
    assert local.local_root == "/tmp/x" and local.metadata_path == "/tmp/x/metadata.sqlite"
