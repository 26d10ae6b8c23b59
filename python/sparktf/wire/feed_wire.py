"""Reads ``FeedMessage`` (and ``InferRequest``) bytes so a batch's column buffers stay views of
the received message.

Parsing with the generated ``FeedMessage.FromString`` copies each ``bytes`` field twice (into the
parser's arena, then into a new Python object on access): for 4 MiB batches that is most of the
node's work per batch, and it holds the GIL the training loop needs. A ``batch`` message is
therefore walked here (the protobuf wire format of ``ColumnBatch``: a varint and length-delimited
fields) and its buffers returned as ``memoryview`` slices of the message; every other message
(``start``, ``finish``) goes to the generated parser. The wire contract is ``feed.proto``
unchanged: unknown fields are skipped as protobuf does. ``InferRequest`` carries its batch in
the same field number, so ``infer_request`` reads it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparktf.v1 import feed_pb2, inference_pb2

#: The one feed every inference stream to a node shares; it ends only when the cluster's
#: shutdown begins, so its end says no row will come any more.
INFERENCE_FEED_ID = "inference"

# Wire types (protobuf encoding).
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
# FeedMessage.batch (and InferRequest.batch), ColumnBatch.num_rows / columns,
# ColumnData.values / offsets
_BATCH_FIELD = 2
_NUM_ROWS, _COLUMNS = 1, 2
_VALUES, _OFFSETS = 1, 2


@dataclass(frozen=True)
class ColumnDataView:
    """``ColumnData`` whose ``values`` and ``offsets`` are views of the received message."""

    values: memoryview
    offsets: memoryview


@dataclass(frozen=True)
class ColumnBatchView:
    """``ColumnBatch`` read without copying its buffers (same field names as the message)."""

    num_rows: int
    columns: list[ColumnDataView]


FeedItem = feed_pb2.FeedMessage | ColumnBatchView
InferItem = inference_pb2.InferRequest | ColumnBatchView


def parse_feed_message(data: bytes) -> FeedItem:
    """A ``ColumnBatchView`` for a batch message, else the parsed ``FeedMessage``.

    Raises ValueError for bytes that are not a well-formed message.
    """
    return _batch_or(data, feed_pb2.FeedMessage)


def parse_infer_request(data: bytes) -> InferItem:
    """A ``ColumnBatchView`` for a batch request, else the parsed ``InferRequest``."""
    return _batch_or(data, inference_pb2.InferRequest)


def _batch_or(data: bytes, message_class: Any) -> Any:
    view = memoryview(data)
    fields = list(_fields(view))
    batches = [v for number, kind, v in fields if number == _BATCH_FIELD and kind == _LEN]
    if len(batches) != 1 or len(fields) != 1:
        # Not a lone batch (or one split over several fields, which protobuf merges): rare,
        # left to the generated parser.
        return message_class.FromString(data)
    return column_batch_view(batches[0])


def kind_of(message: Any) -> str | None:
    """The oneof ``kind`` of a parsed message: "batch" for a ``ColumnBatchView``."""
    return "batch" if isinstance(message, ColumnBatchView) else message.WhichOneof("kind")


def column_batch_view(view: memoryview) -> ColumnBatchView:
    """The ``ColumnBatch`` serialized in ``view``, its buffers slices of ``view``."""
    num_rows = 0
    columns: list[ColumnDataView] = []
    for number, kind, value in _fields(view):
        if number == _NUM_ROWS and kind == _VARINT:
            num_rows = _int32(value)
        elif number == _COLUMNS and kind == _LEN:
            columns.append(_column_data(value))
    return ColumnBatchView(num_rows, columns)


def _column_data(view: memoryview) -> ColumnDataView:
    values = offsets = view[0:0]
    for number, kind, value in _fields(view):
        if number == _VALUES and kind == _LEN:
            values = value  # proto3: the last occurrence of a scalar field wins
        elif number == _OFFSETS and kind == _LEN:
            offsets = value
    return ColumnDataView(values, offsets)


def _int32(value: int) -> int:
    """A varint read as proto's int32 (negative numbers take 10 bytes, two's complement)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _fields(view: memoryview):  # type: ignore[no-untyped-def]
    """``(field number, wire type, int or memoryview)`` for every field of one message."""
    pos, end = 0, len(view)
    while pos < end:
        key, pos = _varint(view, pos)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise ValueError(f"field number 0 at byte {pos}: not a protobuf message")
        if kind == _VARINT:
            value, pos = _varint(view, pos)
            yield number, kind, value
        elif kind == _LEN:
            length, pos = _varint(view, pos)
            if pos + length > end:
                raise ValueError(f"field {number} claims {length} bytes, {end - pos} are left")
            yield number, kind, view[pos : pos + length]
            pos += length
        elif kind in (_I64, _I32):
            pos += 8 if kind == _I64 else 4
            if pos > end:
                raise ValueError(f"field {number} is cut short")
        else:
            raise ValueError(f"field {number} has wire type {kind}, which protobuf 3 never sends")


def _varint(view: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(view)
    while True:
        if pos >= end or shift > 63:
            raise ValueError("a varint runs past the end of the message")
        b = view[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
