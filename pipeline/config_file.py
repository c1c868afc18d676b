"""The config file's format (configs/<data set>.yaml) as pydantic models: strict, unknown keys refused.

Their JSON Schema (`make config-schema`) is what editors read; loading (pipeline/config.py) validates
a file with them, against the data set's schema too (the validation context), and config_error turns
pydantic's first error into one ConfigError naming the field, the value and the fix.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.spans import DEFAULT_SPAN_DIR
from trainer import specs

BASE_KEY = "base"  # a config that changes another: see pipeline/config.py, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent
PREPARED_DATA_SETS = ("flights",)  # what data.prepare may name
METRICS = tuple(sorted({name for kind in specs.METRIC_KEYS.values() for name in kind}))  # TFMA metric classes
DEFAULT_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
# Where a Kubeflow run's artifacts may go: the KFP launcher moves them between these stores and the pod.
PIPELINE_ROOT_URI = r"^(gs|s3|minio)://"
TF_URI = "gs://"  # the only object store TensorFlow 2.21 opens itself (no s3:// or minio:// file system)
ACCELERATORS = (  # what KFP v2 accepts as a Trainer's accelerator type
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_L4",
    "NVIDIA_H100_80GB",
    "nvidia.com/gpu",
)
_TRAINER = specs.TrainerSettings()  # the trainer's defaults
PositiveInt = Annotated[int, Field(gt=0)]
BeamArg = Annotated[str, Field(pattern="^--")]  # --flag=value, locally and on Kubeflow
# A class as the label holds it: a name, or a YAML number ([0, 1, 2]) read as its text.
ClassName = Annotated[
    str,
    BeforeValidator(lambda name: str(name) if type(name) is int else name),
    WithJsonSchema({"type": ["string", "integer"]}),
]


class ConfigError(ValueError):
    """A config field is wrong; the message names the field, the value and the fix."""

    def __init__(self, source: str, field: str, value: Any, fix: str):
        super().__init__(f"{source}: {field}: {value!r} -- {fix}")
        self.field = field


def fail(fix: str, value: Any, *at: str | int) -> PydanticCustomError:
    """A rule of ours broken at `at` (below the model validated); config_error reports it."""
    return PydanticCustomError("config", "{fix}", {"fix": fix, "value": value, "at": at})


def resolve_path(path: str) -> str:
    """URIs stay as they are; local paths become absolute, relative to the repository."""
    candidate = Path(path).expanduser()
    return path if "://" in path else str(candidate if candidate.is_absolute() else REPO_ROOT / candidate)


def load_schema_names(schema_path: str | Path) -> dict[str, str]:
    """Feature name -> type name (INT, FLOAT, BYTES) from a schema.pbtxt."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(Path(schema_path).read_text(), schema_pb2.Schema())
    return {feature.name: schema_pb2.FeatureType.Name(feature.type) for feature in schema.feature}


