"""The image's entry point for every task of the compiled pipeline on Kubeflow Pipelines v2.

    python -m orchestration.kfp_entrypoint --executor_class_path ... \
        --json_serialized_invocation_args '{{$}}' --json_serialized_inputs_spec_args '{...}'

It takes TFX's own arguments and runs TFX's own entry point
(`tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`), after
mending the ExecutorInput that the open-source KFP v2 driver really sends
(kubeflow/pipelines backend/src/v2), which TFX 1.21's entry point cannot take
as it comes:

- input artifacts arrive with an empty type (`instanceSchema: ""`: ML
  Metadata stores no schema, backend/src/v2/metadata/client.go:1144), on which
  TFX fails (tensorflow/tfx#7768): each gets the type its own component
  declares, from the inputs spec the compiled command carries;
- input metadata comes back through ML Metadata (metadata/converter.go
  138-226): lists and structs wrapped as {"list": ...} / {"struct": ...}, which
  are unwrapped (bools as 1/0 and ints as numbers TFX reads as it is);
- the driver adds a launcher-managed `executor-logs` output of type
  `system.Artifact` (driver/driver.go:747-760) that no TFX executor knows: it
  is left to the launcher;
- the executor works on the local paths the launcher downloads inputs to and
  uploads outputs from (`/minio/<bucket>/<key>`, `/s3/...`, `/gcs/...`:
  component/launcher_v2.go:1239-1253), and the remote URIs are put back in
  the executor output, or the launcher would record local paths. On an
  S3-compatible store (a stock install's `minio://` root) that is the only
  way: TensorFlow cannot open s3:// at all. On GCS it keeps TensorFlow's
  zero-byte directory markers out of the artifacts, which break the next
  task's download (kubeflow/pipelines#13476);
- every output parameter is also written to its `outputFile`, which the
  launcher reads when the executor output lacks it (launcher_v2.go:484-515);
- metadata values that are null are dropped: the launcher cannot store them
  in ML Metadata (converter.go:167-169, "unknown/unsupported value type").

What a task reads by path outside its artifacts (the data root, the serving
directory, the gate's decision records) is not moved: it must be a path TF
can open in the pod (gs://, or a mounted volume); the compiler refuses the rest.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from contracts.launcher_paths import launcher_local_path

# Outputs the launcher adds and manages itself, unknown to the component.
LAUNCHER_OUTPUTS = ("executor-logs",)
# How ML Metadata wraps a list or a struct value (StructValueToMLMDValue).
MLMD_WRAPPERS = ("list", "struct")


def is_untyped(artifact_type: Mapping[str, Any] | None) -> bool:
    """True for the type the driver sends with every input: no schema title and an empty instance schema."""
    artifact_type = artifact_type or {}
    return not artifact_type.get("schemaTitle") and not (artifact_type.get("instanceSchema") or "").strip()


def unwrap_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Input metadata as its producer wrote it: ML Metadata's {"list": [...]} and {"struct": {...}} undone."""
    result = {}
    for key, value in metadata.items():
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in MLMD_WRAPPERS:
            value = next(iter(value.values()))
        result[key] = value
    return result


def without_nulls(value: Any) -> Any:
    """`value` with every null dropped from its mappings, as ML Metadata can store it."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value if v is not None]
    return value


def mend_invocation(invocation: dict, inputs_spec: Mapping[str, Any]) -> dict[str, str]:
    """Mends the driver's ExecutorInput in place (module docstring); returns {local path: remote URI}
    for every artifact moved to the launcher's local paths."""
    remote_of: dict[str, str] = {}
    declared = inputs_spec.get("artifacts", {})
    for name, listed in invocation.get("inputs", {}).get("artifacts", {}).items():
        for artifact in listed.get("artifacts", []):
            if is_untyped(artifact.get("type")):
                if name not in declared:
                    raise ValueError(f"input artifact {name!r} has no type and the component declares no such input")
                artifact["type"] = declared[name]["artifactType"]
            artifact["metadata"] = unwrap_metadata(artifact.get("metadata") or {})
    outputs = invocation.get("outputs", {}).get("artifacts", {})
    for name in LAUNCHER_OUTPUTS:
        outputs.pop(name, None)
    for section in (invocation.get("inputs", {}).get("artifacts", {}), outputs):
        for listed in section.values():
            for artifact in listed.get("artifacts", []):
                path = launcher_local_path(artifact.get("uri", ""))
                if path is not None:
                    remote_of[path] = artifact["uri"]
                    artifact["uri"] = path
    return remote_of


def mend_executor_output(executor_output: dict, remote_of: Mapping[str, str]) -> dict:
    """The executor output as the launcher records it: remote URIs, no nulls in the metadata."""
    for listed in executor_output.get("artifacts", {}).values():
        for artifact in listed.get("artifacts", []):
            artifact["uri"] = remote_of.get(artifact.get("uri", ""), artifact.get("uri", ""))
            if "metadata" in artifact:
                artifact["metadata"] = without_nulls(artifact["metadata"])
    return executor_output


def parameter_text(value: Any) -> str:
    """An output parameter as the launcher parses its file (metadata.TextToPbValue): strings as they are."""
    return value if isinstance(value, str) else json.dumps(value)


def write_output_parameters(invocation: Mapping[str, Any], executor_output: Mapping[str, Any]) -> None:
    for name, parameter in invocation.get("outputs", {}).get("parameters", {}).items():
        if name in executor_output.get("parameterValues", {}) and parameter.get("outputFile"):
            os.makedirs(os.path.dirname(parameter["outputFile"]), exist_ok=True)
            with open(parameter["outputFile"], "w", encoding="utf-8") as handle:
                handle.write(parameter_text(executor_output["parameterValues"][name]))


def run(parsed: tuple[Any, list[str]]) -> None:
    """Mends the invocation, runs TFX's entry point on it, then mends what it wrote."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    args, beam_args = parsed
    invocation = json.loads(args.json_serialized_invocation_args)
    inputs_spec = json.loads(args.json_serialized_inputs_spec_args or "{}")
    remote_of = mend_invocation(invocation, inputs_spec)
    for listed in invocation["outputs"]["artifacts"].values():  # as the launcher does (launcher_v2.go:1280-1308)
        for artifact in listed["artifacts"]:
            if "://" not in artifact["uri"]:
                os.makedirs(os.path.dirname(artifact["uri"]), exist_ok=True)
    args.json_serialized_invocation_args = json.dumps(invocation)
    kubeflow_v2_run_executor._run_executor(args, beam_args)
    output_file = invocation["outputs"]["outputFile"]
    with open(output_file, encoding="utf-8") as handle:
        executor_output = mend_executor_output(json.load(handle), remote_of)
    with open(output_file, "w", encoding="utf-8") as handle:
        json.dump(executor_output, handle, indent=2, sort_keys=True)
    write_output_parameters(invocation, executor_output)


def main() -> None:
    """TFX's own flags parsing, then `run`."""
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    app.run(run, flags_parser=kubeflow_v2_run_executor._parse_flags)


if __name__ == "__main__":
    sys.exit(main())
