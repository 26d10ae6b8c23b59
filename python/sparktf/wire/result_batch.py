"""Encoding of answers (inference results) into ColumnBatch messages for the JVM.

The JVM says which answer columns it wants (``InferStart.outputs``): a name, an element type,
and SCALAR (one value a row) or VAR_ARRAY (a list a row, element offsets per row). Values are
packed little-endian, the layout ``column_batch`` decodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sparktf.v1 import feed_pb2
from sparktf.wire.column_batch import BYTES_DTYPES, NUMERIC_DTYPES

_OFFSET_DTYPE = np.dtype("<i4")
AnswerColumns = dict[str, Any]


def describe_output(spec: feed_pb2.ColumnSpec) -> str:
    return f"result '{spec.name}' (Spark column '{spec.source_column or spec.name}')"


def as_answer_columns(results: Any, outputs: Sequence[feed_pb2.ColumnSpec]) -> AnswerColumns:
    """``results`` as ``{name: values}``: a mapping as it is; with one output column, its
    values alone (an array or a list) are accepted too."""
    if isinstance(results, Mapping):
        missing = [o.name for o in outputs if o.name not in results]
        if missing:
            raise ValueError(
                f"the results lack {', '.join(map(repr, missing))}; expected "
                f"{', '.join(o.name for o in outputs)}, found "
                f"{', '.join(map(str, results))}"
            )
        return dict(results)
    if len(outputs) != 1:
        raise ValueError(
            f"give the results as a dict: {len(outputs)} result columns are "
            f"expected ({', '.join(o.name for o in outputs)})"
        )
    return {outputs[0].name: results}


def encode_answers(
    outputs: Sequence[feed_pb2.ColumnSpec], columns: AnswerColumns, start: int, stop: int
) -> feed_pb2.ColumnBatch:
    """Rows ``start:stop`` of ``columns`` (each already checked by ``check_rows``)."""
    batch = feed_pb2.ColumnBatch(num_rows=stop - start)
    for spec in outputs:
        values, offsets = _encode_column(spec, columns[spec.name], start, stop)
        batch.columns.add(values=values, offsets=offsets)
    return batch


def normalize(spec: feed_pb2.ColumnSpec, values: Any, rows: int) -> Any:
    """``values`` checked to hold ``rows`` rows of ``spec``'s kind, in a form ready to encode:
    a 1-D (SCALAR) or 2-D/list-of-1-D (VAR_ARRAY) numpy array, or a list of bytes."""
    what = describe_output(spec)
    if spec.dtype in BYTES_DTYPES:
        seq = values.tolist() if isinstance(values, np.ndarray) else list(values)
        if len(seq) != rows:
            raise ValueError(f"{what}: {len(seq)} values answer a batch of {rows} rows")
        out = []
        for v in seq:
            if isinstance(v, str):
                out.append(v.encode("utf-8"))
            elif isinstance(v, (bytes, bytearray, memoryview)):
                out.append(bytes(v))
            else:
                raise ValueError(
                    f"{what} is a {feed_pb2.DType.Name(spec.dtype).lower()} column, "
                    f"found a {type(v).__name__} value"
                )
        return out
    dtype = NUMERIC_DTYPES[spec.dtype]
    if (
        spec.shape == feed_pb2.VAR_ARRAY
        and not isinstance(values, np.ndarray)
        and len(values)
        and np.ndim(values[0]) == 1
        and len({len(v) for v in values}) > 1
    ):  # ragged: a list of rows of their own lengths
        rows_found = len(values)
        if rows_found != rows:
            raise ValueError(f"{what}: {rows_found} values answer a batch of {rows} rows")
        return [_cast(spec, np.asarray(v), dtype) for v in values]
    arr = np.asarray(values)
    if arr.ndim == 0 or arr.shape[0] != rows:
        found = "one value" if arr.ndim == 0 else f"{arr.shape[0]} values"
        raise ValueError(f"{what}: {found} answer a batch of {rows} rows")
    if spec.shape == feed_pb2.SCALAR:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]  # a model's (rows, 1) output fills a scalar column
        if arr.ndim != 1:
            raise ValueError(
                f"{what} takes one value a row, found rows of shape "
                f"{arr.shape[1:]}; declare the column as an array or reduce them"
            )
    else:
        if arr.ndim == 1:
            arr = arr.reshape(rows, 1)
        if arr.ndim != 2:
            arr = arr.reshape(rows, -1)  # higher ranks are flattened per row
    return _cast(spec, arr, dtype)


def _cast(spec: feed_pb2.ColumnSpec, arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if arr.dtype.kind == "f" and dtype.kind in "iub" or arr.dtype.kind not in "fiub":
        raise ValueError(
            f"{describe_output(spec)} is {feed_pb2.DType.Name(spec.dtype)}, found "
            f"{arr.dtype} values; cast them in the program"
        )
    if spec.dtype == feed_pb2.BOOL:
        return np.ascontiguousarray(arr.astype(np.bool_)).view(np.uint8)
    return np.ascontiguousarray(arr, dtype=dtype)


def _encode_column(
    spec: feed_pb2.ColumnSpec, values: Any, start: int, stop: int
) -> tuple[bytes, bytes]:
    if spec.dtype in BYTES_DTYPES:
        rows = values[start:stop]
        lengths = np.fromiter((len(v) for v in rows), np.int64, len(rows))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(_OFFSET_DTYPE)
        return b"".join(rows), offsets.tobytes()
    if spec.shape == feed_pb2.SCALAR:
        return values[start:stop].tobytes(), b""
    if isinstance(values, list):  # ragged rows
        rows = values[start:stop]
        lengths = np.array([len(r) for r in rows], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(_OFFSET_DTYPE)
        flat = np.concatenate(rows) if rows else np.zeros(0, NUMERIC_DTYPES[spec.dtype])
        return np.ascontiguousarray(flat).tobytes(), offsets.tobytes()
    block = values[start:stop]
    width = block.shape[1]
    offsets = (np.arange(stop - start + 1, dtype=np.int64) * width).astype(_OFFSET_DTYPE)
    return block.tobytes(), offsets.tobytes()


def check_rows(outputs: Sequence[feed_pb2.ColumnSpec], results: Any, rows: int) -> AnswerColumns:
    """The results for a batch of ``rows`` rows, every column checked and normalized."""
    columns = as_answer_columns(results, outputs)
    return {o.name: normalize(o, columns[o.name], rows) for o in outputs}