def _schema(info: ValidationInfo) -> dict[str, str] | None:
    """The data set's columns, once `schema` validated (None before, or when it did not)."""
    return (info.context or {}).get("schema")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DataSection(Section):
    root: str = Field(description="Where the span folders are: a local path (from the repository) or gs://")
    span_dir: str = Field(DEFAULT_SPAN_DIR, pattern=r"\{span\}", description="must contain {span}, e.g. span-{span}")
    train_window: int | None = Field(
        None, ge=1, description="at least 1: the newest span is evaluated, the train_window spans before it trained on"
    )
    train_spans: list[Annotated[int, Field(ge=0)]] | None = Field(None, description="Fixed training spans")
    eval_span: int | None = Field(None, ge=0, description="The fixed evaluation span (with train_spans)")
    prepare: Literal[PREPARED_DATA_SETS] | None = Field(
        None,
        description="a data set this project writes itself (missing span folders are written on first use); "
        "or leave it out and put the span folders under data.root",
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _one_window(self) -> DataSection:
        self.root, spans, window = resolve_path(self.root), self.train_spans, self.train_window
        if window is not None and (spans is not None or self.eval_span is not None):
            raise fail("give either train_window or fixed train_spans and eval_span, not both", window, "train_window")
        if window is None and (spans is None or self.eval_span is None):
            given = {"train_window": None, "train_spans": spans, "eval_span": self.eval_span}
            fix = "set train_window (e.g. 3: the newest span is evaluated, the 3 before it trained on), "
            raise fail(fix + "or both train_spans and eval_span", given)
        if window is None and not spans:
            raise fail("list the training spans as non-negative integers", spans, "train_spans")
        if window is None and len(set(spans)) != len(spans):
            raise fail("a span is listed twice", spans, "train_spans")
        if window is None and self.eval_span in spans:
            raise fail("evaluate on a span that is not in train_spans", self.eval_span, "eval_span")
        return self


class FeatureSection(Section):
    name: str = Field(description="The model input's name (and the raw column's, unless `column` names another)")
    kind: Literal[specs.FEATURE_KINDS]
    column: str | None = Field(None, description="The raw column read, so one column can feed several features")
    buckets: int = Field(0, ge=0, description="bucketized: quantile buckets; cross: hash buckets (>= 2)")
    of: list[str] = Field([], description="cross: the categorical columns it combines")

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> FeatureSection:
        if self.kind in ("bucketized", "cross") and self.buckets < 2:
            raise fail(f"a {self.kind} feature needs buckets >= 2", self.buckets, "buckets")
        if self.kind == "cross" and len(self.of) < 2:
            raise fail("a cross combines at least two features", self.of, "of")
        if self.kind == "cross" and self.column is not None:
            raise fail("a cross names the columns it reads in `of`", self.column, "column")
        schema, keys = _schema(info), self.spec().raw_keys
        for key in keys if schema is not None else ():
            if key not in schema:
                at = ("column",) if self.column else ()
                raise fail(f"not a feature of the schema; known: {', '.join(sorted(schema))}", key, *at)
        if schema is not None and self.kind == "numeric" and schema[keys[0]] == "BYTES":
            raise fail(f"{keys[0]} is a string feature; use categorical", self.kind, "kind")
        return self

    def spec(self) -> specs.FeatureSpec:
        fields = {"name": self.name, "kind": self.kind, "buckets": self.buckets, "column": self.column}
        return specs.FeatureSpec(**fields, of=tuple(self.of))


class GateSection(Section):
    metric: Literal[METRICS] = Field(description="The TFMA metric class gated on; one of the head's metrics")
    at_least: float | None = Field(None, description="A floor on the metric (higher is better)")
    at_most: float | None = Field(None, description="A ceiling on the metric (lower is better)")
    max_regression: float | None = Field(
        None, ge=0, description="the allowed regression against the baseline, in metric units, is >= 0"
    )
    slice_max_regression: float | None = Field(
        None, ge=0, description="The allowed regression on each gated slice (default: max_regression)"
    )
    min_lift: float | None = Field(
        specs.DEFAULT_MIN_LIFT,
        ge=0,
        lt=1,
        description="a fraction of the naive predictor's score in [0, 1), e.g. 0.01; null: no lift rule",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> GateSection:
        if (self.at_least is None) == (self.at_most is None):
            raise fail("give exactly one value threshold: at_least or at_most", self.model_dump(exclude_unset=True))
        if self.slice_max_regression is not None and self.max_regression is None:
            fix = "a gated slice's allowed regression comes with max_regression (the overall one)"
            raise fail(fix, self.slice_max_regression, "slice_max_regression")
        return self


class HeadSection(Section):
    name: str = Field(description="The Keras output's name: letters, digits and _")
    label: str = Field(description="The raw column holding the label (may be missing on some rows)")
    kind: Literal[specs.HEAD_KINDS]
    classes: list[ClassName] = Field([], description="binary: [negative, positive]; multiclass: its 3+ class names")
    loss: str | None = Field(None, description="Default: the kind's first (huber, binary_crossentropy, ...)")
    loss_weight: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="a fixed weight; leave it out to learn the weight"
    )
    huber_delta: float = Field(
        specs.DEFAULT_HUBER_DELTA, gt=0, allow_inf_nan=False, description="in standard deviations of the label"
    )
    metrics: list[Literal[METRICS]] = Field(description="The TFMA metric classes computed for this head")
    gate: GateSection

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not name.isidentifier():
            raise fail("use letters, digits and _ (it names a Keras output)", name)
        return name

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HeadSection:
        kind, schema, label, classes, losses = self.kind, _schema(info), self.label, self.classes, specs.LOSSES
        if schema is not None and label not in schema:
            raise fail("not a feature of the schema; add it there or fix the name", label, "label")
        if label in (info.context or {}).get("inputs", ()):
            raise fail("a label cannot also be a model input", label, "label")
        if kind == "multiclass" and len(classes) < 3:
            raise fail("a multiclass head lists its 3+ class names", classes, "classes")
        if kind == "binary" and len(classes) not in (0, 2):
            raise fail("a binary head lists [negative, positive]", classes, "classes")
        if schema is not None and schema[label] == "BYTES" and not classes:
            raise fail(f"{label} holds strings: list them in classes", None, "classes")
        if (loss := self.loss or losses[kind][0]) not in losses[kind]:
            raise fail(f"a {kind} head uses one of {', '.join(losses[kind])}", loss, "loss")
        if "huber_delta" in self.model_fields_set and loss != "huber":
            raise fail("only a head with loss: huber takes a huber_delta", self.huber_delta, "huber_delta")
        if len(set(self.metrics)) != len(self.metrics):
            raise fail("a metric is listed twice; list each once", self.metrics, "metrics")
        for metric in self.metrics:
            if metric not in specs.METRIC_KEYS[kind]:
                raise fail(f"a {kind} head can compute {', '.join(specs.METRIC_KEYS[kind])}", metric, "metrics")
        self.loss = loss  # the kind's default when none was given
        gate = self.gate
        scalars = [m for m in self.metrics if m not in specs.PLOTS | specs.NOT_GATEABLE]
        if gate.metric not in scalars:
            fix = f"gate on a quality metric this head computes: {', '.join(scalars) or 'none'}"
            raise fail(fix, gate.metric, "gate", "metric")
        if gate.metric in specs.LOWER_IS_BETTER and gate.at_least is not None:
            raise fail(f"lower {gate.metric} is better: give a ceiling with at_most", gate.at_least, "gate", "at_least")
        if gate.metric not in specs.LOWER_IS_BETTER and gate.at_most is not None:
            raise fail(f"higher {gate.metric} is better: give a floor with at_least", gate.at_most, "gate", "at_most")
        return self

    def spec(self) -> specs.HeadSpec:
        fields = self.model_dump(exclude={"gate", "classes", "metrics"})
        gate = specs.Gate(**self.gate.model_dump())
        return specs.HeadSpec(**fields, classes=tuple(self.classes), metrics=tuple(self.metrics), gate=gate)


class SliceSection(Section):
    features: list[str] = Field(min_length=1, description="name one or more features to slice by")
    gated: bool = Field(False, description="Gate every head on each slice of this slicing too")

    @field_validator("features")
    @classmethod
    def _in_schema(cls, features: list[str], info: ValidationInfo) -> list[str]:
        schema = _schema(info)
        for feature in features if schema is not None else ():
            if feature not in schema:
                raise fail("slice on a feature of the schema", feature)
        return features


class EvaluationSection(Section):
    min_slice_examples: int = Field(30, ge=1, description="The smallest slice that is gated")
    confidence: float = Field(
        0.95, ge=0.5, lt=1, description="a confidence level in [0.5, 1), e.g. 0.95, of each change's interval"
    )


class TrainerSection(Section):
    """TrainerSettings (trainer/specs.py) as the file spells it; the defaults are its own."""

    batch_size: int = Field(_TRAINER.batch_size, gt=0, description="examples per step on each replica")
    train_steps: int = Field(_TRAINER.train_steps, gt=0, description="optimizer steps")
    eval_steps: int = Field(_TRAINER.eval_steps, gt=0, description="batches of the evaluation split after training")
    learning_rate: float = Field(_TRAINER.learning_rate, gt=0, description="Adam's step size")
    hidden_units: list[PositiveInt] = Field(
        list(_TRAINER.hidden_units), description="the shared backbone's layer widths"
    )
    tower_units: list[PositiveInt] = Field(list(_TRAINER.tower_units), description="each head's own layer widths")
    embedding_dim: int = Field(_TRAINER.embedding_dim, gt=0, description="width of each categorical embedding")
    mixed_precision: bool = Field(_TRAINER.mixed_precision, description="float16 compute on a GPU")
    seed: int = Field(_TRAINER.seed, ge=0, description="a seed for weights, dropout and shuffles")
    ema_momentum: float = Field(
        _TRAINER.ema_momentum,
        ge=0,
        lt=1,
        description="a momentum in [0, 1), e.g. 0.99, of the exported weights' average; 0 turns averaging off",
    )
    ensemble_members: int = Field(_TRAINER.ensemble_members, gt=0, description="models trained, averaged on export")
    checkpoint_steps: int = Field(_TRAINER.checkpoint_steps, gt=0, description="steps between resumable backups")

    def settings(self) -> specs.TrainerSettings:
        units = {"hidden_units": tuple(self.hidden_units), "tower_units": tuple(self.tower_units)}
        return specs.TrainerSettings(**{**self.model_dump(), **units})


class TolerationSection(Section):
    """A Kubernetes toleration of the Trainer's pods (omitted fields: Exists, NoSchedule)."""

    key: str = Field(description="The taint's key, e.g. nvidia.com/gpu")
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = Field(None, description="With operator: Equal, the taint's value")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", ""] | None = None


class StorageSecretSection(Section):
    """Object-storage credentials for every task, from a Kubernetes secret by name (its values stay there)."""

    name: str = Field(min_length=1, description="The Kubernetes secret's name")
    env: dict[str, str] = Field(min_length=1, description="ENVIRONMENT_VARIABLE: <key in the secret>, one or more")


class KubeflowTrainerSection(Section):
    cpu: float = Field(8, gt=0, description="a positive number: CPUs of each Trainer worker")
    memory_gb: float = Field(32, gt=0, description="a positive number: memory of each Trainer worker in GB")
    accelerator: Literal[ACCELERATORS] = Field("NVIDIA_TESLA_T4", description="The accelerator of each worker")
    accelerator_count: int = Field(1, gt=0, description="a positive number: accelerators per worker")
    workers: int = Field(1, gt=0, description="a positive number; > 1: the Trainer task launches a TFJob of them")
    node_selector: dict[str, str] = Field({}, description="Node label -> value, for the Trainer's pods")
    tolerations: list[TolerationSection] | None = Field(None, description="Absent: tolerate nvidia.com/gpu; [] none")


_IMAGE = r"^\S+$"  # an image reference: no spaces
_READ_BY_PATH = (
    "the pipeline's tasks open it with TensorFlow, which reads gs:// and local paths but not s3:// or minio://: "
    "give a gs:// URI, or a path under kubeflow.volume.mount_path (a PersistentVolumeClaim every task mounts)"
)


class VolumeSection(Section):
    """A PersistentVolumeClaim mounted into every task: where the paths tasks open by name can live when the
    store is one TensorFlow cannot read (a stock Kubeflow's MinIO)."""

    claim: str = Field(min_length=1, description="The PersistentVolumeClaim's name (ReadWriteMany)")
    mount_path: str = Field(pattern=r"^/\S*$", description="An absolute path inside every task's container")


class KubeflowSection(Section):
    """Where the compiled pipeline runs (`make compile`); checked on load like the rest."""

    pipeline_root: str = Field(
        pattern=PIPELINE_ROOT_URI,
        description="the artifacts' root: gs://, s3:// or minio:// (the KFP launcher moves artifacts to each pod)",
    )
    data_root: str = Field(description="the span folders: gs://, or a path under volume.mount_path")
    serving_dir: str = Field(description="the Pusher's directory: gs://, or a path under volume.mount_path")
    history_dir: str | None = Field(
        None,
        description="the gate's decision records (the reports' history); default "
        "<pipeline_root>/pipeline_root/gate_decisions with a gs:// root; with an s3:// or minio:// root, "
        "a path under volume.mount_path",
    )
    volume: VolumeSection | None = None
    image: str = Field(pattern=_IMAGE, description="the image of every task (Dockerfile --target cpu), no spaces")
    gpu_image: str | None = Field(None, pattern=_IMAGE, description="the Trainer's image (default: image), no spaces")
    beam_args: list[BeamArg] = Field([], description="each a --flag=value string, e.g. --runner=DataflowRunner")
    trainer: KubeflowTrainerSection = KubeflowTrainerSection()
    storage_secret: StorageSecretSection | None = None

    @model_validator(mode="after")
    def _paths_the_tasks_open(self) -> KubeflowSection:
        if self.history_dir is None and not self.pipeline_root.startswith(TF_URI):
            raise fail(f"the pipeline root {self.pipeline_root} is not gs://; {_READ_BY_PATH}", None, "history_dir")
        mount = self.volume.mount_path.rstrip("/") + "/" if self.volume else None
        for field in ("data_root", "serving_dir", "history_dir"):
            path = getattr(self, field)
            if path is None or path.startswith(TF_URI) or (mount and path.startswith(mount)):
                continue
            raise fail(_READ_BY_PATH, path, field)
        return self


class ConfigFile(Section):
    """One data set's pipeline: configs/<name>.yaml."""

    name: str = Field(description="The pipeline's name")
    schema_path: str = Field(alias="schema", description="The curated schema.pbtxt the data is validated against")
    data: DataSection
    features: list[FeatureSection] = Field(min_length=1, description="list at least one feature")
    heads: list[HeadSection] = Field(min_length=1, description="list at least one head")
    slices: list[SliceSection] = []
    evaluation: EvaluationSection = EvaluationSection()
    trainer: TrainerSection = TrainerSection()
    beam_args: list[BeamArg] = Field(
        DEFAULT_BEAM_ARGS, description="each Beam argument is a string like --runner=DataflowRunner"
    )
    output_root: str | None = Field(None, description="Default: out/pipelines/<name>")
    kubeflow: KubeflowSection | None = None

    @field_validator("schema_path")
    @classmethod
    def _schema_file(cls, path: str, info: ValidationInfo) -> str:
        if not Path(path := resolve_path(path)).is_file():
            raise fail("no schema file there; point `schema` at a schema.pbtxt", path)
        if info.context is not None:
            info.context["schema"] = load_schema_names(path)
        return path

    @field_validator("features")
    @classmethod
    def _note_inputs(cls, features: list[FeatureSection], info: ValidationInfo) -> list[FeatureSection]:
        """The raw columns the model reads, which no head may take as its label."""
        if info.context is not None:
            info.context["inputs"] = {key for feature in features for key in feature.spec().raw_keys}
        return features

    @field_validator("output_root")
    @classmethod
    def _output_root(cls, path: str | None) -> str | None:
        return None if path is None else resolve_path(path)

    @model_validator(mode="after")
    def _unique_names(self) -> ConfigFile:
        for section, fix in (("features", "feature names must be unique"), ("heads", "duplicate head name")):
            names = [item.name for item in getattr(self, section)]
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise fail(f"{fix}; each needs its own", name, section, i, "name")
        return self


_TYPE_NAMES = {"string_type": "str", "int_type": "int", "float_type": "float", "bool_type": "bool", "list_type": "list"}
_MAPPING_TYPES = ("model_type", "model_attributes_type", "dict_type")
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def config_error(error: ValidationError, source: str) -> ConfigError:
    """Pydantic's first error as `field: value -- fix` in the config's own terms."""
    first = error.errors()[0]
    kind, loc, value, ctx = first["type"], tuple(first["loc"]), first["input"], first.get("ctx") or {}
    section, field = _field_at(loc)
    description = field.description if field is not None else None
    if kind == "config":
        loc, value, fix = loc + tuple(ctx["at"]), ctx["value"], ctx["fix"]
    elif kind == "extra_forbidden":
        known = [info.alias or name for name, info in section.model_fields.items()]
        close = [f"did you mean {match!r}? " for match in difflib.get_close_matches(str(loc[-1]), known, n=1)]
        fix = f"unknown setting; {''.join(close)}known here: {', '.join(known)}"
    elif kind == "missing":
        value, fix = None, "this field is required"
    elif kind in _TYPE_NAMES or kind in _MAPPING_TYPES:
        fix = f"expected {_TYPE_NAMES.get(kind, 'a mapping of settings')}"
    else:  # what pydantic's check says, then what the field is for
        if kind == "literal_error":
            fix = "use one of " + ", ".join(name or '""' for name in re.findall(r"'([^']*)'", ctx["expected"]))
        elif kind in _BOUNDS:
            fix = f"must be {_BOUNDS[kind][1]} {ctx[_BOUNDS[kind][0]]}"
        else:
            fix = "" if kind == "string_pattern_mismatch" and description else first["msg"]
        fix = ": ".join(filter(None, (fix, description)))
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return ConfigError(source, path or "(top level)", value, fix)


def _field_at(loc: tuple[str | int, ...]) -> tuple[type[BaseModel], Any]:
    """The model holding the last named key of `loc`, and that key's FieldInfo (None if it has none)."""
    model, field = ConfigFile, None
    for part in (part for part in loc if isinstance(part, str)):
        field = {info.alias or name: info for name, info in model.model_fields.items()}.get(part)
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return model, field
        model = inner
    return model, field


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, getattr(annotation, "__args__", ()))), None)


def json_schema() -> dict[str, Any]:
    """What editors read (yaml-language-server): keys, types, enums, bounds and descriptions. A config
    with `base` changes another (pipeline/config.py, load_config): it states only what differs, so the
    top-level keys are required only without it."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **ConfigFile.model_json_schema(by_alias=True)}
    schema["properties"][BASE_KEY] = {
        "description": "The path of a complete config (e.g. configs/flights.yaml) that this one changes: "
        "what this file states replaces the base's, a head by its name; everything else is the base's.",
        "type": "string",
    }
    schema["if"] = {"required": [BASE_KEY]}
    schema["else"] = {"required": schema.pop("required", [])}
    return schema
