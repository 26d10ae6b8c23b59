"""Decoding of ColumnBatch messages into numpy columns, zero-copy for numbers.

A decoded batch is a dict ``name -> column`` where a column is a numpy array (first axis =
rows) or a ``RaggedColumn`` for variable-length numeric arrays. Numeric arrays are views over
the message's bytes (``np.frombuffer``), so they are read-only: copy before writing to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparktf.v1 import feed_pb2
from sparktf.wire.feed_wire import ColumnBatchView

# Numbers travel little-endian whatever the host: the dtypes say so explicitly.
NUMERIC_DTYPES: dict[int, np.dtype] = {
    feed_pb2.BOOL: np.dtype(np.uint8),  # viewed as np.bool_ after the size checks
    feed_pb2.INT8: np.dtype(np.int8),
    feed_pb2.INT16: np.dtype("<i2"),
    feed_pb2.INT32: np.dtype("<i4"),
    feed_pb2.INT64: np.dtype("<i8"),
    feed_pb2.FLOAT32: np.dtype("<f4"),
    feed_pb2.FLOAT64: np.dtype("<f8"),
}
BYTES_DTYPES = (feed_pb2.BINARY, feed_pb2.STRING)
_OFFSET_DTYPE = np.dtype("<i4")


@dataclass(frozen=True)
class RaggedColumn:
    """A variable-length numeric column: row ``i`` is ``values[row_splits[i]:row_splits[i+1]]``."""

    values: np.ndarray
    row_splits: np.ndarray  # int64, num_rows + 1, starts at 0

    def __len__(self) -> int:
        return len(self.row_splits) - 1

    def slice(self, start: int, stop: int) -> RaggedColumn:
        """Rows ``start:stop``; the values are a view, the splits are rebased to 0."""
        lo, hi = int(self.row_splits[start]), int(self.row_splits[stop])
        return RaggedColumn(self.values[lo:hi], self.row_splits[start : stop + 1] - lo)

    @staticmethod
    def concat(parts: list[RaggedColumn]) -> RaggedColumn:
        """The rows of ``parts`` one after another."""
        if len(parts) == 1:
            return parts[0]
        values = np.concatenate([p.values for p in parts])
        splits = [np.zeros(1, np.int64)]
        base = 0
        for p in parts:
            splits.append(p.row_splits[1:] + base)
            base += int(p.row_splits[-1])
        return RaggedColumn(values, np.concatenate(splits))


Column = np.ndarray | RaggedColumn
# A column's buffer: bytes from a parsed message, or a view of the received message.
Buffer = bytes | memoryview


def describe(spec: feed_pb2.ColumnSpec) -> str:
    """How errors name a column: the tensor name and the Spark column it came from."""
    source = spec.source_column or "?"
    return f"column '{spec.name}' (Spark column '{source}')"


def validate_schema(schema: feed_pb2.FeedSchema) -> None:
    """Raise ValueError when the schema holds a column this node cannot decode."""
    seen: set[str] = set()
    for spec in schema.columns:
        if not spec.name:
            raise ValueError(f"{describe(spec)} has an empty tensor name; every column needs one")
        if spec.name in seen:
            raise ValueError(
                f"{describe(spec)}: tensor name '{spec.name}' appears twice in the feed schema; "
                "make the input mapping give each column its own name"
            )
        seen.add(spec.name)
        dtype_name = (
            feed_pb2.DType.Name(spec.dtype)
            if spec.dtype in feed_pb2.DType.values()
            else str(spec.dtype)
        )
        if spec.dtype not in NUMERIC_DTYPES and spec.dtype not in BYTES_DTYPES:
            raise ValueError(
                f"{describe(spec)} has dtype {dtype_name}, which this node cannot "
                "decode; is the jar newer than the Python package?"
            )
        if spec.shape not in (feed_pb2.SCALAR, feed_pb2.FIXED_ARRAY, feed_pb2.VAR_ARRAY):
            raise ValueError(
                f"{describe(spec)} has shape {spec.shape}, expected SCALAR, "
                "FIXED_ARRAY or VAR_ARRAY"
            )
        if spec.dtype in BYTES_DTYPES and spec.shape != feed_pb2.SCALAR:
            raise ValueError(
                f"{describe(spec)} is an array of {dtype_name}; only scalar "
                "binary and string columns can be fed"
            )
        if spec.shape == feed_pb2.FIXED_ARRAY and spec.width < 1:
            raise ValueError(
                f"{describe(spec)} is FIXED_ARRAY with width {spec.width}; expected width >= 1"
            )
        if spec.row_dims and int(np.prod(spec.row_dims)) != spec.width:
            raise ValueError(
                f"{describe(spec)} has rows of {spec.width} values, which do not fill its row "
                f"shape {list(spec.row_dims)}"
            )


def decode_batch(
    schema: feed_pb2.FeedSchema, batch: feed_pb2.ColumnBatch | ColumnBatchView
) -> dict[str, Column]:
    """Decode ``batch`` laid out by ``schema`` (which ``validate_schema`` accepted)."""
    if batch.num_rows < 0:
        raise ValueError(f"batch has num_rows {batch.num_rows}; expected >= 0")
    if len(batch.columns) != len(schema.columns):
        raise ValueError(
            f"batch has {len(batch.columns)} columns, the feed schema has "
            f"{len(schema.columns)} ({', '.join(c.name for c in schema.columns)})"
        )
    return {
        spec.name: decode_column(spec, batch.num_rows, data.values, data.offsets)
        for spec, data in zip(schema.columns, batch.columns)
    }


def decode_column(
    spec: feed_pb2.ColumnSpec, num_rows: int, values: Buffer, offsets: Buffer
) -> Column:
    """One column of ``num_rows`` rows; numeric results are views over ``values``."""
    if spec.dtype in BYTES_DTYPES:
        return _decode_bytes(spec, num_rows, values, offsets)
    dtype = NUMERIC_DTYPES[spec.dtype]
    if spec.shape == feed_pb2.VAR_ARRAY:
        flat = _numbers(spec, values, dtype, None)
        splits = _offsets(spec, num_rows, offsets, len(flat), "elements")
        return RaggedColumn(_as_bool(spec, flat), splits.astype(np.int64))
    width = spec.width if spec.shape == feed_pb2.FIXED_ARRAY else 1
    flat = _numbers(spec, values, dtype, num_rows * width)
    if offsets:
        raise ValueError(
            f"{describe(spec)} is fixed-size but its batch carries "
            f"{len(offsets)} offset bytes; expected none"
        )
    flat = _as_bool(spec, flat)
    if spec.shape != feed_pb2.FIXED_ARRAY:
        return flat
    # row_dims: the shape a model's input wants each flat row in (28 x 28 x 1 for 784 values).
    return flat.reshape(num_rows, *(spec.row_dims or (width,)))


def _as_bool(spec: feed_pb2.ColumnSpec, flat: np.ndarray) -> np.ndarray:
    return flat.view(np.bool_) if spec.dtype == feed_pb2.BOOL else flat


def _numbers(
    spec: feed_pb2.ColumnSpec, values: Buffer, dtype: np.dtype, expected_count: int | None
) -> np.ndarray:
    size = len(values)
    if size % dtype.itemsize:
        raise ValueError(
            f"{describe(spec)}: {size} value bytes is not a whole number of "
            f"{dtype.itemsize}-byte {feed_pb2.DType.Name(spec.dtype)} values"
        )
    if expected_count is not None and size != expected_count * dtype.itemsize:
        raise ValueError(
            f"{describe(spec)}: expected {expected_count} values "
            f"({expected_count * dtype.itemsize} bytes) for the batch's rows, "
            f"found {size} bytes"
        )
    return np.frombuffer(values, dtype=dtype)


def _offsets(
    spec: feed_pb2.ColumnSpec, num_rows: int, offsets: Buffer, total: int, unit: str
) -> np.ndarray:
    if num_rows == 0 and not offsets and total == 0:
        return np.zeros(1, _OFFSET_DTYPE)  # an empty batch may omit the lone 0 offset
    expected = (num_rows + 1) * _OFFSET_DTYPE.itemsize
    if len(offsets) != expected:
        raise ValueError(
            f"{describe(spec)}: expected {num_rows + 1} int32 offsets ({expected} "
            f"bytes) for {num_rows} rows, found {len(offsets)} bytes"
        )
    offs = np.frombuffer(offsets, dtype=_OFFSET_DTYPE)
    decreasing = num_rows > 0 and bool(np.any(np.diff(offs) < 0))
    if offs[0] != 0 or offs[-1] != total or decreasing:
        raise ValueError(
            f"{describe(spec)}: offsets must rise from 0 to the {total} {unit} of "
            f"the batch, found first {int(offs[0])}, last {int(offs[-1])}"
            + (", decreasing somewhere" if decreasing else "")
        )
    return offs


def _decode_bytes(
    spec: feed_pb2.ColumnSpec, num_rows: int, values: Buffer, offsets: Buffer
) -> np.ndarray:
    offs = _offsets(spec, num_rows, offsets, len(values), "bytes").tolist()
    values = bytes(values)  # slices of a view would be views; bytes(b) of bytes copies nothing
    out = np.empty(num_rows, dtype=object)
    # Each row must be its own bytes object for tf.string; one slice per row is unavoidable.
    out[:] = [values[a:b] for a, b in zip(offs[:-1], offs[1:])]
    return out


def slice_rows(columns: dict[str, Column], start: int, stop: int) -> dict[str, Column]:
    """Rows ``start:stop`` of every column, as views."""
    return {
        name: (c.slice(start, stop) if isinstance(c, RaggedColumn) else c[start:stop])
        for name, c in columns.items()
    }


def concat_rows(parts: list[dict[str, Column]]) -> dict[str, Column]:
    """The rows of ``parts`` (same columns) one after another; one part is returned as is."""
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Column] = {}
    for name, first in parts[0].items():
        cols = [p[name] for p in parts]
        if isinstance(first, RaggedColumn):
            out[name] = RaggedColumn.concat(cols)  # type: ignore[arg-type]
        else:
            out[name] = np.concatenate(cols)  # type: ignore[arg-type]
    return out
