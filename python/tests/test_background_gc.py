"""The node's full garbage collections run on its own thread: a slow free stalls only that."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from sparktf.node.background_gc import NEVER, BackgroundCollector


class _SlowToFree:
    """Frees like a tf.data iterator with autotune: blocks (GIL released) until told."""

    def __init__(self, entered: threading.Event, release: threading.Event, where: list) -> None:
        self.cycle = self  # only a collection frees it
        self._entered, self._release, self._where = entered, release, where

    def __del__(self) -> None:
        self._where.append(threading.current_thread().name)
        self._entered.set()
        self._release.wait(10)


@pytest.mark.timeout(60)
def test_a_slow_free_in_a_full_collection_blocks_the_collector_thread_not_the_program():
    before = gc.get_threshold()
    entered, release, where = threading.Event(), threading.Event(), []
    collector = BackgroundCollector(poll_seconds=0.05).start()
    try:
        assert gc.get_threshold() == (before[0], before[1], NEVER)
        old = _SlowToFree(entered, release, where)
        gc.collect(1)  # it survives into the oldest generation: only a full collection frees it
        del old
        for _ in range(before[2]):
            gc.collect(0)
            gc.collect(1)  # what makes a full collection due, by Python's counts
        assert collector.due()
        # The program goes on while the free blocks: it is the one to release it.
        assert entered.wait(10), "no full collection ran within 10 s"
        release.set()
        assert where == ["sparktf-gc"]
        deadline = time.monotonic() + 10
        while collector.collections < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # the collection ends once the free is released
        assert collector.collections >= 1
    finally:
        release.set()
        collector.stop()
    assert gc.get_threshold() == before
