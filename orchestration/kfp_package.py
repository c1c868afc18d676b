"""The compiled pipeline's two packages, and reading one back.

The open-source KFP API server takes a PipelineSpec (YAML, schema 2.1.0,
top-level `pipelineInfo` and `root`), with the Kubernetes PlatformSpec as a
second YAML document, as KFP's own compiler writes it; a PipelineJob JSON is
refused ("unknown template format"). Vertex AI Pipelines takes the PipelineJob
(`pipelineSpec` + `runtimeConfig`). Both come from one compile.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLATFORM_SPEC_KEY = "platformSpec"  # the Kubernetes platform document, beside pipelineSpec
VERTEX_SUFFIX = ".vertex.json"


class PackageError(ValueError):
    """Not a package `make compile` writes; the message says what and how to fix it."""


def write_packages(job: dict[str, Any], output: Path) -> Path:
    """`output` (.yaml): the PipelineSpec, then the PlatformSpec; `<stem>.vertex.json`: the PipelineJob.
    Keys sorted, so that diffs between compiles show only what changed."""
    import yaml

    output.parent.mkdir(parents=True, exist_ok=True)
    documents = [job["pipelineSpec"]] + ([job[PLATFORM_SPEC_KEY]] if job.get(PLATFORM_SPEC_KEY) else [])
    output.write_text(yaml.safe_dump_all(documents, sort_keys=True))
    vertex = {key: value for key, value in job.items() if key != PLATFORM_SPEC_KEY}
    output.with_suffix(VERTEX_SUFFIX).write_text(json.dumps(vertex, indent=2, sort_keys=True) + "\n")
    return output


def read_package(path: Path) -> dict[str, Any]:
    """{"pipelineSpec": ..., "platformSpec": ...} from the YAML package."""
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]
    except FileNotFoundError:
        raise PackageError(f"{path}: no such file; run `make compile` first") from None
    except yaml.YAMLError as err:
        raise PackageError(f"{path}: not YAML ({err})") from None
    if not documents or "pipelineInfo" not in documents[0] or "root" not in documents[0]:
        hint = " (the .vertex.json is for Vertex AI; KFP takes the .yaml)" if str(path).endswith(".json") else ""
        raise PackageError(f"{path}: not a PipelineSpec with pipelineInfo and root{hint}; run `make compile`")
    package = {"pipelineSpec": documents[0]}
    if len(documents) > 1:
        package[PLATFORM_SPEC_KEY] = documents[1]
    return package
