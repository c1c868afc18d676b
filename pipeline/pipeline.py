"""create_pipeline: the multi-head TFX pipeline, the same for every runner.

Pure: every setting comes from the PipelineConfig argument; nothing is read
from globals or the environment, and importing this module does nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, transform_pb2

from components import import_examples, previous_blessed_model
from components import pusher as atomic_pusher
from components.evaluator import EvaluatorExecutor
from components.example_gate import ExampleGate
from components.gate.component import HeadGate
from components.previous_blessed_model import PreviousBlessedModelStrategy
from components.report.component import PerHeadReport
from components.served_baseline import COMPONENT_ID as SERVED_BASELINE_ID
from components.served_baseline import ServedBaseline
from components.span_window import COMPONENT_ID as SPAN_WINDOW_ID
from components.span_window import OUTPUT_KEY as SPAN_WINDOW_OUTPUT
from components.span_window import SpanWindow
from components.trainer_launch.executor import Executor as TrainerExecutor
from components.trainer_launch.settings import LaunchSettings
from contracts.spans import EVAL_SPLIT, Window, input_config_json, train_split_names
from pipeline.config import REPO_ROOT, PipelineConfig
from pipeline.eval_config import build_eval_config
from trainer.specs import LAUNCH_KEY

PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.run.run_fn"


def input_config(config: PipelineConfig) -> example_gen_pb2.Input:
    """One ExampleGen split per span of the config's resolved window: the training spans, then the evaluation span."""
    if not config.data.resolved:
        raise ValueError("the config's window is not resolved yet: call orchestration.run_local.resolve_spans first")
    window = Window(train=config.data.train_spans, evaluate=config.data.eval_span)
    return json_format.Parse(input_config_json(window, config.data.span_dir), example_gen_pb2.Input())


# On the DirectRunner the Evaluator runs in one process: multi_processing on two workers evaluated the
# default window with a baseline in 35.8 s against 34.6 s in_memory (bench/RESULTS.md), and one process
# loads each model once. Its results are the same bit for bit in either mode (tests/e2e/test_reproducible.py).
EVALUATOR_DIRECT_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


# Beam's DirectRunner first tries the Prism runner, whose binary it downloads from GitHub at run time
# (offline it falls back at once; behind a firewall that drops packets it waits). The runner it then
# falls back to for these pipelines is the FnApiRunner: named here, nothing is fetched.
LOCAL_RUNNER = "FnApiRunner"
DIRECT_RUNNERS = ("DirectRunner", "direct", LOCAL_RUNNER)


# TFX copies its own install into a source package for remote Beam workers unless the arguments name the
# pipeline's dependencies (tfx/utils/dependency_utils.py): 1 to 2 s of every Beam stage, and each copy, 52 MB,
# stays in /tmp (1,122 of them, 54 GB, had piled up on the CI machine). The local runner stages nothing, so
# naming the project's own setup.py, what its Beam code really needs, costs nothing and ends the copies.
DEPENDENCY_FLAGS = (
    "--extra_package",
    "--extra_packages",
    "--setup_file",
    "--requirements_file",
    "--sdk_container_image",
    "--worker_harness_container_image",
)
PROJECT_SETUP_FILE = REPO_ROOT / "setup.py"


def names_dependency(beam_args: Sequence[str]) -> bool:
    """True when the Beam arguments already say what the workers need (then TFX stages nothing of its own)."""
    return any(arg.split("=", 1)[0] in DEPENDENCY_FLAGS for arg in beam_args)


def named_runner(beam_args: Sequence[str]) -> str | None:
    runners = [arg.split("=", 1)[1] for arg in beam_args if arg.startswith("--runner=")]
    return runners[-1] if runners else None


def uses_direct_runner(beam_args: Sequence[str]) -> bool:
    """True unless the Beam arguments name a runner other than the local ones."""
    return named_runner(beam_args) in (None, *DIRECT_RUNNERS)


