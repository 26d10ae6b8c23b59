"""Test helper: encode numpy data into FeedSchema / ColumnBatch the way the JVM encoder does.

Numbers little-endian; VAR_ARRAY offsets are int32 element indices, BINARY/STRING offsets
int32 byte offsets, both ``num_rows + 1`` long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sparktf.v1 import feed_pb2

LITTLE_ENDIAN = {
    feed_pb2.BOOL: "u1",
    feed_pb2.INT8: "i1",
    feed_pb2.INT16: "<i2",
    feed_pb2.INT32: "<i4",
    feed_pb2.INT64: "<i8",
    feed_pb2.FLOAT32: "<f4",
    feed_pb2.FLOAT64: "<f8",
}


def spec(
    name: str, dtype: int, shape: int = feed_pb2.SCALAR, width: int = 0, source: str | None = None
) -> feed_pb2.ColumnSpec:
    return feed_pb2.ColumnSpec(
        name=name, dtype=dtype, shape=shape, width=width, source_column=source or f"spark_{name}"
    )


def schema(*specs: feed_pb2.ColumnSpec) -> feed_pb2.FeedSchema:
    return feed_pb2.FeedSchema(columns=list(specs))


def _offsets(lengths: Sequence[int]) -> bytes:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype("<i4").tobytes()


def encode_column(column_spec: feed_pb2.ColumnSpec, data: Any) -> feed_pb2.ColumnData:
    """``data``: an array for SCALAR/FIXED_ARRAY, a list of arrays for VAR_ARRAY, a list of
    bytes/str for BINARY/STRING."""
    if column_spec.dtype in (feed_pb2.BINARY, feed_pb2.STRING):
        rows = [r.encode("utf-8") if isinstance(r, str) else bytes(r) for r in data]
        return feed_pb2.ColumnData(values=b"".join(rows), offsets=_offsets([len(r) for r in rows]))
    dtype = LITTLE_ENDIAN[column_spec.dtype]
    if column_spec.shape == feed_pb2.VAR_ARRAY:
        rows = [np.asarray(r).astype(dtype) for r in data]
        values = np.concatenate(rows).tobytes() if rows else b""
        return feed_pb2.ColumnData(values=values, offsets=_offsets([len(r) for r in rows]))
    return feed_pb2.ColumnData(values=np.asarray(data).astype(dtype).tobytes())


def batch(feed_schema: feed_pb2.FeedSchema, columns: dict[str, Any]) -> feed_pb2.ColumnBatch:
    """A ColumnBatch of ``columns`` (by tensor name) in schema order."""
    specs = list(feed_schema.columns)
    num_rows = len(columns[specs[0].name]) if specs else 0
    return feed_pb2.ColumnBatch(
        num_rows=num_rows, columns=[encode_column(s, columns[s.name]) for s in specs]
    )


def numeric_batch(feed_schema: feed_pb2.FeedSchema, start: int, rows: int) -> feed_pb2.ColumnBatch:
    """Rows ``start..start+rows`` of a schema of numeric scalar columns: value = row number."""
    values = np.arange(start, start + rows)
    return batch(feed_schema, {s.name: values for s in feed_schema.columns})


def start_message(
    cluster_id: str, feed_id: str, feed_schema: feed_pb2.FeedSchema, partition: int = 0
) -> feed_pb2.FeedMessage:
    return feed_pb2.FeedMessage(
        start=feed_pb2.FeedStart(
            cluster_id=cluster_id, feed_id=feed_id, partition=partition, schema=feed_schema
        )
    )


def batch_message(column_batch: feed_pb2.ColumnBatch) -> feed_pb2.FeedMessage:
    return feed_pb2.FeedMessage(batch=column_batch)


def feed_stream(
    stub, messages, metadata, timeout: float = 10, node_rows: int = 1_000_000
) -> feed_pb2.FeedAck:
    """What a JVM feed task does: reserves the stream's rows (after those the node already took
    of the partition) from a quota of ``node_rows``, then sends the stream."""
    messages = list(messages)
    if messages and messages[0].WhichOneof("kind") == "start":
        s = messages[0].start
        key = feed_pb2.PartitionKey(
            cluster_id=s.cluster_id,
            feed_id=s.feed_id,
            epoch=s.epoch,
            partition=s.partition,
            attempt=s.attempt,
        )
        progress = stub.BeginPartition(key, metadata=metadata, timeout=timeout)
        start = max((r.start + r.rows for r in progress.taken), default=0)
        rows = sum(m.batch.num_rows + m.shared_batch.num_rows for m in messages[1:])
        stub.Reserve(
            feed_pb2.ReserveRequest(key=key, start=start, rows=rows, node_rows=node_rows),
            metadata=metadata,
            timeout=timeout,
        )
    return stub.Feed(iter(messages), metadata=metadata, timeout=timeout)
