"""The typed pipeline configuration: one YAML file per data set under configs/.

Loading validates every field against the data set's schema and reports the
first problem as `field: bad value -- how to fix`. Relative paths are resolved
against the repository root, so a config means the same from any directory.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pipeline.spans import DEFAULT_SPAN_DIR
from trainer.specs import (
    DEFAULT_HUBER_DELTA,
    DEFAULT_MIN_LIFT,
    FEATURE_KINDS,
    HEAD_KINDS,
    LOSSES,
    LOWER_IS_BETTER,
    METRIC_KEYS,
    NOT_GATEABLE,
    PLOTS,
    FeatureSpec,
    Gate,
    HeadSpec,
    ModelSpecs,
    TrainerSettings,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "flights.yaml"  # what every command runs without --config


class ConfigError(ValueError):
    """A config field is wrong; the message names the field, the value and the fix."""

    def __init__(self, source: str, field: str, value: Any, fix: str):
        super().__init__(f"{source}: {field}: {value!r} -- {fix}")
        self.field = field


@dataclasses.dataclass(frozen=True)
class SliceSpec:
    """A slicing of the evaluation; gated slices also carry the heads' thresholds."""

    features: tuple[str, ...]
    gated: bool = False


@dataclasses.dataclass(frozen=True)
class DataSpec:
    root: str  # a local path or a gs:// / s3:// URI
    span_dir: str  # e.g. "span-{span}"; files are matched as <span_dir>/*
    # Either a rolling window (train_window: the newest span is evaluated, the
    # train_window spans before it are trained on; resolved when a run starts,
    # pipeline/spans.py) or fixed spans (train_spans and eval_span).
    train_spans: tuple[int, ...] = ()
    eval_span: int | None = None
    train_window: int | None = None
    # A data set this project can write itself (`flights`: the embedded NYC flights, converters/flights.py):
    # its missing span folders are written on first use. Without it, missing spans are an error.
    prepare: str | None = None

    @property
    def window_size(self) -> int:
        """How many spans are trained on; fixed per compiled pipeline (one split each)."""
        return self.train_window if self.train_window is not None else len(self.train_spans)

    @property
    def resolved(self) -> bool:
        """True when the spans are known (fixed in the config, or resolved for this run)."""
        return bool(self.train_spans) and self.eval_span is not None


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything create_pipeline needs; nothing is read from globals or the env."""

    name: str
    source: str
    schema_path: str
    data: DataSpec
    model: ModelSpecs
    slices: tuple[SliceSpec, ...]
    min_slice_examples: int
    confidence: float  # of the interval on each candidate-minus-baseline change
    beam_args: tuple[str, ...]
    output_root: str  # a local path or a gs:// / s3:// URI (strings: pathlib would mangle gs://)
    kubeflow: Mapping[str, Any] | None = None
    serving_root: str | None = None  # default: <output_root>/serving

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_root, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_root, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return self.serving_root or os.path.join(self.output_root, "serving")

    def with_data(self, **changes: Any) -> PipelineConfig:
        """A copy with other data settings (a new span window, another root)."""
        if "root" in changes:
            changes["root"] = str(changes["root"])
        return dataclasses.replace(self, data=dataclasses.replace(self.data, **changes))

    def with_output_root(self, root: str | Path) -> PipelineConfig:
        return dataclasses.replace(self, output_root=str(root))


class _Reader:
    """Walks the YAML mapping, turning type errors into ConfigErrors."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, field: str, value: Any, fix: str) -> ConfigError:
        return ConfigError(self.source, field, value, fix)

    def only(self, data: Any, field: str, known: tuple[str, ...]) -> None:
        """Rejects a key this mapping does not define (a typo would silently drop a setting)."""
        if not isinstance(data, Mapping):
            raise self.fail(field or "(top level)", data, "expected a mapping of settings")
        for key in data:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            where = f"{field}.{key}" if field else str(key)
            raise self.fail(where, data[key], f"unknown setting; {hint}known here: {', '.join(known)}")

    def get(self, data: Mapping, key: str, field: str, kind: type | tuple, default: Any = ...) -> Any:
        if not isinstance(data, Mapping):
            raise self.fail(field.rsplit(".", 1)[0], data, "expected a mapping of settings")
        if key not in data:
            if default is ...:
                raise self.fail(field, None, "this field is required")
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(field, value, f"expected {names}")
        return value


