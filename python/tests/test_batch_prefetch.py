"""Prefetch (the model server's pipeline stages): items come in order from a background thread,
an exception comes at its place, and a call that went away ends both the wait and the thread."""

from __future__ import annotations

import threading
import time

import pytest

from sparktf.serving.batch_prefetch import Prefetch


def test_items_arrive_in_order_through_two_stages():
    def doubled(items):
        for i in items:
            yield 2 * i

    first = Prefetch(iter(range(50)), lambda: True, depth=2)
    second = Prefetch(doubled(first), lambda: True, depth=2)
    assert list(second) == [2 * i for i in range(50)]
    assert first.join(5) and second.join(5)


def test_an_error_comes_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("batch 3 does not decode")

    stream = iter(Prefetch(source(), lambda: True))
    assert [next(stream), next(stream)] == [1, 2]
    with pytest.raises(ValueError, match="batch 3 does not decode"):
        next(stream)


def test_a_call_that_went_away_ends_the_wait_and_the_thread():
    gate = threading.Event()

    def stalled():  # a client that sends one batch and then nothing
        yield "batch"
        gate.wait(10)
        yield "late"

    active = [True]
    prefetch = Prefetch(stalled(), lambda: active[0], poll_seconds=0.05)
    stream = iter(prefetch)
    assert next(stream) == "batch"
    active[0] = False
    started = time.monotonic()
    assert next(stream, None) is None
    assert time.monotonic() - started < 2
    gate.set()
    assert prefetch.join(5), "the stage's thread outlived a closed consumer"


def test_a_consumer_that_stops_early_stops_a_producer_blocked_on_a_full_queue():
    prefetch = Prefetch(iter(range(10_000)), lambda: True, depth=1, poll_seconds=0.05)
    for item in prefetch:
        if item == 3:
            break
    assert prefetch.join(5)
