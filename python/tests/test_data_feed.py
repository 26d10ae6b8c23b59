"""DataFeed over FeedQueue: rebatching, feed ends, terminate, timeouts, tf.data."""

import threading
import time

import numpy as np
import pytest
from column_batches import batch, numeric_batch, schema, spec

from sparktf.node.data_feed import DataFeed, batch_rows
from sparktf.node.feed_queue import FeedChunk, FeedEndedError, FeedQueue
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import decode_batch

SCHEMA = schema(spec("x", feed_pb2.INT64), spec("y", feed_pb2.FLOAT32))


def _put(queue, feed_id, start, rows, feed_schema=SCHEMA):
    queue.open_feed(feed_id, feed_schema)
    cols = decode_batch(feed_schema, numeric_batch(feed_schema, start, rows))
    assert queue.put(FeedChunk(feed_id, rows, cols), timeout=1.0)


def _feed(capacity=8, timeout=5.0):
    queue = FeedQueue(capacity)
    return queue, DataFeed(queue, timeout)


@pytest.mark.timeout(60)
def test_rebatches_across_chunks_and_ends_with_a_short_batch():
    queue, feed = _feed()
    for start, rows in [(0, 3), (3, 4), (7, 5)]:
        _put(queue, "f1", start, rows)
    queue.end_feed("f1")
    sizes, xs = [], []
    while not feed.should_stop():
        b = feed.next_batch(5)
        sizes.append(batch_rows(b))
        xs.extend(b["x"].tolist())
        assert b["y"].dtype == np.float32
    assert sizes == [5, 5, 2]
    assert xs == list(range(12))
    assert feed.feed_id == "f1"


@pytest.mark.timeout(60)
def test_batch_inside_one_chunk_is_a_view():
    queue, feed = _feed()
    _put(queue, "f1", 0, 10)
    first = feed.next_batch(4)
    assert first["x"].base is not None and not first["x"].flags.owndata


@pytest.mark.timeout(60)
def test_feeds_are_served_one_after_another():
    queue, feed = _feed()
    _put(queue, "f1", 0, 3)
    queue.end_feed("f1")
    _put(queue, "f2", 100, 2)
    queue.end_feed("f2")
    assert feed.next_batch(2)["x"].tolist() == [0, 1]
    assert feed.next_batch(2)["x"].tolist() == [2]  # end reached with rows: {} comes next
    assert feed.should_stop()
    assert feed.next_batch(2)["x"].tolist() == [100, 101]  # should_stop() saw the end
    assert not feed.should_stop() and feed.feed_id == "f2"
    assert feed.next_batch(2) == {}
    assert feed.should_stop()


@pytest.mark.timeout(60)
def test_end_is_returned_once_when_not_seen_through_should_stop():
    queue, feed = _feed()
    _put(queue, "f1", 0, 3)
    queue.end_feed("f1")
    queue.end_feed("f1")  # idempotent
    queue.end_feed("empty")  # a feed that sent this node no rows still ends
    assert batch_rows(feed.next_batch(5)) == 3
    assert feed.next_batch(5) == {}
    assert feed.next_batch(5) == {}  # the empty feed
    assert feed.feed_id == "empty" and feed.should_stop()
    with pytest.raises(FeedEndedError):
        queue.open_feed("f1", SCHEMA)


@pytest.mark.timeout(60)
def test_terminate_wakes_a_waiting_reader_and_stops_producers():
    queue, feed = _feed(capacity=1)
    _put(queue, "f1", 0, 2)
    got = []
    reader = threading.Thread(target=lambda: got.append((feed.next_batch(10), feed.next_batch(1))))
    reader.start()
    time.sleep(0.3)
    feed.terminate()
    reader.join(5)
    assert got and got[0][1] == {} and feed.should_stop()
    cols = decode_batch(SCHEMA, numeric_batch(SCHEMA, 0, 1))
    assert queue.put(FeedChunk("f1", 1, cols), timeout=1.0) is False
    assert feed.next_batch(1) == {}


@pytest.mark.timeout(60)
def test_next_batch_times_out_and_keeps_gathered_rows():
    queue, feed = _feed()
    _put(queue, "f1", 0, 3)
    with pytest.raises(TimeoutError, match=r"no data from Spark for 0.3 s: feed 'f1'"):
        feed.next_batch(5, timeout=0.3)
    _put(queue, "f1", 3, 2)
    assert feed.next_batch(5)["x"].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.timeout(60)
def test_full_queue_put_times_out_and_schema_wait_times_out():
    queue, feed = _feed(capacity=1)
    with pytest.raises(TimeoutError, match="no data from Spark for 0.2 s"):
        feed.wait_schema(timeout=0.2)
    _put(queue, "f1", 0, 1)
    cols = decode_batch(SCHEMA, numeric_batch(SCHEMA, 1, 1))
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="took no data for 0.6 s"):
        queue.put(FeedChunk("f1", 1, cols), timeout=0.6)
    assert 0.5 < time.monotonic() - began < 2.0
    assert feed.wait_schema(0.1) == SCHEMA


@pytest.mark.timeout(60)
def test_put_stops_waiting_when_interrupted():
    queue, _ = _feed(capacity=1)
    _put(queue, "f1", 0, 1)
    cols = decode_batch(SCHEMA, numeric_batch(SCHEMA, 1, 1))
    flag = threading.Event()
    threading.Timer(0.3, flag.set).start()
    began = time.monotonic()
    assert queue.put(FeedChunk("f1", 1, cols), 30.0, interrupted=flag.is_set) is False
    assert time.monotonic() - began < 2.0
    assert queue.rows_received("f1") == 1 and queue.total_rows == 1


