"""The serving directory's versions: list them, and roll the newest back.

    python -m orchestration.serving list     [--config configs/flights.yaml]
    python -m orchestration.serving rollback [--config configs/flights.yaml]

A model server loads the highest numeric version under the serving directory
(components/pusher.py writes them, named by push time). `rollback` moves the
newest version into `.rolled-back/` in one rename (hidden: servers skip it;
never deleted; on object storage the rename copies each object, and a server
polling the bucket may see the version half gone), appends what it did to
`.rolled-back/log.jsonl`, and marks the
model's blessing in ML Metadata as rolled back, so that the next local run
does not take the withdrawn model as its baseline
(components/previous_blessed_model.py). The next push still gets a higher
number than any version ever pushed, rolled back or not.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path

from console.run_log import command_output
from contracts import storage
from contracts.serving_dir import ROLLED_BACK_DIR, ROLLED_BACK_LOG, ROLLED_BACK_PROPERTY, pushed_versions
from orchestration.run_lock import RunLockedError, exclusive_run
from pipeline.config import DEFAULT_CONFIG, ConfigError, PipelineConfig, load_config


class ServingError(RuntimeError):
    """The serving directory cannot do what was asked; the message says why."""


@dataclasses.dataclass(frozen=True)
class Version:
    number: int
    path: str
    state: str  # "serving", "previous" or "rolled back"
    run: str | None = None
    gate: str | None = None  # each head's gate metric, as the HeadGate recorded it

    @property
    def pushed_at(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.number))


def rolled_back_versions(serving_dir: str) -> list[str]:
    return pushed_versions(storage.join(serving_dir, ROLLED_BACK_DIR))


def rolled_back_location(pushed_destination: str) -> str | None:
    """Where a pushed version is now if it was rolled back since (a cached run reports its old push)."""
    aside = storage.join(storage.parent(pushed_destination), ROLLED_BACK_DIR, storage.name(pushed_destination))
    return aside if storage.is_dir(aside) and not storage.exists(pushed_destination) else None


def push_records(config: PipelineConfig) -> dict[str, tuple[str, str | None, int | None]]:
    """Pushed version (its folder name) -> (run id, gate metrics, ModelBlessing id), from ML Metadata (empty
    without a store). By name: the serving directory may have been moved or copied since the push."""
    if not Path(config.metadata_path).exists():
        return {}
    from components.gate.component import read_decisions
    from results.metadata import open_store, pushes

    records = {}
    for push in pushes(open_store(config.metadata_path)):
        gate = None
        if push.blessing_uri:
            with contextlib.suppress(FileNotFoundError):  # a gate that did not finish: no metrics to show
                heads = read_decisions(push.blessing_uri)["heads"]
                gate = ", ".join(f"{h['head']} {h['metric']} {h['rows'][0]['candidate']:.4g}" for h in heads)
        records.setdefault(storage.name(push.destination), (push.run, gate, push.blessing_id))
    return records


def list_versions(config: PipelineConfig) -> list[Version]:
    """Every version ever pushed, newest first: the one serving, the previous ones, the rolled-back ones."""
    serving_dir = config.serving_dir
    records = push_records(config)
    live = pushed_versions(serving_dir)
    listed = [(path, "serving" if path == live[-1] else "previous") for path in live]
    listed += [(path, "rolled back") for path in rolled_back_versions(serving_dir)]
    versions = []
    for path, state in listed:
        run, gate, _ = records.get(storage.name(path), (None, None, None))
        versions.append(Version(number=int(storage.name(path)), path=path, state=state, run=run, gate=gate))
    return sorted(versions, key=lambda v: v.number, reverse=True)


def rollback(config: PipelineConfig) -> tuple[str, str]:
    """Moves the newest version aside (one rename) and records it; returns (rolled back, now serving)."""
    with exclusive_run(config.local_root):  # not while a run from this machine may be pushing
        return _rollback(config)


def _rollback(config: PipelineConfig) -> tuple[str, str]:
    serving_dir = config.serving_dir
    live = pushed_versions(serving_dir)
    if len(live) < 2:
        raise ServingError(
            f"{serving_dir} holds {len(live)} version(s): a rollback needs one to go back to. Nothing was changed"
        )
    newest, previous = live[-1], live[-2]
    aside = storage.join(serving_dir, ROLLED_BACK_DIR)
    storage.makedirs(aside)
    storage.rename(newest, storage.join(aside, storage.name(newest)))  # local: atomic, a server sees one or none
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    record = {"rolled_back": storage.name(newest), "serving": storage.name(previous), "at": when}
    storage.append_line(storage.join(aside, ROLLED_BACK_LOG), json.dumps(record))
    mark_rolled_back(config, storage.name(newest))
    return storage.join(aside, storage.name(newest)), previous


def mark_rolled_back(config: PipelineConfig, version: str) -> None:
    """Sets `rolled_back` on the blessing of the model pushed as `version` (if ML Metadata knows it)."""
    _, _, blessing_id = push_records(config).get(version, (None, None, None))
    if blessing_id is None:
        return
    from results.metadata import open_store

    store = open_store(config.metadata_path, writable=True)
    (blessing,) = store.get_artifacts_by_id([blessing_id])
    blessing.custom_properties[ROLLED_BACK_PROPERTY].int_value = 1
    store.put_artifacts([blessing])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "rollback"])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    with command_output(f"serving-{args.command}"):
        return _serving(args)


def _serving(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        if args.command == "rollback":
            aside, serving = rollback(config)
            log = storage.join(storage.parent(aside), ROLLED_BACK_LOG)
            print(f"rolled back: version {storage.name(aside)}, moved to {aside} (kept; see {log})")
            print(f"now serving: version {storage.name(serving)} ({serving})")
            return 0
        versions = list_versions(config)
    except (ConfigError, ServingError, RunLockedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not versions:
        print(f"nothing pushed under {config.serving_dir} yet")
        return 0
    for version in versions:
        print(f"{version.number}  {version.state:<11}  pushed {version.pushed_at}  run {version.run or '?'}")
        print(f"    {version.path}")
        if version.gate:
            print(f"    {version.gate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
