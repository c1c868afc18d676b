"""The typed pipeline configuration: one YAML file per data set under configs/.

The file's format is the pydantic models in pipeline/config_file.py (strict
types, unknown keys refused; their JSON Schema is what editors read). Loading
validates a file against them and the data set's schema and reports the first
problem as `field: bad value -- how to fix`. Relative paths are resolved
against the repository root, so a config means the same from any directory.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contracts import storage
from contracts.evaluation_plan import EvaluationPlan
from pipeline.config_file import BASE_KEY, REPO_ROOT, ConfigFile, KubeflowSection, config_error
from pipeline.config_file import ConfigError as ConfigError  # re-exported: what every command catches
from trainer.specs import ModelSpecs

DEFAULT_CONFIG = REPO_ROOT / "configs" / "flights.yaml"  # what every command runs without --config


@dataclasses.dataclass(frozen=True)
class SliceSpec:
    """A slicing of the evaluation; gated slices also carry the heads' thresholds."""

    features: tuple[str, ...]
    gated: bool = False


@dataclasses.dataclass(frozen=True)
class DataSpec:
    root: str  # a local path or a gs:// URI (TensorFlow opens no s3://)
    span_dir: str  # e.g. "span-{span}"; files are matched as <span_dir>/*
    # Either a rolling window (train_window: the newest span is evaluated, the
    # train_window spans before it are trained on; resolved when a run starts,
    # contracts/spans.py) or fixed spans (train_spans and eval_span).
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
    output_root: str  # a local path or a gs:// URI (strings: pathlib would mangle gs://)
    kubeflow: KubeflowSection | None = None  # where the compiled pipeline runs (orchestration/kubeflow.py)
    serving_root: str | None = None  # default: <output_root>/serving
    history_root: str | None = None  # the gate's decision records; default: <pipeline_root>/gate_decisions

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_root, "pipeline_root")

    @property
    def local_root(self) -> str:
        """What stays on this machine: the ML Metadata store, the run lock, the logs and the reports a command
        writes. The output root itself when local; with an object-storage output root, out/pipelines/<name>."""
        return (
            str(REPO_ROOT / "out" / "pipelines" / self.name) if storage.is_uri(self.output_root) else self.output_root
        )

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.local_root, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return self.serving_root or os.path.join(self.output_root, "serving")

    @property
    def history_dir(self) -> str:
        """Where the gate records each decision and every report reads the history."""
        from components.gate.decision_records import decision_records_dir

        return self.history_root or decision_records_dir(self.pipeline_root)

    def with_data(self, **changes: Any) -> PipelineConfig:
        """A copy with other data settings (a new span window, another root)."""
        if "root" in changes:
            changes["root"] = str(changes["root"])
        return dataclasses.replace(self, data=dataclasses.replace(self.data, **changes))

    def with_output_root(self, root: str | Path) -> PipelineConfig:
        return dataclasses.replace(self, output_root=str(root))

    def evaluation_plan(self) -> EvaluationPlan:
        """What the HeadGate and the PerHeadReport read: heads, gated slicings, interval settings, raw inputs."""
        return EvaluationPlan(
            heads=tuple(self.model.heads),
            gated_slices=tuple(tuple(s.features) for s in self.slices if s.gated),
            min_slice_examples=self.min_slice_examples,
            confidence=self.confidence,
            inputs=tuple(sorted({key for feature in self.model.features for key in feature.raw_keys})),
        )


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
        base_path = REPO_ROOT / base if "://" not in base and not Path(base).is_absolute() else Path(base)
        base_raw = _read_settings(base_path, f"{base_path} (the base of {path})")
        if not isinstance(base_raw, Mapping) or BASE_KEY in base_raw:
            raise ConfigError(source, BASE_KEY, base, "the base must be a complete config, without a base of its own")
        label = f"{path} (on {base}){overridden}"
        raw = merge_settings(base_raw, {k: v for k, v in raw.items() if k != BASE_KEY}, label)
    if overrides and isinstance(raw, Mapping):
        raw = merge_settings(raw, overrides, label)
    return parse_config(raw, source, label)


def parse_config(raw: Any, source: str = "<config>", label: str | None = None) -> PipelineConfig:
    """`source` is kept as the config's origin; errors name `label` (default: `source`)."""
    try:
        file = ConfigFile.model_validate(raw, context={})
    except ValidationError as error:
        raise config_error(error, label or source) from None
    data = file.data
    return PipelineConfig(
        name=file.name,
        source=source,
        schema_path=file.schema_path,
        data=DataSpec(
            root=data.root,
            span_dir=data.span_dir,
            train_spans=tuple(data.train_spans or ()),
            eval_span=data.eval_span,
            train_window=data.train_window,
            prepare=data.prepare,
        ),
        model=ModelSpecs(
            features=tuple(feature.spec() for feature in file.features),
            heads=tuple(head.spec() for head in file.heads),
            trainer=file.trainer.settings(),
        ),
        slices=tuple(SliceSpec(features=tuple(s.features), gated=s.gated) for s in file.slices),
        min_slice_examples=file.evaluation.min_slice_examples,
        confidence=file.evaluation.confidence,
        beam_args=tuple(file.beam_args),
        output_root=file.output_root or str(REPO_ROOT / "out" / "pipelines" / file.name),
        kubeflow=file.kubeflow,
    )


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
