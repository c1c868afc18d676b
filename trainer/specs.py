"""Feature and head specifications: the one source of truth for names.

Every raw feature key, label key, transformed key and head (output) name used
by the preprocessing, the model, the TFMA config and the tests comes from
these specs, which the pipeline builds from the data set's config file and
hands to Transform and Trainer as `custom_config` (plain JSON).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

FEATURE_KINDS = ("numeric", "categorical", "bucketized", "cross")
HEAD_KINDS = ("regression", "binary", "multiclass")
LOSSES = {
    "regression": ("huber", "mse", "mae"),
    "binary": ("binary_crossentropy", "binary_focal_crossentropy"),
    "multiclass": ("sparse_categorical_crossentropy",),
}
TRANSFORM_SIGNATURE = "transform_features"
SERVING_SIGNATURE = "serving_default"

# The TFMA metric classes a head may compute, per head kind, and the key TFMA
# reports each under (its metrics and the gate read that key).
METRIC_KEYS: dict[str, dict[str, str]] = {
    "regression": {
        "MeanAbsoluteError": "mean_absolute_error",
        "MeanSquaredError": "mean_squared_error",
        "RootMeanSquaredError": "root_mean_squared_error",
        "MeanPrediction": "mean_prediction",
        "MeanLabel": "mean_label",
    },
    "binary": {
        "AUC": "auc",
        "AUCPrecisionRecall": "auc_precision_recall",
        "BinaryAccuracy": "binary_accuracy",
        "Precision": "precision",
        "Recall": "recall",
        "BinaryCrossentropy": "binary_crossentropy",
        "MeanPrediction": "mean_prediction",
        "MeanLabel": "mean_label",
        "CalibrationPlot": "calibration_plot",
    },
    "multiclass": {
        "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
        "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
        "MultiClassConfusionMatrixPlot": "multi_class_confusion_matrix_plot",
    },
}
PLOTS = frozenset({"CalibrationPlot", "MultiClassConfusionMatrixPlot"})
# Metrics that describe the data or the model's output, not its quality: a gate
# on them means nothing, and no naive predictor can be scored with them.
NOT_GATEABLE = frozenset({"MeanPrediction", "MeanLabel"})
# Lower is better for these; higher for every other gateable metric.
LOWER_IS_BETTER = frozenset(
    {
        "MeanAbsoluteError",
        "MeanSquaredError",
        "RootMeanSquaredError",
        "BinaryCrossentropy",
        "SparseCategoricalCrossentropy",
    }
)


def metric_key(kind: str, class_name: str) -> str:
    """The key TFMA reports `class_name` under for a head of `kind`."""
    return METRIC_KEYS[kind][class_name]


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One model input. `column` is the raw column it reads (default: its name), so one column can feed
    several inputs (`age` as a number and in buckets); `of` names the categorical columns a cross combines."""

    name: str
    kind: str
    buckets: int = 0  # bucketized: quantile buckets; cross: hash buckets
    of: tuple[str, ...] = ()
    column: str | None = None

    @property
    def transformed(self) -> str:
        return transformed_name(self.name)

    @property
    def raw_key(self) -> str:
        """The raw column a numeric, categorical or bucketized input reads."""
        return self.column or self.name

    @property
    def raw_keys(self) -> tuple[str, ...]:
        """The raw feature keys this input reads."""
        return self.of if self.kind == "cross" else (self.raw_key,)


DEFAULT_MIN_LIFT = 0.01
# Regression heads learn standardized labels, so one delta suits every data
# set: errors beyond one standard deviation count linearly, not squared.
DEFAULT_HUBER_DELTA = 1.0


