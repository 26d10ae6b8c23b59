"""Batches handed over as files in the node's shared-memory directory (``SharedBatch``)."""

import gc
import os

import grpc
import pytest
from column_batches import numeric_batch, schema, spec, start_message
from test_feed_server import CLUSTER, SCHEMA, Node

from sparktf.v1 import feed_pb2, inference_pb2
from sparktf.wire.column_batch import decode_batch
from sparktf.wire.shared_batches import SharedBatchDir, carried_batch


def _leave(
    directory, name: str, column_batch: feed_pb2.ColumnBatch, reuse: bool = False
) -> feed_pb2.SharedBatch:
    """What the JVM's SharedBatchFiles does: the serialized batch in a file, and its message."""
    data = column_batch.SerializeToString()
    (directory / name).write_bytes(data)
    return feed_pb2.SharedBatch(
        file=name, size=len(data), num_rows=column_batch.num_rows, reuse=reuse
    )


def test_take_reads_the_columns_in_place_and_deletes_the_file(tmp_path):
    feed_schema = schema(spec("x", feed_pb2.INT64), spec("y", feed_pb2.FLOAT64))
    ref = _leave(tmp_path, "f1-e0-p3-a0-0", numeric_batch(feed_schema, 10, 5))
    batch = SharedBatchDir(str(tmp_path)).take(ref)
    assert os.listdir(tmp_path) == []  # deleted: the task may write its next file
    columns = decode_batch(feed_schema, batch)
    assert columns["x"].tolist() == [10, 11, 12, 13, 14]
    assert columns["y"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert not columns["x"].flags.writeable  # a view of the mapping, not a copy


def test_a_reused_file_is_renamed_when_taken_and_again_when_nothing_reads_it(tmp_path):
    feed_schema = schema(spec("x", feed_pb2.INT64))
    ref = _leave(tmp_path, "f1-e0-p0-a0-0", numeric_batch(feed_schema, 0, 6), reuse=True)
    batch = SharedBatchDir(str(tmp_path)).take(ref)
    assert os.listdir(tmp_path) == ["f1-e0-p0-a0-0.taken"]  # taken: the task may write on
    column = decode_batch(feed_schema, batch)["x"]
    part = column[2:4]  # a view of a view still reads the mapping
    del batch, column
    gc.collect()
    assert os.listdir(tmp_path) == ["f1-e0-p0-a0-0.taken"]
    assert part.tolist() == [2, 3]
    del part
    gc.collect()
    assert os.listdir(tmp_path) == ["f1-e0-p0-a0-0.free"]  # released: the task may reuse it


def test_a_reused_file_the_task_deleted_meanwhile_is_not_an_error(tmp_path):
    ref = _leave(tmp_path, "f-0", numeric_batch(SCHEMA, 0, 2), reuse=True)
    batch = SharedBatchDir(str(tmp_path)).take(ref)
    os.unlink(tmp_path / "f-0.taken")  # the stream ended: the task discarded its files
    del batch
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_carried_batch_of_every_message_kind(tmp_path):
    shared = SharedBatchDir(str(tmp_path))
    in_band = numeric_batch(SCHEMA, 0, 2)
    assert carried_batch(feed_pb2.FeedMessage(batch=in_band), shared) == in_band
    ref = _leave(tmp_path, "i-0", numeric_batch(SCHEMA, 5, 3))
    taken = carried_batch(inference_pb2.InferRequest(shared_batch=ref), shared)
    assert decode_batch(SCHEMA, taken)["x"].tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="no shared-memory directory"):
        carried_batch(inference_pb2.InferRequest(shared_batch=ref), None)


@pytest.mark.parametrize("name", ["../f1-0", "/etc/passwd", ".hidden", "a/b", ""])
def test_only_plain_file_names_are_read(tmp_path, name):
    ref = feed_pb2.SharedBatch(file=name, size=10, num_rows=1)
    with pytest.raises(ValueError, match="not a plain file name"):
        SharedBatchDir(str(tmp_path)).take(ref)


def test_missing_file_wrong_size_and_wrong_rows_are_named(tmp_path):
    shared = SharedBatchDir(str(tmp_path))
    with pytest.raises(ValueError, match=r"shared batch file .*/gone-0 is missing"):
        shared.take(feed_pb2.SharedBatch(file="gone-0", size=10, num_rows=1))
    ref = _leave(tmp_path, "f-0", numeric_batch(SCHEMA, 0, 3))
    with pytest.raises(ValueError, match=f"holds {ref.size} bytes, the message says 7"):
        shared.take(feed_pb2.SharedBatch(file="f-0", size=7, num_rows=3))
    assert os.listdir(tmp_path) == []  # a bad file is not left behind either
    ref = _leave(tmp_path, "f-1", numeric_batch(SCHEMA, 0, 3))
    with pytest.raises(ValueError, match="holds 3 rows, the message says 4"):
        shared.take(feed_pb2.SharedBatch(file="f-1", size=ref.size, num_rows=4))


@pytest.mark.timeout(60)
def test_a_stream_mixes_shared_and_in_band_batches(tmp_path):
    node = Node(shared_dir=str(tmp_path))
    try:
        messages = [
            start_message(CLUSTER, "f1", SCHEMA),
            feed_pb2.FeedMessage(
                shared_batch=_leave(tmp_path, "f1-e0-p0-a0-0", numeric_batch(SCHEMA, 0, 4))
            ),
            feed_pb2.FeedMessage(batch=numeric_batch(SCHEMA, 4, 2)),
            feed_pb2.FeedMessage(
                shared_batch=_leave(tmp_path, "f1-e0-p0-a0-1", numeric_batch(SCHEMA, 6, 3))
            ),
            feed_pb2.FeedMessage(finish=feed_pb2.FeedFinish(rows=9)),
        ]
        ack = node.send(messages)
        assert (ack.rows_received, ack.terminated) == (9, False)
        assert os.listdir(tmp_path) == []
        assert node.feed.next_batch(9)["x"].tolist() == list(range(9))
    finally:
        node.close()


@pytest.mark.timeout(60)
def test_a_shared_batch_to_a_node_without_a_shared_dir_is_refused(node, tmp_path):
    ref = _leave(tmp_path, "f1-0", numeric_batch(SCHEMA, 0, 2))
    with pytest.raises(grpc.RpcError) as err:
        node.send([start_message(CLUSTER, "f1", SCHEMA), feed_pb2.FeedMessage(shared_batch=ref)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "has no shared-memory directory" in err.value.details()
    assert node.queue.total_rows == 0


@pytest.fixture
def node():
    n = Node()
    yield n
    n.close()