def pipeline_beam_args(beam_args: Sequence[str]) -> list[str]:
    """The config's Beam arguments, with the local runner named where they name none or the
    DirectRunner (the same runner, without the download), and for it the project's setup.py as the
    dependency where they name none (no TFX source package built and left behind)."""
    if not uses_direct_runner(beam_args):
        return list(beam_args)
    local = [f"--runner={LOCAL_RUNNER}", *(arg for arg in beam_args if not arg.startswith("--runner="))]
    if not names_dependency(beam_args) and PROJECT_SETUP_FILE.is_file():
        local.append(f"--setup_file={PROJECT_SETUP_FILE}")
    return local


def create_pipeline(
    config: PipelineConfig,
    *,
    window_parameter: tfx.dsl.experimental.RuntimeParameter | None = None,
    metadata_connection_config=None,
    enable_cache: bool = True,
    baseline_from_serving: bool = False,
    trainer_launch: LaunchSettings | None = None,
) -> tfx.dsl.Pipeline:
    """SpanWindow (Kubeflow) -> ImportExampleGen -> validation gate -> Transform -> Trainer -> Evaluator
    -> head gate -> Pusher -> report.

    Locally the window is resolved before the pipeline is built (the config
    arrives resolved). With `window_parameter` (Kubeflow) a SpanWindow
    component resolves it when each run starts (`_spans`).
    The baseline is the latest blessed model other than the candidate, from ML
    Metadata, or with `baseline_from_serving` the model the serving directory
    holds (`_baseline`). With `trainer_launch` of several workers the Trainer
    task launches a multi-worker job (components/trainer_launch/).
    """
    spans = _spans(config, window_parameter)
    example_gen = _example_gen(config, spans)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(config.schema_path))
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    example_gate = ExampleGate(anomalies=example_validator.outputs["anomalies"], input_config=spans.parameter)
    transform = _transform(config, example_gen, schema_gen, after=example_gate)
    trainer = _trainer(config, transform, schema_gen, trainer_launch)
    baseline = _baseline(config, trainer, baseline_from_serving)
    evaluator = _evaluator(config, example_gen, trainer, baseline)
    plan = config.evaluation_plan().to_json()  # read by the gate and the report
    head_gate = _head_gate(config, plan, spans, evaluator, trainer, example_gen, baseline)
    pusher = _pusher(config, trainer, head_gate)
    report = _report(config, plan, spans, evaluator, head_gate, trainer, pusher, statistics_gen, schema_gen, baseline)
    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=str(config.pipeline_root),
        components=[
            *spans.components,
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            example_gate,
            transform,
            trainer,
            baseline,
            evaluator,
            head_gate,
            pusher,
            report,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=pipeline_beam_args(config.beam_args),
    )


@dataclasses.dataclass(frozen=True)
class _Spans:
    """The run's span window: ExampleGen's input config, the same as the text the gate and the report read
    (they name span folders), and the component that resolves it when the run starts (Kubeflow only)."""

    input_config: Any
    parameter: Any
    components: tuple[Any, ...] = ()


def _spans(config: PipelineConfig, window_parameter: tfx.dsl.experimental.RuntimeParameter | None) -> _Spans:
    if window_parameter is None:
        spans = input_config(config)
        return _Spans(spans, json_format.MessageToJson(spans, indent=None, sort_keys=True))
    span_window = SpanWindow(
        data_root=str(config.data.root),
        span_dir=config.data.span_dir,
        train_window=config.data.window_size,
        window=window_parameter,
    ).with_id(SPAN_WINDOW_ID)
    resolved = span_window.outputs[SPAN_WINDOW_OUTPUT].future()[0].value  # a dynamic execution property
    return _Spans(resolved, resolved, (span_window,))


def _example_gen(config: PipelineConfig, spans: _Spans):
    example_gen = tfx.components.ImportExampleGen(
        input_base=str(config.data.root),
        input_config=spans.input_config,
        output_config=example_gen_pb2.Output(),  # empty: keep the input splits (one per span)
    )
    # TFX's executor; a span file it cannot read is named in a plain error.
    example_gen.executor_spec = executor_spec.BeamExecutorSpec(import_examples.Executor)
    return example_gen