def load_schema_names(schema_path: str | Path) -> dict[str, str]:
    """Feature name -> type name (INT, FLOAT, BYTES) from a schema.pbtxt."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(Path(schema_path).read_text(), schema_pb2.Schema())
    return {feature.name: schema_pb2.FeatureType.Name(feature.type) for feature in schema.feature}


def _resolve(path: str) -> str:
    """URIs stay as they are; local paths become absolute, relative to the repository."""
    if "://" in path:
        return path
    candidate = Path(path).expanduser()
    return str(candidate if candidate.is_absolute() else REPO_ROOT / candidate)


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> PipelineConfig:
    """Reads and validates a config file; raises ConfigError on the first problem.

    A config with `base: configs/<name>.yaml` is that config with its own settings
    merged in (merge_settings), so a variant states only what it changes.
    `overrides` (e.g. from the command line: {"data": {"eval_span": 12}}) are
    merged in last, before validation, so they obey the same rules.
    """
    path = Path(path)
    overridden = " (with command-line overrides)" if overrides else ""
    source = f"{path}{overridden}"
    raw = _read_settings(path, source)
    label = source
    if isinstance(raw, Mapping) and BASE_KEY in raw:
        base = raw[BASE_KEY]
        if not isinstance(base, str):
            raise ConfigError(
                source, BASE_KEY, base, "the path of the config this one changes, e.g. configs/flights.yaml"
            )
        base_path = Path(_resolve(base))
        base_raw = _read_settings(base_path, f"{base_path} (the base of {path})")
        if not isinstance(base_raw, Mapping) or BASE_KEY in base_raw:
            raise ConfigError(source, BASE_KEY, base, "the base must be a complete config, without a base of its own")
        label = f"{path} (on {base}){overridden}"
        raw = merge_settings(base_raw, {k: v for k, v in raw.items() if k != BASE_KEY}, label)
    if overrides and isinstance(raw, Mapping):
        raw = merge_settings(raw, overrides, label)
    return parse_config(raw, source, label)


def _read_settings(path: Path, source: str) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(source, "(file)", str(path), "no such config file; see configs/") from None
    except yaml.YAMLError as err:
        raise ConfigError(source, "(file)", str(err).splitlines()[0], "fix the YAML syntax") from None


def merge_settings(
    raw: Mapping[str, Any], overrides: Mapping[str, Any], source: str = "<overrides>", field: str = ""
) -> dict[str, Any]:
    """A copy of `raw` with `overrides` merged in, mapping by mapping.

    A list of named entries (heads, features) is merged entry by entry, by name, so
    an override changes one head's gate without restating the head; a name the
    list does not have is an error (a misspelt head would otherwise add a broken one).
    Any other value, a list or null included, replaces the one in `raw`.
    """
    merged = copy.deepcopy(dict(raw))
    for key, value in overrides.items():
        where = f"{field}.{key}" if field else str(key)
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value, source, where)
        elif _named_entries(value) and _named_entries(merged.get(key)):
            merged[key] = _merge_by_name(merged[key], value, source, where)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _named_entries(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) and "name" in v for v in value)


def _merge_by_name(entries: list, overrides: list, source: str, field: str) -> list:
    merged = [copy.deepcopy(dict(entry)) for entry in entries]
    index = {entry["name"]: i for i, entry in enumerate(merged)}
    for override in overrides:
        name = override["name"]
        if name not in index:
            raise ConfigError(
                source,
                f"{field}[name={name}]",
                name,
                f"no entry of that name to change; the names are: {', '.join(map(str, index))}",
            )
        merged[index[name]] = merge_settings(merged[index[name]], override, source, f"{field}[name={name}]")
    return merged


BASE_KEY = "base"  # a config that changes another: see load_config
TOP_LEVEL_KEYS = (
    "name",
    "schema",
    "data",
    "features",
    "heads",
    "slices",
    "evaluation",
    "trainer",
    "beam_args",
    "output_root",
    "kubeflow",
)
DATA_KEYS = ("root", "span_dir", "train_window", "train_spans", "eval_span", "prepare")
PREPARED_DATA_SETS = ("flights",)  # what data.prepare may name
FEATURE_KEYS = ("name", "kind", "buckets", "of")
HEAD_KEYS = ("name", "label", "kind", "classes", "loss", "loss_weight", "huber_delta", "metrics", "gate")
GATE_KEYS = ("metric", "at_least", "at_most", "max_regression", "slice_max_regression", "min_lift")
SLICE_KEYS = ("features", "gated")
EVALUATION_KEYS = ("min_slice_examples", "confidence")
KUBEFLOW_KEYS = (
    "pipeline_root",
    "data_root",
    "serving_dir",
    "image",
    "gpu_image",
    "beam_args",
    "trainer",
    "storage_secret",
)
KUBEFLOW_TRAINER_KEYS = (
    "cpu",
    "memory_gb",
    "accelerator",
    "accelerator_count",
    "workers",
    "node_selector",
    "tolerations",
)


def parse_config(raw: Any, source: str = "<config>", label: str | None = None) -> PipelineConfig:
    """`source` is kept as the config's origin; errors name `label` (default: `source`)."""
    r = _Reader(label or source)
    if not isinstance(raw, Mapping):
        raise r.fail("(top level)", raw, "expected a mapping with name, schema, data, features, heads")
    r.only(raw, "", TOP_LEVEL_KEYS)
    name = r.get(raw, "name", "name", str)
    schema_path = _resolve(r.get(raw, "schema", "schema", str))
    if not Path(schema_path).is_file():
        raise r.fail("schema", schema_path, "no schema file there; point `schema` at a schema.pbtxt")
    schema = load_schema_names(schema_path)

    data = _parse_data(r, r.get(raw, "data", "data", dict))
    features = _parse_features(r, r.get(raw, "features", "features", list), schema)
    heads = _parse_heads(r, r.get(raw, "heads", "heads", list), schema, features)
    trainer = _parse_trainer(r, r.get(raw, "trainer", "trainer", dict, {}))
    slices = _parse_slices(r, r.get(raw, "slices", "slices", list, []), schema)
    evaluation = r.get(raw, "evaluation", "evaluation", dict, {})
    r.only(evaluation, "evaluation", EVALUATION_KEYS)
    min_slice = r.get(evaluation, "min_slice_examples", "evaluation.min_slice_examples", int, 30)
    if min_slice < 1:
        raise r.fail("evaluation.min_slice_examples", min_slice, "must be >= 1")
    confidence = r.get(evaluation, "confidence", "evaluation.confidence", float, 0.95)
    if not 0.5 <= confidence < 1:
        raise r.fail("evaluation.confidence", confidence, "a confidence level in [0.5, 1), e.g. 0.95")
    beam_args = r.get(
        raw,
        "beam_args",
        "beam_args",
        list,
        ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    )
    if not all(isinstance(arg, str) and arg.startswith("--") for arg in beam_args):
        raise r.fail("beam_args", beam_args, "each Beam argument is a string like --runner=DataflowRunner")
    output_root = _resolve(r.get(raw, "output_root", "output_root", str, f"out/pipelines/{name}"))
    kubeflow = _check_kubeflow(r, r.get(raw, "kubeflow", "kubeflow", dict, None))
    return PipelineConfig(
        name=name,
        source=source,
        schema_path=schema_path,
        data=data,
        model=ModelSpecs(features=features, heads=heads, trainer=trainer),
        slices=slices,
        min_slice_examples=min_slice,
        confidence=confidence,
        beam_args=tuple(beam_args),
        output_root=output_root,
        kubeflow=kubeflow,
    )


