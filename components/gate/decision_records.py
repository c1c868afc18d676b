"""One record per gate decision, as a file under the pipeline root: the history every report reads.

The same files locally and on Kubeflow, where no ML Metadata store is at hand
(open-source KFP is removing its metadata service). Each record is written
under a temporary name and renamed into place, so a reader never sees half
of one; its name (decision time, then a hash of the gate's output folder) is
unique per run and sorts by time. A cached run makes no new decision and
writes no record. A record that cannot be read is named in the log and
skipped.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from tfx.dsl.io import fileio

from components.gate.metrics import OVERALL

LOG = logging.getLogger(__name__)
RECORDS_DIR = "gate_decisions"  # under the pipeline root
FORMAT = 1
_TEMPORARY = ".tmp-"


def decision_records_dir(pipeline_root: str) -> str:
    """Where a pipeline's decision records are: one folder under its root, locally and on object storage."""
    return os.path.join(str(pipeline_root), RECORDS_DIR)


def decision_record(
    decisions: Mapping[str, Any],
    model_uri: str,
    baseline_uri: str | None,
    blessing_uri: str,
    decided_at: datetime.datetime,
    window: Mapping[str, str] | None = None,
    training_id: str | None = None,
) -> dict[str, Any]:
    """What the history shows of one decision: the verdict and each head's gate metric on the overall slice;
    and what a later report needs to say what changed since this model: the span folder of each split it
    was trained and evaluated on (`window`), and its training record's id (trainer/training_record.py)."""
    heads = []
    for head in decisions["heads"]:
        overall = next((row for row in head["rows"] if row["slice"] == OVERALL), None)
        heads.append(
            {
                "head": head["head"],
                "metric": head["metric"],
                "passed": head["passed"],
                "candidate": None if overall is None else overall["candidate"],
                "baseline": None if overall is None else overall["baseline"],
            }
        )
    return {
        "format": FORMAT,
        "decided_at": decided_at.astimezone(datetime.UTC).isoformat(timespec="seconds"),
        "blessed": bool(decisions["blessed"]),
        "model": model_uri,
        "baseline_model": baseline_uri,
        "blessing": blessing_uri,
        "heads": heads,
        "window": dict(window or {}),
        "training_id": training_id,
    }


def write_record(directory: str, record: Mapping[str, Any]) -> str:
    """Writes the record atomically (temporary name, then rename); returns its path."""
    stamp = datetime.datetime.fromisoformat(record["decided_at"]).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{hashlib.sha256(record['blessing'].encode()).hexdigest()[:12]}.json"
    fileio.makedirs(directory)
    path, temporary = os.path.join(directory, name), os.path.join(directory, _TEMPORARY + name)
    with fileio.open(temporary, "w") as handle:
        handle.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
    fileio.rename(temporary, path, overwrite=True)
    return path


def read_records(directory: str) -> list[dict[str, Any]]:
    """Every readable record under `directory`, oldest first; an unreadable one is logged by name and skipped."""
    if not directory or not fileio.exists(directory):
        return []
    records = []
    for name in sorted(fileio.listdir(directory)):
        name = name.rstrip("/")
        if not name.endswith(".json") or name.startswith(_TEMPORARY):
            continue
        path = os.path.join(directory, name)
        try:
            with fileio.open(path) as handle:
                record = json.load(handle)
            if record.get("format") != FORMAT or not isinstance(record.get("heads"), list):
                raise ValueError(f"not a decision record of format {FORMAT}")
            records.append(record)
        except (OSError, ValueError, AttributeError) as err:
            LOG.warning("history: skipped %s, which cannot be read (%s)", path, err)
    return sorted(records, key=lambda r: (r["decided_at"], r["blessing"]))
