"""Decoding of column batches: every dtype and shape, zero-copy, size errors."""

import numpy as np
import pytest
from column_batches import batch, encode_column, schema, spec

from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import (
    RaggedColumn,
    concat_rows,
    decode_batch,
    decode_column,
    slice_rows,
    validate_schema,
)

NUMERIC = [
    (feed_pb2.BOOL, np.bool_),
    (feed_pb2.INT8, np.int8),
    (feed_pb2.INT16, np.int16),
    (feed_pb2.INT32, np.int32),
    (feed_pb2.INT64, np.int64),
    (feed_pb2.FLOAT32, np.float32),
    (feed_pb2.FLOAT64, np.float64),
]


def _shares(decoded: np.ndarray, values: bytes) -> bool:
    return np.shares_memory(decoded, np.frombuffer(values, np.uint8))


@pytest.mark.parametrize("dtype,np_type", NUMERIC)
def test_scalar_numeric_is_a_zero_copy_view(dtype, np_type):
    col = spec("x", dtype)
    data = (np.arange(5) % 2 if dtype == feed_pb2.BOOL else np.arange(-2, 3)).astype(np_type)
    encoded = encode_column(col, data)
    values = encoded.values
    out = decode_column(col, 5, values, encoded.offsets)
    assert out.dtype == np_type and out.shape == (5,)
    np.testing.assert_array_equal(out, data)
    assert _shares(out, values)


@pytest.mark.parametrize("dtype,np_type", NUMERIC)
def test_fixed_array_has_rows_by_width(dtype, np_type):
    col = spec("v", dtype, feed_pb2.FIXED_ARRAY, width=3)
    data = (np.arange(12).reshape(4, 3) % 2).astype(np_type)
    encoded = encode_column(col, data)
    values = encoded.values
    out = decode_column(col, 4, values, b"")
    assert out.shape == (4, 3) and out.dtype == np_type
    np.testing.assert_array_equal(out, data)
    assert _shares(out, values)


@pytest.mark.parametrize("dtype,np_type", NUMERIC)
def test_var_array_is_ragged(dtype, np_type):
    col = spec("r", dtype, feed_pb2.VAR_ARRAY)
    rows = [np.array([1, 0, 1]), np.array([], dtype=np.int64), np.array([1])]
    encoded = encode_column(col, rows)
    values = encoded.values
    out = decode_column(col, 3, values, encoded.offsets)
    assert isinstance(out, RaggedColumn) and len(out) == 3
    assert out.values.dtype == np_type and out.row_splits.dtype == np.int64
    np.testing.assert_array_equal(out.row_splits, [0, 3, 3, 4])
    np.testing.assert_array_equal(out.values, np.array([1, 0, 1, 1]).astype(np_type))
    assert _shares(out.values, values)


@pytest.mark.parametrize("dtype", [feed_pb2.BINARY, feed_pb2.STRING])
def test_binary_and_string_are_bytes_objects(dtype):
    col = spec("s", dtype)
    encoded = encode_column(col, ["héllo", "", "x"])
    out = decode_column(col, 3, encoded.values, encoded.offsets)
    assert out.dtype == object and out.shape == (3,)
    assert list(out) == ["héllo".encode(), b"", b"x"]


def test_little_endian_is_read_whatever_the_host():
    col = spec("x", feed_pb2.INT32)
    out = decode_column(col, 2, b"\x01\x00\x00\x00\x00\x01\x00\x00", b"")
    assert out.tolist() == [1, 256]


def test_decode_batch_maps_names_and_empty_batches():
    s = schema(
        spec("a", feed_pb2.FLOAT32),
        spec("b", feed_pb2.INT64, feed_pb2.VAR_ARRAY),
        spec("c", feed_pb2.STRING),
    )
    out = decode_batch(s, batch(s, {"a": np.ones(2), "b": [[1], [2, 3]], "c": ["p", "q"]}))
    assert set(out) == {"a", "b", "c"}
    empty = feed_pb2.ColumnBatch(num_rows=0, columns=[feed_pb2.ColumnData()] * 3)
    out = decode_batch(s, empty)
    assert len(out["a"]) == 0 and len(out["b"]) == 0 and len(out["c"]) == 0


@pytest.mark.parametrize(
    "column,values,offsets,needle",
    [
        (spec("x", feed_pb2.INT32, source="age"), b"\x00" * 7, b"", "4-byte"),
        (spec("x", feed_pb2.INT64, source="age"), b"\x00" * 16, b"", "expected 3 values"),
        (
            spec("x", feed_pb2.FLOAT32, feed_pb2.FIXED_ARRAY, 2, "age"),
            b"\x00" * 16,
            b"",
            "expected 6 values",
        ),
        (
            spec("x", feed_pb2.BINARY, source="age"),
            b"abc",
            np.array([0, 1, 3], "<i4").tobytes(),
            "expected 4 int32 offsets",
        ),
        (
            spec("x", feed_pb2.STRING, source="age"),
            b"abc",
            np.array([0, 1, 2, 9], "<i4").tobytes(),
            "last 9",
        ),
        (
            spec("x", feed_pb2.FLOAT64, feed_pb2.VAR_ARRAY, source="age"),
            b"\x00" * 16,
            np.array([0, 2, 1, 2], "<i4").tobytes(),
            "decreasing",
        ),
    ],
)
def test_wrong_sizes_name_the_column(column, values, offsets, needle):
    with pytest.raises(ValueError) as err:
        decode_column(column, 3, values, offsets)
    message = str(err.value)
    assert "'x'" in message and "'age'" in message and needle in message


def test_batch_with_wrong_column_count_is_refused():
    s = schema(spec("a", feed_pb2.FLOAT32), spec("b", feed_pb2.FLOAT32))
    with pytest.raises(ValueError, match="1 columns, the feed schema has 2"):
        decode_batch(s, feed_pb2.ColumnBatch(num_rows=0, columns=[feed_pb2.ColumnData()]))


@pytest.mark.parametrize(
    "column,needle",
    [
        (spec("s", feed_pb2.STRING, feed_pb2.VAR_ARRAY), "array of STRING"),
        (spec("v", feed_pb2.FLOAT32, feed_pb2.FIXED_ARRAY, 0), "width 0"),
        (spec("d", feed_pb2.DTYPE_UNSPECIFIED), "DTYPE_UNSPECIFIED"),
    ],
)
def test_schema_validation_names_the_column(column, needle):
    with pytest.raises(ValueError, match=needle):
        validate_schema(schema(column))


def test_slice_and_concat_rows_keep_ragged_rows():
    s = schema(spec("r", feed_pb2.INT32, feed_pb2.VAR_ARRAY), spec("n", feed_pb2.INT64))
    cols = decode_batch(s, batch(s, {"r": [[1], [2, 3], [], [4, 5, 6]], "n": [0, 1, 2, 3]}))
    head, tail = slice_rows(cols, 0, 1), slice_rows(cols, 1, 4)
    assert tail["r"].row_splits.tolist() == [0, 2, 2, 5]
    joined = concat_rows([head, tail])
    assert joined["r"].row_splits.tolist() == [0, 1, 3, 3, 6]
    assert joined["r"].values.tolist() == [1, 2, 3, 4, 5, 6]
    assert joined["n"].tolist() == [0, 1, 2, 3]
