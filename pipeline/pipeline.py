"""create_pipeline: the multi-head TFX pipeline, the same for every runner.

Pure: every setting comes from the PipelineConfig argument; nothing is read
from globals or the environment, and importing this module does nothing.
"""

from __future__ import annotations

import json

from google.protobuf import json_format
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, transform_pb2

from components import pusher as atomic_pusher
from components.example_gate import ExampleGate
from components.gate.component import HeadGate
from components.report.component import PerHeadReport
from components.served_baseline import EvaluatorExecutor, ServedBaseline
from pipeline.config import PipelineConfig
from pipeline.eval_config import build_eval_config
from pipeline.outcome import report_config

PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.run.run_fn"


EVAL_SPLIT = "eval"


def train_split_names(count: int) -> list[str]:
    """train_1 .. train_<count>, oldest span first.

    Split names are positions in the window, not span numbers, so that the
    spans can change at run time (a Kubeflow runtime parameter) while the
    compiled Transform, Trainer and Evaluator keep referring to the same splits.
    """
    return [f"train_{i}" for i in range(1, count + 1)]


def input_config(config: PipelineConfig) -> example_gen_pb2.Input:
    """One ExampleGen split per span: the training window, then the evaluation span."""
    names = [*train_split_names(len(config.data.train_spans)), EVAL_SPLIT]
    spans = [*config.data.train_spans, config.data.eval_span]
    return example_gen_pb2.Input(
        splits=[
            example_gen_pb2.Input.Split(name=name, pattern=f"{config.data.span_dir.format(span=span)}/*")
            for name, span in zip(names, spans, strict=True)
        ]
    )


def create_pipeline(
    config: PipelineConfig,
    *,
    spans: example_gen_pb2.Input | tfx.dsl.experimental.RuntimeParameter | None = None,
    metadata_connection_config=None,
    enable_cache: bool = True,
    baseline_from_serving: bool = False,
) -> tfx.dsl.Pipeline:
    """ImportExampleGen -> validation gate -> Transform -> Trainer -> Evaluator -> head gate -> Pusher.

    `spans` defaults to the config's window; the Kubeflow compiler passes a
    RuntimeParameter holding the same Input proto as JSON, so runs can move it.
    The baseline is the latest blessed model from ML Metadata (TFX's
    resolver), or with `baseline_from_serving` the model the serving directory
    holds (components/served_baseline.py: Kubeflow has no resolver executors).
    """
    train_splits = train_split_names(len(config.data.train_spans))
    eval_split = EVAL_SPLIT
    custom_config = config.model.training_dict()
    spans = spans if spans is not None else input_config(config)

    example_gen = tfx.components.ImportExampleGen(
        input_base=str(config.data.root),
        input_config=spans,
        output_config=example_gen_pb2.Output(),  # empty: keep the input splits (one per span)
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(config.schema_path))
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    # The gate and the report name span folders: they get the spans as JSON.
    spans_parameter = spans if isinstance(spans, tfx.dsl.experimental.RuntimeParameter) else _json(spans)
    example_gate = ExampleGate(anomalies=example_validator.outputs["anomalies"], input_config=spans_parameter)

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=transform_pb2.SplitsConfig(analyze=train_splits, transform=[*train_splits, eval_split]),
        custom_config=custom_config,
        disable_statistics=True,  # StatisticsGen already covers the raw data
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
        custom_config=custom_config,
    )

    if baseline_from_serving:
        baseline_resolver = ServedBaseline(serving_dir=str(config.serving_dir)).with_id("served_baseline")
    else:
        baseline_resolver = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=build_eval_config(config),
        example_splits=[eval_split],
    )
    if baseline_from_serving:  # an empty baseline (nothing served yet) is no baseline
        evaluator.executor_spec = executor_spec.BeamExecutorSpec(EvaluatorExecutor)

    heads_and_gates = json.dumps(report_config(config), sort_keys=True)  # read by the gate and the report
    head_gate = HeadGate(
        evaluation=evaluator.outputs["evaluation"],
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        baseline_model=baseline_resolver.outputs["model"],
        gate_config=heads_and_gates,
    )

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=head_gate.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(config.serving_dir))
        ),
        custom_executor_spec=executor_spec.ExecutorClassSpec(atomic_pusher.Executor),
    )

    report = PerHeadReport(
        evaluation=evaluator.outputs["evaluation"],
        blessing=head_gate.outputs["blessing"],
        model=trainer.outputs["model"],
        pushed_model=pusher.outputs["pushed_model"],
        baseline_model=baseline_resolver.outputs["model"],
        report_config=heads_and_gates,
        pipeline_name=config.name,
        spans=spans_parameter,
    )

    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=str(config.pipeline_root),
        components=[
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


def _json(message) -> str:
    return json_format.MessageToJson(message, indent=None, sort_keys=True)
