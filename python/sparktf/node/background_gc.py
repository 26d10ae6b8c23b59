"""Python's full garbage collections, on a thread of the node's own instead of the program's.

Python runs a collection in whichever thread allocates past its threshold: in a TensorFlow
program, the training loop. Some objects a full (generation 2) collection frees block in C for
long: with TF 2.21 a tf.data iterator that ran with autotune waits in its destructor for its
autotune thread, which checks for cancellation only between optimizations, up to 60 s apart
(an iterator that ran 100 s took 42 s to delete). Keras' epoch iterators sit in reference
cycles, so a full collection in a later ``fit`` frees them: on one node of a synchronous job,
while every other node waits at the next collective (first steps of 76-136 s measured). The
wait releases the GIL, so on a thread of its own it stalls nobody.

So the node leaves generations 0 and 1 to Python (young objects: their iterators, if any, are
young too, and delete fast) and runs the full collections here: as often as Python would by
its counts (``threshold2`` generation-1 collections since the last), and no more often than
keeps this thread's CPU under ``MAX_CPU_SHARE`` (a full collection walks every object).

Example (what the node runtime does before the program runs)::

    collector = BackgroundCollector().start()
    ...
    collector.stop()
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger("sparktf.node")

# Python never starts a full collection itself with this threshold: the count it compares
# (generation-1 collections since the last full one) never gets there.
NEVER = 2**31 - 1
# Of this thread's time, the share it may spend walking objects (full collections' CPU).
MAX_CPU_SHARE = 0.05


class BackgroundCollector:
    """Runs the full collections on a daemon thread; ``stop`` gives them back to Python."""

    def __init__(self, poll_seconds: float = 0.5) -> None:
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sparktf-gc", daemon=True)
        self._thresholds = gc.get_threshold()
        self.collections = 0

    def start(self) -> BackgroundCollector:
        t0, t1, _ = self._thresholds
        gc.set_threshold(t0, t1, NEVER)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Python's own thresholds again. A collection under way (a slow free) is not waited
        for beyond ``timeout``: the thread is a daemon."""
        self._stopping.set()
        self._thread.join(timeout)
        gc.set_threshold(*self._thresholds)

    def due(self) -> bool:
        """A full collection is due by Python's counts."""
        return gc.get_count()[2] >= self._thresholds[2]

    def _run(self) -> None:
        next_allowed = 0.0
        while not self._stopping.wait(self._poll):
            if not self.due() or time.monotonic() < next_allowed:
                continue
            began_cpu = time.thread_time()
            began = time.monotonic()
            gc.collect(2)
            self.collections += 1
            cpu = time.thread_time() - began_cpu
            took = time.monotonic() - began
            next_allowed = time.monotonic() + cpu / MAX_CPU_SHARE
            if took >= 1.0:
                log.info("a full garbage collection took %.1f s (%.2f s of CPU)", took, cpu)
