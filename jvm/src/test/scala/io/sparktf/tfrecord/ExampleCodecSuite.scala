package io.sparktf.tfrecord

import scala.jdk.CollectionConverters._

import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.CatalystTypeConverters
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{Example, Feature, Features, FloatList, Int64List}

class ExampleCodecSuite extends AnyFunSuite {
  private val every = StructType(Seq(
      StructField("flag", BooleanType),
      StructField("b", ByteType),
      StructField("s", ShortType),
      StructField("i", IntegerType, nullable = false),
      StructField("l", LongType),
      StructField("f", FloatType),
      StructField("d", DoubleType),
      StructField("text", StringType),
      StructField("blob", BinaryType),
      StructField("ints", ArrayType(IntegerType)),
      StructField("floats", ArrayType(FloatType, containsNull = false)),
      StructField("words", ArrayType(StringType)),
      StructField("vec", SQLDataTypes.VectorType)
    ))

  private def internal(schema: StructType, row: Row): InternalRow =
    CatalystTypeConverters.createToCatalystConverter(schema)(row).asInstanceOf[InternalRow]

  private def encode(schema: StructType, row: Row): Array[Byte] =
    new ExampleEncoder(schema).encode(internal(schema, row))

  private def roundTrip(schema: StructType, row: Row): Row =
    new ExampleDecoder(schema).decode(encode(schema, row), "t", 0)

  private def same(a: Row, b: Row): Boolean = a.toSeq.zip(b.toSeq).forall {
    case (x: Array[Byte], y: Array[Byte]) => x.sameElements(y)
    case (x, y) => x == y
  }

  test("every supported type survives encode and decode") {
    val row = Row(true, 7.toByte, -300.toShort, 70000, 1L << 40, 0.5f, -1.25, "héllo",
      Array[Byte](0, -1, 2), Seq(1, 2, 3), Seq(0.25f), Seq("a", ""), Vectors.dense(1.0, 0.0, 2.5))
    val back = roundTrip(every, row)
    assert(same(back, row), s"$back != $row")
  }

  test("nulls are absent features and come back null; empty arrays stay empty") {
    val row = Row(null, null, null, 1, null, null, null, null, null, Seq.empty[Int], null, null,
      null)
    val bytes = encode(every, row)
    val features = Example.parseFrom(bytes).getFeatures.getFeatureMap
    assert(features.keySet.size == 2 && features.containsKey("i") && features.containsKey("ints"))
    assert(features.get("ints").getKindCase == Feature.KindCase.INT64_LIST)
    assert(same(roundTrip(every, row), row))
  }

  test("a sparse vector is written dense, of the vector's size") {
    val schema = StructType(Seq(StructField("vec", SQLDataTypes.VectorType)))
    val bytes = encode(schema, Row(Vectors.sparse(4, Array(1, 3), Array(2.0, 4.0))))
    val values = Example.parseFrom(bytes).getFeatures.getFeatureMap.get("vec").getFloatList
    assert(values.getValueCount == 4 && values.getValue(1) == 2f && values.getValue(3) == 4f)
    assert(roundTrip(schema, Row(Vectors.sparse(4, Array(1, 3), Array(2.0, 4.0)))) ==
      Row(Vectors.dense(0, 2, 0, 4)))
  }

  test("TensorFlow's own Example bytes decode") {
    // tf.train.Example(label=[7], x=[0.5, -1.25], name=[b"seven"]).SerializeToString()
    val tf = "0a360a0e0a056c6162656c12051a030a01070a110a046e616d6512090a070a05736576656e" +
      "0a110a0178120c120a0a080000003f0000a0bf"
    val bytes = tf.grouped(2).map(Integer.parseInt(_, 16).toByte).toArray
    val schema = StructType.fromDDL("label int, x array<float>, name string")
    assert(new ExampleDecoder(schema).decode(bytes, "t", 0) == Row(7, Seq(0.5f, -1.25f), "seven"))
    val inferred =
      SchemaInference.infer(Seq(ExampleDecoder.describe(bytes, "t", 0)), Set("name"), "t")
    assert(inferred == StructType(Seq(StructField("label", LongType),
        StructField("name", BinaryType),
        StructField("x", ArrayType(FloatType, containsNull = false)))))
  }

  test("a feature that does not fit its column names record, file and column") {
    def ints(v: Long*) = Feature.newBuilder().setInt64List(Int64List.newBuilder()
        .addAllValue(v.map(Long.box).asJava)).build()
    val ex = Example.newBuilder().setFeatures(Features.newBuilder()
        .putFeature("label",
          Feature.newBuilder().setFloatList(FloatList.newBuilder().addValue(1f)).build())
        .putFeature("n", ints(1, 2))
        .putFeature("small", ints(300)))
      .build().toByteArray
    def fail(ddl: String) = intercept[SparkTFException](
      new ExampleDecoder(StructType.fromDDL(ddl)).decode(ex, "part-00003.tfrecord", 41)).getMessage
    val kind = fail("label long")
    assert(kind.contains("feature 'label'") && kind.contains("record 41 in part-00003.tfrecord") &&
        kind.contains("a float_list, not an int64_list"), kind)
    assert(fail("n long").contains("holds 2 values, not one"))
    assert(fail("small byte").contains("holds 300, outside -128..127"))
    val missing = intercept[SparkTFException](new ExampleDecoder(
        StructType(Seq(StructField("gone", LongType, nullable = false))))
        .decode(ex, "p", 0)).getMessage
    assert(missing.contains("no feature 'gone'") && missing.contains("not nullable"), missing)
  }

  test("a type it cannot write is refused naming the column, before any row") {
    val e = intercept[SparkTFException](new ExampleEncoder(StructType.fromDDL(
          "label int, born timestamp")))
    assert(e.getMessage.contains("column 'born' is timestamp"), e.getMessage)
    val nested = intercept[SparkTFException](new ExampleEncoder(StructType.fromDDL(
          "grid array<array<int>>")))
    assert(nested.getMessage.contains("column 'grid' is array<array<int>>"), nested.getMessage)
  }

  test("a null inside an array is refused naming the column") {
    val schema = StructType.fromDDL("ints array<int>")
    val e = intercept[SparkTFException](encode(schema, Row(Seq[Any](1, null))))
    assert(e.getMessage.contains("column 'ints'") && e.getMessage.contains("null at index 1"),
      e.getMessage)
  }

  test("inference: scalars vs lists, conflicting kinds refused, binary features checked") {
    val records = Seq(Seq(("a", FeatureKind.Int64, 1), ("b", FeatureKind.Bytes, 1)),
      Seq(("a", FeatureKind.Int64, 3)))
    assert(SchemaInference.infer(records, Set.empty, "d") ==
      StructType(Seq(StructField("a", ArrayType(LongType, containsNull = false)),
          StructField("b", StringType))))
    val conflict = intercept[SparkTFException](SchemaInference.infer(
        Seq(Seq(("a", FeatureKind.Int64, 1)), Seq(("a", FeatureKind.Float, 1))), Set.empty, "d"))
    assert(conflict.getMessage.contains("feature 'a' is int64_list in some records and float_list"))
    val notThere = intercept[SparkTFException](
      SchemaInference.withBinary(StructType.fromDDL("a int"), Set("z")))
    assert(notThere.getMessage.contains("'z', which is not a column"))
  }
}
