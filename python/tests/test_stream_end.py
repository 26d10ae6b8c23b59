"""DataFeed.next_feed: micro-batch feeds one after another, then the stream's end."""

import threading
import time

import pytest
from column_batches import numeric_batch, schema, spec

from sparktf.node.data_feed import DataFeed, batch_rows
from sparktf.node.feed_queue import FeedChunk, FeedQueue
from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import decode_batch

SCHEMA = schema(spec("x", feed_pb2.INT64))


def _feed_rows(queue, feed_id, start, rows):
    queue.open_feed(feed_id, SCHEMA)
    cols = decode_batch(SCHEMA, numeric_batch(SCHEMA, start, rows))
    assert queue.put(FeedChunk(feed_id, rows, cols), timeout=1.0)
    queue.end_feed(feed_id)


def _read_feed(feed):
    xs = []
    while batch := feed.next_batch(4):
        xs.extend(batch["x"].tolist())
    return xs


@pytest.mark.timeout(60)
def test_feeds_then_the_end_of_the_stream():
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    _feed_rows(queue, "stream-0", 0, 5)
    _feed_rows(queue, "stream-1", 5, 3)
    queue.end_stream()
    seen = []
    while feed.next_feed(timeout=5.0):
        seen.append(_read_feed(feed))
    assert seen == [[0, 1, 2, 3, 4], [5, 6, 7]]


@pytest.mark.timeout(60)
def test_next_feed_waits_for_a_micro_batch_that_comes_later():
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)

    def later():
        time.sleep(0.3)
        _feed_rows(queue, "stream-0", 0, 2)
        time.sleep(0.3)
        queue.end_stream()

    threading.Thread(target=later, daemon=True).start()
    assert feed.next_feed(timeout=5.0)
    assert _read_feed(feed) == [0, 1]
    assert not feed.next_feed(timeout=5.0)


@pytest.mark.timeout(60)
def test_within_a_feed_next_feed_is_true_and_an_idle_stream_times_out():
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    _feed_rows(queue, "stream-0", 0, 6)
    assert batch_rows(feed.next_batch(4)) == 4
    assert feed.next_feed(timeout=0.1)  # two rows of this feed are still to read
    assert _read_feed(feed) == [4, 5]
    with pytest.raises(TimeoutError):
        feed.next_feed(timeout=0.2)
    feed.terminate()
    assert not feed.next_feed(timeout=0.2)


@pytest.mark.timeout(60)
def test_an_empty_lane_ended_at_shutdown_is_passed_over():
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    _feed_rows(queue, "stream-0", 0, 2)
    assert feed.next_feed(timeout=1.0)
    assert _read_feed(feed) == [0, 1]
    queue.end_feed("inference")  # what the driver's shutdown sends every fed node
    queue.end_stream()
    assert not feed.next_feed(timeout=1.0)


@pytest.mark.timeout(60)
def test_a_feed_after_the_end_of_a_stream_is_read_after_that_end():
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    _feed_rows(queue, "stream-0", 0, 2)
    queue.end_stream()
    _feed_rows(queue, "train-1", 10, 2)  # a train() after the query stopped
    assert feed.next_feed(timeout=1.0) and _read_feed(feed) == [0, 1]
    assert not feed.next_feed(timeout=1.0)
    assert feed.next_feed(timeout=1.0) and _read_feed(feed) == [10, 11]


@pytest.mark.timeout(60)
def test_a_program_that_never_calls_next_feed_reads_past_a_stream_end():
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    _feed_rows(queue, "stream-0", 0, 2)
    queue.end_stream()
    _feed_rows(queue, "train-1", 10, 2)
    assert _read_feed(feed) == [0, 1]
    assert _read_feed(feed) == [10, 11]


@pytest.mark.timeout(60)
def test_after_the_stream_next_feed_moves_a_should_stop_loop_on_to_the_next_feed():
    # A program that trains on a stream, then serves: its should_stop() loop reads the next
    # feed (cluster.inference's rows), not the end of the stream it already saw.
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    _feed_rows(queue, "stream-0", 0, 3)
    queue.end_stream()
    assert feed.next_feed(timeout=5.0) and _read_feed(feed) == [0, 1, 2]
    assert not feed.next_feed(timeout=5.0)
    assert feed.should_stop()  # past the end of the stream's last feed
    _feed_rows(queue, "later", 10, 5)
    assert feed.next_feed(timeout=5.0)
    xs = []
    while not feed.should_stop():
        batch = feed.next_batch(2)
        xs.extend(batch["x"].tolist() if batch else [])
    assert xs == [10, 11, 12, 13, 14]


@pytest.mark.timeout(60)
def test_micro_batches_of_different_plans_each_give_their_own_balanced_batches():
    # Each micro-batch's plan (its node's share) comes with its own schema: after next_feed()
    # the balanced batches follow the new plan, never the last feed's.
    queue = FeedQueue(8)
    feed = DataFeed(queue, 5.0)
    for i, rows in enumerate([5, 3, 4]):
        planned = feed_pb2.FeedSchema()
        planned.CopyFrom(SCHEMA)
        planned.plan.node_rows = planned.plan.min_node_rows = rows
        queue.open_feed(f"stream-{i}", planned)
        cols = decode_batch(planned, numeric_batch(planned, 10 * i, rows))
        assert queue.put(FeedChunk(f"stream-{i}", rows, cols), timeout=1.0)
        queue.end_feed(f"stream-{i}")
    queue.end_stream()
    seen = []
    while feed.next_feed(timeout=5.0):
        seen.append([batch_rows(b) for b in feed.balanced_batches(2)])
    assert seen == [[2, 3], [3], [2, 2]]
