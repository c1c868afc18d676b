"""Upload a compiled pipeline to Kubeflow Pipelines, then run it once or on a schedule.

    python -m orchestration.kubeflow_submit --host https://KFP_HOST --package out/kubeflow/flights.json \
        --version GIT_SHA schedule --cron "0 0 3 * * *"
    python -m orchestration.kubeflow_submit --host ... --package ... --version ... \
        run [--train-spans 9 10 11 --eval-span 12]

Each run resolves its spans when it starts (the SpanWindow task: the newest
span folder under the data root is evaluated, the compiled window size before
it trained on), so a schedule created once trains on the newest data at every
trigger. `--train-spans ... --eval-span ...` pins a window instead, through the
`window` run parameter. KFP authentication is the kfp client's
own (KF_PIPELINES_* environment, or a token in --existing-token); nothing is
stored in the package.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from contracts.spans import SpanError, Window
from orchestration.kubeflow import WINDOW_PARAMETER
from orchestration.platform_spec import PLATFORM_SPEC_KEY


class PipelinesClient(Protocol):
    """The part of kfp.Client this module uses (a stand-in implements it in tests)."""

    def get_pipeline_id(self, name: str) -> str | None: ...
    def upload_pipeline(self, pipeline_package_path: str, pipeline_name: str, description: str) -> Any: ...
    def upload_pipeline_version(
        self, pipeline_package_path: str, pipeline_version_name: str, pipeline_id: str
    ) -> Any: ...
    def create_experiment(self, name: str) -> Any: ...
    def create_recurring_run(
        self,
        experiment_id: str,
        job_name: str,
        cron_expression: str,
        pipeline_id: str,
        version_id: str,
        params: dict,
        max_concurrency: int,
        enabled: bool,
    ) -> Any: ...
    def run_pipeline(
        self, experiment_id: str, job_name: str, pipeline_id: str, version_id: str, params: dict
    ) -> Any: ...


class SubmitError(ValueError):
    """A bad argument or package; the message says what and how to fix it."""


def validate_cron(expression: str) -> str:
    """KFP's cron has six fields, seconds first: '0 0 3 * * *' is 03:00 daily."""
    fields = expression.split()
    if len(fields) != 6 or not all(re.fullmatch(r"[0-9*/,\-?A-Za-z]+", f) for f in fields):
        raise SubmitError(
            f"--cron {expression!r}: KFP expects six fields (second minute hour day month weekday), "
            "e.g. '0 0 3 * * *' for 03:00 every day"
        )
    return expression


def read_package(package: Path) -> dict:
    """The compiled job JSON; KFP's upload takes its `pipelineSpec` part."""
    try:
        job = json.loads(package.read_text())
    except FileNotFoundError:
        raise SubmitError(f"{package}: no such file; run `make compile` first") from None
    except json.JSONDecodeError as err:
        raise SubmitError(f"{package}: not JSON ({err})") from None
    if "pipelineSpec" not in job:
        raise SubmitError(f"{package}: no pipelineSpec; compile it with `make compile`")
    return job


def upload_package(job: dict) -> str:
    """What KFP uploads: the PipelineSpec, then the Kubernetes PlatformSpec (node selector, tolerations,
    secrets) as a second YAML document, as KFP's own compiler writes a package with platform config."""
    import yaml

    documents = [job["pipelineSpec"]]
    if job.get(PLATFORM_SPEC_KEY):
        documents.append(job[PLATFORM_SPEC_KEY])
    return yaml.safe_dump_all(documents, sort_keys=True)


def window_size(job: dict) -> int:
    """How many spans the compiled pipeline trains on (the SpanWindow task's `train_window`)."""
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    if "SpanWindow" not in tasks or WINDOW_PARAMETER not in job.get("runtimeConfig", {}).get("parameterValues", {}):
        raise SubmitError("the package does not resolve its spans at run time (no SpanWindow task); recompile it")
    return int(tasks["SpanWindow"]["inputs"]["parameters"]["train_window"]["runtimeValue"]["constant"])