def _transform(config: PipelineConfig, example_gen, schema_gen, after):
    train_splits = train_split_names(config.data.window_size)
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=transform_pb2.SplitsConfig(analyze=train_splits, transform=[*train_splits, EVAL_SPLIT]),
        custom_config=config.model.transform_dict(),
        disable_statistics=True,  # StatisticsGen already covers the raw data
        # tf.Transform's analyzer cache is keyed by each split's file pattern, which names this run's
        # ExampleGen output, so a later window never hits it; writing it cost 10 s of a 120 s profile.
        disable_analyzer_cache=True,
    )
    transform.add_upstream_node(after)  # nothing is transformed before the data passed validation
    return transform


def _trainer(config: PipelineConfig, transform, schema_gen, launch: LaunchSettings | None):
    settings = config.model.trainer
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(
            splits=train_split_names(config.data.window_size), num_steps=settings.train_steps
        ),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT], num_steps=settings.eval_steps),
        custom_config={
            **config.model.training_dict(),
            **({LAUNCH_KEY: launch.to_dict()} if launch and launch.distributed else {}),
        },
    )
    # TFX's run_fn executor with a chief-aware check after training, which can also launch N workers.
    trainer.executor_spec = executor_spec.ExecutorClassSpec(TrainerExecutor)
    return trainer


def _baseline(config: PipelineConfig, trainer, from_serving: bool):
    """The model the candidate is compared with: the latest blessed one other than the candidate, from ML
    Metadata (components/previous_blessed_model.py: a rerun with no new data is then reused from the cache to
    the end), or the model the serving directory holds (components/served_baseline.py: Kubeflow has no
    resolver executors)."""
    if from_serving:
        return ServedBaseline(serving_dir=str(config.serving_dir)).with_id(SERVED_BASELINE_ID)
    return tfx.dsl.Resolver(
        strategy_class=PreviousBlessedModelStrategy,
        **{
            previous_blessed_model.MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            previous_blessed_model.MODEL_BLESSING: tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
            previous_blessed_model.CANDIDATE: trainer.outputs["model"],
        },
    ).with_id("previous_blessed_model_resolver")


def _evaluator(config: PipelineConfig, example_gen, trainer, baseline):
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=build_eval_config(config),
        example_splits=[EVAL_SPLIT],
    )
    # An empty baseline (ServedBaseline before anything was pushed) is no baseline.
    evaluator.executor_spec = executor_spec.BeamExecutorSpec(EvaluatorExecutor)
    if uses_direct_runner(config.beam_args):
        evaluator.with_beam_pipeline_args(EVALUATOR_DIRECT_ARGS)
    return evaluator


def _head_gate(config: PipelineConfig, plan: str, spans: _Spans, evaluator, trainer, example_gen, baseline) -> HeadGate:
    return HeadGate(
        evaluation=evaluator.outputs["evaluation"],
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        baseline_model=baseline.outputs["model"],
        gate_config=plan,
        history_dir=config.history_dir,
        spans=spans.parameter,
    )


def _pusher(config: PipelineConfig, trainer, head_gate: HeadGate):
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=head_gate.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(config.serving_dir))
        ),
    )
    pusher.executor_spec = executor_spec.ExecutorClassSpec(atomic_pusher.Executor)
    return pusher


def _report(
    config: PipelineConfig,
    plan: str,
    spans: _Spans,
    evaluator,
    head_gate,
    trainer,
    pusher,
    statistics_gen,
    schema_gen,
    baseline,
) -> PerHeadReport:
    return PerHeadReport(
        evaluation=evaluator.outputs["evaluation"],
        blessing=head_gate.outputs["blessing"],
        model=trainer.outputs["model"],
        pushed_model=pusher.outputs["pushed_model"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        baseline_model=baseline.outputs["model"],
        report_config=plan,
        pipeline_name=config.name,
        spans=spans.parameter,
        history_dir=config.history_dir,
    )
