"""ServedBaseline: the model now serving, as the baseline, on Kubeflow Pipelines.

The open-source Kubeflow Pipelines v2 backend does not run resolver
executors (its Argo compiler answers "resolver executors not implemented",
backend/src/v2/compiler/argocompiler/dag.go), so TFX's latest-blessed-model
resolver cannot find the baseline there. This component does it from files:
the newest version the Pusher wrote under the serving directory (pushed only
when every head passed) is copied into its Model output, laid out as TFX
lays out a Trainer's model. With nothing pushed yet the output stays empty,
and the Evaluator's executor (components/evaluator.py), the gate and the
report treat an empty model as "no baseline" (a first run). LocalDagRunner keeps TFX's resolver,
which reads ML Metadata.
"""

import os  # no `from __future__ import annotations`: TFX reads the type hints

from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.utils import io_utils, path_utils

from contracts.serving_dir import pushed_versions

SERVED_VERSION_PROPERTY = "served_version"
COMPONENT_ID = "served_baseline"


def newest_version(serving_dir: str) -> str | None:
    """The newest complete version the Pusher wrote under serving_dir, local or object storage."""
    versions = pushed_versions(serving_dir)
    return versions[-1] if versions else None


def has_model(model: tfx.types.standard_artifacts.Model | None) -> bool:
    """False for None and for a ServedBaseline output left empty (nothing served yet)."""
    if model is None:
        return False
    return fileio.exists(os.path.join(path_utils.serving_model_path(model.uri), "saved_model.pb"))


@component
def ServedBaseline(  # noqa: N802 (a component class name)
    model: OutputArtifact[tfx.types.standard_artifacts.Model],
    serving_dir: Parameter[str],
) -> None:
    """Copies the newest pushed version into `model`; leaves it empty when nothing was pushed."""
    version = newest_version(serving_dir)
    if version is None:
        print(f"[baseline] nothing served under {serving_dir}: no baseline (a first run)")
        return
    io_utils.copy_dir(version, path_utils.serving_model_dir(model.uri))
    model.set_string_custom_property(SERVED_VERSION_PROPERTY, version)
    print(f"[baseline] the served model {version} is the baseline")
