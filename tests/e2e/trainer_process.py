"""A pipeline run's Trainer inputs, read back from ML Metadata, and `run_fn` on them in this process
or in a process of its own (for the reproducibility, preemption and multi-worker tests).

    python -m tests.e2e.trainer_process RECORDED_JSON WORK_DIR

trains with the recorded inputs, `serving/` and `logs/` under WORK_DIR (the
model_run_dir a restarted Kubeflow task would get again), with TF_CONFIG
from the environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ARTIFACT_KEYS = ("examples", "transform_graph", "schema")


def trainer_inputs(metadata_path: str, newest: bool = False, training_splits: int | None = None) -> dict:
    """The first (or the newest) Trainer execution's input artifacts (URI, split names) and properties,
    as JSON-ready data; with `training_splits`, the first (newest) that trained on that many splits."""
    from ml_metadata.proto import metadata_store_pb2

    from results.metadata import open_store

    store = open_store(metadata_path)
    types = {t.id: t.name for t in store.get_execution_types()}
    trainers = sorted((e for e in store.get_executions() if types[e.type_id].endswith("Trainer")), key=lambda e: e.id)
    for trainer in reversed(trainers) if newest else trainers:
        events = [
            e for e in store.get_events_by_execution_ids([trainer.id]) if e.type == metadata_store_pb2.Event.INPUT
        ]
        inputs = {}
        for event in events:
            key = event.path.steps[0].key
            if key in ARTIFACT_KEYS:
                (artifact,) = store.get_artifacts_by_id([event.artifact_id])
                split_names = artifact.properties["split_names"].string_value if key == "examples" else None
                inputs[key] = {"uri": artifact.uri, "split_names": split_names}
        names = json.loads(inputs["examples"]["split_names"])
        if training_splits is not None and sum(name.startswith("train") for name in names) != training_splits:
            continue
        # TFX records a component's execution properties as the execution's custom properties.
        properties = {k: v.string_value for k, v in trainer.custom_properties.items() if v.HasField("string_value")}
        return {"inputs": inputs, "properties": properties}
    raise LookupError(f"no Trainer execution in {metadata_path} trained on {training_splits} splits")


def with_trainer_settings(recorded: dict, **settings) -> dict:
    """A copy with other trainer settings (seed, checkpoint_steps, train_steps: the latter also in the
    Trainer's train_args, which is where run_fn's fn_args.train_steps comes from)."""
    properties = dict(recorded["properties"])
    custom = json.loads(properties["custom_config"])
    custom["trainer"].update(settings)
    properties["custom_config"] = json.dumps(custom)
    if "train_steps" in settings:
        train_args = json.loads(properties["train_args"])
        train_args["num_steps"] = settings["train_steps"]
        properties["train_args"] = json.dumps(train_args)
    return {**recorded, "properties": properties}


def input_artifacts(recorded: dict) -> dict[str, list]:
    """The recorded Trainer inputs as TFX artifacts (URI and split names), keyed as the executor gets them."""
    from tfx.types import standard_artifacts

    classes = {
        "examples": standard_artifacts.Examples,
        "transform_graph": standard_artifacts.TransformGraph,
        "schema": standard_artifacts.Schema,
    }
    inputs = {}
    for key, recorded_artifact in recorded["inputs"].items():
        artifact = classes[key]()
        artifact.uri = recorded_artifact["uri"]
        if recorded_artifact["split_names"] is not None:
            artifact.split_names = recorded_artifact["split_names"]
        inputs[key] = [artifact]
    return inputs


def train(recorded: dict, work: Path) -> str:
    """run_fn as TFX's Trainer executor calls it; returns the serving model directory."""
    from tfx.components.trainer import fn_args_utils

    from trainer.run import run_fn

    inputs = input_artifacts(recorded)
    fn_args = fn_args_utils.get_common_fn_args(inputs, dict(recorded["properties"]), str(work))
    fn_args.transform_output = fn_args.transform_graph_path  # as TFX's Trainer executor sets it
    fn_args.serving_model_dir = str(work / "serving")
    fn_args.model_run_dir = str(work / "logs")
    run_fn(fn_args)
    return fn_args.serving_model_dir


def main(argv: list[str]) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s", stream=sys.stdout)
    recorded_path, work = argv
    train(json.loads(Path(recorded_path).read_text()), Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
