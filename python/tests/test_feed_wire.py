"""Reading FeedMessage bytes: batches as views of the received bytes, the rest as messages."""

import numpy as np
import pytest
from column_batches import batch, batch_message, schema, spec, start_message

from sparktf.v1 import feed_pb2, inference_pb2
from sparktf.wire.column_batch import decode_batch
from sparktf.wire.feed_wire import ColumnBatchView, kind_of, parse_feed_message, parse_infer_request

SCHEMA = schema(
    spec("x", feed_pb2.FLOAT32, feed_pb2.FIXED_ARRAY, width=3),
    spec("r", feed_pb2.INT64, feed_pb2.VAR_ARRAY),
    spec("s", feed_pb2.STRING),
    spec("label", feed_pb2.INT32),
)
COLUMNS = {
    "x": np.arange(12, dtype=np.float32).reshape(4, 3),
    "r": [[1], [], [2, 3, 4], [5]],
    "s": ["a", "", "ccc", "dé"],
    "label": np.array([7, -1, 0, 2**31 - 1], dtype=np.int32),
}


def test_batch_reads_like_the_generated_parser_and_shares_the_received_bytes():
    data = batch_message(batch(SCHEMA, COLUMNS)).SerializeToString()
    view = parse_feed_message(data)
    assert isinstance(view, ColumnBatchView)
    reference = feed_pb2.FeedMessage.FromString(data).batch
    assert view.num_rows == reference.num_rows == 4
    assert [(bytes(c.values), bytes(c.offsets)) for c in view.columns] == [
        (c.values, c.offsets) for c in reference.columns
    ]
    decoded = decode_batch(SCHEMA, view)
    np.testing.assert_array_equal(decoded["x"], COLUMNS["x"])
    np.testing.assert_array_equal(decoded["label"], COLUMNS["label"])
    assert decoded["r"].row_splits.tolist() == [0, 1, 1, 4, 5]
    assert decoded["s"].tolist() == [b"a", b"", b"ccc", "dé".encode()]
    # Zero-copy: the numbers are the received message's own memory.
    assert np.shares_memory(decoded["x"], np.frombuffer(data, np.uint8))
    assert not decoded["x"].flags.writeable


def test_start_and_finish_come_back_as_messages():
    start = start_message("c", "f", SCHEMA)
    assert parse_feed_message(start.SerializeToString()) == start
    finish = feed_pb2.FeedMessage(finish=feed_pb2.FeedFinish(rows=12))
    assert parse_feed_message(finish.SerializeToString()) == finish
    assert parse_feed_message(b"") == feed_pb2.FeedMessage()


def test_empty_batch_and_unknown_fields():
    empty = parse_feed_message(batch_message(feed_pb2.ColumnBatch()).SerializeToString())
    assert isinstance(empty, ColumnBatchView) and empty.num_rows == 0 and empty.columns == []
    # ColumnData with an unknown varint field 9 and fixed64 field 10 before values: skipped.
    column = b"\x48\x05" + b"\x51" + b"\x00" * 8 + b"\x0a\x02ab"
    column_batch = b"\x08\x01" + b"\x12" + bytes([len(column)]) + column
    view = parse_feed_message(b"\x12" + bytes([len(column_batch)]) + column_batch)
    assert view.num_rows == 1 and bytes(view.columns[0].values) == b"ab"
    assert bytes(view.columns[0].offsets) == b""


def test_negative_num_rows_reads_as_proto_int32():
    data = batch_message(feed_pb2.ColumnBatch(num_rows=-3)).SerializeToString()
    view = parse_feed_message(data)
    assert view.num_rows == -3
    with pytest.raises(ValueError, match="num_rows -3"):
        decode_batch(schema(), view)


@pytest.mark.parametrize(
    "data,error",
    [
        (b"\x12\x05ab", "claims 5 bytes, 2 are left"),
        (b"\x12\x03\x12\x09a", "claims 9 bytes"),
        (b"\x12\x01\x80", "varint runs past the end"),
        (b"\x12\x02\x0b\x00", "wire type 3"),
    ],
)
def test_malformed_batches_are_refused(data, error):
    with pytest.raises(ValueError, match=error):
        parse_feed_message(data)


def test_infer_requests_read_their_batch_the_same_way():
    data = inference_pb2.InferRequest(batch=batch(SCHEMA, COLUMNS)).SerializeToString()
    view = parse_infer_request(data)
    assert isinstance(view, ColumnBatchView) and kind_of(view) == "batch"
    assert np.shares_memory(decode_batch(SCHEMA, view)["x"], np.frombuffer(data, np.uint8))
    start = inference_pb2.InferRequest(start=inference_pb2.InferStart(inference_id="i"))
    assert parse_infer_request(start.SerializeToString()) == start
    shared = inference_pb2.InferRequest(shared_batch=feed_pb2.SharedBatch(file="f-0", size=9))
    assert kind_of(parse_infer_request(shared.SerializeToString())) == "shared_batch"