@dataclasses.dataclass(frozen=True)
class Gate:
    """What blocks a push for a head.

    A floor (`at_least`) or ceiling (`at_most`) on the gate metric; the largest
    allowed regression against the baseline (`max_regression`, in metric
    units, on the overall slice; `slice_max_regression` on each gated slice,
    whose seed-to-seed noise is larger because it has fewer examples; None:
    the overall allowance), decided with the confidence interval of the
    difference; and the
    smallest relative improvement over the naive predictor (`min_lift`).
    """

    metric: str
    at_least: float | None = None
    at_most: float | None = None
    max_regression: float | None = None
    slice_max_regression: float | None = None
    min_lift: float | None = DEFAULT_MIN_LIFT  # None: the lift is reported, never gated

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER

    def allowed_regression(self, overall: bool) -> float | None:
        """The regression allowed on the overall slice, or on a gated slice."""
        if not overall and self.slice_max_regression is not None:
            return self.slice_max_regression
        return self.max_regression


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """One model output: its label, kind, loss and the metrics TFMA computes."""

    name: str
    label: str
    kind: str
    metrics: tuple[str, ...]
    gate: Gate | None  # None in the training view (see ModelSpecs.training_dict)
    classes: tuple[str, ...] = ()
    loss: str = ""
    loss_weight: float | None = None  # None: learned (trainer/model.py); a number: that fixed weight
    huber_delta: float = DEFAULT_HUBER_DELTA  # in standard deviations of the label (regression heads)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeadSpec:
        """Back from `dataclasses.asdict` (JSON); a gate's `key` (written for readers) is derived, not read."""
        gate = {k: v for k, v in (data.get("gate") or {}).items() if k != "key"}
        return cls(
            **{
                **data,
                "metrics": tuple(data["metrics"]),
                "classes": tuple(data.get("classes", ())),
                "gate": Gate(**gate) if gate else None,
            }
        )

    @property
    def gate_key(self) -> str:
        """The TFMA metric key of the gate metric (e.g. `auc`)."""
        if self.gate is None:
            raise ValueError(f"head {self.name} has no gate in this view (the training view leaves it out)")
        return metric_key(self.kind, self.gate.metric)

    @property
    def label_key(self) -> str:
        """Transformed label: the raw label with missing values filled in."""
        return f"{self.name}__label"

    @property
    def standardized_label_key(self) -> str:
        """Transformed regression label in standard units: (label - mean) / std over the training window."""
        return f"{self.name}__label_z"

    @property
    def training_label_key(self) -> str:
        """What the head is trained on: standardized for regression, the label itself otherwise."""
        return self.standardized_label_key if self.kind == "regression" else self.label_key

    @property
    def weight_key(self) -> str:
        """Transformed per-head weight: 1 where the label is present, else 0."""
        return f"{self.name}__weight"

    @property
    def output_units(self) -> int:
        return len(self.classes) if self.kind == "multiclass" else 1

    @property
    def default_loss(self) -> str:
        return self.loss or LOSSES[self.kind][0]


# The Trainer's custom_config key of how it is started (components/trainer_launch/settings.py): not part of
# what it trains.
LAUNCH_KEY = "launch"


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """Model size and training schedule; batch size is per replica."""

    batch_size: int = 256
    train_steps: int = 1000
    eval_steps: int = 50
    learning_rate: float = 0.003
    hidden_units: tuple[int, ...] = (64, 32)
    tower_units: tuple[int, ...] = (16,)
    embedding_dim: int = 8
    mixed_precision: bool = False
    seed: int = 42  # weights, dropout and shuffles: the same seed and inputs give the same model
    # Exported weights are an exponential moving average of the trained ones with
    # this momentum (0: the last step's weights); averaging damps step-to-step noise.
    ema_momentum: float = 0.0
    # Train this many models (seeds seed, seed + 1000, ...) and export their average: one
    # SavedModel whose outputs are the members' mean (probabilities, label units). Narrows
    # the seed-to-seed spread the gate must allow for, at `ensemble_members` times the
    # training time (bench/RESULTS.md).
    ensemble_members: int = 1
    # Back up weights, optimizer and step every this many steps; a restarted
    # (preempted) Trainer resumes from the last backup (trainer/run.py).
    checkpoint_steps: int = 100


@dataclasses.dataclass(frozen=True)
class ModelSpecs:
    """Everything the TFX-free trainer code needs, serialisable to custom_config."""

    features: tuple[FeatureSpec, ...]
    heads: tuple[HeadSpec, ...]
    trainer: TrainerSettings = TrainerSettings()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def training_dict(self) -> dict[str, Any]:
        """What Transform and Trainer need, without the evaluation settings.

        Gates and metrics only matter to the Evaluator; leaving them out of the
        Transform and Trainer configs keeps a gate change from invalidating
        their cached outputs.
        """
        data = self.to_dict()
        for head in data["heads"]:
            head["metrics"], head["gate"] = [], None
        return data

    def transform_dict(self) -> dict[str, Any]:
        """What Transform reads (trainer/preprocessing.py): the features, and each head's name, label,
        kind and classes. The trainer settings and the heads' losses stay out, so a Trainer-only change
        (seed, steps, learning rate, loss weights) reuses Transform's outputs from the cache."""
        data = self.training_dict()
        data.pop("trainer")
        for head in data["heads"]:
            head.update(loss="", loss_weight=None, huber_delta=DEFAULT_HUBER_DELTA)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpecs:
        features = tuple(FeatureSpec(**{**f, "of": tuple(f.get("of", ()))}) for f in data["features"])
        heads = tuple(HeadSpec.from_dict(h) for h in data["heads"])
        settings = dict(data.get("trainer", {}))
        for key in ("hidden_units", "tower_units"):
            if key in settings:
                settings[key] = tuple(settings[key])
        return cls(features=features, heads=heads, trainer=TrainerSettings(**settings))


def transformed_name(raw_name: str) -> str:
    """The key of a feature after tf.Transform."""
    return f"{raw_name}_xf"
