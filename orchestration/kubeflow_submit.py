"""Upload the compiled pipeline to Kubeflow Pipelines, then run it once or on a schedule.

    python -m orchestration.kubeflow_submit --host https://KFP_HOST --package out/kubeflow/flights.yaml \
        --version GIT_SHA [--namespace team-ml --service-account pipeline-runner \
        --pipeline-root minio://mlpipeline/v2/artifacts] schedule --cron "0 0 3 * * *"
    python -m orchestration.kubeflow_submit --host ... --package ... --version ... \
        run [--train-spans 9 10 11 --eval-span 12]

The package is the PipelineSpec YAML `make compile` writes (what the KFP API
server takes). Each run resolves its spans when it starts (the SpanWindow
task: the newest span folder under the data root is evaluated, the compiled
window size before it trained on), so a schedule created once trains on the
newest data at every trigger. `--train-spans ... --eval-span ...` pins a
window instead, through the `window` run parameter.

Every run and schedule is given its pipeline root (default: the config's
`kubeflow.pipeline_root`, which the package carries; the API server never
reads a compiled one and would otherwise use the install's default) and the
`window` parameter. A schedule does not catch up on missed triggers
(`no_catchup`) and runs one at a time; scheduling a pipeline that already
has a recurring run in the experiment replaces it (the new one is created,
then the old ones deleted), so two schedules never write one serving
directory. KFP authentication is the kfp client's own (KF_PIPELINES_*
environment variables, or its credentials discovery); nothing is stored in
the package.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.spans import SpanError, Window
from orchestration.kfp_package import PackageError, read_package
from orchestration.kubeflow import WINDOW_PARAMETER


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


def window_size(spec: dict) -> int:
    """How many spans the compiled pipeline trains on (the SpanWindow task's `train_window`)."""
    tasks = spec["root"]["dag"]["tasks"]
    if "SpanWindow" not in tasks or WINDOW_PARAMETER not in spec["root"].get("inputDefinitions", {}).get(
        "parameters", {}
    ):
        raise SubmitError("the package does not resolve its spans at run time (no SpanWindow task); recompile it")
    return int(tasks["SpanWindow"]["inputs"]["parameters"]["train_window"]["runtimeValue"]["constant"])


def pinned_window(spec: dict, train_spans: Sequence[int], eval_span: int) -> str:
    """The `window` run parameter for a fixed window, checked against the compiled window size."""
    size = window_size(spec)
    if len(train_spans) != size:
        raise SubmitError(
            f"the package trains on {size} spans; got {len(train_spans)} ({list(train_spans)}). "
            "Change data.train_window in the config and recompile to change the window size."
        )
    try:
        return Window.from_json(json.dumps({"train_spans": list(train_spans), "eval_span": eval_span})).to_json()
    except SpanError as err:
        raise SubmitError(str(err)) from None


def publish(client: Any, package: Path, name: str, version: str) -> tuple[str, str]:
    """Uploads the pipeline (or a new version of it) from the YAML package; returns (pipeline id, version id)."""
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(str(package), pipeline_name=name, description=name).pipeline_id
    uploaded = client.upload_pipeline_version(str(package), pipeline_version_name=version, pipeline_id=pipeline_id)
    return pipeline_id, uploaded.pipeline_version_id


def recurring_runs_of(client: Any, experiment_id: str, pipeline_id: str, namespace: str | None) -> list[Any]:
    """The experiment's recurring runs of this pipeline (any version), every page."""
    found, token = [], ""
    while True:
        page = client.list_recurring_runs(experiment_id=experiment_id, namespace=namespace, page_token=token)
        for recurring in page.recurring_runs or []:
            reference = recurring.pipeline_version_reference
            if reference is not None and reference.pipeline_id == pipeline_id:
                found.append(recurring)
        token = page.next_page_token or ""
        if not token:
            return found


def submit(
    client: Any,
    package: Path,
    *,
    experiment: str,
    version: str,
    window: str,
    pipeline_root: str,
    namespace: str | None = None,
    service_account: str | None = None,
    cron: str | None = None,
) -> tuple[Any, list[str]]:
    """Uploads, then creates a one-off run or (with `cron`) the pipeline's one recurring run, replacing the
    ones before it; `window` "" resolves the newest spans. Returns (the new run, ids of replaced schedules)."""
    spec = read_package(package)["pipelineSpec"]
    name = spec["pipelineInfo"]["name"]
    pipeline_id, version_id = publish(client, package, name, version)
    experiment_id = client.create_experiment(name=experiment, namespace=namespace).experiment_id
    common = {
        "experiment_id": experiment_id,
        "job_name": f"{name}-{version}",
        "pipeline_id": pipeline_id,
        "version_id": version_id,
        "params": {WINDOW_PARAMETER: window},
        "pipeline_root": pipeline_root,
        "service_account": service_account,
    }
    if not cron:
        return client.run_pipeline(**common), []
    before = recurring_runs_of(client, experiment_id, pipeline_id, namespace)
    created = client.create_recurring_run(
        **common, cron_expression=validate_cron(cron), max_concurrency=1, no_catchup=True, enabled=True
    )
    replaced = []
    for old in before:
        client.delete_recurring_run(old.recurring_run_id)
        replaced.append(old.recurring_run_id)
    return created, replaced


def main(argv: list[str] | None = None, client: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", help="KFP API endpoint (default: the kfp client's own discovery)")
    parser.add_argument("--package", type=Path, required=True, help="the .yaml written by `make compile`")
    parser.add_argument("--experiment", default="retraining")
    parser.add_argument("--version", required=True, help="name of the uploaded pipeline version, e.g. a git sha")
    parser.add_argument("--namespace", help="the Kubeflow profile's namespace (multi-user installs)")
    parser.add_argument("--service-account", help="the Kubernetes service account the runs use")
    parser.add_argument("--pipeline-root", help="where the runs' artifacts go (default: the config's, in the package)")
    sub = parser.add_subparsers(dest="action", required=True)
    for action in ("run", "schedule"):
        p = sub.add_parser(action)
        p.add_argument("--train-spans", type=int, nargs="+", help="pin the training spans (default: the newest)")
        p.add_argument("--eval-span", type=int, help="pin the evaluation span (with --train-spans)")
        if action == "schedule":
            p.add_argument("--cron", required=True, help="six fields, e.g. '0 0 3 * * *'")
    args = parser.parse_args(argv)
    try:
        spec = read_package(args.package)["pipelineSpec"]
        window_size(spec)  # fails early on a package compiled before spans were resolved at run time
        if bool(args.train_spans) != (args.eval_span is not None):
            raise SubmitError("give both --train-spans and --eval-span, or neither (each run takes the newest spans)")
        window = pinned_window(spec, args.train_spans, args.eval_span) if args.train_spans else ""
        if window and getattr(args, "cron", None):
            print("note: a schedule with pinned spans trains on the same spans at every trigger", file=sys.stderr)
        pipeline_root = args.pipeline_root or spec.get("defaultPipelineRoot")
        if not pipeline_root:
            raise SubmitError("the package names no pipeline root; give --pipeline-root (gs://, s3:// or minio://)")
        if client is None:
            import kfp

            client = kfp.Client(host=args.host, namespace=args.namespace)
        result, replaced = submit(
            client,
            args.package,
            experiment=args.experiment,
            version=args.version,
            window=window,
            pipeline_root=pipeline_root,
            namespace=args.namespace,
            service_account=args.service_account,
            cron=getattr(args, "cron", None),
        )
    except (SubmitError, PackageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.action == "schedule":
        print(f"schedule: recurring run {result.recurring_run_id} ({args.cron}, no catch-up, one at a time)")
        for old in replaced:
            print(f"  replaced recurring run {old} (deleted)")
    else:
        print(f"run: {result.run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
