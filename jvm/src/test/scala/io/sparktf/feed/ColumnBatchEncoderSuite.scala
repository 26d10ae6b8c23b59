package io.sparktf.feed

import java.nio.{ByteBuffer, ByteOrder}

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{DType, Shape}

class ColumnBatchEncoderSuite extends AnyFunSuite {
  private val schema = StructType(Seq(
      StructField("flag", BooleanType),
      StructField("b", ByteType),
      StructField("s", ShortType),
      StructField("i", IntegerType),
      StructField("l", LongType),
      StructField("f", FloatType),
      StructField("d", DoubleType),
      StructField("v", ArrayType(FloatType)),
      StructField("name", StringType),
      StructField("blob", BinaryType)
    ))

  private def row(k: Int): InternalRow = UnsafeProjection.create(schema).apply(InternalRow(
      k % 2 == 0,
      k.toByte,
      (k * 10).toShort,
      k * 100,
      k * 1000L,
      k + 0.5f,
      k + 0.25,
      ArrayData.toArrayData(Array(k.toFloat, -k.toFloat, 1.5f)),
      UTF8String.fromString("n" * k),
      Array.fill[Byte](k)(7)
    )).copy()

  private def le(bytes: Array[Byte]) = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)

  test("packs every column little-endian, arrays flat, strings with offsets") {
    val enc = new ColumnBatchEncoder(FeedColumn.fromSchema(schema, Nil), partition = 0)
    (1 to 3).foreach(k => enc.add(row(k)))
    val spec = enc.schema
    assert(spec.getColumns(7).getShape == Shape.FIXED_ARRAY && spec.getColumns(7).getWidth == 3)
    assert(spec.getColumns(0).getDtype == DType.BOOL && spec.getColumns(0).getShape == Shape.SCALAR)
    val batch = enc.flush()
    assert(batch.getNumRows == 3)
    def col(i: Int) = batch.getColumns(i).getValues.toByteArray
    assert(col(0).toSeq == Seq[Byte](0, 1, 0))
    assert(col(1).toSeq == Seq[Byte](1, 2, 3))
    assert(le(col(2)).getShort(2) == 20)
    assert(le(col(3)).getInt(8) == 300)
    assert(le(col(4)).getLong(16) == 3000L)
    assert(le(col(5)).getFloat(4) == 2.5f)
    assert(le(col(6)).getDouble(0) == 1.25)
    val v = le(col(7)).asFloatBuffer()
    assert((0 until 9).map(v.get) == Seq(1f, -1f, 1.5f, 2f, -2f, 1.5f, 3f, -3f, 1.5f))
    assert(new String(col(8), "UTF-8") == "nnnnnn")
    val offsets = le(batch.getColumns(8).getOffsets.toByteArray).asIntBuffer()
    assert((0 until 4).map(offsets.get) == Seq(0, 1, 3, 6))
    assert(col(9).length == 6)
    assert(enc.rows == 0)
  }

  test("a batch closes at the row limit and the next starts empty") {
    val enc = new ColumnBatchEncoder(FeedColumn.fromSchema(schema, Nil), 0, maxRows = 2)
    enc.add(row(1))
    assert(!enc.isFull)
    enc.add(row(2))
    assert(enc.isFull)
    assert(enc.flush().getNumRows == 2)
    enc.add(row(3))
    val b = enc.flush()
    assert(b.getNumRows == 1)
    assert(le(b.getColumns(8).getOffsets.toByteArray).asIntBuffer().get(1) == 3)
  }

  test("a null names the column and the partition") {
    val s = StructType(Seq(StructField("x", DoubleType, nullable = true)))
    val enc = new ColumnBatchEncoder(FeedColumn.fromSchema(s, Nil), partition = 4)
    val e = intercept[SparkTFException](enc.add(InternalRow(null)))
    assert(e.getMessage.contains("'x'") && e.getMessage.contains("partition 4"))
  }

  test("a null inside an array is refused") {
    val s = StructType(Seq(StructField("v", ArrayType(DoubleType, containsNull = true))))
    val r =
      UnsafeProjection.create(s).apply(InternalRow(ArrayData.toArrayData(Array[Any](1.0, null))))
    val e =
      intercept[SparkTFException](new ColumnBatchEncoder(FeedColumn.fromSchema(s, Nil), 0).add(r))
    assert(e.getMessage.contains("'v'") && e.getMessage.contains("null element"))
  }

  test("arrays of another length than the first row are refused with both lengths") {
    val s = StructType(Seq(StructField("v", ArrayType(IntegerType))))
    val p = UnsafeProjection.create(s)
    val enc = new ColumnBatchEncoder(FeedColumn.fromSchema(s, Nil), 2)
    enc.add(p(InternalRow(ArrayData.toArrayData(Array(1, 2)))).copy())
    val e = intercept[SparkTFException](enc.add(p(InternalRow(ArrayData.toArrayData(Array(1))))))
    assert(e.getMessage.contains("'v'") && e.getMessage.contains("2 elements") &&
      e.getMessage.contains("has 1"))
  }

  test("generic (non-unsafe) arrays take the slow path with the same bytes") {
    val s = StructType(Seq(StructField("v", ArrayType(LongType))))
    val enc = new ColumnBatchEncoder(FeedColumn.fromSchema(s, Nil), 0)
    enc.add(InternalRow(ArrayData.toArrayData(Array(5L, 6L))))
    val b = le(enc.flush().getColumns(0).getValues.toByteArray)
    assert(b.getLong(0) == 5L && b.getLong(8) == 6L)
  }
}

