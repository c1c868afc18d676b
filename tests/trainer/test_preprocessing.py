"""preprocessing_fn with real tf.Transform analyzers on a few rows."""

from __future__ import annotations

import functools

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.beam import tft_unit

from trainer.preprocessing import preprocessing_fn
from trainer.specs import FeatureSpec, Gate, HeadSpec, ModelSpecs

SPECS = ModelSpecs(
    features=(
        FeatureSpec("distance", "numeric"),
        FeatureSpec("carrier", "categorical"),
        FeatureSpec("hour", "bucketized", buckets=2),
        FeatureSpec("hour_number", "numeric", column="hour"),  # the same column as a second feature
        FeatureSpec("carrier_hour", "cross", buckets=100, of=("carrier", "hour")),
    ),
    heads=(
        HeadSpec("delay", "arr_delay", "regression", ("MeanAbsoluteError",), Gate("MeanAbsoluteError", at_most=9)),
        HeadSpec(
            "band",
            "band",
            "multiclass",
            ("SparseCategoricalAccuracy",),
            Gate("SparseCategoricalAccuracy", at_least=0.1),
            classes=("low", "mid", "high"),
        ),
    ),
)

RAW = [
    {"distance": [100.0], "carrier": "AA", "hour": 5, "arr_delay": [10.0], "band": ["high"]},
    {"distance": [], "carrier": "UA", "hour": 9, "arr_delay": [], "band": ["low"]},
    {"distance": [300.0], "carrier": "AA", "hour": 20, "arr_delay": [-4.0], "band": []},
]
METADATA = tft.DatasetMetadata.from_feature_spec(
    {
        "distance": tf.io.VarLenFeature(tf.float32),
        "carrier": tf.io.FixedLenFeature([], tf.string),
        "hour": tf.io.FixedLenFeature([], tf.int64),
        "arr_delay": tf.io.VarLenFeature(tf.float32),
        "band": tf.io.VarLenFeature(tf.string),
    }
)


def cross_id(carrier: str, hour: int) -> int:
    return int(tf.strings.to_hash_bucket_fast(f"{carrier}|{hour}", 100).numpy())


class PreprocessingTest(tft_unit.TransformTestCase):
    test_session = None  # tf.test.TestCase's helper, not a test: keep pytest from collecting it

    def test_exact_values_with_real_analyzers(self):
        # distance: mean of present values 200 imputes the missing one; the
        # z-score of [100, 200, 300] is [-1.2247, 0, 1.2247].
        z = 1.224744871
        # carrier vocabulary by frequency: AA -> 0, UA -> 1.
        # hour: 2 quantile buckets over [5, 9, 20] split at 9 -> [0, 1, 1]; hour_number reads the
        # same column as a number: the z-scores of [5, 9, 20] (mean 11.33, std 6.34).
        # delay: present labels 10 and -4 (mean 3, std 7) standardize to 1 and -1.
        expected = [
            {
                "distance_xf": -z,
                "carrier_xf": 0,
                "hour_xf": 0,
                "hour_number_xf": -0.99861783,
                "carrier_hour_xf": cross_id("AA", 5),
                "delay__label": 10.0,
                "delay__label_z": 1.0,
                "delay__weight": 1.0,
                "band__label": 2,
                "band__weight": 1.0,
            },
            {
                "distance_xf": 0.0,
                "carrier_xf": 1,
                "hour_xf": 1,
                "hour_number_xf": -0.36791183,
                "carrier_hour_xf": cross_id("UA", 9),
                "delay__label": 0.0,
                "delay__label_z": 0.0,
                "delay__weight": 0.0,
                "band__label": 0,
                "band__weight": 1.0,
            },
            {
                "distance_xf": z,
                "carrier_xf": 0,
                "hour_xf": 1,
                "hour_number_xf": 1.36652966,
                "carrier_hour_xf": cross_id("AA", 20),
                "delay__label": -4.0,
                "delay__label_z": -1.0,
                "delay__weight": 1.0,
                "band__label": 0,
                "band__weight": 0.0,
            },
        ]
        self.assertAnalyzeAndTransformResults(
            RAW, METADATA, functools.partial(preprocessing_fn, custom_config=SPECS.training_dict()), expected
        )

    def test_unknown_class_name_is_masked_out_of_its_head(self):
        rows = [dict(RAW[0], band=["bogus"]), RAW[1], RAW[2]]
        spec = SPECS.training_dict()

        def only_band(inputs):
            outputs = preprocessing_fn(inputs, spec)
            return {key: outputs[key] for key in ("band__label", "band__weight")}

        expected = [
            {"band__label": 0, "band__weight": 0.0},
            {"band__label": 0, "band__weight": 1.0},
            {"band__label": 0, "band__weight": 0.0},
        ]
        self.assertAnalyzeAndTransformResults(rows, METADATA, only_band, expected)
