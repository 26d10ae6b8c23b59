"""DecodedBatches: the model server's reader thread hands batches over decoded, in order, and
an undecodable or foreign message fails at its place in the stream."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from column_batches import batch, schema, spec
from sparktf.serving.batch_prefetch import DecodedBatches
from sparktf.v1 import feed_pb2, inference_pb2

X = spec("x", feed_pb2.FLOAT32, feed_pb2.FIXED_ARRAY, width=3)
SCHEMA = schema(X)


def request(rows: np.ndarray) -> inference_pb2.InferRequest:
    return inference_pb2.InferRequest(batch=batch(SCHEMA, {"x": rows}))


def test_batches_arrive_decoded_in_order():
    sent = [np.full((n, 3), i, np.float32) for i, n in enumerate([2, 5, 1, 4, 3])]
    got = list(DecodedBatches(iter(map(request, sent)), SCHEMA, lambda: True, depth=2))
    assert [rows for _, rows in got] == [2, 5, 1, 4, 3]
    for (columns, _), expected in zip(got, sent):
        np.testing.assert_array_equal(columns["x"], expected)


def test_a_bad_batch_fails_after_the_good_ones_before_it():
    bad = inference_pb2.InferRequest(batch=feed_pb2.ColumnBatch(
        num_rows=2, columns=[feed_pb2.ColumnData(values=b"\0" * 5)]))
    stream = iter(DecodedBatches(iter([request(np.zeros((1, 3), np.float32)), bad]), SCHEMA,
                                 lambda: True))
    assert next(stream)[1] == 1
    with pytest.raises(ValueError, match="not a whole number"):
        next(stream)


def test_a_message_that_is_no_batch_fails():
    start = inference_pb2.InferRequest(start=inference_pb2.InferStart(partition=0))
    with pytest.raises(ValueError, match="only batches may follow"):
        list(DecodedBatches(iter([start]), SCHEMA, lambda: True))


def test_a_call_that_went_away_ends_the_wait_and_the_reader():
    gate = threading.Event()

    def stalled():  # a client that sends one batch and then nothing
        yield request(np.zeros((1, 3), np.float32))
        gate.wait(10)

    active = [True]
    batches = DecodedBatches(stalled(), SCHEMA, lambda: active[0], poll_seconds=0.05)
    stream = iter(batches)
    assert next(stream)[1] == 1
    active[0] = False
    started = time.monotonic()
    assert next(stream, None) is None
    assert time.monotonic() - started < 2
    gate.set()
    batches._thread.join(5)
    assert not batches._thread.is_alive()
