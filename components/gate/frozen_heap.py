"""While the Evaluator streams examples, keep the process's long-lived heap out of garbage collection.

Why: TFMA's `split_extracts` (utils/util.py), which cuts every batch of
extracts into one extract per example, nests a recursive closure, so each
batch's per-example extracts sit in a reference cycle and are freed only by a
full (oldest-generation) collection. CPython (3.13) runs one only once the
objects promoted since the last reach a quarter of the long-lived ones, and
with TensorFlow and two models loaded those are over a million: finished
extracts piled up to about 850 MiB between full collections (measured at 8x
the evaluation span; `bench/scale`). Freezing the heap that exists when the
first example arrives (TensorFlow, the models, Beam; none of it garbage yet)
leaves later collections only the heap made since: full collections then
come every 5 to 10 s (53 over a 32x run). The heap is unfrozen when the last
holder lets go (Beam's teardown of the metric's combiners), so nothing stays
pinned after the evaluation. Where a runner drops a combiner without tearing
it down, the heap stays frozen in that worker: what was alive at the first row
is never collected there; everything made later still is.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holders = 0


def hold() -> None:
    """The process's first holder collects what is garbage now, then freezes what is left; later
    holders only count."""
    global _holders
    with _lock:
        _holders += 1
        if _holders == 1:
            gc.collect()
            gc.freeze()
            gc.collect()  # the long-lived count the collector compares against is now the unfrozen heap's


def release() -> None:
    """The last holder unfreezes the heap: what was frozen is collected as usual again. Releasing more
    often than holding does nothing."""
    global _holders
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()


def holders() -> int:
    """How many holders the process has (0: nothing frozen by this module)."""
    return _holders
