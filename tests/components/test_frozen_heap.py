"""The Evaluator's frozen heap: held while rows flow through a head's combiner in Beam, released after."""

from __future__ import annotations

import gc

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from components.gate import frozen_heap
from pipeline.pipeline import EVALUATOR_DIRECT_ARGS, LOCAL_RUNNER
from tests.components.test_head_metrics import computation, rows


def tracked(marker: object) -> bool:
    """Whether the collector still looks at `marker` (a frozen object is in no generation)."""
    return any(found is marker for found in gc.get_objects())


def test_the_first_hold_freezes_the_heap_and_the_last_release_unfreezes_it():
    marker = [object()]  # a container, so the collector tracks it
    assert frozen_heap.holders() == 0 and tracked(marker)
    frozen_heap.hold()
    frozen_heap.hold()
    try:
        assert frozen_heap.holders() == 2 and not tracked(marker) and gc.get_freeze_count() > 0
        frozen_heap.release()
        assert not tracked(marker), "one holder is left"
    finally:
        frozen_heap.release()
    assert frozen_heap.holders() == 0 and tracked(marker) and gc.get_freeze_count() == 0
    frozen_heap.release()  # one release too many changes nothing
    assert frozen_heap.holders() == 0


def test_garbage_in_a_cycle_made_while_frozen_is_collected():
    frozen_heap.hold()
    try:
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        frozen_heap.release()


def test_a_head_combiner_holds_the_heap_while_beam_runs_it_and_releases_it_at_teardown():
    combiner = computation().combiner
    data = rows(300)
    options = PipelineOptions([f"--runner={LOCAL_RUNNER}", *EVALUATOR_DIRECT_ARGS])
    with beam.Pipeline(options=options) as pipeline:
        holders = (
            pipeline
            | beam.Create([("slice", row) for row in data])
            | beam.CombinePerKey(combiner)
            | beam.Map(lambda keyed: frozen_heap.holders() > 0 and gc.get_freeze_count() > 0)
        )
        assert_that(holders, equal_to([True]))
    assert frozen_heap.holders() == 0 and gc.get_freeze_count() == 0


def test_a_head_combiner_called_directly_freezes_nothing():
    combiner = computation().combiner
    accumulator = combiner.create_accumulator()
    for row in rows(10):
        accumulator = combiner.add_input(accumulator, row)
    assert frozen_heap.holders() == 0 and gc.get_freeze_count() == 0
