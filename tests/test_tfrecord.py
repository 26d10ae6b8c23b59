"""DataFrame <-> TFRecord in the JVM on a real cluster: a round trip keeps schema and rows,
TensorFlow parses what sparktf wrote, sparktf reads what TensorFlow wrote, and bad input fails
with an error naming what is wrong."""

from __future__ import annotations

import os

import pytest
from pyspark.ml.linalg import DenseVector, SparseVector, VectorUDT
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

from sparktf.cluster import SparkTFError
from sparktf.tfrecord import load_tfrecords, save_as_tfrecords

EVERY_TYPE = StructType(
    [
        StructField("id", LongType(), nullable=False),
        StructField("flag", BooleanType()),
        StructField("tiny", ByteType()),
        StructField("small", ShortType()),
        StructField("count", IntegerType(), nullable=False),
        StructField("ratio", FloatType()),
        StructField("score", DoubleType()),
        StructField("name", StringType()),
        StructField("blob", BinaryType()),
        StructField("ints", ArrayType(LongType())),
        StructField("floats", ArrayType(FloatType(), containsNull=False)),
        StructField("doubles", ArrayType(DoubleType())),
        StructField("words", ArrayType(StringType())),
        StructField("blobs", ArrayType(BinaryType())),
        StructField("vec", VectorUDT()),
    ]
)

# Doubles are stored as float32 (TensorFlow's FloatList): these values are exact in float32.
ROWS = [
    (
        0,
        True,
        -128,
        32767,
        2_000_000_000,
        0.5,
        -1.25,
        "héllo",
        b"\x00\xff",
        [1, 2**40],
        [0.25],
        [1.5, 2.5],
        ["a", ""],
        [b"x"],
        DenseVector([1.0, 2.0, 3.0]),
    ),
    (
        1,
        False,
        127,
        -32768,
        -7,
        -0.0,
        1e10,
        "",
        b"",
        [],
        [],
        [],
        [],
        [],
        SparseVector(3, [1], [4.5]),
    ),
    (2, None, None, None, 0, None, None, None, None, None, None, None, None, None, None),
]


def _dense(v):
    return None if v is None else v.toArray().tolist()


def _normalized(row) -> tuple:
    values = list(row)
    values[-1] = _dense(values[-1])
    return tuple(bytes(v) if isinstance(v, (bytes, bytearray)) else v for v in values)


def every_type_frame(spark):
    return spark.createDataFrame(ROWS, EVERY_TYPE).repartition(2, "id")


@pytest.mark.timeout(300)
def test_round_trip_keeps_schema_and_rows(spark, tmp_path):
    path = str(tmp_path / "every")
    df = every_type_frame(spark)
    save_as_tfrecords(df, path)
    names = sorted(os.listdir(path))
    assert names == ["_sparktf_schema.json", "part-00000.tfrecord", "part-00001.tfrecord"]
    back = load_tfrecords(spark, path)
    assert back.schema == EVERY_TYPE
    got = sorted(_normalized(r) for r in back.collect())
    expected = sorted(_normalized(r) for r in spark.createDataFrame(ROWS, EVERY_TYPE).collect())
    assert got == expected
    # The sparse vector comes back as the dense vector of the same size.
    assert isinstance(back.where("id = 1").first().vec, DenseVector)
    # No rows: the schema alone comes back.
    save_as_tfrecords(spark.createDataFrame([], EVERY_TYPE), str(tmp_path / "empty"))
    empty = load_tfrecords(spark.sparkContext, str(tmp_path / "empty"))
    assert empty.schema == EVERY_TYPE and empty.count() == 0


@pytest.mark.timeout(300)
def test_tensorflow_parses_what_sparktf_wrote(spark, tmp_path):
    import tensorflow as tf

    path = str(tmp_path / "for_tf")
    save_as_tfrecords(every_type_frame(spark), path, compression="gzip")
    files = tf.io.gfile.glob(os.path.join(path, "part-*.tfrecord.gz"))
    assert len(files) == 2
    spec = {
        "id": tf.io.FixedLenFeature([], tf.int64),
        "flag": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        "tiny": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "ratio": tf.io.FixedLenFeature([], tf.float32, default_value=9.0),
        "score": tf.io.FixedLenFeature([], tf.float32, default_value=9.0),
        "name": tf.io.FixedLenFeature([], tf.string, default_value="<null>"),
        "ints": tf.io.VarLenFeature(tf.int64),
        "words": tf.io.RaggedFeature(tf.string),
        "vec": tf.io.VarLenFeature(tf.float32),
    }
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        lambda r: tf.io.parse_single_example(r, spec)
    )
    parsed = {int(e["id"]): e for e in dataset}
    assert sorted(parsed) == [0, 1, 2]
    first, second, nulls = parsed[0], parsed[1], parsed[2]
    assert int(first["flag"]) == 1 and int(second["flag"]) == 0 and int(nulls["flag"]) == -1
    assert int(first["tiny"]) == -128 and float(first["ratio"]) == 0.5
    assert float(first["score"]) == -1.25 and float(second["score"]) == 1e10
    assert first["name"].numpy().decode() == "héllo" and nulls["name"].numpy() == b"<null>"
    assert tf.sparse.to_dense(first["ints"]).numpy().tolist() == [1, 2**40]
    assert first["words"].numpy().tolist() == [b"a", b""]
    assert tf.sparse.to_dense(first["vec"]).numpy().tolist() == [1.0, 2.0, 3.0]
    assert tf.sparse.to_dense(second["vec"]).numpy().tolist() == [0.0, 4.5, 0.0]
    assert tf.sparse.to_dense(nulls["vec"]).numpy().tolist() == []