def _check_kubeflow(r: _Reader, section: Mapping | None) -> Mapping | None:
    """Only known keys, so a misspelt resource request is not silently dropped."""
    if section is None:
        return None
    r.only(section, "kubeflow", KUBEFLOW_KEYS)
    for key in ("pipeline_root", "data_root", "serving_dir", "image", "gpu_image"):
        r.get(section, key, f"kubeflow.{key}", str, None)
    r.get(section, "beam_args", "kubeflow.beam_args", list, [])  # each argument: orchestration/kubeflow.py
    trainer = r.get(section, "trainer", "kubeflow.trainer", dict, {})
    r.only(trainer, "kubeflow.trainer", KUBEFLOW_TRAINER_KEYS)
    for key in ("cpu", "memory_gb", "accelerator_count", "workers"):
        value = r.get(trainer, key, f"kubeflow.trainer.{key}", (int, float), None)
        if value is not None and value < 0:
            raise r.fail(f"kubeflow.trainer.{key}", value, "must be >= 0")
    r.get(trainer, "accelerator", "kubeflow.trainer.accelerator", str, None)
    return section


def _parse_data(r: _Reader, data: Mapping) -> DataSpec:
    r.only(data, "data", DATA_KEYS)
    data = {k: v for k, v in data.items() if v is not None}  # null (set by an override) is absent
    root = _resolve(r.get(data, "root", "data.root", str))
    span_dir = r.get(data, "span_dir", "data.span_dir", str, DEFAULT_SPAN_DIR)
    if "{span}" not in span_dir:
        raise r.fail("data.span_dir", span_dir, "must contain {span}, e.g. span-{span}")
    prepare = r.get(data, "prepare", "data.prepare", str, None)
    if prepare is not None and prepare not in PREPARED_DATA_SETS:
        raise r.fail(
            "data.prepare",
            prepare,
            f"name a data set this project writes itself ({', '.join(PREPARED_DATA_SETS)}), or leave it out and "
            "put the span folders under data.root",
        )
    window = r.get(data, "train_window", "data.train_window", int, None)
    train = r.get(data, "train_spans", "data.train_spans", list, None)
    eval_span = r.get(data, "eval_span", "data.eval_span", int, None)
    if window is not None:
        if train is not None or eval_span is not None:
            raise r.fail(
                "data.train_window",
                window,
                "give either train_window (the newest span is evaluated, the ones before it trained on) "
                "or fixed train_spans and eval_span, not both",
            )
        if window < 1:
            raise r.fail("data.train_window", window, "train on at least 1 span")
        return DataSpec(root=root, span_dir=span_dir, train_window=window, prepare=prepare)
    if train is None or eval_span is None:
        raise r.fail(
            "data",
            {k: data.get(k) for k in ("train_window", "train_spans", "eval_span")},
            "set train_window (e.g. 3: the newest span is evaluated, the 3 before it trained on), "
            "or both train_spans and eval_span",
        )
    if not train or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in train):
        raise r.fail("data.train_spans", train, "list the training spans as non-negative integers")
    if len(set(train)) != len(train):
        raise r.fail("data.train_spans", train, "a span is listed twice")
    if eval_span in train:
        raise r.fail("data.eval_span", eval_span, "evaluate on a span that is not in train_spans")
    return DataSpec(root=root, span_dir=span_dir, train_spans=tuple(train), eval_span=eval_span, prepare=prepare)


