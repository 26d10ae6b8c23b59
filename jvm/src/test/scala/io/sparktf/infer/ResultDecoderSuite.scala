package io.sparktf.infer

import java.nio.{ByteBuffer, ByteOrder}

import com.google.protobuf.ByteString
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{ColumnBatch, ColumnData}

class ResultDecoderSuite extends AnyFunSuite {
  private def le(n: Int)(fill: ByteBuffer => Unit): ByteString = {
    val b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN)
    fill(b)
    ByteString.copyFrom(b.array())
  }

  private val columns = ResultColumn.fromSchema(
    StructType.fromDDL("p float, label string, scores array<double>"), Map.empty)

  private def batch(floatBytes: Int = 8): ColumnBatch = ColumnBatch.newBuilder().setNumRows(2)
    .addColumns(ColumnData.newBuilder().setValues(le(floatBytes) { b =>
      b.putFloat(0.5f); if (floatBytes == 8) b.putFloat(1.5f) }))
    .addColumns(ColumnData.newBuilder().setValues(ByteString.copyFromUtf8("abcde"))
      .setOffsets(le(12) { b => b.putInt(0); b.putInt(2); b.putInt(5) }))
    .addColumns(ColumnData.newBuilder().setValues(le(24) { b =>
      b.putDouble(1); b.putDouble(2); b.putDouble(3) })
      .setOffsets(le(12) { b => b.putInt(0); b.putInt(1); b.putInt(3) }))
    .build()

  test("answers become rows of every kind") {
    val rows = new ResultDecoder(columns, "node chief:0").rows(batch())
    assert(rows.map(_.getFloat(0)) == Seq(0.5f, 1.5f))
    assert(rows.map(_.getUTF8String(1).toString) == Seq("ab", "cde"))
    assert(rows.map(_.getArray(2).toDoubleArray().toSeq) == Seq(Seq(1.0), Seq(2.0, 3.0)))
  }

  test("a short column is an error naming the result and the peer") {
    val e = intercept[SparkTFException](new ResultDecoder(columns, "node chief:0").rows(batch(4)))
    assert(e.getMessage.contains("node chief:0") && e.getMessage.contains("result 'p'"))
  }

  test("output columns of types that cannot be answers are refused by name") {
    val e = intercept[SparkTFException](ResultColumn.fromSchema(
      StructType.fromDDL("ok int, when timestamp"), Map.empty))
    assert(e.getMessage.contains("'when'") && e.getMessage.contains("timestamp"))
    val clash = intercept[SparkTFException](ResultColumn.fromSchema(
      StructType.fromDDL("x int"), Map.empty, Seq("x")))
    assert(clash.getMessage.contains("'x' is already a column"))
  }
}
