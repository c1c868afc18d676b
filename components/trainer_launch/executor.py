"""The Trainer's executor: TFX's GenericExecutor, made chief-aware and able to launch a multi-worker job.

Three roles, decided from the launch settings and TF_CONFIG:
- one worker (the default; every local run): `run_fn` in this process, as TFX's own executor;
- launcher (`workers` > 1, no TF_CONFIG): writes the worker command, starts N workers through the
  configured backend (a TFJob on Kubeflow, processes on 127.0.0.1 locally), waits for them, and checks
  that the chief exported the model;
- worker (TF_CONFIG lists several workers): `run_fn` as one worker of the cluster. TFX 1.21's executor
  checks after `run_fn` that the serving directory exists on every worker, though only the chief writes
  it: a worker that finishes first would fail or race the chief's export. Here only the chief checks.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from tfx.components.trainer.executor import GenericExecutor
from tfx.components.util import udf_utils
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils

from components.trainer_launch import command, local, tfjob
from components.trainer_launch.settings import LaunchSettings
from trainer.specs import LAUNCH_KEY

LOG = logging.getLogger(__name__)


def split_launch_settings(exec_properties: dict[str, Any]) -> tuple[LaunchSettings, dict[str, Any]]:
    """(the launch settings, the execution properties with them taken out of custom_config)."""
    key = standard_component_specs.CUSTOM_CONFIG_KEY
    custom = json.loads(exec_properties.get(key) or "{}")
    launch = LaunchSettings.from_dict(custom.pop(LAUNCH_KEY, {}))
    return launch, {**exec_properties, key: json.dumps(custom, sort_keys=True)}


class Executor(GenericExecutor):
    def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:  # noqa: N802 (TFX's name)
        from trainer import strategy

        launch, training_properties = split_launch_settings(exec_properties)
        tf_config = strategy.tf_config_from_env()
        if strategy.workers_in(tf_config) > 1:
            self._train_as_worker(input_dict, output_dict, training_properties, strategy.is_chief(tf_config))
        elif launch.distributed:
            self._launch(launch, input_dict, output_dict, exec_properties)
        else:
            super().Do(input_dict, output_dict, training_properties)

    def _train_as_worker(self, input_dict, output_dict, exec_properties, chief: bool) -> None:
        if chief:
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        fn_args = self._GetFnArgs(input_dict, output_dict, exec_properties)
        udf_utils.get_fn(exec_properties, "run_fn")(fn_args)
        LOG.info("worker done; the chief exports the model to %s", fn_args.serving_model_dir)

    def _launch(self, launch: LaunchSettings, input_dict, output_dict, exec_properties) -> None:
        model_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.MODEL_KEY])
        if launch.backend == "local":
            worker = command.worker_command(sys.executable, input_dict, output_dict, exec_properties)
            local.run_workers(worker, launch.workers, launch.timeout_s)
        elif launch.backend == "tfjob":
            worker = command.worker_command("python", input_dict, output_dict, exec_properties)
            namespace = tfjob.current_namespace(launch.namespace)
            manifest = tfjob.tfjob_manifest(tfjob.job_name(launch.job_prefix, model_uri), namespace, launch, worker)
            tfjob.TFJobBackend.in_cluster().run(manifest, launch.poll_s, launch.timeout_s)
        else:
            raise ValueError(f"unknown launch backend {launch.backend!r}; use one of tfjob, local")
        serving = path_utils.serving_model_dir(model_uri)
        if not fileio.exists(serving):
            raise RuntimeError(f"the {launch.workers} workers finished but the chief wrote no model to {serving}")
        LOG.info("%d workers trained the model; the chief exported it to %s", launch.workers, serving)