def pinned_window(job: dict, train_spans: Sequence[int], eval_span: int) -> str:
    """The `window` run parameter for a fixed window, checked against the compiled window size."""
    size = window_size(job)
    if len(train_spans) != size:
        raise SubmitError(
            f"the package trains on {size} spans; got {len(train_spans)} ({list(train_spans)}). "
            "Change data.train_window in the config and recompile to change the window size."
        )
    try:
        return Window.from_json(json.dumps({"train_spans": list(train_spans), "eval_span": eval_span})).to_json()
    except SpanError as err:
        raise SubmitError(str(err)) from None


def publish(client: PipelinesClient, package: Path, name: str, version: str) -> tuple[str, str]:
    """Uploads the pipeline (or a new version of it); returns (pipeline id, version id)."""
    job = read_package(package)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / f"{name}.yaml"
        spec.write_text(upload_package(job))
        pipeline_id = client.get_pipeline_id(name)
        if pipeline_id is None:
            uploaded = client.upload_pipeline(str(spec), pipeline_name=name, description=job.get("displayName", name))
            pipeline_id = uploaded.pipeline_id
        version_obj = client.upload_pipeline_version(str(spec), pipeline_version_name=version, pipeline_id=pipeline_id)
    return pipeline_id, version_obj.pipeline_version_id


def submit(
    client: PipelinesClient,
    package: Path,
    *,
    experiment: str,
    version: str,
    window: str,
    cron: str | None = None,
) -> Any:
    """Uploads, then creates a recurring run (with cron) or a one-off run; `window` "" resolves the newest."""
    job = read_package(package)
    name = job["pipelineSpec"]["pipelineInfo"]["name"]
    pipeline_id, version_id = publish(client, package, name, version)
    experiment_id = client.create_experiment(name=experiment).experiment_id
    params = {WINDOW_PARAMETER: window} if window else {}  # none: the compiled default (newest, or the config's)
    if cron:
        return client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=f"{name}-{version}",
            cron_expression=validate_cron(cron),
            pipeline_id=pipeline_id,
            version_id=version_id,
            params=params,
            max_concurrency=1,
            enabled=True,
        )
    return client.run_pipeline(
        experiment_id=experiment_id,
        job_name=f"{name}-{version}",
        pipeline_id=pipeline_id,
        version_id=version_id,
        params=params,
    )


def main(argv: list[str] | None = None, client: PipelinesClient | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="KFP API endpoint (default: the kfp client's own discovery)")
    parser.add_argument("--package", type=Path, required=True, help="JSON written by `make compile`")
    parser.add_argument("--experiment", default="retraining")
    parser.add_argument("--version", required=True, help="name of the uploaded pipeline version, e.g. a git sha")
    sub = parser.add_subparsers(dest="action", required=True)
    for action in ("run", "schedule"):
        p = sub.add_parser(action)
        p.add_argument("--train-spans", type=int, nargs="+", help="pin the training spans (default: the newest)")
        p.add_argument("--eval-span", type=int, help="pin the evaluation span (with --train-spans)")
        if action == "schedule":
            p.add_argument("--cron", required=True, help="six fields, e.g. '0 0 3 * * *'")
    args = parser.parse_args(argv)
    try:
        job = read_package(args.package)
        window_size(job)  # fails early on a package compiled before spans were resolved at run time
        if bool(args.train_spans) != (args.eval_span is not None):
            raise SubmitError("give both --train-spans and --eval-span, or neither (each run takes the newest spans)")
        window = pinned_window(job, args.train_spans, args.eval_span) if args.train_spans else ""
        if window and getattr(args, "cron", None):
            print("note: a schedule with pinned spans trains on the same spans at every trigger", file=sys.stderr)
        if client is None:
            import kfp

            client = kfp.Client(host=args.host)
        result = submit(
            client,
            args.package,
            experiment=args.experiment,
            version=args.version,
            window=window,
            cron=getattr(args, "cron", None),
        )
    except SubmitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.action}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