def _parse_features(r: _Reader, items: list, schema: Mapping[str, str]) -> tuple[FeatureSpec, ...]:
    features, seen = [], set()
    for i, item in enumerate(items):
        field = f"features[{i}]"
        r.only(item, field, FEATURE_KEYS)
        name = r.get(item, "name", f"{field}.name", str)
        kind = r.get(item, "kind", f"{field}.kind", str)
        if kind not in FEATURE_KINDS:
            raise r.fail(f"{field}.kind", kind, f"use one of {', '.join(FEATURE_KINDS)}")
        if name in seen:
            raise r.fail(f"{field}.name", name, "feature names must be unique")
        seen.add(name)
        buckets = r.get(item, "buckets", f"{field}.buckets", int, 0)
        of = tuple(r.get(item, "of", f"{field}.of", list, []))
        if kind in ("bucketized", "cross") and buckets < 2:
            raise r.fail(f"{field}.buckets", buckets, f"a {kind} feature needs buckets >= 2")
        if kind == "cross":
            if len(of) < 2:
                raise r.fail(f"{field}.of", list(of), "a cross combines at least two features")
            keys = of
        else:
            keys = (name,)
        for key in keys:
            if key not in schema:
                raise r.fail(f"{field}", key, f"not a feature of the schema; known: {', '.join(sorted(schema))}")
        if kind == "numeric" and schema[name] == "BYTES":
            raise r.fail(f"{field}.kind", kind, f"{name} is a string feature; use categorical")
        features.append(FeatureSpec(name=name, kind=kind, buckets=buckets, of=of))
    if not features:
        raise r.fail("features", items, "list at least one feature")
    return tuple(features)


