"""Picks the tf.distribute strategy from the devices and TF_CONFIG present."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class StrategyChoice:
    """Which strategy, and why (logged at the start of training)."""

    name: str  # "default" | "one_device" | "mirrored" | "multi_worker_mirrored"
    reason: str


def workers_in(tf_config: Mapping | None) -> int:
    """Number of workers (chief included) that TF_CONFIG describes."""
    if not tf_config:
        return 1
    cluster = tf_config.get("cluster", {})
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def choose_strategy(num_gpus: int, tf_config: Mapping | None) -> StrategyChoice:
    """Several workers -> MultiWorkerMirrored; several GPUs -> Mirrored;
    one GPU -> OneDevice on it; none -> TF's default strategy."""
    workers = workers_in(tf_config)
    if workers > 1:
        return StrategyChoice("multi_worker_mirrored", f"TF_CONFIG lists {workers} workers")
    if num_gpus > 1:
        return StrategyChoice("mirrored", f"{num_gpus} GPUs visible")
    if num_gpus == 1:
        return StrategyChoice("one_device", "1 GPU visible")
    return StrategyChoice("default", "no GPU visible")


def make_strategy(choice: StrategyChoice) -> tf.distribute.Strategy:
    if choice.name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if choice.name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if choice.name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    return tf.distribute.get_strategy()


def global_batch_size(per_replica: int, strategy: tf.distribute.Strategy) -> int:
    """Batch size scales with the replicas so each replica sees `per_replica`."""
    return per_replica * strategy.num_replicas_in_sync


def is_chief(tf_config: Mapping | None) -> bool:
    """True on the worker that owns the exported model and the logs: the chief, worker 0 when
    TF_CONFIG lists no chief, and the only process when there is no TF_CONFIG."""
    if not tf_config or workers_in(tf_config) <= 1:
        return True
    task = tf_config.get("task", {})
    if "chief" in tf_config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def worker_index(tf_config: Mapping | None) -> int:
    """This process's place among the workers, 0 to workers_in - 1: the chief first, then the
    workers by index (the order TF's cluster resolver numbers them in)."""
    if not tf_config or workers_in(tf_config) <= 1:
        return 0
    task = tf_config.get("task", {})
    chiefs = len(tf_config.get("cluster", {}).get("chief", []))
    if task.get("type") == "chief":
        return 0
    if task.get("type") != "worker":
        raise ValueError(f"TF_CONFIG's task {task} is neither the chief nor a worker: it trains no share")
    return chiefs + int(task.get("index", 0))


def tf_config_from_env() -> dict | None:
    return json.loads(os.environ["TF_CONFIG"]) if os.environ.get("TF_CONFIG") else None


def current_strategy() -> tuple[StrategyChoice, tf.distribute.Strategy]:
    """The strategy for this process, from its GPUs and TF_CONFIG."""
    tf_config = tf_config_from_env()
    choice = choose_strategy(len(tf.config.list_physical_devices("GPU")), tf_config)
    return choice, make_strategy(choice)
