"""The serving directory: atomic pushes, rollback that never deletes, versions that only go up (real folders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.pusher import push_atomically
from contracts.serving_dir import PARTIAL_PREFIX, ROLLED_BACK_DIR, ROLLED_BACK_LOG, pushed_versions
from orchestration import serving
from pipeline.config import load_config
from tests.e2e.fixture_runs import CONFIG


def model_dir(root: Path, name: str) -> str:
    model = root / name
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(name.encode() * 100)
    (model / "variables" / "variables.index").write_bytes(b"index of " + name.encode())
    return str(model)


@pytest.fixture
def config(tmp_path):
    return load_config(CONFIG).with_output_root(tmp_path / "out")


def test_a_push_killed_mid_copy_leaves_nothing_a_server_would_load_and_is_cleaned_up(tmp_path):
    base = tmp_path / "serving"
    (base / f"{PARTIAL_PREFIX}1700000000" / "variables").mkdir(parents=True)  # what a killed copy leaves
    assert pushed_versions(str(base)) == []  # hidden: not a version
    version, new = push_atomically(model_dir(tmp_path, "a"), str(base))
    assert new and pushed_versions(str(base)) == [version] and Path(version).parent == base
    assert not list(base.glob(f"{PARTIAL_PREFIX}*"))
    assert push_atomically(model_dir(tmp_path / "again", "a"), str(base)) == (version, False)  # same bytes: none


def test_rollback_moves_the_newest_aside_records_it_and_later_pushes_go_above_it(tmp_path, config):
    base = config.serving_dir
    first, _ = push_atomically(model_dir(tmp_path, "a"), base)
    second, _ = push_atomically(model_dir(tmp_path, "b"), base)
    first, second = Path(first), Path(second)
    assert int(second.name) > int(first.name)
    listed = serving.list_versions(config)
    assert [(v.number, v.state) for v in listed] == [(int(second.name), "serving"), (int(first.name), "previous")]

    aside, now_serving = serving.rollback(config)
    assert now_serving == str(first) and pushed_versions(base) == [str(first)]  # a server now loads the previous one
    aside = Path(aside)
    assert aside == Path(base) / ROLLED_BACK_DIR / second.name
    assert (aside / "saved_model.pb").read_bytes() == b"b" * 100
    (record,) = [json.loads(line) for line in (aside.parent / ROLLED_BACK_LOG).read_text().splitlines()]
    assert record["rolled_back"] == second.name and record["serving"] == first.name
    states = {v.number: v.state for v in serving.list_versions(config)}
    assert states == {int(first.name): "serving", int(second.name): "rolled back"}

    third, new = push_atomically(model_dir(tmp_path, "c"), base)
    assert new and int(Path(third).name) > int(second.name)  # monotonic over every version ever pushed


def test_rollback_needs_a_version_to_go_back_to_and_changes_nothing_without_one(tmp_path, config):
    base = config.serving_dir
    only, _ = push_atomically(model_dir(tmp_path, "a"), base)
    with pytest.raises(serving.ServingError, match="holds 1 version"):
        serving.rollback(config)
    assert pushed_versions(base) == [only] and not (Path(base) / ROLLED_BACK_DIR).exists()


def test_a_push_rolled_back_since_is_found_where_rollback_put_it(tmp_path, config):
    base = config.serving_dir
    first, _ = push_atomically(model_dir(tmp_path, "a"), base)
    second, _ = push_atomically(model_dir(tmp_path, "b"), base)
    assert serving.rolled_back_location(second) is None  # still served
    serving.rollback(config)
    assert serving.rolled_back_location(second) == str(Path(base) / ROLLED_BACK_DIR / Path(second).name)
    assert serving.rolled_back_location(first) is None