def _parse_heads(
    r: _Reader, items: list, schema: Mapping[str, str], features: tuple[FeatureSpec, ...]
) -> tuple[HeadSpec, ...]:
    heads, seen = [], set()
    inputs = {key for feature in features for key in feature.raw_keys}
    for i, item in enumerate(items):
        field = f"heads[{i}]"
        r.only(item, field, HEAD_KEYS)
        name = r.get(item, "name", f"{field}.name", str)
        if not name.isidentifier():
            raise r.fail(f"{field}.name", name, "use letters, digits and _ (it names a Keras output)")
        if name in seen:
            raise r.fail(f"{field}.name", name, "duplicate head name; each head needs its own")
        seen.add(name)
        kind = r.get(item, "kind", f"{field}.kind", str)
        if kind not in HEAD_KINDS:
            raise r.fail(f"{field}.kind", kind, f"use one of {', '.join(HEAD_KINDS)}")
        label = r.get(item, "label", f"{field}.label", str)
        if label not in schema:
            raise r.fail(f"{field}.label", label, "not a feature of the schema; add it there or fix the name")
        if label in inputs:
            raise r.fail(f"{field}.label", label, "a label cannot also be a model input")
        classes = tuple(str(c) for c in r.get(item, "classes", f"{field}.classes", list, []))
        if kind == "multiclass" and len(classes) < 3:
            raise r.fail(f"{field}.classes", list(classes), "a multiclass head lists its 3+ class names")
        if kind == "binary" and classes and len(classes) != 2:
            raise r.fail(f"{field}.classes", list(classes), "a binary head lists [negative, positive]")
        if schema[label] == "BYTES" and not classes:
            raise r.fail(f"{field}.classes", None, f"{label} holds strings: list them in classes")
        loss = r.get(item, "loss", f"{field}.loss", str, LOSSES[kind][0])
        if loss not in LOSSES[kind]:
            raise r.fail(f"{field}.loss", loss, f"a {kind} head uses one of {', '.join(LOSSES[kind])}")
        loss_weight = r.get(item, "loss_weight", f"{field}.loss_weight", (float, type(None)), None)
        if loss_weight is not None and not 0 < loss_weight < math.inf:
            raise r.fail(f"{field}.loss_weight", loss_weight, "must be > 0; leave it out to learn the weight")
        huber_delta = r.get(item, "huber_delta", f"{field}.huber_delta", float, DEFAULT_HUBER_DELTA)
        if "huber_delta" in item and loss != "huber":
            raise r.fail(f"{field}.huber_delta", huber_delta, "only a head with loss: huber takes a huber_delta")
        if not 0 < huber_delta < math.inf:
            raise r.fail(f"{field}.huber_delta", huber_delta, "must be > 0 (in standard deviations of the label)")
        metrics = tuple(r.get(item, "metrics", f"{field}.metrics", list))
        if len(set(metrics)) != len(metrics):
            raise r.fail(f"{field}.metrics", list(metrics), "a metric is listed twice; list each once")
        for metric in metrics:
            if metric not in METRIC_KEYS[kind]:
                raise r.fail(f"{field}.metrics", metric, f"a {kind} head can compute {', '.join(METRIC_KEYS[kind])}")
        scalars = tuple(m for m in metrics if m not in PLOTS and m not in NOT_GATEABLE)
        gate = _parse_gate(r, r.get(item, "gate", f"{field}.gate", dict), f"{field}.gate", scalars)
        heads.append(
            HeadSpec(
                name=name,
                label=label,
                kind=kind,
                metrics=metrics,
                gate=gate,
                classes=classes,
                loss=loss,
                loss_weight=loss_weight,
                huber_delta=huber_delta,
            )
        )
    if not heads:
        raise r.fail("heads", items, "list at least one head")
    return tuple(heads)