class RaggedAndVectorEncodingSuite extends AnyFunSuite {
  import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}

  private def le(bytes: Array[Byte]) = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)

  test("ragged columns carry element offsets per row") {
    val s = StructType(Seq(StructField("tokens", ArrayType(IntegerType))))
    val p = UnsafeProjection.create(s)
    val cols = FeedColumn.fromSchema(s, Nil, Set("tokens"))
    assert(cols.head.shape == Shape.VAR_ARRAY)
    val enc = new ColumnBatchEncoder(cols, 0)
    Seq(Array(1, 2, 3), Array[Int](), Array(4)).foreach(a =>
      enc.add(p(InternalRow(ArrayData.toArrayData(a))).copy()))
    assert(enc.schema.getColumns(0).getShape == Shape.VAR_ARRAY)
    val b = enc.flush()
    val values = le(b.getColumns(0).getValues.toByteArray).asIntBuffer()
    assert((0 until 4).map(values.get) == Seq(1, 2, 3, 4))
    val offsets = le(b.getColumns(0).getOffsets.toByteArray).asIntBuffer()
    assert((0 until 4).map(offsets.get) == Seq(0, 3, 3, 4))
    enc.add(p(InternalRow(ArrayData.toArrayData(Array(9, 9)))).copy())
    val next = le(enc.flush().getColumns(0).getOffsets.toByteArray).asIntBuffer()
    assert((0 until 2).map(next.get) == Seq(0, 2), "offsets restart with each batch")
  }

  test("ML vectors, dense and sparse, are fed dense as float64") {
    val s = StructType(Seq(StructField("v", SQLDataTypes.VectorType)))
    val cols = FeedColumn.fromSchema(s, Nil)
    assert(cols.head.isVector && cols.head.dtype == DType.FLOAT64)
    val enc = new ColumnBatchEncoder(cols, 0)
    val udt = SQLDataTypes.VectorType.asInstanceOf[UserDefinedType[Any]]
    enc.add(InternalRow(udt.serialize(Vectors.dense(1.0, 2.0, 3.0))))
    enc.add(InternalRow(udt.serialize(Vectors.sparse(3, Array(1), Array(7.5)))))
    assert(enc.schema.getColumns(0).getWidth == 3)
    val v = le(enc.flush().getColumns(0).getValues.toByteArray).asDoubleBuffer()
    assert((0 until 6).map(v.get) == Seq(1.0, 2.0, 3.0, 0.0, 7.5, 0.0))
    val e = intercept[SparkTFException](enc.add(InternalRow(udt.serialize(Vectors.dense(1.0)))))
    assert(e.getMessage.contains("'v'") && e.getMessage.contains("size 3"))
  }

  test("ragged_columns must name fed array columns") {
    val s = StructType(Seq(StructField("x", IntegerType), StructField("a", ArrayType(FloatType))))
    assert(intercept[SparkTFException](FeedColumn.fromSchema(s, Nil, Set("y")))
        .getMessage.contains("'y'"))
    assert(intercept[SparkTFException](FeedColumn.fromSchema(s, Nil, Set("x")))
        .getMessage.contains("array columns only"))
  }
}
