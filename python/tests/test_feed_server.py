"""The node's gRPC services on a real 127.0.0.1 server: feeding, auth, EndFeed, status, stop."""

import threading
import time

import grpc
import numpy as np
import pytest
from column_batches import (
    batch,
    batch_message,
    feed_stream,
    numeric_batch,
    schema,
    spec,
    start_message,
)

from sparktf.node.control_server import NodeControlServicer
from sparktf.node.data_feed import DataFeed
from sparktf.node.feed_queue import FeedQueue
from sparktf.node.feed_server import DataFeedServicer
from sparktf.node.node_server import start_node_server
from sparktf.node.program_state import ProgramState
from sparktf.v1 import feed_pb2, feed_pb2_grpc, node_control_pb2, node_control_pb2_grpc
from sparktf.wire.shared_batches import SharedBatchDir

SECRET = "s3cr3t-value-for-tests"
CLUSTER = "cluster-a"
SCHEMA = schema(spec("x", feed_pb2.INT64), spec("y", feed_pb2.FLOAT64))
AUTH = [("sparktf-secret", SECRET)]


class Node:
    """A node's services without a program: the test plays the program."""

    def __init__(
        self, capacity: int = 8, put_timeout: float = 10.0, shared_dir: str | None = None
    ) -> None:
        self.program = ProgramState("worker", 1)
        self.queue = FeedQueue(capacity)
        self.feed = DataFeed(self.queue, timeout=5.0)
        self.server, port = start_node_server(
            "127.0.0.1",
            SECRET,
            NodeControlServicer(self.program, self.queue),
            DataFeedServicer(
                CLUSTER,
                self.queue,
                self.program,
                put_timeout,
                shared=SharedBatchDir(shared_dir) if shared_dir else None,
            ),
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.data = feed_pb2_grpc.DataFeedStub(self.channel)
        self.control = node_control_pb2_grpc.NodeControlStub(self.channel)

    def send(self, messages, metadata=AUTH, timeout: float = 10) -> feed_pb2.FeedAck:
        return feed_stream(self.data, messages, metadata, timeout)

    def close(self) -> None:
        self.channel.close()
        self.server.stop(0).wait(5)


@pytest.fixture
def node():
    n = Node()
    yield n
    n.close()


def _stream(feed_id="f1", starts=(0, 3, 7), rows=(3, 4, 5), cluster=CLUSTER, partition=0):
    yield start_message(cluster, feed_id, SCHEMA, partition)
    for s, r in zip(starts, rows):
        yield batch_message(numeric_batch(SCHEMA, s, r))


@pytest.mark.timeout(60)
def test_feed_stream_is_acknowledged_counted_and_readable(node):
    ack = node.send(_stream())
    assert (ack.rows_received, ack.terminated) == (12, False)
    ack = node.send(_stream(starts=(12,), rows=(2,), partition=1))
    assert ack.rows_received == 2
    reply = node.control.EndFeed(
        node_control_pb2.EndFeedRequest(feed_id="f1", expected_rows=14), metadata=AUTH, timeout=5
    )
    assert reply.rows_received == 14
    xs = []
    while not node.feed.should_stop():
        xs.extend(node.feed.next_batch(5).get("x", np.array([])).tolist())
    assert xs == list(range(14))
    status = node.control.GetStatus(node_control_pb2.StatusRequest(), metadata=AUTH, timeout=5)
    assert status.state == node_control_pb2.RUNNING and status.rows_received == 14
    assert (status.job_name, status.task_index) == ("worker", 1)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("metadata", [None, [("sparktf-secret", "wrong")], [("other", SECRET)]])
def test_calls_without_the_secret_are_refused(node, metadata):
    with pytest.raises(grpc.RpcError) as err:
        node.send(_stream(), metadata=metadata)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "missing or wrong sparktf secret"
    with pytest.raises(grpc.RpcError) as err:
        node.control.GetStatus(node_control_pb2.StatusRequest(), metadata=metadata, timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert SECRET not in err.value.details()
    assert node.queue.total_rows == 0


@pytest.mark.timeout(60)
def test_wrong_cluster_and_missing_start_are_refused(node):
    with pytest.raises(grpc.RpcError) as err:
        node.send(_stream(cluster="cluster-old"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cluster-a" in err.value.details() and "cluster-old" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        node.send([batch_message(numeric_batch(SCHEMA, 0, 1))])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must begin with FeedStart" in err.value.details()


@pytest.mark.timeout(60)
def test_malformed_batch_is_refused_naming_the_column(node):
    bad = numeric_batch(SCHEMA, 0, 2)
    bad.columns[1].values = bad.columns[1].values[:-3]
    with pytest.raises(grpc.RpcError) as err:
        node.send([start_message(CLUSTER, "f1", SCHEMA), batch_message(bad)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "column 'y' (Spark column 'spark_y')" in err.value.details()
    assert "partition 0" in err.value.details()


@pytest.mark.timeout(60)
def test_a_full_queue_grants_nothing_and_terminate_answers_terminated():
    node = Node(capacity=1)
    try:
        ack = node.send(_stream(starts=(0,), rows=(3,)))
        assert ack.rows_received == 3  # one chunk fills the queue
        grant = _reserve(node, 1, start=0, rows=3)
        assert (grant.granted, grant.queue_free, grant.quota_left) == (0, 0, 1_000_000 - 3)
        threading.Timer(0.5, node.feed.terminate).start()
        began = time.monotonic()
        while not _reserve(node, 1, start=0, rows=3).terminated:
            assert time.monotonic() - began < 5
            time.sleep(0.05)
        ack = node.send(_stream())
        assert (ack.rows_received, ack.terminated) == (0, True)
    finally:
        node.close()


@pytest.mark.timeout(60)
def test_end_feed_with_wrong_count_is_data_loss_and_late_streams_are_refused(node):
    node.send(_stream())
    with pytest.raises(grpc.RpcError) as err:
        node.control.EndFeed(
            node_control_pb2.EndFeedRequest(feed_id="f1", expected_rows=13),
            metadata=AUTH,
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.DATA_LOSS
    assert "received 12 rows" in err.value.details() and "saw 13" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        node.send(_stream())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already ended" in err.value.details()


@pytest.mark.timeout(60)
def test_failed_program_refuses_feeds_with_its_traceback(node):
    node.program.mark_failed(
        "Traceback (most recent call last):\n" + "x" * 9000 + "\nValueError: bad model\n"
    )
    node.queue.close()
    with pytest.raises(grpc.RpcError) as err:
        node.send(_stream())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = err.value.details()
    assert "node worker:1 failed" in details and "ValueError: bad model" in details
    assert len(details) < 4200
    status = node.control.GetStatus(node_control_pb2.StatusRequest(), metadata=AUTH, timeout=5)
    assert status.state == node_control_pb2.FAILED and "bad model" in status.error


@pytest.mark.timeout(60)
def test_stop_is_recorded_and_answered_at_once(node):
    node.control.Stop(node_control_pb2.StopRequest(grace_seconds=7), metadata=AUTH, timeout=5)
    assert node.program.stop_requested.is_set() and node.program.stop_grace == 7


@pytest.mark.timeout(60)
def test_streams_of_mixed_columns_survive_the_wire(node):
    s = schema(
        spec("img", feed_pb2.FLOAT32, feed_pb2.FIXED_ARRAY, 4),
        spec("tok", feed_pb2.INT32, feed_pb2.VAR_ARRAY),
        spec("txt", feed_pb2.STRING),
    )
    data = {"img": np.ones((2, 4)), "tok": [[1, 2], [3]], "txt": ["a", "bc"]}
    ack = node.send([start_message(CLUSTER, "f2", s), batch_message(batch(s, data))])
    assert ack.rows_received == 2
    got = node.feed.next_batch(2)
    assert got["img"].shape == (2, 4) and got["tok"].row_splits.tolist() == [0, 2, 3]
    assert got["txt"].tolist() == [b"a", b"bc"]


def _key(partition, attempt=0, feed_id="f1"):
    return feed_pb2.PartitionKey(
        cluster_id=CLUSTER, feed_id=feed_id, partition=partition, attempt=attempt
    )


def _reserve(node, partition, start, rows, attempt=0, node_rows=1_000_000, batch_rows=0):
    return node.data.Reserve(
        feed_pb2.ReserveRequest(
            key=_key(partition, attempt),
            start=start,
            rows=rows,
            node_rows=node_rows,
            batch_rows=batch_rows,
        ),
        metadata=AUTH,
        timeout=5,
    )


def _attempt_stream(partition, attempt, starts, rows):
    yield feed_pb2.FeedMessage(
        start=feed_pb2.FeedStart(
            cluster_id=CLUSTER, feed_id="f1", partition=partition, attempt=attempt, schema=SCHEMA
        )
    )
    for s, r in zip(starts, rows):
        yield batch_message(numeric_batch(SCHEMA, s, r))


@pytest.mark.timeout(60)
def test_the_node_grants_rows_up_to_its_quota_and_takes_back_what_a_stream_did_not_send(node):
    grant = _reserve(node, 0, start=0, rows=20, node_rows=30)
    assert (grant.granted, grant.quota_left, grant.outstanding) == (20, 10, 20)
    assert (grant.queue_free, grant.queue_capacity) == (7, 8)  # the grant holds room
    finish = feed_pb2.FeedMessage(finish=feed_pb2.FeedFinish(rows=12))
    ack = node.data.Feed(iter([*_stream(partition=0), finish]), metadata=AUTH, timeout=10)
    assert ack.rows_received == 12
    # The 8 rows reserved and not sent went back: another partition may have them.
    grant = _reserve(node, 1, start=0, rows=100, node_rows=30)
    assert (grant.granted, grant.quota_left, grant.outstanding) == (18, 0, 18)
    assert grant.queue_free == 8 - 3 - 1  # three chunks of partition 0 wait for the program
    grant = _reserve(node, 2, start=0, rows=5, node_rows=30)
    assert (grant.granted, grant.queue_free) == (0, 4)  # the quota is used up, not the room


@pytest.mark.timeout(60)
def test_a_lease_of_several_batches_is_granted_as_far_as_the_queue_has_room(node):
    # 8 chunks of room: a lease of 5 batches of 10 rows holds 5 of them.
    grant = _reserve(node, 0, start=0, rows=50, batch_rows=10)
    assert (grant.granted, grant.queue_free) == (50, 3)
    # The next lease gets the 3 batches left, not the 6 it asked for.
    grant = _reserve(node, 1, start=0, rows=60, batch_rows=10)
    assert (grant.granted, grant.queue_free) == (30, 0)
    assert _reserve(node, 2, start=0, rows=10, batch_rows=10).granted == 0
    # Partition 0 sends 12 rows in 3 chunks (they wait in the queue for the program) and ends:
    # the 38 rows of its lease it did not send return, and their room with them.
    finish = feed_pb2.FeedMessage(finish=feed_pb2.FeedFinish(rows=12))
    ack = node.data.Feed(iter([*_stream(partition=0), finish]), metadata=AUTH, timeout=10)
    assert ack.rows_received == 12
    grant = _reserve(node, 2, start=0, rows=100, batch_rows=10)
    # 8 chunks - 3 queued - 3 leased to partition 1 = 2 batches.
    assert (grant.granted, grant.queue_free) == (20, 0)


@pytest.mark.timeout(60)
def test_a_retry_learns_the_ranges_taken_and_the_old_attempt_is_refused(node):
    assert _reserve(node, 0, start=0, rows=12, node_rows=30).granted == 12
    # A stream that just stops (a cancelled task can look like that) keeps what it sent.
    ack = node.data.Feed(_attempt_stream(0, 0, (0, 3), (3, 4)), metadata=AUTH, timeout=10)
    assert ack.rows_received == 7
    assert (
        _reserve(node, 0, start=20, rows=4, node_rows=30).granted == 4
    )  # a later range, not sent yet
    progress = node.data.BeginPartition(_key(0, attempt=1), metadata=AUTH, timeout=5)
    assert progress.rows_taken == 7
    assert [(r.start, r.rows) for r in progress.taken] == [(0, 7)]
    # Attempt 0's unsent rows (5 + 4) are back in the quota of 30.
    assert _reserve(node, 1, start=0, rows=0, node_rows=30).quota_left == 30 - 7
    with pytest.raises(grpc.RpcError) as err:
        _reserve(node, 0, start=7, rows=5, node_rows=30)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "belongs to attempt 1" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        _reserve(node, 0, start=3, rows=5, attempt=1, node_rows=30)  # rows the node took already
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "overlap" in err.value.details()


@pytest.mark.timeout(60)
def test_rows_beyond_the_reservation_and_a_wrong_finish_are_refused(node):
    assert _reserve(node, 0, start=0, rows=5).granted == 5
    with pytest.raises(grpc.RpcError) as err:
        node.data.Feed(_attempt_stream(0, 0, (0, 3), (3, 3)), metadata=AUTH, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reserved only 2 more" in err.value.details()
    assert _reserve(node, 1, start=0, rows=3).granted == 3
    with pytest.raises(grpc.RpcError) as err:
        node.data.Feed(
            iter(
                [
                    *_attempt_stream(1, 0, (0,), (3,)),
                    feed_pb2.FeedMessage(finish=feed_pb2.FeedFinish(rows=4)),
                ]
            ),
            metadata=AUTH,
            timeout=10,
        )
    assert err.value.code() == grpc.StatusCode.DATA_LOSS
    with pytest.raises(grpc.RpcError) as err:
        node.data.Feed(_attempt_stream(2, 0, (0,), (3,)), metadata=AUTH, timeout=10)
    assert "before any Reserve" in err.value.details()


@pytest.mark.timeout(60)
def test_more_streams_than_server_threads_wait_instead_of_being_refused():
    node = Node(capacity=100)
    try:
        streams = 70  # beyond the server's 64 threads: the last wait for a thread
        release = threading.Event()
        acks: list = []
        errors: list = []

        def held_open(p):
            yield from _stream(starts=(p,), rows=(1,), partition=p)
            release.wait(30)  # the stream stays open, holding its server thread

        def send(p):
            try:
                assert _reserve(node, p, start=p, rows=1).granted == 1
                acks.append(node.data.Feed(held_open(p), metadata=AUTH, timeout=60).rows_received)
            except grpc.RpcError as e:
                errors.append(e)

        threads = [threading.Thread(target=send, args=(p,)) for p in range(streams)]
        for t in threads:
            t.start()
        threading.Timer(1.0, release.set).start()
        for t in threads:
            t.join(30)
        assert not errors and acks == [1] * streams
        xs = []
        while len(xs) < streams:
            xs.extend(node.feed.next_batch(1)["x"].tolist())
        assert sorted(xs) == list(range(streams))
    finally:
        node.close()
