"""A Pusher executor whose serving directory only ever holds complete models.

Two changes to TFX's filesystem Pusher:
- on a local filesystem the version is copied into a hidden `.partial-*`
  folder and renamed into place, so a run killed mid-copy never leaves a
  half-written version where a model server would load it (TFX's own order,
  saved_model.pb last, is kept for object stores, where rename is a copy);
- a model identical to the newest pushed version (same files, same bytes) is
  not pushed again: a rerun that re-blesses the serving model adds nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from contracts.serving_dir import PARTIAL_PREFIX, ROLLED_BACK_DIR, pushed_versions


def tree_digest(directory: Path) -> str:
    """sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def push_atomically(model_dir: Path, base: Path) -> tuple[Path, bool]:
    """Copies model_dir to base/<unix time>; returns (version dir, newly pushed)."""
    versions = pushed_versions(base)
    if versions and tree_digest(versions[-1]) == tree_digest(model_dir):
        return versions[-1], False
    base.mkdir(parents=True, exist_ok=True)
    for leftover in base.glob(f"{PARTIAL_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from a push killed mid-copy
    ever = [int(v.name) for v in (*versions, *pushed_versions(base / ROLLED_BACK_DIR))]
    version = max(int(time.time()), max(ever) + 1 if ever else 0)  # above every version, rolled back or not
    partial = base / f"{PARTIAL_PREFIX}{version}"
    shutil.copytree(model_dir, partial)
    target = base / str(version)
    os.rename(partial, target)
    return target, True


class Executor(tfx_pusher.Executor):
    """Filesystem push, atomic and idempotent on local paths; TFX's otherwise."""

    def Do(  # noqa: N802 (TFX's name)
        self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]
    ) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        if destination.WhichOneof("destination") != "filesystem" or "://" in base:
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_dir = Path(self.GetModelPath(input_dict))
        target, new = push_atomically(model_dir, Path(base))
        shutil.copytree(model_dir, model_push.uri, dirs_exist_ok=True)  # archive, as TFX does
        self._MarkPushed(model_push, pushed_destination=str(target), pushed_version=target.name)
        model_push.set_int_custom_property("newly_pushed", int(new))
