"""The scale bench's synthetic rows: copy 0 is the row itself, other copies perturb only the float
features it may (labels and weights kept, integer features kept), by about 1%, the same for a seed."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bench.scale import perturbed_copies


def example(delay: float, distance: float, carrier: int) -> bytes:
    features = {
        "arrival_delay": tf.train.Feature(float_list=tf.train.FloatList(value=[delay])),
        "distance": tf.train.Feature(float_list=tf.train.FloatList(value=[distance])),
        "carrier": tf.train.Feature(int64_list=tf.train.Int64List(value=[carrier])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def values(record: bytes, name: str) -> list:
    feature = tf.train.Example.FromString(record).features.feature[name]
    return list(feature.float_list.value or feature.int64_list.value)


def test_copies_keep_labels_and_integers_and_perturb_floats_by_about_one_percent():
    records = [example(float(i), 1000.0 + i, i % 7) for i in range(400)]
    copies = dict(perturbed_copies(records, {"arrival_delay"}, 3, shard=0))
    assert sorted(copies) == [0, 1, 2] and copies[0] == records
    for copy in (1, 2):
        assert len(copies[copy]) == len(records)
        for original, changed in zip(records, copies[copy], strict=True):
            assert values(changed, "arrival_delay") == values(original, "arrival_delay")
            assert values(changed, "carrier") == values(original, "carrier")
        ratios = np.array(
            [values(c, "distance")[0] / values(o, "distance")[0] for o, c in zip(records, copies[copy], strict=True)]
        )
        assert 0.005 < np.std(ratios) < 0.02 and abs(np.mean(ratios) - 1) < 0.003
    assert copies[1] != copies[2]
    assert dict(perturbed_copies(records, {"arrival_delay"}, 3, shard=0))[1] == copies[1]
