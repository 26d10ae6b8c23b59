"""sparktf.tfos.TFNode.DataFeed over a real node DataFeed and FeedQueue (no Spark): rows as
tuples, TensorFlowOnSpark's input_mapping dicts, should_stop() only at shutdown, terminate."""

import threading
import time

import pytest
from column_batches import numeric_batch, schema, spec

from sparktf.node.data_feed import DataFeed as NodeFeed
from sparktf.node.feed_queue import FeedChunk, FeedQueue
from sparktf.tfos.TFNode import SCALAR_COLUMN, DataFeed, hdfs_path
from sparktf.tfos.TFSparkNode import FeedManager
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import decode_batch
from sparktf.wire.feed_wire import INFERENCE_FEED_ID

SCHEMA = schema(spec("x", feed_pb2.INT64), spec("y", feed_pb2.FLOAT32))


class _Ctx:
    def __init__(self, feed):
        self._feed = feed

    def get_data_feed(self):
        return self._feed


def _put(queue, feed_id, start, rows, feed_schema=SCHEMA):
    queue.open_feed(feed_id, feed_schema)
    cols = decode_batch(feed_schema, numeric_batch(feed_schema, start, rows))
    assert queue.put(FeedChunk(feed_id, rows, cols), timeout=1.0)


def _tfos_feed(timeout=5.0, **kwargs):
    queue = FeedQueue(8)
    return queue, DataFeed(FeedManager(_Ctx(NodeFeed(queue, timeout))), False, **kwargs)


@pytest.mark.timeout(60)
def test_rows_are_tuples_and_the_loop_outlives_each_train_until_shutdown():
    queue, feed = _tfos_feed()
    _put(queue, "train-1", 0, 3)
    queue.end_feed("train-1")
    _put(queue, "train-2", 10, 2)
    queue.end_feed("train-2")
    got = []

    def shutdown_later():
        time.sleep(0.3)
        queue.end_feed(INFERENCE_FEED_ID)  # what cluster.shutdown() sends first

    threading.Thread(target=shutdown_later).start()
    while not feed.should_stop():
        got.extend(feed.next_batch(2))
    assert [(int(x), float(y)) for x, y in got] == [(i, float(i)) for i in (0, 1, 2, 10, 11)]
    assert feed.next_batch(2) == []


@pytest.mark.timeout(60)
def test_the_wait_between_trains_outlasts_the_feed_timeout():
    queue, feed = _tfos_feed(timeout=0.2)
    _put(queue, "train-1", 0, 1)
    queue.end_feed("train-1")
    assert len(feed.next_batch(5)) == 1

    def next_train_later():
        time.sleep(0.7)  # longer than the feed timeout: TensorFlowOnSpark's nodes waited
        _put(queue, "train-2", 5, 1)

    threading.Thread(target=next_train_later).start()
    assert [int(r[0]) for r in feed.next_batch(1)] == [5]
    assert not feed.should_stop()


@pytest.mark.timeout(60)
def test_within_a_train_a_timeout_is_still_raised():
    queue, feed = _tfos_feed(timeout=0.2)
    _put(queue, "train-1", 0, 1)
    feed.next_batch(1)
    with pytest.raises(TimeoutError):
        feed.next_batch(1)


@pytest.mark.timeout(60)
def test_input_mapping_gives_tensors_sorted_by_column():
    queue, feed = _tfos_feed(input_mapping={"y": "label", "x": "features"})
    assert feed.input_tensors == ["features", "label"]
    _put(queue, "train-1", 0, 3)
    batch = feed.next_batch(3)
    assert list(batch) == ["features", "label"]
    assert batch["features"].tolist() == [0, 1, 2]


@pytest.mark.timeout(60)
def test_scalar_rdd_rows_are_the_scalars_and_terminate_stops():
    one = schema(spec(SCALAR_COLUMN, feed_pb2.INT64))
    queue, feed = _tfos_feed()
    _put(queue, "train-1", 0, 4, one)
    assert [int(v) for v in feed.next_batch(4)] == [0, 1, 2, 3]
    feed.terminate()
    assert feed.should_stop() and feed.next_batch(4) == []


def test_no_feed_on_this_node_is_a_clear_error():
    with pytest.raises(RuntimeError, match="takes no data"):
        DataFeed(None)


class _Fs:
    def __init__(self, fs):
        self.defaultFS = fs
        self.working_dir = "/home/me/job"


def test_hdfs_path_as_tensorflowonspark_resolved_it():
    assert hdfs_path(_Fs("hdfs://nn:8020"), "gs://b/x") == "gs://b/x"
    assert hdfs_path(_Fs("hdfs://nn:8020"), "/data/x") == "hdfs://nn:8020/data/x"
    assert hdfs_path(_Fs("file://"), "/data/x") == "file:///data/x"
    assert hdfs_path(_Fs("file://"), "model") == "file:///home/me/job/model"
    assert hdfs_path(_Fs("hdfs://nn:8020"), "model").startswith("hdfs://nn:8020/user/")
