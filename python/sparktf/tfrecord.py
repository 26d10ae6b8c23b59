"""DataFrame <-> TFRecord files of ``tf.train.Example``: the Python face of
``io.sparktf.tfrecord.TFRecords`` (the conversion runs in the JVM, no Python worker).

The successor of TensorFlowOnSpark's ``dfutil.saveAsTFRecords`` / ``dfutil.loadTFRecords``::

    from sparktf.tfrecord import save_as_tfrecords, load_tfrecords

    save_as_tfrecords(df, "hdfs:///data/digits", mode="overwrite")
    back = load_tfrecords(spark, "hdfs:///data/digits")        # back.schema == df.schema

Each row is one Example with one feature per column: boolean and integer columns as
``int64_list``, float and double as ``float_list`` (a double is stored as float32),
string and binary as ``bytes_list``, arrays as the list, ML vectors (dense or sparse) as a dense
``float_list`` of the vector's size. A null is an absent feature (what ``tf.io.parse_example``'s
``default_value`` expects).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from sparktf.cluster import _call, _jvm_class, _session

_TFRECORDS = "io.sparktf.tfrecord.TFRecords"


def save_as_tfrecords(
    df: DataFrame, path: str, mode: str = "error", compression: str = "none"
) -> None:
    """Writes ``df`` under the folder ``path`` (any Hadoop file system: file://, hdfs://, ...).

    One ``part-NNNNN.tfrecord`` per partition, and ``_sparktf_schema.json`` with the schema so
    :func:`load_tfrecords` gives it back exactly. ``mode``: ``error`` (the default: fail if
    ``path`` exists), ``overwrite``, ``append`` or ``ignore``. ``compression="gzip"`` writes
    ``part-NNNNN.tfrecord.gz`` (read them with ``TFRecordDataset(files, compression_type="GZIP")``).
    A column type a TFRecord cannot hold fails before any task runs, naming the column.

    Example::

        df = spark.createDataFrame([(1, [0.5, 1.5]), (0, [2.0, 0.0])], "label int, x array<float>")
        save_as_tfrecords(df.repartition(2), "/tmp/tfr-example", mode="overwrite")
        # then, in TensorFlow:
        # tf.data.TFRecordDataset(tf.io.gfile.glob("/tmp/tfr-example/part-*")).map(
        #     lambda r: tf.io.parse_single_example(r, {"label": tf.io.FixedLenFeature([], tf.int64),
        #                                             "x": tf.io.FixedLenFeature([2], tf.float32)}))
    """
    spark = df.sparkSession
    _call(_jvm_class(spark, _TFRECORDS).write, df._jdf, path, mode, compression)


def load_tfrecords(
    spark: SparkSession | SparkContext,
    path: str,
    schema: StructType | str | None = None,
    binary_features: Iterable[str] = (),
) -> DataFrame:
    """Reads the TFRecord files at ``path`` (a folder, one file, or a glob) into a DataFrame,
    one partition per file.

    ``schema`` (a ``StructType`` or DDL such as ``"label int, x array<float>"``) picks the
    columns and their types; by default the folder's ``_sparktf_schema.json`` (written by
    :func:`save_as_tfrecords`), else it is inferred from the first records: ``int64_list`` ->
    long, ``float_list`` -> float, ``bytes_list`` -> string, one value -> scalar, else array,
    columns sorted by name. ``binary_features`` names bytes features to read as binary
    instead of UTF-8 strings (encoded images, serialized tensors).

    Example::

        df = load_tfrecords(spark, "/tmp/tfr-example")
        raw = load_tfrecords(spark, "/data/from_tf/*.tfrecord", binary_features=["image"])
    """
    spark = _session(spark)
    if isinstance(schema, StructType):
        schema_text = schema.json()
    elif schema is None or isinstance(schema, str):
        schema_text = schema or ""
    else:
        raise TypeError(f"schema must be a StructType or a DDL string, not {type(schema).__name__}")
    if isinstance(binary_features, str):
        raise TypeError("binary_features takes a list of feature names, not one string")
    names = spark.sparkContext._gateway.jvm.java.util.ArrayList()
    for name in binary_features:
        names.add(name)
    tfrecords = _jvm_class(spark, _TFRECORDS)
    jdf = _call(tfrecords.readJson, spark._jsparkSession, path, schema_text, names)
    return DataFrame(jdf, spark)
