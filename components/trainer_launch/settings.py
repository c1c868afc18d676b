"""How the Trainer task trains: in its own process (one worker) or as a job of N workers.

The settings travel inside the Trainer's `custom_config` under LAUNCH_KEY
(the standard Trainer has no other free-form execution property); the
executor takes them out before `run_fn` sees the config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

BACKENDS = ("tfjob", "local")  # a Kubeflow Training Operator TFJob; processes on 127.0.0.1 (tests, one machine)


@dataclasses.dataclass(frozen=True)
class Toleration:
    key: str
    operator: str = "Exists"  # "Exists" | "Equal"
    value: str = ""
    effect: str = "NoSchedule"  # "NoSchedule" | "PreferNoSchedule" | "NoExecute" | "" (all)


@dataclasses.dataclass(frozen=True)
class SecretEnv:
    """Environment variables read from a Kubernetes secret, by name: the values never enter the pipeline file."""

    secret: str
    variables: Mapping[str, str]  # environment variable -> key in the secret


@dataclasses.dataclass(frozen=True)
class LaunchSettings:
    """A multi-worker training job: N workers running the same image and the same `run_fn`."""

    workers: int = 1
    backend: str = "tfjob"
    job_prefix: str = "pipeline"  # the TFJob's name starts with it (the pipeline's name)
    image: str = ""
    namespace: str = ""  # empty: the namespace of the pod that launches it (the pipeline's)
    cpu: float = 8.0
    memory_gb: float = 32.0
    gpus: int = 0  # per worker, as the `nvidia.com/gpu` resource
    node_selector: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    secret_env: SecretEnv | None = None
    service_account: str = ""
    timeout_s: int = 24 * 3600
    poll_s: float = 15.0

    @property
    def distributed(self) -> bool:
        return self.workers > 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LaunchSettings:
        secret = data.get("secret_env")
        return cls(
            **{
                **data,
                "node_selector": dict(data.get("node_selector", {})),
                "tolerations": tuple(Toleration(**t) for t in data.get("tolerations", ())),
                "secret_env": SecretEnv(secret["secret"], dict(secret["variables"])) if secret else None,
            }
        )
