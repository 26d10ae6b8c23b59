"""TensorFlowOnSpark's ``dfutil``: DataFrames to and from TFRecords of ``tf.train.Example``.

``saveAsTFRecords`` and ``loadTFRecords`` are sparktf's JVM conversion (``sparktf.tfrecord``: no
Python worker, no TensorFlow on the executors, the schema kept in a sidecar so a round trip
gives the same schema back). Different from TensorFlowOnSpark: a save to a directory that exists
fails (TensorFlowOnSpark's Hadoop output format failed too), and files written by
``saveAsTFRecords`` read back with their exact schema (int widths, float vs double) where
TensorFlowOnSpark inferred long/double. ``toTFExample``, ``fromTFExample`` and ``infer_schema``
are TensorFlowOnSpark's row-level functions for ``mapPartitions``, on the ``Example`` messages of
``proto/sparktf/v1/example.proto`` (the same wire format as TensorFlow's, so no TensorFlow is
needed).

Example::

    from sparktf.tfos import dfutil
    dfutil.saveAsTFRecords(df, "/tmp/tfr")
    df2 = dfutil.loadTFRecords(sc, "/tmp/tfr")
    assert dfutil.isLoadedDF(df2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from sparktf import dfutil as _dfutil
from sparktf.v1 import example_pb2

#: DataFrames ``loadTFRecords`` made, and where from (TensorFlowOnSpark's ``loadedDF``).
loadedDF: dict[DataFrame, str] = {}  # noqa: N816 (TFoS name)


def isLoadedDF(df: DataFrame) -> bool:  # noqa: N802 (TFoS name)
    """True when ``df`` came from ``loadTFRecords``."""
    return df in loadedDF


def saveAsTFRecords(df: DataFrame, output_dir: str) -> None:  # noqa: N802 (TFoS name)
    """Writes ``df`` as TFRecords under ``output_dir`` (in the JVM)."""
    _dfutil.saveAsTFRecords(df, output_dir)


def loadTFRecords(  # noqa: N802 (TFoS name)
    sc: SparkContext | SparkSession, input_dir: str, binary_features: Iterable[str] = ()
) -> DataFrame:
    """The TFRecords under ``input_dir`` as a DataFrame (``binary_features`` read as binary)."""
    df = _dfutil.loadTFRecords(sc, input_dir, binary_features)
    loadedDF[df] = input_dir
    return df


_FLOATS = ("float", "double")
_INTS = ("boolean", "tinyint", "smallint", "int", "bigint", "long")
_BYTES = ("binary", "string")


def _feature(name: str, dtype: str, value: Any) -> example_pb2.Feature:
    feature = example_pb2.Feature()
    if dtype in _FLOATS:
        feature.float_list.value.append(value)
    elif dtype in _INTS:
        feature.int64_list.value.append(int(value))
    elif dtype == "binary":
        feature.bytes_list.value.append(bytes(value))
    elif dtype == "string":
        feature.bytes_list.value.append(str(value).encode("utf-8"))
    elif dtype.startswith("array<") and dtype[6:-1] in _FLOATS:
        feature.float_list.value.extend(value)
    elif dtype.startswith("array<") and dtype[6:-1] in _INTS:
        feature.int64_list.value.extend(int(v) for v in value)
    else:
        raise ValueError(f"column '{name}' has type {dtype}, which a tf.train.Example cannot hold")
    return feature


def toTFExample(  # noqa: N802 (TFoS name)
    dtypes: list[tuple[str, str]],
) -> Callable[[Iterable[Row]], list[tuple[bytearray, None]]]:
    """A ``mapPartitions`` function turning rows of a DataFrame with ``dtypes`` into
    ``(serialized Example, None)`` pairs, as TensorFlowOnSpark's."""

    def to_examples(rows: Iterable[Row]) -> list[tuple[bytearray, None]]:
        out = []
        for row in rows:
            example = example_pb2.Example()
            for name, dtype in dtypes:
                example.features.feature[name].CopyFrom(_feature(name, dtype, row[name]))
            out.append((bytearray(example.SerializeToString()), None))
        return out

    return to_examples


def infer_schema(example: Any, binary_features: Iterable[str] = ()) -> StructType:
    """The schema of an ``Example``'s features, sorted by name: int64 -> long, float -> double,
    bytes -> string (binary for ``binary_features``), several values -> an array."""
    binary = set(binary_features)

    def sql_type(name: str, feature: Any) -> DataType:
        if name in binary:
            return BinaryType()
        if feature.int64_list.value:
            values, kind = feature.int64_list.value, LongType()
        elif feature.float_list.value:
            values, kind = feature.float_list.value, DoubleType()
        else:
            values, kind = feature.bytes_list.value, StringType()
        return ArrayType(kind) if len(values) > 1 else kind

    return StructType(
        [StructField(k, sql_type(k, v), True) for k, v in sorted(example.features.feature.items())]
    )


def fromTFExample(  # noqa: N802 (TFoS name)
    iter: Iterable[Any],
    binary_features: Iterable[str] = (),  # noqa: A002 (TFoS name)
) -> list[Row]:
    """A ``mapPartitions`` function turning ``(serialized Example, _)`` records into Rows."""
    binary = set(binary_features)

    def value(name: str, feature: Any) -> Any:
        if feature.int64_list.value:
            values = list(feature.int64_list.value)
        elif feature.float_list.value:
            values = list(feature.float_list.value)
        elif name in binary:
            return bytearray(feature.bytes_list.value[0])
        else:
            return feature.bytes_list.value[0].decode("utf-8")
        return values if len(values) > 1 else (values[0] if values else None)

    rows = []
    for record in iter:
        example = example_pb2.Example.FromString(bytes(record[0]))
        rows.append(Row(**{k: value(k, v) for k, v in sorted(example.features.feature.items())}))
    return rows
