"""Inference on the node side: next_batch hands out rows without waiting for more,
batch_results answers them in order, and bad answers are errors that name the result."""

import numpy as np
import pytest
from column_batches import numeric_batch, schema, spec

from sparktf.node.answer_sink import AnswerSink
from sparktf.node.data_feed import DataFeed
from sparktf.node.feed_queue import FeedChunk, FeedQueue
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import decode_batch, decode_column
from sparktf.wire.result_batch import check_rows, encode_answers

INPUTS = schema(spec("x", feed_pb2.INT64))


def out(name, dtype, shape=feed_pb2.SCALAR):
    return feed_pb2.ColumnSpec(name=name, dtype=dtype, shape=shape, source_column=name)


def _inference_chunk(queue, sink, start, rows):
    queue.open_feed("inference", None)
    cols = decode_batch(INPUTS, numeric_batch(INPUTS, start, rows))
    sink.add_rows(rows)
    assert queue.put(FeedChunk("inference", rows, cols, answers=sink), timeout=1.0)


@pytest.mark.timeout(30)
def test_rows_are_handed_out_without_waiting_and_answered_in_order():
    queue = FeedQueue(8)
    feed = DataFeed(queue, timeout=5.0)
    sink = AnswerSink([out("double", feed_pb2.INT64)], "test stream")
    _inference_chunk(queue, sink, 0, 5)
    first = feed.next_batch(3)
    second = feed.next_batch(100)  # only 2 rows are there: it returns them at once
    assert first["x"].tolist() == [0, 1, 2] and second["x"].tolist() == [3, 4]
    feed.batch_results({"double": first["x"] * 2})
    feed.batch_results(second["x"] * 2)  # one result column: the values alone will do
    sink.input_done()
    answers = []
    while (a := sink.next_answer(1.0, lambda: None)) is not None:
        answers += decode_column(
            out("double", feed_pb2.INT64), a.num_rows, a.columns[0].values, b""
        ).tolist()
    assert answers == [0, 2, 4, 6, 8]


@pytest.mark.timeout(30)
def test_a_wrong_row_count_fails_the_stream_and_the_program():
    queue = FeedQueue(8)
    feed = DataFeed(queue, timeout=5.0)
    sink = AnswerSink([out("p", feed_pb2.FLOAT32)], "stream 7")
    _inference_chunk(queue, sink, 0, 4)
    batch = feed.next_batch(4)
    with pytest.raises(ValueError, match="result 'p' .*3 values answer a batch of 4 rows"):
        feed.batch_results({"p": batch["x"][:3].astype(np.float32)})
    with pytest.raises(RuntimeError, match="stream 7: batch_results"):
        sink.next_answer(1.0, lambda: None)


def test_batch_results_without_a_batch_is_an_error():
    feed = DataFeed(FeedQueue(2), timeout=1.0)
    with pytest.raises(RuntimeError, match="no such rows wait for answers"):
        feed.batch_results([1])


def test_answers_encode_every_kind():
    outputs = [
        out("f", feed_pb2.FLOAT64),
        out("s", feed_pb2.STRING),
        out("a", feed_pb2.FLOAT32, feed_pb2.VAR_ARRAY),
        out("r", feed_pb2.INT32, feed_pb2.VAR_ARRAY),
        out("b", feed_pb2.BOOL),
    ]
    cols = check_rows(
        outputs,
        {
            "f": np.array([[1.5], [2.5]]),
            "s": ["x", b"yz"],
            "a": np.ones((2, 3)),
            "r": [np.arange(1), np.arange(3)],
            "b": [True, False],
        },
        2,
    )
    batch = encode_answers(outputs, cols, 0, 2)
    decoded = {
        o.name: decode_column(o, 2, c.values, c.offsets) for o, c in zip(outputs, batch.columns)
    }
    assert decoded["f"].tolist() == [1.5, 2.5]
    assert decoded["s"].tolist() == [b"x", b"yz"]
    assert decoded["a"].values.tolist() == [1.0] * 6
    assert decoded["r"].row_splits.tolist() == [0, 1, 4]
    assert decoded["b"].tolist() == [True, False]


def test_answers_of_the_wrong_kind_name_the_result():
    with pytest.raises(ValueError, match="result 'n' .* is INT32, found float64"):
        check_rows([out("n", feed_pb2.INT32)], {"n": np.array([0.5])}, 1)
    with pytest.raises(ValueError, match="the results lack 'n'"):
        check_rows([out("n", feed_pb2.INT32)], {"m": [1]}, 1)
    with pytest.raises(ValueError, match="takes one value a row"):
        check_rows([out("n", feed_pb2.FLOAT32)], {"n": np.ones((1, 2))}, 1)