@pytest.mark.timeout(300)
def test_sparktf_reads_what_tensorflow_wrote(spark, tmp_path):
    import tensorflow as tf

    folder = tmp_path / "from_tf"
    folder.mkdir()
    for shard in range(2):
        with tf.io.TFRecordWriter(str(folder / f"data-{shard}.tfrecord")) as writer:
            for i in range(shard * 3, shard * 3 + 3):
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2])),
                            "pixels": tf.train.Feature(
                                float_list=tf.train.FloatList(value=[i * 0.5, 1.0])
                            ),
                            "image": tf.train.Feature(
                                bytes_list=tf.train.BytesList(value=[bytes([i, 255])])
                            ),
                            "caption": tf.train.Feature(
                                bytes_list=tf.train.BytesList(value=[f"digit {i}".encode()])
                            ),
                        }
                    )
                )
                writer.write(example.SerializeToString())
    from sparktf import dfutil

    # TensorFlowOnSpark's names read the same way.
    df = dfutil.loadTFRecords(
        spark.sparkContext, str(folder / "*.tfrecord"), binary_features=["image"]
    )
    assert df.schema.simpleString() == (
        "struct<caption:string,image:binary,label:bigint,pixels:array<float>>"
    )
    assert df.rdd.getNumPartitions() == 2
    rows = sorted(df.collect(), key=lambda r: r.caption)
    assert [r.caption for r in rows] == [f"digit {i}" for i in range(6)]
    assert [bytes(r.image) for r in rows] == [bytes([i, 255]) for i in range(6)]
    assert [r.label for r in rows] == [0, 1, 0, 1, 0, 1]
    assert rows[3].pixels == [1.5, 1.0]
    # A schema picks and types the columns; features it does not name are skipped.
    typed = load_tfrecords(spark, str(folder), schema="label int, pixels array<double>")
    assert typed.schema.simpleString() == "struct<label:int,pixels:array<double>>"
    assert sorted(r.label for r in typed.collect()) == [0, 0, 0, 1, 1, 1]


@pytest.mark.timeout(300)
def test_bad_input_fails_naming_what_is_wrong(spark, tmp_path):
    from pyspark.sql import functions as F

    timed = spark.range(3).withColumn("born", F.current_timestamp())
    with pytest.raises(SparkTFError, match="column 'born' is timestamp"):
        save_as_tfrecords(timed, str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()

    path = str(tmp_path / "twice")
    save_as_tfrecords(spark.range(4).repartition(2), path)
    with pytest.raises(SparkTFError, match="already exists"):
        save_as_tfrecords(spark.range(4), path)
    save_as_tfrecords(spark.range(10, 13).coalesce(1), path, mode="append")
    assert sorted(r.id for r in load_tfrecords(spark, path).collect()) == [0, 1, 2, 3, 10, 11, 12]
    with pytest.raises(SparkTFError, match="cannot append"):
        save_as_tfrecords(spark.range(2).selectExpr("cast(id as int) as id"), path, mode="append")

    # A write whose task fails leaves no folder behind, so it can simply run again.
    failing = str(tmp_path / "failing")
    with pytest.raises(Exception, match="null at index 1"):
        save_as_tfrecords(spark.createDataFrame([([1, None],)], "ints array<int>"), failing)
    assert not os.path.exists(failing)

    with pytest.raises(SparkTFError, match="no TFRecord files at .*nowhere"):
        load_tfrecords(spark, str(tmp_path / "nowhere"))
    with pytest.raises(SparkTFError, match="binary_features names 'pixels', which is not a column"):
        load_tfrecords(spark, path, binary_features=["pixels"])

    with pytest.raises(SparkTFError, match="mode 'replace' is unknown"):
        save_as_tfrecords(spark.range(1), str(tmp_path / "m"), mode="replace")

    part = max(
        (os.path.join(path, n) for n in os.listdir(path) if n.startswith("part-")),
        key=os.path.getsize,
    )
    data = bytearray(open(part, "rb").read())
    data[-1] ^= 0xFF  # the last record's data CRC
    with open(part, "wb") as f:
        f.write(data)
    corrupt = rf"corrupt TFRecord in \S*{os.path.basename(part)} at byte offset"
    with pytest.raises(Exception, match=corrupt):
        load_tfrecords(spark, path).collect()
