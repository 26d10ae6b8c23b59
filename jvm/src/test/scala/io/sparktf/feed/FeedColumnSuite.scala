package io.sparktf.feed

import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class FeedColumnSuite extends AnyFunSuite {
  private val schema = StructType(Seq(
      StructField("image", ArrayType(FloatType)),
      StructField("label", IntegerType),
      StructField("when", TimestampType),
      StructField("tags", ArrayType(StringType))
    ))

  test("input_mapping picks and renames columns, in its order") {
    val cols = FeedColumn.fromSchema(schema, Seq("label" -> "y", "image" -> "x"))
    assert(cols.map(c => (c.source, c.tensor, c.ordinal)) == Seq(("label", "y", 1),
      ("image", "x", 0)))
  }

  test("a type it cannot feed is refused, naming column and type") {
    val e = intercept[SparkTFException](FeedColumn.fromSchema(schema, Nil))
    assert(e.getMessage.contains("'when'") && e.getMessage.contains("timestamp"))
    val a = intercept[SparkTFException](FeedColumn.fromSchema(schema, Seq("tags" -> "t")))
    assert(a.getMessage.contains("'tags'") && a.getMessage.contains("array<string>"))
  }

  test("a missing column lists the ones there are") {
    val e = intercept[SparkTFException](FeedColumn.fromSchema(schema, Seq("pixels" -> "x")))
    assert(e.getMessage.contains("'pixels'") && e.getMessage.contains("image, label"))
  }

  test("two columns for one tensor are refused") {
    val e = intercept[SparkTFException](
      FeedColumn.fromSchema(schema, Seq("image" -> "x", "label" -> "x")))
    assert(e.getMessage.contains("'x' twice"))
  }
}
