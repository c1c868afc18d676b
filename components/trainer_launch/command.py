"""The command every worker runs: TFX's own `run_executor` script on the Trainer task's inputs and outputs.

Each worker is the Trainer's executor again, with TF_CONFIG set (by the TFJob
operator, or by the local backend): it sees the task's artifacts, trains as
one worker of the cluster, and only the chief writes the serving directory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

EXECUTOR_CLASS = "components.trainer_launch.executor.Executor"
RUN_EXECUTOR = ("-m", "tfx.scripts.run_executor")


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def worker_command(
    python: str,
    input_dict: Mapping[str, list],
    output_dict: Mapping[str, list],
    exec_properties: Mapping[str, Any],
) -> list[str]:
    """`python -m tfx.scripts.run_executor ...` for one worker: the same for every worker of the job."""
    from tfx.types import artifact_utils

    return [
        python,
        *RUN_EXECUTOR,
        f"--executor_class_path={EXECUTOR_CLASS}",
        f"--inputs-base64={_encoded(artifact_utils.jsonify_artifact_dict(dict(input_dict)))}",
        f"--outputs-base64={_encoded(artifact_utils.jsonify_artifact_dict(dict(output_dict)))}",
        f"--exec-properties-base64={_encoded(json.dumps(dict(exec_properties), sort_keys=True))}",
    ]
