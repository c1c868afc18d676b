"""ServedBaseline's choice of baseline on Kubeflow: the newest complete pushed version, or none."""

from __future__ import annotations

from types import SimpleNamespace

from components.served_baseline import has_model, newest_version


def test_the_newest_numeric_version_is_the_baseline(tmp_path):
    for name in ("1700000000", "1700000100", "999", ".partial-1800000000", "notes"):
        (tmp_path / name).mkdir()
    assert newest_version(str(tmp_path)) == str(tmp_path / "1700000100")


def test_nothing_served_means_no_baseline(tmp_path):
    assert newest_version(str(tmp_path / "missing")) is None
    (tmp_path / ".partial-1700000000").mkdir()
    assert newest_version(str(tmp_path)) is None


def test_an_empty_model_artifact_is_no_baseline(tmp_path):
    empty = SimpleNamespace(uri=str(tmp_path / "empty"))
    assert not has_model(None) and not has_model(empty)
    model_dir = tmp_path / "model" / "Format-Serving"
    model_dir.mkdir(parents=True)
    (model_dir / "saved_model.pb").write_bytes(b"")
    assert has_model(SimpleNamespace(uri=str(tmp_path / "model")))
