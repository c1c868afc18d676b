"""Which run, model and data a report is about, written so that it can be handed to others.

A report travels (attached to a review, a ticket, the Kubeflow UI), so it names
no path of the machine that wrote it: a local artifact is named by its place
under the pipeline root (`<pipeline root>/Trainer/model/19`, the same on every
machine, and what ML Metadata's artifact id points at), a pushed version by its
folder under the serving directory. Object-storage URIs (gs://, minio://) are kept
whole: they are shared locations that the readers can open; so is the local
path a Kubeflow task works on, named by the URI the launcher gave it.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.launcher_paths import launcher_remote_uri

PIPELINE_ROOT = "<pipeline root>"
SERVING_DIR = "<serving dir>"
NO_BASELINE = "none (first blessed model)"
NOT_PUSHED = "not pushed"
ARTIFACT_PARTS = 3  # TFX's local layout: <pipeline root>/<component id>/<output key>/<execution id>


def shareable_location(uri: str, placeholder: str, kept_parts: int) -> str:
    """`uri` as is when it is a shared URI; a local path's last `kept_parts` parts under `placeholder`."""
    if "://" in uri:
        return uri
    if (remote := launcher_remote_uri(uri)) is not None:
        return remote
    parts = [part for part in uri.replace("\\", "/").split("/") if part]
    return "/".join([placeholder, *parts[-kept_parts:]])


def artifact_location(uri: str) -> str:
    """Where an artifact of the pipeline is, under its pipeline root."""
    return shareable_location(uri, PIPELINE_ROOT, ARTIFACT_PARTS)


def report_identity(
    pipeline: str,
    *,
    model: str,
    baseline_model: str | None,
    evaluation: str,
    pushed_destination: str | None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The identity block of a report, in the order a reader looks for it."""
    identity = {
        "pipeline": pipeline,
        **dict(extra or {}),
        "model": artifact_location(model),
        "baseline model": artifact_location(baseline_model) if baseline_model else NO_BASELINE,
        "evaluation (tfma.load_eval_result)": artifact_location(evaluation),
        "pushed to": shareable_location(pushed_destination, SERVING_DIR, 1) if pushed_destination else NOT_PUSHED,
    }
    return identity
