"""Resolves the spans of a Kubeflow run when the run starts, from the span folders present.

A recurring run is compiled and created once; the data root gains a span
folder every month. This component lists the span folders under the data
root at every trigger and writes ExampleGen's Input proto (one split per
span, train_1..train_k then eval) as a String artifact, which ExampleGen,
the example gate and the report take as a dynamic execution property
(`outputs["input_config"].future()[0].value`). An explicit window (the
`window` run parameter, set by `kubeflow_submit run --train-spans ...`) is
checked against the folders instead. Its task is compiled with caching off:
its output depends on the folders, not on its inputs.
"""

from tfx import v1 as tfx  # no `from __future__ import annotations`: TFX reads the type hints
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component

from contracts.spans import Window, check_not_empty, input_config_json, list_spans, resolve_window

OUTPUT_KEY = "input_config"
COMPONENT_ID = "SpanWindow"


@component
def SpanWindow(  # noqa: N802 (a component class name)
    input_config: OutputArtifact[tfx.types.standard_artifacts.String],
    data_root: Parameter[str],
    span_dir: Parameter[str],
    train_window: Parameter[int],
    window: Parameter[str] = "",
) -> None:
    """TFX component: the newest span and the `train_window` before it, or `window` (JSON) checked."""
    requested = Window.from_json(window) if window.strip() else None
    resolved = resolve_window(list_spans(data_root, span_dir), train_window, requested)
    check_not_empty(data_root, span_dir, resolved)
    print(f"[SpanWindow] {resolved.describe()} (from the span folders under {data_root})", flush=True)
    input_config.value = input_config_json(resolved, span_dir)
