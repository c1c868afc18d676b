"""create_pipeline: the multi-head TFX pipeline, the same for every runner.

Pure: every setting comes from the PipelineConfig argument; nothing is read
from globals or the environment, and importing this module does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import json_format
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, transform_pb2

from components import import_examples, previous_blessed_model
from components import pusher as atomic_pusher
from components.evaluator import EvaluatorExecutor
from components.example_gate import ExampleGate
from components.gate.component import HeadGate
from components.gate.decision_records import decision_records_dir
from components.previous_blessed_model import PreviousBlessedModelStrategy
from components.report.component import PerHeadReport
from components.served_baseline import COMPONENT_ID as SERVED_BASELINE_ID
from components.served_baseline import ServedBaseline
from components.span_window import COMPONENT_ID as SPAN_WINDOW_ID
from components.span_window import OUTPUT_KEY as SPAN_WINDOW_OUTPUT
from components.span_window import SpanWindow
from components.trainer_launch.executor import Executor as TrainerExecutor
from components.trainer_launch.settings import LAUNCH_KEY, LaunchSettings
from contracts.spans import EVAL_SPLIT, Window, input_config_json, train_split_names
from pipeline.config import PipelineConfig
from pipeline.eval_config import build_eval_config

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


def uses_direct_runner(beam_args: Sequence[str]) -> bool:
    """True unless the Beam arguments name another runner (Beam's default is the DirectRunner)."""
    runners = [arg.split("=", 1)[1] for arg in beam_args if arg.startswith("--runner=")]
    return not runners or runners[-1] in ("DirectRunner", "direct")


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
    component resolves it when each run starts, and its output feeds ExampleGen,
    the example gate and the report as a dynamic execution property.
    The baseline is the latest blessed model other than the candidate, from ML
    Metadata (components/previous_blessed_model.py: a rerun with no new data is
    then reused from the cache to the end), or with `baseline_from_serving` the model the serving directory
    holds (components/served_baseline.py: Kubeflow has no resolver executors).
    With `trainer_launch` of several workers the Trainer task launches a multi-worker job
    (components/trainer_launch/) instead of training in its own process.
    """
    train_splits = train_split_names(config.data.window_size)
    eval_split = EVAL_SPLIT

    window_components = []
    if window_parameter is not None:
        span_window = SpanWindow(
            data_root=str(config.data.root),
            span_dir=config.data.span_dir,
            train_window=config.data.window_size,
            window=window_parameter,
        ).with_id(SPAN_WINDOW_ID)
        window_components = [span_window]
        spans = span_window.outputs[SPAN_WINDOW_OUTPUT].future()[0].value
        spans_parameter = spans  # the gate and the report name span folders
    else:
        spans = input_config(config)
        spans_parameter = json_format.MessageToJson(spans, indent=None, sort_keys=True)

    example_gen = tfx.components.ImportExampleGen(
        input_base=str(config.data.root),
        input_config=spans,
        output_config=example_gen_pb2.Output(),  # empty: keep the input splits (one per span)
    )
    # TFX's executor; a span file it cannot read is named in a plain error.
    example_gen.executor_spec = executor_spec.BeamExecutorSpec(import_examples.Executor)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(config.schema_path))
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    example_gate = ExampleGate(anomalies=example_validator.outputs["anomalies"], input_config=spans_parameter)

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=transform_pb2.SplitsConfig(analyze=train_splits, transform=[*train_splits, eval_split]),
        custom_config=config.model.transform_dict(),
        disable_statistics=True,  # StatisticsGen already covers the raw data
        # tf.Transform's analyzer cache is keyed by each split's file pattern, which names this run's
        # ExampleGen output, so a later window never hits it; writing it cost 10 s of a 120 s profile.
        disable_analyzer_cache=True,
    )
    transform.add_upstream_node(example_gate)

    settings = config.model.trainer
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=train_splits, num_steps=settings.train_steps),
        eval_args=tfx.proto.EvalArgs(splits=[eval_split], num_steps=settings.eval_steps),
        custom_config={
            **config.model.training_dict(),
            **({LAUNCH_KEY: trainer_launch.to_dict()} if trainer_launch and trainer_launch.distributed else {}),
        },
    )
    # TFX's run_fn executor with a chief-aware check after training, which can also launch N workers.
    trainer.executor_spec = executor_spec.ExecutorClassSpec(TrainerExecutor)

    if baseline_from_serving:
        baseline_resolver = ServedBaseline(serving_dir=str(config.serving_dir)).with_id(SERVED_BASELINE_ID)
    else:
        baseline_resolver = tfx.dsl.Resolver(
            strategy_class=PreviousBlessedModelStrategy,
            **{
                previous_blessed_model.MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
                previous_blessed_model.MODEL_BLESSING: tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
                previous_blessed_model.CANDIDATE: trainer.outputs["model"],
            },
        ).with_id("previous_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=build_eval_config(config),
        example_splits=[eval_split],
    )
    # An empty baseline (ServedBaseline before anything was pushed) is no baseline.
    evaluator.executor_spec = executor_spec.BeamExecutorSpec(EvaluatorExecutor)
    if uses_direct_runner(config.beam_args):
        evaluator.with_beam_pipeline_args(EVALUATOR_DIRECT_ARGS)

    heads_and_gates = config.evaluation_plan().to_json()  # read by the gate and the report
    head_gate = HeadGate(
        evaluation=evaluator.outputs["evaluation"],
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        baseline_model=baseline_resolver.outputs["model"],
        gate_config=heads_and_gates,
        history_dir=decision_records_dir(config.pipeline_root),
    )

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=head_gate.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(config.serving_dir))
        ),
    )
    pusher.executor_spec = executor_spec.ExecutorClassSpec(atomic_pusher.Executor)

    report = PerHeadReport(
        evaluation=evaluator.outputs["evaluation"],
        blessing=head_gate.outputs["blessing"],
        model=trainer.outputs["model"],
        pushed_model=pusher.outputs["pushed_model"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        baseline_model=baseline_resolver.outputs["model"],
        report_config=heads_and_gates,
        pipeline_name=config.name,
        spans=spans_parameter,
        history_dir=decision_records_dir(config.pipeline_root),
    )

    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=str(config.pipeline_root),
        components=[
            *window_components,
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            example_gate,
            transform,
            trainer,
            baseline_resolver,
            evaluator,
            head_gate,
            pusher,
            report,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args),
    )
