package io.sparktf.infer

import java.nio.{ByteBuffer, ByteOrder}

import scala.jdk.CollectionConverters._

import com.google.protobuf.ByteString
import org.apache.spark.sql.catalyst.InternalRow
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

  private def offsets(o: Int*): ByteString = le(4 * o.size)(b => o.foreach(b.putInt))

  private val columns = ResultColumn.fromSchema(
    StructType.fromDDL("p float, label string, scores array<double>"), Map.empty)

  private def batch(floatBytes: Int = 8): ColumnBatch = ColumnBatch.newBuilder().setNumRows(2)
    .addColumns(ColumnData.newBuilder().setValues(le(floatBytes) { b =>
      b.putFloat(0.5f); if (floatBytes == 8) b.putFloat(1.5f)
    }))
    .addColumns(ColumnData.newBuilder().setValues(ByteString.copyFromUtf8("abcde"))
        .setOffsets(offsets(0, 2, 5)))
    .addColumns(ColumnData.newBuilder().setValues(le(24) { b =>
      b.putDouble(1); b.putDouble(2); b.putDouble(3)
    })
        .setOffsets(offsets(0, 1, 3)))
    .build()

  /** Every row of the decoded batch, each read before the next is asked for (rows are views). */
  private def decoded[T](cols: IndexedSeq[ResultColumn], b: ColumnBatch)(read: InternalRow => T) = {
    val answers = new ResultDecoder(cols, "node chief:0").decode(b)
    (0 until answers.numRows).map(r => read(answers.getRow(r)))
  }

  test("answers become rows of every kind") {
    val rows = decoded(columns, batch())(r =>
      (r.getFloat(0), r.getUTF8String(1).toString, r.getArray(2).toDoubleArray().toSeq))
    assert(rows == Seq((0.5f, "ab", Seq(1.0)), (1.5f, "cde", Seq(2.0, 3.0))))
  }

  test("every number type, binary and arrays of every number type") {
    val cols = ResultColumn.fromSchema(
      StructType.fromDDL("ok boolean, b tinyint, s smallint, " +
        "i int, l bigint, d double, blob binary, fs array<float>, is array<int>, ls array<bigint>, " +
        "bs array<boolean>, ss array<smallint>"),
      Map.empty
    )
    def data(values: ByteString): ColumnData = ColumnData.newBuilder().setValues(values).build()
    def ragged(values: ByteString, rowOffsets: ByteString): ColumnData =
      ColumnData.newBuilder().setValues(values).setOffsets(rowOffsets).build()
    val shorts = le(6)(b => Seq(-2, 3, 300).foreach(v => b.putShort(v.toShort)))
    val ints = le(12)(b => Seq(7, -8, 1 << 30).foreach(b.putInt))
    val longs = le(24)(b => Seq(1L << 40, -1L, 0L).foreach(b.putLong))
    val doubles = le(24)(b => Seq(0.25, -1e300, 3.0).foreach(b.putDouble))
    val floatArrays = le(16)(b => Seq(1f, 2f, 3f, 4f).foreach(b.putFloat))
    val intArrays = le(8)(b => Seq(5, 6).foreach(b.putInt))
    val shortArrays = le(4)(b => Seq(-1, 2).foreach(v => b.putShort(v.toShort)))
    val columnData = Seq(
      data(ByteString.copyFrom(Array[Byte](0, 1, 2))),
      data(ByteString.copyFrom(Array[Byte](-1, 0, 7))),
      data(shorts),
      data(ints),
      data(longs),
      data(doubles),
      ragged(ByteString.copyFrom(Array[Byte](9, 8, 7)), offsets(0, 0, 1, 3)),
      ragged(floatArrays, offsets(0, 1, 1, 4)),
      ragged(intArrays, offsets(0, 2, 2, 2)),
      ragged(le(8)(_.putLong(-5L)), offsets(0, 0, 0, 1)),
      ragged(ByteString.copyFrom(Array[Byte](1, 0, 3)), offsets(0, 3, 3, 3)),
      ragged(shortArrays, offsets(0, 0, 2, 2))
    )
    val b = ColumnBatch.newBuilder().setNumRows(3).addAllColumns(columnData.asJava).build()
    val rows = decoded(cols, b)(r =>
      Seq[Any](
        r.getBoolean(0),
        r.getByte(1),
        r.getShort(2),
        r.getInt(3),
        r.getLong(4),
        r.getDouble(5),
        r.getBinary(6).toSeq,
        r.getArray(7).toFloatArray().toSeq,
        r.getArray(8).toIntArray().toSeq,
        r.getArray(9).toLongArray().toSeq,
        r.getArray(10).toBooleanArray().toSeq,
        r.getArray(11).toShortArray().toSeq
      ))
    assert(rows == Seq(
      Seq[Any](false, -1, -2, 7, 1L << 40, 0.25, Nil, Seq(1f), Seq(5, 6), Nil,
        Seq(true, false, true),
        Nil),
      Seq[Any](true, 0, 3, -8, -1L, -1e300, Seq(9), Nil, Nil, Nil, Nil, Seq(-1, 2)),
      Seq[Any](true, 7, 300, 1 << 30, 0L, 3.0, Seq(8, 7), Seq(2f, 3f, 4f), Nil, Seq(-5L), Nil, Nil)
    ))
  }

  test("an empty answer batch decodes to no rows") {
    val b = ColumnBatch.newBuilder().setNumRows(0)
      .addColumns(ColumnData.newBuilder().setValues(ByteString.EMPTY))
      .addColumns(ColumnData.newBuilder().setValues(ByteString.EMPTY).setOffsets(offsets(0)))
      .addColumns(ColumnData.newBuilder().setValues(ByteString.EMPTY).setOffsets(offsets(0)))
      .build()
    assert(decoded(columns, b)(_.numFields).isEmpty)
  }

  test("a short column is an error naming the result and the peer") {
    val e = intercept[SparkTFException](new ResultDecoder(columns, "node chief:0").decode(batch(4)))
    assert(e.getMessage.contains("node chief:0") && e.getMessage.contains("result 'p'"))
  }

  test("bad offsets, short arrays and missing columns are errors naming them") {
    def fails(b: ColumnBatch): String =
      intercept[SparkTFException](new ResultDecoder(columns, "node chief:0").decode(b)).getMessage
    def withColumn(i: Int, c: ColumnData.Builder) = batch().toBuilder.setColumns(i, c).build()
    assert(fails(withColumn(1,
          ColumnData.newBuilder().setValues(ByteString.copyFromUtf8("abcde"))
            .setOffsets(offsets(0, 3, 2)))).contains(
        "result 'label' (column 'label') badly: offsets " +
          "do not rise from 0"))
    assert(fails(withColumn(1,
          ColumnData.newBuilder().setValues(ByteString.copyFromUtf8("abcde"))
            .setOffsets(offsets(0, 5)))).contains("8 offset bytes for 2 rows"))
    assert(fails(withColumn(1,
          ColumnData.newBuilder().setValues(ByteString.copyFromUtf8("abcd"))
            .setOffsets(offsets(0, 2, 5)))).contains("offsets end at 5, the values hold 4 bytes"))
    assert(fails(withColumn(2,
          ColumnData.newBuilder().setValues(le(16)(_ => ()))
            .setOffsets(offsets(0, 1, 3)))).contains(
        "offsets count 3 elements, the values hold 16 bytes"))
    assert(fails(batch().toBuilder.removeColumns(2).build()) ==
      "node chief:0 answered 2 columns, expected 3 (p, label, scores)")
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
