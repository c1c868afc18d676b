"""Upload a compiled pipeline to Kubeflow Pipelines, then run it once or on a schedule.

    python -m pipeline.kubeflow_submit --host https://KFP_HOST --package out/kubeflow/flights.json \
        schedule --cron "0 0 3 * * *" [--latest 3 | --train-spans 9 10 11 --eval-span 12]
    python -m pipeline.kubeflow_submit --host ... --package ... run [--latest 3]

The spans are the `input_config` runtime parameter: `--latest N` lists the
span folders under the pipeline's data root and takes the newest N for
training and the one after them for evaluation, so moving the window needs no
recompile, only a new run or schedule. KFP authentication is the kfp client's
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

from pipeline.kubeflow import INPUT_CONFIG_PARAMETER

_SPAN_DIR = re.compile(r"(\d+)")


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


def default_input_config(job: dict) -> dict:
    """The input_config compiled in as the parameter's default."""
    parameters = job.get("runtimeConfig", {}).get("parameterValues", {})  # schema 2.1 (pipeline/kubeflow.py)
    if INPUT_CONFIG_PARAMETER not in parameters:
        raise SubmitError(f"the package has no {INPUT_CONFIG_PARAMETER!r} runtime parameter; recompile it")
    return json.loads(parameters[INPUT_CONFIG_PARAMETER])


def span_input_config(template: dict, train_spans: Sequence[int], eval_span: int) -> dict:
    """The template's splits (train_1..train_k, eval) pointed at other spans."""
    splits = template["splits"]
    train = [s for s in splits if s["name"] != "eval"]
    if len(train_spans) != len(train):
        raise SubmitError(
            f"the package trains on {len(train)} spans; got {len(train_spans)} ({list(train_spans)}). "
            "Change data.train_spans in the config and recompile to change the window size."
        )
    pattern = next(s["pattern"] for s in splits if s["name"] == "eval")
    number = _SPAN_DIR.search(pattern)
    if not number:
        raise SubmitError(f"cannot find the span number in the compiled pattern {pattern!r}")

    def at(span: int) -> str:
        return pattern[: number.start()] + str(span) + pattern[number.end() :]

    return {
        "splits": [{"name": s["name"], "pattern": at(span)} for s, span in zip(train, train_spans, strict=True)]
        + [{"name": "eval", "pattern": at(eval_span)}]
    }


def latest_spans(span_numbers: Sequence[int], window: int) -> tuple[list[int], int]:
    """The newest `window` spans before the newest one, and the newest one."""
    ordered = sorted(set(span_numbers))
    if len(ordered) < window + 1:
        raise SubmitError(f"need {window + 1} spans for a window of {window} plus evaluation; found {ordered}")
    return ordered[-window - 1 : -1], ordered[-1]


def list_spans(data_root: str) -> list[int]:
    """Span numbers of the span-<n> folders under a (gs://, s3:// or local) data root."""
    import tensorflow as tf

    return [int(m.group(1)) for name in tf.io.gfile.listdir(data_root) if (m := re.fullmatch(r"span-(\d+)/?", name))]


def publish(client: PipelinesClient, package: Path, name: str, version: str) -> tuple[str, str]:
    """Uploads the pipeline (or a new version of it); returns (pipeline id, version id)."""
    job = read_package(package)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / f"{name}.json"
        spec.write_text(json.dumps(job["pipelineSpec"]))
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
    input_config: dict,
    cron: str | None = None,
) -> Any:
    """Uploads, then creates a recurring run (with cron) or a one-off run."""
    job = read_package(package)
    name = job["pipelineSpec"]["pipelineInfo"]["name"]
    pipeline_id, version_id = publish(client, package, name, version)
    experiment_id = client.create_experiment(name=experiment).experiment_id
    params = {INPUT_CONFIG_PARAMETER: json.dumps(input_config, sort_keys=True)}
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
        p.add_argument("--latest", type=int, metavar="N", help="train on the newest N spans before the newest")
        p.add_argument("--data-root", help="with --latest: the folder holding span-<n>/ (kubeflow.data_root)")
        p.add_argument("--train-spans", type=int, nargs="+")
        p.add_argument("--eval-span", type=int)
        if action == "schedule":
            p.add_argument("--cron", required=True, help="six fields, e.g. '0 0 3 * * *'")
    args = parser.parse_args(argv)
    try:
        job = read_package(args.package)
        template = default_input_config(job)
        window = len([s for s in template["splits"] if s["name"] != "eval"])
        if args.latest is not None:
            if args.latest != window:
                raise SubmitError(f"--latest {args.latest}: the package trains on {window} spans; recompile to change")
            if not args.data_root:
                raise SubmitError("--latest needs --data-root (the gs:// or s3:// folder holding span-<n>/)")
            train, evaluation = latest_spans(list_spans(args.data_root), window)
            input_config = span_input_config(template, train, evaluation)
        elif args.train_spans or args.eval_span is not None:
            if not (args.train_spans and args.eval_span is not None):
                raise SubmitError("give both --train-spans and --eval-span, or --latest N")
            input_config = span_input_config(template, args.train_spans, args.eval_span)
        else:
            input_config = template
        if client is None:
            import kfp

            client = kfp.Client(host=args.host)
        result = submit(
            client,
            args.package,
            experiment=args.experiment,
            version=args.version,
            input_config=input_config,
            cron=getattr(args, "cron", None),
        )
    except SubmitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.action}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