def _parse_gate(r: _Reader, item: Mapping, field: str, metrics: tuple[str, ...]) -> Gate:
    r.only(item, field, GATE_KEYS)
    metric = r.get(item, "metric", f"{field}.metric", str)
    if metric not in metrics:
        raise r.fail(
            f"{field}.metric", metric, f"gate on a quality metric this head computes: {', '.join(metrics) or 'none'}"
        )
    at_least = r.get(item, "at_least", f"{field}.at_least", float, None)
    at_most = r.get(item, "at_most", f"{field}.at_most", float, None)
    if (at_least is None) == (at_most is None):
        raise r.fail(field, dict(item), "give exactly one value threshold: at_least or at_most")
    lower_is_better = metric in LOWER_IS_BETTER
    if lower_is_better and at_least is not None:
        raise r.fail(f"{field}.at_least", at_least, f"lower {metric} is better: give a ceiling with at_most")
    if not lower_is_better and at_most is not None:
        raise r.fail(f"{field}.at_most", at_most, f"higher {metric} is better: give a floor with at_least")
    max_regression = r.get(item, "max_regression", f"{field}.max_regression", float, None)
    if max_regression is not None and max_regression < 0:
        raise r.fail(f"{field}.max_regression", max_regression, "the allowed regression is >= 0")
    slice_max_regression = r.get(item, "slice_max_regression", f"{field}.slice_max_regression", float, None)
    if slice_max_regression is not None and (max_regression is None or slice_max_regression < 0):
        raise r.fail(
            f"{field}.slice_max_regression",
            slice_max_regression,
            "the allowed regression on a gated slice is >= 0 and comes with max_regression (the overall one)",
        )
    min_lift = r.get(item, "min_lift", f"{field}.min_lift", (float, type(None)), DEFAULT_MIN_LIFT)
    if min_lift is not None and not 0 <= min_lift < 1:
        raise r.fail(
            f"{field}.min_lift",
            min_lift,
            "a fraction of the naive predictor's score in [0, 1), e.g. 0.01; null: no lift rule",
        )
    return Gate(
        metric=metric,
        at_least=at_least,
        at_most=at_most,
        max_regression=max_regression,
        slice_max_regression=slice_max_regression,
        min_lift=min_lift,
    )


def _parse_trainer(r: _Reader, item: Mapping) -> TrainerSettings:
    r.only(item, "trainer", tuple(field.name for field in dataclasses.fields(TrainerSettings)))
    defaults = TrainerSettings()
    values = {}
    for field in dataclasses.fields(TrainerSettings):
        default = getattr(defaults, field.name)
        kind = list if isinstance(default, tuple) else type(default)
        value = r.get(item, field.name, f"trainer.{field.name}", kind, default)
        if isinstance(default, tuple):
            if not all(isinstance(v, int) and v > 0 for v in value):
                raise r.fail(f"trainer.{field.name}", value, "list positive layer widths")
            value = tuple(value)
        elif field.name == "seed" and value < 0:
            raise r.fail("trainer.seed", value, "a seed is an integer >= 0")
        elif field.name == "ema_momentum" and not 0 <= value < 1:
            raise r.fail("trainer.ema_momentum", value, "a momentum in [0, 1), e.g. 0.99; 0 turns averaging off")
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and value <= 0
            and field.name not in ("seed", "ema_momentum")
        ):
            raise r.fail(f"trainer.{field.name}", value, "must be > 0")
        values[field.name] = value
    return TrainerSettings(**values)


def _parse_slices(r: _Reader, items: list, schema: Mapping[str, str]) -> tuple[SliceSpec, ...]:
    slices = []
    for i, item in enumerate(items):
        field = f"slices[{i}]"
        r.only(item, field, SLICE_KEYS)
        features = r.get(item, "features", f"{field}.features", list)
        if not features:
            raise r.fail(f"{field}.features", features, "name one or more features to slice by")
        for feature in features:
            if feature not in schema:
                raise r.fail(f"{field}.features", feature, "slice on a feature of the schema")
        slices.append(SliceSpec(features=tuple(features), gated=r.get(item, "gated", f"{field}.gated", bool, False)))
    return tuple(slices)