def _mixed_feed():
    s = schema(
        spec("n", feed_pb2.FLOAT32),
        spec("v", feed_pb2.INT32, feed_pb2.FIXED_ARRAY, 2),
        spec("r", feed_pb2.INT64, feed_pb2.VAR_ARRAY),
        spec("s", feed_pb2.STRING),
        spec("b", feed_pb2.BOOL),
    )
    queue, feed = _feed()
    queue.open_feed("f1", s)
    for rows in ([0, 1, 2], [3, 4]):
        data = {
            "n": np.array(rows),
            "v": np.array([[r, -r] for r in rows]),
            "r": [list(range(r)) for r in rows],
            "s": [f"row{r}" for r in rows],
            "b": np.array(rows) % 2,
        }
        queue.put(FeedChunk("f1", len(rows), decode_batch(s, batch(s, data))), 1.0)
    queue.end_feed("f1")
    return feed


@pytest.mark.timeout(120)
def test_dataset_has_the_schema_element_spec_and_the_rows():
    import tensorflow as tf

    feed = _mixed_feed()
    ds = feed.dataset(4)
    spec_ = ds.element_spec
    assert spec_["n"] == tf.TensorSpec([None], tf.float32)
    assert spec_["v"] == tf.TensorSpec([None, 2], tf.int32)
    assert spec_["s"] == tf.TensorSpec([None], tf.string)
    assert spec_["b"] == tf.TensorSpec([None], tf.bool)
    assert isinstance(spec_["r"], tf.RaggedTensorSpec) and spec_["r"].dtype == tf.int64
    assert (
        ds.options().experimental_distribute.auto_shard_policy
        == tf.data.experimental.AutoShardPolicy.OFF
    )
    # Without autotune an old iterator is deleted at once (feed_dataset.dataset_options).
    assert ds.options().autotune.enabled is False
    batches = list(ds)
    assert [int(b["n"].shape[0]) for b in batches] == [4, 1]
    first = batches[0]
    assert first["v"].numpy().tolist() == [[0, 0], [1, -1], [2, -2], [3, -3]]
    assert first["r"].to_list() == [[], [0], [0, 1], [0, 1, 2]]
    assert first["s"].numpy().tolist() == [b"row0", b"row1", b"row2", b"row3"]
    assert first["b"].numpy().tolist() == [False, True, False, True]


@pytest.mark.timeout(120)
def test_dataset_with_features_and_label_yields_pairs():
    import tensorflow as tf

    feed = _mixed_feed()
    ds = feed.dataset(5, features=["v"], label="n")
    x_spec, y_spec = ds.element_spec
    assert x_spec == tf.TensorSpec([None, 2], tf.int32) and y_spec == tf.TensorSpec([None])
    with pytest.raises(ValueError, match="column 'nope' is not in the feed"):
        feed.dataset(5, features=["nope"])  # in the feed: past its end, the next feed's columns
    ((x, y),) = list(ds)
    assert x.shape == (5, 2) and y.numpy().tolist() == [0, 1, 2, 3, 4]


def _planned(node_rows: int, min_rows: int) -> feed_pb2.FeedSchema:
    planned = feed_pb2.FeedSchema()
    planned.CopyFrom(SCHEMA)
    planned.plan.node_rows, planned.plan.min_node_rows = node_rows, min_rows
    return planned


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "node_rows,min_rows,expected",
    [
        (25, 24, [8, 8, 9]),  # one row more than the smallest share goes to the last batch
        (24, 24, [8, 8, 8]),
        (5, 5, [5]),  # less than a batch: one batch, as on every other node
        (5005, 5005, [8] * 624 + [13]),
    ],
)
def test_balanced_batches_give_every_node_the_same_step_count(node_rows, min_rows, expected):
    queue, feed = _feed(capacity=1024)
    planned = _planned(node_rows, min_rows)
    start = 0
    while start < node_rows:
        rows = min(7, node_rows - start)
        _put(queue, "f1", start, rows, planned)
        start += rows
    queue.end_feed("f1")
    batches = list(feed.balanced_batches(8))
    assert [batch_rows(b) for b in batches] == expected
    assert np.concatenate([b["x"] for b in batches]).tolist() == list(range(node_rows))
    assert feed.should_stop()


@pytest.mark.timeout(60)
def test_balanced_batches_refuse_rows_beyond_the_plan():
    queue, feed = _feed()
    _put(queue, "f1", 0, 10, _planned(8, 8))
    queue.end_feed("f1")
    with pytest.raises(RuntimeError, match="more rows than its plan of 8"):
        list(feed.balanced_batches(4))


@pytest.mark.timeout(60)
def test_schema_past_a_feeds_end_is_the_next_feeds_waited_for():
    # Past the end of f1 the next rows are f2's: its plan, not f1's, even when f2's first
    # stream comes after the program asked (a balanced dataset's second iteration).
    queue, feed = _feed()
    first = schema(spec("x", feed_pb2.INT64), spec("y", feed_pb2.FLOAT32))
    first.plan.node_rows = 3
    second = schema(spec("x", feed_pb2.INT64), spec("y", feed_pb2.FLOAT32))
    second.plan.node_rows = 2
    _put(queue, "f1", 0, 3, first)
    assert feed.wait_schema(0.1) == first
    queue.end_feed("f1")
    assert batch_rows(feed.next_batch(5)) == 3 and feed.next_batch(5) == {}
    with pytest.raises(TimeoutError, match="feed 'f1' ended and no stream of the next feed"):
        feed.wait_schema(timeout=0.2)
    threading.Timer(0.3, lambda: _put(queue, "f2", 100, 2, second)).start()
    assert feed.wait_schema(timeout=10.0) == second
    assert feed.next_batch(2)["x"].tolist() == [100, 101]
