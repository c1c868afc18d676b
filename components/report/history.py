"""Each head's gate metric over every earlier decision of the pipeline, from the gate's decision records.

A reader cannot tell a one-off dip from a trend from one run. Every HeadGate
that finished wrote one record under the pipeline root
(components/gate/decision_records.py): the same files locally and on
Kubeflow. Runs that were blocked are there; a killed run's unfinished gate
is not (it decided nothing); a cached run adds nothing (it reused an earlier
decision, which is listed once). The Pusher pushes every blessed model (a
push that fails fails the run), so a blessed decision is shown as pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.gate.decision_records import read_records
from components.report.identity import artifact_location


def head_history(records: Sequence[dict[str, Any]], heads: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Per head: one point per decision (when, models, gate metric of candidate and baseline, passed, pushed)."""
    history: dict[str, list[dict[str, Any]]] = {head: [] for head in heads}
    for record in records:
        for decision in record["heads"]:
            if decision["head"] not in history:
                continue  # a head that this config no longer has
            history[decision["head"]].append(
                {
                    "run": record["decided_at"],
                    # Named under the pipeline root, as everywhere in a report (components/report/identity.py).
                    "model": artifact_location(record["model"]),
                    "baseline_model": artifact_location(record["baseline_model"]) if record["baseline_model"] else None,
                    "blessing": artifact_location(record["blessing"]),
                    "metric": decision["metric"],
                    "candidate": decision["candidate"],
                    "baseline": decision["baseline"],
                    "passed": decision["passed"],
                    "pushed": record["blessed"],
                }
            )
    return history


def read_history(records_dir: str, heads: Sequence[str]) -> dict[str, list[dict]]:
    """The history from the decision records under `records_dir` (empty lists before the first decision)."""
    return head_history(read_records(records_dir), heads)
