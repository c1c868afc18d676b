"""The distribution strategy choice and batch scaling."""

from __future__ import annotations

import pytest
import tensorflow as tf

from trainer.strategy import choose_strategy, global_batch_size, is_chief, worker_index, workers_in

TWO_WORKERS = {
    "cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"]},
    "task": {"type": "chief", "index": 0},
}


@pytest.mark.parametrize(
    ("gpus", "tf_config", "expected"),
    [
        (0, None, "default"),
        (1, None, "one_device"),
        (4, None, "mirrored"),
        (0, TWO_WORKERS, "multi_worker_mirrored"),
        (2, TWO_WORKERS, "multi_worker_mirrored"),
        (1, {"cluster": {"worker": ["only:1"]}, "task": {"type": "worker", "index": 0}}, "one_device"),
    ],
)
def test_choose_strategy(gpus, tf_config, expected):
    assert choose_strategy(gpus, tf_config).name == expected


def test_workers_in_counts_chief_and_workers():
    assert workers_in(None) == 1
    assert workers_in(TWO_WORKERS) == 2


def test_global_batch_scales_with_replicas():
    assert global_batch_size(64, tf.distribute.get_strategy()) == 64

    class FourReplicas:
        num_replicas_in_sync = 4

    assert global_batch_size(64, FourReplicas()) == 256


@pytest.mark.parametrize(
    ("tf_config", "chief"),
    [
        (None, True),
        (TWO_WORKERS, True),
        ({**TWO_WORKERS, "task": {"type": "worker", "index": 0}}, False),  # a chief is listed: worker 0 is not it
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
        ({"cluster": {"worker": ["only:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ],
)
def test_only_the_chief_exports(tf_config, chief):
    assert is_chief(tf_config) is chief


@pytest.mark.parametrize(
    ("tf_config", "index"),
    [
        (None, 0),
        (TWO_WORKERS, 0),
        ({**TWO_WORKERS, "task": {"type": "worker", "index": 0}}, 1),  # after the chief
        ({"cluster": {"worker": ["a:1", "b:1", "c:1"]}, "task": {"type": "worker", "index": 2}}, 2),
    ],
)
def test_each_worker_has_its_own_place_for_its_share_of_the_input(tf_config, index):
    assert worker_index(tf_config) == index


def test_a_task_that_trains_no_share_is_named():
    with pytest.raises(ValueError, match="neither the chief nor a worker"):
        worker_index({**TWO_WORKERS, "task": {"type": "evaluator", "index": 0}})
