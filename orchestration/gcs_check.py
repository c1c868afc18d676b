"""`make gcs-check`: the fixture pipeline on LocalDagRunner with every location on gs://, through the real clients.

    python -m orchestration.gcs_check [--keep]

The data root, pipeline root, serving directory and decision records are on
Google Cloud Storage served by an emulator on 127.0.0.1
(orchestration/gcs_emulator.py): TensorFlow's own GCS client reaches it as
www.googleapis.com / storage.googleapis.com over TLS, Beam's gcsio and
google-cloud-storage through STORAGE_EMULATOR_HOST, in namespaces of this
process's own where nothing else of the network is reachable. The pipeline
runs as a user runs it, `python -m orchestration.run_local --config ...`, in
a child process:

1. the fixture's spans 1-3 are copied to gs://; a first run (train on 1,
   evaluate on 2) must push, its version on gs://;
2. a retrain (train on 2, evaluate on 3) against the served model: every
   head and gated slice must have a baseline value and an interval, the run
   must push (the overlay allows any change: this checks storage, not the
   gate's rules, which the end-to-end tests check), and its report's history
   must list both decisions, read back from gs://;
3. the bucket must hold both versions, `python -m orchestration.serving
   rollback` move the newest aside there, and `... list` then name both on
   gs://, the newest rolled back and the first serving;
4. nothing may have been written on the local file system but the ML
   Metadata store, the run lock and the logs (out/pipelines/<name>/, and the
   short commands' logs under out/logs/): the
   repository tree is compared before and after (an `open()` of a gs:// path
   writes a local folder `gs:` in the working directory; the folders of the
   checks .ci/run runs beside this one are left out), and the bucket must hold
   the pipeline's artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from container.kfp_check import DEFAULT_ROOT as KFP_CHECK_ROOT
from orchestration.gcs_emulator import EmulatorError, GcsEmulator, enter_sandbox
from orchestration.portable_check import DEFAULT_ROOT as PORTABLE_CHECK_ROOT

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CONFIG = REPO_ROOT / "tests" / "e2e" / "flights_fixture.yaml"
FIXTURE_DATA = REPO_ROOT / "tests" / "fixtures" / "flights"
BUCKET = "mhp-gcs-check"
NAME = "flights-gcs-check"
LOCAL_FILES_ALLOWED = ("metadata.sqlite", "run.lock", "logs/")  # under out/pipelines/<name>/
COMMAND_LOGS = "out/logs/"  # console/run_log.py: each short command's log (serving list, rollback)
BESIDE_IT = (KFP_CHECK_ROOT, PORTABLE_CHECK_ROOT)  # the checks .ci/run runs beside this one write only there
SKIPPED = (".git", "__pycache__", ".ruff_cache", ".pytest_cache")


class CheckError(RuntimeError):
    """What the check found wrong, in a sentence."""


def log(message: str) -> None:
    print(f"[gcs-check] {message}", flush=True)


def config_text() -> str:
    """The fixture config with every location on gs://, and any change allowed (see the module docstring)."""
    import yaml

    config = yaml.safe_load(FIXTURE_CONFIG.read_text())
    config["base"] = str(REPO_ROOT / config["base"])  # the shipped config: a base has no base of its own
    config["name"] = NAME
    config["data"].update(root=f"gs://{BUCKET}/data/flights", train_spans=[1], eval_span=2)
    config["output_root"] = f"gs://{BUCKET}/pipelines/{NAME}"
    for head in config["heads"]:
        head["gate"].update(max_regression=1000.0, slice_max_regression=1000.0)
    return yaml.safe_dump(config, sort_keys=False)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` (but caches and .git): relative path -> (size, modification time)."""
    found = {}
    for folder, folders, files in os.walk(root):
        folders[:] = [f for f in folders if f not in SKIPPED]
        for name in files:
            path = Path(folder) / name
            with_stat = path.lstat()
            found[str(path.relative_to(root))] = (with_stat.st_size, with_stat.st_mtime_ns)
    return found


def local_writes(before: dict, after: dict, local_root: Path) -> list[str]:
    """Files new or changed since `before`, but the ML Metadata store, the run lock and the logs."""
    allowed = [str((local_root / name).relative_to(REPO_ROOT)) for name in LOCAL_FILES_ALLOWED] + [COMMAND_LOGS]
    allowed += [f"{root.relative_to(REPO_ROOT)}/" for root in BESIDE_IT]
    changed = [path for path, stat in after.items() if before.get(path) != stat]
    return sorted(path for path in changed if not any(path == a or path.startswith(a) for a in allowed))


def command(*args: str, scratch: Path, label: str) -> str:
    """Runs a project command as a user would (python -m ...), from the repository; returns its output."""
    started = time.monotonic()
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=1800
    )
    (scratch / f"{label}.out").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    log(f"{label}: exit {done.returncode} in {time.monotonic() - started:.0f} s")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise CheckError(f"{label} failed (exit {done.returncode}); its end:\n{tail}")
    return done.stdout


def upload_spans(spans: tuple[int, ...]) -> None:
    """The data owner's part: the fixture's span folders copied to the bucket (with TensorFlow's client)."""
    from contracts import storage

    for span in spans:
        storage.copy_tree(str(FIXTURE_DATA / f"span-{span}"), f"gs://{BUCKET}/data/flights/span-{span}")


def check(scratch: Path, gcs: GcsEmulator) -> list[str]:
    from components.gate.component import read_decisions
    from components.gate.metrics import OVERALL
    from contracts import storage
    from pipeline.config import load_config
    from results.outcome import latest_run

    config_file = scratch / f"{NAME}.yaml"
    config_file.write_text(config_text())
    config = load_config(config_file)
    local_root = Path(config.local_root)
    shutil.rmtree(local_root, ignore_errors=True)
    upload_spans((1, 2, 3))
    before = snapshot(REPO_ROOT)
    failures = []

    run_local = ("orchestration.run_local", "--config", str(config_file))
    command(*run_local, scratch=scratch, label="first run")
    first = latest_run(config.metadata_path, config.name)
    if not first.pushed or not str(first.pushed_destination).startswith(f"gs://{BUCKET}/"):
        failures.append(f"first run: pushed={first.pushed} to {first.pushed_destination!r}, not a version on gs://")

    command(*run_local, "--train-spans", "2", "--eval-span", "3", scratch=scratch, label="retrain")
    second = latest_run(config.metadata_path, config.name)
    if not str(second.baseline_model or "").startswith("gs://"):
        failures.append(f"retrain: its baseline is {second.baseline_model!r}, not the first model on gs://")
    decided = read_decisions(second.blessing)
    rows = [(head["head"], row) for head in decided["heads"] for row in head["rows"] if not row["too_small"]]
    # Where the candidate's metric is defined (an AUC needs positives) the baseline's must be, and every head's
    # overall change must have its interval (a slice with one positive may have none: its variance is undefined).
    defined = [(head, row) for head, row in rows if row["candidate"] is not None]
    missing = [f"{head} {row['slice']} ({row})" for head, row in defined if row["baseline"] is None]
    missing += [
        f"{head} {row['slice']} (interval)" for head, row in defined if row["slice"] == OVERALL and not row["interval"]
    ]
    if not defined or missing:
        failures.append(f"retrain: no baseline value or interval for {missing or 'any row'}")
    if not second.pushed:
        failures.append("retrain: not pushed, so there is no second version to roll back from")
    summary = json.loads(storage.read_text(storage.join(second.report, "summary.json")))
    for head in summary["heads"]:
        if len(head.get("history") or []) != 2:
            failures.append(
                f"retrain: {head['name']}'s history lists {len(head.get('history') or [])} decisions, not 2"
            )

    # The two runs' versions (the newest first, as `serving list` prints them), read from the bucket here.
    versions = sorted(
        (name for name in storage.list_names(config.serving_dir) if name.isdigit()), key=int, reverse=True
    )
    if len(versions) != 2:
        failures.append(f"expected two versions under {config.serving_dir}, found {versions}")
    command("orchestration.serving", "rollback", "--config", str(config_file), scratch=scratch, label="rollback")
    serving = ("orchestration.serving", "list", "--config", str(config_file))
    listed = command(*serving, scratch=scratch, label="serving list after the rollback")
    states = {line.split()[0]: line.split()[1] for line in listed.splitlines() if line[:1].isdigit()}
    if len(versions) != 2 or states != {versions[0]: "rolled", versions[1]: "serving"}:
        failures.append(f"serving list after the rollback: expected {versions[:1]} rolled back, got:\n{listed}")
    if listed.count(f"gs://{BUCKET}/") < 2:
        failures.append(f"serving list: the versions are not named on gs://:\n{listed}")
    if not storage.is_dir(storage.join(config.serving_dir, ".rolled-back", versions[0] if versions else "?")):
        failures.append("rollback: the version is not under .rolled-back/ on gs://")

    written = local_writes(before, snapshot(REPO_ROOT), local_root)
    if written:
        failures.append(f"written on the local file system (only {', '.join(LOCAL_FILES_ALLOWED)} may be): {written}")
    objects = gcs.objects(BUCKET)
    for part in ("pipeline_root/Trainer/model/", "pipeline_root/Evaluator/evaluation/", "serving/"):
        if not any(f"pipelines/{NAME}/{part}" in name for name in objects):
            failures.append(f"the bucket holds nothing under pipelines/{NAME}/{part}")
    log(f"{len(objects)} objects in gs://{BUCKET}; local writes: ML Metadata, run lock, logs under {local_root}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (commands' output, emulator log)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="gcs-check-"))
    started = time.monotonic()
    try:
        enter_sandbox(scratch)  # before anything starts a thread
        with GcsEmulator(scratch, (BUCKET,)) as gcs:
            log(f"GCS emulator up; TF's client reaches it as www.googleapis.com over TLS; scratch {scratch}")
            failures = check(scratch, gcs)
    except (EmulatorError, CheckError) as err:
        log(f"FAILED: {err} (commands' output under {scratch})")
        return 1
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures) + f"\n(commands' output under {scratch})")
        return 1
    log(f"passed in {time.monotonic() - started:.0f} s")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
