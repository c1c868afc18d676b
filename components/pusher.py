"""A Pusher executor whose serving directory only ever holds complete models, local or on object storage.

Two changes to TFX's filesystem Pusher:
- a version is copied into a hidden `.partial-*` folder and renamed into
  place, so a run killed mid-copy never leaves a half-written version where a
  model server would load it. On a local file system the rename is atomic;
  on an object store it copies each object, so there the version is written
  in place instead, `saved_model.pb` last (TFX's own order), and a server
  polling the bucket loads it once that file is there;
- a model identical to the newest pushed version (same files, same bytes) is
  not pushed again: a rerun that re-blesses the serving model adds nothing.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from contracts import storage
from contracts.serving_dir import PARTIAL_PREFIX, ROLLED_BACK_DIR, pushed_versions

SAVED_MODEL_FILE = "saved_model.pb"


def tree_digest(directory: str) -> str:
    """sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in storage.files_under(directory):
        digest.update(path.encode())
        digest.update(hashlib.sha256(storage.read_bytes(storage.join(directory, path))).digest())
    return digest.hexdigest()


def push_atomically(model_dir: str, base: str) -> tuple[str, bool]:
    """Copies model_dir to base/<unix time>; returns (version dir, newly pushed)."""
    versions = pushed_versions(base)
    if versions and tree_digest(versions[-1]) == tree_digest(model_dir):
        return versions[-1], False
    storage.makedirs(base)
    for leftover in storage.glob(storage.join(base, f"{PARTIAL_PREFIX}*")):
        storage.remove_tree(leftover)  # from a push killed mid-copy
    ever = [int(storage.name(v)) for v in (*versions, *pushed_versions(storage.join(base, ROLLED_BACK_DIR)))]
    version = max(int(time.time()), max(ever) + 1 if ever else 0)  # above every version, rolled back or not
    target = storage.join(base, str(version))
    if storage.is_uri(base):
        storage.copy_tree(model_dir, target, last=(SAVED_MODEL_FILE,))
        return target, True
    partial = storage.join(base, f"{PARTIAL_PREFIX}{version}")
    storage.copy_tree(model_dir, partial)
    storage.rename(partial, target)
    return target, True


class Executor(tfx_pusher.Executor):
    """Filesystem push, atomic (local) or saved_model.pb last (object storage), and idempotent."""

    def Do(  # noqa: N802 (TFX's name)
        self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]
    ) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_dir = self.GetModelPath(input_dict)
        target, new = push_atomically(model_dir, destination.filesystem.base_directory)
        storage.copy_tree(model_dir, model_push.uri)  # archive, as TFX does
        self._MarkPushed(model_push, pushed_destination=target, pushed_version=storage.name(target))
        model_push.set_int_custom_property("newly_pushed", int(new))
